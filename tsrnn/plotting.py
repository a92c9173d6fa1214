"""Figures for forecasts and model comparisons (needs matplotlib: ``pip install "tsrnn[plot]"``).

matplotlib is imported only when a figure is drawn, so the rest of tsrnn works without it. The
functions build a :class:`matplotlib.figure.Figure` directly (no pyplot, no global backend
change), so they are safe in scripts, on servers without a display and inside notebooks.
"""
from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

__all__ = ["plot_comparison", "plot_forecast", "require_matplotlib"]

_INSTALL_HINT = 'plotting needs matplotlib; install it with: pip install "tsrnn[plot]"'

# One colour per model, stable across figures (matplotlib's default cycle, in order).
_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf"]
# Colour alone does not separate models whose forecasts coincide (naive under ARIMA) or readers
# who cannot tell the colours apart, so every model also gets a line style and a marker. The
# cycle lengths (4 and 7) are coprime: the first 28 models all get different pairs.
_LINESTYLES = ["-", "--", "-.", ":"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
_MARKS_PER_LINE = 6  # markers on a line of any length: enough to identify it, few enough to read

_BAND_ALPHA = 0.25  # a single forecast's interval
_MODEL_BAND_ALPHA = 0.12  # one band per model overlaps the others: lighter
_MIN_FORECAST_HISTORY = 400  # observations before a forecast: enough to see a slow cycle


def require_matplotlib():
    """Import matplotlib or raise an ImportError that says how to install it.

    Returns
    -------
    module
        The :mod:`matplotlib` module.

    Raises
    ------
    ImportError
        When matplotlib is not installed; the message names the ``plot`` extra.

    Examples
    --------
    >>> from tsrnn.plotting import require_matplotlib
    >>> require_matplotlib().__name__  # doctest: +SKIP
    'matplotlib'
    """
    try:
        import matplotlib
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return matplotlib


def _new_figure(figsize):
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _time_axis(labels):
    """Plottable x values for index labels, and the axis label that goes with them.

    Dates are plotted at their real time, so the gaps of trading-day data (weekends, holidays)
    are plain straight segments: no NaN is inserted there, the line only breaks at NaN values.
    """
    if isinstance(labels, pd.TimedeltaIndex):
        return np.asarray(labels.total_seconds()), "time (s)"
    if isinstance(labels, pd.DatetimeIndex):
        return labels, "time"
    if isinstance(labels, pd.PeriodIndex):
        return labels.to_timestamp(), "time"
    return np.asarray(labels), "position"


def _tidy_dates(ax, max_ticks=5):
    """Short, non-overlapping date labels on an axis that shows dates."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=2, maxticks=max_ticks)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _save(figure, path, dpi=120):
    if path is not None:
        figure.savefig(path, dpi=dpi)
    return figure


def _as_float(values):
    """Values as a flat float array, missing values (NaN, None, pd.NA) as NaN.

    NaN is what makes matplotlib break a line, so missing values must survive as NaN rather
    than fail the conversion (pandas' nullable dtypes) or be dropped.
    """
    if isinstance(values, (pd.Series, pd.Index)):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(values, dtype=np.float64).ravel()


def _isolated(values):
    """Mask of finite values with no finite neighbour: a line through them draws nothing."""
    finite = np.isfinite(values)
    if finite.size == 0:
        return finite
    before = np.concatenate([[False], finite[:-1]])
    after = np.concatenate([finite[1:], [False]])
    return finite & ~before & ~after


def _plot_line(ax, x, values, **style):
    """A line broken at NaN values, with a dot on each value isolated between NaNs."""
    values = _as_float(values)
    line, = ax.plot(x, values, **style)
    lonely = _isolated(values)
    if lonely.any():
        ax.plot(np.asarray(x)[lonely], values[lonely], linestyle="none", marker=".",
                markersize=4, color=line.get_color())
    return line


def _two_seasons(season_length):
    """Steps in two of the longest seasons (one length or a sequence of them); 0 without."""
    if season_length is None:
        return 0
    seasons = np.atleast_1d(np.asarray(season_length, dtype=np.float64))
    seasons = seasons[np.isfinite(seasons)]
    return int(np.ceil(2 * seasons.max())) if seasons.size else 0


def _coverage_label(coverage):
    """Legend text of an interval: "90 % interval" for a coverage of 0.9 (or 90)."""
    if isinstance(coverage, numbers.Real) and not isinstance(coverage, bool):
        percent = 100 * coverage if coverage <= 1 else coverage
        return f"{percent:g} % interval"
    return "interval"


def _model_styles(models):
    """Colour, line style and marker of every model, the same in every panel."""
    return {name: {"color": _COLOURS[k % len(_COLOURS)],
                   "linestyle": _LINESTYLES[k % len(_LINESTYLES)],
                   "marker": _MARKERS[k % len(_MARKERS)]}
            for k, name in enumerate(models)}


def _markevery(n_points, k):
    """Marker spacing for a line of ``n_points``; model ``k`` starts later so that the markers
    of forecasts that coincide do not sit on top of each other."""
    step = max(1, n_points // _MARKS_PER_LINE)
    return (k % step, step)


# ---------------------------------------------------------------------------------------------
# Forecast of one series
# ---------------------------------------------------------------------------------------------
def _forecast_parts(forecast, lower, upper):
    """Point forecast and interval bounds from ``forecast`` (Series, array or DataFrame with
    ``y_pred`` and optional ``lower``/``upper`` columns); explicit bounds win over columns."""
    if isinstance(forecast, pd.DataFrame):
        if "y_pred" not in forecast.columns:
            raise ValueError(f"a forecast DataFrame needs a 'y_pred' column, got columns "
                             f"{list(forecast.columns)!r}")
        lower = forecast["lower"] if lower is None and "lower" in forecast.columns else lower
        upper = forecast["upper"] if upper is None and "upper" in forecast.columns else upper
        forecast = forecast["y_pred"]
    if (lower is None) != (upper is None):
        raise ValueError("an interval needs both lower and upper bounds; got only "
                         f"{'lower' if upper is None else 'upper'}")
    return forecast, lower, upper


def _check_bounds(lower, upper, horizon):
    """The bounds as float arrays of the forecast's length, or ValueError naming the problem."""
    bounds = []
    for name, bound in (("lower", lower), ("upper", upper)):
        values = _as_float(bound)
        if len(values) != horizon:
            raise ValueError(f"{name} has {len(values)} values but the forecast has {horizon}; "
                             f"interval bounds need one value per forecast step")
        bounds.append(values)
    return bounds


def _forecast_history_length(horizon, season_length, n):
    """Default observations before a forecast: three horizons, two seasons, or
    :data:`_MIN_FORECAST_HISTORY`, whichever is longest, and no more than the series has."""
    wanted = max(3 * horizon, _two_seasons(season_length), _MIN_FORECAST_HISTORY)
    return min(wanted, n)


def _aligned(history, forecast, n_history):
    """The last ``n_history`` observations and the forecast, as Series on a common x axis."""
    n = len(history)
    start = max(0, n - n_history)  # not iloc[-n_history:]: n_history = 0 would take everything
    if isinstance(forecast, pd.Series):
        past = history.iloc[start:] if isinstance(history, pd.Series) \
            else pd.Series(_as_float(history)[start:], index=np.arange(start, n))
        return past, forecast
    # A bare array continues the series by position, whatever the history's index.
    values = _as_float(history)[start:]
    name = history.name if isinstance(history, pd.Series) else None
    past = pd.Series(values, index=np.arange(start, n), name=name)
    return past, pd.Series(_as_float(forecast), index=np.arange(n, n + len(forecast)))


def plot_forecast(history, forecast, path=None, n_history=None, title=None, dpi=120,
                  lower=None, upper=None, coverage=None, season_length=None):
    """The end of a series followed by its forecast, with its prediction interval if given.

    Parameters
    ----------
    history : pandas.Series or array-like of shape (n,)
        The observed series. NaN values show as breaks in the line; dates are plotted at their
        real time (the weekend gaps of trading-day data are bridged, not broken).
    forecast : pandas.Series, pandas.DataFrame or array-like of shape (horizon,)
        The forecast that continues it: a Series indexed like ``history``'s continuation, a
        DataFrame so indexed with a ``y_pred`` column and optional ``lower`` and ``upper``
        columns (what ``tsrnn forecast --coverage`` writes), or bare values placed after the
        last position of ``history``.
    path : str or path-like, optional
        Where to write the figure.
    n_history : int, optional
        Observations drawn before the forecast; default ``max(3 * horizon, 2 * longest
        season, 400)``, at most the length of ``history``.
    title : str, optional
        Figure title.
    dpi : int, default=120
        Resolution of a raster file.
    lower, upper : array-like of shape (horizon,), optional
        Interval bounds, drawn as a shaded band; they take precedence over the ``lower`` and
        ``upper`` columns of a DataFrame ``forecast``. Give both or neither.
    coverage : float, optional
        Coverage of the interval (e.g. 0.9), for its legend entry ("90 % interval").
    season_length : int, float or sequence of them, optional
        Season length(s) of the series in steps: the default history shows two of the longest.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        When matplotlib is not installed.
    ValueError
        When a DataFrame ``forecast`` has no ``y_pred`` column, when only one bound is given,
        or when a bound's length differs from the forecast's.

    Examples
    --------
    >>> from tsrnn import NaiveForecaster
    >>> from tsrnn.plotting import plot_forecast
    >>> f = NaiveForecaster().fit(y)  # doctest: +SKIP
    >>> lower, upper = f.predict_interval(24, coverage=0.9)  # doctest: +SKIP
    >>> plot_forecast(y, f.predict(24), "forecast.png", lower=lower, upper=upper,
    ...               coverage=0.9)  # doctest: +SKIP
    """
    if isinstance(history, pd.DataFrame) and history.shape[1] == 1:
        history = history.iloc[:, 0]
    forecast, lower, upper = _forecast_parts(forecast, lower, upper)
    horizon = len(forecast)
    bounds = None if lower is None else _check_bounds(lower, upper, horizon)
    n_history = _forecast_history_length(horizon, season_length, len(history)) \
        if n_history is None else int(n_history)
    past, forecast = _aligned(history, forecast, n_history)
    x_past, x_label = _time_axis(past.index)
    x_future, _ = _time_axis(forecast.index)

    figure = _new_figure((10, 4))
    ax = figure.add_subplot()
    _plot_line(ax, x_past, past, color="black", linewidth=1.0, label="observed")
    if bounds is not None:
        ax.fill_between(x_future, bounds[0], bounds[1], color=_COLOURS[0], alpha=_BAND_ALPHA,
                        linewidth=0, label=_coverage_label(coverage))
    _plot_line(ax, x_future, forecast, color=_COLOURS[0], linewidth=1.5, label="forecast")
    ax.set_xlabel(x_label)
    if x_label == "time":
        _tidy_dates(ax)
    ax.set_ylabel(past.name if isinstance(past.name, str) else "value")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return _save(figure, path, dpi)


# ---------------------------------------------------------------------------------------------
# Comparison of models
# ---------------------------------------------------------------------------------------------
def _has_own_index(index):
    """Whether an index says more than the row position (dates, or labels other than 0..n-1)."""
    if isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex, pd.PeriodIndex)):
        return True
    return not index.equals(pd.RangeIndex(len(index)))


def _label_text(index, position):
    """The label of ``index[position]`` as a panel title shows it, in the x axis' units."""
    label = index[position]
    if isinstance(index, pd.DatetimeIndex):
        # A daily (or coarser) series reads better without a "00:00:00" on every title.
        at_midnight = bool((index == index.normalize()).all())
        return label.strftime("%Y-%m-%d") if at_midnight else str(label)
    if isinstance(index, pd.TimedeltaIndex):
        return f"{label.total_seconds():g} s"
    if isinstance(label, numbers.Integral):
        return f"{label:,}"
    return str(label)


def _origin_title(index, origin):
    if index is not None and _has_own_index(index):
        return f"origin {_label_text(index, origin)}"
    return f"origin {origin:,}"


def _comparison_history(history, horizon, season_length, n):
    """Observations before each origin: the longest horizon or two of the longest seasons."""
    if history is None:
        history = max(horizon, _two_seasons(season_length))
    return min(int(history), n)


def _origin_rows(frame, origin, limit):
    """One model's forecast from ``origin``, by step, at most ``limit`` steps."""
    return frame[frame["origin"] == origin].sort_values("step").iloc[:limit]


def _draw_models(ax, x, result, origin, styles, horizon):
    """Every model's forecast from ``origin`` (x starts at the origin), with its band."""
    for k, name in enumerate(result.models):
        rows = _origin_rows(result.forecasts[name], origin, len(x))
        xs, style = x[:len(rows)], styles[name]
        if {"lower", "upper"} <= set(rows.columns):
            ax.fill_between(xs, _as_float(rows["lower"]), _as_float(rows["upper"]),
                            color=style["color"], alpha=_MODEL_BAND_ALPHA, linewidth=0)
        _plot_line(ax, xs, rows["y_pred"], linewidth=1.3, markersize=3.5,
                   markevery=_markevery(horizon, k), label=name, **style)


