"""Seasons: detecting their periods, and the Fourier terms that place a step in each one.

Shared by every forecaster that models a season (``RNNForecaster``, ``ARIMAForecaster``,
``STLForecaster``, the seasonal naive forecast) and by ``tsrnn compare``.

:func:`detect_season` reads periods off the autocorrelation function (ACF) of the linearly
detrended series, as sktime's ``SeasonalityACF`` and the ACF stage of AutoPeriod (Vlachos, Yu
and Castelli, 2005) do: a period is a lag where the ACF has a prominent local maximum (a hill,
which a random walk or an autoregressive process without a cycle never shows: their ACF decays
steadily) that lies above Bartlett's significance bound. Fractional periods are refined by a
parabola through the peak and its neighbours.
"""
from __future__ import annotations

import numbers

import numpy as np

from tsrnn._checks import check_int, check_real

__all__ = ["detect_season", "fourier_terms", "check_season_length", "resolve_season"]

# A peak must rise this far above the valleys around it (in autocorrelation units), so that
# the ripples of a noisy ACF are not taken for cycles.
_MIN_PROMINENCE = 0.05
# The fundamental is the shortest significant peak at least this fraction as high as the
# highest one (multiples of a period have peaks too, usually lower).
_FUNDAMENTAL_SHARE = 0.5
# A longer season (a week over days) must stand this far above the ACF one shorter period
# before and after it.
_SECOND_SEASON_MARGIN = 0.05


def _finite_values(y):
    values = np.asarray(y, dtype=np.float64)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"detect_season needs one series of shape (n,), got shape "
                         f"{values.shape}")
    good = np.isfinite(values)
    if not good.any():
        raise ValueError("y has no finite value")
    if not good.all():  # gaps: linear interpolation, for the ACF only
        positions = np.arange(values.size)
        values = np.interp(positions, positions[good], values[good])
    return values


def _acf(x, nlags):
    """Sample autocorrelations r_0 .. r_nlags (biased estimator, by FFT)."""
    from statsmodels.tsa.stattools import acf

    return acf(x, nlags=nlags, fft=True)


def _significant_peaks(r, n, alpha):
    """Lags of prominent ACF peaks above Bartlett's bound, ascending; the bound is taken at
    level alpha / (number of lags) (Bonferroni), so that white noise passes with probability
    about 1 - alpha however many lags are searched. The null is an MA(q) process whose q is
    the lag where the ACF first reaches zero: a cycle's own correlations beyond it are what
    is tested, not part of the null (else a strong cycle raises the bound above its peaks)."""
    from scipy.signal import find_peaks
    from scipy.stats import norm

    z = norm.ppf(1 - alpha / (2 * (r.size - 1)))
    crossing = np.flatnonzero(r[1:] <= 0)
    q = int(crossing[0]) if crossing.size else r.size - 1
    squares = np.cumsum(r[1:] ** 2)
    bound = z * np.sqrt((1 + 2 * squares[np.minimum(np.arange(r.size - 1), q)]) / n)
    peaks, _ = find_peaks(r[1:], prominence=_MIN_PROMINENCE)
    lags = peaks + 1
    return [int(lag) for lag in lags if r[lag] > bound[lag - 1]]


def _refined(r, lag):
    """The peak's position to a fraction of a step (a parabola through three ACF values)."""
    below, at, above = r[lag - 1], r[lag], r[lag + 1] if lag + 1 < r.size else r[lag]
    curvature = below - 2 * at + above
    if curvature >= 0:
        return float(lag)
    return float(lag + 0.5 * (below - above) / curvature)


def _second_season(r, peaks, fundamental):
    """A longer period standing out above the multiples of ``fundamental`` (or None)."""
    width = max(1, round(fundamental / 4))
    for lag in peaks:
        if lag < 2 * fundamental or lag + fundamental + width >= r.size:
            continue
        # the highest ACF one fundamental period before and after (within a quarter period)
        sides = [r[round(centre) - width:round(centre) + width + 1].max()
                 for centre in (lag - fundamental, lag + fundamental)]
        if r[lag] > max(sides) + _SECOND_SEASON_MARGIN:
            return lag
    return None


