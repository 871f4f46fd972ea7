"""What :func:`sk_crnn.load` checks before it builds anything: sizes, state and weights.

A file whose checksums were recomputed after an edit is internally consistent, so the
checksums say nothing about whether the model it describes is sane. These checks do:

- the front end's sizes are bounded (a mel ``n_fft`` of 2**28 would need gigabytes at the first
  ``predict``), and its fitted sizes agree with its parameters;
- a net's fitted sizes are bounded, and its classes (vocabulary, class and positive weights,
  thresholds) agree with its number of outputs;
- the network the parameters would build is built on torch's ``meta`` device (no memory), and
  the shape of every one of its weights is compared with the stored weights, read from the
  safetensors header: every weight must be there, none may be extra, each of its shape;
- after loading, the network must give the outputs saved with it (the probe).
"""

import numpy as np

from .archive import MAX_ELEMENTS
from .registry import OUTPUT_CONFIG

MAX_SR = 1_000_000  # Hz
MAX_N_FFT = 2 ** 16
MAX_HOP = 2 ** 22
MAX_N_MELS = 2 ** 12
MAX_FILTERBANK = 2 ** 25  # n_mels * (1 + n_fft // 2)
MAX_SAMPLES = 2 ** 28  # samples of one clip: 1 GiB of float32
MAX_BANDS = 2 ** 14
MAX_FRAMES = 2 ** 17  # the probe runs the recurrent layer over as many steps
MAX_FEATURES = 2 ** 24  # bands * frames of one clip
MAX_OUTPUTS = 2 ** 20
MAX_WORKERS = 256
MAX_PROBE_BYTES = 2 ** 30  # the first conv activation of the probe (2 clips)


class BadModel(ValueError):
    """The model a file describes is not one that :func:`sk_crnn.load` builds; the message
    names the parameter or attribute (``load`` adds the file's path)."""


def bounded_int(value, name, low, high):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise BadModel(f"{name} is {value!r}, not an int")
    if not low <= value <= high:
        raise BadModel(f"{name}={value} is outside [{low}, {high}], the sizes that "
                       "sk_crnn.load accepts")
    return int(value)


def _cells(a, b, name):
    if a * b > MAX_FEATURES:
        raise BadModel(f"{name} = {a} x {b} values per clip is more than the {MAX_FEATURES} "
                       "that sk_crnn.load accepts")


# -- estimators other than nets ------------------------------------------------------------
def check_pipeline(params, names, where):
    if params.get("memory") is not None:
        raise BadModel(f"{where}.memory={params['memory']!r}: a Pipeline's cache is a folder "
                       "of joblib pickles; a model file must have memory=None")
    if len(set(names)) != len(names) or not all(
            isinstance(n, str) and n and "__" not in n for n in names):
        raise BadModel(f"{where} has step names {names!r}; they must be distinct strings")


