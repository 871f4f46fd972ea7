"""scikit-learn's common estimator checks, with one table of expected failures and reasons.

The estimators take 3-D spectrograms (and the detector event targets), so sklearn's checks,
which feed 2-D tables and 1-D labels, run on test-only adapters that read each row as a
one-frame spectrogram (and, for the detector, each label as a one-frame event target). The
adapters change only the input and output format; fitting, prediction, validation, cloning
and persistence go through the real code.
"""

import os
import tempfile
import warnings
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
import soundfile
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils import check_array, estimator_checks
from sklearn.utils.estimator_checks import (
    check_methods_sample_order_invariance,
    check_methods_subset_invariance,
    parametrize_with_checks,
)
from sklearn.utils.multiclass import check_classification_targets
from skorch.exceptions import DeviceWarning

from sk_crnn import (
    AudioLoader,
    CRNNClassifier,
    CRNNEmbedder,
    CRNNEventDetector,
    CRNNRegressor,
    CRNNTranscriber,
    MelSpectrogramTransformer,
)
from sk_crnn.events import frames_to_events
from sk_crnn.metrics import event_f1, word_error_rate


class _ReadRowsAsSpectrograms:
    """Each row of ``n_features`` values is read as a spectrogram of ``n_features`` mel bands
    and one frame; the tags say 2-D input accordingly."""

    def _check_X(self, X):
        if not sp.issparse(X):
            X = np.asarray(X)
            if X.ndim == 2:
                X = X[:, :, np.newaxis]
        return super()._check_X(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array, tags.input_tags.three_d_array = True, False
        return tags


class RowsCRNNClassifier(_ReadRowsAsSpectrograms, CRNNClassifier):
    pass


class RowsCRNNRegressor(_ReadRowsAsSpectrograms, CRNNRegressor):
    pass


class RowsCRNNEmbedder(_ReadRowsAsSpectrograms, CRNNEmbedder):
    pass


class RowsCRNNEventDetector(_ReadRowsAsSpectrograms, CRNNEventDetector):
    """A label per row becomes a one-frame 0/1 target of its class (a frame matrix), and
    ``predict`` answers with the most probable class of that frame."""

    def _as_frames(self, y, reset=False):
        y = np.asarray(y)
        if y.ndim != 1:
            return y
        check_classification_targets(y)
        if reset:
            self.labels_ = np.unique(y)
        return (y[:, None, None] == self.labels_[None, None, :]).astype(np.float32)

    def _check_targets(self, y, X, *, reset, classes=None):
        return super()._check_targets(self._as_frames(y, reset), X, reset=reset, classes=classes)

    def predict(self, X):
        self.check_is_fitted()
        return self.labels_[self.predict_proba(X)[:, 0].argmax(axis=1)]

    def score(self, X, y, sample_weight=None):
        y_true = frames_to_events(self._as_frames(y), frame_rate=1.0, classes=self.classes_)
        return event_f1(y_true, CRNNEventDetector.predict(self, X))  # the real events

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.single_output, tags.target_tags.multi_output = True, False
        return tags


class RowsCRNNTranscriber(_ReadRowsAsSpectrograms, CRNNTranscriber):
    """Each row is read as a one-band spectrogram of ``n_features`` frames (a CTC network
    reads along time) and each label as a one-word transcript, ``str(label)``; ``predict``
    maps the (real) transcripts back to labels (NaN for one that is not a label)."""

    def _check_X(self, X):
        if not sp.issparse(X):
            X = np.asarray(X)
            if X.ndim == 2:
                X = X[:, np.newaxis, :]
        return super(_ReadRowsAsSpectrograms, self)._check_X(X)

    def _check_targets(self, y, X, *, reset, classes=None):
        y = np.asarray(y)
        words = [str(v) for v in y] if y.ndim == 1 else y
        if reset and y.ndim == 1:
            self.labels_ = dict(zip(words, y.tolist()))
        return super()._check_targets(words, X, reset=reset, classes=classes)

    def predict(self, X):
        return np.array([self.labels_.get(t, np.nan) for t in super().predict(X)])

    def score(self, X, y, sample_weight=None):
        y_true = [str(v) for v in np.asarray(y)]
        return 1 - word_error_rate(y_true, CRNNTranscriber.predict(self, X))  # real transcripts


class RowsAudioLoader(AudioLoader):
    """Each numeric row is written to a float wav file in a temporary folder and read back
    through the real ``AudioLoader.transform``; the tags say 2-D numeric input."""

    def transform(self, X):
        X = check_array(X, dtype=np.float32)
        with tempfile.TemporaryDirectory() as folder:
            paths = [os.path.join(folder, f"row{i}.wav") for i in range(len(X))]
            for path, row in zip(paths, X):
                soundfile.write(path, row, int(self.sr), subtype="FLOAT")
            return np.stack(super().transform(paths))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array, tags.input_tags.two_d_array = False, True
        tags.input_tags.string = False
        return tags


_SMALL = dict(max_epochs=10, lr=0.01, batch_size=16, random_state=0, module__conv_channels=(4,),
              module__freq_pool=1, module__rnn_hidden=8)


def small_transformer():
    # The checks feed tiny tabular arrays: each row is read as a short clip.
    return MelSpectrogramTransformer(sr=8000, n_fft=16, hop_length=8, n_mels=4)


def small_pipeline(estimator):
    return make_pipeline(
        small_transformer(),
        estimator(max_epochs=2, batch_size=16, module__conv_channels=(4,), module__rnn_hidden=4,
                  random_state=0),
    )


# -- the one table of expected failures ---------------------------------------------------------
_ANY_LENGTH = (
    "clips of any length are accepted and zero-padded or cropped to the fitted length "
    "(n_samples_), so there is no fixed number of input features")
_INT_PCM = ("integer input is rejected on purpose: integer PCM must be scaled to [-1, 1] floats, "
            "and the error says how")
_SKORCH_INIT = ("skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_; "
                "skorch needs them before fit")
_NO_N_FEATURES_IN = (
    "the input is spectrograms: the fitted shape is n_mels_in_ and n_frames_in_, and a "
    "mismatch raises a ValueError naming both shapes, not an n_features_in_ error")
_STEPS_FITTED_IN_PLACE = (
    "a Pipeline fits its steps in place, so `steps` changes in fit; scikit-learn lists the same "
    "expected failure for its own Pipeline")
_TINY_NET = (
    "the checks' score thresholds are out of reach for a 2-epoch network on spectrograms of "
    "4-sample tabular rows; training quality is tested on audio in test_integration.py")
#: Not an expected failure but a tolerance. The outputs are float32 (eps = 1.2e-7), and torch's
#: CPU kernels may round a clip's output differently, by a unit or two in the last place
#: (seen: 6e-8 on a probability, 2.4e-7 on a regression output of 1.25), when the batch around
#: it changes: the kernels block and vectorise their sums by batch position. These two checks
#: compare at rtol=1e-7 (subset) or rtol=1e-7, atol=1e-9 (sample order), below one float32
#: unit, so they would pass on some machines and not on others. They run with their
#: comparisons widened to FLOAT32_TOLERANCE: about 100 float32 units, still thousands of times
#: below what a real dependence on the batch gives (a clip that sees its neighbours, batch
#: statistics in inference, padding to the batch's longest clip: 1e-3 and more), which they
#: still catch (test_float32_tolerance_still_catches_batch_dependence).
FLOAT32_TOLERANCE = dict(rtol=1e-5, atol=1e-6)
FLOAT_ROUNDING = ("check_methods_sample_order_invariance", "check_methods_subset_invariance")


def _widened(assert_close):
    """``assert_close`` with its tolerances raised to at least FLOAT32_TOLERANCE."""
    def check(actual, desired, *args, rtol=None, atol=0.0, **kwargs):
        assert not args, "the checks pass rtol and atol by keyword"
        return assert_close(actual, desired, rtol=max(rtol or 0.0, FLOAT32_TOLERANCE["rtol"]),
                            atol=max(atol or 0.0, FLOAT32_TOLERANCE["atol"]), **kwargs)
    return check


def float32_tolerance():
    """Widen the comparisons of sklearn's checks to FLOAT32_TOLERANCE (see above)."""
    return mock.patch.multiple(
        estimator_checks,
        assert_allclose=_widened(estimator_checks.assert_allclose),
        assert_allclose_dense_sparse=_widened(estimator_checks.assert_allclose_dense_sparse))


TRANSFORMER = {
    "check_n_features_in": _ANY_LENGTH,
    "check_n_features_in_after_fitting": _ANY_LENGTH,
    "check_transformer_general": _ANY_LENGTH,
    "check_transformer_general(readonly_memmap=True)": _ANY_LENGTH,
    "check_estimators_dtypes": _INT_PCM,
}
PIPELINE = {
    **TRANSFORMER,
    "check_estimators_overwrite_params": _STEPS_FITTED_IN_PLACE,
    "check_dont_overwrite_parameters": _STEPS_FITTED_IN_PLACE,
    "check_classifier_data_not_an_array": _INT_PCM,
    "check_classifiers_train": _TINY_NET,
    "check_classifiers_train(readonly_memmap=True)": _TINY_NET,
    "check_classifiers_train(readonly_memmap=True,X_dtype=float32)": _TINY_NET,
    "check_regressors_train": _TINY_NET,
    "check_regressors_train(readonly_memmap=True)": _TINY_NET,
    "check_regressors_train(readonly_memmap=True,X_dtype=float32)": _TINY_NET,
}
NET = {
    "check_sample_weight_equivalence_on_dense_data": (
        "minibatch training with shuffled batches: a clip of weight 2 is not the same as two "
        "copies of it (the batches, their number and the batch statistics differ); full-batch "
        "training of a linear module is checked to match in test_sample_weight.py"),
    "check_no_attributes_set_in_init": _SKORCH_INIT,
    "check_n_features_in": _NO_N_FEATURES_IN,
    "check_n_features_in_after_fitting": _NO_N_FEATURES_IN,
    "check_fit2d_predict1d": (
        "1-D input is rejected with a ValueError stating the expected spectrogram shape; the "
        "check wants sklearn's tabular wording 'Reshape your data'"),
    "check_estimators_empty_data_messages": (
        "empty spectrograms are rejected with a ValueError naming their 3-D shape; the check "
        "wants sklearn's tabular wording '0 feature(s) (shape=(n, 0))'"),
}
_STATELESS = ("AudioLoader is stateless (requires_fit=False): fit learns nothing and does not read "
              "X, so the checks that want fit to validate X fail; transform validates every path "
              "and file")
AUDIO_LOADER = {
    name: _STATELESS for name in (
        "check_n_features_in", "check_n_features_in_after_fitting", "check_complex_data",
        "check_dtype_object", "check_estimators_empty_data_messages", "check_estimators_nan_inf",
        "check_estimator_sparse_tag", "check_fit1d")
}
EXPECTED_FAILED_CHECKS = [
    (Pipeline, PIPELINE),
    (MelSpectrogramTransformer, TRANSFORMER),
    (_ReadRowsAsSpectrograms, NET),
    (AudioLoader, AUDIO_LOADER),
]


def expected_failed_checks(estimator):
    for kind, table in EXPECTED_FAILED_CHECKS:
        if isinstance(estimator, kind):
            return table
    return {}


def _run_check(estimator, check):
    name = getattr(check, "func", check).__name__
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeviceWarning)
        if name in FLOAT_ROUNDING:
            with float32_tolerance():
                check(estimator)
        else:
            check(estimator)


