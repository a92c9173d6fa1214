"""The ``tsrnn forecast`` command: fit (or load) one model, forecast, write CSV and a figure;
with known-future covariates from a file of their future values, past covariates, several
target columns, and saved models.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tsrnn._commands import (check_output_dir, check_plot, checked_params, count,
                             fit_logged, load_for_model, logger, make_model, read_source)
from tsrnn._input import check_horizon, to_table, with_index_end
from tsrnn.cli import CommandError
from tsrnn.datasets import CsvSeries

__all__ = ["run_forecast"]


@dataclass
class _Inputs:
    """What ``forecast`` reads from ``FILE.csv`` and ``--future``, before any fitting.

    ``data`` is the first ``--column`` (its time column and format), ``y`` the target: a
    Series for one ``--column``, a DataFrame for several. ``X`` and ``X_future`` are the
    ``--covariates`` over the data and over the horizon, ``X_past`` the
    ``--past-covariates`` (each None without its option); ``missing`` is what the model's
    ``missing`` parameter must be for these inputs.
    """

    data: CsvSeries
    y: object
    missing: str
    X: object = None
    X_future: object = None
    X_past: object = None


def run_forecast(args):
    log = logger(args)
    check_horizon(args.horizon)  # before any reading or fitting
    check_plot(args.plot)
    for path in (args.out, args.plot, args.save):
        check_output_dir(path)
    _check_roles(args)
    if args.model_file is not None:
        return _forecast_saved(args, log)
    params = checked_params(args, log)
    model = make_model(args, params=params)
    _check_model_options(args, model)
    inputs = _read_inputs(args, log)
    if "missing" not in params:  # a --param missing=... is the user's to choose
        model.set_params(missing=inputs.missing)
    fit_logged(model, inputs.y, args.model, log, X=inputs.X, X_past=inputs.X_past,
                params=params)
    if args.save is not None:
        model.save(args.save)
        log(f"model written to {args.save}: tsrnn forecast --model-file {args.save} "
            f"forecasts with it without fitting")
    _forecast_and_write(args, model, inputs, args.model, log)
    return 0


def _check_roles(args):
    """A column is forecast, a known-future covariate or a past covariate: one of them."""
    seen = {}
    for option, names in (("--column", args.column), ("--covariates", args.covariates),
                          ("--past-covariates", args.past_covariates)):
        for name in names or ():
            if seen.setdefault(name, option) != option:
                raise CommandError(f"{name!r} is named by both {seen[name]} and {option}: a "
                                   f"column is forecast, a covariate or a past covariate")


def _check_model_options(args, model):
    """Refuse, before any reading, the options the ``--model`` cannot honour."""
    if args.save is not None and not hasattr(model, "save"):
        raise CommandError(f"--save writes the lstm and gru models; {args.model} has no model "
                           f"file (it refits in seconds): leave out --save")
    if args.covariates and not type(model)._supports_exog:
        raise CommandError(f"--covariates are read by the lstm, gru and arima models, not by "
                           f"{args.model}")
    if args.past_covariates and args.model not in ("lstm", "gru"):
        raise CommandError(f"--past-covariates are read by the lstm and gru models, not by "
                           f"{args.model}")


def _read_inputs(args, log):
    """Read the targets, their covariates and the covariates' future (see :class:`_Inputs`)."""
    loaded = [load_for_model(args, log, column=column)[0]
              for column in dict.fromkeys(args.column)]
    data = loaded[0]
    y = data.series
    if len(loaded) > 1:
        y = pd.concat([one.series for one in loaded], axis=1)  # one file: one time grid
    missing = "interpolate" if bool(np.asarray(y.isna()).any()) else "raise"
    inputs = _Inputs(data, y, missing, X_past=_past_covariates(args, data))
    if args.covariates:
        inputs.X = _file_columns(args, args.covariates, y.index)
        n_unknown = int((~np.isfinite(inputs.X.to_numpy())).sum())
        if n_unknown:
            inputs.missing = "interpolate"
            log(f"note: {n_unknown} missing value(s) in the covariates: filled by linear "
                f"interpolation for the model")
        inputs.X_future = _future_covariates(args, args.covariates, _horizon_times(y, args),
                                             data.time_kind, data.output_times)
    return inputs


