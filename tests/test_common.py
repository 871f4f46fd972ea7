"""scikit-learn's common estimator checks, with each expected failure and its reason."""

from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_crnn import CRNNClassifier, CRNNRegressor, MelSpectrogramTransformer


def small_transformer():
    # The checks feed tiny tabular arrays: each row is read as a short clip.
    return MelSpectrogramTransformer(sr=8000, n_fft=16, hop_length=8, n_mels=4)


_ANY_LENGTH = (
    "clips of any length are accepted and zero-padded or cropped to the fitted length "
    "(n_samples_), so there is no fixed number of input features"
)
TRANSFORMER_EXPECTED_FAILURES = {
    "check_n_features_in": _ANY_LENGTH,
    "check_n_features_in_after_fitting": _ANY_LENGTH,
    "check_transformer_general": _ANY_LENGTH,
    "check_transformer_general(readonly_memmap=True)": _ANY_LENGTH,
    "check_estimators_dtypes": (
        "integer input is rejected on purpose: integer PCM must be scaled to [-1, 1] floats, "
        "and the error says how"
    ),
}


@parametrize_with_checks(
    [small_transformer()],
    expected_failed_checks=lambda est: TRANSFORMER_EXPECTED_FAILURES,
    xfail_strict=True,
)
def test_sklearn_compatible_transformer(estimator, check):
    check(estimator)


def small_pipeline(estimator):
    return make_pipeline(
        MelSpectrogramTransformer(sr=8000, n_fft=16, hop_length=8, n_mels=4),
        estimator(max_epochs=2, batch_size=16, module__conv_channels=(4,), module__rnn_hidden=4,
                  random_state=0),
    )


_STEPS_FITTED_IN_PLACE = (
    "a Pipeline fits its steps in place, so `steps` changes in fit; scikit-learn lists the same "
    "expected failure for its own Pipeline"
)
_TINY_NET = (
    "the checks' score thresholds are out of reach for a 2-epoch network on spectrograms of "
    "4-sample tabular rows; training quality is tested on audio in test_integration.py"
)
PIPELINE_EXPECTED_FAILURES = {
    **TRANSFORMER_EXPECTED_FAILURES,
    "check_transformer_preserve_dtypes": (
        "the check calls Pipeline.set_output, which MelSpectrogramTransformer lacks: its output "
        "is 3-D spectrograms, not a table; the CRNN's float32 transform output is tested in "
        "test_training.py"
    ),
    "check_estimators_overwrite_params": _STEPS_FITTED_IN_PLACE,
    "check_dont_overwrite_parameters": _STEPS_FITTED_IN_PLACE,
    "check_classifier_data_not_an_array": TRANSFORMER_EXPECTED_FAILURES["check_estimators_dtypes"],
    "check_classifiers_train": _TINY_NET,
    "check_classifiers_train(readonly_memmap=True)": _TINY_NET,
    "check_classifiers_train(readonly_memmap=True,X_dtype=float32)": _TINY_NET,
    "check_regressors_train": _TINY_NET,
    "check_regressors_train(readonly_memmap=True)": _TINY_NET,
    "check_regressors_train(readonly_memmap=True,X_dtype=float32)": _TINY_NET,
}


@parametrize_with_checks(
    [small_pipeline(CRNNClassifier), small_pipeline(CRNNRegressor)],
    expected_failed_checks=lambda est: PIPELINE_EXPECTED_FAILURES,
    xfail_strict=True,
)
def test_sklearn_compatible_pipeline(estimator, check):
    check(estimator)
