"""scikit-learn transformers from raw waveforms to spectrogram features."""

import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from skorch.exceptions import DeviceWarning
from tqdm.auto import tqdm

from ._frontend_params import PARAMETERS
from ._gpu_features import compute_batched, runs_batched
from ._inputs import PEAK_LIMIT, check_waveforms
from ._validation import (
    Interval,
    InvalidParameterError,
    Rule,
    check_device,
    check_param,
    validate_params,
)
from .features import MelFrontEnd


class MelSpectrogramTransformer(TransformerMixin, BaseEstimator):
    """Turn raw waveforms into log-mel spectrograms (or MFCCs), batched with torch.

    The values equal ``librosa.feature.melspectrogram`` followed by ``librosa.power_to_db``
    (or ``librosa.feature.mfcc``) applied clip by clip with the same parameters, up to
    float32 rounding, but the short-time Fourier transform of many clips runs at once on the
    CPU threads or a CUDA device. ``fit`` fixes the number of frames, so every later call of
    ``transform`` returns the same shape: clips are zero-padded or cropped at the end.

    Parameters
    ----------
    sr : float, default=22050
        Sample rate of the waveforms, in Hz.
    n_fft : int, default=2048
        FFT size in samples (at least 2); every mel band must hold an FFT bin, which ``fit``
        checks.
    hop_length : int, default=512
        Samples between successive frames.
    win_length : int, default=None
        Window length (``<= n_fft``); ``None`` means ``n_fft``.
    window : str, tuple or float, default="hann"
        Window specification, as in ``librosa.filters.get_window``.
    center : bool, default=True
        Pad the signal by ``n_fft // 2`` on both sides so that frame ``t`` is centred at
        ``t * hop_length``.
    pad_mode : {"constant", "reflect", "edge"}, default="constant"
        Padding used when ``center=True``. librosa's other ``np.pad`` modes ("wrap",
        "symmetric", ...) are not supported.
    n_mels : int, default=128
        Number of mel bands.
    fmin : float, default=0.0
        Lowest frequency of the filterbank, in Hz.
    fmax : float, default=None
        Highest frequency, in Hz, at most ``sr / 2``; ``None`` means ``sr / 2``.
    power : float, default=2.0
        Exponent of the magnitude: 2 for power, 1 for energy.
    htk : bool, default=False
        Use the HTK mel formula instead of Slaney's.
    norm : {"slaney"}, float or None, default="slaney"
        Filterbank normalisation, as in ``librosa.filters.mel``.
    scale : {"db", "log"} or None, default="db"
        ``"db"``: ``librosa.power_to_db`` with ``ref``, ``amin`` and ``top_db`` (computed per
        clip); ``"log"``: ``log(S + amin)``; ``None``: the linear mel spectrogram.
    ref : float or callable, default=1.0
        Reference for ``"db"``; a callable such as ``np.max`` is applied to each clip.
    amin : float, default=1e-10
        Floor of the magnitude for ``"db"``; the offset inside the logarithm for ``"log"``.
    top_db : float or None, default=80.0
        For ``"db"``: clip values more than ``top_db`` below each clip's peak.
    n_mfcc : int, default=None
        When set, output this many MFCCs (orthonormal DCT-II of the log-mel bands, as
        ``librosa.feature.mfcc``) instead of the mel bands. Needs ``scale="db"`` or ``"log"``.
    duration : float, default=None
        Clip length in seconds that every clip is padded or cropped to. ``None``: ``fit``
        takes the length of the longest training clip.
    normalize : {"band"} or None, default=None
        ``"band"``: standardise each band with the mean and standard deviation learned in
        ``fit``, over the clips and their frames; the padding of clips shorter than the
        fitted length (a list of clips of different lengths) is left out of the statistics.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. The output is always a numpy array. A fitted
        transformer loaded (or set to CUDA) on a machine without CUDA computes on the CPU,
        with a ``skorch.exceptions.DeviceWarning``, as the skorch network does; ``fit`` with a
        CUDA device there is a ``ValueError``.
    batch_size : int, default=64
        Clips transformed per chunk on the CPU; bounds the temporary memory. On a CUDA
        device the chunk is sized from the clip length and the free device memory instead.
    dtype : {"float32", "float64", "float16"}, default="float32"
        Data type of the output.
    progress_bar : bool, default=False
        Show a tqdm progress bar over the chunks of ``transform``.

    Attributes
    ----------
    n_samples_ : int
        Length, in samples, every clip is padded or cropped to.
    n_frames_ : int
        Number of frames of the output.
    n_bands_ : int
        ``n_mels``, or ``n_mfcc`` when set.
    band_mean_, band_std_ : ndarray of shape (n_bands,)
        Band statistics; only with ``normalize="band"``.

    See Also
    --------
    librosa.feature.melspectrogram : The per-clip reference implementation.

    Notes
    -----
    ``top_db`` and a callable ``ref`` act on each clip separately, as when librosa is called on
    one clip at a time; calling librosa on a whole batch instead uses the batch maximum.

    Features are computed in float32. A clip so loud that its float32 powers overflow
    (samples of about 1e16 and more, far beyond the [-1, 1] of float audio) is computed in
    float64, as librosa computes float64 audio; samples beyond the float32 range, or features
    that do not fit ``dtype`` (the linear ``scale=None`` of such audio), are a ``ValueError``
    naming the clip.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn import MelSpectrogramTransformer
    >>> X = np.random.default_rng(0).uniform(-0.1, 0.1, size=(4, 16000)).astype(np.float32)
    >>> mel = MelSpectrogramTransformer(sr=16000, n_mels=40, hop_length=256).fit(X)
    >>> mel.transform(X).shape
    (4, 40, 63)
    """

    def __init__(self, *, sr=22050, n_fft=2048, hop_length=512, win_length=None, window="hann",
                 center=True, pad_mode="constant", n_mels=128, fmin=0.0, fmax=None, power=2.0,
                 htk=False, norm="slaney", scale="db", ref=1.0, amin=1e-10, top_db=80.0,
                 n_mfcc=None, duration=None, normalize=None, device="cpu", batch_size=64,
                 dtype="float32", progress_bar=False):
        self.sr = sr
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.window = window
        self.center = center
        self.pad_mode = pad_mode
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.power = power
        self.htk = htk
        self.norm = norm
        self.scale = scale
        self.ref = ref
        self.amin = amin
        self.top_db = top_db
        self.n_mfcc = n_mfcc
        self.duration = duration
        self.normalize = normalize
        self.device = device
        self.batch_size = batch_size
        self.dtype = dtype
        self.progress_bar = progress_bar

    # -- parameters -------------------------------------------------------------------------
    def _validate_params(self, fitted=False):
        """Check the parameter table and the cross-parameter rules; return the device to
        compute on (``fitted``: fall back from a missing CUDA device to the CPU with a
        warning)."""
        validate_params(self, PARAMETERS)
        if fitted and _cuda_missing(self.device):
            warnings.warn(
                f"device={self.device!r} was set but CUDA is not available on this machine "
                "(torch.cuda.is_available() is False); the features are computed on the CPU "
                "(the same values). Set device='cpu' to silence this warning.",
                DeviceWarning, stacklevel=3)
            return torch.device("cpu")
        return check_param(self.device, "device", Rule(check_device))

    def _check_relations(self, params):
        """The cross-parameter rules, called by ``validate_params`` after the table."""
        check_param(self.win_length, "win_length", [Interval("int", 1, self.n_fft), None])
        check_param(self.n_mfcc, "n_mfcc", [Interval("int", 1, self.n_mels), None])
        sr, fmax = self.sr, self.fmax
        if fmax is not None and fmax > sr / 2:
            raise InvalidParameterError(
                f"fmax={fmax} is above the Nyquist frequency sr / 2 = {sr / 2} Hz "
                f"(sr={sr}): the FFT has no bins above sr / 2, so the top mel bands would "
                f"be empty. Set fmax <= {sr / 2} (or fmax=None for sr / 2), or set sr to "
                "the sample rate of your audio.")
        fmax = sr / 2 if fmax is None else fmax
        if self.fmin >= fmax:
            raise InvalidParameterError(f"fmin={self.fmin} must be below fmax={fmax} (fmax "
                                        "defaults to sr / 2); lower fmin or raise fmax.")
        if self.n_mfcc is not None and self.scale is None:
            raise InvalidParameterError("n_mfcc needs a logarithmic scale; set scale='db' (as "
                                        "librosa.feature.mfcc) or 'log', or set n_mfcc=None.")
        if self.duration is not None and round(self.duration * sr) < 1:
            raise InvalidParameterError(
                f"duration={self.duration} s is less than one sample at sr={sr}; give the "
                "clip length in seconds (for example duration=1.0), or None for the longest "
                "training clip.")
        if not self.center and self.duration is not None:
            n = int(round(self.duration * sr))
            if n < self.n_fft:
                raise InvalidParameterError(
                    f"duration={self.duration} s is {n} samples, shorter than n_fft="
                    f"{self.n_fft} with center=False; give a longer duration, a smaller n_fft "
                    "or center=True.")

    def _plan(self, device, fitted=None):
        """The front end on ``device``; ``fitted=True`` adds the fitted length and the band
        statistics (``fitted=None``: those that are set)."""
        win_length = self.n_fft if self.win_length is None else self.win_length
        fitted = {} if fitted is False else {
            "n_samples": getattr(self, "n_samples_", None),
            "band_mean": getattr(self, "band_mean_", None) if self.normalize else None,
            "band_std": getattr(self, "band_std_", None) if self.normalize else None}
        return MelFrontEnd(sr=self.sr, n_fft=self.n_fft, hop_length=self.hop_length,
                           win_length=win_length, window=self.window, center=self.center,
                           pad_mode=self.pad_mode, n_mels=self.n_mels, fmin=self.fmin,
                           fmax=self.fmax, power=float(self.power), htk=self.htk,
                           norm=self.norm, scale=self.scale, ref=self.ref, amin=self.amin,
                           top_db=self.top_db, n_mfcc=self.n_mfcc, device=device, **fitted)

    def _frontend_module(self, device="cpu"):
        """The fitted front end as a torch module: waveforms (batch, n_samples) to the
        features ``transform`` gives (batch, n_bands_, n_frames_), float32.

        Parameters
        ----------
        device : str or torch.device, default="cpu"

        Returns
        -------
        module : sk_crnn.features.MelFrontEnd
            In evaluation mode; its buffers hold the window, the filterbank, the DCT and the
            band statistics, and it pads or crops to ``n_samples_`` as ``transform`` does.
        """
        check_is_fitted(self, "n_frames_")
        self._validate_params(fitted=True)
        return self._plan(torch.device(device), fitted=True).eval()

    # -- scikit-learn API -------------------------------------------------------------------
    def fit(self, X, y=None):
        """Fix the output length (and the band statistics) from training waveforms.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples) or list of 1-D arrays
            Mono float waveforms at ``sr`` Hz; clips of a list may differ in length.
        y : ignored
            Present for the Pipeline API.

        Returns
        -------
        self : MelSpectrogramTransformer
        """
        device = self._validate_params()
        X = check_waveforms(X)
        if self.duration is not None:
            n_samples = int(round(self.duration * self.sr))
        else:
            n_samples = X.shape[1] if isinstance(X, np.ndarray) else max(len(c) for c in X)
        plan = self._plan(device, fitted=False)
        n_frames = plan.n_frames(n_samples)
        if n_frames < 1:
            raise ValueError(f"The clips are {n_samples} samples long, shorter than "
                             f"n_fft={self.n_fft} with center=False, so they give no frame; "
                             "use center=True, a smaller n_fft or longer clips.")
        if self.pad_mode == "reflect" and self.center and n_samples <= self.n_fft // 2:
            raise ValueError(f"pad_mode='reflect' needs clips longer than n_fft // 2 = "
                             f"{self.n_fft // 2} samples; got {n_samples}. Use "
                             "pad_mode='constant' or a smaller n_fft.")
        self.n_samples_ = n_samples
        self.n_frames_ = n_frames
        self.n_bands_ = self.n_mels if self.n_mfcc is None else self.n_mfcc
        if self.normalize == "band":
            feats = self._compute(X, plan, np.float32, normalize=False)
            self.band_mean_, self.band_std_ = _band_statistics(
                feats, [plan.n_frames(len(clip)) for clip in X])
        elif hasattr(self, "band_mean_"):
            del self.band_mean_, self.band_std_
        return self

    def transform(self, X):
        """Compute the features of waveforms.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples) or list of 1-D arrays
            Mono float waveforms at ``sr`` Hz, of any lengths: each is zero-padded or cropped
            at the end to ``n_samples_``.

        Returns
        -------
        features : ndarray of shape (n_clips, n_bands, n_frames)
            Log-mel spectrograms (or MFCCs), in ``dtype``; ``n_bands`` is ``n_bands_`` and
            ``n_frames`` is ``n_frames_``.
        """
        check_is_fitted(self, "n_frames_")
        device = self._validate_params(fitted=True)
        plan = self._plan(device, fitted=True)
        n_bands = self.n_mels if self.n_mfcc is None else self.n_mfcc
        if (n_bands, plan.n_frames(self.n_samples_)) != (self.n_bands_, self.n_frames_):
            raise ValueError(
                "The parameters changed after fit: they now give (n_bands, n_frames)="
                f"{(n_bands, plan.n_frames(self.n_samples_))} instead of the fitted "
                f"{(self.n_bands_, self.n_frames_)}; call fit again after set_params."
            )
        if self.normalize == "band" and not hasattr(self, "band_mean_"):
            raise ValueError(
                "normalize='band' was set after fit, which learned no band statistics; call "
                "fit again after set_params."
            )
        X = check_waveforms(X)
        lengths = (np.full(X.shape[0], X.shape[1]) if isinstance(X, np.ndarray)
                   else np.array([len(c) for c in X]))
        cropped = lengths > 1.5 * self.n_samples_
        if cropped.any():
            seconds = self.n_samples_ / self.sr
            warnings.warn(
                f"{int(cropped.sum())} of {len(lengths)} clip(s) are longer than the "
                f"{seconds:.2f} s the transformer was fitted on (the longest "
                f"{lengths.max() / self.sr:.2f} s) and are cropped to their first "
                f"{seconds:.2f} s; predict long recordings over windows with sk_crnn.windows "
                "(predict_proba_long, detect_events_long).", UserWarning, stacklevel=2)
        return self._compute(X, plan, np.dtype(self.dtype))

    def _compute(self, X, plan, dtype, normalize=True):
        """Features of ``X`` in ``dtype``; ``normalize=False`` skips the band statistics
        (``fit`` learns them from unnormalised features, also when refitting)."""
        n_clips = X.shape[0] if isinstance(X, np.ndarray) else len(X)
        out = np.empty((n_clips, self.n_bands_, self.n_frames_), dtype=dtype)
        if runs_batched(plan.device):  # CUDA: whole-chunk kernels, overlapped copies
            return compute_batched(self, X, out, plan, normalize)
        n = self.n_samples_
        fixed = isinstance(X, np.ndarray) and X.shape[1] == n
        normalize = normalize and plan.band_mean is not None
        in_place = (dtype == np.float32 and plan.device.type == "cpu" and plan.dct_t is None
                    and not normalize)
        starts = range(0, n_clips, self.batch_size)
        if self.progress_bar:
            starts = tqdm(starts, desc="features", unit="chunk", leave=False)
        with torch.inference_mode():
            for start in starts:
                stop = min(start + self.batch_size, n_clips)
                if fixed:
                    chunk = np.ascontiguousarray(X[start:stop], dtype=np.float32)
                else:
                    chunk = np.zeros((stop - start, n), dtype=np.float32)
                    for row, clip in enumerate(X[start:stop]):
                        m = min(n, clip.shape[0])
                        chunk[row, :m] = clip[:m]
                x = torch.from_numpy(chunk).to(plan.device)
                _write_features(out[start:stop], plan, x, normalize, in_place)
                # NaN or Inf propagate into the sum (float64: no overflow of its own).
                if not np.isfinite(out[start:stop].sum(dtype=np.float64)):
                    self._recompute_overflowing(out[start:stop], plan, x, chunk, start,
                                                normalize)
        return out

    def _recompute_overflowing(self, out, plan, x, chunk, first, normalize):
        """Recompute in float64 the clips of a chunk whose features are not finite.

        Audio far beyond full scale (samples of 1e16 and more) overflows the float32 powers;
        librosa computes float64 audio in float64, and so are these clips (only these: the
        other clips of the chunk keep their float32 values, whatever the batch).
        """
        rows = np.flatnonzero(~np.isfinite(out.reshape(len(out), -1)).all(axis=1))
        redone = np.empty((rows.size, *out.shape[1:]), dtype=out.dtype)
        _write_features(redone, plan, x[torch.from_numpy(rows).to(x.device)].double(), normalize,
                        in_place=False)
        _check_finite_features(redone, chunk[rows], first + rows, self)
        out[rows] = redone

    def __setstate__(self, state):
        # As skorch does for the network: a transformer fitted with a CUDA device and loaded
        # on a machine without one computes on the CPU.
        if _cuda_missing(state.get("device")):
            warnings.warn(
                f"This MelSpectrogramTransformer was saved with device={state['device']!r} but "
                "CUDA is not available on this machine (torch.cuda.is_available() is False); "
                "it computes on the CPU instead (device='cpu'), with the same features.",
                DeviceWarning, stacklevel=2)
            state = {**state, "device": "cpu"}
        super().__setstate__(state)

    def set_output(self, *, transform=None):
        """Set the output container of ``transform``: arrays only, as the features are 3-D.

        Parameters
        ----------
        transform : {"default"} or None, default=None
            ``"default"``: arrays; ``None``: unchanged. ``"pandas"`` and ``"polars"`` raise a
            ValueError: in a Pipeline, set the output of the CRNN after the transformer.

        Returns
        -------
        self : MelSpectrogramTransformer
        """
        if transform not in (None, "default"):
            raise ValueError(
                f"MelSpectrogramTransformer cannot output transform={transform!r}: its features "
                "are 3-D (n_clips, n_bands, n_frames), which a DataFrame cannot hold. In a "
                "Pipeline, set the output of the step after it instead, for example "
                "pipe[-1].set_output(transform='pandas') for a CRNN's embeddings.")
        if transform is not None:
            self._sklearn_output_config = {"transform": transform}
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = []
        return tags


