"""Closed-loop network: generation, streaming, and BPTT through fed-back predictions."""

import numpy as np
import pytest

from tsrnn.nn.network import RecurrentNetwork

VARIANTS = [
    ("lstm", {}), ("lstm", {"peephole": True}), ("gru", {}), ("gru", {"reset_after": False}),
    ("rnn", {}), ("rnn", {"nonlinearity": "relu"}),
]
IDS = ["lstm", "lstm-peephole", "gru", "gru-reset-before", "rnn-tanh", "rnn-relu"]


def relative_error(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def random_state(net, batch, rng):
    shape = (net.num_layers, batch, net.hidden_size)
    if net.has_cell_state:
        return rng.standard_normal(shape), rng.standard_normal(shape)
    return rng.standard_normal(shape)


def hidden(state, net):
    return state[0] if net.has_cell_state else state


@pytest.mark.parametrize("cell, options", VARIANTS, ids=IDS)
@pytest.mark.parametrize("num_layers", [1, 2])
def test_teacher_forced_run_equals_layers_and_head(cell, options, num_layers):
    rng = np.random.default_rng(0)
    T, B, D, E, H = 5, 3, 2, 1, 4
    net = RecurrentNetwork(cell, D, E, H, num_layers, dtype=np.float64, random_state=1,
                           **options)
    y, exog = rng.standard_normal((T, B, D)), rng.standard_normal((T, B, E))
    state = random_state(net, B, rng)
    pred, final = net.run(y, np.ones((T, B), bool), exog, state)
    out, layer_final = net.rnn.forward(np.concatenate([y, exog], axis=2), state)
    expected = out @ net.head.params["weight"].T + net.head.params["bias"]
    np.testing.assert_allclose(pred, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hidden(final, net), hidden(layer_final, net), rtol=1e-12)


@pytest.mark.parametrize("cell, options", VARIANTS, ids=IDS)
def test_generation_equals_stepping_layers_by_hand(cell, options):
    """Free-running steps feed each prediction back as the next input, as a Python loop would."""
    rng = np.random.default_rng(1)
    T, B, D, H, L = 7, 2, 1, 5, 2
    net = RecurrentNetwork(cell, D, 0, H, L, dtype=np.float64, random_state=2, **options)
    state = random_state(net, B, rng)
    first = rng.standard_normal((B, D))
    pred, final = net.run(np.zeros((T, B, D)), np.zeros((T, B), bool), state=state,
                          first_pred=first)
    value, manual_state, manual = first, state, []
    for _ in range(T):
        out, manual_state = net.rnn.step(value, manual_state)
        value = net.head.forward(out)
        manual.append(value)
    np.testing.assert_allclose(pred, np.stack(manual), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hidden(final, net), hidden(manual_state, net), rtol=1e-12)


@pytest.mark.parametrize("cell, options", VARIANTS, ids=IDS)
def test_inference_run_equals_cached_run(cell, options):
    rng = np.random.default_rng(2)
    T, B, D, H = 9, 2, 1, 3
    net = RecurrentNetwork(cell, D, 0, H, 2, dtype=np.float64, random_state=3, **options)
    y = rng.standard_normal((T, B, D))
    teacher = rng.random((T, B)) < 0.5
    first = rng.standard_normal((B, D))
    cached, state_a = net.run(y, teacher, first_pred=first, keep_cache=True)
    streamed, state_b = net.run(y, teacher, first_pred=first, keep_cache=False)
    np.testing.assert_array_equal(cached, streamed)
    np.testing.assert_array_equal(hidden(state_a, net), hidden(state_b, net))


def test_run_in_pieces_equals_one_run():
    """Carrying the state across calls (streaming updates) changes nothing."""
    rng = np.random.default_rng(3)
    net = RecurrentNetwork("lstm", 1, 0, 6, 2, dtype=np.float64, random_state=0)
    y = rng.standard_normal((12, 1, 1))
    whole, _ = net.run(y, np.ones((12, 1), bool))
    first, state = net.run(y[:5], np.ones((5, 1), bool))
    second, _ = net.run(y[5:], np.ones((7, 1), bool), state=state)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-13)


@pytest.mark.parametrize("cell, options", VARIANTS, ids=IDS)
@pytest.mark.parametrize("n_exog", [0, 2])
def test_long_inference_run_in_chunks_equals_one_run(monkeypatch, cell, options, n_exog):
    """A run longer than INFERENCE_CHUNK_STEPS goes through the kernel in pieces, each carrying
    the state and the last prediction: bit for bit the one-piece result."""
    import tsrnn.nn.network as network_module

    rng = np.random.default_rng(4)
    T, B, D, H = 23, 3, 2, 4
    net = RecurrentNetwork(cell, D, n_exog, H, 2, dtype=np.float64, random_state=5, **options)
    y = rng.standard_normal((T, B, D))
    teacher = rng.random((T, B)) < 0.3
    exog = rng.standard_normal((T, B, n_exog)) if n_exog else None
    first, state = rng.standard_normal((B, D)), random_state(net, B, rng)
    whole, whole_state = net.run(y, teacher, exog, state, first)
    monkeypatch.setattr(network_module, "INFERENCE_CHUNK_STEPS", 5)
    pieces, pieces_state = net.run(y, teacher, exog, state, first)
    np.testing.assert_array_equal(pieces, whole)
    np.testing.assert_array_equal(hidden(pieces_state, net), hidden(whole_state, net))


