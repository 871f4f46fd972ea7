"""sk_crnn.mlflow: an MLflow flavour stored with sk_crnn.save (never pickled), its pyfunc, and
autologging of fits."""

import _pickle
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.pipeline import make_pipeline

import sk_crnn
from sk_crnn import (
    AudioLoader,
    CRNNClassifier,
    CRNNEmbedder,
    CRNNEventDetector,
    CRNNRegressor,
    CRNNTranscriber,
    MelSpectrogramTransformer,
)
from sk_crnn.datasets import make_sound_scenes, make_tone_clips, make_tone_phrases
from sk_crnn.persistence import ModelFileError

mlflow = pytest.importorskip("mlflow")
pd = pytest.importorskip("pandas")
import sk_crnn.mlflow as skm  # noqa: E402 - after the skip
from sk_crnn import _mlflow_autolog as skm_autolog  # noqa: E402

SR = 8000
TINY = {"max_epochs": 1, "module__conv_channels": (4,), "module__rnn_hidden": 4,
        "random_state": 0}


def mel(**kwargs):
    return MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=128, n_mels=16, **kwargs)


# -- fitted models, one per estimator type ------------------------------------------------------
@pytest.fixture(scope="module")
def clips():
    return make_tone_clips(12, sr=SR, duration=0.25, random_state=0)


@pytest.fixture(scope="module")
def models(clips):
    """``{kind: (pipeline, X, method)}``: each estimator type in a Pipeline after the
    spectrogram transformer, fitted, with clips and the method mlflow.pyfunc calls."""
    X, y = clips
    scenes, events = make_sound_scenes(4, duration=1.0, sr=SR, random_state=0)
    phrases, transcripts = make_tone_phrases(6, n_words=3, random_state=0)
    detector = make_pipeline(mel(), CRNNEventDetector(frame_rate=SR / 128, **TINY)).fit(
        scenes, events)
    proba = detector.predict_proba(scenes)
    detector[-1].set_params(threshold=float(np.quantile(proba, 0.9)))  # some events
    asr_mel = MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=80, n_mels=16, n_mfcc=8,
                                        normalize="band")
    return {
        "classifier": (make_pipeline(mel(), CRNNClassifier(**TINY)).fit(
            X, np.array(["low", "high"])[y]), X, "predict"),
        "regressor": (make_pipeline(mel(), CRNNRegressor(**TINY)).fit(X, X.std(axis=1)),
                      X, "predict"),
        "detector": (detector, scenes, "predict"),
        "transcriber": (make_pipeline(asr_mel, CRNNTranscriber(**TINY)).fit(
            phrases, transcripts), phrases, "predict"),
        "embedder": (make_pipeline(mel(), CRNNEmbedder(embedding_dim=4, **TINY)).fit(X, y),
                     X, "transform"),
    }


def assert_same_output(a, b):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def as_list(X):
    return [np.asarray(x) for x in X]


# -- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["classifier", "regressor", "detector", "transcriber",
                                  "embedder"])
def test_every_estimator_round_trips_with_identical_outputs(models, kind, tmp_path):
    model, X, method = models[kind]
    skm.save_model(model, tmp_path / "model")
    restored = skm.load_model(tmp_path / "model")
    assert type(restored[-1]) is type(model[-1])
    expected = getattr(model, method)(X)
    if kind == "detector":
        assert restored.predict(X) == expected
        np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    else:
        np.testing.assert_array_equal(getattr(restored, method)(X), expected)

    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    output = pyfunc.predict(pd.DataFrame({"audio": as_list(X)}))
    if kind == "detector":  # one row per event: (clip, onset, offset, label)
        assert list(output.columns) == ["clip", "onset", "offset", "label"]
        assert len(output) > 0
        rows = [(clip, onset, offset, label) for clip, events in enumerate(expected)
                for onset, offset, label in events]
        assert list(output.itertuples(index=False, name=None)) == rows
    else:
        np.testing.assert_array_equal(np.asarray(output), expected)


