"""Event- and segment-based F1 of sound event detection, computed as ``sed_eval`` computes
them (``sed_eval.sound_event.EventBasedMetrics`` and ``SegmentBasedMetrics``, version 0.2.1),
in plain Python and numpy so that they need no optional dependency.

Event-based matching (sed_eval's default ``event_matching_type="optimal"``): in each clip, an
estimated event can match a reference event of the same label when
``abs(reference onset - estimated onset) <= t_collar`` (if onsets are evaluated) and
``abs(reference offset - estimated offset) <= max(t_collar, percentage_of_length * reference
length)`` (if offsets are evaluated), the same floating-point expressions as sed_eval's; the
true positives are a maximum matching of that bipartite graph (each event matches at most
once). Its size is the same for every maximum matching, so it does not depend on the order of
the events or on the algorithm (sed_eval uses Hopcroft-Karp, this module augmenting paths).
The graph splits by label, so the overall count is the sum of the per-label counts.

Precision, recall and F1 follow ``sed_eval.metric``: precision is undefined (NaN) without
estimated items, recall without reference items, and F1 is then NaN too; 0 when both
precision and recall are 0. The macro average is ``numpy.nanmean`` over the labels found in
``y_true`` or ``y_pred`` (sorted by their ``str``), so a label that is never estimated (or
never in the reference) is left out of it, as in sed_eval.
"""

import math
import warnings
from numbers import Real

import numpy as np

from .events import check_event_lists, plain_label


def check_average(average):
    if average not in ("micro", "macro"):
        raise ValueError(f"average must be 'micro' or 'macro'; got {average!r}.")


def check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, Real) or not value > 0 or not (
            math.isfinite(value)):
        raise ValueError(f"{name} must be a positive number of seconds; got {value!r}.")
    return float(value)


def check_event_options(t_collar, percentage_of_length, evaluate_onset, evaluate_offset):
    """The options of the event-based F1 as floats; a ValueError naming a bad one."""
    t_collar = check_positive(t_collar, "t_collar")
    if isinstance(percentage_of_length, bool) or not isinstance(percentage_of_length, Real) or (
            not 0 <= percentage_of_length <= 1):
        raise ValueError(f"percentage_of_length must be a fraction of the reference event "
                         f"length in [0, 1]; got {percentage_of_length!r}.")
    if not evaluate_onset and not evaluate_offset:
        raise ValueError("evaluate_onset and evaluate_offset are both False, so no event "
                         "could be told from another; evaluate the onsets, the offsets or "
                         "both.")
    return t_collar, float(percentage_of_length)


def labelled_pairs(y_true, y_pred):
    """Checked event lists of both sides, with every label replaced by a hashable key
    (``plain_label``), and the keys sorted as sed_eval sorts its labels (by ``str``)."""
    if isinstance(y_true, (str, bytes)) or isinstance(y_pred, (str, bytes)) or not (
            hasattr(y_true, "__len__") and hasattr(y_pred, "__len__")):
        raise ValueError("y_true and y_pred must be lists with one list of (onset, offset, "
                         f"label) events per clip; got {type(y_true).__name__} and "
                         f"{type(y_pred).__name__}.")
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred must hold one event list per clip; got {len(y_true)} and "
            f"{len(y_pred)} clips."
        )
    sides = []
    names = {}  # key -> str of its first label, as sed_eval names (and sorts) labels
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        clips = []
        for i, clip in enumerate(check_event_lists(y, name=name)):
            events = []
            for onset, offset, label in clip:
                key = plain_label(label)
                try:
                    names.setdefault(key, str(label))
                except TypeError:
                    raise ValueError(f"Event {(onset, offset, label)!r} of {name}[{i}] has "
                                     f"the label {label!r}, which is not hashable; labels "
                                     "are strings or numbers.") from None
                events.append((onset, offset, key))
            clips.append(events)
        sides.append(clips)
    return sides[0], sides[1], sorted(names, key=lambda key: names[key])


def _split_by_label(ref, est):
    by_label = {}
    for side, events in enumerate((ref, est)):
        for onset, offset, key in events:
            by_label.setdefault(key, ([], []))[side].append((onset, offset))
    return by_label


def _candidates(ref, est, *, t_collar, percentage_of_length, evaluate_onset, evaluate_offset):
    """Per reference event, the estimated events it may match (the graph's edges)."""
    ref, est = np.asarray(ref, dtype=np.float64), np.asarray(est, dtype=np.float64)
    offset_tol = np.maximum(t_collar, percentage_of_length * (ref[:, 1] - ref[:, 0]))
    # Search the sorted onsets (or offsets) for a window a little wider than the collar, then
    # apply sed_eval's exact test to the events in it.
    column, tol = (0, np.full(len(ref), t_collar)) if evaluate_onset else (1, offset_tol)
    order = np.argsort(est[:, column], kind="stable")
    times = est[order, column]
    slack = 1e-9 * (1.0 + np.abs(ref[:, column])) + 1e-9 * tol
    lo = np.searchsorted(times, ref[:, column] - tol - slack, side="left")
    hi = np.searchsorted(times, ref[:, column] + tol + slack, side="right")
    edges = []
    for i in range(len(ref)):
        j = order[lo[i]:hi[i]]
        hit = np.ones(len(j), dtype=bool)
        if evaluate_onset:
            hit &= np.abs(ref[i, 0] - est[j, 0]) <= t_collar
        if evaluate_offset:
            hit &= np.abs(ref[i, 1] - est[j, 1]) <= offset_tol[i]
        edges.append(j[hit].tolist())
    return edges


