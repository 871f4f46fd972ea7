"""CRNNTranscriber (CTC speech recognition) and the WER/CER metrics (the CTC helpers:
test_ctc.py)."""

import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import sk_crnn
from sk_crnn import CRNNTranscriber, MelSpectrogramTransformer, ctc
from sk_crnn.datasets import make_tone_phrases
from sk_crnn.metrics import (
    char_error_rate,
    neg_char_error_rate_scorer,
    neg_word_error_rate_scorer,
    word_error_rate,
)

TINY = dict(module__conv_channels=(8,), module__rnn_hidden=16, module__rnn_layers=1,
            batch_size=8, random_state=0)
WORDS = ["up", "go", "left", "stop"]


def band_phrases(n, *, seed=0, n_mels=16, n_frames=60, words=WORDS, max_words=3):
    """Spectrograms where word k lights mel bands 4k..4k+3 for 4-6 frames, 1-3 frames apart,
    followed by a constant floor (as zero padding gives); returns X and transcripts."""
    rng = np.random.default_rng(seed)
    X = np.full((n, n_mels, n_frames), -1.0, dtype=np.float32)
    y = []
    for i in range(n):
        phrase = list(rng.choice(words, size=rng.integers(1, max_words + 1)))
        t = int(rng.integers(1, 3))
        for word in phrase:
            k, width = words.index(word), int(rng.integers(4, 7))
            X[i, 4 * k:4 * k + 4, t:t + width] = 2.0
            t += width + int(rng.integers(1, 4))
        X[i, :, :t] += 0.1 * rng.standard_normal((n_mels, t)).astype(np.float32)
        y.append(" ".join(phrase))
    return X, np.array(y)


@pytest.fixture(scope="module")
def phrases():
    return band_phrases(48)


@pytest.fixture(scope="module")
def fitted(phrases):
    X, y = phrases
    return CRNNTranscriber(tokens="words", max_epochs=30, lr=0.01, **TINY).fit(X, y)


# -- the estimator ------------------------------------------------------------------------------
def test_learns_word_transcripts(fitted, phrases):
    X, y = phrases
    X_test, y_test = band_phrases(24, seed=1)
    assert fitted.tokens_ == "words"
    assert fitted.vocabulary_.tolist() == ["", "go", "left", "stop", "up"]
    assert fitted.n_outputs_ == 5
    pred = fitted.predict(X_test)
    assert pred.dtype == object and all(isinstance(p, str) for p in pred)
    assert word_error_rate(y_test, pred) < 0.3
    assert fitted.score(X_test, y_test) == pytest.approx(1 - word_error_rate(y_test, pred))


def test_learns_characters():
    X, y = band_phrases(48, words=["ab", "ba", "c", "abc"], max_words=2)
    asr = CRNNTranscriber(tokens="chars", max_epochs=40, lr=0.01, **TINY).fit(X, y)
    assert asr.tokens_ == "chars" and asr.vocabulary_.tolist() == ["", " ", "a", "b", "c"]
    assert char_error_rate(y, asr.predict(X)) < 0.5


def test_predict_proba_steps_and_padding(fitted, phrases):
    X, _ = phrases
    proba = fitted.predict_proba(X[:4])
    assert proba.shape == (4, 30, 5)  # 60 frames, time pooled by 2
    np.testing.assert_allclose(proba.sum(axis=-1), 1.0, rtol=1e-5)
    steps = fitted.module_.output_length(ctc.frame_lengths(X[:4]))
    for p, n in zip(proba, steps):
        assert (p[n:, 0] == 1.0).all()  # after the clip's end: the blank
    # a clip gets the same posteriors whichever clips share its batch
    alone = np.concatenate([fitted.predict_proba(X[i:i + 1]) for i in range(4)])
    np.testing.assert_allclose(alone, proba, atol=1e-6)


def test_transcript_too_long_for_the_output_frames():
    X = np.random.default_rng(0).standard_normal((4, 16, 12)).astype(np.float32)
    y = ["up go up go up go up", "up", "go", "up"]  # 7 words, 13 steps with the blanks
    with pytest.raises(ValueError, match=r"Transcript 0 .* needs 7 output frames.*"
                                         r"6 output frames.*at least 14 input frames"):
        CRNNTranscriber(tokens="words", max_epochs=1, **TINY).fit(X, y)
    y = ["up up up up", "up", "go", "up"]  # repeats need a blank between them
    with pytest.raises(ValueError, match=r"needs 7 output frames \(CTC puts a blank"):
        CRNNTranscriber(tokens="words", max_epochs=1, **TINY).fit(X, y)
    asr = CRNNTranscriber(tokens="words", max_epochs=1, module__time_pool=1, **TINY)
    asr.fit(X, y)  # the message's advice works


