"""Sound event detection: the detector, metrics, plots and the CLI (event lists and their
decoding: test_events.py)."""

import json
import subprocess
import sys

import joblib
import numpy as np
import pytest
import soundfile as sf
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline, make_pipeline

import sk_crnn
from sk_crnn import CRNNEventDetector, MelSpectrogramTransformer
from sk_crnn.datasets import make_sound_scenes
from sk_crnn.events import events_to_frames, frames_to_events
from sk_crnn.io import AudioLoader
from sk_crnn.metrics import event_f1, segment_f1
from sk_crnn.modules import FrameCRNN

SR, HOP = 8000, 128
FRAME_RATE = SR / HOP  # 62.5 frames per second
TINY = dict(max_epochs=2, batch_size=8, module__conv_channels=(4,), module__rnn_hidden=8,
            random_state=0)


def mel():
    return MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=HOP, n_mels=16,
                                     normalize="band")


@pytest.fixture(scope="module")
def scenes():
    return make_sound_scenes(12, duration=2.0, sr=SR, n_classes=3, random_state=0)


@pytest.fixture(scope="module")
def features(scenes):
    return mel().fit_transform(scenes[0])


# -- data -------------------------------------------------------------------------------------
def test_make_sound_scenes_events_are_valid():
    X, events = make_sound_scenes(20, duration=2.0, sr=SR, n_classes=5, max_polyphony=2,
                                  random_state=1)
    assert X.shape == (20, 2 * SR) and X.dtype == np.float32 and np.abs(X).max() <= 1
    labels = {label for scene in events for _, _, label in scene}
    assert labels <= {"tone", "chirp", "noise", "click", "harmonic"}
    grid = np.linspace(0, 2, 401)
    for scene in events:
        assert scene and all(0 <= on < off <= 2.0 for on, off, _ in scene)
        overlap = sum((grid >= on) & (grid < off) for on, off, _ in scene)
        assert overlap.max() <= 2
    X2, events2 = make_sound_scenes(20, duration=2.0, sr=SR, n_classes=5, random_state=1)
    assert np.array_equal(X, X2) and events == events2


# -- the frame-wise module ----------------------------------------------------------------------
@pytest.mark.parametrize("time_pool", [1, 2, 3])
def test_frame_crnn_keeps_the_number_of_frames(time_pool):
    net = FrameCRNN(n_mels=16, n_outputs=3, conv_channels=(4, 4), time_pool=time_pool,
                    rnn_hidden=4)
    assert net(torch.zeros(2, 16, 31)).shape == (2, 31, 3)


def test_frame_crnn_rejects_pooling():
    with pytest.raises(ValueError, match="pooling"):
        FrameCRNN(n_mels=16, n_outputs=2, pooling="attention")


# -- metrics (sed_eval) -----------------------------------------------------------------------
def test_event_f1_hand_checked():
    y_true = [[(0.0, 1.0, "dog"), (2.0, 3.0, "cat")], [(0.0, 5.0, "dog")]]
    # dog 1: onset 0.1 s late (within the 200 ms collar) -> hit; cat: onset 0.5 s late -> miss
    # (a false positive and a false negative); long dog: offset 0.9 s late, within 20 % of 5 s.
    y_pred = [[(0.1, 1.1, "dog"), (2.5, 3.0, "cat")], [(0.0, 5.9, "dog")]]
    # TP = 2, FP = 1, FN = 1 -> precision = recall = F1 = 2 / 3
    assert event_f1(y_true, y_pred) == pytest.approx(2 / 3)
    y_pred[1] = [(0.0, 6.1, "dog")]  # 1.1 s late: outside the offset collar
    assert event_f1(y_true, y_pred) == pytest.approx(1 / 3)  # TP 1, FP 2, FN 2: P = R = 1/3
    assert event_f1(y_true, y_pred, evaluate_offset=False) == pytest.approx(2 / 3)
    assert event_f1(y_true, y_true) == 1.0
    assert event_f1([[], []], [[], []]) == 0.0


