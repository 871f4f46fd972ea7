"""The streaming step in ONNX (``export_onnx_step``) run by ``OnnxStream`` in onnxruntime: equal
to ``Stream`` on random chunkings for every task, its state named and shaped as its metadata
say, and a runner that imports no torch."""

import json
import subprocess
import sys

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from sklearn.pipeline import make_pipeline  # noqa: E402

from sk_crnn import (  # noqa: E402
    CRNNClassifier,
    CRNNEmbedder,
    CRNNEventDetector,
    CRNNRegressor,
    CRNNTranscriber,
    MelSpectrogramTransformer,
    export_onnx,
)
from sk_crnn.datasets import make_sound_scenes, make_tone_clips, make_tone_phrases  # noqa: E402
from sk_crnn.export import onnx_metadata  # noqa: E402
from sk_crnn.streaming import OnnxStream, Stream, export_onnx_step  # noqa: E402

SR, HOP = 8000, 64
TINY = dict(max_epochs=1, module__conv_channels=(4,), module__rnn_hidden=8,
            module__causal=True, random_state=0)
ATOL = 1e-4
CHUNKINGS = ("10ms", "100ms", "ragged")


def front_end(**params):
    return MelSpectrogramTransformer(**{"sr": SR, "n_fft": 256, "hop_length": HOP,
                                        "n_mels": 16, "top_db": None, **params})


def chunks(audio, kind, seed=0):
    """Chunks of 10 ms, of 100 ms, or ragged from 1 sample to 1 s (and a few empty ones)."""
    if kind != "ragged":
        size = SR // (100 if kind == "10ms" else 10)
        yield from (audio[i:i + size] for i in range(0, len(audio), size))
        return
    rng = np.random.default_rng(seed)
    start = 0
    while start < len(audio):
        size = int(np.exp(rng.uniform(0, np.log(SR))))
        size = int(rng.choice([0, 1, size], p=[0.05, 0.05, 0.9]))
        yield audio[start:start + size]
        start += size


def both(pipe, path):
    return Stream(pipe), OnnxStream(export_onnx_step(pipe, path))


def check_detector(pipe, audio, path):
    """Frame probabilities within ATOL and identical events, after each push and at the end."""
    stream, onnx_stream = both(pipe, path)
    for kind in CHUNKINGS:
        stream.reset(), onnx_stream.reset()
        frames, new = [], []
        for chunk in chunks(audio, kind):
            got, expected = onnx_stream.push(chunk), stream.push(chunk)
            assert got.shape == expected.shape and got.dtype == np.float32
            frames.append(got - expected)
            new += onnx_stream.new_events()
            assert onnx_stream.events() == stream.events()
            assert onnx_stream.n_frames == stream.n_frames
        got, expected = onnx_stream.flush(), stream.flush()
        assert got.shape == expected.shape
        assert np.abs(np.concatenate([*frames, got - expected])).max() <= ATOL
        assert onnx_stream.events() == stream.events()
        assert sorted(new + onnx_stream.new_events()) == sorted(stream.new_events())
        assert len(onnx_stream.flush()) == 0  # nothing new
    return stream.events()


def check_running_outputs(pipe, audio, path):
    """The classifier's (regressor's) outputs after each push and after flush within ATOL."""
    stream, onnx_stream = both(pipe, path)
    for kind in CHUNKINGS:
        stream.reset(), onnx_stream.reset()
        n_outputs = 0
        for chunk in chunks(audio, kind):
            got, expected = onnx_stream.push(chunk), stream.push(chunk)
            assert (got is None) == (expected is None)
            if expected is not None:
                np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
                n_outputs += 1
        np.testing.assert_allclose(onnx_stream.flush(), stream.flush(), atol=ATOL, rtol=0)
        np.testing.assert_allclose(onnx_stream.flush(), stream.flush(), atol=ATOL, rtol=0)
        assert n_outputs > 3


def check_transcript(pipe, audio, path):
    """The same text after each push and at the end. The output layer is drawn afresh and
    large first, so that even a barely trained network changes its most probable token
    often (a long text to compare)."""
    import torch

    head = pipe[-1].module_.crnn.head
    generator = torch.Generator().manual_seed(0)
    head.weight.data = 3.0 * torch.randn(head.weight.shape, generator=generator)
    head.bias.data.zero_()
    stream, onnx_stream = both(pipe, path)
    for kind in CHUNKINGS:
        stream.reset(), onnx_stream.reset()
        pieces = [(onnx_stream.push(c), stream.push(c)) for c in chunks(audio, kind)]
        assert all(got == expected for got, expected in pieces)  # the same text, as it comes
        text = "".join(p for p, _ in pieces) + onnx_stream.flush()
        assert text == "".join(p for _, p in pieces) + stream.flush()
        assert len(text) > 3
        assert onnx_stream.flush() == ""


