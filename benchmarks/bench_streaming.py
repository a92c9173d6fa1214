"""Latency of the streaming paths of RNNForecaster against the network step they wrap.

Run:  python benchmarks/bench_streaming.py [--repeats 9] [--calls 2000]
Writes benchmarks/results/streaming.md and streaming.csv.

Each path is timed over ``--calls`` calls, ``--repeats`` times; the table gives the median
time per call and its ratio to ``network_.rnn.streamer().step`` of the same fitted model (one
value through the recurrent layers of one member, no checks): the overhead a user pays for the checks and the bookkeeping. Model:
hidden_size=64, float32, one thread, fitted on 2,000 values of a noisy sine, with and without
a season, one and two members.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import tsrnn
from tsrnn import RNNForecaster

RESULTS = Path(__file__).resolve().parent / "results"


def _per_call(function, calls, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        times.append((time.perf_counter() - start) / calls)
    return float(np.median(times))


def _paths(model, series_model):
    """name -> a function making one call of that path."""
    stream = model.network_.rnn.streamer()  # the recurrent layers of (the first) member
    state = {"last": series_model.layouts_[0].last}
    step = series_model.layouts_[0].step
    one = np.array([0.5])

    def series_update():
        state["last"] = state["last"] + step
        series_model.update(pd.Series([0.5], index=[state["last"]]))

    return {
        "layers streamer().step(0.5) (peer)": lambda: stream.step(0.5),
        "update(0.5)": lambda: model.update(0.5),
        "update(ndarray of 1)": lambda: model.update(one),
        "update(Series of 1, DatetimeIndex)": series_update,
        "predict(10)": lambda: model.predict(10),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    tsrnn.set_num_threads(1)
    rng = np.random.default_rng(0)
    t = np.arange(2000)
    values = np.sin(2 * np.pi * t / 50) + 0.1 * rng.normal(size=t.size)
    index = pd.date_range("2024-01-01", periods=t.size, freq="s")
    rows = []
    for season in (None, "auto"):
        for members in (1, 2):
            params = dict(hidden_size=64, max_epochs=3, n_models=members, random_state=0,
                          season_length=season)
            model = RNNForecaster(**params).fit(values)
            series_model = RNNForecaster(**params).fit(pd.Series(values, index=index))
            paths = _paths(model, series_model)
            timed = {name: _per_call(f, args.calls, args.repeats) for name, f in paths.items()}
            peer = timed["layers streamer().step(0.5) (peer)"]
            for name, seconds in timed.items():
                rows.append({"representation": model.representation_.describe(),
                             "members": members, "path": name, "us_per_call": 1e6 * seconds,
                             "ratio_to_step": seconds / peer})
                print(f"{rows[-1]['representation']}, {members} member(s), {name}: "
                      f"{1e6 * seconds:.1f} us ({seconds / peer:.1f}x the step)", flush=True)
    table = pd.DataFrame(rows)
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "streaming.csv", index=False)
    header = (f"tsrnn {tsrnn.__version__} on {platform.machine()}, 1 thread, float32, "
              f"H=64, {time.strftime('%Y-%m-%d')}; median of {args.repeats} repeats of "
              f"{args.calls} calls")
    shown = table.assign(us_per_call=table["us_per_call"].map(lambda v: f"{v:.1f}"),
                         ratio_to_step=table["ratio_to_step"].map(lambda v: f"{v:.1f}"))
    (RESULTS / "streaming.md").write_text(
        "# Streaming latency (written by benchmarks/bench_streaming.py)\n\n" + header
        + "\n\n```\n" + shown.to_string(index=False) + "\n```\n")
    print(f"written to {RESULTS / 'streaming.md'}")


if __name__ == "__main__":
    sys.exit(main())
