"""Metrics: sound event detection (here), retrieval and speech recognition.

Events are given per clip as lists of ``(onset_seconds, offset_seconds, label)``, the format
``CRNNEventDetector.predict`` returns. The event- and segment-based F1 are DCASE's, computed
as ``sed_eval`` (the DCASE toolkit) computes them but without it, so they need no optional
dependency (``tests/test_event_metrics.py`` checks that they equal sed_eval's, and the
event-based one sed_scores_eval's, on many random event lists). The threshold-independent
PSDS and the collar-based F1 of frame probabilities come from ``sed_scores_eval``
(``pip install "sk-crnn[sed]"``).
"""

from ._event_matching import (
    averaged_f1,
    check_average,
    check_event_options,
    check_positive,
    event_counts,
    labelled_pairs,
    segment_counts,
)
from ._retrieval_metrics import mean_average_precision, precision_at_k, retrieval_scorer
from ._sed_scores import collar_f1, psds, psds_scorer

__all__ = [
    "collar_f1",
    "event_f1",
    "mean_average_precision",
    "precision_at_k",
    "psds",
    "psds_scorer",
    "retrieval_scorer",
    "segment_f1",
]


def event_f1(y_true, y_pred, *, t_collar=0.2, percentage_of_length=0.2, evaluate_onset=True,
             evaluate_offset=True, average="micro"):
    """Event-based F1 score, as DCASE defines it (``sed_eval.sound_event.EventBasedMetrics``).

    An estimated event matches a reference event of the same label in the same clip when its
    onset is within ``t_collar`` seconds of the reference onset and its offset within
    ``max(t_collar, percentage_of_length * reference length)`` of the reference offset (both
    bounds included, in floating point as sed_eval: 0.8 - 0.6 is a little over 0.2); each
    event matches at most once, and the true positives are the most pairs that can be
    matched so (sed_eval's default "optimal" matching). The result equals sed_eval's, but
    sed_eval is not needed: this is plain Python and numpy.

    Parameters
    ----------
    y_true : sequence of sequences of (onset, offset, label)
        Reference events of each clip, times in seconds.
    y_pred : sequence of sequences of (onset, offset, label)
        Estimated events of each clip (e.g. ``CRNNEventDetector.predict``).
    t_collar : float, default=0.2
        Onset (and minimum offset) collar in seconds.
    percentage_of_length : float, default=0.2
        Offset collar as a fraction of the reference event length.
    evaluate_onset, evaluate_offset : bool, default=True
        Whether onsets / offsets must match.
    average : {"micro", "macro"}, default="micro"
        ``"micro"``: F1 over all events ("overall" in sed_eval); ``"macro"``: the mean of the
        per-class F1 scores of the labels in ``y_true`` or ``y_pred``. As in sed_eval, a
        label's F1 is undefined, and left out of that mean, when it has no estimated event or
        no reference event (so a class the system never detects does not count as 0).

    Returns
    -------
    f1 : float
        In [0, 1]; 0.0 where sed_eval leaves it undefined (no estimated or no reference
        events at all; for ``"macro"``, no label with both).

    Examples
    --------
    >>> from sk_crnn.metrics import event_f1
    >>> y_true = [[(0.0, 1.0, "dog"), (2.0, 3.0, "cat")]]
    >>> y_pred = [[(0.1, 1.1, "dog"), (2.5, 3.0, "cat")]]  # the cat starts 0.5 s late
    >>> round(event_f1(y_true, y_pred), 3)
    0.5
    """
    check_average(average)
    t_collar, percentage_of_length = check_event_options(
        t_collar, percentage_of_length, evaluate_onset, evaluate_offset)
    y_true, y_pred, labels = labelled_pairs(y_true, y_pred)
    counts = event_counts(y_true, y_pred, t_collar=t_collar,
                          percentage_of_length=percentage_of_length,
                          evaluate_onset=evaluate_onset, evaluate_offset=evaluate_offset)
    return averaged_f1(counts, labels, average)


