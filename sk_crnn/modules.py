"""The CRNN torch module: convolution blocks, a recurrent layer over time, a temporal head.

The networks built on it for the other tasks, :class:`FrameCRNN` (with
:func:`attention_pool`), :class:`EmbeddingCRNN` and :class:`SequenceCRNN`, live in modules of
their own and are imported from here (``sk_crnn.modules.FrameCRNN``).
"""

from numbers import Integral

import torch
from torch import nn

from ._causal_conv import CausalConv2d
from ._docs import shared_docs
from ._validation import BOOL, Interval, InvalidParameterError, Options, Rule, validate_args

RNN_TYPES = ("gru", "lstm")
POOLINGS = ("mean", "max", "attention", "last")
CONV_CHANNELS = (32, 64, 64)  # CRNN's default conv blocks

#: The networks of the other tasks, each in a module of its own, imported on first use (PEP
#: 562) under their public path ``sk_crnn.modules.<name>``.
_TASK_NETWORKS = {"FrameCRNN": "._frame_crnn", "attention_pool": "._frame_crnn",
                  "EmbeddingCRNN": "._embedding_crnn", "SequenceCRNN": "._sequence_crnn"}


def __getattr__(name):
    if name in _TASK_NETWORKS:
        import importlib

        return getattr(importlib.import_module(_TASK_NETWORKS[name], __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_TASK_NETWORKS])


def default_time_pool(conv_channels=CONV_CHANNELS):
    """The default ``time_pool`` of the frame-wise and per-step networks (:class:`FrameCRNN`,
    :class:`SequenceCRNN`): pool time by 2 in the first conv block of ``conv_channels`` and
    not after (``conv_channels`` as :class:`CRNN` takes it: an int is one block)."""
    n_blocks = 1 if isinstance(conv_channels, Integral) else len(tuple(conv_channels))
    return (2,) + (1,) * (n_blocks - 1)


