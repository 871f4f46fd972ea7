"""The rows ``sk-crnn predict`` prints, one builder per kind of output (see
:mod:`sk_crnn.cli.tasks`, which names the builder of each task).

Each builder takes a :class:`Job` (the loaded model, the waveforms or streamed paths, which
of them are longer than the training clips, the task's long-recording predictor) and returns
``(rows, keys, exit_code)``: ``keys`` the column order (None: the first row's), the exit code
that of the command.
"""

import sys
from dataclasses import dataclass

from .common import UserError


@dataclass
class Job:
    """What a row builder needs: ``waves[i]`` is a waveform, or the path of a long file read
    in blocks; ``long`` and ``short`` the indices longer and not longer than ``window``, the
    samples of a training clip; ``predict_long`` the task's long-recording predictor."""

    model: object
    waves: list
    files: list
    long: list
    short: list
    window: int
    predict_long: object
    args: object

    @property
    def features(self):  # the model from waveforms on (its AudioLoader read the files)
        return self.model[1:]

    @property
    def estimator(self):
        return self.model.steps[-1][1]


def _windowed(predict, features, wave, path):
    """``predict(features, wave)``, a file's read errors as a UserError naming it."""
    try:
        return predict(features, wave)
    except (ValueError, RuntimeError) as exc:
        if not isinstance(wave, str):
            raise
        raise UserError(f"could not predict over audio file '{path}': {exc}") from exc


def _label_rows(files, pred, classes, proba):
    from ..events import plain_label

    rows = []
    for i, path in enumerate(files):
        row = {"path": path, "label": plain_label(pred[i])}
        if proba is not None:
            row.update({f"p({plain_label(c)})": round(float(p), 4)
                        for c, p in zip(classes, proba[i])})
        rows.append(row)
    return rows


def event_rows(job):
    """One row per detected event, over the whole of each file (long ones stitched)."""
    import numpy as np

    from ..events import plain_label
    from .inputs import _seconds

    model, waves, features = job.model, job.waves, job.features
    loader = model.steps[0][1]
    # the rate the features assume: the loader's, or the transformer's with sr=None
    rate = loader.sr or getattr(model.steps[1][1], "sr", None)
    durations = [_seconds(wave) if isinstance(wave, str) else
                 len(wave) / rate if rate else np.inf for wave in waves]
    found = (dict(zip(job.short, features.predict([waves[i] for i in job.short])))
             if job.short else {})
    for i in job.long:
        found[i] = _windowed(job.predict_long, features, waves[i], job.files[i])
    rows = [{"path": job.files[i], "onset": round(onset, 3),
             "offset": round(min(offset, durations[i]), 3), "label": plain_label(label)}
            for i in range(len(waves)) for onset, offset, label in found[i]
            if onset < durations[i]]  # nothing from the zero padding after a short file
    return rows, ["path", "onset", "offset", "label"], 0


def class_rows(job):
    """A label (and with --proba the class probabilities) per file; a long file's are the
    mean of its windows' probabilities, not the first window's."""
    import numpy as np

    waves, features, classes = job.waves, job.features, job.estimator.classes_
    proba = np.zeros((len(waves), len(classes)))
    if job.short:
        proba[job.short] = features.predict_proba([waves[i] for i in job.short])
    for i in job.long:
        proba[i] = _windowed(job.predict_long, features, waves[i], job.files[i])
    pred = classes[proba.argmax(axis=1)]
    return _label_rows(job.files, pred, classes, proba if job.args.proba else None), None, 0


def transcript_rows(job):
    """One transcript per file, a long one cut at pauses."""
    waves, features = job.waves, job.features
    texts = (dict(zip(job.short, features.predict([waves[i] for i in job.short])))
             if job.short else {})
    for i in job.long:
        texts[i] = job.predict_long(features, waves[i], sr=job.model.steps[0][1].sr)
    return [{"path": path, "transcript": texts[i]} for i, path in enumerate(job.files)], None, 0


def first_window_rows(job):
    """A label (and with --proba the class probabilities) per file, for a model with no
    long-recording predictor: it sees the first part of a long file only, which is said."""
    import numpy as np

    model, waves, features = job.model, job.waves, job.features
    if job.long:
        print(f"sk-crnn predict: warning: {len(job.long)} file(s) are longer than the "
              f"{job.window / model.steps[1][1].sr:.2f} s the model was trained on; this model "
              "sees their first part only.", file=sys.stderr)
    pred = features.predict(waves)
    proba = features.predict_proba(waves) if job.args.proba else None
    rows = _label_rows(job.files, pred, getattr(job.estimator, "classes_", None), proba)
    return rows, None, 0 if len(rows) == len(np.atleast_1d(pred)) else 1
