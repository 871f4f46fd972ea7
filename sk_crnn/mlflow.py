"""An MLflow flavour for sk_crnn models, stored with :func:`sk_crnn.save`, never pickled.

``mlflow.sklearn.log_model`` stores a model with pickle, cloudpickle or skops; a skorch net
holds its network, optimizer and loss as one pickled blob, so skops would have to trust
types that can run code. This flavour stores the model with :func:`sk_crnn.save` (JSON and
safetensors, classes named by registry tags) inside the MLflow model directory:

- :func:`save_model` writes an MLflow model directory, :func:`log_model` logs one to the
  active run (MLflow 3: ``name=``; it returns the ``ModelInfo``);
- :func:`load_model` gives the sk_crnn model back through :func:`sk_crnn.load` only;
- ``mlflow.pyfunc.load_model(uri).predict(data)`` runs it on audio arrays or file paths
  (its loader module is this one);
- :func:`autolog` logs the parameters and the per-epoch training curve of every fit.

MLflow is imported only when one of these functions is called, so ``import sk_crnn.mlflow``
works without it: ``pip install "sk-crnn[mlflow]"``.
"""

import os
import sys
from pathlib import Path

from ._mlflow_pyfunc import PyfuncModel, check_predict_fn

__all__ = ["FLAVOR_NAME", "autolog", "get_default_pip_requirements", "load_model", "log_model",
           "save_model"]

#: The flavour's name in the MLmodel file.
FLAVOR_NAME = "sk_crnn"

#: The model file inside the MLflow model directory.
MODEL_FILE = "model.skcrnn"


def _mlflow():
    """The mlflow package, or an ImportError that says how to install it."""
    try:
        import mlflow
    except ImportError as exc:
        raise ImportError(
            'sk_crnn.mlflow needs MLflow 3 or later; install it with pip install '
            '"sk-crnn[mlflow]" (or pip install "mlflow>=3").') from exc
    major = mlflow.__version__.split(".")[0]
    if not major.isdigit() or int(major) < 3:
        raise ImportError(
            f"sk_crnn.mlflow needs MLflow 3 or later; found mlflow {mlflow.__version__}. "
            'Upgrade it with pip install -U "sk-crnn[mlflow]".')
    return mlflow


def get_default_pip_requirements():
    """The pip requirements written with a model when none are given.

    Returns
    -------
    requirements : list of str
        ``sk-crnn`` and its direct dependencies (torch, skorch, scikit-learn, ...), each
        pinned to the installed version without a local label (``torch==2.4.0``, not
        ``torch==2.4.0+cpu``). MLflow adds ``mlflow`` itself. Neither cloudpickle nor skops
        is needed to load the model.
    """
    from importlib.metadata import PackageNotFoundError, requires, version

    from packaging.requirements import Requirement
    from packaging.version import Version

    from . import __version__

    try:
        names = ["sk-crnn"] + [
            req.name for req in map(Requirement, requires("sk-crnn") or ())
            if req.marker is None or "extra" not in str(req.marker)]
    except PackageNotFoundError:  # run from a source tree that is not installed
        return [f"sk-crnn=={__version__}"]
    pinned = []
    for name in names:
        try:
            pinned.append(f"{name}=={Version(version(name)).public}")
        except PackageNotFoundError:
            pinned.append(name)
    return pinned


