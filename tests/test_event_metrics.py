"""The event- and segment-based F1 of ``sk_crnn.metrics`` need no optional dependency and
equal sed_eval's (and, for events, sed_scores_eval's) on many random event lists.

The parity tests skip without the ``sed`` extra (the dev extra installs it); the others run
everywhere.
"""

import math
import sys
import warnings

import numpy as np
import pytest

from sk_crnn._event_matching import max_matching
from sk_crnn.events import frames_to_events
from sk_crnn.metrics import event_f1, segment_f1

LABELS = ["a", "b", "c"]


# -- reference: sed_eval itself ----------------------------------------------------------------
def _sed_eval():
    with warnings.catch_warnings():  # dcase_util imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        sed_eval = pytest.importorskip("sed_eval")
        dcase_util = pytest.importorskip("dcase_util")
    return sed_eval, dcase_util


def _sed_eval_f1(kind, y_true, y_pred, average, **options):
    sed_eval, dcase_util = _sed_eval()
    labels = sorted({label for clips in (y_true, y_pred) for clip in clips
                     for _, _, label in clip})
    if kind == "event":
        metrics = sed_eval.sound_event.EventBasedMetrics(event_label_list=labels, **options)
    else:
        metrics = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=labels, **options)
    for i, (ref, est) in enumerate(zip(y_true, y_pred)):
        lists = [dcase_util.containers.MetaDataContainer(
            [{"filename": f"clip{i}", "event_onset": on, "event_offset": off, "event_label": lab}
             for on, off, lab in events]) for events in (ref, est)]
        metrics.evaluate(lists[0], lists[1])
    if average == "micro":
        f1 = metrics.results_overall_metrics()["f_measure"]["f_measure"]
    elif not labels:  # sed_eval's class-wise average has no f_measure without labels
        return 0.0
    else:
        with warnings.catch_warnings():  # nanmean of all-NaN class scores
            warnings.simplefilter("ignore", RuntimeWarning)
            f1 = metrics.results_class_wise_average_metrics()["f_measure"]["f_measure"]
    return 0.0 if f1 is None or math.isnan(f1) else float(f1)


# -- random event lists -------------------------------------------------------------------------
def _random_lists(rng, grid):
    """Reference and estimated events of 1-4 clips: times on a grid of ``grid`` seconds (or
    continuous for 0), estimates that shift references by whole grid steps (so many land
    exactly on a collar), swap labels, repeat or overlap events, plus false alarms; some clips
    empty on one side or both."""
    def time(low, high):
        t = rng.uniform(low, high)
        return round(round(t / grid) * grid, 10) if grid else t

    y_true, y_pred = [], []
    for _ in range(rng.integers(1, 5)):
        ref = []
        for _ in range(rng.integers(0, 7)):
            onset = time(0, 5)
            ref.append((onset, onset + max(time(0, 3), grid or 0.01), str(rng.choice(LABELS))))
        est = []
        for onset, offset, label in ref:
            for _ in range(rng.choice([0, 1, 1, 1, 2])):  # missed, found, found twice
                shift_on, shift_off = (rng.integers(-5, 6, size=2) * (grid or 0.05)
                                       if rng.random() < 0.8 else rng.normal(0, 0.3, size=2))
                on = max(0.0, round(onset + shift_on, 10))
                off = round(offset + shift_off, 10)
                if off <= on:
                    off = on + (grid or 0.01)
                if rng.random() < 0.15:
                    label = str(rng.choice(LABELS))
                est.append((on, off, label))
        for _ in range(rng.integers(0, 3)):  # false alarms
            onset = time(0, 5)
            est.append((onset, onset + max(time(0, 2), grid or 0.01), str(rng.choice(LABELS))))
        order = rng.permutation(len(est))
        y_true.append(ref)
        y_pred.append([est[k] for k in order])
    return y_true, y_pred


EVENT_OPTIONS = [
    dict(),
    dict(t_collar=0.1),
    dict(t_collar=0.25, percentage_of_length=0.5),
    dict(t_collar=0.5, percentage_of_length=0.0),
    dict(t_collar=0.2, percentage_of_length=1.0),
    dict(evaluate_offset=False),
    dict(evaluate_onset=False),
    dict(t_collar=0.3, percentage_of_length=0.25, evaluate_onset=False),
]


@pytest.mark.parametrize("options", EVENT_OPTIONS, ids=lambda o: ",".join(
    f"{k}={v}" for k, v in o.items()) or "defaults")
def test_event_f1_equals_sed_eval_on_random_event_lists(options):
    _sed_eval()
    sed_options = {"t_collar": 0.2, "percentage_of_length": 0.2, **options}
    rng = np.random.default_rng(sum(map(ord, str(options))))
    for trial in range(40):
        grid = [0.1, 0.05, 0.125, 0.0][trial % 4]
        y_true, y_pred = _random_lists(rng, grid)
        for average in ("micro", "macro"):
            ours = event_f1(y_true, y_pred, average=average, **options)
            theirs = _sed_eval_f1("event", y_true, y_pred, average, **sed_options)
            assert ours == pytest.approx(theirs, abs=1e-12), (average, y_true, y_pred)


