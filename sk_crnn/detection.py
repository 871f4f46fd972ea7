"""Sound event detection: a CRNN that keeps the time axis and says when each event happens."""

import warnings

import numpy as np
import torch
from sklearn.utils import check_consistent_length
from torch.nn import functional as F

from ._base import SpectrogramNet
from ._detection_targets import check_some_active, check_target_layout
from ._docs import BATCH_SIZE_DOC, COMMON_ATTRS_DOC, COMMON_PARAMS_DOC, module_doc, shared_docs
from ._inference import FrameOutputs
from ._training import window_arrays
from ._validation import Interval, Options, Rule
from .events import (
    check_event_lists,
    event_classes,
    events_to_frames,
    frames_to_events,
    is_frame_matrix,
    plain_label,
    split_weak_labels,
)
from .modules import FrameCRNN, attention_pool

__all__ = ["CRNNEventDetector"]


def _check_pos_weight(value, name):
    if value is None or (isinstance(value, str) and value in ("sqrt", "balanced")):
        return
    weights = np.asarray(value) if not isinstance(value, str) else None
    if weights is None or weights.dtype.kind not in "iuf" or weights.ndim > 1 or not (
            np.all(np.isfinite(weights)) and np.all(weights > 0)):
        raise ValueError(f"{name} must be 'sqrt', 'balanced', a positive number, an array of "
                         f"one positive weight per class or None; got {value!r}.")


TRAIN_WINDOW = 1.0
BATCH_SIZE = 16

_PARAMS_DOC = COMMON_PARAMS_DOC.replace(BATCH_SIZE_DOC, f"""\
    batch_size : int, default={BATCH_SIZE}
        Training windows (``train_window``) or clips per mini-batch, shuffled. Smaller than
        the classifiers' 32: a detector usually has a few hundred recordings, and more
        optimizer steps per epoch scored higher on the keyword scenes of ``bench_sed``.
""")


