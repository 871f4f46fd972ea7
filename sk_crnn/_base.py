"""The private base of every sk_crnn estimator: a skorch ``NeuralNet`` on spectrograms.

``fit``, ``partial_fit``, ``initialize_module``, the training step, the validation split,
the callbacks of the training options, seeding, the thread cap, the device and embeddings
are written here once. An estimator is a thin subclass that says only what differs: its
parameter table, its targets (``_check_targets``), its loss (``_criterion_and_kwargs``) and
its ``predict``/``score``.
"""

import contextlib
import inspect
import warnings

import numpy as np
import torch
from sklearn.utils import check_consistent_length
from sklearn.utils.metaestimators import available_if
from skorch import NeuralNet
from skorch.exceptions import NotInitializedError
from skorch.utils import is_dataset, to_tensor

from . import _embedding
from ._docs import shared_docs
from ._fit_checks import (
    check_predict_device,
    check_validation_callbacks,
    stopped_early,
    warn_interrupted,
)
from ._inputs import check_spectrograms
from ._parallel import worker_thread_limit
from ._sample_weight import SampleWeighting, unpack_weighted
from ._training import (
    NET_PARAMETERS,
    add_training_callbacks,
    check_augment_sizes,
    check_finite_loss,
    check_relations,
    draw_seed,
    scaled_train_step,
    seeded,
    validation_datasets,
)
from ._validation import (
    accepted_kwargs,
    required_kwargs,
    seed_from_random_state,
    validate_params,
)
from .augment import BatchAugment

#: skorch >= 1.4 routes fit parameters by the public method that was called (fit or
#: partial_fit); older skorch passes unknown fit parameters on to the module's forward.
_SKORCH_ROUTES = "_routing_method" in inspect.signature(NeuralNet.fit_loop).parameters


def _has_embeddings(est):
    return est._embeds


