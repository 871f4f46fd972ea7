"""The transformer's GPU path (sk_crnn._gpu_features): its values on the CPU, where
``BATCHED_ON_CPU`` runs the same code, against the CPU path; on CUDA against the CPU path."""

import types
import warnings

import numpy as np
import pytest
import torch
from test_transformers import PARAM_SETS, TOL_DB, librosa_reference, speechlike

from sk_crnn import MelSpectrogramTransformer, _gpu_features

#: The batched path against the CPU path, both float32 on the CPU: rounding only.
TOL_SAME_DEVICE = 1e-4


@pytest.fixture
def batched(monkeypatch):
    """Route the transformer's CPU computation through the GPU path's code."""
    monkeypatch.setattr(_gpu_features, "BATCHED_ON_CPU", True)


def noisy_clips(n_clips=7, n_samples=8000, seed=0):
    """Noise bursts over tones and silence: every band well above float32 rounding."""
    X = speechlike(n_clips=n_clips, sr=16000, seconds=n_samples / 16000, seed=seed)
    return X + np.float32(1e-3) * np.random.default_rng(seed).standard_normal(
        X.shape, dtype=np.float32)


def both_paths(monkeypatch, X, transform_X=None, **params):
    """(CPU path, batched path) of fit(X).transform(transform_X), and the two transformers."""
    cpu = MelSpectrogramTransformer(**params).fit(X)
    monkeypatch.setattr(_gpu_features, "BATCHED_ON_CPU", True)
    ours = MelSpectrogramTransformer(**params).fit(X)
    monkeypatch.setattr(_gpu_features, "BATCHED_ON_CPU", False)
    data = X if transform_X is None else transform_X
    expected = cpu.transform(data)
    monkeypatch.setattr(_gpu_features, "BATCHED_ON_CPU", True)
    return expected, ours.transform(data), cpu, ours


BASE = dict(sr=16000, n_fft=512, hop_length=160, n_mels=40, batch_size=3)
CASES = {
    "default": {},
    "no-center": dict(center=False),
    "reflect": dict(pad_mode="reflect"),
    "edge": dict(pad_mode="edge"),
    "mfcc": dict(n_mfcc=13, pad_mode="reflect"),
    "band": dict(normalize="band"),
    "band-mfcc": dict(normalize="band", n_mfcc=20, center=False),
    "no-top-db": dict(top_db=None),
    "ref-max": dict(ref=np.max, top_db=None),
    "ref-number": dict(ref=0.25, top_db=60.0),
    "ref-median": dict(ref=np.median),
    "log-power-1": dict(scale="log", power=1.0, window="hamming", win_length=400),
    "linear": dict(scale=None, norm=None, htk=True),
    "odd-fft": dict(n_fft=401, hop_length=100, pad_mode="reflect"),
    "hop-over-half": dict(n_fft=256, hop_length=200, pad_mode="edge"),
    "float64": dict(dtype="float64"),
}


@pytest.mark.parametrize("params", CASES.values(), ids=CASES.keys())
def test_batched_path_equals_the_cpu_path(monkeypatch, params):
    X = noisy_clips()
    expected, got, cpu, ours = both_paths(monkeypatch, X, **{**BASE, **params})
    assert got.shape == expected.shape and got.dtype == expected.dtype
    scale = 1.0 if params.get("scale", "db") else float(np.abs(expected).max())
    assert np.abs(got - expected).max() <= TOL_SAME_DEVICE * scale
    if params.get("normalize"):  # fit learned the same statistics through either path
        np.testing.assert_allclose(ours.band_mean_, cpu.band_mean_, atol=1e-5)
        np.testing.assert_allclose(ours.band_std_, cpu.band_std_, rtol=1e-5)


@pytest.mark.parametrize("params", [{}, dict(normalize="band"), dict(n_mfcc=13)],
                         ids=["db", "band", "mfcc"])
def test_batched_float16_output_is_the_float32_features_rounded(monkeypatch, params):
    X = noisy_clips()
    expected, got, _, _ = both_paths(monkeypatch, X, **BASE, dtype="float16", **params)
    assert got.dtype == np.float16
    full = MelSpectrogramTransformer(**BASE, **params).fit(X).transform(X)
    # each is the float32 value rounded to float16: at most one float16 step apart
    step = np.spacing(np.abs(full).astype(np.float16)).astype(np.float32)
    assert (np.abs(got.astype(np.float32) - expected.astype(np.float32)) <= step).all()
    assert np.abs(got.astype(np.float32) - full).max() <= np.abs(full).max() * 2.0 ** -11


