"""What a user meets first: install time, start-up time, and the kernels on a busy machine.

Run:  python benchmarks/bench_setup.py [--no-install] [--repeats 9] [--quick]
Writes benchmarks/results/setup.md and setup.csv (``--quick``: fewer repeats, no install,
results to the temporary folder).

Protocol:
- *Install*: a fresh clone of this checkout's HEAD in a temporary folder, a fresh virtual
  environment, then the README's commands one after the other, timed: ``pip install .`` and
  ``pip install ".[test]"`` (packages come from the configured index; no build is reused
  between clones, the second command reuses the first's build folder as it would in a
  checkout).
- *Start-up*: wall time of a fresh interpreter running ``import tsrnn``,
  ``from tsrnn import RNNForecaster`` and ``tsrnn --help`` (medians of ``repeats``).
- *A busy machine*: LSTM forward + backward through ``tsrnn.nn.LSTM`` (B=64, T=64, one input
  feature, float32, H=32 and 128), with the default number of kernel threads and with one,
  first on the otherwise idle machine, then with one core kept busy by another process (a
  busy loop); half a second of passes first (as a fit's first batches), then medians of
  ``repeats``, the two thread settings interleaved.
- Streaming latency (``update``/``predict`` per call against ``torch.nn`` one-step calls)
  is ``benchmarks/bench_streaming.py``'s (results/streaming.md).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


# ---------------------------------------------------------------------------------------------
# Install and start-up
# ---------------------------------------------------------------------------------------------
def _timed_run(command, cwd=None, env=None):
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def install_times():
    """Seconds of the README's two install commands in a fresh clone and environment."""
    with tempfile.TemporaryDirectory() as folder:
        clone, venv = Path(folder) / "tsrnn", Path(folder) / "venv"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = str(venv / "bin" / "pip")
        first = _timed_run([pip, "install", "-q", "."], cwd=clone)
        second = _timed_run([pip, "install", "-q", ".[test]"], cwd=clone)
    return {"pip install .": first, 'pip install ".[test]" (after the first)': second}


def startup_times(repeats):
    """Median seconds of a fresh interpreter doing each start-up task."""
    tsrnn_command = str(Path(sys.executable).with_name("tsrnn"))
    tasks = {"import tsrnn": [sys.executable, "-c", "import tsrnn"],
             "from tsrnn import RNNForecaster": [sys.executable, "-c",
                                                 "from tsrnn import RNNForecaster"],
             "tsrnn --help": [tsrnn_command, "--help"],
             "python -c pass (the interpreter alone)": [sys.executable, "-c", "pass"]}
    return {name: float(np.median([_timed_run(cmd, cwd=tempfile.gettempdir())
                                   for _ in range(repeats)]))
            for name, cmd in tasks.items()}


# ---------------------------------------------------------------------------------------------
# Kernels on a busy machine
# ---------------------------------------------------------------------------------------------
def _spin():
    while True:
        pass


def _lstm_pass(layer, x):
    out, _ = layer.forward(x)
    layer.backward(np.ones_like(out))


def _kernel_times(repeats, default_threads):
    """Median ms of one LSTM forward + backward per hidden size, default threads and one."""
    import tsrnn
    from tsrnn.nn import LSTM

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 64, 1)).astype(np.float32)
    out = {}
    for H in (32, 128):
        layer = LSTM(1, H, dtype=np.float32, random_state=0)
        start = time.perf_counter()
        while time.perf_counter() - start < 0.5:  # warm-up: buffers, threads, a load sample
            _lstm_pass(layer, x)
        times = {default_threads: [], 1: []}
        for _ in range(repeats):
            for threads in times:
                # the default is no setting at all (it may then yield busy cores)
                tsrnn.set_num_threads(None if threads == default_threads else threads)
                start = time.perf_counter()
                _lstm_pass(layer, x)
                times[threads].append(1000 * (time.perf_counter() - start))
        tsrnn.set_num_threads(None)
        out[H] = {threads: float(np.median(values)) for threads, values in times.items()}
    return out


def busy_machine(repeats):
    """Kernel times idle and with one core busy; rows for the report."""
    import tsrnn

    default = tsrnn.get_num_threads()
    rows = []
    for state in ("idle", "one core busy"):
        spinner = None
        if state != "idle":
            spinner = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
            spinner.start()
            time.sleep(0.5)
        try:
            times = _kernel_times(repeats, default)
        finally:
            if spinner is not None:
                spinner.terminate()
                spinner.join()
        for H, by_threads in times.items():
            rows.append({"machine": state, "H": H, "default threads": default,
                         "default ms": by_threads[default], "1 thread ms": by_threads[1],
                         "default / 1 thread": by_threads[default] / by_threads[1]})
    return rows


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def write_report(folder, header, installs, startups, kernels):
    lines = ["# Install, start-up and a busy machine (written by benchmarks/bench_setup.py)",
             "", header, "", "See the script's docstring for the protocol.", ""]
    if installs:
        lines += ["## Install (fresh clone, fresh virtual environment)", ""]
        lines += [f"- `{name}`: {seconds:.1f} s" for name, seconds in installs.items()] + [""]
    lines += ["## Start-up (fresh interpreter, medians)", ""]
    lines += [f"- `{name}`: {seconds:.3f} s" for name, seconds in startups.items()] + [""]
    table = pd.DataFrame(kernels)
    lines += ["## LSTM forward + backward (B=64, T=64, float32): default threads against one",
              "", "```", table.to_string(index=False, float_format=lambda v: f"{v:.2f}"),
              "```", ""]
    (folder / "setup.md").write_text("\n".join(lines))
    rows = ([{"kind": "install", "what": k, "seconds": v} for k, v in installs.items()]
            + [{"kind": "start-up", "what": k, "seconds": v} for k, v in startups.items()]
            + [{"kind": "kernels", **row} for row in kernels])
    pd.DataFrame(rows).to_csv(folder / "setup.csv", index=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-install", action="store_true", help="skip the install timing")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    installs = {} if args.no_install or args.quick else install_times()
    startups = startup_times(repeats)
    kernels = busy_machine(repeats)
    folder = Path(tempfile.gettempdir()) if args.quick else RESULTS
    import tsrnn

    header = (f"tsrnn {tsrnn.__version__} on {platform.machine()}, {os.cpu_count()} CPUs, "
              f"{time.strftime('%Y-%m-%d')}; {repeats} repeats"
              f"{'; QUICK SMOKE TEST, not results' if args.quick else ''}")
    write_report(folder, header, installs, startups, kernels)
    print((folder / "setup.md").read_text())


if __name__ == "__main__":
    sys.exit(main())
