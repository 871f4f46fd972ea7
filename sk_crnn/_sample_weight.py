"""Private support of ``fit(X, y, sample_weight=...)``: the check of the weights, the
dataset that hands each clip's weight to the training step, and the weighted loss.

The loss of a batch is the weighted mean of its clips' losses, ``sum(w * loss) / sum(w)``,
as scikit-learn weights its means; clips of weight 0 are left out of training altogether
(so they neither enter the validation split nor batch statistics), and weights that are all
equal train exactly as no weights.
"""

import numpy as np
import torch
from skorch.dataset import Dataset, unpack_data
from skorch.utils import is_dataset, to_tensor

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


_WEIGHT_KEY = "sample_weight"


def weighted_dataset(X, y, sample_weight):
    """skorch's ``Dataset`` whose items carry the clip's weight with its input:
    ``({"X": Xi, "sample_weight": wi}, yi)`` (skorch's callbacks need ``(X, y)`` items whose
    ``y`` is the target)."""
    return Dataset({"X": X, _WEIGHT_KEY: np.asarray(sample_weight, dtype=np.float32)}, y)


def unpack_weighted(batch):
    """``(Xi, yi, weights)`` of a batch; weights is None for a batch without them."""
    Xi, yi = unpack_data(batch)
    if isinstance(Xi, dict) and _WEIGHT_KEY in Xi:
        return Xi["X"], yi, Xi[_WEIGHT_KEY]
    return Xi, yi, None


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

    def _loss(self, y_pred, y_true, X, weights, training):
        """``get_loss``, or the weighted mean of the clips' losses when the batch carries
        weights."""
        if weights is None:
            return self.get_loss(y_pred, y_true, X=X, training=training)
        y_true = to_tensor(y_true, device=self.device)
        return weighted_loss(self._sample_criterion(y_pred, y_true), weights)

    def validation_step(self, batch, **fit_params):
        """skorch's validation step; the loss is weighted when the batch carries weights."""
        Xi, yi, wi = unpack_weighted(batch)
        if wi is None:
            return super().validation_step(batch, **fit_params)
        self._set_training(False)
        with torch.no_grad():
            y_pred = self.infer(Xi, **fit_params)
            loss = self._loss(y_pred, yi, Xi, wi, training=False)
        return {"loss": loss, "y_pred": y_pred}

    def evaluation_step(self, batch, training=False):
        """skorch's forward pass of a batch (a validation batch's weights are not needed)."""
        Xi, yi, weights = unpack_weighted(batch)
        if weights is not None:
            batch = (Xi, yi)
        return super().evaluation_step(batch, training=training)
