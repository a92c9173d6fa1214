"""The ``tsrnn`` command: compare forecasters, forecast a CSV column, backtest a model.

``tsrnn compare``
    Fit every model once on the first part of a series (default: the embedded ECG), forecast
    from rolling origins over the rest with the history before each origin as context, and
    print MASE, sMAPE, MAE, fit time and predict time per model and horizon.
``tsrnn forecast FILE.csv --column NAME --horizon N``
    Fit one model on a CSV column and write its forecast as CSV.
``tsrnn backtest FILE.csv --column NAME --horizon N --model M``
    Rolling-origin scores of one model on a CSV column, per origin and on average.

Run ``tsrnn COMMAND --help`` for the options. The same comparison is available from Python as
:func:`run_comparison`; CSV files are read by :func:`tsrnn.datasets.read_csv_series`. :func:`main` returns an exit code; errors print one line on stderr
(``--debug`` shows the traceback instead).
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tsrnn._kernels import single_threaded_blas
from tsrnn._timesteps import describe_steps, index_step
from tsrnn.datasets import read_csv_series
from tsrnn.forecasters import (ARIMAForecaster, MarkovForecaster, NaiveForecaster,
                               RNNForecaster)
from tsrnn.metrics import mae, rmse, smape

__all__ = ["main", "build_parser", "run_comparison", "format_comparison", "make_forecaster",
           "ComparisonResult", "CommandError", "MODEL_NAMES"]

MODEL_NAMES = ("lstm", "gru", "arima", "markov", "naive")
"""Models the command knows, in the order ``compare`` runs them by default."""

_MODEL_DESCRIPTIONS = {
    "lstm": "RNNForecaster(cell='lstm'), default parameters",
    "gru": "RNNForecaster(cell='gru'), default parameters",
    "arima": "ARIMAForecaster(order='auto')",
    "markov": "MarkovForecaster, default parameters",
    "naive": "NaiveForecaster: the last value repeated (reference)",
}

_DEFAULT_ORIGINS = 200
_DEFAULT_CONTEXT = 2000
_DEFAULT_TRAIN_FRACTION = 0.8


@dataclass(frozen=True)
class _Preset:
    """Defaults of ``compare`` for one data set."""

    description: str
    horizons: tuple
    arima: dict


# ARIMA through statsmodels is the slow baseline on long signals: ARIMA(4, 0, 1) on 20,000 ECG
# samples took 48 s on a 2-core machine, and the automatic order search fits one model per grid
# point. On the ECG it is fitted on the last 3,000 training samples (8 s for the 12-point grid).
_PRESETS = {
    "ecg": _Preset("ECG, MIT-BIH record 208, lead MLII, 360 Hz, in mV", (36, 180),
                   {"max_fit_length": 3000, "max_p": 3, "max_q": 2}),
    "co2": _Preset("CO2 at Mauna Loa, weekly, in ppm", (4, 52),
                   {"max_fit_length": None, "max_p": 3, "max_q": 3}),
    "csv": _Preset("", (10, 50), {"max_fit_length": 5000, "max_p": 3, "max_q": 3}),
}


class CommandError(Exception):
    """A user error the command reports in one line (bad file, column, option)."""


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------
def make_forecaster(name, random_state=0, missing="raise", verbose=0, arima_params=None):
    """Create one of the command's forecasters by name.

    The RNNs get only ``cell``, ``random_state`` and the non-modelling options ``missing`` and
    ``verbose``: their hyperparameters are :class:`~tsrnn.RNNForecaster`'s defaults.

    Parameters
    ----------
    name : {"lstm", "gru", "arima", "markov", "naive"}
    random_state : int, default=0
        Seed of the RNNs (the other models are deterministic).
    missing : {"raise", "interpolate"}, default="raise"
        How the forecaster treats NaN values in its inputs.
    verbose : int, default=0
        1 shows the RNN's training progress bar.
    arima_params : dict, optional
        Extra :class:`~tsrnn.ARIMAForecaster` parameters, e.g. ``{"max_fit_length": 3000}``.

    Returns
    -------
    BaseForecaster
        An unfitted forecaster.

    Examples
    --------
    >>> from tsrnn.cli import make_forecaster
    >>> make_forecaster("naive")
    NaiveForecaster()
    """
    if name in ("lstm", "gru"):
        return RNNForecaster(cell=name, random_state=random_state, missing=missing,
                             verbose=verbose)
    if name == "arima":
        return ARIMAForecaster(order="auto", missing=missing, **(arima_params or {}))
    if name == "markov":
        return MarkovForecaster(missing=missing)
    if name == "naive":
        return NaiveForecaster(strategy="last", missing=missing)
    raise CommandError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")


def _arima_note(params, n_train):
    """One line saying how ARIMA was restricted for speed."""
    params = params or {}
    max_p, max_q = params.get("max_p", 3), params.get("max_q", 3)
    text = f"arima: order by AIC over p <= {max_p}, q <= {max_q} (d by KPSS)"
    length = params.get("max_fit_length")
    if length is not None and length < n_train:
        text += (f", fitted on the last {length:,} training observations only (statsmodels is "
                 f"slow on long signals)")
    return text + "."


# ---------------------------------------------------------------------------------------------
# Scores that leave out missing truth values
# ---------------------------------------------------------------------------------------------
def _finite_pair(y_true, y_pred):
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    keep = np.isfinite(t)
    return t[keep], p[keep]


def _naive_scale(history):
    """In-sample MAE of the one-step naive forecast, over pairs of consecutive finite values."""
    h = np.asarray(history, dtype=np.float64).ravel()
    d = np.abs(np.diff(h))
    d = d[np.isfinite(d)]
    return float(d.mean()) if d.size else float("nan")


def _scaled(error, scale):
    if not np.isfinite(scale):
        return float("nan")
    if scale == 0.0:
        return 0.0 if error == 0.0 else float("inf")
    return error / scale


def _score(func, y_true, y_pred):
    t, p = _finite_pair(y_true, y_pred)
    return func(t, p) if t.size else float("nan")


def _backtest_metrics():
    """Metrics for :func:`tsrnn.model_selection.backtest` that skip NaN truth values."""

    def mase(y_true, y_pred, y_train):
        return _scaled(_score(mae, y_true, y_pred), _naive_scale(y_train))

    return {
        "mae": lambda t, p: _score(mae, t, p),
        "rmse": lambda t, p: _score(rmse, t, p),
        "smape": lambda t, p: _score(smape, t, p),
        "mase": mase,
    }


# ---------------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------------
@dataclass
class ComparisonResult:
    """What :func:`run_comparison` measured.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model and horizon: ``model``, ``horizon``, ``mase``, ``smape`` (percent),
        ``mae``, ``fit_seconds`` (one fit on the training part) and ``predict_seconds`` (mean
        time of one forecast of the longest horizon, context included).
    forecasts : dict of str to pandas.DataFrame
        Per model, the forecasts of the longest horizon at every origin, as returned by
        :func:`~tsrnn.model_selection.backtest` (``origin``, ``step``, ``y_true``, ``y_pred``).
    step_mae : pandas.DataFrame of shape (max(horizons), n_models)
        Mean absolute error per step ahead (rows 1..H), one column per model.
    y : pandas.Series
        The series evaluated.
    models, horizons, origins : list
        What was compared, and the positions of the first forecast value of every origin.
    origin_step, n_train, context_length : int or None
        Spacing of the origins, size of the training part, context length (None: all).
    scale : float
        The MASE scale: in-sample MAE of the one-step naive forecast on the training part.
    notes : list of str
        Lines printed under the table (model settings, missing values).
    title, value_label, step_note : str
        Texts for headers and figures.
    """

    table: pd.DataFrame
    forecasts: dict
    step_mae: pd.DataFrame
    y: pd.Series
    models: list
    horizons: list
    origins: list
    origin_step: int
    n_train: int
    context_length: object
    scale: float
    notes: list = field(default_factory=list)
    title: str = ""
    value_label: str = ""
    step_note: str = ""


def _check_horizons(horizons):
    try:
        values = sorted({int(h) for h in horizons})
    except (TypeError, ValueError):
        raise CommandError(f"horizons must be positive integers, got {horizons!r}") from None
    if not values or values[0] < 1:
        raise CommandError(f"horizons must be positive integers, got {list(horizons)!r}")
    return values


def _warning_lines(caught):
    """Distinct warning messages, first line of each, shortened."""
    seen = []
    for w in caught:
        text = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ""
        text = text if len(text) <= 220 else text[:217] + "..."
        if text and text not in seen:
            seen.append(text)
    return seen


@dataclass
class _Protocol:
    """The fixed part of a comparison: data split, origins, horizons, scoring scale."""

    y: pd.Series
    n_train: int
    origin_step: int
    n_origins: int
    horizons: list
    context_length: object
    scale: float
    missing: str

    @property
    def longest(self):
        return self.horizons[-1]


def _evaluate(model, name, protocol, progress, log):
    """Fit ``model`` on the training part, forecast from every origin and score each horizon.

    Returns
    -------
    rows : list of dict
        One row of the comparison table per horizon.
    forecasts : pandas.DataFrame
        The longest-horizon forecasts from :func:`~tsrnn.model_selection.backtest`.
    step_mae : ndarray of shape (longest,)
        Mean absolute error per step ahead.
    """
    from tsrnn.model_selection import backtest

    p = protocol
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(p.y.iloc[:p.n_train])
        fit_seconds = time.perf_counter() - start
    for line in _warning_lines(caught):
        if "max_fit_length" not in line:  # the table notes say so already
            log(f"      warning: {line}")
    log(f"      fitted in {fit_seconds:.1f} s; forecasting {p.longest} steps from "
        f"{p.n_origins} origins")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        _, frame = backtest(model, p.y, horizon=p.longest, n_origins=p.n_origins,
                            step=p.origin_step, initial=p.n_train,
                            context_length=p.context_length, metrics={"mae": lambda t, f: 0.0},
                            progress=progress, return_forecasts=True)
        predict_seconds = (time.perf_counter() - start) / p.n_origins
    frame = frame.sort_values(["origin", "step"], kind="stable").reset_index(drop=True)
    truth = frame["y_true"].to_numpy().reshape(p.n_origins, p.longest)
    pred = frame["y_pred"].to_numpy().reshape(p.n_origins, p.longest)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a step with no truth gives NaN
        step_mae = np.nanmean(np.abs(truth - pred), axis=0)
    rows = []
    for h in p.horizons:
        # Scores per origin over its first h steps, then the mean over origins.
        maes = [_score(mae, truth[i, :h], pred[i, :h]) for i in range(p.n_origins)]
        smapes = [_score(smape, truth[i, :h], pred[i, :h]) for i in range(p.n_origins)]
        mean_mae = float(np.nanmean(maes))
        rows.append({
            "model": name, "horizon": h, "mase": _scaled(mean_mae, p.scale),
            "smape": float(np.nanmean(smapes)), "mae": mean_mae,
            "fit_seconds": fit_seconds, "predict_seconds": predict_seconds,
        })
    return rows, frame, step_mae


def run_comparison(y, models=MODEL_NAMES, horizons=(36, 180), n_origins=_DEFAULT_ORIGINS,
                   train_fraction=_DEFAULT_TRAIN_FRACTION, context_length=_DEFAULT_CONTEXT,
                   random_state=0, arima_params=None, title="", progress=False, log=None):
    """Fit each model once on the start of ``y`` and score rolling forecasts over the rest.

    Protocol: every model is fitted on the first ``train_fraction`` of ``y`` (timed), then
    forecasts ``max(horizons)`` steps from ``n_origins`` origins spread evenly over the rest
    (the last one ends with ``y``), each time from the ``context_length`` observations before
    the origin given as ``context`` (no refit). A horizon ``h`` is scored on the first ``h``
    steps of those forecasts, so every horizon uses the same origins. Scores are averaged over
    origins; NaN truth values are left out and NaN inputs are interpolated.

    Parameters
    ----------
    y : pandas.Series or array-like of shape (n,)
        One univariate series.
    models : sequence of str, default=("lstm", "gru", "arima", "markov", "naive")
        Names understood by :func:`make_forecaster`.
    horizons : sequence of int, default=(36, 180)
        Steps ahead scored.
    n_origins : int, default=30
        Number of forecast origins in the test part.
    train_fraction : float, default=0.8
        Share of ``y`` the models are fitted on.
    context_length : int or None, default=2000
        Observations before each origin passed as context (None: all of them).
    random_state : int, default=0
        Seed of the RNNs.
    arima_params : dict, optional
        Extra ARIMA parameters (``max_fit_length``, ``max_p``, ``max_q``...).
    title : str, optional
        What ``y`` is, for the header.
    progress : bool, default=False
        Show progress bars (RNN training, origins) on stderr.
    log : callable, optional
        Called with one line of text at each stage (e.g. ``print``).

    Returns
    -------
    ComparisonResult

    Raises
    ------
    tsrnn.cli.CommandError
        When the series is too short for the horizons, origins and training part asked for.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.cli import run_comparison
    >>> y = np.sin(np.arange(400) / 5.0)
    >>> result = run_comparison(y, models=["naive", "markov"], horizons=[1, 5], n_origins=4)
    >>> result.table[["model", "horizon"]].to_numpy().tolist()
    [['naive', 1], ['markov', 1], ['naive', 5], ['markov', 5]]
    """
    log = log or _silent
    horizons = _check_horizons(horizons)
    models = list(dict.fromkeys(models))
    if not models:
        raise CommandError("no models to compare")
    for name in models:
        if name not in MODEL_NAMES:
            raise CommandError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    if not isinstance(y, pd.Series):
        y = pd.Series(np.asarray(y, dtype=np.float64).ravel())
    if not 0.0 < train_fraction < 1.0:
        raise CommandError(f"the train fraction must be between 0 and 1, got {train_fraction}")
    if n_origins < 1:
        raise CommandError(f"the number of origins must be at least 1, got {n_origins}")
    if context_length is not None and context_length < 1:
        context_length = None
    n = len(y)
    n_train = int(round(n * train_fraction))
    longest = horizons[-1]
    last = n - longest
    if n_train < 3 or last < n_train:
        raise CommandError(
            f"the series has {n} observations: a training part of {n_train} leaves "
            f"{n - n_train} for testing, fewer than the longest horizon ({longest}); lower "
            f"--horizons or --train-fraction"
        )
    step = (last - n_train) // (n_origins - 1) if n_origins > 1 else 1
    if step < 1:
        raise CommandError(
            f"{n_origins} origins do not fit in the test part ({n - n_train} observations, "
            f"longest horizon {longest}); lower --origins"
        )
    origins = [last - step * k for k in range(n_origins - 1, -1, -1)]
    protocol = _Protocol(
        y=y, n_train=n_train, origin_step=step, n_origins=n_origins, horizons=horizons,
        context_length=context_length, scale=_naive_scale(y.iloc[:n_train].to_numpy()),
        missing="interpolate" if y.isna().any() else "raise",
    )
    limit = (arima_params or {}).get("max_fit_length")

    rows, forecasts, step_mae = [], {}, {}
    with single_threaded_blas():
        for k, name in enumerate(models, start=1):
            model = make_forecaster(name, random_state=random_state, missing=protocol.missing,
                                    verbose=int(bool(progress)), arima_params=arima_params)
            size = f"{n_train:,} observations"
            if name == "arima" and limit is not None and limit < n_train:
                size = f"the last {limit:,} of {n_train:,} training observations"
            log(f"[{k}/{len(models)}] {name}: fitting {_MODEL_DESCRIPTIONS[name]} on {size}")
            model_rows, forecasts[name], step_mae[name] = _evaluate(
                model, name, protocol, progress, log)
            rows.extend(model_rows)
    table = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate(models)}
    table = table.sort_values(["horizon", "model"], key=lambda c: c.map(order)
                              if c.name == "model" else c, kind="stable").reset_index(drop=True)
    step_frame = pd.DataFrame(step_mae, index=pd.RangeIndex(1, longest + 1, name="step"))

    notes = []
    n_missing = int(y.isna().sum())
    if n_missing:
        notes.append(f"{n_missing} missing value(s): interpolated in the models' inputs, left "
                     f"out of the scores.")
    if "arima" in models:
        notes.append(_arima_note(arima_params, n_train))
    rnns = [name for name in models if name in ("lstm", "gru")]
    if rnns:
        notes.append(f"{', '.join(rnns)}: RNNForecaster with its default parameters "
                     f"(random_state={random_state}).")
    if "markov" in models:
        notes.append("markov: MarkovForecaster with its default parameters.")
    freq = index_step(y.index)
    return ComparisonResult(
        table=table, forecasts=forecasts, step_mae=step_frame, y=y, models=models,
        horizons=horizons, origins=origins, origin_step=step, n_train=n_train,
        context_length=context_length, scale=protocol.scale, notes=notes, title=title,
        value_label=str(y.name) if y.name is not None else "",
        step_note=f" (1 step = {describe_steps(1, freq)})" if freq is not None else "",
    )


def format_comparison(result):
    """The comparison as text: header lines, a fixed-width table and notes.

    Parameters
    ----------
    result : ComparisonResult

    Returns
    -------
    str
        Ready to print; ends with a newline.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.cli import format_comparison, run_comparison
    >>> result = run_comparison(np.arange(100.0), models=["naive"], horizons=[2], n_origins=3)
    >>> print(format_comparison(result))  # doctest: +SKIP
    """
    step = index_step(result.y.index)
    n = len(result.y)
    n_test = n - result.n_train
    spans = [describe_steps(h, step) for h in result.horizons]
    horizon_text = ", ".join(f"{h} ({s})" if s else str(h) for h, s in zip(result.horizons, spans))
    context = ("all observations before its origin" if result.context_length is None
               else f"(up to) the last {result.context_length:,} observations before its "
                    f"origin")
    lines = [
        f"{result.title or 'series'}: {n:,} observations",
        f"train: the first {result.n_train:,} ({100 * result.n_train / n:.0f} %), each model "
        f"fitted once; test: the last {n_test:,}, {len(result.origins)} origins "
        f"{result.origin_step:,} steps apart",
        f"horizons: {horizon_text}; each forecast is conditioned on {context} (context)",
        "",
    ]
    shown = pd.DataFrame({
        "model": result.table["model"],
        "horizon": [
            f"{h} ({describe_steps(h, step)})" if step is not None else str(h)
            for h in result.table["horizon"]
        ],
        "MASE": result.table["mase"].map(lambda v: f"{v:.3f}"),
        "sMAPE %": result.table["smape"].map(lambda v: f"{v:.2f}"),
        "MAE": result.table["mae"].map(lambda v: f"{v:.4g}"),
        "fit s": result.table["fit_seconds"].map(lambda v: f"{v:.1f}"),
        "predict ms": result.table["predict_seconds"].map(lambda v: f"{1000 * v:.1f}"),
    })
    lines.append(shown.to_string(index=False))
    lines.append("")
    lines.append(
        f"MASE: MAE over the in-sample MAE of the one-step naive forecast on the training part "
        f"({result.scale:.4g}). sMAPE in percent (0-200)."
    )
    lines.append(
        f"predict ms: mean time of one {result.horizons[-1]}-step forecast with its context."
    )
    lines.extend(result.notes)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------
def _stderr(message):
    print(message, file=sys.stderr, flush=True)


def _silent(message):
    pass


def _logger(args):
    return _silent if args.quiet else _stderr


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
    if path is not None and not Path(path).resolve().parent.is_dir():
        raise CommandError(f"cannot write {path}: the directory {Path(path).parent} does not exist")


def _arima_params(args, preset):
    params = dict(preset.arima)
    if args.arima_fit_length is not None:
        params["max_fit_length"] = args.arima_fit_length if args.arima_fit_length > 0 else None
    if args.arima_max_p is not None:
        params["max_p"] = args.arima_max_p
    if args.arima_max_q is not None:
        params["max_q"] = args.arima_max_q
    return params


def _cmd_compare(args):
    log = _logger(args)
    _check_plot(args.plot)
    _check_output_dir(args.out)
    _check_output_dir(args.plot)
    if args.csv is not None:
        if args.dataset is not None:
            raise CommandError("give either --dataset or --csv, not both")
        if args.column is None:
            raise CommandError("--csv needs --column NAME: the column to forecast")
        data = read_csv_series(args.csv, args.column, args.time_column)
        for note in data.notes:
            log(f"note: {args.csv}: {note}")
        y, preset = data.series, _PRESETS["csv"]
        title = f"{args.csv}, column {args.column!r}"
    else:
        if args.column is not None or args.time_column is not None:
            raise CommandError("--column and --time-column go with --csv FILE")
        name = args.dataset or "ecg"
        from tsrnn.datasets import load_co2, load_ecg

        y = load_ecg() if name == "ecg" else load_co2()
        preset = _PRESETS[name]
        title = preset.description
    horizons = args.horizons if args.horizons else preset.horizons
    context = None if args.context_length == 0 else args.context_length
    log(f"tsrnn compare: {title}; models {', '.join(args.models)}; horizons "
        f"{', '.join(str(h) for h in sorted(set(horizons)))}; {args.origins} origins")
    start = time.perf_counter()
    result = run_comparison(
        y, models=args.models, horizons=horizons, n_origins=args.origins,
        train_fraction=args.train_fraction, context_length=context, random_state=args.seed,
        arima_params=_arima_params(args, preset), title=title, progress=not args.quiet,
        log=log,
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


def _fit_logged(model, y, name, log):
    """Fit ``model`` on ``y``, reporting time and (deduplicated) warnings."""
    log(f"fitting {_MODEL_DESCRIPTIONS[name]} on {y.notna().sum():,} observations")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(y)
        seconds = time.perf_counter() - start
    for line in _warning_lines(caught):
        log(f"warning: {line}")
    log(f"fitted in {seconds:.1f} s")
    return model


def _load_for_model(args, log):
    data = read_csv_series(args.file, args.column, args.time_column)
    for note in data.notes:
        log(f"note: {args.file}: {note}")
    n_missing = int(data.series.isna().sum())
    if n_missing:
        log(f"note: {n_missing} missing value(s) in {args.column!r}: filled by linear "
            f"interpolation for the model")
    return data, ("interpolate" if n_missing else "raise")


def _cmd_forecast(args):
    log = _logger(args)
    _check_plot(args.plot)
    _check_output_dir(args.out)
    _check_output_dir(args.plot)
    data, missing = _load_for_model(args, log)
    model = make_forecaster(args.model, random_state=args.seed, missing=missing,
                            verbose=0 if args.quiet else 1,
                            arima_params=_arima_params(args, _PRESETS["csv"]))
    _fit_logged(model, data.series, args.model, log)
    forecast = model.predict(args.horizon)
    table = pd.DataFrame({
        data.time_name: data.output_times(forecast.index),
        args.column: forecast.to_numpy(dtype=np.float64),
    })
    if args.out is None:
        sys.stdout.write(table.to_csv(index=False))
        sys.stdout.flush()
    else:
        table.to_csv(args.out, index=False)
        log(f"{args.horizon}-step forecast written to {args.out}")
    if args.plot is not None:
        from tsrnn.plotting import plot_forecast

        plot_forecast(data.series, forecast, args.plot,
                      title=f"{args.model} forecast of {args.column!r}, {args.horizon} steps")
        log(f"figure written to {args.plot}")
    return 0


def _cmd_backtest(args):
    from tsrnn.model_selection import backtest

    log = _logger(args)
    _check_output_dir(args.out)
    data, missing = _load_for_model(args, log)
    y = data.series
    horizon, n_origins = args.horizon, args.origins
    step = args.step or horizon
    first = len(y) - horizon - step * (n_origins - 1)
    if first < 3:
        raise CommandError(
            f"{n_origins} origins {step} steps apart with horizon {horizon} need more than "
            f"{len(y) - first + 2} observations; {args.file} has {len(y)}: lower --origins, "
            f"--step or --horizon"
        )
    model = make_forecaster(args.model, random_state=args.seed, missing=missing,
                            verbose=0 if args.quiet else 1,
                            arima_params=_arima_params(args, _PRESETS["csv"]))
    context = None if args.context_length == 0 else args.context_length
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if args.refit:
            log(f"refitting {args.model} at each of {n_origins} origins")
            scores = backtest(model, y, horizon, n_origins=n_origins, step=step, refit=True,
                              metrics=_backtest_metrics(), progress=not args.quiet)
            how = "refitted at every origin on all observations before it"
        else:
            _fit_logged(model, y.iloc[:first], args.model, log)
            scores = backtest(model, y, horizon, n_origins=n_origins, step=step,
                              context_length=context, metrics=_backtest_metrics(),
                              progress=not args.quiet)
            ctx = "all" if context is None else f"the last {context:,}"
            how = (f"fitted once on the first {first:,} observations; each origin forecasts "
                   f"from {ctx} observations before it")
    columns = [c for c in ("origin", "time", "n_train", "mae", "rmse", "smape", "mase")
               if c in scores.columns]
    scores = scores[columns]
    if "time" in scores.columns and data.time_kind == "seconds":
        scores = scores.assign(time=data.output_times(pd.TimedeltaIndex(scores["time"])))
    mean = {c: scores[c].mean() for c in ("mae", "rmse", "smape", "mase")}
    shown = scores.copy()
    for c in ("origin", "time", "n_train"):
        if c in shown.columns:
            shown[c] = shown[c].astype(str)
    mean_row = {c: "" for c in ("time", "n_train") if c in shown.columns}
    shown = pd.concat([shown, pd.DataFrame([{"origin": "mean", **mean_row, **mean}])],
                      ignore_index=True)
    for c in ("mae", "rmse", "mase"):
        shown[c] = shown[c].map(lambda v: f"{v:.4g}")
    shown["smape"] = shown["smape"].map(lambda v: f"{v:.2f}")
    shown = shown.rename(columns={"smape": "sMAPE %", "mae": "MAE", "rmse": "RMSE",
                                  "mase": "MASE"})
    print(f"{args.model} on {args.file}, column {args.column!r}: {len(y):,} observations; "
          f"horizon {horizon}, {n_origins} origins {step} steps apart")
    print(how)
    print()
    print(shown.to_string(index=False))
    print()
    print("MASE: MAE over the in-sample MAE of the one-step naive forecast on all observations "
          "before the origin.")
    if args.out is not None:
        scores.to_csv(args.out, index=False)
        log(f"per-origin scores written to {args.out}")
    return 0


# ---------------------------------------------------------------------------------------------
# Argument parsing
# ---------------------------------------------------------------------------------------------
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


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


def _arima_options(parser):
    group = parser.add_argument_group("ARIMA speed limits")
    group.add_argument("--arima-fit-length", type=_non_negative_int, metavar="N",
                       help="fit ARIMA on the last N training observations only (0: all; "
                            "default: 3000 for the ECG, all for CO2, 5000 for a CSV)")
    group.add_argument("--arima-max-p", type=_non_negative_int, metavar="P",
                       help="largest AR order of the automatic search (default: 3)")
    group.add_argument("--arima-max-q", type=_non_negative_int, metavar="Q",
                       help="largest MA order of the automatic search (default: 2 for the ECG, "
                            "3 otherwise)")


def _csv_options(parser):
    parser.add_argument("file", metavar="FILE.csv", help="CSV file with a header row")
    parser.add_argument("--column", required=True, metavar="NAME", help="column to forecast")
    parser.add_argument("--time-column", metavar="NAME",
                        help="column with the times (default: the first column); dates, "
                             "durations, step numbers or seconds")
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
    30
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
    source.add_argument("--csv", metavar="FILE", help="compare on a column of this CSV file")
    source.add_argument("--column", metavar="NAME", help="the CSV column to forecast")
    source.add_argument("--time-column", metavar="NAME",
                        help="the CSV column with the times (default: the first column)")
    protocol = compare.add_argument_group("protocol")
    protocol.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES),
                          metavar="MODEL",
                          help=f"models to compare, among {', '.join(MODEL_NAMES)} (default: "
                               f"all)")
    protocol.add_argument("--horizons", nargs="+", type=_positive_int, metavar="H",
                          help="steps ahead to score (default: 36 180 for the ECG, 4 52 for "
                               "CO2, 10 50 for a CSV)")
    protocol.add_argument("--origins", type=_positive_int, default=_DEFAULT_ORIGINS,
                          help="forecast origins spread over the test part (default: "
                               "%(default)s)")
    protocol.add_argument("--train-fraction", type=_fraction, default=_DEFAULT_TRAIN_FRACTION,
                          metavar="F", help="share of the series the models are fitted on "
                                            "(default: %(default)s)")
    protocol.add_argument("--context-length", type=_non_negative_int, default=_DEFAULT_CONTEXT,
                          metavar="N",
                          help="observations before each origin given to the models as "
                               "context (0: all; default: %(default)s)")
    _arima_options(compare)
    output = compare.add_argument_group("output")
    output.add_argument("--out", metavar="FILE.csv", help="also write the table as CSV")
    output.add_argument("--plot", metavar="FILE.png",
                        help='write a figure of forecasts and error per step (needs '
                             'matplotlib: pip install "tsrnn[plot]")')
    compare.set_defaults(handler=_cmd_compare)

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
    _arima_options(forecast)
    forecast.set_defaults(handler=_cmd_forecast)

    backtest = commands.add_parser(
        "backtest", parents=[common], help="rolling-origin scores of one model on a CSV column",
        description="Score forecasts of one model from the last K origins of a CSV column: "
                    "MAE, RMSE, sMAPE and MASE per origin and their mean.",
    )
    _csv_options(backtest)
    backtest.add_argument("--model", choices=MODEL_NAMES, required=True, help="model")
    backtest.add_argument("--origins", type=_positive_int, default=10,
                          help="number of origins (default: %(default)s)")
    backtest.add_argument("--step", type=_positive_int,
                          help="steps between origins (default: the horizon)")
    backtest.add_argument("--context-length", type=_non_negative_int, default=_DEFAULT_CONTEXT,
                          metavar="N",
                          help="observations before each origin given as context (0: all; "
                               "default: %(default)s)")
    backtest.add_argument("--refit", action="store_true",
                          help="refit at every origin instead of fitting once on the data "
                               "before the first origin")
    backtest.add_argument("--out", metavar="FILE.csv", help="also write the per-origin scores")
    _arima_options(backtest)
    backtest.set_defaults(handler=_cmd_backtest)
    return parser


def _error_line(exc):
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, (CommandError, ValueError, TypeError, OSError, ImportError)):
        text = f"{type(exc).__name__}: {text}"
    return text


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
    try:
        with single_threaded_blas():
            return args.handler(args)
    except KeyboardInterrupt:
        _stderr("tsrnn: interrupted")
        return 130
    except Exception as exc:
        if args.debug:
            raise
        _stderr(f"tsrnn {args.command}: error: {_error_line(exc)}")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
