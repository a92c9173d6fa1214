"""Windows to one value: the next second's mean arterial pressure from five seconds of signals.

Run:  python benchmarks/bench_sequence.py [--seeds 0 1 2] [--max-epochs 50]
                                          [--threads 1 2] [--repeats 5] [--quick]
Writes benchmarks/results/sequence.md and sequence.csv (``--quick``: a smoke test written to
the temporary folder instead). Part 2 needs torch (pip install torch==2.13.0, CPU build).

Protocol:
1. *Accuracy.* The ICU record of ``load_icu()`` (125 Hz, 10 min; the 4 missing RESP samples,
   the record's last, interpolated). Inputs: windows of 625 samples (5 s) of the three
   channels MCL1 (ECG), ABP and RESP, one every 25 samples (0.2 s), decimated by 5 to 125
   steps of 25 Hz by averaging each 5 consecutive samples (a boxcar filter, then every 5th
   value). Target: the mean of ABP over the 125 samples (1 s) after the window. Fixed
   chronological split: the first 70 % of the windows train; the test windows are the later
   ones that start after the span (window and target) of the last training window, so no
   test window or target overlaps the training part (the windows that straddle the split
   are dropped). Every model sees the same training and test windows.
   Models: ``RNNRegressor`` (GRU and LSTM, one or both directions, hidden size 32, the
   defaults otherwise: Adam lr 1e-3, batch 32, last-state pooling, clipping to 1, float32)
   with ``max_epochs`` 50 and early stopping (10 % of the training windows held out, the best
   validation epoch kept), seeds 0, 1, 2 (mean ± standard deviation of the MAE); on the
   flattened decimated windows (375 features) ``RidgeCV`` after ``StandardScaler`` in a
   Pipeline (alphas 1e-3 .. 1e4) and ``HistGradientBoostingRegressor`` (defaults,
   random_state 0), once each as they are deterministic; and persistence: the mean ABP of the
   window's last second. Scores: MAE in mmHg over the test windows, its ratio to the
   persistence MAE, and the fit seconds (median over seeds). This part runs with the
   library's default thread count (the cores other processes leave free, at most 2 here).
2. *Speed against PyTorch.* One training epoch of the GRU on the training windows: tsrnn
   (``RNNRegressor.partial_fit``, one epoch per call) against the same network in PyTorch
   (``torch.nn.GRU``, hidden size 32, a linear head on the last hidden state, MSE on the
   standardised target, Adam lr 1e-3, global gradient norm clipped to 1, batch 32, shuffled
   every epoch, float32, the same standardised inputs), with ``tsrnn.set_num_threads(n)``,
   ``torch.set_num_threads(n)`` and BLAS limited to n threads, for each n of ``--threads``.
   One warm-up epoch each, then ``--repeats`` epochs alternating between the two; medians.
   The ratio is tsrnn seconds / torch seconds (below 1: tsrnn is faster).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import tsrnn
from tsrnn.datasets import load_icu, make_windows
from tsrnn.sequence import RNNRegressor

RESULTS = Path(__file__).resolve().parent / "results"
RATE = 125  # Hz
LENGTH, STEP, HORIZON, DECIMATE = 5 * RATE, 25, RATE, 5
TRAIN = 0.7
HIDDEN, BATCH = 32, 32
CHANNELS = ["MCL1", "ABP", "RESP"]
RNNS = {"gru": ("gru", False), "lstm": ("lstm", False),
        "bidirectional gru": ("gru", True), "bidirectional lstm": ("lstm", True)}


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def windows():
    """Decimated windows (n, 125, 3), next-second mean ABP (n,), window starts (n,)."""
    icu = load_icu()[CHANNELS].interpolate(limit_direction="both")
    values = icu.to_numpy()
    X, _, ends = make_windows(values, LENGTH, STEP, HORIZON, target_columns=1,
                              return_index=True)
    cumulative = np.concatenate([[0.0], np.cumsum(values[:, 1])])
    target = (cumulative[ends + 1 + HORIZON] - cumulative[ends + 1]) / HORIZON
    X = X.reshape(len(X), LENGTH // DECIMATE, DECIMATE, len(CHANNELS)).mean(axis=2)
    return X, target, ends - (LENGTH - 1)


def split(starts):
    """(training indices, test indices): the first 70 % of the windows, then those starting
    after the last training window's target."""
    n_train = int(TRAIN * len(starts))
    train_end = starts[n_train - 1] + LENGTH + HORIZON  # first sample after its target
    test = np.flatnonzero(starts >= train_end)
    return np.arange(n_train), test