def check_transformer(est, where):
    """Bounds and consistency of a :class:`~sk_crnn.MelSpectrogramTransformer`."""
    import warnings

    import torch

    from ..features import n_frames_for

    name = f"{where}."
    if not isinstance(est.sr, (int, float, np.integer, np.floating)) or \
            isinstance(est.sr, bool) or not 0 < est.sr <= MAX_SR:
        raise BadModel(f"{name}sr={est.sr!r} is not a sample rate in (0, {MAX_SR}] Hz")
    n_fft = bounded_int(est.n_fft, f"{name}n_fft", 2, MAX_N_FFT)
    bounded_int(est.hop_length, f"{name}hop_length", 1, MAX_HOP)
    if est.win_length is not None:
        bounded_int(est.win_length, f"{name}win_length", 1, n_fft)
    n_mels = bounded_int(est.n_mels, f"{name}n_mels", 1, MAX_N_MELS)
    if n_mels * (1 + n_fft // 2) > MAX_FILTERBANK:
        raise BadModel(f"{name}n_mels={n_mels} with n_fft={n_fft} makes a filterbank of more "
                       f"than {MAX_FILTERBANK} values")
    bounded_int(est.batch_size, f"{name}batch_size", 1, 2 ** 16)
    with warnings.catch_warnings():  # a CUDA device missing here: the transformer warns later
        warnings.simplefilter("ignore")
        est._validate_params(fitted=True)
        est._plan(torch.device("cpu"))  # the window and filterbank it will compute with
    fitted = [k for k in ("n_samples_", "n_frames_", "n_bands_") if hasattr(est, k)]
    if not fitted:
        if hasattr(est, "band_mean_") or hasattr(est, "band_std_"):
            raise BadModel(f"{where} has band statistics but no fitted size")
        return
    if len(fitted) != 3:
        raise BadModel(f"{where} has only some of its fitted sizes ({', '.join(fitted)})")
    n_samples = bounded_int(est.n_samples_, f"{name}n_samples_", 1, MAX_SAMPLES)
    if est.duration is not None and n_samples != int(round(est.duration * est.sr)):
        raise BadModel(f"{name}n_samples_={n_samples} is not duration * sr")
    frames = n_frames_for(n_samples, n_fft=n_fft, hop_length=est.hop_length, center=est.center)
    if bounded_int(est.n_frames_, f"{name}n_frames_", 1, MAX_FRAMES) != frames:
        raise BadModel(f"{name}n_frames_={est.n_frames_}, but n_samples_={n_samples} gives "
                       f"{frames} frames with these parameters")
    bands = n_mels if est.n_mfcc is None else est.n_mfcc
    if est.n_bands_ != bands:
        raise BadModel(f"{name}n_bands_={est.n_bands_!r}, but the parameters give {bands}")
    _cells(bands, frames, f"{name}n_bands_ x n_frames_")
    stats = [hasattr(est, "band_mean_"), hasattr(est, "band_std_")]
    if any(stats) or est.normalize == "band":
        if not all(stats):
            raise BadModel(f"{where} has normalize={est.normalize!r} without both band_mean_ "
                           "and band_std_")
        for key in ("band_mean_", "band_std_"):
            value = getattr(est, key)
            if not isinstance(value, np.ndarray) or value.shape != (bands,) or \
                    value.dtype.kind != "f":
                raise BadModel(f"{name}{key} must be {bands} floats, one per band")


def check_loader(est, where):
    """The parameters of an :class:`~sk_crnn.AudioLoader` (a bounded ``n_jobs``)."""
    if est.n_jobs is not None:
        n_jobs = bounded_int(est.n_jobs, f"{where}.n_jobs", -MAX_WORKERS, MAX_WORKERS)
        if n_jobs == 0:
            raise BadModel(f"{where}.n_jobs=0 is not a number of workers")
    est._validate_params()


# -- nets --------------------------------------------------------------------------------------
def check_net_params(cls, params, where):
    """The classes a net's parameters hold are of the kind each parameter takes, the device is
    a CPU or CUDA device, and data loader workers are bounded."""
    import torch

    from . import registry

    kinds = {cls: kind for kind, cls in registry.parameter_classes().values()}
    for key, kind in registry.PARAMETER_KINDS.items():
        value = params.get(key)
        if value is None and key in ("criterion", "iterator_valid", "iterator_train"):
            continue
        if kinds.get(value) != kind:
            raise BadModel(f"{where}.{key}={value!r} is not a {kind} class of the registry")
    for key, value in params.items():
        if isinstance(value, type) and key.split("__")[0] not in registry.PARAMETER_KINDS:
            raise BadModel(f"{where}.{key} holds the class {value.__name__}, which only "
                           f"{', '.join(registry.PARAMETER_KINDS)} may")
        if key.endswith("__num_workers"):
            bounded_int(value, f"{where}.{key}", 0, MAX_WORKERS)
    device = params.get("device")
    if device is not None:
        try:
            ok = isinstance(device, str) and torch.device(device).type in ("cpu", "cuda")
        except (RuntimeError, TypeError, ValueError):
            ok = False
        if not ok:
            raise BadModel(f"{where}.device={device!r} is not 'cpu', 'cuda' or 'cuda:N'")


_PER_OUTPUT = ("classes_inferred_", "vocabulary_", "class_weight_", "pos_weight_",
               "thresholds_")
# What a fitted net of each class must hold (besides n_mels_in_, n_frames_in_, n_outputs_).
_REQUIRED = {
    "CRNNClassifier": ("classes_inferred_", "target_type_", "class_weight_"),
    "CRNNRegressor": ("y_ndim_",),
    "CRNNEventDetector": ("classes_inferred_", "clip_head_", "pos_weight_"),
    "CRNNTranscriber": ("tokens_", "vocabulary_"),
    "CRNNEmbedder": ("classes_inferred_",),
}


def check_output_config(state, where):
    """The container that scikit-learn's ``set_output`` chose, if the state holds one."""
    config = state.get(OUTPUT_CONFIG)
    if config is None:
        return
    if not isinstance(config, dict) or set(config) - {"transform"} or any(
            value not in ("default", "pandas", "polars") for value in config.values()):
        raise BadModel(f"{where}.{OUTPUT_CONFIG}={config!r} is not what set_output sets "
                       "({'transform': 'default', 'pandas' or 'polars'})")


def check_net_state(cls, state, initialized, where):
    """Bounded fitted sizes, and classes consistent with the number of outputs."""
    if not initialized:
        fitted = sorted(k for k in state if k != OUTPUT_CONFIG)  # set_output may come first
        if fitted:
            raise BadModel(f"{where} is not initialized but has fitted attributes "
                           f"({', '.join(fitted)}): its weights are missing")
        return
    fitted = "n_outputs_" in state
    required = ("n_mels_in_", "n_frames_in_", "n_outputs_",
                *_REQUIRED.get(cls.__name__, ())) if fitted else ()
    missing = [k for k in required if k not in state]
    if missing or (not fitted and ("n_mels_in_" in state or "n_frames_in_" in state)):
        raise BadModel(f"{where} lacks the fitted attributes "
                       f"{', '.join(missing) or 'n_outputs_'}")
    if not fitted:
        return
    n_mels = bounded_int(state["n_mels_in_"], f"{where}.n_mels_in_", 1, MAX_BANDS)
    n_frames = bounded_int(state["n_frames_in_"], f"{where}.n_frames_in_", 1, MAX_FRAMES)
    _cells(n_mels, n_frames, f"{where}.n_mels_in_ x n_frames_in_")
    n_outputs = bounded_int(state["n_outputs_"], f"{where}.n_outputs_", 1, MAX_OUTPUTS)
    for key in _PER_OUTPUT:
        value = state.get(key)
        if value is None:
            continue
        if not isinstance(value, np.ndarray) or value.ndim != 1 or len(value) != n_outputs:
            got = (f"shape {value.shape}" if isinstance(value, np.ndarray)
                   else type(value).__name__)
            raise BadModel(f"{where}.{key} must hold one entry per output ({n_outputs}, "
                           f"n_outputs_), but has {got}")
    for key, kinds in (("clip_head_", (bool, np.bool_)), ("training_failed_", (str,)),
                       ("tokens_", (str,)), ("target_type_", (str,))):
        if key in state and not isinstance(state[key], kinds):
            raise BadModel(f"{where}.{key}={state[key]!r} has the wrong type")
    if "interrupted_epoch_" in state:
        bounded_int(state["interrupted_epoch_"], f"{where}.interrupted_epoch_", 0, 2 ** 31)
    if "y_ndim_" in state:
        bounded_int(state["y_ndim_"], f"{where}.y_ndim_", 1, 2)
    indices = state.get("validation_indices_")
    if indices is not None and not (isinstance(indices, np.ndarray) and indices.ndim == 1
                                    and indices.dtype.kind in "iu"):
        raise BadModel(f"{where}.validation_indices_ must be a 1-D array of positions")


def meta_module(est):
    """The network ``est`` would build, on torch's meta device: shapes without memory."""
    import torch

    try:
        with torch.device("meta"), est._current_init_context("module"):
            est.initialize_module()
        return est.module_
    finally:
        vars(est).pop("module_", None)


def _floating(dtype):
    return dtype in ("F64", "F32", "F16", "BF16", "F8_E5M2", "F8_E4M3")


def check_weights(module, stored, where):
    """Every weight of ``module`` (built on the meta device) is stored, with its shape.

    ``stored`` maps each state_dict key to its (dtype, shape) in the safetensors header."""
    expected = {k: (t.is_floating_point(), tuple(t.shape))
                for k, t in module.state_dict().items()}
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    if missing or extra:
        parts = ([f"missing: {', '.join(missing[:5])}"] if missing else []) + (
            [f"not of this network: {', '.join(extra[:5])}"] if extra else [])
        raise BadModel(f"the stored weights of {where} are not those of the network its "
                       f"parameters build ({'; '.join(parts)})")
    for key, (floating, shape) in expected.items():
        dtype, got = stored[key]
        if got != shape or floating != _floating(dtype):
            raise BadModel(
                f"the parameters of {where} build {key} of shape {shape}, but the stored "
                f"weight has shape {got} ({dtype}); the parameters or the weights were altered")
    stored_total = sum(int(np.prod(s, dtype=object)) for _, s in stored.values())
    total = sum(t.numel() for t in (*module.parameters(), *module.buffers()))
    if total > stored_total + MAX_ELEMENTS // 16:
        raise BadModel(f"the network of {where} holds {total} values beyond its weights")


def check_probe_size(est, module, where):
    """The probe's first activation (2 clips x widest layer x input) is bounded."""
    width = max([int(getattr(m, "out_channels", 1)) for m in module.modules()] + [1])
    size = 2 * 4 * width * est.n_mels_in_ * est.n_frames_in_
    if size > MAX_PROBE_BYTES:
        raise BadModel(f"{where}: checking the network on an input of its fitted shape "
                       f"({est.n_mels_in_} x {est.n_frames_in_}) would need {size} bytes")


def check_probe(est, expected, where):
    """The restored network gives the outputs it gave when saved."""
    from .writer import probe

    try:
        got = probe(est)
    except Exception as exc:  # noqa: BLE001 - the network fails: the file does not fit it
        raise BadModel(f"the restored network {where} fails on an input of its fitted shape "
                       f"({type(exc).__name__}: {exc})") from None
    if not isinstance(expected, np.ndarray) or expected.dtype.kind != "f" or got is None \
            or got.shape != expected.shape:
        raise BadModel(
            f"the restored network {where} cannot be checked against the outputs saved with "
            "it; the file comes from another version of sk_crnn, or it was altered")
    scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
    loose = getattr(est, "precision", "32") not in ("32", None)
    tol = (5e-2 if loose else 1e-3) * scale
    diff = float(np.abs(got - expected).max()) if expected.size else 0.0
    if not diff <= tol:
        raise BadModel(
            f"the restored network {where} does not give the outputs it gave when saved "
            f"(largest difference {diff:.3g}); the file comes from a version of sk_crnn that "
            "builds the network differently, or it was altered")