def test_unseen_tokens(phrases):
    X, y = phrases
    with pytest.raises(ValueError, match=r"not in the vocabulary parameter: \['left'"):
        CRNNTranscriber(tokens="words", vocabulary=["up", "go", "stop"], max_epochs=1,
                        **TINY).fit(X, y)
    asr = CRNNTranscriber(tokens="words", max_epochs=1, **TINY).fit(X[:8], ["up go"] * 8)
    with pytest.raises(ValueError, match=r"not in vocabulary_ \(fixed in the first fit"):
        asr.partial_fit(X[:8], ["up left"] * 8)
    given = CRNNTranscriber(tokens="words", vocabulary=WORDS, max_epochs=1, **TINY)
    given.fit(X[:8], ["up go"] * 8).partial_fit(X[:8], ["stop left"] * 8)
    assert given.vocabulary_.tolist() == ["", *WORDS]
    # scoring against words the model never saw just counts them as errors
    assert given.score(X[:2], ["banana", "banana split"]) <= 0.0


def test_empty_and_non_string_transcripts(phrases):
    X, y = phrases
    with pytest.raises(ValueError, match="Every one of the 4 transcripts in y is empty"):
        CRNNTranscriber(max_epochs=1, **TINY).fit(X[:4], ["", " ", "", ""])
    with pytest.raises(TypeError, match=r"y\[1\] is nan of type float.*empty transcript ''"):
        CRNNTranscriber(max_epochs=1, **TINY).fit(X[:3], ["up", float("nan"), "go"])
    silent = np.full((4, 16, 60), -1.0, np.float32)  # clips without speech: ""
    asr = CRNNTranscriber(tokens="words", max_epochs=1, **TINY).fit(
        np.concatenate([X[:8], silent]), [*y[:8], "", "", "", ""])
    assert np.isfinite(asr.history[-1, "train_loss"])
    with pytest.raises(ValueError, match="Every reference transcript in y_true is empty"):
        word_error_rate(["", ""], ["up", ""])


@pytest.mark.parametrize("param, message", [
    ({"mixup": 0.2}, "mixup must be one of \\[0\\]; got 0.2. Mixing two clips"),
    ({"time_shift": 3}, "time_shift must be one of \\[0\\]; got 3. A circular time shift"),
    ({"tokens": "phonemes"}, "tokens must be one of \\['auto', 'words', 'chars'\\]"),
    ({"vocabulary": "abc"}, "vocabulary must be None or a list of non-empty str tokens"),
    ({"criterion__blank": 3}, "criterion__blank=3: the blank is index 0"),
])
def test_parameter_errors(param, message, phrases):
    X, y = phrases
    param = {"tokens": "words", **param}
    with pytest.raises(ValueError, match=message):
        CRNNTranscriber(max_epochs=1, **TINY, **param).fit(X, y)


def test_training_options_and_reproducibility(phrases):
    X, y = phrases
    params = dict(tokens="words", max_epochs=3, validation_fraction=0.25, early_stopping=True,
                  patience=2, freq_mask=3, time_mask=4, **TINY)
    a = CRNNTranscriber(**params).fit(X, y)
    b = clone(a).fit(X, y)
    assert len(a.validation_indices_) == 12
    assert np.isfinite(a.history[-1, "valid_loss"])
    np.testing.assert_array_equal(a.predict_proba(X[:4]), b.predict_proba(X[:4]))
    assert clone(a).get_params()["freq_mask"] == 3
    assert any(name == "gradient_clipping" for name, _ in a.callbacks_)


def test_length_grouped_batches_cover_every_clip_once_and_group_lengths():
    from sk_crnn.transcription import _LengthGroupedBatches

    lengths = np.random.default_rng(0).integers(5, 100, size=103)
    sampler = _LengthGroupedBatches(lengths, batch_size=8, pool=4)
    torch.manual_seed(0)
    batches = list(sampler)
    torch.manual_seed(0)
    assert list(sampler) == batches  # torch's generator draws the order
    assert len(batches) == len(sampler) == 13
    assert sorted(i for b in batches for i in b) == list(range(103))
    # each pool of 4 batches is sorted, so a batch spans far fewer lengths than a random one
    spread = np.mean([np.ptp(lengths[b]) for b in batches if len(b) > 1])
    assert spread < 0.5 * np.mean([np.ptp(lengths[b]) for b in np.array_split(
        np.random.default_rng(1).permutation(103), 13)])


