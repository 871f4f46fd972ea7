"""What a stream returns per task, from the recurrent steps of its causal network.

Each output takes the steps a chunk completed (``push``) and the end of the stream
(``flush``), and computes from them what the estimator's ``predict_proba`` computes: the
network's linear head (and, for a detector, the repetition of each step over the frames it
pooled), then the estimator's nonlinearity.
"""

import math

import torch

from ._decoders import StreamingEvents, StreamingText, sorted_events
from ._network import RunningPool


def _scores(crnn, steps):
    """The network's per-step outputs: its dropout (identity in evaluation) and head."""
    return crnn.head(crnn.dropout(steps))


class FrameProbabilities:
    """The detector's frame probabilities, and its events when it has a frame rate.

    Each recurrent step stands for the ``P = prod(time_pool)`` frames it pooled (see
    :class:`~sk_crnn.modules.FrameCRNN`); the last frames of the stream, fewer than ``P``, take
    the last step's values at the end.
    """

    def __init__(self, estimator, crnn, nonlinearity):
        self.crnn, self.nonlinearity = crnn, nonlinearity
        self.pool = math.prod(crnn.time_pool)
        self.n_classes = int(estimator.n_outputs_)
        self.decoder = None if estimator.frame_rate is None else StreamingEvents(
            classes=estimator.classes_, frame_rate=estimator.frame_rate,
            thresholds=estimator.decision_thresholds(), median_filter=estimator.median_filter)
        self.reset()

    def reset(self):
        self.n_frames = 0  # frames emitted
        self.last = None  # the last step's probabilities, shape (1, n_classes)
        self.unread = []  # events finished since the last new_events()
        if self.decoder is not None:
            self.decoder.reset()

    def push(self, steps, n_feature_frames, *, end):
        proba = self.nonlinearity(_scores(self.crnn, steps))
        frames = proba.repeat_interleave(self.pool, dim=0)
        if len(proba):
            self.last = proba[-1:]
        if end and self.last is not None:  # the frames of an incomplete group
            rest = n_feature_frames - self.n_frames - len(frames)
            frames = torch.cat([frames, self.last.expand(rest, -1)])
        self.n_frames += len(frames)
        frames = frames.cpu().numpy().reshape(-1, self.n_classes)
        if self.decoder is not None:
            self.unread += self.decoder.push(frames, end=end)
        return frames

    def events(self):
        return sorted_events(self.decoder.finished)

    def new_events(self):
        new, self.unread = self.unread, []
        return sorted_events(new)


class RunningProbabilities:
    """The classifier's (or regressor's) outputs on the steps so far, pooled as the network
    pools them (:class:`~sk_crnn.streaming._network.RunningPool`); None before a step."""

    def __init__(self, crnn, nonlinearity):
        self.crnn, self.nonlinearity = crnn, nonlinearity
        self.pooled = RunningPool(crnn)

    def reset(self):
        self.pooled.reset()

    def push(self, steps, n_feature_frames, *, end):
        self.pooled.push(steps)
        embedding = self.pooled.value()
        if embedding is None:
            return None
        return self.nonlinearity(_scores(self.crnn, embedding))[0].cpu().numpy()


class NewText:
    """The transcriber's text, as it becomes final (:class:`StreamingText`)."""

    def __init__(self, estimator, crnn, nonlinearity):
        self.crnn, self.nonlinearity = crnn, nonlinearity
        self.text = StreamingText(estimator.vocabulary_, estimator.tokens_)

    def reset(self):
        self.text.reset()

    def push(self, steps, n_feature_frames, *, end):
        if not len(steps):
            return ""
        proba = self.nonlinearity(_scores(self.crnn, steps))
        return self.text.push(proba.cpu().numpy())
