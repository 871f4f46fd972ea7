"""``fit(X, y, sample_weight=...)``: a weighted loss for the classifier and the regressor
(what scikit-learn's CalibratedClassifierCV, cross_validate(params=...) and metadata routing
pass), a clear refusal from the estimators that do not weight clips."""

import warnings

import numpy as np
import pytest
import sklearn
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import cross_validate
from sklearn.utils.validation import has_fit_parameter

from sk_crnn import (
    CRNNClassifier,
    CRNNEmbedder,
    CRNNEventDetector,
    CRNNRegressor,
    CRNNTranscriber,
)
from sk_crnn._augment import BatchAugment

TINY = dict(module__conv_channels=(4,), module__rnn_hidden=4, batch_size=8, max_epochs=2)
PLAIN = dict(mixup=0.0, lr_schedule=None)


@pytest.fixture
def data():
    """40 clips of 8 mel bands x 12 frames; class 'b' is shifted up, so it is learnable."""
    X = np.random.RandomState(0).randn(40, 8, 12).astype("float32")
    y = np.array(["a", "b"] * 20)
    return X + (y == "b")[:, None, None], y


class _Linear(torch.nn.Module):
    """A linear layer on the flattened spectrogram: no batch statistics, no dropout."""

    def __init__(self, n_mels, n_frames, n_outputs):
        super().__init__()
        self.linear = torch.nn.Linear(n_mels * n_frames, n_outputs)

    def forward(self, x):
        return self.linear(x.flatten(1))


@pytest.mark.parametrize("Estimator", [CRNNClassifier, CRNNRegressor])
def test_integer_weights_train_as_repeated_clips(data, Estimator):
    # Full-batch training of a linear model: the weighted mean loss of the clips is the mean
    # loss of the clips repeated, so the gradients and the fitted models are the same.
    X, labels = data
    y = labels if Estimator is CRNNClassifier else X.mean(axis=(1, 2)) + (labels == "b")
    w = np.random.RandomState(1).randint(1, 4, len(X))
    params = dict(module=_Linear, batch_size=-1, max_epochs=4, lr=0.05, random_state=0,
                  **PLAIN)
    weighted = Estimator(**params).fit(X, y, sample_weight=w)
    repeated = Estimator(**params).fit(X.repeat(w, axis=0), y.repeat(w))
    plain = Estimator(**params).fit(X, y)
    predict = "predict_proba" if Estimator is CRNNClassifier else "predict"
    out = getattr(weighted, predict)(X)
    assert_allclose(out, getattr(repeated, predict)(X), rtol=1e-4, atol=1e-6)
    assert not np.allclose(out, getattr(plain, predict)(X), rtol=1e-3)


def test_zero_weights_leave_clips_out(data):
    # Half as many clips again, with flipped labels and weight 0: the fit is that of the
    # clean clips (the classifier's defaults: mixup, cosine schedule; a validation split).
    X, y = data
    rng = np.random.RandomState(2)
    noise = rng.randn(20, *X.shape[1:]).astype("float32")
    flipped = np.where(rng.rand(20) < 0.5, "a", "b")
    order = rng.permutation(60)
    X_all = np.concatenate([X, noise])[order]
    y_all = np.concatenate([y, flipped])[order]
    w = np.concatenate([np.ones(40), np.zeros(20)])[order]
    params = dict(**TINY, validation_fraction=0.25, random_state=0)
    kept = np.flatnonzero(w)
    clean = CRNNClassifier(**params).fit(X_all[kept], y_all[kept])
    weighted = CRNNClassifier(**params).fit(X_all, y_all, sample_weight=w)
    assert_array_equal(weighted.predict_proba(X), clean.predict_proba(X))
    # validation_indices_ index the clips given to fit
    assert_array_equal(weighted.validation_indices_, kept[clean.validation_indices_])
    assert len(weighted.validation_indices_) == 10


