"""Streaming: the causal networks, and ``sk_crnn.streaming.Stream`` equal to offline prediction
on random chunkings, in bounded memory; ``sk-crnn stream``."""

import copy
import io
import json
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from sklearn.pipeline import Pipeline, make_pipeline

import sk_crnn
from sk_crnn import (
    AudioLoader,
    CRNNClassifier,
    CRNNEmbedder,
    CRNNEventDetector,
    CRNNRegressor,
    CRNNTranscriber,
    MelSpectrogramTransformer,
    ctc,
)
from sk_crnn.datasets import make_sound_scenes, make_tone_clips, make_tone_phrases
from sk_crnn.events import frames_to_events
from sk_crnn.modules import CRNN, CausalConv2d, FrameCRNN, SequenceCRNN
from sk_crnn.streaming import Stream
from sk_crnn.streaming._frontend import StreamingFrontEnd

SR, HOP = 8000, 64
TINY = dict(max_epochs=1, module__conv_channels=(4,), module__rnn_hidden=8,
            module__causal=True, random_state=0)


def front_end(**params):
    return MelSpectrogramTransformer(**{"sr": SR, "n_fft": 256, "hop_length": HOP,
                                        "n_mels": 16, "top_db": None, **params})


def chunkings(audio, seed):
    """Ragged chunks of 10 ms to 2 s (and a few empty or one-sample ones)."""
    rng = np.random.default_rng(seed)
    start = 0
    while start < len(audio):
        size = int(np.exp(rng.uniform(np.log(80), np.log(2 * SR))))
        size = rng.choice([0, 1, size], p=[0.05, 0.05, 0.9])
        yield audio[start:start + size]
        start += size


def offline(pipe, audio, n_frames=None):
    """The estimator on the features of the whole audio (the front end without its crop to
    the fitted length, the network without its fitted input length), first ``n_frames``."""
    transformer, estimator = pipe.steps[-2][1], pipe.steps[-1][1]
    features = transformer._frontend_module()
    features.n_samples = None
    network = copy.deepcopy(estimator.module_).eval()
    getattr(network, "crnn", network).n_frames = None
    nonlinearity = estimator._inference_module().nonlinearity
    with torch.inference_mode():
        x = features(torch.from_numpy(audio)[None])[..., :n_frames]
        return nonlinearity(network(x)[..., :estimator.n_outputs_])[0].numpy()


@pytest.fixture(scope="module")
def scenes():
    X, events = make_sound_scenes(6, duration=1.0, sr=SR, random_state=0)
    return X, events


@pytest.fixture(scope="module")
def detector(scenes):
    X, events = scenes
    pipe = make_pipeline(front_end(), CRNNEventDetector(frame_rate=SR / HOP, **TINY))
    pipe.fit(X, events)
    # a threshold amid the probabilities (between two of them, far from both: no tie that
    # float rounding could break), so that events come and go
    values = np.sort(offline(pipe, X[0]).ravel())
    i = len(values) // 2 + int(np.argmax(np.diff(values[len(values) // 2:]) > 1e-4))
    return pipe.set_params(crnneventdetector__threshold=float(values[i:i + 2].mean()),
                           crnneventdetector__median_filter=0.05)


@pytest.fixture(scope="module")
def tones():
    return make_tone_clips(8, sr=SR, duration=0.5, random_state=0)


@pytest.fixture(scope="module")
def transcriber():
    X, y = make_tone_phrases(8, sr=SR, random_state=0)
    pipe = make_pipeline(front_end(), CRNNTranscriber(**{**TINY, "max_epochs": 3}))
    return pipe.fit(X, y), X


# -- the causal networks -------------------------------------------------------------------------
@pytest.mark.parametrize("kernel_size", [2, 3, 4])
@pytest.mark.parametrize("time_pool", [1, (2, 1), (2, 3)])
def test_causal_networks_never_read_later_frames(kernel_size, time_pool):
    params = dict(n_mels=16, n_outputs=3, conv_channels=(4, 4), kernel_size=kernel_size,
                  time_pool=time_pool, rnn_hidden=5, causal=True)
    crnn, frames = CRNN(**params).eval(), FrameCRNN(**params).eval()
    pool = int(np.prod(crnn.time_pool))
    X = torch.randn(2, 16, 37)
    X2 = X.clone()
    X2[..., 19:] += 1.0  # a change from frame 19 on
    with torch.no_grad():
        assert crnn.sequence(X).shape[1] == crnn.sequence_length(37) == 37 // pool
        group = 19 // pool  # the first step that pools frame 19
        assert torch.equal(crnn.sequence(X)[:, :group], crnn.sequence(X2)[:, :group])
        assert not torch.equal(crnn.sequence(X)[:, group], crnn.sequence(X2)[:, group])
        out, out2 = frames(X), frames(X2)
        assert out.shape == (2, 37, 3)
        assert torch.equal(out[:, :group * pool], out2[:, :group * pool])
        # each step stands for the frames it pooled; the last frames take the last step
        steps = frames.crnn.head(frames.crnn.sequence(X))
        index = torch.arange(37).div(pool, rounding_mode="floor").clamp(max=steps.shape[1] - 1)
        assert torch.equal(out, steps[:, index])
        sequence = SequenceCRNN(**{**params, "n_outputs": 4}).eval()
        assert sequence(X).shape[1] == sequence.output_length(37) == 37 // pool


