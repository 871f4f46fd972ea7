"""Fast end-to-end checks of the public estimators, run on the lowest supported dependencies.

CI runs this module in a second virtual environment with every direct dependency pinned to
its lower bound (``.ci/lower-bounds.txt``), so it exercises, once each, the library features
that set those bounds: fit and predict through skorch with scikit-learn's tags, sklearn's
``check_is_fitted`` on a skorch net, pickling a fitted net, ``sk_crnn.save``/``load``
(safetensors) and ``load_audio`` (joblib's generator output, soundfile, librosa's
resampling). It also runs in the normal test suite.
"""

import pickle
import sys

import numpy as np
import pytest
import soundfile as sf
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted

import sk_crnn
from sk_crnn import (
    CRNNClassifier,
    CRNNEmbedder,
    CRNNEventDetector,
    CRNNRegressor,
    MelSpectrogramTransformer,
    load_audio,
)
from sk_crnn.datasets import make_sound_scenes, make_tone_clips

SR, HOP = 8000, 128
TINY = dict(max_epochs=2, module__conv_channels=(4,), module__rnn_hidden=4, random_state=0)


def _pipeline(estimator):
    features = MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=HOP, n_mels=16)
    return make_pipeline(features, estimator)


def _assert_same(again, prediction):
    if isinstance(prediction, np.ndarray) and prediction.dtype.kind == "f":
        np.testing.assert_allclose(again, prediction, rtol=1e-5, atol=1e-6)
    elif isinstance(prediction, np.ndarray):
        np.testing.assert_array_equal(again, prediction)
    else:
        assert again == prediction


def _check_fitted_state(estimator, pipe, X, prediction, path=None, method="predict"):
    """sklearn sees the unfitted net as unfitted and the fitted one as fitted; the fitted
    pipeline gives the same output after a pickle round trip and (with ``path``) after
    ``sk_crnn.save`` and ``sk_crnn.load``."""
    with pytest.raises(NotFittedError):
        check_is_fitted(clone(estimator))
    check_is_fitted(pipe[-1])
    check_is_fitted(pipe)
    _assert_same(getattr(pickle.loads(pickle.dumps(pipe)), method)(X), prediction)
    if path is not None:
        sk_crnn.save(pipe, path)
        _assert_same(getattr(sk_crnn.load(path), method)(X), prediction)


@pytest.fixture(scope="module")
def tone_clips():
    return make_tone_clips(12, sr=SR, duration=0.25, random_state=0)


def test_classifier_pipeline(tone_clips, tmp_path):
    X, y = tone_clips
    y = np.array(["high", "low"])[y]  # string labels: the estimator encodes and decodes them
    estimator = CRNNClassifier(**TINY)
    pipe = _pipeline(estimator).fit(X, y)

    pred = pipe.predict(X)
    assert isinstance(pred, np.ndarray) and pred.shape == (len(X),)
    assert set(pred) <= set(y)
    assert list(pipe.classes_) == ["high", "low"]
    proba = pipe.predict_proba(X)
    assert proba.shape == (len(X), 2) and proba.dtype.kind == "f"
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert 0 <= pipe.score(X, y) <= 1
    _check_fitted_state(estimator, pipe, X, pred, tmp_path / "classifier.skcrnn")


def test_regressor_pipeline(tone_clips, tmp_path):
    X, y = tone_clips
    y = y.astype(np.float32) + np.linspace(0, 0.5, len(y), dtype=np.float32)
    estimator = CRNNRegressor(**TINY)
    pipe = _pipeline(estimator).fit(X, y)

    pred = pipe.predict(X)
    assert isinstance(pred, np.ndarray) and pred.shape == (len(X),)
    assert pred.dtype.kind == "f" and np.isfinite(pred).all()
    assert np.isfinite(pipe.score(X, y))
    _check_fitted_state(estimator, pipe, X, pred, tmp_path / "regressor.skcrnn")


def test_event_detector_pipeline(tmp_path):
    duration = 1.0
    X, events = make_sound_scenes(6, duration=duration, sr=SR, n_classes=2, random_state=0)
    labels = {label for scene in events for _, _, label in scene}
    frame_rate = SR / HOP
    estimator = CRNNEventDetector(frame_rate=frame_rate, **TINY)
    pipe = _pipeline(estimator).fit(X, events)

    assert list(pipe[-1].classes_) == sorted(labels)
    proba = pipe.predict_proba(X)
    n_frames = pipe[0].transform(X[:1]).shape[-1]
    assert proba.shape == (len(X), n_frames, len(labels))
    assert ((proba >= 0) & (proba <= 1)).all()
    pred = pipe.predict(X)
    assert isinstance(pred, list) and len(pred) == len(X)
    for scene in pred:
        for onset, offset, label in scene:
            assert label in labels
            assert 0 <= onset < offset <= n_frames / frame_rate
    _check_fitted_state(estimator, pipe, X, pred, tmp_path / "detector.skcrnn")


def test_detector_scores_without_the_sed_extra(monkeypatch):
    """``score`` (event-based F1) and ``cross_val_score`` of a detector need no optional
    dependency: without sed_eval they once raised ImportError, which cross_val_score turned
    into NaN scores and a warning. Here sed_eval is made unimportable even where installed."""
    for name in ("sed_eval", "dcase_util", "sed_scores_eval"):
        monkeypatch.setitem(sys.modules, name, None)  # `import sed_eval` raises ImportError
    X, events = make_sound_scenes(6, duration=1.0, sr=SR, n_classes=2, random_state=0)
    pipe = _pipeline(CRNNEventDetector(frame_rate=SR / HOP, **TINY))
    score = pipe.fit(X, events).score(X, events)
    assert 0 <= score <= 1
    scores = cross_val_score(pipe, X, events, cv=KFold(2))
    assert scores.shape == (2,) and np.isfinite(scores).all()
    assert ((0 <= scores) & (scores <= 1)).all()


def test_embedder_pipeline(tone_clips):
    X, y = tone_clips
    estimator = CRNNEmbedder(embedding_dim=8, **TINY)
    pipe = _pipeline(estimator).fit(X, y)

    E = pipe.transform(X)
    assert isinstance(E, np.ndarray) and E.shape == (len(X), 8) and E.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1, rtol=1e-4)
    _check_fitted_state(estimator, pipe, X, E, method="transform")


def test_load_audio_reads_and_resamples(tmp_path):
    rng = np.random.RandomState(0)
    paths = []
    for i, rate in enumerate([8000, 16000]):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, 0.1 * rng.standard_normal(rate // 4), rate)
        paths.append(str(path))
    waves = load_audio(paths, sr=SR, n_jobs=2)
    assert [w.dtype for w in waves] == [np.float32, np.float32]
    assert [len(w) for w in waves] == [SR // 4, SR // 4]
