"""Generated audio datasets that need no download."""

import numpy as np
from sklearn.utils import check_random_state

from ._validation import check_scalar


def _harmonic_note(rng, t, f0, sr, n_harmonics=5):
    """A harmonic note with vibrato and a random attack/decay envelope."""
    vibrato = 1.0 + 0.01 * np.sin(2 * np.pi * rng.uniform(4, 7) * t)
    phase = 2 * np.pi * np.cumsum(f0 * vibrato) / sr
    amps = rng.uniform(0.2, 1.0, size=n_harmonics) / np.arange(1, n_harmonics + 1)
    wave = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(amps))
    attack = rng.uniform(0.005, 0.05)
    env = np.minimum(1.0, t / attack) * np.exp(-t * rng.uniform(1.0, 6.0))
    return wave * env


def make_tone_clips(n_samples=100, *, sr=16000, duration=0.5, n_classes=2, noise=0.05,
                    varying_length=False, random_state=None):
    """Noisy harmonic notes whose class is their pitch register.

    Each clip holds one note of a random instrument-like timbre (a few harmonics, vibrato,
    attack and decay) at a random time, over white noise. Class ``k`` draws its fundamental
    from the ``k``-th of ``n_classes`` adjacent half-octave bands above 150 Hz, so a model
    that reads a spectrogram separates the classes easily. Handy for examples and tests.

    Parameters
    ----------
    n_samples : int, default=100
        Number of clips.
    sr : int, default=16000
        Sample rate in Hz.
    duration : float, default=0.5
        Clip length in seconds (the longest length when ``varying_length=True``).
    n_classes : int, default=2
        Number of pitch classes.
    noise : float, default=0.05
        Standard deviation of the background noise (notes peak near 0.5).
    varying_length : bool, default=False
        If True, clip lengths are drawn between half and all of ``duration`` and a list of
        1-D arrays is returned.
    random_state : int, RandomState instance or None, default=None
        Seed of the generator.

    Returns
    -------
    X : ndarray of shape (n_samples, n_samples_per_clip) or list of ndarray
        Float32 waveforms in [-1, 1].
    y : ndarray of shape (n_samples,)
        Integer class of each clip, ``0 .. n_classes - 1`` (balanced).

    Examples
    --------
    >>> from sk_crnn.datasets import make_tone_clips
    >>> X, y = make_tone_clips(6, sr=8000, duration=0.25, random_state=0)
    >>> X.shape, y.tolist()
    ((6, 2000), [0, 1, 0, 1, 0, 1])
    """
    check_scalar(n_samples, "n_samples", "int", low=1)
    check_scalar(sr, "sr", "int", low=1000)
    check_scalar(duration, "duration", "real", low=0, low_inclusive=False)
    check_scalar(n_classes, "n_classes", "int", low=2)
    check_scalar(noise, "noise", "real", low=0)
    rng = check_random_state(random_state)
    full = max(1, int(round(duration * sr)))
    y = np.arange(n_samples) % n_classes
    clips = []
    for label in y:
        n = int(rng.randint(full // 2, full + 1)) if varying_length else full
        n = max(n, 1)
        note_len = max(2, int(n * rng.uniform(0.3, 0.6)))
        t = np.arange(note_len) / sr
        f0 = 150.0 * 2 ** ((label + rng.uniform(0.1, 0.9)) / 2)
        note = 0.5 * _harmonic_note(rng, t, f0, sr) / 1.5
        clip = noise * rng.standard_normal(n)
        start = int(rng.randint(0, n - note_len + 1)) if n > note_len else 0
        clip[start:start + note_len] += note[: n - start]
        clips.append(np.clip(clip, -1, 1).astype(np.float32))
    if varying_length:
        return clips, y
    return np.stack(clips), y
