"""The ``sk-crnn`` command line (also ``python -m sk_crnn``).

``demo`` trains on generated audio; ``train``, ``predict`` and ``evaluate`` work on audio files
(one sub-folder per class for training and evaluation). A saved model is a joblib file of a
fitted scikit-learn Pipeline ``AudioLoader -> MelSpectrogramTransformer -> CRNNClassifier``
(or a ``CRNNEventDetector``, for which ``predict`` prints one row per detected event).
"""

import argparse
import ast
import json
import sys
import time
from pathlib import Path

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


class UserError(Exception):
    """A mistake in the command's input: reported in one line, exit code 2."""


# -- helpers ------------------------------------------------------------------------------------
def _printer(quiet):
    return (lambda *a, **k: None) if quiet else (lambda *a, **k: print(*a, **k, flush=True))


def mean_std_pool(features):
    """Bag-of-frames summary of (n_clips, n_bands, n_frames) features: per-band mean and std."""
    import numpy as np

    return np.concatenate([features.mean(axis=2), features.std(axis=2)], axis=1)


def _baseline(sr, n_fft, hop_length):
    """MFCC statistics + logistic regression: the classic bag-of-frames baseline."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from .transformers import MelSpectrogramTransformer

    return make_pipeline(
        MelSpectrogramTransformer(sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=40,
                                  n_mfcc=20),
        FunctionTransformer(mean_std_pool), StandardScaler(), LogisticRegression(max_iter=2000))


def _model_pipeline(sr, fitted_steps):
    """Prefix fitted waveform steps with a (stateless) AudioLoader so the model reads files."""
    from sklearn.pipeline import Pipeline

    from .io import AudioLoader

    return Pipeline([("audioloader", AudioLoader(sr=sr)), *fitted_steps])


def _parse_param(text):
    if "=" not in text:
        raise UserError(f"--param {text!r} must look like NAME=VALUE, e.g. "
                        "crnnclassifier__lr=0.003")
    name, value = text.split("=", 1)
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass  # a plain string such as lstm
    return name.strip(), value


def _check_sr(sr):
    if sr is not None and not sr > 0:
        raise UserError(f"--sr must be a positive sample rate in Hz; got {sr}.")


def _load_model(path):
    import joblib
    from sklearn.pipeline import Pipeline

    from .detection import CRNNEventDetector
    from .estimators import CRNNClassifier, CRNNRegressor
    from .io import AudioLoader

    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {str(path)!r} does not exist.")
    try:
        model = joblib.load(path)
    except Exception as exc:  # any unpickling failure means: not a model file of ours
        raise UserError(f"{str(path)!r} is not an sk-crnn model file ({type(exc).__name__}); "
                        "create one with 'sk-crnn train' or 'sk-crnn demo'.") from exc
    if not (isinstance(model, Pipeline) and isinstance(model.steps[0][1], AudioLoader)
            and isinstance(model.steps[-1][1],
                           (CRNNClassifier, CRNNRegressor, CRNNEventDetector))):
        raise UserError(f"{str(path)!r} holds a {type(model).__name__}, not an sk-crnn model "
                        "(a Pipeline from AudioLoader to a CRNN estimator); create one with "
                        "'sk-crnn train' or 'sk-crnn demo'.")
    return model


def _show_progress(model, quiet):
    """Progress bars (on stderr, when it is a terminal) while a loaded model reads files and
    computes features; none with --quiet."""
    from .transformers import MelSpectrogramTransformer

    # Set directly: a model saved by an older version has an AudioLoader without `progress`.
    model.steps[0][1].progress = False if quiet else None  # None: only for many files
    for _, step in model.steps[1:-1]:
        if isinstance(step, MelSpectrogramTransformer):
            step.progress_bar = not quiet and sys.stderr.isatty()


def _collect_files(inputs):
    files = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*")
                           if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file())
            if not found:
                raise UserError(
                    f"folder {item!r} holds no audio files ({', '.join(AUDIO_SUFFIXES)}).")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise UserError(f"{item!r} does not exist.")
    return [str(f) for f in files]


def _load_folder(root, sr, quiet):
    from .datasets import load_audio_folder
    from .io import load_audio

    if not Path(root).is_dir():
        raise UserError(f"data folder {str(root)!r} does not exist.")
    bunch = load_audio_folder(root, sr=sr, load=False)
    waves = load_audio(list(bunch.data), sr=sr, n_jobs=-1, progress=not quiet)
    labels = [bunch.target_names[t] for t in bunch.target]
    return bunch, waves, labels


# -- commands -----------------------------------------------------------------------------------
def _demo(args):
    import joblib
    import numpy as np
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.pipeline import make_pipeline

    from .datasets import make_event_sequences
    from .estimators import CRNNClassifier
    from .transformers import MelSpectrogramTransformer

    say = _printer(args.quiet)
    sr, n_fft, hop = 16000, 512, 256
    X, y = make_event_sequences(args.n_clips, sr=sr, duration=1.0,
                                random_state=args.random_state)
    say(f"Generated {len(X)} one-second clips at {sr} Hz: classes {sorted(set(y.tolist()))} "
        "differ only "
        "in the ORDER of two sound events.")
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
    say(f"GridSearchCV over {grid} with 3-fold cross-validation, {args.epochs} epochs per fit...")
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=args.n_jobs)
    start = time.perf_counter()
    search.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    say(f"Best parameters {search.best_params_}: cross-validated accuracy "
        f"{search.best_score_:.3f} ({fit_seconds:.1f} s for the search).")
    accuracy = search.score(X_test, y_test)
    base = _baseline(sr, n_fft, hop).fit(X_train, y_train).score(X_test, y_test)
    say(f"Held-out accuracy on {len(X_test)} clips: CRNN {accuracy:.3f}; "
        f"MFCC statistics + logistic regression {base:.3f} (chance {1 / len(set(y)):.3f}).")
    model = _model_pipeline(sr, search.best_estimator_.steps)
    out = Path(args.out)
    joblib.dump(model, out)
    say(f"Saved the fitted model to {out.resolve()}")
    say(f"Try: sk-crnn predict {out} some_audio.wav")
    return 0 if np.isfinite(accuracy) else 1


def _train(args):
    import joblib
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
    from sklearn.pipeline import make_pipeline

    from .estimators import CRNNClassifier
    from .transformers import MelSpectrogramTransformer

    say = _printer(args.quiet)
    _check_sr(args.sr)
    params = dict(_parse_param(p) for p in args.param)
    pipe = make_pipeline(
        MelSpectrogramTransformer(sr=args.sr, n_mels=args.n_mels, n_fft=args.n_fft,
                                  hop_length=args.hop_length, device=args.device,
                                  progress_bar=not args.quiet),
        CRNNClassifier(max_epochs=args.epochs, device=args.device,
                       random_state=args.random_state, progress_bar=not args.quiet))
    for name, value in params.items():
        try:
            pipe.set_params(**{name: value})
        except ValueError as exc:
            steps = ", ".join(f"{n}__<param>" for n in pipe.named_steps)
            raise UserError(f"--param {name}: no such parameter of the pipeline; names look "
                            f"like {steps} (e.g. crnnclassifier__lr, "
                            "crnnclassifier__module__rnn_type).") from exc
    bunch, waves, labels = _load_folder(args.data_dir, args.sr, args.quiet)
    labels = np.asarray(labels)
    say(f"Loaded {len(waves)} files in {len(bunch.target_names)} classes from {args.data_dir}.")
    if args.cv:
        cv = StratifiedKFold(args.cv, shuffle=True, random_state=args.random_state)
        scores = cross_val_score(pipe, waves, labels, cv=cv)
        say(f"{args.cv}-fold cross-validated accuracy: {scores.mean():.3f} "
            f"(+/- {scores.std():.3f})")
    else:
        idx = np.arange(len(waves))
        tr, va = train_test_split(idx, test_size=0.2, stratify=labels,
                                  random_state=args.random_state)
        pipe.fit([waves[i] for i in tr], labels[tr])
        score = pipe.score([waves[i] for i in va], labels[va])
        say(f"Validation accuracy (20% held out): {score:.3f}")
    if not args.quiet:
        pipe.set_params(crnnclassifier__verbose=1)
    say("Training the final model on all files...")
    pipe.fit(waves, labels)
    pipe.set_params(crnnclassifier__verbose=0, crnnclassifier__progress_bar=False,
                    melspectrogramtransformer__progress_bar=False)
    model = _model_pipeline(args.sr, pipe.steps)
    joblib.dump(model, args.out)
    say(f"Saved the model to {Path(args.out).resolve()}")
    return 0


def _predict(args):
    import numpy as np

    model = _load_model(args.model)
    files = _collect_files(args.inputs)
    _show_progress(model, args.quiet)
    crnn = model.steps[-1][1]
    from .detection import CRNNEventDetector

    if isinstance(crnn, CRNNEventDetector):  # one row per detected event
        if args.proba:
            raise UserError("--proba is not available for an event detector model.")
        loader = model.steps[0][1]
        waves = loader.transform(files)
        # the rate the features assume: the loader's, or the transformer's with sr=None
        rate = loader.sr or getattr(model.steps[1][1], "sr", None)
        durations = [len(wave) / rate if rate else np.inf for wave in waves]
        # the detector sees each clip padded or cut to its fitted length
        if crnn.frame_rate and rate:
            seen = (crnn.n_frames_in_ - 1) / crnn.frame_rate  # the last frame's time
            for path, duration in zip(files, durations):
                if duration > seen + 1 / crnn.frame_rate:
                    print(f"sk-crnn predict: warning: {path} lasts {duration:.2f} s, but the "
                          f"model was trained on {seen:.2f} s clips and looks at its first "
                          f"{seen:.2f} s only; cut the file into pieces of that length to "
                          "detect events in all of it.", file=sys.stderr)
        rows = [{"path": path, "onset": round(onset, 3),
                 "offset": round(min(offset, duration), 3), "label": _plain(label)}
                for path, duration, events in zip(files, durations, model[1:].predict(waves))
                for onset, offset, label in events
                if onset < duration]  # nothing from the zero padding after a short file
        _write_rows(rows, args.format, keys=["path", "onset", "offset", "label"])
        return 0
    is_classifier = hasattr(crnn, "classes_")
    if args.proba and not is_classifier:
        raise UserError("--proba needs a classifier model.")
    pred = model.predict(files)
    rows = []
    proba = model.predict_proba(files) if args.proba else None
    for i, path in enumerate(files):
        row = {"path": path, "label": _plain(pred[i])}
        if proba is not None:
            row.update({f"p({_plain(c)})": round(float(p), 4)
                        for c, p in zip(crnn.classes_, proba[i])})
        rows.append(row)
    _write_rows(rows, args.format)
    return 0 if len(rows) == len(np.atleast_1d(pred)) else 1


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


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

    say = _printer(args.quiet)
    model = _load_model(args.model)
    from .estimators import CRNNClassifier

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
    sr = model.steps[0][1].sr
    if not Path(args.data_dir).is_dir():
        raise UserError(f"data folder {args.data_dir!r} does not exist.")
    from .datasets import load_audio_folder

    bunch = load_audio_folder(args.data_dir, sr=sr, load=False)
    y_true = np.asarray([bunch.target_names[t] for t in bunch.target])
    unknown = sorted(set(y_true) - {str(c) for c in model.steps[-1][1].classes_})
    if unknown:
        raise UserError(f"class folders {unknown} in {args.data_dir!r} are not classes of the "
                        f"model ({list(model.steps[-1][1].classes_)}).")
    y_pred = np.asarray(model.predict(np.asarray(bunch.data)), dtype=str)
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
def build_parser():
    """The argument parser of ``sk-crnn``."""
    parser = argparse.ArgumentParser(
        prog="sk-crnn", description="Convolutional recurrent neural networks for audio.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="grid-search a CRNN pipeline on generated audio")
    demo.add_argument("--n-clips", type=int, default=400)
    demo.add_argument("--epochs", type=int, default=15)
    demo.add_argument("--n-jobs", type=int, default=1, help="parallel fits of the grid search")
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--out", default="sk_crnn_demo.joblib", help="where to save the model")
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(func=_demo)

    train = sub.add_parser("train", help="train on a folder with one sub-folder per class")
    train.add_argument("data_dir")
    train.add_argument("--out", required=True, help="model file to write (.joblib)")
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
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(func=_train)

    predict = sub.add_parser("predict", help="label audio files with a trained model")
    predict.add_argument("model")
    predict.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    predict.add_argument("--proba", action="store_true", help="add class probabilities")
    predict.add_argument("--format", choices=["table", "csv", "json"], default="table")
    predict.add_argument("--quiet", action="store_true")
    predict.set_defaults(func=_predict)

    evaluate = sub.add_parser("evaluate", help="score a model on a class-per-folder tree")
    evaluate.add_argument("model")
    evaluate.add_argument("data_dir")
    evaluate.add_argument("--report", metavar="DIR",
                          help="write report.txt, report.json and confusion_matrix.png here")
    evaluate.add_argument("--quiet", action="store_true")
    evaluate.set_defaults(func=_evaluate)
    return parser


def main(argv=None):
    """Entry point of ``sk-crnn``; returns the exit code (0 on success, 2 on bad input)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if not argv:
        argv = ["demo"]
    args = parser.parse_args(argv)
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
    except KeyboardInterrupt:
        print(f"sk-crnn {args.command}: interrupted", file=sys.stderr)
        return 130
