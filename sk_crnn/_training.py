"""Private training machinery of the CRNN estimators: class weights, the validation split's
size check, the learning-rate schedule and early-stopping callbacks, and the float16
gradient-scaled training step.
"""

import contextlib
import math

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, LRScheduler, ProgressBar
from skorch.dataset import ValidSplit
from skorch.utils import TeeGenerator
from torch.optim.lr_scheduler import CosineAnnealingLR, OneCycleLR, ReduceLROnPlateau

from ._validation import BOOL, Interval, Options, Rule, check_device, seed_from_random_state

LR_SCHEDULES = (None, "cosine", "onecycle", "plateau")
PRECISIONS = ("32", "bf16", "16-mixed")


def _check_random_state(value, name):
    seed_from_random_state(value)  # raises a ValueError naming the accepted kinds


def _check_device(value, name):
    return torch.device("cpu") if value is None else check_device(value, name)


#: The parameters every CRNN estimator checks in fit: name -> rules (alternatives; None
#: allows None), or (rules, hint); see _validation.check_param.
NET_PARAMETERS = {
    "lr": Interval("real", 0, closed="neither"),
    "max_epochs": (Interval("int", 1), "Train for at least one epoch."),
    "batch_size": [Interval("int", 1), Options(-1)],
    "verbose": Interval("int", 0),
    "progress_bar": BOOL,
    "random_state": Rule(_check_random_state),
    "device": Rule(_check_device),
    "validation_fraction": [Interval("real", 0, 1, closed="left"), None],
    "early_stopping": BOOL,
    "patience": Interval("int", 1),
    "freq_mask": Interval("int", 0),
    "time_mask": Interval("int", 0),
    "n_freq_masks": Interval("int", 0),
    "n_time_masks": Interval("int", 0),
    "time_shift": Interval("int", 0),
    "mixup": Interval("real", 0),
    "lr_schedule": Options(*LR_SCHEDULES),
    "weight_decay": Interval("real", 0),
    "precision": Options(*PRECISIONS),
    "compile": BOOL,
}


# -- cross-parameter rules ----------------------------------------------------------------------
def check_relations(self, device):
    """The cross-parameter rules of a CRNN estimator ``self``; ``device`` is resolved."""
    name = type(self).__name__
    if self.validation_fraction and self.train_split is not None:
        raise ValueError(
            f"validation_fraction={self.validation_fraction!r} and train_split="
            f"{self.train_split!r} both ask for a validation split; pass only one (set "
            f"train_split=None to let {name} split off validation_fraction of the fit data)."
        )
    if self.monitor not in self._monitors:
        raise ValueError(f"monitor must be one of {sorted(self._monitors)} for {name}; got "
                         f"{self.monitor!r}.")
    if self.early_stopping and not self._has_validation():
        raise ValueError("early_stopping=True needs validation data to monitor; set "
                         "validation_fraction (for example validation_fraction=0.1).")
    if self.weight_decay and "optimizer__weight_decay" in vars(self):
        raise ValueError(f"weight_decay={self.weight_decay!r} and optimizer__weight_decay="
                         f"{self.optimizer__weight_decay!r} are both set; pass only "
                         "weight_decay.")
    if self.precision == "16-mixed" and device.type != "cuda":
        raise ValueError(
            f"precision='16-mixed' needs device='cuda' (got device={self.device!r}); on CPU "
            "use precision='32', or precision='bf16' on a CPU with bfloat16 support.")

def check_augment_sizes(self, n_mels, n_frames):
    """Check the augmentation widths against the spectrogram shape seen in fit."""
    for param, size, what in (("freq_mask", n_mels, "mel bands"),
                              ("time_mask", n_frames, "frames"),
                              ("time_shift", n_frames, "frames")):
        value = getattr(self, param)
        if value >= size:
            raise ValueError(f"{param}={value} is not smaller than the {size} {what} of X; "
                             f"pass {param} < {size} (0 turns it off).")


@contextlib.contextmanager
def seeded(seed, device):
    """Seed torch's CPU (and ``device``'s CUDA) RNG with ``seed`` for the block, restoring
    the caller's RNG state afterwards; ``seed=None`` leaves the RNG alone."""
    if seed is None:
        yield
        return
    cuda = ([device.index if device.index is not None else torch.cuda.current_device()]
            if device.type == "cuda" else [])
    with torch.random.fork_rng(devices=cuda):
        torch.random.default_generator.manual_seed(seed)
        if cuda:
            with torch.cuda.device(cuda[0]):
                torch.cuda.manual_seed(seed)
        yield




