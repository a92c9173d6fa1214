"""One epoch of TBPTT training on the ECG: tsrnn against the same loop in PyTorch, and ARIMA.

The loop (both sides): the first 80 % of the ECG (86,400 samples, standardised) cut into 32
contiguous streams trained side by side, TBPTT with k1 = k2 = 100 carrying each stream's state,
a hidden size of 64, a linear head, MSE on the next value, Adam (lr 1e-3) and clipping of the
global gradient norm to 1, teacher forcing. Timings are medians over --repeats epochs after a
warm-up epoch, the two implementations alternating, float32, with the same thread count. Then
statsmodels fits ARIMA(4,0,1) on the same samples (once; it is slow).

Run:  python benchmarks/bench_fit.py [--threads 2] [--repeats 3] [--arima-samples N]
Writes benchmarks/results/fit.csv and fit.md. Needs torch (pip install torch==2.13.0).
"""

import argparse
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

import tsrnn
from tsrnn.datasets import load_ecg
from tsrnn.nn.network import RecurrentNetwork
from tsrnn.training import Trainer, make_lanes

from _peers import require_torch

RESULTS = Path(__file__).resolve().parent / "results"
K, STREAMS, HIDDEN = 100, 32, 64


def tsrnn_epoch(cell, lanes):
    network = RecurrentNetwork(cell, 1, 0, HIDDEN, residual=False, random_state=0)
    trainer = Trainer(network, tbptt=K, learning_rate=1e-3, clip_norm=1.0,
                      rng=np.random.default_rng(0))
    return lambda: trainer.epoch(lanes, 1.0)


def torch_epoch(torch, cell, lane):
    torch.manual_seed(0)
    module = getattr(torch.nn, cell.upper())(1, HIDDEN)
    head = torch.nn.Linear(HIDDEN, 1)
    params = list(module.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3)
    inputs = torch.tensor(lane.y)
    targets = torch.tensor(lane.target)
    weights = torch.tensor(lane.weight)

    def epoch():
        state = None
        for start in range(0, inputs.shape[0], K):
            window = slice(start, start + K)
            out, state = module(inputs[window], state)
            pred = head(out)
            w = weights[window]
            loss = (w * (pred - targets[window]) ** 2).sum() / w.sum()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) \
                else state.detach()

    return epoch


def arima_fit_seconds(values):
    from statsmodels.tsa.arima.model import ARIMA

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ARIMA(values, order=(4, 0, 1)).fit()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--arima-samples", type=int, default=None,
                        help="fit ARIMA on the last N training samples only (default: all)")
    args = parser.parse_args(argv)
    torch = require_torch()

    y = load_ecg().to_numpy()
    train = y[: int(0.8 * len(y))]
    z = ((train - train.mean()) / train.std())[:, None]
    lanes = make_lanes([z], [None], STREAMS, np.float32)
    records = []
    torch.set_num_threads(args.threads)
    tsrnn.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for cell in ("lstm", "gru"):
            ours, theirs = tsrnn_epoch(cell, lanes), torch_epoch(torch, cell, lanes[0])
            ours()
            theirs()
            a, b = [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                ours()
                a.append(time.perf_counter() - start)
                start = time.perf_counter()
                theirs()
                b.append(time.perf_counter() - start)
            a, b = float(np.median(a)), float(np.median(b))
            print(f"{cell}: tsrnn {a:.2f} s, torch {b:.2f} s per epoch", flush=True)
            records.append({"what": f"{cell} epoch", "tsrnn_s": a, "torch_s": b,
                            "ratio": b / a})
        samples = train if args.arima_samples is None else train[-args.arima_samples:]
        print(f"fitting ARIMA(4,0,1) on {len(samples)} samples ...", flush=True)
        seconds = arima_fit_seconds(samples)
        records.append({"what": f"statsmodels ARIMA(4,0,1) fit, {len(samples)} samples",
                        "arima_s": seconds})
    table = pd.DataFrame(records)
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "fit.csv", index=False)
    header = (f"ECG, {len(train)} samples in {STREAMS} streams, TBPTT k={K}, H={HIDDEN}, Adam, "
              f"clipping, float32, {args.threads} thread(s), medians of {args.repeats} epochs; "
              f"tsrnn {tsrnn.__version__}, torch {torch.__version__}, {platform.machine()}, "
              f"{time.strftime('%Y-%m-%d')}")
    text = table.to_string(index=False, float_format=lambda v: f"{v:.3g}", na_rep="")
    (RESULTS / "fit.md").write_text("# Training speed (written by benchmarks/bench_fit.py)\n\n"
                                    + header + "\n\n```\n" + text + "\n```\n")
    print(header)
    print(text)


if __name__ == "__main__":
    main()
