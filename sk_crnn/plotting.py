"""Plots of spectrogram features and of training histories (needs matplotlib).

matplotlib is an optional dependency: it is imported when a function is called.
"""

from numbers import Number

import numpy as np

from .events import check_event_lists

_SKIP_KEYS = ("epoch", "dur", "batches")


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "sk_crnn.plotting needs matplotlib, which is not installed; run "
            "`pip install \"sk-crnn[plot]\"` (or `pip install matplotlib`)."
        ) from exc
    return plt


def plot_spectrogram(S, *, sr, hop_length, ax=None, y_axis="mel", fmin=0.0, fmax=None,
                     title=None, colorbar=True):
    """Draw one spectrogram (or MFCC matrix) with time in seconds and frequency in Hz.

    Parameters
    ----------
    S : array-like of shape (n_bands, n_frames)
        One clip's features, for example ``MelSpectrogramTransformer(...).transform(X)[i]``.
    sr : float
        Sample rate of the audio the features come from, in Hz.
    hop_length : int
        Samples between frames, as given to the transformer.
    ax : matplotlib Axes, default=None
        Where to draw; ``None`` makes a new figure.
    y_axis : {"mel", "linear", "log", "hz"} or None, default="mel"
        Frequency axis, as in ``librosa.display.specshow``: ``"mel"`` for mel bands, ``None``
        for MFCCs or other bands without a frequency (the axis then counts bands).
    fmin : float, default=0.0
        Lowest frequency of the mel filterbank, in Hz (``y_axis="mel"``).
    fmax : float or None, default=None
        Highest frequency of the mel filterbank, in Hz; ``None`` means ``sr / 2``.
    title : str or None, default=None
        Title of the Axes.
    colorbar : bool, default=True
        Add a colour bar next to the Axes.

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn.plotting import plot_spectrogram
    >>> S = np.random.default_rng(0).normal(size=(40, 63))
    >>> ax = plot_spectrogram(S, sr=16000, hop_length=256, title="noise")
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('Time', 'Hz')
    """
    plt = _pyplot()
    import librosa.display

    S = np.asarray(S)
    if S.ndim == 3 and S.shape[0] == 1:
        S = S[0]
    if S.ndim != 2:
        raise ValueError(
            f"S must be 2-D (n_bands, n_frames); got shape {S.shape}. For a batch from "
            "MelSpectrogramTransformer.transform pick one clip, for example S[0]."
        )
    if S.dtype.kind not in "fiu":
        raise TypeError(f"S must hold real numbers; got dtype {S.dtype}.")
    if y_axis not in ("mel", "linear", "log", "hz", "fft", None):
        raise ValueError(f"y_axis must be one of ['mel', 'linear', 'log', 'hz', 'fft', None]; "
                         f"got {y_axis!r}.")
    if ax is None:
        _, ax = plt.subplots()
    img = librosa.display.specshow(S.astype(np.float32, copy=False), sr=sr,
                                   hop_length=hop_length, x_axis="time", y_axis=y_axis,
                                   fmin=fmin, fmax=fmax, ax=ax)
    if y_axis is None:
        ax.set_ylabel("Band")
    if title is not None:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(img, ax=ax)
    return ax


def plot_history(net_or_history, *, keys=None, ax=None):
    """Plot per-epoch losses and scores of a fitted skorch net.

    Losses (keys containing ``"loss"``) go on the left axis; other scores such as
    ``valid_acc`` go on a twin axis on the right, which shares the epoch axis.

    Parameters
    ----------
    net_or_history : skorch net, Pipeline or skorch History
        A fitted net (its ``history`` is used), a Pipeline whose last step is one, or a
        ``skorch.history.History`` (or a list of per-epoch dicts).
    keys : list of str or None, default=None
        Per-epoch entries to draw. ``None`` draws every numeric entry except ``epoch``,
        ``dur`` and the ``*_best`` flags: ``train_loss``, ``valid_loss``, ``valid_acc``, ...
    ax : matplotlib Axes, default=None
        Where to draw; ``None`` makes a new figure.

    Returns
    -------
    ax : matplotlib Axes
        The Axes holding the losses (or everything, when there are no losses or only
        losses). The right-hand Axes, when one is made, is the last of ``ax.figure.axes``.

    Examples
    --------
    >>> from skorch.history import History
    >>> from sk_crnn.plotting import plot_history
    >>> h = History()
    >>> for epoch, (tl, vl) in enumerate([(0.9, 1.0), (0.6, 0.8), (0.4, 0.7)], 1):
    ...     h.new_epoch()
    ...     h.record("epoch", epoch)
    ...     h.record("train_loss", tl)
    ...     h.record("valid_loss", vl)
    >>> ax = plot_history(h)
    >>> [line.get_label() for line in ax.get_lines()]
    ['train_loss', 'valid_loss']
    """
    plt = _pyplot()
    epochs = _get_history(net_or_history)
    if keys is None:
        keys = _numeric_keys(epochs)
        if not keys:
            raise ValueError("The history has no numeric per-epoch entry to plot (such as "
                             "train_loss); fit the net with at least one epoch.")
    else:
        keys = [keys] if isinstance(keys, str) else list(keys)
        available = _numeric_keys(epochs)
        missing = [k for k in keys if k not in available]
        if missing:
            raise ValueError(f"keys {missing} are not numeric per-epoch entries of the "
                             f"history; available: {available}.")
    x = np.array([row.get("epoch", i + 1) for i, row in enumerate(epochs)], dtype=float)
    losses = [k for k in keys if "loss" in k]
    scores = [k for k in keys if "loss" not in k]
    if ax is None:
        _, ax = plt.subplots()
    ax.set_xlabel("Epoch")
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", [None])
    colors = {key: cycle[i % len(cycle)] for i, key in enumerate(losses + scores)}
    left = losses if losses else scores
    _draw(ax, x, epochs, left, colors)
    ax.set_ylabel("Loss" if losses else "Score")
    handles, labels = ax.get_legend_handles_labels()
    if losses and scores:
        right = ax.twinx()
        _draw(right, x, epochs, scores, colors, linestyle="--")
        right.set_ylabel("Score")
        h2, l2 = right.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="best")
    if len(x) > 1:
        ax.set_xlim(x.min(), x.max())
    return ax


