"""The training loop of the CRNN estimators on skorch's extension points: augmentation in the
training loader's collate step, mixup's loss in the batch loss, precision as a train-step
strategy, and the base's methods on the class (no module functions taking the estimator)."""

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from skorch import NeuralNet

import sk_crnn
from sk_crnn import CRNNClassifier, CRNNTranscriber, _precision
from sk_crnn._augment import AugmentedCollate, BatchAugment, MixedClasses
from sk_crnn._base import SpectrogramNet

TINY = dict(module__conv_channels=(4,), module__rnn_hidden=4, batch_size=8, max_epochs=2)
AUGMENT = dict(freq_mask=3, time_mask=3, time_shift=2, mixup=0.4)


@pytest.fixture
def data():
    X = np.random.RandomState(0).randn(24, 8, 12).astype("float32")
    return X, np.array(["a", "b", "c"] * 8)


def test_the_base_keeps_skorchs_training_step_and_its_methods_on_the_class():
    own = [c for c in SpectrogramNet.__mro__ if c.__module__.startswith("sk_crnn")]
    for name in ("train_step_single", "validation_step"):
        assert not any(name in vars(c) for c in own), name
    assert CRNNClassifier.train_step_single is NeuralNet.train_step_single
    # prediction runs the inference module: evaluation_step is the base's, once, for every task
    tasks = [sk_crnn.CRNNClassifier, sk_crnn.CRNNRegressor, sk_crnn.CRNNEventDetector,
             sk_crnn.CRNNTranscriber, sk_crnn.CRNNEmbedder]
    assert all(t.evaluation_step is SpectrogramNet.evaluation_step for t in tasks)
    package = Path(sk_crnn.__file__).parent
    for module in ("_training.py", "_embedding.py", "_fit_loop.py", "_precision.py", "_base.py",
                   "_labels.py", "_inference.py", "_sample_weight.py"):
        tree = ast.parse((package / module).read_text())
        taking_self = [f.name for f in tree.body if isinstance(f, ast.FunctionDef)
                       and f.args.args and f.args.args[0].arg in ("self", "net", "est")
                       and not f.name.startswith("_has_")]  # available_if predicates
        assert taking_self == [], (module, taking_self)
    for name in ("embed", "transform", "fit_transform", "get_feature_names_out"):
        assert inspect.isfunction(inspect.getattr_static(SpectrogramNet, name)) or hasattr(
            inspect.getattr_static(SpectrogramNet, name), "fn"), name


def test_training_batches_are_augmented_in_the_collate_step_only(data):
    X, y = data
    loaders = []

    class Spy(CRNNClassifier):
        def get_iterator(self, dataset, training=False):
            loader = super().get_iterator(dataset, training=training)
            loaders.append((training, loader.collate_fn))
            return loader

    clf = Spy(**TINY, **AUGMENT, validation_fraction=0.25, random_state=0).fit(X, y)
    train = [c for t, c in loaders if t]
    assert train and all(isinstance(c, AugmentedCollate) and c.augment.active for c in train)
    assert all(not isinstance(c, AugmentedCollate) for t, c in loaders if not t)  # validation
    assert "collate_fn" not in clf.get_params_for("iterator_train")  # per-fit state only
    assert "collate_fn" not in clf.get_params()  # not a parameter
    plain = []
    Spy.get_iterator = lambda self, ds, training=False: plain.append(
        self.get_params_for("iterator_train")) or CRNNClassifier.get_iterator(self, ds, training)
    Spy(**TINY, mixup=0.0, random_state=0).fit(X, y)
    assert plain and all("collate_fn" not in p for p in plain)  # no augmentation: no collate


def test_the_users_collate_fn_runs_before_the_augmentation(data):
    X, y = data
    calls = []

    def collate(items):
        calls.append(len(items))
        return torch.utils.data.default_collate(items)

    CRNNClassifier(**TINY, **AUGMENT, iterator_train__collate_fn=collate).fit(X, y)
    assert calls and sum(calls) == 2 * len(X)  # every training item, both epochs


