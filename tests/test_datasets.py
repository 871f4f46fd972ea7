"""Generated data sets and the folder loader."""

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_crnn.datasets import load_audio_folder, make_event_sequences, make_tone_clips
from sk_crnn.transformers import MelSpectrogramTransformer


# -- make_tone_clips ----------------------------------------------------------------------------
def test_tone_clips_shapes_and_balance():
    X, y = make_tone_clips(9, sr=8000, duration=0.25, n_classes=3, random_state=0)
    assert X.shape == (9, 2000) and X.dtype == np.float32
    assert np.bincount(y).tolist() == [3, 3, 3]
    clips, _ = make_tone_clips(5, sr=8000, duration=0.25, varying_length=True, random_state=0)
    assert all(1000 <= len(c) <= 2000 for c in clips)


# -- make_event_sequences -----------------------------------------------------------------------
def test_event_sequences_shapes_classes_and_balance():
    X, y = make_event_sequences(10, sr=8000, duration=0.5, random_state=0)
    assert X.shape == (10, 4000) and X.dtype == np.float32
    assert np.abs(X).max() <= 1 and np.isfinite(X).all()
    assert y.dtype.kind == "U"
    assert sorted(set(y)) == ["chirp_then_noise", "noise_then_chirp"]
    assert (y == "chirp_then_noise").sum() == 5


def test_event_sequences_three_events_give_six_balanced_orders():
    _, y = make_event_sequences(12, sr=8000, duration=0.5, n_events=3, random_state=0)
    names, counts = np.unique(y, return_counts=True)
    assert len(names) == 6 and counts.tolist() == [2] * 6
    assert all(sorted(n.split("_then_")) == ["chirp", "noise", "tone"] for n in names)


def test_event_sequences_are_reproducible():
    a, ya = make_event_sequences(4, sr=8000, duration=0.5, random_state=3)
    b, yb = make_event_sequences(4, sr=8000, duration=0.5, random_state=3)
    c, _ = make_event_sequences(4, sr=8000, duration=0.5, random_state=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)


def test_events_do_not_overlap_and_come_in_the_class_order():
    """Without background noise, each clip holds exactly n_events separated bursts."""
    X, y = make_event_sequences(20, sr=8000, duration=1.0, noise=0.0, random_state=1)
    for clip, label in zip(X, y):
        active = np.abs(clip) > 0
        starts = np.flatnonzero(np.diff(active.astype(int)) == 1)
        bursts = [s for s in starts if active[s + 1:s + 80].all()]  # skip zero crossings
        assert len(bursts) == 2
        first = clip[bursts[0] + 1:bursts[0] + 400]
        # the chirp starts low (few zero crossings), the noise burst is above 1 kHz
        crossings = np.count_nonzero(np.diff(np.sign(first)) != 0) / len(first) * 8000 / 2
        assert (crossings < 1000) == (label == "chirp_then_noise")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n_events": 4}, ValueError, r"n_events must be an int in \[2, 3\]; got 4"),
        ({"n_events": 1}, ValueError, r"n_events must be an int in \[2, 3\]; got 1"),
        ({"duration": 0.005}, ValueError, "too short for 2 events"),
        ({"noise": -1.0}, ValueError, "noise must be a finite number >= 0"),
        ({"sr": 16000.5}, TypeError, "sr must be an int >= 1000; got 16000.5"),
    ],
)
def test_event_sequences_bad_parameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_event_sequences(4, **kwargs)


def _logmel(X):
    mel = MelSpectrogramTransformer(sr=16000, n_fft=512, hop_length=256, n_mels=40)
    return mel.fit_transform(X)  # (n_clips, 40, 63)


def _cv_accuracy(features, y):
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return cross_val_score(model, features, y, cv=5).mean()


def test_order_task_defeats_a_bag_of_frames_but_not_a_model_of_time():
    """The class is only in the order: pooled band statistics are at chance, while the same
    statistics over the quarters of the clip (a crude model of time) are well above."""
    X, y = make_event_sequences(300, random_state=0)
    S = _logmel(X)
    bag_of_frames = np.concatenate([S.mean(axis=2), S.std(axis=2)], axis=1)
    quarters = np.concatenate([q.mean(axis=2) for q in np.array_split(S, 4, axis=2)], axis=1)
    assert _cv_accuracy(bag_of_frames, y) < 0.65
    assert _cv_accuracy(quarters, y) > 0.9


