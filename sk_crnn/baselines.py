"""Classic baselines to compare a CRNN with: bag-of-frames statistics and a linear model."""

import numpy as np


def mean_std_pool(features):
    """Bag-of-frames summary of features: the mean and standard deviation of each band.

    Parameters
    ----------
    features : ndarray of shape (n_clips, n_bands, n_frames)
        Spectrograms or MFCCs, for example the output of ``MelSpectrogramTransformer``.

    Returns
    -------
    pooled : ndarray of shape (n_clips, 2 * n_bands)
        The per-band means over time, then the per-band standard deviations. They do not
        change when the frames are reordered.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn.baselines import mean_std_pool
    >>> mean_std_pool(np.arange(12.0).reshape(1, 2, 6)).tolist()
    [[2.5, 8.5, 1.707825127659933, 1.707825127659933]]
    """
    features = np.asarray(features)
    if features.ndim != 3:
        raise ValueError(f"features must be 3-D (n_clips, n_bands, n_frames); got shape "
                         f"{features.shape}.")
    return np.concatenate([features.mean(axis=2), features.std(axis=2)], axis=1)


def mfcc_baseline(sr, n_fft, hop_length, *, n_mels=40, n_mfcc=20, classifier=None):
    """MFCC statistics and a linear classifier: the classic bag-of-frames baseline.

    A Pipeline on waveforms: :class:`~sk_crnn.MelSpectrogramTransformer` (MFCCs),
    :func:`mean_std_pool`, ``StandardScaler`` and a classifier. It can be stored with
    :func:`sk_crnn.save`.

    Parameters
    ----------
    sr : float
        Sample rate of the waveforms in Hz.
    n_fft : int
        FFT size of the spectrogram.
    hop_length : int
        Samples between frames.
    n_mels : int, default=40
        Mel bands the MFCCs are computed from.
    n_mfcc : int, default=20
        MFCCs per frame.
    classifier : estimator or None, default=None
        The last step; ``None`` means ``LogisticRegression(max_iter=2000)``.

    Returns
    -------
    pipeline : Pipeline
        Unfitted.

    Examples
    --------
    >>> from sk_crnn.baselines import mfcc_baseline
    >>> [name for name, _ in mfcc_baseline(16000, 512, 256).steps]
    ['melspectrogramtransformer', 'functiontransformer', 'standardscaler', 'logisticregression']
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from .transformers import MelSpectrogramTransformer

    if classifier is None:
        classifier = LogisticRegression(max_iter=2000)
    return make_pipeline(
        MelSpectrogramTransformer(sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                                  n_mfcc=n_mfcc),
        FunctionTransformer(mean_std_pool), StandardScaler(), classifier)


__all__ = ["mean_std_pool", "mfcc_baseline"]