def test_a_signal_interrupts_a_long_inference_run_between_chunks(monkeypatch):
    """Ctrl-C during a long forecast: the KeyboardInterrupt comes after the running piece,
    not after the whole run."""
    import os
    import signal

    import tsrnn.nn.network as network_module

    kernel = network_module._closed_loop.closed_loop_forward
    calls, interrupt = [], {"on": False}

    def counted_kernel(*args):
        calls.append(1)
        kernel(*args)
        if interrupt["on"]:
            os.kill(os.getpid(), signal.SIGINT)  # as a user pressing Ctrl-C during this piece

    monkeypatch.setattr(network_module, "INFERENCE_CHUNK_STEPS", 10)
    monkeypatch.setattr(network_module._closed_loop, "closed_loop_forward", counted_kernel)
    net = RecurrentNetwork("gru", 1, 0, 3, 1, dtype=np.float64, random_state=0)
    args = (np.zeros((1000, 1, 1)), np.zeros((1000, 1), bool))
    net.run(*args, first_pred=np.zeros((1, 1)))
    assert len(calls) == 100  # 1,000 steps in pieces of 10
    calls.clear()
    interrupt["on"] = True
    with pytest.raises(KeyboardInterrupt):
        net.run(*args, first_pred=np.zeros((1, 1)))
    assert len(calls) <= 2  # stopped after the piece that was running, not after 100


@pytest.mark.parametrize("cell, options", VARIANTS, ids=IDS)
@pytest.mark.parametrize("num_layers", [1, 3])
def test_gradients_through_fed_back_predictions_match_finite_differences(
        cell, options, num_layers):
    rng = np.random.default_rng(4)
    T, B, D, E, H = 5, 2, 2, 1, 3
    net = RecurrentNetwork(cell, D, E, H, num_layers, dtype=np.float64, random_state=5,
                           **options)
    y, exog = rng.standard_normal((T, B, D)), rng.standard_normal((T, B, E))
    teacher = rng.random((T, B)) < 0.4
    teacher[0, 0] = False  # first_pred is used at least once
    first = rng.standard_normal((B, D))
    state = random_state(net, B, rng)
    masks = [(rng.random((T, B, H)) < 0.7) / 0.7 for _ in range(num_layers - 1)] or None
    weights = rng.standard_normal((T, B, D))

    def loss():
        pred, final = net.run(y, teacher, exog, state, first, keep_cache=True,
                              dropout_masks=masks)
        return np.sum(pred * weights) + 0.5 * np.sum(hidden(final, net) ** 2), final

    _, final = loss()
    dfinal = hidden(final, net)
    dstate = (dfinal, np.zeros_like(dfinal)) if net.has_cell_state else dfinal
    dstate0 = net.backward(weights, dstate)

    def numeric(array):
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            old = array[index]
            array[index] = old + 1e-6
            plus = loss()[0]
            array[index] = old - 1e-6
            minus = loss()[0]
            array[index] = old
            grad[index] = (plus - minus) / 2e-6
        return grad

    for name, value, grad in net.parameters():
        assert relative_error(grad, numeric(value)) < 1e-6, name
    h0 = hidden(state, net)
    assert relative_error(hidden(dstate0, net), numeric(h0)) < 1e-6
    if net.has_cell_state:
        assert relative_error(dstate0[1], numeric(state[1])) < 1e-6


