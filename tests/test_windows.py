"""Recordings longer than the training clips: windows, averaged classes, stitched events."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sk_crnn import CRNNClassifier, CRNNEventDetector, MelSpectrogramTransformer
from sk_crnn.datasets import make_sound_scenes, make_tone_clips
from sk_crnn.events import frames_to_events
from sk_crnn.windows import FrameTrack, detect_events_long, predict_proba_long, window_starts

SR, HOP = 8000, 128


def mel():
    return MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=HOP, n_mels=16)


def test_window_starts_cover_the_recording():
    for n in (1, 999, 1000, 1001, 5555):
        starts = window_starts(n, 1000, 384, align=128)
        assert starts[0] == 0 and starts[-1] + 1000 >= n
        assert (np.diff(starts) <= 384).all() and (starts % 128 == 0).all()


def test_long_clip_class_is_the_mean_of_its_windows():
    X, y = make_tone_clips(60, sr=SR, duration=0.25, n_classes=2, random_state=0)
    pipe = make_pipeline(mel(), CRNNClassifier(max_epochs=3, module__conv_channels=(4,),
                                               module__rnn_hidden=8, random_state=0))
    pipe.fit(X, y)
    window = pipe[0].n_samples_
    long = np.concatenate([X[0], X[1], X[2], X[3]])  # four training-length pieces
    proba = predict_proba_long(pipe, long, overlap=0.0)
    assert proba.shape == (2,) and proba.sum() == pytest.approx(1, rel=1e-5)
    expected = pipe.predict_proba([long[i * window:(i + 1) * window] for i in range(4)])
    np.testing.assert_allclose(proba, expected.mean(axis=0), rtol=1e-5)
    # Cropping would have looked at the first piece only.
    assert not np.allclose(proba, pipe.predict_proba([long])[0])
    with pytest.raises(ValueError, match="overlap must be"):
        predict_proba_long(pipe, long, overlap=1.0)
    with pytest.raises(TypeError, match="needs a fitted Pipeline of a MelSpectrogramTransformer"):
        predict_proba_long(pipe[-1:], long)


def test_an_event_across_two_windows_is_one_event():
    # Two windows overlapping by two frames; the event starts in the first window and ends
    # in the second. Stitched before decoding, it is one event.
    track = FrameTrack(8, 1)
    track.add(0, np.array([0.0, 0.1, 0.2, 0.9, 0.9, 0.8])[:, None])
    track.add(4, np.array([0.7, 0.9, 0.3, 0.1])[:, None])
    proba = track.mean()
    np.testing.assert_allclose(proba.ravel(), [0, 0.1, 0.2, 0.9, 0.8, 0.85, 0.3, 0.1])
    events = frames_to_events(proba[None], frame_rate=10, classes=["beep"])[0]
    assert events == [(0.3, 0.6, "beep")]


def test_detector_over_a_recording_longer_than_its_training_clips():
    scenes, events = make_sound_scenes(16, duration=1.0, sr=SR, n_classes=2, random_state=0)
    pipe = make_pipeline(mel(), CRNNEventDetector(
        frame_rate=SR / HOP, max_epochs=2, module__conv_channels=(4,), module__rnn_hidden=8,
        random_state=0))
    pipe.fit(scenes, events)
    long = np.concatenate(scenes[:5])  # 5 s, five training lengths
    found, proba = detect_events_long(pipe, long, return_proba=True)
    assert proba.shape == (1 + len(long) // HOP, 2)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert all(0 <= on < off <= 5.0 and lab in pipe[-1].classes_ for on, off, lab in found)
    # The first window alone gives the frames of the first clip.
    np.testing.assert_allclose(proba[:30], pipe.predict_proba(scenes[:1])[0, :30], rtol=0.3,
                               atol=0.05)


def test_windows_cut_from_small_blocks_equal_slices():
    from sk_crnn.windows import _windows

    wave = np.arange(1000, dtype=np.float32)
    starts = window_starts(len(wave), 96, 40, align=8)
    for size in (7, 96, 250, 1000):
        blocks = (wave[i:i + size] for i in range(0, len(wave), size))
        for start, clip in zip(starts, _windows(blocks, 96, starts)):
            expected = wave[start:start + 96]
            np.testing.assert_array_equal(clip[:len(expected)], expected)
            assert len(clip) == 96 and not clip[len(expected):].any()


@pytest.fixture(scope="module")
def detector():
    scenes, events = make_sound_scenes(16, duration=1.0, sr=SR, n_classes=2, random_state=0)
    pipe = make_pipeline(mel(), CRNNEventDetector(
        frame_rate=SR / HOP, max_epochs=2, module__conv_channels=(4,), module__rnn_hidden=8,
        random_state=0)).fit(scenes, events)
    return pipe, np.concatenate(scenes[:6]).astype(np.float32)


def test_a_file_is_read_in_blocks_with_the_same_result(detector, tmp_path, monkeypatch):
    import soundfile as sf

    from sk_crnn import windows

    pipe, long = detector
    path = tmp_path / "long.wav"
    sf.write(path, np.stack([long, long], axis=1), SR, subtype="FLOAT")  # stereo: downmixed
    expected, expected_proba = detect_events_long(pipe, long, return_proba=True)
    read = []
    blocks = windows._file_blocks
    monkeypatch.setattr(windows, "_file_blocks", lambda *a: (
        read.append(len(b)) or b for b in blocks(*a[:3], 1000)))  # blocks of 1000 samples
    found, proba = detect_events_long(pipe, str(path), return_proba=True)
    assert found == expected and max(read) == 1000 and sum(read) == len(long)
    np.testing.assert_allclose(proba, expected_proba, rtol=1e-5, atol=1e-6)


def test_a_file_at_another_rate_is_resampled_as_it_is_read(detector, tmp_path):
    import librosa
    import soundfile as sf

    pipe, long = detector
    path = tmp_path / "long_16k.flac"
    sf.write(path, librosa.resample(long, orig_sr=SR, target_sr=2 * SR), 2 * SR)
    found, proba = detect_events_long(pipe, path, return_proba=True)
    _, expected = detect_events_long(pipe, long, return_proba=True)
    assert proba.shape == expected.shape
    assert np.abs(proba - expected).mean() < 0.05
    with pytest.raises(ValueError, match="could not be opened for reading in blocks"):
        detect_events_long(pipe, tmp_path / "missing.wav")


def test_memory_of_a_long_file_is_bounded_by_the_window(detector, tmp_path):
    import tracemalloc

    import soundfile as sf

    pipe, long = detector
    path = tmp_path / "ten_minutes.wav"
    minutes = np.resize(long, 10 * 60 * SR)  # 4.8 M samples, 19 MB as float32
    sf.write(path, minutes, SR, subtype="FLOAT")
    del minutes
    tracemalloc.start()
    found = detect_events_long(pipe, path, batch_size=8)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert found and found[-1][1] <= 600.0
    assert peak < 0.25 * 19.2e6  # of the recording: a 10 s block, a batch, the frame track


def test_cli_classifies_a_long_file_by_its_windows(tmp_path):
    import contextlib
    import io
    import json

    import soundfile as sf
    from sklearn.pipeline import Pipeline

    import sk_crnn
    from sk_crnn import AudioLoader
    from sk_crnn.cli import main

    X, y = make_tone_clips(60, sr=SR, duration=0.25, n_classes=2, random_state=0)
    fitted = make_pipeline(mel(), CRNNClassifier(max_epochs=3, module__conv_channels=(4,),
                                                 module__rnn_hidden=8, random_state=0)).fit(X, y)
    sk_crnn.save(Pipeline([("audioloader", AudioLoader(sr=SR)), *fitted.steps]),
                 tmp_path / "model.skcrnn")
    long = np.concatenate([X[0], X[1], X[2], X[3], X[4]]).astype(np.float32)  # 1.25 s
    sf.write(tmp_path / "long.wav", long, SR, subtype="FLOAT")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["predict", str(tmp_path / "model.skcrnn"), str(tmp_path / "long.wav"),
                     "--proba", "--format", "json", "--quiet"]) == 0
    row = json.loads(out.getvalue())[0]
    expected = predict_proba_long(fitted, long)
    assert [row[f"p({c})"] for c in fitted[-1].classes_] == pytest.approx(expected, abs=1e-4)
    assert row["label"] == fitted[-1].classes_[expected.argmax()]


def test_cropping_a_long_clip_warns():
    X, _ = make_tone_clips(4, sr=SR, duration=0.25, n_classes=2, random_state=0)
    m = mel().fit(X)
    with pytest.warns(UserWarning, match=r"1 of 2 clip\(s\) are longer than the 0.25 s.*"
                                         r"longest 1.00 s.*sk_crnn.windows"):
        m.transform([X[0], np.tile(X[1], 4)])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.transform([X[0], np.tile(X[1], 4)[: int(0.3 * SR)]])  # a little longer: no warning


# -- misuse: checked first, then computed -------------------------------------------------------
@pytest.fixture(scope="module")
def classifier():
    X, y = make_tone_clips(16, sr=SR, duration=0.25, n_classes=2, random_state=0)
    return make_pipeline(mel(), CRNNClassifier(max_epochs=1, module__conv_channels=(4,),
                                               module__rnn_hidden=8, random_state=0)).fit(X, y)


@pytest.fixture
def transforms(monkeypatch):
    """The batches of windows the transformer computes during a test."""
    calls, original = [], MelSpectrogramTransformer.transform
    monkeypatch.setattr(MelSpectrogramTransformer, "transform",
                        lambda self, X: calls.append(len(X)) or original(self, X))
    return calls


def test_misuse_is_refused_before_any_window_is_computed(classifier, detector, transforms,
                                                         monkeypatch):
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import Pipeline

    det, long = detector
    half_fitted = Pipeline([("mel", det[0]), ("det", clone(det[-1]))])
    cases = [
        # a classifier's pipeline used to fail with an AttributeError after every window
        (detect_events_long, classifier, {}, TypeError,
         r"detect_events_long needs an event detector pipeline \(MelSpectrogramTransformer -> "
         r"CRNNEventDetector\); got a CRNNClassifier.*predict_proba_long averages"),
        # a detector's pipeline used to return summed frames silently
        (predict_proba_long, det, {}, TypeError,
         r"predict_proba_long needs a classifier pipeline.*one probability per class for each "
         r"clip; got a CRNNEventDetector.*detect_events_long stitches"),
        (detect_events_long, clone(det), {}, NotFittedError,
         r"detect_events_long needs a fitted pipeline, but its MelSpectrogramTransformer is not "
         r"fitted; call pipeline.fit"),
        (detect_events_long, half_fitted, {}, NotFittedError,
         "its CRNNEventDetector is not fitted"),
        (predict_proba_long, clone(classifier), {}, NotFittedError,
         "predict_proba_long needs a fitted pipeline"),
        (detect_events_long, det, dict(batch_size=0), ValueError,
         r"batch_size must be an int >= 1; got 0\. \(detect_events_long: the number of windows"),
        (predict_proba_long, classifier, dict(batch_size=2.5), TypeError,
         r"batch_size must be an int >= 1; got 2.5 of type float\. \(predict_proba_long"),
        (predict_proba_long, classifier, dict(overlap=-0.5), ValueError,
         r"overlap must be a finite number in \[0, 1\); got -0.5\. \(predict_proba_long"),
        (detect_events_long, det, dict(return_proba="yes"), TypeError,
         "return_proba must be True or False; got 'yes'"),
        (detect_events_long, det[-1], {}, TypeError,
         r"detect_events_long needs a fitted Pipeline .*got a CRNNEventDetector\. Build it"),
    ]
    for func, pipe, kwargs, exc, match in cases:
        with pytest.raises(exc, match=match):
            func(pipe, long, **kwargs)
    # several recordings at once, not one
    for wave, what in [([long, long], "a list of 2 recordings"),
                       (["a.wav", "b.wav"], "a list of 2 recordings"),
                       (np.stack([long, long]), rf"an array of shape \(2, {len(long)}\)")]:
        with pytest.raises(ValueError, match=rf"takes one recording .*got {what}\. Call it once "
                                             r"per recording"):
            detect_events_long(det, wave)
    # the detector's frame rate was asked for only after every window
    monkeypatch.setattr(det[-1], "frame_rate", None)
    with pytest.raises(ValueError, match="needs frame_rate .* to give event times in seconds"):
        detect_events_long(det, long)
    assert transforms == []


def test_window_starts_and_frame_track_refuse_bad_arguments():
    with pytest.raises(ValueError, match=r"hop must be an int in \[1, 4\]; got 0"):
        window_starts(10, 4, 0)  # was a ZeroDivisionError
    with pytest.raises(ValueError, match=r"got 5\. A hop longer than the window .* uncovered"):
        window_starts(10, 4, 5)  # left samples 4 and 9 in no window
    with pytest.raises(ValueError, match="window must be an int >= 1; got 0"):
        window_starts(10, 0, 1)
    with pytest.raises(TypeError, match="n_samples must be an int >= 0; got 10.5 of type float"):
        window_starts(10.5, 4, 2)
    track = FrameTrack(6, 2)
    # one column for two classes was broadcast into both silently
    with pytest.raises(ValueError, match=r"shape \(n_window_frames, 2\).*got shape \(4, 1\)"):
        track.add(0, np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"got shape \(3, 4, 2\)\. Add one window at a time"):
        track.add(0, np.zeros((3, 4, 2)))
    with pytest.raises(ValueError, match="first must be an int >= 0; got -1"):
        track.add(-1, np.zeros((4, 2)))
    track.add(np.int64(2), np.ones((4, 2)))  # numpy ints, as the frame starts are
    assert track.mean()[2:].tolist() == [[1.0, 1.0]] * 4
