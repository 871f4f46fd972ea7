"""What a model file may name: an explicit registry of tags, and the fitted state of each class.

A model file never names a Python module or class by its import path. It names classes and
functions by the *tags* of this registry, and :func:`sk_crnn.load` rebuilds only those: a
tag that is not a key of these tables is an error, and nothing read from a file is ever
passed to ``import``. The tables are built from objects that sk_crnn's own code imports.

The fitted state a file may set on an estimator is limited too (:func:`check_state_keys`):
sk_crnn's estimators declare their fitted attributes in :data:`FITTED_ATTRIBUTES`; the
scikit-learn classes may carry attributes ending in ``_`` and the few private ones in
:data:`SKLEARN_PRIVATE_STATE`; no name may shadow an attribute of the class (a method such
as ``transform``, a property, a class constant).
"""

import functools

import numpy as np

# scikit-learn classes whose parameters are plain values and whose fitted state is arrays and
# scalars, so that they are rebuilt from data alone. Their tags are their public import paths.
SKLEARN_CLASSES = (
    "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing.MinMaxScaler",
    "sklearn.preprocessing.MaxAbsScaler",
    "sklearn.preprocessing.RobustScaler",
    "sklearn.preprocessing.Normalizer",
    "sklearn.preprocessing.FunctionTransformer",
    "sklearn.decomposition.PCA",
    "sklearn.feature_selection.VarianceThreshold",
    "sklearn.linear_model.LogisticRegression",
    "sklearn.linear_model.LinearRegression",
    "sklearn.linear_model.Ridge",
    "sklearn.linear_model.RidgeClassifier",
    "sklearn.svm.LinearSVC",
    "sklearn.svm.SVC",
    "sklearn.svm.SVR",
    "sklearn.discriminant_analysis.LinearDiscriminantAnalysis",
)

# The fitted attributes each sk_crnn estimator may carry (tests/test_persistence.py fits
# every estimator and checks that it sets no other, so that this list cannot drift).
_NET_COMMON = ("n_mels_in_", "n_frames_in_", "n_outputs_", "validation_indices_",
               "training_failed_", "interrupted_epoch_")
FITTED_ATTRIBUTES = {
    "sk_crnn.CRNNClassifier": frozenset({*_NET_COMMON, "classes_inferred_", "target_type_",
                                         "class_weight_"}),
    "sk_crnn.CRNNRegressor": frozenset({*_NET_COMMON, "y_ndim_"}),
    "sk_crnn.CRNNEventDetector": frozenset({*_NET_COMMON, "classes_inferred_", "clip_head_",
                                            "pos_weight_", "thresholds_"}),
    "sk_crnn.CRNNTranscriber": frozenset({*_NET_COMMON, "tokens_", "vocabulary_"}),
    "sk_crnn.CRNNEmbedder": frozenset({*_NET_COMMON, "classes_inferred_"}),
    "sk_crnn.MelSpectrogramTransformer": frozenset({"n_samples_", "n_frames_", "n_bands_",
                                                    "band_mean_", "band_std_"}),
    "sk_crnn.AudioLoader": frozenset(),
    "sk_crnn.SimilarityIndex": frozenset({"ids_", "embeddings_", "nn_"}),
}
# Fitted attributes of the scikit-learn classes above that do not end in "_" or are private.
SKLEARN_PRIVATE_STATE = frozenset({
    "_fit_svd_solver", "_max_components", "_n_features_out", "_label_binarizer",  # PCA, LDA
    "nu", "epsilon", "probability", "class_weight", "random_state",  # SVC / SVR copies
    "_sparse", "_effective_probability", "_gamma", "_n_support", "_probA", "_probB",
    "_num_iter", "_intercept_", "_dual_coef_",
})
# Set by scikit-learn's set_output on any estimator (the container transform returns), fitted
# or not; checks.check_output_config checks its value.
OUTPUT_CONFIG = "_sklearn_output_config"
_ANY_STATE = frozenset({OUTPUT_CONFIG})
# Attributes of a skorch net that skorch builds itself (in __init__ or initialize).
NET_INTERNALS = frozenset({
    "module_", "criterion_", "optimizer_", "callbacks_", "history_", "initialized_",
    "virtual_params_", "prefixes_", "cuda_dependent_attributes_", "init_context_",
})

_OPTIMIZERS = ("ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS",
               "NAdam", "RAdam", "RMSprop", "Rprop", "SGD", "SparseAdam")
_LOSSES = ("BCELoss", "BCEWithLogitsLoss", "CTCLoss", "CosineEmbeddingLoss",
           "CrossEntropyLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "HuberLoss",
           "KLDivLoss", "L1Loss", "MSELoss", "MarginRankingLoss", "MultiLabelMarginLoss",
           "MultiLabelSoftMarginLoss", "MultiMarginLoss", "NLLLoss", "PoissonNLLLoss",
           "SmoothL1Loss", "SoftMarginLoss", "TripletMarginLoss")