def _per_block(value, name, n_blocks):
    """Expand an int to one value per conv block, or check a per-block sequence."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        values = (int(value),) * n_blocks
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise InvalidParameterError(
                f"{name} must be an int or a tuple of ints, one per conv block; got {value!r}."
            ) from None
        if len(values) != n_blocks:
            raise InvalidParameterError(
                f"{name}={value!r} has {len(values)} entries but conv_channels has {n_blocks} "
                f"blocks; give one {name} per block or a single int for all."
            )
    for v in values:
        if isinstance(v, bool) or not isinstance(v, Integral) or v < 1:
            raise InvalidParameterError(f"{name} entries must be positive ints; got {value!r}.")
    return tuple(int(v) for v in values)


POSITIVE_INT = Interval("int", 1)


def _check_conv_channels(value, name):
    channels = value if not isinstance(value, Integral) else (value,)
    try:
        channels = tuple(channels)
    except TypeError:
        raise TypeError(f"{name} must be an int or a tuple of ints, one per conv block; got "
                        f"{value!r}.") from None
    if not channels:
        raise ValueError(f"{name} must hold at least one conv block; got ().")
    if not all(POSITIVE_INT.is_valid(c) for c in channels):
        raise ValueError(f"{name} entries must be positive ints; got {value!r}.")


def _check_pools(params):
    """The cross-parameter rule of :class:`CRNN`: one pool per conv block."""
    n_blocks = len(_as_channels(params["conv_channels"]))
    for name in ("freq_pool", "time_pool"):
        _per_block(params[name], name, n_blocks)


def _check_relations(params):
    """The cross-parameter rules of :class:`CRNN`: one pool per conv block, and a causal
    network reads time in one direction."""
    _check_pools(params)
    if params["causal"] and params["bidirectional"]:
        raise InvalidParameterError(
            "bidirectional=True reads each sequence backwards from its end, which causal=True "
            "rules out (a causal network sees no future frame); leave bidirectional at None "
            "(unidirectional under causal=True) or set causal=False.")


def _as_channels(conv_channels):
    return (conv_channels,) if isinstance(conv_channels, Integral) else tuple(conv_channels)


#: The arguments :class:`CRNN` checks (the table language of ``sk_crnn._validation``).
CRNN_ARGS = {
    "n_mels": POSITIVE_INT,
    "n_outputs": POSITIVE_INT,
    "n_frames": [POSITIVE_INT, None],
    "conv_channels": Rule(_check_conv_channels),
    "kernel_size": POSITIVE_INT,
    "rnn_type": Options(*RNN_TYPES),
    "rnn_hidden": POSITIVE_INT,
    "rnn_layers": POSITIVE_INT,
    "bidirectional": [BOOL, None],
    "causal": BOOL,
    "dropout": Interval("real", 0, 1, closed="left"),
    "pooling": Options(*POOLINGS),
    "input_norm": BOOL,
}


def _grow(kernel_size, causal):
    """What a convolution adds to the size of its axis: 0 for odd kernels and 1 for even
    ones (``padding=kernel_size // 2`` on both sides); 0 for a causal one (``kernel_size -
    1`` on the left only)."""
    return 0 if causal else 2 * (kernel_size // 2) - kernel_size + 1


def crnn_output_size(size, pools, kernel_size=3, *, causal=False):
    """Size of one axis after the conv blocks of a :class:`CRNN`.

    Parameters
    ----------
    size : int
        Input size along the axis (mel bands or frames).
    pools : tuple of int
        Max-pooling factor of each conv block along that axis.
    kernel_size : int, default=3
        Convolution kernel size (the convolutions use ``padding=kernel_size // 2``).
    causal : bool, default=False
        The time axis of a causal :class:`CRNN` (its convolutions pad ``kernel_size - 1``
        frames on the left only, so they keep the size for any kernel).

    Returns
    -------
    size_out : int
        Size after all blocks; 0 means the input is too small.
    """
    grow = _grow(kernel_size, causal)
    for p in pools:
        size = (size + grow) // p
    return size


def crnn_min_input_size(pools, kernel_size=3, *, causal=False):
    """Smallest input size along one axis that survives the pooling of a :class:`CRNN`.

    Parameters
    ----------
    pools : tuple of int
        Max-pooling factor of each conv block along that axis.
    kernel_size : int, default=3
        Convolution kernel size.
    causal : bool, default=False
        The time axis of a causal :class:`CRNN` (see :func:`crnn_output_size`).

    Returns
    -------
    min_size : int
        The smallest ``size`` with ``crnn_output_size(size, pools, kernel_size) >= 1``.
    """
    grow = _grow(kernel_size, causal)
    need = 1
    for p in reversed(pools):
        need = max(need * p - grow, 1)
    return need


class Dropout(nn.Dropout):
    """``torch.nn.Dropout`` with a faster draw of the mask on the CPU.

    On the CPU, torch's dropout draws one random number per element and this costs more
    than the convolution it follows (about a third of a CRNN's training time at
    ``dropout=0.1``). This module draws 16 random bits per element (64-bit words from torch's
    generator, so ``torch.manual_seed`` and ``random_state`` make it reproducible) and keeps
    an element where they are at least ``p`` of the way up: the same element-wise dropout,
    with ``p`` rounded to a multiple of 1/65536, about 2.5 times faster. On other devices,
    and in evaluation, it is ``torch.nn.Dropout``.

    Examples
    --------
    >>> import torch
    >>> from sk_crnn.modules import Dropout
    >>> _ = torch.manual_seed(0)
    >>> kept = Dropout(0.25)(torch.ones(100_000)) != 0
    >>> round(kept.float().mean().item(), 2)
    0.75
    """

    def forward(self, input):
        if not (self.training and input.device.type == "cpu" and 0 < self.p < 1
                and input.is_floating_point()):
            return super().forward(input)
        n = input.numel()
        words = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(2 ** 63), None)
        bits = words.view(torch.int16)[:n].view(input.shape)  # uniform over [-2^15, 2^15)
        keep = bits >= round(self.p * 65536) - 32768
        return input * keep.to(input.dtype).mul_(1.0 / (1.0 - self.p))


class CRNN(nn.Module):
    """Convolutional recurrent network for (log-mel) spectrograms.

    Each conv block is ``Conv2d -> BatchNorm2d -> MaxPool2d((freq_pool, time_pool)) -> ReLU
    -> Dropout`` (the ReLU after the pooling: the same values as before it, as max-pooling
    commutes with a ReLU, on fewer elements). The conv output of shape (batch, channels,
    freq, time) is reshaped to (batch, time, channels * freq), so time stays the sequence
    axis of the recurrent layer, whose outputs are pooled over time and mapped to
    ``n_outputs`` by a linear layer.

    Parameters
    ----------
    n_mels : int
        Number of mel bands (height of the input spectrograms).
    n_outputs : int
        Number of outputs (classes, labels or regression targets).
    n_frames : int or None, default=None
        Number of frames (width of the input). If None, any number of frames that survives
        the time pooling is accepted.
    conv_channels : tuple of int, default=(32, 64, 64)
        Output channels of each conv block; its length is the number of blocks.
    kernel_size : int, default=3
        Square convolution kernel size; convolutions use ``padding=kernel_size // 2``.
    freq_pool : int or tuple of int, default=2
        Max-pooling factor over frequency, for all blocks or one per block.
    time_pool : int or tuple of int, default=1
        Max-pooling factor over time, for all blocks or one per block (1: no pooling).
    rnn_type : {"gru", "lstm"}, default="gru"
        Recurrent layer type.
    rnn_hidden : int, default=64
        Hidden size of the recurrent layer (per direction).
    rnn_layers : int, default=1
        Number of stacked recurrent layers.
    bidirectional : bool or None, default=None
        Whether the recurrent layer reads the sequence in both directions. None: True,
        unless ``causal`` (which reads time forwards only: True with ``causal=True`` is an
        error).
    causal : bool, default=False
        A causal network, whose output at a time step depends on that step's frames and
        earlier ones only, so that it can run on a stream (:class:`sk_crnn.streaming.Stream`)
        with no look-ahead: the recurrent layer is unidirectional, and each convolution pads
        the time axis with ``kernel_size - 1`` zero frames on the left only (the frequency
        axis as without it). Max-pooling over time by ``p`` emits one step per ``p`` frames
        (the last incomplete group is dropped, as without it). Every pooling works on a
        stream: over the steps so far.
    dropout : float, default=0.1
        Dropout after each conv block, between recurrent layers and before the output layer.
    pooling : {"mean", "max", "attention", "last"}, default="mean"
        Temporal pooling of the recurrent outputs: the mean or maximum over time, a learned
        softmax attention over time, or the last step (for a bidirectional layer: the forward
        direction at the last step joined with the backward direction at the first step,
        i.e. both directions' final states).
    input_norm : bool, default=False
        A ``BatchNorm`` over the mel bands of the input before the conv blocks (as PANNs'
        ``bn0``): each band standardised by batch statistics in training and their running
        averages in prediction, a normalisation that needs no fitted statistics in the
        features.

    Attributes
    ----------
    embedding_dim : int
        Size of the pooled embedding returned by :meth:`embed`.
    n_mels_out : int
        Number of frequency bins left after the conv blocks.

    Examples
    --------
    >>> import torch
    >>> from sk_crnn.modules import CRNN
    >>> net = CRNN(n_mels=32, n_outputs=5, conv_channels=(8, 16))
    >>> net(torch.zeros(4, 32, 50)).shape
    torch.Size([4, 5])
    """

    @validate_args(CRNN_ARGS, relations=_check_relations)
    def __init__(
        self,
        *,
        n_mels,
        n_outputs,
        n_frames=None,
        conv_channels=CONV_CHANNELS,
        kernel_size=3,
        freq_pool=2,
        time_pool=1,
        rnn_type="gru",
        rnn_hidden=64,
        rnn_layers=1,
        bidirectional=None,
        causal=False,
        dropout=0.1,
        pooling="mean",
        input_norm=False,
    ):
        super().__init__()
        conv_channels = tuple(int(c) for c in _as_channels(conv_channels))
        n_blocks = len(conv_channels)
        self.n_mels = int(n_mels)
        self.n_outputs = int(n_outputs)
        self.n_frames = None if n_frames is None else int(n_frames)
        self.kernel_size = int(kernel_size)
        self.freq_pool = _per_block(freq_pool, "freq_pool", n_blocks)
        self.time_pool = _per_block(time_pool, "time_pool", n_blocks)
        self.rnn_type = rnn_type
        self.pooling = pooling
        self.causal = bool(causal)
        self.bidirectional = not self.causal if bidirectional is None else bool(bidirectional)
        rnn_hidden = int(rnn_hidden)
        rnn_layers = int(rnn_layers)

        self.min_mels = crnn_min_input_size(self.freq_pool, self.kernel_size)
        self.min_frames = crnn_min_input_size(self.time_pool, self.kernel_size,
                                              causal=self.causal)
        if self.n_mels < self.min_mels:
            raise ValueError(
                f"n_mels={self.n_mels} is too small for freq_pool={self.freq_pool}: needs at "
                f"least {self.min_mels} mel bands; increase n_mels (of the "
                "MelSpectrogramTransformer) or reduce freq_pool / the number of conv_channels "
                "(module__freq_pool / module__conv_channels of a CRNN estimator)."
            )
        if self.n_frames is not None:
            self._check_frames(self.n_frames)

        blocks = []
        in_ch = 1
        for out_ch, fp, tp in zip(conv_channels, self.freq_pool, self.time_pool):
            conv = (CausalConv2d(in_ch, out_ch, self.kernel_size) if self.causal else
                    nn.Conv2d(in_ch, out_ch, self.kernel_size, padding=self.kernel_size // 2))
            blocks += [
                conv,
                nn.BatchNorm2d(out_ch),
                nn.MaxPool2d((fp, tp)),
                nn.ReLU(),
                Dropout(dropout),
            ]
            in_ch = out_ch
        # channels-last (NHWC) weights and inputs: the CPU's oneDNN convolutions, batch norms
        # and max-pooling run about a fifth faster per training step than in NCHW; the values
        # are the same, the state_dict keys too (saved weights are made contiguous).
        self.conv = nn.Sequential(*blocks).to(memory_format=torch.channels_last)
        self.input_norm = nn.BatchNorm2d(self.n_mels) if input_norm else None
        self.n_mels_out = crnn_output_size(self.n_mels, self.freq_pool, self.kernel_size)
        rnn_cls = nn.GRU if rnn_type == "gru" else nn.LSTM
        self.rnn = rnn_cls(
            input_size=in_ch * self.n_mels_out,
            hidden_size=rnn_hidden,
            num_layers=rnn_layers,
            batch_first=True,
            bidirectional=self.bidirectional,
            dropout=dropout if rnn_layers > 1 else 0.0,
        )
        self._hidden = rnn_hidden
        self._embedding_dim = rnn_hidden * (2 if self.bidirectional else 1)
        self.attention = nn.Linear(self._embedding_dim, 1) if pooling == "attention" else None
        self.dropout = Dropout(dropout)
        self.head = nn.Linear(self._embedding_dim, self.n_outputs)

    @property
    def embedding_dim(self):
        """int: Size of the pooled embedding (``rnn_hidden`` times the number of directions)."""
        return self._embedding_dim

    def sequence_length(self, n_frames):
        """Number of recurrent time steps for an input of ``n_frames`` frames."""
        return crnn_output_size(n_frames, self.time_pool, self.kernel_size, causal=self.causal)

    def _check_frames(self, n_frames):
        if n_frames < self.min_frames:
            raise ValueError(
                f"n_frames={n_frames} is too small for time_pool={self.time_pool}: needs at "
                f"least {self.min_frames} frames; increase n_frames (longer clips or a smaller "
                "hop_length of the MelSpectrogramTransformer) or reduce time_pool / the number "
                "of conv_channels (module__time_pool / module__conv_channels of a CRNN "
                "estimator)."
            )

    def _check_input(self, X):
        if X.dim() == 3:
            X = X.unsqueeze(1)
        elif X.dim() != 4 or X.shape[1] != 1:
            raise ValueError(
                "CRNN expects input of shape (batch, n_mels, n_frames) or "
                f"(batch, 1, n_mels, n_frames); got shape {tuple(X.shape)}."
            )
        if X.shape[2] != self.n_mels:
            raise ValueError(
                f"CRNN was built for n_mels={self.n_mels} but got input with {X.shape[2]} mel "
                f"bands (shape {tuple(X.shape)})."
            )
        if self.n_frames is not None and X.shape[3] != self.n_frames:
            raise ValueError(
                f"CRNN was built for n_frames={self.n_frames} but got input with {X.shape[3]} "
                f"frames (shape {tuple(X.shape)}); build it with n_frames=None to accept any "
                "length."
            )
        self._check_frames(X.shape[3])
        weight = self.head.weight
        if X.is_floating_point() and X.dtype != weight.dtype:
            X = X.to(weight.dtype)  # float16 features: cast one batch, not the whole data
        return X

    @shared_docs
    def sequence(self, X):
        """Recurrent outputs over time.

        {X_tensor}
        out : torch.Tensor of shape (batch, n_steps, embedding_dim)
            With ``n_steps = self.sequence_length(n_frames)``.
        """
        X = self._check_input(X)
        if self.input_norm is not None:  # (batch, 1, F, T) -> bands as channels -> back
            X = self.input_norm(X.transpose(1, 2)).transpose(1, 2)
        h = self.conv(X.contiguous(memory_format=torch.channels_last))  # (batch, C, F', T')
        b, c, f, t = h.shape
        h = h.permute(0, 3, 1, 2).reshape(b, t, c * f)  # time stays the sequence axis
        if h.is_cuda and torch.is_autocast_enabled():
            # float32 recurrence on a GPU under autocast: torch's autocast runs cuDNN's
            # GRU/LSTM in float16 whatever its dtype (bfloat16 too), casting and re-packing
            # the weights on every call
            with torch.autocast("cuda", enabled=False):
                out, _ = self.rnn(h.float())
            return out
        out, _ = self.rnn(h)
        return out

    @shared_docs
    def embed(self, X):
        """Pooled embedding before the output layer.

        {X_tensor}
        embedding : torch.Tensor of shape (batch, embedding_dim)
        """
        out = self.sequence(X)
        if self.pooling == "mean":
            return out.mean(dim=1)
        if self.pooling == "max":
            return out.amax(dim=1)
        if self.pooling == "attention":
            weights = torch.softmax(self.attention(out), dim=1)  # (batch, T', 1)
            return (weights * out).sum(dim=1)
        # "last": the final state of each direction
        if not self.bidirectional:
            return out[:, -1]
        return torch.cat([out[:, -1, : self._hidden], out[:, 0, self._hidden :]], dim=1)

    @shared_docs
    def forward(self, X):
        """Outputs (logits or regression values).

        {X_tensor}
        out : torch.Tensor of shape (batch, n_outputs)
        """
        return self.head(self.dropout(self.embed(X)))


# The task networks are imported on first use (see __getattr__ above).
__all__ = ["CRNN", "CausalConv2d", "Dropout", "EmbeddingCRNN", "FrameCRNN", "SequenceCRNN",  # noqa: F822
           "attention_pool", "crnn_min_input_size", "crnn_output_size"]  # noqa: F822
