"""ONNX export (sk_crnn.export): onnxruntime on the exported graph against the pipeline's own
outputs, for every estimator, GRU and LSTM, one or two directions, every pooling, at the
fitted length and a longer one, two batch sizes, and (detector, transcriber) any length."""

import itertools
import warnings

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

import torch  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402

from sk_crnn import (  # noqa: E402
    CRNNClassifier,
    CRNNEmbedder,
    CRNNEventDetector,
    CRNNRegressor,
    CRNNTranscriber,
    MelSpectrogramTransformer,
    ctc,
    export_onnx,
)
from sk_crnn._inference import InferenceModule  # noqa: E402
from sk_crnn._onnx_graph import ExportGraph, fft_factors, stft_kind, trace_to_onnx  # noqa: E402
from sk_crnn.datasets import make_tone_clips, make_tone_phrases  # noqa: E402
from sk_crnn.events import frames_to_events  # noqa: E402
from sk_crnn.export import decode_events, decode_transcripts, onnx_metadata  # noqa: E402

SR = 8000
MEL = {"sr": SR, "n_fft": 256, "hop_length": 64, "n_mels": 16}
TINY = {"module__conv_channels": (4,), "module__rnn_hidden": 4, "random_state": 0,
        "max_epochs": 1, "batch_size": 8}
N_CLIPS = 12
ATOL = 1e-4


# -- data -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clips():
    X, y = make_tone_clips(N_CLIPS, sr=SR, duration=0.25, n_classes=3, random_state=0)
    return X, y


def targets(kind, y, n_frames):
    rng = np.random.RandomState(1)
    if kind == "binary":
        return y % 2 == 0  # bool labels: their type survives the metadata
    if kind == "multiclass":
        return np.array(["high", "low", "mid"])[y]
    if kind == "multilabel":
        return rng.randint(0, 2, (len(y), 3))
    if kind == "regression":
        return rng.randn(len(y), 2).astype(np.float32)
    if kind == "frames":  # strong labels: blocks of activity
        Y = np.zeros((len(y), n_frames, 2), dtype=np.float32)
        for i in range(len(y)):
            start = rng.randint(0, n_frames - 8)
            Y[i, start:start + rng.randint(4, 12), i % 2] = 1
        return Y
    if kind == "weak":  # clip labels only: the clip head
        return np.stack([y % 2, 1 - y % 2], axis=1)
    if kind == "labels":
        return y
    raise ValueError(kind)


TASKS = {"classifier": CRNNClassifier, "regressor": CRNNRegressor,
         "detector": CRNNEventDetector, "embedder": CRNNEmbedder}


def make_estimator(task, rnn, bi, pooling):
    params = {**TINY, "module__rnn_type": rnn, "module__bidirectional": bi}
    if pooling is not None:
        params["module__pooling"] = pooling
    if task == "detector":
        params.update(frame_rate=SR / MEL["hop_length"], median_filter=0.05)
    if task == "embedder":
        params["embedding_dim"] = 8
    return TASKS[task](**params)


def fit_model(case, clips):
    """A fitted pipeline (or estimator, ``bare``) for ``case``."""
    task, kind, rnn, bi, pooling, bare = case
    X, y = clips
    mel = MelSpectrogramTransformer(**MEL, normalize="band" if bi else None)
    if task == "transcriber":
        phrases, transcripts = make_tone_phrases(10, n_words=3, random_state=0)
        est = CRNNTranscriber(**{**TINY, "module__rnn_hidden": 8}, module__rnn_type=rnn,
                              module__bidirectional=bi)
        pipe = make_pipeline(MelSpectrogramTransformer(**{**MEL, "hop_length": 80},
                                                       normalize="band"), est)
        pipe.fit(phrases, transcripts)
        # one epoch predicts about the same token everywhere: let the inputs weigh more
        # than the biases, so that the transcripts vary (the graph follows any weights)
        with torch.no_grad():
            head = est.module_.crnn.head
            head.bias.zero_()
            head.weight.copy_(torch.from_numpy(
                np.random.RandomState(0).normal(0, 2, head.weight.shape).astype(np.float32)))
        return pipe, phrases
    y = targets(kind, y, mel.fit(X).n_frames_)
    est = make_estimator(task, rnn, bi, pooling)
    model = est.fit(mel.transform(X), y) if bare else make_pipeline(mel, est).fit(X, y)
    if task == "detector":  # a threshold amid the probabilities: events start and stop
        S = mel.transform(X)
        est.set_params(threshold=float(np.median(est.predict_proba(S)[..., 0])))
    return model, X


