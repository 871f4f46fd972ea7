"""The ``sk-crnn`` commands' safety: Ctrl-C during training, and the pickle policy.

A Ctrl-C while a command trains raises :class:`Interrupted` (not a ``KeyboardInterrupt``,
which skorch's fit loop swallows), and one pressed while the model file is written waits for
it. Model files are written through a temporary file, so an existing one is only ever replaced
by a complete model. A ``.skcrnn`` file holds data only; a joblib/pickle file, which can run
any code it holds, is read only with ``--allow-pickle``.
"""

import contextlib
import signal
import threading
from pathlib import Path

from .common import UserError

PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")

_MODEL_FILES = (
    "Model files: 'train' and 'demo' write .skcrnn files (sk_crnn.save), which hold only data "
    "and weights, so reading one cannot run code. A .joblib/.pkl model file is a pickle: "
    "loading a pickle can run any code it contains, so 'predict' and 'evaluate' open one only "
    "with --allow-pickle. Never pass --allow-pickle for a file from a source you do not trust."
)


# -- Ctrl-C -------------------------------------------------------------------------------------
class Interrupted(BaseException):  # noqa: N818 - it is not an error
    """Ctrl-C during training. Not a ``KeyboardInterrupt``: skorch's fit loop ends training
    quietly on one and returns a partly trained model, which the command must not save."""

    def __init__(self, saved=False):
        super().__init__("interrupted")
        self.saved = saved


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


def _interrupted_message(args, existed, saved):
    out = getattr(args, "out", None)
    if saved:
        return f"interrupted (Ctrl-C) after the model was saved to {out}."
    if out is None:
        return "interrupted (Ctrl-C)."
    left = "is unchanged" if existed else "was not written"
    return f"interrupted (Ctrl-C): training stopped and nothing was saved ({out} {left})."


# -- writing models -----------------------------------------------------------------------------
def _save_model(model, out, stop):
    """Write the model (sk_crnn's format; a joblib pickle for a .joblib/.pkl suffix) through a
    temporary file, so that an existing file is only ever replaced by a complete model."""
    from ..persistence import save
    from ..persistence.archive import atomic_write

    with stop.saving():
        if Path(out).suffix.lower() in PICKLE_SUFFIXES:
            import joblib

            atomic_write(out, lambda f: joblib.dump(model, f))
            return ("a joblib pickle, as its suffix asks; 'sk-crnn predict' reads it only with "
                    "--allow-pickle. Use the .skcrnn suffix for a file that cannot run code")
        save(model, out)
        return None


# -- reading models -----------------------------------------------------------------------------
def add_allow_pickle(parser):
    """The ``--allow-pickle`` option of the commands that read a model file."""
    parser.add_argument("--allow-pickle", action="store_true",
                        help="also read a joblib/pickle model file. Loading a pickle can run "
                             "any code it contains: use this only for files you made yourself "
                             "or otherwise trust")


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
    """The model pipeline in ``path``: a ``.skcrnn`` file, or a pickle with ``allow_pickle``;
    anything else, or a network with non-finite weights, is a :class:`UserError`."""
    from sklearn.pipeline import Pipeline

    from .._base import SpectrogramNet
    from ..io import AudioLoader
    from ..persistence import ModelFileError, load, sniff

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
