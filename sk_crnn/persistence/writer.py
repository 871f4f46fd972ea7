"""Turning an estimator into the model tree (JSON-able), its arrays and its tensors."""

import base64
import inspect
import math
import warnings

import numpy as np

from . import registry


class Unstorable(TypeError):
    pass


def _describe(value):
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, type) or inspect.isroutine(value):
        module = getattr(value, "__module__", None) or "?"
        kind = "class" if isinstance(value, type) else "function"
        return f"{text} ({kind} {getattr(value, '__qualname__', '')} from {module})"
    kind = type(value)
    return f"{text} (an object of class {kind.__qualname__} from {kind.__module__})"


def probe_input(est):
    """The fixed random input whose outputs are saved with a network, to check it on load."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((2, est.n_mels_in_, est.n_frames_in_)).astype(np.float32)


def probe(est):
    """The network's outputs on :func:`probe_input`, or None for a net without fitted sizes."""
    if not (hasattr(est, "n_mels_in_") and hasattr(est, "n_frames_in_")):
        return None
    out = est.forward(probe_input(est), training=False)
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out.detach().cpu().float().numpy()


class Writer:
    """Builds the tree of :func:`sk_crnn.save`; ``arrays`` and ``tensors`` collect the data."""

    def __init__(self):
        self.arrays = {}
        self.tensors = {}
        self._estimators = {cls: tag for tag, cls in registry.estimator_classes().items()}
        self._pipelines = {cls: tag for tag, cls in registry.pipeline_classes().items()}
        self._classes = registry.class_tags()
        self._functions = {id(f): tag for tag, f in registry.functions().items()}

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
        if isinstance(v, type) and v in self._classes:
            return {"__class__": self._classes[v]}
        raise Unstorable(where, v)

    def _scalar(self, v, where):
        if v.dtype.kind not in "biufcSU":
            raise Unstorable(where, v)
        return {"__numpy__": v.dtype.str, "value": self.value(v.item(), where)}

    def _array(self, a, where):
        kind = a.dtype.kind
        if a.dtype.fields is not None or a.dtype.subdtype is not None:
            raise Unstorable(where, a)
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
        raise Unstorable(where, a)

    def _stored(self, v, where, what):
        try:
            return self.value(v, where)
        except Unstorable as exc:
            bad_where, bad = exc.args
            raise TypeError(
                f"sk_crnn.save cannot store {what} {bad_where} = {_describe(bad)}: a model file "
                "holds only numbers, strings, arrays, tensors and the module, loss and "
                "optimizer classes of sk_crnn's registry (sk_crnn.persistence.registry), so "
                "that loading it cannot run code. Use joblib.dump for this model (and load it "
                "only from sources you trust), or give it storable values."
            ) from None

    # estimators --------------------------------------------------------------------------
    def node(self, est, where):
        from skorch import NeuralNet

        if est is None or (isinstance(est, str) and est == "passthrough"):
            return {"kind": "passthrough", "value": est}
        pipeline_tag = self._pipelines.get(type(est))
        if pipeline_tag is not None:
            params = est.get_params(deep=False)
            steps = params.pop("steps")
            if params.get("memory") is not None:
                raise TypeError(
                    f"sk_crnn.save cannot store {where} with memory={params['memory']!r}: a "
                    "Pipeline's cache is a folder of joblib pickles, which a model file must "
                    "not point to. Set memory=None before saving.")
            return {
                "kind": "pipeline", "class": pipeline_tag,
                "params": self._named(params, f"{where}.", "the parameter"),
                "steps": [[name, self.node(step, f"{where}.{name}")] for name, step in steps],
            }
        tag = self._estimators.get(type(est))
        if tag is None:
            known = ", ".join(c.rpartition(".")[2] for c in registry.SKLEARN_CLASSES)
            raise TypeError(
                f"sk_crnn.save cannot store {where}, a {type(est).__module__}."
                f"{type(est).__qualname__}: it stores Pipelines of sk_crnn's steps and of "
                f"these scikit-learn classes: {known}. Use joblib.dump for other models (and "
                "load them only from sources you trust)."
            )
        params = est.get_params(deep=False)
        if isinstance(est, NeuralNet):
            return self._net(est, tag, params, where)
        state = {k: v for k, v in vars(est).items() if k not in params}
        self._check_state(est, tag, state, params, where)
        return {
            "kind": "estimator", "class": tag,
            "params": self._named(params, f"{where}.", "the parameter"),
            "state": self._named(state, f"{where}.", "the fitted attribute"),
        }

    def _named(self, values, prefix, what):
        return {k: self._stored(v, f"{prefix}{k}", what) for k, v in values.items()}

    @staticmethod
    def _check_state(est, tag, state, params, where):
        for key in state:
            why = registry.allowed_state(tag, type(est), key, params)
            if why is not None:
                raise TypeError(
                    f"sk_crnn.save cannot store the attribute {where}.{key}: {why}, so "
                    "sk_crnn.load would refuse the file. Delete the attribute, or use "
                    "joblib.dump for this model (and load it only from sources you trust).")

    def _net(self, est, tag, params, where):
        import torch

        initialized = bool(getattr(est, "initialized_", False))
        internals = registry.NET_INTERNALS | set(getattr(est, "cuda_dependent_attributes_", ()))
        state = {}
        for key, value in vars(est).items():
            if key == registry.OUTPUT_CONFIG:  # set_output's container, fitted or not
                state[key] = value
                continue
            if not initialized or not key.endswith("_") or key.startswith("_") or \
                    key in internals:
                continue  # an unfitted net has no fitted state
            if type(value).__module__.split(".")[0] in ("torch", "skorch") and not isinstance(
                    value, torch.Tensor):
                continue  # rebuilt by initialize()
            state[key] = value
        self._check_state(est, tag, state, params, where)
        epoch = state.get("interrupted_epoch_")
        if epoch is not None:
            warnings.warn(
                f"sk_crnn.save: the training of {where} was interrupted (Ctrl-C) after "
                f"{epoch} epoch(s) of max_epochs={est.max_epochs}; the file holds the network "
                "as it was then. Train it to the end (partial_fit) if that is not intended.",
                UserWarning, stacklevel=4)
        node = {
            "kind": "net", "class": tag,
            "params": self._named(params, f"{where}.", "the parameter"),
            "state": self._named(state, f"{where}.", "the fitted attribute"),
            "initialized": initialized,
        }
        if not initialized:
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
        except (Unstorable, AttributeError):
            pass  # a history of objects is left out; the model predicts without it
        if state.get("training_failed_"):
            return node  # it refuses to predict: there are no outputs to check
        try:
            outputs = probe(est)
        except Exception as exc:  # noqa: BLE001 - any failure of the user's network
            raise ValueError(
                f"sk_crnn.save cannot store {where}: its network fails on an input of its "
                f"fitted shape ({type(exc).__name__}: {exc}), so the file could not be checked "
                "when loaded. Fit it again, or use joblib.dump.") from exc
        if outputs is not None:
            node["probe"] = self.value(outputs, f"{where}.probe")
        return node
