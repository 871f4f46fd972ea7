"""Private training machinery of the CRNN estimators, as functions of plain values: the
parameter table, seeding, class weights, the validation split's size check, the
learning-rate schedule and early-stopping callbacks, and training windows. (The training
loop itself is ``_fit_loop.TrainingLoop``.)
"""

import contextlib

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight
from skorch.callbacks import EarlyStopping, LRScheduler
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


def training_callbacks(*, lr_schedule, lr, max_epochs, patience, early_stopping, monitor,
                       lower_is_better, validation):
    """The ``(name, callback)`` pairs that ``lr_schedule`` and ``early_stopping`` ask for,
    built from the (already validated) parameters of the same names when the net
    initializes; ``validation``: whether the fit has validation data.

    Returns ``(schedulers, stoppers)``: schedulers go before the log, early stopping after
    everything else (it ends training by raising KeyboardInterrupt, after the epoch is logged).
    """
    schedulers, stoppers = [], []
    if lr_schedule == "cosine":
        scheduler = FitScheduler(policy=CosineAnnealingLR, T_max=max_epochs, last_epoch=-1)
        schedulers.append(("lr_scheduler", scheduler))
    elif lr_schedule == "onecycle":
        schedulers.append(("lr_scheduler", OneCycleScheduler(max_lr=lr)))
    elif lr_schedule == "plateau":
        scheduler = FitScheduler(
            policy=ReduceLROnPlateau,
            monitor="valid_loss" if validation else "train_loss",
            patience=max(patience // 2, 1),
            factor=0.1,  # ReduceLROnPlateau's default, given so that it is a settable param
        )
        schedulers.append(("lr_scheduler", scheduler))
    if early_stopping:
        stopper = EarlyStopping(monitor=monitor, patience=patience,
                                lower_is_better=lower_is_better, load_best=True)
        stoppers.append(("early_stopping", stopper))
    return schedulers, stoppers


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


def window_arrays(dataset, n_windows):
    """The clips of ``dataset`` (a skorch ``Dataset`` or a ``Subset`` of one) each cut into
    ``n_windows`` windows of ``ceil(n_frames / n_windows)`` frames, evenly spaced from the
    first frame to the last (they cover every frame, overlapping by less than a frame per
    window), clip after clip: ``(X_windows, y_windows)``. ``X`` has the frames on its last
    axis, ``y`` (frame targets) on axis 1; either may be a numpy array or a tensor. Returns
    None when ``n_windows`` is 1 or the arrays cannot be reached."""
    base, indices = unwrap_subsets(dataset)
    X, y = getattr(base, "X", None), getattr(base, "y", None)
    if n_windows <= 1 or X is None or y is None or not hasattr(X, "shape"):
        return None
    if indices is not None:
        X, y = X[indices], y[indices]
    n_frames = X.shape[-1]
    width = -(-n_frames // n_windows)
    starts = np.linspace(0, n_frames - width, n_windows).round().astype(int)
    stack = torch.stack if isinstance(X, torch.Tensor) else np.stack
    Xw = stack([X[..., s:s + width] for s in starts], 1).reshape(-1, *X.shape[1:-1], width)
    yw = stack([y[:, s:s + width] for s in starts], 1).reshape(-1, width, *y.shape[2:])
    return Xw, yw
