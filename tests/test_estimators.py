"""CRNNClassifier and CRNNRegressor: labels, targets, seeding, checks, persistence, devices."""

import io
import pickle
import warnings
from unittest import mock

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from helpers import InterruptAt
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.utils import get_tags
from skorch.callbacks import Callback, ProgressBar
from skorch.exceptions import DeviceWarning, NotInitializedError

from sk_crnn.estimators import CRNNClassifier, CRNNRegressor

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def separable(X, y_index, gap=3.0):
    """Shift every clip by its class index so that the classes are easy to learn."""
    return X + gap * np.asarray(y_index, dtype=np.float32)[:, None, None]


# -- labels and targets -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "labels",
    [
        np.array(["dog", "cat"]),
        np.array([3, 7, 9]),
        np.array([True, False]),
        np.array([-1, 1]),
        np.array(["yes", "no", "up", "down"]),
    ],
    ids=["str-binary", "int-from-3", "bool", "minus-one-one", "str-multiclass"],
)
def test_labels_round_trip(spectrograms, tiny, labels):
    y = np.resize(labels, len(spectrograms))
    clf = CRNNClassifier(**tiny).fit(spectrograms, y)
    assert_array_equal(clf.classes_, np.unique(labels))
    assert clf.n_outputs_ == len(labels)
    proba = clf.predict_proba(spectrograms)
    assert proba.shape == (len(y), len(labels))
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    pred = clf.predict(spectrograms)
    assert pred.dtype == clf.classes_.dtype
    assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert 0 <= clf.score(spectrograms, y) <= 1


def test_predict_proba_columns_follow_classes(spectrograms, tiny):
    y = np.resize(np.array(["yes", "no"]), len(spectrograms))  # "no" is column 0
    X = separable(spectrograms, y == "yes")
    clf = CRNNClassifier(**{**tiny, "max_epochs": 30}, lr=0.01, random_state=0).fit(X, y)
    assert clf.classes_.tolist() == ["no", "yes"]
    assert clf.score(X, y) == 1.0
    proba = clf.predict_proba(X)
    assert (proba[y == "yes", 1] > 0.5).all() and (proba[y == "no", 0] > 0.5).all()


def test_classes_parameter_fixes_label_set_and_order(spectrograms, tiny):
    y = np.resize(np.array(["b", "a"]), len(spectrograms))
    clf = CRNNClassifier(classes=["c", "b", "a"], **tiny).fit(spectrograms, y)
    assert clf.classes_.tolist() == ["c", "b", "a"]
    assert clf.predict_proba(spectrograms).shape == (len(y), 3)
    with pytest.raises(ValueError, match=r"labels not in classes_.*'z'"):
        CRNNClassifier(classes=["a", "b"], **tiny).fit(spectrograms, np.resize(["a", "z"], 24))


def test_partial_fit_classes_as_in_scikit_learn(spectrograms, tiny):
    # The first chunk lacks "c": partial_fit(classes=...) fixes the label set from the start.
    first, later = spectrograms[:12], spectrograms[12:]
    clf = CRNNClassifier(**tiny).partial_fit(first, np.resize(["a", "b"], 12),
                                             classes=["a", "b", "c"])
    assert clf.classes_.tolist() == ["a", "b", "c"]
    clf.partial_fit(later, np.resize(["c", "a"], 12))  # classes may be omitted later
    clf.partial_fit(later, np.resize(["c", "b"], 12), classes=["c", "b", "a"])  # or repeated
    assert clf.predict_proba(later).shape == (12, 3) and len(clf.history) == 3 * tiny[
        "max_epochs"]
    with pytest.raises(ValueError, match="differs from the classes of the first call"):
        clf.partial_fit(later, np.resize(["a", "b"], 12), classes=["a", "b"])
    with pytest.raises(ValueError, match="differs from the constructor's classes"):
        CRNNClassifier(classes=["a", "b"], **tiny).partial_fit(
            first, np.resize(["a", "b"], 12), classes=["a", "b", "c"])
    with pytest.raises(ValueError, match="classes is for classifiers"):
        CRNNRegressor(**tiny).partial_fit(first, first.mean(axis=(1, 2)), classes=[0, 1])