def save_model(model, path, *, signature=None, input_example=None, pyfunc_predict_fn=None,
               pip_requirements=None, extra_pip_requirements=None, conda_env=None,
               metadata=None, mlflow_model=None):
    """Save an sk_crnn model as an MLflow model directory, without pickle.

    The directory holds the model written by :func:`sk_crnn.save` (``model.skcrnn``), an
    ``MLmodel`` file with two flavours, ``sk_crnn`` (read by :func:`load_model`) and
    ``python_function`` (whose loader module is ``sk_crnn.mlflow``), and the environment
    files MLflow writes (``requirements.txt``, ``conda.yaml``, ``python_env.yaml``; see
    :func:`get_default_pip_requirements`). No file in it is a pickle.

    Parameters
    ----------
    model : Pipeline or estimator
        A fitted model that :func:`sk_crnn.save` stores: usually a Pipeline of
        :class:`~sk_crnn.MelSpectrogramTransformer` (after an optional
        :class:`~sk_crnn.AudioLoader`) and an sk_crnn estimator.
    path : str or path-like
        The directory to create; it must not exist or be empty.
    signature : mlflow.models.ModelSignature, False or None, default=None
        The model's input and output schema. None infers one from ``input_example`` (when
        given) by running ``pyfunc_predict_fn`` on it; False stores none.
    input_example : DataFrame, ndarray or list, default=None
        A few clips as ``mlflow.pyfunc`` takes them (see Notes), stored with the model. A
        2-D array or a list of 1-D arrays is stored as a DataFrame of one column,
        ``"audio"``, of float64 arrays, and a list of paths as one column ``"path"``, so that
        the inferred signature takes clips of any length.
    pyfunc_predict_fn : {"predict", "predict_proba", "transform"} or None, default=None
        The method ``mlflow.pyfunc``'s ``predict`` calls; None means ``"predict"``, or
        ``"transform"`` for a model without ``predict`` (an embedder).
    pip_requirements : list of str, str or None, default=None
        Replaces the default requirements (MLflow's ``pip_requirements``).
    extra_pip_requirements : list of str, str or None, default=None
        Added to the default requirements.
    conda_env : dict, str or None, default=None
        A conda environment (or the path of its YAML file) instead of the pip requirements.
    metadata : dict or None, default=None
        Stored in the ``MLmodel`` file.
    mlflow_model : mlflow.models.Model or None, default=None
        The model metadata to add the flavours to (used by :func:`log_model`).

    Raises
    ------
    ImportError
        If MLflow 3 is not installed.
    TypeError
        If the model holds something :func:`sk_crnn.save` cannot store without pickle.
    ValueError
        If ``pyfunc_predict_fn`` names a method the model lacks.

    See Also
    --------
    log_model : Save and log to the active MLflow run.
    load_model : Load it back.

    Notes
    -----
    ``mlflow.pyfunc.load_model(path).predict(data)`` takes a pandas DataFrame of one column
    (or a Series) whose rows are 1-D float arrays (or lists of numbers, as JSON gives) or file
    paths, a list of either, or a float array of shape ``(n_clips, n_samples)``. Files are
    read at the model's sample rate, as its ``AudioLoader`` step reads them (or mono and
    whole when it has none). It returns what ``pyfunc_predict_fn`` returns: labels
    (classifier), values (regressor), transcripts (transcriber), embeddings (an embedder's
    ``transform``), probabilities (``predict_proba``); for an event detector's ``predict``, a
    DataFrame with one row per event and the columns ``clip`` (the input row), ``onset``,
    ``offset`` (seconds) and ``label``. Clips are padded or cropped to the training length,
    as ``predict`` does; predict long recordings with :mod:`sk_crnn.windows` instead.
    """
    mlflow = _mlflow()
    from mlflow.models import Model
    from mlflow.models.signature import _infer_signature_from_input_example
    from mlflow.models.utils import _save_example
    from mlflow.utils.model_utils import _validate_and_prepare_target_save_path

    from . import __version__
    from .persistence import save

    predict_fn = check_predict_fn(model, pyfunc_predict_fn)
    path = os.path.abspath(os.fspath(path))
    _validate_and_prepare_target_save_path(path)
    save(model, os.path.join(path, MODEL_FILE))
    if mlflow_model is None:
        mlflow_model = Model()
    example = _save_example(mlflow_model, _example_frame(input_example), path)
    if signature is None and example is not None:
        signature = _infer_signature_from_input_example(example, PyfuncModel(model, predict_fn))
    if signature is not False and signature is not None:
        mlflow_model.signature = signature
    if metadata is not None:
        mlflow_model.metadata = metadata
    mlflow.pyfunc.add_to_model(mlflow_model, loader_module=__name__, data=MODEL_FILE,
                               conda_env="conda.yaml", python_env="python_env.yaml")
    mlflow_model.add_flavor(FLAVOR_NAME, model_file=MODEL_FILE, sk_crnn_version=__version__,
                            pyfunc_predict_fn=predict_fn, serialization_format="sk_crnn.save")
    mlflow_model.save(os.path.join(path, "MLmodel"))
    _write_environment(path, pip_requirements, extra_pip_requirements, conda_env)