def test_causal_means_unidirectional_and_keeps_the_parameters():
    assert CRNN(n_mels=16, n_outputs=2).bidirectional  # the default is unchanged
    causal = CRNN(n_mels=16, n_outputs=2, causal=True)
    assert not causal.bidirectional and not causal.rnn.bidirectional
    assert isinstance(causal.conv[0], CausalConv2d) and causal.min_frames == 1
    with pytest.raises(ValueError, match="bidirectional=True reads each sequence backwards"):
        CRNN(n_mels=16, n_outputs=2, causal=True, bidirectional=True)
    with pytest.raises(TypeError, match="causal must be True or False; got 1 of type int"):
        CRNN(n_mels=16, n_outputs=2, causal=1)
    # the same weights, created in the same order: a seed gives both networks the same values
    torch.manual_seed(0)
    plain = CRNN(n_mels=16, n_outputs=2, bidirectional=False, kernel_size=4).state_dict()
    torch.manual_seed(0)
    causal = CRNN(n_mels=16, n_outputs=2, causal=True, kernel_size=4).state_dict()
    assert list(plain) == list(causal)
    assert all(torch.equal(plain[k], causal[k]) for k in plain)


def test_causal_conv_example_runs():
    import doctest

    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(CausalConv2d, "CausalConv2d", globs={}):
        runner.run(test)
    assert runner.tries > 0 and runner.failures == 0


# -- the streaming front end ---------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    dict(), dict(pad_mode="reflect", n_mfcc=8), dict(pad_mode="edge", normalize="band"),
    dict(center=False, scale="log"), dict(n_fft=255, win_length=200, hop_length=100),
])
def test_the_front_end_streams_the_transformer_features(params):
    rng = np.random.default_rng(0)
    transformer = front_end(**params).fit(rng.uniform(-0.5, 0.5, (2, 4000)).astype("f4"))
    audio = rng.uniform(-0.5, 0.5, 7777).astype("f4")
    features = transformer._frontend_module()
    features.n_samples = None
    expected = features(torch.from_numpy(audio)[None])[0].T
    for seed in range(2):
        stream = StreamingFrontEnd(transformer, torch.device("cpu"))
        parts = [stream.push(torch.from_numpy(c)) for c in chunkings(audio, seed)]
        got = torch.cat([*parts, stream.flush()])
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-6)


# -- Stream equals offline prediction --------------------------------------------------------------
def test_detector_frames_and_events_equal_offline_on_any_chunking(detector, scenes):
    audio = np.concatenate([scenes[0][0], scenes[0][1][:5000]])  # not the fitted length
    est = detector[-1]
    expected = offline(detector, audio)
    expected_events = frames_to_events(
        expected[None], frame_rate=est.frame_rate, classes=est.classes_,
        threshold=est.decision_thresholds(), median_filter=est.median_filter)[0]
    assert len(expected_events) > 3
    for seed in range(3):
        stream = Stream(detector)
        frames, new, finished = [], [], []
        for chunk in chunkings(audio, seed):
            frames.append(stream.push(chunk))
            assert stream.n_frames >= sum(map(len, frames))  # frames are final once emitted
            new += stream.new_events()
            finished = stream.events()
            assert set(finished) <= set(expected_events)  # a finished event never changes
        frames.append(stream.flush())
        got = np.concatenate(frames)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
        assert stream.events() == expected_events
        assert sorted(new + stream.new_events()) == sorted(expected_events)


