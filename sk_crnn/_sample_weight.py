"""Private support of ``fit(X, y, sample_weight=...)``: the check of the weights, the
dataset that hands each clip's weight to the training step, and the weighted loss.

The loss of a batch is the weighted mean of its clips' losses, ``sum(w * loss) / sum(w)``,
as scikit-learn weights its means; clips of weight 0 are left out of training altogether
(so they neither enter the validation split nor batch statistics), and weights that are all
equal train exactly as no weights.
"""

import numpy as np
import torch
from skorch.dataset import Dataset
from skorch.utils import is_dataset, to_tensor

from ._augment import MixedClasses
from ._validation import accepted_kwargs


def check_sample_weight(sample_weight, n_clips, name):
    """Check ``sample_weight`` for ``n_clips`` clips; return it as a float64 array.

    Parameters
    ----------
    sample_weight : array-like of shape (n_clips,), float or None
        One non-negative, finite weight per clip (a number weights every clip alike).
    n_clips : int
        Number of clips in ``X``.
    name : str
        The estimator's name, for messages.

    Returns
    -------
    sample_weight : ndarray of shape (n_clips,)
    """
    if sample_weight is None:
        return None
    if hasattr(sample_weight, "detach"):
        sample_weight = sample_weight.detach().cpu().numpy()
    try:
        weights = np.array(sample_weight, dtype=np.float64)  # a copy: never the caller's array
    except (TypeError, ValueError):
        raise TypeError(f"sample_weight must be numbers, one per clip; got "
                        f"{type(sample_weight).__name__} {sample_weight!r:.80}.") from None
    if weights.ndim == 0:
        weights = np.full(n_clips, float(weights))
    if weights.ndim != 1 or len(weights) != n_clips:
        raise ValueError(f"sample_weight must hold one weight per clip, shape ({n_clips},); got "
                         f"shape {weights.shape}.")
    for bad, what in ((~np.isfinite(weights), "a non-finite"), (weights < 0, "a negative")):
        if bad.any():
            at = int(np.flatnonzero(bad)[0])
            raise ValueError(f"sample_weight holds {what} weight ({weights[at].item()!r}) at "
                             f"position {at}; {name} needs finite weights >= 0 (0 leaves a "
                             "clip out).")
    if not weights.any():
        raise ValueError(f"sample_weight is zero for every clip; {name} needs at least one clip "
                         "with a positive weight (a weight of 0 leaves a clip out).")
    return weights


_WEIGHT_KEY = "sample_weight"  # as _augment.AugmentedCollate names it


def weighted_dataset(X, y, sample_weight):
    """skorch's ``Dataset`` whose items carry the clip's weight with its input:
    ``({"X": Xi, "sample_weight": wi}, yi)`` (skorch's callbacks need ``(X, y)`` items whose
    ``y`` is the target). The weights are a tensor on the device of ``X`` when it is a
    tensor (on the GPU they are gathered with the batch, with no copy per batch)."""
    weights = np.asarray(sample_weight, dtype=np.float32)
    if isinstance(X, torch.Tensor):
        weights = torch.as_tensor(weights, device=X.device)
    return Dataset({"X": X, _WEIGHT_KEY: weights}, y)


def weighted_loss(per_sample, weights):
    """``sum(weights * loss) / sum(weights)`` of a batch.

    Parameters
    ----------
    per_sample : torch.Tensor of shape (batch, ...)
        The criterion's unreduced loss; extra axes (outputs, frames) are averaged per clip,
        as the criterion's ``"mean"`` reduction would.
    weights : torch.Tensor of shape (batch,)

    Returns
    -------
    loss : torch.Tensor
        A scalar.
    """
    weights = torch.as_tensor(weights, device=per_sample.device, dtype=per_sample.dtype)
    per_clip = per_sample.reshape(len(weights), -1).mean(dim=1)
    return (weights * per_clip).sum() / weights.sum().clamp_min(torch.finfo(weights.dtype).tiny)


