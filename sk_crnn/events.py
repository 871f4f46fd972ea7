"""Event lists: per clip, ``(onset, offset, label)`` triples with times in seconds.

Their validation, the parsing of a detector's per-clip label lists (events with times, or
weak labels without), the conversion to and from frame matrices, and the label helpers used
by the event detector, the metrics, the plots and the command line.
"""

import numpy as np
from scipy.ndimage import median_filter as _median_filter

__all__ = [
    "check_event_lists",
    "event_classes",
    "events_to_frames",
    "frames_to_events",
    "is_frame_matrix",
    "plain_label",
]


def is_frame_matrix(y):
    """Whether ``y`` is a numeric 3-D array of frame activity (n_clips, n_frames, n_classes)."""
    return isinstance(y, np.ndarray) and y.dtype.kind in "biuf" and y.ndim == 3


def check_event_lists(y, *, n_frames=None, frame_rate=None, classes=None, name=None):
    """Validate per-clip event lists; return them as a list of lists of (float, float, label).

    Raises a ValueError naming the clip and the event for a malformed event, an onset not
    before its offset, an event past the clip end (when ``n_frames`` and ``frame_rate`` are
    given) or a label outside ``classes`` (when given). ``name`` (e.g. ``"y_true"``) names
    the argument in messages; by default clips are named ``clip i``.
    """
    if isinstance(y, np.ndarray) and y.dtype != object:
        raise ValueError(
            f"y must be a list of event lists, one per clip, or a 0/1 array of shape "
            f"(n_clips, n_frames, n_classes); got an array of shape {y.shape} and dtype "
            f"{y.dtype}."
        )
    if isinstance(y, (str, bytes)) or not hasattr(y, "__len__"):
        raise ValueError(f"y must be a list of event lists, one per clip; got {type(y).__name__}.")
    known = None if classes is None else set(np.asarray(classes).tolist())
    end = None if n_frames is None or frame_rate is None else n_frames / frame_rate
    out = []
    for i, clip in enumerate(y):
        where = f"clip {i}" if name is None else f"{name}[{i}]"
        if isinstance(clip, (str, bytes)) or not hasattr(clip, "__iter__"):
            raise ValueError(
                f"{name or 'y'}[{i}] must be a list of (onset, offset, label) events; got "
                f"{clip!r}."
            )
        events = []
        for event in clip:
            try:
                onset, offset, label = event
                onset, offset = float(onset), float(offset)
            except (TypeError, ValueError):
                raise ValueError(
                    f"Event {event!r} of {where} is not an (onset_seconds, offset_seconds, "
                    "label) triple."
                ) from None
            if not (np.isfinite(onset) and np.isfinite(offset)) or onset < 0:
                raise ValueError(
                    f"Event {event!r} of {where} has a negative or non-finite time; onsets "
                    "and offsets are seconds from the clip start."
                )
            if offset <= onset:
                raise ValueError(
                    f"Event {event!r} of {where} has its onset at or after its offset; give "
                    "(onset, offset, label) with onset < offset."
                )
            if end is not None and offset > end + 1 / frame_rate:
                raise ValueError(
                    f"Event {event!r} of {where} ends past the clip end: the features have "
                    f"{n_frames} frames, {end:.3f} s at frame_rate={frame_rate:g} frames/s. "
                    "Check the event times, or frame_rate may be wrong (it is sr / hop_length "
                    "of the MelSpectrogramTransformer)."
                )
            if known is not None and plain_label(label) not in known:
                raise ValueError(
                    f"Event {event!r} of {where} has label {label!r}, which is not one of the "
                    f"classes {sorted(known, key=str)}."
                )
            events.append((onset, offset, label))
        out.append(events)
    return out


def plain_label(label):
    """A numpy label as the Python value it holds: a scalar for a numpy scalar, a list for
    an array (a multi-label row); other labels unchanged."""
    return label.tolist() if isinstance(label, (np.generic, np.ndarray)) else label


def _label_kind(label):
    """'string', 'bytes', 'boolean' or 'number': event labels of one fit share one kind."""
    if isinstance(label, str):
        return "string"
    if isinstance(label, bytes):
        return "bytes"
    if isinstance(label, bool):
        return "boolean"
    return "number"


def event_classes(events):
    """The sorted labels of checked event lists; a ValueError when there are none or when
    they mix kinds (strings with numbers, say), which cannot be sorted into one order."""
    labels, first = set(), {}  # first: kind -> its first label (True == 1 in a set)
    for clip in events:
        for _, _, label in clip:
            label = plain_label(label)
            labels.add(label)
            first.setdefault(_label_kind(label), label)
    if not labels:
        raise ValueError("y holds no events at all; a detector needs at least one event to "
                         "learn from.")
    if len(first) > 1:
        examples = ", ".join(repr(first[kind]) for kind in sorted(first))
        raise ValueError(f"Event labels mix {' and '.join(sorted(first))} ({examples}); use one "
                         "type for all labels, e.g. all strings.")
    return np.asarray(sorted(labels))


def _is_event(item):
    """Whether a label-list item is (meant as) a timed event (onset, offset, label): a
    sequence, where a label without times is a scalar."""
    return isinstance(item, (tuple, list, np.ndarray))


