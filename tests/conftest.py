"""Shared test machinery: the optional torch oracle, gradient checking, error bookkeeping, and
tiny RNNs for end-to-end runs of the comparison.

Torch is an optional test extra. Tests that need it take the ``torch`` fixture, which skips the
test cleanly when torch is not installed; nothing here imports torch at module level.

The oracle comparisons record, per (cell, dtype), the worst relative error they saw; the figures
are printed in the terminal summary at the end of the run (no ``-s`` needed), so they can be quoted.
"""
import numpy as np
import pytest


# ------------------------------------------------------------------------------------------------
# torch, optional
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def torch():
    """The torch module, or skip the requesting test when torch is not installed."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)  # small problems; keeps timings stable on shared CI cores
    return torch


# ------------------------------------------------------------------------------------------------
# relative error and the worst-error record
# ------------------------------------------------------------------------------------------------
_TINY = 1e-300


def relative_error(actual, expected):
    """max|actual - expected| / max(max|expected|, tiny), in float64.

    A scale-aware measure for whole arrays: entries that are tiny compared with the array's
    largest entry do not blow it up the way an element-wise relative error would.
    """
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"shape mismatch: got {a.shape}, expected {b.shape}")
    if not np.all(np.isfinite(a)):
        return np.inf
    scale = max(float(np.max(np.abs(b), initial=0.0)), _TINY)
    return float(np.max(np.abs(a - b), initial=0.0)) / scale


class WorstErrors:
    """Keep the worst relative error seen for each label (e.g. "torch lstm float32")."""

    def __init__(self):
        self.worst = {}

    def check(self, label, quantity, actual, expected, rtol):
        """Record ``relative_error(actual, expected)`` under ``label`` and assert it is <= rtol.

        Parameters
        ----------
        label : str
            Group under which the worst error is kept, e.g. ``"torch gru float64"``.
        quantity : str
            What is compared (``"out"``, ``"grad weight_hh_l1"``...), used in the failure message.
        actual, expected : array_like
        rtol : float
        """
        err = relative_error(actual, expected)
        prev = self.worst.get(label)
        if prev is None or err > prev[0]:
            self.worst[label] = (err, quantity)
        assert err <= rtol, f"{label}: {quantity} relative error {err:.3g} > {rtol:g}"
        return err

    def report(self):
        """Lines for the terminal summary, one per label."""
        return [f"{label:<52s} {err:10.3e}   (worst: {qty})"
                for label, (err, qty) in sorted(self.worst.items())]


_WORST = WorstErrors()


@pytest.fixture(scope="session")
def worst_errors():
    """The session-wide :class:`WorstErrors` record."""
    return _WORST


def pytest_terminal_summary(terminalreporter):
    """Print the worst relative errors seen by the oracle comparisons."""
    lines = _WORST.report()
    if lines:
        terminalreporter.section("worst relative error per comparison (max|a-b| / max|b|)")
        for line in lines:
            terminalreporter.write_line(line)


# ------------------------------------------------------------------------------------------------
# finite differences
# ------------------------------------------------------------------------------------------------
def numerical_gradient(loss, arr, eps=1e-6):
    """Central-difference gradient of the scalar ``loss()`` with respect to ``arr``, in place.

    ``arr`` (float64) is perturbed element by element and restored; ``loss`` must read it afresh
    on every call.
    """
    grad = np.zeros(arr.shape)
    flat = arr.reshape(-1)  # a view: arr must be contiguous
    assert np.shares_memory(flat, arr)
    for k in range(flat.size):
        orig = flat[k]
        flat[k] = orig + eps
        up = loss()
        flat[k] = orig - eps
        down = loss()
        flat[k] = orig
        grad.reshape(-1)[k] = (up - down) / (2.0 * eps)
    return grad


@pytest.fixture(scope="session")
def numgrad():
    """:func:`numerical_gradient`, as a fixture so that test modules need not import conftest."""
    return numerical_gradient


@pytest.fixture(scope="session")
def relerr():
    """:func:`relative_error`, as a fixture."""
    return relative_error


# ------------------------------------------------------------------------------------------------
# tiny RNNs for the comparison and the command
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def tiny_rnn(monkeypatch):
    """Make the comparison's RNNs tiny and fast (the real defaults take tens of seconds)."""
    import functools

    from tsrnn import RNNForecaster, comparison

    monkeypatch.setattr(comparison, "RNNForecaster", functools.partial(
        RNNForecaster, hidden_size=4, max_epochs=2, tbptt=20, batch_size=4,
        early_stopping=False,
    ))
