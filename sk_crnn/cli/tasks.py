"""The tasks of the ``sk-crnn`` commands, in one table.

Each :class:`Task` names its estimator, the metric its ``score`` reports, the rows
``sk-crnn predict`` prints for it and its predictor over recordings longer than the training
clips, and, for the tasks ``sk-crnn train --task`` offers, how its training data is read. A new
estimator is one more row here. Classes and predictors are named, not imported, so that
importing this module stays light (see :mod:`sk_crnn._entry`).
"""

import importlib
from dataclasses import dataclass, field

from .inputs import class_folders, transcript_manifest
from .live import ClipLines, EventLines, TextLines
from .rows import class_rows, event_rows, first_window_rows, transcript_rows


def _import(name):
    """``"CRNNClassifier"`` (a public name of sk_crnn) or ``"windows:predict_proba_long"``
    (a module of sk_crnn and a name in it)."""
    module, _, attr = name.rpartition(":")
    return getattr(importlib.import_module(f"sk_crnn.{module}" if module else "sk_crnn"), attr)


@dataclass(frozen=True)
class Task:
    """One task of the command line.

    Parameters
    ----------
    name : str
        The task's name (the value of ``train --task`` for a trainable one).
    estimator : str or None
        The estimator's public name in :mod:`sk_crnn`; None matches any estimator (the last
        row, for a subclass of the user's own).
    metric : str
        What the estimator's ``score`` reports, as ``train`` prints it.
    rows : callable or None
        The builder of ``predict``'s rows (:mod:`sk_crnn.cli.rows`); None for a model that
        does not predict.
    long : str or None
        The predictor over a recording longer than the training clips, ``"module:function"``
        in sk_crnn; None: the model sees the first part of such a recording only.
    stream : bool
        Whether ``long`` reads a long file in blocks from its path (not whole, in memory).
    proba : bool or None
        Whether ``predict --proba`` is available; None: if the estimator has ``classes_``.
    no_proba : str
        The error when ``--proba`` is not available.
    train_data : callable or None
        ``train_data(args) -> (waves, labels, message)`` for ``train --task name``; None: not
        a task of ``train``.
    stratify : bool
        Whether ``train``'s splits keep the label proportions (labels are classes).
    front_end : dict
        Parameters of ``train``'s ``MelSpectrogramTransformer`` for this task.
    evaluate : bool
        Whether ``evaluate`` (accuracy on a class-per-folder tree) scores this task.
    only_if : callable or None
        A further test of a fitted estimator of the class, ``only_if(estimator) -> bool``.
    live : type or None
        The printer of ``sk-crnn stream`` (:mod:`sk_crnn.cli.live`); None: not streamed.
    """

    name: str
    estimator: str | None
    metric: str
    rows: object
    long: str | None = None
    stream: bool = False
    proba: bool | None = False
    no_proba: str = "--proba needs a classifier model."
    train_data: object = None
    stratify: bool = True
    front_end: dict = field(default_factory=lambda: {"normalize": None})
    evaluate: bool = False
    only_if: object = None
    live: object = None

    def estimator_class(self):
        """The estimator class (imports it)."""
        return _import(self.estimator)

    def long_predictor(self):
        """The long-recording predictor (imports it), or None."""
        return None if self.long is None else _import(self.long)

    def allows_proba(self, estimator):
        """Whether ``predict --proba`` is available for the fitted ``estimator``."""
        return hasattr(estimator, "classes_") if self.proba is None else self.proba

    def matches(self, estimator):
        if self.estimator is not None and not isinstance(estimator, self.estimator_class()):
            return False
        return self.only_if is None or self.only_if(estimator)


TASKS = (
    Task("classify", "CRNNClassifier", "accuracy", class_rows,
         long="windows:predict_proba_long", stream=True, proba=True,
         train_data=class_folders, evaluate=True,
         only_if=lambda net: not net._is_multilabel(), live=ClipLines),
    Task("embed", "CRNNEmbedder", "precision@10", None,  # embeddings: 'sk-crnn similar'
         train_data=class_folders),
    Task("transcribe", "CRNNTranscriber", "1 - WER", transcript_rows,
         long="long_transcripts:transcribe_long", train_data=transcript_manifest,
         stratify=False, front_end={"normalize": "band"}, live=TextLines),
    Task("multilabel", "CRNNClassifier", "accuracy", first_window_rows, proba=True,
         evaluate=True, live=ClipLines),  # a classifier fitted on an indicator matrix
    Task("detect", "CRNNEventDetector", "event-based F1", event_rows,
         long="windows:detect_events_long", stream=True,
         no_proba="--proba is not available for an event detector model.", live=EventLines),
    Task("regress", "CRNNRegressor", "R^2", first_window_rows, live=ClipLines),
    Task("other", None, "score", first_window_rows, proba=None),
)

TRAINABLE = {task.name: task for task in TASKS if task.train_data is not None}


def task_of(estimator):
    """The first row of :data:`TASKS` that matches the fitted ``estimator``."""
    return next(task for task in TASKS if task.matches(estimator))
