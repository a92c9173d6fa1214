"""Accuracy of the default RNNs against the baselines on ten public medical and sensor signals.

Run:  python benchmarks/bench_accuracy.py [--signals ecg208 co2 ...] [--models lstm gru ...]
                                          [--seeds 0 1 2] [--origins 100] [--quick]
Writes benchmarks/results/accuracy.md and accuracy.csv (``--quick``: a smoke test written to
the temporary folder instead).

Protocol, the same for every model of a signal:
- fit once on the first part of the series (``SIGNALS[name].train``, a fraction or a count);
- forecast ``max(horizons)`` steps from ``origins`` origins spread evenly over the rest (the
  last one ends with the series), each from the history before it given as ``context`` (at
  most ``context`` values; no refit);
- score each horizon on the first ``h`` steps of those forecasts: MASE, the mean absolute error
  over the in-sample MAE of the one-step naive forecast on the training part; NaN truth
  values are left out (``nan_policy="omit"``) and NaN inputs interpolated;
- the RNNs run with seeds 0, 1, 2 (mean and standard deviation of MASE over seeds), the
  deterministic baselines once; fit seconds are the time of one fit on the training part.

Models: ``lstm`` and ``gru`` (``RNNForecaster`` with its defaults), ``arima``
(``ARIMAForecaster`` as ``tsrnn compare`` builds it), ``stl`` (``STLForecaster``: STL or
MSTL of the detected seasons, or of the calendar season where there is one, then ARIMA),
``arima-aic`` (a plain statsmodels
ARIMA(p, 0, q) chosen by AIC over p in 1..4 and q in 0..1, fitted on the last 3,000 training
values: the reference a statistician would fit without a package), ``markov``, ``naive`` and
``seasonal`` (the value one season before, on signals with a calendar season). Other scripts
call :func:`evaluate_signal` with their own model factories.
"""
from __future__ import annotations

import argparse
import itertools
import platform
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import tsrnn
from tsrnn._threads import blas_single_threaded
from tsrnn.comparison import fit_timed, make_forecaster
from tsrnn.datasets import load_co2, load_ecg, load_icu
from tsrnn.forecasters import BaseForecaster, RNNForecaster
from tsrnn.metrics import mae, naive_scale, scaled_error
from tsrnn.model_selection import backtest, rolling_origins

RESULTS = Path(__file__).resolve().parent / "results"


# ---------------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------------
def _statsmodels(name, column, start, freq):
    import statsmodels.api as sm

    frame = getattr(sm.datasets, name).load_pandas().data
    if column is None:  # elnino: one row per year, a column per month
        values = frame.iloc[:, 1:].to_numpy(dtype=np.float64).ravel()
    else:
        values = frame[column].to_numpy(dtype=np.float64)
    index = pd.period_range(start=start, periods=values.size, freq=freq)
    return pd.Series(values, index=index, name=name)


def _membrane():
    import matplotlib.cbook as cbook

    values = np.fromfile(cbook.get_sample_data("membrane.dat", asfileobj=False), np.float32)
    index = pd.timedelta_range(0, periods=values.size, freq="500us", name="time")
    return pd.Series(values.astype(np.float64), index=index, name="membrane")


def _icu(column):
    return lambda: load_icu()[column]


@dataclass(frozen=True)
class Signal:
    """One benchmark signal: where it comes from and how it is split and scored."""

    description: str
    load: object
    horizons: tuple
    train: float  # share of the series the models are fitted on
    origins: int  # most forecast origins (fewer when the test part is short)
    context: int = 2000
    season: int | None = None  # the seasonal naive forecast's season, where there is one
    arima: dict = None


