"""The ``tsrnn`` commands themselves (``compare`` and ``backtest`` here, ``forecast`` in
:mod:`tsrnn._forecast_command`) and the helpers they share, run by :func:`tsrnn.cli.main`
once the arguments are parsed.

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
                              format_comparison, make_forecaster, params_text, resolve_models,
                              run_comparison)
from tsrnn.datasets import CsvSeries, read_csv_series
from tsrnn.datasets.physionet import is_wfdb_record

__all__ = ["run", "SCHEDULER_TIMEOUT", "check_output_dir", "check_plot", "checked_params",
           "count", "fit_logged", "load_for_model", "logger", "make_model", "read_source"]

SCHEDULER_TIMEOUT = "10s"
"""How long ``--scheduler`` waits for the Dask scheduler to answer."""


def run(args):
    """Run the command ``args.command`` (parsed by :func:`tsrnn.cli.build_parser`)."""
    from tsrnn._forecast_command import run_forecast  # it builds on the helpers here

    handler = {"compare": _cmd_compare, "forecast": run_forecast,
               "backtest": _cmd_backtest}[args.command]
    with single_threaded_blas():
        return handler(args)


def _stderr(message):
    if sys.stderr is not None:
        print(message, file=sys.stderr, flush=True)


def count(n, noun):
    """``n`` and ``noun``, plural unless ``n`` is 1: "1 step", "3 steps"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def logger(args):
    return (lambda message: None) if args.quiet else _stderr


def _show_bars(args):
    """Progress bars only on a terminal: in a log file their redraws are noise."""
    stream = sys.stderr
    return not args.quiet and stream is not None and stream.isatty()


def check_plot(path):
    """Fail before long work when a figure is asked for but matplotlib is missing."""
    if path is None:
        return
    from tsrnn.plotting import require_matplotlib

    try:
        require_matplotlib()
    except ImportError as exc:
        raise CommandError(str(exc)) from None


def check_output_dir(path):
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


def _compare_preset(args):
    """The preset of the data ``compare`` runs on, once its data options are checked."""
    if args.csv is not None:
        if args.dataset is not None:
            raise CommandError("give either --dataset or --csv, not both")
        if args.column is None:
            raise CommandError("--csv needs --column NAME: the column to forecast")
        return PRESETS["csv"]
    if args.column is not None or args.time_column is not None or args.freq is not None:
        raise CommandError("--column, --time-column and --freq go with --csv FILE")
    return PRESETS[args.dataset or "ecg"]


def _compare_data(args, preset, log, path=None):
    """The series ``compare`` runs on (the file ``path``, or the preset's), and its title."""
    if path is not None:
        data = read_source(path, args.column, args.time_column, args.freq)
        for note in data.notes:
            log(f"note: {path}: {note}")
        return data.series, f"{path}, column {args.column!r}"
    return preset.load(), preset.description


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
    log = logger(args)
    check_plot(args.plot)
    check_output_dir(args.out)
    check_output_dir(args.plot)
    preset = _compare_preset(args)
    files = list(dict.fromkeys(args.csv)) if args.csv is not None else [None]
    if len(files) > 1 and args.plot is not None:
        raise CommandError("--plot draws the comparison of one file; give one --csv FILE")
    # --param checked on the models the options name, before any data is read
    _compare_params(args, preset, _provisional_models(args, preset),
                    args.season_length or preset.season_length)
    results = []
    for number, path in enumerate(files):
        if number:
            sys.stdout.write("\n")
        results.append(_compare_one(args, preset, path, log))
        sys.stdout.write(format_comparison(results[-1]))
        sys.stdout.flush()
    if len(files) > 1:
        _print_pooled_comparison(files, results)
    _write_comparison(args, results, files, log)
    return 0


def _compare_one(args, preset, path, log):
    """The comparison on one file (or the preset's data)."""
    y, title = _compare_data(args, preset, log, path)
    horizons = args.horizons if args.horizons else preset.horizons
    season_length = args.season_length or preset.season_length
    if season_length is None and path is not None:
        season_length = _detected_season(y, args.train_fraction, log)
    seasonal = season_length is not None and preset.season_length is None
    default = list(preset.models) + (["seasonal"] if seasonal else [])
    models = resolve_models(args.models, season_length, default)
    model_params = _compare_params(args, preset, models, season_length)
    log(f"tsrnn compare: {title}; models {', '.join(models)}; horizons "
        f"{', '.join(str(h) for h in sorted(set(horizons)))}; {args.origins} origins")
    _log_params(model_params, log)
    start = time.perf_counter()
    with _parallel_backend(args.scheduler, log):
        result = run_comparison(
            y, models=models, horizons=horizons, n_origins=args.origins,
            train_fraction=args.train_fraction, context_length=args.context_length or None,
            random_state=args.seed, arima_params=_arima_params(args, preset),
            season_length=season_length,
            coverage=None if args.no_intervals else args.coverage, title=title,
            progress=_show_bars(args), log=log, n_jobs=args.n_jobs, model_params=model_params,
        )
    log(f"done in {time.perf_counter() - start:.0f} s")
    return result


