"""The ``sk-crnn`` command line (also ``python -m sk_crnn``).

``demo`` trains on generated audio; ``train``, ``predict`` and ``evaluate`` work on audio files
(one sub-folder per class for training and evaluation; for speech recognition, ``train --task
transcribe`` reads a CSV/TSV manifest of paths and transcripts). A saved model is a fitted
scikit-learn Pipeline ``AudioLoader -> MelSpectrogramTransformer -> CRNNClassifier`` (or a
``CRNNEventDetector``, for which ``predict`` prints one row per detected event, or a
``CRNNTranscriber``: one transcript per file, a long file cut at pauses), written with
:func:`sk_crnn.save` (``.skcrnn``: data only, no code). A joblib/pickle model file is read only
with ``--allow-pickle``, since loading a pickle can run any code it holds.
"""

import argparse
import ast
import contextlib
import json
import numbers
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")

_MODEL_FILES = (
    "Model files: 'train' and 'demo' write .skcrnn files (sk_crnn.save), which hold only data "
    "and weights, so reading one cannot run code. A .joblib/.pkl model file is a pickle: "
    "loading a pickle can run any code it contains, so 'predict' and 'evaluate' open one only "
    "with --allow-pickle. Never pass --allow-pickle for a file from a source you do not trust."
)


class UserError(Exception):
    """A mistake in the command's input: reported in one line, exit code 2."""


class Interrupted(BaseException):  # noqa: N818 - it is not an error
    """Ctrl-C during training. Not a ``KeyboardInterrupt``: skorch's fit loop ends training
    quietly on one and returns a partly trained model, which the command must not save."""

    def __init__(self, saved=False):
        super().__init__("interrupted")
        self.saved = saved


# -- helpers ------------------------------------------------------------------------------------
def _printer(quiet):
    return (lambda *a, **k: None) if quiet else (lambda *a, **k: print(*a, **k, flush=True))


class _StopOnCtrlC:
    """While active (in the main thread), Ctrl-C raises :class:`Interrupted`; inside
    ``saving()`` it waits until the model file is written, then raises it."""

    def __init__(self):
        self._previous = None
        self._saving = False
        self._pending = False

    def _handler(self, signum, frame):
        if self._saving:
            self._pending = True
            return
        raise Interrupted()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    @contextlib.contextmanager
    def saving(self):
        self._saving = True
        try:
            yield
        finally:
            self._saving = False
        if self._pending:
            raise Interrupted(saved=True)


def _model_pipeline(sr, fitted_steps):
    """Prefix fitted waveform steps with a (stateless) AudioLoader so the model reads files."""
    from sklearn.pipeline import Pipeline

    from .io import AudioLoader

    return Pipeline([("audioloader", AudioLoader(sr=sr)), *fitted_steps])


def _check_positive(value, option, minimum=1):
    if value < minimum:
        raise UserError(f"{option} must be an integer >= {minimum}; got {value}.")


def _check_sr(sr):
    if sr is not None and not sr > 0:
        raise UserError(f"--sr must be a positive sample rate in Hz; got {sr}.")


def _check_out(path):
    """Fail before training, not after it, when the model cannot be written to ``path``."""
    p = Path(path)
    if p.is_dir():
        raise UserError(f"--out {str(path)!r} is a folder; give the name of the model file to "
                        f"write, for example {str(p / 'model.skcrnn')!r}.")
    parent = p.parent
    if not parent.exists():
        raise UserError(f"--out {str(path)!r}: the folder {str(parent)!r} does not exist; "
                        "create it first or choose another path.")
    if not parent.is_dir():
        raise UserError(f"--out {str(path)!r}: {str(parent)!r} is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"--out {str(path)!r}: the folder {str(parent)!r} is not writable.")


def _check_report_dir(path):
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"--report {str(path)!r} is a file; pass a folder (it is created if "
                        "missing) for report.txt, report.json and confusion_matrix.png.")
    existing = p
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"--report {str(path)!r}: {str(existing)!r} is a file, so the folder "
                        "cannot be created.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"--report {str(path)!r}: the folder {str(existing)!r} is not "
                        "writable.")


