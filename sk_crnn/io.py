"""Reading audio files into waveforms: :func:`load_audio` and the :class:`AudioLoader` step."""

import os
import sys
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin

from ._inputs import PEAK_LIMIT
from ._validation import check_options, check_scalar

# Suffixes that libsndfile decodes itself; anything else falls back to librosa.load (audioread).
_SOUNDFILE_SUFFIXES = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".w64",
     ".rf64", ".caf"}
)
_PROGRESS_MIN_FILES = 100


def load_audio(paths, *, sr=22050, mono=True, offset=0.0, duration=None, n_jobs=None,
               on_error="raise", progress_bar=None, return_skipped=False):
    """Read audio files into float32 waveforms, resampled to one rate.

    Files are decoded with ``soundfile`` (wav, flac, ogg/vorbis, mp3 and the other formats of
    libsndfile); other formats fall back to ``librosa.load``. Multichannel audio is down-mixed
    to mono by averaging the channels, then resampled with ``librosa.resample``
    (``res_type="soxr_hq"``).

    Parameters
    ----------
    paths : str, path-like or sequence of them
        One file or a list, tuple or 1-D array of files. A single path gives a list of one.
    sr : float or None, default=22050
        Target sample rate in Hz; ``None`` keeps each file's native rate.
    mono : bool, default=True
        Average the channels into one. ``False`` keeps them: each waveform is then 2-D,
        ``(n_channels, n_samples)``, also for a mono file.
    offset : float, default=0.0
        Start reading this many seconds into each file.
    duration : float or None, default=None
        Read at most this many seconds; ``None`` reads to the end.
    n_jobs : int or None, default=None
        Files decoded in parallel (threads, through ``joblib.Parallel``); ``None`` means 1,
        ``-1`` all cores.
    on_error : {"raise", "skip"}, default="raise"
        What to do with a missing, unreadable or empty file, or one holding NaN or infinite
        samples: ``"raise"`` a ``ValueError`` naming it, or ``"skip"`` it with a warning that
        names it (see ``return_skipped``).
    progress_bar : bool or None, default=None
        Show a tqdm progress bar. ``None`` shows one for 100 files or more when stderr is a
        terminal.
    return_skipped : bool, default=False
        Also return the paths skipped with ``on_error="skip"``, so that the waveforms can be
        matched with labels again.

    Returns
    -------
    waveforms : list of ndarray
        Float32 arrays of shape ``(n_samples,)`` (``mono=True``) or
        ``(n_channels, n_samples)`` (``mono=False``), one per file read, in input order.
    skipped : list of str
        Only with ``return_skipped=True``: the paths that were skipped, in input order.

    Raises
    ------
    ValueError
        With ``on_error="raise"``, for the first file that is missing, cannot be decoded,
        holds no samples (after ``offset``) or holds NaN or infinite samples; the message
        names the file.

    Warns
    -----
    UserWarning
        For a file whose samples reach beyond +-2 (twice full scale): float audio lies in
        [-1, 1], and such a file probably holds integer PCM values stored as floats.

    See Also
    --------
    AudioLoader : The same as a scikit-learn transformer, for the first step of a Pipeline.
    sk_crnn.datasets.load_audio_folder : Read a folder with one sub-folder per class.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> from sk_crnn.io import load_audio
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> sf.write(path, np.sin(np.arange(44100) / 10), 44100)
    >>> [w.shape for w in load_audio(path, sr=16000)]
    [(16000,)]
    """
    paths = _check_paths(paths)
    _check_load_params(sr=sr, offset=offset, duration=duration, n_jobs=n_jobs)
    check_options(on_error, "on_error", ["raise", "skip"])
    check_options(progress_bar, "progress_bar", [None, True, False])
    skip = on_error == "skip"
    if progress_bar is None:
        progress_bar = len(paths) >= _PROGRESS_MIN_FILES and _stderr_is_tty()

    jobs = (delayed(_load_checked)(p, sr, mono, offset, duration, skip) for p in paths)
    results = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(jobs)
    if progress_bar:
        from tqdm.auto import tqdm

        results = tqdm(results, total=len(paths), desc="Loading audio", unit="file")

    waveforms, skipped = [], []
    for path, (wave, error, peak) in zip(paths, results):
        if error is not None:
            skipped.append(path)
            warnings.warn(f"Skipped {error}", UserWarning, stacklevel=2)
            continue
        if peak > PEAK_LIMIT:
            warnings.warn(
                f"Audio file '{path}' has samples up to {peak:.6g}, far outside the [-1, 1] "
                "range of float audio; its log-mel features are shifted by "
                f"{20 * np.log10(peak):.0f} dB. It probably holds integer PCM stored as "
                "floats: divide it by 32768 (int16) or 2**31 (int32).",
                UserWarning, stacklevel=2)
        waveforms.append(wave)
    if return_skipped:
        return waveforms, skipped
    return waveforms


