"""Kernel dispatch: every SIMD build agrees with the baseline, and TSRNN_SIMD selects one."""

import os
import subprocess
import sys

import numpy as np
import pytest

import tsrnn._kernels as kernels
import tsrnn._threads as threads_module
from tsrnn.nn import layers

CELLS = [("lstm", layers.LSTM, {"peephole": True}), ("gru", layers.GRU, {}),
         ("gru", layers.GRU, {"reset_after": False}), ("rnn", layers.RNN, {})]


def run_layer(monkeypatch, name, cls, options, level, dtype, shape):
    monkeypatch.setattr(layers, f"_{name}", kernels.load(name, level))
    rng = np.random.default_rng(0)
    T, B, H = shape
    layer = cls(3, H, num_layers=2, dtype=dtype, random_state=0, **options)
    x = rng.standard_normal((T, B, 3)).astype(dtype)
    out, _ = layer.forward(x)
    dx, _ = layer.backward(rng.standard_normal(out.shape).astype(dtype))
    return [out.copy(), dx.copy()] + [g.copy() for g in layer.grads.values()]


@pytest.mark.parametrize("level", kernels.available())
@pytest.mark.parametrize("name, cls, options", CELLS)
@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 1e-5), (np.float64, 1e-13)])
@pytest.mark.parametrize("shape", [(11, 5, 17), (4, 40, 33)], ids=["narrow", "wide"])
def test_every_simd_build_matches_the_baseline(monkeypatch, level, name, cls, options, dtype,
                                               tolerance, shape):
    """(T, B, H): 5 rows take the dot-product kernels, 40 rows the transposed weights."""
    baseline = run_layer(monkeypatch, name, cls, options, "baseline", dtype, shape)
    other = run_layer(monkeypatch, name, cls, options, level, dtype, shape)
    for a, b in zip(other, baseline):
        assert np.max(np.abs(a - b)) <= tolerance * np.max(np.abs(b))


def test_each_level_loads_its_own_module():
    files = {kernels.load("gru", level).__file__ for level in kernels.available()}
    assert len(files) == len(kernels.available())


def test_the_widest_available_level_is_chosen_by_default():
    assert kernels.SIMD == kernels.available()[-1] or os.environ.get("TSRNN_SIMD")


def _simd_in_subprocess(value, folder):
    # Run outside the checkout: `python -c` puts the working folder first on sys.path, where
    # the uncompiled source tree would shadow the installed package.
    env = dict(os.environ, TSRNN_SIMD=value)
    return subprocess.run([sys.executable, "-c", "import tsrnn._kernels as k; print(k.SIMD)"],
                          env=env, capture_output=True, text=True, cwd=folder)