def max_matching(edges, n_est):
    """Size of a maximum matching of a bipartite graph given as, per left vertex, the list of
    its right vertices (``0 <= j < n_est``): a greedy start, then one breadth-first search for
    an augmenting path from every left vertex left unmatched (Kuhn's algorithm)."""
    match_left = [-1] * len(edges)
    match_right = [-1] * n_est
    for i, neighbours in enumerate(edges):
        for j in neighbours:
            if match_right[j] < 0:
                match_left[i], match_right[j] = j, i
                break
    for start, neighbours in enumerate(edges):
        if match_left[start] >= 0 or not neighbours:
            continue
        parent = {}  # right vertex -> the left vertex that reached it
        queue, seen, head, free = [start], {start}, 0, -1
        while head < len(queue) and free < 0:
            left = queue[head]
            head += 1
            for j in edges[left]:
                if j in parent:
                    continue
                parent[j] = left
                owner = match_right[j]
                if owner < 0:
                    free = j
                    break
                if owner not in seen:
                    seen.add(owner)
                    queue.append(owner)
        j = free
        while j >= 0:  # flip the path's edges: every vertex on it ends up matched
            left = parent[j]
            j_next = match_left[left]
            match_left[left], match_right[j] = j, left
            j = j_next
    return sum(j >= 0 for j in match_left)


def event_counts(y_true, y_pred, *, t_collar, percentage_of_length, evaluate_onset,
                 evaluate_offset):
    """Per label key: ``[n_ref, n_sys, n_tp]`` summed over the clips of checked, keyed lists."""
    counts = {}
    for ref, est in zip(y_true, y_pred):
        for key, (ref_events, est_events) in _split_by_label(ref, est).items():
            count = counts.setdefault(key, [0, 0, 0])
            count[0] += len(ref_events)
            count[1] += len(est_events)
            if ref_events and est_events:
                edges = _candidates(ref_events, est_events, t_collar=t_collar,
                                    percentage_of_length=percentage_of_length,
                                    evaluate_onset=evaluate_onset,
                                    evaluate_offset=evaluate_offset)
                count[2] += max_matching(edges, len(est_events))
    return counts


def segment_counts(y_true, y_pred, *, time_resolution):
    """Per label key: ``[n_ref, n_sys, n_tp]`` of (segment, label) pairs, as sed_eval's
    ``SegmentBasedMetrics``: a clip is cut into ``ceil(last offset / time_resolution)``
    segments (the last offset of both lists); an event makes its label active in segments
    ``floor(onset / time_resolution)`` to ``ceil(offset / time_resolution)`` (exclusive)."""
    counts = {}
    for ref, est in zip(y_true, y_pred):
        by_label = _split_by_label(ref, est)
        end = max([0.0] + [offset for _, offset, _ in [*ref, *est]])
        n_segments = int(math.ceil(end / time_resolution))
        for key, sides in by_label.items():
            rolls = np.zeros((2, n_segments), dtype=bool)
            for roll, events in zip(rolls, sides):
                for onset, offset in events:
                    roll[int(math.floor(onset / time_resolution)):
                         int(math.ceil(offset / time_resolution))] = True
            count = counts.setdefault(key, [0, 0, 0])
            count[0] += int(rolls[0].sum())
            count[1] += int(rolls[1].sum())
            count[2] += int((rolls[0] & rolls[1]).sum())
    return counts


def f_measure(n_ref, n_sys, n_tp):
    """sed_eval's F1 of counts: NaN without estimated or without reference items."""
    if n_sys == 0 or n_ref == 0:
        return math.nan
    precision, recall = n_tp / n_sys, n_tp / n_ref
    if precision == 0 and recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


def averaged_f1(counts, keys, average):
    """Micro (pooled counts) or macro (``nanmean`` over ``keys``) F1; 0.0 where undefined."""
    if average == "micro":
        f1 = f_measure(*(sum(counts.get(key, (0, 0, 0))[k] for key in keys) for k in range(3)))
    else:
        per_label = [f_measure(*counts.get(key, (0, 0, 0))) for key in keys]
        with warnings.catch_warnings():  # all NaN: "Mean of empty slice"
            warnings.simplefilter("ignore", RuntimeWarning)
            f1 = float(np.nanmean(per_label)) if per_label else math.nan
    return 0.0 if math.isnan(f1) else float(f1)
