"""Threshold-independent scores of frame probabilities: PSDS and the collar-based F1 of DCASE.

Both come from ``sed_scores_eval`` (Ebbers, Serizel and Haeb-Umbach, ICASSP 2022), which the
DCASE task 4 baseline uses since 2023: it computes PSDS exactly from the scores, where the
older ``psds_eval`` approximates it with a threshold grid and underestimates it. They take the
detector's frame probabilities (``predict_proba``), not decoded events: PSDS sweeps every
threshold itself. Install with ``pip install "sk-crnn[sed]"``.
"""

import numpy as np

from .events import check_event_lists, plain_label

__all__ = ["PSDS_SCENARIOS", "collar_f1", "psds", "psds_scorer"]

#: The two operating points of DCASE task 4 (2021 onwards): scenario 1 rewards accurate
#: event boundaries, scenario 2 avoiding confusions between classes.
PSDS_SCENARIOS = {
    1: dict(dtc_threshold=0.7, gtc_threshold=0.7, cttc_threshold=None, alpha_ct=0.0,
            alpha_st=1.0, max_efpr=100.0),
    2: dict(dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3, alpha_ct=0.5,
            alpha_st=1.0, max_efpr=100.0),
}


def _sed_scores_eval():
    try:
        import sed_scores_eval
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "PSDS and collar_f1 need sed_scores_eval: run `pip install 'sk-crnn[sed]'` or "
            "`pip install sed_scores_eval` (it builds from source: a C compiler is needed)."
        ) from exc
    return sed_scores_eval


def _inputs(y_true, proba, frame_rate, classes):
    """sed_scores_eval's score tables, ground truth and durations, keyed by clip index."""
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 3:
        raise ValueError(f"proba must be 3-D (n_clips, n_frames, n_classes), the detector's "
                         f"predict_proba; got shape {proba.shape}.")
    classes = np.asarray(classes).tolist()
    if proba.shape[2] != len(classes):
        raise ValueError(f"proba has {proba.shape[2]} class columns but there are "
                         f"{len(classes)} classes.")
    if len(y_true) != len(proba):
        raise ValueError(f"y_true has {len(y_true)} clips but proba {len(proba)}.")
    y_true = check_event_lists(y_true, classes=classes, name="y_true")
    seen = {plain_label(lab) for clip in y_true for _, _, lab in clip}
    missing = [c for c in classes if c not in seen]
    if missing:
        raise ValueError(
            f"y_true holds no event of the class(es) {missing}; sed_scores_eval needs at least "
            "one reference event of every class: score on more clips, or drop those columns "
            "of proba and classes.")
    names = [str(c) for c in classes]  # sed_scores_eval names classes by strings
    if len(set(names)) != len(names):
        raise ValueError(f"The classes {classes} are not distinct as strings.")
    timestamps = np.arange(proba.shape[1] + 1) / float(frame_rate)
    scores = {str(i): create_score_dataframe(p, timestamps, names) for i, p in enumerate(proba)}
    truth = {str(i): _merged([(on, off, str(plain_label(lab))) for on, off, lab in clip])
             for i, clip in enumerate(y_true)}
    durations = {str(i): float(timestamps[-1]) for i in range(len(proba))}
    return scores, truth, durations


def _merged(events):
    """Overlapping or touching events of one label merged into one (as the detector's frame
    targets merge them; sed_scores_eval refuses them)."""
    out = []
    for on, off, label in sorted(events, key=lambda e: (e[2], e[0])):
        if out and out[-1][2] == label and on <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], off), label)
        else:
            out.append((on, off, label))
    return sorted(out)


