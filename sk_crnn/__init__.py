"""sk_crnn: convolutional recurrent neural networks for audio, as scikit-learn estimators."""

from .transformers import MelSpectrogramTransformer

__version__ = "0.1.0"
