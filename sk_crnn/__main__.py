"""``python -m sk_crnn``: the same as the ``sk-crnn`` command."""

import sys

from ._entry import main

if __name__ == "__main__":
    sys.exit(main())
