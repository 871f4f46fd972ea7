"""The :class:`OnnxStream`: the ONNX streaming step run on a stream, with numpy and
onnxruntime only (this module imports no torch, scikit-learn or skorch)."""

import os

import numpy as np

from ._decoders import StreamingEvents, StreamingText, sorted_events
from ._samples import SampleBuffer, check_chunk

#: The metadata's task -> :class:`Stream`'s task name.
_TASKS = {"detector": "detect", "classifier": "classify", "regressor": "regress",
          "transcriber": "transcribe"}


class OnnxStream:
    """The graph of :func:`~sk_crnn.streaming.export_onnx_step` run on a stream of audio,
    with the API and the outputs of :class:`~sk_crnn.streaming.Stream`.

    It needs numpy and onnxruntime only (no torch, scikit-learn or skorch): the graph
    computes the features and the network; this class keeps, in numpy, the samples the next
    frames need (padding the start and, at :meth:`flush`, the end as the transformer's
    ``pad_mode`` says), sends the graph the frames that are final in blocks of ``P =
    prod(time_pool)`` (holding the rest back), carries the graph's state from one call to
    the next, and decodes events and transcripts as :class:`Stream` does.

    Parameters
    ----------
    path_or_session : str, path-like or onnxruntime.InferenceSession
        The ``.onnx`` file written by :func:`~sk_crnn.streaming.export_onnx_step`, or a
        session that loaded it (to choose its providers and threads).

    Attributes
    ----------
    task : {"detect", "classify", "regress", "transcribe"}
        What :meth:`push` returns, as :attr:`Stream.task`.
    sr : float
        Sample rate of the samples to push.
    frame_rate : float
        Feature frames per second, ``sr / hop_length``.
    metadata : dict
        The graph's metadata (:func:`sk_crnn.export.onnx_metadata`).

    Notes
    -----
    The outputs equal :class:`Stream`'s on any chunking, up to the rounding of the graph's
    front end (a DFT as a convolution or as two matrix stages; within 1e-4): a feature frame is
    final once its samples have arrived, a recurrent step once the ``P`` frames it pools are;
    at :meth:`flush` the last frames are padded as ``pad_mode`` says, and the detector's last
    frames that fill no pooling group take the last step's values.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sk_crnn import CRNNClassifier, MelSpectrogramTransformer
    >>> from sk_crnn.datasets import make_tone_clips
    >>> from sk_crnn.streaming import OnnxStream, Stream, export_onnx_step
    >>> X, y = make_tone_clips(16, sr=8000, duration=0.5, random_state=0)
    >>> pipe = make_pipeline(
    ...     MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=16,
    ...                               top_db=None),
    ...     CRNNClassifier(module__causal=True, module__conv_channels=(4,),
    ...                    module__rnn_hidden=8, max_epochs=2, random_state=0)).fit(X, y)
    >>> path = export_onnx_step(pipe, os.path.join(tempfile.mkdtemp(), "step.onnx"))
    >>> stream, reference = OnnxStream(path), Stream(pipe)
    >>> for chunk in np.array_split(X[0], 7):
    ...     proba, expected = stream.push(chunk), reference.push(chunk)
    >>> bool(np.allclose(stream.flush(), reference.flush(), atol=1e-4))
    True
    """

    def __init__(self, path_or_session):
        from ..export import onnx_metadata

        self._session = _session(path_or_session)
        meta = onnx_metadata(self._session)
        if meta.get("graph") != "streaming_step":
            raise ValueError(
                "OnnxStream runs the streaming step that sk_crnn.streaming.export_onnx_step "
                "writes; this graph's metadata say graph="
                f"{meta.get('graph')!r} (sk_crnn.export_onnx writes whole-clip graphs: run "
                "those with onnxruntime directly). Export the pipeline with export_onnx_step.")
        self.metadata = meta
        self.task = _TASKS[meta["sk_crnn_task"]]
        self.sr = float(meta["sr"])
        self.frame_rate = self.sr / meta["hop_length"]
        self._pool = int(meta["frames_per_step"])
        self._output = meta["output"]
        self._states = meta["state"]
        self._samples = SampleBuffer(n_fft=meta["n_fft"], hop_length=meta["hop_length"],
                                     center=meta["center"], pad_mode=meta["pad_mode"])
        self._decoder = self._text = None
        if self.task == "detect" and meta.get("frame_rate") is not None:
            self._decoder = StreamingEvents(
                classes=meta["classes"], frame_rate=meta["frame_rate"],
                thresholds=meta["thresholds"], median_filter=meta["median_filter"])
        if self.task == "transcribe":
            self._text = StreamingText(meta["vocabulary"], meta["tokens"])
        self._n_outputs = len(meta.get("classes") or meta.get("vocabulary") or []) or None
        self.reset()

    @property
    def n_samples(self):
        """int: Samples pushed since the stream started."""
        return self._samples.n_samples

    @property
    def n_frames(self):
        """int: Feature frames final so far."""
        return self._n_final

    def reset(self):
        """Start a new stream: forget every sample, frame, state and event.

        Returns
        -------
        self : OnnxStream
        """
        self._samples.reset()
        self._state = {s["name"]: np.full([1 if d == "batch" else d for d in s["shape"]],
                                          float(s["init"]), dtype=s["dtype"])
                       for s in self._states}
        self._sent = 0  # frames given to the graph (a multiple of P)
        self._n_final = 0
        self._ended = False
        self._last = None  # classifier: the last outputs; detector: the last frame's
        self._unread = []
        if self._decoder is not None:
            self._decoder.reset()
        if self._text is not None:
            self._text.reset()
        return self

    def push(self, chunk):
        """Take the next samples; return what became final (as :meth:`Stream.push`).

        Parameters
        ----------
        chunk : array-like of shape (n_samples,)
            Mono float samples at :attr:`sr` Hz, of any length (empty too).

        Returns
        -------
        output : ndarray or str or None
            ``"detect"``: the probabilities of the frames that became final, shape
            (n_new_frames, n_classes); ``"classify"``/``"regress"``: the outputs of the audio
            so far (or None before the first step); ``"transcribe"``: the new text.
        """
        if self._ended:
            raise ValueError("flush() ended this stream; call reset() to start a new one.")
        self._samples.append(check_chunk(chunk, "OnnxStream"))
        self._n_final = self._samples.final_frames()
        return self._emit(end=False)

    def flush(self):
        """End the stream; return the rest (the end of the audio padded as the transformer
        pads it), as :meth:`Stream.flush`.

        Returns
        -------
        output : ndarray or str or None
            The last frames, the outputs on the whole audio, or the last text. A second call
            returns nothing new (no frames, the same outputs, ``""``).
        """
        if not self._ended:
            self._n_final = max(self._n_final, self._samples.frames_at_end())
        out = self._emit(end=not self._ended)
        self._ended = True
        return out

    def events(self):
        """The detector's events that finished so far (all of them after :meth:`flush`), as
        :meth:`Stream.events`.

        Returns
        -------
        events : list of (onset, offset, label)
        """
        return sorted_events(self._decoded().finished)

    def new_events(self):
        """The detector's events that finished since the last call of ``new_events``.

        Returns
        -------
        events : list of (onset, offset, label)
        """
        self._decoded()
        new, self._unread = self._unread, []
        return sorted_events(new)

    def _decoded(self):
        if self.task != "detect":
            raise AttributeError(f"events are for an event detector; this stream's task is "
                                 f"{self.task!r}.")
        if self._decoder is None:
            raise ValueError(
                "CRNNEventDetector needs frame_rate (feature frames per second, sr / "
                "hop_length of the MelSpectrogramTransformer) to give event times in seconds; "
                "the graph was exported with frame_rate=None. Fit the detector with frame_rate "
                "and export it again.")
        return self._decoder

    def _emit(self, *, end):
        """Run the graph on the final frames not sent yet, whole groups of P; return the
        task's output."""
        stop = self._n_final
        n_send = (stop - self._sent) // self._pool * self._pool
        out = self._run(self._sent, self._sent + n_send, end=end) if n_send else None
        self._sent += n_send
        self._samples.drop_before(self._sent)
        if self.task == "transcribe":
            return "" if out is None else self._text.push(out[0])
        if self.task in ("classify", "regress"):
            self._last = self._last if out is None else out[0]
            return self._last
        frames = np.zeros((0, self._n_outputs), np.float32) if out is None else out[0]
        if len(frames):
            self._last = frames[-1:]
        if end and self._last is not None:  # the frames of an incomplete group
            frames = np.concatenate([frames, np.repeat(self._last, stop - self._sent, 0)])
        if self._decoder is not None:
            self._unread += self._decoder.push(frames, end=end)
        return frames

    def _run(self, start, stop, *, end):
        """The graph on frames ``start .. stop - 1``; the new state is kept."""
        feeds = {"samples": self._samples.segment(start, stop, end=end)[None], **self._state}
        names = [self._output, *(s["output"] for s in self._states)]
        out, *state = self._session.run(names, feeds)
        self._state = {s["name"]: value for s, value in zip(self._states, state)}
        return out


def _session(source):
    """An onnxruntime session of ``source`` (a path, or a session as it is)."""
    if hasattr(source, "run") and hasattr(source, "get_modelmeta"):
        return source
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(f'OnnxStream needs onnxruntime ({exc}); install it with pip install '
                          '"sk-crnn[onnx]".') from exc
    return onnxruntime.InferenceSession(os.fspath(source), providers=["CPUExecutionProvider"])


OnnxStream.__module__ = "sk_crnn.streaming"  # its public path