@parametrize_with_checks(
    [
        small_transformer(),
        small_pipeline(CRNNClassifier),
        small_pipeline(CRNNRegressor),
        CRNNClassifier(**_SMALL),
        CRNNRegressor(**_SMALL),
        CRNNEventDetector(**_SMALL),
        RowsCRNNClassifier(**_SMALL),
        RowsCRNNRegressor(**_SMALL),
        RowsCRNNEventDetector(frame_rate=1.0, module__time_pool=1, **_SMALL),  # one frame
        CRNNEmbedder(**_SMALL),
        CRNNTranscriber(tokens="words", **_SMALL),
        AudioLoader(sr=8000),
        RowsAudioLoader(sr=8000),
    ],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_compatible(estimator, check):
    _run_check(estimator, check)


# The embedder's and the transcriber's full check suites add about two minutes on 2 cores:
# they run with the slow tests (python -m pytest -m slow).
@pytest.mark.slow
@parametrize_with_checks(
    [
        RowsCRNNEmbedder(**_SMALL),
        RowsCRNNTranscriber(tokens="words", module__time_pool=1, **_SMALL),
    ],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_compatible_slow(estimator, check):
    _run_check(estimator, check)


class _BatchDependentRegressor(RowsCRNNRegressor):
    """A regressor whose outputs depend on the batch by ``shift`` (relative to outputs ~1):
    through each clip's position in the batch, or through the batch mean."""

    def __init__(self, how="position", shift=1e-4, **kwargs):
        super().__init__(**kwargs)
        self.how = how
        self.shift = shift

    def predict(self, X):
        y = super().predict(X)
        if self.how == "position":
            return y + self.shift * np.arange(len(y)) / len(y)
        return y + self.shift * y.mean()


@pytest.mark.parametrize("how, check", [
    ("position", check_methods_sample_order_invariance),
    ("position", check_methods_subset_invariance),
    ("batch mean", check_methods_subset_invariance),
])
def test_float32_tolerance_still_catches_batch_dependence(how, check):
    # The widened comparisons accept rounding in the last float32 places, not a batch effect
    # of 1e-4: both checks still fail on it (and pass on the same net without it).
    params = {**_SMALL, "max_epochs": 1}
    with float32_tolerance(), pytest.raises(AssertionError, match="not invariant"):
        check("Regressor", _BatchDependentRegressor(how=how, **params))
    with float32_tolerance():
        check("Regressor", _BatchDependentRegressor(how=how, shift=0.0, **params))
