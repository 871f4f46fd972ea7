"""Model files that cannot run code: :func:`save` and :func:`load`.

A ``pickle`` (and so a ``joblib`` file) can run any code when it is loaded. The files written
by :func:`save` hold only data: one zip archive with

- ``model.json``: what the model is made of (class names, parameters, fitted attributes) as
  JSON, with every value encoded so that it comes back with its exact type (tuples, numpy
  scalars and arrays of any label dtype);
- ``arrays.safetensors``: the numeric numpy arrays (fitted attributes such as ``mean_``);
- ``weights.safetensors``: the networks' weights (``state_dict``) and other torch tensors;
- ``manifest.json``: the format name and version, the library versions and the SHA-256 of
  each of the three files above, checked on load so that corruption or truncation is an error.

Classes are stored by name and :func:`load` builds only those of an allow-list: the steps of
sk_crnn, ``Pipeline`` and some scikit-learn transformers and linear models, and as parameter
values the module, loss, optimizer, data loader and dataset classes of sk_crnn, torch and
skorch. Nothing is ever unpickled.
"""

import base64
import contextlib
import hashlib
import importlib
import inspect
import json
import math
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["ModelFileError", "load", "save"]

FORMAT = "sk-crnn-model"
FORMAT_VERSION = 1
SUFFIX = ".skcrnn"
_MEMBERS = ("model.json", "arrays.safetensors", "weights.safetensors")

# scikit-learn classes whose parameters are plain values and whose fitted state is arrays and
# scalars, so that they are rebuilt from data alone. Listed by their public import path.
SKLEARN_CLASSES = (
    "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing.MinMaxScaler",
    "sklearn.preprocessing.MaxAbsScaler",
    "sklearn.preprocessing.RobustScaler",
    "sklearn.preprocessing.Normalizer",
    "sklearn.preprocessing.FunctionTransformer",
    "sklearn.decomposition.PCA",
    "sklearn.feature_selection.VarianceThreshold",
    "sklearn.linear_model.LogisticRegression",
    "sklearn.linear_model.LinearRegression",
    "sklearn.linear_model.Ridge",
    "sklearn.linear_model.RidgeClassifier",
    "sklearn.svm.LinearSVC",
    "sklearn.svm.SVC",
    "sklearn.svm.SVR",
    "sklearn.discriminant_analysis.LinearDiscriminantAnalysis",
)
# Packages whose classes may be parameter values (module=, optimizer=, criterion=, ...).
_CLASS_PACKAGES = ("sk_crnn", "torch", "skorch")
# Attributes of a skorch net that skorch builds itself (in __init__ or initialize).
_NET_INTERNALS = frozenset({
    "module_", "criterion_", "optimizer_", "callbacks_", "history_", "initialized_",
    "virtual_params_", "prefixes_", "cuda_dependent_attributes_", "init_context_",
})


class ModelFileError(ValueError):
    """A file that :func:`load` cannot read as an sk_crnn model: not one, corrupted,
    truncated, from a newer version, or naming a class outside the allow-list."""


# -- public API --------------------------------------------------------------------------------
def save(estimator, path):
    """Save a fitted estimator or Pipeline to a file that loading cannot turn into code.

    Stores a ``Pipeline`` of sk_crnn's steps (:class:`~sk_crnn.AudioLoader`,
    :class:`~sk_crnn.MelSpectrogramTransformer`, :class:`~sk_crnn.CRNNClassifier`,
    :class:`~sk_crnn.CRNNRegressor`, :class:`~sk_crnn.CRNNEventDetector`) and of the
    scikit-learn classes in :data:`SKLEARN_CLASSES`, or one such estimator alone, as JSON
    and safetensors in one zip file (see the module's documentation). The file is written to
    a temporary file in the same folder first and renamed when complete, so an existing file
    at ``path`` is replaced only by a whole model.

    Parameters
    ----------
    estimator : estimator or Pipeline
        Fitted (or unfitted: then only the parameters are stored).
    path : str or path-like
        The file to write; the usual suffix is ``.skcrnn``.

    Raises
    ------
    TypeError
        If a step, a parameter or a fitted attribute cannot be stored without pickle (a
        user-defined class or function, a callback object, an estimator type outside the
        list); the message names it. Use ``joblib.dump`` for such models, and load them only
        from sources you trust.

    See Also
    --------
    load : Read the file back.

    Notes
    -----
    What is not stored: a net's optimizer state (a net trained further with ``partial_fit``
    after loading starts with a fresh optimizer) and callbacks other than the defaults;
    ``history_`` is stored when it holds plain values.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.preprocessing import StandardScaler
    >>> import sk_crnn
    >>> path = os.path.join(tempfile.mkdtemp(), "scaler.skcrnn")
    >>> sk_crnn.save(StandardScaler().fit([[0.0], [2.0]]), path)
    >>> sk_crnn.load(path).mean_
    array([1.])
    """
    writer = _Writer()
    tree = writer.node(estimator, type(estimator).__name__)
    _write_archive(Path(path), tree, writer)


