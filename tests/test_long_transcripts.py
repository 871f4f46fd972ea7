"""Transcribing recordings longer than the training clips: sk_crnn.long_transcripts and
``sk-crnn predict`` on a transcriber."""

import json

import numpy as np
import pytest
import soundfile as sf
from sklearn.pipeline import Pipeline, make_pipeline

import sk_crnn
from sk_crnn import AudioLoader, CRNNClassifier, CRNNTranscriber, MelSpectrogramTransformer
from sk_crnn.cli import main
from sk_crnn.datasets import make_tone_phrases
from sk_crnn.long_transcripts import split_at_pauses, transcribe_long
from sk_crnn.metrics import word_error_rate

SR = 8000


def sounds_and_gaps(lengths, gaps, *, sr=SR, seed=0):
    """Noise bursts of ``lengths`` samples with quiet ``gaps`` (samples) between them, over a
    faint noise floor; returns the wave and the (start, end) of each gap."""
    rng = np.random.default_rng(seed)
    parts, spans, at = [], [], 0
    for i, n in enumerate(lengths):
        parts.append(0.3 * rng.standard_normal(n))
        at += n
        if i < len(gaps):
            parts.append(0.003 * rng.standard_normal(gaps[i]))
            spans.append((at, at + gaps[i]))
            at += gaps[i]
    return np.concatenate(parts).astype(np.float32), spans


# -- cutting ------------------------------------------------------------------------------------
def test_cuts_land_in_pauses_and_no_piece_is_too_long():
    rng = np.random.default_rng(1)
    lengths = rng.integers(1200, 4000, size=30)  # 0.15-0.5 s sounds
    gaps = rng.integers(800, 2400, size=29)  # 0.1-0.3 s pauses
    wave, spans = sounds_and_gaps(lengths, gaps)
    max_samples = 8000  # 1 s: several sounds per piece
    bounds = split_at_pauses(wave, SR, max_samples)
    assert bounds[0] == 0 and bounds[-1] == len(wave)
    assert np.all(np.diff(bounds) > 0) and np.diff(bounds).max() <= max_samples
    assert len(bounds) - 1 < 2 * len(wave) / max_samples  # pieces are long, not crumbs
    for cut in bounds[1:-1]:  # inside a pause, away from its edges
        assert any(start + 80 <= cut <= end - 80 for start, end in spans), cut


def test_the_cut_goes_to_the_deepest_pause_of_a_span():
    wave, spans = sounds_and_gaps([2000, 2000, 2000], [800, 800])
    rng = np.random.default_rng(2)
    start, end = spans[1]
    wave[start:end] = 0.03 * rng.standard_normal(end - start)  # a shallower (-20 dB) pause
    bounds = split_at_pauses(wave, SR, 6000)  # both pauses lie in the first span
    assert len(bounds) == 3 and spans[0][0] < bounds[1] < spans[0][1]
    wave[start:end] = 0.003 * rng.standard_normal(end - start)  # as deep: the later one
    bounds = split_at_pauses(wave, SR, 6000)
    assert len(bounds) == 3 and spans[1][0] < bounds[1] < spans[1][1]


def test_no_pause_gives_hard_cuts_at_the_longest_piece():
    noise = (0.3 * np.random.default_rng(0).standard_normal(25000)).astype(np.float32)
    assert split_at_pauses(noise, SR, 8000).tolist() == [0, 8000, 16000, 24000, 25000]
    silence = np.zeros(20000, dtype=np.float32)
    assert split_at_pauses(silence, SR, 8000).tolist() == [0, 8000, 16000, 20000]
    # a pause at the very start of a span (where the last cut lies) is not cut again
    wave, spans = sounds_and_gaps([6000, 10000], [1600])
    bounds = split_at_pauses(wave, SR, 8000)
    assert spans[0][0] < bounds[1] < spans[0][1]
    assert np.diff(bounds[1:]).tolist() == [8000, len(wave) - bounds[1] - 8000]


def test_short_recordings_and_bad_input():
    assert split_at_pauses(np.zeros(100), SR, 100).tolist() == [0, 100]
    with pytest.raises(ValueError, match="max_samples"):
        split_at_pauses(np.zeros(100), SR, 0)
    with pytest.raises(ValueError, match="1-D"):
        split_at_pauses(np.zeros((2, 100)), SR, 50)
    with pytest.raises(ValueError, match="NaN"):
        split_at_pauses(np.full(100, np.nan), SR, 50)


