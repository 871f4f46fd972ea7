"""The CRNN classifier: one class (or a set of labels) per clip."""

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.metrics import accuracy_score
from sklearn.utils import column_or_1d
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring

from ._base import SpectrogramNet
from ._docs import COMMON_ATTRS_DOC, COMMON_PARAMS_DOC, module_doc, shared_docs
from ._labels import check_labels
from ._sample_weight import WeighsClips
from ._training import class_weights
from ._validation import Rule, accepted_kwargs
from .modules import CRNN

__all__ = ["CRNNClassifier"]


def _encoded_accuracy(net, X, y):
    """Accuracy of ``net`` on a validation split whose ``y`` holds encoded targets."""
    proba = net.predict_proba(X)
    y = np.asarray(y)
    if net._is_multilabel():
        return accuracy_score(y > 0.5, proba > 0.5)
    return accuracy_score(y, proba.argmax(axis=1))


def _check_class_weight(value, name):
    if value is not None and value != "balanced" and not isinstance(value, dict):
        raise ValueError(f"{name} must be None, 'balanced' or a dict {{label: weight}}; got "
                         f"{value!r}.")


def encode_labels(y, classes):
    """Indices of the labels ``y`` in ``classes``; a ValueError names labels not in it."""
    sorter = np.argsort(classes, kind="stable")
    pos = np.searchsorted(classes, y, sorter=sorter).clip(max=len(classes) - 1)
    y_enc = sorter[pos]
    unknown = classes[y_enc] != y
    if unknown.any():
        raise ValueError(f"y contains labels not in classes_ {classes.tolist()}: "
                         f"{np.unique(y[unknown]).tolist()[:5]}.")
    return y_enc.astype(np.int64)


#: The shared parameter entries with the classifier's own defaults of mixup and lr_schedule.
_CLASSIFIER_PARAMS_DOC = COMMON_PARAMS_DOC.replace(
    "mixup : float, default=0.0", "mixup : float, default=0.2").replace(
    'lr_schedule : {None, "cosine", "onecycle", "plateau"}, default=None',
    'lr_schedule : {None, "cosine", "onecycle", "plateau"}, default="cosine"').replace(
    "        ``event_lr``. None keeps ``lr`` constant.",
    "        ``event_lr``. None keeps ``lr`` constant. The classifier's defaults,\n"
    "        ``lr_schedule=\"cosine\"`` with ``mixup=0.2``, won on speech and on music over 3\n"
    "        seeds (``benchmarks/README.md``); set ``mixup=0.0, lr_schedule=None`` for plain\n"
    "        training.")


