"""What ``mlflow.pyfunc`` runs for an sk_crnn model (:mod:`sk_crnn.mlflow`): the model's input
as a one-column DataFrame, a Series, an array or a list of clips or file paths, turned into
the waveforms the model takes, and its output in a form MLflow can serve.

Nothing here imports MLflow: the wrapper is a plain object with ``predict(model_input,
params=None)``, the interface ``mlflow.pyfunc`` expects of a loader module's model.
"""

import os

import numpy as np

#: What ``pyfunc_predict_fn`` may name.
PREDICT_FNS = ("predict", "predict_proba", "transform")

#: The columns of an event detector's ``predict`` output.
EVENT_COLUMNS = ("clip", "onset", "offset", "label")


def default_predict_fn(model):
    """``"predict"`` when the model has it, else ``"transform"`` (an embedder), else None."""
    for name in ("predict", "transform"):
        if hasattr(model, name):
            return name
    return None


def check_predict_fn(model, predict_fn):
    """``predict_fn`` (None: the model's default), checked against what the model has."""
    if predict_fn is None:
        predict_fn = default_predict_fn(model)
        if predict_fn is None:
            raise TypeError(
                f"{type(model).__name__} has neither predict nor transform, so mlflow.pyfunc "
                "could not run it; save a fitted Pipeline ending in an sk_crnn estimator.")
        return predict_fn
    if predict_fn not in PREDICT_FNS:
        raise ValueError(f"pyfunc_predict_fn must be one of {', '.join(map(repr, PREDICT_FNS))}; "
                         f"got {predict_fn!r}.")
    if not hasattr(model, predict_fn):
        has = [name for name in PREDICT_FNS if hasattr(model, name)]
        raise ValueError(
            f"pyfunc_predict_fn={predict_fn!r}, but {_final_name(model)} has no {predict_fn}; "
            f"pass one of {', '.join(map(repr, has))}.")
    return predict_fn


def _final_name(model):
    steps = getattr(model, "steps", None)
    return type(steps[-1][1] if steps else model).__name__


def _is_path(value):
    return isinstance(value, (str, os.PathLike))


def _frame_column(model_input):
    """The one column of a pandas DataFrame (or a Series) as a list of cells; None for
    anything else."""
    columns = getattr(model_input, "columns", None)
    if columns is not None and hasattr(model_input, "iloc"):
        if len(columns) != 1:
            raise ValueError(
                f"model_input is a DataFrame with {len(columns)} columns "
                f"({', '.join(map(str, list(columns)[:5]))}); pass one column that holds one "
                "audio array (1-D float) or one file path (str) per row.")
        return model_input.iloc[:, 0].tolist()
    if hasattr(model_input, "iloc") and hasattr(model_input, "tolist"):  # a Series
        return model_input.tolist()
    return None


def as_clips(model_input):
    """``(X, paths)``: the clips of ``model_input`` and whether they are file paths.

    A DataFrame of one column, a Series, a list or a 1-D object array holds one clip per
    item, each a 1-D array (a list of numbers, as JSON gives, becomes an array) or a path;
    a numeric array passes through unchanged (a 2-D array of equal-length clips, or the
    spectrograms of a model without a front end).
    """
    cells = _frame_column(model_input)
    if cells is None:
        if isinstance(model_input, np.ndarray) and model_input.dtype != object and (
                model_input.dtype.kind not in "US"):
            return model_input, False
        if _is_path(model_input):
            raise TypeError(f"model_input is a single path ({str(model_input)!r}); pass a list "
                            "of paths, for example [path].")
        if not isinstance(model_input, (list, tuple, np.ndarray)):
            raise TypeError(
                "model_input must be a DataFrame of one column (audio arrays or file paths), a "
                f"Series, a numpy array or a list of clips or paths; got "
                f"{type(model_input).__name__}.")
        cells = list(model_input)
    if not cells:
        raise ValueError("model_input holds no clips.")
    paths = [_is_path(cell) for cell in cells]
    if any(paths):
        if not all(paths):
            at = paths.index(False)
            raise TypeError(f"model_input mixes file paths and audio arrays (row {at} is a "
                            f"{type(cells[at]).__name__}); pass one kind only.")
        return [os.fspath(cell) for cell in cells], True
    return [cell if isinstance(cell, np.ndarray) else np.asarray(cell) for cell in cells], False


