"""Sound event detection: a CRNN that keeps the time axis and says when each event happens."""

import warnings
from numbers import Real

import numpy as np
import torch
from scipy.ndimage import median_filter as _median_filter
from sklearn.utils import check_consistent_length
from skorch import NeuralNet
from torch import nn
from torch.nn import functional as F

from ._netbase import SpectrogramNetMixin
from .modules import CRNN

__all__ = ["CRNNEventDetector", "FrameCRNN", "events_to_frames", "frames_to_events"]


class FrameCRNN(nn.Module):
    """A :class:`~sk_crnn.modules.CRNN` with one output vector per input frame.

    The recurrent output of every time step (``CRNN.sequence``) goes through the CRNN's
    dropout and linear output layer, giving ``n_outputs`` logits per step; where the conv
    blocks pooled over time (``time_pool > 1``) the steps are repeated (nearest-neighbour
    upsampling) back to the number of input frames.

    Parameters
    ----------
    n_mels : int
        Number of mel bands.
    n_outputs : int
        Number of event classes.
    n_frames : int or None, default=None
        Number of frames; None accepts any length that survives the time pooling.
    **crnn_params : dict
        Any other :class:`~sk_crnn.modules.CRNN` argument (``conv_channels``, ``time_pool``,
        ``rnn_hidden``, ...) except ``pooling``, which a frame-wise output has no use for.

    Examples
    --------
    >>> import torch
    >>> from sk_crnn.detection import FrameCRNN
    >>> net = FrameCRNN(n_mels=16, n_outputs=3, conv_channels=(4,), time_pool=2)
    >>> net(torch.zeros(2, 16, 25)).shape
    torch.Size([2, 25, 3])
    """

    def __init__(self, *, n_mels, n_outputs, n_frames=None, **crnn_params):
        super().__init__()
        if "pooling" in crnn_params:
            raise ValueError(
                "FrameCRNN has one output per frame, so it takes no pooling parameter; got "
                f"pooling={crnn_params['pooling']!r}. Remove module__pooling."
            )
        self.crnn = CRNN(n_mels=n_mels, n_outputs=n_outputs, n_frames=n_frames, **crnn_params)

    def forward(self, X):
        """Per-frame logits.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, n_mels, n_frames) or (batch, 1, n_mels, n_frames)

        Returns
        -------
        logits : torch.Tensor of shape (batch, n_frames, n_outputs)
        """
        n_frames = X.shape[-1]
        out = self.crnn.head(self.crnn.dropout(self.crnn.sequence(X)))  # (batch, T', C)
        if out.shape[1] != n_frames:
            out = F.interpolate(out.transpose(1, 2), size=n_frames, mode="nearest")
            out = out.transpose(1, 2)
        return out


# -- event lists <-> frame matrices -----------------------------------------------------------
def _is_frame_matrix(y):
    return isinstance(y, np.ndarray) and y.dtype.kind in "biuf" and y.ndim == 3


def check_event_lists(y, *, n_frames=None, frame_rate=None, classes=None):
    """Validate per-clip event lists; return them as a list of lists of (float, float, label).

    Raises a ValueError naming the clip and the event for a malformed event, an onset not
    before its offset, an event past the clip end (when ``n_frames`` and ``frame_rate`` are
    given) or a label outside ``classes`` (when given).
    """
    if isinstance(y, np.ndarray) and y.dtype != object:
        raise ValueError(
            f"y must be a list of event lists, one per clip, or a 0/1 array of shape "
            f"(n_clips, n_frames, n_classes); got an array of shape {y.shape} and dtype "
            f"{y.dtype}."
        )
    if isinstance(y, (str, bytes)) or not hasattr(y, "__len__"):
        raise ValueError(f"y must be a list of event lists, one per clip; got {type(y).__name__}.")
    known = None if classes is None else set(np.asarray(classes).tolist())
    end = None if n_frames is None or frame_rate is None else n_frames / frame_rate
    out = []
    for i, clip in enumerate(y):
        if isinstance(clip, (str, bytes)) or not hasattr(clip, "__iter__"):
            raise ValueError(
                f"y[{i}] must be a list of (onset, offset, label) events; got {clip!r}."
            )
        events = []
        for event in clip:
            try:
                onset, offset, label = event
                onset, offset = float(onset), float(offset)
            except (TypeError, ValueError):
                raise ValueError(
                    f"Event {event!r} of clip {i} is not an (onset_seconds, offset_seconds, "
                    "label) triple."
                ) from None
            if not (np.isfinite(onset) and np.isfinite(offset)) or onset < 0:
                raise ValueError(
                    f"Event {event!r} of clip {i} has a negative or non-finite time; onsets "
                    "and offsets are seconds from the clip start."
                )
            if offset <= onset:
                raise ValueError(
                    f"Event {event!r} of clip {i} has its onset at or after its offset; give "
                    "(onset, offset, label) with onset < offset."
                )
            if end is not None and offset > end + 1 / frame_rate:
                raise ValueError(
                    f"Event {event!r} of clip {i} ends past the clip end: the features have "
                    f"{n_frames} frames, {end:.3f} s at frame_rate={frame_rate:g} frames/s. "
                    "Check the event times, or frame_rate may be wrong (it is sr / hop_length "
                    "of the MelSpectrogramTransformer)."
                )
            if known is not None and _plain(label) not in known:
                raise ValueError(
                    f"Event {event!r} of clip {i} has label {label!r}, which is not one of the "
                    f"classes {sorted(known, key=str)}."
                )
            events.append((onset, offset, label))
        out.append(events)
    return out


