"""ARIMA forecasts through statsmodels, with a small automatic order search and, for seasonal
series, Fourier terms of the season as regressors (dynamic harmonic regression)."""
from __future__ import annotations

import collections
import functools
import inspect
import itertools
import math
import numbers
import warnings

import numpy as np
import pandas as pd

from tsrnn._checks import check_int, integer, option, option_or, real
from tsrnn._threads import blas_single_threaded
from tsrnn.seasonality import fourier_terms

from ._base import BaseForecaster

__all__ = ["ARIMAForecaster", "ndiffs", "fourier_terms"]

_CRITERIA = ("aic", "bic")
_TESTS = ("kpss", "adf")


def _order(length, shape, allow_none=False):
    """A constraint: a tuple (or list) of ``length`` integers >= 0, such as ``(p, d, q)``."""

    def check(value, name):
        if value is None and allow_none:
            return None
        if not isinstance(value, (tuple, list)):
            raise TypeError(f"{name} must be {shape}, a tuple of {length} integers >= 0, got "
                            f"{value!r}")
        if len(value) != length:
            raise ValueError(f"{name} must be {shape}, a tuple of {length} integers >= 0, got "
                             f"{value!r}")
        return tuple(check_int(v, f"{name}[{i}]", minimum=0) for i, v in enumerate(value))

    return check


def _season_length(value, name):
    """A constraint: None, or a period in steps > 2 (fractional periods allowed)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be None or a number of steps, got "
                        f"{type(value).__name__} {value!r}")
    if not (np.isfinite(value) and value > 2):
        raise ValueError(f"{name} must be a number of steps > 2 (e.g. 12, or 365.25 / 7 for "
                         f"weekly data with a yearly cycle), got {value!r}")
    return float(value)


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


def _steps_between(first, last, step, kind):
    """Whole steps of ``step`` from label ``first`` to label ``last`` (negative when ``last``
    comes first), or None when ``last`` is not on ``first``'s grid. ``kind`` is a layout's
    ``index_kind``."""
    try:
        if kind in ("range", "int"):
            diff = int(last) - int(first)
            return diff // step if diff % step == 0 else None
        if kind == "period":
            if last.freq != first.freq:
                return None
            n = (last - first).n
            return n // first.freq.n if n % first.freq.n == 0 else None
        if isinstance(step, pd.offsets.Tick):  # fixed width: integer arithmetic on nanoseconds
            diff, width = last - first, pd.Timedelta(step)
            return diff // width if diff % width == pd.Timedelta(0) else None
        # Calendar offsets (weeks, months, business days): count the grid between the labels.
        lo, hi = (first, last) if last >= first else (last, first)
        make = pd.timedelta_range if kind == "timedelta" else pd.date_range
        grid = make(start=lo, end=hi, freq=step)
        if len(grid) == 0 or grid[0] != lo or grid[-1] != hi:
            return None
        return (len(grid) - 1) * (1 if last >= first else -1)
    except (TypeError, ValueError):  # e.g. time zones that do not match
        return None


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


def _is_auto(value):
    return isinstance(value, str) and value == "auto"


def _converged(result):
    """Whether statsmodels' optimiser converged: the MLE, or with ``fit(gls=True)`` both the
    feasible GLS iterations and their last ARMA fit."""
    retvals = getattr(result, "mle_retvals", None)
    if retvals is not None:
        return bool(retvals.get("converged", True))
    details = getattr(result, "fit_details", None)
    if not isinstance(details, dict) or "converged" not in details:
        return True
    converged = details["converged"] is not False
    arma = (details.get("arma_results") or [None])[-1]
    inner = getattr((arma or {}).get("statespace_results"), "mle_retvals", None) or {}
    return converged and bool(inner.get("converged", True))


def _join(X, terms):
    """Exogenous columns: the user's ``X`` (n, E) then the Fourier terms (n, 2K), or None."""
    if terms is None:
        return X
    return terms if X is None else np.column_stack([X, terms])


def _deseasonalised(y, terms):
    """``y`` minus its least-squares fit on a constant and the Fourier ``terms``."""
    design = np.column_stack([np.ones(y.shape[0]), terms])
    return y - design @ np.linalg.lstsq(design, y, rcond=None)[0]


