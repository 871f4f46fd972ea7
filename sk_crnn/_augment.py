"""Augmentation of training batches of spectrograms: SpecAugment masks, time shift, mixup.

The CRNN estimators apply these to training batches only (in the collate step of the training
data loader, :class:`AugmentedCollate`), never when predicting. Every function draws its
randomness from a ``numpy.random.Generator``, so a seeded generator gives the same augmented
batches on any device.
"""

import numpy as np
import torch
from torch.utils.data import default_collate

__all__ = ["AugmentedCollate", "BatchAugment", "MixedClasses", "mask_bands", "mixup_batch",
           "roll_frames", "shift_time"]

_WEIGHT_KEY = "sample_weight"


def _host_to(a, device):
    """The numpy array ``a`` as a tensor on ``device``. To a GPU it goes through pinned
    memory without waiting: a copy from pageable memory would wait for the GPU to finish
    all queued work, once per batch."""
    tensor = torch.as_tensor(np.asarray(a))
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def _per_clip_mean(X):
    """Mean of each clip over its mel bands and frames, shaped to broadcast against ``X``."""
    return X.mean(dim=(-2, -1), keepdim=True)


def mask_bands(X, *, max_width, n_masks, axis, rng):
    """SpecAugment masking: replace random bands of each clip by the clip's mean value.

    Parameters
    ----------
    X : torch.Tensor of shape (batch, n_mels, n_frames) or (batch, 1, n_mels, n_frames)
        Spectrograms.
    max_width : int >= 0
        Largest mask width; each mask's width is drawn uniformly from ``[0, max_width]``
        (clipped to the axis size). 0 leaves ``X`` unchanged.
    n_masks : int >= 0
        Number of masks per clip (they may overlap).
    axis : {-2, -1}
        -2 masks mel bands (frequency masking), -1 masks frames (time masking).
    rng : numpy.random.Generator
        Source of the mask positions and widths.

    Returns
    -------
    X_masked : torch.Tensor of the same shape as ``X``
        A new tensor; ``X`` is not modified.
    """
    if max_width == 0 or n_masks == 0:
        return X
    n_clips, size = X.shape[0], X.shape[axis]
    positions = torch.arange(size, device=X.device)
    masked = torch.zeros(n_clips, size, dtype=torch.bool, device=X.device)
    for _ in range(n_masks):
        width = np.minimum(rng.integers(0, max_width + 1, size=n_clips), size)
        start = (rng.random(n_clips) * (size - width + 1)).astype(np.int64)
        start = _host_to(start, X.device)[:, None]
        stop = start + _host_to(width, X.device)[:, None]
        masked |= (positions >= start) & (positions < stop)
    shape = [n_clips] + [1] * (X.dim() - 1)
    shape[axis] = size
    return torch.where(masked.view(shape), _per_clip_mean(X), X)


def _draw_shifts(n_clips, max_shift, rng):
    return rng.integers(-max_shift, max_shift + 1, size=n_clips)


def roll_frames(A, shifts, *, axis=-1):
    """Roll each item of a batch circularly along ``axis`` by its own number of steps.

    Parameters
    ----------
    A : torch.Tensor of shape (batch, ...)
        Spectrograms (time on the last axis) or frame targets (time on axis 1).
    shifts : array-like of int, shape (batch,)
        Steps per item; positive values move content later in time.
    axis : int, default=-1
        The time axis of ``A``.

    Returns
    -------
    A_rolled : torch.Tensor of the same shape as ``A``
    """
    axis = axis % A.dim()
    n, size = A.shape[0], A.shape[axis]
    shifts = _host_to(shifts, A.device)
    steps = torch.arange(size, device=A.device)
    source = (steps[None, :] - shifts[:, None]) % size  # (batch, size)
    view = [n] + [1] * (A.dim() - 1)
    view[axis] = size
    return torch.gather(A, axis, source.view(view).expand_as(A))


