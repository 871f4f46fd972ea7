"""Autologging of sk_crnn fits to MLflow (:func:`sk_crnn.mlflow.autolog`).

While it is on, the estimators' one training entry point, ``SpectrogramNet._train`` (behind
``fit`` and ``partial_fit`` of every CRNN estimator), is wrapped: before training, the
parameters are logged to the active run (or to a run started for this fit); after it, the
epochs it trained are logged from ``history`` as metrics, ``step`` = the epoch, and a run
started for the fit ends (``FAILED`` if the fit raised). Nothing in the estimators changes;
turning autologging off puts the method back.

The Pipeline a fit belongs to is found on the call stack (the nearest ``Pipeline`` whose last
step is the estimator), so that the parameters of all its steps are logged under the names
``Pipeline.get_params`` gives them.
"""

import sys
import threading
import time
import warnings

import numpy as np

_SIMPLE = (str, bool, int, float, np.integer, np.floating, np.bool_)

_state = threading.local()  # depth: a fit inside a logged fit is not logged again
_settings = {"original": None, "silent": False}


def set_autolog(*, enabled, silent=False):
    """Wrap ``SpectrogramNet._train`` (``enabled``) or put the original back."""
    from ._base import SpectrogramNet

    _settings["silent"] = silent
    original = _settings["original"]
    if enabled and original is None:
        _settings["original"] = SpectrogramNet.__dict__["_train"]
        SpectrogramNet._train = _logged_train
    elif not enabled and original is not None:
        SpectrogramNet._train = original
        _settings["original"] = None


def _logged_train(self, X, y, **kwargs):
    original = _settings["original"]
    if original is None or getattr(_state, "depth", 0):
        from ._base import SpectrogramNet

        return (original or SpectrogramNet._train)(self, X, y, **kwargs)
    _state.depth = 1
    try:
        return _train_and_log(original, self, X, y, kwargs)
    finally:
        _state.depth = 0


def _train_and_log(original, net, X, y, kwargs):
    import mlflow

    done = len(net.history_) if not kwargs.get("reset") and hasattr(net, "history_") else 0
    run = started = None
    try:
        run = mlflow.active_run()
        if run is None:
            run = started = mlflow.start_run()
        model = _enclosing_pipeline(net)
        mlflow.MlflowClient().log_batch(run.info.run_id, params=_params(model),
                                        tags=_tags(model))
    except Exception as exc:  # noqa: BLE001 - logging must never stop a fit
        _warn(f"could not log the parameters of {type(net).__name__} ({exc})")
    status = "FAILED"
    try:
        result = original(net, X, y, **kwargs)
        status = "FINISHED"
        return result
    finally:
        if run is not None:
            try:
                _log_history(mlflow.MlflowClient(), run.info.run_id, net, done)
            except Exception as exc:  # noqa: BLE001
                _warn(f"could not log the training curve of {type(net).__name__} ({exc})")
        if started is not None:
            mlflow.end_run(status=status)


def _warn(message):
    if not _settings["silent"]:
        warnings.warn(f"sk_crnn.mlflow.autolog {message}; the fit goes on.", UserWarning,
                      stacklevel=4)


def _enclosing_pipeline(estimator):
    """The outermost Pipeline on the call stack that ends in ``estimator`` (through
    Pipelines nested as last steps), or ``estimator`` itself."""
    from sklearn.pipeline import Pipeline

    model, frame = estimator, sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, Pipeline) and owner.steps and owner.steps[-1][1] is model:
            model = owner
        frame = frame.f_back
    return model


def simple_params(model, prefix=""):
    """``{name: value}`` of the constructor parameters of ``model`` (each step's, prefixed
    with its name and ``__``, for a Pipeline) whose values are str, int, float, bool or
    None."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        params = {}
        for name, step in model.steps:
            if hasattr(step, "get_params"):
                params.update(simple_params(step, f"{prefix}{name}__"))
        return params
    return {f"{prefix}{key}": value for key, value in model.get_params(deep=False).items()
            if value is None or isinstance(value, _SIMPLE)}


def _params(model):
    from mlflow.entities import Param

    return [Param(key, str(value)) for key, value in sorted(simple_params(model).items())]


def _tags(model):
    from mlflow.entities import RunTag

    return [RunTag("estimator_name", type(model).__name__),
            RunTag("estimator_class", f"{type(model).__module__}.{type(model).__qualname__}")]


def _log_history(client, run_id, net, done):
    """The numeric values of each epoch the fit trained (``history[done:]``) as metrics."""
    from mlflow.entities import Metric

    history = getattr(net, "history_", None) or []
    now = int(time.time() * 1000)
    metrics = []
    for row in history[done:]:
        epoch = int(row.get("epoch", len(metrics) + done + 1))
        for key, value in row.items():
            if key in ("epoch", "batches") or isinstance(value, (bool, np.bool_)):
                continue
            if isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value):
                metrics.append(Metric(key, float(value), now, epoch))
    if metrics:
        client.log_batch(run_id, metrics=metrics)  # MLflow splits it into its batch sizes