def _plain(label):
    return label.item() if isinstance(label, np.generic) else label


def _label_kind(label):
    """'string', 'bytes', 'boolean' or 'number': event labels of one fit share one kind."""
    if isinstance(label, str):
        return "string"
    if isinstance(label, bytes):
        return "bytes"
    if isinstance(label, bool):
        return "boolean"
    return "number"


def events_to_frames(events, *, n_frames, frame_rate, classes):
    """Turn per-clip event lists into a 0/1 frame matrix.

    Frame ``t`` (centred at ``t / frame_rate`` seconds) is active for an event when
    ``round(onset * frame_rate) <= t < round(offset * frame_rate)``; every event covers at
    least one frame.

    Parameters
    ----------
    events : list of list of (onset, offset, label)
        Events of each clip, times in seconds.
    n_frames : int
        Frames per clip.
    frame_rate : float
        Frames per second (``sr / hop_length``).
    classes : array-like of shape (n_classes,)
        Labels, in column order.

    Returns
    -------
    Y : ndarray of shape (n_clips, n_frames, n_classes)
        Float32 0/1 activity.
    """
    classes = list(np.asarray(classes).tolist())
    column = {c: k for k, c in enumerate(classes)}
    Y = np.zeros((len(events), n_frames, len(classes)), dtype=np.float32)
    for i, clip in enumerate(events):
        for onset, offset, label in clip:
            start = min(int(round(onset * frame_rate)), n_frames - 1)
            stop = min(max(int(round(offset * frame_rate)), start + 1), n_frames)
            Y[i, start:stop, column[_plain(label)]] = 1
    return Y


def frames_to_events(proba, *, frame_rate, classes, threshold=0.5, median_filter=0.0):
    """Decode frame probabilities into per-clip event lists.

    Each class's probabilities are thresholded, then smoothed by a median filter over time
    (a majority vote over ``median_filter`` seconds, which removes short gaps and blips);
    every run of active frames from ``s`` to ``e`` (exclusive) becomes the event
    ``(s / frame_rate, e / frame_rate, label)``.

    Parameters
    ----------
    proba : array-like of shape (n_clips, n_frames, n_classes)
        Frame probabilities (or 0/1 activity).
    frame_rate : float
        Frames per second.
    classes : array-like of shape (n_classes,)
        Label of each column.
    threshold : float, default=0.5
        A frame is active where the probability is above it.
    median_filter : float, default=0.0
        Median filter length in seconds (rounded to an odd number of frames); 0 is off.

    Returns
    -------
    events : list of list of (float, float, label)
        Per clip, sorted by onset, then label column.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn.detection import frames_to_events
    >>> p = np.array([[0.1, 0.9, 0.8, 0.2, 0.7]])[:, :, None]
    >>> frames_to_events(p, frame_rate=10, classes=["dog"])
    [[(0.1, 0.3, 'dog'), (0.4, 0.5, 'dog')]]
    """
    proba = np.asarray(proba)
    if proba.ndim != 3:
        raise ValueError(f"proba must be 3-D (n_clips, n_frames, n_classes); got {proba.shape}.")
    classes = list(np.asarray(classes).tolist())
    active = proba > threshold
    width = int(round(median_filter * frame_rate))
    if width > 1:
        width += 1 - width % 2  # odd, so the filter is centred
        # Frames outside the clip count as inactive, so a blip at either edge is voted away as
        # one in the middle is; an event touching an edge keeps its edge frames when it lasts
        # at least half the filter.
        active = _median_filter(active.astype(np.uint8), size=(1, width, 1), mode="constant",
                                cval=0) > 0
    padded = np.pad(active, ((0, 0), (1, 1), (0, 0))).astype(np.int8)
    change = np.diff(padded, axis=1)  # +1 at run starts, -1 one past run ends
    out = []
    for clip in change:
        events = []
        for k, label in enumerate(classes):
            starts = np.flatnonzero(clip[:, k] == 1)
            stops = np.flatnonzero(clip[:, k] == -1)
            events += [(s / frame_rate, e / frame_rate, k, label) for s, e in zip(starts, stops)]
        events.sort(key=lambda ev: ev[:3])
        out.append([(float(on), float(off), label) for on, off, _, label in events])
    return out