def test_weighted_valid_loss_with_class_weight_and_mixup(data):
    # valid_loss is the weighted mean of the validation clips' cross-entropy, class_weight
    # multiplying sample_weight as in scikit-learn; mixup trains on the weights too.
    X, y = data
    w = np.random.RandomState(3).uniform(0.2, 3, len(X))
    clf = CRNNClassifier(**{**TINY, "batch_size": 16}, mixup=0.4, validation_fraction=0.25,
                         class_weight={"a": 3.0}, random_state=0).fit(X, y, sample_weight=w)
    valid = clf.validation_indices_
    proba = clf.predict_proba(X[valid])
    y_enc = (y[valid] == "b").astype(int)
    ce = -np.log(proba[np.arange(len(valid)), y_enc])
    cw = np.where(y[valid] == "a", 3.0, 1.0)
    expected = np.sum(w[valid] * cw * ce) / np.sum(w[valid] * cw)
    assert_allclose(clf.history[-1, "valid_loss"], expected, rtol=1e-4)
    assert np.isfinite(clf.history[:, "train_loss"]).all()


def test_regression_and_multilabel_train_with_weights_and_mixup(data):
    X, labels = data
    w = np.random.RandomState(4).uniform(0, 2, len(X))
    y_reg = np.c_[X.mean(axis=(1, 2)), X.std(axis=(1, 2))]
    reg = CRNNRegressor(**TINY, mixup=0.4, validation_fraction=0.25, random_state=0)
    assert reg.fit(X, y_reg, sample_weight=w).predict(X).shape == (40, 2)
    y_ml = np.c_[labels == "a", np.arange(40) % 3 == 0].astype(int)
    clf = CRNNClassifier(**TINY, random_state=0).fit(X, y_ml, sample_weight=w)
    assert clf.predict(X).shape == (40, 2)
    assert np.isfinite(np.r_[reg.history[:, "valid_loss"], clf.history[:, "train_loss"]]).all()
    clf.partial_fit(X, y_ml, sample_weight=w)  # partial_fit takes them too
    assert len(clf.history) == 4


def test_batch_augment_mixes_the_weights_with_the_clips():
    X = torch.randn(6, 4, 5)
    w = torch.arange(1.0, 7.0)
    augment = BatchAugment(mixup=0.4, rng=np.random.default_rng(0))
    _, y_mixed, partner, w_mixed = augment(X, torch.randn(6, 2), weight=w)
    assert partner is None
    perm_rng = np.random.default_rng(0)
    lam = float(perm_rng.beta(0.4, 0.4))
    perm = torch.as_tensor(perm_rng.permutation(6))
    assert_allclose(w_mixed, lam * w + (1 - lam) * w[perm], rtol=1e-6)
    augment.rng = np.random.default_rng(0)
    _, _, (y_partner, lam2, w_partner), w_same = augment(X, torch.arange(6), weight=w)
    assert lam2 == lam and torch.equal(w_same, w) and torch.equal(w_partner, w[perm])
    assert augment(X, torch.arange(6))[3] is None  # no weights: none come back


@pytest.mark.parametrize("sample_weight, error, match", [
    (np.ones(39), ValueError, r"one weight per clip, shape \(40,\); got shape \(39,\)"),
    (np.ones((40, 2)), ValueError, r"one weight per clip, shape \(40,\); got shape \(40, 2\)"),
    (np.r_[np.ones(39), -1.0], ValueError, r"negative weight \(-1.0\) at position 39"),
    (np.r_[np.ones(5), np.nan, np.ones(34)], ValueError, r"non-finite weight \(nan\) at "
                                                         "position 5"),
    (np.r_[np.inf, np.ones(39)], ValueError, "non-finite weight"),
    (np.zeros(40), ValueError, "sample_weight is zero for every clip"),
    (["heavy"] * 40, TypeError, "sample_weight must be numbers"),
])
def test_bad_sample_weight_is_named(data, sample_weight, error, match):
    X, y = data
    clf = CRNNClassifier(**TINY)
    with pytest.raises(error, match=match):
        clf.fit(X, y, sample_weight=sample_weight)
    assert not clf.initialized_  # refused before anything was built


