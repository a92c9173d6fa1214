"""Cython kernels for batched RNN, GRU and LSTM recurrence (internal).

On x86-64 every kernel module is compiled three times from the same generated C: for any
x86-64 CPU (SSE2), for CPUs with AVX2 and FMA, and for AVX-512. ``load(name)`` returns the
module built for the widest instruction set this CPU supports, so the gate loops run 4, 8 or
16 lanes wide while one wheel still runs everywhere. Set the environment variable
``TSRNN_SIMD`` to ``baseline``, ``avx2`` or ``avx512`` to choose (for benchmarks and tests).
"""

import os
from importlib import import_module

__all__ = ["load", "SIMD", "LEVELS", "available"]

LEVELS = ("baseline", "avx2", "avx512")
_PACKAGES = {"baseline": "tsrnn._kernels", "avx2": "tsrnn._kernels._avx2",
             "avx512": "tsrnn._kernels._avx512"}


def _supported():
    from tsrnn._kernels._cpu import simd_level

    return LEVELS[: simd_level() + 1]


def available():
    """The levels this CPU supports and this build contains, narrowest first."""
    found = []
    for level in _supported():
        try:
            import_module(f"{_PACKAGES[level]}.lstm")
        except ImportError:
            continue
        found.append(level)
    return tuple(found)


def _choose():
    requested = os.environ.get("TSRNN_SIMD", "auto").strip().lower()
    levels = available()
    if requested in ("", "auto"):
        return levels[-1] if levels else "baseline"
    if requested not in LEVELS:
        raise ImportError(f"TSRNN_SIMD must be one of auto, {', '.join(LEVELS)}; "
                          f"got {requested!r}")
    if requested not in levels:
        raise ImportError(f"TSRNN_SIMD={requested} is not available here (this CPU and "
                          f"build offer: {', '.join(levels) or 'none'})")
    return requested


SIMD = _choose()


def load(name, level=None):
    """The kernel module ``name`` ("lstm", "gru", "rnn", "closed_loop") for ``level``.

    Parameters
    ----------
    name : str
    level : str, optional
        One of ``available()``; default: ``SIMD``, the level chosen at import.
    """
    return import_module(f"{_PACKAGES[level or SIMD]}.{name}")
