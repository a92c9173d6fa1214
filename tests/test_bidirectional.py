"""Tests of ``bidirectional=True`` in tsrnn.nn.RNN, GRU and LSTM (issue 14, item 1).

Oracles, as in test_layers.py: torch.nn.RNN/GRU/LSTM(bidirectional=True) with the same weights
(outputs, final states, dx, the initial-state gradient and every parameter gradient; relative
1e-8 in float64, 1e-4 in float32; skipped without torch), central finite differences in float64
for every cell, and tsrnn's own unidirectional layers run over the sequence and its reverse.
The worst relative errors are printed in the terminal summary (see conftest.py).
"""
import numpy as np
import pytest
from test_layers import (DTYPES, RTOL, TORCH_VARIANTS, VARIANTS, api, check_finite_differences,
                         compare_all, dtype_id, parts, run_layer, seed_of, shape_id)

from tsrnn.nn import GRU, LSTM, RNN
from tsrnn.nn.network import RecurrentNetwork

# (T, B, F, H, num_layers): 1-3 layers, T = 1 and B = 1 included; B = 12 and H = 17 take the
# kernels' transposed-weight path and vector tails
ORACLE_SHAPES = [(1, 1, 1, 1, 1), (4, 2, 3, 4, 2), (5, 1, 2, 3, 3), (3, 12, 2, 17, 2),
                 (6, 3, 4, 5, 1)]
GRAD_SHAPES = [(1, 1, 2, 2, 1), (3, 2, 2, 3, 1), (4, 1, 3, 2, 2), (2, 2, 2, 2, 3)]
CELLS = [(RNN, {"nonlinearity": "tanh"}), (RNN, {"nonlinearity": "relu"}), (GRU, {}),
         (LSTM, {})]


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def new_layer(variant, F, H, L, dtype, random_state=0, bidirectional=True):
    cls, kwargs, _, _ = VARIANTS[variant]
    return cls(F, H, num_layers=L, dtype=dtype, random_state=random_state,
               bidirectional=bidirectional, **kwargs)


def torch_module(torch, variant, F, H, L, dtype):
    name, kwargs = VARIANTS[variant][3]
    tdtype = torch.float32 if dtype is np.float32 else torch.float64
    return getattr(torch.nn, name)(F, H, num_layers=L, dtype=tdtype, bidirectional=True,
                                   **kwargs)


def random_state(variant, L, B, H, rng, dtype, scale=0.5):
    """A random bidirectional state as a tuple (h,) or (h, c), each (2L, B, H)."""
    n = 2 if VARIANTS[variant][0] is LSTM else 1
    return tuple((rng.normal(size=(2 * L, B, H)) * scale).astype(dtype) for _ in range(n))


def make_problem(variant, shape, dtype, seed):
    """x, initial state, dout (T, B, 2H) and final-state gradient, all random."""
    T, B, F, H, L = shape
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, B, F)).astype(dtype)
    s0 = random_state(variant, L, B, H, rng, dtype)
    dout = rng.normal(size=(T, B, 2 * H)).astype(dtype)
    ds = random_state(variant, L, B, H, rng, dtype, scale=1.0)
    return x, s0, dout, ds


def run_torch(torch, module, x, s0, dout, ds):
    """torch's forward/backward of sum(dout * out) + sum(ds * final state), as numpy."""
    xt = torch.from_numpy(x).requires_grad_()
    if s0 is None:
        st = []
        out, sT = module(xt)
    else:
        st = [torch.from_numpy(a.copy()).requires_grad_() for a in s0]
        out, sT = module(xt, st[0] if len(st) == 1 else tuple(st))
    sT = (sT,) if isinstance(sT, torch.Tensor) else tuple(sT)
    loss = (out * torch.from_numpy(dout)).sum()
    for d, s in zip(ds, sT):
        loss = loss + (s * torch.from_numpy(d)).sum()
    loss.backward()
    grads = {k: p.grad.numpy() for k, p in module.named_parameters()}
    return (out.detach().numpy(), tuple(s.detach().numpy() for s in sT), xt.grad.numpy(),
            tuple(s.grad.numpy() for s in st), grads)


