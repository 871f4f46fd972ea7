"""Recordings longer than the training clips: predict over windows of the training length.

A fitted pipeline sees every clip padded or cropped to the length its
:class:`~sk_crnn.MelSpectrogramTransformer` learned in fit (``n_samples_``). For a longer
recording, these functions cut it into overlapping windows of that length, run the pipeline
on the windows a batch at a time (so memory beyond the recording is bounded by the batch and
the output), and combine the results: the classifier's window probabilities are averaged, the
event detector's frame probabilities are stitched into one track over the whole recording
(overlapping frames averaged) before events are decoded, so an event that crosses a window
edge is one event.

A recording given as a file path is read block by block (``soundfile``; resampled as it is
read when its rate differs from the transformer's ``sr``), so memory is bounded by a block,
a batch of windows and the output, never the whole recording: an hour of audio is fine.
"""

import os

import numpy as np

from ._validation import BOOL, Interval, check_param

__all__ = ["FrameTrack", "detect_events_long", "predict_proba_long", "window_starts"]


def window_starts(n_samples, window, hop, align=1):
    """Start samples of windows of ``window`` samples every ``hop`` samples covering
    ``n_samples``: one more window reaches the recording's end if the others do not, its
    start rounded up to a multiple of ``align`` (its tail is then zero padding).

    Examples
    --------
    >>> from sk_crnn.windows import window_starts
    >>> window_starts(10, 4, 3).tolist()
    [0, 3, 6]
    >>> window_starts(11, 4, 3).tolist()
    [0, 3, 6, 7]
    >>> window_starts(11, 4, 2, align=2).tolist()
    [0, 2, 4, 6, 8]
    """
    check_param(n_samples, "n_samples", Interval("int", 0))
    check_param(window, "window", Interval("int", 1))
    check_param(hop, "hop", Interval("int", 1, window),
                hint=f"A hop longer than the window (window={window}) would leave samples "
                     "between the windows uncovered.")
    check_param(align, "align", Interval("int", 1))
    if n_samples <= window:
        return np.array([0])
    starts = np.arange(0, n_samples - window + 1, hop)
    if starts[-1] + window < n_samples:
        starts = np.append(starts, -(-(n_samples - window) // align) * align)
    return starts


class FrameTrack:
    """Frame probabilities of overlapping windows, summed into one track and averaged.

    Parameters
    ----------
    n_frames : int
        Frames of the whole recording.
    n_classes : int
        Columns.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn.windows import FrameTrack
    >>> track = FrameTrack(6, 1)
    >>> track.add(0, np.array([[0.0], [0.2], [0.8], [1.0]]))
    >>> track.add(2, np.array([[0.6], [1.0], [0.4], [0.0]]))
    >>> track.mean().ravel().tolist()
    [0.0, 0.2, 0.7, 1.0, 0.4, 0.0]
    """

    def __init__(self, n_frames, n_classes):
        check_param(n_frames, "n_frames", Interval("int", 0))
        check_param(n_classes, "n_classes", Interval("int", 1))
        self.total = np.zeros((n_frames, n_classes))
        self.count = np.zeros((n_frames, 1))

    def add(self, first, proba):
        """Add a window's ``proba`` (n_window_frames, n_classes) from frame ``first`` on;
        frames past the track's end are dropped."""
        check_param(first, "first", Interval("int", 0))
        proba = np.asarray(proba)
        if proba.ndim != 2 or proba.shape[1] != self.total.shape[1]:
            raise ValueError(
                f"FrameTrack.add needs frame probabilities of shape (n_window_frames, "
                f"{self.total.shape[1]}), one column per class of the track; got shape "
                f"{proba.shape}. Add one window at a time (proba[i] of a batch).")
        stop = min(first + len(proba), len(self.total))
        self.total[first:stop] += proba[:stop - first]
        self.count[first:stop] += 1

    def mean(self):
        """The averaged track, shape (n_frames, n_classes); frames no window covered are 0."""
        return self.total / np.maximum(self.count, 1)


def _split(pipeline, func, task):
    """The transformer and the estimator of a fitted pipeline (a leading AudioLoader is
    skipped: pass waveforms at its sample rate), checked for ``func`` before any window is
    computed: ``task`` is "classifier", "detector" or "transcriber"
    (:func:`sk_crnn.long_transcripts.transcribe_long`)."""
    from sklearn.base import is_classifier
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from .detection import CRNNEventDetector
    from .io import AudioLoader
    from .transcription import CRNNTranscriber
    from .transformers import MelSpectrogramTransformer

    wanted = "MelSpectrogramTransformer -> " + {
        "classifier": "CRNNClassifier", "detector": "CRNNEventDetector",
        "transcriber": "CRNNTranscriber"}[task]
    if not hasattr(pipeline, "steps"):
        raise TypeError(f"{func} needs a fitted Pipeline ({wanted}, an AudioLoader may come "
                        f"first); got a {type(pipeline).__name__}. Build it with "
                        "sklearn.pipeline.make_pipeline and fit it.")
    steps = [step for _, step in pipeline.steps]
    if steps and isinstance(steps[0], AudioLoader):
        steps = steps[1:]
    if len(steps) != 2 or not isinstance(steps[0], MelSpectrogramTransformer):
        raise TypeError(f"{func} needs a fitted Pipeline of a MelSpectrogramTransformer and a "
                        f"CRNN estimator ({wanted}; an AudioLoader may come first); got steps "
                        f"{[type(s).__name__ for s in steps]}.")
    mel, est = steps
    if task == "transcriber" and not isinstance(est, CRNNTranscriber):
        raise TypeError(f"{func} needs a fitted Pipeline of a MelSpectrogramTransformer and a "
                        "CRNNTranscriber (an AudioLoader may come first); got a "
                        f"{type(est).__name__}.")
    is_detector = isinstance(est, CRNNEventDetector)
    if task == "detector" and not is_detector:
        other = (" For a classifier, predict_proba_long averages the class probabilities of "
                 "the windows." if is_classifier(est) else "")
        raise TypeError(f"{func} needs an event detector pipeline ({wanted}); got a "
                        f"{type(est).__name__}, which gives no frame probabilities to decode "
                        f"into events.{other}")
    if task == "classifier" and (is_detector or not is_classifier(est)
                                 or not hasattr(est, "predict_proba")):
        other = (" For an event detector, detect_events_long stitches the frame "
                 "probabilities of the windows." if is_detector else "")
        raise TypeError(f"{func} needs a classifier pipeline ({wanted}), whose predict_proba "
                        f"gives one probability per class for each clip; got a "
                        f"{type(est).__name__}.{other}")
    for step in steps:
        try:
            check_is_fitted(step)
        except NotFittedError as exc:
            raise NotFittedError(f"{func} needs a fitted pipeline, but its "
                                 f"{type(step).__name__} is not fitted; call "
                                 "pipeline.fit(X, y) first.") from exc
    return mel, est


def _check_args(func, overlap, batch_size):
    check_param(overlap, "overlap", Interval("real", 0, 1, closed="left"),
                hint=f"({func}: the share of a window that the next one overlaps.)")
    check_param(batch_size, "batch_size", Interval("int", 1),
                hint=f"({func}: the number of windows computed at once, for example 32.)")


def _hop(mel, overlap, align=1):
    """The window length and the hop (a multiple of ``align`` samples)."""
    window = mel.n_samples_
    hop = max(int(round(window * (1 - overlap))), 1)
    return window, max(hop // align, 1) * align


def _windows(blocks, window, starts):
    """Windows of ``window`` samples at ``starts`` (increasing, at most ``window`` apart)
    cut from consecutive ``blocks`` of a recording; the buffer holds at most a window and a
    block. Past the recording's end a window is zero padded."""
    blocks = iter(blocks)
    buf, offset, ended = np.zeros(0, dtype=np.float32), 0, False  # buf[0] is sample `offset`
    for start in starts:
        drop = min(start - offset, len(buf))
        buf, offset = buf[drop:], offset + drop
        while not ended and offset + len(buf) < start + window:
            block = next(blocks, None)
            if block is None:
                ended = True
            else:
                buf = np.concatenate([buf, block])
        clip = buf[start - offset:start - offset + window]
        yield clip if len(clip) == window else np.pad(clip, (0, window - len(clip)))


def _batched(blocks, window, starts, batch_size):
    windows = _windows(blocks, window, starts)
    for i in range(0, len(starts), batch_size):
        yield i, np.stack([next(windows) for _ in starts[i:i + batch_size]])


def _recording(wave, sr, func, block_seconds=10.0):
    """The length in samples (at ``sr``) of a recording and an iterator of its float32 mono
    blocks: an array is checked by the transformer's own waveform checks and is one block; a
    file is read a block at a time."""
    from ._inputs import check_waveforms

    if not isinstance(wave, (str, os.PathLike)):
        several = (isinstance(wave, (list, tuple)) and len(wave) > 0 and (
            isinstance(wave[0], (str, os.PathLike)) or np.ndim(wave[0]) > 0))
        shape = np.shape(wave) if isinstance(wave, np.ndarray) else None
        if several or (shape is not None and len(shape) == 2 and 1 not in shape):
            what = (f"a {type(wave).__name__} of {len(wave)} recordings" if several
                    else f"an array of shape {shape}")
            raise ValueError(
                f"{func} takes one recording (a 1-D array of samples or an audio file path); "
                f"got {what}. Call it once per recording, for example "
                f"[{func}(pipeline, w) for w in recordings]; down-mix a multichannel "
                "recording first (wave.mean(axis=0) for channels first).")
        wave = check_waveforms([wave])[0]
        return len(wave), iter([wave])
    import soundfile as sf

    path = os.fspath(wave)
    try:
        info = sf.info(path)
    except Exception as exc:  # soundfile raises several types for unreadable files
        raise ValueError(
            f"{path!r} could not be opened for reading in blocks ({str(exc).rstrip('.')}); "
            "pass a wav/flac/ogg/mp3 file that soundfile reads, or load it with "
            "sk_crnn.io.load_audio and pass the array.") from exc
    native = info.samplerate
    n_samples = info.frames if native == sr else -(-info.frames * int(sr) // native)
    return n_samples, _file_blocks(path, native, sr, int(block_seconds * native))


def _file_blocks(path, native, sr, block):
    import soundfile as sf

    stream = None
    if native != sr:
        import soxr

        stream = soxr.ResampleStream(native, sr, 1, dtype="float32", quality="HQ")
    with sf.SoundFile(path) as f:
        done = 0
        while True:
            data = f.read(block, dtype="float32", always_2d=True)
            last = len(data) < block or f.tell() >= f.frames
            wave = data.mean(axis=1, dtype=np.float32)
            if not np.isfinite(wave).all():
                bad = done + int(np.flatnonzero(~np.isfinite(wave))[0])
                raise ValueError(f"{path!r} holds NaN or infinite samples (the first at "
                                 f"{bad / native:.3f} s); repair or remove the file.")
            done += len(data)
            yield wave if stream is None else stream.resample_chunk(wave, last=last)
            if last:
                return


def predict_proba_long(pipeline, wave, *, overlap=0.5, batch_size=32):
    """Class probabilities of a recording of any length: the mean over its windows.

    Parameters
    ----------
    pipeline : Pipeline
        A fitted ``MelSpectrogramTransformer -> CRNNClassifier`` pipeline (an
        ``AudioLoader`` may come first).
    wave : ndarray of shape (n_samples,), str or path-like
        The recording, at the transformer's ``sr``, or an audio file, read in blocks
        (downmixed, resampled to ``sr``) so that it is never in memory as a whole.
    overlap : float in [0, 1), default=0.5
        Share of a window that the next one overlaps.
    batch_size : int, default=32
        Windows computed at once.

    Returns
    -------
    proba : ndarray of shape (n_classes,)
        Columns follow ``classes_``.

    Raises
    ------
    TypeError, ValueError, sklearn.exceptions.NotFittedError
        Before any window is computed: for a pipeline that is not a fitted classifier
        pipeline (an event detector's goes to :func:`detect_events_long`), bad ``overlap``
        or ``batch_size``, or more than one recording.
    """
    mel, est = _split(pipeline, "predict_proba_long", "classifier")
    _check_args("predict_proba_long", overlap, batch_size)
    n_samples, blocks = _recording(wave, mel.sr, "predict_proba_long")
    window, hop = _hop(mel, overlap)
    starts = window_starts(n_samples, window, hop)
    total = 0.0
    for _, batch in _batched(blocks, window, starts, batch_size):
        total = total + est.predict_proba(mel.transform(batch)).sum(axis=0)
    return total / len(starts)


def detect_events_long(pipeline, wave, *, overlap=0.5, batch_size=32, return_proba=False):
    """Events over the whole of a recording of any length.

    Frame probabilities of overlapping windows are averaged into one track of
    ``1 + n_samples // hop_length`` frames, which is decoded once (the detector's
    ``threshold`` and ``median_filter``), so events are not cut at window edges.

    Parameters
    ----------
    pipeline : Pipeline
        A fitted ``MelSpectrogramTransformer -> CRNNEventDetector`` pipeline (an
        ``AudioLoader`` may come first).
    wave : ndarray of shape (n_samples,), str or path-like
        The recording, at the transformer's ``sr``, or an audio file, read in blocks
        (downmixed, resampled to ``sr``): memory is bounded by ``batch_size`` windows and
        the frame probabilities, not by the recording.
    overlap : float in [0, 1), default=0.5
        Share of a window that the next one overlaps (rounded to whole frames).
    batch_size : int, default=32
        Windows computed at once.
    return_proba : bool, default=False
        Also return the stitched frame probabilities.

    Returns
    -------
    events : list of (onset, offset, label)
        In seconds from the recording's start, sorted by onset.
    proba : ndarray of shape (n_frames, n_classes)
        Only with ``return_proba``.

    Raises
    ------
    TypeError, ValueError, sklearn.exceptions.NotFittedError
        Before any window is computed: for a pipeline that is not a fitted event detector
        pipeline (a classifier's goes to :func:`predict_proba_long`), a detector without
        ``frame_rate``, bad ``overlap``, ``batch_size`` or ``return_proba``, or more than one
        recording.
    """
    from .events import frames_to_events

    mel, det = _split(pipeline, "detect_events_long", "detector")
    _check_args("detect_events_long", overlap, batch_size)
    check_param(return_proba, "return_proba", BOOL)
    frame_rate = det._need_frame_rate("to give event times in seconds")
    n_samples, blocks = _recording(wave, mel.sr, "detect_events_long")
    window, hop = _hop(mel, overlap, align=mel.hop_length)  # windows start on whole frames
    starts = window_starts(n_samples, window, hop, align=mel.hop_length)
    n_frames = max(1 + n_samples // mel.hop_length, mel.n_frames_)
    track = FrameTrack(n_frames, len(det.classes_))
    for i, batch in _batched(blocks, window, starts, batch_size):
        proba = det.predict_proba(mel.transform(batch))
        for start, p in zip(starts[i:i + len(batch)], proba):
            track.add(start // mel.hop_length, p)
    proba = track.mean()
    events = frames_to_events(proba[None], frame_rate=frame_rate, classes=det.classes_,
                              threshold=det.decision_thresholds(),
                              median_filter=det.median_filter)[0]
    end = n_samples / mel.sr
    events = [(on, min(off, end), label) for on, off, label in events if on < end]
    return (events, proba) if return_proba else events