def _save_model(model, out, stop):
    """Write the model (sk_crnn's format; a joblib pickle for a .joblib/.pkl suffix) through a
    temporary file, so that an existing file is only ever replaced by a complete model."""
    from .persistence import atomic_write, save

    with stop.saving():
        if Path(out).suffix.lower() in PICKLE_SUFFIXES:
            import joblib

            atomic_write(out, lambda f: joblib.dump(model, f))
            return ("a joblib pickle, as its suffix asks; 'sk-crnn predict' reads it only with "
                    "--allow-pickle. Use the .skcrnn suffix for a file that cannot run code")
        save(model, out)
        return None


def _parse_param(text):
    if "=" not in text:
        raise UserError(f"--param {text!r} must look like NAME=VALUE, e.g. "
                        "crnnclassifier__lr=0.003")
    name, value = text.split("=", 1)
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass  # a plain string such as lstm
    return name.strip(), value


def _set_param(pipe, name, value):
    """``pipe.set_params(name=value)``, refusing a value whose type cannot be right."""
    current = pipe.get_params().get(name)
    if isinstance(current, bool) and not isinstance(value, bool):
        raise UserError(f"--param {name}={value!r}: {name} is True or False (default "
                        f"{current}).")
    if isinstance(current, numbers.Real) and not isinstance(current, bool) and (
            isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise UserError(f"--param {name}={value!r}: {name} takes a number (default "
                        f"{current!r}); got {type(value).__name__} {value!r}.")
    try:
        pipe.set_params(**{name: value})
    except ValueError as exc:
        steps = ", ".join(f"{n}__<param>" for n in pipe.named_steps)
        raise UserError(f"--param {name}: no such parameter of the pipeline; names look "
                        f"like {steps} (e.g. crnnclassifier__lr, "
                        "crnnclassifier__module__rnn_type).") from exc


def _load_pickle(path):
    import joblib

    try:
        return joblib.load(path)
    except (AttributeError, ImportError) as exc:  # includes ModuleNotFoundError
        raise UserError(
            f"{str(path)!r} uses a class or function that cannot be imported here ({exc}); a "
            "model built with your own code (such as a custom module class) can be loaded only "
            "in Python, after importing that code, not by the sk-crnn command."
        ) from exc
    except Exception as exc:  # any other unpickling failure: not a model file of ours
        raise UserError(f"{str(path)!r} is not an sk-crnn model file ({type(exc).__name__}); "
                        "create one with 'sk-crnn train' or 'sk-crnn demo'.") from exc


def _load_model(path, allow_pickle=False):
    from sklearn.pipeline import Pipeline

    from ._base import SpectrogramNet
    from .io import AudioLoader
    from .persistence import ModelFileError, load, sniff

    p = Path(path)
    if p.is_dir():
        raise UserError(f"model {str(path)!r} is a folder, not a model file; pass the file "
                        "that 'sk-crnn train --out' wrote.")
    if not p.is_file():
        raise UserError(f"model file {str(path)!r} does not exist.")
    kind = sniff(p)
    if kind == "sk-crnn":
        try:
            model = load(p)
        except ModelFileError as exc:
            raise UserError(str(exc)) from exc
    elif kind == "pickle":
        if not allow_pickle:
            raise UserError(
                f"{str(path)!r} is a pickle (joblib) file, and loading a pickle can run any "
                "code it contains, so sk-crnn opens it only with --allow-pickle: pass it only "
                "for a file you made yourself or otherwise trust (re-save such a model with "
                "sk_crnn.save as a .skcrnn file, which cannot run code)."
            )
        model = _load_pickle(p)
    else:
        raise UserError(f"{str(path)!r} is not an sk-crnn model file; create one with "
                        "'sk-crnn train' or 'sk-crnn demo'.")
    if not (isinstance(model, Pipeline) and isinstance(model.steps[0][1], AudioLoader)
            and isinstance(model.steps[-1][1], SpectrogramNet)):  # any sk_crnn estimator
        raise UserError(f"{str(path)!r} holds a {type(model).__name__}, not an sk-crnn model "
                        "(a Pipeline from AudioLoader to a CRNN estimator); create one with "
                        "'sk-crnn train' or 'sk-crnn demo'.")
    _check_weights(model.steps[-1][1], path)
    return model


def _check_weights(net, path):
    """Refuse a network whose weights are not finite: it would print p=nan for every file."""
    import torch

    module = getattr(net, "module_", None)
    if not isinstance(module, torch.nn.Module):
        raise UserError(f"{str(path)!r} holds an unfitted {type(net).__name__}; train it "
                        "first.")
    for name, tensor in module.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise UserError(f"{str(path)!r}: the network weights {name} hold NaN or infinite "
                            "values, so the model cannot predict (it was saved after a failed "
                            "training, or altered); train it again.")


def _show_progress(model, quiet):
    """Progress bars (on stderr, when it is a terminal) while a loaded model computes
    features; none with --quiet."""
    from .transformers import MelSpectrogramTransformer

    for _, step in model.steps[1:-1]:
        if isinstance(step, MelSpectrogramTransformer):
            step.progress_bar = not quiet and sys.stderr.isatty()


def _collect_files(inputs):
    from .datasets import _find_audio_files

    files = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = _find_audio_files(p, AUDIO_SUFFIXES)
            if not found:
                raise UserError(
                    f"folder {item!r} holds no audio files ({', '.join(AUDIO_SUFFIXES)}).")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise UserError(f"{item!r} does not exist.")
    return [str(f) for f in files]


def _read_audio(paths, args, *, sr, mono=True, offset=0.0, duration=None, n_jobs=-1,
                allow_none=False):
    """Waveforms of ``paths`` and the paths read; with --on-error skip, unreadable files are
    left out and reported on stderr."""
    from .io import _AudioFileError, load_audio

    try:
        waves, skipped = load_audio(
            paths, sr=sr, mono=mono, offset=offset, duration=duration, n_jobs=n_jobs,
            on_error=args.on_error, progress_bar=False if args.quiet else None,
            return_skipped=True)
    except _AudioFileError as exc:
        raise UserError(f"could not read audio file '{exc.path}': {exc.reason}. Check the "
                        "file, or pass --on-error skip to leave out the files that cannot be "
                        "read.") from exc
    if skipped:
        print(f"sk-crnn {args.command}: skipped {len(skipped)} of {len(paths)} files that "
              f"could not be read: {', '.join(skipped)}", file=sys.stderr)
    if not waves and not allow_none:
        raise UserError("none of the files could be read.")
    skipped = set(skipped)
    return waves, [p for p in paths if p not in skipped]


def _loader_audio(model, paths, args, allow_none=False):
    loader = model.steps[0][1]
    return _read_audio(paths, args, sr=loader.sr, mono=getattr(loader, "mono", True),
                       offset=getattr(loader, "offset", 0.0),
                       duration=getattr(loader, "duration", None),
                       n_jobs=getattr(loader, "n_jobs", None), allow_none=allow_none)


def _load_folder(root, sr, args):
    import numpy as np

    from .datasets import load_audio_folder

    path = Path(root)
    if path.is_file():
        raise UserError(f"data folder {str(root)!r} is a file; pass a folder that holds one "
                        "sub-folder of audio files per class.")
    if not path.is_dir():
        raise UserError(f"data folder {str(root)!r} does not exist.")
    bunch = load_audio_folder(root, sr=sr, load=False)
    labels = np.asarray([bunch.target_names[t] for t in bunch.target])
    waves, kept = _read_audio(list(bunch.data), args, sr=sr)
    if len(kept) < len(labels):
        labels = labels[np.isin(bunch.data, kept)]
    return bunch, waves, labels


def _load_manifest(manifest, sr, args):
    """Waveforms and transcripts of the files a transcript manifest lists (see
    :func:`sk_crnn.transcription.read_manifest`)."""
    from .transcription import read_manifest

    if Path(manifest).is_dir():
        raise UserError(f"--task transcribe reads a manifest file, but {str(manifest)!r} is a "
                        "folder; pass the CSV/TSV file with the columns path and transcript.")
    try:
        paths, transcripts = read_manifest(manifest)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    waves, kept = _read_audio(paths, args, sr=sr)
    kept = set(kept)
    return waves, [t for p, t in zip(paths, transcripts) if p in kept]


# -- commands -----------------------------------------------------------------------------------
def _demo(args):
    import numpy as np
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.pipeline import make_pipeline

    from .baselines import mfcc_baseline
    from .datasets import make_event_sequences
    from .estimators import CRNNClassifier
    from .transformers import MelSpectrogramTransformer

    say = _printer(args.quiet)
    _check_positive(args.epochs, "--epochs")
    _check_positive(args.n_clips, "--n-clips", 12)
    if args.n_jobs == 0:
        raise UserError("--n-jobs must not be 0: pass 1 for no parallelism, a number of "
                        "parallel fits, or -1 for all cores.")
    _check_out(args.out)
    sr, n_fft, hop = 16000, 512, 256
    with _StopOnCtrlC() as stop:
        X, y = make_event_sequences(args.n_clips, sr=sr, duration=1.0,
                                    random_state=args.random_state)
        say(f"Generated {len(X)} one-second clips at {sr} Hz: classes "
            f"{sorted(set(y.tolist()))} differ only in the ORDER of two sound events.")
        mel = MelSpectrogramTransformer(sr=sr, n_fft=n_fft, hop_length=hop, n_mels=40).fit(X[:1])
        start = time.perf_counter()
        features = mel.transform(X)
        seconds = time.perf_counter() - start
        say(f"Log-mel features: shape {features.shape} (clips, mel bands, frames) in "
            f"{seconds:.3f} s ({len(X) / seconds:,.0f} clips/s).")

        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, stratify=y, random_state=args.random_state)
        pipe = make_pipeline(
            mel, CRNNClassifier(max_epochs=args.epochs, module__conv_channels=(16, 32),
                                module__rnn_hidden=32, random_state=args.random_state))
        grid = {"crnnclassifier__module__pooling": ["mean", "attention"]}
        say(f"GridSearchCV over {grid} with 3-fold cross-validation, {args.epochs} epochs per "
            "fit...")
        search = GridSearchCV(pipe, grid, cv=3, n_jobs=args.n_jobs)
        start = time.perf_counter()
        search.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - start
        say(f"Best parameters {search.best_params_}: cross-validated accuracy "
            f"{search.best_score_:.3f} ({fit_seconds:.1f} s for the search).")
        accuracy = search.score(X_test, y_test)
        base = mfcc_baseline(sr, n_fft, hop).fit(X_train, y_train).score(X_test, y_test)
        say(f"Held-out accuracy on {len(X_test)} clips: CRNN {accuracy:.3f}; "
            f"MFCC statistics + logistic regression {base:.3f} (chance {1 / len(set(y)):.3f}).")
        model = _model_pipeline(sr, search.best_estimator_.steps)
        note = _save_model(model, args.out, stop)
    out = Path(args.out)
    say(f"Saved the fitted model to {out.resolve()}" + (f" ({note})." if note else ""))
    say(f"Try: sk-crnn predict {out} some_audio.wav")
    return 0 if np.isfinite(accuracy) else 1