# ------------------------------------------------------------------------------------------------
# against torch.nn(bidirectional=True)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("with_state", [True, False], ids=["state", "no-state"])
@pytest.mark.parametrize("shape", ORACLE_SHAPES, ids=shape_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("variant", TORCH_VARIANTS)
def test_bidirectional_layer_matches_torch(torch, worst_errors, variant, dtype, shape,
                                           with_state):
    T, B, F, H, L = shape
    seed = seed_of("bidirectional torch", variant, dtype_id(dtype), shape)
    torch.manual_seed(seed)
    module = torch_module(torch, variant, F, H, L, dtype)
    layer = new_layer(variant, F, H, L, dtype, random_state=1)
    layer.load_state_dict(module.state_dict())
    x, s0, dout, ds = make_problem(variant, shape, dtype, seed)
    s0 = s0 if with_state else None

    got = run_layer(layer, x, s0, dout, ds)
    assert got[0].shape == (T, B, 2 * H) and got[0].dtype == dtype
    assert got[2].shape == (T, B, F) and got[2].dtype == dtype
    expected = run_torch(torch, module, x, s0, dout, ds)
    compare_all(worst_errors, f"bidirectional vs torch {variant} {dtype_id(dtype)}", got,
                expected, RTOL[dtype])


@pytest.mark.parametrize("variant", TORCH_VARIANTS)
def test_bidirectional_params_have_torch_names_shapes_and_order(torch, variant):
    module = torch_module(torch, variant, 3, 4, 3, np.float32)
    layer = new_layer(variant, 3, 4, 3, np.float32)
    expected = [(k, tuple(v.shape)) for k, v in module.state_dict().items()]
    assert [(k, v.shape) for k, v in layer.state_dict().items()] == expected
    assert layer.params["weight_ih_l1_reverse"].shape == (VARIANTS[variant][2] * 4, 8)


@pytest.mark.parametrize("variant", TORCH_VARIANTS)
def test_bidirectional_state_dict_round_trips_through_torch(torch, variant):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 2, 3))
    # tsrnn -> torch: the same outputs
    source = new_layer(variant, 3, 4, 2, np.float64, random_state=5)
    module = torch_module(torch, variant, 3, 4, 2, np.float64)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in source.state_dict().items()})
    for key, value in module.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), source.params[key], err_msg=key)
    with torch.no_grad():
        expected = module(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(source.forward(x)[0], expected, rtol=1e-12, atol=1e-14)
    # torch -> tsrnn: every value, and the same outputs
    torch.manual_seed(3)
    other = torch_module(torch, variant, 3, 4, 2, np.float64)
    target = new_layer(variant, 3, 4, 2, np.float64, random_state=6)
    target.load_state_dict(other.state_dict())
    for key, value in other.state_dict().items():
        np.testing.assert_array_equal(target.params[key], value.numpy(), err_msg=key)
    with torch.no_grad():
        expected = other(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(target.forward(x)[0], expected, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------------------------------------
# gradients against finite differences (every cell, including those torch lacks)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", GRAD_SHAPES, ids=shape_id)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_bidirectional_gradients_match_central_differences(worst_errors, numgrad, variant,
                                                           shape):
    T, B, F, H, L = shape
    x, s0, dout, ds = make_problem(variant, shape, np.float64,
                                   seed_of("bidirectional fd", variant, shape))
    layer = new_layer(variant, F, H, L, np.float64, random_state=seed_of(variant, shape))
    params = layer.state_dict()
    check_finite_differences(worst_errors, numgrad, layer, params, x, s0, dout, ds,
                             f"bidirectional vs finite differences {variant} float64")
    assert any(name.endswith("_reverse") for name in params)


# ------------------------------------------------------------------------------------------------
# layout: the two directions are unidirectional layers over x and over x reversed in time
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_one_layer_is_a_forward_and_a_time_reversed_unidirectional_layer(variant, dtype):
    T, B, F, H = 5, 3, 2, 4
    layer = new_layer(variant, F, H, 1, dtype, random_state=4)
    x, s0, _, _ = make_problem(variant, (T, B, F, H, 1), dtype, seed=8)
    out, sT = layer.forward(x, api(s0))
    params = layer.state_dict()
    for d in (0, 1):
        single = new_layer(variant, F, H, 1, dtype, bidirectional=False)
        single.load_state_dict({k.replace("_reverse", ""): v for k, v in params.items()
                                if k.endswith("_reverse") == (d == 1)})
        seq = x if d == 0 else np.ascontiguousarray(x[::-1])
        o, s = single.forward(seq, api(tuple(a[d:d + 1] for a in s0)))
        o = o if d == 0 else o[::-1]
        np.testing.assert_array_equal(out[:, :, d * H:(d + 1) * H], o)
        for a, b in zip(parts(sT), parts(s)):
            np.testing.assert_array_equal(a[d:d + 1], b)


@pytest.mark.parametrize("variant", TORCH_VARIANTS)
def test_final_state_rows_are_the_top_layer_outputs_at_either_end(variant):
    layer = new_layer(variant, 2, 3, 2, np.float64)
    x, s0, dout, ds = make_problem(variant, (4, 2, 2, 3, 2), np.float64, seed=9)
    copies = [a.copy() for a in (x, *s0, dout, *ds)]
    out, sT = layer.forward(x, api(s0))
    h = parts(sT)[0]
    assert h.shape == (4, 2, 3)
    np.testing.assert_array_equal(out[-1, :, :3], h[2])   # layer 1 forward ends at t = T-1
    np.testing.assert_array_equal(out[0, :, 3:], h[3])    # layer 1 reverse ends at t = 0
    layer.backward(dout, api(ds))
    for before, after in zip(copies, (x, *s0, dout, *ds)):
        np.testing.assert_array_equal(after, before)


def test_default_is_unidirectional_with_unchanged_names():
    for cls, kwargs in CELLS:
        layer = cls(2, 3, num_layers=2, **kwargs)
        assert layer.bidirectional is False and layer.num_directions == 1
        assert not any(name.endswith("_reverse") for name in layer.params)
        assert layer.params["weight_ih_l1"].shape[1] == 3
        assert "bidirectional" not in repr(layer)
        assert "bidirectional=True" in repr(cls(2, 3, bidirectional=True, **kwargs))


# ------------------------------------------------------------------------------------------------
# refusals and bad arguments
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kwargs", CELLS)
def test_step_and_streamer_refuse_a_bidirectional_layer(cls, kwargs):
    layer = cls(2, 3, bidirectional=True, **kwargs)
    x = np.zeros((1, 2), np.float32)
    with pytest.raises(ValueError, match=r"step\(\).*bidirectional"):
        layer.step(x)
    with pytest.raises(ValueError, match=r"streamer.*bidirectional"):
        layer.streamer()
    with pytest.raises(ValueError, match=r"closed-loop.*bidirectional"):
        layer.closed_loop_buffers(1, 1, *layer.check_state(None, 1), keep_cache=False)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_forecasting_network_refuses_a_bidirectional_layer_config(cell):
    with pytest.raises(ValueError, match=r"bidirectional.*feeds each prediction back"):
        RecurrentNetwork(cell, 1, hidden_size=4, bidirectional=True)
    config = RecurrentNetwork(cell, 1, hidden_size=4).config()
    assert "bidirectional" not in config
    with pytest.raises(ValueError, match=r"bidirectional.*feeds each prediction back"):
        RecurrentNetwork.from_config(dict(config, bidirectional=True))
    with pytest.raises(TypeError, match="bidirectional"):
        RecurrentNetwork(cell, 1, hidden_size=4, bidirectional="no")
    again = RecurrentNetwork.from_config(dict(config, bidirectional=False))
    assert again.config() == config
    pred, _ = again.run(np.zeros((3, 2, 1), np.float32), np.ones((3, 2), bool))
    assert pred.shape == (3, 2, 1)


@pytest.mark.parametrize("bad", ["yes", 1, 0, None, 1.0])
@pytest.mark.parametrize("cls,kwargs", CELLS)
def test_constructor_rejects_a_bidirectional_that_is_not_a_bool(cls, kwargs, bad):
    with pytest.raises((TypeError, ValueError), match="bidirectional"):
        cls(2, 3, bidirectional=bad, **kwargs)


@pytest.mark.parametrize("variant", TORCH_VARIANTS)
def test_bidirectional_layer_rejects_unidirectional_shapes(variant):
    layer = new_layer(variant, 2, 3, 2, np.float32)
    x, s0, dout, _ = make_problem(variant, (4, 2, 2, 3, 2), np.float32, seed=10)
    half = tuple(np.ascontiguousarray(a[::2]) for a in s0)   # (L, B, H): one direction only
    with pytest.raises(ValueError, match=r"(?i)state.*shape|shape.*expected"):
        layer.forward(x, api(half))
    layer.forward(x, api(s0))
    with pytest.raises(ValueError, match=r"dout"):
        layer.backward(np.ascontiguousarray(dout[:, :, :3]))


def test_load_state_dict_names_a_missing_reverse_parameter():
    layer = LSTM(2, 3, num_layers=2, bidirectional=True, dtype=np.float64)
    before = layer.state_dict()
    bad = {k: v + 1.0 for k, v in before.items() if k != "weight_hh_l1_reverse"}
    with pytest.raises(ValueError, match="weight_hh_l1_reverse"):
        layer.load_state_dict(bad)
    unidirectional = LSTM(2, 3, num_layers=2, dtype=np.float64).state_dict()
    with pytest.raises(ValueError, match="_reverse"):
        layer.load_state_dict(unidirectional)
    for key, value in before.items():
        np.testing.assert_array_equal(layer.params[key], value, err_msg=key)
