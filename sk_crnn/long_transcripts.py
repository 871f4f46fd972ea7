"""Recordings longer than a transcriber's training clips: cut at pauses, transcribe, join.

A fitted transcription pipeline pads or crops every clip to the length its
:class:`~sk_crnn.MelSpectrogramTransformer` learned in fit (``n_samples_``), so ``predict`` on a
ten-minute recording gives the transcript of its first seconds only. :func:`transcribe_long`
cuts the recording at pauses into pieces no longer than that length, transcribes the pieces a
batch at a time and joins their texts with single spaces; :func:`split_at_pauses` is the
cutting on its own.

Pauses are found from the energy of the recording: the mean power of 10 ms blocks, smoothed
over 50 ms, in dB. Within each span of the longest allowed piece, a block is part of a pause
when it lies at least ``pause_db`` under the span's level (the 95th percentile of its block
levels); the cut goes to the middle of the quietest pause (the last one, of those within
3 dB of the quietest, so that pieces are long), after the first sound of the span. A span
without a pause is cut at its end (a hard cut, which may split a word).
"""

import os

import numpy as np

from ._validation import Interval, validate_args
from .windows import _split

_POSITIVE = Interval("real", 0, closed="neither")

__all__ = ["split_at_pauses", "transcribe_long"]

_BLOCK_SECONDS = 0.01  # block of the energy track
_SMOOTH_BLOCKS = 5  # blocks averaged (50 ms)
_NEAR_DB = 3.0  # pauses this close to the quietest one count as quiet as it


