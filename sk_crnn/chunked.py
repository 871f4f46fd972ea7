"""Fit a Pipeline on more audio than fits in memory, one chunk of files at a time."""

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight

from ._validation import Interval, validate_args

__all__ = ["fit_in_chunks"]


@validate_args({"chunk_size": Interval("int", 1), "n_passes": Interval("int", 1)})
def fit_in_chunks(pipeline, X, y, *, chunk_size=1000, n_passes=1, classes=None, shuffle=True,
                  random_state=None, verbose=False):
    """Fit a Pipeline ending in a CRNN estimator, reading ``chunk_size`` clips at a time.

    ``pipeline.fit(X, y)`` holds the features of every clip in memory at once. This function
    holds one chunk: the steps before the last (typically ``AudioLoader`` and
    ``MelSpectrogramTransformer``) are fitted on the first chunk, then every chunk is loaded,
    transformed and passed to the last step's ``partial_fit``, for ``n_passes`` passes over
    the data. Each ``partial_fit`` call trains the network ``max_epochs`` epochs on its chunk,
    so set ``max_epochs=1`` on the estimator to make one pass one epoch.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Transformers followed by an estimator with ``partial_fit`` (``CRNNClassifier`` or
        ``CRNNRegressor``). Fitted in place (its last step is replaced by an unfitted clone
        first, so an earlier fit is not continued). Give ``MelSpectrogramTransformer`` a
        ``duration``: otherwise it learns the clip length from the first chunk only.
    X : sequence of shape (n_clips,)
        What the first step reads: file paths for a pipeline starting with ``AudioLoader``
        (or waveforms, for one starting with the transformer).
    y : array-like of shape (n_clips,) or (n_clips, n_outputs)
        Targets.
    chunk_size : int, default=1000
        Most clips loaded and transformed at a time; the clips are split into
        ``ceil(n_clips / chunk_size)`` chunks of near-equal size. Peak memory grows with it,
        not with ``n_clips``.
    n_passes : int, default=1
        Passes over all chunks.
    classes : array-like or None, default=None
        All labels, for a classifier of 1-D labels (passed to ``partial_fit`` so that a chunk
        without some class still trains with the full label set). None takes the
        estimator's ``classes`` if set, else ``np.unique(y)``. ``class_weight="balanced"``
        is computed from the whole ``y`` (the fitted estimator's ``class_weight`` is then
        that dict of weights by label).
    shuffle : bool, default=True
        Shuffle the clips before each pass (chunks of files sorted by class would otherwise
        train on one class at a time).
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling.
    verbose : bool, default=False
        Print one line per chunk.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        The fitted pipeline; ``predict`` takes what ``X`` holds (file paths) as usual.

    Notes
    -----
    The network sees one chunk per ``partial_fit`` call, so batches are shuffled within a
    chunk only (across chunks by ``shuffle``), ``validation_fraction`` holds out part of each
    chunk (for a classifier, stratified: every chunk needs two clips of each class it
    holds), and early stopping works per call. ``GridSearchCV`` cannot drive this loop:
    compare settings on a subset that fits in memory first.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sk_crnn import CRNNClassifier, MelSpectrogramTransformer
    >>> from sk_crnn.chunked import fit_in_chunks
    >>> from sk_crnn.datasets import make_tone_clips
    >>> X, y = make_tone_clips(40, sr=8000, duration=0.25, random_state=0)
    >>> pipe = make_pipeline(
    ...     MelSpectrogramTransformer(sr=8000, n_fft=256, n_mels=16, duration=0.25),
    ...     CRNNClassifier(max_epochs=1, module__conv_channels=(4,), module__rnn_hidden=8,
    ...                    random_state=0))
    >>> pipe = fit_in_chunks(pipe, X, y, chunk_size=16, n_passes=2, random_state=0)
    >>> pipe.predict(X[:3]).shape
    (3,)
    """
    from .classifier import CRNNClassifier
    from .regressor import CRNNRegressor

    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) < 2:
        raise TypeError("pipeline must be a scikit-learn Pipeline of transformers followed by "
                        f"a CRNN estimator; got {type(pipeline).__name__}.")
    final = pipeline.steps[-1][1]
    if not isinstance(final, (CRNNClassifier, CRNNRegressor)):
        raise TypeError(f"The last step is a {type(final).__name__}; fit_in_chunks trains a "
                        "CRNNClassifier or CRNNRegressor there with partial_fit.")
    n_clips = len(X)
    y = np.asarray(y)
    if len(y) != n_clips:
        raise ValueError(f"X has {n_clips} clips but y has {len(y)} targets.")
    if n_clips == 0:
        raise ValueError("X holds no clips.")
    # A fresh final estimator, as fit would give: partial_fit continues a fitted one.
    final = clone(final)
    kwargs = {}
    single_label = is_classifier(final) and y.ndim == 1
    if single_label:
        if classes is not None:
            kwargs["classes"] = np.asarray(classes)
        elif final.classes is None:  # else the estimator's own classes fix the label set
            kwargs["classes"] = np.unique(y)
        if isinstance(final.class_weight, str) and final.class_weight == "balanced":
            # "balanced" from the whole of y, not from the first chunk
            present = np.unique(y)
            weights = compute_class_weight("balanced", classes=present, y=y)
            final.set_params(class_weight=dict(zip(present.tolist(), weights.tolist())))
    elif classes is not None:
        raise ValueError("classes is for a classifier of 1-D labels as the last step.")
    rng = check_random_state(random_state)
    pipeline.set_params(**{pipeline.steps[-1][0]: final})
    transformers = pipeline[:-1]

    def take(order):
        if isinstance(X, np.ndarray):
            return X[order]
        return [X[int(i)] for i in order]

    n_chunks = -(-n_clips // chunk_size)
    order = rng.permutation(n_clips) if shuffle else np.arange(n_clips)
    first = np.array_split(order, n_chunks)[0]
    transformers.fit(take(first), y[first])
    for n_pass in range(n_passes):
        if n_pass and shuffle:
            order = rng.permutation(n_clips)
        # near-equal chunks of at most chunk_size: no tiny last chunk
        for k, chunk in enumerate(np.array_split(order, n_chunks)):
            features = transformers.transform(take(chunk))
            final.partial_fit(features, y[chunk], **kwargs)
            del features
            if verbose:
                print(f"pass {n_pass + 1}/{n_passes}, chunk {k + 1}/{n_chunks}: "
                      f"{len(chunk)} clips", flush=True)
    return pipeline

