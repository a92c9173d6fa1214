"""Forecast uncertainty: argument checks, output wrapping and split-conformal error quantiles.

The forecasters' cores return quantiles as ``(horizon, D, L)`` arrays and sample paths as
``(n_samples, horizon, D)`` arrays in model units; this module checks what users ask for and
turns the results into the kind of object they gave (see :func:`wrap_quantiles` and
:func:`wrap_samples`).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tsrnn._checks import check_int, check_real

MAX_SAMPLE_VALUES = 50_000_000
"""Most values (samples x horizon x columns) one ``predict_samples`` call may return."""
MIN_CALIBRATION_ERRORS = 20
"""Fewest held-out errors a step ahead needs before its own quantiles are used."""


# ------------------------------------------------------------------ arguments
def check_coverages(coverage):
    """``(levels, is_list)``: a coverage in (0, 1), or a non-empty list of them."""
    if isinstance(coverage, (list, tuple, np.ndarray)):
        levels = [check_real(c, "coverage", 0.0, 1.0, low_open=True, high_open=True)
                  for c in np.asarray(coverage, dtype=object).ravel()]
        if not levels:
            raise ValueError("coverage must be a number in (0, 1) or a non-empty list of them")
        return levels, True
    return [check_real(coverage, "coverage", 0.0, 1.0, low_open=True, high_open=True)], False


def check_quantile_levels(q):
    """``q`` as a 1-D float array of probabilities in (0, 1) (a number or a list of them)."""
    values = np.atleast_1d(np.asarray(q, dtype=object)).ravel()
    if values.size == 0:
        raise ValueError("q must be a probability in (0, 1) or a non-empty list of them")
    return np.array([check_real(v, "q", 0.0, 1.0, low_open=True, high_open=True)
                     for v in values])


def check_n_samples(n_samples, horizon, n_columns, n_outputs=1):
    """``n_samples`` as an int >= 1 whose paths fit the documented bound on their size."""
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    total = n_samples * horizon * n_columns * n_outputs
    if total > MAX_SAMPLE_VALUES:
        raise ValueError(
            f"{n_samples:,} sample paths of {horizon:,} steps x {n_columns} column(s) x "
            f"{n_outputs} forecast(s) would hold {total:,} values, more than the limit of "
            f"{MAX_SAMPLE_VALUES:,} (tsrnn._uncertainty.MAX_SAMPLE_VALUES); ask for fewer "
            f"samples or a shorter horizon, or raise the limit")
    return n_samples


def interval_levels(coverage):
    """The lower and upper quantile levels of a central interval of ``coverage``."""
    return 0.5 - coverage / 2.0, 0.5 + coverage / 2.0


# ------------------------------------------------------------------ outputs
def wrap_quantiles(values, layout, index, levels):
    """Quantiles (horizon, D, L) as the kind of object the user gave.

    A Series gives a DataFrame with one column per level; a DataFrame gives columns
    ``(column, level)``; a 1-D array gives (horizon, L), a 2-D one (horizon, D, L).
    """
    levels = [float(q) for q in levels]
    if layout.kind == "series":
        return pd.DataFrame(values[:, 0, :], index=index, columns=pd.Index(levels, name="q"))
    if layout.kind == "frame":
        columns = pd.MultiIndex.from_product([list(layout.columns), levels],
                                             names=[None, "q"])
        return pd.DataFrame(values.reshape(len(values), -1), index=index, columns=columns)
    if layout.kind == "1d":
        return values[:, 0, :].copy()
    return values.copy()


def wrap_samples(values, layout, index):
    """Sample paths (n_samples, horizon, D) as the kind of object the user gave.

    A Series gives a DataFrame indexed by the forecast's labels with one column per sample; a
    DataFrame gives columns ``(column, sample)``; a 1-D array gives (n_samples, horizon), a
    2-D one (n_samples, horizon, D).
    """
    n_samples, horizon, n_columns = values.shape
    if layout.kind == "series":
        return pd.DataFrame(values[:, :, 0].T, index=index,
                            columns=pd.RangeIndex(n_samples, name="sample"))
    if layout.kind == "frame":
        columns = pd.MultiIndex.from_product([list(layout.columns), range(n_samples)],
                                             names=[None, "sample"])
        stacked = values.transpose(1, 2, 0).reshape(horizon, n_columns * n_samples)
        return pd.DataFrame(stacked, index=index, columns=columns)
    if layout.kind == "1d":
        return values[:, :, 0].copy()
    return values.copy()


# ------------------------------------------------------------------ conformal quantiles
def conformal_quantiles(errors, levels):
    """Split-conformal quantiles of signed errors (n, D) at ``levels``, shape (D, L).

    Upper levels take the ``ceil((n + 1) p)``-th smallest error, lower ones the
    ``floor((n + 1) p)``-th, so a central interval covers a new exchangeable error with
    probability at least its nominal coverage (up to the largest or smallest error).
    """
    ordered = np.sort(errors, axis=0)
    n = ordered.shape[0]
    out = np.empty((ordered.shape[1], len(levels)))
    for k, p in enumerate(levels):
        rank = math.ceil((n + 1) * p) if p >= 0.5 else math.floor((n + 1) * p)
        out[:, k] = ordered[min(max(rank, 1), n) - 1]
    return out


def error_quantiles(errors, levels, horizon):
    """Per-step quantiles (horizon, D, L) of held-out multi-step errors (n, H, D).

    ``errors[o, h]`` is truth minus forecast ``h + 1`` steps after origin ``o`` (NaN where the
    truth was not known). Steps with at least :data:`MIN_CALIBRATION_ERRORS` errors use their
    own conformal quantiles. Later steps keep the last such step's median and widen its
    distance to every quantile in proportion to the square root of the steps ahead, the growth
    of a random walk's spread: a long horizon gets wider intervals, not the last calibrated
    ones.
    """
    n_known = np.sum(np.isfinite(errors[..., 0]), axis=0)
    reliable = np.flatnonzero(n_known >= MIN_CALIBRATION_ERRORS)
    if reliable.size == 0:
        raise ValueError(
            f"intervals need at least {MIN_CALIBRATION_ERRORS} held-out forecast errors, "
            f"the model has {int(n_known.max(initial=0))}: fit on a longer series")
    levels = list(levels)
    out = np.empty((horizon, errors.shape[2], len(levels)))
    # Errors thin out with the steps ahead (fewer origins reach far), so every step up to the
    # last reliable one has enough of its own.
    last = int(reliable[-1])
    for h in range(min(horizon, last + 1)):
        out[h] = conformal_quantiles(_known(errors[:, h]), levels)
    if horizon > last + 1:
        median = np.median(_known(errors[:, last]), axis=0)[:, None]
        growth = np.sqrt(np.arange(last + 2, horizon + 1) / (last + 1.0))
        out[last + 1:] = median + growth[:, None, None] * (out[last] - median)
    return out


def pooled_quantiles(scaled_errors, levels, horizon):
    """Per-step quantiles (horizon, L) of held-out errors in units of the model's own standard
    error (n_origins, H), each pooled over the steps within a factor of two of it.

    A model whose standard errors grow with the steps ahead in the right shape but at the
    wrong scale is corrected by these (near one standard normal's quantiles when it is
    right); pooling neighbouring steps gives each step many errors from few origins. Steps
    after the last calibrated one use the last window.
    """
    calibrated = scaled_errors.shape[1]
    out = np.empty((horizon, len(levels)))
    for h in range(1, horizon + 1):
        step = min(h, calibrated)
        first, last = max(1, -(-step // 2)), min(calibrated, 2 * step)
        pooled = scaled_errors[:, first - 1:last].ravel()
        pooled = pooled[np.isfinite(pooled)]
        if pooled.size < MIN_CALIBRATION_ERRORS:
            raise ValueError(
                f"intervals need at least {MIN_CALIBRATION_ERRORS} held-out forecast errors "
                f"near step {h}, the model has {pooled.size}: fit on a longer series")
        out[h - 1] = conformal_quantiles(pooled[:, None], levels)[0]
    return out


def _known(step_errors):
    """The rows (origins) of one step's errors (n, D) whose truth was known."""
    return step_errors[np.isfinite(step_errors[:, 0])]
