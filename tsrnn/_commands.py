"""The ``tsrnn`` commands themselves (``compare``, ``forecast``, ``backtest``), run by
:func:`tsrnn.cli.main` once the arguments are parsed.

Kept apart from the argument parser so that ``tsrnn --help`` and usage errors answer without
importing NumPy's neighbours, pandas, statsmodels or the kernels.
"""
from __future__ import annotations

import contextlib
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from tsrnn._input import check_horizon
from tsrnn._threads import single_threaded_blas
from tsrnn.cli import CommandError
from tsrnn.comparison import (PRESETS, describe_fitted, describe_model, fit_timed,
                              format_comparison, make_forecaster, resolve_models,
                              run_comparison)
from tsrnn.datasets import CsvSeries, read_csv_series
from tsrnn.datasets.physionet import is_wfdb_record

__all__ = ["run", "SCHEDULER_TIMEOUT"]

SCHEDULER_TIMEOUT = "10s"
"""How long ``--scheduler`` waits for the Dask scheduler to answer."""


def run(args):
    """Run the command ``args.command`` (parsed by :func:`tsrnn.cli.build_parser`)."""
    handler = {"compare": _cmd_compare, "forecast": _cmd_forecast,
               "backtest": _cmd_backtest}[args.command]
    with single_threaded_blas():
        return handler(args)


def _stderr(message):
    if sys.stderr is not None:
        print(message, file=sys.stderr, flush=True)


