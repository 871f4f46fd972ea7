"""``sk-crnn demo`` and ``sk-crnn train``: fit a pipeline, report its score, save it."""

import time
from pathlib import Path

from .common import (
    UserError,
    _check_out,
    _check_positive,
    _check_sr,
    _parse_param,
    _printer,
    _set_param,
)
from .safety import _save_model, _StopOnCtrlC
from .tasks import TRAINABLE


def _model_pipeline(sr, fitted_steps):
    """Prefix fitted waveform steps with a (stateless) AudioLoader so the model reads files."""
    from sklearn.pipeline import Pipeline

    from ..io import AudioLoader

    return Pipeline([("audioloader", AudioLoader(sr=sr)), *fitted_steps])


def demo_command(args):
    """Run ``sk-crnn demo``; return the exit code."""
    import numpy as np
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.pipeline import make_pipeline

    from .. import CRNNClassifier
    from ..baselines import mfcc_baseline
    from ..datasets import make_event_sequences
    from ..transformers import MelSpectrogramTransformer

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


def train_command(args):
    """Run ``sk-crnn train``; return the exit code."""
    from sklearn.model_selection import (
        KFold,
        StratifiedKFold,
        cross_val_score,
        train_test_split,
    )
    from sklearn.pipeline import make_pipeline

    from ..transformers import MelSpectrogramTransformer

    say = _printer(args.quiet)
    task = TRAINABLE[args.task]
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
                                  progress_bar=not args.quiet, **task.front_end),
        task.estimator_class()(max_epochs=args.epochs, device=args.device,
                               random_state=args.random_state, progress_bar=not args.quiet))
    step = pipe.steps[-1][0]
    for name, value in params.items():
        _set_param(pipe, name, value)
    with _StopOnCtrlC() as stop:
        waves, labels, loaded = task.train_data(args)
        say(loaded)
        if args.cv:
            cv = (StratifiedKFold if task.stratify else KFold)(
                args.cv, shuffle=True, random_state=args.random_state)
            scores = cross_val_score(pipe, waves, labels, cv=cv)
            say(f"{args.cv}-fold cross-validated {task.metric}: {scores.mean():.3f} "
                f"(+/- {scores.std():.3f})")
        else:
            tr, va = train_test_split(range(len(waves)), test_size=0.2,
                                      stratify=labels if task.stratify else None,
                                      random_state=args.random_state)
            pipe.fit([waves[i] for i in tr], labels[tr])
            score = pipe.score([waves[i] for i in va], labels[va])
            say(f"Validation {task.metric} (20% held out): {score:.3f}")
        if not args.quiet:
            pipe.set_params(**{f"{step}__verbose": 1})
        say("Training the final model on all files...")
        pipe.fit(waves, labels)
        pipe.set_params(**{f"{step}__verbose": 0, f"{step}__progress_bar": False},
                        melspectrogramtransformer__progress_bar=False)
        note = _save_model(_model_pipeline(args.sr, pipe.steps), args.out, stop)
    say(f"Saved the model to {Path(args.out).resolve()}" + (f" ({note})." if note else ""))
    return 0