def _example_frame(input_example):
    """An input example as a one-column DataFrame (``"audio"``: float64 arrays, or
    ``"path"``), so the signature MLflow infers takes clips of any length; a DataFrame, a
    Series or None as it is."""
    if input_example is None or hasattr(input_example, "iloc"):
        return input_example
    import numpy as np
    import pandas as pd

    from ._mlflow_pyfunc import as_clips

    clips, paths = as_clips(input_example)
    if paths:
        return pd.DataFrame({"path": clips})
    clips = list(clips)
    if any(np.ndim(clip) != 1 for clip in clips):  # spectrograms: a tensor example
        return np.asarray(input_example)
    return pd.DataFrame({"audio": [np.asarray(clip, dtype=np.float64) for clip in clips]})


def _write_environment(path, pip_requirements, extra_pip_requirements, conda_env):
    """requirements.txt, conda.yaml and python_env.yaml, as MLflow's own flavours write them."""
    import yaml
    from mlflow.utils.environment import (
        _CONSTRAINTS_FILE_NAME,
        _process_conda_env,
        _process_pip_requirements,
        _PythonEnv,
    )

    if conda_env is None:
        default = get_default_pip_requirements() if pip_requirements is None else None
        conda_env, requirements, constraints = _process_pip_requirements(
            default, pip_requirements, extra_pip_requirements)
    else:
        conda_env, requirements, constraints = _process_conda_env(conda_env)
    with open(os.path.join(path, "conda.yaml"), "w") as f:
        yaml.safe_dump(conda_env, stream=f, default_flow_style=False)
    if constraints:
        Path(path, _CONSTRAINTS_FILE_NAME).write_text("\n".join(constraints))
    Path(path, "requirements.txt").write_text("\n".join(requirements))
    _PythonEnv.current().to_yaml(os.path.join(path, "python_env.yaml"))


def log_model(model, name="model", *, signature=None, input_example=None,
              pyfunc_predict_fn=None, pip_requirements=None, extra_pip_requirements=None,
              conda_env=None, metadata=None, registered_model_name=None, params=None,
              tags=None, **kwargs):
    """Log an sk_crnn model to the active MLflow run (one is started if none is active).

    Saves it as :func:`save_model` does and logs it as an MLflow 3 logged model.

    Parameters
    ----------
    model : Pipeline or estimator
        A fitted model that :func:`sk_crnn.save` stores.
    name : str, default="model"
        The logged model's name.
    signature, input_example, pyfunc_predict_fn, pip_requirements, extra_pip_requirements, \
conda_env, metadata
        As in :func:`save_model`.
    registered_model_name : str or None, default=None
        Also register the model under this name in the model registry.
    params : dict or None, default=None
        Parameters stored with the logged model (the run's parameters are added).
    tags : dict or None, default=None
        Tags of the logged model.
    **kwargs
        Other arguments of ``mlflow.models.Model.log`` (``step``, ``model_type``,
        ``await_registration_for``, ...).

    Returns
    -------
    model_info : mlflow.models.model.ModelInfo
        Its ``model_uri`` loads the model with :func:`load_model` or
        ``mlflow.pyfunc.load_model``.

    See Also
    --------
    save_model : The same, to a local directory.
    load_model : Load it back.
    """
    _mlflow()
    from mlflow.models import Model

    return Model.log(
        artifact_path=None, name=name, flavor=sys.modules[__name__], model=model,
        registered_model_name=registered_model_name, params=params, tags=tags,
        signature=signature, input_example=input_example, pyfunc_predict_fn=pyfunc_predict_fn,
        pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements,
        conda_env=conda_env, metadata=metadata, **kwargs)


