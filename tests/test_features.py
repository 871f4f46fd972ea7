"""sk_crnn.features: the numerical core of MelSpectrogramTransformer (frame counts, the window,
the mel filterbank and its band groups, the DCT, and MelFrontEnd's batched STFT, mel projection and
scaling), tested directly against librosa, scipy and dense reference computations. The
transformer's own behaviour is tested in test_transformers.py."""

import warnings

import librosa
import numpy as np
import pytest
import scipy.fft
import torch

from sk_crnn import features
from sk_crnn.features import (
    MelFrontEnd,
    _n_empty_bands,
    dct_matrix,
    mel_bands,
    mel_filterbank,
    n_frames_for,
    stft_window,
)

CPU = torch.device("cpu")
PLAN = dict(sr=8000, n_fft=64, hop_length=16, win_length=64, window="hann", center=True,
            pad_mode="constant", n_mels=8, fmin=0.0, fmax=None, power=2.0, htk=False,
            norm="slaney", scale="db", ref=1.0, amin=1e-10, top_db=80.0, n_mfcc=None)


def plan(**params):
    return MelFrontEnd(**{**PLAN, **params}, device=CPU)


def noise(n_clips=3, n_samples=400, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal((n_clips, n_samples))).astype(
        np.float32)


def librosa_mel(x, **params):
    """librosa's mel power spectrogram of one clip with PLAN's settings, (n_mels, n_frames)."""
    p = {**PLAN, **params}
    return librosa.feature.melspectrogram(
        y=x, sr=p["sr"], n_fft=p["n_fft"], hop_length=p["hop_length"],
        win_length=p["win_length"], window=p["window"], center=p["center"],
        pad_mode=p["pad_mode"], power=p["power"], n_mels=p["n_mels"], fmin=p["fmin"],
        fmax=p["fmax"], htk=p["htk"], norm=p["norm"])