@pytest.mark.parametrize("time_resolution", [1.0, 0.1, 0.25, 0.3])
def test_segment_f1_equals_sed_eval_on_random_event_lists(time_resolution):
    _sed_eval()
    rng = np.random.default_rng(int(time_resolution * 100))
    for trial in range(30):
        y_true, y_pred = _random_lists(rng, [0.1, 0.05, 0.125, 0.0][trial % 4])
        for average in ("micro", "macro"):
            ours = segment_f1(y_true, y_pred, time_resolution=time_resolution, average=average)
            theirs = _sed_eval_f1("segment", y_true, y_pred, average,
                                  time_resolution=time_resolution)
            assert ours == pytest.approx(theirs, abs=1e-12), (average, y_true, y_pred)


def test_f1_equals_sed_eval_at_the_edges():
    """Exactly at the collars (in floating point as sed_eval computes them), empty lists on
    either side, overlapping events of one class, a class never estimated (left out of the
    macro mean) and one event that could match two."""
    _sed_eval()
    cases = [
        ([[(0.1, 0.5, "a")]], [[(0.3, 0.7, "a")]]),  # |0.1 - 0.3| is 0.19999999999999998
        ([[(0.6, 1.0, "a")]], [[(0.8, 1.0, "a")]]),  # |0.6 - 0.8| is 0.20000000000000007
        ([[(0.0, 10.0, "a")]], [[(0.2, 12.0, "a")]]),  # offset exactly 20 % of 10 s late
        ([[], []], [[], []]),
        ([[(0.0, 1.0, "a")], []], [[], []]),
        ([[], []], [[(0.0, 1.0, "a")], []]),
        ([[(0.0, 1.0, "a"), (0.1, 1.1, "a"), (0.5, 2.0, "a")]],
         [[(0.05, 1.05, "a"), (0.0, 1.0, "a"), (0.0, 1.0, "a")]]),
        ([[(0.0, 1.0, "a"), (0.0, 1.0, "b")]], [[(0.0, 1.0, "a")]]),  # b never estimated
        # the first reference may take either estimate, the second only the first estimate
        ([[(0.1, 1.1, "a"), (0.0, 1.0, "a")]], [[(0.0, 1.0, "a"), (0.25, 1.25, "a")]]),
    ]
    for y_true, y_pred in cases:
        for average in ("micro", "macro"):
            for options in EVENT_OPTIONS:
                sed_options = {"t_collar": 0.2, "percentage_of_length": 0.2, **options}
                assert event_f1(y_true, y_pred, average=average, **options) == pytest.approx(
                    _sed_eval_f1("event", y_true, y_pred, average, **sed_options), abs=1e-12)
            for resolution in (1.0, 0.1):
                assert segment_f1(y_true, y_pred, time_resolution=resolution,
                                  average=average) == pytest.approx(_sed_eval_f1(
                                      "segment", y_true, y_pred, average,
                                      time_resolution=resolution), abs=1e-12)
    assert event_f1(*cases[-1]) == 1.0  # the best matching pairs both (a greedy one, 1)
    assert event_f1(*cases[0]) == 1.0 and event_f1(*cases[1]) == 0.0  # as sed_eval


# -- sed_scores_eval: the collar-based F1 of the frames the detector decodes -------------------
@pytest.mark.parametrize("frame_rate, collars, continuous", [
    (16, dict(t_collar=0.25, percentage_of_length=0.25), False),  # exact binary fractions
    (16, dict(t_collar=0.125, percentage_of_length=0.5), False),
    (10, dict(t_collar=0.2, percentage_of_length=0.2), True),  # no ties: continuous times
])
def test_event_f1_equals_sed_scores_eval_collar_f1(frame_rate, collars, continuous):
    pytest.importorskip("sed_scores_eval")
    from sk_crnn.metrics import collar_f1

    rng = np.random.default_rng(frame_rate + int(continuous))
    n_frames, classes = 5 * frame_rate, ["a", "b"]
    for _ in range(8):
        n_clips = int(rng.integers(1, 4))
        y_true = []
        for _ in range(n_clips):  # references of one class do not overlap
            clip = []
            for label in classes:
                bounds = np.sort(rng.choice(n_frames, size=2 * int(rng.integers(0, 3)),
                                            replace=False))
                if continuous:
                    bounds = np.sort(bounds + rng.uniform(0, 0.9, size=len(bounds)))
                clip += [(float(on) / frame_rate, float(off) / frame_rate, label)
                         for on, off in bounds.reshape(-1, 2)]
            y_true.append(clip)
        if not all(any(lab == c for clip in y_true for *_, lab in clip) for c in classes):
            y_true[0] += [(0.0, 1.0, c) for c in classes]  # sed_scores_eval needs every class
        # frame probabilities near the references (shifted, cut, split) and noise
        proba = rng.uniform(0, 0.4, size=(n_clips, n_frames, 2))
        for i, clip in enumerate(y_true):
            for on, off, label in clip:
                if rng.random() < 0.8:
                    start = max(0, round(on * frame_rate) + int(rng.integers(-4, 5)))
                    stop = max(start + 1, round(off * frame_rate) + int(rng.integers(-4, 5)))
                    proba[i, start:stop, classes.index(label)] = rng.uniform(0.6, 1.0)
        proba[rng.random(proba.shape) < 0.01] = 0.9
        y_pred = frames_to_events(proba, frame_rate=frame_rate, classes=classes)
        detected = {lab for clip in y_pred for *_, lab in clip}
        for average in ("micro", "macro"):
            if average == "macro" and detected != set(classes):
                continue  # sed_scores_eval counts an undetected class as 0, sed_eval skips it
            theirs = collar_f1(y_true, proba, frame_rate=frame_rate, classes=classes,
                               onset_collar=collars["t_collar"],
                               offset_collar=collars["t_collar"],
                               offset_collar_rate=collars["percentage_of_length"],
                               average=average)
            assert event_f1(y_true, y_pred, average=average, **collars) == pytest.approx(
                theirs, abs=1e-12)


