"""Audio files to waveforms: :func:`load_audio`, its decoding, and the reading parameters
that :class:`~sk_crnn.io.AudioLoader` shares."""

import os
import sys
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
from joblib import Parallel, delayed

from .._inputs import PEAK_LIMIT
from .._validation import (
    BOOL,
    Interval,
    InvalidParameterError,
    Options,
    Rule,
    check_param,
    validate_args,
)

# Suffixes that libsndfile decodes itself; anything else falls back to librosa.load (audioread).
_SOUNDFILE_SUFFIXES = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".w64",
     ".rf64", ".caf"}
)
_PROGRESS_MIN_FILES = 100


def _check_n_jobs(value, name):
    check_param(value, name, Interval("int"))
    if value == 0:
        raise InvalidParameterError(
            f"{name}=0 is not valid; use None or 1 for one thread, a positive number of "
            "threads, or -1 for all cores.")


_POSITIVE = Interval("real", 0, closed="neither")
#: How files are read, for :func:`load_audio` and the parameter table of ``AudioLoader``:
#: name -> rules, in the language of ``_validation.check_param``.
LOAD_PARAMETERS = {
    "sr": [_POSITIVE, None],
    "mono": BOOL,
    "offset": Interval("real", 0),
    "duration": [_POSITIVE, None],
    "n_jobs": [Rule(_check_n_jobs), None],
    "progress_bar": [BOOL, None],
}


@validate_args({**LOAD_PARAMETERS, "on_error": Options("raise", "skip"),
                "return_skipped": BOOL})
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
    InvalidParameterError
        For an argument that breaks its rule (a ``ValueError`` and a ``TypeError``).
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


def read_audio_files(paths, settings=None, *, on_error="raise", progress_bar=None, **kwargs):
    """Read files with the settings of an ``AudioLoader``; say which were read and skipped.

    What a command-line run needs: :func:`load_audio` with ``return_skipped=True``, the
    reading settings taken from a (possibly older, pickled) ``AudioLoader``, and the paths
    that were read, to match the waveforms with labels again.

    Parameters
    ----------
    paths : str, path-like or sequence of them
        The files.
    settings : AudioLoader or None, default=None
        Read as it does (its ``sr``, ``mono``, ``offset``, ``duration``, ``n_jobs``; an
        attribute an older version lacked gets :func:`load_audio`'s default).
    on_error : {"raise", "skip"}, default="raise"
        As in :func:`load_audio`; a failing file raises its ``AudioFileError`` (a
        ``ValueError`` with ``path`` and ``reason`` attributes).
    progress_bar : bool or None, default=None
        As in :func:`load_audio`.
    **kwargs
        Other arguments of :func:`load_audio` (``sr``, ``n_jobs``, ...); they override
        ``settings``.

    Returns
    -------
    waveforms : list of ndarray
        One per file read, in input order.
    kept : list of str
        The paths read, in input order (``waveforms[i]`` is ``kept[i]``).
    skipped : list of str
        The paths skipped with ``on_error="skip"``.
    """
    paths = _check_paths(paths)
    params = {}
    if settings is not None:
        defaults = {"mono": True, "offset": 0.0, "duration": None, "n_jobs": None}
        params = {"sr": settings.sr, **{name: getattr(settings, name, default)
                                        for name, default in defaults.items()}}
    params.update(kwargs)
    waves, skipped = load_audio(paths, **params, on_error=on_error, progress_bar=progress_bar,
                                return_skipped=True)
    left_out = set(skipped)
    return waves, [p for p in paths if p not in left_out], skipped


# -- helpers -------------------------------------------------------------------------------------
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
    except AudioFileError as exc:
        if not skip:
            raise
        return None, f"audio file '{exc.path}': {exc.reason}.", 0.0
    return wave, None, float(max(wave.max(), -wave.min()))


class AudioFileError(ValueError):
    """A file that cannot give a waveform; the message names it and says what to do."""

    def __init__(self, path, reason, remedy):
        self.path, self.reason, self.remedy = path, reason, remedy
        super().__init__(f"Could not load audio file '{path}': {reason}. {remedy}")


def _load_one(path, sr, mono, offset, duration):
    """Decode one file into a float32 array of shape (n_channels, n_samples) or (n_samples,)."""
    p = Path(path)
    if not p.exists():
        raise AudioFileError(path, "it does not exist",
                              f"Check the path (relative paths start at {os.getcwd()}) or pass "
                              "on_error='skip' to leave missing files out.")
    if p.is_dir():
        raise AudioFileError(path, "it is a folder",
                              "Pass file paths; for a folder with one sub-folder per class use "
                              "sk_crnn.datasets.load_audio_folder.")
    try:
        wave, native_sr = _decode(path, offset, duration)
    except Exception as exc:  # decoders raise many types; all mean "cannot read this file"
        raise AudioFileError(path, f"it could not be decoded ({str(exc).rstrip('.')})",
                              "Check that it is a valid wav/flac/ogg/mp3 file (convert other "
                              "formats with ffmpeg), or pass on_error='skip' to leave such "
                              "files out.") from exc
    if wave.shape[-1] == 0:
        after = f" after offset={offset} s" if offset else ""
        raise AudioFileError(path, f"it holds no samples{after}",
                              f"Remove it from the list{' or lower offset' if offset else ''}, "
                              "or pass on_error='skip' to leave empty files out.")
    finite = np.isfinite(wave).all(axis=0)
    if not finite.all():  # a float wav can hold any value
        bad = np.flatnonzero(~finite)
        raise AudioFileError(path, f"it holds NaN or infinite samples ({bad.size} of "
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