def load(path):
    """Load a model written by :func:`save`; no code from the file is run.

    Every class named in the file must be in the allow-list (sk_crnn's steps, ``Pipeline``,
    :data:`SKLEARN_CLASSES`; torch, skorch and sk_crnn classes as parameter values). The
    checksums of the parts are checked, the networks are rebuilt with ``initialize()`` and
    their weights loaded from safetensors. A net trained on a GPU loads on a machine without
    one with ``device="cpu"`` (with a warning). Each restored network is checked to give the
    outputs it gave when it was saved.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.

    Returns
    -------
    estimator : estimator or Pipeline
        The saved object, fitted as it was.

    Raises
    ------
    ModelFileError
        If the file is not an sk_crnn model file (a pickle or joblib file among them: load
        those with joblib only if you trust their source), is corrupted or truncated, comes
        from a newer version, names a class outside the allow-list, or holds non-finite
        network weights.
    FileNotFoundError, IsADirectoryError
        If ``path`` does not exist or is a folder.

    See Also
    --------
    save : Write such a file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Model file '{path}' does not exist.")
    if path.is_dir():
        raise IsADirectoryError(f"'{path}' is a folder, not a model file.")
    manifest, parts = _read_archive(path)
    reader = _Reader(path, parts)
    try:
        tree = json.loads(parts["model.json"])
        return reader.node(tree, "model")
    except ModelFileError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as exc:
        raise ModelFileError(
            f"'{path}' could not be rebuilt as a model ({type(exc).__name__}: {exc}); the file "
            f"was written by sk_crnn {manifest.get('sk_crnn_version', '?')}, which may store "
            "things differently from this version."
        ) from exc


def sniff(path):
    """What kind of file ``path`` is, from its first bytes: ``"sk-crnn"``, ``"pickle"``
    (pickle, joblib or torch.save, all of which can run code when loaded) or ``"unknown"``."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"PK\x03\x04"):
        # save() writes manifest.json first: its name follows the first local header, even
        # in a truncated file
        name_length = int.from_bytes(head[26:28], "little")
        if head[30:30 + name_length] == b"manifest.json":
            return "sk-crnn"
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except PermissionError:
            raise
        except Exception:  # noqa: BLE001 - a broken archive of any kind
            return "unknown"
        if "manifest.json" in names:
            return "sk-crnn"
        if any(name.endswith(".pkl") for name in names):  # torch.save's zip holds a pickle
            return "pickle"
        return "unknown"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    # joblib's compressed pickles: zlib, gzip, bz2, xz, lzma, lz4
    if head[:2] in (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"\x1f\x8b") or \
            head.startswith((b"BZh", b"\xfd7zXZ", b"\x5d\x00\x00", b"\x04\x22\x4d\x18")):
        return "pickle"
    return "unknown"


# -- the archive -------------------------------------------------------------------------------
def _versions():
    import sklearn
    import skorch
    import torch

    from . import __version__

    return {"sk_crnn": __version__, "scikit-learn": sklearn.__version__,
            "skorch": skorch.__version__, "torch": torch.__version__, "numpy": np.__version__}


def _write_archive(path, tree, writer):
    from safetensors.numpy import save as save_arrays
    from safetensors.torch import save as save_tensors

    parts = {
        "model.json": json.dumps(tree, indent=1, allow_nan=False).encode("utf-8"),
        "arrays.safetensors": save_arrays(writer.arrays),
        "weights.safetensors": save_tensors(writer.tensors),
    }
    versions = _versions()
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sk_crnn_version": versions["sk_crnn"],
        "versions": versions,
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in parts.items()},
    }

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr("manifest.json", json.dumps(manifest, indent=1))  # first: sniff()
            for name, data in parts.items():
                archive.writestr(name, data)

    atomic_write(path, write)


