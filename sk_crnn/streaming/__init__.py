"""Streaming: a fitted pipeline run on audio that is still coming in.

:class:`Stream` takes audio chunks of any size and returns, after each, what became final:
the detector's new frame probabilities (and its finished events), the classifier's class
probabilities of the audio so far, or the transcriber's new text. Its outputs equal those of
the estimator on the whole audio within float32 rounding, however the audio is cut into
chunks; this needs a causal network (``module__causal=True`` of every sk_crnn network) and
frame-local features (``MelSpectrogramTransformer(top_db=None)``). See the streaming guide.
"""

from ._stream import Stream

__all__ = ["Stream"]