def _file_columns(args, names, index):
    """The columns (or channels) ``names`` of ``FILE.csv`` on ``index``; rows they lack stay
    NaN."""
    columns = {}
    for name in dict.fromkeys(names):
        channel = read_source(args.file, name, args.time_column, args.freq).series
        columns[name] = channel.reindex(index)
    return pd.DataFrame(columns, index=index)


def _past_covariates(args, data):
    """The ``--past-covariates`` columns (or channels) of ``args.file``, on the target's
    index (None without the option); NaN marks what is unknown."""
    if not args.past_covariates:
        return None
    return _file_columns(args, args.past_covariates, data.series.index)


def _horizon_times(y, args):
    """The ``--horizon`` times after the end of ``y``, as the forecasters continue an
    index (so a forecast from ``y`` is indexed by exactly these)."""
    return with_index_end(to_table(y, "y"), "y").layout.future_index(args.horizon)


def _forecast_and_write(args, model, inputs, label, log, **context):
    """Forecast from the end of the fitted data (or from the ``context`` keyword, with its
    ``X_past``), write the table and, with ``--plot``, the figure."""
    forecast, lower, upper = _predictions(model, args, inputs.X_future, **context)
    data, columns = inputs.data, list(dict.fromkeys(args.column))
    # a saved model takes a context's columns by name, in the order it was fitted with
    names = list(forecast.columns) if isinstance(forecast, pd.DataFrame) else columns
    _write_table(args, _forecast_table(data.time_name, data.output_times(forecast.index),
                                       names, forecast, lower, upper), log)
    if args.plot is not None:
        from tsrnn.plotting import plot_forecast

        plot_forecast(data.series, forecast, args.plot, lower=lower, upper=upper,
                      coverage=args.coverage, season_length=args.season_length,
                      title=f"{label} forecast of {columns[0]!r}, {args.horizon} steps")
        log(f"figure written to {args.plot}")


def _predictions(model, args, X_future=None, **context):
    """The point forecast and, with ``--coverage``, the interval's bounds (else None)."""
    options = {key: value for key, value in dict(context, X=X_future).items()
               if value is not None}
    forecast = model.predict(args.horizon, **options)
    if args.coverage is None:
        return forecast, None, None
    lower, upper = model.predict_interval(args.horizon, coverage=args.coverage, **options)
    return forecast, lower, upper


def _forecast_table(time_name, times, names, forecast, lower=None, upper=None):
    """The CSV ``forecast`` writes: the times, then per target its values (one target:
    ``lower`` and ``upper`` after it; several: ``lower_NAME`` and ``upper_NAME``)."""
    def columns(values):
        return np.asarray(values, dtype=np.float64).reshape(len(times), len(names))

    table = pd.DataFrame({time_name: times})
    values = columns(forecast)
    bounds = None if lower is None else (columns(lower), columns(upper))
    for k, name in enumerate(names):
        table[name] = values[:, k]
        if bounds is not None:
            suffix = "" if len(names) == 1 else f"_{name}"
            table[f"lower{suffix}"], table[f"upper{suffix}"] = bounds[0][:, k], bounds[1][:, k]
    return table


def _write_table(args, table, log):
    if args.out is None:
        sys.stdout.write(table.to_csv(index=False))
        sys.stdout.flush()
    else:
        table.to_csv(args.out, index=False)
        log(f"{args.horizon}-step forecast written to {args.out}")


# ---------------------------------------------------------------------------------------------
# forecast --future: the covariates over the horizon
# ---------------------------------------------------------------------------------------------
_KIND_WORDS = {"datetime": "dates", "timedelta": "durations or seconds",
               "seconds": "seconds or durations", "int": "step numbers",
               "range": "step numbers"}


