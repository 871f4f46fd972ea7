"""``sk-crnn evaluate``: a classifier's accuracy and classification report on a
class-per-folder tree, with ``--report`` also as files and a confusion matrix."""

import json
from pathlib import Path

from .common import UserError, _check_report_dir, _printer
from .inputs import _loader_audio, _show_progress
from .safety import _load_model
from .tasks import task_of


def evaluate_command(args):
    """Run ``sk-crnn evaluate``; return the exit code."""
    import numpy as np
    from sklearn.metrics import accuracy_score, classification_report

    from ..datasets import load_audio_folder

    say = _printer(args.quiet)
    if args.report:
        _check_report_dir(args.report)
    model = _load_model(args.model, args.allow_pickle)
    if not task_of(model.steps[-1][1]).evaluate:
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