class AudioLoader(TransformerMixin, BaseEstimator):
    """Read audio files into waveforms: the first step of a Pipeline on file paths.

    ``transform`` maps a 1-D array (or list) of paths to a list of float32 waveforms with
    :func:`load_audio`, so that ``make_pipeline(AudioLoader(sr=16000),
    MelSpectrogramTransformer(sr=16000), ...)`` is an estimator on file paths that works
    with ``cross_val_score`` and ``GridSearchCV``. It learns nothing: ``fit`` only checks the
    parameters, and ``transform`` may be called without it.

    Parameters
    ----------
    sr : float or None, default=22050
        Target sample rate in Hz; ``None`` keeps each file's native rate. Set it to the
        ``sr`` of the next step.
    mono : bool, default=True
        Average the channels into one. ``False`` returns ``(n_channels, n_samples)`` arrays,
        which the spectrogram transformer does not accept.
    offset : float, default=0.0
        Start reading this many seconds into each file.
    duration : float or None, default=None
        Read at most this many seconds of each file; ``None`` reads to the end.
    n_jobs : int or None, default=None
        Files decoded in parallel threads; ``None`` means 1, ``-1`` all cores.
    progress_bar : bool or None, default=False
        Show a progress bar over the files (on stderr) while ``transform`` reads them; None
        shows one for 100 files or more when stderr is a terminal (as ``load_audio``).

    See Also
    --------
    load_audio : The function behind ``transform``.
    sk_crnn.MelSpectrogramTransformer : The usual next step.

    Notes
    -----
    A file that is missing, unreadable or empty raises a ``ValueError`` naming it: inside a
    Pipeline there is no way to drop a clip together with its label, so clean the file list
    first, for example with ``load_audio(paths, on_error="skip", return_skipped=True)``.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> from sk_crnn.io import AudioLoader
    >>> folder = tempfile.mkdtemp()
    >>> paths = [os.path.join(folder, f"{i}.wav") for i in range(3)]
    >>> for p in paths:
    ...     sf.write(p, np.zeros(8000), 8000)
    >>> [w.shape for w in AudioLoader(sr=16000).fit_transform(np.array(paths))]
    [(16000,), (16000,), (16000,)]
    """

    def __init__(self, *, sr=22050, mono=True, offset=0.0, duration=None, n_jobs=None,
                 progress_bar=False):
        self.sr = sr
        self.mono = mono
        self.offset = offset
        self.duration = duration
        self.n_jobs = n_jobs
        self.progress_bar = progress_bar

    def __setstate__(self, state):
        # Pickles of older versions: `progress` (now `progress_bar`), or neither.
        state = dict(state)
        progress = state.pop("progress", False)
        state.setdefault("progress_bar", progress)
        super().__setstate__(state)

    def _validate_params(self):
        _check_load_params(sr=self.sr, offset=self.offset, duration=self.duration,
                           n_jobs=self.n_jobs)
        check_options(self.mono, "mono", [True, False])
        check_options(self.progress_bar, "progress_bar", [None, True, False])

    def fit(self, X=None, y=None):
        """Check the parameters; nothing is learned.

        Parameters
        ----------
        X : ignored
            Present for the Pipeline API.
        y : ignored
            Present for the Pipeline API.

        Returns
        -------
        self : AudioLoader
        """
        self._validate_params()
        return self

    def transform(self, X):
        """Read the files.

        Parameters
        ----------
        X : array-like of shape (n_files,)
            Paths (str or path-like), as a 1-D array, a list, or a single-column 2-D array.

        Returns
        -------
        waveforms : list of ndarray
            One float32 waveform per file, of shape ``(n_samples,)`` (or
            ``(n_channels, n_samples)`` with ``mono=False``) at ``sr`` Hz.
        """
        self._validate_params()
        if isinstance(X, (str, os.PathLike)):
            raise TypeError(
                f"X is a single path ({str(X)!r}); AudioLoader.transform takes a sequence of "
                "paths, for example [path] or np.array(paths)."
            )
        arr = np.asarray(X, dtype=object)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(
                f"X must be a 1-D array or list of file paths; got shape {arr.shape}. "
                "Pass np.array(paths) or a list of paths."
            )
        return load_audio(list(arr), sr=self.sr, mono=self.mono, offset=self.offset,
                          duration=self.duration, n_jobs=self.n_jobs, on_error="raise",
                          progress_bar=self.progress_bar)

    def __sklearn_is_fitted__(self):
        return True  # stateless: there is nothing to fit

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags


