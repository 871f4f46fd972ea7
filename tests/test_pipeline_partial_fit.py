"""sk_crnn.make_pipeline: a Pipeline trained epoch by epoch with partial_fit, as searches
that prune (Optuna) or train incrementally (dask-ml) drive it."""

import json
import warnings
import zipfile

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.pipeline import make_pipeline as sklearn_make_pipeline
from sklearn.svm import SVC
from test_persistence_fuzz import rewrite

import sk_crnn
from sk_crnn import CRNNClassifier, CRNNRegressor, MelSpectrogramTransformer, make_pipeline
from sk_crnn.datasets import make_tone_clips
from sk_crnn.persistence import ModelFileError
from sk_crnn.pipeline import CRNNPipeline

SR = 8000


def mel():
    # band statistics: fitted state that a second fit on other clips would change
    return MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=128, n_mels=16,
                                     normalize="band")


def front_end_state(transformer):
    return {k: np.copy(v) for k, v in vars(transformer).items() if k.endswith("_")}


@pytest.fixture(scope="module")
def clips():
    X, y = make_tone_clips(24, sr=SR, duration=0.25, n_classes=3, random_state=0)
    return X, np.array(["low", "mid", "high"])[y]


@pytest.fixture
def pipe(tiny):
    return make_pipeline(mel(), CRNNClassifier(random_state=0, **tiny))


