"""Private checks of the input data: raw waveforms and spectrograms."""

import collections.abc
import warnings

import numpy as np
import scipy.sparse as sp

# Float audio lies in [-1, 1]. Clips whose samples reach beyond twice full scale (+6 dB) are
# reported: they usually hold integer PCM values stored as floats (int16 up to 32767).
PEAK_LIMIT = 2.0
# A 2-D array with this many rows or more and only 1 or 2 columns is one clip with its
# channels as columns (as soundfile reads files), not that many clips of 1 or 2 samples.
_CHANNELS_LAST_MIN_ROWS = 1000


def _check_clip_dtype(dtype, where):
    if dtype.kind == "f":
        return
    if dtype.kind in "iu":
        raise TypeError(
            f"{where} holds integer samples ({dtype}); audio must be floating point in [-1, 1]. "
            "Convert integer PCM with x.astype(np.float32) / 32768 (for int16), "
            "or load it with sk_crnn/librosa/soundfile, which return floats."
        )
    if dtype.kind == "b":
        raise TypeError(f"{where} holds booleans; audio must be floating point samples.")
    if dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {where} has dtype {dtype}; pass real waveforms "
            "(for example np.real(x))."
        )
    raise TypeError(
        f"{where} has dtype {dtype}, which is not numeric audio; pass floating point samples."
    )


def _check_finite(X, first_index=0):
    """Raise a ValueError naming the first clip of ``X`` (2-D) holding NaN or Inf."""
    finite = np.isfinite(X).all(axis=-1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0]) + first_index
        raise ValueError(
            f"Clip {bad} contains NaN or infinite samples; clean or drop it "
            "(for example np.nan_to_num(clip)) before transforming."
        )


def _warn_loud_clips(peaks):
    """Warn, naming the first clip, when clips reach beyond ``PEAK_LIMIT``; raise a ValueError
    when a clip reaches beyond float32, in which the features are computed."""
    huge = np.flatnonzero(peaks > np.finfo(np.float32).max)
    if huge.size:
        first = int(huge[0])
        raise ValueError(
            f"Clip {first} has samples up to {peaks[first]:.6g}, beyond the largest float32 "
            f"({np.finfo(np.float32).max:.4g}) in which the features are computed: they cannot "
            "be represented. Scale your audio to [-1, 1], for example "
            "clip / np.abs(clip).max().")
    loud = np.flatnonzero(peaks > PEAK_LIMIT)
    if loud.size == 0:
        return
    first = int(loud[0])
    more = f" (and {loud.size - 1} more clips)" if loud.size > 1 else ""
    warnings.warn(
        f"Clip {first}{more} has samples up to {peaks[first]:.6g}, far outside the [-1, 1] "
        f"range of float audio; its log-mel features are shifted by "
        f"{20 * np.log10(peaks[first]):.0f} dB. Integer PCM stored as floats? Divide it by "
        "32768 (int16) or 2**31 (int32).",
        UserWarning, stacklevel=4)


def _peaks(X):
    """Largest absolute sample of each row of a 2-D array, without a full-size temporary."""
    return np.maximum(X.max(axis=-1), -X.min(axis=-1))


def _is_dataframe(X):
    """Whether ``X`` is a DataFrame (pandas, polars): named columns and a 2-D shape. Duck-typed,
    so that neither library is imported."""
    shape = getattr(X, "shape", None)
    return (not isinstance(X, np.ndarray) and hasattr(X, "columns")
            and isinstance(shape, tuple) and len(shape) == 2)


def _is_clip(cell):
    return hasattr(cell, "__len__") and not isinstance(cell, (str, bytes))


def _frame_values(X):
    """The clips of a DataFrame: its one column of audio arrays, as a 1-D object array of
    clips (a 2-D array for a polars ``Array`` column: equal lengths); a table of numbers as
    a 2-D array (one clip per row, as before)."""
    columns = list(X.columns)
    if len(columns) == 1:
        column = np.asarray(X[columns[0]])  # pandas/polars Series -> one cell per clip
        if column.dtype == object or column.ndim == 2:
            return column
        return np.asarray(X)  # numbers: one sample per clip, read as the table it is
    values = np.asarray(X)
    if values.dtype != object:
        return values  # a table of samples (n_clips, n_samples)
    try:  # numbers stored as objects are a table of samples too
        return values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        audio = [name for j, name in enumerate(columns)
                 if len(values) and _is_clip(values[0, j])]
        named = ", ".join(repr(c) for c in columns[:10]) + (", ..." if len(columns) > 10 else "")
        fix = (f"Select the audio column, for example X[[{audio[0]!r}]], and pass the labels "
               "as y." if audio else "Select the column of audio arrays (a column of file "
               "paths is read by sk_crnn.io.AudioLoader first).")
        raise ValueError(
            f"X is a DataFrame with {len(columns)} columns ({named}); waveforms must be one "
            f"column holding one 1-D float array per clip. {fix}"
        ) from exc


