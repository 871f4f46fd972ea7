"""scikit-learn's common estimator checks, with each expected failure and its reason."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_crnn import MelSpectrogramTransformer


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
)
def test_sklearn_compatible_transformer(estimator, check):
    check(estimator)
