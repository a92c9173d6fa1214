"""Many series: a global model against per-series models, past covariates, panel backtests.

Run:  python benchmarks/bench_panel.py [--seeds 0 1 2] [--origins 60] [--parts ...] [--quick]
Writes benchmarks/results/panel.md and panel.csv (``--quick``: a smoke test written to the
temporary folder instead). ``--parts`` runs some of the parts below (``pooling``, ``past``,
``parallel``) and keeps the other parts' rows of an earlier panel.csv, e.g. to time the
parallel backtest again on a quiet machine.

Protocol (fixed splits, rolling origins, the same for every model of a part):
1. *Pooling.* The two shipped ECG records (MIT-BIH 208 and 100, 360 Hz, 5 min each): every
   model is fitted on the first 80 % of what it is fitted on, and forecasts 36 and 180
   samples (0.1 s, 0.5 s) from ``origins`` origins spread over each record's last 20 %,
   each from the 2,000 values before it as context. A *global* GRU
   (``scaling="context"``) is fitted once on both records' training parts; *per-record*
   GRUs on one record each; ARIMA (as ``tsrnn compare`` sets it up for the ECG) and the
   naive forecast per record. The global model also forecasts a series it never saw, the
   ICU record's ECG lead MCL1 (125 Hz), against a GRU fitted on MCL1's own training part.
2. *Past covariates.* Arterial pressure of the ICU record (125 Hz, 10 min): a GRU with the
   ECG lead and respiration as past covariates (``X_past``) against the same GRU without,
   horizons 25 and 125 samples (0.2 s, 1 s), from the same origins and contexts.
3. *Parallel panel backtest.* The wall time of one ``backtest`` over the three ICU channels
   (a dict panel, ARIMA(2, 0, 1) refitted at each of 8 origins per channel on the last 3,000
   values before it) with ``n_jobs=1`` and ``n_jobs=2`` (joblib processes); medians of 3.

MASE: mean absolute error over the origins' first ``h`` steps, over the in-sample MAE of the
one-step naive forecast on the training part of the series scored. The GRUs run with seeds
0, 1, 2 (mean ± standard deviation); the baselines once. 2 kernel threads.
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import tsrnn
from tsrnn import ARIMAForecaster, NaiveForecaster, RNNForecaster
from tsrnn.comparison import PRESETS, make_forecaster
from tsrnn.datasets import load_ecg, load_icu
from tsrnn.metrics import mae, naive_scale, scaled_error
from tsrnn.model_selection import backtest, rolling_origins

RESULTS = Path(__file__).resolve().parent / "results"
TRAIN = 0.8
CONTEXT = 2000


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------
def _origins(y, horizon, n_origins):
    n_train = int(round(len(y) * TRAIN))
    return n_train, rolling_origins(len(y), horizon, n_origins, step="spread", initial=n_train)


def _forecasts(model, y, origins, horizon, X_past=None):
    """(n_origins, horizon) forecasts of ``model`` from each origin's context."""
    out = np.empty((len(origins), horizon))
    for k, t in enumerate(origins):
        start = max(0, t - CONTEXT)
        extra = {} if X_past is None else {"X_past": X_past.iloc[start:t]}
        out[k] = np.asarray(model.predict(horizon, context=y.iloc[start:t], **extra))
    return out


def _mase(y, origins, forecasts, horizons, n_train):
    scale = naive_scale(y.iloc[:n_train].to_numpy(), nan_policy="omit")
    truth = np.stack([y.to_numpy()[t:t + forecasts.shape[1]] for t in origins])
    return {h: scaled_error(float(np.mean([mae(a[:h], b[:h], nan_policy="omit")
                                           for a, b in zip(truth, forecasts)])), scale)
            for h in horizons}


