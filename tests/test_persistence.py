"""sk_crnn.save / sk_crnn.load: model files that hold data only, never code."""

import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import load as load_tensors
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted
from test_persistence_fuzz import net_node, rewrite

import sk_crnn
from sk_crnn import (
    AudioLoader,
    CRNNClassifier,
    CRNNEmbedder,
    CRNNEventDetector,
    CRNNRegressor,
    MelSpectrogramTransformer,
)
from sk_crnn._base import SpectrogramNet
from sk_crnn.baselines import mean_std_pool, mfcc_baseline
from sk_crnn.datasets import make_sound_scenes, make_tone_clips, make_tone_phrases
from sk_crnn.persistence import atomic_write, registry, sniff
from sk_crnn.transcription import CRNNTranscriber

SR = 8000
TINY = {"module__conv_channels": (4,), "module__rnn_hidden": 4, "random_state": 0}


def mel(**kwargs):
    return MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=128, n_mels=16, **kwargs)


@pytest.fixture(scope="module")
def clips():
    return make_tone_clips(12, sr=SR, duration=0.25, random_state=0)


@pytest.fixture(scope="module")
def classifier(clips):
    X, y = clips
    return make_pipeline(mel(), CRNNClassifier(max_epochs=2, **TINY)).fit(
        X, np.array(["low", "high"])[y])


@pytest.fixture(scope="module")
def regressor(clips):
    X, _ = clips
    return make_pipeline(mel(normalize="band"), CRNNRegressor(max_epochs=2, **TINY)).fit(
        X, X.std(axis=1))


@pytest.fixture(scope="module")
def detector():
    X, events = make_sound_scenes(4, duration=1.0, sr=SR, random_state=0)
    return make_pipeline(mel(), CRNNEventDetector(max_epochs=2, frame_rate=SR / 128, **TINY)
                         ).fit(X, events), X


# -- round trips ---------------------------------------------------------------------------------
def assert_same_params(a, b):
    assert type(a) is type(b)
    if isinstance(a, str):  # "passthrough"
        assert a == b
        return
    pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    if isinstance(a, Pipeline):
        for (na, sa), (nb, sb) in zip(pa.pop("steps"), pb.pop("steps")):
            assert na == nb
            assert_same_params(sa, sb)
    assert pa == pb


def test_classifier_pipeline_round_trip(classifier, clips, tmp_path):
    X, _ = clips
    path = tmp_path / "clf.skcrnn"
    sk_crnn.save(classifier, path)
    restored = sk_crnn.load(path)
    assert_same_params(restored, classifier)
    check_is_fitted(restored[-1])
    np.testing.assert_array_equal(restored.predict_proba(X), classifier.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), classifier.predict(X))
    assert restored[-1].classes_.dtype == classifier[-1].classes_.dtype
    assert restored[-1].n_mels_in_ == classifier[-1].n_mels_in_
    assert len(restored[-1].history) == 2  # the training history is kept


def test_regressor_and_detector_round_trip(regressor, detector, clips, tmp_path):
    X, _ = clips
    sk_crnn.save(regressor, tmp_path / "reg.skcrnn")
    restored = sk_crnn.load(tmp_path / "reg.skcrnn")
    assert_same_params(restored, regressor)
    np.testing.assert_array_equal(restored.predict(X), regressor.predict(X))
    np.testing.assert_array_equal(restored[0].band_std_, regressor[0].band_std_)

    det, scenes = detector
    sk_crnn.save(det, tmp_path / "det.skcrnn")
    restored = sk_crnn.load(tmp_path / "det.skcrnn")
    assert_same_params(restored, det)
    np.testing.assert_array_equal(restored.predict_proba(scenes), det.predict_proba(scenes))
    assert restored.predict(scenes) == det.predict(scenes)
    np.testing.assert_array_equal(restored[-1].pos_weight_, det[-1].pos_weight_)


