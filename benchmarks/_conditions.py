"""Conditions that real recordings meet, applied to test waveforms (issue 33).

Every condition maps clips ``X`` of shape ``(n_clips, n_samples)`` (or one clip of shape
``(n_samples,)``) sampled at ``sr`` Hz to a float32 array of the same shape, clipped to
``[-1, 1]``: a condition that changes the length (speed, a codec's frames) crops or pads it back,
centred, so the pipeline sees the length it was fitted on. Randomness (noise, babble partners,
room positions, shifts) comes from ``seed`` only, so each condition is deterministic.

``suite`` builds the named conditions of ``benchmarks.bench_robustness``; ``DEFAULT_CONDITIONS``
lists the ones it runs unless told otherwise.
"""

import io
import zlib
from fractions import Fraction

import numpy as np
from scipy import signal

#: Spectral slope of each noise colour: power proportional to ``f ** exponent``.
NOISE_COLOURS = {"white": 0.0, "pink": -1.0, "brown": -2.0, "blue": 1.0, "violet": 2.0}
#: The shoebox room of the reverberation condition, in metres.
ROOM = (6.0, 5.0, 3.0)


def _clips(X):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim not in (1, 2) or X.shape[-1] == 0:
        raise ValueError(f"X must be one clip (n_samples,) or clips (n_clips, n_samples); "
                         f"got shape {X.shape}.")
    return np.atleast_2d(X), X.ndim == 1


def _done(Y, single):
    Y = np.clip(Y, -1.0, 1.0).astype(np.float32)
    return Y[0] if single else Y


