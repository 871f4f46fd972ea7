"""Model files that must not load: corrupted, crafted, tampered and fuzzed files.

A file whose checksums were recomputed after an edit passes the integrity check, so these
tests edit files that way (``rewrite``) and check that ``sk_crnn.load`` refuses them with a
``ModelFileError`` naming what is wrong, imports nothing the file names, and allocates only
what the checked sizes allow. The fuzz test applies random mutations (a fixed seed) to the
JSON values, keys and types and to the stored shapes of a tiny model.
"""

import hashlib
import io
import json
import pickle
import re
import resource
import struct
import sys
import warnings
import zipfile

import numpy as np
import pytest
import torch
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from sklearn.pipeline import make_pipeline

import sk_crnn
from sk_crnn import CRNNClassifier, MelSpectrogramTransformer
from sk_crnn.datasets import make_tone_clips
from sk_crnn.persistence import ModelFileError

SR = 8000
TINY = {"module__conv_channels": (4,), "module__rnn_hidden": 4, "random_state": 0}


@pytest.fixture(scope="module")
def clips():
    return make_tone_clips(12, sr=SR, duration=0.25, random_state=0)


@pytest.fixture(scope="module")
def classifier(clips):
    X, y = clips
    mel = MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=128, n_mels=16)
    return make_pipeline(mel, CRNNClassifier(max_epochs=2, **TINY)).fit(
        X, np.array(["low", "high"])[y])