# -- class weights ------------------------------------------------------------------------------
def class_weights(class_weight, classes, y_encoded):
    """Per-class loss weights in the order of ``classes``, as scikit-learn computes them.

    Parameters
    ----------
    class_weight : "balanced" or dict
        "balanced": ``n_samples / (n_classes * np.bincount(y))``; dict: weight by original
        label, 1 for labels it does not name.
    classes : ndarray of shape (n_classes,)
        The classifier's ``classes_``.
    y_encoded : ndarray of shape (n_samples,)
        Class indices into ``classes``.

    Returns
    -------
    weights : ndarray of shape (n_classes,), float32
    """
    if isinstance(class_weight, dict):
        unknown = [label for label in class_weight if label not in set(classes.tolist())]
        if unknown:
            raise ValueError(
                f"class_weight has labels that are not classes {classes.tolist()}: "
                f"{unknown[:5]}; key class_weight by the original labels of y."
            )
        return compute_class_weight(class_weight, classes=classes, y=classes[y_encoded]).astype(
            np.float32
        )
    if class_weight != "balanced":
        raise ValueError(
            f"class_weight must be None, 'balanced' or a dict {{label: weight}}; got "
            f"{class_weight!r}."
        )
    counts = np.bincount(y_encoded, minlength=len(classes))
    if (counts == 0).any():
        raise ValueError(
            "class_weight='balanced' needs samples of every class in y; no samples of "
            f"{classes[counts == 0].tolist()[:5]}. Pass a dict instead, or drop those classes "
            "from classes."
        )
    return compute_class_weight("balanced", classes=np.arange(len(classes)), y=y_encoded).astype(
        np.float32
    )


# -- validation split ---------------------------------------------------------------------------
def check_validation_split(y, fraction, *, stratify):
    """Raise a ValueError when ``fraction`` of ``y`` leaves a part empty (or, stratified, a
    class missing from a part); the split itself is skorch's ``ValidSplit``.

    Parameters
    ----------
    y : ndarray of shape (n_samples,) or (n_samples, ...)
        Targets (class indices when ``stratify``).
    fraction : float in (0, 1)
        Share of the clips held out (rounded up to a whole clip, as ``ShuffleSplit``).
    stratify : bool
        Whether the split keeps the class proportions in both parts.
    """
    n = len(y)
    n_valid = int(np.ceil(fraction * n))
    if not 1 <= n_valid < n:
        raise ValueError(
            f"validation_fraction={fraction} of {n} clips leaves no clip for training or "
            "validation; pass a fraction that leaves at least one clip in each."
        )
    if stratify:
        counts = np.bincount(y)
        n_classes = int((counts > 0).sum())
        if counts[counts > 0].min() < 2 or n_valid < n_classes or n - n_valid < n_classes:
            raise ValueError(
                f"validation_fraction={fraction} cannot be stratified over the {n} clips of "
                f"{n_classes} classes (the smallest class has {counts[counts > 0].min()} "
                "clips, and both parts need every class); pass more data or a validation_"
                "fraction that keeps at least one clip of each class in both parts."
            )


def validation_datasets(self, X, y, **fit_params):
    """Train and validation datasets of net ``self``: ``validation_fraction`` of the fit data
    split off with skorch's ``ValidSplit`` (stratified for class labels, seeded from torch's
    RNG), or skorch's own ``train_split``. On CUDA the data moves to the device once."""
    self.__dict__.pop("validation_indices_", None)
    if not self.validation_fraction:
        if self.train_split or not self._on_cuda():
            return NeuralNet.get_split_datasets(self, X, y, **fit_params)
        return self.get_dataset(self._to_device(X), self._to_device(y)), None
    y_np = np.asarray(y)
    stratify = y_np.ndim == 1 and y_np.dtype.kind in "iu"  # encoded class labels
    check_validation_split(y_np, self.validation_fraction, stratify=stratify)
    split = ValidSplit(self.validation_fraction, stratified=stratify,
                       random_state=draw_seed())
    train, valid = split(self.get_dataset(self._to_device(X), self._to_device(y_np)), y_np)
    self.validation_indices_ = np.sort(np.asarray(valid.indices))
    return train, valid