def test_augmented_collate_keeps_the_weights_and_mixes_the_loss_of_class_labels():
    items = [({"X": np.full((2, 4), i, np.float32), "sample_weight": np.float32(i + 1)}, i)
             for i in range(4)]
    augment = BatchAugment(mixup=0.5, rng=np.random.default_rng(0))
    Xi, yi = AugmentedCollate(augment)(items)
    assert set(Xi) == {"X", "sample_weight"} and Xi["X"].shape == (4, 2, 4)
    assert isinstance(yi, MixedClasses) and len(yi) == 4
    assert_array_equal(yi.weight, [1, 2, 3, 4])
    assert_array_equal(yi.weight_partner, yi.weight[yi.y_partner])  # partners' own weights
    expected = yi.lam * 10 + (1 - yi.lam) * 20
    mixed = yi.mix(lambda y, w: torch.tensor(10.0 if y is yi.y else 20.0, dtype=torch.float64))
    assert float(mixed) == pytest.approx(expected)
    Xn, yn = AugmentedCollate(None)([(np.zeros((2, 4), np.float32), 1)] * 3)  # validation
    assert Xn.shape == (3, 2, 4) and yn.tolist() == [1, 1, 1]


def test_get_loss_of_mixed_classes_mixes_both_labels_losses(data):
    X, y = data
    clf = CRNNClassifier(**{**TINY, "max_epochs": 1}).fit(X, y)
    y_pred = torch.randn(4, 3)
    a, b = torch.tensor([0, 1, 2, 0]), torch.tensor([2, 2, 1, 1])
    loss = clf.get_loss(y_pred, MixedClasses(a, b, 0.25), X=torch.zeros(4, 8, 12))
    ce = torch.nn.functional.cross_entropy
    torch.testing.assert_close(loss, 0.25 * ce(y_pred, a) + 0.75 * ce(y_pred, b))
    w = torch.tensor([1.0, 0.0, 2.0, 1.0])
    vars(clf)["_sample_criterion"] = clf._unreduced_criterion()  # as fit with sample_weight
    weighted = clf.get_loss(y_pred, a, X={"X": torch.zeros(4, 8, 12), "sample_weight": w})
    per = ce(y_pred, a, reduction="none")
    torch.testing.assert_close(weighted, (w * per).sum() / w.sum())


def test_the_scaled_train_step_strategy_trains_as_skorchs_step(data, monkeypatch):
    """GradScaledStep with its scaler off makes exactly skorch's optimizer steps."""
    X, y = data
    plain = CRNNClassifier(**TINY, **AUGMENT, random_state=0).fit(X, y)

    def unscaled(precision):
        step = _precision.GradScaledStep.__new__(_precision.GradScaledStep)
        step.scaler = torch.amp.GradScaler("cpu", enabled=False)
        return step

    monkeypatch.setattr(_precision, "scaled_step", unscaled)
    strategy = CRNNClassifier(**TINY, **AUGMENT, random_state=0).fit(X, y)
    assert_array_equal(strategy.predict_proba(X), plain.predict_proba(X))
    assert strategy.history[:, "train_loss"] == plain.history[:, "train_loss"]


def test_the_transcriber_trims_its_batches_before_augmenting():
    X = np.random.RandomState(0).randn(8, 8, 16).astype("float32")
    X[:4, :, 10:] = 0  # zero-padded clips
    seen, collates = [], []

    class Spy(CRNNTranscriber):
        def get_iterator(self, dataset, training=False):
            loader = super().get_iterator(dataset, training=training)
            collates.append(loader.collate_fn)
            return loader

        def _criterion_loss(self, y_pred, y_true, X=None, training=False):
            if training:
                seen.append(X.shape[-1])
            return super()._criterion_loss(y_pred, y_true, X=X, training=training)

    Spy(**{**TINY, "batch_size": 4}, time_mask=3, random_state=0).fit(
        X, ["ab", "ba", "a", "b"] * 2)
    assert min(seen) < 16 == max(seen)  # the padded batches are cut
    collate = collates[0]  # one collate step: stack, cut (prepare), then mask
    assert isinstance(collate, AugmentedCollate) and collate.prepare is not None
    assert collate.augment.time_mask == 3


