"""Speed of the AVX2 and AVX-512 builds of each kernel module against the baseline build.

Every kernel module (lstm, gru, rnn, closed_loop) is compiled three times (see setup.py);
this measures, per module, whether a wider build pays, so that the build can keep a
variant only where it gains.

Run:  python benchmarks/bench_simd.py [--repeats 7] [--inner 3] [--quick]
Writes benchmarks/results/simd.md and simd.csv (--quick: 3 repeats, one timing per
workload, results in the temporary folder).

Protocol: tsrnn._kernels picks the build at import from TSRNN_SIMD, so every (repeat,
level) runs in a fresh Python process with TSRNN_SIMD set; the repeat loop is outside the
level loop (and the order of the levels rotates from one repeat to the next), so
background load falls on every level alike. Each process uses one kernel thread
(tsrnn.set_num_threads(1)) and one BLAS thread, checks which build it loaded, runs every
workload once as a warm-up, then times it ``--inner`` times (each timing covering enough
calls for at least 50 ms) and reports the median; a fit (seconds) is timed once, after a
tiny fit of the same cell and dtype as its warm-up. A level's time is the median of those
over ``--repeats`` processes; speed-up = baseline time / level time. Workloads:
  - forward + backward of tsrnn.nn.LSTM, GRU and RNN layers, T=64, B=64, F=1, H in {32,
    128} (modules lstm, gru, rnn);
  - RecurrentNetwork.run with H=64: generation (teacher all False) of T=2000 steps, B=1;
    and a training pass, T=64, B=64, random teacher mask, keep_cache=True, then backward
    (module closed_loop), for cells lstm and gru;
  - RNNForecaster(hidden_size=64, max_epochs=3, n_models=1, random_state=0).fit on a sine
    of 5000 values, cells lstm and gru (end to end: the layer module and closed_loop).
All in float32 and float64. A variant counts as a gain for a module where it is at least
10 % faster (speed-up >= 1.10) on one of that module's own workloads.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
LEVELS = ("baseline", "avx2", "avx512")
MODULES = ("lstm", "gru", "rnn", "closed_loop")
GAIN = 1.10
MIN_TIMING = 0.05  # seconds each timing covers at least


# ----------------------------------------------------------------- workloads (worker side)
def layer_workload(cell, H, dtype):
    """Forward + backward of one layer on (T=64, B=64, F=1)."""
    from tsrnn.nn import GRU, LSTM, RNN

    layer = {"lstm": LSTM, "gru": GRU, "rnn": RNN}[cell](1, H, dtype=dtype, random_state=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 64, 1)).astype(dtype)
    dout = rng.standard_normal((64, 64, H)).astype(dtype)

    def run():
        layer.forward(x)
        layer.backward(dout)

    return run


def generation_workload(cell, dtype, T=2000):
    """Closed loop without teacher (every input is the previous prediction), B=1, H=64."""
    from tsrnn.nn.network import RecurrentNetwork

    network = RecurrentNetwork(cell, 1, 0, 64, dtype=dtype, random_state=0)
    y = np.zeros((T, 1, 1), dtype)
    teacher = np.zeros((T, 1), bool)
    first = np.full((1, 1), 0.5, dtype)
    return lambda: network.run(y, teacher, first_pred=first)


def closed_training_workload(cell, dtype, T=64, B=64):
    """Closed loop with a random teacher mask and cache, then backward, H=64."""
    from tsrnn.nn.network import RecurrentNetwork

    network = RecurrentNetwork(cell, 1, 0, 64, dtype=dtype, random_state=0)
    rng = np.random.default_rng(0)
    y = rng.standard_normal((T, B, 1)).astype(dtype)
    teacher = rng.random((T, B)) < 0.5
    first = np.zeros((B, 1), dtype)
    dpred = rng.standard_normal((T, B, 1)).astype(dtype)

    def run():
        network.run(y, teacher, first_pred=first, keep_cache=True)
        network.backward(dpred)

    return run


def fit_workload(cell, dtype):
    """RNNForecaster.fit end to end on a sine of 5000 values (after a tiny warm-up fit)."""
    from tsrnn import RNNForecaster

    series = np.sin(2 * np.pi * np.arange(5000) / 50)
    RNNForecaster(cell=cell, hidden_size=8, max_epochs=1, n_models=1, dtype=dtype,
                  random_state=0).fit(series[:600])
    return lambda: RNNForecaster(cell=cell, hidden_size=64, max_epochs=3, n_models=1,
                                 dtype=dtype, random_state=0).fit(series)


def workloads():
    """(name, modules exercised, dtype, function making the callable, timed once), in
    running order; the fits (seconds each) are timed once per process, without warm-up."""
    cases = []
    for dtype in ("float32", "float64"):
        for cell in ("lstm", "gru", "rnn"):
            for H in (32, 128):
                cases.append((f"{cell} layer fwd+bwd H={H}", cell, dtype,
                              lambda c=cell, h=H, d=dtype: layer_workload(c, h, d), False))
        for cell in ("lstm", "gru"):
            cases.append((f"{cell} closed loop generate T=2000 B=1", "closed_loop", dtype,
                          lambda c=cell, d=dtype: generation_workload(c, d), False))
            cases.append((f"{cell} closed loop train T=64 B=64", "closed_loop", dtype,
                          lambda c=cell, d=dtype: closed_training_workload(c, d), False))
        for cell in ("lstm", "gru"):
            cases.append((f"{cell} RNNForecaster.fit", f"{cell}+closed_loop", dtype,
                          lambda c=cell, d=dtype: fit_workload(c, d), True))
    return cases


def seconds_per_call(function, inner, once=False):
    """Median over ``inner`` timings of the seconds per call, after one warm-up call; each
    timing covers enough calls for MIN_TIMING seconds. ``once``: one call, one timing."""
    start = time.perf_counter()
    if once:
        function()
        return time.perf_counter() - start
    function()
    calls = max(1, int(np.ceil(MIN_TIMING / max(time.perf_counter() - start, 1e-9))))
    times = []
    for _ in range(inner):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        times.append((time.perf_counter() - start) / calls)
    return float(np.median(times))


def worker(level, inner):
    """Time every workload with the build chosen at import; print one JSON line."""
    from threadpoolctl import threadpool_limits

    import tsrnn
    import tsrnn._kernels as kernels
    from tsrnn.nn import layers

    loaded = {name: getattr(layers, f"_{name}").__name__ for name in MODULES}
    expected = {name: kernels.load(name, level).__name__ for name in MODULES}
    if kernels.SIMD != level or loaded != expected:
        raise RuntimeError(f"asked for {level}, loaded {kernels.SIMD}: {loaded}")
    tsrnn.set_num_threads(1)
    times = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name, _, dtype, make, once in workloads():
            times[f"{name}|{dtype}"] = seconds_per_call(make(), inner, once)
    print(json.dumps({"level": level, "modules": loaded, "times": times}), flush=True)


# ----------------------------------------------------------------- driver
def run_level(level, inner):
    """Run the worker in a fresh process with TSRNN_SIMD=level; its parsed report."""
    env = dict(os.environ, TSRNN_SIMD=level)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", level,
               "--inner", str(inner)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {level} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cpu_model():
    """The CPU's model name as the system reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def summarise(samples, levels):
    """One row per (workload, dtype, level): median, quartiles and speed-up."""
    modules = {(name, dtype): module for name, module, dtype, _, _ in workloads()}
    rows = []
    for (name, dtype), module in modules.items():
        key = f"{name}|{dtype}"
        base = float(np.median(samples["baseline"][key]))
        for level in levels:
            values = np.asarray(samples[level][key])
            median = float(np.median(values))
            q1, q3 = np.percentile(values, [25, 75])
            rows.append({"module": module, "workload": name, "dtype": dtype, "level": level,
                         "median_ms": 1e3 * median, "iqr_pct": 100 * (q3 - q1) / median,
                         "speedup": base / median, "repeats": values.size})
    return pd.DataFrame(rows)


