"""The :class:`AudioLoader` step: file paths to waveforms inside a Pipeline."""

import os

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .._validation import validate_params
from ._files import LOAD_PARAMETERS, load_audio


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

    _parameter_constraints = LOAD_PARAMETERS

    def _validate_params(self):
        validate_params(self, self._parameter_constraints)

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


AudioLoader.__module__ = "sk_crnn.io"  # pickles name the public path