def split_weak_labels(y):
    """Split per-clip label lists into timed events and clip labels without times.

    Each clip is a list of ``(onset, offset, label)`` events (strong labels) or a list of
    labels without times (weak labels: the classes heard somewhere in the clip); an empty
    list is a clip without events (strong: no class active in any frame).

    Returns
    -------
    events : list of list
        Per clip its events; ``[]`` for a weakly labelled clip.
    weak : list of list
        Per clip its labels without times; ``[]`` for a strongly labelled clip.
    is_weak : ndarray of bool, shape (n_clips,)
    """
    if isinstance(y, (str, bytes)) or not hasattr(y, "__len__"):
        raise ValueError(f"y must be a list of label lists, one per clip; got "
                         f"{type(y).__name__}.")
    events, weak = [], []
    for i, clip in enumerate(y):
        if isinstance(clip, (str, bytes)) or not hasattr(clip, "__iter__"):
            raise ValueError(
                f"y[{i}] is {clip!r}; each clip takes a list: of (onset, offset, label) "
                f"events, or of labels without times (weak labels, e.g. [{clip!r}]).")
        clip = list(clip)
        timed = [_is_event(item) for item in clip]
        if any(timed) and not all(timed):
            bare = clip[timed.index(False)]
            raise ValueError(
                f"y[{i}] mixes events with times and labels without times ({bare!r}); a clip "
                "takes either (onset, offset, label) events (strong labels) or labels "
                "without times (weak labels), not both. Give the times of every event, or "
                "the clip's labels only.")
        if clip and not any(timed):
            events.append([])
            weak.append(list(dict.fromkeys(plain for plain in clip)))
        else:
            events.append(clip)
            weak.append([])
    is_weak = np.array([bool(w) for w in weak], dtype=bool)
    return events, weak, is_weak


def events_to_frames(events, *, n_frames, frame_rate, classes):
    """Turn per-clip event lists into a 0/1 frame matrix.

    Frame ``t`` (centred at ``t / frame_rate`` seconds) is active for an event when
    ``round(onset * frame_rate) <= t < round(offset * frame_rate)``; every event covers at
    least one frame.

    Parameters
    ----------
    events : list of list of (onset, offset, label)
        Events of each clip, times in seconds.
    n_frames : int
        Frames per clip.
    frame_rate : float
        Frames per second (``sr / hop_length``).
    classes : array-like of shape (n_classes,)
        Labels, in column order.

    Returns
    -------
    Y : ndarray of shape (n_clips, n_frames, n_classes)
        Float32 0/1 activity.
    """
    classes = list(np.asarray(classes).tolist())
    column = {c: k for k, c in enumerate(classes)}
    Y = np.zeros((len(events), n_frames, len(classes)), dtype=np.float32)
    for i, clip in enumerate(events):
        for onset, offset, label in clip:
            start = min(int(round(onset * frame_rate)), n_frames - 1)
            stop = min(max(int(round(offset * frame_rate)), start + 1), n_frames)
            Y[i, start:stop, column[plain_label(label)]] = 1
    return Y


def frames_to_events(proba, *, frame_rate, classes, threshold=0.5, median_filter=0.0):
    """Decode frame probabilities into per-clip event lists.

    Each class's probabilities are thresholded, then smoothed by a median filter over time
    (a majority vote over ``median_filter`` seconds, which removes short gaps and blips);
    every run of active frames from ``s`` to ``e`` (exclusive) becomes the event
    ``(s / frame_rate, e / frame_rate, label)``.

    Parameters
    ----------
    proba : array-like of shape (n_clips, n_frames, n_classes)
        Frame probabilities (or 0/1 activity).
    frame_rate : float
        Frames per second.
    classes : array-like of shape (n_classes,)
        Label of each column.
    threshold : float or array-like of shape (n_classes,), default=0.5
        A frame is active where the probability is above it (one threshold per class for
        an array).
    median_filter : float, default=0.0
        Median filter length in seconds (rounded to an odd number of frames); 0 is off.

    Returns
    -------
    events : list of list of (float, float, label)
        Per clip, sorted by onset, then label column.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn.detection import frames_to_events
    >>> p = np.array([[0.1, 0.9, 0.8, 0.2, 0.7]])[:, :, None]
    >>> frames_to_events(p, frame_rate=10, classes=["dog"])
    [[(0.1, 0.3, 'dog'), (0.4, 0.5, 'dog')]]
    """
    proba = np.asarray(proba)
    if proba.ndim != 3:
        raise ValueError(f"proba must be 3-D (n_clips, n_frames, n_classes); got {proba.shape}.")
    classes = list(np.asarray(classes).tolist())
    active = proba > threshold
    width = int(round(median_filter * frame_rate))
    if width > 1:
        width += 1 - width % 2  # odd, so the filter is centred
        # Frames outside the clip count as inactive, so a blip at either edge is voted away as
        # one in the middle is; an event touching an edge keeps its edge frames when it lasts
        # at least half the filter.
        active = _median_filter(active.astype(np.uint8), size=(1, width, 1), mode="constant",
                                cval=0) > 0
    padded = np.pad(active, ((0, 0), (1, 1), (0, 0))).astype(np.int8)
    change = np.diff(padded, axis=1)  # +1 at run starts, -1 one past run ends
    out = []
    for clip in change:
        events = []
        for k, label in enumerate(classes):
            starts = np.flatnonzero(clip[:, k] == 1)
            stops = np.flatnonzero(clip[:, k] == -1)
            events += [(s / frame_rate, e / frame_rate, k, label) for s, e in zip(starts, stops)]
        events.sort(key=lambda ev: ev[:3])
        out.append([(float(on), float(off), label) for on, off, _, label in events])
    return out
