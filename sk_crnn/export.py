"""Export a fitted pipeline (or estimator) to one ONNX graph, and read its outputs with numpy.

:func:`export_onnx` writes one graph from raw waveforms (or spectrograms) to what the
estimator's ``predict_proba`` / ``predict`` / ``transform`` compute, its metadata saying how
to read them. The helpers :func:`onnx_metadata`, :func:`decode_events` and
:func:`decode_transcripts` need only numpy (and ``onnx`` or ``onnxruntime`` to read a file's
metadata), so that a deployed model runs without torch::

    import onnxruntime as ort
    session = ort.InferenceSession("detector.onnx")
    proba = session.run(None, {"waveform": waves})[0]
    events = decode_events(proba, onnx_metadata(session))
"""

import json
import numbers
import os
import warnings

import numpy as np

__all__ = ["decode_events", "decode_transcripts", "export_onnx", "onnx_metadata"]

INSTALL_HINT = 'pip install "sk-crnn[onnx]"'
#: The default opset. The TorchScript-based exporter writes opsets up to 20.
DEFAULT_OPSET = 17
OPSETS = range(13, 21)
#: Output name of each task.
OUTPUT_NAMES = {"classifier": "proba", "detector": "proba", "transcriber": "log_proba",
                "regressor": "values", "embedder": "embeddings"}
#: The tasks whose outputs have a time axis (``any_length=True`` is theirs).
FRAME_TASKS = ("detector", "transcriber")


