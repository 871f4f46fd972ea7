"""Model files that cannot run code: :func:`save` and :func:`load`.

A ``pickle`` (and so a ``joblib`` file) can run any code when it is loaded. The files written
by :func:`save` hold only data: one zip archive (:mod:`.archive`) with

- ``model.json``: what the model is made of (class tags, parameters, fitted attributes) as
  JSON, with every value encoded so that it comes back with its exact type (tuples, numpy
  scalars and arrays of any label dtype);
- ``arrays.safetensors``: the numeric numpy arrays (fitted attributes such as ``mean_``);
- ``weights.safetensors``: the networks' weights (``state_dict``) and other torch tensors;
- ``manifest.json``: the format name and version, the library versions and the SHA-256 of
  each of the three files above, checked on load so that corruption or truncation is an error.

Classes are named by the tags of an explicit registry (:mod:`.registry`) and :func:`load`
builds only those: nothing read from a file is ever imported or unpickled. Before it builds a
network, :func:`load` checks the sizes and fitted state the file claims against the stored
weights (:mod:`.checks`), so that an altered file is refused rather than allocating what it
asks or loading a different model.
"""

import json
from pathlib import Path

from .archive import (
    FORMAT,
    FORMAT_VERSION,
    READABLE_VERSIONS,
    SUFFIX,
    ModelFileError,
    atomic_write,
    check_target,
    read_archive,
    sniff,
    write_archive,
)
from .registry import SKLEARN_CLASSES

ModelFileError.__module__ = __name__  # its public home

__all__ = ["ModelFileError", "load", "save", "sniff", "atomic_write", "SKLEARN_CLASSES",
           "FORMAT", "FORMAT_VERSION", "READABLE_VERSIONS", "SUFFIX"]


def save(estimator, path):
    """Save a fitted estimator or Pipeline to a file that loading cannot turn into code.

    Stores a ``Pipeline`` (or :class:`~sk_crnn.pipeline.CRNNPipeline`, which
    :func:`sk_crnn.make_pipeline` builds) of sk_crnn's steps (:class:`~sk_crnn.AudioLoader`,
    :class:`~sk_crnn.MelSpectrogramTransformer`, :class:`~sk_crnn.CRNNClassifier`,
    :class:`~sk_crnn.CRNNRegressor`, :class:`~sk_crnn.CRNNEventDetector`,
    :class:`~sk_crnn.CRNNTranscriber`, :class:`~sk_crnn.CRNNEmbedder`) and of the
    scikit-learn classes in :data:`SKLEARN_CLASSES`, or one such estimator alone, as JSON
    and safetensors in one zip file (see the module's documentation). The file is written to
    a temporary file in the same folder first and renamed when complete, so an existing file
    at ``path`` is replaced only by a whole model.

    Parameters
    ----------
    estimator : estimator or Pipeline
        Fitted (or unfitted: then only the parameters are stored).
    path : str or path-like
        The file to write; the usual suffix is ``.skcrnn``.

    Raises
    ------
    TypeError
        If a step, a parameter or a fitted attribute cannot be stored without pickle (a
        user-defined class or function, a callback object, an estimator type outside the
        list, an attribute the class does not declare, a Pipeline with ``memory``); the
        message names it. Use ``joblib.dump`` for such models, and load them only from
        sources you trust.
    IsADirectoryError, FileNotFoundError, NotADirectoryError
        If ``path`` is a folder, or its folder does not exist; the message names ``path``.

    Warns
    -----
    UserWarning
        If the training of a network in the model was interrupted (Ctrl-C): the message
        names the epoch it stopped at.

    See Also
    --------
    load : Read the file back.

    Notes
    -----
    What is not stored: a net's optimizer state (a net trained further with ``partial_fit``
    after loading starts with a fresh optimizer) and callbacks other than the defaults;
    ``history_`` is stored when it holds plain values.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.preprocessing import StandardScaler
    >>> import sk_crnn
    >>> path = os.path.join(tempfile.mkdtemp(), "scaler.skcrnn")
    >>> sk_crnn.save(StandardScaler().fit([[0.0], [2.0]]), path)
    >>> sk_crnn.load(path).mean_
    array([1.])
    """
    from .writer import Writer

    target = Path(path)
    check_target(target, path)
    writer = Writer()
    tree = writer.node(estimator, type(estimator).__name__)
    write_archive(target, tree, writer.arrays, writer.tensors)


def load(path):
    """Load a model written by :func:`save`; no code from the file is run.

    Every class named in the file must be a tag of sk_crnn's registry (sk_crnn's steps,
    ``Pipeline`` and ``CRNNPipeline``, :data:`SKLEARN_CLASSES`; sk_crnn's modules and the torch
    losses, optimizers, data loaders and datasets as parameter values): nothing the file names
    is imported. The checksums of the parts are checked; the sizes the file claims are bounded
    and checked against the shapes of the stored weights before a network is built; every weight
    of every network must be there; fitted state is limited to the attributes each class
    declares. The networks are then rebuilt with ``initialize()``, their weights loaded from
    safetensors, and each is checked to give the outputs it gave when it was saved. A net
    trained on a GPU loads on a machine without one with ``device="cpu"`` (with a warning).

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.

    Returns
    -------
    estimator : estimator or Pipeline
        The saved object, fitted as it was.

    Raises
    ------
    ModelFileError
        For any file that does not hold a model this function rebuilds as it was saved: not
        an sk_crnn model file (a pickle or joblib file among them: load those with joblib
        only if you trust their source), corrupted or truncated, from a newer version,
        naming a class outside the registry, claiming sizes beyond the bounds or different
        from its weights, missing weights, or holding non-finite network weights.
    FileNotFoundError, IsADirectoryError
        If ``path`` does not exist or is a folder.

    See Also
    --------
    save : Write such a file.
    """
    from .checks import BadModel
    from .reader import Reader

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Model file '{path}' does not exist.")
    if path.is_dir():
        raise IsADirectoryError(f"'{path}' is a folder, not a model file.")
    manifest, parts = read_archive(path)
    try:
        reader = Reader(path, parts, manifest["format_version"])
        tree = json.loads(parts["model.json"])
        return reader.node(tree, "model")
    except ModelFileError:
        raise
    except BadModel as exc:
        raise ModelFileError(f"'{path}' cannot be loaded: {exc}.") from None
    except Exception as exc:  # noqa: BLE001 - whatever a crafted file makes a constructor raise
        raise ModelFileError(
            f"'{path}' could not be rebuilt as a model ({type(exc).__name__}: {exc}); the file "
            f"was written by sk_crnn {manifest.get('sk_crnn_version', '?')}, which may store "
            "things differently from this version, or it was altered."
        ) from exc
