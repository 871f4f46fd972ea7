"""The streaming step as one ONNX graph, its state as explicit inputs and outputs.

A :class:`~sk_crnn.streaming.Stream` carries its state in Python objects; this module writes
one step of it as a graph whose state goes in and comes out (the "external state" mode of
google-research's kws_streaming), so that any ONNX runtime can stream the model:
:class:`~sk_crnn.streaming.OnnxStream` runs it with numpy and onnxruntime only.

One step takes the samples of a block of new feature frames, a multiple of
``P = prod(time_pool)`` of them (so that every time-pooling group is complete inside the
graph and the pooling needs no state), and computes what :class:`Stream` computes for them:
the transformer's features (framing without centring, mel, dB with the fixed ``ref``, band
normalisation: the offline export's front end, ``sk_crnn._onnx_graph.frontend_features``),
each causal convolution after its context (:meth:`~sk_crnn.modules.CausalConv2d.forward_after`),
the recurrent layer from its state, then the task's outputs, and for the classifier and the
regressor the clip pooling over the steps so far (the running state of
:class:`~sk_crnn.streaming._network.RunningPool`, in float64).
"""

import copy
import json
import math
import os

import numpy as np
import torch
from torch import nn

from ..modules import CausalConv2d

#: The graph's first input and the output of each task (as :func:`sk_crnn.export_onnx`).
SAMPLES = "samples"
OUTPUTS = {"detect": "proba", "classify": "proba", "regress": "values",
           "transcribe": "log_proba"}
#: The task names of the metadata (those of :func:`sk_crnn.export_onnx`).
EXPORT_TASKS = {"detect": "detector", "classify": "classifier", "regress": "regressor",
                "transcribe": "transcriber"}
#: The running-pool state of each clip pooling: (name, initial value); ``last`` needs none
#: (every step of the graph ends with a recurrent step: its output is the last step's).
POOL_STATE = {"mean": (("pool_sum", "0"), ("pool_count", "0")),
              "max": (("pool_max", "-inf"),),
              "attention": (("pool_weighted_sum", "0"), ("pool_weight_sum", "0"),
                            ("pool_top_logit", "-inf")),
              "last": ()}