def persistence(X):
    """The mean ABP of each window's last second (exact: the decimated values are means)."""
    return X[:, -RATE // DECIMATE:, CHANNELS.index("ABP")].mean(axis=1)


# ---------------------------------------------------------------------------------------------
# 1. Accuracy
# ---------------------------------------------------------------------------------------------
def _rnn(name, seed, max_epochs):
    cell, bidirectional = RNNS[name]
    return RNNRegressor(cell=cell, bidirectional=bidirectional, hidden_size=HIDDEN,
                        batch_size=BATCH, max_epochs=max_epochs, early_stopping=True,
                        random_state=seed)


def _baselines():
    alphas = np.logspace(-3, 4, 15)
    return {"ridge (standardised, RidgeCV)": make_pipeline(StandardScaler(),
                                                           RidgeCV(alphas=alphas)),
            "hist gradient boosting": HistGradientBoostingRegressor(random_state=0)}


def _score(model, X_train, y_train, X_test, y_test):
    """(test MAE, fit seconds, epochs run or None)."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    mae = float(np.mean(np.abs(model.predict(X_test) - y_test)))
    return mae, seconds, getattr(model, "n_iter_", None)


def _row(model, seed, mae, seconds, epochs, family):
    return {"part": "accuracy", "model": model, "family": family, "seed": seed, "mae": mae,
            "fit_seconds": seconds, "epochs": epochs}


def accuracy(data, seeds, max_epochs, log):
    X, y, train, test = data
    flat = X.reshape(len(X), -1)
    rows = [_row("persistence (last second's mean)", None,
                 float(np.mean(np.abs(persistence(X[test]) - y[test]))), 0.0, None,
                 "baseline")]
    for name, model in _baselines().items():
        mae, seconds, _ = _score(model, flat[train], y[train], flat[test], y[test])
        rows.append(_row(name, None, mae, seconds, None, "baseline"))
        log(f"  {name}: MAE {mae:.3f} mmHg, fit {seconds:.1f} s")
    for name in RNNS:
        for seed in seeds:
            mae, seconds, epochs = _score(_rnn(name, seed, max_epochs), X[train], y[train],
                                          X[test], y[test])
            rows.append(_row(name, seed, mae, seconds, epochs, "rnn"))
            log(f"  {name} seed {seed}: MAE {mae:.3f} mmHg, fit {seconds:.1f} s, "
                f"{epochs} epochs")
    return rows


# ---------------------------------------------------------------------------------------------
# 2. Speed against PyTorch
# ---------------------------------------------------------------------------------------------
def _tsrnn_epoch(X, y):
    model = RNNRegressor(cell="gru", hidden_size=HIDDEN, batch_size=BATCH, random_state=0)
    return lambda: model.partial_fit(X, y)


def _torch_epoch(torch, X, y):
    torch.manual_seed(0)
    gru = torch.nn.GRU(X.shape[2], HIDDEN, batch_first=True)
    head = torch.nn.Linear(HIDDEN, 1)
    params = list(gru.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3)
    flat = X.reshape(-1, X.shape[2])
    inputs = torch.tensor(((X - flat.mean(axis=0)) / flat.std(axis=0)).astype(np.float32))
    targets = torch.tensor(((y - y.mean()) / y.std()).astype(np.float32)[:, None])

    def epoch():
        order = torch.randperm(len(inputs))
        for start in range(0, len(order), BATCH):
            index = order[start:start + BATCH]
            _, h_n = gru(inputs[index])
            loss = torch.nn.functional.mse_loss(head(h_n[-1]), targets[index])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()

    return epoch


def _timed(epoch):
    start = time.perf_counter()
    epoch()
    return time.perf_counter() - start


def speed(data, threads, repeats, log):
    from _peers import require_torch

    torch = require_torch()
    X, y, train, _ = data
    rows = []
    for n in threads:
        tsrnn.set_num_threads(n)
        torch.set_num_threads(n)
        with threadpool_limits(limits=n, user_api="blas"):
            ours, theirs = _tsrnn_epoch(X[train], y[train]), _torch_epoch(torch, X[train],
                                                                          y[train])
            warm_up = (_timed(ours), _timed(theirs))
            times = np.array([(_timed(ours), _timed(theirs)) for _ in range(repeats)])
        (a, b), (a_max, b_max) = np.median(times, axis=0), times.max(axis=0)
        rows.append({"part": "speed", "model": "gru epoch", "threads": n, "tsrnn_s": a,
                     "torch_s": b, "ratio_tsrnn_torch": a / b, "repeats": repeats,
                     "tsrnn_max_s": a_max, "torch_max_s": b_max, "tsrnn_warm_up_s": warm_up[0],
                     "torch_warm_up_s": warm_up[1], "torch_version": torch.__version__})
        log(f"  gru epoch, {n} thread(s): tsrnn {a:.3f} s, torch {b:.3f} s, ratio {a / b:.2f}"
            f" (slowest {a_max:.3f} s, {b_max:.3f} s; warm-up {warm_up[0]:.3f} s, "
            f"{warm_up[1]:.3f} s)")
    tsrnn.set_num_threads(None)
    return rows


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def accuracy_table(rows):
    frame = pd.DataFrame([r for r in rows if r["part"] == "accuracy"])
    reference = frame.loc[frame.model.str.startswith("persistence"), "mae"].iloc[0]
    grouped = frame.groupby("model", sort=False)
    table = pd.DataFrame({"MAE mmHg": grouped["mae"].mean(), "std": grouped["mae"].std(),
                          "runs": grouped["mae"].size(),
                          "fit s (median)": grouped["fit_seconds"].median(),
                          "epochs (median)": grouped["epochs"].median()})
    table["ratio to persistence"] = table["MAE mmHg"] / reference
    table["family"] = grouped["family"].first()
    return table


def _shown(table):
    text = pd.DataFrame(index=table.index)
    text["MAE mmHg"] = [f"{m:.3f}" + (f" ± {s:.3f}" if np.isfinite(s) else "")
                        for m, s in zip(table["MAE mmHg"], table["std"])]
    text["/ persistence"] = table["ratio to persistence"].map(lambda v: f"{v:.3f}")
    text["fit s"] = table["fit s (median)"].map(lambda v: f"{v:.1f}")
    text["epochs"] = table["epochs (median)"].map(lambda v: "" if np.isnan(v) else f"{v:.0f}")
    return text


def verdicts(table):
    """One line per RNN: does its mean MAE beat every baseline's?"""
    baselines = table[table.family == "baseline"]["MAE mmHg"]
    best = baselines.idxmin()
    lines = []
    for name, row in table[table.family == "rnn"].iterrows():
        beaten = [b for b, v in baselines.items() if row["MAE mmHg"] < v]
        if len(beaten) == len(baselines):
            verdict = f"beats every baseline (the best, {best}: {baselines[best]:.3f})"
        else:
            missed = [b for b in baselines.index if b not in beaten]
            verdict = (f"does NOT beat {', '.join(missed)}"
                       f"{' (beats ' + ', '.join(beaten) + ')' if beaten else ''}")
        spread = f" ± {row['std']:.3f}" if np.isfinite(row["std"]) else ""
        lines.append(f"- {name}: {row['MAE mmHg']:.3f}{spread} mmHg {verdict}")
    return lines


def write_report(rows, folder, header, sizes, max_epochs):
    table = accuracy_table(rows)
    lines = ["# Windows to one value: the next second's mean arterial pressure "
             "(written by benchmarks/bench_sequence.py)", "", header, "",
             "See the script's docstring for the protocol. " + sizes, "",
             "## 1. MAE over the test windows (RNNs: mean ± std over seeds)", "", "```",
             _shown(table).to_string(), "```", ""] + verdicts(table) + [""]
    frame = pd.DataFrame([r for r in rows if r["part"] == "accuracy" and r["family"] == "rnn"])
    capped = int((frame["epochs"] >= max_epochs).sum())
    if capped:
        lines += [f"{capped} of the {len(frame)} RNN fits ran all {max_epochs} epochs: early "
                  f"stopping had not stopped them (the validation loss had improved within the "
                  f"last 11 epochs), so more epochs might lower their MAE.", ""]
    speed_rows = pd.DataFrame([r for r in rows if r["part"] == "speed"])
    if len(speed_rows):
        text = speed_rows[["threads", "tsrnn_s", "torch_s", "ratio_tsrnn_torch", "tsrnn_max_s",
                           "torch_max_s"]].to_string(
            index=False, float_format=lambda v: f"{v:.3f}")
        lines += ["## 2. One GRU training epoch, tsrnn against PyTorch (medians of "
                  f"{int(speed_rows.repeats.iloc[0])} epochs; torch "
                  f"{speed_rows.torch_version.iloc[0]})", "", "```", text, "```", "",
                  "ratio = tsrnn seconds / torch seconds (medians); *_max_s: the slowest "
                  "timed epoch. With batch 32 and hidden size 32 "
                  "a GRU step has too little work to split (tsrnn._threads.threads_for), so "
                  "the tsrnn kernels run on one thread whatever n is.", ""]
    (folder / "sequence.md").write_text("\n".join(lines))
    pd.DataFrame(rows).to_csv(folder / "sequence.csv", index=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2],
                        help="thread counts of the tsrnn/torch epoch timing")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="one seed, 3 epochs, 2 timed epochs at 1 thread; results go to "
                             "the temporary folder")
    args = parser.parse_args(argv)
    seeds = args.seeds[:1] if args.quick else args.seeds
    max_epochs = 3 if args.quick else args.max_epochs
    threads, repeats = ([1], 2) if args.quick else (args.threads, args.repeats)
    folder = Path(tempfile.gettempdir()) if args.quick else RESULTS
    started, load = time.perf_counter(), os.getloadavg()[0]

    X, y, starts = windows()
    train, test = split(starts)
    data = (X, y, train, test)
    sizes = (f"{len(X)} windows of {X.shape[1]} steps x {X.shape[2]} channels: {len(train)} "
             f"training, {len(test)} test, {len(X) - len(train) - len(test)} dropped at the "
             f"split; test targets {y[test].mean():.1f} ± {y[test].std():.1f} mmHg.")
    print(sizes, flush=True)
    rows = accuracy(data, seeds, max_epochs, print)
    accuracy_seconds = time.perf_counter() - started
    rows += speed(data, threads, repeats, print)
    speed_seconds = time.perf_counter() - started - accuracy_seconds
    header = (f"tsrnn {tsrnn.__version__} on {platform.machine()} ({os.cpu_count()} cores), "
              f"{time.strftime('%Y-%m-%d')}; seeds {', '.join(map(str, seeds))}; max_epochs "
              f"{max_epochs}; load average {load:.2f} at the start (other processes); "
              f"wall time {time.perf_counter() - started:.0f} s (accuracy "
              f"{accuracy_seconds:.0f} s, speed {speed_seconds:.0f} s)"
              f"{'; QUICK SMOKE TEST, not results' if args.quick else ''}")
    write_report(rows, folder, header, sizes, max_epochs)
    print(f"written to {folder / 'sequence.md'}")


if __name__ == "__main__":
    sys.exit(main())