def _future_covariates(args, names, times, kind, shown):
    """The ``--future`` file's values of the covariates ``names`` at ``times``.

    Parameters
    ----------
    args : argparse.Namespace
        ``future`` names the file, ``time_column`` its time column (default: the first).
    names : list of str
    times : pandas.Index
        The horizon's times, as the forecast will be indexed.
    kind : str
        How the data's times were read (:class:`~tsrnn.datasets.CsvSeries` ``time_kind``, or
        a saved model's index kind); the file's times are read the same way.
    shown : callable
        Formats times as the data file writes them, for messages.

    Returns
    -------
    pandas.DataFrame of shape (len(times), len(names))
        Indexed by ``times``.
    """
    what = f"--future {args.future}"
    frame = _read_future_file(args.future)
    time_column = args.time_column or frame.columns[0]
    absent = [name for name in dict.fromkeys([time_column, *names]) if name not in frame]
    if absent:
        raise CommandError(f"{what} has no column {', '.join(map(repr, absent))}; its columns "
                           f"are {', '.join(map(repr, frame.columns))}")
    stamps = _future_times(frame[time_column], kind, what)
    _check_covers(stamps, times, what, shown)
    values = {name: pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
              for name in dict.fromkeys(names)}  # text becomes NaN, refused below
    future = pd.DataFrame(values, index=stamps).reindex(times)
    unknown = ~np.isfinite(future.to_numpy())
    if unknown.any():
        row, col = np.argwhere(unknown)[0]
        raise CommandError(f"{what} has no number for {future.columns[col]!r} at "
                           f"{_some(shown(times[row:row + 1]))}: the forecast needs every "
                           f"covariate at every step of the horizon")
    return future