class SampleWeighting:
    """The parts of the CRNN estimators' base that train with ``sample_weight``: set for
    one fit call, ``_sample_weight`` (one weight per training clip) makes the datasets carry
    the weights and ``_sample_criterion`` (the criterion unreduced) gives the clips' losses."""

    def _pop_sample_weight(self, fit_params, method, X):
        """Take ``sample_weight`` out of ``fit_params`` and check it (see
        :func:`check_sample_weight`); a TypeError where the estimator does not weight clips."""
        sample_weight = fit_params.pop("sample_weight", None)
        if sample_weight is None:
            return None
        name = type(self).__name__
        if not self._weighs_samples:
            raise TypeError(
                f"{name}.{method} does not support sample_weight (only CRNNClassifier and "
                "CRNNRegressor weight clips); drop it, or repeat or subsample clips instead.")
        try:
            n_clips = len(X) if hasattr(X, "__len__") else len(np.asarray(X))
        except TypeError:
            raise TypeError(f"X must be an array of spectrograms, one per clip; got "
                            f"{type(X).__name__}.") from None
        return check_sample_weight(sample_weight, n_clips, name)

    def _weighted_clips(self, X, y, weights, method):
        """The checked ``X`` and ``y`` without the clips of weight 0, the loss weight of each
        clip kept (None when their weights are all equal: the same fit as no weights), and
        the positions of the clips kept (None when all are)."""
        if weights is None:
            return X, y, None, None
        loss_weights = self._sample_weights(weights, y, method)
        kept = None
        if not weights.all():
            kept = np.flatnonzero(weights)
            X, y, weights, loss_weights = X[kept], y[kept], weights[kept], loss_weights[kept]
        if np.all(weights == weights[0]):
            loss_weights = None
        return X, y, loss_weights, kept

    def _check_weighted_targets(self, y, weights, method, fitted):
        """Check the checked targets ``y`` against ``sample_weight`` (None without it) before
        ``fit`` sets the fitted attributes ``fitted`` (the classifier needs 2 classes of
        positive weight)."""

    def _sample_weights(self, weights, y, method):
        """The per-clip loss weights of checked ``sample_weight`` (the classifier folds
        ``class_weight`` into them)."""
        return weights

    def _unreduced_criterion(self):
        """The criterion with ``reduction="none"``, for the weighted loss."""
        criterion, kwargs = self._criterion_and_kwargs()
        if isinstance(criterion, torch.nn.Module) or "reduction" not in accepted_kwargs(
                criterion, {"reduction": "none"}):
            raise ValueError(
                "sample_weight needs per-clip losses, from a criterion class that takes "
                f"reduction='none'; {getattr(criterion, '__name__', criterion)!r} does not. "
                "Use the default criterion or drop sample_weight.")
        instance = self.initialized_instance(criterion, {**kwargs, "reduction": "none"})
        return instance.to(self.device) if isinstance(instance, torch.nn.Module) else instance

    def get_dataset(self, X, y=None):
        """skorch's dataset; during a fit with ``sample_weight``, one whose items carry each
        clip's weight."""
        weights = getattr(self, "_sample_weight", None)
        if weights is None or y is None or is_dataset(X) or len(X) != len(weights):
            return super().get_dataset(X, y)
        return weighted_dataset(X, y, weights)

    def infer(self, x, **fit_params):
        """skorch's forward pass; the weights a weighted batch carries are not the module's
        input."""
        return super().infer(self._module_input(x), **fit_params)

    @staticmethod
    def _module_input(x):
        """A batch's input without the weights a weighted batch carries."""
        return x["X"] if isinstance(x, dict) and _WEIGHT_KEY in x else x

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The loss of a batch: the criterion's (``_criterion_loss``), the weighted mean of
        the clips' losses when ``X`` carries weights, and for mixup of class indices
        (``_augment.MixedClasses`` targets) the mix of both labels' losses."""
        weights = None
        if isinstance(X, dict) and _WEIGHT_KEY in X:
            X, weights = X["X"], X[_WEIGHT_KEY]
        if isinstance(y_true, MixedClasses):
            return y_true.mix(lambda y, w: self._clip_loss(y_pred, y, X, w, training))
        return self._clip_loss(y_pred, y_true, X, weights, training)

    def _clip_loss(self, y_pred, y_true, X, weights, training):
        if weights is None:
            return self._criterion_loss(y_pred, y_true, X=X, training=training)
        y_true = to_tensor(y_true, device=self.device)
        return weighted_loss(self._sample_criterion(y_pred, y_true), weights)

    def _criterion_loss(self, y_pred, y_true, X=None, training=False):
        """skorch's loss of a batch (the criterion); estimators with their own loss (CTC,
        the clip head) override this."""
        return super().get_loss(y_pred, y_true, X=X, training=training)


class WeighsClips:
    """``fit`` and ``partial_fit`` with ``sample_weight`` (classifier and regressor)."""

    _weighs_samples = True

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the network on spectrograms (re-initialized unless ``warm_start``).

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms, e.g. from ``MelSpectrogramTransformer``.
        y : array-like
            Targets, one per clip (see the estimator's description).
        sample_weight : array-like of shape (n_clips,) or None, default=None
            Non-negative weights of the clips: the loss of each batch is the weighted mean
            of its clips' losses (``sum(w * loss) / sum(w)``), so a weight of 2 counts a clip
            about as much as two copies of it; clips of weight 0 are left out of training
            and of the ``validation_fraction`` split. The classifier's ``class_weight``
            multiplies them, as in scikit-learn. ``valid_loss`` is weighted too.
        **fit_params : dict
            Passed to skorch (the module's ``forward`` and ``train_split``).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y, sample_weight=sample_weight, **fit_params)

    def partial_fit(self, X, y, classes=None, sample_weight=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initializing a fitted network.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms; their shape must match earlier calls.
        y : array-like
            Targets, one per clip.
        classes : array-like of shape (n_classes,) or None, default=None
            The classifier's labels, as in scikit-learn's ``partial_fit`` (needed on the
            first call when its chunk lacks some classes); the regressor takes none.
        sample_weight : array-like of shape (n_clips,) or None, default=None
            Non-negative weights of the clips, as in ``fit``.
        **fit_params : dict
            Passed to skorch.

        Returns
        -------
        self : object
        """
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight,
                                   **fit_params)