def test_sample_weight_keeping_one_class_is_refused_by_fit(data):
    X, y = data
    with pytest.raises(ValueError, match="at least 2 classes with a positive sample_weight, "
                                         "but only class 'b' has any"):
        CRNNClassifier(**TINY).fit(X, y, sample_weight=(y == "b").astype(float))
    clf = CRNNClassifier(**TINY, classes=["a", "b"])  # a chunk of one class: partial_fit's
    clf.partial_fit(X, y, sample_weight=(y == "b").astype(float))
    assert clf.classes_.tolist() == ["a", "b"]


def test_refused_sample_weight_leaves_a_fitted_classifier_as_it_was(data):
    # The refusal comes before the fitted attributes change: classes_ of the new y on the
    # old network would relabel its predictions without a word.
    X, y = data
    clf = CRNNClassifier(**TINY, random_state=0).fit(X, y)
    before = clf.predict(X)
    y_new = np.where(y == "a", "cat", "dog")
    with pytest.raises(ValueError, match="only class 'dog' has any"):
        clf.fit(X[:, :, :10], y_new, sample_weight=(y_new == "dog").astype(float))
    assert clf.classes_.tolist() == ["a", "b"] and clf.n_frames_in_ == 12
    assert_array_equal(clf.predict(X), before)


def test_equal_weights_train_exactly_as_no_weights(data):
    X, y = data
    clf = CRNNClassifier(**TINY, random_state=0)
    ref = clf.fit(X, y).predict_proba(X)
    assert_array_equal(clf.fit(X, y, sample_weight=np.full(len(X), 2.5)).predict_proba(X), ref)
    assert_array_equal(clf.fit(X, y, sample_weight=3.0).predict_proba(X), ref)


@pytest.mark.parametrize("Estimator, params", [
    (CRNNEventDetector, {}),
    (CRNNTranscriber, {}),
    (CRNNEmbedder, {}),
])
def test_estimators_without_sample_weight_refuse_it(data, Estimator, params):
    X, y = data
    assert not has_fit_parameter(Estimator(), "sample_weight")
    est = Estimator(**TINY, **params)
    for method in ("fit", "partial_fit"):
        with pytest.raises(TypeError, match=rf"{Estimator.__name__}.{method} does not support "
                                            "sample_weight"):
            getattr(est, method)(X, y, sample_weight=np.ones(len(X)))
    assert has_fit_parameter(CRNNClassifier(), "sample_weight")
    assert has_fit_parameter(CRNNRegressor(), "sample_weight")


@pytest.fixture
def seen_weights(monkeypatch):
    """The sample weights each classifier fit receives."""
    seen = []
    checked = CRNNClassifier._weighted_clips

    def spy(self, X, y, weights, method):
        seen.append(weights)
        return checked(self, X, y, weights, method)

    monkeypatch.setattr(CRNNClassifier, "_weighted_clips", spy)
    return seen


def test_calibrated_classifier_cv_passes_sample_weight(data, seen_weights):
    X, y = data
    w = np.random.RandomState(5).uniform(0.5, 2, len(X))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*does not appear to accept sample_weight")
        cal = CalibratedClassifierCV(CRNNClassifier(**TINY, random_state=0), cv=2)
        cal.fit(X, y, sample_weight=w)
    assert cal.predict_proba(X).shape == (40, 2)
    assert [len(s) for s in seen_weights] == [20, 20]


def test_cross_validate_routes_sample_weight(data, seen_weights):
    X, y = data
    w = np.random.RandomState(6).uniform(0.5, 2, len(X))
    cross_validate(CRNNClassifier(**TINY), X, y, cv=2, params={"sample_weight": w})
    with sklearn.config_context(enable_metadata_routing=True):
        clf = CRNNClassifier(**TINY).set_fit_request(sample_weight=True)
        clf.set_score_request(sample_weight=False)
        cross_validate(clf, X, y, cv=2, params={"sample_weight": w})
    assert [len(s) for s in seen_weights] == [20, 20, 20, 20]
    assert_array_equal(np.sort(np.concatenate(seen_weights[2:])), np.sort(w))