def test_pyfunc_takes_arrays_lists_series_and_paths(models, clips, tmp_path):
    sf = pytest.importorskip("soundfile")
    model, X, _ = models["classifier"]
    expected = model.predict(X)
    skm.save_model(model, tmp_path / "model")  # no signature: any of these inputs
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    paths = []
    for i, clip in enumerate(X):
        paths.append(str(tmp_path / f"{i}.wav"))
        sf.write(paths[-1], clip, SR, subtype="FLOAT")
    for data in (X, as_list(X), pd.Series(as_list(X)), pd.DataFrame({"path": paths}),
                 pd.DataFrame({"audio": [x.tolist() for x in X]}), paths):
        np.testing.assert_array_equal(pyfunc.predict(data), expected)

    # a model that starts with an AudioLoader reads paths its way and skips it for arrays
    with_loader = make_pipeline(AudioLoader(sr=SR), *[step for _, step in model.steps])
    skm.save_model(with_loader, tmp_path / "loader")
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "loader"))
    np.testing.assert_array_equal(pyfunc.predict(pd.DataFrame({"path": paths})), expected)
    np.testing.assert_array_equal(pyfunc.predict(X), expected)

    with pytest.raises(ValueError, match="2 columns"):
        pyfunc.predict(pd.DataFrame({"a": paths, "b": paths}))
    with pytest.raises(TypeError, match="mixes file paths and audio arrays"):
        pyfunc.predict([paths[0], X[0]])


def test_input_example_gives_a_signature_of_one_column_of_clips(models, tmp_path):
    model, X, _ = models["classifier"]
    skm.save_model(model, tmp_path / "model", input_example=X[:2])
    meta = mlflow.models.Model.load(str(tmp_path / "model"))
    inputs = meta.signature.inputs.to_dict()
    assert [(c["name"], c["type"], c["items"]["type"]) for c in inputs] == [
        ("audio", "array", "double")]
    assert meta.signature.outputs.to_dict()[0]["type"] == "string"
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    shorter = [x[:1500] for x in X[:3]]  # any length passes the signature
    np.testing.assert_array_equal(pyfunc.predict(pd.DataFrame({"audio": shorter})),
                                  model.predict(shorter))

    skm.save_model(model, tmp_path / "none", input_example=X[:2], signature=False)
    assert mlflow.models.Model.load(str(tmp_path / "none")).signature is None


def test_pyfunc_predict_fn_is_checked_and_used(models, tmp_path):
    model, X, _ = models["classifier"]
    skm.save_model(model, tmp_path / "proba", pyfunc_predict_fn="predict_proba")
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "proba"))
    np.testing.assert_array_equal(pyfunc.predict(X), model.predict_proba(X))
    embedder, _, _ = models["embedder"]
    with pytest.raises(ValueError, match="has no predict"):
        skm.save_model(embedder, tmp_path / "bad", pyfunc_predict_fn="predict")
    with pytest.raises(ValueError, match="must be one of"):
        skm.save_model(model, tmp_path / "bad2", pyfunc_predict_fn="score")


# -- never pickle --------------------------------------------------------------------------------
@pytest.fixture
def no_unpickling(monkeypatch):
    """Every way to unpickle raises, except numba's own cache (under librosa)."""
    def guard(original, name):
        def refuse(*args, **kwargs):
            if sys._getframe(1).f_globals.get("__name__", "").startswith("numba."):
                return original(*args, **kwargs)
            raise AssertionError(f"{name} was called")
        return refuse

    for module in (pickle, _pickle):
        for name in ("load", "loads", "Unpickler"):
            monkeypatch.setattr(module, name, guard(getattr(module, name), name))
    cloudpickle = sys.modules.get("cloudpickle")
    if cloudpickle is not None:
        for name in ("load", "loads"):
            monkeypatch.setattr(cloudpickle, name, guard(getattr(cloudpickle, name), name))