def atomic_write(path, data):
    """Write ``data`` (bytes, or a function of a binary file) to ``path`` through a temporary
    file in the same folder, renamed over ``path`` only once complete."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _corrupted(path, what):
    return ModelFileError(
        f"'{path}' is corrupted or truncated ({what}); it cannot be loaded. Copy the file "
        "again from its source, or save the model again."
    )


def _read_archive(path):
    size = path.stat().st_size
    try:
        archive = zipfile.ZipFile(path)
    except PermissionError:
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile raises several types for broken files
        kind = sniff(path)
        if kind == "pickle":
            raise ModelFileError(
                f"'{path}' is a pickle or joblib file, not an sk_crnn model file; loading a "
                "pickle can run any code it holds. Load it with joblib.load only if you trust "
                "its source, then store it with sk_crnn.save."
            ) from None
        with open(path, "rb") as f:
            looks_like_zip = f.read(2) == b"PK"
        if looks_like_zip:
            raise _corrupted(path, f"not a complete zip archive: {exc}") from None
        raise ModelFileError(
            f"'{path}' is not an sk_crnn model file (sk_crnn.save writes them); "
            f"{type(exc).__name__}: {exc}"
        ) from None
    with archive:
        names = set(archive.namelist())
        if "manifest.json" not in names:
            what = "a pickle written by torch.save" if any(
                n.endswith(".pkl") for n in names) else "a zip archive without manifest.json"
            raise ModelFileError(
                f"'{path}' is {what}, not an sk_crnn model file (sk_crnn.save writes them)."
            )
        for info in archive.infolist():
            if info.file_size > size:  # stored uncompressed: no part is larger than the file
                raise _corrupted(path, f"the part {info.filename} claims {info.file_size} bytes")
        try:
            manifest = json.loads(archive.read("manifest.json"))
            if not isinstance(manifest, dict):
                raise ValueError("the manifest is not a JSON object")
        except Exception as exc:  # noqa: BLE001
            raise _corrupted(path, f"manifest.json: {exc}") from None
        if manifest.get("format") != FORMAT:
            raise ModelFileError(
                f"'{path}' is a zip archive, but not an sk_crnn model file (its manifest names "
                f"the format {manifest.get('format')!r})."
            )
        version = manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
            raise ModelFileError(
                f"'{path}' has model format version {version!r} (written by sk_crnn "
                f"{manifest.get('sk_crnn_version', '?')}); this sk_crnn reads version "
                f"{FORMAT_VERSION}. Upgrade sk_crnn to load it."
            )
        checksums = manifest.get("sha256")
        if not isinstance(checksums, dict) or set(checksums) != set(_MEMBERS):
            raise _corrupted(path, "the manifest lists no checksums of its parts")
        parts = {}
        for name in _MEMBERS:
            if name not in names:
                raise _corrupted(path, f"the part {name} is missing")
            try:
                data = archive.read(name)
            except Exception as exc:  # noqa: BLE001 - bad CRC, header, size, method...
                raise _corrupted(path, f"{name}: {exc}") from None
            if hashlib.sha256(data).hexdigest() != checksums[name]:
                raise _corrupted(path, f"the SHA-256 checksum of {name} does not match")
            parts[name] = data
    return manifest, parts


# -- the allow-list ----------------------------------------------------------------------------
def _estimator_classes():
    """Import path -> class of every estimator that :func:`load` rebuilds."""
    from sklearn.base import BaseEstimator

    import sk_crnn

    classes = {}
    for name in sk_crnn.__all__:
        obj = getattr(sk_crnn, name, None)
        if isinstance(obj, type) and issubclass(obj, BaseEstimator):
            classes[f"sk_crnn.{name}"] = obj
    for full in SKLEARN_CLASSES:
        module, _, name = full.rpartition(".")
        classes[full] = getattr(importlib.import_module(module), name)
    return classes


def _allowed_functions():
    from . import baselines

    functions = {
        "sk_crnn.baselines.mean_std_pool": baselines.mean_std_pool,
        "numpy.log1p": np.log1p, "numpy.log": np.log, "numpy.sqrt": np.sqrt,
        "numpy.abs": np.abs, "numpy.max": np.max, "numpy.min": np.min,
        "numpy.mean": np.mean, "numpy.median": np.median,
    }
    return functions


def _class_bases():
    import skorch.dataset
    import torch

    return (torch.nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler,
            torch.utils.data.DataLoader, torch.utils.data.Dataset, skorch.dataset.Dataset)


def _class_path(obj):
    module = getattr(obj, "__module__", None) or ""
    qualname = getattr(obj, "__qualname__", "")
    return module, qualname


def _is_allowed_class(obj):
    module, qualname = _class_path(obj)
    return (isinstance(obj, type) and module.split(".")[0] in _CLASS_PACKAGES
            and "<" not in qualname and issubclass(obj, _class_bases()))


def _resolve_class(text, where, path):
    module, _, qualname = str(text).partition(":")
    if module.split(".")[0] not in _CLASS_PACKAGES or not qualname or "<" in qualname:
        raise ModelFileError(
            f"'{path}' names {text!r} for {where}; sk_crnn.load only uses classes of "
            f"{', '.join(_CLASS_PACKAGES)} (modules, losses, optimizers, data loaders)."
        )
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ModelFileError(
            f"'{path}' names the class {module}.{qualname} for {where}, which cannot be imported "
            f"here ({exc}); it may come from another version of {module.split('.')[0]}."
        ) from None
    if not _is_allowed_class(obj) or _class_path(obj) != (module, qualname):
        raise ModelFileError(
            f"'{path}' names {module}.{qualname} for {where}, which is not a module, loss, "
            "optimizer, data loader or dataset class; sk_crnn.load does not use it."
        )
    return obj


# -- writing -----------------------------------------------------------------------------------
class _Unstorable(TypeError):
    pass


def _describe(value):
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, type) or inspect.isroutine(value):
        module, qualname = _class_path(value)
        kind = "class" if isinstance(value, type) else "function"
        return f"{text} ({kind} {qualname} from {module or '?'})"
    kind = type(value)
    return f"{text} (an object of class {kind.__qualname__} from {kind.__module__})"


class _Writer:
    def __init__(self):
        self.arrays = {}
        self.tensors = {}
        self._classes = {cls: name for name, cls in _estimator_classes().items()}
        self._functions = {id(f): name for name, f in _allowed_functions().items()}

    def _key(self, store, where):
        key, n = where, 1
        while key in store:
            n += 1
            key = f"{where}#{n}"
        return key

    # values ------------------------------------------------------------------------------
    def value(self, v, where):
        import torch

        if v is None or type(v) in (bool, str):
            return v
        if isinstance(v, np.generic):
            return self._scalar(v, where)
        if type(v) is int:
            return v
        if type(v) is float:
            return v if math.isfinite(v) else {"__float__": repr(v)}
        if type(v) is complex:
            return {"__complex__": [self.value(v.real, where), self.value(v.imag, where)]}
        if type(v) is bytes:
            return {"__bytes__": base64.b64encode(v).decode("ascii")}
        if type(v) is tuple:
            return {"__tuple__": [self.value(x, f"{where}[{i}]") for i, x in enumerate(v)]}
        if type(v) is list:
            return [self.value(x, f"{where}[{i}]") for i, x in enumerate(v)]
        if type(v) in (set, frozenset):
            return {f"__{type(v).__name__}__": [self.value(x, where) for x in v]}
        if type(v) is dict:
            return {"__dict__": [[self.value(k, where), self.value(x, f"{where}[{k!r}]")]
                                 for k, x in v.items()]}
        if type(v) is np.ndarray:
            return self._array(v, where)
        if isinstance(v, torch.Tensor):
            key = self._key(self.tensors, where)
            self.tensors[key] = v.detach().cpu().contiguous().clone()
            return {"__tensor__": key}
        if isinstance(v, np.dtype):
            return {"__numpy_dtype__": v.str}
        if isinstance(v, type) and issubclass(v, np.generic):
            return {"__numpy_type__": np.dtype(v).name}
        if isinstance(v, torch.dtype):
            return {"__torch_dtype__": str(v).removeprefix("torch.")}
        if id(v) in self._functions and callable(v):
            return {"__function__": self._functions[id(v)]}
        if _is_allowed_class(v):
            module, qualname = _class_path(v)
            return {"__class__": f"{module}:{qualname}"}
        raise _Unstorable(where, v)

    def _scalar(self, v, where):
        if v.dtype.kind not in "biufcSU":
            raise _Unstorable(where, v)
        return {"__numpy__": v.dtype.str, "value": self.value(v.item(), where)}

    def _array(self, a, where):
        kind = a.dtype.kind
        if kind in "biufMm":
            stored = a.view(np.int64) if kind in "Mm" else a
            key = self._key(self.arrays, where)
            self.arrays[key] = np.ascontiguousarray(stored,
                                                    dtype=stored.dtype.newbyteorder("="))
            return {"__ndarray__": key, "dtype": a.dtype.str, "shape": list(a.shape)}
        if kind == "c":
            return {"__ndarray_complex__": self._array(np.stack([a.real, a.imag]), where),
                    "dtype": a.dtype.str}
        if kind == "U":
            return {"__ndarray_str__": a.ravel().tolist(), "dtype": a.dtype.str,
                    "shape": list(a.shape)}
        if kind == "S":
            return {"__ndarray_bytes__": [base64.b64encode(x).decode("ascii")
                                          for x in a.ravel().tolist()],
                    "dtype": a.dtype.str, "shape": list(a.shape)}
        if kind == "O":
            return {"__ndarray_object__": [self.value(x, f"{where}[{i}]")
                                           for i, x in enumerate(a.ravel().tolist())],
                    "shape": list(a.shape)}
        raise _Unstorable(where, a)

    def _stored(self, v, where, what):
        try:
            return self.value(v, where)
        except _Unstorable as exc:
            bad_where, bad = exc.args
            raise TypeError(
                f"sk_crnn.save cannot store {what} {bad_where} = {_describe(bad)}: a model file "
                "holds only numbers, strings, arrays, tensors and the module, loss and "
                "optimizer classes of sk_crnn, torch and skorch, so that loading it cannot run "
                "code. Use joblib.dump for this model (and load it only from sources you "
                "trust), or give it storable values."
            ) from None

    # estimators --------------------------------------------------------------------------
    def node(self, est, where):
        from sklearn.pipeline import Pipeline
        from skorch import NeuralNet

        if est is None or (isinstance(est, str) and est == "passthrough"):
            return {"kind": "passthrough", "value": est}
        if type(est) is Pipeline:
            params = est.get_params(deep=False)
            steps = params.pop("steps")
            return {
                "kind": "pipeline",
                "params": self._named(params, f"{where}.", "the parameter"),
                "steps": [[name, self.node(step, f"{where}.{name}")] for name, step in steps],
            }
        name = self._classes.get(type(est))
        if name is None:
            known = ", ".join(c.rpartition(".")[2] for c in SKLEARN_CLASSES)
            raise TypeError(
                f"sk_crnn.save cannot store {where}, a {type(est).__module__}."
                f"{type(est).__qualname__}: it stores Pipelines of sk_crnn's steps and of "
                f"these scikit-learn classes: {known}. Use joblib.dump for other models (and "
                "load them only from sources you trust)."
            )
        params = est.get_params(deep=False)
        if isinstance(est, NeuralNet):
            return self._net(est, name, params, where)
        state = {k: v for k, v in vars(est).items() if k not in params}
        return {
            "kind": "estimator", "class": name,
            "params": self._named(params, f"{where}.", "the parameter"),
            "state": self._named(state, f"{where}.", "the fitted attribute"),
        }

    def _named(self, values, prefix, what):
        return {k: self._stored(v, f"{prefix}{k}", what) for k, v in values.items()}

    def _net(self, est, name, params, where):
        import torch

        internals = _NET_INTERNALS | set(getattr(est, "cuda_dependent_attributes_", ()))
        state = {}
        for key, value in vars(est).items():
            if not key.endswith("_") or key.startswith("_") or key in internals:
                continue
            if type(value).__module__.split(".")[0] in ("torch", "skorch") and not isinstance(
                    value, torch.Tensor):
                continue  # rebuilt by initialize()
            state[key] = value
        node = {
            "kind": "net", "class": name,
            "params": self._named(params, f"{where}.", "the parameter"),
            "state": self._named(state, f"{where}.", "the fitted attribute"),
            "initialized": bool(getattr(est, "initialized_", False)),
        }
        if not node["initialized"]:
            return node
        node["torch"] = {}
        for attr in getattr(est, "cuda_dependent_attributes_", ["module_", "criterion_"]):
            module = getattr(est, attr, None)
            if isinstance(module, torch.nn.Module):
                node["torch"][attr] = {
                    k: self.value(t, f"{where}.{attr}.{k}")["__tensor__"]
                    for k, t in module.state_dict().items()}
        try:
            node["history"] = self.value(list(est.history_), f"{where}.history_")
        except (_Unstorable, AttributeError):
            pass  # a history of objects is left out; the model predicts without it
        probe = _probe(est)
        if probe is not None:
            node["probe"] = self.value(probe, f"{where}.probe")
        return node


def _probe_input(est):
    rng = np.random.default_rng(0)
    return rng.standard_normal((2, est.n_mels_in_, est.n_frames_in_)).astype(np.float32)


def _probe(est):
    """The network's outputs on a fixed random input, to check the restored network."""
    if not (hasattr(est, "n_mels_in_") and hasattr(est, "n_frames_in_")):
        return None
    try:
        out = est.forward(_probe_input(est), training=False)
    except Exception:  # noqa: BLE001 - a net that cannot run is saved without the check
        return None
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out.detach().cpu().float().numpy()


