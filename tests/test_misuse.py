"""Misuse of the estimators gets a clear error naming the culprit and the fix: labels that
numpy cannot sort or silently turns into strings, skorch callbacks that watch validation
scores without validation data, and a CUDA device set after fit on a machine without one."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Checkpoint, EarlyStopping

from sk_crnn import CRNNClassifier, CRNNEmbedder

TINY = dict(module__conv_channels=(4,), module__rnn_hidden=4, batch_size=8, max_epochs=1)
X = np.random.RandomState(0).randn(6, 8, 12).astype("float32")


@pytest.mark.parametrize("Estimator", [CRNNClassifier, CRNNEmbedder])
@pytest.mark.parametrize("y, error, match", [
    (["a", "b", None, "a", "b", "a"], ValueError,
     r"y holds a missing label \(None\) at position 2;.*Drop the unlabelled clips"),
    ([1.0, 2.0, 1.0, np.nan, 2.0, np.nan], ValueError,
     r"Input y contains NaN, a missing label, at position 3 \(2 missing labels in all\)"),
    (["a", "b", "a", float("nan"), "b", "a"], ValueError, "NaN, a missing label, at position 3"),
    (["a", "b", "a", 1, "b", 1], TypeError,
     r"class labels of one type, but y mixes str labels \(first 'a' at position 0\); number "
     r"labels \(first 1 at position 3\)"),
    ([True, "a", True, "a", True, "a"], TypeError, "mixes bool labels .* str labels"),
])
def test_missing_or_mixed_labels_are_named_with_their_position(Estimator, y, error, match):
    with pytest.raises(error, match=match):
        Estimator(**TINY).fit(X, y)


def test_missing_labels_of_a_pandas_series():
    pd = pytest.importorskip("pandas")
    for y in (pd.Series(["a", "b", "a", "b", pd.NA, "a"]),
              pd.Series(["a", "b", "a", "b", None, "a"], dtype="category")):
        with pytest.raises(ValueError, match="missing label.* at position 4"):
            CRNNClassifier(**TINY).fit(X, y)
    assert len(CRNNClassifier(**TINY).fit(X, pd.Series(["a", "b"] * 3)).classes_) == 2


def test_labels_of_one_type_still_fit():
    for y in (["a", "b"] * 3, np.array(["a", "b"] * 3, dtype=object), [1, 2.0] * 3,
              np.array([0.0, 1.0] * 3)):
        assert len(CRNNClassifier(**TINY).fit(X, y).classes_) == 2


@pytest.mark.parametrize("callback, kind", [
    (EarlyStopping(), "EarlyStopping"),
    (("best", Checkpoint(monitor="valid_loss_best")), "Checkpoint"),
])
def test_callbacks_watching_validation_scores_need_validation_data(callback, kind, tmp_path):
    y = ["a", "b"] * 3
    if kind == "Checkpoint":  # skorch makes its folder when the net is initialized
        callback[1].dirname = str(tmp_path / "checkpoints")
    clf = CRNNClassifier(**TINY, callbacks=[callback])
    fix = "early_stopping=True with validation_fraction" if kind == "EarlyStopping" else \
        "set validation_fraction"
    with pytest.raises(ValueError, match=rf"callbacks holds {kind} .*monitor='valid_loss.*no "
                                         rf"validation data.*{fix}"):
        clf.fit(X, y)
    assert not clf.history  # refused before training


def test_skorch_early_stopping_with_validation_fraction_still_works():
    y = ["a", "b"] * 10
    X20 = np.random.RandomState(0).randn(20, 8, 12).astype("float32")
    clf = CRNNClassifier(**TINY, callbacks=[EarlyStopping(patience=1)],
                         validation_fraction=0.5).fit(X20, y)
    assert "valid_loss" in clf.history[-1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("Estimator", [CRNNClassifier, CRNNEmbedder])
def test_cuda_set_after_fit_without_cuda_is_a_clear_error(Estimator):
    est = Estimator(**TINY).fit(X, ["a", "b"] * 3)
    est.set_params(device="cuda")
    method = est.predict if hasattr(est, "predict") else est.transform
    with pytest.raises(ValueError, match=rf"{Estimator.__name__} has device='cuda', but CUDA is "
                                         r"not available.*set_params\(device='cpu'\)"):
        method(X)
    with pytest.raises(ValueError, match="CUDA is not available"):
        est.embed(X)
    est.set_params(device="cpu")
    assert len(method(X)) == len(X)
