"""``sk-crnn predict``: labels, events or transcripts of audio files (see :mod:`sk_crnn.cli`).

A file longer than the model's training clips is predicted over all of its length: a
classifier averages its windows and an event detector stitches them (``sk_crnn.windows``); a
transcriber cuts it at pauses and joins the transcripts of the pieces
(:func:`sk_crnn.long_transcripts.transcribe_long`).
"""

import sys

from .cli import (
    UserError,
    _collect_files,
    _load_model,
    _loader_audio,
    _show_progress,
    _write_rows,
)
from .events import plain_label


def _windowed(predict, features, wave, path):
    """``predict(features, wave)``, a file's read errors as a UserError naming it."""
    try:
        return predict(features, wave)
    except (ValueError, RuntimeError) as exc:
        if not isinstance(wave, str):
            raise
        raise UserError(f"could not predict over audio file '{path}': {exc}") from exc


def _seconds(path):
    import soundfile as sf

    return sf.info(path).duration


def _predict_audio(model, files, args, *, stream):
    """Waveforms of the files to predict, and the files kept. With ``stream``, a file longer
    than the training clips that soundfile reads at the model's rate (the loader reads it
    whole, mono, from its start) stays a path: ``sk_crnn.windows`` reads it in blocks, so
    an hour-long file is never in memory as a whole."""
    import soundfile as sf

    loader, mel = model.steps[0][1], model.steps[1][1]
    streamed = set()
    if stream and not getattr(loader, "offset", 0.0) and getattr(loader, "mono", True) and (
            getattr(loader, "duration", None) is None):
        for path in files:
            try:
                info = sf.info(path)
            except Exception:  # noqa: BLE001 - read (and reported) as usual below
                continue
            if (loader.sr or info.samplerate) == mel.sr and info.frames > mel.n_samples_ * (
                    info.samplerate / mel.sr):
                streamed.add(path)
    rest = [path for path in files if path not in streamed]
    waves, kept = (_loader_audio(model, rest, args, allow_none=bool(streamed)) if rest
                   else ([], []))
    found = {**dict(zip(kept, waves)), **{path: path for path in streamed}}
    files = [path for path in files if path in found]
    return [found[path] for path in files], files


def predict_command(args):
    """Run ``sk-crnn predict``; return the exit code."""
    import numpy as np

    from .detection import CRNNEventDetector
    from .estimators import CRNNClassifier
    from .long_transcripts import transcribe_long
    from .transcription import CRNNTranscriber
    from .windows import detect_events_long, predict_proba_long

    model = _load_model(args.model, args.allow_pickle)
    if not hasattr(model, "predict"):
        name = type(model.steps[-1][1]).__name__
        if hasattr(model, "transform"):  # an embedder: its outputs are for 'similar'
            raise UserError(
                f"{args.model!r} holds a {name}, which gives embeddings, not labels: "
                f"'sk-crnn predict' has nothing to print for it. Find the files of a folder "
                f"most similar to yours with 'sk-crnn similar {args.model} FILE_OR_DIR "
                "--catalogue DIR'.")
        raise UserError(f"{args.model!r} holds a {name}, which does not predict.")
    files = _collect_files(args.inputs)
    crnn = model.steps[-1][1]
    is_detector = isinstance(crnn, CRNNEventDetector)
    is_classifier = hasattr(crnn, "classes_") and not is_detector
    if args.proba and not is_classifier:
        raise UserError("--proba is not available for an event detector model." if is_detector
                        else "--proba needs a classifier model.")
    _show_progress(model, args.quiet)
    windowed = is_detector or (isinstance(crnn, CRNNClassifier) and not crnn._is_multilabel())
    waves, files = _predict_audio(model, files, args, stream=windowed)
    features = model[1:]
    window = model.steps[1][1].n_samples_  # longer files are predicted over windows
    long = [i for i, wave in enumerate(waves) if isinstance(wave, str) or len(wave) > window]
    short = sorted(set(range(len(waves))) - set(long))
    if is_detector:  # one row per detected event, over the whole of each file
        loader = model.steps[0][1]
        # the rate the features assume: the loader's, or the transformer's with sr=None
        rate = loader.sr or getattr(model.steps[1][1], "sr", None)
        durations = [_seconds(wave) if isinstance(wave, str) else
                     len(wave) / rate if rate else np.inf for wave in waves]
        found = dict(zip(short, features.predict([waves[i] for i in short]))) if short else {}
        for i in long:
            found[i] = _windowed(detect_events_long, features, waves[i], files[i])
        rows = [{"path": files[i], "onset": round(onset, 3),
                 "offset": round(min(offset, durations[i]), 3), "label": plain_label(label)}
                for i in range(len(waves)) for onset, offset, label in found[i]
                if onset < durations[i]]  # nothing from the zero padding after a short file
        _write_rows(rows, args.format, keys=["path", "onset", "offset", "label"])
        return 0
    if windowed:
        proba = np.zeros((len(waves), len(crnn.classes_)))
        if short:
            proba[short] = features.predict_proba([waves[i] for i in short])
        for i in long:  # the mean of the window probabilities, not the first window's
            proba[i] = _windowed(predict_proba_long, features, waves[i], files[i])
        pred = crnn.classes_[proba.argmax(axis=1)]
        rows = []
        for i, path in enumerate(files):
            row = {"path": path, "label": plain_label(pred[i])}
            if args.proba:
                row.update({f"p({plain_label(c)})": round(float(p), 4)
                            for c, p in zip(crnn.classes_, proba[i])})
            rows.append(row)
        _write_rows(rows, args.format)
        return 0
    if isinstance(crnn, CRNNTranscriber):  # one transcript per file, a long one cut at pauses
        texts = dict(zip(short, features.predict([waves[i] for i in short]))) if short else {}
        for i in long:
            texts[i] = transcribe_long(features, waves[i], sr=model.steps[0][1].sr)
        _write_rows([{"path": path, "transcript": texts[i]} for i, path in enumerate(files)],
                    args.format)
        return 0
    if long:
        print(f"sk-crnn predict: warning: {len(long)} file(s) are longer than the "
              f"{window / model.steps[1][1].sr:.2f} s the model was trained on; this model "
              "sees their first part only.", file=sys.stderr)
    pred = features.predict(waves)
    rows = []
    proba = features.predict_proba(waves) if args.proba else None
    for i, path in enumerate(files):
        row = {"path": path, "label": plain_label(pred[i])}
        if proba is not None:
            row.update({f"p({plain_label(c)})": round(float(p), 4)
                        for c, p in zip(crnn.classes_, proba[i])})
        rows.append(row)
    _write_rows(rows, args.format)
    return 0 if len(rows) == len(np.atleast_1d(pred)) else 1
