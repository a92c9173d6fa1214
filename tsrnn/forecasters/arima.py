"""ARIMA forecasts through statsmodels, with a small automatic order search."""
from __future__ import annotations

import collections
import itertools
import numbers
import warnings

import numpy as np

from tsrnn._kernels import single_threaded_blas

from ._base import BaseForecaster

__all__ = ["ARIMAForecaster", "ndiffs"]

_CRITERIA = ("aic", "bic")
_TESTS = ("kpss", "adf")


def _is_order(value, length):
    return (
        isinstance(value, (tuple, list))
        and len(value) == length
        and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0
            for v in value
        )
    )


def ndiffs(y, test="kpss", alpha=0.05, max_d=2):
    """How many first differences make ``y`` stationary, by repeated stationarity tests.

    Difference while KPSS rejects level stationarity (``test="kpss"``) or ADF fails to reject
    a unit root (``test="adf"``) at level ``alpha``, up to ``max_d`` times: the choice of ``d``
    in :class:`ARIMAForecaster`'s automatic order search.

    Parameters
    ----------
    y : array-like of shape (n,)
        Finite values.
    test : {"kpss", "adf"}, default="kpss"
    alpha : float, default=0.05
        Significance level.
    max_d : int, default=2
        Most differences returned.

    Returns
    -------
    int
        In ``0..max_d``. A series shorter than 8 values or constant needs no (more) differences;
        a test that fails to compute counts as stationary.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.forecasters.arima import ndiffs
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.normal(size=500)
    >>> ndiffs(noise), ndiffs(np.cumsum(noise)), ndiffs(np.cumsum(np.cumsum(noise)))
    (0, 1, 2)
    """
    from statsmodels.tsa.stattools import adfuller, kpss

    if test not in _TESTS:
        raise ValueError(f"test must be one of {_TESTS}, got {test!r}")
    x = np.asarray(y, dtype=np.float64).ravel()
    for d in range(max_d + 1):
        if x.size < 8 or np.ptp(x) == 0:
            return d
        try:
            # The tests' own warnings (p-value beyond the look-up table, API notices) say
            # nothing about the series; keep them out of the fit's summary.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if test == "kpss":
                    stationary = kpss(x, regression="c", nlags="auto")[1] >= alpha
                else:
                    stationary = adfuller(x, autolag="AIC")[1] < alpha
        except (ValueError, np.linalg.LinAlgError):
            stationary = True
        if stationary:
            return d
        x = np.diff(x)
    return max_d


def _summarise(caught, name):
    """One message for many statsmodels warnings: counts per category and distinct text."""
    groups = collections.Counter(
        (w.category.__name__, str(w.message).strip().splitlines()[0] if str(w.message) else "")
        for w in caught
    )
    parts = [
        f"{category} x{count}: {text[:120]}"
        for (category, text), count in groups.most_common(5)
    ]
    more = len(groups) - len(parts)
    tail = f"; and {more} other kind(s)" if more > 0 else ""
    return (
        f"statsmodels raised {len(caught)} warning(s) while fitting {name}: "
        + "; ".join(parts) + tail
    )