def test_segment_f1_hand_checked():
    y_true = [[(0.0, 1.0, "dog"), (2.0, 3.0, "cat")]]
    y_pred = [[(0.1, 1.1, "dog")]]  # dog in segments 0 and 1 (1 right, 1 wrong); cat missed
    assert segment_f1(y_true, y_pred) == pytest.approx(0.5)
    assert segment_f1(y_true, y_true, average="macro") == 1.0


# -- the estimator ----------------------------------------------------------------------------
def test_fit_on_event_lists(features, scenes):
    events = scenes[1]
    det = CRNNEventDetector(frame_rate=FRAME_RATE, **TINY).fit(features, events)
    assert det.classes_.tolist() == ["chirp", "noise", "tone"]
    proba = det.predict_proba(features)
    assert proba.shape == (12, features.shape[-1], 3)
    assert ((proba >= 0) & (proba <= 1)).all()
    pred = det.predict(features)
    assert len(pred) == 12
    assert all(lab in det.classes_ for clip in pred for _, _, lab in clip)
    assert 0 <= det.score(features, events) <= 1


def test_fit_on_frame_matrix_with_int_classes(features, scenes):
    Y = events_to_frames(scenes[1], n_frames=features.shape[-1], frame_rate=FRAME_RATE,
                         classes=["chirp", "noise", "tone"])
    det = CRNNEventDetector(classes=[10, 20, 30], **TINY).fit(features, Y.astype(int))
    assert det.classes_.tolist() == [10, 20, 30]
    assert det.predict_proba(features).shape == Y.shape
    with pytest.raises(ValueError, match="frame_rate"):
        det.predict(features)
    det.set_params(frame_rate=FRAME_RATE, threshold=0.0, median_filter=0)
    pred = det.predict(features)  # threshold 0: every class active everywhere
    assert pred[0] == [(0.0, features.shape[-1] / FRAME_RATE, c) for c in (10, 20, 30)]
    assert 0 <= det.score(features, Y) <= 1


def test_time_pooled_network(features, scenes):
    det = CRNNEventDetector(frame_rate=FRAME_RATE, module__time_pool=2, **TINY)
    det.fit(features, scenes[1])
    assert det.predict_proba(features[:2]).shape == (2, features.shape[-1], 3)


def test_pipeline_grid_search_and_joblib(scenes, tmp_path):
    X, events = scenes
    pipe = make_pipeline(mel(), CRNNEventDetector(frame_rate=FRAME_RATE, **TINY))
    grid = {"crnneventdetector__threshold": [0.3, 0.5],
            "crnneventdetector__median_filter": [0.0, 0.1]}
    y_obj = np.empty(len(events), dtype=object)
    y_obj[:] = events
    for y in (events, y_obj):
        search = GridSearchCV(pipe, grid, cv=KFold(2)).fit(X, y)
        assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    model = search.best_estimator_
    joblib.dump(model, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.predict(X) == model.predict(X)
    assert clone(model.steps[-1][1]).get_params()["threshold"] == model.steps[-1][1].threshold


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "events, params, match",
    [
        ([[(0.1, 0.5, "a")]] * 3, {}, "needs frame_rate"),
        ([[(0.1, 0.5, "a")], [(0.5, 0.2, "a")], []], {"frame_rate": 10}, "clip 1.*onset"),
        ([[(0.1, 0.5, "a")], [], [(1.0, 9.0, "a")]], {"frame_rate": 10},
         "clip 2 ends past the clip end.*frame_rate may be wrong"),
        ([[(0.1, 0.5, "a")], [(0.2, "b")], []], {"frame_rate": 10}, "clip 1 is not"),
        ([[], [], []], {"frame_rate": 10}, "no events"),
        ([[(0.1, 0.5, 1)], [(0.2, 0.6, "b")], []], {"frame_rate": 10},
         "labels mix number and string"),
        ([[(0.1, 0.5, 1)], [(0.2, 0.6, True)], []], {"frame_rate": 10},
         "labels mix boolean and number"),
        ([[(0.1, 0.5, "a")]] * 2, {"frame_rate": 10}, "inconsistent numbers"),
        (np.zeros((3, 7, 2)), {}, "frame matrix of shape"),
        ([[(0.1, 0.5, "a")]] * 3, {"frame_rate": 10, "threshold": 1.5}, "threshold"),
        ([[(0.1, 0.5, "a")]] * 3, {"frame_rate": 0}, "frame_rate must be"),
    ],
)
def test_bad_targets(events, params, match):
    X = np.random.RandomState(0).randn(3, 16, 20).astype("float32")  # 2 s at 10 frames/s
    with pytest.raises(ValueError, match=match):
        CRNNEventDetector(**params, **TINY).fit(X, events)