@pytest.mark.slow
def test_order_task_mfcc_baseline_at_chance_and_crnn_well_above():
    """The property itself, held out: MFCC means + logistic regression (the bag-of-frames
    baseline of the demo) against a small CRNN pipeline on raw waveforms."""
    from sk_crnn import CRNNClassifier

    X, y = make_event_sequences(600, random_state=0)
    train, test = slice(0, 400), slice(400, 600)
    mfcc = MelSpectrogramTransformer(sr=16000, n_fft=512, hop_length=256, n_mels=40,
                                     n_mfcc=20).fit(X[train])
    baseline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    baseline.fit(mfcc.transform(X[train]).mean(axis=2), y[train])
    baseline_acc = baseline.score(mfcc.transform(X[test]).mean(axis=2), y[test])
    crnn = make_pipeline(
        MelSpectrogramTransformer(sr=16000, n_fft=512, hop_length=256, n_mels=40),
        CRNNClassifier(max_epochs=10, module__conv_channels=(16, 32), module__rnn_hidden=32,
                       random_state=0),
    ).fit(X[train], y[train])
    crnn_acc = crnn.score(X[test], y[test])
    assert baseline_acc < 0.65
    assert crnn_acc > 0.9


def test_order_task_with_three_events():
    X, y = make_event_sequences(300, n_events=3, random_state=0)
    S = _logmel(X)
    bag_of_frames = np.concatenate([S.mean(axis=2), S.std(axis=2)], axis=1)
    quarters = np.concatenate([q.mean(axis=2) for q in np.array_split(S, 4, axis=2)], axis=1)
    assert _cv_accuracy(bag_of_frames, y) < 0.3  # chance is 1/6
    assert _cv_accuracy(quarters, y) > 0.6


# -- load_audio_folder --------------------------------------------------------------------------
def sine(freq, sr, seconds):
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


@pytest.fixture
def audio_tree(tmp_path):
    """root/{cat,dog}/... with wav, flac, a stereo and a 44.1 kHz file, and non-audio files."""
    root = tmp_path / "animals"
    (root / "dog" / "outdoor").mkdir(parents=True)
    (root / "cat").mkdir()
    (root / ".cache").mkdir()  # hidden: not a class
    sf.write(root / "cat" / "a.wav", sine(300, 16000, 0.5), 16000)
    sf.write(root / "cat" / "b.FLAC", sine(350, 16000, 0.25), 16000)
    stereo = np.stack([sine(300, 16000, 0.5), np.zeros(8000, np.float32)], axis=1)
    sf.write(root / "cat" / "c_stereo.wav", stereo, 16000)
    sf.write(root / "dog" / "a44k.wav", sine(1000, 44100, 1.0), 44100)
    sf.write(root / "dog" / "outdoor" / "b.flac", sine(900, 16000, 0.5), 16000)
    (root / "dog" / "notes.txt").write_text("not audio")
    (root / "dog" / ".hidden.wav").write_bytes(b"junk")
    (root / "README.md").write_text("files directly under root are ignored")
    return root


def test_load_audio_folder_reads_classes_from_sub_folders(audio_tree):
    ds = load_audio_folder(audio_tree, sr=16000, n_jobs=2)
    assert ds.target_names == ["cat", "dog"]
    assert ds.target.tolist() == [0, 0, 0, 1, 1]
    assert ds.target.dtype.kind == "i"
    names = [p.replace("\\", "/").split("animals/")[1] for p in ds.filenames]
    assert names == ["cat/a.wav", "cat/b.FLAC", "cat/c_stereo.wav", "dog/a44k.wav",
                     "dog/outdoor/b.flac"]
    assert ds.sr == 16000
    assert [len(w) for w in ds.data] == [8000, 4000, 8000, 16000, 8000]
    assert all(w.dtype == np.float32 and w.ndim == 1 for w in ds.data)
    np.testing.assert_allclose(ds.data[2], sine(300, 16000, 0.5) / 2, atol=1e-4)  # down-mixed
    spectrum = np.abs(np.fft.rfft(ds.data[3]))
    assert abs(np.fft.rfftfreq(16000, 1 / 16000)[np.argmax(spectrum)] - 1000) <= 1