def _draw(ax, x, epochs, keys, colors, linestyle="-"):
    for key in keys:
        y = np.array([_as_float(row.get(key)) for row in epochs])
        ax.plot(x, y, linestyle=linestyle, marker="o" if len(x) < 30 else None,
                color=colors[key], label=key)


def _as_float(value):
    return float(value) if _is_number(value) else np.nan


def _is_number(value):
    return isinstance(value, (Number, np.number)) and not isinstance(value, (bool, np.bool_))


def _numeric_keys(epochs):
    keys = []
    for row in epochs:
        for key, value in row.items():
            if (key not in keys and key not in _SKIP_KEYS and not key.endswith("_best")
                    and not key.endswith("_batch_count") and _is_number(value)):
                keys.append(key)
    return keys


def _get_history(obj):
    """Return the per-epoch dicts of a net, a Pipeline ending in a net, or a history."""
    if hasattr(obj, "steps"):  # a Pipeline: use its last step
        obj = obj.steps[-1][1]
    if not isinstance(obj, list):
        history = getattr(obj, "history_", None)
        if history is None:
            history = getattr(obj, "history", None)
        if history is None:
            raise ValueError(
                f"Got a {type(obj).__name__} without a training history; pass a fitted skorch "
                "net, a Pipeline ending in one, or a skorch History. If it is a net, fit it "
                "first."
            )
        obj = history
    if not isinstance(obj, list) or not all(isinstance(row, dict) for row in obj):
        raise TypeError(f"Expected a skorch History (a list of per-epoch dicts); got "
                        f"{type(obj).__name__}.")
    if len(obj) == 0:
        raise ValueError("The history has no epochs; fit the net (max_epochs >= 1) first.")
    return list(obj)


def plot_events(S, events_pred, events_ref=None, *, sr, hop_length, ax=None):
    """Draw one clip's spectrogram with detected (and reference) events as bars over time.

    Each event class gets a lane, labelled on the right-hand axis; a predicted event is a
    solid bar in the upper half of its lane and a reference event a hatched bar in the lower
    half, both in the class's colour, over the spectrogram.

    Parameters
    ----------
    S : array-like of shape (n_mels, n_frames)
        One clip's features, e.g. ``MelSpectrogramTransformer(...).transform(X)[i]``.
    events_pred : sequence of (onset, offset, label)
        Detected events of the clip in seconds, e.g. ``CRNNEventDetector.predict(...)[i]``.
    events_ref : sequence of (onset, offset, label) or None, default=None
        Reference events of the clip.
    sr : float
        Sample rate of the audio, in Hz.
    hop_length : int
        Samples between frames, as given to the transformer.
    ax : matplotlib Axes, default=None
        Where to draw the spectrogram; ``None`` makes a new figure.

    Returns
    -------
    ax : matplotlib Axes
        The spectrogram's Axes; the event lanes are on a twin Axes, the last of
        ``ax.figure.axes``.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_crnn.plotting import plot_events
    >>> S = np.random.default_rng(0).normal(size=(40, 63))
    >>> ax = plot_events(S, [(0.2, 0.5, "dog")], [(0.25, 0.6, "dog"), (0.7, 0.9, "cat")],
    ...                  sr=16000, hop_length=256)
    >>> [t.get_text() for t in ax.figure.axes[-1].get_yticklabels()]
    ['cat', 'dog']
    """
    plt = _pyplot()
    events_pred = check_event_lists([events_pred], name="events_pred")[0]
    events_ref = [] if events_ref is None else check_event_lists([events_ref],
                                                                  name="events_ref")[0]
    ax = plot_spectrogram(S, sr=sr, hop_length=hop_length, ax=ax, colorbar=False)
    labels = sorted({e[2] for e in events_pred + events_ref}, key=str)
    lanes = ax.twinx()
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for k, label in enumerate(labels):
        color = cycle[k % len(cycle)]
        pred = [(on, off - on) for on, off, lab in events_pred if lab == label]
        ref = [(on, off - on) for on, off, lab in events_ref if lab == label]
        lanes.broken_barh(pred, (k + 0.5, 0.4), facecolors=color, alpha=0.8)
        if ref:
            lanes.broken_barh(ref, (k + 0.1, 0.4), facecolors="none", edgecolors=color,
                              hatch="//")
    lanes.set_ylim(0, max(len(labels), 1))
    lanes.set_yticks(np.arange(len(labels)) + 0.5)
    lanes.set_yticklabels([str(label) for label in labels])
    lanes.set_ylabel("Events (solid: predicted, hatched: reference)")
    return ax


__all__ = ["plot_events", "plot_history", "plot_spectrogram"]
