"""Point-forecast accuracy: MAE, RMSE, sMAPE and MASE.

Every metric takes array-likes or pandas objects of the same length (values are compared by
position, not by index label) and averages over all elements, so a (horizon, D) forecast of
several columns gives one number.

Missing values follow ``nan_policy``, as in SciPy: ``"propagate"`` (the default) returns NaN
when any value compared is NaN, ``"omit"`` leaves out the pairs with a NaN (and, for MASE's
scale, the training differences that touch one; NaN when nothing is left), ``"raise"`` raises
a ValueError.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from tsrnn._checks import check_int, check_option

__all__ = ["mae", "rmse", "smape", "mase", "naive_scale", "scaled_error", "NAN_POLICIES"]


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


def _pair(y_true, y_pred, nan_policy="propagate"):
    """The compared values as two flat arrays, after the NaN policy."""
    check_option(nan_policy, "nan_policy", NAN_POLICIES)
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
        Observed and forecast values, compared by position.
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
        Observed and forecast values, compared by position.
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
        Observed and forecast values, compared by position.
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
        Observed and forecast values, compared by position.
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
        the forecast has errors; ``0.0`` when it has none.

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
    """``error / scale`` as MASE defines it: ``inf`` for an error on a zero scale, 0 for none.

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
        return 0.0 if error == 0.0 else float("inf")
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