def rewrite(path, edit_tree=None, edit_weights=None, manifest_update=None):
    """Change a saved file's parts and write matching checksums (a crafted, valid file)."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(parts.pop("manifest.json"))
    if edit_tree is not None:
        tree = json.loads(parts["model.json"])
        edit_tree(tree)
        parts["model.json"] = json.dumps(tree).encode()
    if edit_weights is not None:
        weights = load_tensors(parts["weights.safetensors"])
        edit_weights(weights)
        parts["weights.safetensors"] = save_tensors(weights)
    manifest["sha256"] = {n: hashlib.sha256(d).hexdigest() for n, d in parts.items()}
    manifest.update(manifest_update or {})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        for name, data in parts.items():
            archive.writestr(name, data)


def net_node(tree):
    return tree["steps"][-1][1]




# -- what cannot be loaded -----------------------------------------------------------------------
def test_corrupted_and_truncated_files_are_refused(classifier, tmp_path):
    path = tmp_path / "m.skcrnn"
    sk_crnn.save(classifier, path)
    data = path.read_bytes()
    for start in (len(data) // 4, len(data) // 2, len(data) - 1000):
        flipped = bytearray(data)
        for i in range(start, min(start + 200, len(data) - 100)):
            flipped[i] ^= 0xFF
        (tmp_path / "flipped.skcrnn").write_bytes(bytes(flipped))
        with pytest.raises(ModelFileError, match="corrupted|not an sk_crnn model"):
            sk_crnn.load(tmp_path / "flipped.skcrnn")
    for size in (len(data) // 2, 100, len(data) - 10):
        (tmp_path / "short.skcrnn").write_bytes(data[:size])
        with pytest.raises(ModelFileError, match="corrupted or truncated"):
            sk_crnn.load(tmp_path / "short.skcrnn")
    # a part changed after saving, with the zip's own CRC updated
    rewrite(path, edit_weights=lambda w: w.update({k: v + 1 for k, v in w.items()}))
    with zipfile.ZipFile(path) as archive:
        parts = {n: archive.read(n) for n in archive.namelist()}
    manifest = json.loads(parts["manifest.json"])
    manifest["sha256"]["weights.safetensors"] = "0" * 64
    parts["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, part in parts.items():
            archive.writestr(name, part)
    with pytest.raises(ModelFileError, match="checksum of weights.safetensors does not match"):
        sk_crnn.load(path)


def _zip_layout(data):
    """Byte ranges of a stored (uncompressed) zip: ``{member: (start, stop)}`` of each
    member's data, and the offsets of the time stamps (date and time: 4 bytes) in the local
    headers and in the central directory."""
    stamps, spans = [], {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            local = info.header_offset
            assert data[local:local + 4] == b"PK\x03\x04"
            name_len, extra_len = struct.unpack("<HH", data[local + 26:local + 30])
            start = local + 30 + name_len + extra_len
            spans[info.filename] = (start, start + info.compress_size)
            stamps += range(local + 10, local + 14)  # last mod time, last mod date
    end = data.rindex(b"PK\x05\x06")
    n_entries, _, directory = struct.unpack("<HII", data[end + 10:end + 20])
    entry = directory
    for _ in range(n_entries):
        assert data[entry:entry + 4] == b"PK\x01\x02"
        stamps += range(entry + 12, entry + 16)
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[entry + 28:entry + 34])
        entry += 46 + name_len + extra_len + comment_len
    return spans, stamps


def test_no_flipped_byte_loads_a_different_model(classifier, clips, tmp_path):
    """A byte flipped in a part of the model (the manifest, the JSON tree, the arrays, the
    weights) is refused as corrupted, naming the part; one flipped in the zip's time stamps,
    which hold no model data, loads the very same model; one flipped anywhere else is refused
    or loads the very same model. Never a different model."""
    X, _ = clips
    path = tmp_path / "m.skcrnn"
    sk_crnn.save(classifier, path)
    data = path.read_bytes()
    expected = classifier.predict_proba(X)
    spans, stamps = _zip_layout(data)
    assert set(spans) == {"manifest.json", "model.json", "arrays.safetensors",
                          "weights.safetensors"}

    def load_flipped(position):
        flipped = bytearray(data)
        flipped[position] ^= 0x55
        (tmp_path / "f.skcrnn").write_bytes(bytes(flipped))
        try:
            restored = sk_crnn.load(tmp_path / "f.skcrnn")
        except ModelFileError as exc:
            return exc
        np.testing.assert_array_equal(restored.predict_proba(X), expected, err_msg=str(position))
        return restored

    rng = np.random.default_rng(0)
    for name, (start, stop) in spans.items():  # the first, the last and 8 bytes between
        for position in [start, stop - 1, *rng.integers(start, stop, 8)]:
            outcome = load_flipped(position)
            assert isinstance(outcome, ModelFileError), (name, position)
            assert re.search(rf"corrupted or truncated \({re.escape(name)}: Bad CRC"
                             rf"|SHA-256 checksum of {re.escape(name)}", str(outcome)), outcome
    for position in stamps:
        assert not isinstance(load_flipped(position), ModelFileError), position
    loaded = 0
    for position in np.linspace(0, len(data) - 1, 60).astype(int):  # anywhere
        loaded += not isinstance(load_flipped(position), ModelFileError)
    assert loaded < 60  # not everything is ignored: headers and the directory are read


def test_other_files_are_refused_with_the_reason(tmp_path):
    (tmp_path / "empty.skcrnn").write_bytes(b"")
    (tmp_path / "text.skcrnn").write_text("hello")
    (tmp_path / "p.pkl").write_bytes(pickle.dumps({"a": 1}))
    torch.save({"w": torch.zeros(2)}, tmp_path / "t.pt")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("a.txt", "x")
    for name, message in [("empty.skcrnn", "not an sk_crnn model file"),
                          ("text.skcrnn", "not an sk_crnn model file"),
                          ("p.pkl", "pickle or joblib file.*can run any code"),
                          ("t.pt", "pickle written by torch.save"),
                          ("other.zip", "zip archive without manifest.json")]:
        with pytest.raises(ModelFileError, match=message):
            sk_crnn.load(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sk_crnn.load(tmp_path / "missing.skcrnn")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        sk_crnn.load(tmp_path)


def set_optimizer(name):
    return lambda t: net_node(t)["params"].update({"optimizer": {"__class__": name}})


def set_mel_param(name, value):
    return lambda t: t["steps"][0][1]["params"].update({name: value})


def set_net_state(name, value):
    return lambda t: net_node(t)["state"].update({name: value})


@pytest.mark.parametrize("edit, message", [
    (lambda t: t["steps"][0][1].update({"class": "evil.Thing"}),
     "a step of type 'evil.Thing', which sk_crnn.load does not rebuild"),
    (lambda t: t["steps"][0][1].update({"class": "sklearn.neighbors.KNeighborsClassifier"}),
     "'sklearn.neighbors.KNeighborsClassifier', which sk_crnn.load does not rebuild"),
    # the reproduction of the issue: importing torch's model_dump runs its main (exit 2)
    (set_optimizer("torch.utils.model_dump.__main__:X"),
     "names the class 'torch.utils.model_dump.__main__:X', which is not in sk_crnn's registry"),
    (set_optimizer("torch.utils.model_dump.__main__.X"), "not in sk_crnn's registry"),
    (set_optimizer("os:system"), "names the class 'os:system', which is not in"),
    (set_optimizer("torch.serialization:load"), "not in sk_crnn's registry"),
    (set_optimizer("torch.nn.MSELoss"), "optimizer=<class .*MSELoss.* is not a optimizer class"),
    (set_optimizer(["torch.optim.Adam"]), "names the class \\['torch.optim.Adam'\\]"),
    (lambda t: net_node(t)["params"].update({"module": {"__function__": "builtins.eval"}}),
     "names the function 'builtins.eval'"),
    (lambda t: net_node(t)["params"].update({"dtype": {"__torch_dtype__": "onnx"}}),
     "names the torch dtype 'onnx'"),
    (lambda t: net_node(t)["params"].update({"dtype": {"__numpy_dtype__": "V8"}}),
     "does not hold"),
    (lambda t: t.update({"kind": "pickle"}), "model is of the unknown kind 'pickle'"),
    (lambda t: net_node(t).update({"kind": "estimator"}), "stored as a estimator"),
])
@pytest.mark.parametrize("version", [1, 2])
def test_crafted_files_name_what_is_refused_and_import_nothing(classifier, tmp_path, edit,
                                                               message, version):
    """Nothing a file names is imported: a name outside the registry is an error, and
    sys.modules is the same after the refusal (in both format versions)."""
    path = tmp_path / "m.skcrnn"
    sk_crnn.save(classifier, path)
    sk_crnn.load(path)  # the modules load itself imports are imported now
    rewrite(path, edit_tree=edit, manifest_update={"format_version": version})
    before = set(sys.modules)
    with pytest.raises(ModelFileError, match=message):
        sk_crnn.load(path)
    assert set(sys.modules) == before
    assert "torch.utils.model_dump" not in sys.modules


def legacy(tree):
    """Turn a version 2 tree into the version 1 of sk_crnn 0.1.0: "module:qualname" names."""
    from sk_crnn.persistence import registry

    names = {tag: f"{cls.__module__}:{cls.__qualname__}"
             for tag, (_, cls) in registry.parameter_classes().items()}

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"__class__"}:
                node["__class__"] = names[node["__class__"]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)


def test_version_1_files_load_by_looking_their_names_up(classifier, clips, tmp_path):
    X, _ = clips
    path = tmp_path / "m.skcrnn"
    sk_crnn.save(classifier, path)
    rewrite(path, edit_tree=legacy, manifest_update={"format_version": 1})
    with zipfile.ZipFile(path) as archive:
        tree = json.loads(archive.read("model.json"))
    assert net_node(tree)["params"]["optimizer"] == {"__class__": "torch.optim.adam:Adam"}
    restored = sk_crnn.load(path)
    assert restored[-1].optimizer is torch.optim.Adam
    np.testing.assert_array_equal(restored.predict_proba(X), classifier.predict_proba(X))
    # a version 2 file does not take version 1 names
    rewrite(path, manifest_update={"format_version": 2})
    with pytest.raises(ModelFileError, match="'sk_crnn.modules:CRNN', which is not in"):
        sk_crnn.load(path)


@pytest.mark.parametrize("edit, message", [
    # sizes that would allocate hundreds of GB: refused before anything is built
    (lambda t: net_node(t)["params"].update({"module__rnn_hidden": 200000}),
     "build rnn.weight_ih_l0 of shape \\(600000, 32\\), but the stored weight has shape"),
    (set_net_state("n_mels_in_", 1e9), "n_mels_in_ is 1000000000.0, not an int"),
    (set_net_state("n_mels_in_", 10 ** 9), "n_mels_in_=1000000000 is outside"),
    (set_net_state("n_frames_in_", 2 ** 21), "n_frames_in_=2097152 is outside"),
    (set_net_state("n_outputs_", 2 ** 40), "n_outputs_=1099511627776 is outside"),
    (set_mel_param("n_fft", 2 ** 28), "n_fft=268435456 is outside \\[2, 65536\\]"),
    (lambda t: t["steps"][0][1]["params"].update({"n_mels": 4000, "n_fft": 2 ** 16}),
     "n_mels=4000 with n_fft=65536 makes a filterbank of more than 33554432 values"),
    (set_mel_param("n_mels", 4000), "3746 of the n_mels=4000 mel bands .* would always be "
                                    "empty"),
    (set_mel_param("sr", 1e12), "sr=1000000000000.0 is not a sample rate"),
    (set_mel_param("hop_length", 64), "n_frames_=16, but n_samples_=2000 gives 32 frames"),
    (lambda t: t["steps"][0][1]["state"].update({"n_samples_": 2 ** 40}),
     "n_samples_=1099511627776 is outside"),
    (lambda t: net_node(t)["params"].update({"iterator_valid__num_workers": 10 ** 6}),
     "iterator_valid__num_workers=1000000 is outside"),
    (lambda t: net_node(t)["params"].update({"device": "meta"}), "device='meta' is not"),
])
def test_sizes_are_bounded_and_checked_against_the_weights(classifier, tmp_path, edit,
                                                           message):
    path = tmp_path / "m.skcrnn"
    sk_crnn.save(classifier, path)
    rewrite(path, edit_tree=edit)
    with pytest.raises(ModelFileError, match=message):
        sk_crnn.load(path)


def test_the_probe_is_bounded(classifier, tmp_path, monkeypatch):
    """Checking a network runs it on an input of its fitted shape: a bounded one."""
    from sk_crnn.persistence import checks

    path = tmp_path / "m.skcrnn"
    sk_crnn.save(classifier, path)
    monkeypatch.setattr(checks, "MAX_PROBE_BYTES", 1000)
    with pytest.raises(ModelFileError, match=r"an input of its fitted shape \(16 x 16\) would "
                                             r"need 8192 bytes"):
        sk_crnn.load(path)


def drop_weights(tree):
    net_node(tree).pop("torch")
    net_node(tree).pop("probe")


def drop_one_weight(tree):
    net_node(tree)["torch"]["module_"].pop("head.bias")


def pipeline_cache(tree):
    tree["params"]["memory"] = str(tree.get("cache", "/tmp/cache"))


@pytest.mark.parametrize("edit, message", [
    (drop_weights, "is initialized but the file holds no weights"),
    (lambda t: net_node(t).pop("probe"), "holds no check of the network's outputs"),
    (lambda t: (net_node(t)["state"].update({"training_failed_": ""}), net_node(t).pop("probe")),
     "holds no check of the network's outputs"),
    (drop_one_weight, "missing: head.bias"),
    (lambda t: net_node(t)["torch"].update({"optimizer_": {}}), "weights for optimizer_"),
    (lambda t: net_node(t).update({"initialized": False}),
     "is not initialized but has fitted attributes"),
    (set_mel_param("transform", {"__function__": "numpy.log"}), "unexpected keyword"),
    (lambda t: t["steps"][0][1]["state"].update({"transform": {"__function__": "numpy.log"}}),
     "fitted attribute 'transform': it would hide MelSpectrogramTransformer.transform"),
    (set_net_state("predict", 1), "'predict': it would hide CRNNClassifier.predict"),
    (set_net_state("classes_", 1), "'classes_': it would hide"),
    (set_net_state("weights_", 1), "CRNNClassifier declares no such fitted attribute"),
    (lambda t: net_node(t)["params"].update({"transform": 1}),
     "has the parameter 'transform', which CRNNClassifier does not take"),
    (pipeline_cache, "memory='/tmp/cache': a Pipeline's cache is a folder of joblib pickles"),
    (set_net_state("classes_inferred_", {"__ndarray_str__": ["a", "b", "c"], "dtype": "<U1",
                                         "shape": [3]}),
     "classes_inferred_ must hold one entry per output \\(2, n_outputs_\\), but has shape"),
    (set_net_state("class_weight_", None), None),  # allowed: multi-label nets have none
    (set_net_state("target_type_", 3), "target_type_=3 has the wrong type"),
    (lambda t: net_node(t)["state"].pop("n_frames_in_"), "lacks the fitted attributes"),
])
def test_tampered_files_with_recomputed_checksums_are_refused(classifier, clips, tmp_path,
                                                              edit, message):
    """Edits that would load a different model (a random net, a shadowed method, a pickle
    cache, more classes than outputs) are refused, not loaded silently."""
    X, _ = clips
    path = tmp_path / "m.skcrnn"
    sk_crnn.save(classifier, path)
    rewrite(path, edit_tree=edit)
    if message is None:
        restored = sk_crnn.load(path)
        np.testing.assert_array_equal(restored.predict_proba(X), classifier.predict_proba(X))
        return
    with pytest.raises(ModelFileError, match=message):
        sk_crnn.load(path)


def test_weights_that_are_not_the_networks_are_refused(classifier, tmp_path):
    path = tmp_path / "m.skcrnn"
    sk_crnn.save(classifier, path)

    def reshape(w):
        key = next(k for k in w if k.endswith("head.weight"))
        w[key] = w[key].reshape(-1)

    rewrite(path, edit_weights=reshape)
    with pytest.raises(ModelFileError, match="head.weight of shape .* but the stored weight"):
        sk_crnn.load(path)


def test_a_compiled_net_loads_without_compiling(classifier, clips, tmp_path):
    X, _ = clips
    path = tmp_path / "m.skcrnn"
    sk_crnn.save(classifier, path)
    rewrite(path, edit_tree=lambda t: net_node(t)["params"].update({"compile": True}))
    restored = sk_crnn.load(path)
    assert restored[-1].compile is True
    assert type(restored[-1].module_).__name__ == "CRNN"  # not torch.compile's wrapper
    np.testing.assert_array_equal(restored.predict_proba(X), classifier.predict_proba(X))


def test_newer_format_nan_weights_and_changed_networks_are_refused(classifier, tmp_path):
    path = tmp_path / "m.skcrnn"
    sk_crnn.save(classifier, path)
    rewrite(path, manifest_update={"format_version": 99})
    with pytest.raises(ModelFileError, match="format version 99.*Upgrade sk_crnn"):
        sk_crnn.load(path)

    sk_crnn.save(classifier, path)
    first = lambda w: sorted(k for k in w if k.endswith("weight"))[0]  # noqa: E731
    rewrite(path, edit_weights=lambda w: w[first(w)].view(-1).__setitem__(0, float("nan")))
    with pytest.raises(ModelFileError, match="hold NaN or infinite values"):
        sk_crnn.load(path)

    # weights changed but finite: the network no longer gives the outputs saved with it
    sk_crnn.save(classifier, path)
    rewrite(path, edit_weights=lambda w: w[first(w)].mul_(3))
    with pytest.raises(ModelFileError, match="does not give the outputs it gave when saved"):
        sk_crnn.load(path)


# -- fuzzing -------------------------------------------------------------------------------------
WILD = [0, -1, 1, 2, 2 ** 31, 2 ** 63, 10 ** 40, 1e9, -1e9, 3.5, float("nan"), float("inf"),
        True, False, None, "", "x", "cuda:7", [], {}, [1, 2], [[]], {"a": 1},
        {"__class__": "os:system"}, {"__class__": "torch.utils.model_dump.__main__:X"},
        {"__class__": "torch.optim.SGD"}, {"__class__": "torch.nn.MSELoss"},
        {"__function__": "builtins.eval"}, {"__function__": "numpy.log"},
        {"__torch_dtype__": "onnx"}, {"__torch_dtype__": "float64"},
        {"__numpy_dtype__": "V100000000"}, {"__numpy_dtype__": "(1000000000,)f8"},
        {"__numpy__": "<U1000000000", "value": "x"}, {"__ndarray__": "missing"},
        {"__ndarray_str__": ["a"], "dtype": "<U1000000000", "shape": [1]},
        {"__ndarray_object__": [1], "shape": [2 ** 40]}, {"__tuple__": [10 ** 9]},
        {"__tensor__": "missing"}, {"__dict__": [[[1], 2]]}, {"__float__": "1e999999"},
        {"__bytes__": "!!"}, {"__set__": [[1]]}]
KEYS = ["transform", "predict", "__class__", "module_", "classes_", "n_outputs_", "memory",
        "x_", "_private", "kind", "class", "torch", "probe", "initialized", "__dict__"]
# scipy.signal's windows are imported by librosa on the first use of a window by name
WARM = ("scipy.signal",)


def _paths(node, path=()):
    yield path
    items = node.items() if isinstance(node, dict) else (
        enumerate(node) if isinstance(node, list) else ())
    for key, value in items:
        yield from _paths(value, (*path, key))


def _at(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def _derived(value):
    if isinstance(value, bool):
        return [not value, int(value)]
    if isinstance(value, (int, float)):
        return [value * 10, value * 2 ** 20, -value - 1, str(value), [value],
                {"__tuple__": [value]}, float(value) + 0.5]
    if isinstance(value, str):
        return [value + "x", "", value.upper(), [value]]
    if isinstance(value, list):
        return [value * 2, value[:-1], [], {"__tuple__": value}]
    return [[value]]


def _mutate_tree(tree, rng):
    """One random edit of the model tree; returns (kind, path)."""
    paths = [p for p in _paths(tree) if p]
    if rng.random() < 0.9:  # the training history is most of the tree but least of interest
        paths = [p for p in paths if "history" not in p]
    path = paths[rng.integers(len(paths))]
    parent, key = _at(tree, path[:-1]), path[-1]
    kind = ["value", "value", "derived", "key", "drop", "add"][rng.integers(6)]
    if kind in ("key", "drop", "add") and not isinstance(parent, dict):
        kind = "value"
    if kind == "value":
        parent[key] = WILD[rng.integers(len(WILD))]
    elif kind == "derived":
        options = _derived(parent[key])
        parent[key] = options[rng.integers(len(options))]
    elif kind == "key":
        parent[KEYS[rng.integers(len(KEYS))]] = parent.pop(key)
    elif kind == "drop":
        del parent[key]
    else:
        parent[KEYS[rng.integers(len(KEYS))]] = WILD[rng.integers(len(WILD))]
    return kind, path


def _mutate_store(store, rng, module):
    """One random edit of the tensors (torch) or arrays (numpy) of a part."""
    keys = sorted(store)
    key = keys[rng.integers(len(keys))]
    t = store[key]
    kind = ["drop", "extra", "flatten", "grow", "shrink", "dtype"][rng.integers(6)]
    cat = torch.cat if module is torch else np.concatenate
    if kind == "drop":
        del store[key]
    elif kind == "extra":
        store[key + ".extra"] = t.clone() if module is torch else t.copy()
    elif kind == "flatten":
        store[key] = t.reshape(-1)
    elif kind == "grow":
        store[key] = cat([t.reshape(-1), t.reshape(-1)])
    elif kind == "shrink":
        store[key] = t.reshape(-1)[:-1]
    else:
        store[key] = t.to(torch.float64) if module is torch else t.astype(np.int8)
    return f"{module.__name__}-{kind}", (key,)


def _write(path, parts):
    parts = dict(parts)
    manifest = json.loads(parts.pop("manifest.json"))
    manifest["sha256"] = {n: hashlib.sha256(d).hexdigest() for n, d in parts.items()}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        for name, data in parts.items():
            archive.writestr(name, data)


def test_fuzzed_files_are_refused_or_load_the_same_model(classifier, clips, tmp_path):
    """Random mutations of a valid file (JSON values, keys and types; stored shapes and
    dtypes), checksums recomputed: ``load`` raises only ModelFileError, imports nothing,
    stays within a bounded memory, or loads a model that predicts as the saved one did (a
    changed parameter value may change predictions; then predict fails cleanly or not at
    all)."""
    X, _ = clips
    path = tmp_path / "m.skcrnn"
    sk_crnn.save(classifier, path)
    with zipfile.ZipFile(path) as archive:
        original = {name: archive.read(name) for name in archive.namelist()}
    expected = classifier.predict_proba(X)
    for name in WARM:
        __import__(name)
    sk_crnn.load(path).predict_proba(X)
    modules = set(sys.modules)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    rng = np.random.default_rng(0)
    outcomes = {"refused": 0, "same": 0, "parameter": 0}
    for i in range(400):
        parts = dict(original)
        what = rng.integers(10)
        if what < 7:
            tree = json.loads(parts["model.json"])
            kind, where = _mutate_tree(tree, rng)
            parts["model.json"] = json.dumps(tree).encode()
        elif what < 9:
            tensors = load_tensors(parts["weights.safetensors"])
            kind, where = _mutate_store(tensors, rng, torch)
            parts["weights.safetensors"] = save_tensors(tensors)
        else:
            arrays = load_arrays(parts["arrays.safetensors"])
            kind, where = _mutate_store(arrays, rng, np)
            parts["arrays.safetensors"] = save_arrays(arrays)
        _write(path, parts)
        case = f"mutation {i}: {kind} at {where}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                restored = sk_crnn.load(path)
        except ModelFileError as exc:
            outcomes["refused"] += 1
            assert not isinstance(exc.__cause__, (NameError, AssertionError, ImportError,
                                                  NotImplementedError)), case
            continue
        finally:
            assert set(sys.modules) == modules, (case, set(sys.modules) - modules)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                proba = restored.predict_proba(X)
        except (ValueError, TypeError) as exc:  # a parameter the file changed, refused there
            proba = exc
        if isinstance(proba, np.ndarray) and proba.shape == expected.shape and \
                np.array_equal(proba, expected):
            outcomes["same"] += 1
            continue
        # a different model: only a changed parameter (or one left out: its default) or a
        # shorter list of steps may give one; never a change of the fitted state, the
        # weights or their shapes
        assert kind in ("value", "derived", "drop", "add", "key") and (
            "params" in where or where == ("steps",)), (case, proba)
        outcomes["parameter"] += 1
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown < 300 * 1024, f"the peak memory grew by {grown} KiB"
    assert outcomes["refused"] > 200 and outcomes["same"] > 20, outcomes