# -- helpers -----------------------------------------------------------------------------------
def _check_paths(paths):
    """Return ``paths`` as a list of path strings or raise a ``TypeError``."""
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    if isinstance(paths, np.ndarray) and paths.ndim != 1:
        raise ValueError(f"paths must be 1-D; got an array of shape {paths.shape}. "
                         "Pass a list or 1-D array of file paths.")
    try:
        items = list(paths)
    except TypeError as exc:
        raise TypeError(f"paths must be a path or a sequence of paths; got "
                        f"{type(paths).__name__}.") from exc
    out = []
    for i, p in enumerate(items):
        if isinstance(p, np.str_):
            p = str(p)
        if not isinstance(p, (str, os.PathLike)):
            raise TypeError(f"paths[{i}] is a {type(p).__name__} ({p!r}), not a file path; "
                            "pass str or pathlib.Path items.")
        out.append(os.fspath(p))
    return out


def _check_load_params(*, sr, offset, duration, n_jobs):
    check_scalar(sr, "sr", "real", low=0, low_inclusive=False, allow_none=True)
    check_scalar(offset, "offset", "real", low=0)
    check_scalar(duration, "duration", "real", low=0, low_inclusive=False, allow_none=True)
    check_scalar(n_jobs, "n_jobs", "int", allow_none=True)
    if n_jobs == 0:
        raise ValueError("n_jobs=0 is not valid; use None or 1 for one thread, a positive "
                         "number of threads, or -1 for all cores.")


def _read_text(path, what="file"):
    """The text of a UTF-8 file (with or without the byte-order mark that Excel's "CSV UTF-8"
    writes; a UTF-16 file with its byte-order mark, Excel's "Unicode Text", is read too).

    Raises a ``ValueError`` naming the file, the line and the fix for text in another
    encoding (latin-1, cp1252: what Excel's plain "CSV" writes)."""
    import codecs

    path = Path(path)
    data = path.read_bytes()
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    try:
        return data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        guess = ("it starts with a UTF-16 byte-order mark but is cut short or damaged" if utf16
                 else "the file was probably saved as latin-1/Windows-1252, what Excel's plain "
                 "'CSV' writes")
        raise ValueError(
            f"{what} {str(path)!r} is not {'UTF-16' if utf16 else 'UTF-8'} text: line {line} "
            f"holds the byte 0x{data[exc.start]:02x}, which cannot be decoded ({guess}). Save "
            "it as UTF-8 (in Excel: 'CSV UTF-8'), or convert it, for example with iconv -f "
            f"{'utf-16' if utf16 else 'cp1252'} -t utf-8 {path.name} > utf8-{path.name}"
        ) from None