def test_frame_rate_too_low_warns(features, scenes):
    # Half the true frame rate squeezes every event into the first half of the frames.
    with pytest.warns(UserWarning, match="frame_rate may be too low"):
        CRNNEventDetector(frame_rate=FRAME_RATE / 2, **TINY).fit(features, scenes[1])


def test_unknown_label_at_score_time(features, scenes):
    det = CRNNEventDetector(frame_rate=FRAME_RATE, **TINY).fit(features, scenes[1])
    bad = [list(clip) for clip in scenes[1]]
    bad[4] = [(0.1, 0.4, "siren")]
    with pytest.raises(ValueError, match="clip 4 has label 'siren'"):
        det.score(features, bad)


# -- plotting ---------------------------------------------------------------------------------
def test_plot_events_renders(features, scenes):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sk_crnn.plotting import plot_events

    ref = scenes[1][0]
    ax = plot_events(features[0], ref[:1], ref, sr=SR, hop_length=HOP)
    ax.figure.canvas.draw()
    lanes = ax.figure.axes[-1]
    assert [t.get_text() for t in lanes.get_yticklabels()] == sorted({e[2] for e in ref})
    assert len(lanes.collections) >= 2
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="onset < offset"):
        plot_events(features[0], [(0.5, 0.1, "x")], sr=SR, hop_length=HOP)
    plt.close("all")