def _read_future_file(path):
    if not Path(path).is_file():
        raise CommandError(f"--future {path}: "
                           f"{'a directory' if Path(path).is_dir() else 'file not found'}")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read --future {path} as CSV: {str(error).strip()}") \
            from None
    if frame.empty:
        raise CommandError(f"--future {path} has no data rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _future_times(column, kind, what):
    """The times of ``column`` read as the data's times were (``kind``), or a CommandError."""
    numeric = pd.api.types.is_numeric_dtype(column.dtype)
    stamps = None
    try:
        if kind == "datetime" and not numeric:
            stamps = pd.DatetimeIndex(pd.to_datetime(column)).as_unit("ns")
        elif kind in ("timedelta", "seconds") and numeric:  # seconds, as the reader takes them
            nanos = np.round(column.to_numpy(dtype=np.float64) * 1e9).astype(np.int64)
            stamps = pd.TimedeltaIndex(pd.to_timedelta(nanos, unit="ns"))
        elif kind in ("timedelta", "seconds"):
            stamps = pd.TimedeltaIndex(pd.to_timedelta(column)).as_unit("ns")
        elif kind in ("int", "range") and numeric:
            numbers = column.to_numpy(dtype=np.float64)
            if np.all(numbers == np.round(numbers)):
                stamps = pd.Index(numbers.astype(np.int64))
    except (ValueError, TypeError, OverflowError):
        stamps = None
    if stamps is None or stamps.hasnans:
        raise CommandError(f"cannot read the time column {column.name!r} of {what} as "
                           f"{_KIND_WORDS.get(kind, kind)} like the data's times (first value "
                           f"{str(column.iloc[0])!r})")
    if stamps.has_duplicates:
        raise CommandError(f"the time column {column.name!r} of {what} repeats times, e.g. "
                           f"{column[stamps.duplicated()].iloc[0]!r}")
    return stamps


def _check_covers(stamps, times, what, shown):
    """The ``--future`` times must be exactly the horizon's."""
    lacking, extra = times.difference(stamps), stamps.difference(times)
    if len(lacking) == 0 and len(extra) == 0:
        return
    problems = ([f"it lacks {_some(shown(lacking))}"] if len(lacking) else []) + \
        ([f"it has times outside the horizon: {_some(shown(extra))}"] if len(extra) else [])
    first, last = (_some(shown(times[[k]])) for k in (0, len(times) - 1))
    raise CommandError(f"{what} must give the covariates at exactly the {len(times)} "
                       f"--horizon times that follow the data, {first} to {last}: "
                       f"{'; '.join(problems)}")


def _some(times, shown=3):
    """The first few of ``times`` as text, and how many more there are."""
    labels = [str(t) for t in list(times)[:shown]]
    more = len(times) - len(labels)
    return ", ".join(labels) + (f" and {more} more" if more > 0 else "")


# ---------------------------------------------------------------------------------------------
# forecast --model-file: a saved model, no fitting
# ---------------------------------------------------------------------------------------------
def _forecast_saved(args, log):
    """Forecast with the model in ``--model-file``: from the end of the data it was fitted on,
    or with ``FILE.csv``, from its ``--column`` as context."""
    model = _load_model(args.model_file)
    _check_saved_inputs(args, model)
    label = model.get_params()["cell"]
    if args.file is None:
        return _forecast_saved_end(args, model, label, log)
    inputs = _read_inputs(args, log)
    if inputs.missing == "interpolate":  # as a fit on this data would have been set up
        model.set_params(missing="interpolate")
    context = inputs.y if inputs.X is None else (inputs.y, inputs.X)
    log(f"forecasting from the {len(inputs.y):,} observations in {args.file} as context, with "
        f"the {label} model in {args.model_file} (not refitted)")
    _forecast_and_write(args, model, inputs, label, log, context=context, X_past=inputs.X_past)
    return 0


def _load_model(path):
    """The RNNForecaster saved in ``path`` (a bad file raises :class:`tsrnn.io.ModelFileError`
    naming it and the problem)."""
    if not Path(path).is_file():
        raise CommandError(f"--model-file {path}: "
                           f"{'a directory' if Path(path).is_dir() else 'file not found'}")
    from tsrnn.forecasters import RNNForecaster

    model = RNNForecaster.load(path)
    if model.list_input_:
        raise CommandError(f"{path} holds a model of {model.n_series_} series given as a list; "
                           f"tsrnn forecast continues one series (use the Python API)")
    return model


def _check_saved_inputs(args, model):
    """The covariate options must be those the saved model was fitted with."""
    path = args.model_file
    # the past covariates come last among the exogenous columns, as columns the model builds
    n_known = model.n_exog_ - model._unknown_ahead()
    names = (None if model.exog_names_ is None
             else [str(n) for n in model.exog_names_[:n_known]])
    if n_known and not args.covariates:
        listed = f" ({' '.join(names)})" if names else ""
        raise CommandError(f"{path} was fitted with {count(n_known, 'covariate')}"
                           f"{listed}: give --covariates and --future with their values over "
                           f"the horizon")
    if args.covariates and not n_known:
        raise CommandError(f"{path} was fitted without covariates: leave out --covariates and "
                           f"--future")
    if args.covariates and names is not None and list(dict.fromkeys(args.covariates)) != names:
        raise CommandError(f"--covariates must be the ones {path} was fitted with, in order: "
                           f"{' '.join(names)}")
    if args.past_covariates and not getattr(model, "n_past_", 0):
        raise CommandError(f"{path} was fitted without past covariates: leave out "
                           f"--past-covariates")


def _forecast_saved_end(args, model, label, log):
    """Continue the saved model's own data; the times follow its last one."""
    layout = model.layouts_[0]
    if layout.index_kind is None:
        raise CommandError(f"{args.model_file} was fitted on values without times: give "
                           f"FILE.csv and --column to forecast from")
    X_future = None
    if args.covariates:
        X_future = _future_covariates(args, args.covariates, layout.future_index(args.horizon),
                                      layout.index_kind, lambda times: times)
    log(f"forecasting from the end of the data the {label} model in {args.model_file} was "
        f"fitted on ({layout.n_seen:,} observations up to {layout.last}), not refitted")
    forecast, lower, upper = _predictions(model, args, X_future)
    names = ([str(n) for n in model.target_names_] if model.target_names_ is not None
             else [str(layout.name) if layout.name is not None else "forecast"])
    time_name = forecast.index.name if forecast.index.name is not None else "time"
    _write_table(args, _forecast_table(time_name, forecast.index, names, forecast, lower,
                                       upper), log)
    return 0


# ---------------------------------------------------------------------------------------------
