"""Threads: how many the kernels use, and keeping BLAS on one thread where it only spins.

The kernels parallelise over batch slices with OpenMP (never inside a time step). BLAS threads
add nothing to their small per-step products and fight the kernels' own threads, so public
entry points that train, forecast or fit statsmodels run BLAS single-threaded: decorate them
with :func:`blas_single_threaded` (or use the :func:`single_threaded_blas` context).
"""

import contextlib
import functools
import os
import time

__all__ = ["set_num_threads", "get_num_threads", "threads_for", "single_threaded_blas",
           "blas_single_threaded", "blas_for", "MIN_ROWS_PER_THREAD",
           "MIN_STEP_WORK_PER_THREAD", "one_thread_each"]

# Threads split the batch. They pay only with enough rows and enough arithmetic per step for
# each (see benchmarks/bench_kernels.py: small batches and small hidden sizes gain nothing from
# a second thread, and an RNN with few multiply-adds per step runs slower on two).
MIN_ROWS_PER_THREAD = 16
MIN_STEP_WORK_PER_THREAD = 65536

_num_threads = None
_default_threads = None
_default_from_environment = False
_controller = None

# How often the default thread count looks at what other processes use, and how much of a
# core they may keep busy before a kernel thread makes way for them (see _busy_elsewhere).
LOAD_SAMPLE_SECONDS = 0.1
YIELD_AT_BUSY_CORES = 0.3
_load = {"time": None, "busy_ticks": 0, "own_seconds": 0.0, "others": 0.0}


def set_num_threads(n):
    """Use at most ``n`` threads in the kernels (default: the cores this process may use,
    less those other processes keep busy; an explicit ``n`` is used whatever the load).

    Parameters
    ----------
    n : int or None
        None restores the default (``TSRNN_NUM_THREADS`` if set, else the available cores).

    Examples
    --------
    >>> import tsrnn
    >>> tsrnn.set_num_threads(1); tsrnn.get_num_threads()
    1
    >>> tsrnn.set_num_threads(None)
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
    global _default_threads, _default_from_environment
    if _num_threads is not None:
        return _num_threads
    if _default_threads is None:
        _default_threads = _threads_from_environment()
        _default_from_environment = bool(os.environ.get("TSRNN_NUM_THREADS"))
    return _default_threads


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

    Returns
    -------
    int
        At least 1, at most :func:`get_num_threads`. With the default thread count (neither
        :func:`set_num_threads` nor ``TSRNN_NUM_THREADS``), also at most the cores other
        processes left free over the last tenth of a second: keeping them all for one
        region on a busy machine makes it many times slower than one thread.
    """
    threads = min(get_num_threads(), rows // MIN_ROWS_PER_THREAD)
    if step_work is not None:
        threads = min(threads, step_work // MIN_STEP_WORK_PER_THREAD)
    if threads > 1 and _num_threads is None and not _default_from_environment:
        # the default yields the cores other processes keep busy: a region's threads meet at
        # a barrier after every step, and one preempted thread holds the others back for a
        # whole time slice (benchmarks/bench_setup.py, "a busy machine")
        # a core counts as taken when others keep it busy 30 % of the time: well below the
        # two-thirds a spinning process gets beside two kernel threads on two cores
        taken = int(_busy_elsewhere() + 1 - YIELD_AT_BUSY_CORES)
        threads = min(threads, max(1, (os.cpu_count() or 1) - taken))
    return max(1, threads)


def _busy_elsewhere():
    """Cores that other processes kept busy since the last sample (Linux: ``/proc/stat``
    against this process's own CPU time), sampled at most every ``LOAD_SAMPLE_SECONDS``; 0
    where it cannot be read."""
    now = time.monotonic()
    if _load["time"] is not None and now - _load["time"] < LOAD_SAMPLE_SECONDS:
        return _load["others"]
    try:
        busy, tick_seconds = _system_busy_ticks()
    except (OSError, ValueError, AttributeError, IndexError):
        return 0.0
    own = _own_cpu_seconds()
    if _load["time"] is not None:
        elsewhere = (busy - _load["busy_ticks"]) * tick_seconds - (own - _load["own_seconds"])
        _load["others"] = max(0.0, elsewhere / (now - _load["time"]))
    _load.update(time=now, busy_ticks=busy, own_seconds=own)
    return _load["others"]


def _system_busy_ticks():
    """Clock ticks all CPUs spent busy (not idle or waiting for I/O), and a tick in seconds."""
    with open("/proc/stat") as handle:
        ticks = [int(v) for v in handle.readline().split()[1:8]]
    return sum(ticks) - ticks[3] - ticks[4], 1.0 / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds():
    return sum(os.times()[:2])


def single_threaded_blas():
    """A context in which BLAS runs on one thread.

    The kernels' per-step products and statsmodels' Kalman filter multiply small matrices:
    BLAS threads only add synchronisation there. Parallelism, where it pays, comes from the
    kernels' own OpenMP loops.
    """
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def blas_single_threaded(func):
    """Decorate a public entry point so that it runs with BLAS on one thread."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with single_threaded_blas():
            return func(*args, **kwargs)

    return wrapper


def blas_for(threads):
    """The BLAS setting a kernel call with ``threads`` threads needs.

    Inside a parallel region every thread calls BLAS for its own rows, so BLAS must not start
    threads of its own; a serial call leaves BLAS as it is (its small products run on one
    thread anyway).
    """
    return single_threaded_blas() if threads > 1 else contextlib.nullcontext()


def one_thread_each(task, item):
    """``task(item)`` in a parallel worker (joblib's processes, a Dask worker): the kernels
    and BLAS on one thread each, so that the workers, not threads inside each, share the
    cores. Use as ``functools.partial(one_thread_each, task)``."""
    previous = get_num_threads()
    set_num_threads(1)
    try:
        with single_threaded_blas():
            return task(item)
    finally:
        set_num_threads(previous)