def _train(args):
    import numpy as np
    from sklearn.model_selection import (
        KFold,
        StratifiedKFold,
        cross_val_score,
        train_test_split,
    )
    from sklearn.pipeline import make_pipeline

    from .estimators import CRNNClassifier
    from .retrieval import CRNNEmbedder
    from .transcription import CRNNTranscriber
    from .transformers import MelSpectrogramTransformer

    say = _printer(args.quiet)
    transcribe = args.task == "transcribe"
    _check_sr(args.sr)
    _check_positive(args.epochs, "--epochs")
    for value, option in [(args.n_mels, "--n-mels"), (args.n_fft, "--n-fft"),
                          (args.hop_length, "--hop-length")]:
        _check_positive(value, option)
    if args.cv == 1 or args.cv < 0:
        raise UserError(f"--cv must be 0 (a 20% validation split) or a number of folds >= 2; "
                        f"got {args.cv}.")
    _check_out(args.out)
    params = dict(_parse_param(p) for p in args.param)
    pipe = make_pipeline(
        MelSpectrogramTransformer(sr=args.sr, n_mels=args.n_mels, n_fft=args.n_fft,
                                  hop_length=args.hop_length, device=args.device,
                                  progress_bar=not args.quiet,
                                  normalize="band" if transcribe else None),
        {"embed": CRNNEmbedder, "transcribe": CRNNTranscriber}.get(args.task, CRNNClassifier)(
            max_epochs=args.epochs, device=args.device, random_state=args.random_state,
            progress_bar=not args.quiet))
    step = pipe.steps[-1][0]
    metric = {"embed": "precision@10", "transcribe": "1 - WER"}.get(args.task, "accuracy")
    for name, value in params.items():
        _set_param(pipe, name, value)
    with _StopOnCtrlC() as stop:
        if transcribe:
            waves, labels = _load_manifest(args.data_dir, args.sr, args)
            labels = np.asarray(labels, dtype=object)
            say(f"Loaded {len(waves)} files with transcripts from {args.data_dir}.")
        else:
            bunch, waves, labels = _load_folder(args.data_dir, args.sr, args)
            say(f"Loaded {len(waves)} files in {len(bunch.target_names)} classes from "
                f"{args.data_dir}.")
        if args.cv:
            cv = (KFold if transcribe else StratifiedKFold)(
                args.cv, shuffle=True, random_state=args.random_state)
            scores = cross_val_score(pipe, waves, labels, cv=cv)
            say(f"{args.cv}-fold cross-validated {metric}: {scores.mean():.3f} "
                f"(+/- {scores.std():.3f})")
        else:
            tr, va = train_test_split(range(len(waves)), test_size=0.2,
                                      stratify=None if transcribe else labels,
                                      random_state=args.random_state)
            pipe.fit([waves[i] for i in tr], labels[tr])
            score = pipe.score([waves[i] for i in va], labels[va])
            say(f"Validation {metric} (20% held out): {score:.3f}")
        if not args.quiet:
            pipe.set_params(**{f"{step}__verbose": 1})
        say("Training the final model on all files...")
        pipe.fit(waves, labels)
        pipe.set_params(**{f"{step}__verbose": 0, f"{step}__progress_bar": False},
                        melspectrogramtransformer__progress_bar=False)
        note = _save_model(_model_pipeline(args.sr, pipe.steps), args.out, stop)
    say(f"Saved the model to {Path(args.out).resolve()}" + (f" ({note})." if note else ""))
    return 0