@pytest.mark.parametrize("group", [True, False])
def test_group_by_length_trains_on_fewer_padding_frames(phrases, group):
    X, y = phrases
    asr = CRNNTranscriber(tokens="words", max_epochs=1, group_by_length=group,
                          **TINY).fit(X, y)
    y_encoded, _ = asr._check_targets(y, X, reset=False)
    loader = asr.get_iterator(asr.get_dataset(X, y_encoded), training=True)
    frames = [Xi.shape[-1] * len(Xi) for Xi, _ in loader]
    assert sum(len(Xi) for Xi, _ in loader) == len(X)
    true = int(y_encoded[:, 0].sum())
    padding = sum(frames) - true
    if group:
        assert padding < 0.5 * (len(X) * X.shape[-1] - true)
    assert clone(asr).get_params()["group_by_length"] is group
    with pytest.raises(TypeError, match="group_by_length must be True or False; got 'yes'"):
        clone(asr).set_params(group_by_length="yes").fit(X, y)


def test_progress_bar(phrases):
    X, y = phrases
    asr = CRNNTranscriber(tokens="words", max_epochs=1, progress_bar=True, **TINY)
    asr.fit(X[:16], y[:16])
    assert any(name == "progress_bar" for name, _ in asr.callbacks_)


# -- metrics ------------------------------------------------------------------------------------
def test_error_rates():
    assert word_error_rate(["up left stop", "go"], ["up stop", "go go"]) == 0.5
    assert word_error_rate(["up  left"], ["up left "]) == 0.0  # whitespace runs are one space
    assert char_error_rate(["ab"], ["abc"]) == 0.5
    with pytest.raises(ValueError, match="one transcript per clip; got 2 and 1"):
        word_error_rate(["a", "b"], ["a"])
    with pytest.raises(TypeError, match=r"y_pred\[0\] is None"):
        char_error_rate(["a"], [None])


# -- Pipeline, search, persistence --------------------------------------------------------------
@pytest.fixture(scope="module")
def tone_phrases():
    X, y = make_tone_phrases(40, n_words=4, random_state=0)
    return X, y


def tiny_pipeline(**params):
    return make_pipeline(
        MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=80, n_mels=16,
                                  normalize="band"),
        CRNNTranscriber(max_epochs=2, **TINY, **params))


LOAD_AND_PREDICT = textwrap.dedent("""
    import sys, joblib, numpy as np
    model = joblib.load(sys.argv[1])
    X = list(np.load(sys.argv[2], allow_pickle=True))
    np.save(sys.argv[3], model[-1].predict_proba(model[:-1].transform(X)))
    print("\\n".join(model.predict(X)))
""")


@pytest.mark.slow  # about 10 s; test_integration runs a grid search and joblib in a fresh
# process for the classifier in the default suite
def test_pipeline_grid_search_and_joblib_in_a_fresh_process(tone_phrases, tmp_path):
    X, y = tone_phrases
    search = GridSearchCV(tiny_pipeline(), {"crnntranscriber__lr": [1e-3, 1e-2]}, cv=2,
                          scoring=neg_word_error_rate_scorer)
    search.fit(X, y)
    assert search.best_score_ <= 0.0
    model = search.best_estimator_
    assert model[-1].tokens_ == "chars"  # 4 words, but only 20-30 examples of each
    path, x_path, out_path = tmp_path / "m.joblib", tmp_path / "x.npy", tmp_path / "p.npy"
    joblib.dump(model, path)
    clips = np.empty(5, dtype=object)
    clips[:] = X[:5]
    np.save(x_path, clips, allow_pickle=True)
    proc = subprocess.run([sys.executable, "-c", LOAD_AND_PREDICT, str(path), str(x_path),
                           str(out_path)], check=True, capture_output=True, text=True,
                          timeout=120)
    np.testing.assert_array_equal(np.load(out_path), model[-1].predict_proba(
        model[:-1].transform(X[:5])))
    assert proc.stdout.split("\n")[:5] == list(model.predict(X[:5]))
    scores = GridSearchCV(tiny_pipeline(), {"crnntranscriber__tokens": ["chars"]}, cv=2,
                          scoring={"cer": neg_char_error_rate_scorer}, refit=False).fit(X, y)
    assert scores.cv_results_["mean_test_cer"][0] <= 0.0


def test_safe_model_file_round_trip(tone_phrases, tmp_path):
    X, y = tone_phrases
    model = tiny_pipeline(tokens="chars").fit(X, y)
    sk_crnn.save(model, tmp_path / "asr.skcrnn")
    restored = sk_crnn.load(tmp_path / "asr.skcrnn")
    asr = restored[-1]
    assert isinstance(asr, CRNNTranscriber) and asr.tokens_ == "chars"
    assert asr.vocabulary_.tolist() == model[-1].vocabulary_.tolist()
    assert list(restored.predict(X[:6])) == list(model.predict(X[:6]))


def test_device_and_cpu_fallback(phrases):
    X, y = phrases
    asr = CRNNTranscriber(tokens="words", max_epochs=1, device="cpu", **TINY).fit(X[:8], y[:8])
    assert next(asr.module_.parameters()).device == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            CRNNTranscriber(device="cuda", max_epochs=1, **TINY).fit(X[:8], y[:8])


