"""Point-forecast accuracy: MAE, RMSE, sMAPE and MASE.

Every metric takes array-likes or pandas objects of the same length (values are compared by
position, not by index label) and averages over all elements, so a (horizon, D) forecast of
several columns gives one number.
"""
from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

__all__ = ["mae", "rmse", "smape", "mase"]


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


def _pair(y_true, y_pred):
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
    return t, p


def mae(y_true, y_pred):
    """Mean absolute error, ``mean(|y_true - y_pred|)``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, D), or pandas Series/DataFrame
        Observed and forecast values, compared by position.

    Returns
    -------
    float

    Examples
    --------
    >>> from tsrnn.metrics import mae
    >>> mae([1.0, 2.0, 3.0], [2.0, 2.0, 5.0])
    1.0
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def rmse(y_true, y_pred):
    """Root mean squared error, ``sqrt(mean((y_true - y_pred) ** 2))``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, D), or pandas Series/DataFrame
        Observed and forecast values, compared by position.

    Returns
    -------
    float

    Examples
    --------
    >>> from tsrnn.metrics import rmse
    >>> rmse([0.0, 0.0], [3.0, 4.0])  # sqrt((9 + 16) / 2)
    3.5355339059327378
    """
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def smape(y_true, y_pred):
    """Symmetric mean absolute percentage error, in percent (0 to 200).

    ``100 * mean(2 |y_true - y_pred| / (|y_true| + |y_pred|))``, where a term with
    ``y_true == y_pred == 0`` counts as 0.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, D), or pandas Series/DataFrame
        Observed and forecast values, compared by position.

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
    t, p = _pair(y_true, y_pred)
    num = 2.0 * np.abs(t - p)
    den = np.abs(t) + np.abs(p)
    terms = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(100.0 * np.mean(terms))


def mase(y_true, y_pred, y_train, season_length=1):
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
    t, p = _pair(y_true, y_pred)
    train = _values(y_train, "y_train")
    if isinstance(season_length, bool) or not isinstance(season_length, numbers.Integral) \
            or season_length < 1:
        raise ValueError(f"season_length must be an integer >= 1, got {season_length!r}")
    m = int(season_length)
    if train.shape[0] <= m:
        raise ValueError(
            f"y_train needs more than season_length={m} values to scale MASE, got "
            f"{train.shape[0]}"
        )
    scale = float(np.mean(np.abs(train[m:] - train[:-m])))
    error = float(np.mean(np.abs(t - p)))
    if scale == 0.0:
        return 0.0 if error == 0.0 else float("inf")
    return error / scale
