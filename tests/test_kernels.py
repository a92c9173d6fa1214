"""Kernel dispatch: every SIMD build agrees with the baseline, and TSRNN_SIMD selects one."""

import os
import subprocess
import sys

import numpy as np
import pytest

import tsrnn._kernels as kernels
from tsrnn.nn import layers

CELLS = [("lstm", layers.LSTM, {"peephole": True}), ("gru", layers.GRU, {}),
         ("gru", layers.GRU, {"reset_after": False}), ("rnn", layers.RNN, {})]


def run_layer(monkeypatch, name, cls, options, level, dtype):
    monkeypatch.setattr(layers, f"_{name}", kernels.load(name, level))
    rng = np.random.default_rng(0)
    layer = cls(3, 17, num_layers=2, dtype=dtype, random_state=0, **options)
    x = rng.standard_normal((11, 5, 3)).astype(dtype)
    out, _ = layer.forward(x)
    dx, _ = layer.backward(rng.standard_normal(out.shape).astype(dtype))
    return [out.copy(), dx.copy()] + [g.copy() for g in layer.grads.values()]


@pytest.mark.parametrize("level", kernels.available())
@pytest.mark.parametrize("name, cls, options", CELLS)
@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 1e-5), (np.float64, 1e-13)])
def test_every_simd_build_matches_the_baseline(monkeypatch, level, name, cls, options, dtype,
                                               tolerance):
    baseline = run_layer(monkeypatch, name, cls, options, "baseline", dtype)
    other = run_layer(monkeypatch, name, cls, options, level, dtype)
    for a, b in zip(other, baseline):
        assert np.max(np.abs(a - b)) <= tolerance * np.max(np.abs(b))


def test_each_level_loads_its_own_module():
    files = {kernels.load("gru", level).__file__ for level in kernels.available()}
    assert len(files) == len(kernels.available())


def test_the_widest_available_level_is_chosen_by_default():
    assert kernels.SIMD == kernels.available()[-1] or os.environ.get("TSRNN_SIMD")


def _simd_in_subprocess(value):
    env = dict(os.environ, TSRNN_SIMD=value)
    return subprocess.run([sys.executable, "-c", "import tsrnn._kernels as k; print(k.SIMD)"],
                          env=env, capture_output=True, text=True)


def test_tsrnn_simd_forces_the_baseline():
    result = _simd_in_subprocess("baseline")
    assert result.returncode == 0 and result.stdout.strip() == "baseline"


def test_tsrnn_simd_rejects_an_unknown_level():
    result = _simd_in_subprocess("sse9")
    assert result.returncode != 0 and "TSRNN_SIMD must be one of" in result.stderr
