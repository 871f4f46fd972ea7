"""Private training machinery of the CRNN estimators.

Checks of the training parameters (validation split, early stopping, augmentation, class
weights, learning-rate schedule, precision), the skorch callbacks they turn into, the
validation split and the class weights.
"""

import contextlib
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils.class_weight import compute_class_weight
from skorch.callbacks import EarlyStopping, LRScheduler
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator, to_tensor
from torch.optim.lr_scheduler import CosineAnnealingLR, OneCycleLR, ReduceLROnPlateau

from .augment import mask_bands, mixup_batch, shift_time

LR_SCHEDULES = (None, "cosine", "onecycle", "plateau")
PRECISIONS = ("32", "bf16", "16-mixed")


# -- parameter checks ---------------------------------------------------------------------------
def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _check_int(value, name, minimum):
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}.")


def _check_real(value, name, minimum=0.0):
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, Real)
        or not (np.isfinite(value) and value >= minimum)
    ):
        raise ValueError(f"{name} must be a finite float >= {minimum}; got {value!r}.")


def has_validation(est):
    """Whether ``est`` holds out validation data in fit (its own split or a train_split)."""
    fraction = est.validation_fraction
    own = isinstance(fraction, Real) and not isinstance(fraction, (bool, np.bool_)) and fraction > 0
    return own or est.train_split is not None


def monitors(est):
    """Metrics ``monitor`` may name, each with whether lower is better."""
    names = {"valid_loss": True}
    if hasattr(est, "classes"):  # classifier
        names["valid_acc"] = False
    return names


def check_training_params(est):
    """Validate the training parameters of a CRNN estimator; raise a ValueError naming the
    parameter, what was given and the fix."""
    name = type(est).__name__
    fraction = est.validation_fraction
    if fraction is not None and not (isinstance(fraction, Real) and fraction == 0):
        if (
            isinstance(fraction, (bool, np.bool_))
            or not isinstance(fraction, Real)
            or not (0 < fraction < 1)
        ):
            raise ValueError(
                f"validation_fraction must be a float in (0, 1), or None or 0 for no validation "
                f"split; got {fraction!r}."
            )
        if est.train_split is not None:
            raise ValueError(
                f"validation_fraction={fraction!r} and train_split={est.train_split!r} both ask "
                f"for a validation split; pass only one (set train_split=None to let {name} "
                "split off validation_fraction of the fit data)."
            )
    if not isinstance(est.early_stopping, (bool, np.bool_)):
        raise ValueError(f"early_stopping must be True or False; got {est.early_stopping!r}.")
    _check_int(est.patience, "patience", 1)
    allowed = monitors(est)
    if est.monitor not in allowed:
        raise ValueError(
            f"monitor must be one of {sorted(allowed)} for {name}; got {est.monitor!r}."
        )
    if est.early_stopping and not has_validation(est):
        raise ValueError(
            "early_stopping=True needs validation data to monitor; set validation_fraction "
            "(for example validation_fraction=0.1)."
        )
    for param in ("freq_mask", "time_mask", "time_shift", "n_freq_masks", "n_time_masks"):
        _check_int(getattr(est, param), param, 0)
    _check_real(est.mixup, "mixup")
    _check_real(est.weight_decay, "weight_decay")
    if est.weight_decay and "optimizer__weight_decay" in vars(est):
        raise ValueError(
            f"weight_decay={est.weight_decay!r} and optimizer__weight_decay="
            f"{est.optimizer__weight_decay!r} are both set; pass only weight_decay."
        )
    if est.lr_schedule not in LR_SCHEDULES:
        raise ValueError(
            f"lr_schedule must be one of {list(LR_SCHEDULES)}; got {est.lr_schedule!r}."
        )
    if est.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}; got {est.precision!r}.")
    device = torch.device(est.device if est.device is not None else "cpu")
    if est.precision == "16-mixed" and device.type != "cuda":
        raise ValueError(
            f"precision='16-mixed' needs device='cuda' (got device={est.device!r}); on CPU use "
            "precision='32', or precision='bf16' on a CPU with bfloat16 support."
        )
    if not isinstance(est.compile, (bool, np.bool_)):
        raise ValueError(f"compile must be True or False; got {est.compile!r}.")


