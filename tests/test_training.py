"""Training parameters of the CRNN estimators: validation split, early stopping, augmentation,
class weights, learning-rate schedules, weight decay, precision, embeddings."""

import os
import signal
import sys
import warnings

import numpy as np
import pytest
import torch
from helpers import InterruptAt
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.utils.class_weight import compute_class_weight
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit

from sk_crnn import CRNNClassifier, CRNNRegressor, MelSpectrogramTransformer
from sk_crnn._augment import mask_bands, mixup_batch, shift_time
from sk_crnn.datasets import make_tone_clips

TINY = dict(module__conv_channels=(4,), module__rnn_hidden=4, batch_size=8, max_epochs=2)
AUGMENT = dict(freq_mask=3, time_mask=3, n_freq_masks=1, n_time_masks=2, time_shift=2, mixup=0.4)
NEW_PARAMS = dict(
    validation_fraction=0.25,
    early_stopping=True,
    patience=3,
    monitor="valid_acc",
    lr_schedule="cosine",
    weight_decay=1e-4,
    precision="bf16",
    compile=False,
    class_weight={"a": 2.0},
    **AUGMENT,
)


@pytest.fixture
def data():
    """40 clips of 8 mel bands x 12 frames; class 'b' is shifted up, so it is learnable."""
    X = np.random.RandomState(0).randn(40, 8, 12).astype("float32")
    y = np.array(["a", "b"] * 20)
    return X + (y == "b")[:, None, None], y


# -- augmentation -------------------------------------------------------------------------------
def test_augment_functions():
    rng = np.random.default_rng(0)
    X = torch.arange(2 * 6 * 10, dtype=torch.float32).reshape(2, 6, 10)
    masked = mask_bands(X, max_width=3, n_masks=1, axis=-2, rng=rng)
    for clip, orig in zip(masked, X):
        changed = (clip != orig).any(dim=1)
        assert changed.sum() <= 3
        assert torch.allclose(clip[changed], orig.mean().expand_as(clip[changed]))
    assert mask_bands(X, max_width=0, n_masks=2, axis=-1, rng=rng) is X
    shifted = shift_time(X, max_shift=4, rng=rng)
    for clip, orig in zip(shifted, X):
        assert any(torch.equal(clip, torch.roll(orig, s, dims=-1)) for s in range(-4, 5))
    mixed, perm, lam = mixup_batch(X, alpha=0.4, rng=rng)
    assert 0 <= lam <= 1 and sorted(perm.tolist()) == [0, 1]
    assert torch.allclose(mixed, lam * X + (1 - lam) * X[perm])


