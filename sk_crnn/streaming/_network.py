"""A causal :class:`~sk_crnn.modules.CRNN` run step by step, with its state carried.

The state of a causal CRNN between two chunks of frames is small and fixed: per conv block
the last ``kernel_size - 1`` input frames of its convolution (zeros at the start, the left
padding of :class:`~sk_crnn.modules.CausalConv2d`) and the conv outputs of a time-pooling
group not yet complete (fewer than its ``time_pool``), and the recurrent layer's hidden state.
Every other layer (the input BatchNorm, the conv BatchNorms in evaluation, ReLU, dropout in
evaluation) works on each frame alone. The clip-level pooling of the classifier runs over the
steps so far (:class:`RunningPool`).
"""

import torch
from torch import nn

from ..modules import CausalConv2d


class CausalSteps:
    """The recurrent outputs of a causal CRNN, chunk by chunk.

    Parameters
    ----------
    crnn : sk_crnn.modules.CRNN
        Built with ``causal=True``, in evaluation mode.
    """

    def __init__(self, crnn):
        self.crnn = crnn
        self.reset()

    def reset(self):
        """Forget the stream: zero context, no pending frames, no hidden state."""
        self.context = {}  # conv index -> its last kernel_size - 1 input frames
        self.pending = {}  # pool index -> its input frames of an incomplete group
        self.hidden = None

    def push(self, feats):
        """The recurrent outputs of the steps that ``feats`` completes.

        Parameters
        ----------
        feats : torch.Tensor of shape (n_frames, n_mels)
            The next feature frames.

        Returns
        -------
        steps : torch.Tensor of shape (n_steps, embedding_dim)
        """
        crnn = self.crnn
        x = feats.T[None, None].to(crnn.head.weight.dtype)  # (1, 1, n_mels, n_frames)
        if crnn.input_norm is not None:
            x = crnn.input_norm(x.transpose(1, 2)).transpose(1, 2)
        if x.shape[-1] == 0:
            return x.new_zeros((0, crnn.embedding_dim))
        for i, layer in enumerate(crnn.conv):
            if isinstance(layer, CausalConv2d):
                context = self.context.get(i)
                if context is None:
                    context = x.new_zeros((*x.shape[:3], layer.context))
                self.context[i] = torch.cat([context, x], dim=-1)[..., x.shape[-1]:]
                x = layer.forward_after(context, x)
            elif isinstance(layer, nn.MaxPool2d):
                if i in self.pending:
                    x = torch.cat([self.pending[i], x], dim=-1)
                pool = layer.kernel_size[1] if isinstance(layer.kernel_size, tuple) else (
                    layer.kernel_size)
                whole = x.shape[-1] // pool * pool
                self.pending[i] = x[..., whole:]
                if whole == 0:  # no group complete yet
                    return x.new_zeros((0, crnn.embedding_dim))
                x = layer(x[..., :whole])
            else:  # BatchNorm (evaluation), ReLU, Dropout (evaluation): frame by frame
                x = layer(x)
        b, c, f, t = x.shape
        h = x.permute(0, 3, 1, 2).reshape(b, t, c * f)
        out, self.hidden = crnn.rnn(h, self.hidden)
        return out[0]

    def sizes(self):
        """Elements held per part of the state (for the bounded-memory checks)."""
        hidden = self.hidden if isinstance(self.hidden, tuple) else (self.hidden,)
        return {"conv_context": sum(c.numel() for c in self.context.values()),
                "pool_pending": sum(p.numel() for p in self.pending.values()),
                "rnn_state": sum(h.numel() for h in hidden if h is not None)}


class RunningPool:
    """The pooling of a causal :class:`~sk_crnn.modules.CRNN` over the steps so far.

    ``mean`` keeps a running sum, ``max`` a running maximum, ``attention`` the running
    softmax-weighted sum (the weights rescaled when a larger attention logit arrives) and
    ``last`` the last step, all in float64; :meth:`value` is what ``CRNN.embed`` gives on the
    steps so far.

    Parameters
    ----------
    crnn : sk_crnn.modules.CRNN
    """

    def __init__(self, crnn):
        self.crnn = crnn
        self.reset()

    def reset(self):
        """No steps yet."""
        self.n_steps = 0
        self.total = None  # sum, max or last step; for attention: the weighted sum
        self.weight = None  # attention: sum of exp(logit - top)
        self.top = None  # attention: the largest logit so far

    def push(self, steps):
        """Add ``steps`` of shape (n_steps, embedding_dim)."""
        if not len(steps):
            return
        steps = steps.double()
        pooling = self.crnn.pooling
        if pooling == "mean":
            part = steps.sum(dim=0)
            self.total = part if self.total is None else self.total + part
        elif pooling == "max":
            part = steps.amax(dim=0)
            self.total = part if self.total is None else torch.maximum(self.total, part)
        elif pooling == "last":
            self.total = steps[-1]
        else:
            logits = self.crnn.attention(steps.to(self.crnn.attention.weight.dtype))[:, 0]
            logits = logits.double()
            top = logits.max() if self.top is None else torch.maximum(self.top, logits.max())
            scale = torch.exp(logits - top)
            part, weight = (scale[:, None] * steps).sum(dim=0), scale.sum()
            if self.top is not None:
                rescale = torch.exp(self.top - top)
                part, weight = part + self.total * rescale, weight + self.weight * rescale
            self.total, self.weight, self.top = part, weight, top
        self.n_steps += len(steps)

    def value(self):
        """The pooled embedding of shape (1, embedding_dim), float32; None before a step."""
        if self.n_steps == 0:
            return None
        if self.crnn.pooling == "mean":
            pooled = self.total / self.n_steps
        elif self.crnn.pooling == "attention":
            pooled = self.total / self.weight
        else:
            pooled = self.total
        return pooled[None].to(self.crnn.head.weight.dtype)
