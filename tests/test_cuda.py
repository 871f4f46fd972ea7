"""What a GPU fit computes, checked against the CPU: every test needs a CUDA device and is
skipped without one. (Other CUDA tests: the same weights on both devices and pickles of GPU
nets in test_estimators.py, the convolutions' dtype of each precision in test_training.py,
``sk_crnn.save`` of a GPU classifier pipeline into a CPU-only process in
test_persistence.py, the transformer in test_transformers.py.)"""

import os
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

import sk_crnn
from sk_crnn import CRNNClassifier, CRNNEmbedder, CRNNEventDetector, MelSpectrogramTransformer
from sk_crnn.datasets import make_sound_scenes, make_tone_clips

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

SR = 8000
TINY = dict(module__conv_channels=(4,), module__rnn_hidden=4, random_state=0)

#: GPU-fitted against CPU-fitted probabilities, same data and seed. With TF32 off and no
#: dropout (CUDA draws its masks from another generator than the CPU), the two fits start
#: from the same weights and see the same batches and augmentation (drawn with numpy); they
#: differ only by float32 rounding (the devices' kernels sum in other orders, ~1e-7 relative
#: per operation), which the 9 Adam steps carry into the weights: expected well under 1e-4
#: on these probabilities. 1e-3 leaves room for a near-zero gradient whose sign differs
#: between the devices (Adam then moves that weight by up to 2 * lr); a fit on other batches
#: or weights should differ by far more. Not measured yet: tighten it to what a GPU shows.
FIT_TOLERANCE = 1e-3


@pytest.fixture
def float32_kernels():
    """float32 on both devices: TF32 (on by default for cuDNN convolutions) would round to
    10 bits on the GPU only; deterministic cuDNN algorithms. Restored afterwards."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = cudnn.allow_tf32, matmul.allow_tf32, cudnn.deterministic, cudnn.benchmark
    cudnn.allow_tf32 = matmul.allow_tf32 = cudnn.benchmark = False
    cudnn.deterministic = True
    try:
        yield
    finally:
        cudnn.allow_tf32, matmul.allow_tf32, cudnn.deterministic, cudnn.benchmark = saved


@pytest.fixture(scope="module")
def spectrograms():
    X = np.random.RandomState(0).randn(48, 16, 20).astype("float32")
    return X, np.resize(["a", "b", "c"], 48)


def test_a_gpu_fit_gives_the_predictions_of_a_cpu_fit(spectrograms, float32_kernels):
    X, y = spectrograms
    params = dict(**TINY, module__dropout=0.0, mixup=0.0, max_epochs=3, batch_size=12,
                  freq_mask=3, time_shift=2, validation_fraction=0.25)
    cpu = CRNNClassifier(**params).fit(X, y)
    gpu = CRNNClassifier(**params, device="cuda").fit(X, y)
    assert all(p.is_cuda for p in gpu.module_.parameters())
    assert np.array_equal(cpu.validation_indices_, gpu.validation_indices_)
    assert_allclose(gpu.history[:, "train_loss"], cpu.history[:, "train_loss"], rtol=1e-4)
    assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=FIT_TOLERANCE)
    # a weighted regression fit too (weights gathered on the GPU with their batches)
    w = np.linspace(0, 2, len(y))
    target = X.mean(axis=(1, 2))
    reg = [sk_crnn.CRNNRegressor(**params, device=d).fit(X, target, sample_weight=w)
           for d in ("cpu", "cuda")]
    assert_allclose(reg[1].predict(X), reg[0].predict(X), atol=FIT_TOLERANCE)


class LossDtypes(Callback):
    """Records the dtype of each training batch's loss."""

    def initialize(self):
        self.dtypes = set()
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.dtypes.add(kwargs["loss"].dtype)


@pytest.mark.parametrize("precision, low", [("32", torch.float32), ("bf16", torch.bfloat16),
                                            ("16-mixed", torch.float16)])
def test_the_dtypes_of_each_precision_on_cuda(spectrograms, precision, low):
    X, y = spectrograms
    losses = LossDtypes()
    clf = CRNNClassifier(**TINY, max_epochs=1, batch_size=16, device="cuda",
                         precision=precision, callbacks=[losses]).fit(X, y)
    assert losses.dtypes == {torch.float32}  # the loss of the float32 outputs
    seen = {}

    def record(name):
        def hook(module, inputs, out):  # returns None: the output stays as it is
            seen.setdefault(name, (out[0] if isinstance(out, tuple) else out).dtype)
        return hook

    for name in ("conv", "rnn", "head"):
        getattr(clf.module_, name).register_forward_hook(record(name))
    proba = clf.predict_proba(X)
    # convolutions and output layer at the precision; the recurrence in float32 (autocast
    # off: cuDNN's float16 GRU and its per-call weight re-packing avoided)
    assert seen == {"conv": low, "rnn": torch.float32, "head": low}
    assert proba.dtype == np.float32 and np.isfinite(proba).all()
    assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    emb = CRNNEmbedder(**TINY, embedding_dim=4, max_epochs=1, batch_size=16, device="cuda",
                       precision=precision).fit(X, y)
    assert emb.transform(X).dtype == np.float32


def _cpu_only(script, tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                          text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_gpu_pipelines_through_joblib_and_save_predict_in_a_cpu_only_process(tmp_path):
    def mel():
        return MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=128, n_mels=16,
                                         device="cuda")

    X, y = make_tone_clips(12, sr=SR, duration=0.25, random_state=0)
    clf = make_pipeline(mel(), CRNNClassifier(max_epochs=2, device="cuda", **TINY)).fit(X, y)
    scenes, events = make_sound_scenes(4, duration=1.0, sr=SR, random_state=0)
    det = make_pipeline(mel(), CRNNEventDetector(max_epochs=2, frame_rate=SR / 128,
                                                 device="cuda", **TINY)).fit(scenes, events)
    joblib.dump(clf, tmp_path / "clf.joblib")
    joblib.dump(det, tmp_path / "det.joblib")
    sk_crnn.save(det, tmp_path / "det.skcrnn")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "scenes.npy", scenes)
    np.save(tmp_path / "clf.npy", clf.predict_proba(X))
    np.save(tmp_path / "det.npy", det.predict_proba(scenes))
    # The same weights on the CPU: they differ only by float32 rounding of other kernels, in
    # the front end (within 0.01 dB) and in the network. Issue 32 measured 3e-5
    # (classifier) and 7e-5 (detector) for pipelines like these on an H200, before the
    # transformer's GPU path changed: 2e-4 leaves a margin of about 3; measure it again.
    _cpu_only("""
        import warnings, joblib, numpy as np, torch, sk_crnn
        from numpy.testing import assert_allclose
        assert not torch.cuda.is_available()
        X, scenes = np.load("X.npy"), np.load("scenes.npy")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "saved with device='cuda' ... on the CPU"
            loaded = {"clf": joblib.load("clf.joblib"), "det": joblib.load("det.joblib"),
                      "det.skcrnn": sk_crnn.load("det.skcrnn")}
        for name, model in loaded.items():
            data = X if name == "clf" else scenes
            proba = model.predict_proba(data)
            assert proba.dtype == np.float32, name
            assert_allclose(proba, np.load(name.split(".")[0] + ".npy"), atol=2e-4,
                            err_msg=name)
            assert all(p.device.type == "cpu" for p in model[-1].module_.parameters()), name
        print("ok")
    """, tmp_path)