# -- per-batch overhead: batches gathered at once, losses read once per epoch -------------------
def _fit_record(make):
    torch.manual_seed(7)
    est = make()
    return (est.predict_proba(np.random.RandomState(1).randn(6, 8, 12).astype("float32")),
            [{k: b[k] for k in b} for h in est.history for b in h["batches"]],
            torch.rand(4))  # where the fit and predict left torch's global RNG


@pytest.mark.parametrize("params", [
    dict(**AUGMENT, validation_fraction=0.25),  # shuffled, augmented, validation subset
    dict(iterator_train__drop_last=True, batch_size=5, lr_schedule="onecycle"),
    dict(batch_size=-1, mixup=0.0),
])
def test_gathered_batches_train_exactly_as_skorchs_loader(data, params):
    X, y = data
    weights = np.linspace(0, 2, len(y))  # clip 0 left out: the fit data is a subset
    fetched = []

    class Spy(CRNNClassifier):
        def get_iterator(self, dataset, training=False):
            loader = super().get_iterator(dataset, training=training)
            fetched.append(loader.batch_size is None)  # None: whole batches, one fetch each
            return loader

    kwargs = {**TINY, "random_state": 0, **params}
    gathered = _fit_record(lambda: Spy(**kwargs).fit(X, y, sample_weight=weights))
    assert fetched and all(fetched)
    # any loader argument of the user's keeps skorch's DataLoader (clip by clip)
    fetched.clear()
    skorchs = _fit_record(lambda: Spy(**kwargs, iterator_train__num_workers=0,
                                      iterator_valid__num_workers=0).fit(
        X, y, sample_weight=weights))
    assert fetched and not any(fetched)
    assert_array_equal(gathered[0], skorchs[0])
    assert gathered[1] == skorchs[1]  # the same losses and sizes of every batch, keys in order
    assert_array_equal(gathered[2], skorchs[2])


def test_batch_losses_are_read_off_the_device_once_per_epoch(data, monkeypatch):
    from skorch.callbacks import Callback

    class ReadsBatchLosses(Callback):  # a callback that reads each batch's loss as it ends
        def on_batch_end(self, net, **kwargs):
            seen.append(net.history[-1, "batches", -1, "train_loss"] if kwargs["training"]
                        else None)

    X, y = data
    reads = []
    item = torch.Tensor.item
    monkeypatch.setattr(torch.Tensor, "item", lambda t: reads.append(1) or item(t))
    kwargs = dict(**TINY, validation_fraction=0.25, random_state=0)
    once = CRNNClassifier(**kwargs).fit(X, y)
    n_once, reads[:] = len(reads), []
    seen = []
    each = CRNNClassifier(**kwargs, callbacks=[ReadsBatchLosses()]).fit(X, y)
    n_batches = sum(len(h["batches"]) for h in each.history)  # training and validation
    assert len(reads) - n_once == n_batches  # one read per batch less without such a callback
    assert len(seen) == n_batches and all(isinstance(v, float) for v in seen if v is not None)
    assert once.history[:, "batches"] == each.history[:, "batches"]
    assert all(isinstance(b["train_loss"], float) for b in once.history[-1]["batches"]
               if "train_loss" in b)


@pytest.mark.parametrize("progress_bar", [False, True])  # losses read per epoch or per batch
def test_a_non_finite_loss_names_its_batch(data, progress_bar, capsys):
    X, y = data
    clf = CRNNClassifier(**{**TINY, "batch_size": 4}, lr=1e30, progress_bar=progress_bar)
    with pytest.raises(FloatingPointError, match=r"became (nan|inf) at epoch 1, batch 2;"):
        clf.fit(X * 1e15, y)
    losses = [b["train_loss"] for b in clf.history[-1]["batches"]]
    assert np.isfinite(losses[0]) and not np.isfinite(losses[1])
    assert clf.training_failed_.startswith("its training loss became")
