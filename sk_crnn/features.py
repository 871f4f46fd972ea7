"""Batched log-mel spectrogram and MFCC computation with torch.

The functions here are the numerical core of
:class:`~sk_crnn.MelSpectrogramTransformer`. They reproduce
``librosa.feature.melspectrogram`` followed by ``librosa.power_to_db`` (and
``librosa.feature.mfcc``) clip by clip, but run the short-time Fourier transform of a
whole batch of clips at once with ``torch.fft`` on the CPU or a CUDA device.
"""

import librosa
import numpy as np
import scipy.fft
import torch

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
    win = librosa.filters.get_window(window, win_length, fftbins=True)
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


class MelPlan:
    """Precomputed constants for one parameter set, kept on one device.

    Parameters
    ----------
    sr, n_fft, hop_length, win_length, window, center, pad_mode, n_mels, fmin, fmax, power,
    htk, norm, scale, ref, amin, top_db, n_mfcc :
        As in :class:`~sk_crnn.MelSpectrogramTransformer`.
    device : torch.device
        Where the computation runs.
    """

    def __init__(self, *, sr, n_fft, hop_length, win_length, window, center, pad_mode, n_mels,
                 fmin, fmax, power, htk, norm, scale, ref, amin, top_db, n_mfcc, device):
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.center = center
        self.pad_mode = pad_mode
        self.power = power
        self.scale = scale
        self.ref = ref
        self.amin = amin
        self.top_db = top_db
        self.device = device
        self.window = torch.from_numpy(
            stft_window(window, n_fft=n_fft, win_length=win_length)).to(device)
        mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                                  htk=htk, norm=norm, dtype=np.float32)
        # (n_freq, n_mels): frames are rows, so the projection is a plain matmul.
        self.mel_t = torch.from_numpy(np.ascontiguousarray(mel.T)).to(device)
        self.dct_t = None
        if n_mfcc is not None:
            self.dct_t = torch.from_numpy(
                np.ascontiguousarray(dct_matrix(n_mfcc, n_mels).T)).to(device)

    def n_frames(self, n_samples):
        """Frames produced for clips of ``n_samples`` samples."""
        return n_frames_for(n_samples, n_fft=self.n_fft, hop_length=self.hop_length,
                            center=self.center)

    def __call__(self, x):
        """Features of a batch of equal-length clips.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_samples), float32, on ``self.device``

        Returns
        -------
        features : torch.Tensor of shape (batch, n_frames, n_bands)
            ``n_bands`` is ``n_mels``, or ``n_mfcc`` when MFCCs are asked for. Frames come
            first; the caller transposes while copying into its output.
        """
        if self.center:
            pad = self.n_fft // 2
            mode = PAD_MODES[self.pad_mode]
            if mode == "constant":
                x = torch.nn.functional.pad(x, (pad, pad))
            else:
                x = torch.nn.functional.pad(x[:, None, :], (pad, pad), mode=mode)[:, 0]
        frames = x.unfold(-1, self.n_fft, self.hop_length)  # (batch, n_frames, n_fft) view
        batch, n_frames = frames.shape[:2]
        mel = torch.empty((batch, n_frames, self.mel_t.shape[1]), dtype=x.dtype, device=x.device)
        # The FFT runs over blocks of about FRAME_BLOCK frames: the temporaries stay in cache,
        # which is much faster than one pass over the whole chunk and bounds memory for long
        # clips to the block, whatever their length.
        step = max(1, FRAME_BLOCK // batch)
        for start in range(0, n_frames, step):
            spec = torch.fft.rfft(frames[:, start:start + step] * self.window, dim=-1)
            parts = torch.view_as_real(spec)  # (batch, step, n_freq, 2), shares memory
            parts.square_()
            power = parts[..., 0] + parts[..., 1]  # |X|^2
            if self.power != 2.0:
                power.pow_(self.power / 2.0)
            mel[:, start:start + step] = torch.matmul(power, self.mel_t)
        mel = self._scale(mel)
        if self.dct_t is not None:
            mel = torch.matmul(mel, self.dct_t)
        return mel

    def _scale(self, mel):
        if self.scale is None:
            return mel
        if self.scale == "log":
            return torch.log(mel + self.amin)
        # "db": librosa.power_to_db applied to each clip on its own.
        db = torch.clamp(mel, min=self.amin).log10_().mul_(10.0)
        if callable(self.ref):
            if self.ref is np.max:
                ref = torch.amax(mel.flatten(1), dim=1)
            else:
                ref = torch.as_tensor(
                    [float(self.ref(m)) for m in mel.cpu().numpy()],
                    dtype=mel.dtype, device=mel.device)
            ref_db = 10.0 * torch.log10(torch.clamp(ref.abs(), min=self.amin))
            db.sub_(ref_db[:, None, None])
        else:
            ref_db = 10.0 * np.log10(max(self.amin, abs(float(self.ref))))
            if ref_db != 0.0:
                db.sub_(ref_db)
        if self.top_db is not None:
            floor = torch.amax(db.flatten(1), dim=1) - self.top_db
            db = torch.maximum(db, floor[:, None, None])
        return db
