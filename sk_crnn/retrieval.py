"""Embeddings for retrieval and recommendation: ``CRNNEmbedder`` and ``SimilarityIndex``."""

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet

from ._base import SpectrogramNet
from ._docs import COMMON_ATTRS_DOC, COMMON_PARAMS_DOC, module_doc
from ._labels import check_labels
from ._retrieval_metrics import precision_at_k
from ._training import unwrap_subsets
from ._validation import Interval, Options, check_param
from .classifier import encode_labels
from .modules import EmbeddingCRNN

__all__ = ["CRNNEmbedder", "SimilarityIndex", "SupConLoss"]

OBJECTIVES = ("normsoftmax", "supcon")


class SupConLoss(torch.nn.Module):
    """Supervised contrastive loss (Khosla et al., 2020) over the unit-norm embeddings of a
    batch: every other clip of the same label is a positive.

    Parameters
    ----------
    temperature : float, default=0.1
        Temperature of the cosine similarities.
    """

    def __init__(self, temperature=0.1):
        super().__init__()
        self.temperature = temperature

    def forward(self, embeddings, labels):
        """Mean over anchors with a positive of the negative log-likelihood of its positives.

        Parameters
        ----------
        embeddings : torch.Tensor of shape (batch, embedding_dim)
            Unit-norm embeddings.
        labels : torch.Tensor of shape (batch,)
            Class indices.

        Returns
        -------
        loss : torch.Tensor
            A scalar.
        """
        sim = embeddings @ embeddings.T / self.temperature
        self_mask = torch.eye(len(labels), dtype=torch.bool, device=sim.device)
        sim = sim.masked_fill(self_mask, float("-inf"))
        log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
        positive = (labels[:, None] == labels[None, :]) & ~self_mask
        n_pos = positive.sum(dim=1)
        has = n_pos > 0
        if not has.any():  # a batch without two clips of one label teaches nothing
            return (embeddings * 0).sum()
        per_anchor = log_prob.masked_fill(~positive, 0).sum(dim=1)[has] / n_pos[has]
        return -per_anchor.mean()