def test_multilabel_indicator(spectrograms, tiny):
    Y = (np.random.RandomState(1).rand(len(spectrograms), 3) > 0.5).astype(int)
    clf = CRNNClassifier(**tiny).fit(spectrograms, Y)
    assert clf.target_type_ == "multilabel-indicator"
    assert isinstance(clf.criterion_, torch.nn.BCEWithLogitsLoss)
    assert_array_equal(clf.classes_, np.arange(3))
    proba = clf.predict_proba(spectrograms)
    assert proba.shape == (len(Y), 3) and ((proba >= 0) & (proba <= 1)).all()
    pred = clf.predict(spectrograms)
    assert pred.shape == Y.shape and set(np.unique(pred)) <= {0, 1}
    assert_array_equal(pred, (proba > 0.5).astype(int))
    assert 0 <= clf.score(spectrograms, Y) <= 1


def test_continuous_targets_are_not_labels(spectrograms, tiny):
    with pytest.raises(ValueError, match="Unknown label type"):
        CRNNClassifier(**tiny).fit(spectrograms, np.linspace(0, 1, len(spectrograms)))


def test_one_class_is_an_error(spectrograms, tiny):
    with pytest.raises(ValueError, match="at least 2 classes.*only one class: 'a'"):
        CRNNClassifier(**tiny).fit(spectrograms, ["a"] * len(spectrograms))


@pytest.mark.parametrize("y_2d", [False, True])
def test_regressor_keeps_target_dimensionality(spectrograms, tiny, y_2d):
    y = spectrograms.mean(axis=(1, 2))
    y = np.c_[y, -y] if y_2d else y
    reg = CRNNRegressor(**tiny).fit(spectrograms, y.astype(np.float64))
    pred = reg.predict(spectrograms)
    assert pred.shape == y.shape and pred.dtype == np.float64
    assert not hasattr(reg, "predict_proba")
    assert reg.n_outputs_ == (2 if y_2d else 1)
    assert_allclose(reg.score(spectrograms, y), r2_score(y, pred), rtol=1e-5)


def test_regressor_learns(spectrograms, tiny):
    y = np.resize([0.0, 1.0], len(spectrograms))
    X = separable(spectrograms, y)
    reg = CRNNRegressor(**{**tiny, "max_epochs": 30}, lr=0.01, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.5


# -- seeding and parameters ---------------------------------------------------------------------
def test_random_state_reproducible_and_leaves_global_rng_alone(spectrograms, tiny):
    y = np.resize([0, 1, 2], len(spectrograms))
    state = torch.get_rng_state()
    clf = CRNNClassifier(random_state=0, **tiny).fit(spectrograms, y)
    assert torch.equal(torch.get_rng_state(), state)  # fit ran on a forked RNG
    p1 = clf.predict_proba(spectrograms)
    p2 = CRNNClassifier(random_state=0, **tiny).fit(spectrograms, y).predict_proba(spectrograms)
    p3 = CRNNClassifier(random_state=1, **tiny).fit(spectrograms, y).predict_proba(spectrograms)
    assert_array_equal(p1, p2)
    assert not np.allclose(p1, p3)
    # sklearn convention: an int is drawn from a RandomState, so equal states give equal fits
    p4, p5 = (CRNNClassifier(random_state=np.random.RandomState(0), **tiny)
              .fit(spectrograms, y).predict_proba(spectrograms) for _ in range(2))
    assert_array_equal(p4, p5)
    with pytest.raises(ValueError, match="random_state"):
        CRNNClassifier(random_state="zero", **tiny).fit(spectrograms, y)


def test_random_state_none_uses_torch_global_rng(spectrograms, tiny):
    y = np.resize([0, 1], len(spectrograms))
    probas = []
    for _ in range(2):
        torch.manual_seed(3)
        probas.append(CRNNClassifier(**tiny).fit(spectrograms, y).predict_proba(spectrograms))
    assert_array_equal(*probas)


def test_module_params_win_and_fit_changes_no_public_param(spectrograms, tiny):
    y = np.resize([0, 1], len(spectrograms))
    clf = CRNNClassifier(module__rnn_type="lstm", module__n_frames=None, **tiny)
    before = clf.get_params(deep=False)
    clf.fit(spectrograms, y)
    after = clf.get_params(deep=False)
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before)
    assert (clf.n_mels_in_, clf.n_frames_in_, clf.n_outputs_) == (16, 20, 2)
    assert isinstance(clf.module_.rnn, torch.nn.LSTM)
    assert clf.module_.n_frames is None and clf.module_.n_mels == 16
    assert "module__n_mels" not in after  # inferred sizes are fitted attributes, not params
    with pytest.raises(ValueError, match="built for n_mels=8"):
        CRNNClassifier(module__n_mels=8, module__freq_pool=1, **tiny).fit(spectrograms, y)