def test_load_audio_folder_without_loading_gives_paths(audio_tree):
    ds = load_audio_folder(audio_tree, load=False, extensions=[".wav"])
    assert isinstance(ds.data, np.ndarray) and ds.data.dtype.kind == "U"
    np.testing.assert_array_equal(ds.data, ds.filenames)
    assert len(ds.data) == 3 and ds.target.tolist() == [0, 0, 1]


def test_load_audio_folder_shuffle_keeps_pairs(audio_tree):
    ordered = load_audio_folder(audio_tree, load=False)
    shuffled = load_audio_folder(audio_tree, load=False, shuffle=True, random_state=0)
    again = load_audio_folder(audio_tree, load=False, shuffle=True, random_state=0)
    np.testing.assert_array_equal(shuffled.filenames, again.filenames)
    assert sorted(shuffled.filenames) == sorted(ordered.filenames)
    label_of = dict(zip(ordered.filenames, ordered.target))
    assert all(label_of[f] == t for f, t in zip(shuffled.filenames, shuffled.target))


def test_load_audio_folder_errors(tmp_path, audio_tree):
    with pytest.raises(ValueError, match="does not exist"):
        load_audio_folder(tmp_path / "nowhere")
    (tmp_path / "file.wav").write_bytes(b"")
    with pytest.raises(ValueError, match="is a file"):
        load_audio_folder(tmp_path / "file.wav")
    flat = tmp_path / "flat"
    flat.mkdir()
    sf.write(flat / "a.wav", sine(300, 8000, 0.1), 8000)
    with pytest.raises(ValueError, match="has no sub-folders"):
        load_audio_folder(flat)
    (audio_tree / "bird").mkdir()
    (audio_tree / "bird" / "song.txt").write_text("")
    with pytest.raises(ValueError, match=r"Class folder '.*bird' holds no audio file"):
        load_audio_folder(audio_tree)


def test_load_audio_folder_names_an_unreadable_file(audio_tree):
    (audio_tree / "dog" / "broken.wav").write_bytes(np.random.default_rng(0).bytes(500))
    with pytest.raises(ValueError, match=r"broken\.wav': it could not be decoded"):
        load_audio_folder(audio_tree, sr=16000)
    assert len(load_audio_folder(audio_tree, load=False).filenames) == 6


def test_load_audio_folder_can_skip_bad_files(audio_tree):
    (audio_tree / "dog" / "broken.wav").write_bytes(np.random.default_rng(0).bytes(500))
    sf.write(audio_tree / "cat" / "empty.wav", np.zeros(0, np.float32), 16000)
    with pytest.warns(UserWarning) as record:
        ds = load_audio_folder(audio_tree, sr=16000, on_error="skip", n_jobs=2)
    assert sorted(str(r.message).split("'")[1].rsplit("/", 1)[1] for r in record) == [
        "broken.wav", "empty.wav"]
    assert len(ds.data) == len(ds.target) == len(ds.filenames) == 5
    assert not any(f.endswith(("broken.wav", "empty.wav")) for f in ds.filenames)
    assert ds.target.tolist() == [0, 0, 0, 1, 1]


def test_load_audio_folder_follows_linked_sub_folders(audio_tree, tmp_path):
    """A link to a folder inside a class folder is followed (it was skipped: 2 of 26 files);
    a link back to a folder already searched ends the search there, with a warning."""
    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    sf.write(elsewhere / "linked.wav", sine(300, 8000, 0.1), 8000)
    try:
        (audio_tree / "cat" / "more").symlink_to(tmp_path / "elsewhere",
                                                 target_is_directory=True)
        (audio_tree / "dog" / "outdoor" / "loop").symlink_to(audio_tree / "dog",
                                                             target_is_directory=True)
        (audio_tree / "dog" / "gone.wav").symlink_to(tmp_path / "no_such.wav")
    except (OSError, NotImplementedError):
        pytest.skip("this file system cannot make links")
    with pytest.warns(UserWarning) as record:
        ds = load_audio_folder(audio_tree, load=False)
    names = [p.replace("\\", "/").split("animals/")[1] for p in ds.filenames]
    assert names == ["cat/a.wav", "cat/b.FLAC", "cat/c_stereo.wav", "cat/more/deeper/linked.wav",
                     "dog/a44k.wav", "dog/outdoor/b.flac"]
    messages = sorted(str(r.message) for r in record)
    assert len(messages) == 2
    assert "gone.wav': a link to a file that does not exist" in messages[0]
    assert "outdoor/loop': it links to" in messages[1].replace("\\", "/")
    assert "already searched" in messages[1]
