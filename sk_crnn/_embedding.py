"""Embeddings of a fitted CRNN estimator: ``embed`` and, for the estimators whose module
pools over time (``_embeds``), ``transform``/``fit_transform``/``get_feature_names_out``."""

import numpy as np
import torch
from sklearn.utils._set_output import _SetOutputMixin, _wrap_data_with_container
from sklearn.utils.metaestimators import available_if
from skorch.utils import to_tensor

from ._docs import shared_docs


def _has_embeddings(est):
    return est._embeds


class Embeddings(_SetOutputMixin, auto_wrap_output_keys=None):
    """The embedding methods of the CRNN estimators' base (a mixin of ``SpectrogramNet``).

    ``set_output`` is scikit-learn's (``_SetOutputMixin``): ``transform`` wraps its own output,
    so that it stays behind ``available_if``, and the subclasses, which declare the
    ``transform`` key by default, have ``set_output`` where they have embeddings.
    """

    _embeds = True  # whether transform gives embeddings

    @shared_docs
    def embed(self, X):
        """Pooled embeddings of the fitted module (before its output layer).

        {X_fitted}
        embeddings : ndarray of shape (n_clips, embedding_dim)
            Deterministic: computed in evaluation mode, without augmentation.
        """
        X = self._check_predict_X(X)
        module = self._inference_module("transform")
        self._set_training(False)
        with torch.no_grad():
            out = [module(to_tensor(Xi, device=self.device)).cpu().numpy()
                   for Xi, _ in self.get_iterator(self.get_dataset(X), training=False)]
        return np.concatenate(out)

    @available_if(_has_embeddings)
    @shared_docs
    def transform(self, X):
        """Pooled recurrent embeddings of the fitted network (see :meth:`embed`).

        {X_fitted}
        embeddings : ndarray or DataFrame of shape (n_clips, embedding_dim)
            A pandas or polars DataFrame with the columns of :meth:`get_feature_names_out`
            when ``set_output(transform=...)`` or ``sklearn.set_config(transform_output=...)``
            asks for one.
        """
        return _wrap_data_with_container("transform", self.embed(X), X, self)

    @available_if(_has_embeddings)
    def fit_transform(self, X, y, **fit_params):
        """Fit on ``X`` and ``y``, then return the embeddings of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms.
        y : array-like
            Targets.
        **fit_params : dict
            Passed to ``fit``.

        Returns
        -------
        embeddings : ndarray or DataFrame of shape (n_clips, embedding_dim)
            As :meth:`transform` returns them.
        """
        return self.fit(X, y, **fit_params).transform(X)

    @available_if(_has_embeddings)
    def get_feature_names_out(self, input_features=None):
        """Names of the embedding columns: ``crnn_emb0``, ``crnn_emb1``, ...

        Parameters
        ----------
        input_features : None
            Ignored; the names do not depend on the input.

        Returns
        -------
        feature_names_out : ndarray of str objects, shape (embedding_dim,)
        """
        self.check_is_fitted()
        dim = getattr(self.module_, "embedding_dim", None)
        if dim is None:
            raise AttributeError(
                f"The module {type(self.module_).__name__} has no embedding_dim attribute.")
        return np.asarray([f"crnn_emb{i}" for i in range(dim)], dtype=object)
