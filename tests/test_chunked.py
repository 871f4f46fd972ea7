"""fit_in_chunks: a Pipeline from file paths trained one chunk of files at a time."""

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from sk_crnn import (
    AudioLoader,
    CRNNClassifier,
    CRNNEventDetector,
    CRNNRegressor,
    MelSpectrogramTransformer,
)
from sk_crnn.chunked import fit_in_chunks
from sk_crnn.datasets import make_tone_clips

SR = 8000


class ChunkProbe(Callback):
    """Records how many clips each partial_fit call trained on."""

    def initialize(self):
        self.sizes = []
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.sizes.append(len(X))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    X, y = make_tone_clips(30, sr=SR, duration=0.25, random_state=0)
    paths = []
    for i, clip in enumerate(X):
        paths.append(str(folder / f"clip{i:02d}.wav"))
        sf.write(paths[-1], clip, SR)
    return np.array(paths), y


def pipeline(estimator=CRNNClassifier, **params):
    params = {"max_epochs": 1, "module__conv_channels": (4,), "module__rnn_hidden": 8,
              "random_state": 0, **params}
    return make_pipeline(
        AudioLoader(sr=SR),
        MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=128, n_mels=16, duration=0.25),
        estimator(**params),
    )


def test_trains_chunk_by_chunk_and_predicts_files(files):
    paths, y = files
    probe = ChunkProbe()
    pipe = fit_in_chunks(pipeline(callbacks=[("probe", probe)]), paths, y, chunk_size=12,
                         n_passes=2, random_state=0)
    net = pipe[-1]
    # 30 clips, at most 12 a chunk: 3 near-equal chunks, twice
    assert dict(net.callbacks_)["probe"].sizes == [10, 10, 10, 10, 10, 10]
    assert len(net.history) == 6
    assert pipe[1].n_samples_ == SR // 4
    assert pipe.predict(paths[:5]).shape == (5,)
    assert pipe.predict_proba(paths).shape == (30, 2)
    again = fit_in_chunks(pipeline(), paths, y, chunk_size=12, n_passes=2, random_state=0)
    np.testing.assert_allclose(again.predict_proba(paths), pipe.predict_proba(paths),
                               rtol=1e-5, atol=1e-6)


def test_chunks_without_some_class_still_train_on_all_classes(files):
    paths, y = files
    order = np.argsort(y, kind="stable")  # sorted by class: the first chunk has one class
    labels = np.where(y == 0, "low", "high")[order]
    pipe = fit_in_chunks(pipeline(), paths[order], labels, chunk_size=10, shuffle=False)
    assert pipe[-1].classes_.tolist() == ["high", "low"]
    pipe = fit_in_chunks(pipeline(), paths[order], labels, chunk_size=10, shuffle=False,
                         classes=["low", "high", "silence"])
    assert pipe[-1].classes_.tolist() == ["low", "high", "silence"]


def test_classes_multilabel_class_weight_and_validation_per_chunk(files):
    paths, y = files
    order = np.argsort(y, kind="stable")
    # The estimator's own classes fix the label set when fit_in_chunks is given none.
    pipe = fit_in_chunks(pipeline(classes=[0, 1, 2]), paths, y, chunk_size=12, random_state=0)
    assert pipe[-1].classes_.tolist() == [0, 1, 2]
    # "balanced" weights come from all of y, also when the first chunk has one class only.
    pipe = fit_in_chunks(pipeline(class_weight="balanced"), paths[order], y[order],
                         chunk_size=10, shuffle=False)
    counts = np.bincount(y)
    np.testing.assert_allclose(pipe[-1].class_weight_, len(y) / (2 * counts), rtol=1e-6)
    # Multi-label indicator targets.
    Y = np.c_[y, 1 - y, np.resize([0, 1, 1], len(y))]
    pipe = fit_in_chunks(pipeline(), paths, Y, chunk_size=12, random_state=0)
    assert pipe.predict(paths[:4]).shape == (4, 3)
    # 17 clips at most 8 a chunk: 6, 6 and 5 clips (not 8, 8 and 1), so a validation split
    # fits every chunk. (A regressor: a classifier's stratified split per chunk would also
    # need two clips of each class in every chunk.)
    probe = ChunkProbe()
    pipe = fit_in_chunks(
        pipeline(CRNNRegressor, validation_fraction=0.25, callbacks=[("probe", probe)]),
        paths[:17], y[:17].astype(np.float32), chunk_size=8, random_state=0)
    assert dict(pipe[-1].callbacks_)["probe"].sizes == [6, 6, 5]


def test_starts_from_a_fresh_estimator_and_fits_regressors(files):
    paths, y = files
    pipe = pipeline(CRNNRegressor)
    target = y.astype(np.float32)
    fit_in_chunks(pipe, paths, target, chunk_size=15, random_state=0)
    first = pipe[-1]
    fit_in_chunks(pipe, paths, target, chunk_size=15, random_state=0)
    assert pipe[-1] is not first and len(pipe[-1].history) == 2
    assert pipe.predict(paths).shape == (30,)


@pytest.mark.parametrize(
    "make, kwargs, error, match",
    [
        (lambda: CRNNClassifier(), {}, TypeError, "must be a scikit-learn Pipeline"),
        (lambda: make_pipeline(AudioLoader(sr=SR), LogisticRegression()), {}, TypeError,
         "The last step is a LogisticRegression"),
        (lambda: make_pipeline(AudioLoader(sr=SR), CRNNEventDetector()), {}, TypeError,
         "The last step is a CRNNEventDetector"),
        (pipeline, {"chunk_size": 0}, ValueError, "chunk_size"),
        (pipeline, {"n_passes": 1.5}, TypeError, "n_passes"),
        (lambda: pipeline(CRNNRegressor), {"classes": [0, 1]}, ValueError,
         "classes is for a classifier of 1-D labels"),
    ],
)
def test_bad_arguments(files, make, kwargs, error, match):
    paths, y = files
    with pytest.raises(error, match=match):
        fit_in_chunks(make(), paths, y, **kwargs)
    with pytest.raises(ValueError, match="30 clips but y has 29"):
        fit_in_chunks(pipeline(), paths, y[:-1])
