"""Private checks of parameters shared by the transformers and estimators."""

from numbers import Integral, Real

import numpy as np
import torch


def check_device(device, param="device"):
    """Return a :class:`torch.device` for ``device`` or raise a clear error.

    Parameters
    ----------
    device : str or torch.device
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    param : str, default="device"
        Name of the parameter, used in error messages.

    Returns
    -------
    device : torch.device
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"{param}={device!r} is not a valid device; use 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"{param}={device!r} is not supported; use 'cpu', 'cuda' or 'cuda:N'.")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{param}={device!r} was requested but CUDA is not available on this machine "
                "(torch.cuda.is_available() is False); use device='cpu'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"{param}={device!r} was requested but only {torch.cuda.device_count()} CUDA "
                "device(s) exist; use an index below that."
            )
    return dev


def check_scalar(value, name, kind, *, low=None, high=None, low_inclusive=True, allow_none=False):
    """Check one numeric parameter; raise ``ValueError``/``TypeError`` naming it.

    ``kind`` is ``"int"`` or ``"real"``.
    """
    if value is None and allow_none:
        return value
    types = Integral if kind == "int" else Real
    if isinstance(value, bool) or not isinstance(value, types):
        what = "an integer" if kind == "int" else "a number"
        extra = " or None" if allow_none else ""
        raise TypeError(f"{name} must be {what}{extra}; got {value!r} of type "
                        f"{type(value).__name__}.")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}; got {value!r}.")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}; got {value!r}.")
    return value


def check_options(value, name, options):
    """Check that ``value`` is one of ``options``; raise ``ValueError`` naming it."""
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}; got {value!r}.")
    return value


def seed_from_random_state(random_state):
    """Return an int seed for torch from ``random_state``, or None to use torch's global RNG.

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState
        None: no seeding. An int is used as is; a RandomState gives a fresh int drawn from it.

    Returns
    -------
    seed : int or None
    """
    if random_state is None:
        return None
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(
        f"random_state must be None, an int or a numpy.random.RandomState; got {random_state!r}."
    )