# -- frame counts, window, DCT ------------------------------------------------------------------
@pytest.mark.parametrize("n_samples", [0, 1, 63, 64, 65, 400, 1000])
@pytest.mark.parametrize("center", [True, False])
def test_n_frames_for_matches_librosa(n_samples, center):
    n = n_frames_for(n_samples, n_fft=64, hop_length=16, center=center)
    if n_samples >= 64:  # librosa warns below n_fft samples
        S = librosa.stft(np.zeros(n_samples, dtype=np.float32), n_fft=64, hop_length=16,
                         center=center)
        assert n == S.shape[1]
    assert n == (1 + n_samples // 16 if center else max(0, 1 + (n_samples - 64) // 16))


def test_stft_window_is_librosas_window_centred_in_n_fft():
    win = stft_window("hann", n_fft=64, win_length=64)
    assert win.dtype == np.float32 and win.shape == (64,)
    np.testing.assert_allclose(win, librosa.filters.get_window("hann", 64, fftbins=True),
                               rtol=1e-6)
    short = stft_window(("kaiser", 8.0), n_fft=64, win_length=40)
    assert short.shape == (64,)
    assert not short[:12].any() and not short[52:].any()  # zero-padded on both sides
    np.testing.assert_allclose(short[12:52], librosa.filters.get_window(("kaiser", 8.0), 40),
                               rtol=1e-6)
    custom = np.linspace(0, 1, 32)
    np.testing.assert_allclose(stft_window(custom, n_fft=32, win_length=32), custom, rtol=1e-6)


@pytest.mark.parametrize("window, match", [
    ("no-such-window", r"window='no-such-window' could not be made into a window of "
                       r"win_length=64 samples.*'hann'"),
    (np.ones(10), r"window=an array of shape \(10,\) could not be made into a window of "
                  r"win_length=64 samples.*an array of 64 samples"),
])
def test_stft_window_refuses_bad_windows_with_the_fix(window, match):
    with pytest.raises(ValueError, match=match):
        stft_window(window, n_fft=64, win_length=64)


def test_dct_matrix_is_scipys_orthonormal_dct():
    D = dct_matrix(5, 12)
    assert D.dtype == np.float32 and D.shape == (5, 12)
    x = np.random.default_rng(0).standard_normal(12)
    np.testing.assert_allclose(D @ x, scipy.fft.dct(x, type=2, norm="ortho")[:5], rtol=1e-5,
                               atol=1e-6)
    full = dct_matrix(12, 12).astype(np.float64)
    np.testing.assert_allclose(full @ full.T, np.eye(12), atol=1e-6)  # orthonormal


# -- the mel filterbank -------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    dict(sr=16000, n_fft=512, n_mels=40, fmin=0.0, fmax=None, htk=False, norm="slaney"),
    dict(sr=8000, n_fft=256, n_mels=16, fmin=100.0, fmax=3000.0, htk=True, norm=None),
    dict(sr=22050, n_fft=1024, n_mels=64, fmin=20.0, fmax=None, htk=False, norm=2.0),
])
def test_mel_filterbank_is_librosas_in_float32(params):
    mel = mel_filterbank(**params)
    assert mel.dtype == np.float32 and mel.shape == (params["n_mels"], 1 + params["n_fft"] // 2)
    np.testing.assert_array_equal(mel, librosa.filters.mel(**params, dtype=np.float32))


def test_mel_filterbank_refuses_empty_bands_with_fixes_that_work():
    params = dict(sr=8000, n_fft=64, n_mels=40, fmin=0.0, fmax=None, htk=False)
    with pytest.raises(ValueError, match=r"of the n_mels=40 mel bands between fmin=0.0 and "
                                         r"fmax=4000.0 Hz would always be empty") as info:
        mel_filterbank(**params, norm="slaney")
    message = str(info.value)
    min_fft = int(message.split("n_fft >= ")[1].split(")")[0])
    max_mels = int(message.split("n_mels <= ")[1].split(")")[0])
    assert "125 Hz apart" in message  # 8000 / 64
    assert mel_filterbank(**{**params, "n_fft": min_fft}, norm="slaney").any(axis=1).all()
    assert mel_filterbank(**{**params, "n_mels": max_mels}, norm="slaney").any(axis=1).all()
    with pytest.raises(ValueError):  # the suggestions are the limits
        mel_filterbank(**{**params, "n_mels": max_mels + 1}, norm="slaney")


def test_mel_filterbank_refuses_a_norm_librosa_refuses():
    with pytest.raises(ValueError, match=r"librosa.filters.mel refused norm='l3'.*norm='slaney'"):
        mel_filterbank(sr=8000, n_fft=256, n_mels=16, fmin=0.0, fmax=None, htk=False, norm="l3")


@pytest.mark.parametrize("n_fft, n_mels, fmin, fmax, htk", [
    (64, 40, 0.0, None, False), (128, 40, 0.0, None, True), (256, 64, 300.0, 3400.0, False),
    (512, 40, 0.0, None, False), (32, 8, 0.0, 500.0, False),
])
def test_n_empty_bands_counts_the_filters_librosa_leaves_empty(n_fft, n_mels, fmin, fmax, htk):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa's "Empty filters detected"
        mel = librosa.filters.mel(sr=8000, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                                  htk=htk)
    expected = int((~(mel > 0).any(axis=1)).sum())
    fmax = 4000.0 if fmax is None else fmax  # its callers resolve None to the Nyquist frequency
    assert _n_empty_bands(sr=8000, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                          htk=htk) == expected


@pytest.mark.parametrize("group", [1, 5, 16, 64])
def test_mel_bands_give_the_dense_projection(group):
    mel = mel_filterbank(sr=16000, n_fft=512, n_mels=40, fmin=0.0, fmax=None, htk=False,
                         norm="slaney")
    bands = mel_bands(mel, device=CPU, group=group)
    assert [b[2] for b in bands] == list(range(0, 40, group))  # the groups cover every filter
    assert bands[-1][3] == 40
    power = torch.rand(3, 7, mel.shape[1])
    out = torch.zeros(3, 7, 40)
    for lo, hi, first, last, weights in bands:
        assert weights.is_contiguous() and weights.shape == (hi - lo, last - first)
        assert not mel[first:last, :lo].any() and not mel[first:last, hi:].any()  # only zeros
        out[..., first:last] = power[..., lo:hi] @ weights
    torch.testing.assert_close(out, power @ torch.from_numpy(mel.T), rtol=1e-5, atol=1e-6)


def test_mel_bands_of_an_empty_group():
    mel = np.zeros((2, 5), dtype=np.float32)
    (lo, hi, first, last, weights), = mel_bands(mel, device=CPU)
    assert (lo, hi, first, last) == (0, 1, 0, 2) and not weights.any()


# -- MelFrontEnd -------------------------------------------------------------------------------
@pytest.mark.parametrize("pad_mode", ["constant", "reflect", "edge"])
@pytest.mark.parametrize("center", [True, False])
def test_mel_plan_matches_librosa_in_db(pad_mode, center):
    X = noise()
    p = plan(pad_mode=pad_mode, center=center)
    out = p.features(torch.from_numpy(X)).numpy()
    n_frames = p.n_frames(X.shape[1])
    assert out.shape == (3, n_frames, 8) and out.dtype == np.float32
    for x, o in zip(X, out):
        ref = librosa.power_to_db(librosa_mel(x, pad_mode=pad_mode, center=center), ref=1.0,
                                  amin=1e-10, top_db=80.0)
        np.testing.assert_allclose(o.T, ref, atol=2e-3)  # dB


def test_mel_plan_scales():
    X = noise(2)
    power = plan(scale=None).features(torch.from_numpy(X)).numpy()
    ref = np.stack([librosa_mel(x) for x in X]).transpose(0, 2, 1)
    np.testing.assert_allclose(power, ref, rtol=1e-4, atol=1e-9)
    log = plan(scale="log", amin=1e-6).features(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(log, np.log(power + 1e-6), rtol=1e-5, atol=1e-5)
    magnitude = plan(scale=None, power=1.0).features(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(magnitude, np.stack([librosa_mel(x, power=1.0) for x in X])
                               .transpose(0, 2, 1), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("ref", [np.max, np.median, 1e-3])
@pytest.mark.parametrize("top_db", [80.0, 20.0, None])
def test_mel_plan_db_reference_and_floor_per_clip(ref, top_db):
    X = noise(2) * np.array([[1.0], [30.0]], dtype=np.float32)  # two loudnesses
    out = plan(ref=ref, top_db=top_db).features(torch.from_numpy(X)).numpy()
    for x, o in zip(X, out):
        expected = librosa.power_to_db(librosa_mel(x), ref=ref, amin=1e-10, top_db=top_db)
        np.testing.assert_allclose(o.T, expected, atol=2e-3)
    if ref is np.max:
        np.testing.assert_allclose(out.max(axis=(1, 2)), 0.0, atol=1e-5)  # each clip its own
    if top_db is not None:
        assert (out.max(axis=(1, 2)) - out.min(axis=(1, 2)) <= top_db + 1e-3).all()


def test_mel_plan_mfcc_is_the_dct_of_the_db_spectrogram():
    X = noise(2)
    db = plan().features(torch.from_numpy(X)).numpy()
    mfcc = plan(n_mfcc=5).features(torch.from_numpy(X)).numpy()
    assert mfcc.shape == db.shape[:2] + (5,)
    for d, m in zip(db, mfcc):
        np.testing.assert_allclose(m.T, librosa.feature.mfcc(S=d.T, n_mfcc=5), rtol=1e-4,
                                   atol=1e-3)


def test_mel_plan_float64_gives_float32s_values():
    X = noise(2)
    p = plan()
    out32 = p.features(torch.from_numpy(X))
    out64 = p.features(torch.from_numpy(X).double())
    assert out64.dtype == torch.float64 and out32.dtype == torch.float32
    torch.testing.assert_close(out64.float(), out32, atol=2e-3, rtol=0)
    assert p._constants(torch.float64)[0].dtype == torch.float64
    assert p._constants(torch.float64)[1] is p._constants(torch.float64)[1]  # made once


def test_mel_plan_writes_into_out():
    X = torch.from_numpy(noise(2))
    p = plan(scale=None)
    out = torch.empty(2, 8, p.n_frames(X.shape[1])).transpose(1, 2)  # a strided view
    result = p.features(X, out=out)
    assert result is out
    torch.testing.assert_close(out, p.features(X))


@pytest.mark.parametrize("block", [1, 3, 7])
def test_mel_plan_blocks_give_the_same_values(monkeypatch, block):
    X = torch.from_numpy(noise(2, n_samples=700))
    whole = plan(pad_mode="reflect").features(X)
    monkeypatch.setattr(features, "FRAME_BLOCK", block)
    torch.testing.assert_close(plan(pad_mode="reflect").features(X), whole, rtol=0, atol=0)


@pytest.mark.parametrize("pad_mode, torch_mode", [("constant", "constant"),
                                                  ("reflect", "reflect"),
                                                  ("edge", "replicate")])
@pytest.mark.parametrize("center", [True, False])
def test_padded_segment_is_a_slice_of_the_padded_signal(pad_mode, torch_mode, center):
    x = torch.arange(2 * 100, dtype=torch.float32).reshape(2, 100)
    p = plan(n_fft=16, hop_length=4, win_length=16, n_mels=2, pad_mode=pad_mode, center=center)
    pad = 8 if center else 0
    full = torch.nn.functional.pad(x[:, None], (pad, pad), mode=torch_mode)[:, 0]
    # the segments MelFrontEnd asks for: from frame k's start to frame m's end (k <= m)
    last = p.n_frames(100) - 1
    for k, m in [(0, 0), (0, last), (1, 3), (5, 12), (last - 2, last), (last, last)]:
        a, b = k * 4, m * 4 + 16
        torch.testing.assert_close(p._padded_segment(x, a, b), full[:, a:b], rtol=0, atol=0)


def test_mel_plan_constants_are_the_module_functions():
    p = plan(n_mfcc=4)
    np.testing.assert_array_equal(p.window.numpy(), stft_window("hann", n_fft=64, win_length=64))
    mel = mel_filterbank(sr=8000, n_fft=64, n_mels=8, fmin=0.0, fmax=None, htk=False,
                         norm="slaney")
    np.testing.assert_array_equal(p.mel_t.numpy(), mel.T)
    np.testing.assert_array_equal(p.dct_t.numpy(), dct_matrix(4, 8).T)
    assert plan().dct_t is None
    assert p.n_frames(400) == n_frames_for(400, n_fft=64, hop_length=16, center=True)
