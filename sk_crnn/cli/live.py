"""What ``sk-crnn stream`` prints for each task, as the outputs become final.

Each printer takes what :meth:`sk_crnn.streaming.Stream.push` (or ``flush``) returned, and
prints it on standard output at once (flushed), as text or as JSON Lines (one object per
line). Times are seconds from the start of the stream. Nothing heavy is imported here.
"""

import json
import sys


def _emit(args, text=None, row=None):
    """Print one line: ``text``, or ``row`` as JSON with ``--format jsonl``."""
    print(json.dumps(row) if args.format == "jsonl" else text, flush=True)


class EventLines:
    """The detector's events, one line each as it finishes: ``onset offset label``."""

    def __init__(self, stream, args):
        self.stream, self.args = stream, args

    def show(self, output, *, end=False):
        for onset, offset, label in self.stream.new_events():
            _emit(self.args, f"{onset:.3f}\t{offset:.3f}\t{label}",
                  {"onset": round(onset, 6), "offset": round(offset, 6), "label": _plain(label)})


class ClipLines:
    """The classifier's running probabilities (the regressor's outputs), one line per
    ``--interval`` seconds of audio and one at the end: ``time label p(label)``, or for a
    regressor ``time value...``."""

    def __init__(self, stream, args):
        self.stream, self.args = stream, args
        self.next_time = args.interval
        estimator = stream.estimator
        self.classes = getattr(estimator, "classes_", None)
        self.multilabel = getattr(estimator, "target_type_", None) == "multilabel-indicator"

    def show(self, output, *, end=False):
        time = self.stream.n_samples / self.stream.sr
        if output is None or not (end or time >= self.next_time):
            return
        while self.next_time <= time:
            self.next_time += self.args.interval
        if self.classes is None:  # a regressor's outputs
            values = [round(float(v), 6) for v in output]
            _emit(self.args, f"{time:.3f}\t" + "\t".join(f"{v:.4g}" for v in values),
                  {"time": round(time, 6), "outputs": values})
            return
        proba = {str(_plain(c)): round(float(p), 4) for c, p in zip(self.classes, output)}
        if self.multilabel:
            labels = [str(_plain(c)) for c, p in zip(self.classes, output) if p > 0.5]
            text = ",".join(labels) or "-"
        else:
            best = int(output.argmax())
            labels = _plain(self.classes[best])
            text = f"{labels}\t{float(output[best]):.4f}"
        _emit(self.args, f"{time:.3f}\t{text}", {"time": round(time, 6), "label": labels,
                                                 "proba": proba})


class TextLines:
    """The transcriber's text as it becomes final: written as it comes (a line at the end),
    or one JSON object per piece with ``--format jsonl``."""

    def __init__(self, stream, args):
        self.stream, self.args = stream, args
        self.written = False

    def show(self, output, *, end=False):
        if output and self.args.format == "jsonl":
            _emit(self.args, row={"time": round(self.stream.n_samples / self.stream.sr, 6),
                                  "text": output})
        elif output:
            sys.stdout.write(output)
            sys.stdout.flush()
            self.written = True
        if end and self.written:
            print(flush=True)


def _plain(label):
    """A numpy label as the Python value it holds (for JSON)."""
    return label.item() if hasattr(label, "item") else label