def _fitted_scores(model, y, split, horizons, X_past=None, fit_data=None):
    """Fit ``model`` (on ``fit_data``, default ``y``'s training part; False: it is fitted
    already) and score its forecasts of ``y`` from the origins of ``split``: (scores, fit
    seconds or None)."""
    n_train, origins = split
    params = {} if X_past is None else {"X_past": X_past.iloc[:n_train]}
    seconds = None
    if fit_data is not False:
        seconds = _timed_fit(model, y.iloc[:n_train] if fit_data is None else fit_data, **params)
    forecasts = _forecasts(model, y, origins, max(horizons), X_past)
    return _mase(y, origins, forecasts, horizons, n_train), seconds


def _row(part, series, model, seed, scores, fit_seconds):
    return [{"part": part, "series": series, "model": model, "seed": seed, "horizon": h,
             "mase": value, "fit_seconds": fit_seconds} for h, value in scores.items()]


def _timed_fit(model, y, **params):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(y, **params)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# 1. Pooling
# ---------------------------------------------------------------------------------------------
def _records():
    mcl1 = load_icu()["MCL1"].rename("mcl1")
    return {"ecg208": load_ecg(208), "ecg100": load_ecg(100), "mcl1": mcl1}


def _gru(seed, **params):
    return RNNForecaster(cell="gru", random_state=seed, **params)


def pooling(seeds, n_origins, log):
    records, horizons, rows = _records(), (36, 180), []
    splits = {name: _origins(y, max(horizons), n_origins) for name, y in records.items()}
    seen = ("ecg208", "ecg100")
    for seed in seeds:
        model = _gru(seed, scaling="context")
        seconds = _timed_fit(model, {n: records[n].iloc[:splits[n][0]] for n in seen})
        for name, y in records.items():
            scores, _ = _fitted_scores(model, y, splits[name], horizons, fit_data=False)
            rows += _row("pooling", name, "global gru (ecg208 + ecg100)", seed, scores, seconds)
            log(f"  pooling {name} global seed {seed}: {scores}")
        for name, y in records.items():
            scores, seconds_own = _fitted_scores(_gru(seed), y, splits[name], horizons)
            rows += _row("pooling", name, "gru fitted on this record", seed, scores, seconds_own)
            log(f"  pooling {name} own seed {seed}: {scores}")
    for name, y in records.items():
        for label, model in (("arima", make_forecaster("arima",
                                                       arima_params=PRESETS["ecg"].arima)),
                             ("naive", NaiveForecaster())):
            rows += _row("pooling", name, label, None,
                         *_fitted_scores(model, y, splits[name], horizons))
    return rows


# ---------------------------------------------------------------------------------------------
# 2. Past covariates
# ---------------------------------------------------------------------------------------------
def past_covariates(seeds, n_origins, log):
    icu = load_icu()
    y, channels = icu["ABP"], icu[["MCL1", "RESP"]]
    horizons = (25, 125)
    split = _origins(y, max(horizons), n_origins)
    rows = []
    for seed in seeds:
        for label, X_past in (("gru", None), ("gru + MCL1, RESP as past covariates", channels)):
            scores, seconds = _fitted_scores(_gru(seed, missing="interpolate"), y, split,
                                             horizons, X_past)
            rows += _row("past covariates", "abp", label, seed, scores, seconds)
            log(f"  past covariates {label} seed {seed}: {scores}")
    model = make_forecaster("arima", arima_params=PRESETS["ecg"].arima)
    rows += _row("past covariates", "abp", "arima", None,
                 *_fitted_scores(model, y, split, horizons))
    return rows


