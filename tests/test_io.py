"""Reading audio files: load_audio and the AudioLoader Pipeline step."""

import os
import pickle
import warnings
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sk_crnn.datasets import make_tone_clips
from sk_crnn.io import AudioLoader, load_audio
from sk_crnn.transformers import MelSpectrogramTransformer


def sine(freq, sr, seconds, amp=0.5):
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


def peak_frequency(wave, sr):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return np.fft.rfftfreq(len(wave), 1 / sr)[np.argmax(spectrum)]


def flatten(S):
    """Module level (not a lambda) so that the Pipeline pickles and clones."""
    return S.reshape(len(S), -1)


@pytest.fixture
def files(tmp_path):
    """A few small files of different kinds; returns a dict name -> path (str)."""
    paths = {}
    paths["mono16k"] = tmp_path / "mono16k.wav"
    sf.write(paths["mono16k"], sine(440, 16000, 0.5), 16000)
    paths["sine44k"] = tmp_path / "sine44k.flac"
    sf.write(paths["sine44k"], sine(1000, 44100, 1.0), 44100)
    left, right = sine(300, 16000, 0.25), sine(300, 16000, 0.25, amp=0.1)
    paths["stereo"] = tmp_path / "stereo.wav"
    sf.write(paths["stereo"], np.stack([left, right], axis=1), 16000)
    paths["ogg"] = tmp_path / "clip.ogg"
    sf.write(paths["ogg"], sine(500, 16000, 0.5), 16000)
    paths["empty"] = tmp_path / "empty.wav"
    sf.write(paths["empty"], np.zeros(0, dtype=np.float32), 16000)
    paths["corrupt"] = tmp_path / "corrupt.wav"
    paths["corrupt"].write_bytes(np.random.default_rng(0).bytes(2000))
    paths["missing"] = tmp_path / "missing.wav"
    return {k: str(v) for k, v in paths.items()}


# -- load_audio ---------------------------------------------------------------------------------
def test_single_path_gives_a_list_of_one_float32_waveform(files):
    for path in (files["mono16k"], Path(files["mono16k"])):
        waves = load_audio(path, sr=None)
        assert isinstance(waves, list) and len(waves) == 1
        assert waves[0].dtype == np.float32 and waves[0].shape == (8000,)
    np.testing.assert_allclose(waves[0], sine(440, 16000, 0.5), atol=1e-4)  # 16-bit PCM


def test_resampling_keeps_duration_and_frequency(files):
    (wave,) = load_audio([files["sine44k"]], sr=16000)
    assert wave.shape == (16000,) and wave.dtype == np.float32
    assert abs(peak_frequency(wave, 16000) - 1000) < 2
    (native,) = load_audio([files["sine44k"]], sr=None)
    assert native.shape == (44100,)


def test_stereo_is_averaged_or_kept(files):
    (mono,) = load_audio(files["stereo"], sr=16000)
    data, _ = sf.read(files["stereo"], dtype="float32")
    np.testing.assert_allclose(mono, data.mean(axis=1), atol=1e-6)
    (both,) = load_audio(files["stereo"], sr=8000, mono=False)
    assert both.shape == (2, 2000) and both.dtype == np.float32
    (one,) = load_audio(files["mono16k"], sr=None, mono=False)
    assert one.shape == (1, 8000)


def test_ogg_flac_wav_in_one_list_keep_order(files):
    names = ["ogg", "mono16k", "sine44k"]
    waves = load_audio([files[n] for n in names], sr=16000)
    assert [len(w) for w in waves] == [8000, 8000, 16000]


def test_offset_and_duration(files):
    (wave,) = load_audio(files["sine44k"], sr=16000, offset=0.25, duration=0.5)
    assert wave.shape == (8000,)
    (tail,) = load_audio(files["sine44k"], sr=None, offset=0.9)
    assert tail.shape == (4410,)
    with pytest.raises(ValueError, match=r"sine44k\.flac.*no samples after offset=2"):
        load_audio(files["sine44k"], offset=2.0)


def test_parallel_threads_give_the_same_waveforms(files):
    paths = [files[n] for n in ("mono16k", "sine44k", "stereo", "ogg")] * 3
    serial = load_audio(paths, sr=16000)
    parallel = load_audio(np.array(paths), sr=16000, n_jobs=2)
    assert len(parallel) == len(serial)
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "name, message",
    [
        ("missing", r"missing\.wav': it does not exist"),
        ("empty", r"empty\.wav': it holds no samples"),
        ("corrupt", r"corrupt\.wav': it could not be decoded"),
    ],
)
def test_bad_file_raises_a_value_error_naming_it(files, name, message):
    with pytest.raises(ValueError, match=message) as info:
        load_audio([files["mono16k"], files[name]])
    assert "on_error='skip'" in str(info.value)


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(ValueError, match="is a folder.*load_audio_folder"):
        load_audio(tmp_path)


