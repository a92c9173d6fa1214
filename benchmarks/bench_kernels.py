"""Speed of tsrnn's kernels against PyTorch on the CPU, in the same run.

Cases (float32, time-major, medians of --repeats timings after a warm-up, the two
implementations alternating within each case):
  - forward, and forward + backward (dx and every weight gradient), of LSTM, GRU and RNN
    layers: B=64, T=64, F in {1, 8}, H in {16, 32, 64, 128, 256}; B=1 and B=256 at H=64;
  - one streaming step with B=1 at H=32 and H=128 (torch: the module on a one-step input
    with its state; tsrnn: the layer's streamer, which keeps its state, the layer's step,
    which checks its arguments and returns new arrays, and RNNForecaster.update of one value,
    which also checks, scales and indexes it); each timing covers 100 calls;
  - 100 autoregressive steps with a linear head (torch: a Python loop over the module and a
    Linear; tsrnn: the closed-loop kernel, and RNNForecaster.predict).
Each case runs with 1 and 2 threads on both sides (torch.set_num_threads, tsrnn's OpenMP
threads, BLAS limited to as many). GFLOP/s counts the products' multiply-adds; the
ceiling is a plain float32 GEMM of the same size (T*B by H+F by G) measured here.

Run:  python benchmarks/bench_kernels.py [--threads 1 2] [--repeats 7] [--quick]
Writes benchmarks/results/kernels.csv and kernels.md. Needs torch (pip install torch==2.13.0).
"""

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

import tsrnn
import tsrnn._kernels as kernels
from tsrnn import RNNForecaster
from tsrnn.nn import GRU, LSTM, RNN
from tsrnn.nn.network import RecurrentNetwork

from _peers import require_torch

RESULTS = Path(__file__).resolve().parent / "results"
CELLS = {"lstm": (LSTM, 4), "gru": (GRU, 3), "rnn": (RNN, 1)}


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def race(ours, theirs, repeats, calls=1):
    """Median seconds per call of each, alternating, after one warm-up call of each; every
    timing covers ``calls`` calls (for calls too short to time one by one)."""
    ours()
    theirs()

    def batch(function):
        for _ in range(calls):
            function()

    a, b = [], []
    for _ in range(repeats):
        a.append(timed(lambda: batch(ours)) / calls)
        b.append(timed(lambda: batch(theirs)) / calls)
    return float(np.median(a)), float(np.median(b))


def gemm_rate(rows, inner, cols, repeats):
    """GFLOP/s of a plain float32 (rows, inner) @ (inner, cols) product."""
    a = np.random.default_rng(0).standard_normal((rows, inner)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((inner, cols)).astype(np.float32)
    seconds = np.median([timed(lambda: a @ b) for _ in range(repeats + 2)][2:])
    return 2 * rows * inner * cols / seconds / 1e9


def layer_cases(torch, cell, B, T, F, H, repeats):
    """Forward and forward+backward of one layer; returns two result rows."""
    cls, gates = CELLS[cell]
    ours_layer = cls(F, H, random_state=0)
    theirs_layer = getattr(torch.nn, cell.upper())(F, H)
    ours_layer.load_state_dict(theirs_layer.state_dict())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, F)).astype(np.float32)
    dout = rng.standard_normal((T, B, H)).astype(np.float32)
    x_t = torch.tensor(x, requires_grad=True)
    dout_t = torch.tensor(dout)

    def ours_forward():
        ours_layer.forward(x)

    def theirs_forward():
        theirs_layer(x_t)

    def ours_both():
        ours_layer.forward(x)
        ours_layer.backward(dout)

    def theirs_both():
        out, _ = theirs_layer(x_t)
        out.backward(dout_t)

    flops = 2 * T * B * gates * H * (F + H)
    ceiling = gemm_rate(T * B, F + H, gates * H, repeats)
    rows = []
    for what, ours, theirs, factor in (("forward", ours_forward, theirs_forward, 1),
                                       ("forward+backward", ours_both, theirs_both, 3)):
        a, b = race(ours, theirs, repeats)
        rows.append({"case": what, "cell": cell, "B": B, "T": T, "F": F, "H": H,
                     "tsrnn_ms": a * 1e3, "torch_ms": b * 1e3, "ratio": b / a,
                     "tsrnn_gflops": factor * flops / a / 1e9,
                     "torch_gflops": factor * flops / b / 1e9, "gemm_gflops": ceiling})
    return rows