def shift_time(X, *, max_shift, rng):
    """Roll each clip circularly along time by a random number of frames.

    Parameters
    ----------
    X : torch.Tensor of shape (batch, n_mels, n_frames) or (batch, 1, n_mels, n_frames)
        Spectrograms.
    max_shift : int >= 0
        Largest shift; each clip's shift is drawn uniformly from ``[-max_shift, max_shift]``.
        0 leaves ``X`` unchanged.
    rng : numpy.random.Generator
        Source of the shifts.

    Returns
    -------
    X_shifted : torch.Tensor of the same shape as ``X``
    """
    if max_shift == 0:
        return X
    return roll_frames(X, _draw_shifts(X.shape[0], max_shift, rng))


def mixup_batch(X, *, alpha, rng):
    """Mix each clip with another clip of the batch (mixup, Zhang et al. 2018).

    Parameters
    ----------
    X : torch.Tensor of shape (batch, ...)
        Spectrograms.
    alpha : float > 0
        Concentration of the Beta(alpha, alpha) distribution of the mixing weight.
    rng : numpy.random.Generator
        Source of the mixing weight and the pairing.

    Returns
    -------
    X_mixed : torch.Tensor of the same shape as ``X``
        ``lam * X + (1 - lam) * X[perm]``.
    perm : torch.Tensor of shape (batch,)
        Index of the partner of each clip; mix the targets the same way.
    lam : float
        Mixing weight, one for the whole batch.
    """
    lam = float(rng.beta(alpha, alpha))
    perm = _host_to(rng.permutation(X.shape[0]), X.device)
    return lam * X + (1.0 - lam) * X[perm], perm, lam


class BatchAugment:
    """The training-batch augmentation of the CRNN estimators, aware of their targets.

    SpecAugment masks (:func:`mask_bands`), a circular time shift (:func:`shift_time`) and
    :func:`mixup_batch`, applied in that order. Frame targets (the event detector's, with
    time on ``target_time_axis``) are shifted with their clips; float targets (multi-label
    indicators, regression values, frame activity) are mixed with the same weight as the
    clips, while for class indices the loss is mixed instead (see ``__call__``).

    Parameters
    ----------
    freq_mask, time_mask : int >= 0
        Largest mask widths in mel bands and frames (0 is off).
    n_freq_masks, n_time_masks : int >= 0
        Masks per clip.
    time_shift : int >= 0
        Largest circular shift in frames (0 is off).
    mixup : float >= 0
        Beta(mixup, mixup) concentration of the mixing weight (0 is off).
    target_time_axis : int or None
        Time axis of the targets, or None when targets have no time axis (one per clip).
    rng : numpy.random.Generator
        Source of all random draws, so a seeded generator gives the same batches anywhere.
    """

    def __init__(self, *, freq_mask=0, n_freq_masks=2, time_mask=0, n_time_masks=2,
                 time_shift=0, mixup=0.0, target_time_axis=None, rng):
        self.freq_mask, self.n_freq_masks = freq_mask, n_freq_masks
        self.time_mask, self.n_time_masks = time_mask, n_time_masks
        self.time_shift, self.mixup = time_shift, mixup
        self.target_time_axis, self.rng = target_time_axis, rng

    @property
    def active(self):
        """Whether any augmentation is switched on."""
        return bool((self.freq_mask and self.n_freq_masks) or (self.time_mask and self.n_time_masks)
                    or self.time_shift or self.mixup)

    def __call__(self, X, y, weight=None):
        """Augment one training batch.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, n_mels, n_frames) or (batch, 1, n_mels, n_frames)
        y : torch.Tensor of shape (batch, ...)
            Targets: class indices, float targets, or frame targets.
        weight : torch.Tensor of shape (batch,) or None, default=None
            Loss weights of the clips (``sample_weight``), mixed like the targets.

        Returns
        -------
        X_aug : torch.Tensor
        y_aug : torch.Tensor
            The targets, shifted and (for float targets) mixed like ``X``.
        partner : tuple (y_partner, lam, weight_partner) or None
            For mixup of class indices: train on ``lam * loss(y_aug) + (1 - lam) *
            loss(y_partner)`` (weighted by ``weight`` and ``weight_partner``); None otherwise.
        weight_aug : torch.Tensor or None
            The weights of the augmented clips: ``weight``, or for mixed float targets
            ``lam * weight + (1 - lam) * weight[perm]``.
        """
        rng = self.rng
        if X.dtype == torch.float16:  # float16 features: augment the batch in float32
            X = X.float()
        X = mask_bands(X, max_width=self.freq_mask, n_masks=self.n_freq_masks, axis=-2, rng=rng)
        X = mask_bands(X, max_width=self.time_mask, n_masks=self.n_time_masks, axis=-1, rng=rng)
        if self.time_shift:
            shifts = _draw_shifts(X.shape[0], self.time_shift, rng)
            X = roll_frames(X, shifts)
            if self.target_time_axis is not None:
                y = roll_frames(y, shifts, axis=self.target_time_axis)
        if not self.mixup:
            return X, y, None, weight
        X, perm, lam = mixup_batch(X, alpha=self.mixup, rng=rng)
        if weight is not None:
            weight = torch.as_tensor(weight, device=X.device)
        w_perm = None if weight is None else weight[perm]
        if y.dtype.is_floating_point:
            mixed_weight = None if weight is None else lam * weight + (1 - lam) * w_perm
            return X, lam * y + (1 - lam) * y[perm], None, mixed_weight
        return X, y, (y[perm], lam, w_perm), weight


