"""The sk-crnn command line, end to end in subprocesses on a tiny generated folder, and its
input checks in process (they run before any training)."""

import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pytest
import soundfile as sf
import torch
from skorch.callbacks import Callback

import sk_crnn
from sk_crnn.cli import Interrupted, _StopOnCtrlC, build_parser, main
from sk_crnn.datasets import make_tone_clips

SR = 8000


def run(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "sk_crnn", *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\n"
                             f"stderr:\n{proc.stderr}")
    return proc


def call(capsys, *args):
    """``sk-crnn ARGS`` in this process (the same main() the command runs, without the 4 s
    of a fresh interpreter): (exit code, stdout, stderr)."""
    code = main(list(map(str, args)))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


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
    out = tmp_path_factory.mktemp("model") / "model.skcrnn"
    proc = run("train", data_dir, "--out", out, "--cv", 2, *TRAIN_ARGS)
    assert "2-fold cross-validated accuracy" in proc.stdout
    assert "Saved the model" in proc.stdout
    assert sk_crnn.persistence.sniff(out) == "sk-crnn"  # the pickle-free format by default
    return out


@pytest.fixture(scope="module")
def model_files(model_path, tmp_path_factory):
    """Broken and risky variants of the model file."""
    folder = tmp_path_factory.mktemp("variants")
    data = model_path.read_bytes()
    flipped = bytearray(data)
    middle = len(data) // 2
    for i in range(middle, middle + 200):
        flipped[i] ^= 0xFF
    (folder / "flipped.skcrnn").write_bytes(bytes(flipped))
    (folder / "truncated.skcrnn").write_bytes(data[: len(data) // 2])
    model = sk_crnn.load(model_path)
    joblib.dump(model, folder / "model.joblib")
    with torch.no_grad():
        next(model[-1].module_.parameters()).view(-1)[0] = float("nan")
    sk_crnn.save(model, folder / "nan.skcrnn")
    joblib.dump(model, folder / "nan.joblib")
    # a pickle naming a class that only the user's own script defined
    (folder / "usernet.joblib").write_bytes(b"\x80\x02c__main__\nUserNet\nq\x00)\x81q\x01.")
    return folder


def test_train_with_validation_split_quiet(data_dir, tmp_path, capsys):
    out = tmp_path / "m.skcrnn"
    code, stdout, _ = call(capsys, "train", data_dir, "--out", out, "--quiet", *TRAIN_ARGS)
    assert code == 0 and stdout == ""
    assert out.exists()


# The table goes through a subprocess (the installed command, end to end); the other formats
# run in process (the same main(), without 4 s of interpreter start-up each).
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_predict_formats(model_path, data_dir, fmt, capsys):
    args = ["predict", model_path, data_dir / "low", data_dir / "high" / "clip01.wav",
            "--proba", "--format", fmt]
    if fmt == "table":
        stdout = run(*args).stdout
    else:
        assert main(list(map(str, args))) == 0
        stdout = capsys.readouterr().out
    if fmt == "json":
        rows = json.loads(stdout)
        assert len(rows) == 9
        assert {r["label"] for r in rows} <= {"low", "high"}
        np.testing.assert_allclose([r["p(high)"] + r["p(low)"] for r in rows], 1, atol=1e-3)
    elif fmt == "csv":
        lines = stdout.strip().splitlines()
        assert lines[0] == "path,label,p(high),p(low)"
        assert len(lines) == 10
    else:
        assert stdout.splitlines()[0].split() == ["path", "label", "p(high)", "p(low)"]


def test_evaluate_writes_report(model_path, data_dir, tmp_path, capsys):
    code, stdout, _ = call(capsys, "evaluate", model_path, data_dir, "--report",
                           tmp_path / "report")
    assert code == 0 and stdout.startswith("accuracy: ")
    assert "precision" in stdout
    for name in ["report.txt", "report.json", "confusion_matrix.png"]:
        assert (tmp_path / "report" / name).stat().st_size > 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert {"low", "high", "accuracy"} <= set(report)


# The first case runs the installed command in a subprocess (exit status and stderr end to
# end); the others call the same main() in process.
@pytest.mark.parametrize(
    "args, message",
    [
        (["predict", "missing.skcrnn", "x.wav"], "does not exist"),
        (["predict", "{model}", "no_such_file.wav"], "'no_such_file.wav' does not exist"),
        (["predict", "{bogus}", "{data}"], "is not an sk-crnn model"),
        (["train", "{data}/missing", "--out", "m.skcrnn"], "does not exist"),
        (["train", "{data}", "--out", "m.skcrnn", "--sr", "-5"], "--sr must be a positive"),
        (["train", "{data}", "--out", "m.skcrnn", "--param", "lr"], "NAME=VALUE"),
        (["train", "{data}", "--out", "m.skcrnn", "--param", "nosuch=1"], "no such parameter"),
        (["evaluate", "{model}", "{data}/missing"], "does not exist"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(args, message, model_path, data_dir, tmp_path,
                                             monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # where a relative --out would land
    bogus = tmp_path / "bogus.skcrnn"
    bogus.write_bytes(b"not a model")
    in_process = args[1] != "missing.skcrnn"
    args = [a.format(model=model_path, bogus=bogus, data=data_dir) for a in args]
    if in_process:
        code, stderr = main(args), capsys.readouterr().err
    else:
        proc = run(*args, check=False)
        code, stderr = proc.returncode, proc.stderr
    assert code == 2
    assert message in stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m.skcrnn").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        # model files that are not what they seem
        (["predict", "{data}", "x.wav"], "is a folder, not a model file"),
        (["predict", "{variants}/model.joblib", "{data}"],
         "is a pickle (joblib) file, and loading a pickle can run any code it contains, so "
         "sk-crnn opens it only with --allow-pickle"),
        (["evaluate", "{variants}/model.joblib", "{data}"], "only with --allow-pickle"),
        (["predict", "{variants}/flipped.skcrnn", "{data}"], "is corrupted or truncated"),
        (["predict", "{variants}/truncated.skcrnn", "{data}"], "is corrupted or truncated"),
        (["predict", "{variants}/nan.skcrnn", "{data}"], "hold NaN or infinite values"),
        (["predict", "{variants}/nan.joblib", "{data}", "--allow-pickle"],
         "hold NaN or infinite values"),
        (["predict", "{variants}/usernet.joblib", "{data}", "--allow-pickle"],
         ("uses a class or function that cannot be imported here (", "UserNet",
          "can be loaded only in Python, after importing that code")),
        # checked before training
        (["train", "{data}/high/clip01.wav", "--out", "{tmp}/m.skcrnn"],
         "is a file; pass a folder that holds one sub-folder"),
        (["train", "{data}", "--out", "{tmp}/nowhere/m.skcrnn"],
         "the folder '{tmp}/nowhere' does not exist; create it first"),
        (["train", "{data}", "--out", "{tmp}"], "is a folder; give the name of the model file"),
        (["train", "{data}", "--out", "{tmp}/m.skcrnn", "--epochs", "0"],
         "--epochs must be an integer >= 1; got 0."),
        (["train", "{data}", "--out", "{tmp}/m.skcrnn", "--epochs", "-3"],
         "--epochs must be an integer >= 1; got -3."),
        (["train", "{data}", "--out", "{tmp}/m.skcrnn", "--n-mels", "0"], "--n-mels must be"),
        (["train", "{data}", "--out", "{tmp}/m.skcrnn", "--cv", "1"], "--cv must be 0"),
        (["train", "{data}", "--out", "{tmp}/m.skcrnn", "--param", "crnnclassifier__lr=abc"],
         "--param crnnclassifier__lr='abc': crnnclassifier__lr takes a number (default 0.001)"),
        (["train", "{data}", "--out", "{tmp}/m.skcrnn",
          "--param", "crnnclassifier__early_stopping=maybe"], "is True or False"),
        (["demo", "--epochs", "0", "--out", "{tmp}/d.skcrnn"], "--epochs must be an integer"),
        (["demo", "--out", "{tmp}/nowhere/d.skcrnn"], "does not exist; create it first"),
        (["evaluate", "{model}", "{data}", "--report", "{model}"],
         "--report '{model}' is a file; pass a folder"),
        (["evaluate", "{model}", "{data}", "--report", "{model}/sub"], "is a file, so the folder"),
    ],
)
def test_mistakes_are_named_before_any_work(args, message, model_path, model_files, data_dir,
                                            tmp_path, capsys):
    fill = {"model": model_path, "data": data_dir, "variants": model_files, "tmp": tmp_path}
    assert main([a.format(**fill) for a in args]) == 2
    err = capsys.readouterr().err
    for part in (message,) if isinstance(message, str) else message:
        assert part.format(**fill) in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.skcrnn").exists()


def test_evaluate_needs_a_classifier_and_matplotlib_for_the_report(
        model_path, data_dir, tmp_path, monkeypatch, capsys):
    from sklearn.pipeline import Pipeline, make_pipeline

    from sk_crnn import CRNNRegressor, MelSpectrogramTransformer
    from sk_crnn.io import AudioLoader

    X, _ = make_tone_clips(8, sr=SR, duration=0.25, random_state=0)
    fitted = make_pipeline(
        MelSpectrogramTransformer(sr=SR, n_fft=256, n_mels=16),
        CRNNRegressor(max_epochs=1, module__conv_channels=(4,), module__rnn_hidden=4),
    ).fit(X, X.std(axis=1))
    regressor = Pipeline([("audioloader", AudioLoader(sr=SR)), *fitted.steps])
    sk_crnn.save(regressor, tmp_path / "reg.skcrnn")
    assert main(["evaluate", str(tmp_path / "reg.skcrnn"), str(data_dir)]) == 2
    assert "holds a CRNNRegressor. Use 'sk-crnn predict'" in capsys.readouterr().err

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    args = ["evaluate", str(model_path), str(data_dir), "--report", str(tmp_path / "r")]
    assert main(args) == 2
    assert "needs matplotlib: pip install" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_demo_runs_and_saves_a_model_that_predicts_files(tmp_path, data_dir, capsys):
    out = tmp_path / "demo.skcrnn"
    proc = run("demo", "--n-clips", 48, "--epochs", 1, "--out", out)
    assert "cross-validated accuracy" in proc.stdout
    assert "Held-out accuracy" in proc.stdout
    assert sk_crnn.persistence.sniff(out) == "sk-crnn"
    # The demo model reads 16 kHz files; our 8 kHz files are resampled on load.
    assert main(["predict", str(out), str(data_dir / "low" / "clip00.flac"), "--format",
                 "json"]) == 0
    label = json.loads(capsys.readouterr().out)[0]["label"]
    assert label in {"chirp_then_noise", "noise_then_chirp"}
    assert build_parser().parse_args(["demo"]).out.endswith(".skcrnn")


# -- pickles --------------------------------------------------------------------------------------
class MakesAMarkerFile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # unpickling this runs open(marker, "w")
        return (open, (str(self.marker), "w"))


# Each variant starts an interpreter (about 4 s): the .skcrnn-named and .pkl ones run with
# the slow tests.
@pytest.mark.parametrize("name", [
    "model.joblib",
    pytest.param("model.skcrnn", marks=pytest.mark.slow),
    pytest.param("model.pkl", marks=pytest.mark.slow),
])
def test_a_crafted_pickle_is_never_run(name, data_dir, tmp_path, capsys):
    marker = tmp_path / "code_was_run"
    (tmp_path / name).write_bytes(pickle.dumps(MakesAMarkerFile(marker)))
    joblib.dump(MakesAMarkerFile(marker), tmp_path / "compressed.joblib", compress=3)
    for model in (tmp_path / name, tmp_path / "compressed.joblib"):
        for command in (["predict", model, data_dir / "low"], ["evaluate", model, data_dir]):
            if command[0] == "predict" and model.name == name:  # the command, end to end
                proc = run(*command, check=False)
                code, stderr = proc.returncode, proc.stderr
            else:  # the same main() in this process: loading would make the marker here
                code, stderr = main(list(map(str, command))), capsys.readouterr().err
            assert code == 2
            assert "loading a pickle can run any code it contains" in stderr
            assert "--allow-pickle" in stderr
            assert not marker.exists()


def test_a_trusted_pickle_is_read_with_allow_pickle(model_files, data_dir, capsys):
    args = ["predict", str(model_files / "model.joblib"), str(data_dir / "low"), "--format",
            "json"]
    assert main(args) == 2
    capsys.readouterr()
    assert main([*args, "--allow-pickle"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 8


def test_help_warns_about_untrusted_model_files(capsys):
    for command in (["predict"], ["evaluate"], ["train"], []):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "loading a pickle can run any code it contains" in text
        assert "Never pass --allow-pickle for a file from a source you do not trust" in text


# -- Ctrl-C ---------------------------------------------------------------------------------------
def test_ctrl_c_stops_training_at_once_and_keeps_the_old_model(data_dir, model_path, tmp_path):
    out = tmp_path / "model.skcrnn"
    out.write_bytes(model_path.read_bytes())
    before = hashlib.sha256(out.read_bytes()).hexdigest()
    args = list(TRAIN_ARGS)
    args[args.index("--epochs") + 1] = 100000  # hours of training, unless stopped
    proc = subprocess.Popen(
        [sys.executable, "-m", "sk_crnn", "train", str(data_dir), "--out", str(out),
         *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("Loaded"):
                break
        time.sleep(1.0)  # well into the first fit's epochs
        start = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=8)
        except subprocess.TimeoutExpired:
            # A signal that lands while numba's JIT (librosa) runs a ctypes callback is
            # printed as "Exception ignored" and lost (Python's rule for exceptions raised in
            # callbacks); a second Ctrl-C, as a user would press, must stop it.
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        seconds = time.perf_counter() - start
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert seconds < 20
    assert "interrupted (Ctrl-C): training stopped and nothing was saved" in err
    assert f"{out} is unchanged" in err
    assert "Saved the model" not in err
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before
    assert sorted(os.listdir(tmp_path)) == ["model.skcrnn"]  # no temporary file left


class SignalAt(Callback):
    """Send this process SIGINT (as Ctrl-C does) at the end of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.skipif(sys.platform == "win32", reason="os.kill(SIGINT) ends the process there")
def test_ctrl_c_passes_through_skorch_during_the_command_only():
    from sk_crnn import CRNNClassifier

    X = np.random.RandomState(0).randn(16, 16, 8).astype(np.float32)
    y = np.arange(16) % 2
    net = CRNNClassifier(max_epochs=50, module__conv_channels=(4,), module__rnn_hidden=4,
                         callbacks=[("ctrl_c", SignalAt(2))])
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted), _StopOnCtrlC():
        net.fit(X, y)  # skorch's fit loop ends quietly on KeyboardInterrupt, not on this
    assert len(net.history) == 2
    assert signal.getsignal(signal.SIGINT) is handler  # restored

    stop = _StopOnCtrlC()
    with pytest.raises(Interrupted) as info, stop, stop.saving():
        os.kill(os.getpid(), signal.SIGINT)  # while the file is written: wait for it
        time.sleep(0.1)
        written = True
    assert written and info.value.saved


# -- folders, links and unreadable files ---------------------------------------------------------
@pytest.fixture
def messy_dir(data_dir, tmp_path):
    """A copy of data_dir with an unreadable file and a linked sub-folder in each class."""
    root = tmp_path / "messy"
    elsewhere = tmp_path / "elsewhere"
    for label in ("low", "high"):
        (root / label).mkdir(parents=True)
        files = sorted((data_dir / label).iterdir())
        for f in files[:4]:
            (root / label / f.name).write_bytes(f.read_bytes())
        (elsewhere / label).mkdir(parents=True)
        for f in files[4:]:
            (elsewhere / label / f.name).write_bytes(f.read_bytes())
        try:
            (root / label / "linked").symlink_to(elsewhere / label, target_is_directory=True)
        except (OSError, NotImplementedError):
            pytest.skip("this file system cannot make links")
    (root / "low" / "broken.wav").write_bytes(b"RIFF not really a wav file")
    return root


def test_linked_sub_folders_are_followed_and_bad_files_skipped_on_request(
        messy_dir, model_path, capsys):
    args = ["predict", str(model_path), str(messy_dir), "--format", "json"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "broken.wav': it could not be decoded" in err
    assert "pass --on-error skip" in err

    assert main([*args, "--on-error", "skip"]) == 0
    captured = capsys.readouterr()
    paths = [row["path"] for row in json.loads(captured.out)]
    assert len(paths) == 16  # 8 files directly in the class folders, 8 through the links
    assert sum("/linked/" in p.replace("\\", "/") for p in paths) == 8
    assert "skipped 1 of 17 files that could not be read" in captured.err
    assert "broken.wav" in captured.err

    assert main(["evaluate", str(model_path), str(messy_dir), "--on-error", "skip"]) == 0
    captured = capsys.readouterr()
    assert "on 16 files" in captured.out
    assert "skipped 1 of 17 files" in captured.err


def test_train_can_skip_unreadable_files(messy_dir, tmp_path, capsys):
    out = tmp_path / "m.joblib"  # the suffix asks for a joblib pickle
    code, stdout, stderr = call(capsys, "train", messy_dir, "--out", out, "--on-error", "skip",
                                *TRAIN_ARGS)
    assert code == 0 and "Loaded 16 files in 2 classes" in stdout
    assert "skipped 1 of 17 files" in stderr and "broken.wav" in stderr
    assert "a joblib pickle, as its suffix asks" in stdout
    assert sk_crnn.persistence.sniff(out) == "pickle"


# -- Ctrl-C while the command starts --------------------------------------------------------------
# Runs `sk-crnn` (or `python -m sk_crnn`) with a SIGINT sent from inside the import of MODULE:
# a Ctrl-C pressed while the heavy libraries are still importing, at no race with a timer.
CTRL_C_AT_IMPORT = """
import os, signal, sys

signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, also when run
                                                          # in the background (SIGINT ignored)

class CtrlCAt:
    def __init__(self, module):
        self.module = module

    def find_spec(self, name, path=None, target=None):
        if name == self.module:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlCAt(sys.argv[1]))
sys.argv = ["sk-crnn", *sys.argv[2:]]
if os.environ.get("VIA_RUNPY"):
    import runpy
    runpy.run_module("sk_crnn", run_name="__main__")
from sk_crnn._entry import main  # what the console script runs
sys.exit(main())
"""


@pytest.mark.skipif(sys.platform == "win32", reason="os.kill(SIGINT) ends the process there")
@pytest.mark.parametrize("module, via_runpy, message", [
    ("sk_crnn.cli", False, "sk-crnn: interrupted (Ctrl-C)."),  # starting: the entry point
    ("sk_crnn.cli", True, "sk-crnn: interrupted (Ctrl-C)."),  # python -m sk_crnn
    ("torch", False, "sk-crnn predict: interrupted (Ctrl-C)."),  # the command's own imports
])
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(module, via_runpy, message):
    env = {**os.environ, "VIA_RUNPY": "1" if via_runpy else ""}
    proc = subprocess.run([sys.executable, "-c", CTRL_C_AT_IMPORT, module, "predict", "m",
                           "x.wav"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == message


def test_the_command_imports_no_heavy_library_before_its_ctrl_c_handling():
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if pyproject.exists():  # the console script is the entry point that handles Ctrl-C
        assert 'sk-crnn = "sk_crnn._entry:main"' in pyproject.read_text(encoding="utf-8")
    code = ("import sys, sk_crnn._entry, sk_crnn.__main__; "
            "print(sorted(m for m in ('torch', 'sklearn', 'skorch', 'librosa') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert proc.stdout.strip() == "[]"


def test_predict_on_an_embedder_points_to_similar(tmp_path, capsys):
    from sklearn.pipeline import Pipeline, make_pipeline

    from sk_crnn import AudioLoader, CRNNEmbedder, MelSpectrogramTransformer

    X, y = make_tone_clips(8, sr=SR, duration=0.25, n_classes=2, random_state=0)
    fitted = make_pipeline(
        MelSpectrogramTransformer(sr=SR, n_fft=256, hop_length=128, n_mels=16),
        CRNNEmbedder(max_epochs=1, module__conv_channels=(4,), module__rnn_hidden=4,
                     random_state=0)).fit(X, y)
    model = tmp_path / "embedder.skcrnn"
    sk_crnn.save(Pipeline([("audioloader", AudioLoader(sr=SR)), *fitted.steps]), model)
    sf.write(tmp_path / "a.wav", X[0], SR)
    assert main(["predict", str(model), str(tmp_path / "a.wav")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "holds a CRNNEmbedder, which gives embeddings, not labels" in err
    assert f"'sk-crnn similar {model} FILE_OR_DIR --catalogue DIR'" in err


# -- the package: one table of tasks, small modules, no import cycle -------------------------------
def test_one_task_table_names_each_estimator_metric_rows_and_long_predictor():
    from sk_crnn import (
        CRNNClassifier,
        CRNNEmbedder,
        CRNNEventDetector,
        CRNNRegressor,
        CRNNTranscriber,
    )
    from sk_crnn._base import SpectrogramNet
    from sk_crnn.cli import rows
    from sk_crnn.cli.tasks import TASKS, TRAINABLE, task_of
    from sk_crnn.long_transcripts import transcribe_long
    from sk_crnn.windows import detect_events_long, predict_proba_long

    multilabel = CRNNClassifier()
    multilabel.target_type_ = "multilabel-indicator"

    class UsersNet(SpectrogramNet):  # an estimator of the user's own (built unset: only
        pass                           # its class matters here)

    expected = [  # estimator -> task, metric, rows, long-recording predictor
        (CRNNClassifier(), "classify", "accuracy", rows.class_rows, predict_proba_long),
        (multilabel, "multilabel", "accuracy", rows.first_window_rows, None),
        (CRNNEmbedder(), "embed", "precision@10", None, None),
        (CRNNTranscriber(), "transcribe", "1 - WER", rows.transcript_rows, transcribe_long),
        (CRNNEventDetector(), "detect", "event-based F1", rows.event_rows, detect_events_long),
        (CRNNRegressor(), "regress", "R^2", rows.first_window_rows, None),
        (object.__new__(UsersNet), "other", "score", rows.first_window_rows, None),
    ]
    for estimator, name, metric, row_builder, long in expected:
        task = task_of(estimator)
        assert (task.name, task.metric, task.rows, task.long_predictor()) == (
            name, metric, row_builder, long), type(estimator).__name__
    assert len({task.name for task in TASKS}) == len(TASKS) == len(expected)
    # train offers exactly the table's trainable tasks, each building its own estimator
    assert list(TRAINABLE) == ["classify", "embed", "transcribe"]
    for name in TRAINABLE:
        assert build_parser().parse_args(["train", "d", "--out", "m", "--task", name]).task == name
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "d", "--out", "m", "--task", "detect"])
    assert [TRAINABLE[n].estimator_class() for n in TRAINABLE] == [
        CRNNClassifier, CRNNEmbedder, CRNNTranscriber]
    # evaluate scores classifiers only; --proba is for classifiers
    assert [t.name for t in TASKS if t.evaluate] == ["classify", "multilabel"]
    from types import SimpleNamespace

    fitted, regressor = SimpleNamespace(classes_=np.array([0, 1])), SimpleNamespace()
    assert [t.name for t in TASKS if t.allows_proba(fitted)] == [
        "classify", "multilabel", "other"]  # 'other': any estimator with classes_
    assert [t.name for t in TASKS if t.allows_proba(regressor)] == ["classify", "multilabel"]


def test_the_cli_package_has_small_modules_and_no_import_cycle():
    import ast
    import graphlib

    folder = Path(sk_crnn.__file__).parent / "cli"
    imports = {}
    for path in folder.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) < 500, path.name
        imports[path.stem] = {node.module or "__init__" for node in ast.walk(ast.parse(text))
                              if isinstance(node, ast.ImportFrom) and node.level == 1}
    assert {"parser", "tasks", "safety", "train", "predict", "evaluate"} <= set(imports)
    assert not any("__init__" in deps for deps in imports.values())  # none imports the package
    list(graphlib.TopologicalSorter(imports).static_order())  # raises CycleError on a cycle
    assert not (folder.parent / "cli.py").exists()
    assert not (folder.parent / "_cli_predict.py").exists()