@functools.cache
def estimator_classes():
    """Tag -> class of every estimator that :func:`sk_crnn.load` rebuilds as a step."""
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.feature_selection import VarianceThreshold
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, RidgeClassifier
    from sklearn.preprocessing import (
        FunctionTransformer,
        MaxAbsScaler,
        MinMaxScaler,
        Normalizer,
        RobustScaler,
        StandardScaler,
    )
    from sklearn.svm import SVC, SVR, LinearSVC

    from ..detection import CRNNEventDetector
    from ..estimators import CRNNClassifier, CRNNRegressor
    from ..io import AudioLoader
    from ..retrieval import CRNNEmbedder, SimilarityIndex
    from ..transcription import CRNNTranscriber
    from ..transformers import MelSpectrogramTransformer

    ours = (AudioLoader, MelSpectrogramTransformer, CRNNClassifier, CRNNRegressor,
            CRNNEventDetector, CRNNTranscriber, CRNNEmbedder, SimilarityIndex)
    theirs = (StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler, Normalizer,
              FunctionTransformer, PCA, VarianceThreshold, LogisticRegression,
              LinearRegression, Ridge, RidgeClassifier, LinearSVC, SVC, SVR,
              LinearDiscriminantAnalysis)
    classes = {f"sk_crnn.{cls.__name__}": cls for cls in ours}
    classes.update(zip(SKLEARN_CLASSES, theirs))
    for tag, cls in zip(SKLEARN_CLASSES, theirs):  # the tuple and the imports agree
        assert tag.rpartition(".")[2] == cls.__name__, tag
    return classes


#: The tag of scikit-learn's Pipeline: what a pipeline node that names no class is (the files
#: written before pipelines named their class).
PIPELINE = "sklearn.pipeline.Pipeline"


@functools.cache
def pipeline_classes():
    """Tag -> class of every pipeline that :func:`sk_crnn.load` rebuilds."""
    from sklearn.pipeline import Pipeline

    from ..pipeline import CRNNPipeline

    return {PIPELINE: Pipeline, "sk_crnn.pipeline.CRNNPipeline": CRNNPipeline}


@functools.cache
def parameter_classes():
    """Tag -> kind and class of every class a parameter may hold (``module=``,
    ``criterion=``, ``optimizer=``, ``iterator_train=``, ``dataset=``, ...)."""
    import skorch.dataset
    import torch
    import torch.utils.data

    from .. import modules
    from ..retrieval import SupConLoss

    table = {}
    for name in ("CRNN", "FrameCRNN", "EmbeddingCRNN", "SequenceCRNN"):
        table[f"sk_crnn.modules.{name}"] = ("module", getattr(modules, name))
    table["sk_crnn.retrieval.SupConLoss"] = ("criterion", SupConLoss)
    for name in _LOSSES:
        cls = getattr(torch.nn, name, None)
        if cls is not None:
            table[f"torch.nn.{name}"] = ("criterion", cls)
    for name in _OPTIMIZERS:
        cls = getattr(torch.optim, name, None)
        if cls is not None:
            table[f"torch.optim.{name}"] = ("optimizer", cls)
    table["torch.utils.data.DataLoader"] = ("iterator", torch.utils.data.DataLoader)
    table["skorch.dataset.Dataset"] = ("dataset", skorch.dataset.Dataset)
    table["torch.utils.data.TensorDataset"] = ("dataset", torch.utils.data.TensorDataset)
    return table


# The kind of class each net parameter may hold (None is allowed where the estimator
# picks one itself).
PARAMETER_KINDS = {"module": "module", "criterion": "criterion", "optimizer": "optimizer",
                   "iterator_train": "iterator", "iterator_valid": "iterator",
                   "dataset": "dataset"}


@functools.cache
def class_tags():
    """Class -> tag, for writing."""
    return {cls: tag for tag, (_, cls) in parameter_classes().items()}


@functools.cache
def legacy_class_names():
    """``"module:qualname"`` -> tag: how format version 1 named the registered classes.

    Built from the registry's own classes (their ``__module__`` and ``__qualname__``), so that
    a version 1 file is read by looking its strings up here, never by importing them."""
    return {f"{cls.__module__}:{cls.__qualname__}": tag
            for tag, (_, cls) in parameter_classes().items()}


@functools.cache
def functions():
    """Tag -> function that a parameter may hold (``FunctionTransformer(func=...)``)."""
    from .. import baselines

    return {
        "sk_crnn.baselines.mean_std_pool": baselines.mean_std_pool,
        "numpy.log1p": np.log1p, "numpy.log": np.log, "numpy.sqrt": np.sqrt,
        "numpy.abs": np.abs, "numpy.max": np.max, "numpy.min": np.min,
        "numpy.mean": np.mean, "numpy.median": np.median,
    }


def allowed_state(tag, cls, key, params):
    """Why ``key`` may not be fitted state of ``cls`` (registered as ``tag``), or None."""
    if not isinstance(key, str) or not key.isidentifier() or key.startswith("__"):
        return "it is not an attribute name"
    if key in params:
        return "it is a parameter of the class"
    if hasattr(cls, key):
        return f"it would hide {cls.__name__}.{key}, an attribute or method of the class"
    if key in _ANY_STATE:
        return None
    declared = FITTED_ATTRIBUTES.get(tag)
    if declared is not None:
        if key in declared:
            return None
        listed = ", ".join(sorted(declared)) or "none"
        return f"{cls.__name__} declares no such fitted attribute (it has: {listed})"
    if (key.endswith("_") and not key.startswith("_")) or key in SKLEARN_PRIVATE_STATE:
        return None
    return "fitted attributes end in '_'"
