"""Batched log-mel spectrogram and MFCC computation with torch.

The functions here are the numerical core of
:class:`~sk_crnn.MelSpectrogramTransformer`. They reproduce
``librosa.feature.melspectrogram`` followed by ``librosa.power_to_db`` (and
``librosa.feature.mfcc``) clip by clip, but run the short-time Fourier transform of a
whole batch of clips at once with ``torch.fft`` on the CPU or a CUDA device.
"""

import warnings

import librosa
import numpy as np
import scipy.fft
import torch
from librosa.util.exceptions import ParameterError

from ._validation import InvalidParameterError

PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}
#: Frames transformed per FFT block (all clips of a chunk together).
FRAME_BLOCK = 256


def n_frames_for(n_samples, *, n_fft, hop_length, center):
    """Number of STFT frames librosa produces for a clip of ``n_samples`` samples.

    Parameters
    ----------
    n_samples : int
        Clip length in samples.
    n_fft, hop_length : int
        FFT size and hop between frames.
    center : bool
        Whether frames are centred (the signal is padded by ``n_fft // 2`` on both sides).

    Returns
    -------
    n_frames : int
        ``1 + n_samples // hop_length`` when centred, else
        ``1 + (n_samples - n_fft) // hop_length`` (at least 0).
    """
    if center:
        return 1 + n_samples // hop_length
    return max(0, 1 + (n_samples - n_fft) // hop_length)


def stft_window(window, *, n_fft, win_length):
    """The analysis window as librosa builds it, zero-padded to ``n_fft``.

    Returns
    -------
    window : ndarray of shape (n_fft,), float32
    """
    try:
        win = librosa.filters.get_window(window, win_length, fftbins=True)
    except (ParameterError, ValueError, TypeError) as exc:
        shown = (f"an array of shape {np.shape(window)}" if isinstance(window, np.ndarray)
                 else repr(window))
        raise InvalidParameterError(
            f"window={shown} could not be made into a window of win_length={win_length} "
            f"samples ({str(exc).rstrip('.!')}); give a name such as 'hann' or 'hamming', a "
            f"(name, parameter) tuple such as ('kaiser', 8.0), or an array of {win_length} "
            "samples.") from exc
    return librosa.util.pad_center(win, size=n_fft).astype(np.float32)


def dct_matrix(n_mfcc, n_mels):
    """Orthonormal DCT-II matrix, as ``scipy.fft.dct(..., type=2, norm="ortho")``.

    Returns
    -------
    dct : ndarray of shape (n_mfcc, n_mels), float32
        ``dct @ log_mel`` gives the first ``n_mfcc`` cepstral coefficients.
    """
    eye = np.eye(n_mels, dtype=np.float64)
    return scipy.fft.dct(eye, type=2, norm="ortho", axis=0)[:n_mfcc].astype(np.float32)


def mel_filterbank(*, sr, n_fft, n_mels, fmin, fmax, htk, norm):
    """``librosa.filters.mel`` in float32, refusing parameters that leave bands empty.

    librosa only warns ("Empty filters detected") when a mel band holds no FFT bin; such a
    band is a constant feature, so here it is an ``InvalidParameterError`` (a ``ValueError``)
    that says which parameter to change.

    Returns
    -------
    mel : ndarray of shape (n_mels, 1 + n_fft // 2), float32

    Raises
    ------
    ValueError
        When a band is empty, or librosa refuses ``norm``.
    """
    with warnings.catch_warnings():  # replaced by the clearer error below
        warnings.filterwarnings("ignore", message="Empty filters detected", category=UserWarning)
        try:
            mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                                      htk=htk, norm=norm, dtype=np.float32)
        except ParameterError as exc:
            raise InvalidParameterError(
                f"librosa.filters.mel refused norm={norm!r} ({str(exc).rstrip('.')}); use "
                "norm='slaney', a number p for unit l_p norm filters (for example 1.0 or "
                "np.inf) or None.") from exc
    empty = np.flatnonzero(~(mel > 0).any(axis=1))
    if empty.size:
        raise InvalidParameterError(_empty_bands_message(
            empty, sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk))
    return mel


def _n_empty_bands(*, sr, n_fft, n_mels, fmin, fmax, htk):
    """Mel bands whose support (the base of the triangle) holds no FFT bin."""
    edges = librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)
    bins = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    inside = (np.searchsorted(bins, edges[2:], side="left")
              - np.searchsorted(bins, edges[:-2], side="right"))
    return int((inside <= 0).sum())