def _count(n, noun):
    """``n`` and ``noun``, plural unless ``n`` is 1: "1 step", "3 steps"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _logger(args):
    return (lambda message: None) if args.quiet else _stderr


def _show_bars(args):
    """Progress bars only on a terminal: in a log file their redraws are noise."""
    stream = sys.stderr
    return not args.quiet and stream is not None and stream.isatty()


def _check_plot(path):
    """Fail before long work when a figure is asked for but matplotlib is missing."""
    if path is None:
        return
    from tsrnn.plotting import require_matplotlib

    try:
        require_matplotlib()
    except ImportError as exc:
        raise CommandError(str(exc)) from None


def _check_output_dir(path):
    """Fail before long work when an output file cannot be written where it is asked for."""
    if path is None:
        return
    if Path(path).is_dir():
        raise CommandError(f"cannot write {path}: it is a directory; name a file in it, e.g. "
                           f"{Path(path) / 'out.csv'}")
    if not Path(path).resolve().parent.is_dir():
        raise CommandError(f"cannot write {path}: the directory {Path(path).parent} does not "
                           f"exist")


def _arima_params(args, preset):
    params = dict(preset.arima)
    if args.arima_fit_length is not None:
        params["max_fit_length"] = args.arima_fit_length if args.arima_fit_length > 0 else None
    if args.arima_max_p is not None:
        params["max_p"] = args.arima_max_p
    if args.arima_max_q is not None:
        params["max_q"] = args.arima_max_q
    if args.season_length is not None:  # also the period of ARIMA's Fourier terms
        params["season_length"] = args.season_length
    return params


def _compare_data(args, log):
    """The series ``compare`` runs on, its preset and its title."""
    if args.csv is not None:
        if args.dataset is not None:
            raise CommandError("give either --dataset or --csv, not both")
        if args.column is None:
            raise CommandError("--csv needs --column NAME: the column to forecast")
        data = _read_source(args.csv, args.column, args.time_column, args.freq)
        for note in data.notes:
            log(f"note: {args.csv}: {note}")
        return data.series, PRESETS["csv"], f"{args.csv}, column {args.column!r}"
    if args.column is not None or args.time_column is not None or args.freq is not None:
        raise CommandError("--column, --time-column and --freq go with --csv FILE")
    preset = PRESETS[args.dataset or "ecg"]
    return preset.load(), preset, preset.description


def _detected_season(y, train_fraction, log):
    """The shortest season :func:`~tsrnn.seasonality.detect_season` finds in the training
    part of ``y`` (None without one), logged."""
    from tsrnn.seasonality import detect_season

    n_train = int(round(len(y) * train_fraction))
    seasons = detect_season(y.iloc[:n_train])
    if not seasons:
        log("no season detected in the training part (give --season-length N to set one)")
        return None
    log(f"season detected in the training part: {seasons[0]:g} steps (the seasonal naive "
        f"model repeats {int(round(seasons[0]))}; --season-length N sets it)")
    return seasons[0]


def _cmd_compare(args):
    log = _logger(args)
    _check_plot(args.plot)
    _check_output_dir(args.out)
    _check_output_dir(args.plot)
    y, preset, title = _compare_data(args, log)
    horizons = args.horizons if args.horizons else preset.horizons
    season_length = args.season_length or preset.season_length
    if season_length is None and args.csv is not None:
        season_length = _detected_season(y, args.train_fraction, log)
    seasonal = season_length is not None and preset.season_length is None
    default = list(preset.models) + (["seasonal"] if seasonal else [])
    models = resolve_models(args.models, season_length, default)
    log(f"tsrnn compare: {title}; models {', '.join(models)}; horizons "
        f"{', '.join(str(h) for h in sorted(set(horizons)))}; {args.origins} origins")
    start = time.perf_counter()
    with _parallel_backend(args.scheduler, log):
        result = run_comparison(
            y, models=models, horizons=horizons, n_origins=args.origins,
            train_fraction=args.train_fraction, context_length=args.context_length or None,
            random_state=args.seed, arima_params=_arima_params(args, preset),
            season_length=season_length,
            coverage=None if args.no_intervals else args.coverage, title=title,
            progress=_show_bars(args), log=log, n_jobs=args.n_jobs,
        )
    log(f"done in {time.perf_counter() - start:.0f} s")
    sys.stdout.write(format_comparison(result))
    sys.stdout.flush()
    if args.out is not None:
        result.table.to_csv(args.out, index=False)
        log(f"table written to {args.out}")
    if args.plot is not None:
        from tsrnn.plotting import plot_comparison

        plot_comparison(result, args.plot)
        log(f"figure written to {args.plot}")
    return 0


def _model(args, y_train, missing):
    """The forecaster ``--model`` names, set up as ``compare`` sets it up for a CSV column."""
    return make_forecaster(args.model, random_state=args.seed, missing=missing,
                           verbose=int(_show_bars(args)),
                           arima_params=_arima_params(args, PRESETS["csv"]),
                           season_length=args.season_length)


def _fit_logged(model, y, name, log, X_past=None):
    """Fit ``model`` on ``y``, reporting time and (deduplicated) warnings."""
    known = int(y.notna().sum())
    filled = f" ({known:,} known, the rest interpolated)" if known < len(y) else ""
    past = "" if X_past is None else f", reading {', '.join(X_past.columns)} as past covariates"
    log(f"fitting {describe_model(name, model)} on {len(y):,} observations{filled}{past}")
    try:
        seconds, lines = fit_timed(model, y, **({} if X_past is None else {"X_past": X_past}))
    except ValueError as error:
        if "too short for early stopping" in str(error):  # its remedies are Python parameters
            raise CommandError(
                f"{len(y):,} observations are too few for {name}'s early stopping (its "
                f"validation tail must hold a multi-step forecast): use a longer series or "
                f"another --model") from None
        raise
    for line in lines:
        log(f"warning: {line}")
    log(f"fitted in {seconds:.1f} s")
    chosen = describe_fitted(name, model)
    if chosen:
        log(chosen)
    return model


def _read_source(path, column, time_column, freq):
    """One column of a CSV file, or one channel of a WFDB record (``path`` names its
    ``.hea`` file, or the record without suffix)."""
    if not is_wfdb_record(path):
        return read_csv_series(path, column, time_column, freq=freq)
    if time_column is not None or freq is not None:
        raise CommandError("--time-column and --freq are for CSV files: a WFDB record has its "
                           "own sampling rate")
    from tsrnn.datasets import read_wfdb

    try:
        frame = read_wfdb(path, channels=[column])
    except ImportError as error:
        raise CommandError(str(error)) from None
    return CsvSeries(frame[column], "time", "timedelta")


def _load_for_model(args, log, path=None):
    path = args.file if path is None else path
    data = _read_source(path, args.column, args.time_column, args.freq)
    for note in data.notes:
        log(f"note: {path}: {note}")
    infinite = np.isinf(data.series.to_numpy())
    if infinite.any():
        data.series[infinite] = np.nan
        log(f"note: {int(infinite.sum())} infinite value(s) in {args.column!r} treated as "
            f"missing")
    n_missing = int(data.series.isna().sum())
    if n_missing:
        log(f"note: {n_missing} missing value(s) in {args.column!r}: filled by linear "
            f"interpolation for the model")
    return data, ("interpolate" if n_missing else "raise")


def _cmd_forecast(args):
    log = _logger(args)
    check_horizon(args.horizon)  # before any reading or fitting
    _check_plot(args.plot)
    _check_output_dir(args.out)
    _check_output_dir(args.plot)
    data, missing = _load_for_model(args, log)
    X_past = _past_covariates(args, data)
    model = _model(args, data.series, missing)
    _fit_logged(model, data.series, args.model, log, X_past)
    forecast = model.predict(args.horizon)
    table = pd.DataFrame({
        data.time_name: data.output_times(forecast.index),
        args.column: forecast.to_numpy(dtype=np.float64),
    })
    lower = upper = None
    if args.coverage is not None:
        lower, upper = model.predict_interval(args.horizon, coverage=args.coverage)
        table["lower"] = lower.to_numpy(dtype=np.float64)
        table["upper"] = upper.to_numpy(dtype=np.float64)
    if args.out is None:
        sys.stdout.write(table.to_csv(index=False))
        sys.stdout.flush()
    else:
        table.to_csv(args.out, index=False)
        log(f"{args.horizon}-step forecast written to {args.out}")
    if args.plot is not None:
        from tsrnn.plotting import plot_forecast

        plot_forecast(data.series, forecast, args.plot, lower=lower, upper=upper,
                      coverage=args.coverage, season_length=args.season_length,
                      title=f"{args.model} forecast of {args.column!r}, {args.horizon} steps")
        log(f"figure written to {args.plot}")
    return 0


def _past_covariates(args, data):
    """The ``--past-covariates`` columns (or channels) of ``args.file``, on the target's
    index (None without the option)."""
    names = args.past_covariates
    if not names:
        return None
    if args.model not in ("lstm", "gru"):
        raise CommandError(f"--past-covariates are read by the lstm and gru models, not by "
                           f"{args.model}")
    if args.column in names:
        raise CommandError(f"--past-covariates names the forecast column {args.column!r}")
    columns = {}
    for name in dict.fromkeys(names):
        channel = _read_source(args.file, name, args.time_column, args.freq).series
        columns[name] = channel.reindex(data.series.index)  # unknown rows stay NaN
    return pd.DataFrame(columns, index=data.series.index)


def _backtest_origins(args, n, path):
    """The origins of ``tsrnn backtest``: the last ``--origins``, ``--step`` apart."""
    from tsrnn.model_selection import rolling_origins

    step = args.step or args.horizon
    try:
        return rolling_origins(n, args.horizon, args.origins, step, min_history=3)
    except ValueError:
        raise CommandError(
            f"{args.origins} origins {step} steps apart with horizon {args.horizon} need more "
            f"than {args.horizon + step * (args.origins - 1) + 2} observations; {path} has "
            f"{n}: lower --origins, --step or --horizon"
        ) from None


def _run_backtest(args, model, y, origins, log):
    """Scores per origin and a sentence saying how the model was fitted."""
    from tsrnn.model_selection import backtest

    step = args.step or args.horizon
    options = dict(n_origins=len(origins), step=step, progress=_show_bars(args),
                   coverage=args.coverage, n_jobs=args.n_jobs)
    with warnings.catch_warnings(), _parallel_backend(args.scheduler, log):
        warnings.simplefilter("ignore")
        if args.refit:
            log(f"refitting {args.model} at each of {len(origins)} origins")
            scores = backtest(model, y, args.horizon, refit=True, **options)
            return scores, "refitted at every origin on all observations before it"
        first = origins[0]
        _fit_logged(model, y.iloc[:first], args.model, log)
        context = args.context_length or None
        scores = backtest(model, y, args.horizon, context_length=context, **options)
    ctx = "all" if context is None else f"the last {context:,}"
    return scores, (f"fitted once on the first {first:,} observations; each origin forecasts "
                    f"from {ctx} observations before it")


@contextlib.contextmanager
def _parallel_backend(scheduler, log):
    """Run joblib's loops on the Dask cluster of ``scheduler`` (an address; None: locally)."""
    if scheduler is None:
        yield
        return
    try:
        from distributed import Client
    except ImportError:
        raise CommandError("--scheduler needs dask.distributed: pip install 'tsrnn[dask]'") \
            from None
    import joblib

    try:
        client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as error:
        raise CommandError(f"cannot reach the Dask scheduler at {scheduler!r} within "
                           f"{SCHEDULER_TIMEOUT}: {error}") from None
    with client, joblib.parallel_config(backend="dask"):
        log(f"origins run on the Dask cluster at {scheduler} "
            f"({_count(len(client.scheduler_info()['workers']), 'worker')})")
        yield


