"""The transcriber's network: a CRNN with one output per recurrent step, for CTC (public as
``sk_crnn.modules.SequenceCRNN``)."""

from torch import nn

from ._docs import shared_docs
from ._validation import validate_args
from .modules import CONV_CHANNELS, CRNN, POSITIVE_INT, crnn_output_size, default_time_pool


class SequenceCRNN(nn.Module):
    """A :class:`CRNN` with one output vector per recurrent step, for CTC.

    Unlike :class:`FrameCRNN`, the steps are not upsampled back to the input frames: where
    the conv blocks pool over time the output is shorter (``output_length``), which is what a
    CTC loss wants (fewer, more informative steps; 50 per second at a 10 ms hop and
    ``time_pool`` 2).

    Parameters
    ----------
    n_mels : int
        Number of mel bands.
    n_outputs : int
        Number of tokens, the CTC blank included.
    n_frames : int or None, default=None
        Number of frames of the training clips, only checked against the time pooling: any
        number of frames that survives the pooling is accepted (a CTC estimator cuts each
        batch after its longest clip).
    time_pool : int, tuple of int or None, default=None
        Max-pooling factor over time per conv block; None pools by 2 in the first block only.
    rnn_hidden : int, default=128
        Hidden size of the recurrent layer (per direction).
    rnn_layers : int, default=2
        Number of stacked recurrent layers.
    **crnn_params : dict
        Any other :class:`CRNN` argument (``conv_channels``, ``freq_pool``, ``rnn_type``,
        ``dropout``, ...) except ``pooling``.

    Examples
    --------
    >>> import torch
    >>> from sk_crnn.modules import SequenceCRNN
    >>> net = SequenceCRNN(n_mels=16, n_outputs=5, conv_channels=(4, 8), rnn_hidden=8)
    >>> net(torch.zeros(2, 16, 25)).shape
    torch.Size([2, 12, 5])
    >>> net.output_length(25)
    12
    """

    @validate_args({"n_frames": [POSITIVE_INT, None]})
    def __init__(self, *, n_mels, n_outputs, n_frames=None, time_pool=None, rnn_hidden=128,
                 rnn_layers=2, **crnn_params):
        super().__init__()
        if "pooling" in crnn_params:
            raise ValueError(
                "SequenceCRNN has one output per time step, so it takes no pooling parameter; "
                f"got pooling={crnn_params['pooling']!r}. Remove module__pooling.")
        if time_pool is None:
            time_pool = default_time_pool(crnn_params.get("conv_channels", CONV_CHANNELS))
        self.crnn = CRNN(n_mels=n_mels, n_outputs=n_outputs, time_pool=time_pool,
                         rnn_hidden=rnn_hidden, rnn_layers=rnn_layers, **crnn_params)
        if n_frames is not None:
            self.crnn._check_frames(int(n_frames))

    def output_length(self, n_frames):
        """Output steps for inputs of ``n_frames`` frames (an int or an integer tensor/array
        of lengths)."""
        return crnn_output_size(n_frames, self.crnn.time_pool, self.crnn.kernel_size,
                                causal=self.crnn.causal)

    @shared_docs
    def forward(self, X):
        """Per-step logits.

        {X_tensor}
        logits : torch.Tensor of shape (batch, output_length(n_frames), n_outputs)
        """
        return self.crnn.head(self.crnn.dropout(self.crnn.sequence(X)))


SequenceCRNN.__module__ = "sk_crnn.modules"  # its public path