# -- transcribing -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_asr():
    """An (untrained) transcription pipeline: the mechanics, not the accuracy."""
    X, y = make_tone_phrases(8, n_words=3, random_state=0)
    return make_pipeline(
        MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=80, n_mels=16),
        CRNNTranscriber(max_epochs=1, module__conv_channels=(4,), module__rnn_hidden=4,
                        random_state=0)).fit(X, y), X


def test_transcribe_long_cuts_the_recording_into_fitted_lengths(tiny_asr, tmp_path):
    asr, X = tiny_asr
    wave = np.concatenate(X * 3)
    text, pieces = transcribe_long(asr, wave, return_pieces=True)
    limit = asr[0].n_samples_ / SR
    assert len(pieces) >= len(wave) / asr[0].n_samples_
    assert pieces[0][0] == 0 and pieces[-1][1] == pytest.approx(len(wave) / SR)
    assert all(0 < end - start <= limit + 1e-9 for start, end, _ in pieces)
    assert text == " ".join(" ".join(t for _, _, t in pieces).split())
    # one call per batch of pieces gives the same; a short recording is plain predict
    assert transcribe_long(asr, wave, batch_size=3) == text
    assert transcribe_long(asr, X[0]) == asr.predict([X[0]])[0]
    # a file is read at the transformer's rate; an array at another rate is resampled
    sf.write(tmp_path / "long.wav", wave, SR)
    assert transcribe_long(asr, tmp_path / "long.wav") == text
    with_loader = Pipeline([("audioloader", AudioLoader(sr=SR)), *asr.steps])
    assert transcribe_long(with_loader, str(tmp_path / "long.wav")) == text
    upsampled = np.repeat(wave, 2)
    assert isinstance(transcribe_long(asr, upsampled, sr=2 * SR), str)


def test_transcribe_long_names_what_it_needs(tiny_asr):
    asr, X = tiny_asr
    with pytest.raises(TypeError, match="needs a fitted Pipeline of a "
                                        "MelSpectrogramTransformer and a CRNNTranscriber"):
        transcribe_long(make_pipeline(MelSpectrogramTransformer(sr=SR), CRNNClassifier()),
                        X[0])
    with pytest.raises(ValueError, match="one mono recording"):
        transcribe_long(asr, np.zeros((2, 4000)))
    with pytest.raises(ValueError, match="batch_size"):
        transcribe_long(asr, X[0], batch_size=0)


def test_cli_transcribes_all_of_a_long_file(tiny_asr, tmp_path, capsys):
    asr, X = tiny_asr
    model = tmp_path / "asr.skcrnn"
    sk_crnn.save(Pipeline([("audioloader", AudioLoader(sr=SR)), *asr.steps]), model)
    wave = np.concatenate(X * 3)
    sf.write(tmp_path / "long.wav", wave, SR)
    sf.write(tmp_path / "short.wav", X[1], SR)
    files = [str(tmp_path / "long.wav"), str(tmp_path / "short.wav")]
    assert main(["predict", str(model), *files, "--format", "json"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [r["path"] for r in rows] == files
    assert rows[0]["transcript"] == transcribe_long(asr, sf.read(files[0], dtype="float32")[0])
    assert rows[1]["transcript"] == asr.predict([sf.read(files[1], dtype="float32")[0]])[0]
    assert "first part only" not in captured.err and "cropped" not in captured.err


# -- accuracy -----------------------------------------------------------------------------------
@pytest.mark.slow  # trains a transcriber that works (about 4 s)
def test_a_recording_of_many_phrases_is_transcribed_as_well_as_the_phrases():
    X, y = make_tone_phrases(100, n_words=4, random_state=0)
    X_train, y_train, X_test, y_test = X[:80], y[:80], X[80:], y[80:]
    asr = make_pipeline(
        MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=160, n_mels=16,
                                  normalize="band"),
        CRNNTranscriber(tokens="words", max_epochs=30, lr=0.03, module__conv_channels=(8,),
                        module__rnn_hidden=16, module__rnn_layers=1, batch_size=8,
                        random_state=0)).fit(X_train, y_train)
    own = word_error_rate(y_test, asr.predict(X_test))
    rng = np.random.default_rng(0)
    parts = []
    for clip in X_test:  # the phrases end to end, with short pauses over the same noise
        gap = 0.02 * rng.standard_normal(int(rng.uniform(0.05, 0.2) * SR))
        parts += [clip, gap.astype(np.float32)]
    wave = np.concatenate(parts)
    assert len(wave) > 10 * asr[0].n_samples_
    reference = " ".join(y_test)
    with pytest.warns(UserWarning, match="cropped"):  # what predict alone gives
        assert word_error_rate([reference], asr.predict([wave])) > 0.8
    text = transcribe_long(asr, wave)
    assert word_error_rate([reference], [text]) <= own + 0.1
