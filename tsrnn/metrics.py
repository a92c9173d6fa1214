"""Forecast accuracy: MAE, RMSE, sMAPE and MASE for point forecasts; coverage, width,
interval score, pinball loss and CRPS for intervals, quantiles and sample paths.

Every metric takes array-likes or pandas objects of the same length and averages over all
elements, so a (horizon, D) forecast of several columns gives one number. Values are compared
by position, except that pandas objects compared with each other are matched by index label:
the same labels in another order are aligned, different labels are a ValueError.

Missing values follow ``nan_policy``, as in SciPy: ``"propagate"`` (the default) returns NaN
when any value compared is NaN, ``"omit"`` leaves out the pairs with a NaN (and, for MASE's
scale, the training differences that touch one; NaN when nothing is left), ``"raise"`` raises
a ValueError.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from tsrnn._checks import check_int, check_option, check_real

__all__ = ["mae", "rmse", "smape", "mase", "naive_scale", "scaled_error", "coverage",
           "interval_width", "interval_score", "pinball_loss", "crps", "NAN_POLICIES"]


def _values(a, name):
    if isinstance(a, (pd.Series, pd.DataFrame)):
        a = a.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric array-like") from None
    if a.ndim == 0:
        raise ValueError(f"{name} must be array-like, got a scalar")
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    return a


NAN_POLICIES = ("propagate", "omit", "raise")


def _aligned(named):
    """The objects of ``named`` in order, the pandas ones reordered to the first one's index.

    Rows are matched by label: a forecast sorted differently from the truth is still compared
    step by step, and a forecast for other timestamps is refused rather than compared by
    position with the wrong truth.
    """
    pandas = [name for name, a in named.items() if isinstance(a, (pd.Series, pd.DataFrame))]
    if len(pandas) < 2:
        return list(named.values())
    first = named[pandas[0]].index
    out = dict(named)
    for name in pandas[1:]:
        index = named[name].index
        if not index.equals(first):
            _check_same_labels(first, index, pandas[0], name)
            out[name] = named[name].reindex(first)
    return list(out.values())


def _check_same_labels(first, other, first_name, other_name):
    """Raise a ValueError unless two indexes hold the same labels, once each."""
    for a, b, a_name, b_name in ((first, other, first_name, other_name),
                                 (other, first, other_name, first_name)):
        extra = ~a.isin(b)
        if extra.any():
            label = a[extra].tolist()[0]  # a Python scalar or Timestamp, not np.int64(3)
            raise ValueError(
                f"{first_name} and {other_name} have different indexes: {label!r} is in "
                f"{a_name}'s index but not in {b_name}'s; select the same labels, or pass "
                f"arrays (e.g. .to_numpy()) to compare by position")
    for index, name in ((first, first_name), (other, other_name)):
        if index.has_duplicates:
            raise ValueError(
                f"{first_name} and {other_name} have the same labels in another order, but "
                f"{name}'s index repeats some, so they cannot be aligned; pass arrays (e.g. "
                f".to_numpy()) to compare by position")


def _pair(y_true, y_pred, nan_policy="propagate"):
    """The compared values as two flat arrays (pandas ones aligned by index), after the NaN
    policy."""
    check_option(nan_policy, "nan_policy", NAN_POLICIES)
    y_true, y_pred = _aligned({"y_true": y_true, "y_pred": y_pred})
    t = _values(y_true, "y_true")
    p = _values(y_pred, "y_pred")
    if t.ndim == 2 and t.shape[1] == 1 and p.ndim == 1:
        t = t[:, 0]
    if p.ndim == 2 and p.shape[1] == 1 and t.ndim == 1:
        p = p[:, 0]
    if t.shape != p.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got {t.shape} and {p.shape}"
        )
    t, p = t.ravel(), p.ravel()
    missing = np.isnan(t) | np.isnan(p)
    if not missing.any() or nan_policy == "propagate":
        return t, p
    if nan_policy == "raise":
        raise ValueError(f"y_true or y_pred holds {int(missing.sum())} NaN value(s); pass "
                         f"nan_policy='omit' to leave them out")
    return t[~missing], p[~missing]


def _mean(values):
    return float(np.mean(values)) if values.size else float("nan")


def mae(y_true, y_pred, nan_policy="propagate"):
    """Mean absolute error, ``mean(|y_true - y_pred|)``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, D), or pandas Series/DataFrame
        Observed and forecast values, compared by position (two pandas objects: by index
        label).
    nan_policy : {"propagate", "omit", "raise"}, default="propagate"
        What NaN values do (see the module's description).

    Returns
    -------
    float

    Examples
    --------
    >>> from tsrnn.metrics import mae
    >>> mae([1.0, 2.0, 3.0], [2.0, 2.0, 5.0])
    1.0
    """
    t, p = _pair(y_true, y_pred, nan_policy)
    return _mean(np.abs(t - p))


def rmse(y_true, y_pred, nan_policy="propagate"):
    """Root mean squared error, ``sqrt(mean((y_true - y_pred) ** 2))``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, D), or pandas Series/DataFrame
        Observed and forecast values, compared by position (two pandas objects: by index
        label).
    nan_policy : {"propagate", "omit", "raise"}, default="propagate"
        What NaN values do (see the module's description).

    Returns
    -------
    float

    Examples
    --------
    >>> from tsrnn.metrics import rmse
    >>> rmse([0.0, 0.0], [3.0, 4.0])  # sqrt((9 + 16) / 2)
    3.5355339059327378
    """
    t, p = _pair(y_true, y_pred, nan_policy)
    return float(np.sqrt(_mean((t - p) ** 2)))


def smape(y_true, y_pred, nan_policy="propagate"):
    """Symmetric mean absolute percentage error, in percent (0 to 200).

    ``100 * mean(2 |y_true - y_pred| / (|y_true| + |y_pred|))``, where a term with
    ``y_true == y_pred == 0`` counts as 0.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, D), or pandas Series/DataFrame
        Observed and forecast values, compared by position (two pandas objects: by index
        label).
    nan_policy : {"propagate", "omit", "raise"}, default="propagate"
        What NaN values do (see the module's description).

    Returns
    -------
    float
        Between 0 (perfect) and 200.

    Examples
    --------
    >>> from tsrnn.metrics import smape
    >>> smape([100.0, 0.0], [110.0, 0.0])  # (2 * 10 / 210 + 0) / 2 * 100
    4.761904761904762
    """
    t, p = _pair(y_true, y_pred, nan_policy)
    num = 2.0 * np.abs(t - p)
    den = np.abs(t) + np.abs(p)
    # a term with both values zero is a perfect forecast; NaN terms stay NaN
    terms = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(np.isnan(den),
                                                                           np.nan, 0.0))
    return 100.0 * _mean(terms)


def mase(y_true, y_pred, y_train, season_length=1, nan_policy="propagate"):
    """Mean absolute scaled error (Hyndman & Koehler, 2006).

    The forecast's MAE divided by the in-sample MAE of the seasonal naive forecast on the
    training series: ``mae(y_true, y_pred) / mean(|y_train[m:] - y_train[:-m]|)`` with
    ``m = season_length``. Below 1 means better than the naive forecast was in-sample.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, D), or pandas Series/DataFrame
        Observed and forecast values, compared by position (two pandas objects: by index
        label).
    y_train : array-like of shape (T,) or (T, D), or pandas Series/DataFrame
        The history the forecast was made from; needs more than ``season_length`` values.
    season_length : int, default=1
        Lag of the naive forecast used for scaling (1: last value).
    nan_policy : {"propagate", "omit", "raise"}, default="propagate"
        What NaN values do (see the module's description); with "omit" the scale uses the
        training differences between finite values only.

    Returns
    -------
    float
        ``inf`` when the training series is constant at lag ``season_length`` (zero scale) and
        the forecast has errors; NaN, with a RuntimeWarning, when it has none (0 / 0 is
        undefined: there is nothing to compare with).

    Examples
    --------
    >>> from tsrnn.metrics import mase
    >>> mase([5.0, 6.0], [4.0, 6.0], y_train=[1.0, 2.0, 4.0])  # 0.5 / 1.5
    0.3333333333333333
    """
    t, p = _pair(y_true, y_pred, nan_policy)
    train = _values(y_train, "y_train")
    m = check_int(season_length, "season_length", minimum=1)
    if train.shape[0] <= m:
        raise ValueError(
            f"y_train needs more than season_length={m} values to scale MASE, got "
            f"{train.shape[0]}"
        )
    return scaled_error(_mean(np.abs(t - p)), naive_scale(train, m, nan_policy))


def scaled_error(error, scale):
    """``error / scale`` as MASE defines it: ``inf`` for an error on a zero scale, NaN (with a
    RuntimeWarning) for none.

    Parameters
    ----------
    error : float
        A mean absolute error.
    scale : float
        The naive forecast's in-sample MAE (:func:`naive_scale`).

    Returns
    -------
    float
        NaN when either is NaN.

    Examples
    --------
    >>> from tsrnn.metrics import scaled_error
    >>> scaled_error(0.5, 2.0), scaled_error(1.0, 0.0)
    (0.25, inf)
    """
    if np.isnan(scale) or np.isnan(error):
        return float("nan")
    if scale == 0.0:
        if error == 0.0:
            warnings.warn("the scaled error is undefined (0 / 0): the naive forecast has no "
                          "error on the training data and neither has this one", RuntimeWarning,
                          stacklevel=2)
            return float("nan")
        return float("inf")
    return float(error) / float(scale)


def naive_scale(y_train, season_length=1, nan_policy="propagate"):
    """MASE's scale: the in-sample MAE of the seasonal naive forecast on ``y_train``.

    Parameters
    ----------
    y_train : array-like of shape (T,) or (T, D)
    season_length : int, default=1
    nan_policy : {"propagate", "omit", "raise"}, default="propagate"
        With "omit", only differences between two finite values count.

    Returns
    -------
    float
        NaN when no difference is left.

    Examples
    --------
    >>> from tsrnn.metrics import naive_scale
    >>> naive_scale([1.0, 2.0, float("nan"), 5.0, 7.0], nan_policy="omit")
    1.5
    """
    check_option(nan_policy, "nan_policy", NAN_POLICIES)
    train = _values(y_train, "y_train")
    m = check_int(season_length, "season_length", minimum=1)
    diffs = np.abs(train[m:] - train[:-m]).ravel()
    if nan_policy == "raise" and np.isnan(diffs).any():
        raise ValueError("y_train holds NaN values; pass nan_policy='omit' to leave them out")
    if nan_policy == "omit":
        diffs = diffs[~np.isnan(diffs)]
    return _mean(diffs)


# Interval, quantile and sample scores. The proper scoring rules come from scoringrules (a
# maintained implementation of the standard definitions); it is imported when first used
# because its import is slow.

def _same_shape(named):
    """Arrays of one shape, in the order given (pandas ones aligned by index); (n, 1) columns
    meet (n,) vectors."""
    arrays = {name: _values(a, name) for name, a in zip(named, _aligned(named))}
    first_name, first = next(iter(arrays.items()))
    out = []
    for name, a in arrays.items():
        if a.ndim == 2 and a.shape[1] == 1 and first.ndim == 1:
            a = a[:, 0]
        if a.shape != first.shape:
            raise ValueError(f"{first_name} and {name} must have the same shape, got "
                             f"{first.shape} and {a.shape}")
        out.append(a)
    return out


def _apply_nan_policy(arrays, missing, nan_policy):
    """Drop (or refuse) the positions where ``missing`` is True, after ``nan_policy``."""
    check_option(nan_policy, "nan_policy", NAN_POLICIES)
    if not missing.any() or nan_policy == "propagate":
        return arrays
    if nan_policy == "raise":
        raise ValueError(f"the values compared hold {int(missing.sum())} NaN value(s); pass "
                         f"nan_policy='omit' to leave them out")
    return [a[~missing] for a in arrays]


def _bounds(y_true, lower, upper, nan_policy):
    t, lo, hi = _same_shape({"y_true": y_true, "lower": lower, "upper": upper})
    if (lo > hi).any():
        raise ValueError(f"lower exceeds upper at {int((lo > hi).sum())} position(s)")
    t, lo, hi = (a.ravel() for a in (t, lo, hi))
    missing = np.isnan(t) | np.isnan(lo) | np.isnan(hi)
    return _apply_nan_policy([t, lo, hi], missing, nan_policy)


def _check_level(value, name):
    return check_real(value, name, 0.0, 1.0, low_open=True, high_open=True)


def coverage(y_true, lower, upper, nan_policy="propagate"):
    """Empirical coverage: the fraction of observed values inside ``[lower, upper]``.

    Parameters
    ----------
    y_true, lower, upper : array-like of shape (n,) or (n, D), or pandas Series/DataFrame
        Observed values and the interval's bounds, compared by position (pandas objects:
        by index label).
    nan_policy : {"propagate", "omit", "raise"}, default="propagate"

    Returns
    -------
    float
        Between 0 and 1; compare it with the nominal coverage of the interval.

    Raises
    ------
    ValueError
        When the shapes differ, pandas indexes hold different labels, or ``lower`` exceeds
        ``upper`` somewhere.

    Examples
    --------
    >>> from tsrnn.metrics import coverage
    >>> coverage([1.0, 2.0, 5.0, 0.0], lower=[0, 0, 0, 0], upper=[3, 3, 3, 3])
    0.75
    """
    t, lo, hi = _bounds(y_true, lower, upper, nan_policy)
    if np.isnan(t).any() or np.isnan(lo).any() or np.isnan(hi).any():
        return float("nan")
    return _mean(((t >= lo) & (t <= hi)).astype(np.float64))


def interval_width(lower, upper, nan_policy="propagate"):
    """Mean width ``upper - lower`` of an interval forecast (sharpness; smaller is sharper).

    Parameters
    ----------
    lower, upper : array-like of shape (n,) or (n, D), or pandas Series/DataFrame
    nan_policy : {"propagate", "omit", "raise"}, default="propagate"

    Returns
    -------
    float

    Examples
    --------
    >>> from tsrnn.metrics import interval_width
    >>> interval_width([0.0, 1.0], [2.0, 2.0])
    1.5
    """
    lo, hi = _same_shape({"lower": lower, "upper": upper})
    if (lo > hi).any():
        raise ValueError(f"lower exceeds upper at {int((lo > hi).sum())} position(s)")
    lo, hi = lo.ravel(), hi.ravel()
    lo, hi = _apply_nan_policy([lo, hi], np.isnan(lo) | np.isnan(hi), nan_policy)
    return _mean(hi - lo)


def interval_score(y_true, lower, upper, coverage, nan_policy="propagate"):
    """Interval (Winkler) score of a central interval at nominal ``coverage``.

    ``(upper - lower) + 2 / alpha * (lower - y) [y < lower] + 2 / alpha * (y - upper)
    [y > upper]`` with ``alpha = 1 - coverage`` (Gneiting & Raftery, 2007), averaged. It
    rewards narrow intervals and penalises misses; lower is better. Computed by
    :func:`scoringrules.interval_score`.

    Parameters
    ----------
    y_true, lower, upper : array-like of shape (n,) or (n, D), or pandas Series/DataFrame
    coverage : float in (0, 1)
        The interval's nominal coverage (e.g. 0.9).
    nan_policy : {"propagate", "omit", "raise"}, default="propagate"

    Returns
    -------
    float
        In the units of ``y_true``.

    Examples
    --------
    >>> from tsrnn.metrics import interval_score
    >>> interval_score([1.0, 4.0], lower=[0.0, 0.0], upper=[2.0, 2.0], coverage=0.5)
    6.0
    """
    level = _check_level(coverage, "coverage")
    t, lo, hi = _bounds(y_true, lower, upper, nan_policy)
    import scoringrules

    return _mean(np.asarray(scoringrules.interval_score(t, lo, hi, 1.0 - level)))


def _quantile_levels(q):
    levels = np.atleast_1d(np.asarray(q, dtype=object))
    if levels.ndim != 1 or levels.size == 0:
        raise ValueError(f"q must be a number or a flat list of numbers, got {q!r}")
    return np.array([_check_level(v, "q") for v in levels]), np.ndim(q) == 0


def pinball_loss(y_true, y_quantile, q, nan_policy="propagate"):
    """Pinball (quantile) loss of quantile forecasts, averaged over values and levels.

    For level ``q`` and forecast ``f``: ``q * (y - f)`` when ``y >= f``, else
    ``(1 - q) * (f - y)``. Computed by :func:`scoringrules.quantile_score`.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, D), or pandas Series/DataFrame
    y_quantile : array-like
        With a single level ``q``: the shape of ``y_true``. With a list of levels: the shape
        of ``y_true`` plus a last axis of ``len(q)``, as
        :meth:`~tsrnn.forecasters.BaseForecaster.predict_quantiles` returns for arrays
        (a DataFrame with one column per level for a Series forecast).
    q : float or sequence of float in (0, 1)
    nan_policy : {"propagate", "omit", "raise"}, default="propagate"

    Returns
    -------
    float

    Examples
    --------
    >>> from tsrnn.metrics import pinball_loss
    >>> pinball_loss([1.0, 0.0], [0.0, 1.0], q=0.9)
    0.5
    """
    levels, single = _quantile_levels(q)
    y_true, y_quantile = _aligned({"y_true": y_true, "y_quantile": y_quantile})
    t = _values(y_true, "y_true")
    f = _values(y_quantile, "y_quantile")
    if single:
        t, f = _same_shape({"y_true": t, "y_quantile": f})
        f = f[..., None]
    if t.ndim == 2 and t.shape[1] == 1 and f.ndim == 2:
        t = t[:, 0]
    if f.shape != t.shape + (levels.size,):
        raise ValueError(f"y_quantile must have shape {t.shape + (levels.size,)} for "
                         f"{levels.size} level(s), got {f.shape}")
    t = np.broadcast_to(t[..., None], f.shape).ravel()
    alpha = np.broadcast_to(levels, f.shape).ravel()
    f = f.ravel()
    t, f, alpha = _apply_nan_policy([t, f, alpha], np.isnan(t) | np.isnan(f), nan_policy)
    import scoringrules

    return _mean(np.asarray(scoringrules.quantile_score(t, f, alpha)))


def _sample_array(samples, shape):
    """Samples as an array of shape (n_samples, *shape), from an array or a pandas frame."""
    if isinstance(samples, pd.DataFrame):
        # predict_samples' pandas layout: one row per step, one column per sample (or per
        # (column, sample) pair)
        values = samples.to_numpy(dtype=np.float64, na_value=np.nan)
        if isinstance(samples.columns, pd.MultiIndex):
            n_columns = samples.columns.get_level_values(0).nunique()
            values = values.reshape(len(samples), n_columns, -1).transpose(2, 0, 1)
        else:
            values = values.T
    else:
        values = _values(samples, "samples")
    if values.shape[1:] != shape:
        raise ValueError(f"samples must have shape (n_samples, {', '.join(map(str, shape))}) "
                         f"to match y_true, got {values.shape}")
    return values


def crps(y_true, samples, nan_policy="propagate"):
    """Continuous ranked probability score of sample paths, averaged over values.

    The CRPS generalises the absolute error to a forecast distribution (for a single sample it
    is the absolute error); lower is better. It is estimated from the samples by
    :func:`scoringrules.crps_ensemble`.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, D), or pandas Series/DataFrame
    samples : array-like of shape (n_samples, n) or (n_samples, n, D), or pandas DataFrame
        Draws from the forecast distribution, as
        :meth:`~tsrnn.forecasters.BaseForecaster.predict_samples` returns them (its DataFrame
        layout, one row per step, is accepted too).
    nan_policy : {"propagate", "omit", "raise"}, default="propagate"
        With "omit", positions whose truth or any sample is NaN are left out.

    Returns
    -------
    float
        In the units of ``y_true``.

    Examples
    --------
    >>> from tsrnn.metrics import crps
    >>> crps([0.0, 1.0], [[0.0, 1.0]])  # one sample: the mean absolute error
    0.0
    """
    y_true, samples = _aligned({"y_true": y_true, "samples": samples})  # rows are steps
    t = _values(y_true, "y_true")
    s = _sample_array(samples, t.shape)
    t, s = t.ravel(), s.reshape(s.shape[0], -1).T
    missing = np.isnan(t) | np.isnan(s).any(axis=1)
    t, s = _apply_nan_policy([t, s], missing, nan_policy)
    import scoringrules

    return _mean(np.asarray(scoringrules.crps_ensemble(t, s)))
