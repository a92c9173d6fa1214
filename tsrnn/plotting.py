"""Figures for forecasts and model comparisons (needs matplotlib: ``pip install "tsrnn[plot]"``).

matplotlib is imported only when a figure is drawn, so the rest of tsrnn works without it. The
functions build a :class:`matplotlib.figure.Figure` directly (no pyplot, no global backend
change), so they are safe in scripts, on servers without a display and inside notebooks.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plot_comparison", "plot_forecast", "require_matplotlib"]

_INSTALL_HINT = 'plotting needs matplotlib; install it with: pip install "tsrnn[plot]"'

# One colour per model, stable across figures (matplotlib's default cycle, in order).
_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf"]


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
    """Plottable x values for index labels, and the axis label that goes with them."""
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


def plot_comparison(result, path=None, n_panels=4, history=None, dpi=120):
    """Forecasts against the truth at a few origins, and the error per horizon step.

    Parameters
    ----------
    result : tsrnn.comparison.ComparisonResult
        What :func:`tsrnn.comparison.run_comparison` returned (with its forecasts).
    path : str or path-like, optional
        Where to write the figure (format from the extension, e.g. ``.png``, ``.pdf``).
    n_panels : int, default=4
        Number of origins shown, evenly spread over the evaluated ones.
    history : int, optional
        Observations drawn before each origin; default: the longest horizon.
    dpi : int, default=120
        Resolution of a raster file.

    Returns
    -------
    matplotlib.figure.Figure
        Top row: one panel per origin with the truth (black) and every model's forecast over
        the longest horizon. Bottom: mean absolute error per step ahead, per model.

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
    y = result.y
    horizon = max(result.horizons)
    history = horizon if history is None else int(history)
    origins = list(result.origins)
    n_panels = max(1, min(int(n_panels), len(origins)))
    chosen = [origins[int(round(k))] for k in np.linspace(0, len(origins) - 1, n_panels)]
    colours = {name: _COLOURS[i % len(_COLOURS)] for i, name in enumerate(result.models)}

    figure = _new_figure((3.6 * n_panels + 1.0, 7.5))
    grid = figure.add_gridspec(2, n_panels, height_ratios=[1.15, 1.0])
    index = y.index if isinstance(y, (pd.Series, pd.DataFrame)) else None
    values = np.asarray(y, dtype=np.float64).reshape(len(y))
    for k, origin in enumerate(chosen):
        ax = figure.add_subplot(grid[0, k])
        start, stop = max(0, origin - history), min(len(values), origin + horizon)
        labels = index[start:stop] if index is not None else np.arange(start, stop)
        x, x_label = _time_axis(labels)
        ax.plot(x, values[start:stop], color="black", linewidth=1.0, label="truth")
        ax.axvline(x[origin - start], color="grey", linestyle=":", linewidth=1.0)
        for name in result.models:
            frame = result.forecasts[name]
            rows = frame[frame["origin"] == origin].sort_values("step")
            ax.plot(x[origin - start:origin - start + len(rows)], rows["y_pred"].to_numpy(),
                    color=colours[name], linewidth=1.2, label=name)
        ax.set_title(f"origin {origin:,}", fontsize=10)
        ax.set_xlabel(x_label)
        if x_label == "time":
            _tidy_dates(ax, max_ticks=4)
        ax.tick_params(labelsize=8)
        if k == 0:
            ax.set_ylabel(result.value_label or "value")
            ax.legend(fontsize=8, loc="best")

    ax = figure.add_subplot(grid[1, :])
    for name in result.models:
        curve = result.step_mae[name]
        ax.plot(curve.index, curve.to_numpy(), color=colours[name], linewidth=1.5, label=name)
    for h in result.horizons:
        ax.axvline(h, color="grey", linestyle=":", linewidth=1.0)
    ax.set_xlabel(f"steps ahead{result.step_note}")
    ax.set_ylabel("mean absolute error")
    ax.set_title(f"error per step ahead, mean over {len(origins)} origins", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, ncol=len(result.models))
    figure.suptitle(result.title, fontsize=11)
    return _save(figure, path, dpi)


def plot_forecast(history, forecast, path=None, n_history=None, title=None, dpi=120):
    """The end of a series followed by its forecast.

    Parameters
    ----------
    history : pandas.Series or array-like of shape (n,)
        The observed series.
    forecast : pandas.Series or array-like of shape (horizon,)
        The forecast that continues it (a Series indexed like ``history``'s continuation).
    path : str or path-like, optional
        Where to write the figure.
    n_history : int, optional
        Observations drawn before the forecast; default ``max(3 * horizon, 200)``.
    title : str, optional
        Figure title.
    dpi : int, default=120
        Resolution of a raster file.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        When matplotlib is not installed.

    Examples
    --------
    >>> from tsrnn import NaiveForecaster
    >>> from tsrnn.plotting import plot_forecast
    >>> f = NaiveForecaster().fit(y)  # doctest: +SKIP
    >>> plot_forecast(y, f.predict(24), "forecast.png")  # doctest: +SKIP
    """
    horizon = len(forecast)
    n_history = max(3 * horizon, 200) if n_history is None else int(n_history)
    past = history.iloc[-n_history:] if isinstance(history, pd.Series) \
        else pd.Series(np.asarray(history, dtype=np.float64)[-n_history:])
    if not isinstance(forecast, pd.Series):
        first = len(history)
        forecast = pd.Series(np.asarray(forecast, dtype=np.float64),
                             index=np.arange(first, first + horizon))
        past.index = np.arange(len(history) - len(past), len(history))
    x_past, x_label = _time_axis(past.index)
    x_future, _ = _time_axis(forecast.index)
    figure = _new_figure((10, 4))
    ax = figure.add_subplot()
    ax.plot(x_past, past.to_numpy(dtype=np.float64), color="black", linewidth=1.0,
            label="observed")
    ax.plot(x_future, forecast.to_numpy(dtype=np.float64), color=_COLOURS[0], linewidth=1.5,
            label="forecast")
    ax.set_xlabel(x_label)
    if x_label == "time":
        _tidy_dates(ax)
    ax.set_ylabel(past.name if isinstance(past.name, str) else "value")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return _save(figure, path, dpi)