def export_onnx(model, path, *, any_length=False, opset=None, batch_size=2):
    """Write a fitted pipeline or estimator as one ONNX graph.

    Parameters
    ----------
    model : Pipeline or CRNN estimator
        A fitted ``Pipeline(MelSpectrogramTransformer, estimator)`` (a leading
        :class:`~sk_crnn.AudioLoader` is left out: the graph takes waveforms at the
        transformer's ``sr``), or a fitted estimator alone (:class:`~sk_crnn.CRNNClassifier`,
        :class:`~sk_crnn.CRNNRegressor`, :class:`~sk_crnn.CRNNEventDetector`,
        :class:`~sk_crnn.CRNNTranscriber`, :class:`~sk_crnn.CRNNEmbedder`).
    path : str or path-like
        Where to write the ``.onnx`` file.
    any_length : bool, default=False
        ``False``: the graph pads or crops its input to the fitted length, as the pipeline
        does, so that its outputs equal the pipeline's. ``True`` (detector and transcriber
        only): it keeps every frame of an input of any length, the network run on the whole
        input's features (dynamic time axis of the outputs).
    opset : int, default=None
        ONNX opset, 13 to 20; ``None``: 17. The graph is the same at every opset: the STFT
        of an ``n_fft`` of at least 1024 is a two-stage DFT (matrix products), of a smaller
        one a convolution with DFT kernels, whichever onnxruntime runs faster.
    batch_size : int, default=2
        Batch size of the example traced (the graph's batch axis is dynamic).

    Returns
    -------
    path : str
        The file written.

    Notes
    -----
    Input: ``"waveform"``, float32 of shape (batch, samples), both axes dynamic (a
    pipeline); or ``"spectrogram"``, float32 of shape (batch, n_mels, n_frames), the batch
    axis dynamic (and the frames with ``any_length=True``) (an estimator). Output:

    - classifier: ``"proba"`` (batch, n_classes), as ``predict_proba``;
    - regressor: ``"values"`` (batch, n_outputs), as ``predict`` (always 2-D);
    - detector: ``"proba"`` (batch, n_frames, n_classes), the frame probabilities; decode
      events with :func:`decode_events`;
    - transcriber: ``"log_proba"`` (batch, n_steps, n_tokens), the per-step CTC
      log-probabilities (``log`` of ``predict_proba``); decode with
      :func:`decode_transcripts`;
    - embedder: ``"embeddings"`` (batch, embedding_dim), unit-norm, as ``transform``.

    The metadata (``metadata_props``, each value a JSON string; read them with
    :func:`onnx_metadata`): ``sk_crnn_task``, ``input``, ``output``, ``classes`` (the
    labels as strings) with ``classes_dtype``, ``multilabel`` (classifier), ``vocabulary``
    and ``tokens`` (transcriber), ``frame_rate``, ``thresholds`` and ``median_filter``
    (detector), ``sr`` and ``n_samples`` (the fitted length; ``null`` for an estimator),
    ``n_mels``, ``n_frames``, ``any_length`` and ``sk_crnn_version``.

    The graph computes in float32: a transformer with ``dtype="float16"`` feeds its network
    rounded features, which the graph does not round (a warning says so). The transcriber's
    output is ``log_softmax`` of its scores, whatever its ``predict_nonlinearity``.

    The graph is written by torch's TorchScript-based exporter (``dynamo=False``), which
    keeps the time axis of every recurrent layer dynamic (see ``sk_crnn._onnx_graph``).

    Examples
    --------
    >>> from sk_crnn.export import export_onnx  # doctest: +SKIP
    >>> export_onnx(pipe, "model.onnx")  # doctest: +SKIP
    'model.onnx'
    """
    torch, onnx = _require_exporter()
    front, est = _split(model)
    task = _task_of(est)
    est.check_is_fitted()
    if any_length not in (True, False):
        raise TypeError(f"any_length must be True or False; got {any_length!r}.")
    if any_length and task not in FRAME_TASKS:
        raise ValueError(
            f"any_length=True is for the detector and the transcriber, whose outputs have a "
            f"time axis; a {type(est).__name__} gives one output per clip of the fitted "
            "length. Use any_length=False (the default): the graph pads or crops every input "
            "to the fitted length, as the pipeline does.")
    opset = _check_opset(opset)
    if (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
            or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
    from ._onnx_graph import ExportGraph, stft_kind, trace_to_onnx, unsupported_ref_message

    frontend = None
    if front is not None:
        if front.scale == "db" and callable(front.ref) and front.ref is not np.max:
            raise ValueError(unsupported_ref_message(front.ref))
        if front.dtype == "float16":
            warnings.warn(
                "The transformer has dtype='float16': the pipeline's network sees features "
                "rounded to float16, the graph's network float32 features, so their outputs "
                "differ by that rounding. Set dtype='float32' for outputs that match.",
                UserWarning, stacklevel=2)
        frontend = _copy_cpu(front._frontend_module(), torch)
    inference = est._inference_module("transform" if task == "embedder" else "predict_proba")
    graph = ExportGraph(frontend, _copy_cpu(inference, torch), keep_length=any_length,
                        log_proba=task == "transcriber",
                        stft=stft_kind(front.n_fft) if front is not None else "conv")
    rng = np.random.default_rng(0)
    if front is not None:
        input_name, axes = "waveform", {0: "batch", 1: "samples"}
        shape = (int(batch_size), front.n_samples_)
    else:
        input_name, axes = "spectrogram", {0: "batch", 2: "frames"} if any_length else {
            0: "batch"}
        shape = (int(batch_size), est.n_mels_in_, est.n_frames_in_)
    example = torch.from_numpy(rng.normal(0.0, 0.1, shape).astype(np.float32))
    output_name = OUTPUT_NAMES[task]
    out_axes = {0: "batch", 1: "frames" if task == "detector" else "steps"} if any_length \
        else {0: "batch"}
    path = os.fspath(path)
    trace_to_onnx(graph, (example,), path, input_names=[input_name], output_names=[output_name],
                  dynamic_axes={input_name: axes, output_name: out_axes}, opset=opset)
    proto = onnx.load(path)
    meta = _metadata(front, est, task, input_name, output_name, any_length)
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save(proto, path)
    return path


def onnx_metadata(path_or_session):
    """The sk_crnn metadata of an exported graph, its JSON values decoded.

    Parameters
    ----------
    path_or_session : str, path-like, onnxruntime.InferenceSession or onnx.ModelProto
        The ``.onnx`` file, or the session (or model) that loaded it.

    Returns
    -------
    metadata : dict
        Key -> value (see :func:`export_onnx`); ``"classes"``, when present, holds the
        labels with their fitted type restored (ints, bools, floats or strings), as
        ``classes_.tolist()`` gives them.
    """
    raw = _raw_metadata(path_or_session)
    meta = {}
    for key, value in raw.items():
        try:
            meta[key] = json.loads(value)
        except (TypeError, ValueError):
            meta[key] = value
    if meta.get("classes") is not None:
        meta["classes"] = _restore_labels(meta["classes"], meta.get("classes_dtype"))
    return meta


def decode_events(proba, metadata):
    """Events of a detector graph's frame probabilities, as the detector's ``predict``.

    Parameters
    ----------
    proba : array-like of shape (n_clips, n_frames, n_classes)
        The graph's ``"proba"`` output.
    metadata : dict
        :func:`onnx_metadata` of the graph (its ``classes``, ``frame_rate``,
        ``thresholds`` and ``median_filter``).

    Returns
    -------
    events : list of list of (onset, offset, label)
        Per clip, sorted by onset; times in seconds, labels of the fitted type (see
        :func:`sk_crnn.events.frames_to_events`).
    """
    from .events import frames_to_events

    _check_task(metadata, "detector", "decode_events")
    frame_rate = metadata.get("frame_rate")
    if frame_rate is None:
        raise ValueError(
            "The detector was exported with frame_rate=None, so frame indices cannot be "
            "turned into seconds; fit it with frame_rate=sr / hop_length and export it again, "
            "or call sk_crnn.events.frames_to_events with your frame rate.")
    proba = np.asarray(proba)
    n_classes = len(metadata["classes"])
    if proba.ndim != 3 or proba.shape[-1] != n_classes:
        raise ValueError(f"proba must have shape (n_clips, n_frames, {n_classes}) (one column "
                         f"per class); got shape {proba.shape}.")
    return frames_to_events(proba, frame_rate=float(frame_rate), classes=metadata["classes"],
                            threshold=np.asarray(metadata["thresholds"], dtype=np.float64),
                            median_filter=float(metadata["median_filter"]))


def decode_transcripts(log_proba, metadata):
    """Transcripts of a transcriber graph's outputs by greedy decoding, as its ``predict``.

    Parameters
    ----------
    log_proba : array-like of shape (n_clips, n_steps, n_tokens)
        The graph's ``"log_proba"`` output (probabilities or logits decode the same).
    metadata : dict
        :func:`onnx_metadata` of the graph (its ``vocabulary`` and ``tokens``).

    Returns
    -------
    transcripts : list of str
        Words joined by single spaces, or the characters spelled.
    """
    from .ctc import decode_greedy, normalize_transcript

    _check_task(metadata, "transcriber", "decode_transcripts")
    vocabulary = np.asarray(metadata["vocabulary"], dtype=object)
    log_proba = np.asarray(log_proba)
    if log_proba.ndim != 3 or log_proba.shape[-1] != len(vocabulary):
        raise ValueError(f"log_proba must have shape (n_clips, n_steps, {len(vocabulary)}) "
                         f"(one column per token); got shape {log_proba.shape}.")
    sep = " " if metadata["tokens"] == "words" else ""
    return [normalize_transcript(sep.join(vocabulary[s])) for s in decode_greedy(log_proba)]


# -- helpers ------------------------------------------------------------------------------------
def _check_opset(opset):
    """``opset``, or :data:`DEFAULT_OPSET` for None; anything but an int of :data:`OPSETS`
    is a ValueError."""
    opset = DEFAULT_OPSET if opset is None else opset
    if isinstance(opset, bool) or not isinstance(opset, numbers.Integral) or opset not in OPSETS:
        raise ValueError(f"opset must be an int from {OPSETS[0]} to {OPSETS[-1]}; got "
                         f"{opset!r}. Leave it at None for {DEFAULT_OPSET}.")
    return int(opset)


def _require_exporter():
    """torch and onnx, or an ImportError saying what to install."""
    try:
        import onnx
        import torch
        import torch.onnx  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"export_onnx needs the onnx package ({exc}); install it with "
                          f"{INSTALL_HINT}.") from exc
    return torch, onnx