_INTERVAL_COLUMNS = ("coverage", "interval_width", "interval_score")


def _score_lines(scores):
    """The per-origin table with a mean row, formatted."""
    numeric = ("mae", "rmse", "smape", "mase") + tuple(
        c for c in _INTERVAL_COLUMNS if c in scores.columns)
    mean = {c: scores[c].mean() for c in numeric}
    shown = scores.copy()
    for c in ("origin", "time", "n_train"):
        if c in shown.columns:
            shown[c] = shown[c].astype(str)
    mean_row = {c: "" for c in ("time", "n_train") if c in shown.columns}
    shown = pd.concat([shown, pd.DataFrame([{"origin": "mean", **mean_row, **mean}])],
                      ignore_index=True)
    for c in ("mae", "rmse", "mase", "interval_width", "interval_score"):
        if c in shown.columns:
            shown[c] = shown[c].map(lambda v: f"{v:.4g}")
    if "coverage" in shown.columns:
        shown["coverage"] = shown["coverage"].map(lambda v: f"{100 * v:.1f} %")
    shown["smape"] = shown["smape"].map(lambda v: f"{v:.2f}")
    shown = shown.rename(columns={"smape": "sMAPE %", "mae": "MAE", "rmse": "RMSE",
                                  "mase": "MASE"})
    return shown.to_string(index=False)