class _PairedBatches(torch.utils.data.Sampler):
    """Training batches of ``objective="supcon"``: clips come in pairs of one label, so that
    every batch holds positives to learn from.

    Each epoch the clips of every label are shuffled and paired (a label's odd clip out, or
    its only clip, stays single). Each label's pairs are spread evenly over the epoch from a
    random offset, so that consecutive pairs, and hence the pairs of a batch, are mostly of
    different labels; the single clips come last. The sequence is cut into batches of
    ``batch_size``; with an even ``batch_size`` no pair is split. torch's generator draws
    the order, so ``random_state`` makes it reproducible.

    Parameters
    ----------
    labels : ndarray of shape (n_clips,)
        Class indices of the training clips.
    batch_size : int
        Clips per batch.
    """

    def __init__(self, labels, batch_size):
        labels = np.asarray(labels)
        self.groups = [np.flatnonzero(labels == label) for label in np.unique(labels)]
        self.n_clips, self.batch_size = len(labels), batch_size
        if all(len(group) < 2 for group in self.groups):
            raise ValueError(
                "objective='supcon' learns from pairs of clips of one label, but no label has "
                "two clips among the training clips (after validation_fraction); pass more "
                "clips per label or use objective='normsoftmax'.")

    def __len__(self):
        return -(-self.n_clips // self.batch_size)

    def __iter__(self):
        pairs, keys, singles = [], [], []
        for group in self.groups:
            group = group[torch.randperm(len(group)).numpy()]
            n_pairs = len(group) // 2
            pairs += [group[2 * j:2 * j + 2] for j in range(n_pairs)]
            keys += ((np.arange(n_pairs) + torch.rand(1).item()) / max(n_pairs, 1)).tolist()
            singles += group[2 * n_pairs:].tolist()
        order = [pairs[i] for i in np.argsort(keys, kind="stable")]
        singles = [singles[i] for i in torch.randperm(len(singles)).tolist()]
        sequence = np.concatenate(order + [np.asarray(singles, dtype=np.int64)]).tolist()
        for start in range(0, len(sequence), self.batch_size):
            yield sequence[start:start + self.batch_size]


class CRNNEmbedder(SpectrogramNet):
    __doc__ = f"""Unit-norm audio embeddings for retrieval, trained so that clips of one label
    lie close together (cosine similarity) and clips of different labels far apart.

    ``fit(X, y)`` takes spectrograms and labels (the similarity to learn: genre, instrument,
    speaker, ...); ``transform(X)`` returns embeddings of shape (n_clips, embedding_dim) with
    unit L2 norm, deterministic (evaluation mode, no augmentation). ``score`` is the
    precision at 10 of leave-one-out retrieval among the clips given. Use them with
    :class:`SimilarityIndex` to search a catalogue or to recommend.

    Parameters
    ----------{module_doc("EmbeddingCRNN").rstrip()}{COMMON_PARAMS_DOC.rstrip()}
    embedding_dim : int, default=128
        Size of the embeddings.
    objective : {{"normsoftmax", "supcon"}}, default="normsoftmax"
        The metric-learning loss. ``"normsoftmax"``: cross-entropy over the cosine
        similarities (times ``scale``) of each embedding to one learned unit vector per
        label (normalised softmax); ``"supcon"``: supervised contrastive loss over the
        batch (``temperature``), which needs several clips of a label per batch and does
        not take ``mixup``: its training batches are drawn so that clips come in pairs of
        one label, and it needs ``batch_size >= 4``. The default was chosen on
        ``benchmarks/bench_retrieval.py``.
    temperature : float, default=0.1
        Temperature of ``objective="supcon"``.
    scale : float, default=16.0
        Inverse temperature of the cosine logits of ``objective="normsoftmax"``.
    criterion : torch loss class or None, default=None
        None picks the loss of ``objective``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in fit.
    n_outputs_ : int
        Number of labels.{COMMON_ATTRS_DOC.rstrip()}

    See Also
    --------
    SimilarityIndex : Nearest neighbours and recommendations over a catalogue.
    sk_crnn.metrics.precision_at_k : The retrieval metric.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn import CRNNEmbedder
    >>> X = np.random.RandomState(0).randn(20, 16, 12).astype("float32")
    >>> y = np.array(["piano", "organ"] * 10)
    >>> emb = CRNNEmbedder(max_epochs=2, embedding_dim=8, module__conv_channels=(4,),
    ...                    module__rnn_hidden=4, random_state=0).fit(X, y)
    >>> E = emb.transform(X)
    >>> E.shape, bool(np.allclose(np.linalg.norm(E, axis=1), 1))
    ((20, 8), True)
    """

    _parameter_constraints = {
        **SpectrogramNet._parameter_constraints,
        "embedding_dim": Interval("int", 2),
        "objective": Options(*OBJECTIVES),
        "temperature": Interval("real", 0, closed="neither"),
        "scale": Interval("real", 0, closed="neither"),
    }

    def __init__(self, *, module=EmbeddingCRNN, criterion=None, embedding_dim=128,
                 objective="normsoftmax", temperature=0.1, scale=16.0, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)
        self.embedding_dim = embedding_dim
        self.objective = objective
        self.temperature = temperature
        self.scale = scale

    def _check_params(self):
        device = super()._check_params()
        if self.objective == "supcon" and self.mixup:
            raise ValueError(f"mixup={self.mixup!r} needs objective='normsoftmax': a contrastive "
                             "loss has no mixed labels; set mixup=0.")
        size = self.get_params_for("iterator_train").get("batch_size", self.batch_size)
        if self.objective == "supcon" and size != -1 and size < 4:
            raise ValueError(
                f"objective='supcon' contrasts pairs of clips of one label with clips of "
                f"other labels within a batch, which needs batch_size >= 4; got batch_size="
                f"{size} (with 2 clips a batch holds a pair or two labels, never both, so the "
                "loss is 0). Raise batch_size (for example 32) or use objective='normsoftmax'.")
        return device

    def _check_targets(self, y, X, *, reset, classes=None):
        check_labels(y, type(self).__name__)
        y = np.asarray(y)
        check_classification_targets(y)
        if type_of_target(y, input_name="y") not in ("binary", "multiclass"):
            raise ValueError(f"{type(self).__name__} needs 1-D labels, one per clip; got y of "
                             f"shape {y.shape}.")
        classes = (np.unique(y) if classes is None else np.asarray(classes)) if reset \
            else self.classes_
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs clips of at least 2 labels to learn "
                             "what tells them apart, but the data contains only one class: "
                             f"{classes.tolist()[0]!r}.")
        return encode_labels(y, classes), {"classes_inferred_": classes,
                                           "n_outputs_": len(classes)}

    def get_iterator(self, dataset, training=False):
        """skorch's data loader; for ``objective="supcon"`` the training batches are drawn
        by ``_PairedBatches``, so that each holds clips of one label to contrast."""
        kwargs = self.get_params_for("iterator_train")
        base, indices = unwrap_subsets(dataset)
        labels = getattr(base, "y", None)
        if (not training or self.objective != "supcon" or labels is None
                or self.iterator_train is not torch.utils.data.DataLoader
                or {"sampler", "batch_sampler"} & set(kwargs)):
            return super().get_iterator(dataset, training=training)
        labels = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels)
        labels = labels if indices is None else labels[indices]
        size = kwargs.pop("batch_size", self.batch_size)
        for key in ("shuffle", "drop_last"):
            kwargs.pop(key, None)
        sampler = _PairedBatches(labels, len(dataset) if size == -1 else size)
        return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, **kwargs)

    def _inferred_module_params(self):
        return {**super()._inferred_module_params(), "embedding_dim": self.embedding_dim,
                "proxies": self.objective == "normsoftmax", "scale": self.scale}

    def _criterion_and_kwargs(self):
        kwargs = self.get_params_for("criterion")
        if self.criterion is not None:
            return self.criterion, kwargs
        if self.objective == "supcon":
            return SupConLoss, {"temperature": self.temperature, **kwargs}
        return torch.nn.CrossEntropyLoss, kwargs

    def score(self, X, y, sample_weight=None):
        """Precision at 10 of leave-one-out retrieval among the clips ``X`` (relevant: the
        same label in ``y``), by cosine similarity of the embeddings.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms of the fitted shape.
        y : array-like of shape (n_clips,)
            Labels.
        sample_weight : None
            Not supported.

        Returns
        -------
        score : float
        """
        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__}.score does not support sample_weight.")
        emb = self.transform(X)
        return precision_at_k(y, emb, k=min(10, len(emb) - 1))

    def _inference_module(self, method="transform"):
        """The base's; by default the embeddings, what ``transform`` returns."""
        return super()._inference_module(method)

    # Embeddings, not predictions: an embedder has no predict or predict_proba.
    predict = available_if(lambda est: False)(NeuralNet.predict)
    predict_proba = available_if(lambda est: False)(NeuralNet.predict_proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.single_output = True
        return tags


class SimilarityIndex(BaseEstimator):
    """Nearest neighbours of audio by cosine similarity of embeddings, for search and
    recommendation.

    ``fit`` embeds a catalogue with a fitted ``embedder`` (a Pipeline ending in
    :class:`CRNNEmbedder`, taking clips or, with an :class:`~sk_crnn.AudioLoader` first,
    file paths) and indexes the unit-norm embeddings in scikit-learn's
    :class:`~sklearn.neighbors.NearestNeighbors` (exact, brute-force cosine). With
    ``embedder=None`` the catalogue is given as embeddings.

    Parameters
    ----------
    embedder : fitted estimator with ``transform``, or None, default=None
        Turns catalogue items and queries into embeddings; used as fitted (not refitted or
        cloned by ``fit``).
    n_neighbors : int, default=10
        Neighbours returned by default.

    Attributes
    ----------
    ids_ : ndarray of shape (n_items,)
        Item ids of the catalogue (``ids`` given to fit, or positions).
    embeddings_ : ndarray of shape (n_items, embedding_dim)
        Unit-norm embeddings of the catalogue.
    nn_ : sklearn.neighbors.NearestNeighbors
        The fitted index.

    Notes
    -----
    Brute force is exact and fast up to some hundred thousand items. For millions, index
    ``embeddings_`` in an approximate nearest-neighbour library (faiss ``IndexFlatIP`` or
    ``IndexHNSWFlat`` on the unit vectors, whose inner product is the cosine similarity;
    hnswlib or annoy with the angular metric) and map its row numbers through ``ids_``.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn import SimilarityIndex
    >>> index = SimilarityIndex().fit([[1, 0], [0, 1], [0.8, 0.6]], ids=["a", "b", "c"])
    >>> distances, ids = index.kneighbors([[1, 0.1]], n_neighbors=2)
    >>> ids.tolist()
    [['a', 'c']]
    >>> index.recommend(["a"], n_items=1)[1].tolist()
    ['c']
    """

    def __init__(self, embedder=None, *, n_neighbors=10):
        self.embedder = embedder
        self.n_neighbors = n_neighbors

    def _embed(self, X):
        emb = np.asarray(X if self.embedder is None else self.embedder.transform(X),
                         dtype=np.float64)
        if emb.ndim != 2:
            raise ValueError(f"Embeddings must be 2-D (n_items, embedding_dim); got shape "
                             f"{emb.shape}. Pass embedder= to embed clips or files.")
        if not np.isfinite(emb).all():
            raise ValueError("The embeddings contain NaN or infinite values.")
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        if (norms == 0).any():
            raise ValueError(f"Item {int(np.flatnonzero(norms == 0)[0])} has an all-zero "
                             "embedding, which has no direction to compare by cosine.")
        return emb / norms

    def fit(self, X, y=None, ids=None):
        """Embed and index a catalogue.

        Parameters
        ----------
        X : array-like or list
            Catalogue items: whatever ``embedder.transform`` takes (clips, spectrograms or
            file paths), or embeddings of shape (n_items, embedding_dim) without embedder.
        y : None
            Ignored.
        ids : array-like of shape (n_items,) or None, default=None
            Item ids (any hashable labels: track ids, file names); None uses 0..n_items-1.

        Returns
        -------
        self : SimilarityIndex
        """
        check_param(self.n_neighbors, "n_neighbors", Interval("int", 1))
        emb = self._embed(X)
        if ids is None:
            ids = np.arange(len(emb))
        ids = np.asarray(ids)
        if ids.shape != (len(emb),):
            raise ValueError(f"ids must hold one id per catalogue item ({len(emb)}); got shape "
                             f"{ids.shape}.")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids must be unique: one id per catalogue item.")
        self.ids_, self.embeddings_ = ids, emb
        self.nn_ = NearestNeighbors(metric="cosine", algorithm="brute").fit(emb)
        return self

    def _query(self, emb, n_neighbors, exclude=()):
        n_items = len(self.ids_)
        n = self.n_neighbors if n_neighbors is None else n_neighbors
        check_param(n, "n_neighbors", Interval("int", 1))
        want = min(n + len(exclude), n_items)
        distances, rows = self.nn_.kneighbors(emb, n_neighbors=want)
        if len(exclude):
            keep = ~np.isin(rows, list(exclude))
            distances = np.array([d[k][:n] for d, k in zip(distances, keep)])
            rows = np.array([r[k][:n] for r, k in zip(rows, keep)])
        return distances[:, :n], self.ids_[rows[:, :n]]

    def kneighbors(self, X, n_neighbors=None):
        """The catalogue items nearest to each query.

        Parameters
        ----------
        X : array-like or list
            Queries, in the form ``fit`` takes.
        n_neighbors : int or None, default=None
            Neighbours per query (at most the catalogue size); None uses ``n_neighbors``.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
            Cosine distances (1 - cosine similarity), ascending.
        ids : ndarray of shape (n_queries, n_neighbors)
            Ids of the neighbours, nearest first.
        """
        check_is_fitted(self, "nn_")
        return self._query(self._embed(X), n_neighbors)

    def recommend(self, liked_ids, n_items=None):
        """Items to recommend to someone who liked ``liked_ids``: the nearest to the mean of
        their (unit-norm) embeddings, the liked items left out.

        Parameters
        ----------
        liked_ids : array-like of ids
            Ids of catalogue items (at least one).
        n_items : int or None, default=None
            How many to recommend; None uses ``n_neighbors``.

        Returns
        -------
        distances : ndarray of shape (n_items,)
            Cosine distances to the liked items' mean direction, ascending.
        ids : ndarray of shape (n_items,)
        """
        check_is_fitted(self, "nn_")
        liked = np.asarray(liked_ids).ravel()
        if liked.size == 0:
            raise ValueError("recommend needs at least one liked item id.")
        row_of = {item: row for row, item in enumerate(self.ids_.tolist())}
        unknown = [item for item in liked.tolist() if item not in row_of]
        if unknown:
            raise ValueError(f"liked_ids holds ids that are not in the catalogue: {unknown[:5]}.")
        rows = [row_of[item] for item in liked.tolist()]
        centre = self.embeddings_[rows].mean(axis=0, keepdims=True)
        norm = np.linalg.norm(centre)
        if norm == 0:
            raise ValueError("The liked items' embeddings cancel out (their mean is zero); "
                             "recommend from fewer or other items.")
        distances, ids = self._query(centre / norm, n_items, exclude=set(rows))
        return distances[0], ids[0]