def as_array(X, n, *, pad=False):
    """Clips (an array or a list) cut to ``n`` samples, repeated to fill longer lengths
    (``pad``: zero-padded instead, as the pipeline pads them)."""
    out = np.zeros((len(X), n), dtype=np.float32)
    for i, clip in enumerate(X):
        clip = clip if pad else np.tile(clip, -(-n // len(clip)))
        out[i, :min(n, len(clip))] = clip[:n]
    return out


# -- checks ---------------------------------------------------------------------------------------
def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def check_graph(path, rnn):
    """GRUs are written with linear_before_reset=1 (torch's GRU; pytorch#189225 writes 0),
    and the batch axis is dynamic."""
    model = onnx.load(str(path))
    rnn_nodes = [n for n in model.graph.node if n.op_type in ("GRU", "LSTM")]
    assert rnn_nodes and {n.op_type for n in rnn_nodes} == {rnn.upper()}
    for node in rnn_nodes:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "GRU":
            assert attrs["linear_before_reset"] == 1
        # no initial state fixed to the traced batch (onnxruntime#19270): none, or one
        # computed from the input's shape
        constants = {init.name for init in model.graph.initializer}
        assert len(node.input) < 6 or node.input[5] not in constants
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def expected(model, task, X):
    """The pipeline's own outputs, and its decoded predictions (None where there are none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # long clips are cropped, with a warning
        if task == "classifier":
            return model.predict_proba(X), model.predict(X)
        if task == "regressor":
            return model.predict(X).reshape(len(X), -1), None
        if task == "embedder":
            return model.transform(X), None
        return model.predict_proba(X), model.predict(X)


def check_outputs(task, out, meta, proba, decoded):
    if task == "transcriber":  # log-probabilities
        np.testing.assert_allclose(np.exp(out), proba, atol=ATOL, rtol=0)
        assert decode_transcripts(out, meta) == list(decoded)
        return
    np.testing.assert_allclose(out, proba, atol=ATOL, rtol=0)
    if task == "detector":
        assert decode_events(out, meta) == decoded
    elif task == "classifier":
        classes = np.asarray(meta["classes"])
        labels = (out > 0.5).astype(np.int64) if meta["multilabel"] else classes[out.argmax(1)]
        np.testing.assert_array_equal(labels, decoded)
        assert classes.dtype == np.asarray(decoded).dtype or meta["multilabel"]


def check_any_length(model, task, X, path):
    """``any_length=True``: the graph on a clip several times the fitted length equals the
    network run on that whole input's features."""
    export_onnx(model, path, any_length=True)
    sess, meta = session(path), onnx_metadata(path)
    assert meta["any_length"] is True
    front = model[0]._frontend_module()
    front.n_samples = None  # the whole input
    est = model[-1]
    module = est._inference_module().eval()
    n = model[0].n_samples_
    for length, batch in ((4 * n + 37, 1), (3 * n + 101, 3), (n // 2 + 7, 2)):
        waves = as_array(X[:batch], length)
        with torch.no_grad():
            feats = front(torch.from_numpy(waves))
            if task == "transcriber":
                ref = torch.log_softmax(module.scores(feats), dim=-1).numpy()
            else:
                ref = module(feats).numpy()
        out = sess.run(None, {"waveform": waves})[0]
        assert out.shape == ref.shape
        assert (out.shape[1] > est.n_frames_in_) == (length > n)  # every frame is kept
        if task == "transcriber":
            np.testing.assert_allclose(np.exp(out), np.exp(ref), atol=ATOL, rtol=0)
            sep = " " if est.tokens_ == "words" else ""
            words = [ctc.normalize_transcript(sep.join(est.vocabulary_[s]))
                     for s in ctc.decode_greedy(ref)]
            assert decode_transcripts(out, meta) == words
        else:
            np.testing.assert_allclose(out, ref, atol=ATOL, rtol=0)
            assert decode_events(out, meta) == frames_to_events(
                ref, frame_rate=est.frame_rate, classes=est.classes_,
                threshold=est.decision_thresholds(), median_filter=est.median_filter)


# -- the cases: (task, targets, rnn_type, bidirectional, pooling, bare estimator) --------------
FAST = [
    ("classifier", "multiclass", "gru", True, "mean", False),
    ("classifier", "binary", "lstm", False, "attention", False),
    ("classifier", "multilabel", "gru", False, "max", True),
    ("regressor", "regression", "lstm", True, "last", False),
    ("detector", "frames", "gru", True, None, False),
    ("detector", "weak", "lstm", False, None, False),
    ("detector", "frames", "gru", False, None, True),
    ("transcriber", "labels", "lstm", True, None, False),
    ("embedder", "labels", "lstm", True, "attention", False),
]
POOLED = [("classifier", "binary"), ("classifier", "multiclass"), ("classifier", "multilabel"),
          ("regressor", "regression"), ("embedder", "labels")]
GRID = ([(t, k, r, b, p, False) for (t, k), r, b, p in itertools.product(
            POOLED, ("gru", "lstm"), (False, True), ("mean", "max", "attention", "last"))]
        + [(t, k, r, b, None, False) for (t, k), r, b in itertools.product(
            [("detector", "frames"), ("detector", "weak"), ("transcriber", "labels")],
            ("gru", "lstm"), (False, True))])
CASES = FAST + [pytest.param(*case, marks=pytest.mark.slow) for case in GRID
                if case not in FAST]


def case_id(task, kind, rnn, bi, pooling, bare):
    return "-".join(filter(None, [task, kind, rnn, "bi" if bi else "uni", pooling,
                                  "bare" if bare else None]))


@pytest.mark.parametrize("task, kind, rnn, bi, pooling, bare", CASES,
                         ids=[case_id(*getattr(c, "values", c)) for c in CASES])
def test_graph_equals_the_pipeline(clips, tmp_path, task, kind, rnn, bi, pooling, bare):
    model, X = fit_model((task, kind, rnn, bi, pooling, bare), clips)
    path = tmp_path / "model.onnx"
    assert export_onnx(model, path) == str(path)
    check_graph(path, rnn)
    sess, meta = session(path), onnx_metadata(path)
    assert meta["sk_crnn_task"] == task and meta["any_length"] is False
    est = model if bare else model[-1]
    if bare:  # spectrograms of the fitted shape, dynamic batch
        S = MelSpectrogramTransformer(**MEL).fit(X).transform(X)
        assert meta["input"] == "spectrogram" and meta["sr"] is None
        for batch in (1, 5):
            out = sess.run(None, {"spectrogram": S[:batch]})[0]
            check_outputs(task, out, meta, *expected(est, task, S[:batch]))
    else:
        n = model[0].n_samples_
        assert meta["input"] == "waveform" and meta["n_samples"] == n and meta["sr"] == SR
        for length, batch in itertools.product((n, n + n * 2 // 5), (1, 5)):
            waves = as_array(X[-batch:], length, pad=length == n)  # short phrases: padded
            out = sess.run(None, {"waveform": waves})[0]
            check_outputs(task, out, meta, *expected(model, task, waves))
    if task in ("detector", "transcriber") and not bare:
        check_any_length(model, task, X, tmp_path / "any.onnx")
    if task == "detector" and bare:  # spectrograms of any number of frames
        export_onnx(est, path, any_length=True)
        long = as_array(X[:3], 3 * X.shape[1] + 50)
        S = MelSpectrogramTransformer(**MEL).fit(long).transform(long)
        module = est._inference_module().eval()
        with torch.no_grad():
            ref = module(torch.from_numpy(S)).numpy()
        np.testing.assert_allclose(session(path).run(None, {"spectrogram": S})[0], ref,
                                   atol=ATOL, rtol=0)


def test_metadata_says_how_to_read_the_outputs(clips, tmp_path):
    pipe, X = fit_model(("detector", "weak", "gru", False, None, False), clips)
    path = export_onnx(pipe, tmp_path / "det.onnx")
    meta = onnx_metadata(path)
    det = pipe[-1]
    assert meta == onnx_metadata(session(path)) == onnx_metadata(onnx.load(path))
    assert meta["classes"] == det.classes_.tolist() and meta["output"] == "proba"
    assert meta["frame_rate"] == det.frame_rate and meta["median_filter"] == 0.05
    assert meta["thresholds"] == det.decision_thresholds().tolist()
    assert meta["n_frames"] == det.n_frames_in_ and meta["n_mels"] == MEL["n_mels"]
    assert isinstance(meta["sk_crnn_version"], str)
    raw = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert raw["sk_crnn_task"] == '"detector"'  # every value is a JSON string
    out = session(path).run(None, {"waveform": X[:2]})
    assert [o.name for o in session(path).get_outputs()] == ["proba"]
    assert decode_events(out[0], meta) == det.predict(pipe[0].transform(X[:2]))
    with pytest.raises(ValueError, match="transcriber"):
        decode_transcripts(out[0], meta)
    with pytest.raises(ValueError, match="one column per class"):
        decode_events(out[0][..., :1], meta)
    with pytest.raises(ValueError, match="frame_rate"):
        decode_events(out[0], {**meta, "frame_rate": None})


# -- the front end --------------------------------------------------------------------------------
def export_front(mel, path, stft, opset=17):
    graph = ExportGraph(mel._frontend_module(), InferenceModule(torch.nn.Identity()),
                        keep_length=False, log_proba=False, stft=stft)
    trace_to_onnx(graph, (torch.randn(2, mel.n_samples_) * 0.1,), str(path),
                  input_names=["waveform"], output_names=["features"],
                  dynamic_axes={"waveform": {0: "b", 1: "n"}},
                  opset=opset)
    return session(path)


@pytest.mark.parametrize("params, stft", [
    ({}, "conv"),
    ({"n_fft": 1024, "hop_length": 256}, "fft"),
    ({"n_fft": 2048, "hop_length": 300, "pad_mode": "reflect"}, "fft"),  # frames by index
    ({"n_fft": 400, "hop_length": 100, "scale": None}, "fft"),  # 20 x 20, not a power of two
    ({"n_fft": 1024, "hop_length": 256, "pad_mode": "reflect", "top_db": None}, "conv"),
    ({"n_fft": 200, "hop_length": 80, "center": False, "ref": np.max, "top_db": 40.0}, "conv"),
    ({"n_fft": 255, "pad_mode": "edge", "scale": "log"}, "conv"),
    ({"scale": None, "power": 1.0, "win_length": 200}, "conv"),
    ({"n_mfcc": 8, "normalize": "band", "pad_mode": "reflect"}, "conv"),
    ({"n_fft": 1024, "hop_length": 200, "n_mfcc": 8, "ref": np.max, "center": False}, "fft"),
])
def test_exported_front_end_is_within_a_hundredth_of_a_db(tmp_path, params, stft):
    X, _ = make_tone_clips(4, sr=SR, duration=0.5, random_state=0)
    mel = MelSpectrogramTransformer(**{**MEL, **params}).fit(X)
    sess = export_front(mel, tmp_path / "front.onnx", stft)
    types = {n.op_type for n in onnx.load(str(tmp_path / "front.onnx")).graph.node}
    assert ("Conv" in types) == (stft == "conv") and ("MatMul" in types)
    n = mel.n_samples_
    for waves in (X, X[:1, : n * 3 // 4], np.concatenate([X, X[:, ::-1]], axis=1)[:3]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ref = mel.transform(waves)
        out = sess.run(None, {"waveform": np.ascontiguousarray(waves)})[0]
        assert out.shape == ref.shape
        if mel.scale is None:  # linear powers: 0.01 dB is a relative 0.23 %
            np.testing.assert_allclose(out, ref, rtol=2.3e-3, atol=1e-9)
        elif mel.scale == "log":  # natural log: 0.01 dB is 0.0023
            np.testing.assert_allclose(out, ref, atol=2.3e-3, rtol=0)
        elif mel.normalize is None and mel.n_mfcc is None:  # dB
            np.testing.assert_allclose(out, ref, atol=0.01, rtol=0)
        else:  # standardised bands or MFCCs: a tight absolute bound
            np.testing.assert_allclose(out, ref, atol=1e-3, rtol=0)


def test_two_stage_dft_only_where_it_is_faster():
    assert stft_kind(2048) == stft_kind(1024) == stft_kind(1200) == "fft"
    assert stft_kind(512) == stft_kind(400) == stft_kind(256) == "conv"
    assert stft_kind(1031) == stft_kind(2 * 1031) == "conv"  # a prime, twice a prime
    assert fft_factors(2048) == (32, 64) and fft_factors(400) == (20, 20)
    assert fft_factors(1031) is None


# -- errors ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classifier(clips):
    return fit_model(("classifier", "multiclass", "gru", False, "mean", False), clips)[0]


@pytest.mark.parametrize("opset, batch_size", [(13, 1), (20, 3)])
def test_any_opset_and_traced_batch(tmp_path, clips, classifier, opset, batch_size):
    path = export_onnx(classifier, tmp_path / "m.onnx", opset=opset, batch_size=batch_size)
    assert onnx.load(path).opset_import[0].version == opset
    X = as_array(clips[0][:4], classifier[0].n_samples_ + 300)
    np.testing.assert_allclose(session(path).run(None, {"waveform": X})[0],
                               classifier.predict_proba(X), atol=ATOL, rtol=0)


def test_refuses_an_unfitted_model(tmp_path, clips):
    with pytest.raises(NotFittedError):
        export_onnx(CRNNClassifier(), tmp_path / "m.onnx")
    with pytest.raises(NotFittedError):
        export_onnx(make_pipeline(MelSpectrogramTransformer(), CRNNClassifier()),
                    tmp_path / "m.onnx")


def test_refuses_what_a_graph_cannot_compute(tmp_path, clips, classifier):
    X, _ = clips
    median = MelSpectrogramTransformer(**MEL, ref=np.median).fit(X)
    with pytest.raises(ValueError, match="ref=median.*np.max"):
        export_onnx(Pipeline([("mel", median), ("clf", classifier[-1])]), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="any_length=True is for the detector"):
        export_onnx(classifier, tmp_path / "m.onnx", any_length=True)
    extra = Pipeline([("scale", FunctionTransformer()), *classifier.steps])
    with pytest.raises(TypeError, match="FunctionTransformer.*pipe\\[-2:\\]"):
        export_onnx(extra, tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="got a MelSpectrogramTransformer"):
        export_onnx(classifier[0], tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="opset must be an int from 13 to 20"):
        export_onnx(classifier, tmp_path / "m.onnx", opset=11)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        export_onnx(classifier, tmp_path / "m.onnx", batch_size=0)


def test_without_onnx_the_error_says_what_to_install(tmp_path, classifier, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "sk-crnn\[onnx\]"'):
        export_onnx(classifier, tmp_path / "m.onnx")


# -- the command line -----------------------------------------------------------------------------
def test_export_command_writes_a_graph_equal_to_the_saved_model(tmp_path, clips, classifier,
                                                                capsys):
    from sk_crnn import AudioLoader, load, save
    from sk_crnn.cli import main

    model = Pipeline([("load", AudioLoader(sr=SR)), *classifier.steps])  # as 'train' saves
    save(model, tmp_path / "m.skcrnn")
    out = tmp_path / "m.onnx"
    out.write_bytes(b"old")  # replaced only by a complete graph
    assert main(["export", str(tmp_path / "m.skcrnn"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "a classifier graph" in printed and "classes: high, low, mid" in printed
    X = as_array(clips[0][:3], classifier[0].n_samples_)
    np.testing.assert_allclose(session(out).run(None, {"waveform": X})[0],
                               load(tmp_path / "m.skcrnn")[1:].predict_proba(X), atol=ATOL,
                               rtol=0)
    assert not list(tmp_path.glob("*.part"))

    assert main(["export", str(tmp_path / "m.skcrnn"), "--out", str(tmp_path / "m.txt")]) == 2
    assert "ending in .onnx" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "m.skcrnn"), "--out", str(out), "--any-length"]) == 2
    assert "any_length=True is for the detector" in capsys.readouterr().err
    assert out.read_bytes() != b"old" and not list(tmp_path.glob("*.part"))
    assert main(["export", str(tmp_path / "none.skcrnn"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