@pytest.mark.parametrize("labels", [
    np.array(["dog", "cat"]),
    np.array([3, 7], dtype=np.int8),
    np.array([10, 20], dtype=np.uint16),
    np.array([True, False]),
    np.array([1.0, 2.0]),
    np.array([1.0, 2.0], dtype=np.float32),
    np.array(["dog", "cat"], dtype=object),
], ids=lambda a: str(a.dtype))
def test_labels_of_any_type_round_trip(labels, clips, tmp_path):
    X, y = clips
    S = mel().fit_transform(X)
    net = CRNNClassifier(max_epochs=1, **TINY).fit(S, labels[y])
    sk_crnn.save(net, tmp_path / "net.skcrnn")
    restored = sk_crnn.load(tmp_path / "net.skcrnn")
    assert restored.classes_.dtype == net.classes_.dtype
    np.testing.assert_array_equal(restored.classes_, net.classes_)
    pred, expected = restored.predict(S), net.predict(S)
    assert pred.dtype == expected.dtype
    assert [type(v) for v in pred] == [type(v) for v in expected]
    np.testing.assert_array_equal(pred, expected)


VALUES = {
    "str": np.array(["a", "bcd"]),
    "int8": np.array([[1, -2]], dtype=np.int8),
    "uint64": np.array([2**63], dtype=np.uint64),
    "float16": np.array([0.5, np.nan], dtype=np.float16),
    "big_endian": np.array([1.5, 2.5], dtype=">f8"),
    "bool": np.array([True, False]),
    "empty": np.zeros((0, 3)),
    "zero_d": np.array(4.5),
    "complex": np.array([1 + 2j]),
    "datetime": np.array(["2024-01-01"], dtype="datetime64[D]"),
    "bytes": np.array([b"x", b"yz"]),
    "object": np.array(["a", None, 3, np.str_("b"), (1, 2)], dtype=object),
    "np_scalars": [np.int32(3), np.float32(np.nan), np.str_("s"), np.bool_(True), np.uint8(7)],
    "python": {"t": (1, (2.0, "x")), 5: float("inf"), "b": b"\x00", "s": {1}, "n": None},
    "dtype": [np.dtype("float32"), np.float64, torch.float16],
    "tensor": torch.arange(3, dtype=torch.bfloat16),
}


