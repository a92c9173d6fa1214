"""The ``tsrnn`` command: compare forecasters, forecast a CSV column, backtest a model.

``tsrnn compare``
    Fit every model once on the first part of a series (default: the embedded ECG), forecast
    from rolling origins over the rest with the history before each origin as context, and
    print MASE, sMAPE, MAE, fit time and predict time per model and horizon.
``tsrnn forecast FILE.csv --column NAME --horizon N``
    Fit one model on a CSV column and write its forecast as CSV.
``tsrnn backtest FILE.csv --column NAME --horizon N --model M``
    Rolling-origin scores of one model on a CSV column, per origin and on average.

Run ``tsrnn COMMAND --help`` for the options. This module parses arguments, runs a command and
reports errors; the comparison itself is :mod:`tsrnn.comparison` (:func:`run_comparison` is
re-exported here) and CSV files are read by :func:`tsrnn.datasets.read_csv_series`.
:func:`main` returns an exit code; errors print one line on stderr (``--debug`` shows the
traceback instead).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from tsrnn._input import check_horizon
from tsrnn._threads import single_threaded_blas
from tsrnn.comparison import (DEFAULT_CONTEXT, DEFAULT_ORIGINS, DEFAULT_TRAIN_FRACTION,
                              MODEL_NAMES, PRESETS, describe_fitted, describe_model,
                              fit_timed, format_comparison, make_forecaster, resolve_models,
                              run_comparison)
from tsrnn.datasets import CsvSeries, read_csv_series
from tsrnn.datasets.physionet import is_wfdb_record

SCHEDULER_TIMEOUT = "10s"
"""How long ``--scheduler`` waits for the Dask scheduler to answer."""

__all__ = ["main", "build_parser", "run_comparison", "CommandError"]


class CommandError(Exception):
    """A user error the command reports in one line (conflicting or missing options)."""


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------
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


def _fit_logged(model, y, name, log):
    """Fit ``model`` on ``y``, reporting time and (deduplicated) warnings."""
    known = int(y.notna().sum())
    filled = f" ({known:,} known, the rest interpolated)" if known < len(y) else ""
    log(f"fitting {describe_model(name, model)} on {len(y):,} observations{filled}")
    try:
        seconds, lines = fit_timed(model, y)
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
    model = _model(args, data.series, missing)
    _fit_logged(model, data.series, args.model, log)
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


# ---------------------------------------------------------------------------------------------
# Argument parsing
# ---------------------------------------------------------------------------------------------
def _number(convert, accept, expected):
    """An argparse type: ``convert`` the text, check it with ``accept``, else say ``expected``."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_fraction = _number(float, lambda v: 0.0 < v < 1.0, "a number in (0, 1)")


