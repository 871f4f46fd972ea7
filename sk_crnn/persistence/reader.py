"""Rebuilding an estimator from the model tree: values by tag, classes by registry tag only,
every size and weight checked (:mod:`.checks`) before a network is built."""

import base64
import functools
import inspect
import warnings

import numpy as np

from . import checks, registry
from .archive import MAX_ELEMENTS, corrupted, read_header
from .checks import BadModel

MAX_ITEMSIZE = 2 ** 20  # bytes of one string of a string array
_NET_PREFIXES = ("module", "criterion", "optimizer", "iterator_train", "iterator_valid",
                 "dataset", "callbacks", "compile")


def _safe_dtype(text, kinds, where):
    """``np.dtype(text)`` of a plain dtype of one of ``kinds`` (no fields, no subarray)."""
    if not isinstance(text, str) or len(text) > 40:
        raise BadModel(f"{where} has the dtype {text!r}")
    dtype = np.dtype(text)
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None or \
            dtype.itemsize > MAX_ITEMSIZE:
        raise BadModel(f"{where} has the dtype {text!r}, which a model file does not hold")
    return dtype


def _shape(shape, count, where):
    if not isinstance(shape, list) or len(shape) > 32 or not all(
            type(s) is int and 0 <= s <= MAX_ELEMENTS for s in shape):
        raise BadModel(f"{where} has the shape {shape!r}")
    if int(np.prod(shape, dtype=object)) != count:
        raise BadModel(f"{where} has the shape {shape} for {count} values")
    return shape


@functools.cache
def _torch_dtypes():
    import torch

    # read from torch's namespace, never through getattr (torch imports some names lazily)
    return {name: v for name, v in vars(torch).items() if isinstance(v, torch.dtype)}


@functools.cache
def _net_param_names(cls):
    """The constructor arguments of a net class and of its bases."""
    names = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            names.update(name for name, p in inspect.signature(klass.__init__).parameters.items()
                         if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and name != "self")
    return frozenset(names)


def _cpu_device(params, where):
    import torch

    device = params.get("device")
    if isinstance(device, str) and device.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(
            f"{where} was saved with device={device!r}, but CUDA is not available here; it "
            "is loaded with device='cpu'.", UserWarning, stacklevel=5)
        params = {**params, "device": "cpu"}
    return params


