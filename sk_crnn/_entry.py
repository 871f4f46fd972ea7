"""The ``sk-crnn`` console script and ``python -m sk_crnn``: Ctrl-C ends quietly from the start.

Importing :mod:`sk_crnn.cli` and the libraries behind it (torch, scikit-learn, librosa) takes
a few seconds; a Ctrl-C meanwhile raises ``KeyboardInterrupt`` inside those imports. This
module imports nothing heavy itself (``import sk_crnn`` is lazy too), so :func:`main` can
catch that interrupt around the import and end with exit code 130 and one line, as the
commands do after a Ctrl-C, instead of a traceback.
"""

import sys

_MESSAGE = "sk-crnn: interrupted (Ctrl-C)."


def main(argv=None):
    """Entry point of ``sk-crnn``: :func:`sk_crnn.cli.main`, with Ctrl-C during start-up
    ending in one line on stderr and exit code 130 (no traceback)."""
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        return _interrupted()
    try:
        return cli_main(argv)
    except KeyboardInterrupt:  # before or after the command's own handling (argument parsing)
        return _interrupted()


def _interrupted():
    try:
        print(_MESSAGE, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed, as when the terminal is gone
        pass
    return 128 + 2  # the shell's code for SIGINT
