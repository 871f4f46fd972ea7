"""The private base of every sk_crnn estimator: a skorch ``NeuralNet`` on spectrograms.

``fit``, ``partial_fit``, ``initialize_module``, the training step, the validation split,
the callbacks of the training options, seeding, the thread cap, the device and embeddings
are written here once. An estimator is a thin subclass that says only what differs: its
parameter table, its targets (``_check_targets``), its loss (``_criterion_and_kwargs``) and
its ``predict``/``score``.
"""

import contextlib
import inspect

import numpy as np
import torch
from sklearn.utils import check_consistent_length
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.exceptions import NotInitializedError
from skorch.utils import is_dataset, to_numpy, to_tensor

from . import _precision
from ._docs import shared_docs
from ._embedding import Embeddings
from ._fit_loop import TrainingLoop
from ._inference import EmbeddingOutputs, InferenceModule
from ._inputs import check_spectrograms
from ._parallel import use_worker_gpu, worker_thread_limit
from ._sample_weight import SampleWeighting
from ._training import NET_PARAMETERS, seeded
from ._validation import (
    accepted_kwargs,
    check_device,
    required_kwargs,
    seed_from_random_state,
    validate_params,
)

#: skorch >= 1.4 routes fit parameters by the public method that was called (fit or
#: partial_fit); older skorch passes unknown fit parameters on to the module's forward.
_SKORCH_ROUTES = "_routing_method" in inspect.signature(NeuralNet.fit_loop).parameters