def segment_f1(y_true, y_pred, *, time_resolution=1.0, average="micro"):
    """Segment-based F1 score (``sed_eval.sound_event.SegmentBasedMetrics``).

    Each clip is cut into segments of ``time_resolution`` seconds, up to the last offset of
    its reference or estimated events; in each segment a class is active when any of its
    events overlaps the segment. F1 counts (segment, class) pairs. The result equals
    sed_eval's, computed without it.

    Parameters
    ----------
    y_true : sequence of sequences of (onset, offset, label)
        Reference events of each clip, times in seconds.
    y_pred : sequence of sequences of (onset, offset, label)
        Estimated events of each clip.
    time_resolution : float, default=1.0
        Segment length in seconds.
    average : {"micro", "macro"}, default="micro"
        ``"micro"``: over all segments and classes; ``"macro"``: mean of the per-class F1,
        leaving out (as sed_eval) the classes never active in ``y_true`` or in ``y_pred``.

    Returns
    -------
    f1 : float
        In [0, 1]; 0.0 where undefined.

    Examples
    --------
    >>> from sk_crnn.metrics import segment_f1
    >>> y_true = [[(0.0, 1.0, "dog"), (2.0, 3.0, "cat")]]
    >>> y_pred = [[(0.1, 1.1, "dog")]]  # dog in segments 0 and 1; the cat is missed
    >>> segment_f1(y_true, y_pred)
    0.5
    """
    check_average(average)
    time_resolution = check_positive(time_resolution, "time_resolution")
    y_true, y_pred, labels = labelled_pairs(y_true, y_pred)
    counts = segment_counts(y_true, y_pred, time_resolution=time_resolution)
    return averaged_f1(counts, labels, average)


# -- speech recognition --------------------------------------------------------------------------
def _transcript_pairs(y_true, y_pred):
    y_true, y_pred = list(y_true), list(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred must hold one transcript per clip; got "
                         f"{len(y_true)} and {len(y_pred)}.")
    for name, texts in (("y_true", y_true), ("y_pred", y_pred)):
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"{name}[{i}] is {text!r} of type {type(text).__name__}; "
                                "transcripts must be str.")
    if not any(t.split() for t in y_true):
        raise ValueError("Every reference transcript in y_true is empty, so the error rate "
                         "(errors per reference word or character) is undefined.")
    return [" ".join(t.split()) for t in y_true], [" ".join(t.split()) for t in y_pred]


def word_error_rate(y_true, y_pred):
    """Word error rate over a corpus, computed by ``jiwer``.

    The substitutions, deletions and insertions of the best word alignment of every clip,
    summed over all clips and divided by the number of reference words. Words are split at
    whitespace and compared as given (case included); normalise both sides first if you want
    otherwise (``jiwer.transforms``).

    Parameters
    ----------
    y_true : sequence of str
        Reference transcripts, one per clip; some may be empty (their predicted words are
        insertions), not all.
    y_pred : sequence of str
        Predicted transcripts (e.g. ``CRNNTranscriber.predict``).

    Returns
    -------
    wer : float
        0 for perfect transcripts; it exceeds 1 when there are many insertions.

    Examples
    --------
    >>> from sk_crnn.metrics import word_error_rate
    >>> word_error_rate(["up left stop", "go"], ["up stop", "go go"])  # 1 deletion, 1 insertion
    0.5
    """
    import jiwer

    return float(jiwer.wer(*_transcript_pairs(y_true, y_pred)))


def char_error_rate(y_true, y_pred):
    """Character error rate over a corpus, computed by ``jiwer``: character edits (spaces
    included) per reference character.

    Parameters
    ----------
    y_true : sequence of str
        Reference transcripts; some may be empty, not all.
    y_pred : sequence of str
        Predicted transcripts.

    Returns
    -------
    cer : float

    Examples
    --------
    >>> from sk_crnn.metrics import char_error_rate
    >>> char_error_rate(["up left"], ["up lift"])
    0.14285714285714285
    """
    import jiwer

    return float(jiwer.cer(*_transcript_pairs(y_true, y_pred)))


def _neg_error_rate_scorer(metric):
    from sklearn.metrics import make_scorer

    return make_scorer(metric, greater_is_better=False)


#: ``GridSearchCV(scoring=neg_word_error_rate_scorer)``: minus the corpus WER of each fold
#: (higher is better, as scikit-learn's scorers; ``best_score_`` is ``-WER``).
neg_word_error_rate_scorer = _neg_error_rate_scorer(word_error_rate)
#: The same for the character error rate.
neg_char_error_rate_scorer = _neg_error_rate_scorer(char_error_rate)