# -- without the optional dependencies ---------------------------------------------------------
def test_event_and_segment_f1_need_no_sed_eval(monkeypatch):
    for name in ("sed_eval", "dcase_util", "sed_scores_eval"):
        monkeypatch.setitem(sys.modules, name, None)  # importing it raises ImportError
    y_true = [[(0.0, 1.0, "dog"), (2.0, 3.0, "cat")], [(0.0, 5.0, "dog")]]
    y_pred = [[(0.1, 1.1, "dog"), (2.5, 3.0, "cat")], [(0.0, 5.9, "dog")]]
    assert event_f1(y_true, y_pred) == pytest.approx(2 / 3)
    assert event_f1(y_true, y_pred, average="macro") == pytest.approx((0.0 + 1.0) / 2)
    # clip 0: 3 segments (ref dog 0, cat 2; pred dog 0-1, cat 2), clip 1: 6 (ref dog 0-4, pred
    # dog 0-5): 7 true positives, 9 estimated, 7 reference -> 2 * 7 / 16
    assert segment_f1(y_true, y_pred) == pytest.approx(14 / 16)


def test_max_matching_finds_the_largest_matching():
    # greedy would pair left 0 with right 0 and leave left 1 unmatched
    assert max_matching([[0, 1], [0]], 2) == 2
    assert max_matching([[0], [0], [0]], 1) == 1
    assert max_matching([[], [1], [1, 2], [2, 0]], 3) == 3
    assert max_matching([], 0) == 0
    rng = np.random.default_rng(0)  # against brute force on small random graphs
    from itertools import permutations
    for _ in range(200):
        n_left, n_right = (int(n) for n in rng.integers(0, 5, size=2))
        hit = rng.random((n_left, n_right)) < 0.4
        edges = [np.flatnonzero(row).tolist() for row in hit]
        best = 0
        for perm in permutations(range(max(n_left, n_right)), n_left):
            best = max(best, sum(j < n_right and hit[i, j] for i, j in enumerate(perm)))
        assert max_matching(edges, n_right) == best


def test_many_events_of_one_class_in_one_clip():
    rng = np.random.default_rng(0)
    onsets = np.sort(rng.uniform(0, 3600, size=5000))
    y_true = [[(float(t), float(t) + 0.5, "a") for t in onsets]]
    y_pred = [[(float(t) + 0.1, float(t) + 0.6, "a") for t in onsets[::2]]]
    assert event_f1(y_true, y_pred) == pytest.approx(2 * 0.5 / 1.5)


@pytest.mark.parametrize("call, match", [
    (lambda: event_f1([[]], [[]], t_collar=0), "t_collar must be a positive number"),
    (lambda: event_f1([[]], [[]], percentage_of_length=20), "percentage_of_length must be"),
    (lambda: event_f1([[]], [[]], evaluate_onset=False, evaluate_offset=False),
     "evaluate_onset and evaluate_offset are both False"),
    (lambda: event_f1([[]], [[]], average="weighted"), "average must be 'micro' or 'macro'"),
    (lambda: segment_f1([[]], [[]], time_resolution=-1), "time_resolution must be"),
    (lambda: event_f1([[]], [[], []]), "one event list per clip; got 1 and 2"),
    (lambda: event_f1([[(0.0, 1.0, ["a"])]], [[]]), r"y_true\[0\] has the label \['a'\]"),
    (lambda: event_f1([[(1.0, 0.5, "a")]], [[]]), "onset at or after its offset"),
])
def test_metric_errors_name_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call()