class ARIMAForecaster(BaseForecaster):
    """ARIMA forecasts with statsmodels, optionally choosing the order automatically.

    Wraps :class:`statsmodels.tsa.arima.model.ARIMA`. With ``order="auto"`` the differencing
    order ``d`` comes from repeated stationarity tests (KPSS or ADF) and ``(p, q)`` from a grid
    search minimising AIC or BIC, in the spirit of a small ``auto_arima``.

    Parameters
    ----------
    order : "auto" or tuple of 3 int, default="auto"
        ``(p, d, q)``, or ``"auto"`` to select it per series and column.
    seasonal_order : tuple of 4 int, optional
        ``(P, D, Q, s)`` passed to statsmodels as is (never searched).
    trend : str or list, optional
        statsmodels' ``trend`` ("n", "c", "t", "ct"); None uses statsmodels' default (a constant
        without differencing, none with it).
    information_criterion : {"aic", "bic"}, default="aic"
        Criterion minimised by the order search.
    max_p, max_d, max_q : int, default=3, 2, 3
        Largest orders the search tries.
    test : {"kpss", "adf"}, default="kpss"
        Stationarity test that picks ``d``: difference while KPSS rejects stationarity (or ADF
        fails to reject a unit root) at level ``alpha``.
    alpha : float, default=0.05
        Significance level of the stationarity test.
    max_fit_length : int, optional
        Fit on the most recent ``max_fit_length`` observations only (a UserWarning says so,
        once per fit). statsmodels is slow on long signals: ARIMA(4, 0, 1) on 20,000 ECG samples
        takes tens of seconds.
    missing : {"raise", "interpolate"}, default="raise"
        Handling of NaN/inf values.

    Attributes
    ----------
    results_ : list of list
        statsmodels ``ARIMAResults``, per series and per target column, covering the fit data
        plus any updates.
    order_ : tuple or list
        The ``(p, d, q)`` used: a tuple when there is one series and one column, otherwise a
        nested list ``order_[series][column]``.

    Notes
    -----
    Each series of a list, and each target column, gets its own ARIMA (exogenous columns are
    shared by the columns of a series). ``update`` uses ``results.append`` and ``context`` uses
    ``results.apply``: both keep the fitted parameters and only re-run the Kalman filter.
    Intervals come from ``get_forecast(...).conf_int(alpha=1 - coverage)``. Warnings that
    statsmodels raises while fitting (ConvergenceWarning and others) are collected and
    reported as a single UserWarning.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.forecasters.arima import ARIMAForecaster
    >>> rng = np.random.default_rng(0)
    >>> y = np.zeros(200)
    >>> for t in range(1, 200):
    ...     y[t] = 0.7 * y[t - 1] + rng.normal()
    >>> f = ARIMAForecaster(order=(1, 0, 0)).fit(y)
    >>> f.predict(3).shape
    (3,)
    """

    def __init__(self, order="auto", seasonal_order=None, trend=None,
                 information_criterion="aic", max_p=3, max_d=2, max_q=3, test="kpss",
                 alpha=0.05, max_fit_length=None, missing="raise"):
        self.order = order
        self.seasonal_order = seasonal_order
        self.trend = trend
        self.information_criterion = information_criterion
        self.max_p = max_p
        self.max_d = max_d
        self.max_q = max_q
        self.test = test
        self.alpha = alpha
        self.max_fit_length = max_fit_length
        self.missing = missing

    # ------------------------------------------------------------------ parameters
    def _check_params(self):
        if not (self.order == "auto" or _is_order(self.order, 3)):
            raise ValueError(f"order must be 'auto' or (p, d, q) integers, got {self.order!r}")
        if self.seasonal_order is not None and not _is_order(self.seasonal_order, 4):
            raise ValueError(
                f"seasonal_order must be None or (P, D, Q, s) integers, got "
                f"{self.seasonal_order!r}"
            )
        if self.information_criterion not in _CRITERIA:
            raise ValueError(
                f"information_criterion must be one of {_CRITERIA}, got "
                f"{self.information_criterion!r}"
            )
        if self.test not in _TESTS:
            raise ValueError(f"test must be one of {_TESTS}, got {self.test!r}")
        for name in ("max_p", "max_d", "max_q"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if not isinstance(self.alpha, numbers.Real) or not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if self.max_fit_length is not None and (
            not isinstance(self.max_fit_length, numbers.Integral)
            or isinstance(self.max_fit_length, bool)
            or self.max_fit_length < 1
        ):
            raise ValueError(
                f"max_fit_length must be None or an integer >= 1, got {self.max_fit_length!r}"
            )

    def _seasonal(self):
        return tuple(self.seasonal_order) if self.seasonal_order is not None else (0, 0, 0, 0)

    def _min_length(self):
        self._check_params()
        if self.order == "auto":
            p, d, q = self.max_p, self.max_d, self.max_q
        else:
            p, d, q = self.order
        P, D, Q, s = self._seasonal()
        return max(3, p + q + d + 2, s * (P + D + Q) + 2)

    # ------------------------------------------------------------------ fitting
    def _model(self, y, X, order):
        from statsmodels.tsa.arima.model import ARIMA

        return ARIMA(y, exog=X, order=order, seasonal_order=self._seasonal(), trend=self.trend)

    def _choose_d(self, y):
        P, D, Q, s = self._seasonal()
        x = y
        for _ in range(D):
            if x.size > s:
                x = x[s:] - x[:-s]
        return ndiffs(x, test=self.test, alpha=self.alpha, max_d=self.max_d)

    def _select_order(self, y, X):
        """Pick ``d`` by stationarity tests, then the (p, q) with the lowest criterion.

        Fits whose optimiser did not converge only win when none converged.
        """
        d = self._choose_d(y)
        candidates = []
        for p, q in itertools.product(range(self.max_p + 1), range(self.max_q + 1)):
            try:
                result = self._model(y, X, (p, d, q)).fit()
            except (ValueError, np.linalg.LinAlgError):
                continue
            ic = getattr(result, self.information_criterion)
            if np.isfinite(ic):
                converged = bool((result.mle_retvals or {}).get("converged", True))
                candidates.append((not converged, ic, p + q, (p, d, q), result))
        if not candidates:
            raise ValueError(f"no ARIMA order with d={d} could be fitted to this series")
        best = min(candidates, key=lambda c: c[:3])
        return best[3], best[4]

    def _fit_core(self, ys, Xs):
        # statsmodels' Kalman filter multiplies tiny matrices: BLAS threads only spin there (up
        # to 7x slower fits measured on a busy 2-core machine), so BLAS runs on one thread.
        self._check_params()
        name = type(self).__name__
        trimmed = []
        results, orders = [], []
        with warnings.catch_warnings(record=True) as caught, single_threaded_blas():
            warnings.simplefilter("always")
            for i, y in enumerate(ys):
                X = None if Xs is None else Xs[i]
                if self.max_fit_length is not None and y.shape[0] > self.max_fit_length:
                    trimmed.append((i, y.shape[0]))
                    y = y[-self.max_fit_length:]
                    X = None if X is None else X[-self.max_fit_length:]
                series_results, series_orders = [], []
                for j in range(y.shape[1]):
                    if self.order == "auto":
                        order, result = self._select_order(y[:, j], X)
                    else:
                        order = tuple(int(v) for v in self.order)
                        result = self._model(y[:, j], X, order).fit()
                    series_results.append(result)
                    series_orders.append(order)
                results.append(series_results)
                orders.append(series_orders)
        if trimmed:
            detail = ", ".join(f"series {i}: {n} samples" for i, n in trimmed)
            warnings.warn(
                f"{name} fitted on the most recent max_fit_length={self.max_fit_length} "
                f"observations only ({detail})",
                UserWarning, stacklevel=5,
            )
        if caught:
            warnings.warn(_summarise(caught, name), UserWarning, stacklevel=5)
        self.results_ = results
        single = len(orders) == 1 and len(orders[0]) == 1
        self.order_ = orders[0][0] if single else orders

    # ------------------------------------------------------------------ state
    def _update_core(self, ys, Xs):
        with single_threaded_blas():
            self.results_ = self._appended(ys, Xs)

    def _appended(self, ys, Xs):
        return [
            [
                result.append(y[:, j], exog=None if Xs is None else Xs[i])
                for j, result in enumerate(self.results_[i])
            ]
            for i, y in enumerate(ys)
        ]

    def _forecasts(self, horizon, Xs_future, contexts):
        """Per output, per column: statsmodels PredictionResults for ``horizon`` steps."""
        with single_threaded_blas():
            return self._forecasts_unlimited(horizon, Xs_future, contexts)

    def _forecasts_unlimited(self, horizon, Xs_future, contexts):
        if contexts is None:
            states = self.results_
        else:
            states = []
            for i, (y, X) in enumerate(contexts):
                fitted = self.results_[self._series_of(i)]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    states.append(
                        [r.apply(y[:, j], exog=X) for j, r in enumerate(fitted)]
                    )
        return [
            [
                r.get_forecast(horizon, exog=None if Xs_future is None else Xs_future[i])
                for r in series
            ]
            for i, series in enumerate(states)
        ]

    def _predict_core(self, horizon, Xs_future, contexts):
        return [
            np.column_stack([np.asarray(f.predicted_mean) for f in series])
            for series in self._forecasts(horizon, Xs_future, contexts)
        ]

    def _predict_interval_core(self, horizon, coverage, Xs_future, contexts):
        out = []
        for series in self._forecasts(horizon, Xs_future, contexts):
            bounds = [np.asarray(f.conf_int(alpha=1.0 - coverage)) for f in series]
            out.append((
                np.column_stack([b[:, 0] for b in bounds]),
                np.column_stack([b[:, 1] for b in bounds]),
            ))
        return out