class StepGraph(nn.Module):
    """One streaming step of a fitted pipeline, the state in and out (the traced module).

    Parameters
    ----------
    front : sk_crnn.features.MelFrontEnd
        The fitted front end (band statistics included), set to frame without centring.
    crnn : sk_crnn.modules.CRNN
        The causal network, in evaluation mode.
    nonlinearity : torch.nn.Module
        The estimator's predict nonlinearity (unused by the transcriber: log-softmax).
    task : {"detect", "classify", "regress", "transcribe"}
    stft : {"conv", "fft"}
        How the front end computes the STFT (``sk_crnn._onnx_graph.stft_kind``).
    round_features : torch.dtype or None
        The transformer's output dtype when it rounds the features (float16), else None.
    """

    def __init__(self, front, crnn, nonlinearity, *, task, stft, round_features):
        super().__init__()
        self.front, self.crnn, self.nonlinearity = front, crnn, nonlinearity
        self.task, self.stft, self.round_features = task, stft, round_features
        self.pool_frames = math.prod(crnn.time_pool)
        self.contexts = [i for i, layer in enumerate(crnn.conv)
                         if isinstance(layer, CausalConv2d) and layer.context > 0]

    def state_names(self):
        """The state's input names, in the order :meth:`forward` takes them, with their
        initial values (``"0"`` or ``"-inf"``)."""
        names = [(f"conv_context_{k}", "0") for k in range(len(self.contexts))]
        names += [("rnn_h", "0")] + ([("rnn_c", "0")] if self.crnn.rnn_type == "lstm" else [])
        if self.task in ("classify", "regress"):
            names += list(POOL_STATE[self.crnn.pooling])
        return names

    def forward(self, samples, *state):
        """The outputs of the block of frames of ``samples`` (batch, n_samples), then the
        new state, in the order of :meth:`state_names`."""
        from .._onnx_graph import frontend_features

        state, new = list(state), []
        crnn = self.crnn
        x = frontend_features(self.front, samples, keep_length=True, stft=self.stft)
        if self.round_features is not None:  # the transformer's float16 features
            x = x.to(self.round_features).to(torch.float32)
        x = x[:, None]  # (batch, 1, n_bands, n_frames)
        if crnn.input_norm is not None:
            x = crnn.input_norm(x.transpose(1, 2)).transpose(1, 2)
        for i, layer in enumerate(crnn.conv):
            if i in self.contexts:
                full = torch.cat([state.pop(0), x], dim=-1)
                new.append(full[..., -layer.context:])
                x = nn.Conv2d.forward(layer, full)  # = layer.forward_after(context, x)
            else:  # BatchNorm and Dropout (evaluation), MaxPool of whole groups, ReLU
                x = layer(x)
        steps = x.permute(0, 3, 1, 2).flatten(2)  # (batch, n_steps, channels * freq)
        if crnn.rnn_type == "lstm":
            out, (h, c) = crnn.rnn(steps, (state.pop(0), state.pop(0)))
            new += [h, c]
        else:
            out, h = crnn.rnn(steps, state.pop(0))
            new.append(h)
        if self.task == "transcribe":
            return (torch.log_softmax(crnn.head(crnn.dropout(out)), dim=-1), *new)
        if self.task == "detect":
            proba = self.nonlinearity(crnn.head(crnn.dropout(out)))
            if self.pool_frames > 1:  # each step stands for the P frames it pooled
                proba = proba[:, :, None].expand(-1, -1, self.pool_frames, -1).flatten(1, 2)
            return (proba, *new)
        pooled, pool_state = self._pool(out, state)
        pooled = pooled.to(crnn.head.weight.dtype)
        return (self.nonlinearity(crnn.head(crnn.dropout(pooled))), *new, *pool_state)

    def _pool(self, out, state):
        """The pooled embedding of the steps so far and the new pool state (float64), as
        :class:`~sk_crnn.streaming._network.RunningPool` computes them."""
        pooling = self.crnn.pooling
        if pooling == "last":
            return out[:, -1], []
        steps = out.double()
        if pooling == "mean":
            total = state[0] + steps.sum(dim=1)
            count = state[1] + torch.ones_like(steps[..., :1]).sum(dim=1)
            return total / count, [total, count]
        if pooling == "max":
            top = torch.maximum(state[0], steps.amax(dim=1))
            return top, [top]
        total, weight, top = state
        logits = self.crnn.attention(out)[..., 0].double()  # (batch, n_steps)
        new_top = torch.maximum(top, logits.amax(dim=1, keepdim=True))
        scale = torch.exp(logits - new_top)
        rescale = torch.exp(top - new_top)  # 0 for the first block (top = -inf)
        total = (scale[..., None] * steps).sum(dim=1) + total * rescale
        weight = scale.sum(dim=1, keepdim=True) + weight * rescale
        return total / weight, [total, weight, new_top]


