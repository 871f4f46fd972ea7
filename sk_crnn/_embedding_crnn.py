"""The embedder's network: a CRNN giving unit-norm embeddings (public as
``sk_crnn.modules.EmbeddingCRNN``)."""

import torch
from torch import nn
from torch.nn import functional as F

from ._docs import shared_docs
from ._validation import validate_args
from .modules import CRNN, POSITIVE_INT


class EmbeddingCRNN(nn.Module):
    """A :class:`CRNN` whose output is a unit-norm embedding, with class proxies for training.

    The CRNN's linear output layer projects the pooled recurrent state to ``embedding_dim``
    values, which are L2-normalised (:meth:`embed`). For the normalised-softmax objective
    (``proxies=True``) :meth:`forward` returns ``scale`` times the cosine similarity of each
    embedding to one learned unit vector (proxy) per class, the logits of a cross-entropy
    loss (Zhai & Wu, "Classification is a strong baseline for deep metric learning", 2019);
    with ``proxies=False`` it returns the embeddings themselves (for a contrastive loss).

    Parameters
    ----------
    n_mels : int
        Number of mel bands.
    n_outputs : int
        Number of classes (proxies).
    n_frames : int or None, default=None
        Number of frames; None accepts any length that survives the time pooling.
    embedding_dim : int, default=128
        Size of the embedding.
    proxies : bool, default=True
        Learn one proxy per class and return cosine logits from :meth:`forward`.
    scale : float, default=16.0
        Inverse temperature of the cosine logits.
    **crnn_params : dict
        Any other :class:`CRNN` argument (``conv_channels``, ``rnn_hidden``, ``pooling``...).

    Examples
    --------
    >>> import torch
    >>> from sk_crnn.modules import EmbeddingCRNN
    >>> net = EmbeddingCRNN(n_mels=16, n_outputs=3, embedding_dim=8, conv_channels=(4,))
    >>> bool(torch.allclose(net.embed(torch.zeros(2, 16, 25)).norm(dim=1), torch.ones(2)))
    True
    """

    @validate_args({"n_outputs": POSITIVE_INT, "embedding_dim": POSITIVE_INT})
    def __init__(self, *, n_mels, n_outputs, n_frames=None, embedding_dim=128, proxies=True,
                 scale=16.0, **crnn_params):
        super().__init__()
        self.crnn = CRNN(n_mels=n_mels, n_outputs=int(embedding_dim),
                         n_frames=n_frames, **crnn_params)
        self.scale = float(scale)
        self.proxies = (nn.Parameter(torch.randn(int(n_outputs),
                                                 embedding_dim) * 0.01) if proxies else None)

    @property
    def embedding_dim(self):
        """int: Size of the embedding."""
        return self.crnn.n_outputs

    @shared_docs
    def embed(self, X):
        """Unit-norm embeddings.

        {X_tensor}
        embedding : torch.Tensor of shape (batch, embedding_dim)
        """
        return F.normalize(self.crnn(X), dim=1)

    @shared_docs
    def forward(self, X):
        """Cosine logits to the class proxies, or the embeddings without proxies.

        {X_tensor}
        out : torch.Tensor of shape (batch, n_outputs) or (batch, embedding_dim)
        """
        embedding = self.embed(X)
        if self.proxies is None:
            return embedding
        return self.scale * embedding @ F.normalize(self.proxies, dim=1).T


EmbeddingCRNN.__module__ = "sk_crnn.modules"  # its public path