def test_the_model_directory_holds_no_pickle_and_loads_without_one(models, tmp_path,
                                                                    no_unpickling):
    model, X, _ = models["classifier"]
    expected = model.predict(X)
    skm.save_model(model, tmp_path / "model", input_example=X[:2])
    files = {p.name for p in (tmp_path / "model").iterdir()}
    assert "model.skcrnn" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib", ".skops"))]
    meta = yaml.safe_load((tmp_path / "model" / "MLmodel").read_text())
    assert meta["flavors"]["python_function"]["loader_module"] == "sk_crnn.mlflow"
    assert meta["flavors"]["sk_crnn"]["model_file"] == "model.skcrnn"
    requirements = (tmp_path / "model" / "requirements.txt").read_text().split()
    assert any(r.startswith("sk-crnn") for r in requirements)
    assert not [r for r in requirements if r.startswith(("cloudpickle", "skops"))]

    np.testing.assert_array_equal(skm.load_model(tmp_path / "model").predict(X), expected)
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    np.testing.assert_array_equal(pyfunc.predict(pd.DataFrame({"audio": as_list(X)})),
                                  expected)


def test_a_tampered_directory_is_refused_without_unpickling(models, tmp_path, no_unpickling):
    model, X, _ = models["regressor"]
    pickled = pickle.dumps({"not": "a model"})
    with pytest.raises(AssertionError, match="loads was called"):
        pickle.loads(pickled)  # the guard is on

    def saved(name):
        skm.save_model(model, tmp_path / name)
        mlmodel = tmp_path / name / "MLmodel"
        return mlmodel, yaml.safe_load(mlmodel.read_text())

    # a pickle in place of the model file
    saved("swapped")
    (tmp_path / "swapped" / "model.skcrnn").write_bytes(pickled)
    with pytest.raises(ModelFileError):
        skm.load_model(tmp_path / "swapped")
    with pytest.raises(ModelFileError):
        mlflow.pyfunc.load_model(str(tmp_path / "swapped"))

    # a python_function flavour rewritten to load a pickle: load_model never reads it
    mlmodel, meta = saved("loader")
    meta["flavors"]["python_function"].update(loader_module="mlflow.sklearn",
                                              model_path="model.pkl", code="code")
    mlmodel.write_text(yaml.safe_dump(meta))
    (tmp_path / "loader" / "model.pkl").write_bytes(pickled)
    np.testing.assert_array_equal(skm.load_model(tmp_path / "loader").predict(X),
                                  model.predict(X))

    # a model file outside the directory, and no sk_crnn flavour
    mlmodel, meta = saved("outside")
    meta["flavors"]["sk_crnn"]["model_file"] = "../swapped/model.skcrnn"
    mlmodel.write_text(yaml.safe_dump(meta))
    with pytest.raises(ValueError, match="outside the model directory"):
        skm.load_model(tmp_path / "outside")
    del meta["flavors"]["sk_crnn"]
    mlmodel.write_text(yaml.safe_dump(meta))
    with pytest.raises(mlflow.exceptions.MlflowException, match="sk_crnn"):
        skm.load_model(tmp_path / "outside")