def _split(model):
    """The fitted transformer (or None) and the estimator of ``model``."""
    from sklearn.pipeline import Pipeline

    from ._base import SpectrogramNet
    from .io import AudioLoader
    from .transformers import MelSpectrogramTransformer

    if isinstance(model, Pipeline):
        steps = [step for _, step in model.steps]
        if steps and isinstance(steps[0], AudioLoader):
            steps = steps[1:]
        if (len(steps) != 2 or not isinstance(steps[0], MelSpectrogramTransformer)
                or not isinstance(steps[1], SpectrogramNet)):
            raise TypeError(
                "export_onnx needs a Pipeline of a MelSpectrogramTransformer and a CRNN "
                f"estimator (an AudioLoader may come first); got steps "
                f"{[type(s).__name__ for s in steps]}. Export the last two steps "
                "(export_onnx(pipe[-2:], path)) if the others run before the features.")
        front, est = steps
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(front, "n_frames_")
        return front, est
    if isinstance(model, SpectrogramNet):
        return None, model
    raise TypeError(f"export_onnx needs a fitted Pipeline(MelSpectrogramTransformer, CRNN "
                    f"estimator) or a fitted CRNN estimator; got a {type(model).__name__}.")


def _task_of(est):
    from .classifier import CRNNClassifier
    from .detection import CRNNEventDetector
    from .regressor import CRNNRegressor
    from .retrieval import CRNNEmbedder
    from .transcription import CRNNTranscriber

    for cls, task in ((CRNNEmbedder, "embedder"), (CRNNTranscriber, "transcriber"),
                      (CRNNEventDetector, "detector"), (CRNNRegressor, "regressor"),
                      (CRNNClassifier, "classifier")):
        if isinstance(est, cls):
            return task
    raise TypeError(f"export_onnx does not know the outputs of a {type(est).__name__}; it "
                    "exports CRNNClassifier, CRNNRegressor, CRNNEventDetector, "
                    "CRNNTranscriber and CRNNEmbedder (and their subclasses).")


