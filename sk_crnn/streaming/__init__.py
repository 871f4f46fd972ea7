"""Streaming: a fitted pipeline run on audio that is still coming in.

:class:`Stream` takes audio chunks of any size and returns, after each, what became final:
the detector's new frame probabilities (and its finished events), the classifier's class
probabilities of the audio so far, or the transcriber's new text. Its outputs equal those of
the estimator on the whole audio within float32 rounding, however the audio is cut into
chunks; this needs a causal network (``module__causal=True`` of every sk_crnn network) and
frame-local features (``MelSpectrogramTransformer(top_db=None)``). See the streaming guide.

:func:`export_onnx_step` writes one streaming step as an ONNX graph whose state is an input
and an output, and :class:`OnnxStream` runs it with :class:`Stream`'s API on numpy and
onnxruntime alone.

The names are imported on first use (PEP 562), so that ``from sk_crnn.streaming import
OnnxStream`` imports no torch, scikit-learn or skorch.
"""

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {"Stream": "._stream", "OnnxStream": "._onnx_stream",
            "export_onnx_step": "._onnx_step"}

if TYPE_CHECKING:  # what the names are, for type checkers and IDEs
    from ._onnx_step import export_onnx_step
    from ._onnx_stream import OnnxStream
    from ._stream import Stream


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})


__all__ = ["OnnxStream", "Stream", "export_onnx_step"]