def test_tsrnn_simd_forces_the_baseline(tmp_path):
    result = _simd_in_subprocess("baseline", tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "baseline"


def test_tsrnn_simd_rejects_an_unknown_level(tmp_path):
    result = _simd_in_subprocess("sse9", tmp_path)
    assert result.returncode != 0 and "TSRNN_SIMD must be one of" in result.stderr


# ------------------------------------------------------------------ OpenMP batch slices
def _layer_results(cls, options, threads, monkeypatch):
    monkeypatch.setattr(threads_module, "MIN_ROWS_PER_THREAD", 1)
    monkeypatch.setattr(threads_module, "MIN_STEP_WORK_PER_THREAD", 1)
    threads_module.set_num_threads(threads)
    try:
        layer = cls(3, 9, num_layers=2, dtype=np.float64, random_state=0, **options)
        rng = np.random.default_rng(1)
        out, _ = layer.forward(rng.standard_normal((7, 5, 3)))
        dx, _ = layer.backward(rng.standard_normal(out.shape))
        return [out.copy(), dx.copy()] + [g.copy() for g in layer.grads.values()]
    finally:
        threads_module.set_num_threads(None)


@pytest.mark.parametrize("name, cls, options", CELLS)
def test_layers_split_over_threads_equal_one_thread(monkeypatch, name, cls, options):
    serial = _layer_results(cls, options, 1, monkeypatch)
    parallel = _layer_results(cls, options, 3, monkeypatch)
    for a, b in zip(parallel, serial):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_closed_loop_split_over_threads_equals_one_thread(monkeypatch, cell):
    from tsrnn.nn.network import RecurrentNetwork

    monkeypatch.setattr(threads_module, "MIN_ROWS_PER_THREAD", 1)
    monkeypatch.setattr(threads_module, "MIN_STEP_WORK_PER_THREAD", 1)
    results = []
    for threads in (1, 2):
        threads_module.set_num_threads(threads)
        net = RecurrentNetwork(cell, 2, 1, 6, 2, residual=True, dtype=np.float64,
                               random_state=0)
        rng = np.random.default_rng(3)
        T, B = 9, 7
        teacher = rng.random((T, B)) < 0.5
        teacher[0] = True
        pred, _ = net.run(rng.standard_normal((T, B, 2)), teacher, rng.standard_normal((T, B, 1)),
                          keep_cache=True, dropout_masks=[rng.random((T, B, 6))])
        net.backward(rng.standard_normal((T, B, 2)))
        results.append([pred] + [g.copy() for _, _, g in net.parameters()])
    threads_module.set_num_threads(None)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_threads_follow_the_batch_and_the_setting():
    threads_module.set_num_threads(2)
    try:
        assert threads_module.threads_for(1) == 1
        assert threads_module.threads_for(2 * threads_module.MIN_ROWS_PER_THREAD) == 2
        assert threads_module.threads_for(10 ** 6) == 2
        step = threads_module.MIN_STEP_WORK_PER_THREAD
        assert threads_module.threads_for(10 ** 6, step_work=step) == 1
        assert threads_module.threads_for(10 ** 6, step_work=2 * step) == 2
    finally:
        threads_module.set_num_threads(None)
    with pytest.raises(ValueError, match="positive integer"):
        threads_module.set_num_threads(0)


# ------------------------------------------------------------------ checks at every entry
def test_a_replaced_parameter_of_the_wrong_shape_is_refused_before_the_kernel_reads_it():
    layer = layers.RNN(1, 64)
    layer.params["weight_hh_l0"] = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match=r"params\['weight_hh_l0'\]"):
        layer.forward(np.ones((3, 1, 1), np.float32))
    with pytest.raises(ValueError, match="weight_hh_l0"):
        layer.streamer()


@pytest.mark.parametrize("bad", [np.zeros((64, 1), np.float64),
                                 np.zeros((1, 128), np.float32)[:, ::2]],
                         ids=["dtype", "strided"])
def test_replaced_parameters_of_another_dtype_or_layout_are_refused(bad):
    layer = layers.GRU(1, 64)
    layer.params["weight_ih_l0"] = bad
    with pytest.raises(ValueError, match="weight_ih_l0"):
        layer.forward(np.ones((3, 1, 1), np.float32))


def test_a_replaced_peephole_view_is_refused():
    layer = layers.LSTM(1, 4, peephole=True)
    layer.params["weight_ci_l0"] = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="weight_ci_l0"):
        layer.forward(np.ones((3, 1, 1), np.float32))


def test_sequence_kernels_check_that_sizes_agree():
    rnn = kernels.load("rnn")
    T, B, F, H = 3, 2, 1, 8
    x = np.ones((T, B, F), np.float32)
    w_ih, w_hh = np.zeros((H, F), np.float32), np.zeros((2, 2), np.float32)
    b = np.zeros(H, np.float32)
    with pytest.raises(ValueError, match=r"w_hh: got shape \(2, 2\), expected \(8, 8\)"):
        rnn.rnn_forward(x, w_ih, w_hh, b, b, False, np.zeros((B, H), np.float32),
                        np.empty((T, B, H), np.float32), np.empty((H, H), np.float32))
    with pytest.raises(ValueError, match="h0"):
        rnn.rnn_forward(x, w_ih, np.zeros((H, H), np.float32), b, b, False,
                        np.zeros((B + 1, H), np.float32), np.empty((T, B, H), np.float32),
                        np.empty((H, H), np.float32))


