"""The causal convolution of a causal :class:`~sk_crnn.modules.CRNN` (public as
``sk_crnn.modules.CausalConv2d``)."""

import torch
from torch import nn
from torch.nn import functional as F


class CausalConv2d(nn.Conv2d):
    """A ``Conv2d`` over (frequency, time) that looks back only in time.

    The input is padded with ``kernel_size - 1`` zero frames on the left of the time axis
    only (and ``kernel_size // 2`` bins on both sides of the frequency axis, as
    :class:`CRNN`'s convolutions), so output frame ``t`` depends on input frames
    ``t - kernel_size + 1 .. t`` and the number of frames is kept. Its weights are those of
    the ``Conv2d`` it subclasses: same shapes, names and initialisation.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size : int
        Square kernel size.

    Examples
    --------
    >>> import torch
    >>> from sk_crnn.modules import CausalConv2d
    >>> conv = CausalConv2d(1, 2, 3)
    >>> x = torch.randn(1, 1, 8, 10)
    >>> y = conv(x)
    >>> y.shape
    torch.Size([1, 2, 8, 10])
    >>> x[..., 6:] += 1.0  # a change at frame 6 leaves the frames before it unchanged
    >>> bool(torch.equal(conv(x)[..., :6], y[..., :6]))
    True
    """

    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__(in_channels, out_channels, kernel_size, padding=(kernel_size // 2, 0))

    @property
    def context(self):
        """int: Past frames each output frame reads (``kernel_size - 1``)."""
        return self.kernel_size[1] - 1

    def forward(self, input):
        """The convolution of ``input`` (batch, channels, freq, time) padded on the left."""
        return super().forward(F.pad(input, (self.context, 0)))

    def forward_after(self, context, input):
        """The output frames of ``input`` that follow ``context``: the streaming step.

        Parameters
        ----------
        context : torch.Tensor of shape (batch, channels, freq, kernel_size - 1)
            The input frames just before ``input`` (zeros at the start of a stream: the
            left padding).
        input : torch.Tensor of shape (batch, channels, freq, n_frames)

        Returns
        -------
        output : torch.Tensor of shape (batch, out_channels, freq_out, n_frames)
            The frames :meth:`forward` gives for ``input`` within the whole sequence.
        """
        return super().forward(torch.cat([context, input], dim=-1))


CausalConv2d.__module__ = "sk_crnn.modules"  # its public path