@pytest.mark.parametrize("pooling, network", [
    ("mean", {}),
    ("max", {"module__kernel_size": 4, "module__time_pool": 2}),
    ("attention", {"module__conv_channels": (4, 4), "module__time_pool": (1, 3),
                   "module__input_norm": True}),
    ("last", {"module__rnn_type": "lstm", "module__rnn_layers": 2}),
])
def test_classifier_running_probabilities_equal_offline_on_the_audio_so_far(
        tones, pooling, network):
    X, y = tones
    pipe = make_pipeline(front_end(), CRNNClassifier(module__pooling=pooling,
                                                     **{**TINY, **network})).fit(X, y)
    audio = np.concatenate([X[0], X[3][:2500]])
    stream = Stream(pipe)
    for chunk in chunkings(audio, 0):
        proba = stream.push(chunk)
        if stream.n_frames < pipe[-1].module_.min_frames:
            assert proba is None  # no recurrent step yet
        else:  # the classifier on the frames final so far
            np.testing.assert_allclose(proba, offline(pipe, audio, stream.n_frames), atol=1e-5)
    np.testing.assert_allclose(stream.flush(), offline(pipe, audio), atol=1e-5)
    np.testing.assert_allclose(stream.flush(), offline(pipe, audio), atol=1e-5)  # again: same


def test_transcript_equals_the_offline_greedy_transcript(transcriber):
    pipe, X = transcriber
    est = pipe[-1]
    audio = np.concatenate([X[0], X[1], X[2]])
    path = ctc.decode_greedy(offline(pipe, audio)[None])[0]
    sep = " " if est.tokens_ == "words" else ""
    expected = ctc.normalize_transcript(sep.join(est.vocabulary_[path]))
    assert len(expected) > 3
    for seed in range(3):
        stream = Stream(pipe)
        text = "".join(stream.push(chunk) for chunk in chunkings(audio, seed))
        assert expected.startswith(text)  # written text is final
        assert text + stream.flush() == expected


def test_audio_of_the_fitted_length_gives_predict_proba(detector, tones, transcriber, scenes):
    clip = scenes[0][2]
    stream = Stream(detector)
    frames = np.concatenate([stream.push(c) for c in np.array_split(clip, 9)] + [stream.flush()])
    np.testing.assert_allclose(frames, detector.predict_proba(clip[None])[0], atol=1e-5)
    assert stream.events() == detector.predict(clip[None])[0]
    X, y = tones
    pipe = make_pipeline(front_end(), CRNNClassifier(**TINY)).fit(X, y)
    stream = Stream(pipe)
    [stream.push(c) for c in np.array_split(X[5], 4)]
    np.testing.assert_allclose(stream.flush(), pipe.predict_proba(X[5:6])[0], atol=1e-5)
    asr, phrases = transcriber
    clip = np.resize(phrases[4], asr[0].n_samples_)  # no trailing silence taken for padding
    stream = Stream(asr)
    text = "".join(stream.push(c) for c in np.array_split(clip, 6)) + stream.flush()
    assert text == asr.predict(clip[None])[0]


def test_reset_starts_again_and_a_saved_model_streams_the_same(detector, scenes, tmp_path):
    audio = scenes[0][3]
    stream = Stream(detector)
    first = np.concatenate([stream.push(audio), stream.flush()])
    with pytest.raises(ValueError, match=r"flush\(\) ended this stream; call reset\(\)"):
        stream.push(audio[:10])
    assert len(stream.flush()) == 0  # nothing new
    assert np.array_equal(np.concatenate([stream.reset().push(audio), stream.flush()]), first)
    sk_crnn.save(detector, tmp_path / "causal.skcrnn")
    loaded = sk_crnn.load(tmp_path / "causal.skcrnn")
    assert loaded[-1].get_params()["module__causal"] is True
    again = Stream(loaded)
    assert np.array_equal(np.concatenate([again.push(audio), again.flush()]), first)


def test_memory_stays_bounded_over_ten_minutes(scenes):
    X, events = scenes
    hop = 256  # a coarse, one-layer detector: ten minutes in about a second
    detector = make_pipeline(front_end(hop_length=hop), CRNNEventDetector(
        frame_rate=SR / hop, median_filter=0.1, **{**TINY, "module__rnn_layers": 1}))
    stream = Stream(detector.fit(X, events))
    second = np.random.default_rng(0).uniform(-0.3, 0.3, SR).astype("f4")
    largest = {}
    for i in range(600):  # ten minutes, in chunks of 1 s, and of 0.25 s every fourth second
        for chunk in np.array_split(np.roll(second, i), 4 if i % 4 == 0 else 1):
            stream.push(chunk)
        for name, size in stream._state_sizes().items():
            largest[name] = max(largest.get(name, 0), size)
    assert stream.n_samples == 600 * SR
    assert stream.n_frames == (600 * SR + 128 - 256) // hop + 1  # windows inside the audio
    # what the next frames need: at most n_fft + 1 samples, whatever the chunks
    assert largest["audio"] <= 256 + 1 and largest["head"] == 128 + 1
    # the median filter's window (2 x its delay of 1 frame) of the 3 classes
    assert largest["median_window"] <= 2 * 1 * 3
    # the conv's last 2 input frames (1 channel x 16 bands); an incomplete pair of frames
    # before the time pooling (4 channels x 16 bands); one GRU layer of 8
    assert largest["conv_context"] == 2 * 16 and largest["pool_pending"] <= 4 * 16
    assert largest["rnn_state"] == 8