def test_augmentation_is_off_at_predict_time(data):
    X, y = data
    clf = CRNNClassifier(**TINY, **AUGMENT, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    assert_array_equal(proba, clf.predict_proba(X))
    assert_array_equal(clf.transform(X), clf.transform(X))
    with torch.no_grad():  # exactly the network in eval mode on the raw input
        clean = torch.softmax(clf.module_.eval()(torch.as_tensor(X)), dim=1).numpy()
    assert_allclose(proba, clean, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "augment", [dict(freq_mask=3), dict(time_mask=3), dict(time_shift=2), dict(mixup=0.4)]
)
def test_each_augmentation_changes_training(data, augment):
    X, y = data
    plain = CRNNClassifier(**TINY, random_state=0).fit(X, y).predict_proba(X)
    augmented = CRNNClassifier(**TINY, **augment, random_state=0).fit(X, y).predict_proba(X)
    assert not np.allclose(plain, augmented)


@pytest.mark.parametrize("Estimator", [CRNNClassifier, CRNNRegressor])
def test_deterministic_under_random_state_with_every_augmentation(data, Estimator):
    X, y = data
    y = y if Estimator is CRNNClassifier else X.mean(axis=(1, 2))
    params = dict(**TINY, **AUGMENT, validation_fraction=0.25, early_stopping=True)
    fits = [Estimator(**params, random_state=0).fit(X, y) for _ in range(2)]
    assert_array_equal(fits[0].transform(X), fits[1].transform(X))
    assert_array_equal(fits[0].validation_indices_, fits[1].validation_indices_)
    other = Estimator(**params, random_state=1).fit(X, y)
    assert not np.allclose(fits[0].transform(X), other.transform(X))


def _training_targets(Estimator, X, y, **params):
    """Fit, recording the targets each training loss saw; return the fit and the targets."""
    seen = []

    class Spy(Estimator):
        def get_loss(self, y_pred, y_true, X=None, training=False):
            if training:
                seen.append(y_true.detach().clone())
            return super().get_loss(y_pred, y_true, X=X, training=training)

    return Spy(**TINY, **params).fit(X, y), torch.cat(seen).numpy()


def test_mixup_mixes_multilabel_and_regression_targets(data):
    X, _ = data
    Y = (np.random.RandomState(1).rand(len(X), 3) > 0.5).astype(int)
    clf, seen = _training_targets(CRNNClassifier, X, Y, mixup=0.4)
    assert clf.predict(X).shape == Y.shape
    assert ((seen > 0) & (seen < 1)).any()  # indicator targets mixed, not 0/1 any more
    _, plain = _training_targets(CRNNClassifier, X, Y, mixup=0.0)
    assert set(np.unique(plain)) == {0.0, 1.0}
    y2 = np.c_[X.mean(axis=(1, 2)), X.std(axis=(1, 2))].astype(np.float32)
    reg, seen = _training_targets(CRNNRegressor, X, y2, mixup=0.4)
    assert reg.predict(X).shape == y2.shape
    # Mixed rows are convex combinations of two training rows, mostly not a row itself.
    is_row = (np.abs(seen[:, None, :] - y2[None]) < 1e-6).all(axis=2).any(axis=1)
    assert not is_row.all()
    assert (seen.min(axis=0) >= y2.min(axis=0) - 1e-6).all()
    assert (seen.max(axis=0) <= y2.max(axis=0) + 1e-6).all()


# -- validation split and early stopping --------------------------------------------------------
def test_validation_split_is_stratified_and_from_the_fit_data(data):
    X, _ = data
    y = np.array(["a"] * 24 + ["b"] * 8 + ["c"] * 8)
    clf = CRNNClassifier(**TINY, validation_fraction=0.25, random_state=0).fit(X, y)
    valid = clf.validation_indices_
    assert len(valid) == 10
    assert sorted(np.unique(y[valid], return_counts=True)[1]) == [2, 2, 6]
    batches = clf.history[-1]["batches"]
    assert sum(b.get("train_batch_size", 0) for b in batches) == 30
    assert sum(b.get("valid_batch_size", 0) for b in batches) == 10
    assert {"valid_loss", "valid_acc"} <= set(clf.history[-1])
    other = CRNNClassifier(**TINY, validation_fraction=0.25, random_state=1).fit(X, y)
    assert not np.array_equal(valid, other.validation_indices_)
    # In cross-validation the split is drawn from each training fold only: a quarter of the
    # fold's 20 clips, stratified over the fold's labels.
    result = cross_validate(clf, X, y, cv=2, return_estimator=True)
    for est in result["estimator"]:
        assert len(est.validation_indices_) == 5 and est.validation_indices_.max() < 20
        fold_batches = est.history[-1]["batches"]
        assert sum(b.get("train_batch_size", 0) for b in fold_batches) == 15
    # A later fit without validation drops the attribute of the earlier one.
    clf.set_params(validation_fraction=None).fit(X, y)
    assert not hasattr(clf, "validation_indices_")


def test_early_stopping_stops_and_restores_the_best_weights():
    # Random labels and a high learning rate: the network overfits, so the validation loss
    # is lowest early and worsens afterwards.
    X = np.random.RandomState(0).randn(40, 8, 12).astype("float32")
    y = np.random.RandomState(1).randint(0, 2, 40)
    clf = CRNNClassifier(
        **{**TINY, "max_epochs": 40},
        lr=0.05,
        validation_fraction=0.25,
        early_stopping=True,
        patience=3,
        random_state=0,
    ).fit(X, y)
    valid_loss = clf.history[:, "valid_loss"]
    assert len(valid_loss) < 40  # stopped early
    best = int(np.argmin(valid_loss))
    assert best < len(valid_loss) - 1  # the last epoch was not the best one
    valid = clf.validation_indices_
    with torch.no_grad():
        logits = clf.module_.eval()(torch.as_tensor(X[valid]))
        loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(y[valid])).item()
    assert_allclose(loss, valid_loss[best], rtol=1e-5)