def psds(y_true, proba, *, frame_rate, classes, scenario=1):
    """Polyphonic sound detection score (PSDS) of frame probabilities.

    The area under the PSD-ROC curve (effective true positive rate against the effective
    false positives per hour, up to 100 per hour, normalised), over all thresholds, with the
    criteria of DCASE task 4's ``scenario`` (:data:`PSDS_SCENARIOS`).

    Parameters
    ----------
    y_true : sequence of sequences of (onset, offset, label)
        Reference events of each clip, times in seconds.
    proba : array-like of shape (n_clips, n_frames, n_classes)
        Frame probabilities (``CRNNEventDetector.predict_proba``).
    frame_rate : float
        Frames per second; frame ``t`` covers ``[t, t + 1) / frame_rate`` seconds.
    classes : array-like of shape (n_classes,)
        Label of each column (``classes_``).
    scenario : {1, 2}, default=1
        1: detection tolerance 0.7, ground-truth intersection 0.7 (accurate boundaries);
        2: 0.1 / 0.1, cross-trigger tolerance 0.3, cross-trigger weight 0.5 (no confusion).

    Returns
    -------
    score : float
        In [0, 1]; higher is better.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn.metrics import psds
    >>> proba = np.zeros((1, 100, 1))
    >>> proba[0, 20:60, 0] = 0.9  # detected over 2.0-6.0 s
    >>> round(psds([[(2.0, 6.0, "dog")]], proba, frame_rate=10, classes=["dog"]), 3)
    1.0
    """
    if scenario not in PSDS_SCENARIOS:
        raise ValueError(f"scenario must be 1 or 2 (DCASE task 4's); got {scenario!r}.")
    if scenario == 2 and np.shape(proba)[-1] < 2:
        raise ValueError("PSDS scenario 2 penalises cross-triggers between classes, so it "
                         "needs at least two classes; use scenario=1.")
    sse = _sed_scores_eval()
    scores, truth, durations = _inputs(y_true, proba, frame_rate, classes)
    value, *_ = sse.intersection_based.psds(
        scores=scores, ground_truth=truth, audio_durations=durations,
        **PSDS_SCENARIOS[scenario])
    return float(value)


def collar_f1(y_true, proba, *, frame_rate, classes, threshold=0.5, onset_collar=0.2,
              offset_collar=0.2, offset_collar_rate=0.2, average="micro"):
    """Collar-based F1 of frame probabilities at ``threshold`` (DCASE's, from
    ``sed_scores_eval``: a detection matches a reference event of its class when its onset is
    within ``onset_collar`` and its offset within ``max(offset_collar, offset_collar_rate *
    length)``).

    Parameters
    ----------
    y_true : sequence of sequences of (onset, offset, label)
        Reference events of each clip.
    proba : array-like of shape (n_clips, n_frames, n_classes)
        Frame probabilities; frames above ``threshold`` are active (no median filter).
    frame_rate : float
        Frames per second.
    classes : array-like of shape (n_classes,)
        Label of each column.
    threshold : float or array-like of shape (n_classes,), default=0.5
        One threshold for all classes, or one per class.
    onset_collar, offset_collar, offset_collar_rate : float, default=0.2
        The collars (seconds, seconds, fraction of the reference length).
    average : {"micro", "macro"}, default="micro"
        F1 over all events, or the mean of the per-class F1.

    Returns
    -------
    f1 : float

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn.metrics import collar_f1
    >>> proba = np.zeros((1, 100, 1))
    >>> proba[0, 21:60, 0] = 0.9
    >>> collar_f1([[(2.0, 6.0, "dog")]], proba, frame_rate=10, classes=["dog"])
    1.0
    """
    if average not in ("micro", "macro"):
        raise ValueError(f"average must be 'micro' or 'macro'; got {average!r}.")
    sse = _sed_scores_eval()
    scores, truth, _ = _inputs(y_true, proba, frame_rate, classes)
    names = [str(c) for c in np.asarray(classes).tolist()]
    thresholds = np.broadcast_to(np.asarray(threshold, dtype=float), (len(names),))
    f, *_ = sse.collar_based.fscore(
        scores=scores, ground_truth=truth, threshold=dict(zip(names, thresholds.tolist())),
        onset_collar=onset_collar, offset_collar=offset_collar,
        offset_collar_rate=offset_collar_rate)
    return float(f["micro_average" if average == "micro" else "macro_average"])


def psds_scorer(scenario=1):
    """A scorer for ``GridSearchCV(scoring=...)``: the :func:`psds` of a detector (or a
    Pipeline ending in one) on the validation clips.

    Parameters
    ----------
    scenario : {1, 2}, default=1

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``; higher is better.
    """
    if scenario not in PSDS_SCENARIOS:
        raise ValueError(f"scenario must be 1 or 2 (DCASE task 4's); got {scenario!r}.")

    def scorer(estimator, X, y):
        detector = getattr(estimator, "_final_estimator", estimator)
        return psds(y, estimator.predict_proba(X),
                    frame_rate=detector._need_frame_rate("to score events in seconds"),
                    classes=detector.classes_, scenario=scenario)

    scorer.__name__ = f"psds{scenario}"
    return scorer
