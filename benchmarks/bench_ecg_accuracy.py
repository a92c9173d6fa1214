"""Forecast accuracy of RNNForecaster on the ECG, against repeating the last value.

Protocol: fit on the first 80 % of MIT-BIH record 208 (86,400 samples at 360 Hz); forecast
36 and 180 samples ahead (0.1 s and 0.5 s) from rolling origins spread over the last 20 %,
each from the 3,600 samples (10 s) before it as context; report MAE (mV) and MASE (scaled by
the in-sample one-step naive MAE of the history). The default models run with several seeds;
``--strategies`` adds the training strategies the defaults were chosen against.

Origins are many (200 by default) because the beat is about 300 samples long: a few dozen
origins land on a few phases of the cardiac cycle and the mean error is noise.

Run:  python benchmarks/bench_ecg_accuracy.py [--seeds 0 1 2] [--origins 200] [--strategies]
Writes benchmarks/results/ecg_accuracy.csv and .md.
"""

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tsrnn import NaiveForecaster, RNNForecaster, __version__
from tsrnn.datasets import load_ecg
from tsrnn.model_selection import backtest

RESULTS = Path(__file__).resolve().parent / "results"
HORIZONS = (36, 180)
CONTEXT = 3600

# Alternatives to the defaults: scheduled sampling in free-run stretches (with gradients
# through the fed-back predictions), a decaying teacher-forcing schedule, a plain head.
STRATEGIES = {
    "lstm, scheduled sampling 0.5": dict(cell="lstm", teacher_forcing=0.5),
    "lstm, schedule 1.0 -> 0.3": dict(cell="lstm", teacher_forcing=(1.0, 0.3)),
    "lstm, no residual head": dict(cell="lstm", residual=False),
    "gru, scheduled sampling 0.5": dict(cell="gru", teacher_forcing=0.5),
}


def evaluate(forecaster, y, train_end, n_origins):
    """Fit on y[:train_end] (unless it is the naive model) and backtest both horizons."""
    start = time.perf_counter()
    forecaster.fit(y.iloc[:train_end])
    fit_seconds = time.perf_counter() - start
    rows = []
    for horizon in HORIZONS:
        test = len(y) - train_end
        step = (test - horizon) // (n_origins - 1)
        scores = backtest(forecaster, y, horizon, n_origins=n_origins, step=step,
                          context_length=CONTEXT, metrics=["mae", "mase"])
        assert scores["origin"].min() >= train_end
        rows.append({"horizon": horizon, "mae": scores["mae"].mean(),
                     "mase": scores["mase"].mean(), "fit_s": fit_seconds,
                     "epochs": getattr(forecaster, "n_iter_", None),
                     "best_epoch": getattr(forecaster, "best_iteration_", None)})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--origins", type=int, default=200)
    parser.add_argument("--strategies", action="store_true",
                        help="also run the alternative training strategies (one seed)")
    args = parser.parse_args(argv)

    y = load_ecg()
    train_end = int(0.8 * len(y))
    runs = [("naive (last value)", None, NaiveForecaster(strategy="last"))]
    for seed in args.seeds:
        for cell in ("lstm", "gru"):
            runs.append((f"{cell} (defaults)", seed, RNNForecaster(cell=cell, random_state=seed)))
    if args.strategies:
        for name, params in STRATEGIES.items():
            runs.append((name, args.seeds[0], RNNForecaster(random_state=args.seeds[0],
                                                            **params)))
    records = []
    for name, seed, forecaster in runs:
        print(f"fitting {name}" + ("" if seed is None else f", seed {seed}"), flush=True)
        for row in evaluate(forecaster, y, train_end, args.origins):
            records.append({"model": name, "seed": seed, **row})
    table = pd.DataFrame(records)
    summary = (table.groupby(["model", "horizon"], sort=False)
               .agg(mae=("mae", "mean"), mae_sd=("mae", "std"), mase=("mase", "mean"),
                    seeds=("mae", "size"), fit_s=("fit_s", "mean"))
               .reset_index())
    naive = summary[summary.model == "naive (last value)"].set_index("horizon")["mae"]
    summary["vs_naive"] = summary["mae"] / summary["horizon"].map(naive)

    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "ecg_accuracy.csv", index=False)
    header = (f"ECG record 208, train {train_end} samples, {args.origins} origins over the last "
              f"{len(y) - train_end}, context {CONTEXT}; tsrnn {__version__}, "
              f"{platform.processor() or platform.machine()}, "
              f"{time.strftime('%Y-%m-%d')}\n")
    text = summary.to_string(index=False, float_format=lambda v: f"{v:.3f}")
    (RESULTS / "ecg_accuracy.md").write_text(
        "# ECG forecast accuracy (written by benchmarks/bench_ecg_accuracy.py)\n\n"
        + header + "\n```\n" + text + "\n```\n"
        + "mae in mV (mean over seeds; mae_sd across seeds), vs_naive = mae / naive mae.\n")
    print(header)
    print(text)


if __name__ == "__main__":
    main()
