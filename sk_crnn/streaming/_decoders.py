"""What a stream decodes from its outputs as they come: events and transcripts.

:class:`StreamingEvents` gives the events of :func:`sk_crnn.events.frames_to_events` frame by
frame: the thresholded activity is median-filtered over ``width`` frames (odd; frames outside
the stream count as inactive), so a filtered frame is final once ``width // 2`` later frames
have arrived (the filter's delay), and an event once its first inactive frame after it is.
:class:`StreamingText` gives the greedy CTC transcript of :func:`sk_crnn.ctc.decode_greedy`
token by token: a step's most probable token is written when it is not the blank and differs
from the previous step's, which no later step can change.
"""

import numpy as np


class StreamingEvents:
    """Events of frame probabilities arriving in order, as ``frames_to_events`` decodes them.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
    frame_rate : float
    thresholds : ndarray of shape (n_classes,)
    median_filter : float
        Seconds; rounded to an odd number of frames as ``frames_to_events`` does.
    """

    def __init__(self, *, classes, frame_rate, thresholds, median_filter):
        self.classes = list(np.asarray(classes).tolist())
        self.frame_rate = float(frame_rate)
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        width = int(round(median_filter * self.frame_rate))
        self.width = width + 1 - width % 2 if width > 1 else 1
        self.reset()

    @property
    def delay(self):
        """int: Frames after a frame that its filtered activity waits for."""
        return self.width // 2

    def reset(self):
        """Forget the stream."""
        n_classes = len(self.classes)
        # raw activity of frames n_done - delay .. n_seen - 1 (zeros before the stream)
        self.window = np.zeros((self.delay, n_classes), dtype=np.int32)
        self.n_seen = 0  # raw frames received
        self.n_done = 0  # filtered frames decided
        self.onsets = np.full(n_classes, -1)  # onset frame of each open event, or -1
        self.finished = []  # (onset, offset, class index, label), in the order they ended

    def push(self, proba, *, end=False):
        """Add frame probabilities of shape (n_frames, n_classes); ``end``: the stream ended
        after them. Return the events that finished, in the order they ended."""
        active = (np.asarray(proba) > self.thresholds).astype(np.int32)
        self.window = np.concatenate([self.window, active])
        self.n_seen += len(active)
        if end:  # frames after the stream are inactive
            self.window = np.concatenate([self.window, np.zeros_like(self.window[:self.delay])])
        n_new = len(self.window) - 2 * self.delay  # frames whose whole window is known
        if n_new <= 0:
            return self._close() if end else []
        sums = np.cumsum(np.concatenate([np.zeros_like(self.window[:1]), self.window]), axis=0)
        filtered = (sums[self.width:self.width + n_new] - sums[:n_new]) > self.delay
        self.window = self.window[n_new:]
        new = self._runs(filtered)
        return new + self._close() if end else new

    def _runs(self, filtered):
        """Events of the filtered frames ``n_done ..`` that end among them."""
        before = (self.onsets >= 0)[None]
        steps, columns = np.nonzero(np.diff(np.concatenate([before, filtered]), axis=0))
        new = []
        for t, k in zip((steps + self.n_done).tolist(), columns.tolist()):  # in time order
            if self.onsets[k] < 0:
                self.onsets[k] = t
            else:
                new.append(self._event(self.onsets[k], t, k))
                self.onsets[k] = -1
        self.n_done += len(filtered)
        self.finished += new
        return new

    def _close(self):
        """Close the events still open at the end of the stream."""
        new = [self._event(onset, self.n_done, k) for k, onset in enumerate(self.onsets)
               if onset >= 0]
        self.onsets[:] = -1
        self.finished += new
        return new

    def _event(self, onset, offset, k):
        return (onset / self.frame_rate, offset / self.frame_rate, int(k), self.classes[k])


def sorted_events(events):
    """``(onset, offset, label)`` triples sorted as ``frames_to_events`` sorts a clip's."""
    return [(float(on), float(off), label) for on, off, _, label in
            sorted(events, key=lambda event: event[:3])]


class StreamingText:
    """The greedy CTC transcript of token posteriors arriving step by step.

    The text written equals ``normalize_transcript(sep.join(tokens))`` of the whole decoded
    token sequence, as :meth:`CRNNTranscriber.predict` writes it: whitespace runs become one
    space, written only once a character follows it, so no space leads or trails.

    Parameters
    ----------
    vocabulary : ndarray of str
        Index 0 is the blank.
    tokens : {"words", "chars"}
    """

    def __init__(self, vocabulary, tokens):
        self.vocabulary = list(vocabulary)
        self.sep = " " if tokens == "words" else ""
        self.reset()

    def reset(self):
        """Forget the stream."""
        self.previous = -1  # the most probable token of the last step (-1: none yet)
        self.n_tokens = 0
        self.started = False  # a non-space character was written
        self.space = False  # whitespace is waiting for the next character

    def push(self, proba):
        """The text that the steps ``proba`` of shape (n_steps, n_tokens) add."""
        out = []
        for token in np.asarray(proba).argmax(axis=-1).tolist():
            if token != self.previous and token > 0:
                raw = (self.sep if self.n_tokens else "") + self.vocabulary[token]
                self.n_tokens += 1
                out.append(self._normalized(raw))
            self.previous = token
        return "".join(out)

    def _normalized(self, raw):
        out = []
        for char in raw:
            if char.isspace():
                self.space = self.started
            else:
                if self.space:
                    out.append(" ")
                    self.space = False
                out.append(char)
                self.started = True
        return "".join(out)
