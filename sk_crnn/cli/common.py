"""What every ``sk-crnn`` command shares: the one-line error, printing, the checks of its
options and the rows it prints. Nothing heavy is imported here (see :mod:`sk_crnn._entry`)."""

import ast
import json
import numbers
import os
import sys
from pathlib import Path


class UserError(Exception):
    """A mistake in the command's input: reported in one line, exit code 2."""


def _printer(quiet):
    return (lambda *a, **k: None) if quiet else (lambda *a, **k: print(*a, **k, flush=True))


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
    if isinstance(current, numbers.Real) and not isinstance(current, bool) and value is not None \
            and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise UserError(f"--param {name}={value!r}: {name} takes a number (default "
                        f"{current!r}); got {type(value).__name__} {value!r}.")
    try:
        pipe.set_params(**{name: value})
    except ValueError as exc:
        steps = ", ".join(f"{n}__<param>" for n in pipe.named_steps)
        raise UserError(f"--param {name}: no such parameter of the pipeline; names look "
                        f"like {steps} (e.g. crnnclassifier__lr, "
                        "crnnclassifier__module__rnn_type).") from exc


def _write_rows(rows, fmt, keys=None):
    """Print ``rows`` (dicts) as an aligned table, CSV or JSON on stdout."""
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
