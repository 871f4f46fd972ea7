"""Private checks around a fit call of the CRNN estimators: class labels that numpy would
sort wrongly or not at all, callbacks that watch validation scores a fit without validation
data never computes, the device at prediction time, and the record of a training stopped by
Ctrl-C (``KeyboardInterrupt``).
"""

import math
import numbers
import os
import sys
import warnings

import numpy as np
import torch
from skorch.callbacks import EarlyStopping

from ._validation import check_device


# -- labels -------------------------------------------------------------------------------------
def _label_kind(label):
    """'missing', 'bool', 'number' or 'str' (or the type's name for anything else)."""
    if label is None or type(label).__name__ in ("NAType", "NaTType"):
        return "missing"
    if isinstance(label, (bool, np.bool_)):
        return "bool"
    if isinstance(label, numbers.Number):
        return "missing" if isinstance(label, numbers.Real) and math.isnan(label) else "number"
    if isinstance(label, (str, np.str_)):
        return "str"
    return type(label).__name__


def check_labels(y, name):
    """Refuse 1-D class labels holding None/NaN or mixing types, before numpy sorts them.

    numpy cannot sort ``None`` among strings (``'<' not supported``) and turns a list of
    strings and numbers into strings (``1`` becomes ``'1'``, NaN becomes ``'nan'``), so such
    labels fail without naming the culprit or, worse, train on labels the caller never gave.

    Parameters
    ----------
    y : array-like
        The labels as given to ``fit`` (a list, a pandas Series or an array).
    name : str
        The estimator's name, for the message.

    Raises
    ------
    ValueError
        A missing label (None, NaN, pandas.NA), naming its position.
    TypeError
        Labels of more than one type (strings, numbers, bools), naming the first label of
        each and its position.
    """
    if getattr(y, "ndim", 1) != 1 or isinstance(y, (str, bytes)):
        return
    values = np.asarray(y) if hasattr(y, "__array__") else None
    if values is not None and values.dtype.kind == "f":
        bad = np.flatnonzero(np.isnan(values))
        if bad.size:
            _missing(name, values[bad[0]], int(bad[0]), bad.size)
        return
    if values is not None and values.dtype.kind != "O":
        return  # numbers, bools or strings of one numpy type
    labels = list(values) if values is not None else list(y)
    first = {}
    for position, label in enumerate(labels):
        kind = _label_kind(label)
        if kind == "missing":
            n_missing = sum(_label_kind(v) == "missing" for v in labels[position:])
            _missing(name, label, position, n_missing)
        first.setdefault(kind, (position, label.item() if isinstance(label, np.generic)
                                else label))
    if len(first) > 1:
        found = "; ".join(f"{kind} labels (first {label!r} at position {position})"
                          for kind, (position, label) in sorted(first.items(),
                                                                 key=lambda kv: kv[1][0]))
        raise TypeError(
            f"{name} needs class labels of one type, but y mixes {found}. Convert them to one "
            "type first, for example y = [str(label) for label in y].")


def _missing(name, label, position, count):
    label = label.item() if isinstance(label, np.generic) else label
    more = f" ({count} missing labels in all)" if count > 1 else ""
    nan = isinstance(label, float) and math.isnan(label)  # scikit-learn's words for NaN:
    what = "Input y contains NaN, a missing label," if nan else f"y holds a missing label " \
        f"({label!r})"
    raise ValueError(
        f"{what} at position {position}{more}; {name} needs a class label for every clip. "
        "Drop the unlabelled clips (and their rows of X) or give them a label.")


# -- callbacks ----------------------------------------------------------------------------------
def check_validation_callbacks(net):
    """Refuse callbacks that watch a validation score when ``net`` has no validation data
    (skorch would fail after the first epoch with ``KeyError: 'valid_loss'``)."""
    if net._has_validation() or net.callbacks == "disable":
        return
    for cb_name, callback in getattr(net, "callbacks_", []):
        monitor = getattr(callback, "monitor", None)
        if not (isinstance(monitor, str) and monitor.startswith("valid_")):
            continue
        kind = type(callback).__name__
        fix = ("use the estimator's early_stopping=True with validation_fraction (for example "
               "validation_fraction=0.1) instead of skorch's EarlyStopping, or set "
               "validation_fraction" if isinstance(callback, EarlyStopping)
               else "set validation_fraction (for example validation_fraction=0.1) or "
               "train_split")
        named = f"{cb_name!r}, " if cb_name != kind else ""
        raise ValueError(
            f"callbacks holds {kind} ({named}monitor={monitor!r}), which watches a "
            f"validation score, but {type(net).__name__} has no validation data "
            f"(validation_fraction={net.validation_fraction!r}, train_split=None): {fix}.")


# -- the device at prediction time --------------------------------------------------------------
def check_predict_device(net):
    """A clear error when ``net.device`` names a CUDA device this machine lacks (set after fit,
    for example with ``set_params(device='cuda')``), instead of torch's "Torch not compiled
    with CUDA enabled"."""
    if net.device is None or str(net.device) == "cpu":
        return
    try:
        check_device(net.device)
    except ValueError:
        if not str(net.device).startswith("cuda") or torch.cuda.is_available():
            raise
        raise ValueError(
            f"{type(net).__name__} has device={net.device!r}, but CUDA is not available on "
            "this machine (torch.cuda.is_available() is False); call set_params(device='cpu') "
            "to predict here (sk_crnn.load does so by itself for a model saved on a GPU)."
        ) from None


# -- interrupted training -----------------------------------------------------------------------
def stopped_early(net):
    """Whether the ``KeyboardInterrupt`` ending ``net``'s fit loop came from a skorch
    ``EarlyStopping`` callback (which stops training that way on purpose)."""
    return any(isinstance(cb, EarlyStopping) and getattr(cb, "misses_", 0) >= cb.patience
               for _, cb in getattr(net, "callbacks_", []))


def warn_interrupted(net, method, start, done):
    """Warn that ``net.<method>`` stopped on a KeyboardInterrupt after ``done`` completed
    epochs of its history (``start`` of them before this call)."""
    of_call = done - start
    where = "" if start == 0 else f" of this call (epoch {done} of its history)"
    warnings.warn(
        f"{type(net).__name__}.{method} was interrupted (KeyboardInterrupt, for example "
        f"Ctrl-C) after {of_call} of max_epochs={net.max_epochs} epochs{where}: the network "
        f"is only partly trained. interrupted_epoch_={done} records this until the next fit; "
        "fit again to train it fully.", RuntimeWarning, stacklevel=_caller_level())


def _caller_level():
    """The ``stacklevel`` (for a warning of the function calling this) of the first frame
    outside sk_crnn."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level