def export_onnx_step(pipeline, path, *, opset=None):
    """Write one streaming step of a fitted pipeline as an ONNX graph with explicit state.

    The graph computes, for a block of new feature frames, what
    :class:`~sk_crnn.streaming.Stream` computes for them, its state (the causal
    convolutions' context, the recurrent state, the classifier's running pooling) an input
    and an output, so that a runtime carries it from one call to the next (the "external
    state" mode of google-research's kws_streaming). :class:`~sk_crnn.streaming.OnnxStream`
    runs it with numpy and onnxruntime only, with :class:`Stream`'s API and outputs.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted pipeline that :class:`~sk_crnn.streaming.Stream` accepts: a
        :class:`~sk_crnn.MelSpectrogramTransformer` with ``top_db=None`` (and a number for
        ``ref``), and a :class:`~sk_crnn.CRNNEventDetector`, :class:`~sk_crnn.CRNNClassifier`,
        :class:`~sk_crnn.CRNNRegressor` or :class:`~sk_crnn.CRNNTranscriber` fitted with
        ``module__causal=True`` (an :class:`~sk_crnn.AudioLoader` may come first). Others are
        refused with :class:`Stream`'s errors.
    path : str or path-like
        Where to write the ``.onnx`` file.
    opset : int, default=None
        ONNX opset, 13 to 20; ``None``: 17. The front end is written as in
        :func:`sk_crnn.export_onnx` (a two-stage DFT for ``n_fft`` of at least 1024, a
        convolution with DFT kernels below).

    Returns
    -------
    path : str
        The file written.

    Notes
    -----
    Inputs (the batch axis dynamic: one row per stream):

    - ``"samples"``, float32 of shape (batch, n_samples): the samples of feature frames
      ``t .. t + n - 1`` of the signal padded as the transformer pads it (``n_samples =
      (n - 1) * hop_length + n_fft``, from sample ``t * hop_length - pad``, ``pad = n_fft //
      2`` when centred), ``n`` a multiple of ``P = prod(time_pool)``, any such ``n``;
    - the state, named and shaped as the metadata's ``state`` says: ``conv_context_k``
      (batch, channels, freq, kernel_size - 1), the last input frames of the k-th causal
      convolution; ``rnn_h`` (and ``rnn_c`` for an LSTM) (rnn_layers, batch, rnn_hidden);
      for the classifier and the regressor the running pooling, float64: ``pool_sum``
      (batch, rnn_hidden) and ``pool_count`` (batch, 1) for ``mean``, ``pool_max`` for
      ``max``, ``pool_weighted_sum``, ``pool_weight_sum`` and ``pool_top_logit`` for
      ``attention`` (``last`` needs none). Each starts at its ``init`` value (0 or -inf).

    Outputs: the task's, then each state's new value, named ``<state>_out``:

    - detector: ``"proba"`` (batch, n, n_classes), the probabilities of the block's frames
      (each recurrent step repeated over the ``P`` frames it pooled);
    - classifier: ``"proba"`` (batch, n_classes), on all the steps so far; regressor:
      ``"values"`` (batch, n_outputs);
    - transcriber: ``"log_proba"`` (batch, n // P, n_tokens), the CTC log-probabilities.

    The metadata (``metadata_props``, JSON values, read by :func:`sk_crnn.export.onnx_metadata`)
    are those of :func:`sk_crnn.export_onnx` (task, classes, vocabulary and tokens,
    frame_rate, thresholds and median_filter, sr) with ``graph="streaming_step"``, the
    framing (``n_fft``, ``hop_length``, ``center``, ``pad_mode``), ``frames_per_step``
    (``P``), ``n_bands``, ``pooling``, and ``state``: per state its ``name``, ``output``,
    ``shape`` (``"batch"`` for the batch axis), ``dtype`` and ``init``.

    See Also
    --------
    sk_crnn.streaming.OnnxStream : Runs the graph on a stream (an example there).
    sk_crnn.export_onnx : The whole-clip graph.
    """
    from .._onnx_graph import trace_to_onnx
    from ..export import _check_opset, _require_exporter
    from ._frontend import check_streamable_frontend
    from ._stream import _network, _steps

    _, onnx = _require_exporter()
    (tr_name, transformer), (est_name, estimator) = _steps(pipeline)
    check_streamable_frontend(transformer, tr_name)
    task, network = _network(estimator, est_name)
    opset = _check_opset(opset)
    graph = _step_graph(transformer, estimator, network, task, opset)
    names = graph.state_names()
    example = _example(graph, transformer, batch=2)
    with torch.no_grad():
        outputs = graph(*example)
    output = OUTPUTS[task]
    states = [_state_entry(name, init, value) for (name, init), value
              in zip(names, outputs[1:])]
    axes = {SAMPLES: {0: "batch", 1: "samples"},
            output: {0: "batch", 1: "frames"} if task == "detect" else (
                {0: "batch", 1: "steps"} if task == "transcribe" else {0: "batch"})}
    for entry in states:
        axis = entry["shape"].index("batch")
        axes[entry["name"]] = axes[entry["output"]] = {axis: "batch"}
    path = os.fspath(path)
    trace_to_onnx(graph, example, path, input_names=[SAMPLES, *(s["name"] for s in states)],
                  output_names=[output, *(s["output"] for s in states)], dynamic_axes=axes,
                  opset=opset)
    proto = onnx.load(path)
    _declare_state_shapes(proto, states)
    for key, value in _metadata(transformer, estimator, task, network, states).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save(proto, path)
    return path


