"""The sk-crnn command line, end to end in subprocesses on a tiny generated folder."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from sk_crnn.datasets import make_tone_clips

SR = 8000


def run(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "sk_crnn", *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\n"
                             f"stderr:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio")
    X, y = make_tone_clips(16, sr=SR, duration=0.25, n_classes=2, random_state=0)
    for i, (clip, label) in enumerate(zip(X, y)):
        folder = root / ("low" if label == 0 else "high")
        folder.mkdir(exist_ok=True)
        sf.write(folder / f"clip{i:02d}.{'wav' if i % 2 else 'flac'}", clip, SR)
    return root


TRAIN_ARGS = ["--sr", SR, "--n-mels", 16, "--n-fft", 256, "--hop-length", 128, "--epochs", 2,
              "--param", "crnnclassifier__module__conv_channels=(4,)",
              "--param", "crnnclassifier__module__rnn_hidden=8"]


@pytest.fixture(scope="module")
def model_path(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "model.joblib"
    proc = run("train", data_dir, "--out", out, "--cv", 2, *TRAIN_ARGS)
    assert "2-fold cross-validated accuracy" in proc.stdout
    assert "Saved the model" in proc.stdout
    assert out.exists()
    return out


def test_train_with_validation_split_quiet(data_dir, tmp_path):
    out = tmp_path / "m.joblib"
    proc = run("train", data_dir, "--out", out, "--quiet", *TRAIN_ARGS)
    assert proc.stdout == ""
    assert out.exists()


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_predict_formats(model_path, data_dir, fmt):
    proc = run("predict", model_path, data_dir / "low", data_dir / "high" / "clip01.wav",
               "--proba", "--format", fmt)
    if fmt == "json":
        rows = json.loads(proc.stdout)
        assert len(rows) == 9
        assert {r["label"] for r in rows} <= {"low", "high"}
        np.testing.assert_allclose([r["p(high)"] + r["p(low)"] for r in rows], 1, atol=1e-3)
    elif fmt == "csv":
        lines = proc.stdout.strip().splitlines()
        assert lines[0] == "path,label,p(high),p(low)"
        assert len(lines) == 10
    else:
        assert proc.stdout.splitlines()[0].split() == ["path", "label", "p(high)", "p(low)"]


def test_evaluate_writes_report(model_path, data_dir, tmp_path):
    proc = run("evaluate", model_path, data_dir, "--report", tmp_path / "report")
    assert proc.stdout.startswith("accuracy: ")
    assert "precision" in proc.stdout
    for name in ["report.txt", "report.json", "confusion_matrix.png"]:
        assert (tmp_path / "report" / name).stat().st_size > 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert {"low", "high", "accuracy"} <= set(report)


@pytest.mark.parametrize(
    "args, message",
    [
        (["predict", "missing.joblib", "x.wav"], "does not exist"),
        (["predict", "{model}", "no_such_file.wav"], "'no_such_file.wav' does not exist"),
        (["predict", "{bogus}", "{data}"], "is not an sk-crnn model"),
        (["train", "{data}/missing", "--out", "m.joblib"], "does not exist"),
        (["train", "{data}", "--out", "m.joblib", "--sr", "-5"], "--sr must be a positive"),
        (["train", "{data}", "--out", "m.joblib", "--param", "lr"], "NAME=VALUE"),
        (["train", "{data}", "--out", "m.joblib", "--param", "nosuch=1"], "no such parameter"),
        (["evaluate", "{model}", "{data}/missing"], "does not exist"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(args, message, model_path, data_dir, tmp_path):
    bogus = tmp_path / "bogus.joblib"
    bogus.write_bytes(b"not a model")
    args = [a.format(model=model_path, bogus=bogus, data=data_dir) for a in args]
    proc = run(*args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_evaluate_needs_a_classifier_and_matplotlib_for_the_report(
        model_path, data_dir, tmp_path, monkeypatch, capsys):
    import joblib
    from sklearn.pipeline import Pipeline, make_pipeline

    from sk_crnn import CRNNRegressor, MelSpectrogramTransformer
    from sk_crnn.cli import main
    from sk_crnn.io import AudioLoader

    X, _ = make_tone_clips(8, sr=SR, duration=0.25, random_state=0)
    fitted = make_pipeline(
        MelSpectrogramTransformer(sr=SR, n_fft=256, n_mels=16),
        CRNNRegressor(max_epochs=1, module__conv_channels=(4,), module__rnn_hidden=4),
    ).fit(X, X.std(axis=1))
    regressor = Pipeline([("audioloader", AudioLoader(sr=SR)), *fitted.steps])
    joblib.dump(regressor, tmp_path / "reg.joblib")
    assert main(["evaluate", str(tmp_path / "reg.joblib"), str(data_dir)]) == 2
    assert "holds a CRNNRegressor. Use 'sk-crnn predict'" in capsys.readouterr().err

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    args = ["evaluate", str(model_path), str(data_dir), "--report", str(tmp_path / "r")]
    assert main(args) == 2
    assert "needs matplotlib: pip install" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_demo_runs_and_saves_a_model_that_predicts_files(tmp_path, data_dir):
    out = tmp_path / "demo.joblib"
    proc = run("demo", "--n-clips", 48, "--epochs", 1, "--out", out)
    assert "cross-validated accuracy" in proc.stdout
    assert "Held-out accuracy" in proc.stdout
    assert out.exists()
    # The demo model reads 16 kHz files; our 8 kHz files are resampled on load.
    proc = run("predict", out, data_dir / "low" / "clip00.flac", "--format", "json")
    assert json.loads(proc.stdout)[0]["label"] in {"chirp_then_noise", "noise_then_chirp"}