class PyfuncModel:
    """An sk_crnn model (a fitted Pipeline or estimator) as ``mlflow.pyfunc`` runs it.

    Parameters
    ----------
    model : Pipeline or estimator
        As :func:`sk_crnn.load` returns it.
    predict_fn : {"predict", "predict_proba", "transform"}
        The model's method that ``predict`` calls.
    """

    def __init__(self, model, predict_fn):
        self.model = model
        self.predict_fn = predict_fn

    def get_raw_model(self):
        """The sk_crnn model."""
        return self.model

    def predict(self, model_input, params=None):
        """Run the model's ``predict_fn`` on clips or file paths.

        Parameters
        ----------
        model_input : DataFrame, Series, ndarray or list
            One clip per row: a pandas DataFrame of one column or a Series whose cells are
            1-D float arrays (or lists of numbers) or file paths (str); a list of them; or a
            float array of shape ``(n_clips, n_samples)``. Files are read at the model's sample
            rate, as its :class:`~sk_crnn.AudioLoader` step reads them (or mono, whole, when
            it has none).
        params : dict or None, default=None
            Unused (MLflow's interface).

        Returns
        -------
        output : ndarray or DataFrame
            What ``predict_fn`` returns (an array per clip, or labels, values, transcripts of
            shape ``(n_clips,)``), except for an event detector's ``predict``: a DataFrame
            with one row per event and the columns ``clip`` (the row of ``model_input``),
            ``onset``, ``offset`` (seconds) and ``label``.
        """
        X, paths = as_clips(model_input)
        model, loader = self._split_loader()
        if paths:
            X = self._read(X, loader, model)
        output = getattr(model, self.predict_fn)(X)
        if self.predict_fn == "predict" and _final_name(self.model) == "CRNNEventDetector":
            return events_frame(output, self._final().classes_)
        return output

    def _final(self):
        steps = getattr(self.model, "steps", None)
        return steps[-1][1] if steps else self.model

    def _split_loader(self):
        """The model without its AudioLoader step (if it starts with one), and that step."""
        from .io import AudioLoader

        steps = getattr(self.model, "steps", None)
        if steps and isinstance(steps[0][1], AudioLoader) and len(steps) > 1:
            return self.model[1:], steps[0][1]
        return self.model, None

    def _read(self, paths, loader, model):
        from .io._files import read_audio_files
        from .transformers import MelSpectrogramTransformer

        if loader is not None:
            return read_audio_files(paths, loader, progress_bar=False)[0]
        steps = getattr(model, "steps", None)
        first = steps[0][1] if steps else model
        if not isinstance(first, MelSpectrogramTransformer):
            raise TypeError(
                f"model_input holds file paths, but the model starts with "
                f"{type(first).__name__}, which takes spectrograms, not audio; pass what it "
                "takes, or log a Pipeline that starts with a MelSpectrogramTransformer.")
        return read_audio_files(paths, sr=first.sr, progress_bar=False)[0]


def events_frame(events, classes):
    """An event detector's ``predict`` output as a DataFrame: one row per event, in clip
    order, with the columns of :data:`EVENT_COLUMNS`."""
    import pandas as pd

    rows = [(clip, float(onset), float(offset), label)
            for clip, clip_events in enumerate(events)
            for onset, offset, label in clip_events]
    labels = np.asarray([row[3] for row in rows], dtype=np.asarray(classes).dtype)
    return pd.DataFrame({
        "clip": np.asarray([row[0] for row in rows], dtype=np.int64),
        "onset": np.asarray([row[1] for row in rows], dtype=np.float64),
        "offset": np.asarray([row[2] for row in rows], dtype=np.float64),
        "label": labels,
    }, columns=list(EVENT_COLUMNS))