def _cmd_backtest(args):
    log = _logger(args)
    check_horizon(args.horizon)
    _check_output_dir(args.out)
    files = list(dict.fromkeys(args.file))  # each file once, in the order given
    tables = []
    for number, path in enumerate(files):
        if number:
            print()
        tables.append(_backtest_file(args, path, log))
    if len(files) > 1:
        tables = [table.assign(file=str(path)) for table, path in zip(tables, files)]
        print()
        _print_pooled(args, files, tables)
    if args.out is not None:
        scores = pd.concat(tables, ignore_index=True)
        if len(files) > 1:
            scores = scores[["file"] + [c for c in scores.columns if c != "file"]]
        scores.to_csv(args.out, index=False)
        log(f"per-origin scores written to {args.out}")
    return 0


def _backtest_file(args, path, log):
    """Backtest the model on one file, print its table; returns the per-origin scores."""
    data, missing = _load_for_model(args, log, path)
    y = data.series
    origins = _backtest_origins(args, len(y), path)
    model = _model(args, y.iloc[:origins[0]], missing)
    scores, how = _run_backtest(args, model, y, origins, log)
    columns = [c for c in ("origin", "time", "n_train", "mae", "rmse", "smape", "mase",
                           "coverage", "interval_width", "interval_score")
               if c in scores.columns]
    scores = scores[columns]
    if "time" in scores.columns and data.time_kind == "seconds":
        scores = scores.assign(time=data.output_times(pd.TimedeltaIndex(scores["time"])))
    print(f"{args.model} on {path}, column {args.column!r}: {len(y):,} observations; "
          f"horizon {args.horizon}, {_count(len(origins), 'origin')} "
          f"{_count(args.step or args.horizon, 'step')} apart")
    print(how)
    print()
    print(_score_lines(scores))
    print()
    print("MASE: MAE over the in-sample MAE of the one-step naive forecast on all observations "
          "before the origin.")
    if args.coverage is not None:
        print(f"coverage: share of the horizon's true values inside the {100 * args.coverage:g} "
              f"% interval; width and interval score in the column's units.")
    return scores


def _print_pooled(args, files, tables):
    """Mean scores per file and over every origin of every file."""
    numeric = [c for c in ("mae", "rmse", "smape", "mase") + _INTERVAL_COLUMNS
               if c in tables[0].columns]
    rows = [{"file": str(path), "origins": len(table), **table[numeric].mean().to_dict()}
            for path, table in zip(files, tables)]
    every = pd.concat(tables, ignore_index=True)
    rows.append({"file": "pooled", "origins": len(every), **every[numeric].mean().to_dict()})
    summary = pd.DataFrame(rows)
    formats = {"coverage": lambda v: f"{100 * v:.1f} %", "smape": lambda v: f"{v:.2f}"}
    for c in numeric:
        summary[c] = summary[c].map(formats.get(c, lambda v: f"{v:.4g}"))
    print(f"{args.model} on {len(files)} files: mean scores per file, and pooled over all "
          f"{len(every)} origins")
    print()
    print(summary.rename(columns={"smape": "sMAPE %", "mae": "MAE", "rmse": "RMSE",
                                  "mase": "MASE"}).to_string(index=False))