class ARIMAForecaster(BaseForecaster):
    """ARIMA forecasts with statsmodels, optionally choosing the order automatically; with a
    season, a regression on Fourier terms with ARIMA errors (dynamic harmonic regression).

    Wraps :class:`statsmodels.tsa.arima.model.ARIMA`. With ``order="auto"`` the differencing
    order ``d`` comes from repeated stationarity tests (KPSS or ADF) and ``(p, q)`` from a grid
    search minimising AIC or BIC, in the spirit of a small ``auto_arima``.

    With ``season_length``, ``K`` sine-cosine pairs of the season (:func:`fourier_terms`) are
    regressors and the ARIMA models what they leave: the dynamic harmonic regression that
    Hyndman & Athanasopoulos (*Forecasting: Principles and Practice*, 3rd ed., sections 10.5
    and 12.1) recommend for long seasons such as weekly data with a yearly cycle. A seasonal
    ARIMA with ``s = 52`` carries a state of over 100 values per step and cannot express a
    season of 365.25 / 7 = 52.18 weeks; ``K`` pairs cost ``2 K`` coefficients and take any
    period. ``harmonics="auto"`` chooses ``K`` (0 included: no season) by the criterion.

    Parameters
    ----------
    order : "auto" or tuple of 3 int, default="auto"
        ``(p, d, q)``, or ``"auto"`` to select it per series and column.
    seasonal_order : tuple of 4 int, optional
        ``(P, D, Q, s)`` passed to statsmodels as is (never searched). Slow for long seasons:
        prefer ``season_length``.
    season_length : float, optional
        Period of the seasonal cycle in steps, > 2; it may be fractional (365.25 / 7 for weekly
        data with a yearly cycle, 365.25 * 24 for hourly data). Adds Fourier pairs of this
        period as regressors. None: no Fourier terms.
    harmonics : "auto" or int, default="auto"
        Number ``K`` of Fourier pairs, ``2 K < season_length`` (used with ``season_length``
        only). "auto" chooses ``K`` in ``0..max_harmonics`` by the information criterion.
    max_harmonics : int, default=6
        Largest ``K`` that ``harmonics="auto"`` tries (and at most below ``season_length / 2``).
    trend : str, list or "auto", optional
        statsmodels' ``trend`` ("n", "c", "t", "ct"; a polynomial in time added to the
        levels); None uses statsmodels' default (a constant without differencing, none with
        it). "auto" lets the criterion choose between none and, when ``d + D`` is 0, a
        constant, or when it is 1, a drift (``"t"``: a linear trend in levels, a constant in
        the differences, as ``auto.arima``'s drift); none when it is 2 or more.
    information_criterion : {"aic", "bic"}, default="aic"
        Criterion minimised by the order search.
    max_p, max_d, max_q : int, default=3, 2, 3
        Largest orders the search tries.
    test : {"kpss", "adf"}, default="adf"
        Stationarity test that picks ``d``: difference while ADF fails to reject a unit root
        (or KPSS rejects stationarity) at level ``alpha``. ADF is the default because KPSS,
        whose null is stationarity, rejects it on strongly autocorrelated stationary signals
        such as pulse and pressure waves, and a differenced model of them forecasts worse
        (``benchmarks/bench_accuracy.py`` compares with an AIC-chosen ARIMA(p, 0, q)).
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
    harmonics_ : int or list
        The number of Fourier pairs used (0 without ``season_length``), laid out as ``order_``.
    trend_ : str or list
        The statsmodels trend of each fitted model ("n", "c", "t", ...), laid out as
        ``order_``.

    Notes
    -----
    The automatic search (``order="auto"``), per series and column:

    1. ``d`` by the stationarity test, with ``season_length`` on what the series' least-squares
       fit on a constant and ``max_harmonics`` pairs leaves (the residuals, as ``auto.arima``
       tests them when given regressors), so that the cycle does not pass for a unit root;
    2. with ``harmonics="auto"`` or ``trend="auto"``: ``K`` and the trend at ARIMA(1, d, 1)
       (the given order when ``order`` is fixed);
    3. ``(p, q)`` over the grid, with that ``K`` and trend.

    Fits whose optimiser did not converge only win when none converged; ties go to the model
    with fewer terms. With ``season_length``, the regression coefficients (Fourier pairs,
    trend, ``X``) are estimated by feasible GLS alternating with the ARMA likelihood
    (statsmodels' ``fit(gls=True)``): on weekly CO2 it reached the likelihood of the joint
    maximum likelihood fit 3 to 5 times faster.

    Fourier terms need each observation's place in the cycle. The fit data take positions
    ``0..n-1`` (counted before ``max_fit_length`` trims them), updates continue them, and
    ``predict`` without context continues after the last observation seen. A context is placed
    by its index: its last label is compared with the last label seen (fit data plus updates),
    so it must be a pandas Series or DataFrame indexed on the fit data's grid (for a model
    fitted on arrays: an integer index counting the rows seen). An array context raises a
    ValueError, as its place in the cycle is unknown; :func:`~tsrnn.model_selection.backtest`
    passes indexed contexts when given a pandas series. Without Fourier terms (``K = 0``),
    contexts may be anything.

    Each series of a list, and each target column, gets its own ARIMA (exogenous columns are
    shared by the columns of a series). ``update`` uses ``results.append`` and ``context`` uses
    ``results.apply``: both keep the fitted parameters (including the Fourier coefficients)
    and only re-run the Kalman filter. Intervals come from
    ``get_forecast(...).conf_int(alpha=1 - coverage)``. Warnings that statsmodels raises while
    fitting (ConvergenceWarning and others) are collected and reported as a single UserWarning.

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

    A season of 12.5 steps, found by the automatic choice of ``K``:

    >>> t = np.arange(300)
    >>> cycle = 10 + 3 * np.sin(2 * np.pi * t / 12.5) + rng.normal(size=300)
    >>> f = ARIMAForecaster(order=(1, 0, 0), season_length=12.5, max_harmonics=2).fit(cycle)
    >>> f.harmonics_
    1
    """

    def __init__(self, order="auto", seasonal_order=None, season_length=None, harmonics="auto",
                 max_harmonics=6, trend=None, information_criterion="aic", max_p=3, max_d=2,
                 max_q=3, test="adf", alpha=0.05, max_fit_length=None, missing="raise"):
        self.order = order
        self.seasonal_order = seasonal_order
        self.season_length = season_length
        self.harmonics = harmonics
        self.max_harmonics = max_harmonics
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
    _parameter_constraints = {
        **BaseForecaster._parameter_constraints,
        "order": option_or(("auto",), _order(3, "(p, d, q)"), "(p, d, q)"),
        "seasonal_order": _order(4, "(P, D, Q, s)", allow_none=True),
        "season_length": _season_length,
        "harmonics": option_or(("auto",), integer(0), "an integer >= 0"),
        "max_harmonics": integer(0),
        "information_criterion": option(*_CRITERIA),
        "max_p": integer(0), "max_d": integer(0), "max_q": integer(0),
        "test": option(*_TESTS),
        "alpha": real(0, 1, low_open=True, high_open=True),
        "max_fit_length": integer(1, allow_none=True),
    }

    def _check_param_combinations(self, params):
        m, k = params["season_length"], params["harmonics"]
        if _is_auto(k):
            return
        if m is None and k > 0:
            raise ValueError(
                f"harmonics={k} needs season_length, the period of the Fourier terms"
            )
        if m is not None and 2 * k >= m:
            raise ValueError(
                f"harmonics must be below season_length / 2 = {m / 2:g} (higher harmonics "
                f"repeat lower ones at these positions), got {k}"
            )

    def _seasonal(self):
        return tuple(self.seasonal_order) if self.seasonal_order is not None else (0, 0, 0, 0)

    def _harmonic_candidates(self):
        """The numbers of Fourier pairs the fit tries, ascending."""
        if self.season_length is None:
            return [0]
        if _is_auto(self.harmonics):
            top = min(self.max_harmonics, math.ceil(self.season_length / 2) - 1)
            return list(range(top + 1))
        return [int(self.harmonics)]

    def _trend_candidates(self, d):
        """The trends the fit tries for ``d`` differences (plus the seasonal ones)."""
        if not _is_auto(self.trend):
            return [self.trend]
        return {0: ["n", "c"], 1: ["n", "t"]}.get(d + self._seasonal()[1], ["n"])

    def _min_length(self):
        if self.order == "auto":
            p, d, q = self.max_p, self.max_d, self.max_q
        else:
            p, d, q = self.order
        P, D, Q, s = self._seasonal()
        terms = 2 * self._harmonic_candidates()[-1] + int(_is_auto(self.trend))
        return max(3, p + q + d + 2 + terms, s * (P + D + Q) + 2)

    # ------------------------------------------------------------------ fitting
    def _model(self, y, X, order, trend):
        from statsmodels.tsa.arima.model import ARIMA

        return ARIMA(y, exog=X, order=order, seasonal_order=self._seasonal(), trend=trend)

    def _fit_spec(self, y, X, order, trend):
        model = self._model(y, X, order, trend)
        if self.season_length is None:
            return model.fit()
        from statsmodels.tools.sm_exceptions import SpecificationWarning

        with warnings.catch_warnings():
            # fit(gls=True) notes every time that GLS runs on the differenced data: by design.
            warnings.filterwarnings("ignore", message=".*differenced to eliminate integration",
                                    category=SpecificationWarning)
            return model.fit(gls=True)

    def _choose_d(self, y):
        P, D, Q, s = self._seasonal()
        x = y
        for _ in range(D):
            if x.size > s:
                x = x[s:] - x[:-s]
        return ndiffs(x, test=self.test, alpha=self.alpha, max_d=self.max_d)

    def _best(self, candidates):
        """Fit ``(key, n_terms, fit)`` candidates (``fit()`` returns results); return the
        ``(key, results)`` of the converged one with the lowest criterion, then the fewest
        terms, or None when none could be fitted."""
        fitted = []
        for key, n_terms, fit in candidates:
            try:
                result = fit()
            except (ValueError, np.linalg.LinAlgError):
                continue
            ic = getattr(result, self.information_criterion)
            if np.isfinite(ic):
                fitted.append((not _converged(result), ic, n_terms, key, result))
        if not fitted:
            return None
        best = min(fitted, key=lambda c: c[:3])
        return best[3], best[4]

    def _fit_column(self, y, X, positions):
        """Choose and fit the model of one target column (see the class Notes).

        Returns
        -------
        order : tuple of 3 int
        harmonics : int
        result : statsmodels ARIMAResults
        """
        ks = self._harmonic_candidates()
        terms = None
        if ks[-1] > 0:
            terms = fourier_terms(positions, self.season_length, ks[-1])

        def exog(k):
            return _join(X, None if k == 0 else terms[:, :2 * k])

        if self.order == "auto":
            d = self._choose_d(y if terms is None else _deseasonalised(y, terms))
            start = (min(1, self.max_p), d, min(1, self.max_q))
        else:
            start = tuple(int(v) for v in self.order)
            d = start[1]
        trends = self._trend_candidates(d)
        k, trend, result = ks[0], trends[0], None
        if len(ks) > 1 or len(trends) > 1:
            best = self._best(
                ((k, t), 2 * k + int(t != "n"),
                 functools.partial(self._fit_spec, y, exog(k), start, t))
                for k in ks for t in trends
            )
            if best is None:
                raise ValueError(
                    f"no ARIMA{start} with Fourier terms or trend could be fitted to this series"
                )
            (k, trend), result = best
        if self.order != "auto":
            if result is None:
                try:
                    result = self._fit_spec(y, exog(k), start, trend)
                except (ValueError, np.linalg.LinAlgError) as error:
                    # e.g. a constant series of extreme magnitude: no likelihood to maximise
                    raise ValueError(
                        f"ARIMA{tuple(start)} cannot be fitted to this series ({error}); "
                        f"check its scale, or use order='auto'") from error
            return start, k, result

        def fit(order, fitted=result):
            if fitted is not None and order == start:  # step 2 fitted this one already
                return fitted
            return self._fit_spec(y, exog(k), order, trend)

        best = self._best(
            ((p, d, q), p + q, functools.partial(fit, (p, d, q)))
            for p, q in itertools.product(range(self.max_p + 1), range(self.max_q + 1))
        )
        if best is None:
            raise ValueError(f"no ARIMA order with d={d} could be fitted to this series")
        order, result = best
        return order, k, result

    def _fit_series(self, y, X):
        """Fit every column of one series (on its last ``max_fit_length`` rows): a list of
        ``(order, harmonics, result)`` per column."""
        positions = np.arange(y.shape[0])
        if self.max_fit_length is not None and y.shape[0] > self.max_fit_length:
            y, positions = y[-self.max_fit_length:], positions[-self.max_fit_length:]
            X = None if X is None else X[-self.max_fit_length:]
        return [self._fit_column(y[:, j], X, positions) for j in range(y.shape[1])]

    # statsmodels' Kalman filter multiplies tiny matrices: BLAS threads only spin there (up to
    # 7x slower fits measured on a busy 2-core machine), so BLAS runs on one thread.
    @blas_single_threaded
    def _fit_core(self, ys, Xs):
        name = type(self).__name__
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fits = [self._fit_series(y, None if Xs is None else Xs[i]) for i, y in enumerate(ys)]
        orders = [[order for order, _, _ in series] for series in fits]
        harmonics = [[k for _, k, _ in series] for series in fits]
        results = [[result for _, _, result in series] for series in fits]
        trends = [[result.model.trend for _, _, result in series] for series in fits]
        trimmed = [(i, y.shape[0]) for i, y in enumerate(ys)
                   if self.max_fit_length is not None and y.shape[0] > self.max_fit_length]
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
        self.harmonics_ = harmonics[0][0] if single else harmonics
        self.trend_ = trends[0][0] if single else trends

    # ------------------------------------------------------------------ positions
    def _column_harmonics(self, series):
        """The number of Fourier pairs of each target column of fitted series ``series``."""
        if isinstance(self.harmonics_, list):
            return self.harmonics_[series]
        return [self.harmonics_]

    def _exog(self, X, start, n, k):
        """The exogenous columns of ``n`` observations from position ``start``: ``X`` and ``k``
        Fourier pairs."""
        if k == 0:
            return X
        return _join(X, fourier_terms(np.arange(start, start + n), self.season_length, k))

    def _context_start(self, context):
        """Position of the first row of ``context`` in the seasonal cycle, from its last label
        (None when no column has Fourier terms: the position is not needed)."""
        if all(k == 0 for k in self._column_harmonics(context.series)):
            return None
        what, layout = context.name, context.layout
        seen = self.layouts_[context.series]
        name = type(self).__name__
        if layout.index_kind is None:
            rows = " (an integer index counting the rows seen)" if seen.index_kind is None else ""
            raise ValueError(
                f"{name} has Fourier terms of period {self.season_length:g}, so {what} must "
                f"say where it lies in the seasonal cycle: pass it as a pandas Series or "
                f"DataFrame indexed on the fit data's grid{rows}, not as an array"
            )
        if seen.index_kind is None:  # fitted on arrays: the labels are the rows, 0, 1, ...
            last_seen, step, kind = seen.n_seen - 1, 1, "int"
            if layout.index_kind not in ("range", "int"):
                raise ValueError(
                    f"{what} has a {layout.index_kind} index but {name} was fitted on an "
                    f"array: index the context by row numbers of the data seen (integers)"
                )
        else:
            last_seen, step, kind = seen.last, seen.step, seen.index_kind
            if layout.index_kind != kind and {layout.index_kind, kind} != {"range", "int"}:
                raise ValueError(
                    f"{what} has a {layout.index_kind} index but {name} was fitted on a series "
                    f"indexed by {kind} labels; index the context like the fit data"
                )
        offset = _steps_between(last_seen, layout.last, step, kind)
        if offset is None:
            raise ValueError(
                f"{what} ends at {layout.last}, which is not a whole number of steps of {step} "
                f"from the last observation seen ({last_seen}); index the context on the fit "
                f"data's grid (same step, same time zone)"
            )
        following = layout.last + (1 if layout.index_kind == "period" else layout.step)
        if _steps_between(layout.last, following, step, kind) != 1:
            raise ValueError(
                f"{what} is spaced by {layout.step} but the data {name} was fitted on by "
                f"{step}; the Fourier terms need consecutive steps of the fit data's grid"
            )
        return seen.n_seen + offset - context.y.shape[0]

    # ------------------------------------------------------------------ state
    @blas_single_threaded
    def _update_core(self, ys, Xs):
        out = []
        for i, y in enumerate(ys):
            # The base class advances layouts_ after this hook: n_seen is the rows before y.
            start = self.layouts_[i].n_seen
            X = None if Xs is None else Xs[i]
            out.append([
                result.append(y[:, j], exog=self._exog(X, start, y.shape[0], k))
                for j, (result, k) in enumerate(zip(self.results_[i],
                                                    self._column_harmonics(i)))
            ])
        self.results_ = out

    def _applied(self, context):
        """The fitted models of ``context.series`` run over the context (no refit): the state
        to forecast from, and the position after the context's last row."""
        start = self._context_start(context)
        ks = self._column_harmonics(context.series)
        y, X = context.y, context.X
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            states = [r.apply(y[:, j], exog=self._exog(X, start, y.shape[0], ks[j]))
                      for j, r in enumerate(self.results_[context.series])]
        return states, None if start is None else start + y.shape[0]

    def _starts(self, contexts):
        """Per output: the fitted models to forecast from, the position after their last row
        (None without Fourier terms) and the fitted series they belong to."""
        if contexts is None:
            return [(states, layout.n_seen, i) for i, (states, layout)
                    in enumerate(zip(self.results_, self.layouts_))]
        return [(*self._applied(context), context.series) for context in contexts]

    def _forecasts(self, horizon, Xs_future, contexts):
        """Per output, per column: statsmodels PredictionResults for ``horizon`` steps."""
        out = []
        for i, (series, end, row) in enumerate(self._starts(contexts)):
            X = None if Xs_future is None else Xs_future[i]
            ks = self._column_harmonics(row)
            out.append([
                r.get_forecast(horizon, exog=self._exog(X, end, horizon, ks[j]))
                for j, r in enumerate(series)
            ])
        return out

    @blas_single_threaded
    def _predict_samples_core(self, horizon, n_samples, Xs_future, contexts, rng):
        out = []
        for i, (series, end, row) in enumerate(self._starts(contexts)):
            X = None if Xs_future is None else Xs_future[i]
            ks = self._column_harmonics(row)
            out.append(np.stack([
                simulate_ahead(r, horizon, n_samples, self._exog(X, end, horizon, ks[j]), rng)
                for j, r in enumerate(series)
            ], axis=-1))
        return out

    @blas_single_threaded
    def _predict_core(self, horizon, Xs_future, contexts):
        return [
            np.column_stack([np.asarray(f.predicted_mean) for f in series])
            for series in self._forecasts(horizon, Xs_future, contexts)
        ]

    @blas_single_threaded
    def _predict_interval_core(self, horizon, coverage, Xs_future, contexts):
        out = []
        for series in self._forecasts(horizon, Xs_future, contexts):
            bounds = [np.asarray(f.conf_int(alpha=1.0 - coverage)) for f in series]
            out.append((
                np.column_stack([b[:, 0] for b in bounds]),
                np.column_stack([b[:, 1] for b in bounds]),
            ))
        return out


def simulate_ahead(result, horizon, n_samples, exog, rng):
    """``n_samples`` simulated continuations (n_samples, horizon) of a statsmodels state-space
    ``result`` after its last observation, drawn with the Generator ``rng``."""
    # statsmodels renamed the seed argument from random_state to rng in 0.15.
    seed = "rng" if "rng" in inspect.signature(result.simulate).parameters \
        else "random_state"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = result.simulate(horizon, anchor="end", repetitions=n_samples, exog=exog,
                                **{seed: rng})
    return np.asarray(paths).reshape(horizon, n_samples).T
