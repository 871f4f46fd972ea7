"""The detector's targets: errors that name what was passed and how to write it, and no
training on targets without a single active frame."""

import numpy as np
import pytest

from sk_crnn import CRNNEventDetector
from sk_crnn._detection_targets import check_target_layout

TINY = dict(max_epochs=1, batch_size=8, module__conv_channels=(4,), module__rnn_hidden=4,
            random_state=0, frame_rate=10)


def _X(n_clips=3):
    return np.random.RandomState(0).randn(n_clips, 16, 20).astype("float32")  # 2 s each


@pytest.mark.parametrize("y, params, match", [
    (np.zeros((3, 20, 2)), {},
     r"y is a frame matrix of shape \(3, 20, 2\) without a single 1: no clip has an active "
     r"frame of any class, so the detector would learn only to predict no event"),
    (np.zeros((3, 2), dtype=int), {},
     r"clip-level 0/1 indicator of shape \(3, 2\) without a single 1"),
    ([[], [], []], {"classes": ["dog", "cat"]},
     r"y holds no events at all \(every clip's list is empty\): no clip has an active frame"),
])
def test_fit_refuses_targets_without_an_active_frame(y, params, match):
    with pytest.raises(ValueError, match=match):
        CRNNEventDetector(**params, **TINY).fit(_X(), y)


def test_partial_fit_needs_events_in_the_first_chunk_only():
    det = CRNNEventDetector(**TINY)
    with pytest.raises(ValueError, match="only the first call needs events"):
        det.partial_fit(_X(), [[], [], []], classes=["dog"])
    det.partial_fit(_X(), [[(0.5, 1.5, "dog")], [], []], classes=["dog"])
    det.partial_fit(_X(), [[], [], []])  # a chunk of background clips is fine later on
    det.partial_fit(_X(), np.zeros((3, 20, 1)))
    assert det.predict_proba(_X()).shape == (3, 20, 1)
    # y as a string at score time: named, not "inconsistent numbers of samples"
    with pytest.raises(ValueError, match="got the string 'dog'"):
        det.score(_X(2), "dog")
    with pytest.raises(ValueError, match=r"got a flat event \[0.5, 1.5, 'dog'\]"):
        det.score(_X(1), [0.5, 1.5, "dog"])


@pytest.mark.parametrize("y, n_clips, match", [
    ("dog", 2,
     r"y must be a list with one list of \(onset, offset, label\) events per clip .*got the "
     r"string 'dog'\. For one clip with a 'dog' event from 0\.5 s to 1\.5 s: "
     r"y=\[\[\(0\.5, 1\.5, 'dog'\)\]\]; for a clip label without times \(a weak label\): "
     r"y=\[\['dog'\]\]"),
    ([0.5, 1.5, "dog"], 1,
     r"got a flat event \[0\.5, 1\.5, 'dog'\]: wrap it as \[\[\(0\.5, 1\.5, 'dog'\)\]\] \(one "
     r"clip with one event\)"),
    ([[0.5, 1.5, "dog"]], 1,
     r"y\[0\] is \[0\.5, 1\.5, 'dog'\], one event written flat, not a list of events: write "
     r"it as \[\(0\.5, 1\.5, 'dog'\)\]\.$"),
    ([[], [0.5, 1.5, "dog"], []], 3, r"y\[1\] is \[0\.5, 1\.5, 'dog'\], one event written"),
    ([(0.5, 1.5, "dog"), (np.float64(2.0), 3.0, "cat")], 1,
     r"if these 2 events all belong to one clip, wrap the whole list: "
     r"y=\[\[\(0\.5, 1\.5, 'dog'\), \(2\.0, 3\.0, 'cat'\)\]\]"),
])
def test_strings_and_flat_events_are_named(y, n_clips, match):
    # before: "inconsistent numbers of samples" (a string of 3 characters, a flat event of 3
    # items) or "Event labels mix number and string" (a flat event read as weak labels)
    with pytest.raises(ValueError, match=match):
        CRNNEventDetector(**TINY).fit(_X(n_clips), y)


def test_weak_labels_and_event_lists_are_not_taken_for_flat_events():
    for y in ([[1, 2, 3], [2]], [["dog", "cat", "bird"]], [[(0.5, 1.5, "dog")]],
              [[(0.5, 1.5, "dog"), (1.0, 2.0, "cat"), (1.5, 1.9, "dog")]], np.zeros((2, 5, 1)),
              [["dog", 1.0, 2.0]]):
        assert check_target_layout(y) is None