def _has_bands(result):
    return any({"lower", "upper"} <= set(frame.columns) for frame in result.forecasts.values())


def _legend(ax, result):
    """The first panel's legend; one grey entry stands for every model's (coloured) band."""
    handles, _ = ax.get_legend_handles_labels()
    if _has_bands(result):
        from matplotlib.patches import Patch

        label = _coverage_label(getattr(result, "coverage", None)) + "s (model colour)"
        handles.append(Patch(facecolor="grey", alpha=2 * _MODEL_BAND_ALPHA, label=label))
    ax.legend(handles=handles, fontsize=8, loc="best")


def _origin_panel(ax, result, origin, history, styles):
    """The truth around ``origin`` and every model's forecast from it."""
    y, horizon = result.y, max(result.horizons)
    index = y.index if isinstance(y, (pd.Series, pd.DataFrame)) else None
    values = _as_float(y)
    start, stop = max(0, origin - history), min(len(values), origin + horizon)
    labels = index[start:stop] if index is not None else np.arange(start, stop)
    x, x_label = _time_axis(labels)
    _plot_line(ax, x, values[start:stop], color="black", linewidth=1.0, label="truth")
    ax.axvline(x[origin - start], color="grey", linestyle=":", linewidth=1.0)
    _draw_models(ax, x[origin - start:], result, origin, styles, horizon)
    ax.set_title(_origin_title(index, origin), fontsize=10)
    ax.set_xlabel(x_label)
    if x_label == "time":
        _tidy_dates(ax, max_ticks=4)
    ax.tick_params(labelsize=8)