class Reader:
    """Rebuilds the estimators of a model tree from the parts of a file read by
    :func:`.archive.read_archive`; ``version`` is the file's format version."""

    def __init__(self, path, parts, version):
        from safetensors import SafetensorError
        from safetensors.numpy import load as load_arrays
        from safetensors.torch import load as load_tensors

        self.path = path
        self.version = version
        try:
            self.array_header = read_header(parts["arrays.safetensors"], "arrays.safetensors")
            self.tensor_header = read_header(parts["weights.safetensors"],
                                             "weights.safetensors")
            self.arrays = load_arrays(parts["arrays.safetensors"])
            self.tensors = load_tensors(parts["weights.safetensors"])
        except (SafetensorError, ValueError, RuntimeError, TypeError) as exc:
            raise corrupted(path, f"safetensors: {exc}") from None

    # values ------------------------------------------------------------------------------
    def value(self, v, where):
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [self.value(x, where) for x in v]
        if not isinstance(v, dict) or not v:
            raise BadModel(f"{where} holds {v!r}, which is not a stored value")
        tag = next(iter(v))
        decode = _DECODERS.get(tag)
        if decode is None:
            raise BadModel(f"{where} holds a value of the unknown kind {tag!r}")
        return decode(self, v, v[tag], where)

    def _list(self, items, where):
        if not isinstance(items, list):
            raise BadModel(f"{where} holds {items!r} where a list belongs")
        return [self.value(x, where) for x in items]

    def _float(self, v, text, where):
        if text not in ("nan", "inf", "-inf"):
            raise BadModel(f"{where} holds the float {text!r}")
        return float(text)

    def _complex(self, v, parts, where):
        re, im = self._list(parts, where)
        return complex(re, im)

    def _bytes(self, v, text, where):
        if not isinstance(text, str):
            raise BadModel(f"{where} holds bytes as {text!r}")
        return base64.b64decode(text, validate=True)

    def _dict(self, v, pairs, where):
        if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 for p in pairs):
            raise BadModel(f"{where} holds a dict as {pairs!r}")
        return {self.value(k, where): self.value(x, where) for k, x in pairs}

    def _numpy(self, v, text, where):
        return _safe_dtype(text, "biufcSU", where).type(self.value(v.get("value"), where))

    def _ndarray(self, v, key, where):
        if not isinstance(key, str) or key not in self.arrays:
            raise BadModel(f"{where} names the array {key!r}, which the file does not hold")
        a = self.arrays[key]
        a = a.reshape(_shape(v.get("shape"), a.size, where))  # safetensors makes 0-d arrays 1-D
        dtype = _safe_dtype(v.get("dtype"), "biufMm", where)
        if dtype.kind in "Mm":
            if a.dtype != np.int64:
                raise BadModel(f"{where} stores dates as {a.dtype}")
            return a.view(dtype)
        return a.astype(dtype, copy=False)

    def _ndarray_complex(self, v, inner, where):
        dtype = _safe_dtype(v.get("dtype"), "c", where)
        parts = self.value(inner, where)
        if not isinstance(parts, np.ndarray) or parts.ndim < 1 or len(parts) != 2 or \
                parts.dtype.kind != "f":
            raise BadModel(f"{where} holds a complex array without its two parts")
        return (parts[0] + 1j * parts[1]).astype(dtype)

    def _ndarray_text(self, v, items, where):
        tag = next(iter(v))
        kind = "U" if tag == "__ndarray_str__" else "S"
        dtype = _safe_dtype(v.get("dtype"), kind, where)
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            raise BadModel(f"{where} holds a string array that is not a list of strings")
        if len(items) * dtype.itemsize > MAX_ELEMENTS:
            raise BadModel(f"{where} claims {len(items)} strings of {dtype.itemsize} bytes")
        shape = _shape(v.get("shape"), len(items), where)
        if kind == "S":
            items = [base64.b64decode(x, validate=True) for x in items]
        return np.array(items, dtype=dtype).reshape(shape)

    def _ndarray_object(self, v, items, where):
        values = self._list(items, where)
        shape = _shape(v.get("shape"), len(values), where)
        flat = np.empty(len(values), dtype=object)
        for i, x in enumerate(values):
            flat[i] = x
        return flat.reshape(shape)

    def _tensor(self, v, key, where):
        if not isinstance(key, str) or key not in self.tensors:
            raise BadModel(f"{where} names the tensor {key!r}, which the file does not hold")
        return self.tensors[key]

    def _torch_dtype(self, v, name, where):
        dtype = _torch_dtypes().get(name) if isinstance(name, str) else None
        if dtype is None:
            raise BadModel(f"{where} names the torch dtype {name!r}, which torch does not have")
        return dtype

    def _function(self, v, tag, where):
        table = registry.functions()
        if not isinstance(tag, str) or tag not in table:
            raise BadModel(f"{where} names the function {tag!r}; sk_crnn.load only uses "
                           f"these: {', '.join(sorted(table))}")
        return table[tag]

    def _class(self, v, tag, where):
        table = registry.parameter_classes()
        if self.version == 1 and isinstance(tag, str):  # "module:qualname", looked up only
            tag = registry.legacy_class_names().get(tag, tag)
        if not isinstance(tag, str) or tag not in table:
            raise BadModel(f"{where} names the class {tag!r}, which is not in sk_crnn's "
                           "registry of modules, losses, optimizers, data loaders and "
                           "datasets (sk_crnn.persistence.registry); it is not loaded")
        return table[tag][1]

    def _values(self, mapping, where):
        if not isinstance(mapping, dict):
            raise BadModel(f"{where} is not a mapping")
        return {str(k): self.value(v, f"{where}.{k}") for k, v in mapping.items()}

    # estimators --------------------------------------------------------------------------
    def node(self, tree, where):
        from skorch import NeuralNet

        if not isinstance(tree, dict):
            raise BadModel(f"{where} is not a JSON object")
        kind = tree.get("kind")
        if kind == "passthrough":
            if tree.get("value") not in (None, "passthrough"):
                raise BadModel(f"{where} is the passthrough step {tree.get('value')!r}")
            return tree["value"]
        if kind == "pipeline":
            steps = tree.get("steps")
            if not isinstance(steps, list) or not steps or not all(
                    isinstance(s, list) and len(s) == 2 for s in steps):
                raise BadModel(f"{where} has no list of steps")
            # a file written before pipelines named their class holds scikit-learn's
            tag = tree.get("class", registry.PIPELINE)
            pipeline_class = (registry.pipeline_classes().get(tag)
                              if isinstance(tag, str) else None)
            if pipeline_class is None:
                raise BadModel(f"{where} is a pipeline of type {tag!r}, which sk_crnn.load "
                               "does not rebuild; it rebuilds "
                               f"{', '.join(sorted(registry.pipeline_classes()))}")
            params = self._values(tree.get("params"), where)
            checks.check_pipeline(params, [name for name, _ in steps], where)
            pipe = pipeline_class(
                [(name, self.node(step, f"{where}.{name}")) for name, step in steps], **params)
            validate = getattr(pipe, "_validate_steps", None)  # scikit-learn's own checks
            if validate is not None:
                validate()
            return pipe
        if kind not in ("estimator", "net"):
            raise BadModel(f"{where} is of the unknown kind {kind!r}")
        tag = tree.get("class")
        cls = registry.estimator_classes().get(tag) if isinstance(tag, str) else None
        if cls is None:
            allowed = ", ".join(sorted(t.rpartition(".")[2]
                                       for t in registry.estimator_classes()))
            raise BadModel(f"{where} is a step of type {tag!r}, which sk_crnn.load does not "
                           f"rebuild; it rebuilds Pipeline and {allowed}")
        if issubclass(cls, NeuralNet) != (kind == "net"):
            raise BadModel(f"{where} is stored as a {kind}, but {tag} is not one")
        params = self._values(tree.get("params"), where)
        state = self._values(tree.get("state"), where)
        for key in state:
            why = registry.allowed_state(tag, cls, key, params)
            if why is not None:
                raise BadModel(f"{where} sets the fitted attribute {key!r}: {why}")
        checks.check_output_config(state, where)
        if kind == "net":
            return self._net(cls, params, state, tree, where)
        est = cls(**params)
        vars(est).update(state)
        if cls.__name__ == "MelSpectrogramTransformer":
            checks.check_transformer(est, where)
        elif cls.__name__ == "AudioLoader":
            checks.check_loader(est, where)
        return est

    def _net(self, cls, params, state, tree, where):
        from skorch.history import History

        allowed = _net_param_names(cls)
        for key in params:
            if key not in allowed and key.split("__")[0] not in _NET_PREFIXES or \
                    key.startswith("_") or key.endswith("_"):
                raise BadModel(f"{where} has the parameter {key!r}, which "
                               f"{cls.__name__} does not take")
        checks.check_net_params(cls, params, where)
        initialized = tree.get("initialized")
        if not isinstance(initialized, bool):
            raise BadModel(f"{where}.initialized is {initialized!r}")
        checks.check_net_state(cls, state, initialized, where)
        est = cls(**_cpu_device(params, where))
        if not initialized:
            if any(k in tree for k in ("torch", "probe", "history")):
                raise BadModel(f"{where} is not initialized but the file holds its weights")
            vars(est).update(state)  # at most set_output's container (check_net_state)
            return est
        vars(est).update(state)
        stored = self._stored_weights(tree.get("torch"), where)
        module = checks.meta_module(est)
        checks.check_weights(module, stored.get("module_", {}), f"{where}.module_")
        # a net whose training failed refuses to predict, so it has no outputs to check
        failed = state.get("training_failed_")
        fitted = "n_outputs_" in state and not (isinstance(failed, str) and failed)
        if fitted:
            checks.check_probe_size(est, module, where)
            if "probe" not in tree:
                raise BadModel(f"{where} holds no check of the network's outputs (probe)")
        del module
        compile_ = est.compile
        est.compile = False  # a loaded module runs uncompiled; fit compiles again
        est.initialize()
        est.compile = compile_
        vars(est).update(state)  # initialize() resets some of them
        self._load_weights(est, stored, tree["torch"], where)
        if "history" in tree:
            history = self.value(tree["history"], where)
            if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
                raise BadModel(f"{where}.history is not a list of epochs")
            est.history_ = History(history)
        if fitted:
            checks.check_probe(est, self.value(tree["probe"], f"{where}.probe"), where)
        elif "probe" in tree:
            raise BadModel(f"{where} holds a probe but no fitted sizes, or a failed training")
        return est

    def _stored_weights(self, torch_tree, where):
        """``{attr: {state_dict key: (dtype, shape)}}`` from the safetensors header."""
        if not isinstance(torch_tree, dict):
            raise BadModel(f"{where} is initialized but the file holds no weights for it")
        stored = {}
        for attr, keys in torch_tree.items():
            if not isinstance(keys, dict):
                raise BadModel(f"{where}.{attr} lists no weights")
            stored[attr] = {}
            for name, key in keys.items():
                if not isinstance(key, str) or key not in self.tensor_header:
                    raise BadModel(f"{where}.{attr}.{name} names the tensor {key!r}, which "
                                   "the file does not hold")
                stored[attr][name] = self.tensor_header[key]
        return stored

    def _load_weights(self, est, stored, torch_tree, where):
        import torch

        attrs = [a for a in getattr(est, "cuda_dependent_attributes_", ())
                 if isinstance(getattr(est, a, None), torch.nn.Module)]
        extra = sorted(set(torch_tree) - set(attrs))
        if extra:
            raise BadModel(f"{where} holds weights for {', '.join(extra)}, which it does not "
                           "have")
        for attr in attrs:
            module = getattr(est, attr)
            if attr != "module_":  # module_ was checked on the meta device
                checks.check_weights(module, stored.get(attr, {}), f"{where}.{attr}")
            weights = {name: self.tensors[key] for name, key in torch_tree.get(attr, {}).items()}
            for name, tensor in weights.items():
                if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                    raise BadModel(
                        f"the network weights {where}.{attr}.{name} hold NaN or infinite "
                        "values, so the model cannot predict; it was saved after a failed "
                        "training or altered. Train it again.")
            module.load_state_dict(weights, strict=True)


_DECODERS = {
    "__float__": Reader._float,
    "__complex__": Reader._complex,
    "__bytes__": Reader._bytes,
    "__tuple__": lambda self, v, items, where: tuple(self._list(items, where)),
    "__set__": lambda self, v, items, where: set(self._list(items, where)),
    "__frozenset__": lambda self, v, items, where: frozenset(self._list(items, where)),
    "__dict__": Reader._dict,
    "__numpy__": Reader._numpy,
    "__ndarray__": Reader._ndarray,
    "__ndarray_complex__": Reader._ndarray_complex,
    "__ndarray_str__": Reader._ndarray_text,
    "__ndarray_bytes__": Reader._ndarray_text,
    "__ndarray_object__": Reader._ndarray_object,
    "__tensor__": Reader._tensor,
    "__numpy_dtype__": lambda self, v, text, where: _safe_dtype(text, "biufcSUMmO", where),
    "__numpy_type__": lambda self, v, text, where: _safe_dtype(text, "biufcSUMmO", where).type,
    "__torch_dtype__": Reader._torch_dtype,
    "__function__": Reader._function,
    "__class__": Reader._class,
}