def assert_identical(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        if a.dtype == object:
            for x, y in zip(a.ravel(), b.ravel()):
                assert_identical(x, y)
        else:
            np.testing.assert_array_equal(a, b)
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_identical(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_identical(a[k], b[k])
    elif isinstance(a, (float, np.floating)) and np.isnan(a):
        assert np.isnan(b) and np.asarray(a).dtype == np.asarray(b).dtype
    else:
        assert a == b


@pytest.mark.parametrize("name", list(VALUES))
def test_fitted_attributes_keep_their_exact_type(name, tmp_path):
    scaler = StandardScaler().fit([[0.0], [1.0]])
    scaler.extra_ = VALUES[name]
    sk_crnn.save(scaler, tmp_path / "s.skcrnn")
    restored = sk_crnn.load(tmp_path / "s.skcrnn")
    assert_identical(restored.extra_, VALUES[name])
    assert_identical(restored.n_samples_seen_, scaler.n_samples_seen_)


def test_scikit_learn_steps_and_the_mfcc_baseline(clips, tmp_path):
    X, y = clips
    for model in [mfcc_baseline(SR, 256, 128).fit(X, y),
                  mfcc_baseline(SR, 256, 128, classifier=SVC()).fit(X, y)]:
        sk_crnn.save(model, tmp_path / "b.skcrnn")
        restored = sk_crnn.load(tmp_path / "b.skcrnn")
        assert restored[1].func is mean_std_pool
        np.testing.assert_array_equal(restored.decision_function(X), model.decision_function(X))
    # passthrough steps and unfitted estimators (parameters only)
    pipe = Pipeline([("loader", AudioLoader(sr=SR, progress_bar=None)), ("skip", "passthrough"),
                     ("net", CRNNClassifier(max_epochs=3))])
    sk_crnn.save(pipe, tmp_path / "p.skcrnn")
    restored = sk_crnn.load(tmp_path / "p.skcrnn")
    assert_same_params(restored, pipe)
    assert not hasattr(restored[-1], "module_")


def test_writes_through_a_temporary_file(classifier, tmp_path):
    path = tmp_path / "m.skcrnn"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        sk_crnn.save(make_pipeline(FunctionTransformer(lambda x: x)), path)
    assert path.read_bytes() == b"old"

    def fail_half_way(f):
        f.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, fail_half_way)
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["m.skcrnn"]
    sk_crnn.save(classifier, path)
    assert sniff(path) == "sk-crnn"
    assert sorted(os.listdir(tmp_path)) == ["m.skcrnn"]  # no temporary file left


def test_save_to_a_missing_folder_or_onto_a_folder_names_the_path(classifier, tmp_path):
    missing = tmp_path / "no" / "such" / "m.skcrnn"
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"the folder '{missing.parent}' of '{missing}' does not exist")):
        sk_crnn.save(classifier, missing)
    with pytest.raises(IsADirectoryError, match=re.escape(
            f"'{tmp_path}' is a folder; give the name of the file to write in it")):
        sk_crnn.save(classifier, tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        sk_crnn.save(classifier, str(tmp_path / "file" / "m.skcrnn"))
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_saving_an_interrupted_training_warns_with_the_epoch(clips, tmp_path):
    from helpers import InterruptAt

    X, y = clips
    S = mel().fit_transform(X)
    with warnings.catch_warnings():  # fit's own warning about the Ctrl-C
        warnings.simplefilter("ignore")
        net = CRNNClassifier(max_epochs=3, callbacks=[("stop", InterruptAt(1))], **TINY).fit(S, y)
    net.callbacks = None  # a callback object is not storable
    with pytest.warns(UserWarning, match="CRNNClassifier was interrupted \\(Ctrl-C\\) after 1 "
                                         "epoch\\(s\\) of max_epochs=3"):
        sk_crnn.save(net, tmp_path / "i.skcrnn")
    restored = sk_crnn.load(tmp_path / "i.skcrnn")
    assert restored.interrupted_epoch_ == 1
    np.testing.assert_array_equal(restored.predict_proba(S), net.predict_proba(S))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an uninterrupted net saves without a warning
        sk_crnn.save(restored.set_params(max_epochs=1).fit(S, y), tmp_path / "f.skcrnn")


def test_a_net_whose_training_failed_is_saved_and_still_refuses_to_predict(classifier,
                                                                         clips, tmp_path):
    from skorch.exceptions import NotInitializedError

    X, _ = clips
    model = sk_crnn.load(_saved(classifier, tmp_path))
    model[-1].training_failed_ = "its training loss became nan at epoch 2"
    sk_crnn.save(model, tmp_path / "failed.skcrnn")  # no probe: it cannot be run
    restored = sk_crnn.load(tmp_path / "failed.skcrnn")
    assert restored[-1].training_failed_ == model[-1].training_failed_
    with pytest.raises(NotInitializedError, match="loss became nan at epoch 2"):
        restored[-1].predict(restored[0].transform(X))


def test_a_pipeline_cache_or_an_undeclared_attribute_is_not_saved(classifier, tmp_path):
    with pytest.raises(TypeError, match="memory=.*joblib pickles.*Set memory=None"):
        sk_crnn.save(Pipeline(classifier.steps, memory=str(tmp_path)), tmp_path / "m.skcrnn")
    net = sk_crnn.load(_saved(classifier, tmp_path))[-1]
    net.my_note_ = "x"
    with pytest.raises(TypeError, match="my_note_: CRNNClassifier declares no such fitted "
                                        "attribute"):
        sk_crnn.save(net, tmp_path / "n.skcrnn")


def _saved(model, tmp_path):
    sk_crnn.save(model, tmp_path / "saved.skcrnn")
    return tmp_path / "saved.skcrnn"


def _fitted_state(est):
    params = est.get_params(deep=False)
    internals = registry.NET_INTERNALS | set(getattr(est, "cuda_dependent_attributes_", ()))
    return {k for k in vars(est) if k not in params and k not in internals
            and not k.startswith("_")}


def test_fitting_sets_only_declared_attributes(classifier, regressor, detector, clips):
    """Every fitted attribute of each estimator is in registry.FITTED_ATTRIBUTES (load
    refuses others), and none of them hides an attribute of its class."""
    X, y = clips
    S = mel().fit_transform(X)
    phrases, transcripts = make_tone_phrases(6, n_words=3, random_state=0)
    asr = make_pipeline(MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=80, n_mels=16,
                                                  n_mfcc=8, normalize="band"),
                        CRNNTranscriber(max_epochs=1, **TINY)).fit(phrases, transcripts)
    fitted = [
        classifier[-1], regressor[-1], detector[0][-1], classifier[0], regressor[0], *asr,
        CRNNClassifier(max_epochs=1, validation_fraction=0.5, **TINY).fit(
            S, np.stack([y, 1 - y], axis=1)),
        CRNNEmbedder(max_epochs=1, embedding_dim=4, **TINY).fit(S, y),
        mel(duration=0.2).fit(X), AudioLoader(sr=SR).fit(),
    ]
    seen = set()
    for est in fitted:
        tag = f"sk_crnn.{type(est).__name__}"
        state = _fitted_state(est)
        assert state <= registry.FITTED_ATTRIBUTES[tag], (tag, state)
        seen.add(tag)
    assert seen == set(registry.FITTED_ATTRIBUTES) - {"sk_crnn.SimilarityIndex"}
    for tag, names in registry.FITTED_ATTRIBUTES.items():
        cls = registry.estimator_classes()[tag]
        assert not [n for n in names if hasattr(cls, n)], tag
        if issubclass(cls, SpectrogramNet):
            assert "interrupted_epoch_" in names