def _predict(args):
    from ._cli_predict import predict_command

    return predict_command(args)


def _similar(args):
    from .retrieval import SimilarityIndex

    model = _load_model(args.model, args.allow_pickle)
    _check_positive(args.k, "-k")
    if not hasattr(model, "transform"):
        raise UserError(f"{args.model} holds a {type(model.steps[-1][1]).__name__}, which gives "
                        "no embeddings; train one with 'sk-crnn train --task embed'.")
    _show_progress(model, args.quiet)
    catalogue, catalogue_files = _loader_audio(model, _collect_files([args.catalogue]), args)
    queries, query_files = _loader_audio(model, _collect_files(args.queries), args)
    index = SimilarityIndex(model[1:]).fit(catalogue, ids=catalogue_files)
    distances, ids = index.kneighbors(queries, n_neighbors=min(args.k, len(catalogue_files)))
    rows = [{"query": query, "rank": rank + 1, "path": str(path),
             "similarity": round(1.0 - float(distance), 4)}
            for query, row_ids, row_dist in zip(query_files, ids, distances)
            for rank, (path, distance) in enumerate(zip(row_ids, row_dist))]
    _write_rows(rows, args.format, keys=["query", "rank", "path", "similarity"])
    return 0


def _write_rows(rows, fmt, keys=None):
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return
    keys = list(rows[0]) if keys is None else keys
    if fmt == "csv":
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        return
    widths = {k: max([len(k)] + [len(str(r[k])) for r in rows]) for k in keys}
    print("  ".join(k.ljust(widths[k]) for k in keys))
    for r in rows:
        print("  ".join(str(r[k]).ljust(widths[k]) for k in keys))