def fit_length(Y, n_samples):
    """Crop or zero-pad the last axis of ``Y`` to ``n_samples``, keeping the centre."""
    excess = Y.shape[-1] - n_samples
    if excess > 0:
        return Y[..., excess // 2:excess // 2 + n_samples]
    if excess < 0:
        pad = [(0, 0)] * (Y.ndim - 1) + [(-excess // 2, -excess - (-excess // 2))]
        return np.pad(Y, pad)
    return Y


def _resample(Y, from_sr, to_sr):
    ratio = Fraction(int(to_sr), int(from_sr))
    return signal.resample_poly(Y, ratio.numerator, ratio.denominator, axis=-1)


def condition_seed(seed, name):
    """A seed for condition ``name`` derived from a base ``seed`` (stable across runs)."""
    return (int(seed) * 1_000_003 + zlib.crc32(name.encode())) % 2**32


def telephone(X, *, sr=16000, low=300.0, high=3400.0, order=4):
    """A telephone line: to 8 kHz, a Butterworth band-pass ``low``-``high`` Hz, back to ``sr``."""
    X, single = _clips(X)
    Y = _resample(X, sr, 8000)
    sos = signal.butter(order, [low, high], btype="bandpass", fs=8000, output="sos")
    Y = _resample(signal.sosfilt(sos, Y, axis=-1), 8000, sr)
    return _done(fit_length(Y, X.shape[-1]), single)


def codec_available(subtype):
    """Whether this libsndfile encodes and decodes WAV ``subtype`` at 8 kHz mono."""
    import soundfile

    try:
        buffer = io.BytesIO()
        soundfile.write(buffer, np.zeros(320), 8000, format="WAV", subtype=subtype)
        buffer.seek(0)
        soundfile.read(buffer)
    except (RuntimeError, ValueError, TypeError, soundfile.LibsndfileError):
        return False
    return True


def codec(X, *, sr=16000, subtype="ULAW"):
    """Through a speech codec: down to 8 kHz, a WAV file of ``subtype`` in memory, back to ``sr``.

    ``subtype`` is a soundfile WAV subtype: ``"ULAW"`` (G.711 mu-law, 8 bits a sample) or
    ``"GSM610"`` (GSM 06.10 full rate, 13 kbit/s), ``"ALAW"``, ``"G721_32"``, ...
    """
    import soundfile

    if not codec_available(subtype):
        raise ValueError(f"subtype={subtype!r}: this libsndfile cannot write it in a WAV file at "
                         f"8 kHz; pick one of soundfile.available_subtypes('WAV').")
    X, single = _clips(X)
    Y8 = np.clip(_resample(X, sr, 8000), -1.0, 1.0)
    for k, clip in enumerate(Y8):
        buffer = io.BytesIO()
        soundfile.write(buffer, clip, 8000, format="WAV", subtype=subtype)
        buffer.seek(0)
        decoded, _ = soundfile.read(buffer, dtype="float64")
        m = min(len(decoded), len(clip))  # GSM pads to whole frames; no delay
        Y8[k, :m], Y8[k, m:] = decoded[:m], 0.0
    Y = _resample(Y8, 8000, sr)
    return _done(fit_length(Y, X.shape[-1]), single)


def coloured_noise(shape, colour, rng):
    """Gaussian noise whose power spectrum falls or rises as ``f ** NOISE_COLOURS[colour]``."""
    if colour not in NOISE_COLOURS:
        raise ValueError(f"colour={colour!r} is not one of {sorted(NOISE_COLOURS)}.")
    noise = rng.standard_normal(shape)
    exponent = NOISE_COLOURS[colour]
    if exponent == 0:
        return noise
    spectrum = np.fft.rfft(noise, axis=-1)
    freqs = np.arange(spectrum.shape[-1], dtype=np.float64)
    gains = np.zeros_like(freqs)
    gains[1:] = freqs[1:] ** (exponent / 2)  # amplitude: half the power exponent; no DC
    return np.fft.irfft(spectrum * gains, n=shape[-1], axis=-1)


def _mix_at_snr(X, noise, snr_db):
    """``X + noise``, the noise scaled per clip to ``snr_db`` below the whole clip's power."""
    p_signal = np.mean(X**2, axis=-1, keepdims=True)
    p_noise = np.mean(noise**2, axis=-1, keepdims=True)
    scale = np.sqrt(p_signal / np.maximum(p_noise, 1e-20) / 10 ** (snr_db / 10))
    return X + noise * scale


def add_noise(X, *, colour="pink", snr_db=10.0, seed=0):
    """Add noise of ``colour`` at ``snr_db`` dB SNR (against each whole clip's mean power)."""
    X, single = _clips(X)
    noise = coloured_noise(X.shape, colour, np.random.default_rng(seed))
    return _done(_mix_at_snr(X, noise, snr_db), single)


def babble(X, *, snr_db=10.0, seed=0, talkers=(3, 5)):
    """Add a mixture of ``talkers`` (a range, inclusive) other clips of ``X`` at ``snr_db`` dB.

    The partners of each clip are drawn from the other clips (any label), each scaled to unit
    power before they are summed; at least 2 clips are needed.
    """
    X, single = _clips(X)
    n = len(X)
    if n < 2:
        raise ValueError(f"babble mixes other clips of X: needs at least 2 clips, got {n}.")
    rng = np.random.default_rng(seed)
    units = X / np.sqrt(np.maximum(np.mean(X**2, axis=-1, keepdims=True), 1e-20))
    noise = np.empty_like(X)
    for k in range(n):
        count = min(int(rng.integers(talkers[0], talkers[1] + 1)), n - 1)
        others = rng.choice(n - 1, size=count, replace=False)
        noise[k] = units[others + (others >= k)].sum(axis=0)  # skip clip k itself
    return _done(_mix_at_snr(X, noise, snr_db), single)


def _drr_db(rt60, distance=2.0):
    """Direct-to-reverberant ratio at ``distance`` m in ``ROOM`` (critical distance, Sabine)."""
    critical = 0.057 * np.sqrt(np.prod(ROOM) / rt60)
    return 20 * np.log10(critical / distance)


def resolve_rir_model(model="auto"):
    """``"auto"`` -> ``"pyroomacoustics"`` where it imports, else ``"noise"``; others as given."""
    if model != "auto":
        return model
    try:
        import pyroomacoustics  # noqa: F401
    except ImportError:
        return "noise"
    return "pyroomacoustics"


def room_impulse_response(rt60, *, sr=16000, seed=0, model="auto"):
    """An impulse response with reverberation time ``rt60`` s, direct path first, unit energy.

    ``model="noise"``: a direct path followed by Gaussian noise whose amplitude decays by 60 dB
    over ``rt60`` seconds, scaled to the direct-to-reverberant ratio of a source 2 m away in
    ``ROOM``. ``model="pyroomacoustics"``: the image-source method in ``ROOM`` (absorption and
    order from Sabine's formula for ``rt60``), source and microphone placed at random 1.5-3 m
    apart. ``"auto"`` takes pyroomacoustics when it imports. Returns ``(rir, model)``.
    """
    model = resolve_rir_model(model)
    rng = np.random.default_rng(seed)
    if model == "noise":
        t = np.arange(int(1.2 * rt60 * sr)) / sr
        tail = rng.standard_normal(t.size) * np.exp(-3 * np.log(10) * t / rt60)
        tail[0] = 0.0
        tail *= np.sqrt(10 ** (-_drr_db(rt60) / 10) / np.sum(tail**2))
        rir = tail
        rir[0] = 1.0
    elif model == "pyroomacoustics":
        import pyroomacoustics as pra

        absorption, max_order = pra.inverse_sabine(rt60, ROOM)
        room = pra.ShoeBox(ROOM, fs=sr, materials=pra.Material(absorption), max_order=max_order)
        low, high = np.full(3, 0.5), np.asarray(ROOM) - 0.5
        while True:
            mic, source = rng.uniform(low, high), rng.uniform(low, high)
            if 1.5 <= np.linalg.norm(mic - source) <= 3.0:
                break
        room.add_source(source)
        room.add_microphone(mic)
        room.compute_rir()
        rir = np.asarray(room.rir[0][0], dtype=np.float64)
        half = pra.constants.get("frac_delay_length") // 2  # the direct path's sinc before its peak
        rir = rir[max(int(np.argmax(np.abs(rir))) - half, 0):]
    else:
        raise ValueError(f"model={model!r}: pass 'auto', 'noise' or 'pyroomacoustics'.")
    return rir / np.sqrt(np.sum(rir**2)), model


def reverb(X, *, sr=16000, rt60=0.5, seed=0, model="auto"):
    """Convolve with ``room_impulse_response(rt60, seed=seed, model=model)``; the tail is cut."""
    X, single = _clips(X)
    rir, _ = room_impulse_response(rt60, sr=sr, seed=seed, model=model)
    Y = signal.fftconvolve(X, rir[None, :], axes=-1)[:, :X.shape[-1]]
    return _done(Y, single)


def speed(X, *, factor=1.1):
    """Play ``factor`` times faster (pitch and tempo together) by resampling."""
    X, single = _clips(X)
    ratio = Fraction(factor).limit_denominator(1000)
    Y = signal.resample_poly(X, ratio.denominator, ratio.numerator, axis=-1)
    return _done(fit_length(Y, X.shape[-1]), single)


def pitch(X, *, factor=1.1, sr=16000, chunk=256):
    """Shift the pitch by ``factor`` at the same tempo: ``librosa.effects.pitch_shift``."""
    import librosa

    X, single = _clips(X)
    steps = 12 * np.log2(factor)
    Y = np.concatenate([librosa.effects.pitch_shift(X[i:i + chunk], sr=sr, n_steps=steps)
                        for i in range(0, len(X), chunk)])
    return _done(fit_length(Y, X.shape[-1]), single)


def level(X, *, gain_db=20.0):
    """Change the level by ``gain_db`` dB, then clip to ``[-1, 1]`` as a recorder would."""
    X, single = _clips(X)
    return _done(X * 10 ** (gain_db / 20), single)


def shift_amounts(n_clips, n_samples, fraction, seed):
    """The shifts ``shift`` applies, in samples: uniform in ``+-fraction * n_samples``."""
    most = int(fraction * n_samples)
    return np.random.default_rng(seed).integers(-most, most + 1, size=n_clips)


def shift(X, *, fraction=0.3, seed=0, mode="circular"):
    """Move each clip by up to ``fraction`` of its length, later (> 0) or earlier (< 0).

    ``mode="circular"`` wraps what leaves one end round to the other; ``"zero"`` drops it and
    pads with silence.
    """
    if mode not in ("circular", "zero"):
        raise ValueError(f"mode={mode!r}: pass 'circular' or 'zero'.")
    X, single = _clips(X)
    Y = np.zeros_like(X)
    n = X.shape[-1]
    for k, s in enumerate(shift_amounts(len(X), n, fraction, seed)):
        if mode == "circular":
            Y[k] = np.roll(X[k], s)
        elif s >= 0:
            Y[k, s:] = X[k, :n - s]
        else:
            Y[k, :n + s] = X[k, -s:]
    return _done(Y, single)


def _identity(X):
    return _done(*_clips(X))


def _ignore_seed(f, **kwargs):
    def apply(X, seed):
        return f(X, **kwargs)
    return apply


def _seeded(f, **kwargs):
    def apply(X, seed):
        return f(X, seed=seed, **kwargs)
    return apply


def suite(sr=16000, rir_model="auto"):
    """The named conditions: a dict of ``name -> f(X, seed)``."""
    conditions = {"clean": _ignore_seed(_identity),
                  "telephone": _ignore_seed(telephone, sr=sr),
                  "mulaw": _ignore_seed(codec, sr=sr, subtype="ULAW"),
                  "gsm": _ignore_seed(codec, sr=sr, subtype="GSM610")}
    for rt60 in (0.3, 0.8):
        conditions[f"reverb{rt60}s"] = _seeded(reverb, sr=sr, rt60=rt60, model=rir_model)
    for snr in (0, 5, 10):
        for colour in ("pink", "brown", "blue", "white"):
            conditions[f"{colour}{snr}dB"] = _seeded(add_noise, colour=colour, snr_db=snr)
        conditions[f"babble{snr}dB"] = _seeded(babble, snr_db=snr)
    for factor in (0.9, 1.1):
        name = f"{round(100 * factor) - 100:+d}%"
        conditions[f"speed{name}"] = _ignore_seed(speed, factor=factor)
        conditions[f"pitch{name}"] = _ignore_seed(pitch, factor=factor, sr=sr)
    for gain in (-20, 20):
        conditions[f"level{gain:+d}dB"] = _ignore_seed(level, gain_db=gain)
    conditions["shift30%"] = _seeded(shift, fraction=0.3)
    conditions["shift30%zero"] = _seeded(shift, fraction=0.3, mode="zero")
    return conditions


#: What ``bench_robustness`` runs by default (white noise and zero-padded shifts are left out:
#: the keyword clips already carry white noise, and a zero shift can drop a whole keyword).
DEFAULT_CONDITIONS = [
    "clean", "telephone", "mulaw", "gsm", "reverb0.3s", "reverb0.8s",
    *(f"{c}{s}dB" for c in ("pink", "brown", "blue", "babble") for s in (0, 5, 10)),
    "speed-10%", "speed+10%", "pitch-10%", "pitch+10%", "level-20dB", "level+20dB", "shift30%"]
