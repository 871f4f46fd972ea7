"""The CRNN regressor: one value (or vector of values) per clip."""

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils.metaestimators import available_if
from skorch import NeuralNetRegressor

from ._base import SpectrogramNet
from ._docs import COMMON_ATTRS_DOC, COMMON_PARAMS_DOC, module_doc, shared_docs
from ._sample_weight import WeighsClips
from .modules import CRNN

__all__ = ["CRNNRegressor"]


class CRNNRegressor(WeighsClips, SpectrogramNet, NeuralNetRegressor):
    __doc__ = f"""Convolutional recurrent network regressor for spectrograms.

    Trains with the mean squared error on 1-D or 2-D float targets; ``predict`` returns
    the same dimensionality as the ``y`` seen in fit and ``score`` is R^2.

    Parameters
    ----------{module_doc("CRNN").rstrip()}{COMMON_PARAMS_DOC.rstrip()}
    criterion : torch loss class, default=torch.nn.MSELoss
        Training loss.

    Attributes
    ----------
    n_outputs_ : int
        Number of regression targets.
    y_ndim_ : int
        Number of dimensions of ``y`` in fit (1 or 2); ``predict`` returns the same.
    {COMMON_ATTRS_DOC.strip()}

    See Also
    --------
    CRNNClassifier : The same network for class labels.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn import CRNNRegressor
    >>> X = np.random.RandomState(0).randn(20, 16, 12).astype("float32")
    >>> y = X.mean(axis=(1, 2))
    >>> reg = CRNNRegressor(max_epochs=2, module__conv_channels=(4,), module__rnn_hidden=4,
    ...                     random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    def __init__(self, *, module=CRNN, criterion=torch.nn.MSELoss, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)

    def _check_targets(self, y, X, *, reset, classes=None):
        y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y")
        if y.ndim not in (1, 2):
            raise ValueError(
                f"y must be 1-D (n_clips,) or 2-D (n_clips, n_targets); got shape {y.shape}.")
        y2d = y.reshape(len(y), -1).astype(np.float32)
        if not reset and y2d.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y2d.shape[1]} target(s) but {type(self).__name__} was "
                             f"fitted on {self.n_outputs_}.")
        return y2d, {"n_outputs_": int(y2d.shape[1]), "y_ndim_": int(y.ndim)}

    @shared_docs
    def predict(self, X):
        """Predicted targets.

        {X_fitted}
        y_pred : ndarray of shape (n_clips,) or (n_clips, n_outputs)
            1-D when ``y`` was 1-D in fit.
        """
        y_pred = SpectrogramNet.predict_proba(self, X).astype(np.float64)  # the inference module
        return y_pred.ravel() if getattr(self, "y_ndim_", 2) == 1 else y_pred

    # A regressor has no class probabilities: hasattr(reg, "predict_proba") is False.
    predict_proba = available_if(lambda est: False)(SpectrogramNet.predict_proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