# -- what streaming needs, said clearly ----------------------------------------------------------
def test_what_cannot_stream_is_refused_with_the_fix(tones):
    X, y = tones
    est = CRNNClassifier(**TINY)
    with pytest.raises(ValueError, match=r"Stream needs MelSpectrogramTransformer\(top_db=None"
                                         r"\).*melspectrogramtransformer__top_db=None"):
        Stream(make_pipeline(MelSpectrogramTransformer(sr=SR, n_mels=16, n_fft=256), est).fit(
            X, y))
    with pytest.raises(ValueError, match="ref=<function.*melspectrogramtransformer__ref=1.0"):
        Stream(make_pipeline(front_end(ref=np.max), est).fit(X, y))
    plain = make_pipeline(front_end(), CRNNClassifier(**{**TINY, "module__causal": False}))
    with pytest.raises(ValueError, match="crnnclassifier__module__causal=True"):
        Stream(plain.fit(X, y))
    with pytest.raises(TypeError, match="got CRNNEmbedder"):
        Stream(make_pipeline(front_end(), CRNNEmbedder(**TINY)).fit(X, y))
    with pytest.raises(TypeError, match="Stream takes a fitted Pipeline"):
        Stream(est)


def test_bad_chunks_are_named(tones):
    X, y = tones
    stream = Stream(make_pipeline(front_end(), CRNNRegressor(**TINY)).fit(X, X.std(axis=1)))
    with pytest.raises(TypeError, match=r"int16 samples.*astype\(np.float32\) / 32768"):
        stream.push(np.zeros(10, dtype=np.int16))
    with pytest.raises(ValueError, match=r"1-D, mono samples.*got shape \(10, 2\)"):
        stream.push(np.zeros((10, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN or infinite samples.*index 3"):
        stream.push(np.array([0, 0, 0, np.nan], dtype=np.float32))
    assert stream.task == "regress" and stream.flush() is None  # no audio: no output
    with pytest.raises(AttributeError, match="events are for an event detector"):
        stream.events()


# -- sk-crnn stream ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_file(detector, tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "detector.skcrnn"
    sk_crnn.save(Pipeline([("audioloader", AudioLoader(sr=SR)), *detector.steps]), path)
    return path


def test_stream_command_prints_the_events_of_a_file_and_of_raw_pcm(
        model_file, detector, scenes, tmp_path, capsys, monkeypatch):
    from sk_crnn.cli import main

    audio = np.concatenate(scenes[0][:2])
    stream = Stream(detector)
    [stream.push(c) for c in np.array_split(audio, 7)]
    stream.flush()
    expected = [f"{on:.3f}\t{off:.3f}\t{label}" for on, off, label in stream.events()]
    sf.write(tmp_path / "a.wav", audio, SR, subtype="FLOAT")
    assert main(["stream", str(model_file), str(tmp_path / "a.wav"), "--chunk-ms", "30"]) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == sorted(expected)
    # raw float32 PCM on standard input, as JSON lines
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(audio.astype("<f4").tobytes())))
    assert main(["stream", str(model_file), "-", "--pcm", "f32le", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted((r["onset"], r["offset"], r["label"]) for r in rows) == sorted(
        (round(on, 6), round(off, 6), label) for on, off, label in stream.events())


def test_stream_command_says_what_the_model_needs(tmp_path, tones, capsys):
    from sk_crnn.cli import main

    X, y = tones
    plain = make_pipeline(front_end(), CRNNClassifier(**{**TINY, "module__causal": False}))
    path = tmp_path / "plain.skcrnn"
    sk_crnn.save(Pipeline([("audioloader", AudioLoader(sr=SR)), *plain.fit(X, y).steps]), path)
    sf.write(tmp_path / "a.wav", X[0], SR)
    assert main(["stream", str(path), str(tmp_path / "a.wav")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "crnnclassifier__module__causal=True" in err
    assert main(["stream", str(path), str(tmp_path / "missing.wav")]) == 2
    assert "does not exist" in capsys.readouterr().err
