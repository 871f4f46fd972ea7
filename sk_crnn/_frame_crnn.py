"""The event detector's network: a CRNN with one output per frame (public as
``sk_crnn.modules.FrameCRNN`` and ``sk_crnn.modules.attention_pool``)."""

import math

import torch
from torch import nn
from torch.nn import functional as F

from ._docs import shared_docs
from .modules import CONV_CHANNELS, CRNN, default_time_pool


class FrameCRNN(nn.Module):
    """A :class:`CRNN` with one output vector per input frame.

    The recurrent output of every time step (``CRNN.sequence``) goes through the CRNN's
    dropout and linear output layer, giving ``n_outputs`` logits per step; where the conv
    blocks pooled over time (``time_pool > 1``) the steps are repeated (nearest-neighbour
    upsampling) back to the number of input frames. A causal network (``causal=True``)
    repeats each step over the ``P`` frames it pooled (``P`` the product of ``time_pool``),
    frame ``t`` taking step ``min(t // P, n_steps - 1)``, so that a frame's output never
    depends on later frames but those of its own group (what a stream can compute).

    With ``clip_head=True`` a second linear layer gives, per step and class, the logit of an
    attention over time (the weak head of the DCASE task 4 baseline): the clip-level
    probability of a class is the attention-weighted mean of its frame probabilities
    (:func:`attention_pool`), which lets clip labels without times train the frame outputs.

    Parameters
    ----------
    n_mels : int
        Number of mel bands.
    n_outputs : int
        Number of event classes.
    n_frames : int or None, default=None
        Number of frames; None accepts any length that survives the time pooling.
    clip_head : bool, default=False
        Also output the attention logits (see above).
    time_pool : int, tuple of int or None, default=None
        As :class:`CRNN`'s; None pools time by 2 in the first conv block and not after (the
        recurrent layer runs at half the frame rate, as the DCASE task 4 baseline pools time
        in its first blocks): half the conv and recurrent work, and outputs steady over
        pairs of frames. 1 keeps every frame.
    input_norm : bool, default=True
        As :class:`CRNN`'s (a BatchNorm over the mel bands of the input), but on by default:
        a detector sees raw log-mels (dB values far from 0) unless the transformer
        standardises them, and this needs no fitted statistics.
    rnn_layers : int, default=2
        As :class:`CRNN`'s, but two stacked GRU layers by default, as in the DCASE task 4
        baseline: on the keyword scenes of ``bench_sed`` the second layer lifted event F1 on
        every seed (``benchmarks/README.md``).
    **crnn_params : dict
        Any other :class:`CRNN` argument (``conv_channels``, ``rnn_hidden``, ...) except
        ``pooling``, which a frame-wise output has no use for.

    Examples
    --------
    >>> import torch
    >>> from sk_crnn.modules import FrameCRNN
    >>> net = FrameCRNN(n_mels=16, n_outputs=3, conv_channels=(4,), time_pool=2)
    >>> net(torch.zeros(2, 16, 25)).shape
    torch.Size([2, 25, 3])
    >>> FrameCRNN(n_mels=16, n_outputs=3, conv_channels=(4,), clip_head=True)(
    ...     torch.zeros(2, 16, 25)).shape  # frame logits, then attention logits
    torch.Size([2, 25, 6])
    """

    def __init__(self, *, n_mels, n_outputs, n_frames=None, clip_head=False, time_pool=None,
                 input_norm=True, rnn_layers=2, **crnn_params):
        super().__init__()
        if "pooling" in crnn_params:
            raise ValueError(
                "FrameCRNN has one output per frame, so it takes no pooling parameter; got "
                f"pooling={crnn_params['pooling']!r}. Remove module__pooling."
            )
        if time_pool is None:
            time_pool = default_time_pool(crnn_params.get("conv_channels", CONV_CHANNELS))
        self.crnn = CRNN(n_mels=n_mels, n_outputs=n_outputs, n_frames=n_frames,
                         time_pool=time_pool, input_norm=input_norm, rnn_layers=rnn_layers,
                         **crnn_params)
        self.attention = (nn.Linear(self.crnn.embedding_dim, n_outputs) if clip_head
                          else None)

    @shared_docs
    def forward(self, X):
        """Per-frame logits.

        {X_tensor}
        logits : torch.Tensor of shape (batch, n_frames, n_outputs)
            With ``clip_head``, shape (batch, n_frames, 2 * n_outputs): the frame logits,
            then the attention logits.
        """
        n_frames = X.shape[-1]
        h = self.crnn.dropout(self.crnn.sequence(X))  # (batch, T', hidden)
        out = self.crnn.head(h)  # (batch, T', C)
        if self.attention is not None:
            out = torch.cat([out, self.attention(h)], dim=-1)
        if out.shape[1] != n_frames and self.crnn.causal:
            step = torch.arange(n_frames, device=out.device) // math.prod(self.crnn.time_pool)
            out = out[:, step.clamp(max=out.shape[1] - 1)]
        elif out.shape[1] != n_frames:
            out = F.interpolate(out.transpose(1, 2), size=n_frames, mode="nearest")
            out = out.transpose(1, 2)
        return out


def attention_pool(frame_logits, attention_logits):
    """Clip-level probabilities: the frame probabilities averaged over time with softmax
    attention weights (the weak head of the DCASE task 4 baseline).

    Parameters
    ----------
    frame_logits, attention_logits : torch.Tensor of shape (batch, n_frames, n_classes)

    Returns
    -------
    proba : torch.Tensor of shape (batch, n_classes)
        In (0, 1).

    Examples
    --------
    >>> import torch
    >>> from sk_crnn.modules import attention_pool
    >>> frames = torch.tensor([[[10.0], [-10.0]]])  # active in frame 0 only
    >>> round(attention_pool(frames, torch.tensor([[[5.0], [-5.0]]])).item(), 3)
    1.0
    >>> round(attention_pool(frames, torch.zeros(1, 2, 1)).item(), 3)  # plain mean
    0.5
    """
    weights = torch.softmax(attention_logits, dim=1)
    return (torch.sigmoid(frame_logits) * weights).sum(dim=1).clamp(1e-7, 1 - 1e-7)


FrameCRNN.__module__ = "sk_crnn.modules"  # its public path

attention_pool.__module__ = "sk_crnn.modules"  # its public path