def check_waveforms(X):
    """Validate raw audio and return it as a 2-D float array or a list of 1-D float arrays.

    Parameters
    ----------
    X : array-like of shape (n_clips, n_samples), list of 1-D arrays, or DataFrame
        Raw mono waveforms. A list, tuple or 1-D object array may hold clips of different
        lengths, and so may a pandas or polars Series, or a DataFrame of one column (one
        1-D float array per row).

    Returns
    -------
    waveforms : ndarray of shape (n_clips, n_samples) or list of ndarray
        Float32 (or float64) samples: an array for array input, a list of 1-D arrays for a
        list, tuple, object array, Series or one-column DataFrame (not stacked, so the audio
        is not copied).

    Warns
    -----
    UserWarning
        When a clip's samples reach beyond +-2 (``PEAK_LIMIT``, twice full scale), naming the
        first such clip.

    Raises
    ------
    ValueError
        For NaN or infinite samples, empty clips, or samples beyond the float32 range, naming
        the first such clip; for a DataFrame of several columns that are not all numbers,
        naming its columns.
    """
    if isinstance(X, collections.abc.Iterator):
        raise TypeError(
            f"X is a {type(X).__name__}, which numpy cannot read as clips (a generator or "
            "iterator can also be read only once); pass a list of 1-D waveforms, for example "
            "list(X), or a 2-D float array (n_clips, n_samples)."
        )
    if sp.issparse(X):
        raise TypeError(
            "Sparse input is not supported: waveforms must be a dense array; use X.toarray()."
        )
    if _is_dataframe(X):
        X = _frame_values(X)
    if isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 2:
        try:  # a 2-D object array of numbers is a table of samples
            X = X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"Could not read the object array as float samples ({exc}); pass a 2-D float "
                "array (n_clips, n_samples) or a list of 1-D float arrays."
            ) from exc
    if isinstance(X, np.ndarray) and X.dtype != object:
        arr = X
    elif isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.dtype == object):
        if isinstance(X, np.ndarray) and X.ndim != 1:
            raise ValueError(
                f"An object array of clips must be 1-D; got shape {X.shape}. "
                "Pass a list of 1-D waveforms."
            )
        if len(X) == 0:
            raise ValueError("No clips were given (empty input); pass at least one waveform.")
        clips = []
        for i, clip in enumerate(X):
            if isinstance(clip, str) or not hasattr(clip, "__len__"):
                raise TypeError(
                    f"Clip {i} is a {type(clip).__name__}, not an array of samples; pass a "
                    "2-D float array (n_clips, n_samples) or a list of 1-D float arrays "
                    "(use sk_crnn.io.load_audio for file paths)."
                )
            try:
                c = np.asarray(clip)
            except (ValueError, TypeError) as exc:
                raise TypeError(f"Clip {i} could not be read as an array of samples.") from exc
            if c.ndim == 2 and 1 in c.shape:
                c = c.reshape(-1)
            if c.ndim != 1:
                if c.ndim == 2:  # the channel axis is the short one
                    axis = 0 if c.shape[0] <= c.shape[1] else 1
                    where = ("channels first" if axis == 0 else
                             "channels last, as soundfile reads it")
                    fix = f"down-mix it with clip.mean(axis={axis}) ({where})"
                else:
                    fix = "give one 1-D array of samples per clip"
                raise ValueError(
                    f"Clip {i} has shape {c.shape}; each clip must be 1-D mono audio: {fix}."
                )
            _check_clip_dtype(c.dtype, f"Clip {i}")
            if c.size == 0:
                raise ValueError(f"Clip {i} is empty (0 samples); drop it or pad it with zeros.")
            if not np.isfinite(c).all():
                _check_finite(c[np.newaxis], first_index=i)
            clips.append(c)
        _warn_loud_clips(np.array([_peaks(c) for c in clips]))
        # Kept as a list even when the lengths agree: stacking would copy all the audio, and
        # the transformer copies one chunk at a time anyway.
        return clips
    else:
        try:
            arr = np.asarray(X)
        except (ValueError, TypeError) as exc:
            raise TypeError(
                "Could not read the input as audio; pass a 2-D float array (n_clips, n_samples) "
                "or a list of 1-D float arrays."
            ) from exc
        if arr.dtype == object:
            if arr.ndim == 0:
                raise TypeError(
                    f"X is a {type(X).__name__}, which numpy cannot read as clips; pass a list "
                    "of 1-D waveforms or a 2-D float array (n_clips, n_samples)."
                )
            return check_waveforms(arr)

    if arr.ndim == 0:
        raise ValueError(
            "Got a scalar (0-D input); pass a 2-D float array (n_clips, n_samples) or a list of "
            "1-D float arrays."
        )
    if arr.ndim == 1:
        raise ValueError(
            f"Got a 1-D array of {arr.shape[0]} values; pass a 2-D array (n_clips, n_samples). "
            "Reshape your data: for a single clip use clip[np.newaxis, :], for clips of "
            "different lengths pass a list."
        )
    if arr.ndim > 2:
        raise ValueError(
            f"Got a {arr.ndim}-D array of shape {arr.shape}; expected (n_clips, n_samples) mono "
            "waveforms. Down-mix stereo/multichannel audio first, for example X.mean(axis=1) for "
            "(n_clips, n_channels, n_samples)."
        )
    if arr.dtype.kind in "USO":
        raise TypeError(
            f"Got an array of dtype {arr.dtype}; pass numeric floating point waveforms "
            "(use sk_crnn.io.load_audio for file paths)."
        )
    _check_clip_dtype(arr.dtype, "The input array")
    if arr.shape[0] == 0:
        raise ValueError("No clips were given (0 rows); pass at least one waveform.")
    if arr.shape[1] == 0:
        raise ValueError(
            f"The clips are empty: got 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
            "required; pass non-empty waveforms."
        )
    if arr.shape[1] <= 2 and arr.shape[0] >= _CHANNELS_LAST_MIN_ROWS:
        n, c = arr.shape
        what = ("one stereo clip with its channels as columns (as soundfile reads files)"
                if c == 2 else "one mono clip stored as a column")
        fix = ("down-mix it to one clip with X.mean(axis=1)[np.newaxis, :]" if c == 2
               else "pass X.T (shape (1, n_samples))")
        raise ValueError(
            f"Got X of shape {arr.shape}: {n} clips of {c} sample{'s' if c > 1 else ''} each, "
            f"which looks like {what}. Waveforms are rows (n_clips, n_samples): {fix}."
        )
    _check_finite(arr)
    _warn_loud_clips(_peaks(arr))
    return arr


