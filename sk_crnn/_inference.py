"""The inference seam: one ``torch.nn.Module`` from an estimator's input to its outputs.

Every fitted CRNN estimator builds one with ``_inference_module()``; ``predict_proba``,
``predict`` and ``transform`` run through it, so that what export and streaming run is what
the estimator runs. The module is two steps, kept apart so that skorch's training loop can
reuse the first: ``scores`` (the network and the estimator's tensor work on its outputs: the
detector drops the clip head's columns, the transcriber fills the padding and sets the steps
after each clip's end to a certain blank, the embedder embeds) and ``nonlinearity`` (softmax,
sigmoid or none). ``forward`` is ``nonlinearity(scores(x))``.
"""

import torch
from torch import nn

from . import ctc

#: The logit given to every token but the blank after a clip's end (softmax: the blank
#: gets probability 1 up to float32 rounding).
PAD_LOGIT = -1e4


class Apply(nn.Module):
    """A function of tensors as a module (the estimator's ``predict_nonlinearity``).

    Parameters
    ----------
    fn : callable
        Tensor to tensor, e.g. ``torch.sigmoid``.
    """

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        """``fn(x)``."""
        return self.fn(x)


class InferenceModule(nn.Module):
    """A fitted network and what the estimator does with its outputs.

    Parameters
    ----------
    network : torch.nn.Module
        The estimator's ``module_`` (shared, not copied).
    nonlinearity : callable or None, default=None
        Applied to the scores: the estimator's predict nonlinearity; ``None``: none.

    Notes
    -----
    Input: spectrograms, a tensor of shape (batch, n_mels, n_frames) or
    (batch, 1, n_mels, n_frames). Output: what the estimator's ``predict_proba`` returns for
    them (``transform`` for :class:`EmbeddingOutputs`), as a tensor.
    """

    def __init__(self, network, nonlinearity=None):
        super().__init__()
        self.network = network
        self.nonlinearity = Apply(nonlinearity) if nonlinearity is not None else nn.Identity()

    def scores(self, x):
        """The outputs before the nonlinearity (the network's, by default)."""
        return self.network(x)

    def forward(self, x):
        """``nonlinearity(scores(x))`` (the first output when the network returns several)."""
        out = self.scores(x)
        return self.nonlinearity(out[0] if isinstance(out, (tuple, list)) else out)


class FrameOutputs(InferenceModule):
    """The detector's frame scores: the first ``n_outputs`` columns of the network's (a
    network with a clip head gives its per-frame attention logits after them).

    Parameters
    ----------
    network, nonlinearity :
        As in :class:`InferenceModule`.
    n_outputs : int
        Number of classes.
    """

    def __init__(self, network, nonlinearity=None, *, n_outputs):
        super().__init__(network, nonlinearity)
        self.n_outputs = int(n_outputs)

    def scores(self, x):
        """Frame logits of shape (batch, n_frames, n_outputs)."""
        return self.network(x)[..., :self.n_outputs]


class CTCOutputs(InferenceModule):
    """The transcriber's per-step logits: each clip's zero padding is filled with the clip's
    mean before the network (:func:`sk_crnn.ctc.fill_padding`), and the steps after its end
    are a certain blank (the loss never trained them).

    Parameters
    ----------
    network, nonlinearity :
        As in :class:`InferenceModule`.
    """

    def scores(self, x):
        """Logits of shape (batch, n_steps, n_tokens); column 0 is the blank."""
        lengths = ctc.frame_lengths(x)
        out = self.network(ctc.fill_padding(x, lengths))
        steps = self.output_steps(lengths.to(out.device))
        after = torch.arange(out.shape[1], device=out.device)[None, :] >= steps[:, None]
        blank = torch.full_like(out[0, 0], PAD_LOGIT)
        blank[0] = 0.0
        return torch.where(after[:, :, None], blank, out)

    def output_steps(self, frames):
        """Output steps of inputs of ``frames`` frames (the network's ``output_length``, or
        one step per frame)."""
        return output_steps(self.network, frames)


class EmbeddingOutputs(InferenceModule):
    """The network's pooled embeddings (its ``embed`` method): what ``transform`` returns.

    Parameters
    ----------
    network :
        A module with an ``embed`` method, e.g. :class:`~sk_crnn.modules.CRNN`.
    """

    def __init__(self, network):
        if not hasattr(network, "embed"):
            raise AttributeError(
                f"The module {type(network).__name__} has no embed method.")
        super().__init__(network)

    def scores(self, x):
        """Embeddings of shape (batch, embedding_dim)."""
        return self.network.embed(x)


def output_steps(network, frames):
    """Output steps of ``network`` for inputs of ``frames`` frames (an int or an integer
    array or tensor): its ``output_length``, else the frames themselves."""
    length = getattr(network, "output_length", None)
    return length(frames) if callable(length) else frames