def _write_features(out, plan, x, normalize, in_place):
    """Compute the features of the clips ``x`` into ``out`` (n_clips, n_bands, n_frames), a
    slice of the output array; ``normalize``: with the front end's band normalisation."""
    if in_place:  # write straight into the output: no second output-sized buffer
        plan.features(x, out=torch.from_numpy(out).transpose(1, 2))
        return
    feats = plan.features(x)
    if normalize:
        feats = plan.normalized(feats)
    feats = feats.transpose(1, 2)
    if plan.device.type != "cpu" and feats.dtype != _TORCH_DTYPES[out.dtype.name]:
        feats = feats.to(_TORCH_DTYPES[out.dtype.name])  # cast on the device: a smaller copy
    # On the CPU numpy casts while copying, without a converted copy of the chunk. An overflow
    # of the cast (float16) is reported by the caller, naming the clip.
    with np.errstate(over="ignore", invalid="ignore"):
        out[...] = feats.cpu().numpy()


def _check_finite_features(out, chunk, clips, mel):
    """Raise a ValueError naming the first clip whose features are not finite; ``clips`` are
    the indices of the rows of ``out`` (and ``chunk``)."""
    finite = np.isfinite(out.reshape(len(out), -1)).all(axis=1)
    if finite.all():
        return
    row = int(np.flatnonzero(~finite)[0])
    peak = float(np.abs(chunk[row]).max())
    fixes = (["use scale='db'"] if mel.scale is None else []) + (
        ["use dtype='float32'"] if out.dtype == np.float16 else [])
    if peak > PEAK_LIMIT:
        fixes.insert(0, "scale your audio to [-1, 1] (for example clip / np.abs(clip).max(); "
                        "integer PCM stored as floats: divide it by 32768 for int16)")
        why = (f"its samples reach {peak:.6g}, far outside the [-1, 1] range of float audio, "
               f"and its features overflow {out.dtype}")
    else:
        fixes.append("check ref (a callable ref must give a finite positive number per clip)")
        why = f"its samples reach {peak:.6g}"
    raise ValueError(f"The features of clip {int(clips[row])} are not finite (NaN or infinite "
                     f"in {out.dtype}): {why}. To fix it, {', or '.join(fixes)}.")


