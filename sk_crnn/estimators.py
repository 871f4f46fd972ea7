"""CRNN classifier and regressor: skorch nets whose sizes are inferred from the data at fit."""

import inspect
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import DataConversionWarning
from sklearn.utils import TransformerTags, check_array, check_consistent_length
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import EpochScoring
from skorch.utils import to_tensor

from ._docs import COMMON_ATTRS_DOC as _COMMON_ATTRS_DOC
from ._docs import COMMON_PARAMS_DOC as _COMMON_PARAMS_DOC
from ._embedding import EmbeddingMixin
from ._netbase import SpectrogramNetMixin
from ._parallel import worker_thread_limit
from ._training import (
    TrainingMixin,
    check_augment_sizes,
    check_training_params,
    class_weights,
    training_callbacks,
)
from .modules import CRNN

__all__ = ["CRNNClassifier", "CRNNRegressor"]


def _accepted_kwargs(factory, kwargs):
    """Keep the entries of ``kwargs`` that ``factory`` accepts as keyword arguments."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return dict(kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return dict(kwargs)
    names = {p.name for p in params}
    return {k: v for k, v in kwargs.items() if k in names}


class _CRNNBase(SpectrogramNetMixin, TrainingMixin, EmbeddingMixin):
    """Behaviour shared by :class:`CRNNClassifier` and :class:`CRNNRegressor`.

    Overrides a few skorch hooks: input checks and size inference in ``fit``/``partial_fit``,
    inferred sizes merged into the module's arguments in ``initialize_module``, seeding,
    shuffled training batches, a NaN-loss guard in ``train_step`` and shape checks before
    prediction. ``TrainingMixin`` adds the validation split, augmentation, precision and
    weight decay. Subclasses implement ``_check_targets``.
    """

    def _check_fit_data(self, X, y, *, reset, classes=None):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        X = self._check_X(X)
        if not sp.issparse(y):
            y = np.asarray(y)
        if y.ndim == 0:
            raise ValueError(f"y must be an array of targets, one per clip; got {y!r}.")
        check_consistent_length(X, y)
        if not reset:
            self._check_shape(X)
        check_augment_sizes(self, *X.shape[-2:])
        y, fitted = self._check_targets(y, reset=reset, classes=classes)
        if reset:  # set fitted attributes only once X and y are both valid
            self.n_mels_in_, self.n_frames_in_ = (int(s) for s in X.shape[-2:])
            for name, value in fitted.items():
                setattr(self, name, value)
        return X, y

    def _check_params(self):
        self._check_net_params()
        check_training_params(self)

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, X, y, **fit_params):
        """Fit the network on spectrograms.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms, e.g. from ``MelSpectrogramTransformer``.
        y : array-like of shape (n_clips,) or (n_clips, n_outputs)
            Targets.
        **fit_params : dict
            Passed to skorch (the module's ``forward`` and ``train_split``).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        reset = not (self.warm_start and self.initialized_ and hasattr(self, "n_outputs_"))
        self._check_params()
        X, y = self._check_fit_data(X, y, reset=reset)
        with self._seeded():
            if reset:
                self.initialize()
            with self._training_session(), worker_thread_limit():
                super().partial_fit(X, y, _routing_method="fit", **fit_params)
        return self

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initializing a fitted network.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms; their shape must match earlier calls.
        y : array-like of shape (n_clips,) or (n_clips, n_outputs)
            Targets.
        classes : array-like of shape (n_classes,) or None, default=None
            Classifiers: every label that any call may see, as in scikit-learn's
            ``partial_fit``. Needed on the first call when the first chunk lacks some
            classes (unless the constructor's ``classes`` is set); later calls may omit it or
            must repeat the same labels. Not used by the regressor.
        **fit_params : dict
            Passed to skorch.

        Returns
        -------
        self : object
        """
        reset = not (self.initialized_ and hasattr(self, "n_outputs_"))
        self._check_params()
        if classes is not None:
            classes = self._check_partial_fit_classes(classes, reset=reset)
        X, y = self._check_fit_data(X, y, reset=reset, classes=classes)
        with self._seeded():
            if reset:
                self.initialize()
            with self._training_session(), worker_thread_limit():
                super().partial_fit(X, y, **fit_params)
        return self

    def _inferred_module_params(self):
        if not hasattr(self, "n_outputs_"):
            return {}
        return {
            "n_mels": self.n_mels_in_,
            "n_frames": self.n_frames_in_,
            "n_outputs": self.n_outputs_,
        }

    def initialize_module(self):
        """Build ``module_``, merging the sizes inferred at fit into the module's arguments.

        User-given ``module__*`` parameters win over inferred ones; an already built
        ``torch.nn.Module`` instance is used as is (skorch's behaviour).
        """
        kwargs = self.get_params_for("module")
        if not isinstance(self.module, torch.nn.Module):
            inferred = _accepted_kwargs(self.module, self._inferred_module_params())
            kwargs = {**inferred, **kwargs}
            missing = {"n_mels", "n_outputs"} - set(kwargs)
            if isinstance(self.module, type) and issubclass(self.module, CRNN) and missing:
                raise ValueError(
                    f"{type(self).__name__} infers the module's sizes from X and y in fit; call "
                    f"fit(X, y) instead of initialize(), or pass module__{sorted(missing)[0]}."
                )
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def train_step(self, batch, **fit_params):
        """skorch's training step (with gradient scaling for precision='16-mixed'), stopping
        with an error when the loss is not finite."""
        if getattr(self, "_grad_scaler", None) is not None:
            step = self._scaled_train_step(batch, **fit_params)
        else:
            step = super().train_step(batch, **fit_params)
        return self._check_finite_loss(step)

    @property
    def _default_callbacks(self):
        # skorch's scoring, then lr_scheduler, the log, progress_bar and early_stopping last
        # (it ends training by raising KeyboardInterrupt, after the epoch is logged).
        callbacks = list(super()._default_callbacks)
        schedulers, stoppers = training_callbacks(self)
        at = [name for name, _ in callbacks].index("print_log")
        callbacks[at:at] = schedulers
        return callbacks + self._progress_callbacks() + stoppers

    # -- prediction ---------------------------------------------------------------------------
    def embed(self, X):
        """Pooled embeddings of the fitted module (before its output layer).

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms of the fitted shape.

        Returns
        -------
        embeddings : ndarray of shape (n_clips, embedding_dim)
        """
        X = self._check_predict_X(X)
        if not hasattr(self.module_, "embed"):
            raise AttributeError(f"The module {type(self.module_).__name__} has no embed method.")
        iterator = self.get_iterator(self.get_dataset(X), training=False)
        self._set_training(False)
        out = []
        with torch.no_grad():
            for Xi, _ in iterator:
                out.append(self.module_.embed(to_tensor(Xi, device=self.device)).cpu().numpy())
        return np.concatenate(out)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.required = True
        # transform() gives float32 embeddings, as LinearDiscriminantAnalysis is a classifier
        # and a transformer.
        tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])
        return tags


def _encoded_accuracy(net, X, y):
    """Accuracy of ``net`` on a validation split whose ``y`` holds encoded targets."""
    proba = net.predict_proba(X)
    y = np.asarray(y)
    if net._is_multilabel():
        return float(((proba > 0.5) == (y > 0.5)).all(axis=1).mean())
    return float((proba.argmax(axis=1) == y).mean())




class CRNNClassifier(_CRNNBase, NeuralNetClassifier):
    __doc__ = f"""Convolutional recurrent network classifier for spectrograms.

    Takes spectrograms (for example from ``MelSpectrogramTransformer``) and any labels
    scikit-learn classifiers take: a 1-D array of class labels (strings, ints, bools) for
    binary or multiclass classification, or a 2-D 0/1 indicator matrix for multi-label
    tagging.

    Parameters
    ----------{_COMMON_PARAMS_DOC.rstrip()}
    criterion : torch loss class or None, default=None
        None picks ``CrossEntropyLoss`` over the classes for 1-D labels and
        ``BCEWithLogitsLoss`` for a multi-label indicator ``y``.
    classes : array-like or None, default=None
        The label set and its order; None takes the sorted unique labels of ``y``. Useful
        when a training subset may lack a class.
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes in the loss (``CrossEntropyLoss(weight=...)``), as in
        scikit-learn: ``"balanced"`` gives ``n_samples / (n_classes * np.bincount(y))``, a
        dict ``{{label: weight}}`` keyed by the original labels gives 1 to labels it omits.
        Not supported for multi-label ``y`` (use ``criterion__pos_weight``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (for multi-label ``y``: ``np.arange(n_labels)``).
    n_outputs_ : int
        Number of network outputs: classes, or labels for multi-label ``y``.
    target_type_ : str
        ``"binary"``, ``"multiclass"`` or ``"multilabel-indicator"``.
    class_weight_ : ndarray of shape (n_classes,) or None
        Loss weight of each class of ``classes_`` (ones for ``class_weight=None``); None for
        multi-label ``y``.{_COMMON_ATTRS_DOC.rstrip()}

    See Also
    --------
    CRNNRegressor : The same network for regression targets.
    sk_crnn.modules.CRNN : The torch module.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn.estimators import CRNNClassifier
    >>> X = np.random.RandomState(0).randn(20, 16, 12).astype("float32")
    >>> y = np.array(["yes", "no"] * 10)
    >>> clf = CRNNClassifier(max_epochs=2, module__conv_channels=(4,), module__rnn_hidden=4,
    ...                      random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """

    def __init__(
        self,
        *,
        module=CRNN,
        criterion=None,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=20,
        batch_size=32,
        train_split=None,
        classes=None,
        class_weight=None,
        verbose=0,
        progress_bar=False,
        random_state=None,
        device="cpu",
        validation_fraction=None,
        early_stopping=False,
        patience=5,
        monitor="valid_loss",
        freq_mask=0,
        time_mask=0,
        n_freq_masks=2,
        n_time_masks=2,
        time_shift=0,
        mixup=0.0,
        lr_schedule=None,
        weight_decay=0.0,
        precision="32",
        compile=False,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            classes=classes,
            verbose=verbose,
            device=device,
            compile=compile,
            **kwargs,
        )
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
        self.class_weight = class_weight

    @property
    def classes_(self):
        if "classes_inferred_" not in vars(self):
            raise AttributeError(
                f"{type(self).__name__} has no attribute 'classes_': it is set by fit."
            )
        return self.classes_inferred_

    def _is_multilabel(self):
        return getattr(self, "target_type_", None) == "multilabel-indicator"

    @property
    def _default_callbacks(self):
        # skorch's valid_acc compares predict() (our original labels) with the encoded y of
        # the validation split; score the encoded predictions instead.
        callbacks = list(super()._default_callbacks)
        scoring = EpochScoring(_encoded_accuracy, name="valid_acc", lower_is_better=False)
        return [(name, scoring if name == "valid_acc" else cb) for name, cb in callbacks]

    def _check_partial_fit_classes(self, classes, *, reset):
        classes = np.asarray(classes)
        if classes.ndim != 1:
            raise ValueError(f"classes must be a 1-D list of labels; got shape {classes.shape}.")
        if reset and self.classes is not None and not np.array_equal(
                np.sort(np.asarray(self.classes)), np.sort(classes)):
            raise ValueError(
                f"partial_fit(classes={classes.tolist()}) differs from the constructor's "
                f"classes={list(self.classes)}; give one of them."
            )
        if not reset and not np.array_equal(np.sort(classes), np.sort(self.classes_)):
            raise ValueError(
                f"partial_fit(classes={classes.tolist()}) differs from the classes of the first "
                f"call, classes_={self.classes_.tolist()}; give the same labels every time."
            )
        return classes

    def _check_targets(self, y, *, reset, classes=None):
        name = type(self).__name__
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change the "
                "shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=4,
            )
            y = y.ravel()
        check_classification_targets(y)
        target_type = type_of_target(y, input_name="y")
        if target_type not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                f"{name} does not support targets of type {target_type!r} (y of shape "
                f"{y.shape}); pass a 1-D array of class labels, or a 2-D 0/1 indicator matrix "
                "for multi-label tagging."
            )
        multilabel = target_type == "multilabel-indicator"
        if multilabel and self.class_weight is not None:
            raise ValueError(
                f"class_weight is not supported for multi-label y; got class_weight="
                f"{self.class_weight!r}. Weight the labels with criterion__pos_weight (a "
                "tensor of one weight per label) instead."
            )
        if not reset:
            fitted_multilabel = self._is_multilabel()
            if multilabel != fitted_multilabel or (multilabel and y.shape[1] != self.n_outputs_):
                raise ValueError(
                    f"y (type {target_type!r}, shape {y.shape}) does not match the targets "
                    f"{name} was fitted on (type {self.target_type_!r}, {self.n_outputs_} "
                    "outputs)."
                )
            classes = self.classes_
        elif multilabel:
            if self.classes is not None or classes is not None:
                raise ValueError(
                    "classes is only used with 1-D class labels; for a multi-label indicator "
                    "y leave classes=None (classes_ becomes np.arange(n_labels))."
                )
            classes = np.arange(y.shape[1])
        else:
            given = self.classes if classes is None else classes
            classes = np.unique(y) if given is None else np.asarray(given)
            if len(np.unique(classes)) != len(classes):
                raise ValueError(f"classes must not hold duplicates; got {given!r}.")
            if len(classes) < 2:
                raise ValueError(
                    f"{name} needs samples of at least 2 classes in the data, but the data "
                    f"contains only one class: {classes.tolist()[0]!r}."
                )
        if multilabel:
            y_enc = y.astype(np.float32)
        else:
            sorter = np.argsort(classes, kind="stable")
            pos = np.searchsorted(classes, y, sorter=sorter).clip(max=len(classes) - 1)
            y_enc = sorter[pos]
            unknown = classes[y_enc] != y
            if unknown.any():
                raise ValueError(
                    f"y contains labels not in classes_ {classes.tolist()}: "
                    f"{np.unique(y[unknown]).tolist()[:5]}."
                )
            y_enc = y_enc.astype(np.int64)
        fitted = {
            "classes_inferred_": classes,
            "target_type_": target_type,
            "n_outputs_": int(y.shape[1]) if multilabel else len(classes),
        }
        if reset:
            fitted["class_weight_"] = (
                None if multilabel
                else np.ones(len(classes), np.float32) if self.class_weight is None
                else class_weights(self.class_weight, classes, y_enc)
            )
        return y_enc, fitted

    def initialize_criterion(self):
        """Build ``criterion_``; ``criterion=None`` picks the loss for the kind of ``y``."""
        criterion = self.criterion
        if criterion is None:
            multilabel = self._is_multilabel()
            criterion = torch.nn.BCEWithLogitsLoss if multilabel else torch.nn.CrossEntropyLoss
        kwargs = self.get_params_for("criterion")
        if self.class_weight is not None and getattr(self, "class_weight_", None) is not None:
            if "weight" in kwargs or "weight" not in _accepted_kwargs(criterion, {"weight": 0}):
                raise ValueError(
                    f"class_weight={self.class_weight!r} is passed as the loss's weight, but "
                    "criterion__weight is set too or the criterion takes no weight argument; "
                    "pass only one of them, or use class_weight with the default criterion."
                )
            kwargs["weight"] = torch.as_tensor(self.class_weight_)
        self.criterion_ = self.initialized_instance(criterion, kwargs)
        return self

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity == "auto" and self._is_multilabel():
            self.check_is_fitted()
            return torch.sigmoid
        return super()._get_predict_nonlinearity()

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms of the fitted shape.

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes) or (n_clips, n_labels)
            Columns follow ``classes_``; rows sum to 1 except for multi-label ``y``, where
            each column is the probability of one label.
        """
        return super().predict_proba(X)

    def predict(self, X):
        """Predicted labels.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms of the fitted shape.

        Returns
        -------
        y_pred : ndarray of shape (n_clips,) or (n_clips, n_labels)
            Labels from ``classes_``; for multi-label ``y`` a 0/1 indicator matrix
            (probability above 0.5).
        """
        proba = self.predict_proba(X)
        if self._is_multilabel():
            return (proba > 0.5).astype(np.int64)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.classifier_tags.multi_class = True
        tags.target_tags.multi_output = False  # no multiclass-multioutput
        return tags


class CRNNRegressor(_CRNNBase, NeuralNetRegressor):
    __doc__ = f"""Convolutional recurrent network regressor for spectrograms.

    Trains with the mean squared error on 1-D or 2-D float targets; ``predict`` returns
    the same dimensionality as the ``y`` seen in fit and ``score`` is R^2.

    Parameters
    ----------{_COMMON_PARAMS_DOC.rstrip()}
    criterion : torch loss class, default=torch.nn.MSELoss
        Training loss.

    Attributes
    ----------
    n_outputs_ : int
        Number of regression targets.
    y_ndim_ : int
        Number of dimensions of ``y`` in fit (1 or 2); ``predict`` returns the same.
    {_COMMON_ATTRS_DOC.strip()}

    See Also
    --------
    CRNNClassifier : The same network for class labels.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn.estimators import CRNNRegressor
    >>> X = np.random.RandomState(0).randn(20, 16, 12).astype("float32")
    >>> y = X.mean(axis=(1, 2))
    >>> reg = CRNNRegressor(max_epochs=2, module__conv_channels=(4,), module__rnn_hidden=4,
    ...                     random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    def __init__(
        self,
        *,
        module=CRNN,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=20,
        batch_size=32,
        train_split=None,
        verbose=0,
        progress_bar=False,
        random_state=None,
        device="cpu",
        validation_fraction=None,
        early_stopping=False,
        patience=5,
        monitor="valid_loss",
        freq_mask=0,
        time_mask=0,
        n_freq_masks=2,
        n_time_masks=2,
        time_shift=0,
        mixup=0.0,
        lr_schedule=None,
        weight_decay=0.0,
        precision="32",
        compile=False,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            verbose=verbose,
            device=device,
            compile=compile,
            **kwargs,
        )
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

    def _check_partial_fit_classes(self, classes, *, reset):
        raise ValueError("classes is for classifiers; CRNNRegressor.partial_fit takes none.")

    def _check_targets(self, y, *, reset, classes=None):
        y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y")
        if y.ndim not in (1, 2):
            raise ValueError(
                f"y must be 1-D (n_clips,) or 2-D (n_clips, n_targets); got shape {y.shape}."
            )
        y2d = y.reshape(len(y), -1).astype(np.float32)
        if not reset and y2d.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y2d.shape[1]} target(s) but {type(self).__name__} was fitted on "
                f"{self.n_outputs_}."
            )
        return y2d, {"n_outputs_": int(y2d.shape[1]), "y_ndim_": int(y.ndim)}

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms of the fitted shape.

        Returns
        -------
        y_pred : ndarray of shape (n_clips,) or (n_clips, n_outputs)
            1-D when ``y`` was 1-D in fit.
        """
        y_pred = NeuralNetRegressor.predict_proba(self, X).astype(np.float64)
        return y_pred.ravel() if getattr(self, "y_ndim_", 2) == 1 else y_pred

    @property
    def predict_proba(self):
        """Not available: a regressor has no class probabilities (use ``predict``)."""
        raise AttributeError(f"{type(self).__name__} has no predict_proba; use predict.")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