_LONG = {"max_fit_length": 3000, "max_p": 3, "max_q": 2}
SIGNALS = {
    "ecg208": Signal("ECG, MIT-BIH record 208 (MLII), 360 Hz, 5 min", load_ecg, (36, 180), 0.8,
                     100, arima=_LONG),
    "ecg100": Signal("ECG, MIT-BIH record 100 (MLII), 360 Hz, 5 min",
                     lambda: load_ecg(record=100), (36, 180), 0.8, 100, arima=_LONG),
    "abp": Signal("arterial pressure, PhysioNet 03700181, 125 Hz, 10 min", _icu("ABP"),
                  (25, 125), 0.8, 100, arima=_LONG),
    "resp": Signal("respiration, PhysioNet 03700181, 125 Hz, 10 min", _icu("RESP"),
                   (25, 125), 0.8, 100, arima=_LONG),
    "mcl1": Signal("ECG lead MCL1, PhysioNet 03700181, 125 Hz, 10 min", _icu("MCL1"),
                   (13, 63), 0.8, 100, arima=_LONG),
    "membrane": Signal("membrane potential (matplotlib sample data), 2 kHz, 6 s", _membrane,
                       (10, 50), 0.8, 100, arima=_LONG),
    "co2": Signal("CO2 at Mauna Loa, weekly, 1958-2001", load_co2, (4, 52), 0.8, 100,
                  season=52, arima={"max_fit_length": None, "max_p": 3, "max_q": 3,
                                    "season_length": 365.25 / 7, "trend": "auto"}),
    "elnino": Signal("El Nino sea surface temperature, monthly, 1950-2010",
                     lambda: _statsmodels("elnino", None, "1950-01", "M"), (6, 12), 0.8, 100,
                     season=12, arima={"max_fit_length": None, "season_length": 12}),
    "sunspots": Signal("yearly sunspot numbers, 1700-2008",
                       lambda: _statsmodels("sunspots", "SUNACTIVITY", "1700", "Y"), (5, 11),
                       0.8, 50, season=11, arima={"max_fit_length": None}),
    "nile": Signal("yearly flow of the Nile at Aswan, 1871-1970 (100 values)",
                   lambda: _statsmodels("nile", "volume", "1871", "Y"), (1, 5), 0.8, 15,
                   arima={"max_fit_length": None}),
}


# ---------------------------------------------------------------------------------------------
# The AIC reference
# ---------------------------------------------------------------------------------------------
class AicArima(BaseForecaster):
    """statsmodels ARIMA(p, 0, q), p in 1..4, q in 0..1, by AIC on the last ``fit_length``
    values; contexts run the fitted model over them (``results.apply``)."""

    _supports_exog = False

    def __init__(self, fit_length=3000, missing="raise"):
        self.fit_length = fit_length
        self.missing = missing

    @blas_single_threaded  # statsmodels' tiny products only lose with BLAS threads
    def _fit_core(self, ys, Xs):
        from statsmodels.tsa.arima.model import ARIMA

        y = ys[0][-self.fit_length:, 0]
        best = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for p, q in itertools.product(range(1, 5), range(2)):
                try:
                    result = ARIMA(y, order=(p, 0, q)).fit()
                except (ValueError, np.linalg.LinAlgError):
                    continue
                if best is None or result.aic < best.aic:
                    best = result
        self.result_ = best
        self.order_ = best.model.order

    def _predict_core(self, horizon, Xs_future, contexts):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if contexts is None:
                return [self.result_.forecast(horizon)[:, None]]
            return [self.result_.apply(c.y[:, 0]).forecast(horizon)[:, None]
                    for c in contexts]


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------
def default_models(signal, train):
    """The compared models: name -> (factory(seed) -> forecaster, seeded)."""
    missing = "interpolate" if train.isna().any() else "raise"
    models = {
        "lstm": (lambda seed: RNNForecaster(cell="lstm", random_state=seed, missing=missing),
                 True),
        "gru": (lambda seed: RNNForecaster(cell="gru", random_state=seed, missing=missing),
                True),
        "arima": (lambda seed: make_forecaster("arima", missing=missing,
                                               arima_params=signal.arima), False),
        "arima-aic": (lambda seed: AicArima(missing=missing), False),
        "stl": (lambda seed: make_forecaster("stl", missing=missing,
                                             season_length=signal.season), False),
        "markov": (lambda seed: make_forecaster("markov", missing=missing), False),
        "naive": (lambda seed: make_forecaster("naive", missing=missing), False),
    }
    if signal.season is not None:
        models["seasonal"] = (lambda seed: make_forecaster(
            "seasonal", missing=missing, season_length=signal.season), False)
    return models


