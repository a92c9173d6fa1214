"""Argument checks shared by the whole package, with one rule for exception types.

A value of the wrong type raises ``TypeError``; a value of the right type outside what is
allowed raises ``ValueError``. Every message names the argument, says what is expected and
shows what was given.

Estimators declare their constructor parameters once, as scikit-learn's
``_parameter_constraints`` do: a dict from parameter name to a *constraint*, a callable
``constraint(value, name)`` that returns the checked value or raises. :func:`integer`,
:func:`real`, :func:`option` and :func:`boolean` make the common ones; :func:`validate_params`
applies a dict of them.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["check_int", "check_real", "check_option", "check_bool", "check_array",
           "check_dtype", "integer", "real", "option", "option_or", "boolean", "validate_params"]


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def _interval_text(low, high, low_open, high_open):
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def check_int(value, name, minimum=None, maximum=None, allow_none=False):
    """``value`` as an int, checked against ``minimum`` and ``maximum`` (inclusive).

    Examples
    --------
    >>> from tsrnn._checks import check_int
    >>> check_int(3, "hidden_size", minimum=1)
    3
    >>> check_int(0, "hidden_size", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: hidden_size must be an integer >= 1, got 0
    """
    if value is None and allow_none:
        return None
    expected = f"an integer{_interval_text(minimum, maximum, False, False)}" + (" or None" if allow_none else "")
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def check_real(value, name, low=None, high=None, low_open=False, high_open=False,
               allow_none=False):
    """``value`` as a finite float inside the interval given by ``low`` and ``high``.

    ``low_open``/``high_open`` exclude the bound itself. NaN and infinities are rejected.

    Examples
    --------
    >>> from tsrnn._checks import check_real
    >>> check_real(0.5, "dropout", 0, 1, high_open=True)
    0.5
    """
    if value is None and allow_none:
        return None
    expected = ("a finite number" + _interval_text(low, high, low_open, high_open)
                + (" or None" if allow_none else ""))
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    value = float(value)
    outside = (not math.isfinite(value)
               or (low is not None and (value <= low if low_open else value < low))
               or (high is not None and (value >= high if high_open else value > high)))
    if outside:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def check_option(value, name, options):
    """``value`` if it is one of ``options`` (compared with ``==``), else a ValueError."""
    for candidate in options:
        if type(candidate) is type(value) and candidate == value:
            return value
        if candidate is None and value is None:
            return value
    shown = ", ".join(repr(o) for o in options)
    raise ValueError(f"{name} must be one of {shown}; got {value!r}")


def check_bool(value, name):
    """``value`` as a bool; anything but True, False (or NumPy's) is a TypeError."""
    if not _is_bool(value):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_dtype(dtype, name="dtype"):
    """``dtype`` as numpy float32 or float64."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as error:
        kind = ValueError if isinstance(dtype, str) else TypeError
        raise kind(f"{name} must be float32 or float64, got {dtype!r}") from error
    if resolved not in (np.float32, np.float64):
        raise ValueError(f"{name} must be float32 or float64, got {dtype!r}")
    return resolved


def _describe(shape):
    return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"


def check_array(value, name, shape, dtype):
    """``value`` as a C-contiguous array of ``shape`` (None: any size on that axis), ``dtype``.

    The dtype must match exactly: nothing is cast silently.
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(value).__name__}")
    if value.ndim != len(shape):
        raise ValueError(f"{name} must have {len(shape)} dimensions {_describe(shape)}, "
                         f"got shape {value.shape}")
    if value.dtype != dtype:
        raise ValueError(f"{name} has dtype {value.dtype}, expected {dtype} (the layer's dtype); "
                         f"convert it with .astype(np.{dtype})")
    for axis, (got, expected) in enumerate(zip(value.shape, shape)):
        if expected is not None and got != expected:
            raise ValueError(f"{name} has shape {value.shape}, expected {_describe(shape)} "
                             f"(axis {axis} differs)")
    if 0 in value.shape:
        raise ValueError(f"{name} must not be empty, got shape {value.shape}")
    return np.ascontiguousarray(value)


# ------------------------------------------------------------------ declared constraints
def integer(minimum=None, maximum=None, allow_none=False):
    """A constraint: an integer in ``[minimum, maximum]`` (see :func:`check_int`)."""
    return lambda value, name: check_int(value, name, minimum, maximum, allow_none)


def real(low=None, high=None, low_open=False, high_open=False, allow_none=False):
    """A constraint: a finite number in an interval (see :func:`check_real`)."""
    return lambda value, name: check_real(value, name, low, high, low_open, high_open,
                                          allow_none)


def option(*options):
    """A constraint: one of ``options``."""
    return lambda value, name: check_option(value, name, options)


def option_or(options, constraint, expected):
    """A constraint: one of the strings ``options``, or a value ``constraint`` accepts
    (``expected`` describes those, e.g. "an integer >= 0")."""
    shown = " or ".join(repr(o) for o in options)

    def check(value, name):
        if isinstance(value, str):
            if value in options:
                return value
            raise ValueError(f"{name} must be {shown} or {expected}, got {value!r}")
        return constraint(value, name)

    return check


def boolean():
    """A constraint: True or False."""
    return check_bool


def validate_params(estimator, constraints):
    """Check every parameter of ``estimator`` named in ``constraints``; returns the checked
    values as a dict (the estimator itself is not changed)."""
    return {name: check(getattr(estimator, name), name) for name, check in constraints.items()}
