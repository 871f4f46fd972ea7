"""sk_crnn.events: checking event lists, their labels, and the conversions between event lists
and frame matrices (the detector's targets and its decoded output)."""

import numpy as np
import pytest

from sk_crnn.events import (
    _label_kind,
    check_event_lists,
    event_classes,
    events_to_frames,
    frames_to_events,
    is_frame_matrix,
    plain_label,
)


# -- is_frame_matrix and labels -----------------------------------------------------------------
@pytest.mark.parametrize("y, expected", [
    (np.zeros((2, 5, 3), dtype=np.float32), True),
    (np.zeros((2, 5, 3), dtype=bool), True),
    (np.zeros((2, 5, 3), dtype=np.int8), True),
    (np.zeros((2, 5)), False),  # one class per frame, no class axis
    (np.zeros((1, 2, 3, 4)), False),
    (np.empty((2, 5, 3), dtype=object), False),
    (np.zeros((2, 5, 3)).tolist(), False),  # a nested list is event lists, not frames
    ([[(0.0, 1.0, "a")]], False),
])
def test_is_frame_matrix(y, expected):
    assert is_frame_matrix(y) is expected


def test_plain_label_turns_numpy_labels_into_python_values():
    assert plain_label(np.int64(3)) == 3 and type(plain_label(np.int64(3))) is int
    assert type(plain_label(np.str_("dog"))) is str
    assert type(plain_label(np.bool_(True))) is bool
    assert plain_label(np.array([1, 0, 1])) == [1, 0, 1]  # a multi-label row
    for label in ("dog", 7, 2.5, None, ("a", "b")):
        assert plain_label(label) is label


@pytest.mark.parametrize("label, kind", [
    ("dog", "string"), (b"dog", "bytes"), (True, "boolean"), (False, "boolean"),
    (3, "number"), (2.5, "number"),
])
def test_label_kind(label, kind):
    assert _label_kind(label) == kind


def test_event_classes_are_sorted_and_plain():
    events = [[(0, 1, "dog"), (0.5, 2, "cat")], [], [(1, 2, np.str_("bird")), (2, 3, "dog")]]
    classes = event_classes(events)
    assert classes.tolist() == ["bird", "cat", "dog"]
    assert event_classes([[(0, 1, np.int64(3)), (0, 1, 1)]]).tolist() == [1, 3]


@pytest.mark.parametrize("events, match", [
    ([[], []], "y holds no events at all"),
    ([], "y holds no events at all"),
    ([[(0, 1, "a"), (0, 1, 2)]], r"Event labels mix number and string \(2, 'a'\)"),
    # True == 1 in a set, so booleans and numbers would merge silently
    ([[(0, 1, True)], [(0, 1, 1)]], r"mix boolean and number \(True, 1\)"),
    ([[(0, 1, b"a"), (0, 1, "a")]], "mix bytes and string"),
])
def test_event_classes_refuses_no_events_and_mixed_kinds(events, match):
    with pytest.raises(ValueError, match=match):
        event_classes(events)


# -- check_event_lists --------------------------------------------------------------------------
def test_check_event_lists_returns_float_times_and_keeps_labels():
    y = [[(0, 1, "a"), [np.float32(0.5), np.int64(2), np.str_("b")]], (), [(1.5, 2.0, 3)]]
    out = check_event_lists(y)
    assert out == [[(0.0, 1.0, "a"), (0.5, 2.0, "b")], [], [(1.5, 2.0, 3)]]
    assert all(type(t) is float for clip in out for ev in clip for t in ev[:2])
    assert all(type(ev) is tuple for clip in out for ev in clip)
    assert isinstance(out[0][1][2], np.str_)  # the label as given; classes compare plainly
    assert check_event_lists(np.array([[(0, 1, "a")], []], dtype=object)) == [
        [(0.0, 1.0, "a")], []]


@pytest.mark.parametrize("y, match", [
    (np.zeros((2, 5)), r"got an array of shape \(2, 5\) and dtype float64"),
    ("dog", "y must be a list of event lists, one per clip; got str"),
    (5, "got int"),
    ([[(0, 1, "a")], 5], r"y\[1\] must be a list of \(onset, offset, label\) events; got 5"),
    ([["dog"]], r"Event 'dog' of clip 0 is not an \(onset_seconds, offset_seconds, label\)"),
    ([[(0, 1)]], r"Event \(0, 1\) of clip 0 is not an"),
    ([[("start", 1, "a")]], "is not an"),
    ([[], [(-0.5, 1, "a")]], r"Event \(-0.5, 1, 'a'\) of clip 1 has a negative or non-finite"),
    ([[(0, float("nan"), "a")]], "negative or non-finite"),
    ([[(0, float("inf"), "a")]], "negative or non-finite"),
    ([[(1, 1, "a")]], "has its onset at or after its offset"),
    ([[(2, 1, "a")]], "onset < offset"),
])
def test_check_event_lists_names_the_clip_and_event(y, match):
    with pytest.raises(ValueError, match=match):
        check_event_lists(y)