# -- the estimator ----------------------------------------------------------------------------
class CRNNEventDetector(SpectrogramNetMixin, NeuralNet):
    """Sound event detection with a convolutional recurrent network.

    The network keeps the time axis: the recurrent output of every frame goes through a
    linear layer to one sigmoid per event class (:class:`FrameCRNN`), trained with
    ``BCEWithLogitsLoss`` per frame. ``predict`` decodes the frame probabilities into
    events with ``threshold`` and ``median_filter``; ``score`` is the event-based F1 of
    DCASE (computed with ``sed_eval``). Only strong labels (event times) are supported.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=FrameCRNN
        The network; ``n_mels``, ``n_frames`` and ``n_outputs`` are inferred at fit. Set
        other arguments with ``module__<name>`` (``module__conv_channels``,
        ``module__time_pool``, ``module__rnn_hidden``, ...).
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Optimizer; its arguments are set with ``optimizer__<name>``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=20
        Number of passes over the training data.
    batch_size : int, default=32
        Clips per mini-batch (training batches are shuffled).
    train_split : callable or None, default=None
        skorch's internal validation split; None trains on all data.
    criterion : torch loss class, default=torch.nn.BCEWithLogitsLoss
        Per-frame training loss.
    frame_rate : float or None, default=None
        Feature frames per second, ``sr / hop_length`` of the ``MelSpectrogramTransformer``.
        Needed to train on event lists and for ``predict`` and ``score`` (event times are in
        seconds); with ``center=True`` frame ``t`` is centred at ``t / frame_rate`` seconds.
    threshold : float, default=0.5
        A frame is active for a class where its probability is above ``threshold``.
    median_filter : float, default=0.1
        Length in seconds of the median filter over the thresholded frames; 0 turns it off.
    pos_weight : "balanced", float, array-like of shape (n_classes,) or None, default="balanced"
        Weight of the active frames in the loss (``BCEWithLogitsLoss(pos_weight=...)``).
        Events are rare (a class is often active in a few percent of the frames), and without
        it the network learns to say "nothing" everywhere. ``"balanced"`` uses, per class,
        inactive frames / active frames of the training targets, clipped to [1, 100]; None
        weighs every frame alike. Ignored when ``criterion__pos_weight`` is given.
    classes : array-like or None, default=None
        The event labels and their column order; None takes the sorted labels found in the
        training events (or ``np.arange(n_classes)`` for a frame matrix ``y``). Set it when
        a training subset may lack a class.
    verbose : int, default=0
        0 prints nothing; 1 prints skorch's table of losses per epoch.
    progress_bar : bool, default=False
        Show a per-batch progress bar during fit.
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds weight initialisation, dropout and shuffling; torch's global RNG state is
        restored afterwards.
    device : str or torch.device, default="cpu"
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    **kwargs : dict
        Any other skorch ``NeuralNet`` parameter or ``module__*``, ``optimizer__*`` parameter.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Event labels, one per output column.
    n_outputs_ : int
        Number of event classes.
    pos_weight_ : ndarray of shape (n_classes,) or None
        The active-frame weights used in training.
    n_mels_in_ : int
        Number of mel bands of the spectrograms seen in fit.
    n_frames_in_ : int
        Number of frames of the spectrograms seen in fit.
    module_ : torch.nn.Module
        The trained network.
    history_ : skorch.History
        Losses and timings per epoch.
    training_failed_ : str
        Set only when the training loss became NaN or infinite (``fit`` then raised
        ``FloatingPointError``): why the detector refuses to predict until fitted again.

    See Also
    --------
    sk_crnn.CRNNClassifier : One label (or label set) per clip instead of events in time.
    sk_crnn.metrics.event_f1 : The score.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn import CRNNEventDetector
    >>> X = np.random.RandomState(0).randn(6, 16, 40).astype("float32")
    >>> y = [[(0.5, 1.5, "dog")], [(0.1, 0.3, "bird"), (1.0, 3.9, "dog")], [], [], [], []]
    >>> det = CRNNEventDetector(frame_rate=10, max_epochs=2, module__conv_channels=(4,),
    ...                         module__rnn_hidden=4, random_state=0).fit(X, y)
    >>> det.classes_.tolist(), det.predict_proba(X).shape
    (['bird', 'dog'], (6, 40, 2))
    >>> len(det.predict(X))
    6
    """

    def __init__(
        self,
        *,
        module=FrameCRNN,
        criterion=torch.nn.BCEWithLogitsLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=20,
        batch_size=32,
        train_split=None,
        frame_rate=None,
        threshold=0.5,
        median_filter=0.1,
        pos_weight="balanced",
        classes=None,
        verbose=0,
        progress_bar=False,
        random_state=None,
        device="cpu",
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            verbose=verbose,
            device=device,
            **kwargs,
        )
        self.frame_rate = frame_rate
        self.threshold = threshold
        self.median_filter = median_filter
        self.pos_weight = pos_weight
        self.classes = classes
        self.progress_bar = progress_bar
        self.random_state = random_state

    @property
    def classes_(self):
        if "classes_inferred_" not in vars(self):
            raise AttributeError(
                f"{type(self).__name__} has no attribute 'classes_': it is set by fit."
            )
        return self.classes_inferred_

    # -- checks -------------------------------------------------------------------------------
    def _check_params(self):
        self._check_net_params()
        fr = self.frame_rate
        if fr is not None and (isinstance(fr, bool) or not isinstance(fr, Real) or fr <= 0):
            raise ValueError(
                f"frame_rate must be None or a positive number of frames per second (sr / "
                f"hop_length); got {fr!r}."
            )
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, Real) or not 0 <= t < 1:
            raise ValueError(f"threshold must be a number in [0, 1); got {t!r}.")
        m = self.median_filter
        if isinstance(m, bool) or not isinstance(m, Real) or not m >= 0:
            raise ValueError(
                f"median_filter must be a length in seconds >= 0 (0 turns it off); got {m!r}."
            )

    def _need_frame_rate(self, what):
        if self.frame_rate is None:
            raise ValueError(
                f"{type(self).__name__} needs frame_rate (feature frames per second, sr / "
                f"hop_length of the MelSpectrogramTransformer) {what}; got frame_rate=None."
            )
        return float(self.frame_rate)

    def _check_fit_data(self, X, y, *, reset):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        X = self._check_X(X)
        check_consistent_length(X, y)
        if not reset:
            self._check_shape(X)
        y, fitted = self._check_targets(y, reset=reset, n_frames=X.shape[-1])
        if reset:
            self.n_mels_in_, self.n_frames_in_ = (int(s) for s in X.shape[-2:])
            for name, value in fitted.items():
                setattr(self, name, value)
        return X, y

    def _check_targets(self, y, *, reset, n_frames):
        classes = None if reset else self.classes_
        if reset and self.classes is not None:
            classes = np.asarray(self.classes)
            if classes.ndim != 1 or len(np.unique(classes)) != len(classes):
                raise ValueError(
                    f"classes must be a 1-D sequence of distinct labels; got {self.classes!r}."
                )
        if hasattr(y, "detach"):
            y = y.detach().cpu().numpy()
        if _is_frame_matrix(y):
            if y.shape[1] != n_frames:
                raise ValueError(
                    f"y is a frame matrix of shape {y.shape} but X has {n_frames} frames; pass "
                    "y of shape (n_clips, n_frames, n_classes), or event lists as a list."
                )
            if not np.isin(y, (0, 1)).all():
                raise ValueError("A frame matrix y must hold only 0 and 1.")
            if classes is None:
                classes = np.arange(y.shape[2])
            if y.shape[2] != len(classes):
                raise ValueError(
                    f"y has {y.shape[2]} class columns but there are {len(classes)} classes "
                    f"({np.asarray(classes).tolist()})."
                )
            Y = y.astype(np.float32)
        else:
            frame_rate = self._need_frame_rate("to turn event lists into frame targets")
            events = check_event_lists(y, n_frames=n_frames, frame_rate=frame_rate,
                                       classes=classes)
            offsets = [offset for clip in events for _, offset, _ in clip]
            clip_seconds = n_frames / frame_rate
            if len(offsets) >= 10 and max(offsets) < 0.5 * clip_seconds:
                warnings.warn(
                    f"All {len(offsets)} training events end in the first half of the clips "
                    f"(the latest at {max(offsets):.3f} s of {clip_seconds:.3f} s at "
                    f"frame_rate={frame_rate:g}); frame_rate may be too low: it must be "
                    "sr / hop_length of the MelSpectrogramTransformer.",
                    UserWarning, stacklevel=3,
                )
            if classes is None:
                labels, first = set(), {}  # first: kind -> its first label (True == 1 in a set)
                for clip in events:
                    for _, _, label in clip:
                        label = _plain(label)
                        labels.add(label)
                        first.setdefault(_label_kind(label), label)
                if not labels:
                    raise ValueError(
                        "y holds no events at all; a detector needs at least one event to "
                        "learn from (or pass classes=[...] to fix the labels)."
                    )
                kinds = set(first)
                if len(kinds) > 1:
                    examples = ", ".join(repr(first[kind]) for kind in sorted(kinds))
                    raise ValueError(
                        f"Event labels mix {' and '.join(sorted(kinds))} ({examples}); use "
                        "one type for all labels, e.g. all strings."
                    )
                classes = np.asarray(sorted(labels))
            Y = events_to_frames(events, n_frames=n_frames, frame_rate=frame_rate,
                                 classes=classes)
        return Y, {"classes_inferred_": np.asarray(classes), "n_outputs_": len(classes)}

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, X, y, **fit_params):
        """Fit the network on spectrograms and event targets.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms, e.g. from ``MelSpectrogramTransformer``.
        y : list of list of (onset, offset, label) or ndarray of shape (n_clips, n_frames, \
n_classes)
            Per clip, its events with times in seconds (needs ``frame_rate``); or a 0/1 array
            of frame activity. A 1-D object array of event lists works too.
        **fit_params : dict
            Passed to skorch.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        reset = not (self.warm_start and self.initialized_ and hasattr(self, "n_outputs_"))
        self._check_params()
        X, Y = self._check_fit_data(X, y, reset=reset)
        if reset:
            self.pos_weight_ = self._pos_weight(Y)
        with self._seeded():
            if reset:
                self.initialize()
            super().partial_fit(X, Y, **fit_params)
        return self

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initializing a fitted network.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms of the fitted shape.
        y : list of list of (onset, offset, label) or ndarray of shape (n_clips, n_frames, \
n_classes)
            Event targets, as in :meth:`fit`.
        classes : None
            Unused; pass ``classes`` to the constructor to fix the label set.
        **fit_params : dict
            Passed to skorch.

        Returns
        -------
        self : object
        """
        reset = not (self.initialized_ and hasattr(self, "n_outputs_"))
        self._check_params()
        X, Y = self._check_fit_data(X, y, reset=reset)
        if reset:
            self.pos_weight_ = self._pos_weight(Y)
        with self._seeded():
            if reset:
                self.initialize()
            super().partial_fit(X, Y, **fit_params)
        return self

    def _pos_weight(self, Y):
        """Per-class weight of the active frames, from ``pos_weight`` and the targets ``Y``."""
        pw = self.pos_weight
        if pw is None:
            return None
        n_classes = Y.shape[-1]
        if isinstance(pw, str):
            if pw != "balanced":
                raise ValueError(f"pos_weight must be 'balanced', a number, an array of one "
                                 f"weight per class or None; got {pw!r}.")
            active = Y.reshape(-1, n_classes).sum(axis=0, dtype=np.float64)
            total = Y.shape[0] * Y.shape[1]
            return np.clip((total - active) / np.maximum(active, 1.0), 1.0, 100.0)
        weights = np.broadcast_to(np.asarray(pw, dtype=np.float64), (n_classes,)).copy() if (
            np.ndim(pw) == 0 or np.shape(pw) == (n_classes,)) else None
        if weights is None or not np.all(np.isfinite(weights)) or np.any(weights <= 0):
            raise ValueError(f"pos_weight must be positive: a number or {n_classes} weights "
                             f"(one per class); got {pw!r}.")
        return weights

    def initialize_criterion(self):
        """Build ``criterion_``, with ``pos_weight_`` unless ``criterion__pos_weight`` is set."""
        kwargs = self.get_params_for("criterion")
        pw = getattr(self, "pos_weight_", None)
        if pw is not None and "pos_weight" not in kwargs and (
                self.criterion is torch.nn.BCEWithLogitsLoss):
            kwargs["pos_weight"] = torch.as_tensor(pw, dtype=torch.float32)
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        if isinstance(self.criterion_, torch.nn.Module):
            self.criterion_ = self.criterion_.to(self.device)
        return self

    def initialize_module(self):
        """Build ``module_`` with ``n_mels``, ``n_frames`` and ``n_outputs`` inferred at fit;
        user-given ``module__*`` parameters win."""
        kwargs = self.get_params_for("module")
        if not isinstance(self.module, torch.nn.Module) and hasattr(self, "n_outputs_"):
            inferred = {"n_mels": self.n_mels_in_, "n_frames": self.n_frames_in_,
                        "n_outputs": self.n_outputs_}
            kwargs = {**inferred, **kwargs}
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def train_step(self, batch, **fit_params):
        """skorch's training step, stopping with an error when the loss is not finite."""
        return self._check_finite_loss(super().train_step(batch, **fit_params))

    @property
    def _default_callbacks(self):
        return list(super()._default_callbacks) + self._progress_callbacks()

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity == "auto":
            return torch.sigmoid
        return super()._get_predict_nonlinearity()

    # -- prediction ---------------------------------------------------------------------------
    def predict_proba(self, X):
        """Frame probabilities of each event class.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms of the fitted shape.

        Returns
        -------
        proba : ndarray of shape (n_clips, n_frames, n_classes)
            Columns follow ``classes_``.
        """
        return super().predict_proba(X)

    def predict(self, X):
        """Detected events of each clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms of the fitted shape.

        Returns
        -------
        events : list of list of (onset, offset, label)
            Per clip, events sorted by onset; times in seconds, labels from ``classes_``.
        """
        self._check_params()
        frame_rate = self._need_frame_rate("to give event times in seconds")
        proba = self.predict_proba(X)
        return frames_to_events(proba, frame_rate=frame_rate, classes=self.classes_,
                                threshold=self.threshold, median_filter=self.median_filter)

    def score(self, X, y, sample_weight=None):
        """Event-based F1 (DCASE: 200 ms onset collar, offset collar of 200 ms or 20 %).

        Parameters
        ----------
        X : array-like of shape (n_clips, n_mels, n_frames) or (n_clips, 1, n_mels, n_frames)
            Spectrograms of the fitted shape.
        y : list of list of (onset, offset, label) or ndarray of shape (n_clips, n_frames, \
n_classes)
            Reference events (labels must be in ``classes_``) or 0/1 frame activity.
        sample_weight : None
            Not supported.

        Returns
        -------
        score : float
            Micro-averaged event-based F1 over all clips, see :func:`sk_crnn.metrics.event_f1`.
        """
        from .metrics import event_f1

        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__}.score does not support sample_weight.")
        self.check_is_fitted()
        frame_rate = self._need_frame_rate("to score events in seconds")
        X = self._check_predict_X(X)
        check_consistent_length(X, y)
        if hasattr(y, "detach"):
            y = y.detach().cpu().numpy()
        if _is_frame_matrix(y):
            y_true = frames_to_events(y, frame_rate=frame_rate, classes=self.classes_)
        else:
            y_true = check_event_lists(y, n_frames=X.shape[-1], frame_rate=frame_rate,
                                       classes=self.classes_)
        return event_f1(y_true, self.predict(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

