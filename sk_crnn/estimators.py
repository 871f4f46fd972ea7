"""The classifier and the regressor, under their former module (each now has its own:
:mod:`sk_crnn.classifier`, :mod:`sk_crnn.regressor`); kept so that ``sk_crnn.estimators``
and pickles that name it keep working."""

from .classifier import CRNNClassifier, encode_labels  # noqa: F401 (imported from here before)
from .regressor import CRNNRegressor  # noqa: F401

__all__ = []  # not a public path: sk_crnn.CRNNClassifier, sk_crnn.CRNNRegressor