# -- files and the command line -----------------------------------------------------------------
def write_manifest(folder, X, y, *, tsv=True):
    """A Common Voice-style layout: clips/ and a validated.tsv naming path and sentence."""
    import csv

    import soundfile as sf

    (folder / "clips").mkdir()
    name = "validated.tsv" if tsv else "manifest.csv"
    with open(folder / name, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t" if tsv else ",")
        writer.writerow(["client_id", "path", "sentence" if tsv else "transcript"])
        for i, (clip, text) in enumerate(zip(X, y)):
            sf.write(folder / "clips" / f"c{i}.wav", clip, 8000)
            writer.writerow(["someone", f"c{i}.wav" if tsv else f"clips/c{i}.wav", text])
    return folder / name


def test_read_manifest(tone_phrases, tmp_path):
    from sk_crnn.transcription import read_manifest

    X, y = tone_phrases
    (tmp_path / "tsv").mkdir()
    (tmp_path / "csv").mkdir()
    for manifest in (write_manifest(tmp_path / "tsv", X[:3], y[:3]),
                     write_manifest(tmp_path / "csv", X[:3], y[:3], tsv=False)):
        paths, texts = read_manifest(manifest)
        assert texts == list(y[:3]) and all(p.endswith(f"c{i}.wav") for i, p in
                                            enumerate(paths))
        assert all((manifest.parent / "clips" / f"c{i}.wav").samefile(p)
                   for i, p in enumerate(paths))
    bad = tmp_path / "bad.csv"
    bad.write_text("file,words\na.wav,up\n")
    with pytest.raises(ValueError, match="needs a header row naming a 'path' column"):
        read_manifest(bad)


def test_manifest_encodings(tmp_path, capsys):
    """Excel's "CSV UTF-8" starts with a byte-order mark, its plain "CSV" is Windows-1252."""
    from sk_crnn.cli import main
    from sk_crnn.transcription import read_manifest

    rows = "path,transcript\na.wav,caf\u00e9 cr\u00e8me\n"
    for encoding in ("utf-8-sig", "utf-16"):
        manifest = tmp_path / f"{encoding}.csv"
        manifest.write_bytes(rows.encode(encoding))
        paths, texts = read_manifest(manifest)
        assert texts == ["caf\u00e9 cr\u00e8me"] and paths == [str(tmp_path / "a.wav")]
    latin = tmp_path / "latin.csv"
    latin.write_bytes(rows.encode("cp1252"))
    with pytest.raises(ValueError, match=r"manifest '.*latin.csv' is not UTF-8 text: line 2 "
                                         r"holds the byte 0xe9.*Save it as UTF-8 \(in Excel: "
                                         r"'CSV UTF-8'\).*iconv -f cp1252 -t utf-8 latin.csv"):
        read_manifest(latin)
    assert main(["train", "--task", "transcribe", str(latin), "--out",
                 str(tmp_path / "m.skcrnn")]) == 2
    err = capsys.readouterr().err
    assert "latin.csv' is not UTF-8 text" in err and "codec can't decode" not in err


@pytest.mark.slow  # trains and predicts through the command line (about 18 s)
def test_cli_trains_from_a_manifest_and_prints_transcripts(tone_phrases, tmp_path):
    X, y = tone_phrases
    manifest = write_manifest(tmp_path, X[:16], y[:16])
    model = tmp_path / "asr.skcrnn"

    def run(*args):
        return subprocess.run([sys.executable, "-m", "sk_crnn", *map(str, args)],
                              capture_output=True, text=True, timeout=300)

    proc = run("train", "--task", "transcribe", manifest, "--out", model, "--sr", 8000,
               "--n-fft", 256, "--hop-length", 80, "--n-mels", 16, "--epochs", 2, "--quiet",
               "--param", "crnntranscriber__module__conv_channels=(4,)",
               "--param", "crnntranscriber__module__rnn_hidden=8")
    assert proc.returncode == 0, proc.stderr
    restored = sk_crnn.load(model)
    assert isinstance(restored[-1], CRNNTranscriber)
    assert restored[-1].vocabulary_.dtype == object
    files = [tmp_path / "clips" / f"c{i}.wav" for i in range(3)]
    proc = run("predict", model, *files, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    import json

    rows = json.loads(proc.stdout)
    assert [r["path"] for r in rows] == [str(f) for f in files]
    assert [r["transcript"] for r in rows] == list(restored.predict([str(f) for f in files]))
    proc = run("train", "--task", "transcribe", tmp_path / "clips", "--out", model)
    assert proc.returncode == 2 and "reads a manifest file" in proc.stderr