def _evaluate(args):
    import numpy as np
    from sklearn.metrics import accuracy_score, classification_report

    from .datasets import load_audio_folder
    from .estimators import CRNNClassifier

    say = _printer(args.quiet)
    if args.report:
        _check_report_dir(args.report)
    model = _load_model(args.model, args.allow_pickle)
    if not isinstance(model.steps[-1][1], CRNNClassifier):
        raise UserError(f"'sk-crnn evaluate' scores a classifier on a folder of class "
                        f"sub-folders; {args.model!r} holds a "
                        f"{type(model.steps[-1][1]).__name__}. Use 'sk-crnn predict' for it.")
    if args.report:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UserError("--report draws a confusion matrix and needs matplotlib: "
                            'pip install "sk-crnn[plot]" (or pip install matplotlib).') from None
    _show_progress(model, args.quiet)
    data = Path(args.data_dir)
    if data.is_file():
        raise UserError(f"data folder {args.data_dir!r} is a file; pass a folder that holds "
                        "one sub-folder of audio files per class.")
    if not data.is_dir():
        raise UserError(f"data folder {args.data_dir!r} does not exist.")
    sr = model.steps[0][1].sr
    bunch = load_audio_folder(args.data_dir, sr=sr, load=False)
    y_true = np.asarray([bunch.target_names[t] for t in bunch.target])
    classes = model.steps[-1][1].classes_
    unknown = sorted(set(y_true) - {str(c) for c in classes})
    if unknown:
        raise UserError(f"class folders {unknown} in {args.data_dir!r} are not classes of the "
                        f"model ({list(classes)}).")
    waves, kept = _loader_audio(model, list(bunch.data), args)
    if len(kept) < len(y_true):
        y_true = y_true[np.isin(bunch.data, kept)]
    y_pred = np.asarray(model[1:].predict(waves), dtype=str)
    accuracy = accuracy_score(y_true, y_pred)
    report = classification_report(y_true, y_pred, zero_division=0)
    print(f"accuracy: {accuracy:.4f} on {len(y_true)} files")
    print(report)
    if args.report:
        _write_report(Path(args.report), y_true, y_pred, accuracy, report)
        say(f"Wrote report.txt, report.json and confusion_matrix.png to {Path(args.report)}")
    return 0


