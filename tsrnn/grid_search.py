"""Hyper-parameter search for forecasters: every setting of a grid scored by rolling origins.

:func:`grid_search` is what scikit-learn's ``GridSearchCV`` and sktime's
``ForecastingGridSearchCV`` do, with :func:`~tsrnn.model_selection.backtest` (a clone refitted
at every origin) in the place of cross-validation folds. It is a function, like ``backtest``,
rather than a search estimator: its product is an ordinary fitted forecaster (which predicts,
updates and saves as any other) and a table, so there is no second fitted object whose state
could disagree with the forecaster's.
"""
from __future__ import annotations

import numbers
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._input import check_horizon
from .model_selection import backtest, run_tasks

__all__ = ["grid_search", "GridSearchResult"]

_LOSSES = ("mae", "rmse", "smape", "mase")
_MIN_HISTORY = 2  # backtest's own floor: MASE's scale needs two observations


@dataclass(frozen=True)
class GridSearchResult:
    """What :func:`grid_search` found.

    Attributes
    ----------
    best_forecaster : BaseForecaster
        A clone of the forecaster with ``best_params``, fitted on the whole of ``y`` (and ``X``)
        when ``refit=True``, unfitted otherwise.
    best_params : dict
        The setting with the lowest mean score (the first in grid order among ties).
    best_score : float
        Its mean score over the origins.
    best_index : int
        Its row in ``cv_results``.
    cv_results : pandas.DataFrame
        One row per setting, in the grid's order (as scikit-learn's ``cv_results_``): a column
        ``param_<name>`` per parameter (None where a setting of a list of grids does not set
        it), ``params`` (the setting as a dict), ``mean_score`` and ``std_score`` over the
        origins, ``rank_score`` (1 is best; NaN scores share the last rank), ``n_origins``,
        ``fit_time`` (seconds for the setting's backtest: a fit and a forecast per origin) and
        ``error`` (the message of a setting that failed, else None).
    scores : pandas.DataFrame
        Every setting's per-origin scores as :func:`~tsrnn.model_selection.backtest` returns
        them, after a first column ``setting`` (the row of ``cv_results``).
    metric : str
        Name of the score.
    """

    best_forecaster: object
    best_params: dict
    best_score: float
    best_index: int
    cv_results: pd.DataFrame
    scores: pd.DataFrame
    metric: str


@dataclass(frozen=True)
class _Outcome:
    """One setting's backtest: its per-origin scores (None if it failed) and cost."""

    scores: object
    seconds: float
    error: object = None  # the exception a failed setting raised


def _check_values(values, name, where):
    """A grid's values for one parameter: a non-empty list (or 1-D array)."""
    if isinstance(values, tuple):
        raise TypeError(
            f"{where}[{name!r}] must be a list of values, got the tuple {values!r}; a tuple "
            f"is ambiguous (several values, or one value that is a tuple): write "
            f"{list(values)!r} for several values, [{values!r}] for one")
    if isinstance(values, np.ndarray) and values.ndim == 1:
        values = values.tolist()
    if not isinstance(values, list):
        raise TypeError(f"{where}[{name!r}] must be a list of values, got "
                        f"{type(values).__name__} {values!r}; wrap a single value in a list: "
                        f"[{values!r}]")
    if not values:
        raise ValueError(f"{where}[{name!r}] is an empty list: give at least one value")
    return values


def _check_grid(param_grid, forecaster):
    """``param_grid`` as a list of dicts ``{name: list of values}``, every name a parameter of
    ``forecaster`` (``name__inner`` for a nested estimator's)."""
    single = isinstance(param_grid, dict)
    grids = [param_grid] if single else param_grid
    if not isinstance(grids, list):
        raise TypeError(f"param_grid must be a dict {{name: list of values}} or a list of "
                        f"such dicts, got {type(param_grid).__name__}")
    if not grids:
        raise ValueError("param_grid is an empty list: give at least one dict "
                         "{name: list of values}")
    valid = forecaster.get_params(deep=True)
    checked = []
    for k, grid in enumerate(grids):
        where = "param_grid" if single else f"param_grid[{k}]"
        if not isinstance(grid, dict):
            raise TypeError(f"{where} must be a dict {{name: list of values}}, got "
                            f"{type(grid).__name__}")
        if not grid:
            raise ValueError(f"{where} is empty: name at least one parameter and a list of "
                             f"its values")
        unknown = [name for name in grid if name not in valid]
        if unknown:
            raise ValueError(
                f"{where} names {', '.join(map(repr, unknown))}, not parameter(s) of "
                f"{type(forecaster).__name__}; its parameters are {', '.join(sorted(valid))}")
        checked.append({name: _check_values(values, name, where)
                        for name, values in grid.items()})
    return checked