def test_batched_ragged_lists_pad_and_crop_as_the_cpu_path(monkeypatch):
    X = noisy_clips(n_clips=5, n_samples=6000)
    train = [X[0], X[1, :4000], X[2, :5500]]  # fitted on the longest: 6000 samples
    clips = [X[3, :100], X[4], np.concatenate([X[0], X[1]]).astype(np.float64), X[2, :4321]]
    clips.append(np.ascontiguousarray(X[1])[::-1])  # negative strides
    read_only = X[3].copy()
    read_only.setflags(write=False)
    clips.append(read_only)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "not writable" warning from torch.from_numpy
        warnings.filterwarnings("ignore", message=".* are cropped to their first")
        expected, got, cpu, ours = both_paths(monkeypatch, train, clips, normalize="band",
                                              **BASE)
    assert got.shape == (len(clips), 40, ours.n_frames_)
    assert np.abs(got - expected).max() <= TOL_SAME_DEVICE
    np.testing.assert_allclose(ours.band_mean_, cpu.band_mean_, atol=1e-5)
    # a 2-D array of another length is padded or cropped the same way
    for data in (X[:, :3000], np.concatenate([X, X], axis=1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the cropping warning
            monkeypatch.setattr(_gpu_features, "BATCHED_ON_CPU", False)
            expected = cpu.transform(data)
            monkeypatch.setattr(_gpu_features, "BATCHED_ON_CPU", True)
            assert np.abs(ours.transform(data) - expected).max() <= TOL_SAME_DEVICE


@pytest.mark.parametrize("batch_size", [1, 2, 4, 64])
def test_batched_result_does_not_depend_on_the_chunks(batched, batch_size):
    X = noisy_clips(n_clips=7)
    one = MelSpectrogramTransformer(**{**BASE, "batch_size": 7}).fit(X).transform(X)
    chunked = MelSpectrogramTransformer(**{**BASE, "batch_size": batch_size}).fit(X).transform(X)
    np.testing.assert_array_equal(chunked, one)


def test_batched_float64_recomputation_of_audio_beyond_full_scale(monkeypatch):
    X = noisy_clips(n_clips=4)
    loud = X.copy()
    loud[2] *= np.float32(1e30)  # float32 powers overflow: this clip is redone in float64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "far outside the [-1, 1] range"
        expected, got, _, _ = both_paths(monkeypatch, X, loud, **BASE)
    assert np.isfinite(got).all()
    assert np.abs(got - expected).max() <= TOL_SAME_DEVICE
    np.testing.assert_allclose(got[2], expected[2], atol=TOL_SAME_DEVICE)
    assert np.abs(got[2] - got[2].min()).max() > 1.0  # not a flat row


@pytest.mark.filterwarnings("ignore:Clip.*far outside the")
def test_batched_features_that_do_not_fit_the_dtype_name_the_clip(batched):
    X = noisy_clips(n_clips=4)
    fitted = MelSpectrogramTransformer(scale=None, dtype="float16", **BASE).fit(X)
    with pytest.raises(ValueError, match=r"clip 3 are not finite \(NaN or infinite in "
                                         r"float16\).*or use dtype='float32'"):
        fitted.transform([X[0], X[1], X[2], X[3] * 1e3])


def test_batched_progress_bar_shows_chunks(batched, capsys):
    X = noisy_clips(n_clips=4)
    t = MelSpectrogramTransformer(**BASE, progress_bar=True).fit(X)
    quiet = t.transform(X)
    assert "features" in capsys.readouterr().err
    t.set_params(progress_bar=False)
    np.testing.assert_array_equal(t.transform(X), quiet)


def _cuda_plan(n_fft=512, n_mels=64, hop=160):
    """A stand-in for a front end on a CUDA device: what chunk_size reads."""
    return types.SimpleNamespace(
        device=torch.device("cuda"), n_fft=n_fft, mel_t=torch.empty(n_fft // 2 + 1, n_mels),
        n_frames=lambda n: 1 + n // hop)


@pytest.mark.parametrize("free_gib, n_samples, n_clips, expected", [
    (100, 16000, 4096, _gpu_features.STAGE_BYTES // (4 * 16000)),  # staging bound: 524
    (100, 160000, 512, _gpu_features.STAGE_BYTES // (4 * 160000)),  # 52 ten-second clips
    (100, 16000, 100, 100),  # never more than the clips
    (0.01, 16000, 4096, None),  # memory bound: a quarter of 10 MiB
    (0.0, 16000, 4096, 1),  # at least one clip
])
def test_chunk_size_on_cuda_follows_the_free_memory_and_clip_length(
        monkeypatch, free_gib, n_samples, n_clips, expected):
    free = int(free_gib * 2 ** 30)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 2 ** 37))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 2 ** 20)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 2 ** 20)
    plan = _cuda_plan()
    size = _gpu_features.chunk_size(plan, n_samples, n_clips, batch_size=64)
    if expected is None:  # the chunk's estimated temporaries fit a quarter of the free memory
        frames = plan.n_frames(n_samples)
        per_clip = 4 * (3 * n_samples + 512 + frames * (512 + 3 * 257 + 4 * 64))
        expected = int(0.25 * free) // per_clip
        assert 1 < expected < _gpu_features.STAGE_BYTES // (4 * n_samples)
    assert size == expected


def test_chunk_size_on_the_cpu_is_batch_size():
    plan = types.SimpleNamespace(device=torch.device("cpu"))
    assert _gpu_features.chunk_size(plan, 16000, 100, batch_size=64) == 64
    assert _gpu_features.chunk_size(plan, 16000, 10, batch_size=64) == 10


def test_cpu_path_is_taken_unless_forced():
    assert not _gpu_features.runs_batched(torch.device("cpu"))
    assert _gpu_features.runs_batched(torch.device("cuda"))


# -- on a CUDA device: the GPU path against the CPU path -----------------------------------------
CUDA_TOL_DB = 0.01  # cuFFT and cuBLAS round differently from the CPU's FFT and matmul


def cuda(test):
    """Mark a test that needs a CUDA device (skipped where there is none)."""
    return pytest.mark.cuda(pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs CUDA")(test))


@cuda
@pytest.mark.parametrize("params", CASES.values(), ids=CASES.keys())
def test_cuda_equals_cpu(params):
    X = noisy_clips()
    cpu = MelSpectrogramTransformer(**{**BASE, **params}).fit(X)
    gpu = MelSpectrogramTransformer(**{**BASE, **params}, device="cuda").fit(X)
    expected, got = cpu.transform(X), gpu.transform(X)
    assert isinstance(got, np.ndarray) and got.dtype == expected.dtype
    assert got.shape == expected.shape
    scale = 1.0 if params.get("scale", "db") else float(np.abs(expected).max())
    assert np.abs(got - expected).max() <= CUDA_TOL_DB * scale
    if params.get("normalize"):
        np.testing.assert_allclose(gpu.band_mean_, cpu.band_mean_, atol=1e-3)
        np.testing.assert_allclose(gpu.band_std_, cpu.band_std_, rtol=1e-3)


@cuda
@pytest.mark.parametrize("params", PARAM_SETS)
def test_cuda_matches_librosa(params):
    X = speechlike(sr=params["sr"])
    got = MelSpectrogramTransformer(**params, device="cuda").fit_transform(X)
    assert np.abs(got - librosa_reference(X, **params)).max() <= TOL_DB


@cuda
def test_cuda_float16_ragged_and_many_chunks(monkeypatch):
    X = noisy_clips(n_clips=9, n_samples=8000)
    clips = [X[0, :100], X[1], np.concatenate([X[2], X[3]]).astype(np.float64), X[4, :4321],
             *X[5:]]
    for dtype in ("float32", "float16"):
        cpu = MelSpectrogramTransformer(**BASE, dtype=dtype, normalize="band").fit(X)
        gpu = MelSpectrogramTransformer(**BASE, dtype=dtype, normalize="band",
                                        device="cuda:0").fit(X)
        expected = cpu.transform(clips).astype(np.float32)
        whole = gpu.transform(clips)
        # two clips per chunk: both host buffers and both CUDA streams in turn, 5 chunks
        monkeypatch.setattr(_gpu_features, "STAGE_BYTES", 2 * 4 * 8000)
        chunked = gpu.transform(clips)
        monkeypatch.undo()
        assert whole.dtype == chunked.dtype == np.dtype(dtype)
        step = 1e-3 if dtype == "float32" else 2.0 ** -8  # float16: about 3 digits (std units)
        assert np.abs(whole.astype(np.float32) - expected).max() <= step + CUDA_TOL_DB
        assert np.abs(chunked.astype(np.float32) - whole).max() <= step


@cuda
def test_cuda_in_a_side_stream_and_after_other_work():
    X = noisy_clips()
    gpu = MelSpectrogramTransformer(**BASE, device="cuda").fit(X)
    expected = gpu.transform(X)
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        busy = torch.randn(4096, 4096, device="cuda") @ torch.randn(4096, 4096, device="cuda")
        got = gpu.transform(X)
    del busy
    np.testing.assert_allclose(got, expected, atol=1e-5)


@cuda
@pytest.mark.filterwarnings("ignore:Clip.*far outside the")
def test_cuda_recomputes_audio_beyond_full_scale_in_float64():
    X = noisy_clips(n_clips=4)
    loud = X.copy()
    loud[2] *= np.float32(1e30)
    cpu = MelSpectrogramTransformer(**BASE).fit(X)
    gpu = MelSpectrogramTransformer(**BASE, device="cuda").fit(X)
    got = gpu.transform(loud)
    assert np.isfinite(got).all()
    assert np.abs(got - cpu.transform(loud)).max() <= CUDA_TOL_DB


@cuda
def test_cuda_chunk_size_on_the_device():
    X = noisy_clips(n_clips=2, n_samples=16000)
    gpu = MelSpectrogramTransformer(**BASE, device="cuda").fit(X)
    plan = gpu._plan(torch.device("cuda"), fitted=True)
    size = _gpu_features.chunk_size(plan, 16000, 4096, batch_size=64)
    assert 1 <= size <= _gpu_features.STAGE_BYTES // (4 * 16000)
    assert _gpu_features.chunk_size(plan, 16000, 3, batch_size=64) == 3
