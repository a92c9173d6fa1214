"""Seasonal decomposition forecasts: STL or MSTL (statsmodels), ARIMA on the adjusted series."""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from tsrnn._checks import integer
from tsrnn._threads import blas_single_threaded
from tsrnn.seasonality import check_season_length, resolve_season

from ._base import BaseForecaster
from .arima import ndiffs, simulate_ahead

__all__ = ["STLForecaster"]


class _ColumnModel:
    """One column's fitted decomposition: integer periods and the ARIMA of the adjusted
    series."""

    def __init__(self, periods, result):
        self.periods = periods
        self.result = result


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
    not used. ``predict_interval`` gives the ARIMA's interval of the adjusted series shifted
    by the seasonal forecast (the decomposition's uncertainty is not included).

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
        return _ColumnModel(periods, self._arima(adjusted))

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
        """``draw(result, season)`` for one column: the ARIMA of its seasonally adjusted
        values, from the fit (``fitted``) or run over values ``y``, and the seasonal part of
        the next ``horizon`` steps."""
        seasonal = _decompose(y, model.periods)
        if fitted:
            result = model.result
        else:
            result = model.result.apply(y - seasonal.sum(axis=1))
        return draw(result, _repeat_last_seasons(seasonal, model.periods, horizon))

    def _forecast_all(self, horizon, contexts, draw):
        """Per output, per column: ``draw(result, season)`` (see :meth:`_column_forecast`)."""
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
        def mean(result, season):
            return np.asarray(result.get_forecast(horizon).predicted_mean) + season

        return [np.column_stack(columns) for columns in
                self._forecast_all(horizon, contexts, mean)]

    @blas_single_threaded
    def _predict_interval_core(self, horizon, coverage, Xs_future, contexts):
        def bounds(result, season):
            interval = np.asarray(result.get_forecast(horizon).conf_int(alpha=1.0 - coverage))
            return interval[:, 0] + season, interval[:, 1] + season

        return [(np.column_stack([c[0] for c in columns]),
                 np.column_stack([c[1] for c in columns]))
                for columns in self._forecast_all(horizon, contexts, bounds)]

    @blas_single_threaded
    def _predict_samples_core(self, horizon, n_samples, Xs_future, contexts, rng):
        def paths(result, season):
            return simulate_ahead(result, horizon, n_samples, None, rng) + season

        return [np.stack(columns, axis=-1) for columns in
                self._forecast_all(horizon, contexts, paths)]

    def _update_core(self, ys, Xs):
        self.recent_ = [self._recent(np.concatenate([old, y])) for old, y in
                        zip(self.recent_, ys)]
        self.updated_ = True  # forecasts now run the fitted models over the recent values
