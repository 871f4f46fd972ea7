"""Augmentation of training batches of spectrograms: SpecAugment masks, time shift, mixup.

The CRNN estimators apply these to training batches only (inside their training step), never
when predicting. Every function draws its randomness from a ``numpy.random.Generator``, so a
seeded generator gives the same augmented batches on any device.
"""

import numpy as np
import torch

__all__ = ["mask_bands", "mixup_batch", "shift_time"]


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
        start = torch.as_tensor(start, device=X.device)[:, None]
        stop = start + torch.as_tensor(width, device=X.device)[:, None]
        masked |= (positions >= start) & (positions < stop)
    shape = [n_clips] + [1] * (X.dim() - 1)
    shape[axis] = size
    return torch.where(masked.view(shape), _per_clip_mean(X), X)


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
    n_clips, n_frames = X.shape[0], X.shape[-1]
    shift = torch.as_tensor(rng.integers(-max_shift, max_shift + 1, size=n_clips), device=X.device)
    frames = torch.arange(n_frames, device=X.device)
    source = (frames[None, :] - shift[:, None]) % n_frames  # (batch, n_frames)
    index = source.view([n_clips] + [1] * (X.dim() - 2) + [n_frames]).expand_as(X)
    return torch.gather(X, -1, index)


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
    perm = torch.as_tensor(rng.permutation(X.shape[0]), device=X.device)
    return lam * X + (1.0 - lam) * X[perm], perm, lam