def _band_statistics(feats, n_frames):
    """Mean and std of each band over the frames of each clip's own length.

    The zero padding of clips shorter than the fitted length (ragged lists) is left out: it
    is the dB floor, far from any sound, and would pull the mean down and swell the std, so
    that the standardised sound of the clips would not be standardised.

    Parameters
    ----------
    feats : ndarray of shape (n_clips, n_bands, n_frames)
    n_frames : sequence of int, one per clip
        Frames of each clip before padding (capped at the fitted length).

    Returns
    -------
    mean, std : ndarray of shape (n_bands,), float64
    """
    total = feats.shape[-1]
    n_frames = np.minimum(np.asarray(n_frames, dtype=np.int64), total)
    if (n_frames >= total).all():  # equal lengths: every frame is the clips' own
        return (feats.mean(axis=(0, 2), dtype=np.float64),
                feats.std(axis=(0, 2), dtype=np.float64))
    n_frames = np.maximum(n_frames, 1)
    count = float(n_frames.sum())
    mean = sum(f[:, :k].sum(axis=1, dtype=np.float64) for f, k in zip(feats, n_frames)) / count
    var = sum(np.square(f[:, :k] - mean[:, None]).sum(axis=1)
              for f, k in zip(feats, n_frames)) / count
    return mean, np.sqrt(var)


_TORCH_DTYPES = {"float16": torch.float16, "float64": torch.float64, "float32": torch.float32}


def _cuda_missing(device):
    """Whether ``device`` names a CUDA device on a machine without CUDA."""
    try:
        return torch.device(device).type == "cuda" and not torch.cuda.is_available()
    except (RuntimeError, TypeError, ValueError):
        return False


__all__ = ["MelSpectrogramTransformer"]
