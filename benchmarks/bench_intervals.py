"""Calibration of the prediction intervals of every model on public medical and sensor signals.

Run:  python benchmarks/bench_intervals.py [--signals ecg208 co2 ...] [--models lstm arima ...]
                                           [--seeds 0 1 2] [--origins 100] [--quick]
Writes benchmarks/results/intervals.md and intervals.csv (``--quick``: a smoke test written to
the temporary folder instead).

Protocol, the same for every model of a signal (the splits and origins of
``bench_accuracy.py``):
- fit once on the first part of the series;
- from each origin, given the history before it as context, forecast ``max(horizons)`` steps:
  the point forecast, the central 80 % and 95 % intervals and ``--samples`` sample paths;
- score each horizon ``h`` on the first ``h`` steps of every origin, pooled: empirical coverage
  of both intervals (the goal is the nominal level within 5 points), the mean scaled interval
  score (MSIS: the interval, or Winkler, score over the in-sample MAE of the one-step naive
  forecast on the training part; lower is better), the scaled CRPS of the sample paths and
  the MASE of the point forecast; NaN truth values are left out;
- the RNNs run with several seeds (mean and standard deviation over seeds), the deterministic
  baselines once.
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
from tsrnn.comparison import fit_timed
from tsrnn.metrics import coverage, crps, interval_score, mae, naive_scale, scaled_error

from bench_accuracy import SIGNALS, _split, default_models

RESULTS = Path(__file__).resolve().parent / "results"
LEVELS = (0.8, 0.95)
DEFAULT_SIGNALS = ("ecg208", "co2", "abp", "elnino")


def _forecasts(model, y, origins, horizon, context, n_samples, seed):
    """Per origin: truth, point forecast, the bounds of every level and sample paths."""
    values = y.to_numpy(dtype=np.float64)
    truth, point, samples = [], [], []
    bounds = {level: ([], []) for level in LEVELS}
    for origin in origins:
        history = y.iloc[max(0, origin - context):origin]
        truth.append(values[origin:origin + horizon])
        point.append(np.asarray(model.predict(horizon, context=history), np.float64))
        pairs = model.predict_interval(horizon, coverage=list(LEVELS), context=history)
        for level in LEVELS:
            bounds[level][0].append(np.asarray(pairs[level][0], np.float64))
            bounds[level][1].append(np.asarray(pairs[level][1], np.float64))
        if n_samples:
            paths = model.predict_samples(horizon, n_samples=n_samples, context=history,
                                          random_state=seed)
            # a Series' paths come as a DataFrame with one column per sample
            paths = paths.to_numpy().T if isinstance(paths, pd.DataFrame) else paths
            samples.append(np.asarray(paths, np.float64))
    stack = {level: (np.array(low), np.array(high)) for level, (low, high) in bounds.items()}
    return np.array(truth), np.array(point), stack, np.array(samples) if samples else None


def _scores(truth, point, bounds, samples, h, scale):
    """Scores of the first ``h`` steps of every origin, pooled."""
    t = truth[:, :h].ravel()
    row = {"mase": scaled_error(mae(t, point[:, :h].ravel(), nan_policy="omit"), scale)}
    for level in LEVELS:
        low, high = (b[:, :h].ravel() for b in bounds[level])
        tag = f"{round(100 * level)}"
        row[f"coverage{tag}"] = coverage(t, low, high, nan_policy="omit")
        row[f"msis{tag}"] = scaled_error(interval_score(t, low, high, level, nan_policy="omit"),
                                         scale)
    if samples is not None:
        paths = samples[:, :, :h].transpose(1, 0, 2).reshape(samples.shape[1], -1)
        row["crps"] = scaled_error(crps(t, paths, nan_policy="omit"), scale)
    return row


def evaluate_signal(name, models, seeds, n_origins, n_samples, log=print):
    """One row per model, seed and horizon with the scores of :func:`_scores`."""
    signal = SIGNALS[name]
    y = signal.load()
    n_train, origins = _split(signal, y, n_origins or signal.origins)
    every = default_models(signal, y.iloc[:n_train])
    chosen = {m: every[m] for m in (models or every) if m in every and m != "arima-aic"}
    scale = naive_scale(y.iloc[:n_train].to_numpy(), nan_policy="omit")
    longest, rows = max(signal.horizons), []
    for model_name, (factory, seeded) in chosen.items():
        for seed in (seeds if seeded else [None]):
            start = time.perf_counter()
            try:
                model = factory(seed or 0)
                fit_seconds, _ = fit_timed(model, y.iloc[:n_train])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    parts = _forecasts(model, y, origins, longest, signal.context, n_samples,
                                       seed or 0)
                per_h = {h: _scores(*parts, h, scale) for h in signal.horizons}
                error = ""
            except Exception as exc:  # a failing model is reported, not fatal
                per_h, fit_seconds = {h: {} for h in signal.horizons}, np.nan
                error = f"{type(exc).__name__}: {exc}"
            for h, scores in per_h.items():
                rows.append({"signal": name, "model": model_name, "seed": seed, "horizon": h,
                             **scores, "fit_seconds": fit_seconds, "error": error})
            shown = "; ".join(
                f"h={h}: cover {100 * s.get('coverage80', np.nan):.0f}/"
                f"{100 * s.get('coverage95', np.nan):.0f} %, MSIS95 {s.get('msis95', np.nan):.2f}"
                for h, s in per_h.items())
            log(f"  {name} {model_name} seed={seed}: {shown} "
                f"({time.perf_counter() - start:.0f} s){' ' + error if error else ''}",
                flush=True)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
SCORES = ["coverage80", "coverage95", "msis80", "msis95", "crps", "mase"]


def summarise(results):
    """Mean (and, over seeds, standard deviation) per signal, horizon and model."""
    present = [s for s in SCORES if s in results.columns]
    grouped = results.groupby(["signal", "horizon", "model"], sort=False)
    mean = grouped[present + ["fit_seconds"]].mean()
    spread = grouped[present].std().add_suffix("_std")
    return mean.join(spread).join(grouped.size().rename("runs")).reset_index()


def _goal_lines(table):
    """The issue's goals: coverage within 5 points; RNN interval score below ARIMA's."""
    lines = []
    off = table[(abs(table["coverage80"] - 0.8) > 0.05) | (abs(table["coverage95"] - 0.95) > 0.05)]
    lines.append(f"- coverage within 5 points of nominal at both levels: "
                 f"{len(table) - len(off)} of {len(table)} (signal, horizon, model) cells")
    for row in off.itertuples():
        lines.append(f"  - off: {row.signal} h={row.horizon} {row.model}: "
                     f"{100 * row.coverage80:.1f} % / {100 * row.coverage95:.1f} %")
    for (signal, horizon), group in table.groupby(["signal", "horizon"], sort=False):
        by = group.set_index("model")
        if "arima" not in by.index:
            continue
        for cell in ("lstm", "gru"):
            if cell in by.index:
                verdict = "below" if by.loc[cell, "msis95"] < by.loc["arima", "msis95"] \
                    else "NOT below"
                lines.append(f"- {signal} h={horizon}: {cell} MSIS95 "
                             f"{by.loc[cell, 'msis95']:.3f} {verdict} ARIMA's "
                             f"{by.loc['arima', 'msis95']:.3f}")
    return lines


def _signal_table(group):
    order = list(dict.fromkeys(group["model"]))
    shown = pd.DataFrame(index=order)
    for score in [s for s in SCORES if s in group.columns]:
        for h, part in group.groupby("horizon", sort=False):
            part = part.set_index("model").reindex(order)
            percent = score.startswith("coverage")
            values = part[score] * (100 if percent else 1)
            spread = part[f"{score}_std"] * (100 if percent else 1)
            shown[f"{score} h={h}"] = [
                (f"{v:.1f}" if percent else f"{v:.3f}")
                + (f" ± {s:.1f}" if percent else f" ± {s:.3f}") * bool(np.isfinite(s))
                for v, s in zip(values, spread)]
    shown["fit s"] = group.groupby("model", sort=False)["fit_seconds"].mean().reindex(order) \
        .map(lambda v: f"{v:.1f}")
    return shown.to_string()


def write_report(results, path_md, header):
    table = summarise(results)
    lines = ["# Prediction intervals (written by benchmarks/bench_intervals.py)", "", header, "",
             "coverage80 / coverage95: % of true values inside the 80 % / 95 % intervals over "
             "the first h steps of every origin; msis80 / msis95: mean interval score over "
             "the naive in-sample MAE (lower is better); crps: CRPS of the sample paths over "
             "the same scale; mase of the point forecast. ± is the standard deviation over "
             "seeds.", "", "## Goals", ""] + _goal_lines(table) + [""]
    for signal, group in table.groupby("signal", sort=False):
        lines += [f"## {signal}: {SIGNALS[signal].description}", "", "```",
                  _signal_table(group), "```", ""]
    failed = results[results["error"] != ""]
    if len(failed):
        lines += ["## Failures", ""] + [f"- {r.signal} {r.model} seed {r.seed}: {r.error}"
                                        for r in failed.drop_duplicates(["signal", "model",
                                                                         "seed"]).itertuples()]
    path_md.write_text("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", nargs="+", choices=list(SIGNALS),
                        default=list(DEFAULT_SIGNALS))
    parser.add_argument("--models", nargs="+", help="names among bench_accuracy's models")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--origins", type=int, help="most origins per signal")
    parser.add_argument("--samples", type=int, default=100,
                        help="sample paths per origin for the CRPS (0: no CRPS)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help="one seed, 5 origins; results go to the temporary folder")
    args = parser.parse_args(argv)
    tsrnn.set_num_threads(args.threads)
    seeds = args.seeds[:1] if args.quick else args.seeds
    n_origins = 5 if args.quick else args.origins
    frames = []
    for name in args.signals:
        print(f"{name}: {SIGNALS[name].description}", flush=True)
        frames.append(evaluate_signal(name, args.models, seeds, n_origins, args.samples))
    results = pd.concat(frames, ignore_index=True)
    folder = Path(tempfile.gettempdir()) if args.quick else RESULTS
    folder.mkdir(exist_ok=True)
    results.to_csv(folder / "intervals.csv", index=False)
    header = (f"tsrnn {tsrnn.__version__} on {platform.machine()}, {args.threads} thread(s), "
              f"{time.strftime('%Y-%m-%d')}; seeds {', '.join(map(str, seeds))}; "
              f"{args.samples} sample paths per origin"
              f"{'; QUICK SMOKE TEST, not results' if args.quick else ''}")
    write_report(results, folder / "intervals.md", header)
    print(f"written to {folder / 'intervals.md'}")


if __name__ == "__main__":
    sys.exit(main())