def check_augment_sizes(est, n_mels, n_frames):
    """Check the augmentation widths against the spectrogram shape seen in fit."""
    for param, size, what in (
        ("freq_mask", n_mels, "mel bands"),
        ("time_mask", n_frames, "frames"),
        ("time_shift", n_frames, "frames"),
    ):
        value = getattr(est, param)
        if value >= size:
            raise ValueError(
                f"{param}={value} is not smaller than the {size} {what} of X; pass "
                f"{param} < {size} (0 turns it off)."
            )


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
def validation_indices(y, fraction, *, stratify, seed):
    """Train and validation indices: ``fraction`` of the clips, stratified by class if asked.

    Parameters
    ----------
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Targets (class indices for a stratified split).
    fraction : float in (0, 1)
        Share of the clips held out (rounded up to a whole clip).
    stratify : bool
        Keep the class proportions in both parts.
    seed : int
        Seed of the split.

    Returns
    -------
    train, valid : ndarray of int
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
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_valid, random_state=seed)
    else:
        splitter = ShuffleSplit(n_splits=1, test_size=n_valid, random_state=seed)
    train, valid = next(splitter.split(np.zeros(n), y if stratify else None))
    return np.sort(train), np.sort(valid)


# -- callbacks ----------------------------------------------------------------------------------
class OneCycleScheduler(LRScheduler):
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


def training_callbacks(est):
    """The ``(name, callback)`` pairs for ``lr_schedule`` and ``early_stopping``.

    Returns ``(schedulers, stoppers)``: schedulers go before the log, early stopping after
    everything else. Parameters are not checked here (``fit`` does), so invalid values give
    no callback rather than an error.
    """
    schedulers, stoppers = [], []
    validation = has_validation(est)
    schedule = est.lr_schedule if isinstance(est.lr_schedule, str) else None
    if schedule == "cosine":
        scheduler = LRScheduler(policy=CosineAnnealingLR, T_max=est.max_epochs, last_epoch=-1)
        schedulers.append(("lr_scheduler", scheduler))
    elif schedule == "onecycle":
        schedulers.append(("lr_scheduler", OneCycleScheduler(max_lr=est.lr)))
    elif schedule == "plateau":
        patience = max(est.patience // 2, 1) if _is_int(est.patience) else 2
        scheduler = LRScheduler(
            policy=ReduceLROnPlateau,
            monitor="valid_loss" if validation else "train_loss",
            patience=patience,
            factor=0.1,  # ReduceLROnPlateau's default, given so that it is a settable param
        )
        schedulers.append(("lr_scheduler", scheduler))
    early_stopping = isinstance(est.early_stopping, (bool, np.bool_)) and est.early_stopping
    if early_stopping and isinstance(est.monitor, str) and est.monitor in monitors(est):
        stopper = EarlyStopping(
            monitor=est.monitor,
            patience=est.patience,
            lower_is_better=monitors(est)[est.monitor],
            load_best=True,
        )
        stoppers.append(("early_stopping", stopper))
    return schedulers, stoppers


# -- the training step --------------------------------------------------------------------------
class TrainingMixin:
    """skorch hooks behind the training parameters, mixed into ``_CRNNBase``.

    A validation split taken from the fit data (``get_split_datasets``), augmentation and
    mixup inside the training step (``train_step_single``), autocast and gradient scaling
    (``infer``, ``train_step``) and weight decay (``get_params_for_optimizer``).
    """

    def _augments(self):
        return bool(
            (self.freq_mask and self.n_freq_masks)
            or (self.time_mask and self.n_time_masks)
            or self.time_shift
            or self.mixup
        )

    def _on_cuda(self):
        return self.device is not None and torch.device(self.device).type == "cuda"

    @contextlib.contextmanager
    def _training_session(self):
        """Per-call training state: the augmentation RNG (seeded from torch's RNG, which fit
        seeds from random_state) and the gradient scaler of precision='16-mixed'."""
        self._augment_rng = np.random.default_rng(_draw_seed()) if self._augments() else None
        self._grad_scaler = torch.amp.GradScaler("cuda") if self.precision == "16-mixed" else None
        try:
            yield
        finally:
            del self._augment_rng, self._grad_scaler

    def get_split_datasets(self, X, y=None, **fit_params):
        """Split off ``validation_fraction`` of the fit data (stratified for class labels),
        or defer to skorch's ``train_split``. On CUDA the data moves to the device once."""
        if not self.validation_fraction:
            if hasattr(self, "validation_indices_"):  # from an earlier fit with validation
                del self.validation_indices_
            if self.train_split or not self._on_cuda():
                return super().get_split_datasets(X, y, **fit_params)
            return self.get_dataset(self._to_device(X), self._to_device(y)), None
        y_np = np.asarray(y)
        stratify = y_np.ndim == 1 and y_np.dtype.kind in "iu"  # encoded class labels
        train, valid = validation_indices(
            y_np, self.validation_fraction, stratify=stratify, seed=_draw_seed()
        )
        self.validation_indices_ = valid
        return (
            self.get_dataset(self._to_device(X[train]), self._to_device(y_np[train])),
            self.get_dataset(self._to_device(X[valid]), self._to_device(y_np[valid])),
        )

    def _to_device(self, a):
        return torch.as_tensor(a, device=self.device) if self._on_cuda() else a

    def _autocast(self):
        device_type = "cuda" if self._on_cuda() else "cpu"
        if self.precision == "bf16":
            return torch.autocast(device_type, dtype=torch.bfloat16)
        if self.precision == "16-mixed" and device_type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return None

    def infer(self, x, **fit_params):
        """skorch's forward pass, under autocast when ``precision`` asks for it (outputs are
        returned as float32)."""
        autocast = self._autocast() if self.precision != "32" else None
        if autocast is None:
            return super().infer(x, **fit_params)
        with autocast:
            y_pred = super().infer(x, **fit_params)
        return y_pred.float()

    def train_step_single(self, batch, **fit_params):
        """Forward and backward pass of one training batch, with the batch augmented
        (SpecAugment masks, time shift, mixup) when asked. Prediction never augments."""
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        rng = getattr(self, "_augment_rng", None)
        perm = None
        if rng is not None:
            Xi = to_tensor(Xi, device=self.device)
            if Xi.dtype == torch.float16:  # float16 features: augment the batch in float32
                Xi = Xi.float()
            Xi = mask_bands(
                Xi, max_width=self.freq_mask, n_masks=self.n_freq_masks, axis=-2, rng=rng
            )
            Xi = mask_bands(
                Xi, max_width=self.time_mask, n_masks=self.n_time_masks, axis=-1, rng=rng
            )
            Xi = shift_time(Xi, max_shift=self.time_shift, rng=rng)
            if self.mixup:
                Xi, perm, lam = mixup_batch(Xi, alpha=self.mixup, rng=rng)
        y_pred = self.infer(Xi, **fit_params)
        if perm is None:
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        else:
            yi = to_tensor(yi, device=self.device)
            if yi.dtype.is_floating_point:  # multi-label indicators or regression targets
                loss = self.get_loss(y_pred, lam * yi + (1 - lam) * yi[perm], X=Xi, training=True)
            else:  # class indices: mix the losses of both labels
                loss = lam * self.get_loss(y_pred, yi, X=Xi, training=True) + (
                    1 - lam
                ) * self.get_loss(y_pred, yi[perm], X=Xi, training=True)
        scaler = getattr(self, "_grad_scaler", None)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        return {"loss": loss, "y_pred": y_pred}

    def _scaled_train_step(self, batch, **fit_params):
        """One optimizer step with float16 gradient scaling (precision='16-mixed')."""
        scaler = self._grad_scaler
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        optimizers = [getattr(self, name + "_") for name in self._optimizers]
        for optimizer in optimizers:
            scaler.unscale_(optimizer)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        for optimizer in optimizers:
            scaler.step(optimizer)
        scaler.update()
        return step

    def get_params_for_optimizer(self, prefix, named_parameters):
        """skorch's optimizer arguments, with ``weight_decay`` added when it is not 0."""
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if prefix == "optimizer" and self.weight_decay:
            kwargs["weight_decay"] = self.weight_decay
        return args, kwargs


def _draw_seed():
    """An int seed drawn from torch's global RNG (forked and seeded in fit)."""
    return int(torch.randint(0, 2**31 - 1, (1,)).item())