def _empty_bands_message(empty, *, sr, n_fft, n_mels, fmin, fmax, htk):
    fmax = sr / 2 if fmax is None else fmax
    same = dict(sr=sr, fmin=fmin, fmax=fmax, htk=htk)
    max_mels = next((m for m in range(n_mels - 1, 0, -1)
                     if not _n_empty_bands(n_fft=n_fft, n_mels=m, **same)), None)
    min_fft = next((2 ** k for k in range(1, 23) if 2 ** k > n_fft
                    and not _n_empty_bands(n_fft=2 ** k, n_mels=n_mels, **same)), None)
    fixes = ([f"a larger n_fft (n_fft >= {min_fft})"] if min_fft else []) + (
        [f"fewer bands (n_mels <= {max_mels})"] if max_mels else [])
    fix = " or ".join(fixes + ["a wider fmin..fmax range"])
    return (
        f"{empty.size} of the n_mels={n_mels} mel bands between fmin={fmin} and fmax={fmax} Hz "
        f"would always be empty (the first is band {int(empty[0])}): with n_fft={n_fft} at "
        f"sr={sr} the FFT bins are {sr / n_fft:.4g} Hz apart, wider than those bands. "
        f"Use {fix}.")


def mel_bands(mel, *, device, group=16):
    """Split a mel filterbank into groups of filters with the FFT bins each group covers.

    Each filter is non-zero over a few bins only, so projecting every group of ``group``
    filters from its own bin range does a fraction of the dense matmul's work, with the same
    result (the skipped weights are exact zeros).

    Parameters
    ----------
    mel : ndarray of shape (n_mels, n_freq)
        The filterbank, as ``librosa.filters.mel`` returns it.
    device : torch.device
    group : int, default=16
        Filters per group.

    Returns
    -------
    bands : list of (lo, hi, first, last, weights)
        Bins ``lo:hi`` project onto filters ``first:last`` with ``weights``, a contiguous
        tensor of shape (hi - lo, last - first).
    """
    bands = []
    for first in range(0, mel.shape[0], group):
        last = min(first + group, mel.shape[0])
        nonzero = np.flatnonzero(mel[first:last].any(axis=0))
        lo, hi = (int(nonzero[0]), int(nonzero[-1]) + 1) if nonzero.size else (0, 1)
        weights = np.ascontiguousarray(mel[first:last, lo:hi].T)
        bands.append((lo, hi, first, last, torch.from_numpy(weights).to(device)))
    return bands