# -- callbacks ----------------------------------------------------------------------------------
class FitScheduler(LRScheduler):
    """skorch's ``LRScheduler``, whose torch scheduler is not pickled.

    The scheduler is rebuilt at the start of every fit call, so a pickle needs none of it; and
    it refers to the optimizer, whose tensors would otherwise be pickled a second time outside
    the device-mapped state: a GPU-fitted net would then fail to load on a CPU machine.
    """

    def __getstate__(self):
        state = self.__dict__.copy()
        if "lr_scheduler_" in state:
            state["lr_scheduler_"] = None
        return state


class OneCycleScheduler(FitScheduler):
    """skorch's ``LRScheduler`` with ``OneCycleLR`` stepped every batch, over all batches of
    one fit call: the scheduler is built at the first epoch, when the number of training
    batches is known.

    Parameters
    ----------
    max_lr : float
        Peak learning rate.
    """

    def __init__(self, max_lr=1e-3, **kwargs):
        super().__init__(policy=OneCycleLR, step_every="batch", max_lr=max_lr, **kwargs)

    def on_train_begin(self, net, **kwargs):
        self.lr_scheduler_ = None
        self.batch_idx_ = 0

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if self.lr_scheduler_ is None:
            n_batches = len(net.get_iterator(dataset_train, training=True))
            self.lr_scheduler_ = OneCycleLR(
                net.optimizer_, total_steps=max(n_batches * net.max_epochs, 1), **self.kwargs
            )


#: Arguments of the callbacks below that an estimator parameter sets: giving them as
#: ``callbacks__<name>__<arg>`` too would be a second, conflicting source of truth.
OWNED_CALLBACK_ARGS = {
    "early_stopping": {"monitor": "monitor", "patience": "patience",
                       "lower_is_better": "monitor", "load_best": "early_stopping"},
    "lr_scheduler": {"policy": "lr_schedule", "patience": "patience", "T_max": "max_epochs",
                     "max_lr": "lr"},
}