class SpectrogramNet(SampleWeighting, NeuralNet):
    """Base of the CRNN estimators: a skorch net on spectrograms (n_clips, n_mels, n_frames).

    Subclasses set ``_parameter_constraints`` (this table plus their own entries),
    ``_monitors`` (metrics early stopping may watch), ``_target_time_axis`` (time axis of
    frame targets, for time shift) and ``_embeds`` (whether ``transform`` gives embeddings),
    and implement ``_check_targets`` and ``predict``.
    """

    #: The parameters checked in fit (a declarative table, see _validation.check_param);
    #: subclasses extend it. Cross-parameter rules: _training.check_relations.
    _parameter_constraints = NET_PARAMETERS
    _monitors = {"valid_loss": True}  # name -> lower is better
    _target_time_axis = None
    _embeds = True
    _weighs_samples = False  # whether fit takes sample_weight

    def __init__(self, module, *, criterion, optimizer=torch.optim.Adam, lr=1e-3,
                 max_epochs=20, batch_size=32, train_split=None, verbose=0, progress_bar=False,
                 random_state=None, device="cpu", validation_fraction=None,
                 early_stopping=False, patience=5, monitor="valid_loss", freq_mask=0,
                 time_mask=0, n_freq_masks=2, n_time_masks=2, time_shift=0, mixup=0.0,
                 lr_schedule=None, weight_decay=0.0, precision="32", compile=False,
                 iterator_train__shuffle=True, **kwargs):
        super().__init__(module, criterion=criterion, optimizer=optimizer, lr=lr,
                         max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
                         verbose=verbose, device=device, compile=compile,
                         iterator_train__shuffle=iterator_train__shuffle, **kwargs)
        self.progress_bar = progress_bar
        self.random_state = random_state
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.monitor = monitor
        self.freq_mask = freq_mask
        self.time_mask = time_mask
        self.n_freq_masks = n_freq_masks
        self.n_time_masks = n_time_masks
        self.time_shift = time_shift
        self.mixup = mixup
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.precision = precision

    def _get_param_names(self):
        # skorch lists every attribute not ending in "_", including private ones.
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    # -- parameters ---------------------------------------------------------------------------
    def _check_params(self):
        """Check the parameter table and the cross-parameter rules; return the device."""
        device = validate_params(self, self._parameter_constraints)["device"]  # parsed once
        check_relations(self, device)
        return device

    def _has_validation(self):
        return bool(self.validation_fraction) or self.train_split is not None

    # -- input checks -------------------------------------------------------------------------
    def _check_X(self, X):
        return check_spectrograms(X, type(self).__name__)

    def _check_shape(self, X):
        fitted = getattr(self, "n_mels_in_", None), getattr(self, "n_frames_in_", None)
        if fitted[0] is not None and tuple(X.shape[-2:]) != fitted:
            raise ValueError(
                f"X has spectrograms of shape (n_mels, n_frames)={tuple(X.shape[-2:])}, but "
                f"{type(self).__name__} was fitted on shape {fitted}; use the same "
                "MelSpectrogramTransformer settings (n_mels, hop_length, clip length) for fit "
                "and predict."
            )

    def _check_predict_X(self, X):
        if is_dataset(X):  # skorch internals (scoring on a validation split) pass Datasets
            return X
        self.check_is_fitted()
        check_predict_device(self)
        X = self._check_X(X)
        self._check_shape(X)
        return X

    def _check_fit_data(self, X, y, *, reset, classes):
        name = type(self).__name__
        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None.")
        if not (hasattr(y, "__len__") or hasattr(y, "__array__")) or getattr(y, "ndim", 1) == 0:
            raise ValueError(f"y must be an array of targets, one per clip; got {y!r}.")
        X = self._check_X(X)
        if hasattr(y, "detach"):
            y = y.detach().cpu().numpy()
        check_consistent_length(X, y)
        if not reset:
            self._check_shape(X)
        check_augment_sizes(self, *X.shape[-2:])
        y, fitted = self._check_targets(y, X, reset=reset, classes=classes)
        if reset:  # set fitted attributes only once X and y are both valid
            self.n_mels_in_, self.n_frames_in_ = (int(s) for s in X.shape[-2:])
            for attr, value in fitted.items():
                setattr(self, attr, value)
        return X, y

    def _check_partial_fit_classes(self, classes, *, reset):
        """Check ``partial_fit(classes=...)`` against the constructor and earlier calls."""
        if "classes" not in self._get_param_names():
            raise ValueError(f"classes is for classifiers and detectors; "
                             f"{type(self).__name__}.partial_fit takes none.")
        classes = np.asarray(classes)
        if classes.ndim != 1:
            raise ValueError(f"classes must be a 1-D list of labels; got shape {classes.shape}.")
        if reset and self.classes is not None and not np.array_equal(
                np.sort(np.asarray(self.classes)), np.sort(classes)):
            raise ValueError(f"partial_fit(classes={classes.tolist()}) differs from the "
                             f"constructor's classes={list(self.classes)}; give one of them.")
        if not reset and not np.array_equal(np.sort(classes), np.sort(self.classes_)):
            raise ValueError(
                f"partial_fit(classes={classes.tolist()}) differs from the classes of the first "
                f"call, classes_={self.classes_.tolist()}; give the same labels every time.")
        return classes

    def check_data(self, X, y):
        """No-op: ``fit`` and ``partial_fit`` check the data before skorch sees it."""

    @property
    def classes_(self):
        if "classes_inferred_" not in vars(self):
            raise AttributeError(
                f"{type(self).__name__} has no attribute 'classes_': it is set by fit.")
        return self.classes_inferred_

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, X, y, **fit_params):
        """Fit the network on spectrograms (re-initialized unless ``warm_start``).

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms, e.g. from ``MelSpectrogramTransformer``.
        y : array-like or list
            Targets, one per clip (see the estimator's description).
        **fit_params : dict
            Passed to skorch (the module's ``forward`` and ``train_split``).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        reset = not (self.warm_start and self._fitted_net())
        return self._train(X, y, reset=reset, classes=None, route="fit", fit_params=fit_params)

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initializing a fitted network.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms; their shape must match earlier calls.
        y : array-like or list
            Targets, one per clip.
        classes : array-like of shape (n_classes,) or None, default=None
            Classifiers and detectors: every label that any call may see, as in
            scikit-learn's ``partial_fit``. Needed on the first call when the first chunk
            lacks some classes (unless the constructor's ``classes`` is set); later calls may
            omit it or must repeat the same labels. The regressor takes none.
        **fit_params : dict
            Passed to skorch.

        Returns
        -------
        self : object
        """
        return self._train(X, y, reset=not self._fitted_net(), classes=classes,
                           route="partial_fit", fit_params=fit_params)

    def _fitted_net(self):
        return self.initialized_ and hasattr(self, "n_outputs_")

    def _train(self, X, y, *, reset, classes, route, fit_params):
        """Check, (re)initialize when ``reset``, and train; seeded, device resolved once,
        torch's threads capped inside a Dask worker. A KeyboardInterrupt (Ctrl-C) ends the
        training as in skorch, with a warning and ``interrupted_epoch_`` set."""
        self.__dict__.pop("interrupted_epoch_", None)
        weights = self._pop_sample_weight(fit_params, route, X)
        device = self._check_params()
        if classes is not None:
            classes = self._check_partial_fit_classes(classes, reset=reset)
        X, y = self._check_fit_data(X, y, reset=reset, classes=classes)
        X, y, weights, kept = self._weighted_clips(X, y, weights, route)
        if _SKORCH_ROUTES:
            fit_params = {"_routing_method": route, **fit_params}
        with self._fitting(device), worker_thread_limit():
            if reset:
                self.initialize()
            check_validation_callbacks(self)
            if weights is not None:
                self._sample_weight = weights  # per-call state, dropped after the call;
                vars(self)["_sample_criterion"] = self._unreduced_criterion()  # not registered
            self._augment = self._batch_augment()  # its seed comes after weight init
            self._grad_scaler = (torch.amp.GradScaler("cuda") if self.precision == "16-mixed"
                                 else None)
            super().partial_fit(X, y, **fit_params)
            interrupted = getattr(self, "_interrupted", None)
        if kept is not None and "validation_indices_" in vars(self):
            self.validation_indices_ = kept[self.validation_indices_]  # into the fit data
        if interrupted is not None:
            warn_interrupted(self, route, *interrupted)
        self._after_training(X, y)
        return self

    def fit_loop(self, X, y=None, epochs=None, **kwargs):
        """skorch's fit loop, recording a KeyboardInterrupt (not one of skorch's
        ``EarlyStopping``) in ``interrupted_epoch_``: the number of epochs completed."""
        start = self._epochs_done = len(self.history)
        try:
            return super().fit_loop(X, y, epochs, **kwargs)
        except KeyboardInterrupt:
            if not stopped_early(self):
                self.interrupted_epoch_ = self._epochs_done
                self._interrupted = (start, self._epochs_done)
            raise

    def _after_training(self, X, y):
        """Called after each fit / partial_fit with the checked data (subclasses tune
        decision parameters here)."""

    @contextlib.contextmanager
    def _fitting(self, device):
        """Seeded from ``random_state``; holds the per-call training state, dropped after."""
        self._fit_device = device
        try:
            with seeded(seed_from_random_state(self.random_state), device):
                yield
        finally:
            for attr in ("_fit_device", "_augment", "_grad_scaler", "_loss_warned",
                         "_epoch_losses", "_epochs_done", "_interrupted", "_sample_weight",
                         "_sample_criterion"):
                self.__dict__.pop(attr, None)

    def _batch_augment(self):
        augment = BatchAugment(
            freq_mask=self.freq_mask, n_freq_masks=self.n_freq_masks, time_mask=self.time_mask,
            n_time_masks=self.n_time_masks, time_shift=self.time_shift, mixup=self.mixup,
            target_time_axis=self._target_time_axis, rng=None)
        if not augment.active:
            return None
        augment.rng = np.random.default_rng(draw_seed())
        return augment

    def _on_cuda(self):
        device = getattr(self, "_fit_device", None)
        if device is None:
            device = torch.device("cpu" if self.device is None else self.device)
        return device.type == "cuda"

    def _to_device(self, a):
        return torch.as_tensor(a, device=self.device) if self._on_cuda() else a

    def get_split_datasets(self, X, y=None, **fit_params):
        """Split off ``validation_fraction`` of the fit data with skorch's ``ValidSplit``
        (stratified for class labels), or defer to ``train_split``. On CUDA the data moves
        to the device once."""
        return validation_datasets(self, X, y, **fit_params)

    def initialize(self):
        """skorch's ``initialize``, forgetting a failed training (fresh weights)."""
        self.__dict__.pop("training_failed_", None)
        return super().initialize()

    def initialize_callbacks(self):
        """skorch's callbacks, with those of ``lr_schedule`` (before the log),
        ``progress_bar`` and ``early_stopping`` (last) built from the parameters."""
        super().initialize_callbacks()
        if self.callbacks != "disable":
            add_training_callbacks(self)
        return self

    def initialize_module(self):
        """Build ``module_``, merging the sizes inferred at fit (``n_mels``, ``n_frames``,
        ``n_outputs``) into the module's arguments where it accepts them.

        User-given ``module__*`` parameters win over inferred ones; an already built
        ``torch.nn.Module`` instance is used as is (skorch's behaviour).
        """
        kwargs = self.get_params_for("module")
        if not isinstance(self.module, torch.nn.Module):
            inferred = self._inferred_module_params() if hasattr(self, "n_outputs_") else {}
            kwargs = {**accepted_kwargs(self.module, inferred), **kwargs}
            missing = sorted(required_kwargs(self.module) & {"n_mels", "n_outputs"} - set(kwargs))
            if missing:
                raise ValueError(
                    f"{type(self).__name__} infers the module's sizes from X and y in fit; call "
                    f"fit(X, y) instead of initialize(), or pass module__{missing[0]}.")
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def _inferred_module_params(self):
        """The module arguments that fit infers (subclasses may add their own)."""
        return {"n_mels": self.n_mels_in_, "n_frames": self.n_frames_in_,
                "n_outputs": self.n_outputs_}

    def _criterion_and_kwargs(self):
        """The loss class and its arguments; subclasses add their weights."""
        return self.criterion, self.get_params_for("criterion")

    def initialize_criterion(self):
        """Build ``criterion_`` (on the net's device)."""
        criterion, kwargs = self._criterion_and_kwargs()
        self.criterion_ = self.initialized_instance(criterion, kwargs)
        if isinstance(self.criterion_, torch.nn.Module):
            self.criterion_ = self.criterion_.to(self.device)
        return self

    def get_params_for_optimizer(self, prefix, named_parameters):
        """skorch's optimizer arguments, with ``weight_decay`` added when it is not 0."""
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if prefix == "optimizer" and self.weight_decay:
            kwargs["weight_decay"] = self.weight_decay
        return args, kwargs

    # -- the training step --------------------------------------------------------------------
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
            return super().infer(x, **fit_params).float()

    def train_step_single(self, batch, **fit_params):
        """Forward and backward pass of one training batch, augmented (SpecAugment masks,
        time shift, mixup) when asked; prediction and validation never augment."""
        self._set_training(True)
        Xi, yi, wi = unpack_weighted(batch)
        partner = None
        augment = getattr(self, "_augment", None)
        if augment is not None:
            Xi, yi, partner, wi = augment(to_tensor(Xi, device=self.device),
                                          to_tensor(yi, device=self.device), weight=wi)
        y_pred = self.infer(Xi, **fit_params)
        loss = self._loss(y_pred, yi, Xi, wi, training=True)
        if partner is not None:  # mixup of class indices: mix the losses of both labels
            y_partner, lam, w_partner = partner
            loss = lam * loss + (1 - lam) * self._loss(y_pred, y_partner, Xi, w_partner,
                                                       training=True)
        scaler = getattr(self, "_grad_scaler", None)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        """skorch's training step (gradient-scaled for precision='16-mixed'), stopping with a
        clear error when the loss is not finite: the weights are not usable after that step,
        so the net records why in ``training_failed_`` and refuses to predict."""
        scaler = getattr(self, "_grad_scaler", None)
        if scaler is not None:
            step = scaled_train_step(self, scaler, batch, **fit_params)
        else:
            step = super().train_step(batch, **fit_params)
        return check_finite_loss(self, step)

    def on_epoch_end(self, net, **kwargs):
        """Warn once per fit when the training loss climbs by orders of magnitude (100 times
        its lowest epoch so far) while staying finite: training is diverging."""
        self._epochs_done = len(self.history)  # training and validation of the epoch are done
        super().on_epoch_end(net, **kwargs)
        # the epoch's train_loss is logged after this: average its training batches'
        batch_losses = [b["train_loss"] for b in self.history[-1]["batches"] if "train_loss" in b]
        if not batch_losses:
            return
        self._epoch_losses = [*getattr(self, "_epoch_losses", []), float(np.mean(batch_losses))]
        losses = self._epoch_losses
        if len(losses) >= 2 and losses[-1] > 100 * min(losses) > 0 and not getattr(
                self, "_loss_warned", False):
            self._loss_warned = True
            warnings.warn(
                f"{type(self).__name__}: the training loss climbed from {min(losses):.4g} to "
                f"{losses[-1]:.4g} by epoch {len(self.history)}; training is diverging. Lower "
                f"lr (currently {self.lr}) or check the input scaling and the targets.",
                RuntimeWarning, stacklevel=2)

    # -- prediction ---------------------------------------------------------------------------
    embed = _embedding.embed
    transform = available_if(_has_embeddings)(_embedding.transform)
    fit_transform = available_if(_has_embeddings)(_embedding.fit_transform)
    get_feature_names_out = available_if(_has_embeddings)(_embedding.get_feature_names_out)

    def check_is_fitted(self, attributes=None, *args, **kwargs):
        """skorch's check, and a clear error after a training whose loss became NaN/inf."""
        failed = getattr(self, "training_failed_", None)
        if failed:
            raise NotInitializedError(
                f"This {type(self).__name__} cannot predict: {failed}, so its weights are not "
                "usable. Fit it again with a lower lr or scaled inputs.")
        return super().check_is_fitted(attributes, *args, **kwargs)

    def forward_iter(self, X, training=False, device="cpu"):
        """Check ``X`` against the fitted shape, then yield skorch's batched outputs."""
        return super().forward_iter(self._check_predict_X(X), training=training, device=device)

    @shared_docs
    def predict_proba(self, X):
        """Probabilities (classifier, detector) or raw outputs (regressor) of the network.

        {X_fitted}
        proba : ndarray of shape (n_clips, n_outputs) or (n_clips, n_frames, n_classes)
            Columns follow ``classes_``: class probabilities (rows sum to 1), the independent
            probabilities of each label for multi-label ``y``, or for
            :class:`~sk_crnn.CRNNEventDetector` the probability of each class per frame.
        """
        return super().predict_proba(X)

    def _sigmoid_outputs(self):
        """Whether the outputs are independent sigmoids (multi-label or frame activity)."""
        return False

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity == "auto" and self._sigmoid_outputs():
            return torch.sigmoid
        return super()._get_predict_nonlinearity()

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.required = True
        if self._embeds:  # float32 embeddings, as LinearDiscriminantAnalysis transforms
            tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])
        return tags
