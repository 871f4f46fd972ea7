"""The torch side of :func:`sk_crnn.export_onnx`: the front end written with operators that
ONNX has (no Python loop over frame blocks, every axis dynamic), the module traced into the
graph, and the call of the TorchScript-based exporter.

Why the TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``, deprecated
but present in torch 2.13) and not the dynamo one. Measured with torch 2.13, onnxscript 0.7.2
and onnxruntime 1.32: the dynamo exporter froze the time axis of a bidirectional GRU or LSTM
(pytorch#191855: onnxruntime refuses any other length), could not export the detector's and
the transcriber's graphs of any length at all (torch.export fails on their stacked recurrent
layers' symbolic time axis), and took 3 to 10 s for a lone recurrent layer and 6 to 44 s for a
tiny pipeline. The TorchScript one exports every recurrent layer with dynamic batch and time
axes, GRUs with ``linear_before_reset=1`` (pytorch#189225 is the dynamo exporter's) and no
initial state fixed to the traced batch (onnxruntime#19270), in about 0.3 s;
``tests/test_export.py`` checks all of it against the pipelines.
"""

import inspect
import warnings

import numpy as np
import torch
from torch.nn import functional as F

#: The STFT is a two-stage DFT (:func:`_factored_dft`, three matrix products) for ``n_fft`` of
#: at least this size with a divisor of at least 4 (any power of two), and a strided
#: convolution with DFT kernels (window folded in) otherwise. Measured in onnxruntime 1.32 on
#: 2 CPU threads (front end alone, one clip of 1 s / 10 s at 16 kHz): n_fft=2048: two-stage
#: 0.55 / 4.1 ms, convolution 4.2 / 18.7 ms, ONNX's ``STFT`` operator 2.1 / 17.6 ms;
#: n_fft=1024: 0.56 / 4.3, 0.91 / 9.4, 1.95 / 16.5 ms; n_fft=512: 1.0 / 6.5, 0.47 / 4.0 ms;
#: n_fft=400: 0.82 / 5.6, 0.35 / 2.5 ms. All within 1e-5 dB of the transformer at these
#: sizes. The ``STFT`` operator is never faster, and for sizes other than powers of two it is
#: a slow DFT whose weak bins are off by up to 15 dB (n_fft=400): it is not used.
FFT_MIN_NFFT = 1024


def stft_kind(n_fft):
    """``"fft"`` (the two-stage DFT) or ``"conv"`` (DFT kernels), see
    :data:`FFT_MIN_NFFT`."""
    return "fft" if n_fft >= FFT_MIN_NFFT and fft_factors(n_fft) is not None else "conv"