def _stderr_is_tty():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _load_checked(path, sr, mono, offset, duration, skip):
    """Return ``(waveform, None, peak)``, or ``(None, message, 0)`` when ``skip`` and the file
    fails; ``peak`` is the largest absolute sample."""
    try:
        wave = _load_one(path, sr, mono, offset, duration)
    except _AudioFileError as exc:
        if not skip:
            raise
        return None, f"audio file '{exc.path}': {exc.reason}.", 0.0
    return wave, None, float(max(wave.max(), -wave.min()))


class _AudioFileError(ValueError):
    """A file that cannot give a waveform; the message names it and says what to do."""

    def __init__(self, path, reason, remedy):
        self.path, self.reason, self.remedy = path, reason, remedy
        super().__init__(f"Could not load audio file '{path}': {reason}. {remedy}")


def _load_one(path, sr, mono, offset, duration):
    """Decode one file into a float32 array of shape (n_channels, n_samples) or (n_samples,)."""
    p = Path(path)
    if not p.exists():
        raise _AudioFileError(path, "it does not exist",
                              f"Check the path (relative paths start at {os.getcwd()}) or pass "
                              "on_error='skip' to leave missing files out.")
    if p.is_dir():
        raise _AudioFileError(path, "it is a folder",
                              "Pass file paths; for a folder with one sub-folder per class use "
                              "sk_crnn.datasets.load_audio_folder.")
    try:
        wave, native_sr = _decode(path, offset, duration)
    except Exception as exc:  # decoders raise many types; all mean "cannot read this file"
        raise _AudioFileError(path, f"it could not be decoded ({str(exc).rstrip('.')})",
                              "Check that it is a valid wav/flac/ogg/mp3 file (convert other "
                              "formats with ffmpeg), or pass on_error='skip' to leave such "
                              "files out.") from exc
    if wave.shape[-1] == 0:
        after = f" after offset={offset} s" if offset else ""
        raise _AudioFileError(path, f"it holds no samples{after}",
                              f"Remove it from the list{' or lower offset' if offset else ''}, "
                              "or pass on_error='skip' to leave empty files out.")
    finite = np.isfinite(wave).all(axis=0)
    if not finite.all():  # a float wav can hold any value
        bad = np.flatnonzero(~finite)
        raise _AudioFileError(path, f"it holds NaN or infinite samples ({bad.size} of "
                              f"{wave.shape[-1]}, the first at {bad[0] / native_sr:.3f} s)",
                              "Repair or remove the file, or pass on_error='skip' to leave "
                              "such files out.")
    if mono:
        wave = wave.mean(axis=0)
    if sr is not None and sr != native_sr:
        import librosa

        wave = librosa.resample(wave, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq",
                                axis=-1)
    return np.ascontiguousarray(wave, dtype=np.float32)


def _decode(path, offset, duration):
    """Return float32 samples of shape (n_channels, n_samples) and the native rate."""
    try:
        with sf.SoundFile(path) as f:
            native_sr = f.samplerate
            start = int(round(offset * native_sr))
            if start >= f.frames:
                return np.zeros((f.channels, 0), dtype=np.float32), native_sr
            if start:
                f.seek(start)
            frames = -1 if duration is None else int(round(duration * native_sr))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
        return data.T, native_sr
    except sf.SoundFileError:
        if Path(path).suffix.lower() in _SOUNDFILE_SUFFIXES:
            raise
    import librosa  # other formats: librosa's audioread fallback

    data, native_sr = librosa.load(path, sr=None, mono=False, offset=offset, duration=duration,
                                   dtype=np.float32)
    return np.atleast_2d(data), native_sr
