"""Checks of the event detector's targets that say what the user passed and how to write it:
a string or an event written flat where per-clip event lists are expected, and targets
without a single active frame, on which the detector would learn only to predict silence."""

from numbers import Real

import numpy as np

from .events import is_frame_matrix

EXPECTED = ("y must be a list with one list of (onset, offset, label) events per clip (or a "
            "0/1 frame matrix of shape (n_clips, n_frames, n_classes))")


def _is_time(value):
    return isinstance(value, (Real, np.number)) and not isinstance(value, (bool, np.bool_))


def _is_flat_event(item):
    """Whether ``item`` reads as one (onset, offset, label) event written without its own
    brackets: exactly two numbers then a string (a clip's labels without times share one
    kind, so a clip written so cannot be weak labels)."""
    if not isinstance(item, (list, tuple)) or len(item) != 3:
        return False
    onset, offset, label = item
    return _is_time(onset) and _is_time(offset) and isinstance(label, (str, bytes))


def _event(item):
    onset, offset, label = item
    return (onset.item() if isinstance(onset, np.generic) else onset,
            offset.item() if isinstance(offset, np.generic) else offset, label)


def check_target_layout(y):
    """A ValueError for ``y`` that is a string, one event written flat, or a list whose clips
    are events written flat; other ``y`` are left to the detailed checks."""
    if isinstance(y, (str, bytes)):
        raise ValueError(
            f"{EXPECTED}; got the string {y!r}. For one clip with a {y!r} event from 0.5 s to "
            f"1.5 s: y=[[(0.5, 1.5, {y!r})]]; for a clip label without times (a weak label): "
            f"y=[[{y!r}]].")
    if _is_flat_event(y):
        raise ValueError(f"{EXPECTED}; got a flat event {y!r}: wrap it as [[{_event(y)!r}]] "
                         "(one clip with one event).")
    if not isinstance(y, (list, tuple)):
        return
    flat = [i for i, clip in enumerate(y) if _is_flat_event(clip)]
    if not flat:
        return
    i = flat[0]
    message = (f"{EXPECTED}; y[{i}] is {y[i]!r}, one event written flat, not a list of "
               f"events: write it as [{_event(y[i])!r}]")
    if len(flat) == len(y) > 1:
        events = ", ".join(repr(_event(clip)) for clip in y[:2])
        message += (f", or, if these {len(y)} events all belong to one clip, wrap the whole "
                    f"list: y=[[{events}{', ...' if len(y) > 2 else ''}]]")
    raise ValueError(message + ".")


def check_some_active(Y, y):
    """A ValueError when the frame targets ``Y`` (before the strong-label mask) hold no active
    frame in any clip: the detector would train on nothing but silence."""
    if np.any(Y):
        return
    if is_frame_matrix(y):
        what = f"y is a frame matrix of shape {y.shape} without a single 1"
    elif isinstance(y, np.ndarray) and y.ndim == 2:
        what = f"y is a clip-level 0/1 indicator of shape {y.shape} without a single 1"
    else:
        what = "y holds no events at all (every clip's list is empty)"
    raise ValueError(
        f"{what}: no clip has an active frame of any class, so the detector would learn only "
        "to predict no event. Train on clips with events (a 1 where a class is active, or "
        "(onset, offset, label) events); if y was built from event times, check them and "
        "frame_rate. In partial_fit only the first call needs events; later chunks may hold "
        "background only.")