def _error_panel(ax, result, styles):
    """Mean absolute error per step ahead, one line per model, styled as in the panels."""
    for k, name in enumerate(result.models):
        curve = result.step_mae[name]
        ax.plot(curve.index, curve.to_numpy(), linewidth=1.5, markersize=4,
                markevery=_markevery(len(curve), k), label=name, **styles[name])
    for h in result.horizons:
        ax.axvline(h, color="grey", linestyle=":", linewidth=1.0)
    ax.set_xlabel(f"steps ahead{result.step_note}")
    ax.set_ylabel("mean absolute error")
    ax.set_title(f"error per step ahead, mean over {len(result.origins)} origins", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, ncol=len(result.models))


def plot_comparison(result, path=None, n_panels=4, history=None, dpi=120):
    """Forecasts against the truth at a few origins, and the error per horizon step.

    Parameters
    ----------
    result : tsrnn.comparison.ComparisonResult
        What :func:`tsrnn.comparison.run_comparison` returned (with its forecasts). When its
        forecast frames have ``lower`` and ``upper`` columns, every model's interval is drawn
        as a light band in the model's colour, labelled with ``result.coverage`` if the result
        has one.
    path : str or path-like, optional
        Where to write the figure (format from the extension, e.g. ``.png``, ``.pdf``).
    n_panels : int, default=4
        Number of origins shown, evenly spread over the evaluated ones.
    history : int, optional
        Observations drawn before each origin; default: the longest horizon or two of the
        longest seasons (``result.season_length``, if the result has one), whichever is
        longer, at most the length of the series.
    dpi : int, default=120
        Resolution of a raster file.

    Returns
    -------
    matplotlib.figure.Figure
        Top row: one panel per origin with the truth (black) and every model's forecast over
        the longest horizon, each model in its own colour, line style and marker. Panels are
        titled by the origin's label in the series' index (its date, for a dated series), or
        by its position when the series has a plain 0..n-1 index. Bottom: mean absolute error
        per step ahead, per model, in the same styles.

    Raises
    ------
    ImportError
        When matplotlib is not installed.

    Examples
    --------
    >>> from tsrnn.comparison import run_comparison
    >>> from tsrnn.plotting import plot_comparison
    >>> result = run_comparison(y, models=["naive"], horizons=[5])  # doctest: +SKIP
    >>> plot_comparison(result, "comparison.png")  # doctest: +SKIP
    """
    horizon = max(result.horizons)
    history = _comparison_history(history, horizon, getattr(result, "season_length", None),
                                  len(result.y))
    origins = list(result.origins)
    n_panels = max(1, min(int(n_panels), len(origins)))
    chosen = [origins[int(round(k))] for k in np.linspace(0, len(origins) - 1, n_panels)]
    styles = _model_styles(result.models)

    figure = _new_figure((3.6 * n_panels + 1.0, 7.5))
    grid = figure.add_gridspec(2, n_panels, height_ratios=[1.15, 1.0])
    for k, origin in enumerate(chosen):
        ax = figure.add_subplot(grid[0, k])
        _origin_panel(ax, result, origin, history, styles)
        if k == 0:
            ax.set_ylabel(result.value_label or "value")
            _legend(ax, result)
    _error_panel(figure.add_subplot(grid[1, :]), result, styles)
    figure.suptitle(result.title, fontsize=11)
    return _save(figure, path, dpi)
