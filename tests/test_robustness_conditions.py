"""The test conditions of benchmarks/bench_robustness.py (issue 33), on generated tones."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # plain `pytest` puts tests/ on the path, not the repository
    sys.path.insert(0, str(ROOT))

from benchmarks import _conditions as C  # noqa: E402

SR = 16000
T = np.arange(SR) / SR  # one second


def tone(freq, amp=0.05, t=T):
    return amp * np.sin(2 * np.pi * freq * t)


def amplitude(x, freq):
    """Magnitude of the Hann-windowed spectrum of a 1 s clip at ``freq`` Hz (1 Hz bins)."""
    return np.abs(np.fft.rfft(x * np.hanning(len(x))))[int(freq)]


def dominant(x):
    return float(np.argmax(np.abs(np.fft.rfft(x * np.hanning(len(x))))) * SR / len(x))


@pytest.fixture
def clips():
    rng = np.random.default_rng(0)
    X = np.stack([tone(f, 0.1) + 0.01 * rng.standard_normal(SR // 2).repeat(2)
                  for f in (220, 440, 880, 1320, 2000)])
    return X.astype(np.float32)


FAST = [n for n in C.suite() if not n.startswith("pitch")]  # librosa's first call: seconds


@pytest.mark.parametrize("name", FAST)
def test_length_dtype_range_and_determinism(name, clips):
    conditions = C.suite(sr=SR, rir_model="noise")
    seed = C.condition_seed(0, name)
    Y = conditions[name](clips, seed)
    assert Y.shape == clips.shape and Y.dtype == np.float32
    assert np.abs(Y).max() <= 1.0
    np.testing.assert_array_equal(Y, conditions[name](clips, seed))
    if name != "clean":
        assert not np.allclose(Y, clips)
    if name.startswith(("pink", "brown", "blue", "white", "babble", "shift", "reverb")):
        assert not np.array_equal(Y, conditions[name](clips, seed + 1))
    if not name.startswith("babble"):  # babble needs other clips
        one = conditions[name](clips[0], seed)
        assert one.shape == clips[0].shape and one.dtype == np.float32


def test_condition_seeds_differ_by_name_and_seed():
    seeds = {C.condition_seed(s, n) for s in (0, 1) for n in C.suite()}
    assert len(seeds) == 2 * len(C.suite())


def test_telephone_removes_above_4khz_and_reduces_below_300hz():
    x = tone(100) + tone(1000) + tone(6000)
    y = C.telephone(x, sr=SR)
    gain = {f: 20 * np.log10(amplitude(y, f) / amplitude(x, f)) for f in (100, 1000, 6000)}
    assert gain[6000] < -60
    assert gain[100] < -20
    assert abs(gain[1000]) < 1


@pytest.mark.parametrize("subtype, snr_range", [("ULAW", (30, 60)), ("GSM610", (10, 40))])
def test_codec_band_limits_and_distorts_a_little(subtype, snr_range):
    if not C.codec_available(subtype):
        pytest.skip(f"libsndfile here has no WAV {subtype}")
    x = tone(1000, 0.3) + tone(6000, 0.05)
    y = C.codec(x, sr=SR, subtype=subtype)
    assert amplitude(y, 6000) < 1e-3 * amplitude(x, 6000)
    # against the same 8 kHz round trip without the codec: what the coding itself changed
    plain = C.fit_length(C._resample(C._resample(x, SR, 8000), 8000, SR), SR)
    snr = 10 * np.log10(np.sum(plain**2) / np.sum((y - plain) ** 2))
    assert snr_range[0] < snr < snr_range[1]


def test_codec_rejects_an_unknown_subtype():
    with pytest.raises(ValueError, match="subtype='NOPE'"):
        C.codec(tone(440), subtype="NOPE")


def test_level_scales_rms_then_clips():
    x = tone(440, 0.01)
    for gain, ratio in ((20, 10.0), (-20, 0.1)):
        y = C.level(x, gain_db=gain)
        assert np.sqrt(np.mean(y**2)) / np.sqrt(np.mean(x**2)) == pytest.approx(ratio, rel=1e-4)
    loud = C.level(tone(440, 0.5), gain_db=20)
    assert loud.max() == 1.0 and loud.min() == -1.0


@pytest.mark.parametrize("colour", ["white", "pink", "brown", "blue", "babble"])
@pytest.mark.parametrize("snr_db", [0, 5, 10])
def test_noise_is_added_at_the_target_snr(clips, colour, snr_db):
    if colour == "babble":
        Y = C.babble(clips, snr_db=snr_db, seed=1)
    else:
        Y = C.add_noise(clips, colour=colour, snr_db=snr_db, seed=1)
    X = clips.astype(np.float64)
    noise = Y - X
    snr = 10 * np.log10(np.mean(X**2, axis=1) / np.mean(noise**2, axis=1))
    np.testing.assert_allclose(snr, snr_db, atol=0.5)


@pytest.mark.parametrize("colour", ["white", "pink", "brown", "blue"])
def test_noise_colour_slope(colour):
    noise = C.coloured_noise((8, 2**14), colour, np.random.default_rng(0))
    power = np.mean(np.abs(np.fft.rfft(noise, axis=1)) ** 2, axis=0)
    freqs = np.arange(power.size)
    band = (freqs > 10) & (freqs < power.size - 10)
    slope = np.polyfit(np.log(freqs[band]), np.log(power[band]), 1)[0]
    assert slope == pytest.approx(C.NOISE_COLOURS[colour], abs=0.1)


def test_babble_mixes_three_to_five_other_clips_never_the_clip_itself():
    freqs = [300, 500, 700, 900, 1100, 1300, 1500]
    X = np.stack([tone(f) for f in freqs])
    noise = C.babble(X, snr_db=0, seed=3).astype(np.float64) - X
    for k in range(len(X)):
        present = [amplitude(noise[k], f) > 0.1 * amplitude(X[k], freqs[k]) for f in freqs]
        assert not present[k]
        assert 3 <= sum(present) <= 5


def test_shift_moves_the_onset():
    x = np.zeros(SR)
    x[6000:8000] = tone(1000, 0.5)[:2000]
    X = np.stack([x] * 6)
    amounts = C.shift_amounts(len(X), SR, 0.3, seed=4)
    assert np.any(amounts != 0) and np.all(np.abs(amounts) <= 0.3 * SR)
    for mode in ("circular", "zero"):
        Y = C.shift(X, fraction=0.3, seed=4, mode=mode)
        onsets = [int(np.flatnonzero(np.abs(y) > 1e-3)[0]) for y in Y]
        first = int(np.flatnonzero(np.abs(x) > 1e-3)[0])
        assert onsets == [first + s for s in amounts]
    zero = C.shift(np.ones((6, 100)) * 0.5, fraction=0.3, seed=4, mode="zero")
    circular = C.shift(np.ones((6, 100)) * 0.5, fraction=0.3, seed=4)
    assert np.all(circular == 0.5) and np.any(zero == 0)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_scales_the_dominant_frequency(factor):
    y = C.speed(tone(440), factor=factor)
    assert dominant(y) == pytest.approx(440 * factor, abs=2)


@pytest.mark.slow
@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_pitch_scales_the_dominant_frequency_and_keeps_the_tempo(factor):
    pytest.importorskip("librosa")
    x = tone(440) * (T < 0.5)
    y = C.pitch(np.stack([x, x]), factor=factor, sr=SR)
    assert y.shape == (2, SR) and y.dtype == np.float32
    assert dominant(y[0]) == pytest.approx(440 * factor, rel=0.01)
    energy = np.abs(y[0]) > 0.01
    assert 0.45 < np.flatnonzero(energy)[-1] / SR < 0.55  # the note still ends at 0.5 s


def _tail_energy(y, start, stop):
    return float(np.sum(y[int(start * SR):int(stop * SR)] ** 2))


def test_reverb_lengthens_the_decay():
    x = tone(1000, 0.5) * (T < 0.1)
    short, long_ = (C.reverb(x, sr=SR, rt60=rt, seed=0, model="noise") for rt in (0.3, 0.8))
    assert _tail_energy(x, 0.15, 0.3) == 0
    assert _tail_energy(short, 0.15, 0.3) > 1e-4 * _tail_energy(x, 0, 0.1)
    assert _tail_energy(long_, 0.3, 0.6) > 10 * _tail_energy(short, 0.3, 0.6)
    for rt60 in (0.3, 0.8):  # Schroeder's backward integral: the decay the model was asked for
        rir, model = C.room_impulse_response(rt60, sr=SR, seed=0, model="noise")
        assert model == "noise" and rir[0] == rir.max() and np.sum(rir**2) == pytest.approx(1)
        decay = 10 * np.log10(np.cumsum(rir[::-1] ** 2)[::-1])
        t5, t25 = np.argmax(decay < -5), np.argmax(decay < -25)
        assert 3 * (t25 - t5) / SR == pytest.approx(rt60, rel=0.15)


def test_pyroomacoustics_rir_starts_with_the_direct_path():
    pytest.importorskip("pyroomacoustics")
    rir, model = C.room_impulse_response(0.3, sr=SR, seed=0, model="pyroomacoustics")
    assert model == "pyroomacoustics" and np.sum(rir**2) == pytest.approx(1)
    assert np.argmax(np.abs(rir)) < 100  # the peak comes first, not after the propagation delay
    decay = 10 * np.log10(np.cumsum(rir[::-1] ** 2)[::-1])
    assert 3 * (np.argmax(decay < -25) - np.argmax(decay < -5)) / SR == pytest.approx(0.3, rel=0.3)


def test_invalid_input_is_rejected():
    with pytest.raises(ValueError, match="n_clips, n_samples"):
        C.level(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="at least 2 clips"):
        C.babble(tone(440)[None])
    with pytest.raises(ValueError, match="colour='green'"):
        C.add_noise(tone(440), colour="green")
    with pytest.raises(ValueError, match="mode='wrap'"):
        C.shift(tone(440), mode="wrap")