def test_closed_loop_buffers_are_typed_and_checked():
    closed_loop = kernels.load("closed_loop")
    layer = layers.LSTM(2, 4)
    h0 = np.zeros((1, 3, 4), np.float32)
    buffers = layer.closed_loop_buffers(5, 3, h0, h0.copy(), keep_cache=False)
    with pytest.raises(AttributeError):
        buffers[0].gatez = None  # a misspelt field cannot be set
    code = layer.cell_code
    closed_loop.check_buffers(code, buffers, 5, 3, 4, False, False, np.dtype(np.float32), 2)
    buffers[0].c = np.empty((2, 3, 5), np.float32)
    with pytest.raises(ValueError, match=r"buffer c of layer 0: got \(2, 3, 5\)"):
        closed_loop.check_buffers(code, buffers, 5, 3, 4, False, False, np.dtype(np.float32))
    buffers[0].c = None
    with pytest.raises(ValueError, match="buffer c of layer 0 is missing"):
        closed_loop.Streamer(code, buffers)


def test_closed_loop_forward_checks_its_arguments():
    from tsrnn.nn.network import RecurrentNetwork

    closed_loop = kernels.load("closed_loop")
    net = RecurrentNetwork("gru", 1, hidden_size=4)
    T, B = 4, 2
    h0 = np.zeros((1, B, 4), np.float32)
    buffers = net.rnn.closed_loop_buffers(T, B, h0, None, keep_cache=True)
    y = np.zeros((T, B, 1), np.float32)
    teacher = np.ones((T + 1, B), np.uint8)
    with pytest.raises(ValueError, match="teacher"):
        closed_loop.closed_loop_forward(net.rnn.cell_code, buffers, net.head.params["weight"],
                                        net.head.params["bias"], y, None, teacher,
                                        np.zeros((B, 1), np.float32), True, True,
                                        np.empty((T, B, 1), np.float32))


def test_the_default_thread_count_yields_cores_other_processes_keep_busy(monkeypatch):
    monkeypatch.delenv("TSRNN_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads_module.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(threads_module, "_num_threads", None)
    monkeypatch.setattr(threads_module, "_default_threads", 2)
    monkeypatch.setattr(threads_module, "_default_from_environment", False)
    for elsewhere, expected in ((0.0, 2), (0.2, 2), (0.4, 1), (1.6, 1), (5.0, 1)):
        monkeypatch.setattr(threads_module, "_busy_elsewhere", lambda e=elsewhere: e)
        assert threads_module.threads_for(10 ** 6) == expected, elsewhere
    threads_module.set_num_threads(2)  # an explicit setting is kept whatever the load
    try:
        assert threads_module.threads_for(10 ** 6) == 2
    finally:
        threads_module.set_num_threads(None)


def test_busy_elsewhere_counts_other_processes_not_this_one(monkeypatch):
    """Two samples 0.2 s apart: the system was busy 0.5 CPU-seconds, this process 0.3 of them,
    so others kept 1 core busy; within LOAD_SAMPLE_SECONDS the last figure is reused."""
    clock = {"now": 100.0}
    system = iter([(1000, 0.01), (1050, 0.01)])
    own = iter([5.0, 5.3])
    monkeypatch.setattr(threads_module.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(threads_module, "_system_busy_ticks", lambda: next(system))
    monkeypatch.setattr(threads_module, "_own_cpu_seconds", lambda: next(own))
    monkeypatch.setitem(threads_module._load, "time", None)
    monkeypatch.setitem(threads_module._load, "others", 0.0)
    assert threads_module._busy_elsewhere() == 0.0  # the first sample has no interval yet
    clock["now"] += 0.2
    assert abs(threads_module._busy_elsewhere() - 1.0) < 1e-9
    clock["now"] += 0.05
    assert abs(threads_module._busy_elsewhere() - 1.0) < 1e-9  # reused, no new sample