# -- reading -----------------------------------------------------------------------------------
class _Reader:
    def __init__(self, path, parts):
        from safetensors import SafetensorError
        from safetensors.numpy import load as load_arrays
        from safetensors.torch import load as load_tensors

        self.path = path
        try:
            self.arrays = load_arrays(parts["arrays.safetensors"])
            self.tensors = load_tensors(parts["weights.safetensors"])
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise _corrupted(path, f"safetensors: {exc}") from None
        self._classes = None
        self._functions = None

    def value(self, v, where):
        import torch

        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [self.value(x, where) for x in v]
        if not isinstance(v, dict) or not v:
            raise ValueError(f"unexpected value {v!r} for {where}")
        tag = next(iter(v))
        if tag == "__float__":
            return float(v[tag])
        if tag == "__complex__":
            re, im = (self.value(x, where) for x in v[tag])
            return complex(re, im)
        if tag == "__bytes__":
            return base64.b64decode(v[tag])
        if tag == "__tuple__":
            return tuple(self.value(x, where) for x in v[tag])
        if tag in ("__set__", "__frozenset__"):
            items = [self.value(x, where) for x in v[tag]]
            return set(items) if tag == "__set__" else frozenset(items)
        if tag == "__dict__":
            return {self.value(k, where): self.value(x, where) for k, x in v[tag]}
        if tag == "__numpy__":
            return np.dtype(v["__numpy__"]).type(self.value(v["value"], where))
        if tag == "__ndarray__":
            a = self.arrays[v[tag]].reshape(v["shape"])  # safetensors makes 0-d arrays 1-D
            dtype = np.dtype(v["dtype"])
            return a.view(dtype) if dtype.kind in "Mm" else a.astype(dtype, copy=False)
        if tag == "__ndarray_complex__":
            parts = self.value(v[tag], where)
            return (parts[0] + 1j * parts[1]).astype(v["dtype"])
        if tag == "__ndarray_str__":
            return np.array(v[tag], dtype=v["dtype"]).reshape(v["shape"])
        if tag == "__ndarray_bytes__":
            return np.array([base64.b64decode(x) for x in v[tag]],
                            dtype=v["dtype"]).reshape(v["shape"])
        if tag == "__ndarray_object__":
            flat = np.empty(len(v[tag]), dtype=object)
            for i, x in enumerate(v[tag]):
                flat[i] = self.value(x, where)
            return flat.reshape(v["shape"])
        if tag == "__tensor__":
            return self.tensors[v[tag]]
        if tag == "__numpy_dtype__":
            return np.dtype(v[tag])
        if tag == "__numpy_type__":
            return np.dtype(v[tag]).type
        if tag == "__torch_dtype__":
            dtype = getattr(torch, str(v[tag]), None)
            if not isinstance(dtype, torch.dtype):
                raise ValueError(f"unknown torch dtype {v[tag]!r}")
            return dtype
        if tag == "__function__":
            if self._functions is None:
                self._functions = _allowed_functions()
            if v[tag] not in self._functions:
                raise ModelFileError(
                    f"'{self.path}' names the function {v[tag]!r} for {where}; sk_crnn.load "
                    f"only uses these: {', '.join(sorted(self._functions))}."
                )
            return self._functions[v[tag]]
        if tag == "__class__":
            return _resolve_class(v[tag], where, self.path)
        raise ValueError(f"unknown tag {tag!r} for {where}")

    def _values(self, mapping, where):
        if not isinstance(mapping, dict):
            raise ValueError(f"{where} is not a mapping")
        return {str(k): self.value(v, f"{where}.{k}") for k, v in mapping.items()}

    def _class(self, name):
        if self._classes is None:
            self._classes = _estimator_classes()
        cls = self._classes.get(name)
        if cls is None:
            allowed = ", ".join(sorted(c.rpartition(".")[2] for c in self._classes))
            raise ModelFileError(
                f"'{self.path}' holds a step of type {name!r}, which sk_crnn.load does not "
                f"rebuild; it rebuilds Pipeline and {allowed}. (A newer sk_crnn may know it.)"
            )
        return cls

    def node(self, tree, where):
        from sklearn.pipeline import Pipeline

        kind = tree["kind"]
        if kind == "passthrough":
            if tree["value"] not in (None, "passthrough"):
                raise ValueError(f"bad passthrough step {tree['value']!r}")
            return tree["value"]
        if kind == "pipeline":
            steps = [(str(name), self.node(step, f"{where}.{name}"))
                     for name, step in tree["steps"]]
            return Pipeline(steps, **self._values(tree["params"], where))
        if kind not in ("estimator", "net"):
            raise ValueError(f"unknown node kind {kind!r}")
        cls = self._class(tree["class"])
        params = self._values(tree["params"], where)
        state = self._values(tree["state"], where)
        if kind == "net":
            return self._net(cls, params, state, tree, where)
        est = cls(**_cpu_device(params, where))
        vars(est).update(state)
        return est

    def _net(self, cls, params, state, tree, where):
        import torch
        from skorch.history import History

        est = cls(**_cpu_device(params, where))
        _set_state(est, state)
        if not tree.get("initialized"):
            return est
        est.initialize()
        _set_state(est, state)  # initialize() resets some of them
        for attr, keys in tree.get("torch", {}).items():
            module = getattr(est, attr, None)
            if not isinstance(module, torch.nn.Module):
                raise ValueError(f"{where}.{attr} is not a torch module after initialize()")
            weights = {name: self.tensors[key] for name, key in keys.items()}
            for name, tensor in weights.items():
                if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                    raise ModelFileError(
                        f"'{self.path}': the network weights {where}.{attr}.{name} hold NaN or "
                        "infinite values, so the model cannot predict; it was saved after a "
                        "failed training or altered. Train it again."
                    )
            try:
                module.load_state_dict(weights)
            except RuntimeError as exc:
                raise ModelFileError(
                    f"'{self.path}': the saved weights of {where}.{attr} do not fit the network "
                    f"that {type(est).__name__} builds here ({str(exc).splitlines()[0]}); the "
                    "file comes from another version of sk_crnn."
                ) from None
        if "history" in tree:
            est.history_ = History(self.value(tree["history"], where))
        if "probe" in tree:
            _check_probe(est, self.value(tree["probe"], where), where, self.path)
        return est