def dft_kernels(window):
    """The kernels of a strided convolution computing the windowed one-sided DFT.

    Parameters
    ----------
    window : torch.Tensor of shape (n_fft,)

    Returns
    -------
    kernels : torch.Tensor of shape (2 * n_freq, 1, n_fft), float32
        Rows ``0:n_freq`` give the real parts, rows ``n_freq:`` the imaginary parts
        (``n_freq = n_fft // 2 + 1``); computed in float64 (the angle reduced modulo
        ``n_fft`` before the cosine) and rounded once.
    """
    win = window.detach().cpu().double().numpy()
    n_fft = len(win)  # a plain int (a traced tensor's shape is a tensor)
    k = np.arange(n_fft // 2 + 1)[:, None]
    angle = 2.0 * np.pi * ((k * np.arange(n_fft)[None, :]) % n_fft) / n_fft
    win = win[None, :]
    kernels = np.concatenate([np.cos(angle) * win, -np.sin(angle) * win])
    return torch.from_numpy(kernels.astype(np.float32))[:, None, :].to(window.device)


def fft_factors(n_fft):
    """``(n1, n2)`` with ``n1 * n2 == n_fft`` and ``n1`` the largest divisor not above
    ``sqrt(n_fft)``, or None when ``n_fft`` has no such divisor of at least 4 (a prime, or
    twice one): the two-stage DFT of :func:`_factored_dft` then saves little."""
    n1 = int(np.sqrt(n_fft))
    while n_fft % n1:
        n1 -= 1
    return (n1, n_fft // n1) if n1 >= 4 else None


def _factored_dft(frames, window):
    """The one-sided DFT of windowed frames as two small DFTs (Cooley-Tukey, one step).

    With ``n_fft = n1 * n2``, sample ``n = n2 * a + b`` and bin ``k = c + n1 * d``, the DFT is
    a DFT of size ``n1`` over ``a`` (for each ``b``), a twiddle ``exp(-2j pi b c / n_fft)``,
    and a DFT of size ``n2`` over ``b`` (for each ``c``): ``n_fft * (n1 + n2)``
    multiply-adds instead of the ``n_fft ** 2`` of one DFT matrix, as three matrix products
    that ONNX runs as ``MatMul``. The matrices are computed in float64 and rounded once.

    Parameters
    ----------
    frames : torch.Tensor of shape (batch, n_frames, n_fft)
    window : torch.Tensor of shape (n_fft,)

    Returns
    -------
    real, imag : torch.Tensor of shape (batch, n_fft // 2 + 1, n_frames)
    """
    n_fft = len(window)  # a plain int (a traced tensor's shape is a tensor)
    n1, n2 = fft_factors(n_fft)
    k2 = n2 // 2 + 1  # the bins c + n1 * d up to n_fft // 2 need d <= n2 // 2
    a, b = np.arange(n1), np.arange(n2)
    first = 2.0 * np.pi * ((a[:, None] * a[None, :]) % n1) / n1  # (c, a)
    stage1 = np.concatenate([np.cos(first), -np.sin(first)])  # (2 n1, n1)
    twiddle = -2.0 * np.pi * ((a[:, None] * b[None, :]) % n_fft) / n_fft  # (c, b)
    second = 2.0 * np.pi * ((b[:, None] * np.arange(k2)[None, :]) % n2) / n2  # (b, d)
    cos2, sin2 = np.cos(second), -np.sin(second)
    stage3 = np.block([[cos2, sin2], [-sin2, cos2]])  # (2 n2, 2 k2)

    def const(values):
        return torch.from_numpy(values.astype(np.float32)).to(frames.device)

    x = (frames * window).reshape(frames.shape[0], frames.shape[1], n1, n2)  # (.., a, b)
    y = torch.matmul(const(stage1), x)  # (batch, n_frames, 2 n1, n2): (c, b)
    yr, yi = y[:, :, :n1], y[:, :, n1:]
    tr, ti = const(np.cos(twiddle)), const(np.sin(twiddle))
    z = torch.cat([yr * tr - yi * ti, yr * ti + yi * tr], dim=-1)  # (.., c, 2 n2)
    out = torch.matmul(z, const(stage3))  # (batch, n_frames, n1, 2 k2): (c, d)
    n_freq = n_fft // 2 + 1

    def bins(part):  # (.., c, d) -> bins k = c + n1 * d in order, the first n_freq
        part = part.transpose(-1, -2).reshape(frames.shape[0], frames.shape[1], k2 * n1)
        return part[..., :n_freq].transpose(1, 2)

    return bins(out[..., :k2]), bins(out[..., k2:])


def _frames(x, n_fft, hop):
    """The frames ``x[:, t * hop:t * hop + n_fft]`` of shape (batch, n_frames, n_fft): ``x``
    cut into blocks of ``hop`` samples, each frame ``n_fft // hop`` consecutive blocks
    (``n_fft`` a multiple of ``hop``), or gathered by index otherwise."""
    batch, n = x.shape[0], x.shape[1]
    if n_fft % hop == 0:
        r = n_fft // hop
        n_blocks = n // hop
        blocks = x[:, :n_blocks * hop].reshape(batch, n_blocks, hop)
        return torch.cat([blocks[:, i:(i - r + 1) if i < r - 1 else None] for i in range(r)],
                         dim=-1)
    n_frames = (n - n_fft) // hop + 1
    index = (torch.arange(n_frames, device=x.device)[:, None] * hop
             + torch.arange(n_fft, device=x.device)[None, :])
    return x[:, index]


def frontend_features(front, x, *, keep_length=False, stft="conv"):
    """What ``front.forward(x)`` computes, with operators that trace into an ONNX graph with
    dynamic batch and sample axes (see :meth:`sk_crnn.features.MelFrontEnd.export_features`).
    """
    if not keep_length and front.n_samples is not None:
        # zero-pad at the end, then crop: the fitted length whatever the input's
        x = F.pad(x, (0, front.n_samples))[:, :front.n_samples]
    power = _power(front, x, stft)  # (batch, n_freq, n_frames)
    feats = torch.matmul(front.mel_t.t(), power)  # (batch, n_mels, n_frames)
    feats = _scale(front, feats)
    if front.dct_t is not None:
        feats = torch.matmul(front.dct_t.t(), feats)
    if front.band_mean is not None:
        feats = (feats - front.band_mean[:, None]) * front.band_scale[:, None]
    return feats


def _power(front, x, stft):
    """``|STFT|^power`` of shape (batch, n_freq, n_frames), the frames as ``features``
    cuts them: centred with ``n_fft // 2`` samples of padding (one more on the right for an
    odd ``n_fft``, as ``n_frames_for`` counts them)."""
    n_fft, hop = front.n_fft, front.hop_length
    x = x[:, None, :]
    if front.center:
        pad = n_fft // 2
        mode = {"edge": "replicate"}.get(front.pad_mode, front.pad_mode)
        x = F.pad(x, (pad, pad + n_fft % 2), mode=mode)
    if stft == "fft":
        real, imag = _factored_dft(_frames(x[:, 0], n_fft, hop), front.window)
    else:
        out = F.conv1d(x, dft_kernels(front.window), stride=hop)
        n_freq = n_fft // 2 + 1
        real, imag = out[:, :n_freq], out[:, n_freq:]
    power = real * real + imag * imag
    if front.power != 2.0:
        power = power.pow(front.power / 2.0)
    return power


def _scale(front, mel):
    """``MelFrontEnd._scale`` without in-place operations (``np.max`` as ``ref`` is the
    per-clip maximum; other callables are refused before tracing)."""
    if front.scale is None:
        return mel
    if front.scale == "log":
        return torch.log(mel + front.amin)
    db = 10.0 * torch.log10(torch.clamp(mel, min=front.amin))
    if callable(front.ref):
        if front.ref is not np.max:
            raise ValueError(unsupported_ref_message(front.ref))
        peak = mel.amax(dim=(1, 2), keepdim=True)
        db = db - 10.0 * torch.log10(torch.clamp(peak.abs(), min=front.amin))
    else:
        offset = 10.0 * np.log10(max(front.amin, abs(float(front.ref))))
        if offset != 0.0:
            db = db - float(offset)
    if front.top_db is not None:
        db = torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - front.top_db)
    return db


def unsupported_ref_message(ref):
    """The error of a callable ``ref`` other than ``np.max``."""
    name = getattr(ref, "__name__", repr(ref))
    return (f"The transformer's ref={name} is a Python function, which an ONNX graph cannot "
            "run; only a number or np.max (the per-clip maximum) export. Set ref to a number "
            "or np.max and fit the pipeline again.")


class ExportGraph(torch.nn.Module):
    """The module traced into the graph: the front end (``None`` for spectrogram inputs), then
    the estimator's inference module.

    Parameters
    ----------
    front : sk_crnn.features.MelFrontEnd or None
    inference : sk_crnn._inference.InferenceModule
    keep_length : bool
        The front end keeps the input's length (``any_length=True``) instead of padding or
        cropping to the fitted one.
    log_proba : bool
        Output ``log_softmax`` of the inference module's scores (the transcriber's CTC
        log-probabilities) instead of its output.
    stft : {"conv", "fft"}
        How the front end computes the STFT (:func:`stft_kind`).
    """

    def __init__(self, front, inference, *, keep_length, log_proba, stft):
        super().__init__()
        self.front = front
        self.inference = inference
        self.keep_length = keep_length
        self.log_proba = log_proba
        self.stft = stft

    def forward(self, x):
        """Outputs of waveforms (batch, samples) or spectrograms (batch, n_mels, n_frames)."""
        if self.front is not None:
            x = self.front.export_features(x, keep_length=self.keep_length, stft=self.stft)
        if self.log_proba:
            return torch.log_softmax(self.inference.scores(x), dim=-1)
        return self.inference(x)


def trace_to_onnx(graph, example, path, *, input_names, output_names, dynamic_axes, opset):
    """Trace ``graph`` on the tensors of the tuple ``example`` and write the ONNX file
    (TorchScript-based exporter), its inputs and outputs named by the lists ``input_names``
    and ``output_names``."""
    graph.eval()
    with warnings.catch_warnings():
        # the exporter's deprecation notice, and the tracer's notes on the shape checks of
        # the networks (Python comparisons of sizes, fixed at tracing: the same for every
        # input the estimator accepts)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*")
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
        # torch < 2.5 has no dynamo argument (its export is the TorchScript one)
        legacy = ({"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters
                  else {})
        with torch.no_grad():
            torch.onnx.export(graph, tuple(example), path, input_names=list(input_names),
                              output_names=list(output_names), dynamic_axes=dynamic_axes,
                              opset_version=opset, do_constant_folding=True, **legacy)