def load_model(model_uri, dst_path=None):
    """Load an sk_crnn model logged or saved with this flavour; nothing is unpickled.

    Reads only the ``sk_crnn`` flavour of the ``MLmodel`` file (YAML, read safely) and the
    model file it names, with :func:`sk_crnn.load`: the ``python_function`` flavour's loader
    module and code paths are not used, and a file that is not an sk_crnn model (a pickle
    among them) is refused.

    Parameters
    ----------
    model_uri : str or path-like
        A local directory, or any MLflow model URI (``models:/<model_id>``,
        ``runs:/<run_id>/<path>``, ``models:/<name>/<version>``, ...).
    dst_path : str or None, default=None
        Where to download the model; None uses a temporary directory.

    Returns
    -------
    model : Pipeline or estimator
        The fitted model, as :func:`sk_crnn.load` returns it.

    Raises
    ------
    ImportError
        If MLflow 3 is not installed.
    mlflow.exceptions.MlflowException
        If the model has no ``sk_crnn`` flavour (it was not saved by this module).
    sk_crnn.persistence.ModelFileError
        If the model file is not an sk_crnn model, or is corrupted or altered.
    ValueError
        If the flavour names a model file outside the model directory.
    """
    _mlflow()
    from mlflow.tracking.artifact_utils import _download_artifact_from_uri
    from mlflow.utils.model_utils import _get_flavor_configuration

    from .persistence import load

    local = Path(_download_artifact_from_uri(artifact_uri=os.fspath(model_uri),
                                             output_path=dst_path))
    conf = _get_flavor_configuration(model_path=str(local), flavor_name=FLAVOR_NAME)
    return load(_model_file(local, conf.get("model_file", MODEL_FILE)))


def _model_file(directory, name):
    """The model file ``name`` of an MLflow model directory, refusing one outside it."""
    if not isinstance(name, str):
        raise ValueError(f"The sk_crnn flavour of '{directory}' names its model file as "
                         f"{name!r}, which is not a file name.")
    root = Path(directory).resolve()
    target = (root / name).resolve()
    if not target.is_relative_to(root) or target == root:
        raise ValueError(f"The sk_crnn flavour of '{directory}' names the model file {name!r}, "
                         "which is outside the model directory; the MLmodel file was altered.")
    return target


def _load_pyfunc(path):
    """The loader ``mlflow.pyfunc.load_model`` calls: the model file at ``path`` (as
    :func:`sk_crnn.load` reads it) wrapped for ``predict``."""
    from mlflow.utils.model_utils import _get_flavor_configuration

    from .persistence import load

    path = Path(path)
    directory = path.parent if path.is_file() else path
    conf = _get_flavor_configuration(model_path=str(directory), flavor_name=FLAVOR_NAME)
    if path.is_dir():
        path = _model_file(directory, conf.get("model_file", MODEL_FILE))
    model = load(path)
    return PyfuncModel(model, check_predict_fn(model, conf.get("pyfunc_predict_fn")))


def autolog(*, disable=False, silent=False):
    """Log every sk_crnn estimator's fit to MLflow: its parameters and per-epoch curve.

    While on, each ``fit`` (and ``partial_fit``) of a CRNN estimator, alone or as the last
    step of a Pipeline, logs to the active run (or to a new run that ends with the fit):

    - parameters: the estimator's ``get_params(deep=False)`` values that are str, int,
      float, bool or None (not the network class, callbacks or tuples); in a Pipeline every
      step's, named as ``Pipeline.get_params`` names them (``"crnnclassifier__lr"``);
    - metrics: each numeric column of the net's ``history`` (``train_loss``,
      ``valid_loss``, ``valid_acc``, ``dur``, ...) with ``step`` = the epoch, for the epochs
      that fit trained, when it returns (or fails);
    - tags ``estimator_name`` and ``estimator_class``.

    A failure to log is a warning; the fit itself goes on.

    Parameters
    ----------
    disable : bool, default=False
        Turn autologging off (undo an earlier call).
    silent : bool, default=False
        No warnings when logging fails.

    Raises
    ------
    ImportError
        If MLflow 3 is not installed.

    Notes
    -----
    Logging happens in the process that fits: the fits of a search run in other processes
    (``n_jobs``) are not logged. Parameter values cannot change within an MLflow run, so fit
    each candidate of a search in a run of its own (``mlflow.start_run(nested=True)``).
    The model itself is not logged: call :func:`log_model`.
    """
    from ._mlflow_autolog import set_autolog

    if not disable:
        _mlflow()
    set_autolog(enabled=not disable, silent=silent)
