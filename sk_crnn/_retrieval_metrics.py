"""Retrieval metrics: how well embeddings put items of the same label next to each other.

Each item is a query against all the other items (leave-one-out), ranked by cosine
similarity; an item is relevant to a query when it has the query's label. Re-exported by
:mod:`sk_crnn.metrics`.
"""

import numpy as np
from sklearn.utils import check_array, check_consistent_length

__all__ = [
    "mean_average_precision",
    "precision_at_k",
    "retrieval_scorer",
]


def _ranked_relevance(labels, embeddings, k=None):
    """Relevance (same label) of each query's ranked neighbours, itself left out.

    Returns a bool array of shape (n_items, k or n_items - 1) and the number of relevant
    items per query. Computed in blocks of queries, so memory is one block times n_items.
    """
    labels = np.asarray(labels)
    emb = check_array(embeddings, dtype=np.float64)
    check_consistent_length(labels, emb)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, one per item; got shape {labels.shape}.")
    n = len(labels)
    if n < 2:
        raise ValueError("Retrieval needs at least 2 items (each is a query against the others).")
    depth = n - 1 if k is None else int(k)
    if not 1 <= depth <= n - 1:
        raise ValueError(f"k must be in [1, {n - 1}] for {n} items; got {k!r}.")
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    _, codes = np.unique(labels, return_inverse=True)
    rel = np.empty((n, depth), dtype=bool)
    block = max(1, 2**22 // n)
    for start in range(0, n, block):
        stop = min(start + block, n)
        sim = emb[start:stop] @ emb.T
        sim[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # leave the query out
        if depth < n - 1:
            top = np.argpartition(-sim, depth - 1, axis=1)[:, :depth]
            order = np.take_along_axis(top, np.argsort(
                -np.take_along_axis(sim, top, axis=1), axis=1, kind="stable"), axis=1)
        else:
            order = np.argsort(-sim, axis=1, kind="stable")[:, :depth]
        rel[start:stop] = codes[order] == codes[start:stop, None]
    n_relevant = np.bincount(codes)[codes] - 1
    return rel, n_relevant


def precision_at_k(labels, embeddings, *, k=10):
    """Mean share of same-label items among each item's ``k`` nearest neighbours.

    Parameters
    ----------
    labels : array-like of shape (n_items,)
        Label of each item.
    embeddings : array-like of shape (n_items, n_dims)
        One embedding per item (need not be unit-norm: cosine similarity is used).
    k : int, default=10
        Neighbours per query.

    Returns
    -------
    precision : float
        In [0, 1], averaged over all queries.

    Examples
    --------
    >>> from sk_crnn.metrics import precision_at_k
    >>> precision_at_k(["a", "a", "b", "b"], [[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], k=1)
    1.0
    """
    rel, _ = _ranked_relevance(labels, embeddings, k)
    return float(rel.mean())


def mean_average_precision(labels, embeddings):
    """Mean over queries of the average precision of the full ranking of the other items.

    Parameters
    ----------
    labels : array-like of shape (n_items,)
        Label of each item.
    embeddings : array-like of shape (n_items, n_dims)
        One embedding per item.

    Returns
    -------
    map : float
        In [0, 1]; queries without another item of their label are left out.

    Examples
    --------
    >>> from sk_crnn.metrics import mean_average_precision
    >>> emb = [[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9]]  # the a's each nearer a b
    >>> round(mean_average_precision(["a", "a", "b", "b"], emb), 3)  # (1/3+1/3+1/2+1/2)/4
    0.417
    """
    rel, n_relevant = _ranked_relevance(labels, embeddings)
    hits = np.cumsum(rel, axis=1)
    ranks = np.arange(1, rel.shape[1] + 1)
    ap = (rel * hits / ranks).sum(axis=1)
    has = n_relevant > 0
    return float((ap[has] / n_relevant[has]).mean()) if has.any() else 0.0


def retrieval_scorer(metric="precision", *, k=10):
    """A scorer for ``GridSearchCV(scoring=...)``: the retrieval metric of the embeddings
    ``estimator.transform(X)`` among the validation items, relevant = same label in ``y``.

    Parameters
    ----------
    metric : {"precision", "map"}, default="precision"
        :func:`precision_at_k` (with ``k``) or :func:`mean_average_precision`.
    k : int, default=10
        Neighbours per query for ``"precision"`` (lowered to the number of other items when
        a fold is smaller).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``; higher is better.
    """
    if metric not in ("precision", "map"):
        raise ValueError(f"metric must be 'precision' or 'map'; got {metric!r}.")

    def scorer(estimator, X, y):
        emb = estimator.transform(X)
        if metric == "map":
            return mean_average_precision(y, emb)
        return precision_at_k(y, emb, k=min(k, len(emb) - 1))

    scorer.__name__ = f"retrieval_{metric}" + (f"_at_{k}" if metric == "precision" else "")
    return scorer