def verdicts(table, levels):
    """Per module: the variants that gain at least 10 % on one of its own workloads, and
    how the widest variant compares with the next narrower one there."""
    lines = []
    for module in MODULES:
        own = table[table["module"] == module]
        parts = []
        for level in levels[1:]:
            rows = own[own["level"] == level]
            best = rows.loc[rows["speedup"].idxmax()]
            gains = int((rows["speedup"] >= GAIN).sum())
            parts.append(f"{level} {'GAINS' if gains else 'no gain'} ({gains}/{len(rows)} "
                         f">= {GAIN:.2f}x; {rows['speedup'].min():.2f}x to "
                         f"{best['speedup']:.2f}x, best on {best['workload']} "
                         f"{best['dtype']})")
        if len(levels) > 2:
            wide, narrow = (own[own["level"] == level].set_index(["workload", "dtype"])
                            ["median_ms"] for level in levels[-1:-3:-1])
            over = narrow / wide
            parts.append(f"{levels[-1]} over {levels[-2]}: {over.min():.2f}x to "
                         f"{over.max():.2f}x")
        lines.append(f"- {module}: " + "; ".join(parts))
    fits = table[table["module"].str.endswith("+closed_loop") & (table["level"] != "baseline")]
    lines.append("- end to end (fit, layer module + closed_loop): " + ", ".join(
        f"{r.workload.split()[0]} {r.dtype} {r.level} {r.speedup:.2f}x"
        for r in fits.itertuples()))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--inner", type=int, default=3, help="timings per process")
    parser.add_argument("--quick", action="store_true",
                        help="3 repeats, 1 timing each, results in the temporary folder")
    parser.add_argument("--worker", choices=LEVELS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.inner = 3, 1
    if args.worker:
        return worker(args.worker, args.inner)

    import tsrnn
    import tsrnn._kernels as kernels

    levels = kernels.available()
    if "baseline" not in levels or len(levels) < 2:
        raise SystemExit(f"need the baseline and a variant; this build offers {levels}")
    started = time.perf_counter()
    samples = {level: {} for level in levels}
    for repeat in range(args.repeats):
        order = levels[repeat % len(levels):] + levels[:repeat % len(levels)]
        for level in order:
            report = run_level(level, args.inner)
            for key, seconds in report["times"].items():
                samples[level].setdefault(key, []).append(seconds)
            print(f"repeat {repeat + 1}/{args.repeats} {level}: "
                  f"{time.perf_counter() - started:.0f} s so far", flush=True)
    table = summarise(samples, levels)
    folder = Path(tempfile.gettempdir()) / "tsrnn-bench-simd" if args.quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "simd.csv", index=False)

    wide = table.pivot_table(index=["module", "workload", "dtype"], columns="level",
                             values=["median_ms", "speedup"], sort=False)
    wide.columns = [f"{level} ms" if what == "median_ms" else f"{level} x"
                    for what, level in wide.columns]
    wide = wide[[f"{level} ms" for level in levels]
                + [f"{level} x" for level in levels[1:]]].reset_index()
    text = wide.to_string(index=False, float_format=lambda v: f"{v:.3g}")
    header = (f"tsrnn {tsrnn.__version__} on {cpu_model()} ({platform.machine()}, "
              f"{os.cpu_count()} CPUs; levels here: {', '.join(levels)}), "
              f"{time.strftime('%Y-%m-%d')}; 1 kernel thread, 1 BLAS thread; medians over "
              f"{args.repeats} fresh processes per level (levels interleaved) of the median "
              f"of {args.inner} timing(s) each (fits: one); 'x' = baseline time / level time; "
              f"run took {time.perf_counter() - started:.0f} s")
    verdict = verdicts(table, levels)
    (folder / "simd.md").write_text(
        "# SIMD builds against the baseline (written by benchmarks/bench_simd.py)\n\n"
        + header + "\n\n```\n" + text + "\n```\n\nVerdict (gain: >= "
        + f"{GAIN:.2f}x on one of the module's own workloads):\n\n" + "\n".join(verdict)
        + "\n\nSpread across processes (IQR in % of the median) is in simd.csv.\n")
    print(header)
    print(text)
    print("\n".join(verdict))
    print(f"written to {folder / 'simd.md'}")


if __name__ == "__main__":
    sys.exit(main())