def test_a_clear_import_error_without_mlflow(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` raises ImportError
    for call in (lambda: skm.save_model(None, tmp_path / "m"), lambda: skm.load_model("x"),
                 lambda: skm.log_model(None), skm.autolog):
        with pytest.raises(ImportError, match=r'pip install "sk-crnn\[mlflow\]"'):
            call()


# -- tracking: log_model and autolog -------------------------------------------------------------
@pytest.fixture(scope="module")
def tracking(tmp_path_factory):
    """A local file store (MLflow 3's file store needs MLFLOW_ALLOW_FILE_STORE; no server)."""
    root = tmp_path_factory.mktemp("tracking") / "mlruns"  # created with its default experiment
    previous = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow.set_tracking_uri(root.as_uri())
        yield mlflow.MlflowClient()
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)


def test_log_model_returns_model_info_that_loads(models, tracking):
    model, X, _ = models["embedder"]
    with mlflow.start_run() as run:
        info = skm.log_model(model, name="embedder", input_example=X[:2])
    assert info.run_id == run.info.run_id
    assert info.flavors["python_function"]["loader_module"] == "sk_crnn.mlflow"
    np.testing.assert_array_equal(skm.load_model(info.model_uri).transform(X),
                                  model.transform(X))
    pyfunc = mlflow.pyfunc.load_model(info.model_uri)
    np.testing.assert_array_equal(pyfunc.predict(pd.DataFrame({"audio": as_list(X)})),
                                  model.transform(X))


@pytest.fixture
def autologging():
    skm.autolog()
    yield
    skm.autolog(disable=True)


def test_autolog_logs_simple_params_and_the_curve_per_epoch(clips, tracking, autologging):
    X, y = clips
    pipe = make_pipeline(mel(), CRNNClassifier(**{**TINY, "max_epochs": 2},
                                               validation_fraction=0.5))
    with mlflow.start_run() as run:
        pipe.fit(X, y)
    data = tracking.get_run(run.info.run_id).data
    params = data.params
    assert params["crnnclassifier__max_epochs"] == "2"
    assert params["crnnclassifier__lr"] == str(pipe[-1].lr)
    assert params["melspectrogramtransformer__n_mels"] == "16"
    assert params["crnnclassifier__validation_fraction"] == "0.5"
    # not the network or optimizer classes, tuples, or skorch's callback parameters
    simple = skm_autolog.simple_params(pipe)
    assert params == {k: str(v) for k, v in simple.items()}
    assert not {"crnnclassifier__module", "crnnclassifier__optimizer",
                "crnnclassifier__module__conv_channels"} & set(params)
    assert params["crnnclassifier__module__rnn_hidden"] == "4"
    assert not [k for k in params if "callbacks__" in k]
    assert not [v for v in params.values() if v.startswith("<")]
    assert data.tags["estimator_name"] == "Pipeline"
    for key in ("train_loss", "valid_loss", "valid_acc"):
        history = tracking.get_metric_history(run.info.run_id, key)
        assert [m.step for m in history] == [1, 2]
        np.testing.assert_allclose([m.value for m in history], pipe[-1].history[:, key])


def test_autolog_starts_a_run_for_a_bare_estimator_and_turns_off(clips, tracking,
                                                                 autologging):
    X, y = clips
    S = mel().fit_transform(X)
    net = CRNNRegressor(**TINY).fit(S, X.std(axis=1))
    run = mlflow.last_active_run()
    assert mlflow.active_run() is None  # the run started for the fit has ended
    assert run.info.status == "FINISHED"
    assert run.data.params["max_epochs"] == "1"  # a bare estimator: names as in get_params
    assert run.data.tags["estimator_name"] == "CRNNRegressor"
    assert [m.step for m in tracking.get_metric_history(run.info.run_id, "train_loss")] == [1]
    assert net.history[-1, "epoch"] == 1

    from sk_crnn._base import SpectrogramNet

    skm.autolog(disable=True)
    assert SpectrogramNet._train.__module__ == "sk_crnn._base"
    CRNNRegressor(**TINY).fit(S, X.std(axis=1))
    assert mlflow.last_active_run().info.run_id == run.info.run_id  # no new run


def test_autolog_continues_the_curve_over_partial_fit_calls(clips, tracking, autologging):
    X, y = clips
    S = mel().fit_transform(X)
    net = CRNNClassifier(**TINY)
    with mlflow.start_run() as run:
        for _ in range(3):
            net.partial_fit(S, y, classes=[0, 1])
    steps = [m.step for m in tracking.get_metric_history(run.info.run_id, "train_loss")]
    assert sorted(steps) == [1, 2, 3]


def test_autolog_warns_when_it_cannot_log_and_the_fit_goes_on(clips, tracking, autologging):
    X, y = clips
    S = mel().fit_transform(X)
    with mlflow.start_run():
        CRNNClassifier(**TINY).fit(S, y)
        with pytest.warns(UserWarning, match="could not log the parameters"):
            net = CRNNClassifier(**{**TINY, "max_epochs": 2}).fit(S, y)  # a changed value
    assert len(net.history) == 2


def test_public_names_exist():
    assert set(skm.__all__) == {"FLAVOR_NAME", "autolog", "get_default_pip_requirements",
                                "load_model", "log_model", "save_model"}
    assert skm.FLAVOR_NAME == "sk_crnn"
    assert Path(skm.__file__).name == "mlflow.py"
    assert sk_crnn.mlflow is skm