def _set_state(est, state):
    for key, value in state.items():
        if isinstance(getattr(type(est), key, None), property):
            continue  # e.g. classes_, computed from classes_inferred_
        setattr(est, key, value)


def _cpu_device(params, where):
    import torch

    device = params.get("device")
    if isinstance(device, str) and device.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(
            f"{where} was saved with device={device!r}, but CUDA is not available here; it "
            "is loaded with device='cpu'.", UserWarning, stacklevel=4)
        params = {**params, "device": "cpu"}
    return params


def _check_probe(est, expected, where, path):
    got = _probe(est)
    if got is None or got.shape != expected.shape:
        raise ModelFileError(
            f"'{path}': the restored network {where} cannot be checked against the outputs "
            "saved with it; the file comes from another version of sk_crnn."
        )
    scale = max(1.0, float(np.abs(expected).max()))
    loose = getattr(est, "precision", "32") not in ("32", None)
    tol = (5e-2 if loose else 1e-3) * scale
    diff = float(np.abs(got - expected).max())
    if not diff <= tol:
        raise ModelFileError(
            f"'{path}': the restored network {where} does not give the outputs it gave when "
            f"saved (largest difference {diff:.3g}); the file comes from a version of sk_crnn "
            "that builds the network differently, or it was altered."
        )
