"""Class labels that numpy would sort wrongly or not at all: ``check_labels`` refuses labels
holding None/NaN or mixing types before the estimators sort them.
"""

import math
import numbers

import numpy as np


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