def test_check_event_lists_uses_the_given_name():
    with pytest.raises(ValueError, match=r"Event \(1, 0, 'a'\) of y_true\[0\] has its onset"):
        check_event_lists([[(1, 0, "a")]], name="y_true")
    with pytest.raises(ValueError, match=r"y_pred\[0\] must be a list"):
        check_event_lists(["a"], name="y_pred")


def test_check_event_lists_checks_the_clip_end_with_one_frame_of_slack():
    # 10 frames at 10 frames/s: the clip lasts 1 s; an offset up to one frame later is rounding
    ok = check_event_lists([[(0.5, 1.1, "a")]], n_frames=10, frame_rate=10)
    assert ok == [[(0.5, 1.1, "a")]]
    with pytest.raises(ValueError, match=r"ends past the clip end: the features have 10 frames, "
                                         r"1.000 s at frame_rate=10 frames/s.*sr / hop_length"):
        check_event_lists([[(0.5, 1.2, "a")]], n_frames=10, frame_rate=10)
    # without both sizes there is no end to check
    assert check_event_lists([[(0.5, 99.0, "a")]], n_frames=10) == [[(0.5, 99.0, "a")]]


def test_check_event_lists_checks_labels_against_the_classes():
    classes = np.array(["cat", "dog"])
    assert check_event_lists([[(0, 1, np.str_("dog"))]], classes=classes) == [
        [(0.0, 1.0, "dog")]]
    with pytest.raises(ValueError, match=r"has label 'bird', which is not one of the classes "
                                         r"\['cat', 'dog'\]"):
        check_event_lists([[(0, 1, "dog")], [(0, 1, "bird")]], classes=classes)
    with pytest.raises(ValueError, match="not one of the classes"):
        check_event_lists([[(0, 1, "1")]], classes=[1, 2])  # no conversion between kinds


# -- events_to_frames ---------------------------------------------------------------------------
def test_events_to_frames_marks_the_rounded_frames():
    events = [[(0.04, 0.26, "a"), (0.2, 0.5, "b")], [(0.56, 0.64, "b")], []]
    Y = events_to_frames(events, n_frames=8, frame_rate=10, classes=["a", "b"])
    assert Y.dtype == np.float32 and Y.shape == (3, 8, 2)
    assert Y[0, :, 0].tolist() == [1, 1, 1, 0, 0, 0, 0, 0]  # round(0.4)=0 .. round(2.6)=3
    assert Y[0, :, 1].tolist() == [0, 0, 1, 1, 1, 0, 0, 0]
    assert Y[1, :, 1].tolist() == [0, 0, 0, 0, 0, 0, 1, 0]  # round(5.6)=6 .. round(6.4)=6: 1 frame
    assert Y[1, :, 0].sum() == 0 and Y[2].sum() == 0


def test_events_to_frames_edges_overlaps_and_label_types():
    events = [[(0.0, 0.01, 7), (0.75, 5.0, 7), (9.0, 9.5, 3)], [(0.1, 0.4, np.int64(3)),
                                                               (0.2, 0.6, 3)]]
    Y = events_to_frames(events, n_frames=10, frame_rate=10, classes=np.array([3, 7]))
    assert Y[0, :, 1].tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 1, 1]  # short: 1 frame; late: cut
    assert Y[0, :, 0].tolist() == [0] * 9 + [1]  # starting past the end: the last frame
    assert Y[1, :, 0].tolist() == [0, 1, 1, 1, 1, 1, 0, 0, 0, 0]  # overlapping events: union
    assert set(np.unique(Y).tolist()) == {0.0, 1.0}


def test_events_to_frames_of_no_clips_and_unknown_labels():
    assert events_to_frames([], n_frames=4, frame_rate=10, classes=["a"]).shape == (0, 4, 1)
    with pytest.raises(KeyError):  # callers check labels first (check_event_lists)
        events_to_frames([[(0, 0.1, "b")]], n_frames=4, frame_rate=10, classes=["a"])


# -- frames_to_events (moved from test_detection.py) --------------------------------------------
def test_decoding_threshold_overlaps_and_edges():
    p = np.zeros((1, 10, 2))
    p[0, :3, 0] = 0.9  # touches the clip start
    p[0, 2:10, 1] = 0.6  # overlaps class 0 and touches the clip end
    p[0, 6, 0] = 0.55
    events = frames_to_events(p, frame_rate=10, classes=["a", "b"])
    assert events == [[(0.0, 0.3, "a"), (0.2, 1.0, "b"), (0.6, 0.7, "a")]]
    events = frames_to_events(p, frame_rate=10, classes=["a", "b"], threshold=0.7)
    assert events == [[(0.0, 0.3, "a")]]


