"""Naive benchmark forecasts: last value, historical mean, last season repeated."""
from __future__ import annotations

from statistics import NormalDist

import numpy as np

from tsrnn._checks import integer, option

from ._base import BaseForecaster

__all__ = ["NaiveForecaster"]

_STRATEGIES = ("last", "mean", "seasonal")


class NaiveForecaster(BaseForecaster):
    """Naive forecasts, the benchmarks every other forecaster should beat.

    Parameters
    ----------
    strategy : {"last", "mean", "seasonal"}, default="last"
        ``"last"`` repeats the last observed value; ``"mean"`` forecasts the mean of every value
        seen (fit data plus updates; with a context, the context's mean); ``"seasonal"``
        repeats the last ``season_length`` values.
    season_length : int, optional
        Period of the seasonal strategy (required for it, ignored otherwise).
    missing : {"raise", "interpolate"}, default="raise"
        Handling of NaN/inf values, see :class:`~tsrnn.forecasters._base.BaseForecaster`.

    Attributes
    ----------
    window_ : list of ndarray of shape (m, D)
        Per series, the last ``m`` values seen (``m`` = ``season_length`` for "seasonal",
        1 otherwise).
    sum_, count_ : list of ndarray of shape (D,), list of int
        Per series, running sum and number of values seen (for "mean").
    sigma_ : ndarray of shape (n_series_, D)
        Root mean square of each series' in-sample one-step residuals of the strategy (NaN
        when there are none), used by :meth:`predict_interval`.

    Notes
    -----
    Each series of a list keeps its own state; exogenous columns are not used (passing ``X``
    raises). Intervals assume Gaussian residuals, as in Hyndman & Athanasopoulos, *Forecasting:
    Principles and Practice*, section 5.5: with residual scale ``sigma``, the ``h``-step standard
    deviation is ``sigma * sqrt(h)`` ("last"), ``sigma * sqrt(1 + 1/T)`` ("mean", ``T`` values
    seen) and ``sigma * sqrt(floor((h - 1) / m) + 1)`` ("seasonal").

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.forecasters.naive import NaiveForecaster
    >>> y = np.array([1.0, 5.0, 2.0, 6.0, 3.0, 7.0])
    >>> NaiveForecaster(strategy="seasonal", season_length=2).fit(y).predict(3)
    array([3., 7., 3.])
    >>> NaiveForecaster(strategy="mean").fit(y).predict(2)
    array([4., 4.])
    """

    _supports_exog = False
    _parameter_constraints = {
        **BaseForecaster._parameter_constraints,
        "strategy": option(*_STRATEGIES),
        "season_length": integer(1, allow_none=True),
    }

    def __init__(self, strategy="last", season_length=None, missing="raise"):
        self.strategy = strategy
        self.season_length = season_length
        self.missing = missing

    def _check_param_combinations(self, params):
        if params["strategy"] == "seasonal" and params["season_length"] is None:
            raise ValueError("strategy='seasonal' needs season_length, an integer >= 1; got None")

    def _window_length(self):
        return int(self.season_length) if self.strategy == "seasonal" else 1

    def _min_length(self):
        return self._window_length()

    def _min_context_length(self):
        return self._window_length()

    def _residuals(self, y):
        """In-sample one-step residuals of the strategy, shape (k, D)."""
        if self.strategy == "mean":
            return y - y.mean(axis=0)
        m = self._window_length()
        return y[m:] - y[:-m]

    def _fit_core(self, ys, Xs):
        m = self._window_length()
        self.window_ = [y[-m:].copy() for y in ys]
        self.sum_ = [y.sum(axis=0) for y in ys]
        self.count_ = [y.shape[0] for y in ys]
        sigma = []
        for y in ys:
            res = self._residuals(y)
            if res.shape[0] == 0:
                sigma.append(np.full(y.shape[1], np.nan))
            else:
                sigma.append(np.sqrt(np.mean(res**2, axis=0)))
        self.sigma_ = np.array(sigma)

    def _update_core(self, ys, Xs):
        m = self._window_length()
        self.window_ = [np.vstack([w, y])[-m:] for w, y in zip(self.window_, ys)]
        self.sum_ = [s + y.sum(axis=0) for s, y in zip(self.sum_, ys)]
        self.count_ = [c + y.shape[0] for c, y in zip(self.count_, ys)]

    def _states(self, contexts):
        """Per output: (window (m, D), mean (D,), number of values seen)."""
        m = self._window_length()
        if contexts is None:
            return [
                (w, s / c, c) for w, s, c in zip(self.window_, self.sum_, self.count_)
            ]
        return [(c.y[-m:], c.y.mean(axis=0), c.y.shape[0]) for c in contexts]

    def _point(self, horizon, window, mean):
        if self.strategy == "mean":
            return np.tile(mean, (horizon, 1))
        steps = np.arange(horizon) % window.shape[0]
        return window[steps]

    def _predict_core(self, horizon, Xs_future, contexts):
        return [self._point(horizon, w, mu) for w, mu, _ in self._states(contexts)]

    def _predict_interval_core(self, horizon, coverage, Xs_future, contexts):
        z = NormalDist().inv_cdf(0.5 + coverage / 2.0)
        out = []
        for i, (w, mu, n) in enumerate(self._states(contexts)):
            point = self._point(horizon, w, mu)
            sd = self._sigma(i) * self._spread(horizon, w.shape[0], n)
            out.append((point - z * sd, point + z * sd))
        return out

    def _predict_samples_core(self, horizon, n_samples, Xs_future, contexts, rng):
        out = []
        for i, (w, mu, n) in enumerate(self._states(contexts)):
            sigma = self._sigma(i)
            shocks = rng.standard_normal((n_samples, horizon, sigma.size)) * sigma
            if self.strategy == "mean":
                errors = shocks * np.sqrt(1.0 + 1.0 / n)
            else:  # a (seasonal) random walk: each step adds a shock to its value one window back
                errors = shocks
                m = w.shape[0]
                for h in range(m, horizon):
                    errors[:, h] += errors[:, h - m]
            out.append(self._point(horizon, w, mu) + errors)
        return out

    def _sigma(self, output):
        """Residual standard deviation (D,) of the fitted series behind ``output``."""
        sigma = self.sigma_[self._series_of(output)]
        if np.isnan(sigma).any():
            raise ValueError(
                "prediction intervals need in-sample residuals: fit on a series longer "
                "than the strategy's window"
            )
        return sigma

    def _spread(self, horizon, window, n):
        """Forecast standard deviations (horizon, 1) in units of the residuals' one."""
        h = np.arange(1, horizon + 1)[:, None]
        if self.strategy == "last":
            return np.sqrt(h)
        if self.strategy == "mean":
            return np.full((horizon, 1), np.sqrt(1.0 + 1.0 / n))
        return np.sqrt((h - 1) // window + 1)