# -- what cannot be stored -----------------------------------------------------------------------
class UserNet(torch.nn.Module):
    def __init__(self, n_mels=1, n_outputs=1, n_frames=None):
        super().__init__()
        self.linear = torch.nn.Linear(n_mels, n_outputs)

    def forward(self, X):
        return self.linear(X.mean(-1))


@pytest.mark.parametrize("model, message", [
    (make_pipeline(FunctionTransformer(lambda x: x)), "functiontransformer.func = <function"),
    (make_pipeline(FunctionTransformer(np.linalg.svd)), "svd"),
    (KNeighborsClassifier(), "sklearn.neighbors._classification.KNeighborsClassifier"),
    (CRNNClassifier(module=UserNet), "UserNet from test_persistence"),
    (CRNNClassifier(module=UserNet()), "object of class UserNet from test_persistence"),
    (CRNNClassifier(callbacks=[("x", object())]), "CRNNClassifier.callbacks"),
])
def test_refuses_what_only_pickle_could_store(model, message, tmp_path):
    with pytest.raises(TypeError, match="sk_crnn.save cannot store") as info:
        sk_crnn.save(model, tmp_path / "m.skcrnn")
    assert message in str(info.value)
    assert "joblib.dump" in str(info.value)
    assert not (tmp_path / "m.skcrnn").exists()


def test_a_gpu_model_loads_on_cpu(classifier, clips, tmp_path, monkeypatch):
    X, _ = clips
    path = tmp_path / "m.skcrnn"
    sk_crnn.save(classifier, path)
    rewrite(path, edit_tree=lambda t: net_node(t)["params"].update({"device": "cuda"}))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="device='cuda'.*loaded with device='cpu'"):
        restored = sk_crnn.load(path)
    assert restored[-1].device == "cpu"
    np.testing.assert_array_equal(restored.predict_proba(X), classifier.predict_proba(X))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_model_trained_on_cuda_predicts_the_same_in_a_cpu_only_process(clips, tmp_path):
    X, y = clips
    model = make_pipeline(mel(device="cuda"), CRNNClassifier(max_epochs=2, device="cuda", **TINY))
    model.fit(X, y)
    sk_crnn.save(model, tmp_path / "gpu.skcrnn")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "proba.npy", model.predict_proba(X))
    script = textwrap.dedent(f"""
        import warnings, numpy as np, torch, sk_crnn
        assert not torch.cuda.is_available()
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            model = sk_crnn.load({str(tmp_path / "gpu.skcrnn")!r})
        X = np.load({str(tmp_path / "X.npy")!r})
        proba = np.load({str(tmp_path / "proba.npy")!r})
        assert model[-1].device == "cpu" and model[0].device == "cpu"
        np.testing.assert_allclose(model.predict_proba(X), proba, atol=1e-4)
    """)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr


