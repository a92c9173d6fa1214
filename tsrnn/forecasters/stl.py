"""Seasonal decomposition forecasts: STL or MSTL (statsmodels), ARIMA on the adjusted series."""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from tsrnn._checks import integer
from tsrnn._threads import blas_single_threaded
from tsrnn._uncertainty import MIN_CALIBRATION_ERRORS, pooled_quantiles
from tsrnn.seasonality import check_season_length, resolve_season

from ._base import BaseForecaster
from .arima import ndiffs, simulate_ahead

__all__ = ["STLForecaster"]

CALIBRATION_ORIGINS = 30
"""Origins of the held-out forecasts that calibrate the intervals, per column."""
CALIBRATION_SHARE = 0.3
"""Share of the fitted values, at their end, over which those origins are spread."""
CALIBRATION_HORIZON = 500
"""Most steps ahead calibrated directly; intervals further ahead widen from the last one."""


class _ColumnModel:
    """One column's fitted decomposition: integer periods, the ARIMA of the adjusted series
    and the signed errors (n_origins, horizon) of forecasts from origins near its end, in
    units of the ARIMA's standard error (None when the series is too short for them)."""

    def __init__(self, periods, result, errors=None):
        self.periods = periods
        self.result = result
        self.errors = errors


def _decompose(y, periods):
    """Seasonal components (n, k) of ``y`` for integer ``periods`` (k = len(periods))."""
    if not periods:
        return np.zeros((len(y), 0))
    from statsmodels.tsa.seasonal import MSTL, STL

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(periods) == 1:
            seasonal = STL(y, period=periods[0]).fit().seasonal
        else:
            seasonal = MSTL(y, periods=periods).fit().seasonal
    return np.asarray(seasonal, np.float64).reshape(len(y), -1)


def _repeat_last_seasons(seasonal, periods, horizon):
    """Each seasonal component's last period repeated over ``horizon`` steps, summed."""
    total = np.zeros(horizon)
    steps = np.arange(horizon)
    for column, m in enumerate(periods):
        last = seasonal[-m:, column]
        total += last[steps % m]
    return total