def detect_season(y, max_period=None, alpha=0.01, max_seasons=2):
    """Detect the seasonal periods of a series from its autocorrelation function.

    Parameters
    ----------
    y : array-like of shape (n,) or pandas.Series
        The series; NaN values are interpolated linearly for the test.
    max_period : int, optional
        Longest period considered; default ``n // 3`` (at least three cycles in the data).
    alpha : float, default=0.01
        Significance level of Bartlett's bound on the autocorrelations.
    max_seasons : int, default=2
        Most periods returned (e.g. a day and a week of half-hourly data).

    Returns
    -------
    tuple of float
        The periods in steps, shortest first, rounded to 0.01; empty when no cycle is found.

    Notes
    -----
    The series is linearly detrended and its ACF computed up to ``max_period``. Candidate
    periods are local maxima of the ACF that stand at least 0.05 above the neighbouring
    valleys and above Bartlett's bound ``z sqrt((1 + 2 sum_{j<k} r_j^2) / n)``, with ``z`` the
    normal quantile at ``1 - alpha / (2 L)`` for ``L`` lags searched (Bonferroni).
    The period is the shortest candidate at least half as high as the highest one (its
    multiples peak too); a second, longer period is kept when its peak stands 0.05 above the
    ACF one period of the first before and after it (a weekly peak among daily ones). Quasi-periodic
    signals such as heart beats have a period by this test; whether a model gains from it is
    for its validation to decide.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.seasonality import detect_season
    >>> t = np.arange(600)
    >>> noise = np.random.default_rng(0).normal(size=600)
    >>> detect_season(np.sin(2 * np.pi * t / 12.5) + 0.3 * noise)
    (12.49,)
    >>> detect_season(np.cumsum(noise))
    ()
    """
    values = _finite_values(y)
    n = values.size
    alpha = check_real(alpha, "alpha", 0, 1, low_open=True, high_open=True)
    max_seasons = check_int(max_seasons, "max_seasons", minimum=1)
    limit = n // 3 if max_period is None else check_int(max_period, "max_period", minimum=2)
    limit = min(limit, n - 2)
    if limit < 3 or np.ptp(values) == 0:
        return ()
    positions = np.arange(n)
    detrended = values - np.polyval(np.polyfit(positions, values, 1), positions)
    r = _acf(detrended, limit)
    peaks = _significant_peaks(r, n, alpha)
    if not peaks:
        return ()
    highest = max(r[lag] for lag in peaks)
    fundamental = next(lag for lag in peaks if r[lag] >= _FUNDAMENTAL_SHARE * highest)
    seasons = [_refined(r, fundamental)]
    if max_seasons > 1:
        second = _second_season(r, [lag for lag in peaks if lag > fundamental], seasons[0])
        if second is not None:
            seasons.append(_refined(r, second))
    return tuple(round(period, 2) for period in seasons)


def fourier_terms(positions, season_length, harmonics):
    """Sine-cosine pairs of a season: the regressors of a dynamic harmonic regression.

    Pair ``k`` (``k = 1..harmonics``) is ``sin(2 pi k t / m)``, ``cos(2 pi k t / m)`` at the
    positions ``t`` with ``m = season_length`` (Hyndman & Athanasopoulos, *Forecasting:
    Principles and Practice*, 3rd ed., section 7.4, "Fourier series").

    Parameters
    ----------
    positions : array-like of shape (n,)
        Positions of the observations in steps (usually ``0, 1, ..., n - 1``); any origin will
        do, as long as it is the same for every block of the same series.
    season_length : float
        Period in steps; it may be fractional (365.25 / 7 for weekly data with a yearly cycle).
    harmonics : int
        Number of pairs ``K``, >= 0.

    Returns
    -------
    ndarray of shape (n, 2 * harmonics)
        Columns ``sin_1, cos_1, sin_2, cos_2, ...``.

    Examples
    --------
    >>> from tsrnn.seasonality import fourier_terms
    >>> fourier_terms([0, 1, 2, 3], season_length=4, harmonics=1).round(12) + 0.0
    array([[ 0.,  1.],
           [ 1.,  0.],
           [ 0., -1.],
           [-1.,  0.]])
    """
    t = np.asarray(positions, dtype=np.float64).reshape(-1, 1)
    angle = (2.0 * np.pi / float(season_length)) * t * np.arange(1, int(harmonics) + 1)
    terms = np.empty((t.shape[0], 2 * int(harmonics)))
    terms[:, 0::2] = np.sin(angle)
    terms[:, 1::2] = np.cos(angle)
    return terms


def _check_period(value, name, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be None, 'auto', a number of steps or a tuple of them, "
                        f"got {type(value).__name__} {value!r}")
    if not (np.isfinite(value) and value > minimum):
        raise ValueError(f"{name} must be a number of steps > {minimum} (e.g. 12, or "
                         f"365.25 / 7 for weekly data with a yearly cycle), got {value!r}")
    return float(value)


def check_season_length(value, name="season_length", minimum=1):
    """A constraint: None, ``"auto"``, a period > ``minimum`` steps, or a tuple of periods.

    Returns
    -------
    None, "auto" or tuple of float
    """
    if value is None or (isinstance(value, str) and value == "auto"):
        return value
    if isinstance(value, str):
        raise ValueError(f"{name} must be None, 'auto', a number of steps or a tuple of "
                         f"them, got {value!r}")
    if isinstance(value, (tuple, list)):
        if not value:
            raise ValueError(f"{name} must not be an empty tuple; use None for no season")
        return tuple(sorted(_check_period(v, name, minimum) for v in value))
    return (_check_period(value, name, minimum),)


def resolve_season(season_length, y, minimum=1):
    """The periods a model uses: ``season_length`` checked, or detected from ``y`` for "auto".

    Returns
    -------
    tuple of float
        Empty for None, or when "auto" finds no season.
    """
    checked = check_season_length(season_length, minimum=minimum)
    if checked is None:
        return ()
    if checked == "auto":
        return tuple(p for p in detect_season(y) if p > minimum)
    return checked