# -- no pickle at all ----------------------------------------------------------------------------
NO_PICKLE = """
import pickle, _pickle, sys

# Every way to unpickle raises, except for numba (under librosa), which keeps its compiled
# functions in a pickle cache of its own.
def guard(original, name):
    def refuse(*args, **kwargs):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("numba."):
            return original(*args, **kwargs)
        raise AssertionError(f"{name} was called by {caller}")
    return refuse

def guarded_class(base, name):
    init = guard(base.__init__, name)
    return type(base.__name__, (base,), {"__init__": lambda self, *a, **k: init(self, *a, **k)})

for module in (pickle, _pickle):
    for name in ("load", "loads"):
        setattr(module, name, guard(getattr(module, name), f"{module.__name__}.{name}"))
    module.Unpickler = guarded_class(module.Unpickler, f"{module.__name__}.Unpickler")
pickle._load = guard(pickle._load, "pickle._load")
pickle._loads = guard(pickle._loads, "pickle._loads")
pickle._Unpickler = guarded_class(pickle._Unpickler, "pickle._Unpickler")
"""


def test_load_works_in_a_fresh_process_with_pickle_disabled(classifier, regressor, detector,
                                                             clips, tmp_path):
    X, y = clips
    det, scenes = detector
    emb = make_pipeline(mel(), CRNNEmbedder(max_epochs=2, embedding_dim=4, **TINY)).fit(X, y)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "scenes.npy", scenes)
    expected = {
        "clf": (classifier, classifier.predict_proba(X), classifier.predict(X).tolist()),
        "reg": (regressor, regressor.predict(X), None),
        "det": (det, det.predict_proba(scenes),
                [[list(e) for e in events] for events in det.predict(scenes)]),
        "emb": (emb, emb.transform(X), None),
    }
    for name, (model, numbers, labels) in expected.items():
        sk_crnn.save(model, tmp_path / f"{name}.skcrnn")
        np.save(tmp_path / f"{name}.npy", numbers)
        (tmp_path / f"{name}.json").write_text(json.dumps(labels))
    script = NO_PICKLE + textwrap.dedent(f"""
        import io, json, joblib, numpy as np, sk_crnn
        for unpickle in (pickle.loads, lambda b: joblib.load(io.BytesIO(b))):
            try:  # the guard works
                unpickle(pickle.dumps(1))
                raise SystemExit("pickle is not disabled")
            except AssertionError:
                pass
        folder = {str(tmp_path)!r}
        for name, data, method in [("clf", "X", "predict_proba"), ("reg", "X", "predict"),
                                   ("det", "scenes", "predict_proba"), ("emb", "X", "transform")]:
            model = sk_crnn.load(f"{{folder}}/{{name}}.skcrnn")
            X = np.load(f"{{folder}}/{{data}}.npy")
            np.testing.assert_array_equal(getattr(model, method)(X),
                                          np.load(f"{{folder}}/{{name}}.npy"))
            labels = json.load(open(f"{{folder}}/{{name}}.json"))
            if name == "clf":
                assert model.predict(X).tolist() == labels
            if name == "det":
                assert [[list(e) for e in ev] for ev in model.predict(X)] == labels
            print(name, "ok")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["clf", "ok", "reg", "ok", "det", "ok", "emb", "ok"]


def test_the_file_is_plain_data(classifier, tmp_path):
    """Every part is JSON or safetensors, readable with the standard tools."""
    sk_crnn.save(classifier, tmp_path / "m.skcrnn")
    with zipfile.ZipFile(tmp_path / "m.skcrnn") as archive:
        assert archive.namelist() == ["manifest.json", "model.json", "arrays.safetensors",
                                      "weights.safetensors"]
        manifest = json.loads(archive.read("manifest.json"))
        tree = json.loads(archive.read("model.json"))
        weights = load_tensors(archive.read("weights.safetensors"))
    assert manifest["format"] == "sk-crnn-model" and manifest["format_version"] == 2
    assert manifest["sk_crnn_version"] == sk_crnn.__version__
    assert [name for name, _ in tree["steps"]] == ["melspectrogramtransformer", "crnnclassifier"]
    # classes are named by registry tags, not import paths
    assert net_node(tree)["params"]["module"] == {"__class__": "sk_crnn.modules.CRNN"}
    assert net_node(tree)["params"]["optimizer"] == {"__class__": "torch.optim.Adam"}
    assert net_node(tree)["params"]["dataset"] == {"__class__": "skorch.dataset.Dataset"}
    module_state = classifier[-1].module_.state_dict()
    assert {k.rpartition("module_.")[2] for k in weights if ".module_." in k} == set(module_state)