def _split(signal, y, n_origins):
    n_train = int(round(len(y) * signal.train))
    longest = max(signal.horizons)
    room = len(y) - longest - n_train + 1
    origins = rolling_origins(len(y), longest, min(n_origins, room), step="spread",
                              initial=n_train)
    return n_train, origins


def _score(model, y, n_train, origins, signal):
    """Fit on the training part, forecast from every origin; MASE per horizon, fit seconds."""
    seconds, _ = fit_timed(model, y.iloc[:n_train])
    longest = max(signal.horizons)
    step = origins[1] - origins[0] if len(origins) > 1 else 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, frame = backtest(model, y, longest, n_origins=len(origins), step=step,
                            initial=n_train, context_length=signal.context,
                            metrics={"none": lambda t, p: 0.0}, return_forecasts=True)
    frame = frame.sort_values(["origin", "step"], kind="stable")
    truth = frame["y_true"].to_numpy().reshape(len(origins), longest)
    pred = frame["y_pred"].to_numpy().reshape(len(origins), longest)
    scale = naive_scale(y.iloc[:n_train].to_numpy(), nan_policy="omit")
    scores = {}
    for h in signal.horizons:
        errors = [mae(t[:h], p[:h], nan_policy="omit") for t, p in zip(truth, pred)]
        scores[h] = scaled_error(float(np.nanmean(errors)), scale)
    return scores, seconds


def evaluate_signal(name, models=None, seeds=(0, 1, 2), n_origins=None, log=print):
    """Score ``models`` on signal ``name`` of :data:`SIGNALS`.

    Parameters
    ----------
    name : str
    models : dict, optional
        name -> (factory(seed) -> unfitted forecaster, seeded); default :func:`default_models`.
        Seeded models run once per seed, the others once.
    seeds : sequence of int
    n_origins : int, optional
        Most origins (default: the signal's).

    Returns
    -------
    pandas.DataFrame
        One row per model, seed and horizon: ``signal``, ``model``, ``seed``, ``horizon``,
        ``mase``, ``fit_seconds``, ``error`` (the message when the model failed).
    """
    signal = SIGNALS[name]
    y = signal.load()
    n_train, origins = _split(signal, y, n_origins or signal.origins)
    models = models or default_models(signal, y.iloc[:n_train])
    rows = []
    for model_name, (factory, seeded) in models.items():
        for seed in (seeds if seeded else [None]):
            start = time.perf_counter()
            try:
                scores, seconds = _score(factory(seed or 0), y, n_train, origins, signal)
                error = ""
            except Exception as exc:  # a failing model is reported, not fatal
                scores, seconds = {h: np.nan for h in signal.horizons}, np.nan
                error = f"{type(exc).__name__}: {exc}"
            for h, value in scores.items():
                rows.append({"signal": name, "model": model_name, "seed": seed, "horizon": h,
                             "mase": value, "fit_seconds": seconds, "error": error})
            shown = ", ".join(f"h={h}: {v:.3f}" for h, v in scores.items())
            log(f"  {name} {model_name} seed={seed}: {shown} ({time.perf_counter() - start:.0f}"
                f" s){' ' + error if error else ''}")
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def summarise(results):
    """Mean and spread over seeds per signal, horizon and model."""
    grouped = results.groupby(["signal", "horizon", "model"], sort=False)
    table = grouped.agg(mase=("mase", "mean"), std=("mase", "std"), seeds=("mase", "size"),
                        fit_seconds=("fit_seconds", "mean")).reset_index()
    return table