def test_skip_warns_for_each_file_and_reports_the_skipped_paths(files):
    paths = [files["mono16k"], files["empty"], files["sine44k"], files["corrupt"],
             files["missing"]]
    with pytest.warns(UserWarning) as record:
        waves, skipped = load_audio(paths, sr=16000, on_error="skip", return_skipped=True,
                                    n_jobs=2)
    assert [len(w) for w in waves] == [8000, 16000]
    assert skipped == [files["empty"], files["corrupt"], files["missing"]]
    messages = [str(r.message) for r in record]
    assert len(messages) == 3
    for path, message in zip(skipped, messages):
        assert path in message and message.startswith("Skipped audio file")
    with pytest.warns(UserWarning, match="empty.wav"):
        assert len(load_audio(paths[:2], on_error="skip")) == 1


def test_no_warning_when_nothing_is_skipped(files):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        waves, skipped = load_audio([files["mono16k"]], on_error="skip", return_skipped=True)
    assert len(waves) == 1 and skipped == []


def test_progress_bar_goes_to_stderr(files, capsys):
    load_audio([files["mono16k"]] * 3, progress_bar=True)
    assert "Loading audio" in capsys.readouterr().err
    load_audio([files["mono16k"]] * 3)  # progress=None: fewer than 100 files, no bar
    assert "Loading audio" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"sr": 0}, ValueError, "sr must be a finite number > 0"),
        ({"sr": "16k"}, TypeError, "sr must be a finite number > 0 or None; got '16k'"),
        ({"offset": -1.0}, ValueError, "offset must be a finite number >= 0"),
        ({"duration": 0}, ValueError, "duration must be a finite number > 0"),
        ({"n_jobs": 0}, ValueError, "n_jobs=0 is not valid"),
        ({"on_error": "ignore"}, ValueError, "on_error must be one of"),
        ({"progress_bar": "yes"}, ValueError, "progress_bar must be True or False or None"),
        ({"mono": 1}, TypeError, "mono must be True or False; got 1 of type int"),
        ({"return_skipped": "no"}, TypeError, "return_skipped must be True or False"),
    ],
)
def test_bad_parameters(files, kwargs, error, message):
    with pytest.raises(error, match=message):
        load_audio(files["mono16k"], **kwargs)


def test_paths_that_are_not_paths():
    with pytest.raises(TypeError, match=r"paths\[1\] is a int"):
        load_audio(["a.wav", 3])
    with pytest.raises(TypeError, match="path or a sequence of paths"):
        load_audio(3)
    with pytest.raises(ValueError, match="paths must be 1-D"):
        load_audio(np.array([["a.wav"], ["b.wav"]]))
    assert load_audio([]) == []


# -- AudioLoader --------------------------------------------------------------------------------
def test_audio_loader_is_a_stateless_transformer(files):
    loader = AudioLoader(sr=16000)
    paths = np.array([files["mono16k"], files["sine44k"]])
    assert loader.fit(paths) is loader
    waves = loader.transform(paths)
    assert [w.shape for w in waves] == [(8000,), (16000,)]
    assert all(w.dtype == np.float32 for w in waves)
    # transform works without fit and equals load_audio
    for a, b in zip(AudioLoader(sr=16000).transform(list(paths)), load_audio(paths, sr=16000)):
        np.testing.assert_array_equal(a, b)
    # a single-column 2-D array (a DataFrame column) is read as a list of paths
    assert len(loader.transform(paths[:, np.newaxis])) == 2
    assert not vars(loader).keys() - set(loader.get_params())  # no state was stored


def test_audio_loader_validates_in_fit_not_init():
    loader = AudioLoader(sr=-1)  # stored as given
    assert loader.get_params()["sr"] == -1
    with pytest.raises(ValueError, match="sr must be a finite number > 0"):
        loader.fit(["a.wav"])
    with pytest.raises(ValueError, match="mono must be True or False"):
        AudioLoader(mono="yes").fit(["a.wav"])


def test_audio_loader_input_errors(files):
    with pytest.raises(TypeError, match="single path"):
        AudioLoader().transform(files["mono16k"])
    with pytest.raises(ValueError, match="1-D array or list of file paths"):
        AudioLoader().transform(np.array([[files["mono16k"]] * 2]))
    with pytest.raises(ValueError, match="missing.wav"):
        AudioLoader().transform([files["missing"]])


def test_audio_loader_clone_pickle_and_tags(files):
    loader = AudioLoader(sr=8000, duration=0.1, n_jobs=2)
    twin = clone(loader)
    assert twin.get_params() == loader.get_params()
    restored = pickle.loads(pickle.dumps(loader.fit([files["mono16k"]])))
    assert restored.transform([files["mono16k"]])[0].shape == (800,)
    tags = loader.__sklearn_tags__()
    assert tags.input_tags.string and tags.input_tags.one_d_array
    assert not tags.input_tags.two_d_array and not tags.requires_fit
    assert "AudioLoader(duration=0.1, n_jobs=2, sr=8000)" == repr(loader)



