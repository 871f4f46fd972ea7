"""The inference seam: each fitted estimator's ``_inference_module()`` and the transformer's
``_frontend_module()`` compute, as one torch module, what ``predict_proba`` / ``transform``
return; composed, they are the whole pipeline from waveforms to outputs."""

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline
from skorch.exceptions import NotInitializedError

from sk_crnn import (
    CRNNClassifier,
    CRNNEmbedder,
    CRNNEventDetector,
    CRNNRegressor,
    CRNNTranscriber,
    MelSpectrogramTransformer,
    ctc,
)
from sk_crnn._inference import CTCOutputs, EmbeddingOutputs, FrameOutputs, InferenceModule
from sk_crnn.datasets import make_tone_clips, make_tone_phrases
from sk_crnn.features import MelFrontEnd

SR = 8000
TINY = {"module__conv_channels": (4,), "module__rnn_hidden": 4, "random_state": 0,
        "max_epochs": 1, "batch_size": 8}


def run(module, X):
    with torch.no_grad():
        return module.eval()(torch.from_numpy(np.asarray(X, dtype=np.float32))).numpy()


@pytest.fixture(scope="module")
def spectrograms():
    return np.random.RandomState(0).randn(20, 16, 24).astype(np.float32)


def targets(kind, n=20):
    rng = np.random.RandomState(1)
    return {
        "binary": np.array(["no", "yes"])[rng.randint(0, 2, n)],
        "multiclass": rng.randint(0, 3, n),
        "multilabel": rng.randint(0, 2, (n, 3)),
        "regression": rng.randn(n, 2).astype(np.float32),
        "frames": (rng.rand(n, 24, 2) > 0.5).astype(np.float32),
        "weak": rng.randint(0, 2, (n, 2)),
    }[kind]


@pytest.mark.parametrize("estimator, kind, module_class", [
    (CRNNClassifier, "binary", InferenceModule),
    (CRNNClassifier, "multiclass", InferenceModule),
    (CRNNClassifier, "multilabel", InferenceModule),
    (CRNNRegressor, "regression", InferenceModule),
    (CRNNEventDetector, "frames", InferenceModule),
    (CRNNEventDetector, "weak", FrameOutputs),
    (CRNNEmbedder, "multiclass", EmbeddingOutputs),
])
def test_inference_module_gives_predict_proba(spectrograms, estimator, kind, module_class):
    y = targets(kind)
    est = estimator(**TINY).fit(spectrograms, y)
    module = est._inference_module()
    assert type(module) is module_class and module.network is est.module_  # shared
    proba = (est.predict(spectrograms) if kind == "regression"  # no predict_proba
             else est.transform(spectrograms) if estimator is CRNNEmbedder
             else est.predict_proba(spectrograms))  # 3 batches of 8
    out = run(module, spectrograms)
    assert out.shape == proba.shape
    np.testing.assert_allclose(out, proba, rtol=1e-5, atol=1e-6)
    if estimator is CRNNEmbedder:  # unit norm
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    elif kind in ("binary", "multiclass"):
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)
    if kind in ("multilabel", "frames", "weak"):  # independent sigmoids
        assert ((out > 0) & (out < 1)).all() and not np.allclose(out.sum(axis=-1), 1.0)
    if kind == "weak":  # the clip head's columns are not outputs
        assert est.module_(torch.from_numpy(spectrograms[:2])).shape[-1] == 4
        assert out.shape[-1] == 2


@pytest.mark.parametrize("estimator", [CRNNClassifier, CRNNEmbedder])
def test_transform_module_gives_the_embeddings(spectrograms, estimator):
    est = estimator(**TINY).fit(spectrograms, targets("multiclass"))
    module = est._inference_module("transform")
    assert isinstance(module, EmbeddingOutputs)
    np.testing.assert_allclose(run(module, spectrograms), est.transform(spectrograms),
                               rtol=1e-5, atol=1e-6)


def test_transcriber_module_fills_padding_and_blanks_the_end():
    phrases, transcripts = make_tone_phrases(10, n_words=3, random_state=0)
    front = MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=80, n_mels=16)
    S = front.fit_transform(phrases)
    asr = CRNNTranscriber(**TINY).fit(S, transcripts)
    module = asr._inference_module()
    assert isinstance(module, CTCOutputs)
    out = run(module, S)
    np.testing.assert_allclose(out, asr.predict_proba(S), rtol=1e-5, atol=1e-6)
    # the shortest phrase: its steps after its end are the blank with probability 1
    lengths = np.array([len(p) for p in phrases])
    short = int(lengths.argmin())
    frames = ctc.frame_lengths(torch.from_numpy(S[short:short + 1]))  # its true length
    # frames whose window overlaps the clip's end differ from the padding too
    assert 0 <= int(frames[0]) - front._plan("cpu").n_frames(lengths[short]) <= 256 // 80 + 1
    steps = int(module.output_steps(frames)[0])
    assert steps < out.shape[1]
    np.testing.assert_allclose(out[short, steps:, 0], 1.0, atol=1e-6)
    assert (out[short, :steps, 0] < 0.999).any()  # the clip's own steps are not forced
    # a clip's outputs do not depend on the others of its batch
    np.testing.assert_allclose(run(module, S[short:short + 1])[0], out[short], atol=1e-5)


def test_inference_module_needs_a_fitted_estimator():
    with pytest.raises(NotInitializedError):
        CRNNClassifier()._inference_module()


# -- the front end -------------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    {},
    {"normalize": "band"},
    {"n_mfcc": 8, "normalize": "band"},
    {"scale": "log", "pad_mode": "reflect"},
    {"ref": np.max, "top_db": 40.0, "center": False},
])
def test_frontend_module_gives_transform(params):
    X, _ = make_tone_clips(6, sr=SR, duration=0.25, random_state=0)
    front = MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=64, n_mels=16,
                                      **params).fit(X)
    module = front._frontend_module()
    assert isinstance(module, MelFrontEnd) and not module.training
    assert {"window", "mel_t"} <= set(dict(module.named_buffers()))
    for clips in (X, X[:, :1500], np.concatenate([X, X], axis=1)):  # fitted, short, long
        with pytest.warns(UserWarning) if clips.shape[1] > X.shape[1] else _no_warning():
            expected = front.transform(clips)
        out = run(module, clips)
        assert out.shape == expected.shape == (len(X), front.n_bands_, front.n_frames_)
        np.testing.assert_allclose(out, expected, atol=1e-4)


def _no_warning():
    import contextlib

    return contextlib.nullcontext()


@pytest.mark.parametrize("estimator, y", [
    (CRNNClassifier, np.array(["low", "high"])[np.arange(12) % 2]),
    (CRNNRegressor, np.linspace(0, 1, 12)),
])
def test_front_end_and_inference_module_are_the_pipeline(estimator, y):
    X, _ = make_tone_clips(12, sr=SR, duration=0.25, random_state=0)
    pipe = make_pipeline(
        MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=64, n_mels=16,
                                  normalize="band"),
        estimator(**TINY)).fit(X, y)
    whole = torch.nn.Sequential(pipe[0]._frontend_module(), pipe[-1]._inference_module())
    expected = pipe.predict_proba(X) if estimator is CRNNClassifier else pipe.predict(X)
    np.testing.assert_allclose(run(whole, X).reshape(expected.shape), expected, atol=1e-5)


def test_frontend_module_needs_a_fitted_transformer():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MelSpectrogramTransformer()._frontend_module()