def _print_pooled_comparison(files, results):
    """Each model's scores averaged over the files (each file counts once)."""
    tables = pd.concat([r.table for r in results], ignore_index=True)
    columns = [c for c in ("mase", "smape", "coverage", "msis") if c in tables.columns]
    pooled = tables.groupby(["model", "horizon"], sort=False)[columns].mean()
    shown = pooled.reset_index().rename(columns={"mase": "MASE", "smape": "sMAPE %",
                                                 "coverage": "cover %", "msis": "MSIS"})
    if "cover %" in shown.columns:
        shown["cover %"] = 100 * shown["cover %"]
    print()
    print(f"Mean over the {len(files)} files (each file counts once):")
    print()
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def _write_comparison(args, results, files, log):
    """The --out (a file column with several files) and --plot files."""
    if args.out is not None:
        if len(results) == 1:
            table = results[0].table
        else:
            table = pd.concat([r.table.assign(file=str(f)) for r, f in zip(results, files)],
                              ignore_index=True)
            table = table[["file"] + [c for c in table.columns if c != "file"]]
        table.to_csv(args.out, index=False)
        log(f"table written to {args.out}")
    if args.plot is not None:
        from tsrnn.plotting import plot_comparison

        plot_comparison(results[0], args.plot)
        log(f"figure written to {args.plot}")


# ---------------------------------------------------------------------------------------------
# --param
# ---------------------------------------------------------------------------------------------
# Parameters the model's name already sets: another value would fit another model than the
# one the command names (and its log and notes would be wrong).
_CHOSEN_BY_MODEL = {"cell": ("lstm", "gru"), "strategy": ("naive", "seasonal")}

# Stands in for a season that is only known once a CSV file's training part is read, so that
# the seasonal reference's --param values are checked before the reading too; the detected
# season replaces it in the second check.
_STAND_IN_SEASON = 2


def _params_by_model(pairs, models, compared=False):
    """Which ``--param`` values go to which forecaster.

    Parameters
    ----------
    pairs : list of (str, object) or None
        The parsed ``--param`` options: ``NAME`` or ``MODEL.NAME``, and the value.
    models : dict of str to BaseForecaster
        The unfitted forecasters of the command, by model name.
    compared : bool, default=False
        Whether they are ``compare``'s models (else the one ``--model``), for messages.

    Returns
    -------
    dict of str to dict
        Per model name, the parameters to set on it (models without any are left out).

    Raises
    ------
    CommandError
        For a model prefix the command does not run, a name no model has (with several
        models; one model's ``set_params`` lists its parameters), or a parameter the model's
        name already sets.
    """
    plan = {}
    for key, value in pairs or ():
        prefix, _, name = key.rpartition(".")
        if prefix:
            _check_prefix(key, prefix, models, compared)
            targets = [prefix]
        elif len(models) == 1:
            targets = list(models)  # an unknown name: set_params lists the valid ones
        else:
            targets = [m for m, forecaster in models.items() if name in forecaster.get_params()]
            if not targets:
                raise CommandError(_no_model_has(key, models))
        for model in targets:
            if model in _CHOSEN_BY_MODEL.get(name, ()):
                raise CommandError(f"--param {key}: the model's name sets {name} ({model}); "
                                   f"choose among {' and '.join(_CHOSEN_BY_MODEL[name])} by "
                                   f"naming the model instead")
            plan.setdefault(model, {})[name] = value
    return plan


def _check_prefix(key, prefix, models, compared):
    if prefix not in models:
        which = "among the compared models" if compared else "the --model"
        raise CommandError(f"--param {key}: {prefix} is not {which} ({', '.join(models)})")


def _no_model_has(key, models):
    known = "; ".join(f"{name}'s are {', '.join(sorted(forecaster.get_params(deep=False)))}"
                      for name, forecaster in models.items())
    return (f"--param {key}: no compared model ({', '.join(models)}) has a parameter "
            f"{key!r}; {known}")


def _apply_params(models, plan):
    """Set each forecaster's ``--param`` values and check them with its own rules."""
    for name, params in plan.items():
        model = models[name]
        try:
            model.set_params(**params)
            model._validate_params()  # the checks fit starts with, run before any data
        except (ValueError, TypeError) as error:
            raise CommandError(f"--param for {name}: {error}") from None


def _log_params(plan, log):
    if plan:
        log("--param: " + "; ".join(f"{name} with {params_text(params)}"
                                     for name, params in plan.items()))


def checked_params(args, log):
    """The ``--param`` values of ``--model``, checked on its unfitted forecaster before any
    data is read, and logged."""
    model = make_model(args)
    plan = _params_by_model(args.param, {args.model: model})
    _apply_params({args.model: model}, plan)
    _log_params(plan, log)
    return plan.get(args.model, {})


