"""Generated audio datasets that need no download, and a loader for folders of audio files."""

import itertools

import numpy as np
from sklearn.utils import check_random_state

from ._validation import BOOL, Interval, InvalidParameterError, Rule, check_param, validate_args
from .io._folders import load_audio_folder  # noqa: F401 (its public path)

#: The rules the generators share (see _validation.validate_args).
_COUNT = Interval("int", 1)
_SR = Interval("int", 1000)
_SECONDS = Interval("real", 0, closed="neither")
_NOISE = Interval("real", 0)


def _harmonic_note(rng, t, f0, sr, n_harmonics=5):
    """A harmonic note with vibrato and a random attack/decay envelope."""
    vibrato = 1.0 + 0.01 * np.sin(2 * np.pi * rng.uniform(4, 7) * t)
    phase = 2 * np.pi * np.cumsum(f0 * vibrato) / sr
    amps = rng.uniform(0.2, 1.0, size=n_harmonics) / np.arange(1, n_harmonics + 1)
    wave = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(amps))
    attack = rng.uniform(0.005, 0.05)
    env = np.minimum(1.0, t / attack) * np.exp(-t * rng.uniform(1.0, 6.0))
    return wave * env


@validate_args({"n_samples": _COUNT, "sr": _SR, "duration": _SECONDS,
                "n_classes": Interval("int", 2), "noise": _NOISE, "varying_length": BOOL})
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


# -- sound events whose order in time is the class -------------------------------------------
_EVENT_TYPES = ("chirp", "noise", "tone")


