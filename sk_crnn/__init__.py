"""sk_crnn: convolutional recurrent neural networks for audio, as scikit-learn estimators."""

from .detection import CRNNEventDetector
from .estimators import CRNNClassifier, CRNNRegressor
from .io import AudioLoader, load_audio
from .modules import CRNN
from .persistence import load, save
from .retrieval import CRNNEmbedder, SimilarityIndex
from .transcription import CRNNTranscriber
from .transformers import MelSpectrogramTransformer

__version__ = "0.1.0"

__all__ = [
    "CRNN",
    "AudioLoader",
    "CRNNClassifier",
    "CRNNEmbedder",
    "CRNNEventDetector",
    "CRNNRegressor",
    "CRNNTranscriber",
    "MelSpectrogramTransformer",
    "SimilarityIndex",
    "load",
    "load_audio",
    "save",
    "__version__",
]
