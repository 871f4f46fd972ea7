"""Private input and parameter checks shared by the transformers and estimators."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch


def check_device(device, param="device"):
    """Return a :class:`torch.device` for ``device`` or raise a clear error.

    Parameters
    ----------
    device : str or torch.device
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    param : str, default="device"
        Name of the parameter, used in error messages.

    Returns
    -------
    device : torch.device
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"{param}={device!r} is not a valid device; use 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"{param}={device!r} is not supported; use 'cpu', 'cuda' or 'cuda:N'.")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{param}={device!r} was requested but CUDA is not available on this machine "
                "(torch.cuda.is_available() is False); use device='cpu'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"{param}={device!r} was requested but only {torch.cuda.device_count()} CUDA "
                "device(s) exist; use an index below that."
            )
    return dev


def check_scalar(value, name, kind, *, low=None, high=None, low_inclusive=True, allow_none=False):
    """Check one numeric parameter; raise ``ValueError``/``TypeError`` naming it.

    ``kind`` is ``"int"`` or ``"real"``.
    """
    if value is None and allow_none:
        return value
    types = Integral if kind == "int" else Real
    if isinstance(value, bool) or not isinstance(value, types):
        what = "an integer" if kind == "int" else "a number"
        extra = " or None" if allow_none else ""
        raise TypeError(f"{name} must be {what}{extra}; got {value!r} of type "
                        f"{type(value).__name__}.")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}; got {value!r}.")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}; got {value!r}.")
    return value


def check_options(value, name, options):
    """Check that ``value`` is one of ``options``; raise ``ValueError`` naming it."""
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}; got {value!r}.")
    return value


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


def check_waveforms(X):
    """Validate raw audio and return it as a 2-D float array or a list of 1-D float arrays.

    Parameters
    ----------
    X : array-like of shape (n_clips, n_samples) or list of 1-D arrays
        Raw mono waveforms. A list, tuple or 1-D object array may hold clips of different
        lengths.

    Returns
    -------
    waveforms : ndarray of shape (n_clips, n_samples) or list of ndarray
        Float32 (or float64) samples: an array for array input, a list of 1-D arrays for a
        list, tuple or object array (not stacked, so the audio is not copied).
    """
    if sp.issparse(X):
        raise TypeError(
            "Sparse input is not supported: waveforms must be a dense array; use X.toarray()."
        )
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
    _check_finite(arr)
    return arr