def _copy_cpu(module, torch):
    """A CPU copy in evaluation mode (the estimator's own module is left as it is)."""
    import copy

    return copy.deepcopy(module).to(torch.device("cpu")).eval()


def _metadata(front, est, task, input_name, output_name, any_length):
    from . import __version__

    meta = {"sk_crnn_task": task, "input": input_name, "output": output_name,
            "sr": None if front is None else float(front.sr),
            "n_samples": None if front is None else int(front.n_samples_),
            "n_mels": int(est.n_mels_in_), "n_frames": int(est.n_frames_in_),
            "any_length": bool(any_length), "sk_crnn_version": __version__}
    classes = getattr(est, "classes_", None)
    if classes is not None and task != "transcriber":
        classes = np.asarray(classes)
        meta["classes"] = [str(c) for c in classes.tolist()]
        meta["classes_dtype"] = classes.dtype.str
    if task == "classifier":
        meta["multilabel"] = bool(est._is_multilabel())
    if task == "transcriber":
        meta["vocabulary"] = [str(t) for t in est.vocabulary_]
        meta["tokens"] = est.tokens_
    if task == "detector":
        est._check_params()
        meta["frame_rate"] = None if est.frame_rate is None else float(est.frame_rate)
        meta["thresholds"] = [float(t) for t in est.decision_thresholds()]
        meta["median_filter"] = float(est.median_filter)
    return meta


def _raw_metadata(source):
    """The metadata_props of a file, a session or a model, as a dict of strings."""
    if hasattr(source, "get_modelmeta"):  # onnxruntime.InferenceSession
        return dict(source.get_modelmeta().custom_metadata_map)
    if hasattr(source, "metadata_props"):  # onnx.ModelProto
        return {p.key: p.value for p in source.metadata_props}
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        model = onnx.load(os.fspath(source), load_external_data=False)
        return {p.key: p.value for p in model.metadata_props}
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(f"onnx_metadata needs onnx or onnxruntime to read a file; install "
                          f"them with {INSTALL_HINT}.") from exc
    session = onnxruntime.InferenceSession(os.fspath(source),
                                           providers=["CPUExecutionProvider"])
    return dict(session.get_modelmeta().custom_metadata_map)


def _restore_labels(labels, dtype):
    """Labels stored as strings, back in their fitted type (as ``classes_.tolist()``)."""
    kind = np.dtype(dtype).kind if dtype else "U"
    if kind == "b":
        return [label == "True" for label in labels]
    if kind in "iu":
        return [int(label) for label in labels]
    if kind == "f":
        return [float(label) for label in labels]
    return list(labels)


def _check_task(metadata, task, func):
    if not isinstance(metadata, dict):
        raise TypeError(f"{func} takes the dict of onnx_metadata(path_or_session); got a "
                        f"{type(metadata).__name__}.")
    found = metadata.get("sk_crnn_task")
    if found != task:
        raise ValueError(f"{func} decodes the outputs of a {task} graph; the metadata say "
                         f"sk_crnn_task={found!r}.")