def _ramp_envelope(n, sr, ramp=0.01):
    """Flat envelope with raised-cosine ramps of ``ramp`` seconds at both ends."""
    r = max(1, min(n // 2, int(ramp * sr)))
    env = np.ones(n)
    fade = 0.5 - 0.5 * np.cos(np.pi * np.arange(r) / r)
    env[:r] = fade
    env[n - r:] = fade[::-1]
    return env


def _event(kind, rng, n, sr):
    """One event of ``n`` samples, peak 1: a rising chirp, a noise burst or a harmonic tone."""
    t = np.arange(n) / sr
    nyq = sr / 2
    if kind == "chirp":  # exponential sweep up by 1 to 2 octaves
        f0 = min(rng.uniform(300.0, 900.0), 0.2 * nyq)
        f1 = min(f0 * rng.uniform(2.0, 4.0), 0.85 * nyq)
        freq = f0 * (f1 / f0) ** (t / max(t[-1], 1e-9))
        wave = np.sin(2 * np.pi * np.cumsum(freq) / sr)
    elif kind == "noise":  # white noise band-passed to a 1.2-octave band
        fc = min(rng.uniform(1500.0, 4000.0), 0.5 * nyq)
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / sr)
        spec[(f < fc / 1.5) | (f > fc * 1.5)] = 0
        wave = np.fft.irfft(spec, n)
    else:  # "tone": harmonic note with vibrato
        wave = _harmonic_note(rng, t, min(rng.uniform(150.0, 400.0), 0.1 * nyq), sr)
    wave = wave * _ramp_envelope(n, sr)
    peak = np.abs(wave).max()
    return wave / peak if peak > 0 else wave


def _check_sequence_relations(params):
    duration, sr, n_events = params["duration"], params["sr"], params["n_events"]
    n = int(round(duration * sr))
    if n < 64 * n_events:
        raise InvalidParameterError(
            f"duration={duration} s is {n} samples at sr={sr}, too short for {n_events} "
            f"events; use at least {64 * n_events / sr:.3g} s.")


@validate_args({"n_samples": _COUNT, "sr": _SR, "duration": _SECONDS,
                "n_events": Interval("int", 2, len(_EVENT_TYPES)), "noise": _NOISE},
               relations=_check_sequence_relations)
def make_event_sequences(n_samples=200, *, sr=16000, duration=1.0, n_events=2, noise=0.05,
                         random_state=None):
    """Clips of the same sound events in different orders: a task that needs time order.

    Every clip holds the same ``n_events`` distinct events over white noise: a rising chirp,
    a band-limited noise burst and (for ``n_events=3``) a harmonic tone. The class is the
    order in which they occur, such as ``"chirp_then_noise"`` or ``"noise_then_chirp"``. Each
    event's level, frequencies and length, and the gaps between the events, are drawn the
    same way for every class, so features pooled over time (the mean and standard deviation
    of each mel band, a bag of frames) carry no information on the class and a classifier on
    them stays at chance, while a model that reads the order of the frames (a CRNN) can
    separate the classes.

    Parameters
    ----------
    n_samples : int, default=200
        Number of clips.
    sr : int, default=16000
        Sample rate in Hz.
    duration : float, default=1.0
        Clip length in seconds. The events fill 30 % to 60 % of it, without overlapping.
    n_events : {2, 3}, default=2
        Number of distinct events per clip; there are ``n_events!`` classes (2 or 6).
    noise : float, default=0.05
        Standard deviation of the background noise (events peak between 0.15 and 0.5).
    random_state : int, RandomState instance or None, default=None
        Seed of the generator.

    Returns
    -------
    X : ndarray of shape (n_samples, round(duration * sr))
        Float32 waveforms in [-1, 1].
    y : ndarray of shape (n_samples,)
        Class name of each clip (str), the event names joined by ``"_then_"``; the classes
        take turns, so ``y`` is balanced. The sorted class names are ``np.unique(y)``.

    See Also
    --------
    make_tone_clips : A task that one spectrum per clip already solves.

    Examples
    --------
    >>> from sk_crnn.datasets import make_event_sequences
    >>> X, y = make_event_sequences(4, sr=8000, duration=0.5, random_state=0)
    >>> X.shape, y.tolist()
    ((4, 4000), ['chirp_then_noise', 'noise_then_chirp', 'chirp_then_noise', 'noise_then_chirp'])
    """
    n = int(round(duration * sr))
    rng = check_random_state(random_state)
    kinds = _EVENT_TYPES[:n_events]
    orders = list(itertools.permutations(range(n_events)))
    classes = np.array(["_then_".join(kinds[k] for k in order) for order in orders])
    labels = np.arange(n_samples) % len(orders)
    X = np.empty((n_samples, n), dtype=np.float32)
    for i, label in enumerate(labels):
        # Everything but the order is drawn before, and independently of, the class.
        lengths = (n * rng.uniform(0.3, 0.6, size=n_events) / n_events).astype(int)
        events = [rng.uniform(0.15, 0.5) * _event(kind, rng, m, sr)
                  for kind, m in zip(kinds, lengths)]
        gaps = np.floor(rng.dirichlet(np.ones(n_events + 1)) * (n - lengths.sum())).astype(int)
        clip = noise * rng.standard_normal(n)
        start = 0
        for slot, k in enumerate(orders[label]):
            start += gaps[slot]
            clip[start:start + lengths[k]] += events[k]
            start += lengths[k]
        X[i] = np.clip(clip, -1, 1)
    return X, classes[labels]


# -- polyphonic scenes with event times, for sound event detection ---------------------------
SCENE_EVENT_CLASSES = ("tone", "chirp", "noise", "click", "harmonic")


def _scene_event(kind, rng, n, sr):
    """One event of ``n`` samples, peak 1, of one of :data:`SCENE_EVENT_CLASSES`."""
    if kind in ("chirp", "noise"):
        return _event(kind, rng, n, sr)
    if kind == "harmonic":
        return _event("tone", rng, n, sr)
    t = np.arange(n) / sr
    if kind == "tone":  # a steady sine
        wave = np.sin(2 * np.pi * rng.uniform(500.0, 0.3 * sr) * t)
    else:  # "click": a train of short decaying clicks, 8 to 25 per second
        wave = np.zeros(n)
        click = rng.standard_normal(max(2, int(0.002 * sr))) * np.exp(
            -np.arange(max(2, int(0.002 * sr))) / (0.0005 * sr))
        for start in range(0, n, max(1, int(sr / rng.uniform(8.0, 25.0)))):
            stop = min(n, start + len(click))
            wave[start:stop] += click[: stop - start]
    wave = wave * _ramp_envelope(n, sr, ramp=0.005)
    peak = np.abs(wave).max()
    return wave / peak if peak > 0 else wave


@validate_args({"n_scenes": _COUNT, "duration": Interval("real", 0.5), "sr": _SR,
                "n_classes": Interval("int", 1, len(SCENE_EVENT_CLASSES)),
                "max_polyphony": _COUNT, "noise": _NOISE})
def make_sound_scenes(n_scenes=100, *, duration=10.0, sr=16000, n_classes=3, max_polyphony=2,
                      noise=0.02, random_state=None):
    """Polyphonic scenes of sound events at random times, with their event lists.

    Each scene is white background noise with a few events of ``n_classes`` kinds, taken in
    this order from ``("tone", "chirp", "noise", "click", "harmonic")``: a steady sine, a
    rising chirp, a band-limited noise burst, a click train and a harmonic note with
    vibrato. Events get a random onset (they may touch the scene's start or end), length
    (0.1 s to half the scene, at most 2 s) and level (peak 0.1 to 0.5); at most
    ``max_polyphony`` events sound at once. Targets for
    :class:`~sk_crnn.CRNNEventDetector` and :mod:`sk_crnn.metrics`.

    Parameters
    ----------
    n_scenes : int, default=100
        Number of scenes.
    duration : float, default=10.0
        Scene length in seconds (at least 0.5).
    sr : int, default=16000
        Sample rate in Hz.
    n_classes : int, default=3
        Number of event classes, 1 to 5.
    max_polyphony : int, default=2
        Most events overlapping at any time (1: no overlap).
    noise : float, default=0.02
        Standard deviation of the background noise.
    random_state : int, RandomState instance or None, default=None
        Seed of the generator.

    Returns
    -------
    X : ndarray of shape (n_scenes, round(duration * sr))
        Float32 waveforms in [-1, 1].
    events : list of list of (float, float, str)
        Per scene, ``(onset_seconds, offset_seconds, label)`` sorted by onset; every scene
        has at least one event.

    Examples
    --------
    >>> from sk_crnn.datasets import make_sound_scenes
    >>> X, events = make_sound_scenes(3, duration=2.0, sr=8000, random_state=0)
    >>> X.shape, len(events)
    ((3, 16000), 3)
    >>> all(0 <= on < off <= 2.0 for scene in events for on, off, _ in scene)
    True
    """
    rng = check_random_state(random_state)
    kinds = SCENE_EVENT_CLASSES[:n_classes]
    n = int(round(duration * sr))
    max_len = min(2.0, duration / 2)
    X = np.empty((n_scenes, n), dtype=np.float32)
    all_events = []
    for i in range(n_scenes):
        clip = noise * rng.standard_normal(n)
        busy = np.zeros(n, dtype=np.int32)  # events sounding at each sample
        events = []
        for _ in range(int(rng.randint(1, 2 * max_polyphony + 2))):
            m = int(rng.uniform(0.1, max_len) * sr)
            start = int(rng.randint(0, n - m + 1))
            if events and busy[start:start + m].max() >= max_polyphony:
                continue  # would exceed max_polyphony: skip this draw
            kind = kinds[int(rng.randint(len(kinds)))]
            clip[start:start + m] += rng.uniform(0.1, 0.5) * _scene_event(kind, rng, m, sr)
            busy[start:start + m] += 1
            events.append((start / sr, (start + m) / sr, kind))
        X[i] = np.clip(clip, -1, 1)
        all_events.append(sorted(events))
    return X, all_events


def _check_word_range(value, name):
    """``words_per_phrase``: a (smallest, largest) pair of word counts."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InvalidParameterError(f"{name} must be a (smallest, largest) pair of ints; got "
                                    f"{value!r}.")
    check_param(value[0], f"{name}[0]", _COUNT)
    check_param(value[1], f"{name}[1]", Interval("int", value[0]))


def _check_phrase_relations(params):
    if params["vocabulary"] is None:  # n_words is ignored when vocabulary is given
        check_param(params["n_words"], "n_words", _COUNT)


@validate_args({"n_samples": _COUNT, "sr": _SR, "n_letters": Interval("int", 2, 26),
                "words_per_phrase": Rule(_check_word_range), "letter_duration": _SECONDS,
                "noise": _NOISE}, relations=_check_phrase_relations)
def make_tone_phrases(n_samples=100, *, sr=8000, n_words=10, n_letters=8,
                      words_per_phrase=(1, 4), letter_duration=0.06, noise=0.02,
                      vocabulary=None, random_state=None):
    """Spoken-like phrases of a toy language whose letters are tones, with transcripts.

    Each letter of the alphabet ``a, b, c, ...`` is a short harmonic tone of its own pitch
    (log-spaced between 250 Hz and ``0.3 * sr``) with a soft onset, so repeated letters stay
    distinct; a word is a few letters in a row, and words are separated by 20-80 ms pauses,
    over white noise. ``n_words`` words of 2-4 letters make up the vocabulary and each phrase
    strings together some of them. Handy for examples and tests of
    :class:`~sk_crnn.CRNNTranscriber`: words, characters and phrase lengths are all known.

    Parameters
    ----------
    n_samples : int, default=100
        Number of phrases.
    sr : int, default=8000
        Sample rate in Hz.
    n_words : int, default=10
        Size of the vocabulary (ignored when ``vocabulary`` is given).
    n_letters : int, default=8
        Size of the alphabet (at most 26).
    words_per_phrase : (int, int), default=(1, 4)
        Smallest and largest number of words per phrase.
    letter_duration : float, default=0.06
        Mean length of one letter in seconds (each varies by +-25 %).
    noise : float, default=0.02
        Standard deviation of the background noise (tones peak near 0.3).
    vocabulary : list of str or None, default=None
        The words to use (made of the first ``n_letters`` letters); None draws ``n_words``
        distinct words from ``random_state``.
    random_state : int, RandomState instance or None, default=None
        Seed of the generator.

    Returns
    -------
    X : list of ndarray
        Float32 waveforms in [-1, 1] of different lengths.
    y : ndarray of str, shape (n_samples,)
        Transcripts: words joined by single spaces.

    Examples
    --------
    >>> from sk_crnn.datasets import make_tone_phrases
    >>> X, y = make_tone_phrases(3, n_words=4, random_state=0)
    >>> len(X), y.tolist()
    (3, ['dd', 'dd dd dfc hg', 'dfc dd dfc dfc'])
    """
    low, high = words_per_phrase
    rng = check_random_state(random_state)
    letters = "abcdefghijklmnopqrstuvwxyz"[:n_letters]
    if vocabulary is None:
        words = set()
        while len(words) < n_words:
            words.add("".join(rng.choice(list(letters), size=rng.randint(2, 5))))
        vocabulary = sorted(words)
    pitch = dict(zip(letters, np.geomspace(250.0, 0.3 * sr, n_letters)))
    X, y = [], []
    for _ in range(n_samples):
        n_in_phrase = rng.randint(low, high + 1)
        phrase = [vocabulary[k] for k in rng.randint(0, len(vocabulary), n_in_phrase)]
        parts = [np.zeros(int(rng.uniform(0.05, 0.15) * sr))]
        for w, word in enumerate(phrase):
            if w:
                parts.append(np.zeros(int(rng.uniform(0.02, 0.08) * sr)))
            for letter in word:
                n = max(8, int(letter_duration * rng.uniform(0.75, 1.25) * sr))
                t = np.arange(n) / sr
                tone = _harmonic_note(rng, t, pitch[letter] * rng.uniform(0.98, 1.02), sr, 3)
                parts.append(0.3 * tone / (np.abs(tone).max() + 1e-9) * _ramp_envelope(n, sr))
        parts.append(np.zeros(int(rng.uniform(0.05, 0.15) * sr)))
        clip = np.concatenate(parts)
        X.append(np.clip(clip + noise * rng.standard_normal(len(clip)), -1, 1).astype(np.float32))
        y.append(" ".join(phrase))
    return X, np.array(y)


__all__ = ["load_audio_folder", "make_event_sequences", "make_sound_scenes", "make_tone_clips",
           "make_tone_phrases"]