def _provisional_models(args, preset):
    """The models ``compare`` runs as far as its options tell (a CSV file's detected season
    may still add the seasonal reference, or leave it out)."""
    if args.models is not None:
        return list(dict.fromkeys(args.models))
    may_add = args.season_length is not None or args.csv is not None
    return list(preset.models) + (["seasonal"] if may_add and "seasonal" not in preset.models
                                  else [])


def _compare_params(args, preset, models, season_length):
    """The ``--param`` values per compared model, checked on unfitted forecasters."""
    if not args.param:
        return {}
    forecasters = {}
    for name in models:
        season = season_length
        if name == "seasonal" and season is None:
            season = _STAND_IN_SEASON
        forecasters[name] = make_forecaster(name, random_state=args.seed,
                                            arima_params=_arima_params(args, preset),
                                            season_length=season)
    plan = _params_by_model(args.param, forecasters, compared=True)
    _apply_params(forecasters, plan)
    return plan


def make_model(args, missing="raise", params=None):
    """The forecaster ``--model`` names, set up as ``compare`` sets it up for a CSV column,
    with the ``--param`` values ``params`` (checked by :func:`checked_params`)."""
    model = make_forecaster(args.model, random_state=args.seed, missing=missing,
                            verbose=int(_show_bars(args)),
                            arima_params=_arima_params(args, PRESETS["csv"]),
                            season_length=args.season_length)
    return model.set_params(**(params or {}))


def fit_logged(model, y, name, log, X=None, X_past=None, params=None):
    """Fit ``model`` on ``y`` (with covariates ``X`` and past covariates ``X_past``),
    reporting time and (deduplicated) warnings."""
    known = int(np.asarray(y.notna()).reshape(len(y), -1).all(axis=1).sum())
    filled = f" ({known:,} known, the rest interpolated)" if known < len(y) else ""
    inputs = {"X": X, "X_past": X_past}
    inputs = {key: value for key, value in inputs.items() if value is not None}
    reads = "".join(f", reading {', '.join(inputs[key].columns)} as {what}" for key, what in
                    (("X", "covariates"), ("X_past", "past covariates")) if key in inputs)
    log(f"fitting {describe_model(name, model, params)} on {len(y):,} observations{filled}"
        f"{reads}")
    try:
        seconds, lines = fit_timed(model, y, **inputs)
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


def read_source(path, column, time_column, freq):
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


def load_for_model(args, log, path=None, column=None):
    """One column of ``path`` (default: ``FILE.csv``) and the ``missing`` option it needs."""
    path = args.file if path is None else path
    column = args.column if column is None else column
    data = read_source(path, column, args.time_column, args.freq)
    for note in data.notes:
        log(f"note: {path}: {note}")
    infinite = np.isinf(data.series.to_numpy())
    if infinite.any():
        data.series[infinite] = np.nan
        log(f"note: {int(infinite.sum())} infinite value(s) in {column!r} treated as "
            f"missing")
    n_missing = int(data.series.isna().sum())
    if n_missing:
        log(f"note: {n_missing} missing value(s) in {column!r}: filled by linear "
            f"interpolation for the model")
    return data, ("interpolate" if n_missing else "raise")


# backtest
# ---------------------------------------------------------------------------------------------
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


def _run_backtest(args, model, y, origins, log, params=None):
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
        fit_logged(model, y.iloc[:first], args.model, log, params=params)
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
            f"({count(len(client.scheduler_info()['workers']), 'worker')})")
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
    log = logger(args)
    check_horizon(args.horizon)
    check_output_dir(args.out)
    params = checked_params(args, log)
    files = list(dict.fromkeys(args.file))  # each file once, in the order given
    tables = []
    for number, path in enumerate(files):
        if number:
            print()
        tables.append(_backtest_file(args, path, log, params))
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


def _backtest_file(args, path, log, params):
    """Backtest the model on one file, print its table; returns the per-origin scores."""
    data, missing = load_for_model(args, log, path)
    y = data.series
    origins = _backtest_origins(args, len(y), path)
    model = make_model(args, missing, params)
    scores, how = _run_backtest(args, model, y, origins, log, params)
    columns = [c for c in ("origin", "time", "n_train", "mae", "rmse", "smape", "mase",
                           "coverage", "interval_width", "interval_score")
               if c in scores.columns]
    scores = scores[columns]
    if "time" in scores.columns and data.time_kind == "seconds":
        scores = scores.assign(time=data.output_times(pd.TimedeltaIndex(scores["time"])))
    print(f"{args.model} on {path}, column {args.column!r}: {len(y):,} observations; "
          f"horizon {args.horizon}, {count(len(origins), 'origin')} "
          f"{count(args.step or args.horizon, 'step')} apart")
    print(how + (f"; --param {params_text(params)}" if params else ""))
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