# -- data and pipelines ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scenes():
    return make_sound_scenes(6, duration=1.0, sr=SR, random_state=0)


@pytest.fixture(scope="module")
def tones():
    return make_tone_clips(8, sr=SR, duration=0.5, random_state=0)


@pytest.fixture(scope="module")
def phrases():
    return make_tone_phrases(8, sr=SR, random_state=0)


def fit_detector(scenes, front=None, **params):
    """A detector whose threshold lies amid its probabilities (far from each: no tie that
    rounding could break), with a short median filter, so that events come and go."""
    X, events = scenes
    pipe = make_pipeline(front or front_end(),
                         CRNNEventDetector(frame_rate=SR / HOP, **{**TINY, **params}))
    pipe.fit(X, events)
    stream = Stream(pipe)
    values = np.sort(np.concatenate([stream.push(X[0]), stream.flush()]).ravel())
    gaps = np.diff(values[len(values) // 2:])
    i = len(values) // 2 + int(np.argmax(gaps > 1e-3))
    return pipe.set_params(crnneventdetector__threshold=float(values[i:i + 2].mean()),
                           crnneventdetector__median_filter=0.05)


@pytest.fixture(scope="module")
def detector(scenes):
    return fit_detector(scenes)  # GRU, two layers, time_pool 2, centred, constant padding


def scene_audio(scenes):
    return np.concatenate([scenes[0][0], scenes[0][1][:5000]])  # not the fitted length


# -- OnnxStream equals Stream ---------------------------------------------------------------------
def test_detector_frames_and_events_equal_stream(detector, scenes, tmp_path):
    events = check_detector(detector, scene_audio(scenes), tmp_path / "step.onnx")
    assert len(events) > 3


def test_lstm_detector_uncentred_with_band_normalization(scenes, tmp_path):
    pipe = fit_detector(scenes, front_end(center=False, normalize="band"),
                        module__rnn_type="lstm", module__time_pool=1)
    check_detector(pipe, scene_audio(scenes), tmp_path / "step.onnx")


@pytest.mark.parametrize("pooling, network, front", [
    ("mean", {}, {}),
    ("max", {"module__kernel_size": 4, "module__time_pool": 2, "module__rnn_type": "lstm"},
     {"center": False}),
    ("attention", {"module__conv_channels": (4, 4), "module__time_pool": (1, 3),
                   "module__input_norm": True}, {"pad_mode": "reflect", "normalize": "band"}),
    ("last", {"module__rnn_type": "lstm", "module__rnn_layers": 2}, {"pad_mode": "reflect"}),
])
def test_classifier_running_probabilities_equal_stream(tones, tmp_path, pooling, network, front):
    X, y = tones
    pipe = make_pipeline(front_end(**front), CRNNClassifier(
        module__pooling=pooling, **{**TINY, **network})).fit(X, y)
    check_running_outputs(pipe, np.concatenate([X[0], X[3][:2500]]), tmp_path / "step.onnx")


def test_regressor_values_equal_stream(tones, tmp_path):
    X, _ = tones
    pipe = make_pipeline(front_end(), CRNNRegressor(**TINY)).fit(X, X.std(axis=1))
    check_running_outputs(pipe, np.concatenate([X[0], X[3][:2500]]), tmp_path / "step.onnx")


def test_transcript_equals_stream(phrases, tmp_path):
    X, y = phrases
    pipe = make_pipeline(front_end(), CRNNTranscriber(**{**TINY, "module__rnn_type": "lstm"}))
    check_transcript(pipe.fit(X, y), np.concatenate(X[:3]), tmp_path / "step.onnx")


# -- the graph and its state ----------------------------------------------------------------------
def test_state_is_named_and_shaped_as_the_metadata_say(tones, tmp_path):
    X, y = tones
    pipe = make_pipeline(front_end(), CRNNClassifier(**{
        **TINY, "module__conv_channels": (4, 6), "module__kernel_size": 3,
        "module__rnn_type": "lstm", "module__rnn_layers": 2, "module__pooling": "attention",
        "module__time_pool": (2, 1)})).fit(X, y)
    path = export_onnx_step(pipe, tmp_path / "step.onnx")
    meta = onnx_metadata(path)
    assert meta["graph"] == "streaming_step" and meta["sk_crnn_task"] == "classifier"
    assert meta["classes"] == pipe[-1].classes_.tolist() and meta["frames_per_step"] == 2
    assert (meta["n_fft"], meta["hop_length"], meta["center"], meta["pad_mode"], meta["sr"]) == (
        256, HOP, True, "constant", SR)
    state = {s["name"]: s for s in meta["state"]}
    assert {name: s["shape"] for name, s in state.items()} == {
        "conv_context_0": ["batch", 1, 16, 2], "conv_context_1": ["batch", 4, 8, 2],
        "rnn_h": [2, "batch", 8], "rnn_c": [2, "batch", 8],
        "pool_weighted_sum": ["batch", 8], "pool_weight_sum": ["batch", 1],
        "pool_top_logit": ["batch", 1]}
    assert state["pool_top_logit"]["init"] == "-inf" and state["rnn_h"]["init"] == "0"
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    assert list(inputs) == ["samples", *state] and list(outputs) == [
        "proba", *(s["output"] for s in meta["state"])]
    types = {"float32": "tensor(float)", "float64": "tensor(double)"}
    for s in meta["state"]:
        for port in (inputs[s["name"]], outputs[s["output"]]):
            assert port.shape == s["shape"] and port.type == types[s["dtype"]]
    # the batch axis: two streams in one call give what each gives alone
    rng = np.random.default_rng(0)
    samples = rng.uniform(-0.3, 0.3, (2, 5 * HOP + 256)).astype("f4")  # 6 frames: 3 steps
    feeds = {s["name"]: rng.uniform(0.1, 1.0, [2 if d == "batch" else d for d in s["shape"]])
             .astype(s["dtype"]) for s in meta["state"]}
    together = session.run(None, {"samples": samples, **feeds})
    for row in range(2):
        alone = session.run(None, {"samples": samples[row:row + 1], **{
            k: v[:, row:row + 1] if k.startswith("rnn_") else v[row:row + 1]
            for k, v in feeds.items()}})
        for a, b, s in zip(alone, together, [None, *meta["state"]]):
            b = b[:, row:row + 1] if s and s["name"].startswith("rnn_") else b[row:row + 1]
            np.testing.assert_allclose(a, b, atol=1e-6)


def test_unsupported_pipelines_are_refused_as_stream_refuses_them(detector, tones, tmp_path):
    X, y = tones
    estimator = detector[-1]
    path = tmp_path / "step.onnx"
    refused = [
        make_pipeline(MelSpectrogramTransformer(sr=SR, n_fft=256, n_mels=16).fit(X), estimator),
        make_pipeline(front_end(ref=np.max).fit(X), estimator),
        make_pipeline(front_end(), CRNNClassifier(**{**TINY, "module__causal": False})).fit(X, y),
    ]
    for pipe in refused:
        with pytest.raises(ValueError) as by_stream:
            Stream(pipe)
        with pytest.raises(ValueError) as by_export:
            export_onnx_step(pipe, path)
        assert str(by_export.value) == str(by_stream.value)
    assert "crnnclassifier__module__causal=True" in str(by_export.value)
    embedder = make_pipeline(front_end(), CRNNEmbedder(**TINY)).fit(X, y)
    with pytest.raises(TypeError, match="got CRNNEmbedder"):
        export_onnx_step(embedder, path)
    with pytest.raises(TypeError, match="takes a fitted Pipeline"):
        export_onnx_step(estimator, path)
    with pytest.raises(ValueError, match="opset must be an int from 13 to 20; got 9"):
        export_onnx_step(detector, path, opset=9)
    # a whole-clip graph is not a step
    whole = export_onnx(detector, tmp_path / "whole.onnx")
    with pytest.raises(ValueError, match="graph=None .*export_onnx_step"):
        OnnxStream(whole)


def test_bad_chunks_and_ended_streams_are_named(detector, tmp_path):
    stream = OnnxStream(export_onnx_step(detector, tmp_path / "step.onnx"))
    with pytest.raises(TypeError, match=r"int16 samples; OnnxStream.*/ 32768"):
        stream.push(np.zeros(10, dtype=np.int16))
    with pytest.raises(ValueError, match=r"1-D, mono samples.*got shape \(10, 2\)"):
        stream.push(np.zeros((10, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN or infinite samples.*index 3"):
        stream.push(np.array([0, 0, 0, np.nan], dtype=np.float32))
    assert stream.flush().shape == (0, 3) and stream.events() == []  # no audio: no output
    with pytest.raises(ValueError, match=r"flush\(\) ended this stream; call reset\(\)"):
        stream.push(np.zeros(10, dtype=np.float32))
    assert (stream.task, stream.sr, stream.frame_rate) == ("detect", SR, SR / HOP)


def test_the_runner_imports_no_torch(detector, scenes, tmp_path):
    path = export_onnx_step(detector, tmp_path / "step.onnx")
    audio = scene_audio(scenes)
    np.save(tmp_path / "audio.npy", audio)
    stream = Stream(detector)
    expected = np.concatenate([*(stream.push(c) for c in np.array_split(audio, 7)),
                               stream.flush()])
    code = f"""
import json, sys
import numpy as np
from sk_crnn.streaming import OnnxStream
stream = OnnxStream({str(path)!r})
audio = np.load({str(tmp_path / 'audio.npy')!r})
frames = np.concatenate([*(stream.push(c) for c in np.array_split(audio, 7)), stream.flush()])
np.save({str(tmp_path / 'frames.npy')!r}, frames)
print(json.dumps(sorted(m for m in ("torch", "sklearn", "skorch", "scipy")
                        if m in sys.modules)))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []
    np.testing.assert_allclose(np.load(tmp_path / "frames.npy"), expected, atol=ATOL)


def test_the_docstring_example_runs():
    import doctest

    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(OnnxStream, "OnnxStream", globs={}):
        runner.run(test)
    assert runner.tries > 0 and runner.failures == 0


# -- the wide grid -------------------------------------------------------------------------------
#: Each parameter's two values, in 8 cases that hold every pair of values of every two
#: parameters (a strength-2 orthogonal array: the parities of ``i & mask``).
LEVELS = {"rnn": ("gru", "lstm"), "center": (True, False), "pad_mode": ("constant", "reflect"),
          "normalize": (None, "band"), "time_pool": (1, (2, 3))}
GRID = [{name: values[bin(i & mask).count("1") % 2]
         for (name, values), mask in zip(LEVELS.items(), (1, 2, 4, 3, 5))} for i in range(8)]


@pytest.mark.slow
@pytest.mark.parametrize("case", GRID, ids=lambda c: "-".join(map(str, c.values())))
def test_grid_every_task_equals_stream(case, scenes, tones, phrases, tmp_path):
    front = front_end(center=case["center"], pad_mode=case["pad_mode"],
                      normalize=case["normalize"])
    network = {"module__rnn_type": case["rnn"], "module__conv_channels": (4, 4),
               "module__time_pool": case["time_pool"]}
    check_detector(fit_detector(scenes, front, **network), scene_audio(scenes),
                   tmp_path / "detector.onnx")
    X, y = tones
    for pooling in ("mean", "max", "attention", "last"):
        pipe = make_pipeline(front_end(**front.get_params()), CRNNClassifier(
            module__pooling=pooling, **{**TINY, **network})).fit(X, y)
        check_running_outputs(pipe, np.concatenate([X[0], X[3][:2500]]),
                              tmp_path / f"{pooling}.onnx")
    X, y = phrases
    pipe = make_pipeline(front_end(**front.get_params()),
                         CRNNTranscriber(**{**TINY, **network}))
    check_transcript(pipe.fit(X, y), np.concatenate(X[:3]), tmp_path / "transcriber.onnx")


@pytest.mark.slow
@pytest.mark.parametrize("opset", [13, 17])
def test_the_two_stage_dft_and_old_opsets(scenes, opset, tmp_path):
    hop = 256
    front = front_end(n_fft=1024, hop_length=hop, n_mels=32, pad_mode="reflect")
    X, events = scenes
    pipe = make_pipeline(front, CRNNEventDetector(frame_rate=SR / hop, **TINY)).fit(X, events)
    stream = Stream(pipe)
    onnx_stream = OnnxStream(export_onnx_step(pipe, tmp_path / "step.onnx", opset=opset))
    audio = np.concatenate(X[:3])
    for chunk in chunks(audio, "ragged"):
        np.testing.assert_allclose(onnx_stream.push(chunk), stream.push(chunk), atol=ATOL)
    np.testing.assert_allclose(onnx_stream.flush(), stream.flush(), atol=ATOL)
