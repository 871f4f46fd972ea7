"""Private checks of parameters: the one validation style of the package.

Every parameter rule is stated in one table language (:class:`Interval`, :class:`Options`,
:class:`Rule`, ``None``): ``_parameter_constraints`` tables for classes, checked by
:func:`validate_params`, and :func:`validate_args` tables for public functions. Rules between
parameters live in one hook, ``_check_relations(params)``, that both call after the table
with the checked values. Every failure is an :class:`InvalidParameterError`.
"""

import functools
import inspect
from numbers import Integral, Real

import numpy as np
import torch


class InvalidParameterError(ValueError, TypeError):
    """A parameter (of a class or a public function) that breaks its rule.

    It is both a ``ValueError`` and a ``TypeError``, as scikit-learn's
    ``InvalidParameterError``, so code catching either keeps working; the message names the
    parameter, the value given and what it must be.
    """


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


class Interval:
    """A number of one kind (``"int"`` or ``"real"``) within optional bounds.

    A value of the wrong type (a bool, a string, a float where an int is asked) is a
    ``TypeError``; a number of the right type outside the bounds (or NaN) is a
    ``ValueError``. Reals must be finite.
    """

    def __init__(self, kind, low=None, high=None, *, closed="both"):
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def type_ok(self, value):
        types = Integral if self.kind == "int" else Real
        return isinstance(value, types) and not isinstance(value, (bool, np.bool_))

    def is_valid(self, value):
        if not self.type_ok(value) or (self.kind == "real" and not np.isfinite(value)):
            return False
        low_ok = self.low is None or value > self.low or (
            value == self.low and self.closed in ("both", "left"))
        high_ok = self.high is None or value < self.high or (
            value == self.high and self.closed in ("both", "right"))
        return bool(low_ok and high_ok)

    def describe(self):
        what = "an int" if self.kind == "int" else "a finite number"
        if self.low is not None and self.high is not None:
            left = "[" if self.closed in ("both", "left") else "("
            right = "]" if self.closed in ("both", "right") else ")"
            return f"{what} in {left}{self.low}, {self.high}{right}"
        if self.low is not None:
            return f"{what} {'>=' if self.closed in ('both', 'left') else '>'} {self.low}"
        if self.high is not None:
            return f"{what} {'<=' if self.closed in ('both', 'right') else '<'} {self.high}"
        return what


class Options:
    """One of a fixed set of values. Bools match only bools (``True`` is not ``1`` here); a
    value outside the set is a ``ValueError``, a non-bool for a set of bools a ``TypeError``."""

    def __init__(self, *values):
        self.values = values
        self._bools = all(isinstance(v, bool) for v in values)

    def is_valid(self, value):
        is_bool = isinstance(value, (bool, np.bool_))
        for option in self.values:
            if isinstance(option, bool) != is_bool:
                continue
            try:
                if value is option or bool(value == option):
                    return True
            except (TypeError, ValueError):  # an array compared with an option
                continue
        return False

    def type_ok(self, value):
        return isinstance(value, (bool, np.bool_)) if self._bools else True

    def describe(self):
        return "True or False" if self._bools else f"one of {list(self.values)}"


BOOL = Options(True, False)


class Rule:
    """A check written as a function ``check(value, name)`` that raises itself."""

    def __init__(self, check):
        self.check = check


def check_param(value, name, rules, hint=""):
    """Check ``value`` against ``rules`` (one rule or a list of alternatives; ``None`` in the
    list allows None). Raise an :class:`InvalidParameterError` (a ``ValueError`` and a
    ``TypeError``) whose message names the parameter, the value (with its type, when no rule
    takes that type) and what it must be; an error a :class:`Rule` raises becomes one."""
    rules = rules if isinstance(rules, (list, tuple)) else [rules]
    if None in rules and value is None:
        return value
    for rule in rules:
        if isinstance(rule, Rule):  # its check may return the value parsed (a torch.device)
            try:
                checked = rule.check(value, name)
            except InvalidParameterError:
                raise
            except (ValueError, TypeError) as exc:
                raise InvalidParameterError(str(exc)) from exc
            return value if checked is None else checked
    plain = [r for r in rules if r is not None]
    if any(r.is_valid(value) for r in plain):
        return value
    what = " or ".join([r.describe() for r in plain] + (["None"] if None in rules else []))
    type_ok = any(r.type_ok(value) for r in plain)
    got = f"{value!r}" if type_ok else f"{value!r} of type {type(value).__name__}"
    message = f"{name} must be {what}; got {got}.{' ' + hint if hint else ''}"
    raise InvalidParameterError(message)


def _check_table(values, constraints):
    """Check ``values[name]`` for every name of ``constraints`` (name -> rules, or
    name -> (rules, hint)), in table order; return {name: checked value}."""
    checked = {}
    for name, spec in constraints.items():
        rules, hint = spec if isinstance(spec, tuple) else (spec, "")
        checked[name] = check_param(values[name], name, rules, hint)
    return checked


def validate_params(est, constraints):
    """Check every parameter of ``est`` named in ``constraints`` (name -> rules, or
    name -> (rules, hint)), in table order, then the cross-parameter rules of its
    ``_check_relations(params)`` hook, if it has one, with the checked values (a parsed
    device, for example); return {name: checked value}."""
    checked = _check_table({name: getattr(est, name) for name in constraints}, constraints)
    relations = getattr(est, "_check_relations", None)
    if relations is not None:
        relations(checked)
    return checked


def validate_args(constraints, *, relations=None):
    """Decorator: check the arguments of a public function against a table, on each call.

    Parameters
    ----------
    constraints : dict
        Argument name -> rules (or (rules, hint)), in the language of
        :func:`check_param`; arguments not named are not checked.
    relations : callable or None, default=None
        The cross-parameter hook, ``relations(params)``: called after the table with
        {name: checked value} of every argument (defaults filled in); it raises an
        :class:`InvalidParameterError` for a combination that is not allowed.

    Returns
    -------
    decorator : callable
    """

    def decorate(func):
        signature = inspect.signature(func)
        unknown = set(constraints) - set(signature.parameters)
        if unknown:  # a table that names no argument is a bug of the package
            raise RuntimeError(f"{func.__qualname__} has no argument(s) {sorted(unknown)}.")

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = dict(bound.arguments)
            values.update(_check_table(values, constraints))
            if relations is not None:
                relations(values)
            return func(*args, **kwargs)

        return wrapper

    return decorate


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


def accepted_kwargs(factory, kwargs):
    """Keep the entries of ``kwargs`` that ``factory`` accepts as keyword arguments."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return dict(kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return dict(kwargs)
    names = {p.name for p in params}
    return {k: v for k, v in kwargs.items() if k in names}


def required_kwargs(factory):
    """Names of the keyword arguments of ``factory`` that have no default."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in params if p.default is inspect.Parameter.empty
            and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