class CRNNEventDetector(SpectrogramNet):
    __doc__ = f"""Sound event detection with a convolutional recurrent network.

    The network keeps the time axis: the recurrent output of every frame goes through a
    linear layer to one sigmoid per event class (:class:`FrameCRNN`), trained with
    ``BCEWithLogitsLoss`` per frame. ``predict`` decodes the frame probabilities into
    events with ``threshold`` and ``median_filter``; ``score`` is the event-based F1 of
    DCASE (sed_eval's, computed without it: no optional dependency).

    Weak labels (clip labels without times, as DCASE task 4's weakly labelled data) train
    the frame outputs too: when ``y`` holds them, the network gets the weak head of the DCASE
    baseline (``FrameCRNN(clip_head=True)``: attention over time pools the frame
    probabilities into clip probabilities, :func:`~sk_crnn.modules.attention_pool`), and the
    loss is the frame BCE over the strongly labelled clips plus the clip BCE over all clips.
    Strong and weak clips can be mixed in one ``y`` (and so in one batch). ``predict`` still
    returns timed events.

    Parameters
    ----------{module_doc("FrameCRNN").rstrip()}{_PARAMS_DOC.rstrip()}
    criterion : torch loss class, default=torch.nn.BCEWithLogitsLoss
        Per-frame training loss.
    frame_rate : float or None, default=None
        Feature frames per second, ``sr / hop_length`` of the ``MelSpectrogramTransformer``.
        Needed to train on event lists and for ``predict`` and ``score`` (event times are in
        seconds); with ``center=True`` frame ``t`` is centred at ``t / frame_rate`` seconds.
    threshold : float or "auto", default=0.5
        A frame is active for a class where its probability is above ``threshold``.
        ``"auto"`` tunes one threshold per class after training: of 0.05, 0.10, ..., 0.95,
        the one with the best event F1 of that class on the validation split (so it needs
        ``validation_fraction``; weakly labelled validation clips, without times, are not
        used), kept in ``thresholds_``.
    median_filter : float, default=0.25
        Length in seconds of the median filter over the thresholded frames; 0 turns it off.
        It removes active or silent runs shorter than about half its length, so keep it
        below twice the shortest events you expect (a click of 50 ms needs 0.08 or less, or
        0).
    pos_weight : "sqrt", "balanced", float, array-like of shape (n_classes,) or None, \
default="sqrt"
        Weight of the active frames in the loss (``BCEWithLogitsLoss(pos_weight=...)``).
        Events are rare (a class is often active in a few percent of the frames), and without
        it the network learns to say "nothing" everywhere. ``"balanced"`` uses, per class,
        inactive frames / active frames of the training targets, and ``"sqrt"`` the square
        root of that ratio, both clipped to [1, 100]; None weighs every frame alike. The full
        ratio (about 30 on the keyword scenes of ``bench_sed``) makes the network call too
        many frames active at a 0.5 threshold; its square root scored higher there (see
        ``benchmarks/README.md``). Ignored when ``criterion__pos_weight`` is given.
    classes : array-like or None, default=None
        The event labels and their column order; None takes the sorted labels found in the
        training events (or ``np.arange(n_classes)`` for a frame matrix ``y``). Set it when
        a training subset may lack a class.
    train_window : float or None, default={TRAIN_WINDOW}
        Train on windows of about this many seconds cut from the training clips, not on the
        whole clips: each clip is cut into ``round(clip seconds / train_window)`` equal
        windows that cover all its frames. An epoch then takes several times more (and
        cheaper) optimizer steps over the same frames, which is what lets the detector learn
        from a few hundred recordings in a few epochs; the network still predicts whole
        clips, and validation clips are not cut. None, clips shorter than 1.5 windows, weak
        labels (a clip label says nothing about a window of the clip) and
        ``frame_rate=None`` (seconds cannot be turned into frames) train on whole clips.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Event labels, one per output column.
    n_outputs_ : int
        Number of event classes.
    pos_weight_ : ndarray of shape (n_classes,) or None
        The active-frame weights used in training.
    clip_head_ : bool
        Whether the network has the weak (clip-level) head: the first ``fit`` had weak
        labels.
    thresholds_ : ndarray of shape (n_classes,)
        With ``threshold="auto"``: the tuned threshold of each class.{COMMON_ATTRS_DOC.rstrip()}

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

    _parameter_constraints = {
        **SpectrogramNet._parameter_constraints,
        "frame_rate": ([Interval("real", 0, closed="neither"), None],
                       "It is sr / hop_length of the MelSpectrogramTransformer."),
        "threshold": [Interval("real", 0, 1, closed="left"), Options("auto")],
        "median_filter": (Interval("real", 0), "It is a length in seconds; 0 turns it off."),
        "pos_weight": Rule(_check_pos_weight),
        "train_window": ([Interval("real", 0, closed="neither"), None],
                         "It is a length in seconds; None trains on whole clips."),
    }
    _target_time_axis = 1  # frame targets (n_clips, n_frames, n_classes) shift with X
    _embeds = False

    def __init__(self, *, module=FrameCRNN, criterion=torch.nn.BCEWithLogitsLoss,
                 frame_rate=None, threshold=0.5, median_filter=0.25, pos_weight="sqrt",
                 classes=None, train_window=TRAIN_WINDOW, batch_size=BATCH_SIZE, **kwargs):
        super().__init__(module, criterion=criterion, batch_size=batch_size, **kwargs)
        self.frame_rate = frame_rate
        self.threshold = threshold
        self.median_filter = median_filter
        self.pos_weight = pos_weight
        self.classes = classes
        self.train_window = train_window

    def _check_fit_data(self, X, y, *, reset, classes=None, **weighting):
        check_target_layout(y)  # a string or flat events, before the count of clips
        if self.threshold == "auto" and not self.validation_fraction:
            raise ValueError(
                "threshold='auto' tunes the thresholds on the validation split, but there is "
                f"none (validation_fraction={self.validation_fraction!r}); set "
                "validation_fraction (for example 0.2), or give a number.")
        return super()._check_fit_data(X, y, reset=reset, classes=classes, **weighting)

    def _sigmoid_outputs(self):
        return True

    def _need_frame_rate(self, what):
        if self.frame_rate is None:
            raise ValueError(
                f"{type(self).__name__} needs frame_rate (feature frames per second, sr / "
                f"hop_length of the MelSpectrogramTransformer) {what}; got frame_rate=None.")
        return float(self.frame_rate)

    def _check_targets(self, y, X, *, reset, classes=None):
        n_frames = X.shape[-1]
        if len(X) == 1 and n_frames == 1:
            raise ValueError(
                "CRNNEventDetector got 1 sample of 1 frame (n_samples=1): the BatchNorm layers "
                "(the input's over the mel bands, then the conv blocks') need more than one "
                "value per channel to train; give more clips or longer ones.")
        if not reset:
            classes = self.classes_
        elif classes is None and self.classes is not None:
            classes = np.asarray(self.classes)
            if classes.ndim != 1 or len(np.unique(classes)) != len(classes):
                raise ValueError(
                    f"classes must be a 1-D sequence of distinct labels; got {self.classes!r}.")
        if is_frame_matrix(y):
            if y.shape[1] != n_frames:
                raise ValueError(
                    f"y is a frame matrix of shape {y.shape} but X has {n_frames} frames; pass "
                    "y of shape (n_clips, n_frames, n_classes), or event lists as a list.")
            if not np.isin(y, (0, 1)).all():
                raise ValueError("A frame matrix y must hold only 0 and 1.")
            classes = self._matrix_classes(y, classes)
            Y, is_weak = y.astype(np.float32), np.zeros(len(y), dtype=bool)
        elif isinstance(y, np.ndarray) and y.dtype.kind in "biuf" and y.ndim == 2:
            if not np.isin(y, (0, 1)).all():
                raise ValueError(
                    f"A 2-D y of shape {y.shape} is a clip-level 0/1 indicator of shape "
                    "(n_clips, n_classes) (weak labels), so it must hold only 0 and 1.")
            classes = self._matrix_classes(y, classes)
            Y = np.repeat(y.astype(np.float32)[:, None, :], n_frames, axis=1)
            is_weak = np.ones(len(y), dtype=bool)
        else:
            Y, classes, is_weak = self._label_lists(y, n_frames, classes)
        clip_head = bool(is_weak.any()) if reset else self.clip_head_
        if is_weak.any() and not clip_head:
            raise ValueError(
                f"y holds {int(is_weak.sum())} weakly labelled clip(s) (labels without "
                "times), but the first fit had strong labels only, so the network has no clip "
                "head; fit again (not partial_fit) on data with weak labels.")
        fitted = {"classes_inferred_": np.asarray(classes), "n_outputs_": len(classes),
                  "clip_head_": clip_head}
        if reset:  # the first fit needs an active frame (pos_weight_ counts them)
            check_some_active(Y, y)
            fitted["pos_weight_"] = self._pos_weight(Y[~is_weak] if (~is_weak).any() else Y)
        if clip_head:  # the strong-label mask, per clip, as n_classes more columns
            strong = np.broadcast_to((~is_weak)[:, None, None], Y.shape).astype(np.float32)
            Y = np.concatenate([Y, strong], axis=-1)
        return Y, fitted

    def _matrix_classes(self, y, classes):
        classes = np.arange(y.shape[-1]) if classes is None else classes
        if y.shape[-1] != len(classes):
            raise ValueError(
                f"y has {y.shape[-1]} class columns but there are {len(classes)} classes "
                f"({np.asarray(classes).tolist()}).")
        return classes

    def _label_lists(self, y, n_frames, classes):
        """Frame targets (weak clips: their labels in every frame), the classes and which
        clips are weak, from per-clip lists of events or of labels without times."""
        events, weak, is_weak = split_weak_labels(y)
        if any(events):
            frame_rate = self._need_frame_rate("to turn event lists into frame targets")
            events = check_event_lists(events, n_frames=n_frames, frame_rate=frame_rate,
                                       classes=classes)
            self._warn_early_events(events, n_frames / frame_rate, frame_rate)
        else:
            frame_rate = self.frame_rate or 1.0  # no times to convert
        if classes is None:
            labels = [(0.0, 1.0, label) for clip in weak for label in clip]
            classes = event_classes([*events, labels])
        known = set(np.asarray(classes).tolist())
        for i, clip in enumerate(weak):
            unknown = [label for label in clip if plain_label(label) not in known]
            if unknown:
                raise ValueError(f"y[{i}] has label {unknown[0]!r}, which is not one of the "
                                 f"classes {sorted(known, key=str)}.")
        Y = events_to_frames(events, n_frames=n_frames, frame_rate=frame_rate, classes=classes)
        columns = {plain_label(c): k for k, c in enumerate(np.asarray(classes).tolist())}
        for i in np.flatnonzero(is_weak):
            Y[i, :, [columns[plain_label(label)] for label in weak[i]]] = 1.0
        return Y, classes, is_weak

    @staticmethod
    def _warn_early_events(events, clip_seconds, frame_rate):
        offsets = [offset for clip in events for _, offset, _ in clip]
        if len(offsets) >= 10 and max(offsets) < 0.5 * clip_seconds:
            warnings.warn(
                f"All {len(offsets)} training events end in the first half of the clips "
                f"(the latest at {max(offsets):.3f} s of {clip_seconds:.3f} s at "
                f"frame_rate={frame_rate:g}); frame_rate may be too low: it must be "
                "sr / hop_length of the MelSpectrogramTransformer.", UserWarning, stacklevel=5)

    def _pos_weight(self, Y):
        """Per-class weight of the active frames, from ``pos_weight`` and the targets ``Y``."""
        n_classes = Y.shape[-1]
        if self.pos_weight is None:
            return None
        if isinstance(self.pos_weight, str):  # "balanced" or "sqrt"
            active = Y.reshape(-1, n_classes).sum(axis=0, dtype=np.float64)
            total = Y.shape[0] * Y.shape[1]
            ratio = (total - active) / np.maximum(active, 1.0)
            return np.clip(np.sqrt(ratio) if self.pos_weight == "sqrt" else ratio, 1.0, 100.0)
        weights = np.asarray(self.pos_weight, dtype=np.float64)
        if weights.ndim == 1 and weights.shape != (n_classes,):
            raise ValueError(f"pos_weight must be positive: a number or {n_classes} weights "
                             f"(one per class); got {self.pos_weight!r}.")
        return np.broadcast_to(weights, (n_classes,)).copy()

    def _criterion_and_kwargs(self):
        """``pos_weight_`` becomes the loss's ``pos_weight`` unless ``criterion__pos_weight``
        is set."""
        kwargs = self.get_params_for("criterion")
        pw = getattr(self, "pos_weight_", None)
        if pw is not None and "pos_weight" not in kwargs and (
                self.criterion is torch.nn.BCEWithLogitsLoss):
            kwargs["pos_weight"] = torch.as_tensor(pw, dtype=torch.float32)
        return self.criterion, kwargs

    def _inferred_module_params(self):
        # n_frames=None: the network trains on windows (train_window) and predicts whole clips
        params = {**super()._inferred_module_params(), "n_frames": None}
        return {**params, "clip_head": True} if getattr(self, "clip_head_", False) else params

    def _n_windows(self):
        """Training windows per clip: 1 trains on whole clips."""
        if (self.train_window is None or self.frame_rate is None
                or getattr(self, "clip_head_", False) or not hasattr(self, "n_frames_in_")):
            return 1
        return max(int(round(self.n_frames_in_ / (self.train_window * self.frame_rate))), 1)

    def get_split_datasets(self, X, y=None, **fit_params):
        """The base class's split; the training clips are then cut into windows of about
        ``train_window`` seconds."""
        train, valid = super().get_split_datasets(X, y, **fit_params)
        n_windows = self._n_windows()
        if n_windows > 1:
            self._check_window(-(-self.n_frames_in_ // n_windows))
        windows = window_arrays(train, n_windows)
        return (train if windows is None else self.get_dataset(*windows)), valid

    def _check_window(self, width):
        """The window must hold what the network and the time augmentation need."""
        net = getattr(self.module_, "crnn", self.module_)
        needed = max(getattr(net, "min_frames", 1), self.time_mask + 1, self.time_shift + 1)
        if width < needed:
            raise ValueError(
                f"train_window={self.train_window!r} s gives training windows of {width} "
                f"frames at frame_rate={self.frame_rate:g}, but {needed} are needed (the "
                f"network's time pooling, time_mask={self.time_mask}, "
                f"time_shift={self.time_shift}); raise train_window, lower time_mask / "
                "time_shift, or set train_window=None to train on whole clips.")

    def _criterion_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion per frame; with the clip head (weak labels), the frame BCE over the
        strongly labelled clips plus the BCE of the attention-pooled clip probabilities
        against the clip labels (the classes active in any frame) over all clips."""
        if not getattr(self, "clip_head_", False):
            return super()._criterion_loss(y_pred, y_true, X=X, training=training)
        n = self.n_outputs_
        if y_pred.shape[-1] != 2 * n:
            raise ValueError(
                f"Training on weak labels needs a module with a clip head (2 x {n} outputs per "
                f"frame: FrameCRNN(clip_head=True)); {type(self.module_).__name__} gave "
                f"{y_pred.shape[-1]}.")
        if not isinstance(self.criterion_, torch.nn.BCEWithLogitsLoss):
            raise ValueError("Training on weak labels uses BCEWithLogitsLoss; got criterion="
                             f"{type(self.criterion_).__name__}.")
        y_true = torch.as_tensor(y_true, device=y_pred.device)
        y_pred = y_pred.float()
        frames, attention = y_pred[..., :n], y_pred[..., n:]
        targets, strong = y_true[..., :n], y_true[..., n:]
        frame_loss = F.binary_cross_entropy_with_logits(
            frames, targets, pos_weight=self.criterion_.pos_weight, reduction="none")
        strong_loss = (frame_loss * strong).sum() / strong.sum().clamp(min=1.0)
        clip_loss = F.binary_cross_entropy(attention_pool(frames, attention),
                                           targets.amax(dim=1))
        return strong_loss + clip_loss

    def _after_training(self, X, y):
        """With ``threshold="auto"``: tune the per-class thresholds on the validation split."""
        if self.threshold != "auto":
            self.__dict__.pop("thresholds_", None)
            return
        from .metrics import event_f1

        valid = self.validation_indices_
        n = self.n_outputs_
        targets = y[valid, :, :n]
        if self.clip_head_:
            targets = targets[y[valid, 0, n] > 0]  # the strongly labelled clips
            X_valid = X[valid][y[valid, 0, n] > 0]
        else:
            X_valid = X[valid]
        if not len(targets):
            raise ValueError("threshold='auto' needs strongly labelled validation clips (with "
                             "event times); the validation split holds weak labels only.")
        frame_rate = self._need_frame_rate("to tune thresholds on event times")
        proba = self.predict_proba(X_valid)
        grid = np.round(np.arange(0.05, 0.96, 0.05), 2)
        thresholds = np.full(n, 0.5)
        for k, label in enumerate(self.classes_):
            keep = dict(frame_rate=frame_rate, classes=[label])
            truth = frames_to_events(targets[..., k:k + 1], **keep)
            keep["median_filter"] = self.median_filter
            if not any(truth):
                continue  # no event of this class to tune on: keep 0.5
            scores = [event_f1(truth, frames_to_events(proba[..., k:k + 1], threshold=t,
                                                       **keep)) for t in grid]
            thresholds[k] = grid[int(np.argmax(scores))]
        self.thresholds_ = thresholds

    def decision_thresholds(self):
        """The threshold of each class that ``predict`` uses: ``thresholds_`` with
        ``threshold="auto"``, else ``threshold`` for every class.

        Returns
        -------
        thresholds : ndarray of shape (n_classes,)
        """
        if self.threshold != "auto":
            return np.full(len(self.classes_), float(self.threshold))
        if not hasattr(self, "thresholds_"):
            raise ValueError("threshold='auto' was set after fit: the thresholds are tuned in "
                             "fit; fit again, or give a number.")
        return self.thresholds_

    # -- prediction ---------------------------------------------------------------------------
    def _inference_module(self, method="predict_proba"):
        """The base's, keeping the frame logits only (a clip head's come after them)."""
        if method == "predict_proba" and getattr(self, "clip_head_", False):
            self.check_is_fitted()
            return FrameOutputs(self.module_, self._get_predict_nonlinearity(),
                                n_outputs=self.n_outputs_)
        return super()._inference_module(method)

    @shared_docs
    def predict(self, X):
        """Detected events of each clip.

        {X_fitted}
        events : list of list of (onset, offset, label)
            Per clip, events sorted by onset; times in seconds, labels from ``classes_``.
        """
        self._check_params()
        frame_rate = self._need_frame_rate("to give event times in seconds")
        proba = self.predict_proba(X)
        return frames_to_events(proba, frame_rate=frame_rate, classes=self.classes_,
                                threshold=self.decision_thresholds(),
                                median_filter=self.median_filter)

    @shared_docs
    def score(self, X, y, sample_weight=None):
        """Event-based F1 (DCASE: 200 ms onset collar, offset collar of 200 ms or 20 %).

        {X_fitted_params}
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
        check_target_layout(y)
        check_consistent_length(X, y)
        if hasattr(y, "detach"):
            y = y.detach().cpu().numpy()
        if is_frame_matrix(y):
            y_true = frames_to_events(y, frame_rate=frame_rate, classes=self.classes_)
        else:
            y_true = check_event_lists(y, n_frames=X.shape[-1], frame_rate=frame_rate,
                                       classes=self.classes_)
        return event_f1(y_true, self.predict(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags
