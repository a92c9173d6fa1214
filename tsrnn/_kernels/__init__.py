"""Cython kernels for batched RNN, GRU and LSTM recurrence (internal).

On x86-64 every kernel module is compiled three times from the same generated C: for any
x86-64 CPU (SSE2), for CPUs with AVX2 and FMA, and for AVX-512. ``load(name)`` returns the
module built for the widest instruction set this CPU supports, so the gate loops run 4, 8 or
16 lanes wide while one wheel still runs everywhere. Set the environment variable
``TSRNN_SIMD`` to ``baseline``, ``avx2`` or ``avx512`` to choose (for benchmarks and tests).
"""

import contextlib
import os
from importlib import import_module

__all__ = ["load", "SIMD", "LEVELS", "available", "set_num_threads", "get_num_threads",
           "threads_for", "single_threaded_blas", "blas_for"]

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


_controller = None


def single_threaded_blas():
    """A context in which BLAS runs on one thread.

    The kernels' per-step products are small: BLAS threads only add synchronisation there
    (measured: a default ECG fit took 34 s with two OpenBLAS threads on a busy 2-core machine,
    18 s with one). Parallelism, where it pays, comes from the kernels' own OpenMP loops.
    """
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


# Threads split the batch. They pay only with enough rows and enough arithmetic per step for
# each: measured on a 2-core virtual machine (T = 64, forward and backward, one thread against
# two), LSTM B=32, H=16 (16K multiply-adds per thread and step) gained nothing, B=32, H=32
# (64K) 1.1x, B=64, H=128 1.8x; an RNN with B=64, H=32 (32K) ran slower on two threads.
MIN_ROWS_PER_THREAD = 16
MIN_STEP_WORK_PER_THREAD = 65536
_num_threads = None


def set_num_threads(n):
    """Use at most ``n`` threads in the kernels (default: the cores this process may use).

    Parameters
    ----------
    n : int or None
        None restores the default (``TSRNN_NUM_THREADS`` if set, else the available cores).
    """
    global _num_threads
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"the number of threads must be a positive integer, got {n!r}")
    _num_threads = n


def get_num_threads():
    """The most threads the kernels use.

    Without :func:`set_num_threads`, ``TSRNN_NUM_THREADS`` or else the cores this process may
    use, read on the first call (every kernel call asks, and the system call costs a few
    microseconds of a streaming step).
    """
    global _default_threads
    if _num_threads is not None:
        return _num_threads
    if _default_threads is None:
        _default_threads = _threads_from_environment()
    return _default_threads


_default_threads = None


def _threads_from_environment():
    env = os.environ.get("TSRNN_NUM_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"TSRNN_NUM_THREADS must be a positive integer, got {env!r}") \
                from None
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_for(rows, step_work=None):
    """Threads for a batch of ``rows`` independent sequences.

    Parameters
    ----------
    rows : int
    step_work : int, optional
        Multiply-adds of one time step over all rows (the recurrent product: rows * G*H * H);
        each thread must get at least ``MIN_STEP_WORK_PER_THREAD`` of them.
    """
    threads = min(get_num_threads(), rows // MIN_ROWS_PER_THREAD)
    if step_work is not None:
        threads = min(threads, step_work // MIN_STEP_WORK_PER_THREAD)
    return max(1, threads)


def blas_for(threads):
    """The BLAS setting a kernel call with ``threads`` threads needs.

    Inside a parallel region every thread calls BLAS for its own rows, so BLAS must not start
    threads of its own; a serial call leaves BLAS as it is (its small products run on one
    thread anyway).
    """
    return single_threaded_blas() if threads > 1 else contextlib.nullcontext()