def test_params_are_searchable(spectrograms, tiny):
    y = np.resize([0, 1], len(spectrograms))
    search = GridSearchCV(
        CRNNClassifier(**tiny), {"module__rnn_type": ["gru", "lstm"]}, cv=2, error_score="raise"
    ).fit(spectrograms, y)
    assert search.best_params_["module__rnn_type"] in ("gru", "lstm")
    assert "module__rnn_type" in search.best_estimator_.get_params()
    assert not any(k.startswith("_") for k in CRNNClassifier().get_params(deep=False))


# -- input checks -------------------------------------------------------------------------------
def test_predict_shape_must_match_fit(spectrograms, tiny):
    clf = CRNNClassifier(**tiny).fit(spectrograms, np.resize([0, 1], len(spectrograms)))
    X_other = np.zeros((2, 16, 24), dtype=np.float32)
    with pytest.raises(ValueError, match=r"\(16, 24\).*\(16, 20\).*MelSpectrogramTransformer"):
        clf.predict(X_other)


def test_unfitted_predict_raises_not_fitted(spectrograms):
    with pytest.raises(NotInitializedError):
        CRNNClassifier().predict(spectrograms)


@pytest.mark.parametrize(
    "X, error, match",
    [
        (
            np.zeros((4, 16000), np.float32),
            ValueError,
            "looks like raw waveforms.*"
            "put MelSpectrogramTransformer before CRNNClassifier in a Pipeline",
        ),
        (np.zeros((4, 1, 1, 16, 20), np.float32), ValueError, "got a 5-D array"),
        (np.zeros((4, 2, 16, 20), np.float32), ValueError, "2 channels"),
        (np.zeros(4, np.float32), ValueError, "got a 1-D array"),
        (np.full((4, 16, 20), "a"), TypeError, "dtype <U1"),
        (np.zeros((4, 16, 20), np.complex64), ValueError, "Complex data not supported"),
        (sp.csr_matrix(np.zeros((4, 16))), TypeError, "sparse"),
        (np.zeros((0, 16, 20), np.float32), ValueError, "0 sample"),
        ([np.zeros(800, np.float32), np.zeros(900, np.float32)], TypeError,
         "different lengths is raw audio: put MelSpectrogramTransformer before CRNNClassifier"),
        (np.array([np.zeros(800), np.zeros(900)], dtype=object), TypeError,
         "different lengths are raw audio: put MelSpectrogramTransformer"),
        (np.zeros((4, 16, 20), bool), TypeError, "dtype bool. put MelSpectrogramTransformer"),
    ],
    ids=["2d-waveforms", "5d", "stereo", "1d", "strings", "complex", "sparse", "empty",
         "ragged-list", "ragged-object", "bool"],
)
def test_bad_X_gets_a_clear_error(X, error, match, tiny):
    n_clips = X.shape[0] if hasattr(X, "shape") else len(X)
    with pytest.raises(error, match=match):
        CRNNClassifier(**tiny).fit(X, np.resize([0, 1], n_clips))