def _write_report(folder, y_true, y_pred, accuracy, report):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, classification_report

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.txt").write_text(f"accuracy: {accuracy:.4f}\n\n{report}")
    as_dict = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    (folder / "report.json").write_text(json.dumps(as_dict, indent=2))
    display = ConfusionMatrixDisplay.from_predictions(y_true, y_pred, xticks_rotation=45)
    display.figure_.tight_layout()
    display.figure_.savefig(folder / "confusion_matrix.png", dpi=100)
    plt.close(display.figure_)


# -- parser -------------------------------------------------------------------------------------
def _add_on_error(parser):
    parser.add_argument("--on-error", choices=["raise", "skip"], default="raise",
                        help="what to do with an audio file that cannot be read: stop with an "
                             "error (default), or skip it and list the skipped files on stderr")


def _add_allow_pickle(parser):
    parser.add_argument("--allow-pickle", action="store_true",
                        help="also read a joblib/pickle model file. Loading a pickle can run "
                             "any code it contains: use this only for files you made yourself "
                             "or otherwise trust")


def build_parser():
    """The argument parser of ``sk-crnn``."""
    parser = argparse.ArgumentParser(
        prog="sk-crnn", description="Convolutional recurrent neural networks for audio.",
        epilog=_MODEL_FILES)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="grid-search a CRNN pipeline on generated audio",
                          epilog=_MODEL_FILES)
    demo.add_argument("--n-clips", type=int, default=400)
    demo.add_argument("--epochs", type=int, default=15)
    demo.add_argument("--n-jobs", type=int, default=1, help="parallel fits of the grid search")
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--out", default="sk_crnn_demo.skcrnn",
                      help="where to save the model (.skcrnn; a .joblib suffix writes a pickle)")
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(func=_demo)

    train = sub.add_parser("train", help="train on a folder with one sub-folder per class",
                           epilog=_MODEL_FILES)
    train.add_argument("data_dir", help="a folder with one sub-folder of audio files per "
                       "class, or with --task transcribe a transcript manifest (CSV/TSV)")
    train.add_argument("--task", choices=["classify", "embed", "transcribe"],
                       default="classify",
                       help="classify: a CRNNClassifier of the folder labels; embed: a "
                            "CRNNEmbedder whose embeddings put clips of one label together "
                            "(for 'sk-crnn similar'); transcribe: a CRNNTranscriber (speech "
                            "recognition), DATA_DIR being then a manifest: a CSV/TSV file "
                            "with a header naming the columns path and transcript (or "
                            "sentence, as Common Voice's .tsv files)")
    train.add_argument("--out", required=True,
                       help="model file to write (.skcrnn; a .joblib suffix writes a pickle); "
                            "its folder must exist. An existing file is replaced only once "
                            "training has finished")
    train.add_argument("--sr", type=float, default=16000)
    train.add_argument("--n-mels", type=int, default=64)
    train.add_argument("--n-fft", type=int, default=512)
    train.add_argument("--hop-length", type=int, default=160)
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--device", default="cpu")
    train.add_argument("--cv", type=int, default=0, help="K-fold cross-validation score")
    train.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="any Pipeline parameter, e.g. crnnclassifier__lr=0.003")
    train.add_argument("--random-state", type=int, default=0)
    _add_on_error(train)
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(func=_train)

    predict = sub.add_parser("predict", help="label audio files with a trained model",
                             epilog=_MODEL_FILES)
    predict.add_argument("model")
    predict.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    predict.add_argument("--proba", action="store_true", help="add class probabilities")
    predict.add_argument("--format", choices=["table", "csv", "json"], default="table")
    _add_on_error(predict)
    _add_allow_pickle(predict)
    predict.add_argument("--quiet", action="store_true")
    predict.set_defaults(func=_predict)

    evaluate = sub.add_parser("evaluate", help="score a model on a class-per-folder tree",
                              epilog=_MODEL_FILES)
    evaluate.add_argument("model")
    evaluate.add_argument("data_dir")
    evaluate.add_argument("--report", metavar="DIR",
                          help="write report.txt, report.json and confusion_matrix.png here")
    _add_on_error(evaluate)
    _add_allow_pickle(evaluate)
    evaluate.add_argument("--quiet", action="store_true")
    evaluate.set_defaults(func=_evaluate)

    similar = sub.add_parser("similar", help="the most similar files of a catalogue folder",
                             epilog=_MODEL_FILES)
    similar.add_argument("model", help="a model with embeddings ('sk-crnn train --task embed')")
    similar.add_argument("queries", nargs="+", metavar="QUERY_FILE_OR_DIR")
    similar.add_argument("--catalogue", required=True, metavar="DIR",
                         help="folder of audio files to search (searched recursively)")
    similar.add_argument("-k", type=int, default=10, help="neighbours per query")
    similar.add_argument("--format", choices=["table", "csv", "json"], default="table")
    _add_on_error(similar)
    _add_allow_pickle(similar)
    similar.add_argument("--quiet", action="store_true")
    similar.set_defaults(func=_similar)
    return parser