def test_make_pipeline_is_sklearns_with_partial_fit(pipe, tiny):
    assert type(pipe) is CRNNPipeline and isinstance(pipe, Pipeline)
    reference = sklearn_make_pipeline(mel(), CRNNClassifier(random_state=0, **tiny))
    assert [n for n, _ in pipe.steps] == [n for n, _ in reference.steps]
    assert pipe.get_params(deep=False).keys() == reference.get_params(deep=False).keys()
    assert make_pipeline(mel(), CRNNClassifier(), memory=None, verbose=True).verbose is True
    # only where the last step has partial_fit
    no_partial = make_pipeline(mel(), SVC())
    assert not hasattr(no_partial, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as info:
        _ = no_partial.partial_fit
    assert "its last step (SVC) has none" in str(info.value.__cause__)


def test_partial_fit_fits_the_front_end_once_then_trains_max_epochs_more(pipe, clips, tiny):
    X, y = clips
    pipe.partial_fit(X, y)
    transformer = pipe[0]
    fitted = front_end_state(transformer)
    assert fitted["n_samples_"] == X.shape[1]
    assert len(pipe[-1].history) == tiny["max_epochs"]

    # other clips, shorter: a refit would change the clip length and the band statistics
    pipe.partial_fit(X[:12, : X.shape[1] // 2], y[:12])
    assert pipe[0] is transformer
    for key, value in front_end_state(transformer).items():
        assert_array_equal(value, fitted[key], err_msg=key)
    assert len(pipe[-1].history) == 2 * tiny["max_epochs"]
    assert pipe.predict(X).shape == (len(X),)


def test_two_partial_fits_are_the_front_end_then_two_partial_fits_of_the_net(pipe, clips):
    """What the pipeline does, written out by hand with the same seeds: the same weights."""
    X, y = clips
    chunks = [(X[:16], y[:16]), (X[8:], y[8:])]
    for Xc, yc in chunks:
        pipe.partial_fit(Xc, yc)
    transformer, net = clone(pipe[0]), clone(pipe[-1])
    transformer.fit(chunks[0][0])
    for Xc, yc in chunks:
        net.partial_fit(transformer.transform(Xc), yc)
    assert_allclose(pipe.predict_proba(X), net.predict_proba(transformer.transform(X)),
                    rtol=0, atol=1e-6)


def test_partial_fit_continues_a_fitted_pipeline(pipe, clips, tiny):
    X, y = clips
    pipe.fit(X, y)
    fitted = front_end_state(pipe[0])
    pipe.partial_fit(X[:12], y[:12])
    assert len(pipe[-1].history) == 2 * tiny["max_epochs"]
    assert_array_equal(pipe[0].band_mean_, fitted["band_mean_"])
    # a clone starts again: the front end is fitted on its first chunk
    fresh = clone(pipe).partial_fit(X[:12], y[:12])
    assert len(fresh[-1].history) == tiny["max_epochs"]
    assert not np.array_equal(fresh[0].band_mean_, fitted["band_mean_"])


def test_classes_on_the_first_call_when_its_chunk_lacks_a_class(pipe, clips):
    X, y = clips
    first = y != "high"
    pipe.partial_fit(X[first], y[first], classes=["high", "low", "mid"])
    assert_array_equal(pipe.classes_, ["high", "low", "mid"])
    assert pipe.predict_proba(X).shape == (len(X), 3)
    pipe.partial_fit(X, y)  # the third class arrives; later calls may omit classes
    assert set(pipe.predict(X)) <= {"high", "low", "mid"}

    fresh = clone(pipe)
    fresh.partial_fit(X[first], y[first])  # no classes: the network learns two
    with pytest.raises(ValueError, match="high"):
        fresh.partial_fit(X, y)


def test_step_parameters_and_a_regressor(clips, tiny):
    X, _ = clips
    target = np.linspace(0, 1, len(X)).astype("float32")
    pipe = make_pipeline(mel(), CRNNRegressor(random_state=0, **tiny))
    weights = np.ones(len(X))
    weights[::2] = 0
    pipe.partial_fit(X, target, crnnregressor__sample_weight=weights)  # no classes passed
    assert len(pipe[-1].history) == tiny["max_epochs"]
    with pytest.raises(ValueError, match="'sample_weight', which names no step.*"
                                         "crnnregressor__sample_weight"):
        pipe.partial_fit(X, target, sample_weight=weights)
    with pytest.raises(ValueError, match="'nostep__x', which names no step"):
        pipe.partial_fit(X, target, nostep__x=1)


def test_clone_params_grid_search_and_joblib(pipe, clips, tmp_path):
    X, y = clips
    twin = clone(pipe).set_params(crnnclassifier__lr=0.02, melspectrogramtransformer__n_mels=12)
    assert type(twin) is CRNNPipeline
    assert twin.get_params()["crnnclassifier__lr"] == 0.02
    assert pipe.get_params()["crnnclassifier__lr"] != 0.02
    assert type(pipe[:1]) is CRNNPipeline

    search = GridSearchCV(pipe.set_params(crnnclassifier__max_epochs=1),
                          {"crnnclassifier__lr": [1e-3, 1e-2]}, cv=2).fit(X, y)
    assert type(search.best_estimator_) is CRNNPipeline

    model = search.best_estimator_
    joblib.dump(model, tmp_path / "m.joblib")
    restored = joblib.load(tmp_path / "m.joblib")
    assert type(restored) is CRNNPipeline
    assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    restored.partial_fit(X, y)
    assert len(restored[-1].history) == 2


def test_save_and_load_round_trip(pipe, clips, tmp_path):
    X, y = clips
    pipe.partial_fit(X[:12], y[:12], classes=["high", "low", "mid"])
    path = tmp_path / "m.skcrnn"
    sk_crnn.save(pipe, path)
    restored = sk_crnn.load(path)
    assert type(restored) is CRNNPipeline
    assert restored.get_params(deep=False).keys() == pipe.get_params(deep=False).keys()
    assert_array_equal(restored.predict_proba(X), pipe.predict_proba(X))
    # the loaded pipeline is fitted: it continues, with its front end as saved
    band_mean = restored[0].band_mean_.copy()
    restored.partial_fit(X[12:], y[12:])
    assert len(restored[-1].history) == 2 * len(pipe[-1].history)
    assert_array_equal(restored[0].band_mean_, band_mean)

    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("model.json"))["class"] == \
            "sk_crnn.pipeline.CRNNPipeline"
    # a file that names no pipeline class (written before they had one) is scikit-learn's
    rewrite(path, edit_tree=lambda tree: tree.pop("class"))
    assert type(sk_crnn.load(path)) is Pipeline
    rewrite(path, edit_tree=lambda tree: tree.update({"class": "imblearn.pipeline.Pipeline"}))
    with pytest.raises(ModelFileError, match="a pipeline of type 'imblearn.pipeline.Pipeline',"
                                             " which sk_crnn.load does not rebuild"):
        sk_crnn.load(path)


def test_optuna_search_with_pruning(clips, tiny):
    """Optuna's OptunaSearchCV(enable_pruning=True) calls partial_fit max_iter times per
    trial and fold, reporting the score after each."""
    pytest.importorskip("optuna")
    integration = pytest.importorskip("optuna_integration")
    from optuna.distributions import FloatDistribution
    from optuna.exceptions import ExperimentalWarning

    X, y = clips
    pipe = make_pipeline(mel(), CRNNClassifier(random_state=0, **{**tiny, "max_epochs": 1}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)  # OptunaSearchCV is experimental
        search = integration.OptunaSearchCV(
            pipe, {"crnnclassifier__lr": FloatDistribution(1e-3, 1e-1, log=True)},
            enable_pruning=True, max_iter=2, n_trials=2, cv=2, random_state=0)
    search.fit(X, y)
    assert len(search.trials_) == 2
    for trial in search.trials_:
        assert sorted(trial.intermediate_values) == [0, 1]  # one report per partial_fit step
    assert type(search.best_estimator_) is CRNNPipeline
    assert search.predict(X).shape == (len(X),)


def _dask_ml_incremental_search_works():
    """dask-ml's incremental searches (HyperbandSearchCV, IncrementalSearchCV) call
    ``dask.persist`` inside their asynchronous fit, which dask 2025.3.0 made an error
    (dask/dask-ml#1016); dask-ml 2025.1.0, its latest release, runs with dask and
    distributed 2025.1.x and 2025.2.0 only."""
    import dask
    import dask_ml
    from packaging.version import Version

    return (Version(dask.__version__) < Version("2025.3.0")
            or Version(dask_ml.__version__) > Version("2025.1.0"))


@pytest.mark.slow  # a local Dask cluster and a Hyperband search (about 13 s)
def test_dask_ml_hyperband_search(clips, tiny):
    pytest.importorskip("distributed")
    model_selection = pytest.importorskip("dask_ml.model_selection")
    if not _dask_ml_incremental_search_works():
        pytest.skip("dask-ml's incremental searches fail on dask>=2025.3.0 "
                    "(dask/dask-ml#1016): install dask[distributed]==2025.2.0")
    import dask.array as da
    from distributed import Client, LocalCluster

    X, y = clips
    pipe = make_pipeline(mel(), CRNNClassifier(random_state=0, **{**tiny, "max_epochs": 1}))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster):
        search = model_selection.HyperbandSearchCV(
            pipe, {"crnnclassifier__lr": [1e-3, 1e-2]}, max_iter=3, random_state=0)
        # a dask array of waveforms: each partial_fit gets one block of 8 clips
        search.fit(da.from_array(X, chunks=(8, -1)), da.from_array(y, chunks=8),
                   classes=["high", "low", "mid"])
    assert type(search.best_estimator_) is CRNNPipeline
    assert 1 <= len(search.best_estimator_[-1].history) <= 3
    assert search.best_estimator_.predict(X).shape == (len(X),)


def test_dask_ml_incremental_wrapper(clips, tiny):
    """dask-ml's Incremental (no search) passes each block of a dask array to partial_fit;
    it runs on current dask too."""
    dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")
    import dask.array as da

    X, y = clips
    pipe = make_pipeline(mel(), CRNNClassifier(random_state=0, **{**tiny, "max_epochs": 1}))
    incremental = dask_ml_wrappers.Incremental(pipe).fit(
        da.from_array(X, chunks=(8, -1)), da.from_array(y, chunks=8),
        classes=["high", "low", "mid"])
    assert type(incremental.estimator_) is CRNNPipeline
    assert len(incremental.estimator_[-1].history) == 3  # one epoch per block
    assert incremental.predict(da.from_array(X, chunks=(8, -1))).compute().shape == (len(X),)


def test_docstring_examples_run():
    import doctest

    import sk_crnn.pipeline

    result = doctest.testmod(sk_crnn.pipeline)
    assert result.attempted and not result.failed