def test_nan_and_inf_name_the_clip(spectrograms, tiny):
    y = np.resize([0, 1], len(spectrograms))
    X = spectrograms.copy()
    X[5, 3, 2] = np.nan
    with pytest.raises(ValueError, match="clip 5 "):
        CRNNClassifier(**tiny).fit(X, y)
    clf = CRNNClassifier(**tiny).fit(spectrograms, y)
    X = spectrograms.astype(np.float64)
    X[7, 0, 0] = 1e300  # finite in float64, infinite in float32
    with pytest.raises(ValueError, match="clip 7 "):
        clf.predict(X)


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.int16])
def test_other_numeric_dtypes_are_converted(spectrograms, tiny, dtype):
    y = np.resize([0, 1], len(spectrograms))
    X = (spectrograms * 10).astype(dtype)
    clf = CRNNClassifier(**tiny).fit(X, y)
    assert clf.predict_proba(X).dtype == np.float32
    assert clf.predict_proba(X[:, None]).shape == (len(X), 2)  # (n, 1, n_mels, n_frames)


def test_y_length_mismatch(spectrograms, tiny):
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        CRNNClassifier(**tiny).fit(spectrograms, np.resize([0, 1], 23))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        CRNNRegressor(**tiny).fit(spectrograms, np.zeros(23))


def test_float16_spectrograms_are_trained_on_without_a_float32_copy(spectrograms, tiny):
    class DtypeProbe(Callback):
        def on_train_begin(self, net, X=None, y=None, **kwargs):
            net.dtype_seen_ = X.dtype

    y = np.resize([0, 1], len(spectrograms))
    X16 = spectrograms.astype(np.float16)
    for extra in ({}, {"freq_mask": 2, "mixup": 0.2}):  # augmentation runs on float32 batches
        clf = CRNNClassifier(callbacks=[("probe", DtypeProbe())], random_state=0, **extra,
                             **tiny).fit(X16, y)
        assert clf.dtype_seen_ == np.float16
        proba = clf.predict_proba(X16)
        assert proba.dtype == np.float32 and np.isfinite(proba).all()
        assert clf.transform(X16).dtype == np.float32
    ref = CRNNClassifier(random_state=0, **tiny).fit(X16.astype(np.float32), y)
    clf = CRNNClassifier(random_state=0, **tiny).fit(X16, y)
    np.testing.assert_allclose(clf.predict_proba(X16), ref.predict_proba(X16), atol=1e-5)


def test_too_small_spectrograms_name_the_parameters_to_change(tiny):
    X = np.random.RandomState(0).randn(8, 2, 20).astype(np.float32)  # 2 mel bands
    y = np.resize([0, 1], 8)
    with pytest.raises(ValueError, match=r"n_mels=2 is too small for freq_pool=\(2, 2\).*"
                       r"module__freq_pool / module__conv_channels"):
        CRNNClassifier(**{**tiny, "module__conv_channels": (4, 4)}).fit(X, y)


def test_nan_loss_stops_with_a_clear_error(spectrograms, tiny):
    y = np.resize([0, 1], len(spectrograms))
    with pytest.raises(
        FloatingPointError,
        match=r"loss became (nan|inf) at epoch 1, batch \d+; "
        r"lower lr \(currently 1e\+30\)",
    ):
        clf = CRNNClassifier(lr=1e30, **tiny)
        clf.fit(spectrograms * 1e15, y)
    # No garbage predictions from the diverged weights: a clear error until it is refitted.
    with pytest.raises(NotInitializedError, match="cannot predict: its training loss became"):
        clf.predict(spectrograms)
    assert clf.set_params(lr=1e-3).fit(spectrograms, y).predict(spectrograms).shape == y.shape
    assert not hasattr(clf, "training_failed_")


# -- output, progress, interruption -------------------------------------------------------------
def test_verbose_0_prints_nothing_and_verbose_1_prints_the_table(spectrograms, tiny, capsys):
    y = np.resize([0, 1], len(spectrograms))
    CRNNClassifier(**tiny).fit(spectrograms, y).predict(spectrograms)
    assert capsys.readouterr() == ("", "")
    CRNNClassifier(verbose=1, **tiny).fit(spectrograms, y)
    out = capsys.readouterr().out
    assert "epoch" in out and "train_loss" in out and len(out.strip().splitlines()) >= 4