def _candidates(forecaster, grid):
    """A clone per setting with its parameters set and checked (before anything is fitted),
    and the fewest observations every one of them fits on."""
    from sklearn.base import clone  # here: scikit-learn takes a noticeable time to import
    from sklearn.model_selection import ParameterGrid

    settings = list(ParameterGrid(grid))
    candidates, floor = [], _MIN_HISTORY
    for params in settings:
        candidate = clone(forecaster).set_params(**params)
        if hasattr(candidate, "min_fit_length"):  # validates the parameters, as fit would
            try:
                floor = max(floor, candidate.min_fit_length())
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"setting {params!r} of param_grid: {exc}") from exc
        candidates.append(candidate)
    return settings, candidates, floor


def _check_metric(metric):
    """The score's name and the ``metrics`` argument of :func:`backtest`."""
    if isinstance(metric, str):
        if metric not in _LOSSES:
            raise ValueError(f"metric must be one of {', '.join(_LOSSES)} or a function "
                             f"(lower is better), got {metric!r}")
        return metric, [metric]
    if not callable(metric):
        raise TypeError(f"metric must be a name ({', '.join(_LOSSES)}) or a function "
                        f"(y_true, y_pred[, y_train]) -> float, got {type(metric).__name__}")
    name = getattr(metric, "__name__", "score")
    return name, {name: metric}


def _check_error_score(error_score):
    if isinstance(error_score, str) and error_score == "raise":
        return error_score
    if isinstance(error_score, (bool, np.bool_)) or not isinstance(error_score, numbers.Real):
        raise TypeError(f"error_score must be 'raise' or a number (e.g. numpy.nan), got "
                        f"{error_score!r}")
    return float(error_score)


def _score_setting(candidate, y, X, horizon, origin_args, metrics, catch):
    """The backtest of one setting; with ``catch``, a failure is returned, not raised."""
    start = time.perf_counter()
    try:
        scores = backtest(candidate, y, horizon, *origin_args, refit=True, n_jobs=1,
                          metrics=metrics, X=X)
    except Exception as exc:  # noqa: BLE001 - any fit failure scores error_score
        if not catch:
            raise
        return _Outcome(None, time.perf_counter() - start, exc)
    return _Outcome(scores, time.perf_counter() - start)


def _param_columns(settings):
    """``param_<name>`` columns (sorted by name, None where a setting lacks the name)."""
    names = sorted({name for params in settings for name in params})
    columns = {}
    for name in names:
        column = np.empty(len(settings), dtype=object)  # object: keeps tuples such as orders
        column[:] = [params.get(name) for params in settings]
        columns[f"param_{name}"] = column
    return columns


def _results_table(settings, outcomes, metric_name, error_score):
    means, stds, counts = [], [], []
    for outcome in outcomes:
        values = np.asarray([error_score] if outcome.scores is None
                            else outcome.scores[metric_name], dtype=np.float64)
        means.append(float(np.mean(values)))  # NaN at any origin makes the mean NaN
        stds.append(float(np.std(values)))
        counts.append(0 if outcome.scores is None else len(values))
    table = pd.DataFrame(_param_columns(settings))
    params = np.empty(len(settings), dtype=object)
    params[:] = [dict(p) for p in settings]
    table["params"] = params
    table["mean_score"], table["std_score"] = means, stds
    table["rank_score"] = pd.Series(means).rank(method="min", na_option="bottom").astype(int)
    table["n_origins"] = counts
    table["fit_time"] = [outcome.seconds for outcome in outcomes]
    table["error"] = [None if o.error is None else f"{type(o.error).__name__}: {o.error}"
                      for o in outcomes]
    return table


def _all_scores(outcomes):
    frames = []
    for k, outcome in enumerate(outcomes):
        if outcome.scores is not None:
            frames.append(outcome.scores.assign(setting=k)[
                ["setting", *outcome.scores.columns]])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"setting": []})


def _report_problems(table, outcomes):
    """Raise when no setting has a score; warn about the settings that failed or scored NaN."""
    failed = [o.error for o in outcomes if o.error is not None]
    if len(failed) == len(outcomes):
        raise ValueError(f"every setting of the grid failed; the first, "
                         f"{table['params'][0]!r}, with {table['error'][0]}") from failed[0]
    if table["mean_score"].isna().all():
        raise ValueError("every setting scored NaN (see the metric and the series' gaps); "
                         "no setting can be chosen")
    bad = table.index[table["mean_score"].isna() | table["error"].notna()]
    if len(bad):
        shown = "; ".join(f"{table['params'][k]!r}" + (f" ({table['error'][k]})"
                                                       if table["error"][k] else "")
                          for k in bad[:3])
        warnings.warn(f"{len(bad)} of {len(table)} settings failed or scored NaN (NaN is "
                      f"ranked last; see cv_results['error']): {shown}"
                      f"{' ...' if len(bad) > 3 else ''}", UserWarning, stacklevel=3)