def test_decoding_median_filter_removes_blips_and_fills_gaps():
    p = np.zeros((1, 20, 1))
    p[0, 2:12, 0] = 1
    p[0, 6, 0] = 0  # a one-frame gap
    p[0, 16, 0] = 1  # a one-frame blip
    assert len(frames_to_events(p, frame_rate=10, classes=[7])[0]) == 3
    assert frames_to_events(p, frame_rate=10, classes=[7], median_filter=0.3) == [
        [(0.2, 1.2, 7)]
    ]


def test_decoding_median_filter_at_the_clip_edges():
    blips = np.zeros((1, 10, 1))
    blips[0, [0, 5, 9], 0] = 1  # one-frame blips at the start, the middle and the end
    assert frames_to_events(blips, frame_rate=10, classes=["a"], median_filter=0.3) == [[]]
    edges = np.zeros((1, 10, 1))
    edges[0, :3, 0] = edges[0, 7:, 0] = 1  # events touching the edges, 3 frames each
    assert frames_to_events(edges, frame_rate=10, classes=["a"], median_filter=0.5) == [
        [(0.0, 0.3, "a"), (0.7, 1.0, "a")]
    ]


def test_events_to_frames_round_trip():
    events = [[(0.0, 0.3, "a"), (0.2, 1.0, "b")], []]
    Y = events_to_frames(events, n_frames=10, frame_rate=10, classes=["a", "b"])
    assert Y.shape == (2, 10, 2) and Y[1].sum() == 0
    assert frames_to_events(Y, frame_rate=10, classes=["a", "b"]) == [events[0], []]


# -- frames_to_events ---------------------------------------------------------------------------
def test_frames_to_events_inverts_events_to_frames_on_random_frames():
    Y = (np.random.default_rng(0).random((5, 40, 3)) > 0.6).astype(np.float32)
    classes = ["x", "y", "z"]
    events = frames_to_events(Y, frame_rate=12.5, classes=classes)
    assert all(type(on) is float and type(off) is float for clip in events
               for on, off, _ in clip)
    assert all(clip == sorted(clip, key=lambda ev: (ev[0], ev[1], classes.index(ev[2])))
               for clip in events)
    assert np.array_equal(
        events_to_frames(events, n_frames=40, frame_rate=12.5, classes=classes), Y)


def test_frames_to_events_threshold_is_strict_and_per_class():
    p = np.array([[[0.5, 0.5], [0.6, 0.6], [0.8, 0.8]]])  # 3 frames, 2 classes
    assert frames_to_events(p, frame_rate=1, classes=["a", "b"]) == [
        [(1.0, 3.0, "a"), (1.0, 3.0, "b")]]  # 0.5 is not above 0.5
    assert frames_to_events(p, frame_rate=1, classes=["a", "b"], threshold=[0.4, 0.7]) == [
        [(0.0, 3.0, "a"), (2.0, 3.0, "b")]]


def test_frames_to_events_median_filter_length_in_frames():
    p = np.zeros((1, 12, 1))
    p[0, 2:8, 0] = 1
    p[0, 4, 0] = 0  # a one-frame gap
    gap = [[(0.2, 0.4, "a"), (0.5, 0.8, "a")]]
    assert frames_to_events(p, frame_rate=10, classes=["a"], median_filter=0.1) == gap  # 1 frame
    filled = [[(0.2, 0.8, "a")]]
    # 2 frames is made odd (3), so 0.2 s and 0.3 s filter alike
    assert frames_to_events(p, frame_rate=10, classes=["a"], median_filter=0.2) == filled
    assert frames_to_events(p, frame_rate=10, classes=["a"], median_filter=0.3) == filled


def test_frames_to_events_of_empty_and_bad_input():
    assert frames_to_events(np.zeros((0, 5, 2)), frame_rate=10, classes=["a", "b"]) == []
    assert frames_to_events(np.zeros((2, 0, 1)), frame_rate=10, classes=["a"]) == [[], []]
    assert frames_to_events(np.ones((1, 3, 1)).tolist(), frame_rate=10, classes=["a"]) == [
        [(0.0, 0.3, "a")]]  # array-like input
    with pytest.raises(ValueError, match=r"proba must be 3-D \(n_clips, n_frames, n_classes\); "
                                         r"got \(10, 2\)"):
        frames_to_events(np.zeros((10, 2)), frame_rate=10, classes=["a", "b"])