# -- command line -----------------------------------------------------------------------------
@pytest.mark.slow  # two CLI subprocesses (about 13 s); test_windows covers streaming in the CLI
def test_cli_predict_with_a_detector(scenes, tmp_path):
    X, events = scenes
    fitted = make_pipeline(mel(), CRNNEventDetector(frame_rate=FRAME_RATE, threshold=0.0,
                                                     **TINY)).fit(X, events)
    model = Pipeline([("audioloader", AudioLoader(sr=SR)), *fitted.steps])
    sk_crnn.save(model, tmp_path / "model.skcrnn")
    sf.write(tmp_path / "scene.wav", X[0], SR)
    proc = subprocess.run(
        [sys.executable, "-m", "sk_crnn", "predict", str(tmp_path / "model.skcrnn"),
         str(tmp_path / "scene.wav"), "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {r["label"] for r in rows} == {"chirp", "noise", "tone"}  # threshold 0: all active
    assert all(set(r) == {"path", "onset", "offset", "label"} for r in rows)
    assert all(r["path"].endswith("scene.wav") and r["onset"] < r["offset"] for r in rows)

    # Files of other lengths than the 2 s training scenes: a 1 s file gets no events past its
    # end, a 3 s file events over all of it (windows of 2 s, stitched), without a warning.
    sf.write(tmp_path / "short.wav", X[1][: SR], SR)
    sf.write(tmp_path / "long.wav", np.concatenate([X[1], X[2][: SR]]), SR)
    proc = subprocess.run(
        [sys.executable, "-m", "sk_crnn", "predict", str(tmp_path / "model.skcrnn"),
         str(tmp_path / "short.wav"), str(tmp_path / "long.wav"), "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    short = [r for r in rows if r["path"].endswith("short.wav")]
    assert short and all(r["offset"] <= 1.0 for r in short)
    long = [r for r in rows if r["path"].endswith("long.wav")]
    # threshold 0: every class active over the whole file, as one event each (not cut at
    # the window edges)
    assert sorted(r["label"] for r in long) == ["chirp", "noise", "tone"]
    assert all(r["onset"] == 0 and r["offset"] == pytest.approx(3.0, abs=0.02) for r in long)
    assert "warning" not in proc.stderr


def test_pos_weight_sqrt_balanced_and_explicit():
    X = np.random.RandomState(0).randn(4, 8, 20).astype("float32")
    y = [[(0.0, 0.5, "a")], [(1.0, 1.5, "b")], [], [(0.2, 0.4, "a")]]
    small = dict(frame_rate=10, max_epochs=1, module__conv_channels=(4,), module__rnn_hidden=4,
                 random_state=0)
    Y = events_to_frames(y, n_frames=20, frame_rate=10, classes=["a", "b"])
    active = Y.sum(axis=(0, 1))
    ratio = (80 - active) / active  # 10.4 and 15
    det = CRNNEventDetector(**small).fit(X, y)  # "sqrt"
    np.testing.assert_allclose(det.pos_weight_, np.sqrt(ratio))
    np.testing.assert_allclose(det.criterion_.pos_weight.numpy(), np.sqrt(ratio), rtol=1e-6)
    det = CRNNEventDetector(pos_weight="balanced", **small).fit(X, y)
    np.testing.assert_allclose(det.pos_weight_, np.clip(ratio, 1, 100))
    assert CRNNEventDetector(pos_weight=None, **small).fit(X, y).criterion_.pos_weight is None
    assert CRNNEventDetector(pos_weight=3.0, **small).fit(X, y).pos_weight_.tolist() == [3, 3]
    with pytest.raises(ValueError, match="pos_weight must be .*positive"):
        CRNNEventDetector(pos_weight=[1.0, -2.0], **small).fit(X, y)


# -- training windows ---------------------------------------------------------------------------
def test_window_dataset_cuts_every_clip_into_equal_windows():
    from sk_crnn._training import window_arrays

    def window_dataset(net, dataset, n):
        windows = window_arrays(dataset, n)
        return dataset if windows is None else net.get_dataset(*windows)

    net = CRNNEventDetector()
    X = np.arange(2 * 3 * 10, dtype=np.float32).reshape(2, 3, 10)
    y = np.arange(2 * 10 * 2, dtype=np.float32).reshape(2, 10, 2)
    windows = window_dataset(net, net.get_dataset(X, y), 3)  # 4 frames from 0, 3 and 6
    assert windows.X.shape == (6, 3, 4) and windows.y.shape == (6, 4, 2)
    for i, (clip, start) in enumerate([(0, 0), (0, 3), (0, 6), (1, 0), (1, 3), (1, 6)]):
        np.testing.assert_array_equal(windows.X[i], X[clip, :, start:start + 4])
        np.testing.assert_array_equal(windows.y[i], y[clip, start:start + 4])
    subset = torch.utils.data.Subset(net.get_dataset(torch.as_tensor(X), torch.as_tensor(y)),
                                     [1])
    cut = window_dataset(net, subset, 2)  # a Subset of tensors: 5 frames from 0 and 5
    assert torch.equal(cut.X, torch.as_tensor(X[1]).unflatten(-1, (2, 5)).transpose(0, 1))
    assert torch.equal(cut.y[1], torch.as_tensor(y[1, 5:]))
    assert window_dataset(net, subset, 1) is subset


def test_detector_trains_on_windows_and_predicts_whole_clips():
    shapes = []

    class Spy(CRNNEventDetector):
        def get_loss(self, y_pred, y_true, X=None, training=False):
            shapes.append((training, tuple(X.shape), tuple(y_true.shape)))
            return super().get_loss(y_pred, y_true, X=X, training=training)

    X = np.random.RandomState(0).randn(10, 8, 40).astype("float32")  # 4 s at 10 frames/s
    y = [[(0.5, 1.5, "a")], [(2.0, 3.9, "b")], []] * 3 + [[(0.1, 0.4, "a")]]
    small = dict(frame_rate=10, max_epochs=1, batch_size=8, module__conv_channels=(4,),
                 module__rnn_hidden=4, random_state=0)
    det = Spy(train_window=1.0, validation_fraction=0.2, **small).fit(X, y)
    train = [s for s in shapes if s[0]]
    assert {s[1][-1] for s in train} == {10} and sum(s[1][0] for s in train) == 8 * 4
    assert all(s[1][-1] == 40 for s in shapes if not s[0])  # validation clips stay whole
    assert det.predict_proba(X).shape == (10, 40, 2) and len(det.predict(X)) == 10
    for params in ({"train_window": None}, {"train_window": 3.0}):  # 1.33 windows: whole
        shapes.clear()
        Spy(**params, **small).fit(X, y)
        assert {s[1][-1] for s in shapes} == {40}
    shapes.clear()  # weak labels: a clip label says nothing about a window, so whole clips
    Spy(train_window=1.0, **small).fit(X, [["a"], ["b"], []] * 3 + [["a", "b"]])
    assert {s[1][-1] for s in shapes} == {40}
    with pytest.raises(ValueError, match="train_window"):
        CRNNEventDetector(train_window=0, **small).fit(X, y)
    with pytest.raises(ValueError, match=r"train_window=1.0 s gives training windows of 10 "
                                         r"frames .* but 13 are needed"):
        CRNNEventDetector(train_window=1.0, time_shift=12, **small).fit(X, y)


# -- augmentation with frame targets, and learning -------------------------------------------
AUGMENT = dict(freq_mask=3, time_mask=8, time_shift=10, mixup=0.3)


def test_detector_takes_the_augmentation_options_inactive_at_predict(features, scenes):
    det = CRNNEventDetector(frame_rate=FRAME_RATE, **AUGMENT, **TINY).fit(features, scenes[1])
    again = CRNNEventDetector(frame_rate=FRAME_RATE, **AUGMENT, **TINY).fit(features, scenes[1])
    plain = CRNNEventDetector(frame_rate=FRAME_RATE, **TINY).fit(features, scenes[1])
    proba = det.predict_proba(features)
    np.testing.assert_array_equal(proba, det.predict_proba(features))  # no augmentation
    np.testing.assert_array_equal(proba, again.predict_proba(features))  # seeded
    assert not np.allclose(proba, plain.predict_proba(features))  # training was augmented
    # Switching the options off after fit changes nothing at predict time.
    det.set_params(freq_mask=0, time_mask=0, time_shift=0, mixup=0.0)
    np.testing.assert_array_equal(proba, det.predict_proba(features))
    with pytest.raises(ValueError, match="time_shift=200 is not smaller than the"):
        CRNNEventDetector(frame_rate=FRAME_RATE, time_shift=200, **TINY).fit(features,
                                                                              scenes[1])


def test_time_shift_and_mixup_move_the_frame_targets_with_the_clips(features, scenes):
    """The targets the loss sees are the frame targets shifted (and mixed) like X."""
    seen = []

    class Spy(CRNNEventDetector):
        def get_loss(self, y_pred, y_true, X=None, training=False):
            if training:
                seen.append((X.detach().clone(), y_true.detach().clone()))
            return super().get_loss(y_pred, y_true, X=X, training=training)

    # A "spectrogram" whose every band holds the frame index, and one event: after a circular
    # shift the active target frame is where X holds the event's original frame index.
    n, n_frames = 8, 40
    X = np.tile(np.arange(n_frames, dtype=np.float32), (n, 16, 1))
    Y = np.zeros((n, n_frames, 1), dtype=np.float32)
    Y[:, 5, 0] = 1
    Spy(time_shift=10, max_epochs=1, batch_size=8, module__conv_channels=(4,),
        module__rnn_hidden=4, random_state=0).fit(X, Y)
    Xb, Yb = seen[0]
    assert not torch.equal(Xb[:, 0], torch.as_tensor(X[:, 0]))  # X was shifted
    active = Yb[:, :, 0].argmax(dim=1)
    assert torch.equal(Xb[torch.arange(n), 0, active], torch.full((n,), 5.0))
    seen.clear()
    Y = np.zeros((n, n_frames, 1), dtype=np.float32)
    Y[np.arange(n), np.arange(n) + 2, 0] = 1  # a different event frame in every clip
    Spy(mixup=0.5, max_epochs=1, batch_size=8, module__conv_channels=(4,), module__rnn_hidden=4,
        random_state=0).fit(X, Y)
    _, Yb = seen[0]
    assert ((Yb > 0) & (Yb < 1)).any()  # frame targets mixed like the clips


def test_detector_learns_where_events_are():
    X, events = make_sound_scenes(48, duration=1.5, sr=SR, n_classes=2, random_state=1)
    pipe = make_pipeline(mel(), CRNNEventDetector(
        frame_rate=FRAME_RATE, max_epochs=10, lr=3e-3, batch_size=8, module__conv_channels=(8,),
        module__rnn_hidden=16, random_state=0))
    pipe.fit(X[:38], events[:38])
    pred, true = pipe.predict(X[38:]), events[38:]
    # Chance level: every class active over every whole clip (0.57 segment F1 at 100 ms,
    # event F1 0); the detector measured 0.77 and 0.43 here.
    always = [[(0.0, 1.5, label) for label in pipe[-1].classes_] for _ in true]
    assert segment_f1(true, pred, time_resolution=0.1) > segment_f1(
        true, always, time_resolution=0.1) + 0.1
    assert event_f1(true, pred) > event_f1(true, always) + 0.25


def test_partial_fit_classes_fixes_the_label_set(features, scenes):
    # The first chunk holds no "tone" event: partial_fit(classes=...) fixes all labels.
    first = [[e for e in clip if e[2] != "tone"] for clip in scenes[1][:6]]
    det = CRNNEventDetector(frame_rate=FRAME_RATE, **TINY)
    det.partial_fit(features[:6], first, classes=["tone", "noise", "chirp"])
    assert det.classes_.tolist() == ["tone", "noise", "chirp"]
    det.partial_fit(features[6:], scenes[1][6:])  # later chunks may have every label
    assert det.predict_proba(features).shape[-1] == 3
    with pytest.raises(ValueError, match="differs from the classes of the first call"):
        det.partial_fit(features[6:], scenes[1][6:], classes=["tone", "noise"])
    with pytest.raises(ValueError, match="differs from the constructor's classes"):
        CRNNEventDetector(frame_rate=FRAME_RATE, classes=["a", "b"], **TINY).partial_fit(
            features, scenes[1], classes=["tone", "noise", "chirp"])


# -- weak labels ------------------------------------------------------------------------------
def lit_bands(n, *, seed=0, n_mels=16, n_frames=40, n_classes=2):
    """Spectrograms where class k lights mel bands 8k..8k+7 for 8-15 frames somewhere (noise
    elsewhere); returns X, the per-clip weak labels and the 0/1 frame truth."""
    rng = np.random.default_rng(seed)
    X = 0.3 * rng.standard_normal((n, n_mels, n_frames)).astype(np.float32)
    truth = np.zeros((n, n_frames, n_classes))
    labels = []
    for i in range(n):
        present = [k for k in range(n_classes) if rng.random() < 0.5]
        for k in present:
            width = int(rng.integers(8, 16))
            start = int(rng.integers(0, n_frames - width))
            X[i, 8 * k:8 * k + 8, start:start + width] += 2.0
            truth[i, start:start + width, k] = 1
        labels.append(["ab"[k] for k in present])
    return X, labels, truth


def test_weak_label_targets_and_the_strong_mask():
    X = np.zeros((3, 16, 10), dtype=np.float32)
    det = CRNNEventDetector(frame_rate=10)
    y = [["dog"], [(0.2, 0.5, "bird")], []]
    Y, fitted = det._check_targets(y, X, reset=True)
    assert fitted["clip_head_"] and fitted["classes_inferred_"].tolist() == ["bird", "dog"]
    assert Y.shape == (3, 10, 4)
    np.testing.assert_array_equal(Y[0, :, :2], [[0, 1]] * 10)  # the clip label in every frame
    np.testing.assert_array_equal(Y[1, :, 0], [0, 0, 1, 1, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(Y[:, 0, 2:], [[0, 0], [1, 1], [1, 1]])  # strong mask
    # a 0/1 indicator of shape (n_clips, n_classes) is weak labels too
    Y, fitted = det._check_targets(np.array([[1, 0], [0, 1], [1, 1]]), X, reset=True)
    assert fitted["clip_head_"] and Y.shape == (3, 10, 4) and not Y[..., 2:].any()
    # strong labels only: no clip head, targets as before
    Y, fitted = det._check_targets([[(0.2, 0.5, "bird")], [], []], X, reset=True)
    assert not fitted["clip_head_"] and Y.shape == (3, 10, 1)


@pytest.mark.parametrize("y, message", [
    ([["dog", (0.1, 0.2, "cat")], []], r"y\[0\] mixes events with times and labels without"),
    ([[], []], "y holds no events at all; a detector needs at least one event"),
    (["dog", "cat"], r"y\[0\] is 'dog'; each clip takes a list"),
    (np.array([[0, 2], [1, 0]]), "clip-level 0/1 indicator of shape \\(n_clips, n_classes\\)"),
])
def test_weak_label_errors(y, message):
    X = np.zeros((2, 16, 10), dtype=np.float32)
    with pytest.raises(ValueError, match=message):
        CRNNEventDetector(frame_rate=10, **TINY).fit(X, y)


def test_weak_labels_train_the_frames_and_predict_timed_events(tmp_path):
    X, labels, truth = lit_bands(96)
    det = CRNNEventDetector(frame_rate=10, max_epochs=25, lr=0.01, batch_size=16,
                            module__conv_channels=(8,), module__rnn_hidden=16,
                            random_state=0).fit(X, labels)
    assert det.clip_head_ and det.module_.attention is not None
    X_test, labels_test, truth_test = lit_bands(32, seed=1)
    proba = det.predict_proba(X_test)
    assert proba.shape == (32, 40, 2)  # frame probabilities, not the attention logits
    from sklearn.metrics import roc_auc_score

    # trained from clip labels only, the frames inside the events score higher than outside
    assert roc_auc_score(truth_test.ravel(), proba.ravel()) > 0.85
    found = det.predict(X_test)
    assert all(0 <= on < off <= 4.0 for clip in found for on, off, _ in clip)
    # strong and weak clips mixed in one fit; partial_fit keeps the head; persistence
    events = frames_to_events(truth[:48], frame_rate=10, classes=["a", "b"])
    mixed = clone(det).set_params(max_epochs=2).fit(X, events + labels[48:])
    assert mixed.clip_head_
    mixed.partial_fit(X[:8], events[:8])
    sk_crnn.save(mixed, tmp_path / "weak.skcrnn")
    loaded = sk_crnn.load(tmp_path / "weak.skcrnn")
    np.testing.assert_allclose(loaded.predict_proba(X_test[:4]), mixed.predict_proba(X_test[:4]),
                               rtol=1e-5, atol=1e-6)
    strong = clone(det).set_params(max_epochs=1).fit(X, events + [[]] * 48)
    with pytest.raises(ValueError, match="the first fit had strong labels only"):
        strong.partial_fit(X[:4], labels[:4])


def test_threshold_auto_tunes_one_threshold_per_class_on_the_validation_split(tmp_path):
    from sk_crnn.metrics import event_f1

    X, _, truth = lit_bands(64, seed=2)
    events = frames_to_events(truth, frame_rate=10, classes=["a", "b"])
    params = dict(frame_rate=10, max_epochs=4, lr=0.01, batch_size=16, median_filter=0.0,
                  module__conv_channels=(8,), module__rnn_hidden=16, random_state=0)
    det = CRNNEventDetector(threshold="auto", validation_fraction=0.25, **params).fit(X, events)
    assert det.thresholds_.shape == (2,)
    assert np.isin(np.round(det.thresholds_, 2), np.round(np.arange(0.05, 0.96, 0.05), 2)).all()
    np.testing.assert_array_equal(det.decision_thresholds(), det.thresholds_)
    # on the validation clips, each class's tuned threshold is at least as good as 0.5
    valid = det.validation_indices_
    proba = det.predict_proba(X[valid])
    for k, label in enumerate(det.classes_):
        ref = [[e for e in clip if e[2] == label] for clip in np.asarray(events, object)[valid]]

        def f1(t, k=k, label=label, ref=ref):
            found = frames_to_events(proba[..., k:k + 1], frame_rate=10, classes=[label],
                                     threshold=t)
            return event_f1(ref, found)

        assert f1(det.thresholds_[k]) >= f1(0.5)
    # predict uses them; a number set after fit replaces them
    found = det.predict(X[:4])
    assert found == frames_to_events(det.predict_proba(X[:4]), frame_rate=10,
                                     classes=det.classes_, threshold=det.thresholds_)
    assert det.set_params(threshold=0.5).decision_thresholds().tolist() == [0.5, 0.5]
    det.set_params(threshold="auto")
    sk_crnn.save(det, tmp_path / "auto.skcrnn")
    np.testing.assert_array_equal(sk_crnn.load(tmp_path / "auto.skcrnn").thresholds_,
                                  det.thresholds_)
    with pytest.raises(ValueError, match="threshold='auto' tunes the thresholds on the "
                                         "validation split, but there is none"):
        CRNNEventDetector(threshold="auto", **params).fit(X, events)
    with pytest.raises(ValueError, match="threshold='auto' was set after fit"):
        CRNNEventDetector(**params).fit(X, events).set_params(threshold="auto").predict(X)
    with pytest.raises(ValueError, match="threshold must be"):
        CRNNEventDetector(threshold="best", **params).fit(X, events)


# -- threshold-independent scores (sed_scores_eval) --------------------------------------------
def test_psds_and_collar_f1_of_frame_probabilities():
    pytest.importorskip("sed_scores_eval")
    from sk_crnn.metrics import collar_f1, psds

    proba = np.zeros((2, 100, 2))
    proba[0, 20:60, 0] = 0.9  # dog 2.0-6.0 s found
    proba[1, 70:90, 1] = 0.8  # cat 7.0-9.0 s found
    truth = [[(2.0, 6.0, "dog")], [(7.0, 9.0, "cat")]]
    kw = dict(frame_rate=10, classes=["dog", "cat"])
    assert psds(truth, proba, **kw) == pytest.approx(1.0)
    assert psds(truth, proba, scenario=2, **kw) == pytest.approx(1.0)
    assert collar_f1(truth, proba, **kw) == pytest.approx(1.0)
    # the cat detected 1 s late: outside the onset collar, and only half its length
    late = proba.copy()
    late[1] = 0
    late[1, 80:100, 1] = 0.8
    assert collar_f1(truth, late, **kw) == pytest.approx(0.5)
    assert collar_f1(truth, late, threshold=[0.5, 0.85], **kw) == pytest.approx(2 / 3)
    assert psds(truth, late, **kw) < 0.75
    # a false alarm lowers PSDS; random scores are far below a perfect detector
    rng = np.random.default_rng(0)
    assert psds(truth, rng.random(proba.shape), **kw) < 0.5
    with pytest.raises(ValueError, match="no event of the class\\(es\\) \\['cat'\\]"):
        psds(truth[:1], proba[:1], **kw)
    with pytest.raises(ValueError, match="scenario 2 penalises cross-triggers"):
        psds(truth[:1], proba[:1, :, :1], frame_rate=10, classes=["dog"], scenario=2)
    with pytest.raises(ValueError, match="scenario must be 1 or 2"):
        psds(truth, proba, scenario=3, **kw)


def test_psds_scorer_in_a_grid_search(scenes):
    pytest.importorskip("sed_scores_eval")
    from sk_crnn.metrics import psds_scorer

    X, events = scenes
    pipe = make_pipeline(mel(), CRNNEventDetector(frame_rate=FRAME_RATE, **TINY))
    search = GridSearchCV(pipe, {"crnneventdetector__lr": [1e-3, 1e-2]}, cv=KFold(2),
                          scoring={"psds1": psds_scorer(1), "psds2": psds_scorer(2)},
                          refit="psds1").fit(X, events)
    scores = search.cv_results_["mean_test_psds1"]
    assert np.all((0 <= scores) & (scores <= 1))
    assert np.isfinite(search.cv_results_["mean_test_psds2"]).all()


def test_detector_defaults_two_gru_layers_and_batch_16():
    """The defaults chosen on bench_sed: a 2-layer GRU in FrameCRNN, batches of 16, and the
    docstring says so (the shared entry says 32)."""
    net = FrameCRNN(n_mels=16, n_outputs=2, conv_channels=(4,), rnn_hidden=4)
    assert net.crnn.rnn.num_layers == 2
    assert FrameCRNN(n_mels=16, n_outputs=2, conv_channels=(4,),
                     rnn_layers=1).crnn.rnn.num_layers == 1
    det = CRNNEventDetector()
    assert det.batch_size == 16 and clone(det).batch_size == 16
    assert det.get_params()["batch_size"] == 16
    assert "batch_size : int, default=16" in CRNNEventDetector.__doc__
    assert "batch_size : int, default=32" not in CRNNEventDetector.__doc__