def _verdicts(table):
    rows = []
    for (signal, horizon), group in table.groupby(["signal", "horizon"], sort=False):
        by_model = group.set_index("model")
        baselines = by_model.drop([m for m in ("lstm", "gru") if m in by_model.index])
        best = baselines["mase"].idxmin() if len(baselines) else None
        row = {"signal": signal, "horizon": horizon}
        for cell in ("lstm", "gru"):
            if cell in by_model.index:
                row[cell] = by_model.loc[cell, "mase"]
        if best is not None:
            row["best baseline"] = f"{best} {baselines.loc[best, 'mase']:.3f}"
            for cell in ("lstm", "gru"):
                if cell in by_model.index:
                    row[f"{cell} wins"] = bool(by_model.loc[cell, "mase"]
                                               < baselines.loc[best, "mase"])
        rows.append(row)
    return pd.DataFrame(rows)


def write_report(results, path_md, header):
    table = summarise(results)
    lines = [f"# Forecast accuracy (written by benchmarks/bench_accuracy.py)", "", header, "",
             "## Summary: MASE of the default RNNs (mean over seeds) and the best baseline", "",
             "```", _verdicts(table).to_string(index=False, float_format="%.3f"), "```", ""]
    for signal, group in table.groupby("signal", sort=False):
        lines += [f"## {signal}: {SIGNALS[signal].description}", "", "```"]
        order = list(dict.fromkeys(group["model"]))
        wide = group.pivot(index="model", columns="horizon", values="mase").reindex(order)
        spread = group.pivot(index="model", columns="horizon", values="std").reindex(order)
        shown = wide.map(lambda v: f"{v:.3f}")
        for column in shown.columns:
            shown[column] = [f"{m} ± {s:.3f}" if np.isfinite(s) else m
                             for m, s in zip(shown[column], spread[column].reindex(shown.index))]
        shown.columns = [f"MASE h={h}" for h in shown.columns]
        fit = group.groupby("model", sort=False)["fit_seconds"].mean()
        shown["fit s"] = fit.reindex(shown.index).map(lambda v: f"{v:.1f}")
        lines += [shown.to_string(), "```", ""]
    failed = results[results["error"] != ""]
    if len(failed):
        lines += ["## Failures", ""] + [f"- {r.signal} {r.model} seed {r.seed}: {r.error}"
                                        for r in failed.drop_duplicates(["signal", "model",
                                                                         "seed"]).itertuples()]
    path_md.write_text("\n".join(lines) + "\n")


def _origins_text(n_origins):
    if n_origins is not None:
        return f"at most {n_origins} origins per signal (--origins {n_origins})"
    return "each signal's own number of origins (SIGNALS)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", nargs="+", choices=list(SIGNALS), default=list(SIGNALS))
    parser.add_argument("--models", nargs="+", help="names among the default models")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--origins", type=int, help="most origins per signal")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help="one seed, 10 origins; results go to the temporary folder")
    args = parser.parse_args(argv)
    tsrnn.set_num_threads(args.threads)
    seeds = args.seeds[:1] if args.quick else args.seeds
    n_origins = 10 if args.quick else args.origins
    frames = []
    for name in args.signals:
        print(f"{name}: {SIGNALS[name].description}", flush=True)
        models = None
        if args.models:
            signal, y = SIGNALS[name], SIGNALS[name].load()
            n_train, _ = _split(signal, y, n_origins or signal.origins)
            every = default_models(signal, y.iloc[:n_train])
            models = {m: every[m] for m in args.models if m in every}
        frames.append(evaluate_signal(name, models, seeds, n_origins))
    results = pd.concat(frames, ignore_index=True)
    folder = Path(tempfile.gettempdir()) if args.quick else RESULTS
    folder.mkdir(exist_ok=True)
    results.to_csv(folder / "accuracy.csv", index=False)
    header = (f"tsrnn {tsrnn.__version__} on {platform.machine()}, {args.threads} thread(s), "
              f"{time.strftime('%Y-%m-%d')}; seeds {', '.join(map(str, seeds))}; "
              f"{_origins_text(n_origins)}"
              f"{'; QUICK SMOKE TEST, not results' if args.quick else ''}")
    write_report(results, folder / "accuracy.md", header)
    print(f"written to {folder / 'accuracy.md'}")


if __name__ == "__main__":
    sys.exit(main())