def test_progress_bar(spectrograms, tiny):
    y = np.resize([0, 1], len(spectrograms))
    has_bar = [
        any(
            isinstance(cb, ProgressBar)
            for _, cb in CRNNClassifier(progress_bar=flag, **tiny).fit(spectrograms, y).callbacks_
        )
        for flag in (False, True)
    ]
    assert has_bar == [False, True]
    with pytest.raises(TypeError, match="progress_bar must be True or False"):
        CRNNClassifier(progress_bar="yes", **tiny).fit(spectrograms, y)


def test_keyboard_interrupt_leaves_a_usable_model(spectrograms, tiny):
    y = np.resize(["a", "b"], len(spectrograms))
    clf = CRNNClassifier(callbacks=[InterruptAt(2)], **{**tiny, "max_epochs": 5})
    with pytest.warns(RuntimeWarning, match="interrupted"):
        clf.fit(spectrograms, y)
    assert len(clf.history) == 2 and clf.interrupted_epoch_ == 2
    assert set(clf.predict(spectrograms)) <= {"a", "b"}


def test_embed(spectrograms, tiny):
    clf = CRNNClassifier(**tiny).fit(spectrograms, np.resize([0, 1], len(spectrograms)))
    assert clf.embed(spectrograms).shape == (len(spectrograms), clf.module_.embedding_dim)


# -- clone and persistence ----------------------------------------------------------------------
@pytest.mark.parametrize("Estimator", [CRNNClassifier, CRNNRegressor])
def test_clone_pickle_and_joblib_round_trip(spectrograms, tiny, Estimator):
    y = np.resize([0, 1], len(spectrograms))
    est = Estimator(random_state=0, module__pooling="attention", **tiny).fit(spectrograms, y)
    predict = est.predict_proba if hasattr(est, "classes_") else est.predict
    ref = predict(spectrograms)
    twin = clone(est)
    assert twin.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    assert not hasattr(twin, "n_outputs_") and not twin.initialized_
    assert_array_equal(twin.fit(spectrograms, y).predict(spectrograms), est.predict(spectrograms))
    loaded = pickle.loads(pickle.dumps(est))
    pred = loaded.predict_proba if hasattr(loaded, "classes_") else loaded.predict
    assert_array_equal(pred(spectrograms), ref)
    buf = io.BytesIO()
    joblib.dump(est, buf)
    buf.seek(0)
    assert_array_equal(joblib.load(buf).predict(spectrograms), est.predict(spectrograms))


# -- devices ------------------------------------------------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_requested_without_cuda(spectrograms, tiny, device):
    with pytest.raises(ValueError, match="CUDA is not available.*use device='cpu'"):
        CRNNClassifier(device=device, **tiny).fit(spectrograms, np.resize([0, 1], 24))


def _cuda_pickle(net):
    """Pickle ``net`` as if it had been fitted on a GPU.

    Without a GPU no tensor can live on CUDA, so the pickle is made CUDA-tagged instead: the
    net's device is set to "cuda" and torch's serializer records every tensor storage at
    location "cuda:0", exactly the bytes a GPU-fitted net produces for its weights and
    optimizer state.
    """
    net.device = "cuda"
    with mock.patch("torch.serialization.location_tag", lambda storage: "cuda:0"):
        return pickle.dumps(net)


@pytest.mark.parametrize("Estimator", [CRNNClassifier, CRNNRegressor])
def test_gpu_fitted_model_loads_and_predicts_on_cpu(spectrograms, tiny, Estimator):
    y = np.resize([0, 1], len(spectrograms))
    est = Estimator(random_state=0, **tiny).fit(spectrograms, y)
    ref = est.predict(spectrograms)
    blob = _cuda_pickle(est)
    with mock.patch("torch.cuda.is_available", lambda: False):
        # the fixture really holds CUDA tensors: torch refuses to load them unmapped ...
        with pytest.raises(RuntimeError, match="CUDA"):
            pickle.loads(_raw_cuda_attributes(blob, Estimator))
        # ... while the estimator maps them to the CPU, warns, and predicts the same
        with pytest.warns(DeviceWarning, match="not available"):
            loaded = pickle.loads(blob)
    assert torch.device(loaded.device).type == "cpu"
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    assert_array_equal(loaded.predict(spectrograms), ref)
    loaded.partial_fit(spectrograms, y)  # the optimizer state was mapped too


