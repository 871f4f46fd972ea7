"""The :class:`Stream`: a fitted pipeline run on audio that is still coming in."""

import copy

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .._validation import check_device
from ..classifier import CRNNClassifier
from ..detection import CRNNEventDetector
from ..io import AudioLoader
from ..modules import CRNN, FrameCRNN, SequenceCRNN
from ..regressor import CRNNRegressor
from ..transcription import CRNNTranscriber
from ..transformers import MelSpectrogramTransformer
from ._frontend import StreamingFrontEnd, check_streamable_frontend
from ._network import CausalSteps
from ._outputs import FrameProbabilities, NewText, RunningProbabilities
from ._samples import check_chunk

#: estimator class -> (task, the network class it streams)
_TASKS = ((CRNNEventDetector, "detect", FrameCRNN), (CRNNTranscriber, "transcribe", SequenceCRNN),
          (CRNNClassifier, "classify", CRNN), (CRNNRegressor, "regress", CRNN))


class Stream:
    """A fitted pipeline run on a stream of audio, chunk by chunk, with its state carried.

    ``push`` takes the next chunk of samples (any size, from one sample to minutes) and
    returns what became final since the last call; ``flush`` ends the stream and returns
    the rest; ``reset`` starts a new one. Between chunks the stream carries the samples the
    next STFT frames still need, the context of each causal convolution, the incomplete
    groups of the time pooling and the recurrent state: memory stays bounded however long the
    stream runs.

    The outputs equal those of the pipeline's estimator on the features of the whole audio
    (the transformer's features without its crop or padding to the fitted length: any
    length), within float32 rounding, however the audio is cut into chunks. For audio of
    exactly the fitted length that is ``pipeline.predict_proba``.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted: a :class:`~sk_crnn.MelSpectrogramTransformer` and a
        :class:`~sk_crnn.CRNNEventDetector`, :class:`~sk_crnn.CRNNClassifier`,
        :class:`~sk_crnn.CRNNRegressor` or :class:`~sk_crnn.CRNNTranscriber` (an
        :class:`~sk_crnn.AudioLoader` before them is allowed: the stream takes samples). The
        network must be causal (``module__causal=True``) and the features frame-local: the
        transformer's ``top_db=None`` and a number for ``ref`` (with ``scale="db"``).
    device : str or torch.device, default="cpu"
        Where the stream computes; a copy of the network is moved there.

    Attributes
    ----------
    task : {"detect", "classify", "regress", "transcribe"}
        What :meth:`push` returns: for ``"detect"`` the probabilities of the new frames, an
        array of shape (n_new_frames, n_classes) (and :meth:`events`); for ``"classify"``
        the class probabilities of the audio so far, shape (n_classes,) (for
        ``"regress"`` the outputs, shape (n_outputs,)), or None before the first recurrent
        step; for ``"transcribe"`` the new text, a str.
    sr : float
        Sample rate of the samples to push, the transformer's ``sr``.
    frame_rate : float
        Feature frames per second, ``sr / hop_length``.

    Notes
    -----
    When an output becomes final: a feature frame once the samples of its STFT window have
    arrived (``n_fft - n_fft // 2`` samples after its centre, with ``center=True``); a
    recurrent step once the ``prod(time_pool)`` frames it pools are final; the detector's
    events once the median filter has seen ``median_filter / 2`` seconds past their end.
    At ``flush`` the last frames are computed with the end padded as ``pad_mode`` says, and
    the detector's last frames that fill no pooling group take the last step's values, as
    :class:`~sk_crnn.modules.FrameCRNN` gives them. A stream shorter than the network's
    smallest input (``prod(time_pool)`` frames) gives no output.

    The classifier's running probabilities after a ``push`` are the classifier's on the
    frames final so far; after ``flush``, on the whole audio. The transcriber's text, all
    chunks joined, is the greedy transcript of ``predict`` on the whole audio (the network on
    the audio's features, with no padding to fill). The stream computes in float32, whatever
    the estimator's ``precision``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sk_crnn import CRNNClassifier, MelSpectrogramTransformer
    >>> from sk_crnn.datasets import make_tone_clips
    >>> from sk_crnn.streaming import Stream
    >>> X, y = make_tone_clips(16, sr=8000, duration=0.5, random_state=0)
    >>> pipe = make_pipeline(
    ...     MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=16,
    ...                               top_db=None),
    ...     CRNNClassifier(module__causal=True, module__conv_channels=(4,),
    ...                    module__rnn_hidden=8, max_epochs=2, random_state=0)).fit(X, y)
    >>> stream = Stream(pipe)
    >>> for chunk in np.array_split(X[0], 7):
    ...     proba = stream.push(chunk)
    >>> final = stream.flush()
    >>> bool(np.allclose(final, pipe.predict_proba(X[:1])[0], atol=1e-5))
    True
    """

    def __init__(self, pipeline, *, device="cpu"):
        (tr_name, transformer), (est_name, estimator) = _steps(pipeline)
        check_streamable_frontend(transformer, tr_name)
        self.task, network = _network(estimator, est_name)
        self.device = check_device(device)
        self.sr = float(transformer.sr)
        self.frame_rate = self.sr / transformer.hop_length
        self.estimator = estimator
        network = copy.deepcopy(network).to(self.device).eval()  # the stream's own copy
        crnn = network.crnn if hasattr(network, "crnn") else network
        nonlinearity = copy.deepcopy(estimator._inference_module().nonlinearity)
        self._front = StreamingFrontEnd(transformer, self.device)
        self._steps = CausalSteps(crnn)
        if self.task == "detect":
            self._out = FrameProbabilities(estimator, crnn, nonlinearity)
        elif self.task == "transcribe":
            self._out = NewText(estimator, crnn, nonlinearity)
        else:
            self._out = RunningProbabilities(crnn, nonlinearity)
        self.reset()

    @property
    def n_samples(self):
        """int: Samples pushed since the stream started."""
        return self._front.n_samples

    @property
    def n_frames(self):
        """int: Feature frames final so far."""
        return self._front.next_frame

    def reset(self):
        """Start a new stream: forget every sample, frame, step and event.

        Returns
        -------
        self : Stream
        """
        self._front.reset()
        self._steps.reset()
        self._out.reset()
        self._ended = False
        self._last = None
        return self

    def push(self, chunk):
        """Take the next samples; return what became final.

        Parameters
        ----------
        chunk : array-like of shape (n_samples,)
            Mono float samples at :attr:`sr` Hz, of any length (empty too).

        Returns
        -------
        output : ndarray or str or None
            ``"detect"``: the probabilities of the frames that became final, shape
            (n_new_frames, n_classes); ``"classify"``/``"regress"``: the outputs of the audio
            so far (or None before the first step); ``"transcribe"``: the text that became
            final (possibly ``""``).
        """
        if self._ended:
            raise ValueError("flush() ended this stream; call reset() to start a new one.")
        samples = _check_chunk(chunk, self.device)
        with torch.inference_mode():
            return self._emit(self._front.push(samples), end=False)

    def flush(self):
        """End the stream; return the rest (the end of the audio padded as the transformer
        pads it).

        Returns
        -------
        output : ndarray or str or None
            As :meth:`push`: the last frames, the outputs on the whole audio, or the last
            text. A second call returns nothing new (no frames, the same outputs, ``""``).
        """
        with torch.inference_mode():
            out = self._emit(self._front.flush(), end=not self._ended)
        self._ended = True
        return out

    def _emit(self, feats, *, end):
        steps = self._steps.push(feats)
        out = self._out.push(steps, self._front.next_frame, end=end)
        if self.task in ("classify", "regress"):
            self._last = out if out is not None else self._last
            return self._last
        return out

    def events(self):
        """The detector's events that finished so far (all of them after :meth:`flush`).

        Returns
        -------
        events : list of (onset, offset, label)
            Times in seconds from the stream's start, sorted as
            :func:`sk_crnn.events.frames_to_events` sorts a clip's events (by onset, offset,
            then class): after ``flush``, exactly its events for the whole audio, with the
            estimator's thresholds and median filter. An event is final once the median
            filter has seen ``median_filter / 2`` seconds of frames past its end.
        """
        return self._decoded().events()

    def new_events(self):
        """The detector's events that finished since the last call of ``new_events``.

        Returns
        -------
        events : list of (onset, offset, label)
            Sorted as :meth:`events`.
        """
        return self._decoded().new_events()

    def _decoded(self):
        if self.task != "detect":
            raise AttributeError(f"events are for an event detector; this stream's task is "
                                 f"{self.task!r}.")
        if self._out.decoder is None:
            self.estimator._need_frame_rate("to give event times in seconds")
        return self._out

    def _state_sizes(self):
        """Elements held per part of the state (the bounded-memory checks)."""
        front = self._front
        sizes = {"audio": front.buffer.numel(), "head": front.head.numel(),
                 **self._steps.sizes()}
        decoder = getattr(self._out, "decoder", None)
        if decoder is not None:
            sizes["median_window"] = decoder.window.size
        return sizes