@pytest.mark.parametrize("old_state, expected", [
    ({"progress": True}, True),  # pickled when the parameter was called `progress`
    ({}, False),                 # pickled before it existed
])
def test_older_audio_loader_pickles_still_load(files, old_state, expected):
    state = {"sr": 8000, "mono": True, "offset": 0.0, "duration": 0.1, "n_jobs": None,
             **old_state}
    loader = AudioLoader.__new__(AudioLoader)
    loader.__setstate__(state)
    restored = pickle.loads(pickle.dumps(loader))
    assert restored.get_params()["progress_bar"] is expected
    assert "progress" not in vars(restored)
    assert restored.transform([files["mono16k"]])[0].shape == (800,)


def test_audio_loader_progress_bar(files, capsys):
    AudioLoader(sr=8000, progress_bar=True).transform([files["mono16k"]] * 2)
    assert "Loading audio" in capsys.readouterr().err
    AudioLoader(sr=8000).transform([files["mono16k"]] * 2)
    assert "Loading audio" not in capsys.readouterr().err
    with pytest.raises(ValueError, match="progress_bar must be True or False or None"):
        AudioLoader(progress_bar="yes").fit()
    assert "progress_bar" in AudioLoader().get_params()  # one name, as in every sk_crnn class


def test_a_float_file_holding_nan_is_named(tmp_path):
    wave = sine(440, 8000, 0.25)
    wave[100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, wave, 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"nan.wav': it holds NaN or infinite samples \(1 of "
                                         r"2000, the first at 0.013 s\)"):
        load_audio(path, sr=8000)
    with pytest.warns(UserWarning, match="Skipped audio file .*nan.wav"):
        assert load_audio([path], sr=8000, on_error="skip") == []


def test_a_float_file_far_outside_full_scale_is_named(tmp_path):
    path = tmp_path / "int16_as_float.wav"
    sf.write(path, sine(440, 8000, 0.25) * 32767, 8000, subtype="FLOAT")
    with pytest.warns(UserWarning, match=r"int16_as_float.wav' has samples up to 1638\d.*"
                                         r"divide it by 32768"):
        load_audio(path, sr=8000)
    sf.write(path, sine(440, 8000, 0.25) * 1.5, 8000, subtype="FLOAT")  # a little over: fine
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_audio(path, sr=8000)


@pytest.fixture
def tone_files(tmp_path):
    """40 labelled tone clips on disk, half at 16 kHz and half at 22.05 kHz."""
    X, y = make_tone_clips(40, sr=16000, duration=0.5, random_state=0)
    paths = []
    for i, clip in enumerate(X):
        path = tmp_path / f"clip{i:02d}.wav"
        if i % 2:
            sf.write(path, librosa.resample(clip, orig_sr=16000, target_sr=22050), 22050)
        else:
            sf.write(path, clip, 16000, subtype="FLOAT")
        paths.append(str(path))
    return np.array(paths), y


def audio_pipeline():
    return make_pipeline(
        AudioLoader(sr=16000),
        MelSpectrogramTransformer(sr=16000, n_fft=512, hop_length=256, n_mels=24),
        FunctionTransformer(flatten),
        StandardScaler(),
        LogisticRegression(max_iter=500),
    )


def test_pipeline_on_paths_in_cross_val_score(tone_files):
    paths, y = tone_files
    scores = cross_val_score(audio_pipeline(), paths, y, cv=3)
    assert scores.mean() > 0.8
    scores_list = cross_val_score(audio_pipeline(), list(paths), y, cv=3)
    np.testing.assert_allclose(scores, scores_list)


def test_pipeline_on_paths_in_grid_search(tone_files):
    paths, y = tone_files
    search = GridSearchCV(audio_pipeline(), {"melspectrogramtransformer__n_mels": [16, 24]},
                          cv=2, n_jobs=1)
    search.fit(paths, y)
    assert search.best_params_["melspectrogramtransformer__n_mels"] in (16, 24)
    assert search.predict(paths[:5]).shape == (5,)
    assert os.path.exists(paths[0])


def test_read_audio_files_reads_as_a_loader_and_says_what_was_kept(files):
    """The command line's reader: an AudioLoader's settings, the paths kept and skipped."""
    from sk_crnn.io._files import AudioFileError, read_audio_files

    paths = [files["mono16k"], files["missing"], Path(files["stereo"])]
    loader = AudioLoader(sr=8000, duration=0.1)
    with pytest.warns(UserWarning, match="missing.wav"):
        waves, kept, skipped = read_audio_files(paths, loader, on_error="skip")
    assert kept == [str(files["mono16k"]), str(files["stereo"])]
    assert skipped == [str(files["missing"])]
    assert [w.shape for w in waves] == [(800,), (800,)]
    old = AudioLoader.__new__(AudioLoader)  # an older pickle: only sr was stored
    old.__dict__["sr"] = 8000
    waves, kept, _ = read_audio_files(paths[:1], old, n_jobs=1)
    assert waves[0].shape == (4000,) and kept == [str(files["mono16k"])]
    with pytest.raises(AudioFileError, match="missing.wav") as info:
        read_audio_files(paths, loader)
    assert info.value.path == str(files["missing"]) and "does not exist" in info.value.reason