class STLForecaster(BaseForecaster):
    """Decompose with STL (one season) or MSTL (several), forecast the seasonally adjusted
    series with ARIMA and add each seasonal component's last period repeated.

    The classical forecast a statistician reaches for on a series with one or several
    cycles (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed.,
    sections 3.6 and 12.1; statsforecast's ``MSTL`` model does the same).

    Parameters
    ----------
    season_length : "auto", float or tuple of float, default="auto"
        The seasons, rounded to whole steps (STL needs them); ``"auto"`` detects them with
        :func:`tsrnn.seasonality.detect_season`. Seasons that the data does not hold twice
        are left out; without any, the forecast is the ARIMA of the series itself.
    max_p : int, default=3
        The adjusted series' ARIMA(p, d, q) is chosen by AIC over p in 0..max_p and
        q in 0..max_q, with ``d`` in {0, 1} from the ADF test at 5 % and a constant (d = 0) or
        a drift (d = 1).
    max_q : int, default=1
    max_fit_length : int or None, default=3000
        Decompose and fit on the last this many values (None: all); contexts are read over as
        many. Long, densely sampled signals change little beyond that and the fit stays fast.
    missing : {"raise", "interpolate"}, default="raise"

    Attributes
    ----------
    models_ : list of list
        Per series and column: the integer periods used (``periods``) and the statsmodels
        ARIMA results of the adjusted series (``result``).
    periods_ : tuple of int
        The periods of the first series' first column.

    Notes
    -----
    Contexts and updates decompose the latest ``max_fit_length`` values again and run the
    fitted ARIMA over the adjusted values (``results.apply``, no refit). Exogenous columns are
    not used.

    Intervals are calibrated on the end of the fitted values: forecasts from origins spread
    over their last 30 %, each from the history before it decomposed again and the fitted
    ARIMA run over it, give errors in units of the ARIMA's standard error per step ahead. An
    interval is the forecast plus the standard error times the split-conformal quantiles of
    those errors, pooled over the steps within a factor of two of the step. The ARIMA's own
    interval of the adjusted series leaves out the decomposition's uncertainty (the seasonal
    part also absorbs noise) and can cover too little; the calibration widens it where it
    does (and keeps it where it does not). The ARIMA's parameters are those of the whole fit,
    so the errors are slightly optimistic on short series. Sample paths are the ARIMA's
    simulated paths moved to the calibrated centre and spread per step.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.forecasters.stl import STLForecaster
    >>> t = np.arange(240)
    >>> y = 10 + 0.05 * t + np.sin(2 * np.pi * t / 12)
    >>> f = STLForecaster(season_length=12).fit(y)
    >>> f.predict(12).shape
    (12,)
    """

    _supports_exog = False
    _parameter_constraints = {
        **BaseForecaster._parameter_constraints,
        "season_length": check_season_length,
        "max_p": integer(0),
        "max_q": integer(0),
        "max_fit_length": integer(10, allow_none=True),
    }

    def __init__(self, season_length="auto", max_p=3, max_q=1, max_fit_length=3000,
                 missing="raise"):
        self.season_length = season_length
        self.max_p = max_p
        self.max_q = max_q
        self.max_fit_length = max_fit_length
        self.missing = missing

    def _min_length(self):
        return max(8, self.max_p + self.max_q + 4)

    def _min_context_length(self):
        models = getattr(self, "models_", None)
        longest = max((m for series in models or [] for c in series for m in c.periods),
                      default=1)
        return max(self._min_length(), 2 * longest)

    def _recent(self, y):
        return y if self.max_fit_length is None else y[-self.max_fit_length:]

    # ------------------------------------------------------------------ fitting
    def _periods(self, y):
        periods = resolve_season(self.season_length, y, minimum=1)
        whole = {int(round(p)) for p in periods}
        return tuple(sorted(m for m in whole if m >= 2 and 2 * m <= len(y)))

    def _arima(self, adjusted):
        """ARIMA(p, d, q) of the adjusted series by AIC (d from the ADF test)."""
        from statsmodels.tsa.arima.model import ARIMA

        d = ndiffs(adjusted, test="adf", max_d=1)
        trend = "c" if d == 0 else "t"
        best = None
        for p, q in itertools.product(range(self.max_p + 1), range(self.max_q + 1)):
            try:
                result = ARIMA(adjusted, order=(p, d, q), trend=trend).fit()
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.isfinite(result.aic) and (best is None or result.aic < best.aic):
                best = result
        if best is None:
            raise ValueError("no ARIMA could be fitted to the seasonally adjusted series")
        return best

    def _fit_column(self, y):
        y = self._recent(y)
        periods = self._periods(y)
        adjusted = y - _decompose(y, periods).sum(axis=1)
        model = _ColumnModel(periods, self._arima(adjusted))
        model.errors = self._held_out_errors(model, y)
        return model

    def _held_out_errors(self, model, y):
        """Errors (n_origins, horizon) of forecasts from origins over the end of ``y``, truth
        minus forecast over the ARIMA's standard error (NaN past the end); None when too few
        origins fit."""
        history = max(self._min_length(), 2 * max(model.periods, default=1))
        first = max(history, int(len(y) * (1.0 - CALIBRATION_SHARE)))
        if len(y) - first < MIN_CALIBRATION_ERRORS:
            return None
        origins = np.unique(np.linspace(first, len(y) - 1, CALIBRATION_ORIGINS).round()
                            .astype(int))
        horizon = min(CALIBRATION_HORIZON, len(y) - first)
        errors = np.full((len(origins), horizon), np.nan)
        for row, origin in enumerate(origins):
            known = int(min(horizon, len(y) - origin))
            mean, sd = self._column_forecast(model, y[:origin], known, False, _mean_and_sd)
            errors[row, :known] = (y[origin:origin + known] - mean) / sd
        return errors

    @blas_single_threaded
    def _fit_core(self, ys, Xs):
        # record=True: statsmodels' fit sets its own filters; convergence notes of the order
        # search are expected (the criterion decides among the candidates)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("ignore")
            self.models_ = [[self._fit_column(y[:, j]) for j in range(y.shape[1])] for y in ys]
        self.periods_ = self.models_[0][0].periods
        self.recent_ = [self._recent(y).copy() for y in ys]
        self.updated_ = False  # until an update, the fitted results forecast as they are

    # ------------------------------------------------------------------ forecasting
    def _column_forecast(self, model, y, horizon, fitted, draw):
        """``draw(model, result, season, horizon)`` for one column: the ARIMA of its
        seasonally adjusted values, from the fit (``fitted``) or run over values ``y``, and the
        seasonal part of the next ``horizon`` steps."""
        seasonal = _decompose(y, model.periods)
        if fitted:
            result = model.result
        else:
            result = model.result.apply(y - seasonal.sum(axis=1))
        return draw(model, result, _repeat_last_seasons(seasonal, model.periods, horizon),
                    horizon)

    def _forecast_all(self, horizon, contexts, draw):
        """Per output, per column: ``draw(model, result, season, horizon)`` (see
        :meth:`_column_forecast`)."""
        if contexts is None:
            items = [(i, y, not self.updated_) for i, y in enumerate(self.recent_)]
        else:
            items = [(c.series, self._recent(c.y), False) for c in contexts]
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for series, y, fitted in items:
                out.append([self._column_forecast(model, y[:, j], horizon, fitted, draw)
                            for j, model in enumerate(self.models_[series])])
        return out

    @blas_single_threaded
    def _predict_core(self, horizon, Xs_future, contexts):
        return [np.column_stack(columns) for columns in
                self._forecast_all(horizon, contexts, _mean)]

    @blas_single_threaded
    def _predict_quantiles_core(self, horizon, levels, Xs_future, contexts):
        def quantiles(model, result, season, horizon):
            mean, sd = _mean_and_sd(model, result, season, horizon)
            return mean[:, None] + sd[:, None] * _calibrated(model, levels, horizon)

        return [np.stack(columns, axis=1) for columns in
                self._forecast_all(horizon, contexts, quantiles)]

    @blas_single_threaded
    def _predict_samples_core(self, horizon, n_samples, Xs_future, contexts, rng):
        def paths(model, result, season, horizon):
            mean, sd = _mean_and_sd(model, result, season, horizon)
            # the simulated paths keep the ARIMA's dependence between steps; their spread and
            # centre are moved to the calibrated ones (10 % and 90 % quantiles)
            low, high = _calibrated(model, (0.1, 0.9), horizon).T
            scale = (high - low) / (2.0 * _NORMAL_90)
            deviations = simulate_ahead(result, horizon, n_samples, None, rng) - (mean - season)
            return mean + sd * (low + high) / 2.0 + scale * deviations

        return [np.stack(columns, axis=-1) for columns in
                self._forecast_all(horizon, contexts, paths)]

    def _update_core(self, ys, Xs):
        self.recent_ = [self._recent(np.concatenate([old, y])) for old, y in
                        zip(self.recent_, ys)]
        self.updated_ = True  # forecasts now run the fitted models over the recent values


_NORMAL_90 = 1.2815515655446004
"""The 90 % quantile of the standard normal distribution."""


def _mean(model, result, season, horizon):
    """The point forecast of one column: the ARIMA's mean plus the seasonal part."""
    return np.asarray(result.get_forecast(horizon).predicted_mean) + season


def _mean_and_sd(model, result, season, horizon):
    """The point forecast of one column and the ARIMA's standard error per step."""
    forecast = result.get_forecast(horizon)
    sd = np.asarray(forecast.se_mean, np.float64)
    return np.asarray(forecast.predicted_mean) + season, np.where(sd > 0, sd, np.nan)


def _calibrated(model, levels, horizon):
    """Quantiles (horizon, L) at ``levels`` of one column's held-out errors in standard
    errors."""
    if model.errors is None:
        raise ValueError(
            f"intervals need at least {MIN_CALIBRATION_ERRORS} held-out forecasts at the end "
            f"of the fitted series; fit STLForecaster on a longer series")
    return pooled_quantiles(model.errors, list(levels), horizon)