def _step_graph(transformer, estimator, network, task, opset):
    """The :class:`StepGraph` of a checked pipeline, on CPU copies in float32."""
    from .._onnx_graph import stft_kind

    front = copy.deepcopy(transformer._frontend_module("cpu")).eval()
    front.center, front.n_samples = False, None  # frames of the given (padded) samples
    network = copy.deepcopy(network).cpu().float().eval()
    crnn = network.crnn if hasattr(network, "crnn") else network
    nonlinearity = copy.deepcopy(estimator._inference_module().nonlinearity).cpu().eval()
    rounding = torch.float16 if np.dtype(transformer.dtype) == np.float16 else None
    return StepGraph(front, crnn, nonlinearity, task=task,
                     stft=stft_kind(int(transformer.n_fft)),
                     round_features=rounding).eval()


def _example(graph, transformer, *, batch):
    """Inputs to trace: samples of ``3 * P`` frames and a random state of ``batch`` rows."""
    rng = np.random.default_rng(0)
    n_frames = 3 * graph.pool_frames
    n_samples = (n_frames - 1) * int(transformer.hop_length) + int(transformer.n_fft)
    samples = torch.from_numpy(rng.normal(0.0, 0.1, (batch, n_samples)).astype(np.float32))
    crnn, state = graph.crnn, []
    generator = torch.Generator().manual_seed(0)  # not the global one: fitting is unchanged

    def randn(*shape):
        return torch.randn(shape, generator=generator)

    n_bands = int(transformer.n_bands_)
    freq, channels = n_bands, 1
    for i, layer in enumerate(crnn.conv):
        if i in graph.contexts:
            state.append(randn(batch, channels, freq, layer.context))
        if isinstance(layer, nn.Conv2d):
            channels = layer.out_channels
            freq = freq + 2 * layer.padding[0] - layer.kernel_size[0] + 1
        elif isinstance(layer, nn.MaxPool2d):
            freq //= layer.kernel_size[0]
    hidden = (crnn.rnn.num_layers, batch, crnn.rnn.hidden_size)
    state += [0.1 * randn(*hidden) for _ in range(2 if crnn.rnn_type == "lstm" else 1)]
    if graph.task in ("classify", "regress"):
        dim, one = (batch, crnn.embedding_dim), (batch, 1)
        pool = {"mean": [randn(*dim), torch.full(one, 3.0)], "max": [randn(*dim)],
                "attention": [randn(*dim), torch.full(one, 2.0), torch.zeros(one)],
                "last": []}[crnn.pooling]
        state += [s.double() for s in pool]  # the running pooling is float64
    return (samples, *state)


def _state_entry(name, init, value):
    """The metadata of one state from its example value (batch axis: 2 rows)."""
    shape = list(value.shape)
    axis = 1 if name.startswith("rnn_") else 0
    shape[axis] = "batch"
    return {"name": name, "output": f"{name}_out", "shape": shape,
            "dtype": str(value.dtype).replace("torch.", ""), "init": init}


def _declare_state_shapes(proto, states):
    """Write the state outputs' shapes into the graph (the exporter leaves the context
    frames, a slice of a block of any length, as a symbolic size)."""
    shapes = {entry["output"]: entry["shape"] for entry in states}
    for output in proto.graph.output:
        if output.name in shapes:
            for dim, size in zip(output.type.tensor_type.shape.dim, shapes[output.name]):
                if size == "batch":
                    dim.dim_param = "batch"
                else:
                    dim.dim_value = size


def _metadata(transformer, estimator, task, network, states):
    """The metadata of :func:`sk_crnn.export_onnx`, with the step's framing and state."""
    from ..export import _metadata as export_metadata

    crnn = network.crnn if hasattr(network, "crnn") else network
    meta = export_metadata(transformer, estimator, EXPORT_TASKS[task], SAMPLES, OUTPUTS[task],
                           True)
    meta.update({
        "graph": "streaming_step", "n_fft": int(transformer.n_fft),
        "hop_length": int(transformer.hop_length), "center": bool(transformer.center),
        "pad_mode": str(transformer.pad_mode), "n_bands": int(transformer.n_bands_),
        "frames_per_step": math.prod(crnn.time_pool),
        "pooling": crnn.pooling if task in ("classify", "regress") else None,
        "state": states})
    return meta


export_onnx_step.__module__ = "sk_crnn.streaming"  # its public path