class SpectrogramNet(SampleWeighting, TrainingLoop, Embeddings, NeuralNet):
    """Base of the CRNN estimators: a skorch net on spectrograms (n_clips, n_mels, n_frames).

    Subclasses set ``_parameter_constraints`` (this table plus their own entries),
    ``_monitors`` (metrics early stopping may watch), ``_target_time_axis`` (time axis of
    frame targets, for time shift) and ``_embeds`` (whether ``transform`` gives embeddings),
    and implement ``_check_targets`` and ``predict``. The mixins hold one concept each:
    ``SampleWeighting`` (``sample_weight`` and the batch loss), ``TrainingLoop`` (skorch's fit
    loop: validation split, callbacks, augmenting collate step, train-step strategy) and
    ``Embeddings`` (``embed``/``transform``).
    """

    #: The parameters checked in fit (a declarative table, see _validation.check_param);
    #: subclasses extend it. Cross-parameter rules: _check_relations.
    _parameter_constraints = NET_PARAMETERS
    _monitors = {"valid_loss": True}  # name -> lower is better
    _target_time_axis = None
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
        return validate_params(self, self._parameter_constraints)["device"]  # parsed once

    def _check_relations(self, params):
        """The cross-parameter rules (``params``: the checked values, the device parsed)."""
        name = type(self).__name__
        if self.validation_fraction and self.train_split is not None:
            raise ValueError(
                f"validation_fraction={self.validation_fraction!r} and train_split="
                f"{self.train_split!r} both ask for a validation split; pass only one (set "
                f"train_split=None to let {name} split off validation_fraction of the fit "
                "data).")
        if self.monitor not in self._monitors:
            raise ValueError(f"monitor must be one of {sorted(self._monitors)} for {name}; "
                             f"got {self.monitor!r}.")
        if self.early_stopping and not self._has_validation():
            raise ValueError("early_stopping=True needs validation data to monitor; set "
                             "validation_fraction (for example validation_fraction=0.1).")
        if self.weight_decay and "optimizer__weight_decay" in vars(self):
            raise ValueError(f"weight_decay={self.weight_decay!r} and optimizer__weight_decay="
                             f"{self.optimizer__weight_decay!r} are both set; pass only "
                             "weight_decay.")
        if self.precision == "16-mixed" and params["device"].type != "cuda":
            raise ValueError(
                f"precision='16-mixed' needs device='cuda' (got device={self.device!r}); on "
                "CPU use precision='32', or precision='bf16' on a CPU with bfloat16 support.")

    def _check_augment_sizes(self, n_mels, n_frames):
        """Check the augmentation widths against the spectrogram shape seen in fit."""
        for param, size, what in (("freq_mask", n_mels, "mel bands"),
                                  ("time_mask", n_frames, "frames"),
                                  ("time_shift", n_frames, "frames")):
            value = getattr(self, param)
            if value >= size:
                raise ValueError(f"{param}={value} is not smaller than the {size} {what} of "
                                 f"X; pass {param} < {size} (0 turns it off).")

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
        self._check_predict_device()
        X = self._check_X(X)
        self._check_shape(X)
        return X

    def _check_fit_data(self, X, y, *, reset, classes, weights=None, route="fit"):
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
        self._check_augment_sizes(*X.shape[-2:])
        y, fitted = self._check_targets(y, X, reset=reset, classes=classes)
        self._check_weighted_targets(y, weights, route, fitted)
        if reset:  # set fitted attributes only once X, y and sample_weight are all valid
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

    def _check_predict_device(self):
        """A clear error when ``device`` names a CUDA device this machine lacks (set after fit,
        for example with ``set_params(device='cuda')``), instead of torch's "Torch not compiled
        with CUDA enabled"."""
        if self.device is None or str(self.device) == "cpu":
            return
        try:
            check_device(self.device)
        except ValueError:
            if not str(self.device).startswith("cuda") or torch.cuda.is_available():
                raise
            raise ValueError(
                f"{type(self).__name__} has device={self.device!r}, but CUDA is not available on "
                "this machine (torch.cuda.is_available() is False); call set_params(device='cpu') "
                "to predict here (sk_crnn.load does so by itself for a model saved on a GPU)."
            ) from None

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
        torch's threads capped inside a Dask worker, and a new network of ``device="cuda"``
        in a parallel worker put on the worker's own GPU when several are visible
        (:func:`~sk_crnn._parallel.use_worker_gpu`). A KeyboardInterrupt (Ctrl-C) ends the
        training as in skorch, with a warning and ``interrupted_epoch_`` set."""
        self.__dict__.pop("interrupted_epoch_", None)
        weights = self._pop_sample_weight(fit_params, route, X)
        device = self._check_params()
        if classes is not None:
            classes = self._check_partial_fit_classes(classes, reset=reset)
        X, y = self._check_fit_data(X, y, reset=reset, classes=classes, weights=weights,
                                    route=route)
        X, y, weights, kept = self._weighted_clips(X, y, weights, route)
        if _SKORCH_ROUTES:
            fit_params = {"_routing_method": route, **fit_params}
        if reset:  # a warm start stays where its weights are
            use_worker_gpu(device)
        with self._fitting(device), worker_thread_limit():
            if reset:
                self.initialize()
            self._check_validation_callbacks()
            if weights is not None:
                self._sample_weight = weights  # per-call state, dropped after the call;
                vars(self)["_sample_criterion"] = self._unreduced_criterion()  # not registered
            self._augment = self._batch_augment()  # its seed comes after weight init
            self._scaled_step = _precision.scaled_step(self.precision)
            super().partial_fit(X, y, **fit_params)
            interrupted = getattr(self, "_interrupted", None)
        if kept is not None and "validation_indices_" in vars(self):
            self.validation_indices_ = kept[self.validation_indices_]  # into the fit data
        if interrupted is not None:
            self._warn_interrupted(route, *interrupted)
        self._after_training(X, y)
        return self

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
            for attr in ("_fit_device", "_augment", "_scaled_step", "_loss_warned", "_epoch_losses",
                         "_epochs_done", "_interrupted", "_sample_weight", "_sample_criterion"):
                self.__dict__.pop(attr, None)

    def _on_cuda(self):
        device = getattr(self, "_fit_device", None)
        if device is None:
            device = torch.device("cpu" if self.device is None else self.device)
        return device.type == "cuda"

    def _to_device(self, a):
        return torch.as_tensor(a, device=self.device) if self._on_cuda() else a

    def initialize(self):
        """skorch's ``initialize``, forgetting a failed training (fresh weights)."""
        self.__dict__.pop("training_failed_", None)
        return super().initialize()

    def initialize_module(self):
        """Build ``module_``, merging the sizes inferred at fit (``n_mels``, ``n_frames``,
        ``n_outputs``) into the module's arguments where it accepts them.

        User-given ``module__*`` parameters win over inferred ones; an already built
        ``torch.nn.Module`` instance is used as is (skorch's behaviour).
        """
        kwargs = self.get_params_for("module")
        if not isinstance(self.module, torch.nn.Module):
            kwargs = self._module_kwargs()
            missing = sorted(required_kwargs(self.module) & {"n_mels", "n_outputs"} - set(kwargs))
            if missing:
                raise ValueError(
                    f"{type(self).__name__} infers the module's sizes from X and y in fit; call "
                    f"fit(X, y) instead of initialize(), or pass module__{missing[0]}.")
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def _module_kwargs(self, inferred=None):
        """The arguments of the module class: the sizes inferred at fit (``inferred``; by
        default ``_inferred_module_params()`` once fitted) that it accepts, under the user's
        ``module__*`` parameters (which win)."""
        if inferred is None:
            inferred = self._inferred_module_params() if hasattr(self, "n_outputs_") else {}
        return {**accepted_kwargs(self.module, inferred), **self.get_params_for("module")}

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
    def infer(self, x, **fit_params):
        """skorch's forward pass, under autocast when ``precision`` asks for it (outputs are
        returned as float32)."""
        return _precision.forward(super().infer, x, self.precision, self._on_cuda(),
                                  **fit_params)

    # -- prediction ---------------------------------------------------------------------------
    def check_is_fitted(self, attributes=None, *args, **kwargs):
        """skorch's check, and a clear error after a training whose loss became NaN/inf."""
        failed = getattr(self, "training_failed_", None)
        if failed:
            raise NotInitializedError(
                f"This {type(self).__name__} cannot predict: {failed}, so its weights are not "
                "usable. Fit it again with a lower lr or scaled inputs.")
        return super().check_is_fitted(attributes, *args, **kwargs)

    def forward_iter(self, X, training=False, device="cpu"):
        """Check ``X`` against the fitted shape, then yield skorch's batched outputs (the
        inference module's scores, see :meth:`evaluation_step`)."""
        return super().forward_iter(self._check_predict_X(X), training=training, device=device)

    def _inference_module(self, method="predict_proba"):
        """One ``torch.nn.Module`` from spectrograms to what ``method`` returns.

        Parameters
        ----------
        method : {"predict_proba", "transform"}, default="predict_proba"
            ``"transform"``: the embeddings (the module's ``embed``).

        Returns
        -------
        module : sk_crnn._inference.InferenceModule
            Holds ``module_`` (not a copy); input: a tensor of shape
            (batch, n_mels_in_, n_frames_in_); output: a tensor, as ``method`` returns it.
            ``predict_proba`` runs its ``scores`` in :meth:`evaluation_step` and its
            ``nonlinearity`` after, so it is what the estimator computes.
        """
        self.check_is_fitted()
        if method == "transform":
            return EmbeddingOutputs(self.module_)
        return InferenceModule(self.module_, self._get_predict_nonlinearity())

    def evaluation_step(self, batch, training=False):
        """The forward pass of a batch at prediction: the inference module's ``scores``
        (under the autocast of ``precision``)."""
        self.check_is_fitted()
        Xi, _ = unpack_data(batch)
        scores = self._inference_module().scores
        with torch.set_grad_enabled(training):
            self._set_training(training)
            x = to_tensor(self._module_input(Xi), device=self.device)
            return _precision.forward(scores, x, self.precision, self._on_cuda())

    @shared_docs
    def predict_proba(self, X):
        """Probabilities (classifier, detector) or raw outputs (regressor) of the network.

        {X_fitted}
        proba : ndarray of shape (n_clips, n_outputs) or (n_clips, n_frames, n_classes)
            Columns follow ``classes_``: class probabilities (rows sum to 1), the independent
            probabilities of each label for multi-label ``y``, or for
            :class:`~sk_crnn.CRNNEventDetector` the probability of each class per frame.
        """
        nonlinearity = self._inference_module().nonlinearity
        out = []
        for scores in self.forward_iter(X, training=False):
            scores = scores[0] if isinstance(scores, (tuple, list)) else scores
            out.append(to_numpy(nonlinearity(scores)))
        return np.concatenate(out, 0)

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