def _block_levels(wave, hop):
    """Smoothed power of blocks of ``hop`` samples, in dB."""
    n_blocks = -(-len(wave) // hop)
    padded = np.zeros(n_blocks * hop, dtype=np.float32)
    padded[:len(wave)] = wave
    power = np.square(padded).reshape(n_blocks, hop).mean(axis=1, dtype=np.float64)
    power[-1] *= hop / (len(wave) - (n_blocks - 1) * hop)  # the last block's true length
    kernel = np.ones(_SMOOTH_BLOCKS)
    counts = np.convolve(np.ones(n_blocks), kernel, mode="same")  # fewer blocks at the ends
    smooth = np.convolve(power, kernel, mode="same") / counts
    return 10.0 * np.log10(smooth + 1e-10)


def _cut_in(levels, lo, hi, pause_db):
    """Index (from ``lo``) of the block to cut at among blocks ``lo..hi``, or None."""
    level = levels[lo:hi + 1]
    quiet = level <= np.percentile(level, 95) - pause_db
    loud = np.flatnonzero(~quiet)
    if not loud.size:
        return None  # silence throughout: cut at the span's end
    first_sound = loud[0]  # the pause the span starts in (its previous cut) is not a candidate
    level, quiet = level[first_sound:], quiet[first_sound:]
    if not quiet.any():
        return None
    near = quiet & (level <= level[quiet].min() + _NEAR_DB)
    last = np.flatnonzero(near)[-1]
    first = last
    while first > 0 and near[first - 1]:
        first -= 1
    return first_sound + (first + last) // 2


@validate_args({"sr": _POSITIVE, "max_samples": Interval("int", 1), "pause_db": _POSITIVE})
def split_at_pauses(wave, sr, max_samples, *, pause_db=12.0):
    """Where to cut a recording into pieces of at most ``max_samples``, at pauses if it can.

    Parameters
    ----------
    wave : array-like of shape (n_samples,)
        Mono waveform.
    sr : float
        Its sample rate in Hz (for the 10 ms blocks of the energy track).
    max_samples : int
        Longest piece, in samples: for a transcription pipeline, the ``n_samples_`` of its
        ``MelSpectrogramTransformer``.
    pause_db : float, default=12.0
        How far under the level of a span (the 95th percentile of its 10 ms block levels) a
        block must lie to be part of a pause, in dB.

    Returns
    -------
    bounds : ndarray of int64, shape (n_pieces + 1,)
        Increasing sample indices from 0 to ``n_samples``: piece ``i`` is
        ``wave[bounds[i]:bounds[i + 1]]``, never longer than ``max_samples``. A recording no
        longer than ``max_samples`` is one piece.

    See Also
    --------
    transcribe_long : Cuts a recording with this function and transcribes the pieces.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn.long_transcripts import split_at_pauses
    >>> sr = 1000
    >>> tone = np.sin(np.arange(400) * 0.3)
    >>> gap = np.zeros(200)
    >>> wave = np.concatenate([tone, gap, tone, gap, tone])  # pauses at 400-600, 1000-1200
    >>> split_at_pauses(wave, sr, 900).tolist()
    [0, 495, 1095, 1600]
    """
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"wave must be a 1-D (mono) waveform; got shape {wave.shape}.")
    if not np.isfinite(wave).all():
        raise ValueError("wave holds NaN or infinite samples; repair the recording first.")
    n = len(wave)
    if n <= max_samples:
        return np.array([0, n], dtype=np.int64)
    hop = max(int(round(_BLOCK_SECONDS * sr)), 1)
    levels = _block_levels(wave, hop)
    bounds, start = [0], 0
    while n - start > max_samples:
        end = start + max_samples
        lo = start // hop + (start // hop * hop + hop // 2 <= start)  # cuts land in (start, end]
        hi = (end - hop // 2) // hop
        found = _cut_in(levels, lo, hi, pause_db) if hi >= lo else None
        start = end if found is None else (lo + found) * hop + hop // 2
        bounds.append(start)
    bounds.append(n)
    return np.asarray(bounds, dtype=np.int64)


@validate_args({"sr": [_POSITIVE, None], "batch_size": Interval("int", 1)})
def transcribe_long(pipeline, wave, *, sr=None, pause_db=12.0, batch_size=32,
                    return_pieces=False):
    """Transcript of a recording of any length: cut at pauses, transcribed piece by piece.

    The recording is cut with :func:`split_at_pauses` into pieces no longer than the clips
    the pipeline's ``MelSpectrogramTransformer`` pads or crops to (``n_samples_``), each
    piece is transcribed as a clip of its own, and the non-empty texts are joined with single
    spaces. A recording no longer than ``n_samples_`` gives ``pipeline.predict([wave])[0]``.

    Parameters
    ----------
    pipeline : Pipeline
        A fitted ``MelSpectrogramTransformer -> CRNNTranscriber`` pipeline (an
        ``AudioLoader`` may come first).
    wave : ndarray of shape (n_samples,), str or path-like
        The recording, or an audio file (read whole, downmixed and resampled to the
        transformer's ``sr`` with :func:`sk_crnn.io.load_audio`).
    sr : float or None, default=None
        Sample rate of an array ``wave``; None means the transformer's ``sr``. Another rate
        is resampled to it.
    pause_db : float, default=12.0
        How far under the level of its surroundings a pause lies, in dB (see
        :func:`split_at_pauses`).
    batch_size : int, default=32
        Pieces transcribed at once.
    return_pieces : bool, default=False
        Also return the pieces: their start and end in seconds and their text.

    Returns
    -------
    transcript : str
        The texts of the pieces, joined with single spaces.
    pieces : list of (float, float, str)
        Only with ``return_pieces``: ``(start, end, text)`` of each piece, in seconds from the
        recording's start.

    See Also
    --------
    sk_crnn.windows.predict_proba_long : The same for a classifier.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sk_crnn import CRNNTranscriber, MelSpectrogramTransformer
    >>> from sk_crnn.datasets import make_tone_phrases
    >>> from sk_crnn.long_transcripts import transcribe_long
    >>> X, y = make_tone_phrases(8, n_words=3, random_state=0)
    >>> asr = make_pipeline(
    ...     MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=80, n_mels=16),
    ...     CRNNTranscriber(max_epochs=1, module__conv_channels=(4,), module__rnn_hidden=4,
    ...                     random_state=0)).fit(X, y)
    >>> import numpy as np
    >>> text, pieces = transcribe_long(asr, np.concatenate(X), return_pieces=True)
    >>> isinstance(text, str), len(pieces) > 1
    (True, True)
    """
    from ._inputs import check_waveforms

    mel, asr = _split(pipeline, "transcribe_long", "transcriber")
    if isinstance(wave, (str, os.PathLike)):
        if sr is not None:
            raise ValueError("sr is the rate of an array wave; a file is read at the "
                             "transformer's sr: leave sr=None.")
        from .io import load_audio

        wave = load_audio(wave, sr=mel.sr)[0]
    wave = np.asarray(wave)
    if wave.ndim != 1:
        raise ValueError(f"wave must be one mono recording, of shape (n_samples,); got shape "
                         f"{wave.shape}. Transcribe several recordings one at a time.")
    wave = check_waveforms([wave])[0]
    if sr is not None and sr != mel.sr:
        import librosa

        wave = librosa.resample(wave, orig_sr=sr, target_sr=mel.sr, res_type="soxr_hq")
    bounds = split_at_pauses(wave, mel.sr, mel.n_samples_, pause_db=pause_db)
    pieces = [wave[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    texts = []
    for i in range(0, len(pieces), batch_size):
        texts.extend(asr.predict(mel.transform(pieces[i:i + batch_size])))
    transcript = " ".join(" ".join(texts).split())
    if not return_pieces:
        return transcript
    seconds = bounds / mel.sr
    return transcript, [(float(a), float(b), str(t))
                        for a, b, t in zip(seconds[:-1], seconds[1:], texts)]
