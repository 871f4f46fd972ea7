"""The Pipeline contract on raw waveforms: CV, GridSearchCV, clone, joblib in a new process."""

import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from sk_crnn import CRNNClassifier, CRNNRegressor, MelSpectrogramTransformer
from sk_crnn.datasets import make_tone_clips

SR = 8000


def tiny_pipeline(**crnn_params):
    params = dict(max_epochs=3, batch_size=16, lr=3e-3, module__conv_channels=(4, 8),
                  module__rnn_hidden=8, random_state=0)
    params.update(crnn_params)
    return make_pipeline(
        MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=128, n_mels=16),
        CRNNClassifier(**params),
    )


@pytest.fixture(scope="module")
def clips():
    X, y = make_tone_clips(48, sr=SR, duration=0.25, n_classes=2, random_state=0)
    return X, np.array(["low", "high"])[y]


@pytest.fixture(scope="module")
def ragged_clips():
    X, y = make_tone_clips(48, sr=SR, duration=0.3, n_classes=2, varying_length=True,
                           random_state=1)
    return X, np.array(["low", "high"])[y]


@pytest.mark.parametrize("data", ["clips", "ragged_clips"])
def test_cross_val_score_on_raw_waveforms(data, request):
    X, y = request.getfixturevalue(data)
    scores = cross_val_score(tiny_pipeline(), X, y, cv=StratifiedKFold(3))
    assert scores.shape == (3,)
    assert np.all((scores >= 0) & (scores <= 1))


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("data", ["clips", "ragged_clips"])
def test_grid_search_over_both_steps(data, n_jobs, request):
    X, y = request.getfixturevalue(data)
    grid = {
        "melspectrogramtransformer__n_mels": [12, 16],
        "crnnclassifier__lr": [3e-3],
        "crnnclassifier__module__rnn_type": ["gru", "lstm"],
    }
    search = GridSearchCV(tiny_pipeline(max_epochs=2), grid, cv=2, n_jobs=n_jobs)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert set(search.predict(X)) <= {"low", "high"}
    best = search.best_estimator_
    assert best.named_steps["crnnclassifier"].module_.rnn_type == (
        search.best_params_["crnnclassifier__module__rnn_type"])
    assert best.named_steps["crnnclassifier"].n_mels_in_ == (
        search.best_params_["melspectrogramtransformer__n_mels"])


def test_grid_search_is_reproducible_across_n_jobs(clips):
    X, y = clips
    grid = {"crnnclassifier__lr": [1e-3, 3e-3]}
    results = [
        GridSearchCV(tiny_pipeline(max_epochs=2), grid, cv=2, n_jobs=n).fit(X, y)
        for n in (1, 2)
    ]
    np.testing.assert_allclose(results[0].cv_results_["mean_test_score"],
                               results[1].cv_results_["mean_test_score"])


def test_clone_and_deep_params_round_trip(clips):
    pipe = tiny_pipeline()
    params = pipe.get_params(deep=True)
    assert params["crnnclassifier__module__rnn_hidden"] == 8
    assert params["melspectrogramtransformer__n_mels"] == 16
    pipe.set_params(crnnclassifier__module__rnn_type="lstm", melspectrogramtransformer__n_mels=12)
    twin = clone(pipe)
    assert twin.get_params(deep=True)["crnnclassifier__module__rnn_type"] == "lstm"
    X, y = clips
    twin.fit(X, y)
    assert twin.named_steps["crnnclassifier"].module_.rnn_type == "lstm"
    assert not hasattr(pipe.named_steps["crnnclassifier"], "module_")


def test_random_state_gives_identical_refits(clips):
    X, y = clips
    a = tiny_pipeline().fit(X, y).predict_proba(X)
    b = tiny_pipeline().fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


LOAD_AND_PREDICT = textwrap.dedent(
    """
    import sys
    import joblib
    import numpy as np
    model = joblib.load(sys.argv[1])
    X = np.load(sys.argv[2], allow_pickle=True)
    np.save(sys.argv[3], model.predict_proba(list(X) if X.dtype == object else X))
    """
)


def predict_in_new_process(model_path, X, tmp_path):
    x_path, out_path = tmp_path / "X.npy", tmp_path / "proba.npy"
    if isinstance(X, list):
        obj = np.empty(len(X), dtype=object)
        obj[:] = X
        X = obj
    np.save(x_path, X, allow_pickle=True)
    subprocess.run([sys.executable, "-c", LOAD_AND_PREDICT, str(model_path), str(x_path),
                    str(out_path)], check=True, capture_output=True, timeout=120)
    return np.load(out_path)


# A fresh interpreter costs about 4 s: the ragged variant runs with the slow tests.
@pytest.mark.parametrize("data", ["clips", pytest.param("ragged_clips", marks=pytest.mark.slow)])
def test_joblib_pipeline_in_new_process(data, request, tmp_path):
    X, y = request.getfixturevalue(data)
    pipe = tiny_pipeline().fit(X, y)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    np.testing.assert_array_equal(predict_in_new_process(tmp_path / "pipe.joblib", X, tmp_path),
                                  pipe.predict_proba(X))


def test_joblib_grid_search_in_new_process(clips, tmp_path):
    X, y = clips
    search = GridSearchCV(tiny_pipeline(max_epochs=2), {"crnnclassifier__lr": [1e-3, 3e-3]},
                          cv=2).fit(X, y)
    joblib.dump(search, tmp_path / "search.joblib")
    np.testing.assert_array_equal(
        predict_in_new_process(tmp_path / "search.joblib", X, tmp_path), search.predict_proba(X))


class ThreadProbe(Callback):
    """Records how many threads torch uses while the net trains."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        net.torch_threads_seen_ = torch.get_num_threads()


def test_parallel_workers_use_their_share_of_threads(clips):
    X, y = clips
    pipe = tiny_pipeline(max_epochs=1, callbacks=[("threads", ThreadProbe())])
    result = cross_validate(pipe, X, y, cv=2, n_jobs=2, return_estimator=True)
    cores = joblib.cpu_count()
    for fitted in result["estimator"]:
        seen = fitted.named_steps["crnnclassifier"].torch_threads_seen_
        assert seen <= max(1, cores // 2)


def test_regressor_pipeline_on_waveforms(clips):
    X, _ = clips
    target = np.abs(X).mean(axis=1) * 10  # loudness
    pipe = make_pipeline(
        MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=128, n_mels=16),
        CRNNRegressor(max_epochs=3, module__conv_channels=(4,), module__rnn_hidden=8,
                      random_state=0),
    )
    scores = cross_val_score(pipe, X, target, cv=2)
    assert scores.shape == (2,)
    pred = pipe.fit(X, target).predict(X)
    assert pred.shape == target.shape
