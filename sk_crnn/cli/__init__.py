"""The ``sk-crnn`` command line (also ``python -m sk_crnn``).

``demo`` trains on generated audio; ``train``, ``predict`` and ``evaluate`` work on audio files
(one sub-folder per class for training and evaluation; for speech recognition, ``train --task
transcribe`` reads a CSV/TSV manifest of paths and transcripts); ``stream`` runs a causal model
on a file or on raw PCM from standard input and prints its outputs as they become final;
``export`` writes a saved model as one ONNX graph from raw waveform to outputs. A
saved model is a fitted scikit-learn Pipeline ``AudioLoader -> MelSpectrogramTransformer ->
CRNNClassifier`` (or a ``CRNNEventDetector``, for which ``predict`` prints one row per
detected event, or a ``CRNNTranscriber``: one transcript per file, a long file cut at pauses),
written with :func:`sk_crnn.save` (``.skcrnn``: data only, no code). A joblib/pickle model file
is read only with ``--allow-pickle``, since loading a pickle can run any code it holds.

The package: :mod:`~sk_crnn.cli.parser` (the sub-commands and options), the commands
(:mod:`~sk_crnn.cli.train`, :mod:`~sk_crnn.cli.predict`, :mod:`~sk_crnn.cli.evaluate`,
:mod:`~sk_crnn.cli.stream` with its printers in :mod:`~sk_crnn.cli.live`,
:mod:`~sk_crnn.cli.export`),
:mod:`~sk_crnn.cli.tasks` (one table of the tasks: estimator, metric, output rows and
long-recording predictor of each), :mod:`~sk_crnn.cli.rows` (the rows ``predict`` prints),
:mod:`~sk_crnn.cli.inputs` (files to waveforms), :mod:`~sk_crnn.cli.safety` (Ctrl-C and the
pickle policy) and :mod:`~sk_crnn.cli.common`. None imports torch or scikit-learn when
imported: the commands do, so that :mod:`sk_crnn._entry` handles a Ctrl-C during start-up.
"""

import sys
import warnings
from pathlib import Path

from .common import UserError
from .inputs import AUDIO_SUFFIXES
from .parser import build_parser
from .safety import PICKLE_SUFFIXES, Interrupted, _interrupted_message, _StopOnCtrlC

__all__ = ["main", "build_parser", "UserError", "Interrupted", "AUDIO_SUFFIXES",
           "PICKLE_SUFFIXES", "_StopOnCtrlC"]


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