def _steps(pipeline):
    """The named transformer and estimator of a fitted pipeline, checked."""
    if not isinstance(pipeline, Pipeline):
        raise TypeError(
            "Stream takes a fitted Pipeline of a MelSpectrogramTransformer and a CRNN estimator "
            "(for example make_pipeline(MelSpectrogramTransformer(top_db=None), "
            f"CRNNEventDetector(module__causal=True))); got {type(pipeline).__name__}.")
    steps = [(name, step) for name, step in pipeline.steps
             if step is not None and step != "passthrough"]
    if steps and isinstance(steps[0][1], AudioLoader):
        steps = steps[1:]  # the stream takes samples, not paths
    if len(steps) != 2 or not isinstance(steps[0][1], MelSpectrogramTransformer):
        raise ValueError(
            "Stream takes a Pipeline of a MelSpectrogramTransformer and a CRNN estimator (an "
            "AudioLoader may come first); got steps "
            f"{[type(step).__name__ for _, step in pipeline.steps]}.")
    check_is_fitted(steps[0][1], "n_frames_")
    steps[1][1].check_is_fitted()
    return steps


def _network(estimator, name):
    """The estimator's task and fitted network, checked to be a causal sk_crnn network."""
    found = [(task, network_cls) for cls, task, network_cls in _TASKS
             if isinstance(estimator, cls)]
    if not found:
        raise TypeError(
            f"Stream runs a CRNNEventDetector, CRNNClassifier, CRNNRegressor or "
            f"CRNNTranscriber; got {type(estimator).__name__}.")
    task, network_cls = found[0]
    network = estimator.module_
    if type(network) is not network_cls:
        raise TypeError(
            f"Stream runs sk_crnn's own {network_cls.__name__} networks, whose state it knows "
            f"how to carry; this {type(estimator).__name__} has a {type(network).__name__}.")
    crnn = network.crnn if hasattr(network, "crnn") else network
    if not crnn.causal:
        raise ValueError(
            f"Stream needs a causal network, but {type(estimator).__name__}'s network reads "
            "future frames (a bidirectional recurrent layer, centred convolutions). Fit the "
            f"pipeline with {name}__module__causal=True: a unidirectional recurrent layer and "
            "convolutions that look back only.")
    return task, network


def _check_chunk(chunk, device):
    """A chunk of samples as a 1-D float32 tensor on ``device``, or a clear error."""
    return torch.from_numpy(np.ascontiguousarray(check_chunk(chunk, "Stream"))).to(device)


Stream.__module__ = "sk_crnn.streaming"  # its public path
