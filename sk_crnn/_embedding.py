"""The CRNN estimators as transformers: ``transform`` gives the pooled recurrent embedding."""

import numpy as np


class EmbeddingMixin:
    """``transform`` and ``get_feature_names_out`` on top of the estimators' ``embed``."""

    def transform(self, X):
        """Pooled recurrent embeddings of the fitted network (see :meth:`embed`).

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms of the fitted shape.

        Returns
        -------
        embeddings : ndarray of shape (n_clips, embedding_dim)
            Deterministic: computed in evaluation mode, without augmentation.
        """
        return self.embed(X)

    def fit_transform(self, X, y, **fit_params):
        """Fit the network on ``X`` and ``y``, then return the embeddings of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms.
        y : array-like of shape (n_clips,) or (n_clips, n_outputs)
            Targets.
        **fit_params : dict
            Passed to ``fit``.

        Returns
        -------
        embeddings : ndarray of shape (n_clips, embedding_dim)
        """
        return self.fit(X, y, **fit_params).transform(X)

    def get_feature_names_out(self, input_features=None):
        """Names of the embedding columns returned by :meth:`transform`.

        Parameters
        ----------
        input_features : None
            Ignored; the names do not depend on the input.

        Returns
        -------
        feature_names_out : ndarray of str objects, shape (embedding_dim,)
            ``crnn_emb0``, ``crnn_emb1``, ...
        """
        self.check_is_fitted()
        dim = getattr(self.module_, "embedding_dim", None)
        if dim is None:
            raise AttributeError(
                f"The module {type(self.module_).__name__} has no embedding_dim attribute."
            )
        return np.asarray([f"crnn_emb{i}" for i in range(dim)], dtype=object)