def _raw_cuda_attributes(blob, Estimator):
    """The inner pickle that holds the net's tensors (module_, optimizer_, criterion_)."""
    captured = {}
    with mock.patch.object(Estimator, "__setstate__", lambda self, state: captured.update(state)):
        pickle.loads(blob)
    return captured["__cuda_dependent_attributes__"]


@cuda
@pytest.mark.parametrize("Estimator", [CRNNClassifier, CRNNRegressor])
def test_fit_and_predict_on_cuda(spectrograms, tiny, Estimator, monkeypatch):
    # float32 on both devices: TF32 (on by default for cuDNN convolutions) would round
    # to 10 bits on the GPU only
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    y = np.resize([0, 1], len(spectrograms))
    est = Estimator(device="cuda", random_state=0, **tiny).fit(spectrograms, y)
    assert all(p.is_cuda for p in est.module_.parameters())
    out = est.predict_proba(spectrograms) if hasattr(est, "predict_proba") else \
        est.predict(spectrograms)
    assert np.isfinite(out).all()
    # the same weights on the CPU (unpickled as where no GPU is seen) give the same
    # outputs, up to float32 rounding (the two devices' kernels sum in other orders)
    with mock.patch("torch.cuda.is_available", lambda: False):
        with pytest.warns(DeviceWarning, match="not available"):
            on_cpu = pickle.loads(pickle.dumps(est))
    assert all(p.device.type == "cpu" for p in on_cpu.module_.parameters())
    cpu_out = on_cpu.predict_proba(spectrograms) if hasattr(est, "predict_proba") else \
        on_cpu.predict(spectrograms)
    assert_allclose(out, cpu_out, rtol=1e-4, atol=1e-5)
    # and a pickle loaded where the GPU is seen predicts on the GPU, the same
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = pickle.loads(pickle.dumps(est))
    assert all(p.is_cuda for p in loaded.module_.parameters())
    loaded_out = loaded.predict_proba(spectrograms) if hasattr(est, "predict_proba") else \
        loaded.predict(spectrograms)
    assert_allclose(loaded_out, out, rtol=1e-5, atol=1e-6)


# -- scikit-learn's common checks ---------------------------------------------------------------
def test_tags_tell_the_truth():
    for est in (CRNNClassifier(), CRNNRegressor()):
        tags = get_tags(est)
        assert tags.input_tags.three_d_array and not tags.input_tags.two_d_array
        assert tags.target_tags.required
    assert get_tags(CRNNClassifier()).classifier_tags.multi_label
    assert get_tags(CRNNRegressor()).target_tags.multi_output


def test_train_split_with_string_labels_scores_valid_accuracy():
    from skorch.dataset import ValidSplit

    rng = np.random.RandomState(0)
    y = np.array(["low", "high"] * 20)
    X = rng.randn(40, 8, 6).astype("float32") + (y == "high")[:, None, None]
    clf = CRNNClassifier(max_epochs=3, module__conv_channels=(4,), module__rnn_hidden=4,
                         train_split=ValidSplit(4, stratified=True), random_state=0).fit(X, y)
    valid_acc = clf.history[:, "valid_acc"]
    assert len(valid_acc) == 3
    # The score is predict() against the original labels of skorch's split, computed by hand.
    y_enc = np.searchsorted(clf.classes_, y)
    _, valid = ValidSplit(4, stratified=True)(np.arange(len(y)), y_enc)
    idx = np.asarray(valid.indices)
    assert valid_acc[-1] == pytest.approx(np.mean(clf.predict(X[idx]) == y[idx]))