# ---------------------------------------------------------------------------------------------
# 3. Parallel panel backtest
# ---------------------------------------------------------------------------------------------
def parallel_backtest(repeats, log):
    icu = load_icu().interpolate()
    panel = {name: icu[name] for name in icu.columns}
    model = ARIMAForecaster(order=(2, 0, 1), max_fit_length=3000)
    times = {}
    for n_jobs in (1, 2):
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores = backtest(model, panel, horizon=125, n_origins=8, step=2000,
                                  refit=True, n_jobs=n_jobs, metrics=["mae"])
            runs.append(time.perf_counter() - start)
        times[n_jobs] = (float(np.median(runs)), scores)
        log(f"  panel backtest n_jobs={n_jobs}: {times[n_jobs][0]:.1f} s")
    same = times[1][1].equals(times[2][1])
    return [{"part": "parallel backtest", "series": "icu MCL1, ABP, RESP",
             "model": "arima(2,0,1) refit", "seed": None, "horizon": 125, "n_jobs": n_jobs,
             "wall_seconds": seconds, "same_scores": same}
            for n_jobs, (seconds, _) in times.items()]


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def _mase_table(rows, part):
    frame = pd.DataFrame([r for r in rows if r["part"] == part])
    stats = frame.groupby(["series", "model", "horizon"], sort=False)["mase"].agg(["mean", "std"])
    text = stats.apply(lambda r: f"{r['mean']:.3f}" + (f" ± {r['std']:.3f}"
                                                       if np.isfinite(r["std"]) else ""),
                       axis=1).unstack("horizon")
    text.columns = [f"MASE h={h}" for h in text.columns]
    fit = frame.groupby(["series", "model"], sort=False)["fit_seconds"].mean()
    text["fit s"] = fit.map(lambda v: f"{v:.1f}")
    return text


def write_report(rows, folder, header):
    lines = ["# Many series (written by benchmarks/bench_panel.py)", "", header, "",
             "See the script's docstring for the protocol.", ""]
    for part, title in (("pooling", "1. A global GRU against per-record models"),
                        ("past covariates", "2. ABP with and without past covariates")):
        lines += [f"## {title}", "", "```", _mase_table(rows, part).to_string(), "```", ""]
    timing = pd.DataFrame([r for r in rows if r["part"] == "parallel backtest"])
    if len(timing):
        t1 = timing.loc[timing.n_jobs == 1, "wall_seconds"].iloc[0]
        t2 = timing.loc[timing.n_jobs == 2, "wall_seconds"].iloc[0]
        lines += ["## 3. A panel backtest with 1 and 2 workers", "",
                  f"- n_jobs=1: {t1:.1f} s; n_jobs=2: {t2:.1f} s (median of the repeats); "
                  f"speed-up {t1 / t2:.2f}x; same scores: {bool(timing.same_scores.all())}", ""]
    (folder / "panel.md").write_text("\n".join(lines))
    pd.DataFrame(rows).to_csv(folder / "panel.csv", index=False)


PARTS = {"pooling": "pooling", "past": "past covariates", "parallel": "parallel backtest"}


def _kept_rows(folder, parts):
    """The rows of an earlier run's parts that are not run again."""
    path = folder / "panel.csv"
    if set(parts) == set(PARTS) or not path.exists():
        return []
    kept = pd.read_csv(path)
    kept = kept[~kept["part"].isin([PARTS[p] for p in parts])]
    return [{k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
            for row in kept.to_dict("records")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--origins", type=int, default=60)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--quick", action="store_true",
                        help="one seed, 5 origins; results go to the temporary folder")
    args = parser.parse_args(argv)
    tsrnn.set_num_threads(2)
    seeds = args.seeds[:1] if args.quick else args.seeds
    n_origins = 5 if args.quick else args.origins
    folder = Path(tempfile.gettempdir()) if args.quick else RESULTS
    rows = _kept_rows(folder, args.parts)
    if "pooling" in args.parts:
        rows += pooling(seeds, n_origins, print)
    if "past" in args.parts:
        rows += past_covariates(seeds, n_origins, print)
    if "parallel" in args.parts:
        rows += parallel_backtest(1 if args.quick else 3, print)
    header = (f"tsrnn {tsrnn.__version__} on {platform.machine()}, 2 thread(s), "
              f"{time.strftime('%Y-%m-%d')}; seeds {', '.join(map(str, seeds))}; "
              f"{n_origins} origins per series"
              f"{'; QUICK SMOKE TEST, not results' if args.quick else ''}")
    write_report(rows, folder, header)
    print(f"written to {folder / 'panel.md'}")


if __name__ == "__main__":
    sys.exit(main())
