"""Rolling-origin evaluation of forecasters."""
from __future__ import annotations

import inspect
import numbers

import numpy as np
import pandas as pd
from sklearn.base import clone

from ._input import check_horizon, to_table
from .metrics import mae, mase, rmse, smape

__all__ = ["backtest"]

_BUILTIN_METRICS = {"mae": mae, "rmse": rmse, "smape": smape, "mase": mase}
_DEFAULT_N_ORIGINS = 5


def _positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _resolve_metrics(metrics):
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
            items.append((name, _BUILTIN_METRICS[name]))
    resolved = []
    for name, func in items:
        if not callable(func):
            raise TypeError(f"metric {name!r} is not callable")
        try:
            wants_train = "y_train" in inspect.signature(func).parameters
        except (TypeError, ValueError):
            wants_train = False
        resolved.append((name, func, wants_train))
    return resolved


def _origins(n, horizon, n_origins, step, initial, min_history):
    """Positions t (number of observations before each forecast), ascending."""
    last = n - horizon
    if last < 1:
        raise ValueError(f"y has {n} observations: too few for a horizon of {horizon}")
    if initial is not None:
        initial = _positive_int(initial, "initial")
    if n_origins is not None:
        n_origins = _positive_int(n_origins, "n_origins")
        origins = [last - step * k for k in range(n_origins - 1, -1, -1)]
        floor = initial if initial is not None else min_history
        if origins[0] < floor:
            raise ValueError(
                f"{n_origins} origins {step} apart need the first origin at {origins[0]}, "
                f"before the first usable one ({floor}); lower n_origins or step, or use a "
                f"longer series"
            )
        return origins
    floor = initial if initial is not None else min_history
    origins = list(range(last, floor - 1, -step))[::-1]
    if initial is None:
        origins = origins[-_DEFAULT_N_ORIGINS:]
    if not origins:
        raise ValueError(
            f"no origin fits: the last one ({last}) comes before the first usable one "
            f"({floor})"
        )
    return origins


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


def _evaluate_origin(forecaster, y, X, values, t, horizon, refit, context_length, metrics):
    """Forecast from origin ``t`` and score it; returns (scores dict, (horizon, D) forecast)."""
    X_future = _slice(X, t, t + horizon)
    if refit:
        model = clone(forecaster).fit(_slice(y, 0, t), _slice(X, 0, t))
        prediction = model.predict(horizon, X=X_future)
    else:
        start = 0 if context_length is None else max(0, t - context_length)
        context = _slice(y, start, t)
        if X is not None:
            context = (context, _slice(X, start, t))
        prediction = forecaster.predict(horizon, X=X_future, context=context)
    if isinstance(prediction, (pd.Series, pd.DataFrame)):
        prediction = prediction.to_numpy(dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64).reshape(horizon, -1)
    truth, train = values[t:t + horizon], values[:t]
    scores = {}
    for name, func, wants_train in metrics:
        if wants_train:
            scores[name] = float(func(truth, prediction, y_train=train))
        else:
            scores[name] = float(func(truth, prediction))
    return scores, prediction