def check_spectrograms(X, estimator_name):
    """Validate spectrograms and return them as a float32 (or float16) array.

    Parameters
    ----------
    X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
        Spectrograms, for example the output of ``MelSpectrogramTransformer``.
    estimator_name : str
        Used in error messages.

    Returns
    -------
    X : ndarray of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
        C-contiguous float32 copy (or view) of ``X``; float16 input stays float16.
    """
    expected = (
        f"{estimator_name} expects spectrograms of shape (n_clips, n_mels, n_frames) or "
        "(n_clips, 1, n_mels, n_frames)"
    )
    hint = f"put MelSpectrogramTransformer before {estimator_name} in a Pipeline"
    if sp.issparse(X):
        raise TypeError(f"{expected}; got a sparse matrix. Use a dense array; {hint}.")
    if hasattr(X, "detach"):  # torch tensor
        X = X.detach().cpu().numpy()
    try:
        X = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{expected}; could not read the input as an array ({exc}). A list of clips of "
            f"different lengths is raw audio: {hint}."
        ) from exc
    if X.dtype == object:
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{expected} of floats; got an object array that is not numeric ({exc}). "
                f"Clips of different lengths are raw audio: {hint}."
            ) from exc
    if X.dtype.kind in "USV":
        raise TypeError(f"{expected} of floats; got an array of dtype {X.dtype}. {hint}.")
    if X.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {estimator_name} expects real spectrograms; got "
            f"dtype {X.dtype}. Use the magnitude (np.abs) or {hint}."
        )
    if X.dtype.kind not in "fiu":
        raise TypeError(f"{expected} of floats; got an array of dtype {X.dtype}. {hint}.")
    if X.ndim == 2:
        raise ValueError(
            f"{expected}; got a 2-D array of shape {X.shape}, which looks like raw waveforms "
            f"(n_clips, n_samples) or tabular data; {hint}."
        )
    if X.ndim == 4 and X.shape[1] != 1:
        raise ValueError(
            f"{expected}; got a 4-D array of shape {X.shape} with {X.shape[1]} channels. Only "
            f"one channel is supported; down-mix the audio to mono before the transformer."
        )
    if X.ndim not in (3, 4):
        raise ValueError(f"{expected}; got a {X.ndim}-D array of shape {X.shape}. {hint}.")
    if X.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required "
            f"by {estimator_name}."
        )
    if 0 in X.shape[1:]:
        raise ValueError(f"{expected}; got empty spectrograms of shape {X.shape}.")
    # float16 features stay float16 (half the memory): the network casts each batch.
    X = np.ascontiguousarray(X, dtype=np.float16 if X.dtype == np.float16 else np.float32)
    finite = np.isfinite(X.reshape(X.shape[0], -1)).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"Input X contains NaN or infinity: clip {bad} (of {X.shape[0]}) has NaN or infinite "
            "values (after conversion to float32, or in float16); clean or drop it, e.g. "
            "with np.nan_to_num, or check the feature scaling (log/dB features stay finite)."
        )
    return X