def grid_search(forecaster, param_grid, y, horizon, X=None, n_origins=5, step=None,
                initial=None, metric="mase", refit=True, n_jobs=None, progress=False,
                error_score=np.nan):
    """Choose hyper-parameters by rolling-origin evaluation of every setting of a grid.

    Each setting is scored by :func:`~tsrnn.model_selection.backtest` with ``refit=True``: at
    every origin a clone with the setting's parameters is fitted on the history before it and
    forecasts ``horizon`` steps, and the setting's score is the mean over the origins (for a
    panel, over all origins of all series, each origin counting once). Every setting is scored
    on the same origins. The lowest mean wins.

    Parameters
    ----------
    forecaster : BaseForecaster
        The forecaster whose parameters are searched; it is cloned, never modified.
    param_grid : dict or list of dict
        ``{name: list of values}``, every combination a setting (scikit-learn's
        ``ParameterGrid``), or a list of such dicts whose settings are concatenated. Names are
        the forecaster's parameters (``name__inner`` for a nested estimator's). Values must
        be lists: write ``{"order": [(2, 0, 0)]}``, as a tuple is ambiguous.
    y : pandas.Series, pandas.DataFrame, array-like, or a panel
        One series, or several (a list, a dict ``{id: series}`` or a long DataFrame), as
        :func:`~tsrnn.model_selection.backtest` takes them.
    horizon : int
        Steps forecast from each origin.
    X : same kind as ``y``, optional
        Exogenous columns aligned with ``y``.
    n_origins : int or None, default=5
        Origins per series; None: every origin from ``initial`` on.
    step : int or "spread", optional
        Spacing of the origins, default ``horizon`` (see
        :func:`~tsrnn.model_selection.rolling_origins`).
    initial : int, optional
        The earliest allowed origin. Default: the fewest observations that every setting can
        be fitted on (``min_fit_length``, at least 2), so that all settings share the origins
        (with ``step="spread"`` too).
    metric : {"mase", "mae", "rmse", "smape"} or callable, default="mase"
        The score, lower is better; a function ``(y_true, y_pred[, y_train]) -> float`` is
        called as :func:`~tsrnn.model_selection.backtest` calls its metrics.
    refit : bool, default=True
        Fit the best setting on the whole of ``y`` (for a panel, one ``fit`` on the panel).
    n_jobs : int, optional
        Settings scored in parallel through joblib (None or 1: serially; -1: all cores; the
        backend of ``joblib.parallel_config``, e.g. Dask, otherwise). Each setting's origins
        run serially in its worker. The scores equal the serial run's.
    progress : bool, default=False
        Show a tqdm progress bar over the settings.
    error_score : "raise" or float, default=numpy.nan
        The score of a setting whose backtest raises (a fit that fails, say): "raise"
        re-raises the error. Failures are reported in ``cv_results["error"]``.

    Returns
    -------
    GridSearchResult
        ``best_forecaster``, ``best_params``, ``best_score``, ``best_index``, ``cv_results``
        (a row per setting), ``scores`` (per origin) and ``metric``.

    Raises
    ------
    TypeError, ValueError
        Before anything is fitted, for a grid that is not a dict or list of dicts, that is
        empty, names parameters the forecaster does not have (the message lists those it
        has), gives values that are not a non-empty list, or sets an invalid value. A
        ValueError also when every setting failed or scored NaN.

    Warns
    -----
    UserWarning
        When some settings scored NaN (they are ranked last).

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.forecasters.naive import NaiveForecaster
    >>> from tsrnn.model_selection import grid_search
    >>> y = np.tile([1.0, 5.0, 2.0, 8.0], 10) + 0.1 * np.arange(40)
    >>> grid = [{"strategy": ["last", "mean"]},
    ...         {"strategy": ["seasonal"], "season_length": [2, 4]}]
    >>> search = grid_search(NaiveForecaster(), grid, y, horizon=4, n_origins=3)
    >>> search.best_params
    {'season_length': 4, 'strategy': 'seasonal'}
    >>> search.cv_results[["param_strategy", "param_season_length", "rank_score"]]
      param_strategy param_season_length  rank_score
    0           last                None           4
    1           mean                None           3
    2       seasonal                   2           2
    3       seasonal                   4           1
    >>> search.best_forecaster.predict(4).round(1).tolist()  # refitted on all of y
    [4.6, 8.7, 5.8, 11.9]
    """
    horizon = check_horizon(horizon)
    metric_name, metrics = _check_metric(metric)
    error_score = _check_error_score(error_score)
    settings, candidates, floor = _candidates(forecaster, _check_grid(param_grid, forecaster))
    origin_args = (n_origins, step, floor if initial is None else initial)

    def task(candidate):
        return _score_setting(candidate, y, X, horizon, origin_args, metrics,
                              catch=error_score != "raise")

    outcomes = run_tasks(task, candidates, n_jobs, progress, desc="grid search", unit="setting")
    table = _results_table(settings, outcomes, metric_name, error_score)
    _report_problems(table, outcomes)
    best = int(np.argmin(table["rank_score"].to_numpy()))
    best_forecaster = candidates[best]
    if refit:
        best_forecaster = best_forecaster.fit(y, X)
    return GridSearchResult(best_forecaster, dict(settings[best]),
                            float(table["mean_score"][best]), best, table,
                            _all_scores(outcomes), metric_name)