class MixedClasses:
    """The targets of a mixup batch of class indices: the loss is mixed instead of them.

    ``loss(y_pred, ...)`` of a batch whose targets are a ``MixedClasses`` is
    ``lam * loss(y) + (1 - lam) * loss(y_partner)``, each weighted by its clips' weights
    (see :meth:`mix`).

    Parameters
    ----------
    y, y_partner : torch.Tensor of shape (batch, ...)
        The targets of the clips and of their mixup partners.
    lam : float
        The mixing weight of the batch.
    weight, weight_partner : torch.Tensor of shape (batch,) or None
        The loss weights (``sample_weight``) of the clips and of their partners.
    """

    def __init__(self, y, y_partner, lam, weight=None, weight_partner=None):
        self.y, self.y_partner, self.lam = y, y_partner, lam
        self.weight, self.weight_partner = weight, weight_partner

    def __len__(self):
        return len(self.y)

    def mix(self, loss_fn):
        """``lam * loss_fn(y, weight) + (1 - lam) * loss_fn(y_partner, weight_partner)``."""
        return (self.lam * loss_fn(self.y, self.weight)
                + (1 - self.lam) * loss_fn(self.y_partner, self.weight_partner))


class AugmentedCollate:
    """The collate step of a training data loader: stack the items, then augment the batch.

    Given as the ``collate_fn`` of skorch's ``iterator_train`` during ``fit``. Items are
    ``(X, y)`` or, with ``sample_weight``, ``({"X": X, "sample_weight": w}, y)``; the batch
    keeps that layout. For mixup of class indices the targets become :class:`MixedClasses`
    (the loss mixes them).

    Parameters
    ----------
    augment : BatchAugment or None
        The augmentation (None: none, as for validation batches).
    collate_fn : callable or None, default=None
        Stacks the items into a batch (torch's ``default_collate`` when None).
    prepare : callable or None, default=None
        Applied to the stacked ``(X, y)`` batch before augmenting (the transcriber cuts the
        padding after its longest clip).
    """

    def __init__(self, augment, collate_fn=None, prepare=None):
        self.augment, self.collate_fn, self.prepare = augment, collate_fn, prepare

    def preparing(self, prepare):
        """A copy that applies ``prepare`` to the stacked batch before augmenting it."""
        return AugmentedCollate(self.augment, self.collate_fn, prepare)

    def __call__(self, items):
        Xi, yi = (self.collate_fn or default_collate)(items)
        weights = None
        if isinstance(Xi, dict) and _WEIGHT_KEY in Xi:
            Xi, weights = Xi["X"], Xi[_WEIGHT_KEY]
        if self.prepare is not None:
            Xi, yi = self.prepare(Xi, yi)
        if self.augment is not None:
            Xi, yi, partner, weights = self.augment(torch.as_tensor(Xi), torch.as_tensor(yi),
                                                    weight=weights)
            if partner is not None:
                y_partner, lam, weight_partner = partner
                yi = MixedClasses(yi, y_partner, lam, weights, weight_partner)
        return (Xi if weights is None else {"X": Xi, _WEIGHT_KEY: weights}), yi