def backtest(forecaster, y, horizon, n_origins=None, step=None, initial=None,
             context_length=None, refit=False, n_jobs=None, metrics=None, X=None,
             progress=False, return_forecasts=False):
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
    y : pandas.Series, pandas.DataFrame or array-like of shape (n,) or (n, D)
        One series (not a list).
    horizon : int
        Steps forecast from each origin.
    n_origins : int, optional
        Number of origins. Default: every origin from ``initial`` on when ``initial`` is
        given, otherwise the last 5 origins that leave enough history.
    step : int, optional
        Spacing of the origins, default ``horizon`` (non-overlapping test windows).
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
        Origins evaluated in parallel with joblib (None or 1: serially; -1: all cores).
    metrics : list of str or dict, optional
        Names among "mae", "rmse", "smape", "mase" (default: all four), or a dict
        ``{name: function(y_true, y_pred[, y_train])}``; a function with a ``y_train``
        parameter receives the history before the origin (as MASE does).
    X : same kind as ``y``, optional
        Exogenous columns aligned with ``y``; each origin uses the rows before it for fitting
        or context and the next ``horizon`` rows as future values.
    progress : bool, default=False
        Show a tqdm progress bar over origins.
    return_forecasts : bool, default=False
        Also return every forecast, one row per origin and step.

    Returns
    -------
    scores : pandas.DataFrame
        One row per origin: ``origin`` (position of the first forecast value), ``time`` (its
        index label, when ``y`` is pandas), ``n_train`` (observations before it) and one
        column per metric, computed over the whole horizon (and all columns).
    forecasts : pandas.DataFrame
        Only with ``return_forecasts=True``: columns ``origin``, ``step`` (1..horizon),
        ``time`` (pandas ``y`` only), ``column`` (multi-column ``y`` only), ``y_true`` and
        ``y_pred``. Mean absolute error per horizon step, for example:
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
    if isinstance(y, list) and y and not np.isscalar(y[0]):
        raise TypeError("backtest evaluates one series; loop over the series of a list")
    horizon = check_horizon(horizon)
    step = horizon if step is None else _positive_int(step, "step")
    if context_length is not None:
        context_length = _positive_int(context_length, "context_length")
    block = to_table(y, "y")
    values = block.values
    if X is not None:
        x_block = to_table(X, "X")
        if x_block.values.shape[0] != values.shape[0]:
            raise ValueError(
                f"X has {x_block.values.shape[0]} rows but y has {values.shape[0]}"
            )
    refit = bool(refit) or not _is_fitted(forecaster)
    min_history = 2
    if refit and hasattr(forecaster, "_min_length"):
        min_history = max(min_history, int(forecaster._min_length()))
    origins = _origins(values.shape[0], horizon, n_origins, step, initial, min_history)
    resolved = _resolve_metrics(metrics)

    def task(t):
        return _evaluate_origin(
            forecaster, y, X, values, t, horizon, refit, context_length, resolved
        )

    if n_jobs is None or n_jobs == 1:
        iterator = (task(t) for t in origins)
    else:
        from joblib import Parallel, delayed

        try:
            iterator = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(_evaluate_origin)(
                    forecaster, y, X, values, t, horizon, refit, context_length, resolved
                )
                for t in origins
            )
        except TypeError:  # joblib < 1.3 has no generator output
            iterator = iter(Parallel(n_jobs=n_jobs)(
                delayed(_evaluate_origin)(
                    forecaster, y, X, values, t, horizon, refit, context_length, resolved
                )
                for t in origins
            ))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, total=len(origins), desc="backtest", unit="origin")
    results = list(iterator)

    index = block.index
    rows = []
    for t, (scores, _) in zip(origins, results):
        row = {"origin": t}
        if index is not None:
            row["time"] = index[t]
        row["n_train"] = t if refit or context_length is None else min(t, context_length)
        row.update(scores)
        rows.append(row)
    table = pd.DataFrame(rows)
    if not return_forecasts:
        return table

    n_columns = values.shape[1]
    names = (
        list(block.layout.columns) if block.layout.kind == "frame" else list(range(n_columns))
    )
    pieces = []
    for t, (_, prediction) in zip(origins, results):
        steps = np.repeat(np.arange(1, horizon + 1), n_columns)
        piece = {"origin": np.full(horizon * n_columns, t), "step": steps}
        if index is not None:
            piece["time"] = np.repeat(np.asarray(index[t:t + horizon]), n_columns)
        if n_columns > 1:
            piece["column"] = np.tile(np.asarray(names, dtype=object), horizon)
        piece["y_true"] = values[t:t + horizon].ravel()
        piece["y_pred"] = prediction.ravel()
        pieces.append(pd.DataFrame(piece))
    return table, pd.concat(pieces, ignore_index=True)
