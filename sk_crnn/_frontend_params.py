"""The parameter table of :class:`~sk_crnn.MelSpectrogramTransformer` (see _validation)."""

import numpy as np

from ._validation import BOOL, Interval, Options, Rule, check_param
from .features import PAD_MODES

DTYPES = ("float32", "float64", "float16")


def _check_ref(value, name):
    if not callable(value):  # a callable reference (np.max) is librosa's other option
        check_param(value, name, Interval("real", 0, closed="neither"))


def _check_dtype(value, name):
    shown = np.dtype(value).name if _is_dtype(value) else value
    check_param(shown, name, Options(*DTYPES))


_POSITIVE = Interval("real", 0, closed="neither")
#: The parameters the transformer checks in fit and transform: name -> rules (alternatives;
#: None allows None), or (rules, hint); see _validation.check_param. Rules between parameters:
#: MelSpectrogramTransformer._check_relations.
PARAMETERS = {
    "sr": _POSITIVE,
    "n_fft": (Interval("int", 2),
              "An FFT of n_fft samples has 1 + n_fft // 2 frequency bins (n_fft=1 has only the "
              "0 Hz bin); typical values are 512 to 2048."),
    "hop_length": Interval("int", 1),
    "win_length": [Interval("int", 1), None],
    "center": BOOL,
    "htk": BOOL,
    "progress_bar": BOOL,
    "pad_mode": Options(*PAD_MODES),
    "n_mels": Interval("int", 1),
    "fmin": Interval("real", 0),
    "fmax": [_POSITIVE, None],
    "power": _POSITIVE,
    "scale": Options("db", "log", None),
    "ref": Rule(_check_ref),
    "amin": _POSITIVE,
    "top_db": [Interval("real", 0), None],
    "n_mfcc": [Interval("int", 1), None],
    "duration": [_POSITIVE, None],
    "normalize": Options("band", None),
    "batch_size": Interval("int", 1),
    "dtype": Rule(_check_dtype),
}


def _is_dtype(value):
    try:
        np.dtype(value)
    except TypeError:
        return False
    return True