def step_cases(torch, cell, H, repeats):
    """One streaming step with B=1: the layer's streamer and step, and RNNForecaster.update."""
    cls, _ = CELLS[cell]
    layer = cls(1, H, random_state=0)
    module = getattr(torch.nn, cell.upper())(1, H)
    layer.load_state_dict(module.state_dict())
    x = np.ones((1, 1), np.float32)
    state = layer.step(x)[1]
    streamer = layer.streamer(state)
    x_t = torch.ones((1, 1, 1))
    with torch.no_grad():
        state_t = module(x_t)[1]

    def theirs():
        with torch.no_grad():
            module(x_t, state_t)

    series = np.sin(np.arange(600) / 10.0)
    forecaster = RNNForecaster(cell=cell, hidden_size=H, max_epochs=1, early_stopping=False,
                               random_state=0).fit(series)
    value = np.array([0.5])
    rows = []
    for what, ours in (("step (layer streamer)", lambda: streamer.step(1.0)),
                       ("step (layer.step)", lambda: layer.step(x, state)),
                       ("step (RNNForecaster.update)", lambda: forecaster.update(value))):
        a, b = race(ours, theirs, repeats, calls=100)
        rows.append({"case": what, "cell": cell, "B": 1, "T": 1, "F": 1, "H": H,
                     "tsrnn_ms": a * 1e3, "torch_ms": b * 1e3, "ratio": b / a})
    return rows


def generation_cases(torch, cell, H, repeats, steps=100):
    """Autoregressive generation of ``steps`` values with a linear head, B=1."""
    network = RecurrentNetwork(cell, 1, 0, H, random_state=0)
    module = getattr(torch.nn, cell.upper())(1, H)
    head = torch.nn.Linear(H, 1)
    network.rnn.load_state_dict(module.state_dict())
    network.head.load_state_dict(head.state_dict())
    y = np.zeros((steps, 1, 1), np.float32)
    y[0] = 0.5
    teacher = np.zeros((steps, 1), bool)
    teacher[0] = True

    def ours():
        network.run(y, teacher)

    def theirs():
        with torch.no_grad():
            value, state = torch.full((1, 1, 1), 0.5), None
            for _ in range(steps):
                out, state = module(value, state)
                value = head(out)

    a, b = race(ours, theirs, repeats * 3, calls=3)
    rows = [{"case": f"generate {steps} (kernel)", "cell": cell, "B": 1, "T": steps, "F": 1,
             "H": H, "tsrnn_ms": a * 1e3, "torch_ms": b * 1e3, "ratio": b / a}]
    forecaster = RNNForecaster(cell=cell, hidden_size=H, max_epochs=1, early_stopping=False,
                               random_state=0).fit(np.sin(np.arange(600) / 10.0))
    a, b = race(lambda: forecaster.predict(steps), theirs, repeats * 3, calls=3)
    rows.append({"case": f"generate {steps} (RNNForecaster.predict)", "cell": cell, "B": 1,
                 "T": steps, "F": 1, "H": H, "tsrnn_ms": a * 1e3, "torch_ms": b * 1e3,
                 "ratio": b / a})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a few cases only")
    args = parser.parse_args(argv)
    torch = require_torch()

    sizes = [16, 32, 64, 128, 256] if not args.quick else [32, 128]
    features = [1, 8] if not args.quick else [1]
    records = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        tsrnn.set_num_threads(threads)
        with threadpool_limits(limits=threads, user_api="blas"):
            for cell in CELLS:
                shapes = [(64, 64, F, H) for F in features for H in sizes]
                if not args.quick:
                    shapes += [(1, 64, 1, 64), (256, 64, 1, 64)]
                for B, T, F, H in shapes:
                    print(f"{threads} thread(s): {cell} B={B} T={T} F={F} H={H}", flush=True)
                    rows = layer_cases(torch, cell, B, T, F, H, args.repeats)
                    records += [dict(row, threads=threads) for row in rows]
                for H in (32, 128):
                    rows = step_cases(torch, cell, H, args.repeats)
                    records += [dict(row, threads=threads) for row in rows]
                rows = generation_cases(torch, cell, 64, args.repeats)
                records += [dict(row, threads=threads) for row in rows]
    table = pd.DataFrame(records)
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "kernels.csv", index=False)
    header = (f"tsrnn {tsrnn.__version__} (SIMD: {kernels.SIMD}) against torch {torch.__version__}"
              f" on {platform.machine()}, {time.strftime('%Y-%m-%d')}; float32, medians of "
              f"{args.repeats} (steps: timings of 100 calls; generation: {3 * args.repeats} "
              f"timings of 3 calls); ratio = torch / tsrnn time")
    columns = ["threads", "case", "cell", "B", "T", "F", "H", "tsrnn_ms", "torch_ms", "ratio",
               "tsrnn_gflops", "torch_gflops", "gemm_gflops"]
    text = table[columns].to_string(index=False, float_format=lambda v: f"{v:.3g}",
                                    na_rep="")
    (RESULTS / "kernels.md").write_text(
        "# Kernel speed (written by benchmarks/bench_kernels.py)\n\n" + header
        + "\n\n```\n" + text + "\n```\n")
    print(header)
    print(text)


if __name__ == "__main__":
    main()