class CRNNClassifier(WeighsClips, SpectrogramNet, NeuralNetClassifier):
    __doc__ = f"""Convolutional recurrent network classifier for spectrograms.

    Takes spectrograms (for example from ``MelSpectrogramTransformer``) and any labels
    scikit-learn classifiers take: a 1-D array of class labels (strings, ints, bools) for
    binary or multiclass classification, or a 2-D 0/1 indicator matrix for multi-label
    tagging.

    Parameters
    ----------{module_doc("CRNN").rstrip()}{_CLASSIFIER_PARAMS_DOC.rstrip()}
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
        multi-label ``y``.{COMMON_ATTRS_DOC.rstrip()}

    See Also
    --------
    CRNNRegressor : The same network for regression targets.
    sk_crnn.modules.CRNN : The torch module.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn import CRNNClassifier
    >>> X = np.random.RandomState(0).randn(20, 16, 12).astype("float32")
    >>> y = np.array(["yes", "no"] * 10)
    >>> clf = CRNNClassifier(max_epochs=2, module__conv_channels=(4,), module__rnn_hidden=4,
    ...                      random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """

    _parameter_constraints = {**SpectrogramNet._parameter_constraints,
                              "class_weight": Rule(_check_class_weight)}
    _monitors = {"valid_loss": True, "valid_acc": False}

    def __init__(self, *, module=CRNN, criterion=None, classes=None, class_weight=None,
                 lr_schedule="cosine", mixup=0.2, **kwargs):
        # The classifier's own defaults: cosine annealing with mixup beat the plain
        # defaults on speech and on music over 3 seeds (benchmarks/README.md, issue 12).
        super().__init__(module, criterion=criterion, classes=classes,
                         lr_schedule=lr_schedule, mixup=mixup, **kwargs)
        self.class_weight = class_weight

    def _is_multilabel(self):
        return getattr(self, "target_type_", None) == "multilabel-indicator"

    _sigmoid_outputs = _is_multilabel

    @property
    def _default_callbacks(self):
        # skorch's valid_acc compares predict() (our original labels) with the encoded y of
        # the validation split; score the encoded predictions instead.
        scoring = EpochScoring(_encoded_accuracy, name="valid_acc", lower_is_better=False)
        return [(name, scoring if name == "valid_acc" else cb)
                for name, cb in super()._default_callbacks]

    def _check_targets(self, y, X, *, reset, classes=None):
        name = type(self).__name__
        if sp.issparse(y):
            y = y.toarray()
        check_labels(y, name)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        target_type = type_of_target(y, input_name="y")
        if target_type not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                f"{name} does not support targets of type {target_type!r} (y of shape "
                f"{y.shape}); pass a 1-D array of class labels, or a 2-D 0/1 indicator matrix "
                "for multi-label tagging.")
        multilabel = target_type == "multilabel-indicator"
        if multilabel and not np.isin(np.unique(y), (0, 1)).all():
            raise ValueError(
                f"A 2-D y is a multi-label indicator matrix and must hold only 0 and 1; got "
                f"values {np.unique(y).tolist()}. Map it first, for example (y == "
                f"{np.unique(y).tolist()[-1]!r}).astype(int), or pass 1-D class labels.")
        if multilabel and self.class_weight is not None:
            raise ValueError(
                f"class_weight is not supported for multi-label y; got class_weight="
                f"{self.class_weight!r}. Weight the labels with criterion__pos_weight (a "
                "tensor of one weight per label) instead.")
        if not reset:
            fitted_ml = self._is_multilabel()
            if multilabel != fitted_ml or (multilabel and y.shape[1] != self.n_outputs_):
                raise ValueError(
                    f"y (type {target_type!r}, shape {y.shape}) does not match the targets "
                    f"{name} was fitted on (type {self.target_type_!r}, {self.n_outputs_} "
                    "outputs).")
            classes = self.classes_
        elif multilabel:
            if self.classes is not None or classes is not None:
                raise ValueError(
                    "classes is only used with 1-D class labels; for a multi-label indicator "
                    "y leave classes=None (classes_ becomes np.arange(n_labels)).")
            classes = np.arange(y.shape[1])
        else:
            given = self.classes if classes is None else classes
            classes = np.unique(y) if given is None else np.asarray(given)
            if len(np.unique(classes)) != len(classes):
                raise ValueError(f"classes must not hold duplicates; got {given!r}.")
            if len(classes) < 2:
                raise ValueError(
                    f"{name} needs samples of at least 2 classes in the data, but the data "
                    f"contains only one class: {classes.tolist()[0]!r}.")
        y_enc = y.astype(np.float32) if multilabel else encode_labels(y, classes)
        fitted = {"classes_inferred_": classes, "target_type_": target_type,
                  "n_outputs_": int(y.shape[1]) if multilabel else len(classes)}
        if reset:
            fitted["class_weight_"] = (
                None if multilabel
                else np.ones(len(classes), np.float32) if self.class_weight is None
                else class_weights(self.class_weight, classes, y_enc))
        return y_enc, fitted

    def _check_weighted_targets(self, y, weights, method, fitted):
        """``fit`` (not ``partial_fit``) needs a positive weight in 2 classes; checked
        before the fitted attributes (``fitted``) replace those of an earlier fit."""
        if weights is None or method != "fit" or fitted["target_type_"] == "multilabel-indicator":
            return
        present = np.unique(y[weights > 0])
        if len(present) < 2 <= len(np.unique(y)):
            only = fitted["classes_inferred_"][present].tolist()[0]
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes with a positive "
                f"sample_weight, but only class {only!r} has any; give clips of another class "
                "a weight > 0.")

    def _sample_weights(self, weights, y, method):
        """``sample_weight`` times the ``class_weight_`` of each clip's class (scikit-learn's
        rule)."""
        if self._is_multilabel() or self.class_weight is None:
            return weights
        return weights * self.class_weight_[y]

    def _criterion_and_kwargs(self):
        """``criterion=None`` picks the loss for the kind of ``y``; ``class_weight`` becomes
        its ``weight`` (during a fit with ``sample_weight`` it is in the clips' weights
        instead, see ``_sample_weights``)."""
        criterion = self.criterion
        if criterion is None:
            multilabel = self._is_multilabel()
            criterion = torch.nn.BCEWithLogitsLoss if multilabel else torch.nn.CrossEntropyLoss
        kwargs = self.get_params_for("criterion")
        folded = getattr(self, "_sample_weight", None) is not None
        if (self.class_weight is not None and getattr(self, "class_weight_", None) is not None
                and not folded):
            if "weight" in kwargs or "weight" not in accepted_kwargs(criterion, {"weight": 0}):
                raise ValueError(
                    f"class_weight={self.class_weight!r} is passed as the loss's weight, but "
                    "criterion__weight is set too or the criterion takes no weight argument; "
                    "pass only one of them, or use class_weight with the default criterion.")
            kwargs["weight"] = torch.as_tensor(self.class_weight_)
        return criterion, kwargs

    @shared_docs
    def predict(self, X):
        """Predicted labels.

        {X_fitted}
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
