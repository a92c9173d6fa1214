"""Rolling-origin evaluation of forecasters, and hyper-parameter search built on it.

:func:`grid_search` (and its :class:`GridSearchResult`) live in :mod:`tsrnn.grid_search`,
imported on first use (PEP 562): that module builds on :func:`backtest`, so importing it here
eagerly would make the two modules import each other.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._checks import check_int, check_option
from ._input import check_coverage, check_horizon, split_list, to_table
from .metrics import NAN_POLICIES, interval_score, interval_width, mae, mase, rmse, smape
from .metrics import coverage as coverage_score
from ._threads import one_thread_each
from .panel import ID, is_long_frame, split_panel

__all__ = ["backtest", "rolling_origins", "summarize_backtest", "run_tasks", "grid_search",
           "GridSearchResult"]

_LAZY = {"grid_search": "tsrnn.grid_search", "GridSearchResult": "tsrnn.grid_search"}

_BUILTIN_METRICS = {"mae": mae, "rmse": rmse, "smape": smape, "mase": mase}
_DEFAULT_N_ORIGINS = 5


def _spread_step(last, floor, n_origins):
    """The widest step that fits ``n_origins`` origins between ``floor`` and ``last``."""
    if n_origins == 1:
        return 1
    step = (last - floor) // (n_origins - 1)
    if step < 1:
        raise ValueError(
            f"{n_origins} origins do not fit between {floor} and {last}; lower the number of "
            f"origins (n_origins, or --origins on the command line)"
        )
    return step


def rolling_origins(n, horizon, n_origins=None, step=None, initial=None, min_history=2):
    """The forecast origins of a rolling-origin evaluation of a series of ``n`` values.

    An origin ``t`` is the number of observations before a forecast of ``horizon`` values
    (``y[t:t + horizon]`` from ``y[:t]``). The last origin is ``n - horizon``, so its horizon
    ends with the series; the others lie ``step`` apart before it.

    Parameters
    ----------
    n : int
        Length of the series.
    horizon : int
        Values forecast from each origin.
    n_origins : int, optional
        How many origins. Default: every origin from ``initial`` on when ``initial`` is given,
        otherwise the last 5 that leave ``min_history`` observations.
    step : int or "spread", optional
        Spacing, default ``horizon``. "spread" spaces ``n_origins`` origins as widely as fits
        between ``initial`` (or ``min_history``) and the last origin.
    initial : int, optional
        The earliest allowed origin; with ``n_origins`` it is checked, not imposed.
    min_history : int, default=2
        The earliest allowed origin when ``initial`` is not given.

    Returns
    -------
    list of int
        Ascending.

    Raises
    ------
    ValueError
        When the origins asked for do not fit in the series.

    Examples
    --------
    >>> from tsrnn.model_selection import rolling_origins
    >>> rolling_origins(10, horizon=2, n_origins=3)
    [4, 6, 8]
    >>> rolling_origins(100, horizon=10, n_origins=4, step="spread", initial=60)
    [60, 70, 80, 90]
    """
    horizon = check_horizon(horizon)
    last = check_int(n, "n", minimum=0) - horizon
    if last < 1:
        raise ValueError(f"y has {n} observations: too few for a horizon of {horizon}")
    initial = check_int(initial, "initial", minimum=1, allow_none=True)
    n_origins = check_int(n_origins, "n_origins", minimum=1, allow_none=True)
    floor = initial if initial is not None else min_history
    if isinstance(step, str):
        check_option(step, "step", ("spread",))
        if n_origins is None:
            raise ValueError("step='spread' needs n_origins")
        step = _spread_step(last, floor, n_origins)
    step = horizon if step is None else check_int(step, "step", minimum=1)
    if n_origins is None:
        origins = list(range(last, floor - 1, -step))[::-1]
        origins = origins if initial is not None else origins[-_DEFAULT_N_ORIGINS:]
        if not origins:
            raise ValueError(f"no origin fits: the last one ({last}) comes before the first "
                             f"usable one ({floor})")
        return origins
    origins = [last - step * k for k in range(n_origins - 1, -1, -1)]
    if origins[0] < floor:
        raise ValueError(
            f"{n_origins} origins {step} apart need the first origin at {origins[0]}, "
            f"before the first usable one ({floor}); lower n_origins or step, or use a "
            f"longer series"
        )
    return origins


def _resolve_metrics(metrics, nan_policy):
    """Return a list of (name, function, wants_y_train)."""
    if metrics is None:
        metrics = list(_BUILTIN_METRICS)
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(metrics, dict):
        items = list(metrics.items())
    else:
        items = []
        for name in metrics:
            if name not in _BUILTIN_METRICS:
                raise ValueError(
                    f"unknown metric {name!r}; use one of {sorted(_BUILTIN_METRICS)} or pass "
                    f"a dict {{name: function}}"
                )
            items.append((name, functools.partial(_BUILTIN_METRICS[name],
                                                  nan_policy=nan_policy)))
    return [(name, func, _wants_train(name, func)) for name, func in items]


def _wants_train(name, func):
    if not callable(func):
        raise TypeError(f"metric {name!r} is not callable")
    try:
        return "y_train" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _slice(obj, start, stop):
    if obj is None:
        return None
    if isinstance(obj, (pd.Series, pd.DataFrame)):
        return obj.iloc[start:stop]
    return np.asarray(obj)[start:stop]


def _is_fitted(forecaster):
    check = getattr(forecaster, "__sklearn_is_fitted__", None)
    if check is not None:
        return bool(check())
    return any(k.endswith("_") and not k.startswith("__") for k in vars(forecaster))


def _as_rows(prediction, horizon):
    if isinstance(prediction, (pd.Series, pd.DataFrame)):
        prediction = prediction.to_numpy(dtype=np.float64)
    return np.asarray(prediction, dtype=np.float64).reshape(horizon, -1)


def _forecast_from(forecaster, y, X, t, horizon, refit, context_length, coverage=None):
    """The (horizon, D) forecast from origin ``t``: refitted on ``y[:t]`` or from context.

    Returns the forecast and, with a ``coverage``, the interval's (lower, upper) bounds (else
    None).
    """
    X_future = _slice(X, t, t + horizon)
    if refit:
        from sklearn.base import clone  # here: scikit-learn takes a noticeable time to import

        model = clone(forecaster).fit(_slice(y, 0, t), _slice(X, 0, t))
        context = None
    else:
        model = forecaster
        start = 0 if context_length is None else max(0, t - context_length)
        context = _slice(y, start, t)
        if X is not None:
            context = (context, _slice(X, start, t))
    prediction = _as_rows(model.predict(horizon, X=X_future, context=context), horizon)
    if coverage is None:
        return prediction, None
    lower, upper = model.predict_interval(horizon, coverage=coverage, X=X_future,
                                          context=context)
    return prediction, (_as_rows(lower, horizon), _as_rows(upper, horizon))


def _interval_scores(truth, bounds, coverage, nan_policy):
    lower, upper = bounds
    return {
        "coverage": coverage_score(truth, lower, upper, nan_policy=nan_policy),
        "interval_width": interval_width(lower, upper, nan_policy=nan_policy),
        "interval_score": interval_score(truth, lower, upper, coverage,
                                         nan_policy=nan_policy),
    }


def _evaluate_origin(forecaster, y, X, values, t, horizon, refit, context_length, metrics,
                     coverage=None, nan_policy="omit"):
    """Forecast from origin ``t`` and score it.

    Returns the scores (dict), the (horizon, D) forecast and the interval bounds (or None).
    """
    prediction, bounds = _forecast_from(forecaster, y, X, t, horizon, refit, context_length,
                                        coverage)
    truth, train = values[t:t + horizon], values[:t]
    scores = {}
    for name, func, wants_train in metrics:
        extra = {"y_train": train} if wants_train else {}
        scores[name] = float(func(truth, prediction, **extra))
    if bounds is not None:
        scores.update(_interval_scores(truth, bounds, coverage, nan_policy))
    return scores, prediction, bounds


def run_tasks(task, items, n_jobs=None, progress=False, desc="backtest", unit="origin"):
    """``task(item)`` for every item, in order, through joblib: serially by default, with
    ``n_jobs`` workers, or on whatever backend ``joblib.parallel_config`` sets (e.g. a Dask
    cluster with ``backend="dask"``). With more than one worker each runs the kernels and BLAS
    on one thread; ``progress`` shows a tqdm bar (``desc``, ``unit``)."""
    from joblib import Parallel, delayed, effective_n_jobs

    if effective_n_jobs(n_jobs) > 1:  # workers x kernel threads must not exceed the cores
        task = functools.partial(one_thread_each, task)
    iterator = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(task)(item) for item in items)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, total=len(items), desc=desc, unit=unit)
    return list(iterator)


def _score_table(origins, results, index, n_train):
    rows = []
    for t, (scores, _, _) in zip(origins, results):
        row = {"origin": t}
        if index is not None:
            row["time"] = index[t]
        row["n_train"] = n_train(t)
        row.update(scores)
        rows.append(row)
    return pd.DataFrame(rows)


def _forecast_table(origins, results, table, horizon):
    """One row per origin, step (and column): the forecast next to the truth."""
    values, index = table.values, table.index
    n_columns = values.shape[1]
    layout = table.layout
    names = list(layout.columns) if layout.kind == "frame" else list(range(n_columns))
    pieces = []
    for t, (_, prediction, bounds) in zip(origins, results):
        piece = {"origin": np.full(horizon * n_columns, t),
                 "step": np.repeat(np.arange(1, horizon + 1), n_columns)}
        if index is not None:
            piece["time"] = np.repeat(np.asarray(index[t:t + horizon]), n_columns)
        if n_columns > 1:
            piece["column"] = np.tile(np.asarray(names, dtype=object), horizon)
        piece["y_true"] = values[t:t + horizon].ravel()
        piece["y_pred"] = prediction.ravel()
        if bounds is not None:
            piece["lower"], piece["upper"] = bounds[0].ravel(), bounds[1].ravel()
        pieces.append(pd.DataFrame(piece))
    return pd.concat(pieces, ignore_index=True)


def _is_panel(y):
    """Several series: a list of series, a dict or a long frame (see :mod:`tsrnn.panel`)."""
    return isinstance(y, dict) or is_long_frame(y) or split_list(y, "y")[1]


def _read_series(y, X):
    table = to_table(y, "y")
    if X is not None:
        x_rows = to_table(X, "X").values.shape[0]
        if x_rows != table.values.shape[0]:
            raise ValueError(f"X has {x_rows} rows but y has {table.values.shape[0]}")
    return table


def backtest(forecaster, y, horizon, n_origins=None, step=None, initial=None,
             context_length=None, refit=False, n_jobs=None, metrics=None, X=None,
             progress=False, return_forecasts=False, nan_policy="omit", coverage=None):
    """Rolling-origin evaluation over the tail of one series.

    Origins are the positions ``t`` at which a forecast of ``y[t:t + horizon]`` is made from
    ``y[:t]``. The last origin is ``len(y) - horizon`` (its horizon ends with ``y``); the others
    lie ``step`` apart before it.

    Parameters
    ----------
    forecaster : BaseForecaster
        A tsrnn forecaster. If it is not fitted, or ``refit=True``, a clone is fitted on
        ``y[:t]`` at every origin. Otherwise the fitted model predicts from each origin with
        ``context=y[t - context_length:t]`` (no refit).
    y : pandas.Series, pandas.DataFrame or array-like of shape (n,) or (n, D), or a panel
        One series, or several: a list, a dict ``{id: series}`` or a long DataFrame
        (``unique_id``, ``ds``, ``y``; see :mod:`tsrnn.panel`). Each series of a panel gets
        its own origins (the same arguments, applied to its length) and every (series,
        origin) pair is one task of the parallel loop; a fitted model must then forecast
        any series from its history (fitted on one series, or with ``scaling="context"``),
        otherwise use ``refit=True`` (a model per series and origin).
    horizon : int
        Steps forecast from each origin.
    n_origins : int, optional
        Number of origins. Default: every origin from ``initial`` on when ``initial`` is
        given, otherwise the last 5 origins that leave enough history.
    step : int or "spread", optional
        Spacing of the origins, default ``horizon`` (non-overlapping test windows); "spread"
        spreads ``n_origins`` evenly from ``initial`` to the last (see
        :func:`rolling_origins`).
    initial : int, optional
        The earliest allowed origin (size of the first training window). With ``n_origins``
        it is checked, not imposed: the first origin is ``len(y) - horizon - (n_origins - 1) *
        step``.
    context_length : int, optional
        Without refitting, the number of observations before each origin given as context
        (default: all of them).
    refit : bool, default=False
        Fit a fresh clone at each origin even if ``forecaster`` is fitted.
    n_jobs : int, optional
        Origins evaluated in parallel with joblib (None or 1: serially; -1: all cores). The
        loop runs on the backend of ``joblib.parallel_config``, so that ``with
        joblib.parallel_config(backend="dask"): backtest(...)`` runs it on a Dask cluster
        (``pip install "tsrnn[dask]"``), with the same results as serially. With more than
        one worker each runs the kernels and BLAS on one thread, so that workers times
        threads stay within the cores.
    metrics : list of str or dict, optional
        Names among "mae", "rmse", "smape", "mase" (default: all four), or a dict
        ``{name: function(y_true, y_pred[, y_train])}``; a function with a ``y_train``
        parameter receives the history before the origin (as MASE does).
    nan_policy : {"omit", "propagate", "raise"}, default="omit"
        How the built-in metrics treat NaN truth values (gaps in the data, e.g. with a
        forecaster's ``missing="interpolate"``): "omit" leaves them out of every score, and
        MASE's scale uses the training differences between finite values only.
    X : same kind as ``y``, optional
        Exogenous columns aligned with ``y``; each origin uses the rows before it for fitting
        or context and the next ``horizon`` rows as future values.
    progress : bool, default=False
        Show a tqdm progress bar over origins.
    return_forecasts : bool, default=False
        Also return every forecast, one row per origin and step.
    coverage : float in (0, 1), optional
        Also forecast a central interval of this nominal coverage at every origin (with
        ``predict_interval``) and score it: empirical ``coverage``, mean ``interval_width``
        and the ``interval_score`` (Winkler; see :mod:`tsrnn.metrics`).

    Returns
    -------
    scores : pandas.DataFrame
        One row per origin (for a panel: first a column ``unique_id``, the series' id or its
        position in a list; :func:`summarize_backtest` gives means per series and pooled):
        ``origin`` (position of the first forecast value), ``time`` (its
        index label, when ``y`` is pandas), ``n_train`` (observations before it) and one
        column per metric, computed over the whole horizon (and all columns). With a
        ``coverage``, also ``coverage``, ``interval_width`` and ``interval_score``.
    forecasts : pandas.DataFrame
        Only with ``return_forecasts=True``: columns ``origin``, ``step`` (1..horizon),
        ``time`` (pandas ``y`` only), ``column`` (multi-column ``y`` only), ``y_true`` and
        ``y_pred`` (and ``lower``, ``upper`` with a ``coverage``). Mean absolute error per horizon step, for example:
        ``(forecasts.y_true - forecasts.y_pred).abs().groupby(forecasts.step).mean()``.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.forecasters.naive import NaiveForecaster
    >>> from tsrnn.model_selection import backtest
    >>> y = np.arange(10.0)
    >>> scores = backtest(NaiveForecaster(), y, horizon=2, n_origins=3, metrics=["mae"])
    >>> scores[["origin", "mae"]].to_numpy().tolist()
    [[4.0, 1.5], [6.0, 1.5], [8.0, 1.5]]
    """
    horizon = check_horizon(horizon)
    context_length = check_int(context_length, "context_length", minimum=1, allow_none=True)
    check_option(nan_policy, "nan_policy", NAN_POLICIES)
    if coverage is not None:
        coverage = check_coverage(coverage)
    refit = bool(refit) or not _is_fitted(forecaster)
    plan = _BacktestPlan(forecaster, horizon, refit, context_length,
                         _resolve_metrics(metrics, nan_policy), coverage, nan_policy)
    if _is_panel(y):
        return _backtest_panel(plan, y, X, (n_origins, step, initial), n_jobs, progress,
                               return_forecasts)
    table = _read_series(y, X)
    origins = plan.origins(table, n_origins, step, initial)
    results = run_tasks(lambda t: plan.evaluate(y, X, table, t), origins, n_jobs, progress)
    scores = plan.score_table(origins, results, table)
    if not return_forecasts:
        return scores
    return scores, _forecast_table(origins, results, table, horizon)


@dataclass(frozen=True)
class _BacktestPlan:
    """What every origin of a backtest shares: the model, the horizon, the scores."""

    forecaster: object
    horizon: int
    refit: bool
    context_length: object
    metrics: list
    coverage: object
    nan_policy: str

    def origins(self, table, n_origins, step, initial):
        min_history = 2
        if self.refit and hasattr(self.forecaster, "min_fit_length"):
            min_history = max(min_history, self.forecaster.min_fit_length())
        return rolling_origins(table.values.shape[0], self.horizon, n_origins, step, initial,
                               min_history)

    def evaluate(self, y, X, table, t):
        return _evaluate_origin(self.forecaster, y, X, table.values, t, self.horizon,
                                self.refit, self.context_length, self.metrics, self.coverage,
                                self.nan_policy)

    def score_table(self, origins, results, table):
        def n_train(t):
            return t if self.refit or self.context_length is None \
                else min(t, self.context_length)
        return _score_table(origins, results, table.index, n_train)


def _check_panel_model(plan):
    """A fitted model forecasts each series of a panel from its context alone: it must take
    any series (one fitted series, or ``scaling="context"``)."""
    model = plan.forecaster
    if plan.refit or getattr(model, "n_series_", 1) == 1 \
            or getattr(model, "scaling", None) == "context":
        return
    raise ValueError(
        f"the {type(model).__name__} was fitted on {model.n_series_} series, so it forecasts "
        f"a series from its history only with scaling='context' (a global model); fit it "
        f"that way, or pass refit=True to fit a model per series and origin")


def _backtest_panel(plan, y, X, origin_args, n_jobs, progress, return_forecasts):
    """:func:`backtest` of every series of a panel: one loop over (series, origin) pairs."""
    _check_panel_model(plan)
    ys, Xs, panel = split_panel(y, X)
    keys = panel.keys if panel is not None else list(range(len(ys)))
    if Xs is None:
        Xs = [None] * len(ys)
    elif not isinstance(Xs, list) or len(Xs) != len(ys):
        raise ValueError(f"X must give the covariates of each of the {len(ys)} series "
                         f"(a list or dict like y)")
    tables = [_read_series(y_i, X_i) for y_i, X_i in zip(ys, Xs)]
    origins = [plan.origins(table, *origin_args) for table in tables]
    tasks = [(i, t) for i, series_origins in enumerate(origins) for t in series_origins]
    results = run_tasks(lambda task: plan.evaluate(ys[task[0]], Xs[task[0]],
                                                      tables[task[0]], task[1]),
                           tasks, n_jobs, progress)
    scores, forecasts, start = [], [], 0
    for key, table, series_origins in zip(keys, tables, origins):
        part = results[start:start + len(series_origins)]
        start += len(series_origins)
        scores.append(plan.score_table(series_origins, part, table))
        if return_forecasts:
            forecasts.append(_forecast_table(series_origins, part, table, plan.horizon))
    scores = _keyed_concat(keys, scores)
    if not return_forecasts:
        return scores
    return scores, _keyed_concat(keys, forecasts)


def _keyed_concat(keys, frames):
    """``frames`` stacked, each with a first column ``unique_id`` holding its key."""
    for key, frame in zip(keys, frames):
        frame.insert(0, ID, [key] * len(frame))
    return pd.concat(frames, ignore_index=True)


def summarize_backtest(scores):
    """Mean scores of a panel backtest per series, and pooled over every origin.

    Parameters
    ----------
    scores : pandas.DataFrame
        The per-origin scores :func:`backtest` returns for several series (with a
        ``unique_id`` column).

    Returns
    -------
    pandas.DataFrame
        One row per series (indexed by its id) with ``n_origins`` and the mean of each score
        over its origins, then a row ``"pooled"``: the mean over all origins of all series,
        each origin counting once (so series with more origins weigh more).

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.forecasters.naive import NaiveForecaster
    >>> from tsrnn.model_selection import backtest, summarize_backtest
    >>> panel = {"a": np.arange(10.0), "b": 2 * np.arange(10.0)}
    >>> scores = backtest(NaiveForecaster(), panel, horizon=2, n_origins=3, metrics=["mae"])
    >>> summarize_backtest(scores)["mae"].tolist()
    [1.5, 3.0, 2.25]
    """
    if ID not in scores.columns:
        raise ValueError(f"scores has no {ID!r} column: summarize_backtest takes the scores "
                         f"of a backtest over several series")
    columns = [c for c in scores.columns if c not in (ID, "origin", "time", "n_train")]
    groups = scores.groupby(ID, sort=False)
    per_series = groups[columns].mean()
    per_series.insert(0, "n_origins", groups.size())
    if "pooled" in per_series.index:
        raise ValueError("a series is called 'pooled', the name of the pooled row; rename it")
    pooled = scores[columns].mean().to_frame("pooled").T
    pooled.insert(0, "n_origins", len(scores))
    return pd.concat([per_series, pooled])


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
