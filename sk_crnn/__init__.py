"""sk_crnn: convolutional recurrent neural networks for audio, as scikit-learn estimators."""

import importlib
import importlib.util
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# The public names are imported on first use (PEP 562): ``import sk_crnn`` itself loads no
# torch or scikit-learn, so that the ``sk-crnn`` command (sk_crnn._entry) can import them
# where it handles a Ctrl-C pressed during start-up.
_EXPORTS = {
    "CRNN": "modules",
    "AudioLoader": "io",
    "CRNNClassifier": "classifier",
    "CRNNEmbedder": "retrieval",
    "CRNNEventDetector": "detection",
    "CRNNRegressor": "regressor",
    "CRNNTranscriber": "transcription",
    "MelSpectrogramTransformer": "transformers",
    "SimilarityIndex": "retrieval",
    "export_onnx": "export",
    "load": "persistence",
    "load_audio": "io",
    "make_pipeline": "pipeline",
    "save": "persistence",
}

if TYPE_CHECKING:  # what the names are, for type checkers and IDEs
    from .classifier import CRNNClassifier
    from .detection import CRNNEventDetector
    from .export import export_onnx
    from .io import AudioLoader, load_audio
    from .modules import CRNN
    from .persistence import load, save
    from .pipeline import make_pipeline
    from .regressor import CRNNRegressor
    from .retrieval import CRNNEmbedder, SimilarityIndex
    from .transcription import CRNNTranscriber
    from .transformers import MelSpectrogramTransformer


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    # a submodule, as ``sk_crnn.metrics`` after ``import sk_crnn`` (a dotted name is none: an
    # AttributeError, not the ImportError of finding it, nor the import of its parent)
    if (name.isidentifier() and not name.startswith("__")
            and importlib.util.find_spec(f"{__name__}.{name}")):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})


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
    "export_onnx",
    "load",
    "load_audio",
    "make_pipeline",
    "save",
    "__version__",
]