def test_monitor_valid_acc_is_higher_is_better(data):
    X, y = data
    clf = CRNNClassifier(
        **TINY, validation_fraction=0.25, early_stopping=True, monitor="valid_acc"
    ).fit(X, y)
    stopper = dict(clf.callbacks_)["early_stopping"]
    assert stopper.monitor == "valid_acc" and not stopper.lower_is_better and stopper.load_best


def test_keyboard_interrupt_with_early_stopping_leaves_a_usable_model(data):
    X, y = data
    clf = CRNNClassifier(
        **{**TINY, "max_epochs": 10},
        callbacks=[InterruptAt(3)],
        validation_fraction=0.25,
        early_stopping=True,
        random_state=0,
    )
    with pytest.warns(RuntimeWarning, match="after 3 of max_epochs=10 epochs"):
        clf.fit(X, y)
    assert len(clf.history) == 3 and clf.interrupted_epoch_ == 3
    assert set(clf.predict(X)) <= {"a", "b"}
    assert clf.transform(X).shape == (len(X), clf.module_.embedding_dim)


class _SigintAt(Callback):
    """Send this process a real SIGINT (as Ctrl-C does) at the end of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


def test_keyboard_interrupt_warns_and_records_the_epochs_completed(data):
    X, y = data
    clf = CRNNClassifier(**{**TINY, "max_epochs": 5000}, callbacks=[InterruptAt(2)])
    with pytest.warns(RuntimeWarning, match=r"CRNNClassifier.fit was interrupted "
                      r"\(KeyboardInterrupt.*after 2 of max_epochs=5000 epochs.*"
                      r"interrupted_epoch_=2"):
        clf.fit(X, y)
    assert clf.interrupted_epoch_ == 2 and len(clf.history) == 2
    # partial_fit: the epochs of this call, and of the whole history
    clf.set_params(callbacks=[InterruptAt(3)], max_epochs=10)
    clf.initialize_callbacks()
    with pytest.warns(RuntimeWarning, match=r"partial_fit was interrupted .*after 1 of "
                      r"max_epochs=10 epochs of this call \(epoch 3 of its history\)"):
        clf.partial_fit(X, y)
    assert clf.interrupted_epoch_ == 3
    # a fit or partial_fit that is not interrupted forgets it
    clf.set_params(callbacks=[], max_epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        clf.partial_fit(X, y)
        assert not hasattr(clf, "interrupted_epoch_")
        clf.set_params(callbacks=[InterruptAt(5)]).fit(X, y)
    assert not hasattr(clf, "interrupted_epoch_")


@pytest.mark.skipif(sys.platform == "win32", reason="os.kill(SIGINT) ends the process there")
def test_a_real_sigint_during_fit_warns_and_records_the_epochs_completed(data):
    X, y = data
    clf = CRNNClassifier(**{**TINY, "max_epochs": 5000}, callbacks=[_SigintAt(2)])
    with pytest.warns(RuntimeWarning, match="after 2 of max_epochs=5000 epochs"):
        clf.fit(X, y)
    assert clf.interrupted_epoch_ == 2 and len(clf.history) == 2
    assert set(clf.predict(X)) <= {"a", "b"}  # skorch's behaviour: the model is kept


def test_early_stopping_is_not_an_interruption():
    X = np.random.RandomState(0).randn(40, 8, 12).astype("float32")
    y = np.random.RandomState(1).randint(0, 2, 40)
    clf = CRNNClassifier(**{**TINY, "max_epochs": 40}, lr=0.05, validation_fraction=0.25,
                         early_stopping=True, patience=2, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y)
    assert len(clf.history) < 40  # stopped early, by a KeyboardInterrupt inside skorch
    assert not hasattr(clf, "interrupted_epoch_")
    assert not [w for w in caught if "interrupted" in str(w.message)]


# -- class weights ------------------------------------------------------------------------------
def test_class_weight(data):
    X, _ = data
    y = np.array(["a"] * 28 + ["b"] * 12)
    plain = CRNNClassifier(**TINY, random_state=0).fit(X, y)
    assert plain.criterion_.weight is None
    assert_array_equal(plain.class_weight_, [1, 1])
    balanced = CRNNClassifier(**TINY, class_weight="balanced", random_state=0).fit(X, y)
    expected = compute_class_weight("balanced", classes=np.array(["a", "b"]), y=y)
    assert_allclose(balanced.class_weight_, expected, rtol=1e-6)
    assert_allclose(balanced.criterion_.weight.numpy(), expected, rtol=1e-6)
    by_label = CRNNClassifier(**TINY, class_weight={"b": 3.0}).fit(X, y)
    assert_array_equal(by_label.criterion_.weight.numpy(), [1.0, 3.0])
    logits, target = torch.randn(6, 2), torch.tensor([0, 0, 0, 0, 1, 1])
    assert plain.criterion_(logits, target) != balanced.criterion_(logits, target)
    with pytest.raises(ValueError, match=r"class_weight has labels.*\['z'\]"):
        CRNNClassifier(**TINY, class_weight={"z": 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="class_weight is not supported for multi-label"):
        CRNNClassifier(**TINY, class_weight="balanced").fit(
            X, np.eye(2, dtype=int)[(y == "b").astype(int)]
        )
    assert "class_weight" not in CRNNRegressor().get_params()


# -- learning rate and optimizer ----------------------------------------------------------------
def test_lr_schedules_change_the_learning_rate(data):
    X, y = data
    kw = dict(**{**TINY, "max_epochs": 4}, lr=0.01, random_state=0)
    cosine = CRNNClassifier(**kw).fit(X, y)  # the classifier's default schedule
    lrs = cosine.history[:, "event_lr"]
    assert lrs[0] == 0.01 and all(a > b for a, b in zip(lrs, lrs[1:]))
    assert cosine.optimizer_.param_groups[0]["lr"] < lrs[-1]
    onecycle = CRNNClassifier(**kw, lr_schedule="onecycle").fit(X, y)
    batch_lrs = [b["event_lr"] for h in onecycle.history for b in h["batches"] if "event_lr" in b]
    assert len(batch_lrs) == 4 * 5  # every training batch
    peak = int(np.argmax(batch_lrs))
    assert 0 < peak < len(batch_lrs) - 1 and max(batch_lrs) == pytest.approx(0.01, rel=0.05)
    plateau = CRNNClassifier(
        **{**kw, "max_epochs": 8}, lr_schedule="plateau", patience=1, validation_fraction=0.25
    ).fit(X, y)
    scheduler = dict(plateau.callbacks_)["lr_scheduler"]
    assert isinstance(scheduler.lr_scheduler_, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert scheduler.monitor == "valid_loss"
    unscheduled = CRNNClassifier(**kw, lr_schedule=None).fit(X, y)
    assert "lr_scheduler" not in dict(unscheduled.callbacks_)
    assert unscheduled.optimizer_.param_groups[0]["lr"] == 0.01


def test_plateau_lowers_the_learning_rate_when_the_loss_stalls(data):
    X, y = data
    # One batch of all clips per epoch and no dropout: the loss is the same every epoch up
    # to lr-sized steps, far below ReduceLROnPlateau's relative threshold of 1e-4 (mixup,
    # the classifier's default, would draw a new mix every epoch: off here).
    params = {**TINY, "max_epochs": 5, "batch_size": -1, "module__dropout": 0.0, "mixup": 0.0}
    clf = CRNNClassifier(**params, lr=1e-6, lr_schedule="plateau", patience=1).fit(X, y)
    assert dict(clf.callbacks_)["lr_scheduler"].monitor == "train_loss"
    assert clf.history[:, "event_lr"][0] == 1e-6
    assert clf.optimizer_.param_groups[0]["lr"] <= 1e-7  # divided by 10 at least once
    # The scheduler's other settings are reachable through callbacks__lr_scheduler__*.
    halving = CRNNClassifier(**params, lr=1e-6, lr_schedule="plateau", patience=1,
                             callbacks__lr_scheduler__factor=0.5).fit(X, y)
    drops = np.log2(1e-6 / halving.optimizer_.param_groups[0]["lr"])
    assert drops >= 1 and drops == pytest.approx(round(drops))  # halved, not divided by 10


def test_weight_decay_reaches_the_optimizer(data):
    X, y = data
    clf = CRNNClassifier(**TINY, weight_decay=0.01).fit(X, y)
    assert clf.optimizer_.param_groups[0]["weight_decay"] == 0.01
    assert CRNNClassifier(**TINY).fit(X, y).optimizer_.param_groups[0]["weight_decay"] == 0
    adamw = CRNNRegressor(**TINY, optimizer=torch.optim.AdamW, weight_decay=0.1)
    adamw.fit(X, X.mean(axis=(1, 2)))
    assert isinstance(adamw.optimizer_, torch.optim.AdamW)
    assert adamw.optimizer_.param_groups[0]["weight_decay"] == 0.1


# -- embeddings ---------------------------------------------------------------------------------
@pytest.mark.parametrize("Estimator", [CRNNClassifier, CRNNRegressor])
def test_transform_and_feature_names(data, Estimator):
    X, y = data
    y = y if Estimator is CRNNClassifier else X.mean(axis=(1, 2))
    est = Estimator(**TINY, random_state=0).fit(X, y)
    emb = est.transform(X)
    dim = est.module_.embedding_dim
    assert emb.shape == (len(X), dim) and emb.dtype == np.float32
    assert_array_equal(emb, est.embed(X))
    names = est.get_feature_names_out()
    assert isinstance(names, np.ndarray) and names.tolist() == [f"crnn_emb{i}" for i in range(dim)]
    with pytest.raises(Exception, match="not initialized"):
        Estimator().get_feature_names_out()


# -- precision and compile ----------------------------------------------------------------------
def _half_and_full_precision(clf, X):
    """Probabilities of ``clf`` at its precision and at "32" for the same weights, and the
    dtypes its first convolution produced at its precision."""
    precision, module, dtypes = clf.precision, clf.module_, []
    hook = module.conv[0].register_forward_hook(lambda mod, inp, out: dtypes.append(out.dtype))
    try:
        half = clf.predict_proba(X)
    finally:
        hook.remove()
    try:
        full = clf.set_params(precision="32").predict_proba(X)
    finally:
        clf.set_params(precision=precision)
    assert clf.module_ is module  # same weights: set_params did not reinitialize
    return half, full, set(dtypes)


#: Probabilities at reduced precision may differ from float32 ones by rounding only:
#: bfloat16 keeps 8 significant bits (4e-3 relative per operation; seen on the CPU: up to 8e-4
#: on these tiny nets), float16 11 bits (8 times finer).
HALF_TOLERANCE = {"bf16": 1e-2, "16-mixed": 2e-3}


def test_precision(data):
    X, y = data
    with pytest.raises(ValueError, match=r"precision='16-mixed' needs device='cuda'"):
        CRNNClassifier(**TINY, precision="16-mixed").fit(X, y)
    clf = CRNNClassifier(**TINY, precision="bf16", random_state=0).fit(X, y)  # CPU autocast
    half, full, dtypes = _half_and_full_precision(clf, X)
    assert dtypes == {torch.bfloat16}  # the convolutions ran in bfloat16
    assert half.dtype == full.dtype == np.float32  # outputs are returned as float32
    assert_allclose(half, full, atol=HALF_TOLERANCE["bf16"])  # rounding only
    assert not np.array_equal(half, full)  # but rounding there is
    clf.set_params(precision="32")
    dtypes = []
    clf.module_.conv[0].register_forward_hook(lambda mod, inp, out: dtypes.append(out.dtype))
    assert_array_equal(clf.predict_proba(X), full)
    assert set(dtypes) == {torch.float32}


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision, dtype", [("bf16", torch.bfloat16),
                                              ("16-mixed", torch.float16)])
def test_precision_on_cuda(data, precision, dtype):
    X, y = data
    clf = CRNNClassifier(**TINY, **AUGMENT, device="cuda", precision=precision, random_state=0)
    clf.fit(X, y)
    assert next(clf.module_.parameters()).is_cuda
    assert np.isfinite(clf.history[:, "train_loss"]).all()  # no overflow (16-mixed scales)
    half, full, dtypes = _half_and_full_precision(clf, X)
    assert dtypes == {dtype}  # the convolutions ran at the asked precision, on the GPU
    assert half.dtype == full.dtype == np.float32
    assert_allclose(half.sum(axis=1), 1.0, atol=1e-3)
    assert_allclose(half, full, atol=HALF_TOLERANCE[precision])


def test_compile_reaches_torch_compile(data, monkeypatch):
    # Fast stand-in for the real compilation below: compile=True hands the module to
    # torch.compile with the compile__* arguments, and trains and predicts with what it returns
    # (here the module itself, so the net is the uncompiled one's, bit for bit).
    X, y = data
    calls = []

    def fake_compile(module, **kwargs):
        calls.append((type(module).__name__, kwargs))
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    clf = CRNNClassifier(**TINY, compile=True, compile__mode="reduce-overhead", random_state=0)
    clf.fit(X, y)
    assert ("CRNN", {"mode": "reduce-overhead"}) in calls
    n_calls = len(calls)
    plain = CRNNClassifier(**TINY, random_state=0).fit(X, y)
    assert len(calls) == n_calls  # not without compile=True
    assert_array_equal(clf.history[:, "train_loss"], plain.history[:, "train_loss"])
    assert_array_equal(clf.predict_proba(X), plain.predict_proba(X))


@pytest.mark.slow
def test_compile(data):
    # The real torch.compile: the compiled module gives the uncompiled module's outputs for
    # the same weights (float32 rounding aside: the compiler fuses and reorders operations),
    # and training with it follows the uncompiled training from the same seed.
    X, y = data
    clf = CRNNClassifier(**TINY, compile=True, random_state=0).fit(X, y)
    compiled = clf.module_
    assert isinstance(compiled, torch._dynamo.eval_frame.OptimizedModule)
    proba = clf.predict_proba(X)
    clf.module_ = compiled._orig_mod  # the same weights, run eagerly
    try:
        eager = clf.predict_proba(X)
    finally:
        clf.module_ = compiled
    assert_allclose(proba, eager, rtol=1e-5, atol=1e-6)
    # Training: Adam's normalised steps carry the rounding over 10 steps to about 3e-4 in the
    # probabilities; another seed, or one epoch less, moves them by 0.03 to 0.2.
    plain = CRNNClassifier(**TINY, random_state=0).fit(X, y)
    assert_allclose(clf.history[:, "train_loss"], plain.history[:, "train_loss"], rtol=1e-4)
    assert_allclose(proba, plain.predict_proba(X), atol=2e-3)


# -- parameters: checks, clone, search ----------------------------------------------------------
@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(early_stopping=True), ValueError, r"early_stopping=True needs.*validation_fraction"),
        (dict(validation_fraction=0.2, train_split=ValidSplit(5)), ValueError, "pass only one"),
        (dict(validation_fraction=1.5), ValueError,
         r"validation_fraction must be a finite number in \[0, 1\) or None; got 1.5"),
        (dict(validation_fraction=0.5, early_stopping="yes"), TypeError,
         "early_stopping must be True or False; got 'yes' of type str"),
        (dict(patience=0), ValueError, "patience must be an int >= 1; got 0"),
        (dict(monitor="valid_f1"), ValueError, "monitor must be one of"),
        (dict(freq_mask=-1), ValueError, "freq_mask must be an int >= 0"),
        (dict(freq_mask=8), ValueError, "freq_mask=8 is not smaller than the 8 mel bands"),
        (dict(time_shift=12), ValueError, "time_shift=12 is not smaller than the 12 frames"),
        (dict(n_time_masks=1.5), TypeError, "n_time_masks must be an int >= 0; got 1.5 of type"),
        (dict(mixup=-0.1), ValueError, "mixup must be a finite number >= 0"),
        (dict(lr_schedule="step"), ValueError, "lr_schedule must be one of"),
        (dict(weight_decay=-1.0), ValueError, "weight_decay must be"),
        (dict(weight_decay=0.1, optimizer__weight_decay=0.2), ValueError,
         "pass only weight_decay"),
        (dict(precision="64"), ValueError, "precision must be one of"),
        (dict(class_weight="inverse"), ValueError,
         "class_weight must be None, 'balanced' or a dict"),
        (dict(validation_fraction=0.02), ValueError, "cannot be stratified"),
        (dict(max_epochs=0), ValueError, "max_epochs must be an int >= 1; got 0"),
        (dict(max_epochs=2.5), TypeError, "max_epochs must be an int >= 1; got 2.5 of type"),
        (dict(lr=0), ValueError, "lr must be a finite number > 0; got 0"),
        (dict(lr=float("nan")), ValueError, "lr must be a finite number > 0"),
        (dict(batch_size=0), ValueError, r"batch_size must be an int >= 1 or one of \[-1\]"),
        (dict(validation_fraction=0.2, early_stopping=True, patience=1,
              callbacks__early_stopping__patience=2), ValueError,
         "callbacks__early_stopping__patience is set by the estimator's patience parameter"),
    ],
)
def test_bad_training_params_name_the_parameter(data, params, error, match):
    X, y = data
    with pytest.raises(error, match=match):
        CRNNClassifier(**{**TINY, **params}).fit(X, y)


def test_regressor_cannot_monitor_accuracy(data):
    X, _ = data
    with pytest.raises(ValueError, match="monitor must be one of"):
        CRNNRegressor(
            **TINY, validation_fraction=0.2, early_stopping=True, monitor="valid_acc"
        ).fit(X, X.mean(axis=(1, 2)))


def test_new_params_round_trip_through_clone():
    clf = CRNNClassifier(**NEW_PARAMS)
    params = clf.get_params(deep=False)
    assert all(params[k] is v for k, v in NEW_PARAMS.items())
    twin = clone(clf)
    assert all(twin.get_params(deep=False)[k] == v for k, v in NEW_PARAMS.items())
    reg_params = {k: v for k, v in NEW_PARAMS.items() if k not in ("class_weight", "monitor")}
    assert clone(CRNNRegressor(**reg_params)).get_params(deep=False).items() >= reg_params.items()
    defaults = CRNNClassifier().get_params()
    assert (defaults["validation_fraction"], defaults["early_stopping"], defaults["mixup"],
            defaults["lr_schedule"]) == (None, False, 0.2, "cosine")
    # the classifier's own defaults; the shared base keeps plain training for the others
    assert (CRNNRegressor().mixup, CRNNRegressor().lr_schedule) == (0.0, None)
    assert clone(clf).set_params(mixup=0.1, freq_mask=2).get_params()["mixup"] == 0.1


def test_docstrings_give_each_estimators_own_training_defaults():
    # the classifier rewrites the shared entries; a drift in their text would leave it stale
    assert "mixup : float, default=0.2" in CRNNClassifier.__doc__
    assert '"plateau"}, default="cosine"' in CRNNClassifier.__doc__
    assert "mixup : float, default=0.0" in CRNNRegressor.__doc__
    assert '"plateau"}, default=None' in CRNNRegressor.__doc__


def test_grid_search_over_training_params_in_a_pipeline():
    X, y = make_tone_clips(40, sr=8000, duration=0.25, random_state=0)
    pipe = make_pipeline(
        MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=16),
        CRNNClassifier(**TINY, random_state=0),
    )
    grid = {
        "crnnclassifier__mixup": [0.0, 0.2],
        "crnnclassifier__freq_mask": [0, 4],
        "crnnclassifier__lr_schedule": [None, "cosine"],
    }
    search = GridSearchCV(pipe, grid, cv=2, error_score="raise").fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    best = search.best_estimator_
    assert best.transform(X).shape == (len(X), best[-1].module_.embedding_dim)
    assert best[-1].get_feature_names_out()[0] == "crnn_emb0"


class _ClimbingLoss(torch.nn.MSELoss):
    """A finite loss that grows tenfold every epoch (8 clips, batch 8: one batch an epoch)."""

    calls = 0

    def forward(self, y_pred, y_true):
        type(self).calls += 1
        return y_pred.sum() * 0 + 10.0 ** type(self).calls


def test_a_loss_climbing_by_orders_of_magnitude_warns_once(data):
    X, _ = data
    _ClimbingLoss.calls = 0
    reg = CRNNRegressor(**{**TINY, "max_epochs": 5}, criterion=_ClimbingLoss)
    with pytest.warns(RuntimeWarning, match=r"training loss climbed from 10 to 1e\+04 by epoch 4"
                      ) as record:
        reg.fit(X[:8], np.zeros(8, np.float32))
    assert sum("climbed" in str(w.message) for w in record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a steady loss gives no warning
        CRNNRegressor(**TINY).fit(X[:8], np.zeros(8, np.float32))


@pytest.mark.parametrize("y", [[[1, 2], [2, 1]], [[0, 2], [2, 0]], [[-1, 1], [1, -1]]])
def test_two_valued_2d_targets_other_than_0_1_are_refused(data, y):
    X, _ = data
    Y = np.resize(np.asarray(y), (len(X), 2))
    with pytest.raises(ValueError, match="must hold only 0 and 1"):
        CRNNClassifier(**TINY).fit(X, Y)