def training_callbacks(est, *, validation):
    """The ``(name, callback)`` pairs that ``lr_schedule`` and ``early_stopping`` ask for,
    built from the (already validated) parameters when the net initializes.

    Returns ``(schedulers, stoppers)``: schedulers go before the log, early stopping after
    everything else (it ends training by raising KeyboardInterrupt, after the epoch is logged).
    """
    schedulers, stoppers = [], []
    if est.lr_schedule == "cosine":
        scheduler = FitScheduler(policy=CosineAnnealingLR, T_max=est.max_epochs, last_epoch=-1)
        schedulers.append(("lr_scheduler", scheduler))
    elif est.lr_schedule == "onecycle":
        schedulers.append(("lr_scheduler", OneCycleScheduler(max_lr=est.lr)))
    elif est.lr_schedule == "plateau":
        scheduler = FitScheduler(
            policy=ReduceLROnPlateau,
            monitor="valid_loss" if validation else "train_loss",
            patience=max(est.patience // 2, 1),
            factor=0.1,  # ReduceLROnPlateau's default, given so that it is a settable param
        )
        schedulers.append(("lr_scheduler", scheduler))
    if est.early_stopping:
        stopper = EarlyStopping(monitor=est.monitor, patience=est.patience,
                                lower_is_better=est._monitors[est.monitor], load_best=True)
        stoppers.append(("early_stopping", stopper))
    return schedulers, stoppers


def add_training_callbacks(self):
    """Add the callbacks of ``lr_schedule``, ``progress_bar`` and ``early_stopping`` to the
    initialized ``callbacks_`` of net ``self``; ``callbacks__<name>__<arg>`` parameters apply
    to them, except those an estimator parameter sets (an error names it)."""
    schedulers, stoppers = training_callbacks(self, validation=self._has_validation())
    progress = [("progress_bar", ProgressBar())] if self.progress_bar is True else []
    taken = {name for name, _ in self.callbacks_}
    for name, callback in schedulers + progress + stoppers:
        if name in taken:
            raise ValueError(f"callbacks holds a callback named {name!r}, which "
                             f"{type(self).__name__} builds from its parameters; rename "
                             "yours or turn the parameter off.")
        params = self.get_params_for("callbacks__" + name)
        owned = {k: v for k, v in OWNED_CALLBACK_ARGS.get(name, {}).items() if k in params}
        if owned:
            arg, param = next(iter(owned.items()))
            raise ValueError(f"callbacks__{name}__{arg} is set by the estimator's {param} "
                             f"parameter; set {param} instead.")
        callback.set_params(**params)
        callback.initialize()
    at = next((i for i, (n, _) in enumerate(self.callbacks_) if n == "print_log"),
              len(self.callbacks_))
    self.callbacks_[at:at] = schedulers
    self.callbacks_ += progress + stoppers


def check_finite_loss(self, step):
    """Return the step of net ``self``, or stop training with a clear error when its loss is
    not finite: the weights are not usable after that step, so the net records why in
    ``training_failed_`` and refuses to predict."""
    loss = step["loss"].item()
    if not math.isfinite(loss):
        epoch = len(self.history)
        n_batch = len(self.history[-1]["batches"]) if epoch else 0
        self.training_failed_ = f"its training loss became {loss} at epoch {epoch}"
        raise FloatingPointError(
            f"Training loss became {loss} at epoch {epoch}, batch {n_batch}; lower lr "
            f"(currently {self.lr}) or check the input scaling (for example standardise "
            "the spectrograms) and the targets.")
    return step


# -- the float16 training step ------------------------------------------------------------------
def scaled_train_step(net, scaler, batch, **fit_params):
    """One optimizer step of ``net`` with float16 gradient scaling (precision='16-mixed')."""
    net._zero_grad_optimizer()
    step = net.train_step_single(batch, **fit_params)
    optimizers = [getattr(net, name + "_") for name in net._optimizers]
    for optimizer in optimizers:
        scaler.unscale_(optimizer)
    net.notify(
        "on_grad_computed",
        named_parameters=TeeGenerator(net.get_all_learnable_params()),
        batch=batch,
        training=True,
    )
    for optimizer in optimizers:
        scaler.step(optimizer)
    scaler.update()
    return step


def draw_seed():
    """An int seed drawn from torch's global RNG (forked and seeded in fit)."""
    return int(torch.randint(0, 2**31 - 1, (1,)).item())


# -- training windows ---------------------------------------------------------------------------
def unwrap_subsets(dataset):
    """The dataset under any nesting of torch ``Subset``s, and the indices into it that the
    subsets select (None when ``dataset`` is no ``Subset``)."""
    indices = None
    while isinstance(dataset, torch.utils.data.Subset):
        indices = (np.asarray(dataset.indices) if indices is None
                   else np.asarray(dataset.indices)[indices])
        dataset = dataset.dataset
    return dataset, indices


def window_dataset(net, dataset, n_windows):
    """A skorch dataset of the clips of ``dataset`` (a skorch ``Dataset`` or a ``Subset`` of
    one) each cut into ``n_windows`` windows of ``ceil(n_frames / n_windows)`` frames, evenly
    spaced from the first frame to the last (they cover every frame, overlapping by less than
    a frame per window), clip after clip. ``X`` has the frames on its last axis, ``y`` (frame
    targets) on axis 1; either may be a numpy array or a tensor. Returns ``dataset`` unchanged
    when ``n_windows`` is 1 or its arrays cannot be reached."""
    base, indices = unwrap_subsets(dataset)
    X, y = getattr(base, "X", None), getattr(base, "y", None)
    if n_windows <= 1 or X is None or y is None or not hasattr(X, "shape"):
        return dataset
    if indices is not None:
        X, y = X[indices], y[indices]
    n_frames = X.shape[-1]
    width = -(-n_frames // n_windows)
    starts = np.linspace(0, n_frames - width, n_windows).round().astype(int)
    stack = torch.stack if isinstance(X, torch.Tensor) else np.stack
    Xw = stack([X[..., s:s + width] for s in starts], 1).reshape(-1, *X.shape[1:-1], width)
    yw = stack([y[:, s:s + width] for s in starts], 1).reshape(-1, width, *y.shape[2:])
    return net.get_dataset(Xw, yw)
