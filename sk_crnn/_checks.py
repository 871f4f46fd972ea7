"""Private checks of the spectrogram input and targets of the CRNN estimators."""

from numbers import Integral

import numpy as np
import scipy.sparse as sp


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


def check_n_samples(X, y):
    """Raise a ValueError if ``X`` and ``y`` have different numbers of samples."""
    if len(y) != len(X):
        raise ValueError(
            f"X and y have inconsistent numbers of samples: X has {len(X)} clips but y has "
            f"{len(y)} targets; pass one target per clip."
        )


def seed_from_random_state(random_state):
    """Return an int seed for torch from ``random_state``, or None to use torch's global RNG.

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState
        None: no seeding. An int is used as is; a RandomState gives a fresh int drawn from it.

    Returns
    -------
    seed : int or None
    """
    if random_state is None:
        return None
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(
        f"random_state must be None, an int or a numpy.random.RandomState; got {random_state!r}."
    )