class MelFrontEnd(torch.nn.Module):
    """The front end of :class:`~sk_crnn.MelSpectrogramTransformer` as a torch module.

    Its buffers are the window, the mel filterbank, the DCT of MFCCs and the band statistics
    of ``normalize="band"``, so ``.to(device)`` moves it and it can be composed with a
    network into one module from waveforms to outputs (see the transformer's
    ``_frontend_module``).

    Parameters
    ----------
    sr, n_fft, hop_length, win_length, window, center, pad_mode, n_mels, fmin, fmax, power, \
htk, norm, scale, ref, amin, top_db, n_mfcc :
        As in :class:`~sk_crnn.MelSpectrogramTransformer`.
    device : torch.device, default=None
        Where the buffers are made (the CPU by default).
    n_samples : int, default=None
        :meth:`forward` zero-pads or crops its input to this many samples, at the end (the
        fitted length); ``None``: it keeps the input's length.
    band_mean, band_std : array-like of shape (n_bands,), default=None
        The band statistics of ``normalize="band"``: :meth:`forward` returns
        ``(features - band_mean) / max(band_std, 1e-8)``.
    """

    def __init__(self, *, sr, n_fft, hop_length, win_length, window, center, pad_mode, n_mels,
                 fmin, fmax, power, htk, norm, scale, ref, amin, top_db, n_mfcc, device=None,
                 n_samples=None, band_mean=None, band_std=None):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.center = center
        self.pad_mode = pad_mode
        self.power = power
        self.scale = scale
        self.ref = ref
        self.amin = amin
        self.top_db = top_db
        self.n_samples = n_samples
        self.register_buffer("window", torch.from_numpy(
            stft_window(window, n_fft=n_fft, win_length=win_length)))
        mel = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk,
                             norm=norm)
        # (n_freq, n_mels): frames are rows, so the projection is a plain matmul.
        self.register_buffer("mel_t", torch.from_numpy(np.ascontiguousarray(mel.T)))
        self.register_buffer("dct_t", None if n_mfcc is None else torch.from_numpy(
            np.ascontiguousarray(dct_matrix(n_mfcc, n_mels).T)))
        if (band_mean is None) != (band_std is None):
            raise ValueError("band_mean and band_std are given together or not at all.")
        self.register_buffer("band_mean", None if band_mean is None else torch.as_tensor(
            np.asarray(band_mean), dtype=torch.float32))
        self.register_buffer("band_scale", None if band_std is None else 1.0 / torch.clamp(
            torch.as_tensor(np.asarray(band_std), dtype=torch.float32), min=1e-8))
        self._groups = {}  # (device, dtype) -> the filterbank groups (mel_bands), made on use
        if device is not None:
            self.to(device)

    @property
    def device(self):
        """torch.device: Where the buffers are."""
        return self.window.device

    def _constants(self, dtype):
        """The window, the filterbank groups and the DCT in ``dtype`` (float32 or float64),
        on the buffers' device."""
        key = (self.device, dtype)
        if key not in self._groups:
            mel = self.mel_t.T.cpu().numpy()
            self._groups[key] = [(lo, hi, a, b, w.to(dtype)) for lo, hi, a, b, w
                                 in mel_bands(mel, device=self.device)]
        dct_t = None if self.dct_t is None else self.dct_t.to(dtype)
        return self.window.to(dtype), self._groups[key], dct_t

    def n_frames(self, n_samples):
        """Frames produced for clips of ``n_samples`` samples."""
        return n_frames_for(n_samples, n_fft=self.n_fft, hop_length=self.hop_length,
                            center=self.center)

    def forward(self, x):
        """Features of a batch of waveforms, as the transformer's ``transform`` gives them.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_samples), float32, on :attr:`device`
            Mono waveforms; zero-padded or cropped at the end to ``self.n_samples`` when set.

        Returns
        -------
        features : torch.Tensor of shape (batch, n_bands, n_frames)
            Log-mel spectrograms or MFCCs, normalised per band when the statistics are set.
        """
        if self.n_samples is not None:
            x = fit_length(x, self.n_samples)
        return self.normalized(self.features(x)).transpose(1, 2)

    def export_features(self, x, *, keep_length=False, stft="conv"):
        """:meth:`forward` with operators an ONNX graph has, for tracing (export only).

        :meth:`forward` loops over frame blocks in Python (fast in eager mode), which a trace
        would freeze to the example's length; this computes the same features in whole-tensor
        operations, every axis dynamic (see ``sk_crnn._onnx_graph``).

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_samples), float32
        keep_length : bool, default=False
            Keep the input's length instead of padding or cropping it to ``n_samples``.
        stft : {"conv", "fft"}, default="conv"
            A strided convolution with DFT kernels, or a two-stage DFT of three matrix
            products (``n_fft`` with a divisor of at least 4; see
            ``sk_crnn._onnx_graph.stft_kind``).

        Returns
        -------
        features : torch.Tensor of shape (batch, n_bands, n_frames)

        Raises
        ------
        ValueError
            For a callable ``ref`` other than ``np.max``.
        """
        from ._onnx_graph import frontend_features

        return frontend_features(self, x, keep_length=keep_length, stft=stft)

    def normalized(self, feats):
        """``feats`` of shape (batch, n_frames, n_bands) with the band normalisation applied
        (unchanged without band statistics)."""
        if self.band_mean is None:
            return feats
        return (feats - self.band_mean) * self.band_scale

    def features(self, x, out=None):
        """Features of a batch of equal-length clips, frames first.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_samples), float32 or float64, on ``self.device``
            float64 (as librosa computes float64 audio) is for audio so loud that its powers
            overflow float32.
        out : torch.Tensor of shape (batch, n_frames, n_mels), same dtype as x, optional
            Where to write the mel spectrogram (it may be a strided view, such as the
            transpose of the caller's output array); without MFCCs the result is ``out``.

        Returns
        -------
        features : torch.Tensor of shape (batch, n_frames, n_bands)
            ``n_bands`` is ``n_mels``, or ``n_mfcc`` when MFCCs are asked for. Frames come
            first; the caller transposes while copying into its output. No band
            normalisation (:meth:`normalized`).
        """
        batch, n_samples = x.shape
        window, bands, dct_t = self._constants(x.dtype)
        n_frames = self.n_frames(n_samples)
        mel = out if out is not None else torch.empty(
            (batch, n_frames, self.mel_t.shape[1]), dtype=x.dtype, device=x.device)
        # The FFT runs over blocks of about FRAME_BLOCK frames, each cut from the signal with
        # its own edge padding: the temporaries stay in cache (much faster than one pass over
        # the whole chunk), and long clips need no padded copy, so memory beyond the input and
        # output is one block, whatever the clip length.
        step = max(1, FRAME_BLOCK // batch)
        hop = self.hop_length
        for start in range(0, n_frames, step):
            stop = min(start + step, n_frames)
            segment = self._padded_segment(x, start * hop, (stop - 1) * hop + self.n_fft)
            frames = segment.unfold(-1, self.n_fft, hop)  # (batch, stop - start, n_fft) view
            spec = torch.fft.rfft(frames * window, dim=-1)
            parts = torch.view_as_real(spec)  # (batch, frames, n_freq, 2), shares memory
            parts.square_()
            power = parts[..., 0] + parts[..., 1]  # |X|^2
            if self.power != 2.0:
                power.pow_(self.power / 2.0)
            for lo, hi, first, last, weights in bands:
                mel[:, start:stop, first:last] = torch.matmul(power[..., lo:hi], weights)
        mel = self._scale(mel)
        if dct_t is not None:
            mel = torch.matmul(mel, dct_t)
        return mel

    def _padded_segment(self, x, a, b):
        """Samples ``a:b`` of the centre-padded signal, padding only where the slice needs it.

        Equals ``pad(x, (n_fft // 2, n_fft // 2), mode)[:, a:b]`` without building the padded
        copy of the whole signal.
        """
        pad = self.n_fft // 2 if self.center else 0
        n = x.shape[-1]
        lo, hi = a - pad, b - pad  # in the coordinates of x
        core = x[:, max(lo, 0):min(hi, n)]
        left, right = max(0, -lo), max(0, hi - n)
        if not (left or right):
            return core
        mode = self.pad_mode
        if mode == "constant":
            return torch.nn.functional.pad(core, (left, right))
        parts = []
        if left:
            parts.append(x[:, 1:left + 1].flip(-1) if mode == "reflect"
                         else x[:, :1].expand(-1, left))
        parts.append(core)
        if right:
            parts.append(x[:, n - 1 - right:n - 1].flip(-1) if mode == "reflect"
                         else x[:, -1:].expand(-1, right))
        return torch.cat(parts, dim=-1)

    def _scale(self, mel):
        """Log or dB scaling of the mel powers, in place (``mel`` is not used afterwards)."""
        if self.scale is None:
            return mel
        if self.scale == "log":
            return mel.add_(self.amin).log_()
        # "db": librosa.power_to_db applied to each clip on its own.
        ref_db = None
        if callable(self.ref):
            if self.ref is np.max:
                ref = mel.amax(dim=(1, 2))
            else:
                ref = torch.as_tensor(
                    [float(self.ref(m)) for m in mel.cpu().numpy()],
                    dtype=mel.dtype, device=mel.device)
            ref_db = 10.0 * torch.log10(torch.clamp(ref.abs(), min=self.amin))
        db = mel.clamp_(min=self.amin).log10_().mul_(10.0)
        if ref_db is not None:
            db.sub_(ref_db[:, None, None])
        else:
            offset = 10.0 * np.log10(max(self.amin, abs(float(self.ref))))
            if offset != 0.0:
                db.sub_(offset)
        if self.top_db is not None:
            floor = db.amax(dim=(1, 2)) - self.top_db
            torch.maximum(db, floor[:, None, None], out=db)
        return db


def fit_length(x, n_samples):
    """``x`` of shape (batch, samples) zero-padded or cropped at the end to ``n_samples``."""
    if x.shape[-1] >= n_samples:
        return x[..., :n_samples]
    return torch.nn.functional.pad(x, (0, n_samples - x.shape[-1]))


__all__ = ["MelFrontEnd", "dct_matrix", "mel_filterbank", "n_frames_for", "stft_window"]