def _common_options():
    """Options every command takes (their defaults are suppressed so the top level's stay)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=int, default=0,
                        help="random_state of the RNNs (default: %(default)s)")
    common.add_argument("-q", "--quiet", "--no-progress", action="store_true",
                        default=argparse.SUPPRESS,
                        help="no progress bars or stage messages on stderr")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")
    return common


def _model_options(parser):
    group = parser.add_argument_group("model settings")
    group.add_argument("--season-length", type=_positive_int, metavar="N",
                       help="period of the seasonal naive model and of ARIMA's Fourier terms, "
                            "in steps (default for CO2: 52, and 365.25 / 7 for ARIMA; needed "
                            "for the seasonal model elsewhere; without it ARIMA is "
                            "non-seasonal)")
    group.add_argument("--arima-fit-length", type=_non_negative_int, metavar="N",
                       help="fit ARIMA on the last N training observations only (0: all; "
                            "default: 3000 for the ECG, all for CO2, 5000 for a CSV)")
    group.add_argument("--arima-max-p", type=_non_negative_int, metavar="P",
                       help="largest AR order of the automatic search (default: 3)")
    group.add_argument("--arima-max-q", type=_non_negative_int, metavar="Q",
                       help="largest MA order of the automatic search (default: 2 for the ECG, "
                            "3 otherwise)")


_FREQ_HELP = ("put the CSV rows on this grid, e.g. B (business days), h or 15min, or N steps "
              "for step numbers: missing steps become gaps, times between steps are an "
              "error (default: inferred; weekdays only are business days)")


def _csv_options(parser, several=False):
    parser.add_argument("file", metavar="FILE.csv", nargs="+" if several else None,
                        help="CSV file with a header row, or a PhysioNet WFDB record (its .hea "
                             "file, or its path without suffix; needs the wfdb package)"
                             + ("; several: each scored on its own, then pooled" if several
                                else ""))
    parser.add_argument("--column", required=True, metavar="NAME",
                        help="column (or the record's channel) to forecast")
    parser.add_argument("--time-column", metavar="NAME",
                        help="column with the times (default: the first column); dates, "
                             "durations, step numbers or seconds")
    parser.add_argument("--freq", metavar="FREQ", help=_FREQ_HELP)
    parser.add_argument("--horizon", required=True, type=_positive_int, metavar="N",
                        help="steps to forecast")


def build_parser():
    """The argument parser of the ``tsrnn`` command.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> from tsrnn.cli import build_parser
    >>> build_parser().parse_args(["compare"]).origins
    200
    """
    from tsrnn import __version__

    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="tsrnn",
        description="Forecast time series with recurrent neural networks (LSTM, GRU) and "
                    "ARIMA, Markov and naive baselines.",
    )
    parser.add_argument("--version", action="version", version=f"tsrnn {__version__}")
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show the full traceback on errors")
    parser.add_argument("-q", "--quiet", "--no-progress", action="store_true", default=False,
                        help="no progress bars or stage messages on stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_compare(commands, common)
    _add_forecast(commands, common)
    _add_backtest(commands, common)
    return parser


def _add_compare(commands, common):
    compare = commands.add_parser(
        "compare", parents=[common],
        help="compare LSTM, GRU, ARIMA, Markov and naive forecasts (default: on the ECG)",
        description="Fit every model once on the first part of a series, forecast from "
                    "rolling origins over the rest and print MASE, sMAPE, MAE, fit and predict "
                    "time per model and horizon. Default: the embedded ECG, horizons 36 and "
                    "180 samples (0.1 s and 0.5 s at 360 Hz).",
    )
    source = compare.add_argument_group("data (default: the embedded ECG)")
    source.add_argument("--dataset", choices=("ecg", "co2"),
                        help="embedded data set: ecg (MIT-BIH record 208, 360 Hz) or co2 "
                             "(Mauna Loa, weekly)")
    source.add_argument("--csv", metavar="FILE",
                        help="compare on a column of this CSV file (or a channel of this WFDB "
                             "record)")
    source.add_argument("--column", metavar="NAME",
                        help="the CSV column (or the record's channel) to forecast")
    source.add_argument("--time-column", metavar="NAME",
                        help="the CSV column with the times (default: the first column)")
    source.add_argument("--freq", metavar="FREQ", help=_FREQ_HELP)
    protocol = compare.add_argument_group("protocol")
    protocol.add_argument("--models", nargs="+", choices=MODEL_NAMES, metavar="MODEL",
                          help=f"models to compare, among {', '.join(MODEL_NAMES)} (default: "
                               f"all but seasonal; CO2 and --season-length add seasonal)")
    protocol.add_argument("--horizons", nargs="+", type=_positive_int, metavar="H",
                          help="steps ahead to score (default: 36 180 for the ECG, 4 52 for "
                               "CO2, 10 50 for a CSV)")
    protocol.add_argument("--origins", type=_positive_int, default=DEFAULT_ORIGINS,
                          help="forecast origins spread over the test part (default: "
                               "%(default)s)")
    protocol.add_argument("--train-fraction", type=_fraction, default=DEFAULT_TRAIN_FRACTION,
                          metavar="F", help="share of the series the models are fitted on "
                                            "(default: %(default)s)")
    protocol.add_argument("--context-length", type=_non_negative_int, default=DEFAULT_CONTEXT,
                          metavar="N",
                          help="observations before each origin given to the models as "
                               "context (0: all; default: %(default)s)")
    _model_options(compare)
    protocol.add_argument("--coverage", type=_fraction, default=0.9, metavar="C",
                          help="nominal coverage of the prediction intervals scored (columns "
                               "'cover %%' and 'MSIS'; default: %(default)s)")
    protocol.add_argument("--no-intervals", action="store_true",
                          help="score point forecasts only (faster)")
    _parallel_options(protocol)
    output = compare.add_argument_group("output")
    output.add_argument("--out", metavar="FILE.csv", help="also write the table as CSV")
    output.add_argument("--plot", metavar="FILE.png",
                        help='write a figure of forecasts and error per step (needs '
                             'matplotlib: pip install "tsrnn[plot]")')
    compare.set_defaults(handler=_cmd_compare)


def _add_forecast(commands, common):
    forecast = commands.add_parser(
        "forecast", parents=[common], help="forecast a column of a CSV file",
        description="Fit a model on a whole CSV column and write its forecast (time, value) "
                    "as CSV.",
    )
    _csv_options(forecast)
    forecast.add_argument("--model", choices=MODEL_NAMES, default="lstm",
                          help="model (default: %(default)s)")
    forecast.add_argument("--out", metavar="FILE.csv",
                          help="write the forecast here (default: standard output)")
    forecast.add_argument("--plot", metavar="FILE.png",
                          help="write a figure of the series end and the forecast")
    forecast.add_argument("--coverage", type=_fraction, metavar="C",
                          help="also write a prediction interval of this nominal coverage, e.g. "
                               "0.9 (columns 'lower' and 'upper')")
    _model_options(forecast)
    forecast.set_defaults(handler=_cmd_forecast)


def _parallel_options(parser):
    parser.add_argument("--n-jobs", type=int, metavar="N",
                        help="origins forecast in parallel by N worker processes (-1: one per "
                             "core; default: serially, or every worker of --scheduler)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the origins on the Dask cluster of this scheduler, e.g. "
                             "tcp://10.0.0.5:8786 (needs pip install 'tsrnn[dask]')")


def _add_backtest(commands, common):
    backtest = commands.add_parser(
        "backtest", parents=[common], help="rolling-origin scores of one model on a CSV column",
        description="Score forecasts of one model from the last K origins of a CSV column: "
                    "MAE, RMSE, sMAPE and MASE per origin and their mean.",
    )
    _csv_options(backtest, several=True)
    backtest.add_argument("--model", choices=MODEL_NAMES, required=True, help="model")
    backtest.add_argument("--origins", type=_positive_int, default=10,
                          help="number of origins (default: %(default)s)")
    backtest.add_argument("--step", type=_positive_int,
                          help="steps between origins (default: the horizon)")
    backtest.add_argument("--context-length", type=_non_negative_int, default=DEFAULT_CONTEXT,
                          metavar="N",
                          help="observations before each origin given as context (0: all; "
                               "default: %(default)s)")
    backtest.add_argument("--refit", action="store_true",
                          help="refit at every origin instead of fitting once on the data "
                               "before the first origin")
    backtest.add_argument("--coverage", type=_fraction, metavar="C",
                          help="also score a prediction interval of this nominal coverage, e.g. "
                               "0.9 (coverage, width and interval score per origin)")
    _parallel_options(backtest)
    backtest.add_argument("--out", metavar="FILE.csv", help="also write the per-origin scores")
    _model_options(backtest)
    backtest.set_defaults(handler=_cmd_backtest)


def _error_line(exc):
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, (CommandError, ValueError, TypeError, OSError, ImportError)):
        text = f"{type(exc).__name__}: {text}"
    return text


def _silence_stdout():
    """Point standard output at the null device so the interpreter's final flush of a closed
    pipe does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv=None):
    """Run the ``tsrnn`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit code: 0 on success, 1 on an error (one line on stderr), 2 on a usage error,
        130 when interrupted.

    Examples
    --------
    >>> from tsrnn.cli import main
    >>> main(["compare", "--models", "naive", "markov", "--origins", "5"])  # doctest: +SKIP
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if sys.stdout is None:  # started with standard output closed
        _stderr(f"tsrnn {args.command}: error: standard output is closed; redirect it to a "
                f"file or use --out FILE")
        return 1
    try:
        with single_threaded_blas():
            return args.handler(args)
    except KeyboardInterrupt:
        _stderr("tsrnn: interrupted")
        return 130
    except BrokenPipeError:  # the reader stopped early (e.g. piped into head): not an error
        _silence_stdout()
        return 0
    except Exception as exc:
        if args.debug:
            raise
        _stderr(f"tsrnn {args.command}: error: {_error_line(exc)}")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