def _interrupted_message(args, existed, saved):
    out = getattr(args, "out", None)
    if saved:
        return f"interrupted (Ctrl-C) after the model was saved to {out}."
    if out is None:
        return "interrupted (Ctrl-C)."
    left = "is unchanged" if existed else "was not written"
    return f"interrupted (Ctrl-C): training stopped and nothing was saved ({out} {left})."


def main(argv=None):
    """Entry point of ``sk-crnn``; returns the exit code (0 on success, 2 on bad input, 130
    after Ctrl-C)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if not argv:
        argv = ["demo"]
    args = parser.parse_args(argv)
    out = getattr(args, "out", None)
    existed = out is not None and Path(out).exists()

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"sk-crnn {args.command}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        try:
            return args.func(args)
        except UserError as exc:
            print(f"sk-crnn {args.command}: error: {exc}", file=sys.stderr)
            return 2
        except (ValueError, TypeError, OSError) as exc:
            # Our checks raise these with a message that names the input and the fix.
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(f"sk-crnn {args.command}: error: {message}", file=sys.stderr)
            return 2
        except Interrupted as exc:
            print(f"sk-crnn {args.command}: {_interrupted_message(args, existed, exc.saved)}",
                  file=sys.stderr)
            return 130
        except KeyboardInterrupt:
            print(f"sk-crnn {args.command}: interrupted (Ctrl-C).", file=sys.stderr)
            return 130