@pytest.mark.parametrize("cell, options", VARIANTS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_wide_batch_equals_its_rows_run_in_small_groups(cell, options, dtype):
    """Rows are independent: 40 rows at once (products through transposed weights) give the
    predictions, final states and summed gradients of the same rows run 4 at a time (dot
    products with the weights themselves)."""
    rng = np.random.default_rng(7)
    T, B, D, E, H, group = 6, 40, 1, 2, 17, 4
    net = RecurrentNetwork(cell, D, E, H, 2, residual=True, dtype=dtype, random_state=8,
                           **options)
    for value in net.head.params.values():  # a residual head starts at zero: make it matter
        value[...] = rng.uniform(-0.5, 0.5, value.shape)
    y = rng.standard_normal((T, B, D)).astype(dtype)
    exog = rng.standard_normal((T, B, E)).astype(dtype)
    teacher = rng.random((T, B)) < 0.5
    teacher[0] = True
    dpred = rng.standard_normal((T, B, D)).astype(dtype)

    def run(rows):
        pred, final = net.run(y[:, rows], teacher[:, rows], exog[:, rows], keep_cache=True)
        net.backward(dpred[:, rows])
        return pred, hidden(final, net), [g.copy() for _, _, g in net.parameters()]

    pred, final, grads = run(slice(None))
    pieces = [run(slice(b, b + group)) for b in range(0, B, group)]
    tolerance = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(pred, np.concatenate([p for p, _, _ in pieces], axis=1),
                               rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(final, np.concatenate([f for _, f, _ in pieces], axis=1),
                               rtol=tolerance, atol=tolerance)
    for k, grad in enumerate(grads):
        total = sum(g[k] for _, _, g in pieces)
        assert relative_error(grad, total) < tolerance * 10


@pytest.mark.parametrize("cell, options", VARIANTS, ids=IDS)
@pytest.mark.parametrize("n_exog", [0, 2])
def test_advance_equals_the_final_state_of_a_teacher_forced_run(cell, options, n_exog):
    """Streaming advances (through a kept streamer) follow run() step for step when each
    continues from the state the previous one returned; a state advance did not return, or
    one it returned but has advanced from already, starts a streamer from its values."""
    rng = np.random.default_rng(9)
    net = RecurrentNetwork(cell, 1, n_exog, 6, 2, dtype=np.float32, random_state=3, **options)
    T = 10
    y = rng.standard_normal((T, 1, 1)).astype(np.float32)
    exog = rng.standard_normal((T, 1, n_exog)).astype(np.float32) if n_exog else None
    _, expected = net.run(y, np.ones((T, 1), bool), exog)
    state = None
    for t in range(0, T, 3):  # pieces of 3, 3, 3, 1 steps
        state = net.advance(y[t:t + 3], None if exog is None else exog[t:t + 3], state)
    np.testing.assert_allclose(hidden(state, net), hidden(expected, net), rtol=1e-5, atol=1e-6)
    pieces = (y[:2], None if exog is None else exog[:2])
    _, from_state = net.run(pieces[0], np.ones((2, 1), bool), pieces[1], state)
    # twice from the same returned state: the second call must not continue the first's
    for _ in range(2):
        again = net.advance(*pieces, state)
        np.testing.assert_allclose(hidden(again, net), hidden(from_state, net), rtol=1e-5,
                                   atol=1e-6)
    other = random_state(net, 1, rng)
    other = tuple(a.astype(np.float32) for a in other) if net.has_cell_state \
        else other.astype(np.float32)
    _, from_other = net.run(pieces[0], np.ones((2, 1), bool), pieces[1], other)
    np.testing.assert_allclose(hidden(net.advance(*pieces, other), net), hidden(from_other, net),
                               rtol=1e-5, atol=1e-6)


def test_advance_checks_its_inputs():
    net = RecurrentNetwork("gru", 1, 1, 4, dtype=np.float32, random_state=0)
    with pytest.raises(ValueError, match="exog"):
        net.advance(np.zeros((2, 1, 1), np.float32))
    with pytest.raises(ValueError, match="expected"):
        net.advance(np.zeros((2, 1, 3), np.float32), np.zeros((2, 1, 1), np.float32))


def test_float32_matches_float64():
    rng = np.random.default_rng(6)
    T, B = 20, 4
    net64 = RecurrentNetwork("gru", 1, 0, 8, 2, dtype=np.float64, random_state=0)
    net32 = RecurrentNetwork("gru", 1, 0, 8, 2, dtype=np.float32, random_state=0)
    net32.load_state_dict(net64.state_dict())
    y = rng.standard_normal((T, B, 1))
    teacher = rng.random((T, B)) < 0.5
    teacher[0] = True
    p64, _ = net64.run(y, teacher, keep_cache=True)
    p32, _ = net32.run(y.astype(np.float32), teacher, keep_cache=True)
    assert relative_error(p32, p64) < 1e-5
    d = rng.standard_normal((T, B, 1))
    net64.backward(d)
    net32.backward(d.astype(np.float32))
    for (name, _, g64), (_, _, g32) in zip(net64.parameters(), net32.parameters()):
        assert relative_error(g32, g64) < 1e-4, name


def test_bad_arguments_raise_before_the_kernel_runs():
    net = RecurrentNetwork("lstm", 1, 1, 4, 2, random_state=0)
    y = np.zeros((3, 2, 1), np.float32)
    exog = np.zeros((3, 2, 1), np.float32)
    ones = np.ones((3, 2), bool)
    with pytest.raises(ValueError, match="teacher"):
        net.run(y, np.ones((2, 2), bool), exog)
    with pytest.raises(ValueError, match="exog"):
        net.run(y, ones)
    with pytest.raises(ValueError, match="exog"):
        net.run(y, ones, np.zeros((3, 2, 2), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        net.run(y.astype(np.float64), ones, exog)
    with pytest.raises(ValueError, match="first_pred"):
        net.run(y, np.zeros((3, 2), bool), exog)
    with pytest.raises(ValueError, match="dropout"):
        net.run(y, ones, exog, dropout_masks=[np.ones((3, 2, 4), np.float32)])
    with pytest.raises(TypeError, match="tuple"):
        net.run(y, ones, exog, state=np.zeros((2, 2, 4), np.float32))
    with pytest.raises(ValueError, match="state"):
        net.run(y, ones, exog, state=(np.zeros((2, 3, 4), np.float32),) * 2)
    with pytest.raises(ValueError, match="forward|run"):
        RecurrentNetwork("gru", 1).backward(np.zeros((3, 2, 1), np.float32))
    net.run(y, ones, exog, keep_cache=True)
    with pytest.raises(ValueError, match="dpred"):
        net.backward(np.zeros((4, 2, 1), np.float32))
    with pytest.raises(ValueError, match="cell"):
        RecurrentNetwork("transformer", 1)


@pytest.mark.parametrize("cell, options", VARIANTS, ids=IDS)
@pytest.mark.parametrize("num_layers", [1, 3])
def test_all_true_inputs_take_the_layer_path_with_exact_gradients(cell, options, num_layers):
    """With every input true the network runs layer by layer; its gradients (with dropout,
    exogenous columns and a residual head) still match finite differences."""
    rng = np.random.default_rng(7)
    T, B, D, E, H = 5, 2, 2, 1, 3
    net = RecurrentNetwork(cell, D, E, H, num_layers, residual=True, dtype=np.float64,
                           random_state=5, **options)
    net.head.reset_parameters(1)  # a non-zero residual head
    y, exog = rng.standard_normal((T, B, D)), rng.standard_normal((T, B, E))
    teacher = np.ones((T, B), bool)
    state = random_state(net, B, rng)
    masks = [(rng.random((T, B, H)) < 0.7) / 0.7 for _ in range(num_layers - 1)] or None
    weights = rng.standard_normal((T, B, D))

    def loss():
        pred, final = net.run(y, teacher, exog, state, keep_cache=True, dropout_masks=masks)
        return np.sum(pred * weights) + 0.5 * np.sum(hidden(final, net) ** 2), final

    _, final = loss()
    assert net._cache["mode"] == "layers"
    dfinal = hidden(final, net)
    dstate = (dfinal, np.zeros_like(dfinal)) if net.has_cell_state else dfinal
    dstate0 = net.backward(weights, dstate)
    for name, value, grad in list(net.parameters()) + [("h0", hidden(state, net), None)]:
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            old = value[index]
            value[index] = old + 1e-6
            plus = loss()[0]
            value[index] = old - 1e-6
            minus = loss()[0]
            value[index] = old
            numeric[index] = (plus - minus) / 2e-6
        analytic = hidden(dstate0, net) if grad is None else grad
        assert relative_error(analytic, numeric) < 1e-6, name


@pytest.mark.parametrize("cell, options", VARIANTS, ids=IDS)
def test_layer_path_and_closed_loop_agree(cell, options):
    """The same window through both paths: one false input at the very end changes nothing
    before it, so predictions and gradients of the other steps agree."""
    rng = np.random.default_rng(8)
    T, B, D, H = 6, 3, 1, 4
    net = RecurrentNetwork(cell, D, 0, H, 2, dtype=np.float64, random_state=2, **options)
    y = rng.standard_normal((T, B, D))
    state = random_state(net, B, rng)
    dpred = rng.standard_normal((T, B, D))
    dpred[-1] = 0
    forced = np.ones((T, B), bool)
    mixed = forced.copy()
    mixed[-1, 0] = False
    results = []
    for teacher in (forced, mixed):
        pred, _ = net.run(y, teacher, state=state, keep_cache=True)
        net.backward(dpred)
        results.append([pred[:-1]] + [g.copy() for _, _, g in net.parameters()])
    for a, b in zip(*results):
        assert relative_error(a, b) < 1e-12


@pytest.mark.parametrize("cell, options", [("lstm", {"peephole": True}),
                                           ("gru", {"reset_after": False}),
                                           ("rnn", {"nonlinearity": "relu"})])
def test_config_round_trips(cell, options):
    net = RecurrentNetwork(cell, 2, 1, 5, 2, residual=True, initial_state="learned",
                           dtype=np.float64, **options)
    config = net.config()
    again = RecurrentNetwork.from_config(config)
    assert again.config() == config
    again.load_state_dict(net.state_dict())
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[name], value)
    with pytest.raises(ValueError, match="keys"):
        RecurrentNetwork.from_config({**config, "extra": 1})
