"""Tests of MelSpectrogramTransformer: librosa parity, shapes, persistence and bad input."""

import pickle
import re
import warnings
from pathlib import Path

import joblib
import librosa
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from skorch.exceptions import DeviceWarning

from sk_crnn import MelSpectrogramTransformer
from sk_crnn.datasets import make_tone_clips

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "keywords.npz"


def speechlike(n_clips=6, sr=16000, seconds=1.0, seed=0):
    """Harmonic notes, noise bursts and true silence: a wide dynamic range like real audio."""
    X, _ = make_tone_clips(n_clips, sr=sr, duration=seconds, noise=0.0, random_state=seed)
    rng = np.random.default_rng(seed)
    for clip in X:
        a = rng.integers(0, clip.size // 2)
        clip[a:a + clip.size // 10] += 0.05 * rng.standard_normal(clip.size // 10)
    return X


def librosa_reference(X, *, ref=1.0, amin=1e-10, top_db=80.0, n_mfcc=None, **params):
    out = []
    for x in X:
        S = librosa.feature.melspectrogram(y=x, **params)
        db = librosa.power_to_db(S, ref=ref, amin=amin, top_db=top_db)
        out.append(db if n_mfcc is None else librosa.feature.mfcc(S=db, n_mfcc=n_mfcc))
    return np.stack(out)


# Tolerance held in dB (and in MFCC units): float32 FFTs of torch and numpy differ in rounding.
TOL_DB = 0.01

PARAM_SETS = [
    dict(sr=16000),
    dict(sr=16000, n_fft=512, hop_length=160, n_mels=40, fmin=20.0, fmax=7600.0, htk=True),
    dict(sr=16000, n_fft=400, hop_length=160, win_length=320, window="hamming", center=False,
         power=1.0, norm=None),
    dict(sr=22050, n_fft=1024, hop_length=256, pad_mode="reflect", n_mels=64),
    dict(sr=16000, n_fft=1024, hop_length=256, pad_mode="edge", n_mels=64),
]


@pytest.mark.parametrize("params", PARAM_SETS)
def test_matches_librosa_db(params):
    X = speechlike(sr=params["sr"])
    ours = MelSpectrogramTransformer(**params).fit_transform(X)
    ref = librosa_reference(X, **params)
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= TOL_DB


@pytest.mark.parametrize("params", PARAM_SETS[:3])
def test_matches_librosa_mfcc(params):
    X = speechlike(sr=params["sr"])
    ours = MelSpectrogramTransformer(n_mfcc=13, **params).fit_transform(X)
    ref = librosa_reference(X, n_mfcc=13, **params)
    assert ours.shape == (len(X), 13, ref.shape[-1])
    assert np.abs(ours - ref).max() <= TOL_DB


def test_matches_librosa_ref_max_and_no_top_db():
    X = speechlike()
    ours = MelSpectrogramTransformer(sr=16000, ref=np.max, top_db=None).fit_transform(X)
    ref = librosa_reference(X, sr=16000, ref=np.max, top_db=None)
    # Without top_db, near-silent bins reach -100 dB where float32 rounding of tiny powers
    # matters more; hold a looser bound there.
    assert np.abs(ours - ref).max() <= 0.1
    assert np.abs(ours - ref)[ref > -80].max() <= TOL_DB


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is absent")
def test_matches_librosa_on_real_speech():
    data = np.load(SHARED_DATA)
    X = data["clean_test"][::97][:8].astype(np.float32) / 32767
    params = dict(sr=16000, n_fft=512, hop_length=160, n_mels=64)
    ours = MelSpectrogramTransformer(**params).fit_transform(X)
    assert np.abs(ours - librosa_reference(X, **params)).max() <= TOL_DB


def test_linear_and_log_scales():
    X = speechlike(n_clips=3)
    params = dict(sr=16000, n_fft=512, hop_length=256, n_mels=32)
    linear = MelSpectrogramTransformer(scale=None, **params).fit_transform(X)
    S = np.stack([librosa.feature.melspectrogram(y=x, **params) for x in X])
    np.testing.assert_allclose(linear, S, rtol=1e-4, atol=1e-6 * S.max())
    log = MelSpectrogramTransformer(scale="log", amin=1e-6, **params).fit_transform(X)
    np.testing.assert_allclose(log, np.log(S + 1e-6), atol=1e-3)


def test_batched_equals_per_clip_and_batch_size_invariance():
    X = speechlike(n_clips=7)
    t = MelSpectrogramTransformer(sr=16000, n_mels=32, batch_size=3).fit(X)
    full = t.transform(X)
    one = np.concatenate([t.transform(X[i:i + 1]) for i in range(len(X))])
    np.testing.assert_array_equal(full, one)
    other = clone(t).set_params(batch_size=100).fit(X).transform(X)
    np.testing.assert_allclose(full, other, atol=1e-4)


def test_variable_length_list_is_padded_to_longest():
    X, _ = make_tone_clips(5, sr=8000, duration=0.5, varying_length=True, random_state=0)
    t = MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=16).fit(X)
    longest = max(len(c) for c in X)
    assert t.n_samples_ == longest
    assert t.n_frames_ == 1 + longest // 128
    out = t.transform(X)
    assert out.shape == (5, 16, t.n_frames_)
    # A clip equals its explicitly zero-padded twin.
    padded = np.zeros(longest, np.float32)
    padded[: len(X[0])] = X[0]
    np.testing.assert_array_equal(out[0], t.transform(padded[np.newaxis])[0])
    # Object arrays and tuples are accepted like lists.
    obj = np.empty(len(X), dtype=object)
    obj[:] = X
    np.testing.assert_array_equal(t.transform(obj), out)
    np.testing.assert_array_equal(t.transform(tuple(X)), out)


def test_transform_pads_or_crops_to_fitted_length():
    X = speechlike(n_clips=2, seconds=0.5)
    t = MelSpectrogramTransformer(sr=16000, n_mels=16, hop_length=256).fit(X)
    longer = np.concatenate([X, X], axis=1)
    shorter = X[:, :1000]
    assert t.transform(longer).shape == t.transform(shorter).shape == (2, 16, t.n_frames_)
    np.testing.assert_array_equal(t.transform(longer), t.transform(X))


def test_duration_fixes_length():
    X = speechlike(n_clips=2, seconds=0.5)
    t = MelSpectrogramTransformer(sr=16000, hop_length=400, duration=1.0).fit(X)
    assert t.n_samples_ == 16000
    assert t.transform(X).shape[-1] == 1 + 16000 // 400


def test_band_normalization():
    X = speechlike(n_clips=6)
    t = MelSpectrogramTransformer(sr=16000, n_mels=24, normalize="band").fit(X)
    out = t.transform(X)
    assert t.band_mean_.shape == t.band_std_.shape == (24,)
    np.testing.assert_allclose(out.mean(axis=(0, 2)), 0, atol=1e-3)
    np.testing.assert_allclose(out.std(axis=(0, 2)), 1, atol=1e-3)
    raw = clone(t).set_params(normalize=None).fit(X)
    assert not hasattr(raw, "band_mean_")
    # Fitting again learns the same statistics from unnormalised features (refits happen in
    # cross-validation, GridSearchCV's refit and a Pipeline fitted twice).
    mean, std = t.band_mean_.copy(), t.band_std_.copy()
    np.testing.assert_allclose(t.fit(X).band_mean_, mean)
    np.testing.assert_allclose(t.band_std_, std)
    np.testing.assert_array_equal(t.transform(X), out)
    raw = clone(t).set_params(normalize=None).fit(X).set_params(normalize="band")
    with pytest.raises(ValueError, match="normalize='band' was set after fit"):
        raw.transform(X)
    refit = raw.fit(X)
    np.testing.assert_allclose(refit.band_mean_, mean)


def test_band_normalization_leaves_out_the_padding_of_shorter_clips():
    # A ragged list is zero-padded to the longest clip; the padding (the dB floor) must not
    # enter the band statistics, or the clips' own frames end up far from mean 0 / std 1.
    clips = [c[:n] for c, n in zip(speechlike(n_clips=4), (16000, 4000, 8000, 2000))]
    t = MelSpectrogramTransformer(sr=16000, n_mels=24, hop_length=256,
                                  normalize="band").fit(clips)
    raw = clone(t).set_params(normalize=None).fit(clips).transform(clips)
    own = [1 + len(c) // 256 for c in clips]
    frames = np.concatenate([f[:, :k] for f, k in zip(raw, own)], axis=1)
    np.testing.assert_allclose(t.band_mean_, frames.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(t.band_std_, frames.std(axis=1), rtol=1e-4)
    out = t.transform(clips)
    normed = np.concatenate([f[:, :k] for f, k in zip(out, own)], axis=1)
    np.testing.assert_allclose(normed.mean(axis=1), 0, atol=1e-3)
    np.testing.assert_allclose(normed.std(axis=1), 1, atol=1e-3)
    # Equal lengths: every frame counts, as before.
    short = [c[:2000] for c in clips]
    same = MelSpectrogramTransformer(sr=16000, n_mels=24, normalize="band").fit(short)
    feats = clone(same).set_params(normalize=None).fit(short).transform(short)
    np.testing.assert_allclose(same.band_mean_, feats.mean(axis=(0, 2)), rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "float64", np.float32])
def test_output_dtype(dtype):
    X = speechlike(n_clips=2)
    out = MelSpectrogramTransformer(sr=16000, n_mels=16, dtype=dtype).fit_transform(X)
    assert out.dtype == np.dtype(dtype)


def test_float64_input_gives_float32_output():
    X = speechlike(n_clips=2).astype(np.float64)
    out = MelSpectrogramTransformer(sr=16000, n_mels=16).fit_transform(X)
    assert out.dtype == np.float32


def test_clone_params_pickle_and_joblib_round_trip(tmp_path):
    X = speechlike(n_clips=3)
    t = MelSpectrogramTransformer(sr=16000, n_mels=20, normalize="band", n_mfcc=10).fit(X)
    expected = t.transform(X)
    c = clone(t)
    assert c.get_params() == t.get_params()
    assert not hasattr(c, "n_frames_")
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(t)).transform(X), expected)
    joblib.dump(t, tmp_path / "t.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "t.joblib").transform(X), expected)
    t.set_params(n_mels=30)
    assert t.get_params()["n_mels"] == 30


def test_params_changed_after_fit_need_a_refit():
    X = speechlike(n_clips=2)
    t = MelSpectrogramTransformer(sr=16000, n_mels=16).fit(X)
    t.set_params(n_mels=24)
    with pytest.raises(ValueError, match="call fit again"):
        t.transform(X)
    assert t.fit(X).transform(X).shape[1] == 24


def test_not_fitted():
    with pytest.raises(NotFittedError):
        MelSpectrogramTransformer().transform(np.zeros((1, 100), np.float32))


# -- bad input --------------------------------------------------------------------------------
GOOD = np.zeros((3, 4000), np.float32)


@pytest.mark.parametrize(
    "X, exc, match",
    [
        (np.array([[0.1, np.nan, 0.2] * 100, [0.0] * 300], np.float32), ValueError,
         "Clip 0 contains NaN"),
        ([np.zeros(300, np.float32), np.array([0.0, np.inf] * 150)], ValueError,
         "Clip 1 contains NaN or infinite"),
        ([np.zeros(300, np.float32), np.zeros(0, np.float32)], ValueError, "Clip 1 is empty"),
        (np.zeros((2, 300), np.int16), TypeError, "32768"),
        ([np.zeros(300, np.float32), np.zeros(300, np.int32)], TypeError, "Clip 1 holds integer"),
        (np.zeros((2, 2, 300), np.float32), ValueError, "Down-mix"),
        ([np.zeros((2, 300), np.float32)], ValueError,
         r"Clip 0 has shape.*clip.mean\(axis=0\) \(channels first"),
        ([np.zeros((300, 2), np.float32)], ValueError,
         r"Clip 0 has shape.*clip.mean\(axis=1\) \(channels last"),
        (np.float32(0.5), ValueError, "0-D"),
        (np.zeros(300, np.float32), ValueError, "clip\\[np.newaxis"),
        (np.array([["a", "b"]]), TypeError, "dtype <U1"),
        (["file.wav", "other.wav"], TypeError, "Clip 0 is a str"),
        ([], ValueError, "No clips"),
        (np.zeros((2, 300), bool), TypeError, "booleans"),
    ],
)
def test_bad_input_messages(X, exc, match):
    t = MelSpectrogramTransformer(sr=16000, n_fft=256, hop_length=128, n_mels=16)
    with pytest.raises(exc, match=match):
        t.fit(X)
    t.fit(GOOD)
    with pytest.raises(exc, match=match):
        t.transform(X)


@pytest.mark.parametrize(
    "params, exc, match",
    [
        (dict(n_fft=0), ValueError, r"n_fft must be an int >= 2; got 0"),
        (dict(n_fft=2.5), TypeError, "n_fft must be an int >= 2; got 2.5 of type float"),
        (dict(hop_length=-1), ValueError, "hop_length"),
        (dict(win_length=4096), ValueError,
         r"win_length must be an int in \[1, 2048\] or None; got 4096"),
        (dict(scale="power"), ValueError, "scale must be one of"),
        (dict(pad_mode="wrap"), ValueError, "pad_mode must be one of"),
        (dict(n_mfcc=200), ValueError, r"n_mfcc must be an int in \[1, 128\] or None; got 200"),
        (dict(n_mfcc=13, scale=None), ValueError, "n_mfcc needs a logarithmic scale"),
        (dict(fmin=9000.0), ValueError, "fmin=9000.0 must be below fmax"),
        (dict(sr=-1), ValueError, "sr must be a finite number > 0; got -1"),
        (dict(normalize="global"), ValueError, "normalize must be one of"),
        (dict(dtype="int8"), ValueError, "dtype must be one of"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(amin=0.0), ValueError, "amin must be a finite number > 0; got 0.0"),
        (dict(device="tpu"), ValueError, "device='tpu'"),
        (dict(center=False, n_fft=8192), ValueError, "no frame"),
        (dict(center="yes"), TypeError, "center must be True or False"),
        (dict(htk="no"), TypeError, "htk must be True or False"),
    ],
)
def test_invalid_params_raise_in_fit_not_init(params, exc, match):
    t = MelSpectrogramTransformer(sr=params.pop("sr", 16000), **params)  # no error here
    with pytest.raises(exc, match=match):
        t.fit(GOOD)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_cuda_without_cuda_says_so():
    with pytest.raises(ValueError, match="CUDA is not available"):
        MelSpectrogramTransformer(device="cuda").fit(GOOD)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    X = speechlike()
    cpu = MelSpectrogramTransformer(sr=16000).fit_transform(X)
    gpu = MelSpectrogramTransformer(sr=16000, device="cuda").fit_transform(X)
    assert isinstance(gpu, np.ndarray)
    assert np.abs(cpu - gpu).max() <= TOL_DB


def test_progress_bar_shows_chunks(capsys):
    X = speechlike(n_clips=4)
    t = MelSpectrogramTransformer(sr=16000, n_mels=16, batch_size=2, progress_bar=True).fit(X)
    quiet = clone(t).set_params(progress_bar=False).fit(X).transform(X)
    np.testing.assert_array_equal(t.transform(X), quiet)
    assert "features" in capsys.readouterr().err


@pytest.mark.parametrize("pad_mode", ["constant", "reflect", "edge"])
@pytest.mark.parametrize("center", [True, False])
def test_long_clip_is_computed_in_blocks_exactly(pad_mode, center):
    # 600 frames: many FFT blocks, with the padded edges in the first and last block only.
    X = speechlike(n_clips=1, sr=8000, seconds=600 * 64 / 8000)
    params = dict(sr=8000, n_fft=256, hop_length=64, n_mels=24, pad_mode=pad_mode,
                  center=center)
    ours = MelSpectrogramTransformer(**params).fit_transform(X)
    assert ours.shape[-1] > 512
    assert np.abs(ours - librosa_reference(X, **params)).max() <= TOL_DB


# -- waveform checks: input that used to be silently wrong --------------------------------------
@pytest.mark.parametrize("shape, message", [
    ((8000, 2), r"8000 clips of 2 samples each, which looks like one stereo clip.*"
                r"X.mean\(axis=1\)\[np.newaxis, :\]"),
    ((8000, 1), r"8000 clips of 1 sample each, which looks like one mono clip.*X.T"),
])
def test_a_channels_last_clip_is_not_taken_for_many_clips(shape, message):
    X = np.zeros(shape, dtype=np.float32)
    with pytest.raises(ValueError, match=message):
        MelSpectrogramTransformer(sr=8000, n_fft=256).fit(X)
    # a few rows of 2 samples (scikit-learn's tabular checks) stay accepted
    MelSpectrogramTransformer(sr=8000, n_fft=16, hop_length=8, n_mels=4).fit(np.zeros((300, 2)))


def test_float_audio_far_outside_full_scale_warns_naming_the_clip():
    rng = np.random.default_rng(0)
    X = (0.1 * rng.standard_normal((4, 2000))).astype(np.float32)
    X[2] *= 32767  # int16 values stored as floats
    mel = MelSpectrogramTransformer(sr=8000, n_fft=256, n_mels=16)
    with pytest.warns(UserWarning, match=r"Clip 2 has samples up to .*far outside the \[-1, 1\]"
                                         r".*shifted by \d+ dB.*Divide it by 32768"):
        mel.fit(X)
    with pytest.warns(UserWarning, match=r"Clip 1 \(and 1 more clips\)"):
        mel.transform([X[0], X[2], X[1], X[2]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mel.transform(np.clip(X * 1.9, -1.9, 1.9))  # up to twice full scale is accepted


@pytest.mark.parametrize("X", [
    (np.zeros(2000) for _ in range(3)),
    iter([np.zeros(2000)]),
    map(np.zeros, [2000, 2000]),
], ids=["generator", "iterator", "map"])
def test_generators_are_refused_with_a_hint_to_pass_a_list(X):
    with pytest.raises(TypeError, match=r"X is a \w+.*pass a list of 1-D waveforms.*list\(X\)"):
        MelSpectrogramTransformer(sr=8000, n_fft=256).fit(X)
    with pytest.raises(TypeError, match="X is a set.*pass a list of 1-D waveforms"):
        MelSpectrogramTransformer(sr=8000, n_fft=256).fit({1.0, 2.0})


# -- audio far beyond full scale: finite features or a clear error, never NaN --------------------
LOUD_PARAMS = dict(sr=8000, n_fft=256, hop_length=128, n_mels=16)


def test_audio_far_beyond_full_scale_gives_the_shifted_features():
    X = speechlike(n_clips=3, sr=8000, seconds=0.5)
    quiet = MelSpectrogramTransformer(**LOUD_PARAMS).fit_transform(X)
    loud = X * np.float32(1e30)  # float32 holds the samples, not their powers (1e60)
    with pytest.warns(UserWarning, match=r"Clip 0 \(and 2 more clips\).*shifted by 59\d dB"):
        out = MelSpectrogramTransformer(**LOUD_PARAMS).fit_transform(loud)
    assert np.isfinite(out).all()  # was all NaN
    np.testing.assert_allclose(out, quiet + 600, atol=0.01)  # 20 * log10(1e30) dB higher
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        # relative to each clip's peak the features do not change at all
        rel = MelSpectrogramTransformer(ref=np.max, n_mfcc=8, normalize="band", **LOUD_PARAMS)
        np.testing.assert_allclose(rel.fit_transform(loud), rel.fit_transform(X), atol=0.01)
        # float64 audio of 1e20 is what librosa computes in float64: the same values
        X64 = X.astype(np.float64) * 1e20
        ours = MelSpectrogramTransformer(**LOUD_PARAMS).fit_transform(X64)
        assert np.abs(ours - librosa_reference(X64, **LOUD_PARAMS)).max() <= TOL_DB
        # the ordinary clips of the same chunk keep their values, the loud one is shifted
        mixed = MelSpectrogramTransformer(**LOUD_PARAMS).fit_transform([X[0], loud[1], X[2]])
        np.testing.assert_array_equal(mixed[[0, 2]], quiet[[0, 2]])
        np.testing.assert_allclose(mixed[1], quiet[1] + 600, atol=0.01)


@pytest.mark.filterwarnings("ignore:Clip.*far outside the")
def test_audio_whose_features_cannot_be_represented_is_a_clear_error():
    X = speechlike(n_clips=3, sr=8000, seconds=0.5)
    fitted = MelSpectrogramTransformer(**LOUD_PARAMS).fit(X)
    huge = X.astype(np.float64)
    huge[1] *= 1e200  # beyond float32, the precision of the features
    message = (r"Clip 1 has samples up to .*e\+199, beyond the largest float32 .*cannot be "
               r"represented\. Scale your audio to \[-1, 1\], for example clip / np.abs")
    for call, data in [(MelSpectrogramTransformer(**LOUD_PARAMS).fit, huge),
                       (fitted.transform, huge), (fitted.transform, list(huge))]:
        with pytest.raises(ValueError, match=message):
            call(data)
    # The linear spectrogram of 1e30 audio (1e60) has no float32 value
    with pytest.raises(ValueError, match=r"The features of clip 0 are not finite \(NaN or "
                                         r"infinite in float32\): its samples reach .*e\+29, far "
                                         r"outside .*overflow float32\. To fix it, scale your "
                                         r"audio to \[-1, 1\].*, or use scale='db'\."):
        MelSpectrogramTransformer(scale=None, **LOUD_PARAMS).fit_transform(X * np.float32(1e30))
    with pytest.raises(ValueError, match=r"clip 2 are not finite \(NaN or infinite in float16\)"
                                         r".*or use dtype='float32'"):
        MelSpectrogramTransformer(scale=None, dtype="float16", **LOUD_PARAMS).fit(X).transform(
            [X[0], X[1], X[2] * 1e3])


# -- front-end parameters that would give empty or meaningless bands --------------------------
@pytest.mark.parametrize("params, match", [
    (dict(fmax=9000.0), r"fmax=9000.0 is above the Nyquist frequency sr / 2 = 8000.0 Hz "
                        r"\(sr=16000\).*Set fmax <= 8000.0 \(or fmax=None for sr / 2\)"),
    (dict(n_fft=1), r"n_fft must be an int >= 2; got 1\. .*\(n_fft=1 has only the 0 Hz bin\)"),
    (dict(n_fft=64, n_mels=128), r"\d+ of the n_mels=128 mel bands between fmin=0.0 and "
                                 r"fmax=8000.0 Hz would always be empty .*with n_fft=64 at "
                                 r"sr=16000 the FFT bins are 250 Hz apart.*Use a larger n_fft "
                                 r"\(n_fft >= \d+\) or fewer bands \(n_mels <= \d+\)"),
    (dict(fmin=7990.0, n_mels=8), r"\d of the n_mels=8 mel bands between fmin=7990.0 .*or a "
                                  r"wider fmin..fmax range"),
    (dict(window="nope"), r"window='nope' could not be made into a window of win_length=2048 "
                          r"samples .*a name such as 'hann'"),
    (dict(window=np.ones(100)), r"window=an array of shape \(100,\) .*an array of 2048 samples"),
    (dict(norm="l3"), r"librosa.filters.mel refused norm='l3'.*use norm='slaney'"),
    (dict(duration=1e-6), r"duration=1e-06 s is less than one sample at sr=16000"),
], ids=["fmax-above-nyquist", "n_fft-1", "n_mels-too-many", "fmin-fmax-too-narrow",
        "window-name", "window-array", "norm", "duration"])
def test_front_end_parameters_that_give_no_features_are_refused_at_fit(params, match):
    t = MelSpectrogramTransformer(sr=16000, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clear error instead of librosa's warning
        with pytest.raises(ValueError, match=match):
            t.fit(GOOD)


def test_the_fixes_an_empty_band_error_suggests_work():
    t = MelSpectrogramTransformer(sr=16000, n_fft=64, n_mels=128)
    with pytest.raises(ValueError, match="would always be empty") as info:
        t.fit(GOOD)
    n_fft = int(re.search(r"n_fft >= (\d+)", str(info.value)).group(1))
    n_mels = int(re.search(r"n_mels <= (\d+)", str(info.value)).group(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor librosa's "Empty filters" warning
        assert clone(t).set_params(n_fft=n_fft).fit_transform(GOOD).shape[1] == 128
        assert clone(t).set_params(n_mels=n_mels).fit_transform(GOOD).shape[1] == n_mels


# -- a CUDA device on a machine without one -----------------------------------------------------
@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_cuda_set_after_fit_falls_back_to_the_cpu_with_a_warning(no_cuda):
    X = speechlike(n_clips=2, sr=8000, seconds=0.5)
    t = MelSpectrogramTransformer(**LOUD_PARAMS).fit(X)
    expected = t.transform(X)
    t.set_params(device="cuda")
    with pytest.warns(DeviceWarning, match=r"device='cuda' was set but CUDA is not available on "
                                           r"this machine.*computed on the CPU"):
        np.testing.assert_array_equal(t.transform(X), expected)
    with pytest.raises(ValueError, match="device='cuda' was requested but CUDA is not available"):
        t.fit(X)  # a new fit asks for the device itself: a clear error


def test_a_transformer_saved_with_cuda_loads_on_the_cpu(no_cuda):
    X = speechlike(n_clips=2, sr=8000, seconds=0.5)
    t = MelSpectrogramTransformer(**LOUD_PARAMS).fit(X)
    expected = t.transform(X)
    t.device = "cuda:0"  # as fitted on a GPU machine
    with pytest.warns(DeviceWarning, match=r"saved with device='cuda:0' but CUDA is not "
                                           r"available.*on the CPU instead \(device='cpu'\)"):
        loaded = pickle.loads(pickle.dumps(t))
    assert loaded.device == "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, at load
        np.testing.assert_array_equal(loaded.transform(X), expected)


def test_a_pipeline_fitted_on_a_gpu_predicts_after_joblib_load_on_a_cpu(no_cuda, tmp_path):
    from sk_crnn import CRNNClassifier

    X, y = make_tone_clips(16, sr=8000, duration=0.25, n_classes=2, random_state=0)
    pipe = make_pipeline(MelSpectrogramTransformer(**LOUD_PARAMS), CRNNClassifier(
        max_epochs=1, module__conv_channels=(4,), module__rnn_hidden=8, random_state=0))
    expected = pipe.fit(X, y).predict_proba(X)
    pipe[0].device = "cuda"  # the transformer of a pipeline fitted on a GPU
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    with pytest.warns(DeviceWarning, match="MelSpectrogramTransformer was saved with device="):
        loaded = joblib.load(tmp_path / "pipe.joblib")
    np.testing.assert_allclose(loaded.predict_proba(X), expected, rtol=1e-5)
