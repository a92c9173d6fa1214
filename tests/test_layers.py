"""Tests of the RNN, GRU and LSTM layers of tsrnn.nn.

The layers are held to three oracles that share no code with them:

* central finite differences in float64, for every cell and variant (gradients are consistent
  with the forward pass);
* torch.nn.RNN/GRU/LSTM, for the variants PyTorch has (skipped when torch is not installed):
  forward output, final state, dx, the initial-state gradient and every parameter gradient, in
  float64 (relative 1e-8) and float32 (relative 1e-4);
* tsrnn.nn.reference, the plain-NumPy cells, stacked here layer by layer, for every variant and in
  particular the two PyTorch lacks (peephole LSTM, reset-before GRU).

The relative error of an array is max|a - b| / max|b|; the worst figure per comparison is printed
in the terminal summary (see conftest.py).
"""
import zlib

import numpy as np
import pytest

from tsrnn.nn import GRU, LSTM, RNN
from tsrnn.nn import reference as ref

# variant -> layer class, its keyword arguments, gates per unit, torch.nn class name and kwargs
VARIANTS = {
    "rnn_tanh": (RNN, {"nonlinearity": "tanh"}, 1, ("RNN", {"nonlinearity": "tanh"})),
    "rnn_relu": (RNN, {"nonlinearity": "relu"}, 1, ("RNN", {"nonlinearity": "relu"})),
    "gru": (GRU, {}, 3, ("GRU", {})),
    "gru_reset_before": (GRU, {"reset_after": False}, 3, None),
    "lstm": (LSTM, {}, 4, ("LSTM", {})),
    "lstm_peephole": (LSTM, {"peephole": True}, 4, None),
}
TORCH_VARIANTS = [v for v, spec in VARIANTS.items() if spec[3] is not None]
DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-4, np.float64: 1e-8}
PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
PEEPHOLES = ("weight_ci", "weight_cf", "weight_co")

# (T, B, F, H, num_layers); every list has T=1, B=1 and 1-3 layers
GRAD_SHAPES = [(1, 1, 1, 1, 1), (1, 1, 2, 2, 3), (3, 2, 2, 3, 1), (4, 1, 3, 2, 2), (2, 3, 2, 2, 3)]
ORACLE_SHAPES = [(1, 1, 1, 1, 1), (1, 2, 3, 4, 2), (5, 1, 2, 3, 1), (4, 3, 3, 5, 3),
                 (6, 2, 4, 3, 2)]
# Wider shapes take the kernels' other product paths: more than 8 rows (per thread) multiply by
# the transposed recurrent weight, 16 or more units fill whole vector tiles, H = 17 and 33
# leave tails, F = 1 and 8 choose between hand-written and BLAS weight gradients, and from 24
# rows with W_hh^T rows 2 KB apart (G*H >= 512) the products copy panels of it first.
WIDE_SHAPES = [(3, 12, 1, 17, 1), (2, 40, 8, 33, 2), (2, 70, 1, 16, 1), (2, 60, 1, 180, 1),
               (2, 52, 1, 520, 1)]
ORACLE_SHAPES += WIDE_SHAPES


def shape_id(s):
    return "T{}-B{}-F{}-H{}-L{}".format(*s)


def dtype_id(d):
    return np.dtype(d).name


def seed_of(*parts):
    """A deterministic seed from repr-able labels."""
    return zlib.crc32(repr(parts).encode())


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def is_lstm(variant):
    return VARIANTS[variant][0] is LSTM


def param_shapes(variant, F, H, L):
    """The state-dict names and shapes a layer must have, in torch's order."""
    G = VARIANTS[variant][2]
    shapes = {}
    for k in range(L):
        Fk = F if k == 0 else H
        shapes[f"weight_ih_l{k}"] = (G * H, Fk)
        shapes[f"weight_hh_l{k}"] = (G * H, H)
        shapes[f"bias_ih_l{k}"] = (G * H,)
        shapes[f"bias_hh_l{k}"] = (G * H,)
        if variant == "lstm_peephole":
            for name in PEEPHOLES:
                shapes[f"{name}_l{k}"] = (H,)
    return shapes


def new_layer(variant, F, H, L, dtype, random_state=0):
    cls, kwargs, _, _ = VARIANTS[variant]
    return cls(F, H, num_layers=L, dtype=dtype, random_state=random_state, **kwargs)


def random_params(variant, F, H, L, rng, dtype, scale=0.5):
    return {k: (rng.normal(size=s) * scale).astype(dtype)
            for k, s in param_shapes(variant, F, H, L).items()}


def random_state(variant, L, B, H, rng, dtype, scale=0.5):
    """A random state as a tuple of arrays: (h,) or (h, c), each (L, B, H)."""
    n = 2 if is_lstm(variant) else 1
    return tuple((rng.normal(size=(L, B, H)) * scale).astype(dtype) for _ in range(n))


def api(state):
    """Tuple-of-arrays state -> the layer's structure (h, or the tuple (h, c))."""
    return state[0] if len(state) == 1 else tuple(state)


def parts(state):
    """The layer's state structure -> a tuple of arrays."""
    return (state,) if isinstance(state, np.ndarray) else tuple(state)


def make_problem(variant, shape, dtype, seed):
    """Layer with random parameters, and random x, initial state, dout and final-state gradient."""
    T, B, F, H, L = shape
    rng = np.random.default_rng(seed)
    params = random_params(variant, F, H, L, rng, dtype)
    layer = new_layer(variant, F, H, L, dtype)
    layer.load_state_dict(params)
    x = rng.normal(size=(T, B, F)).astype(dtype)
    s0 = random_state(variant, L, B, H, rng, dtype)
    dout = rng.normal(size=(T, B, H)).astype(dtype)
    ds = random_state(variant, L, B, H, rng, dtype, scale=1.0)
    return layer, params, x, s0, dout, ds


def run_layer(layer, x, s0, dout, ds):
    """forward then backward; returns copies of out, final state, dx, dstate0, grads (s0
    None: no initial state, and no gradient on it)."""
    out, sT = layer.forward(x, None if s0 is None else api(s0))
    out, sT = np.array(out), tuple(np.array(a) for a in parts(sT))
    dx, ds0 = layer.backward(dout, api(ds))
    ds0 = () if s0 is None else tuple(np.array(a) for a in parts(ds0))
    grads = {k: np.array(v) for k, v in layer.grads.items()}
    return out, sT, np.array(dx), ds0, grads


def run_reference(variant, params, x, s0, dout, ds):
    """The reference cells stacked: each layer's output sequence is the next layer's input."""
    _, kwargs, _, _ = VARIANTS[variant]
    L = s0[0].shape[0]
    inp, caches, final = x, [], [[] for _ in s0]
    for k in range(L):
        p = [params[f"{n}_l{k}"] for n in PARAMS]
        if VARIANTS[variant][0] is RNN:
            inp, cache = ref.rnn_forward(inp, s0[0][k], *p, **kwargs)
            final[0].append(inp[-1])
        elif VARIANTS[variant][0] is GRU:
            inp, cache = ref.gru_forward(inp, s0[0][k], *p, **kwargs)
            final[0].append(inp[-1])
        else:
            peep = {n: params[f"{n}_l{k}"] for n in PEEPHOLES if f"{n}_l{k}" in params}
            inp, (h, c), cache = ref.lstm_forward(inp, s0[0][k], s0[1][k], *p, **peep)
            final[0].append(h)
            final[1].append(c)
        caches.append(cache)
    out = inp
    d, grads, ds0 = dout, {}, [[None] * L for _ in s0]
    for k in range(L - 1, -1, -1):
        if is_lstm(variant):
            d, ds0[0][k], ds0[1][k], g = ref.lstm_backward(d, ds[0][k], ds[1][k], caches[k])
        elif VARIANTS[variant][0] is RNN:
            d, ds0[0][k], g = ref.rnn_backward(d, ds[0][k], caches[k])
        else:
            d, ds0[0][k], g = ref.gru_backward(d, ds[0][k], caches[k])
        grads.update({f"{n}_l{k}": v for n, v in g.items()})
    return (out, tuple(np.stack(f) for f in final), d,
            tuple(np.stack(a) for a in ds0), grads)


def compare_all(worst_errors, label, got, expected, rtol):
    """Compare (out, final state, dx, dstate0, grads) tuples quantity by quantity."""
    out, sT, dx, ds0, grads = got
    e_out, e_sT, e_dx, e_ds0, e_grads = expected
    worst_errors.check(label, "out", out, e_out, rtol)
    for name, a, b in zip(("h_T", "c_T"), sT, e_sT):
        worst_errors.check(label, f"final {name}", a, b, rtol)
    worst_errors.check(label, "dx", dx, e_dx, rtol)
    assert len(ds0) == len(e_ds0), "dstate0 has the wrong structure"
    for name, a, b in zip(("dh0", "dc0"), ds0, e_ds0):
        worst_errors.check(label, name, a, b, rtol)
    assert set(grads) == set(e_grads)
    for name in e_grads:
        worst_errors.check(label, f"grad {name}", grads[name], e_grads[name], rtol)


# ------------------------------------------------------------------------------------------------
# parameters, initialisation, state dicts
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_params_have_torch_names_shapes_and_layer_dtype(variant, dtype):
    layer = new_layer(variant, 3, 4, 2, dtype)
    expected = param_shapes(variant, 3, 4, 2)
    assert set(layer.params) == set(expected)
    for name, shape in expected.items():
        assert layer.params[name].shape == shape, name
        assert layer.params[name].dtype == dtype, name
    assert set(layer.state_dict()) == set(expected)


@pytest.mark.parametrize("variant", TORCH_VARIANTS)
def test_params_names_and_shapes_equal_torch_state_dict(torch, variant):
    name, kwargs = VARIANTS[variant][3]
    module = getattr(torch.nn, name)(3, 4, num_layers=3, **kwargs)
    layer = new_layer(variant, 3, 4, 3, np.float32)
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    assert {k: v.shape for k, v in layer.params.items()} == expected


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_default_init_is_uniform_within_one_over_sqrt_hidden(variant):
    H = 16
    layer = new_layer(variant, 8, H, 2, np.float64, random_state=3)
    bound = 1.0 / np.sqrt(H)
    for name, value in layer.params.items():
        assert np.all(np.abs(value) <= bound), name
        if name.startswith(("weight_ih", "weight_hh")):
            # U(-b, b): spread up to the bound, mean 0, std b/sqrt(3)
            assert np.max(np.abs(value)) > 0.9 * bound, name
            assert abs(value.mean()) < 0.25 * bound, name
            assert abs(value.std() - bound / np.sqrt(3)) < 0.1 * bound, name


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_random_state_makes_init_reproducible(variant):
    a = new_layer(variant, 3, 4, 2, np.float64, random_state=7)
    b = new_layer(variant, 3, 4, 2, np.float64, random_state=7)
    c = new_layer(variant, 3, 4, 2, np.float64, random_state=8)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name], err_msg=name)
    assert any(not np.array_equal(a.params[n], c.params[n]) for n in a.params)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_load_state_dict_accepts_lists_and_state_dict_returns_the_values(variant):
    rng = np.random.default_rng(1)
    params = random_params(variant, 2, 3, 2, rng, np.float64)
    layer = new_layer(variant, 2, 3, 2, np.float64)
    layer.load_state_dict({k: v.tolist() for k, v in params.items()})
    sd = layer.state_dict()
    assert set(sd) == set(params)
    for name, value in params.items():
        np.testing.assert_array_equal(np.asarray(sd[name]), value, err_msg=name)
        np.testing.assert_array_equal(layer.params[name], value, err_msg=name)


def _snapshot(layer):
    return {k: np.array(v) for k, v in layer.params.items()}


def _assert_unchanged(layer, snapshot):
    assert set(layer.params) == set(snapshot)
    for k, v in snapshot.items():
        np.testing.assert_array_equal(layer.params[k], v, err_msg=f"{k} changed by a failed load")


@pytest.mark.parametrize("variant", ["rnn_tanh", "gru", "lstm", "lstm_peephole"])
def test_load_state_dict_rejects_unknown_key_naming_it_and_changes_nothing(variant):
    layer = new_layer(variant, 2, 3, 2, np.float64)
    before = _snapshot(layer)
    bad = {k: v + 1.0 for k, v in before.items()}
    bad["weight_xx_l0"] = np.zeros(3)
    with pytest.raises(ValueError, match="weight_xx_l0"):
        layer.load_state_dict(bad)
    _assert_unchanged(layer, before)
    bad = {k: v + 1.0 for k, v in before.items()}
    bad["weight_ih_l2"] = np.zeros_like(before["weight_ih_l1"])  # a layer that does not exist
    with pytest.raises(ValueError, match="weight_ih_l2"):
        layer.load_state_dict(bad)
    _assert_unchanged(layer, before)


def test_load_state_dict_rejects_peephole_keys_on_a_plain_lstm():
    layer = new_layer("lstm", 2, 3, 1, np.float64)
    before = _snapshot(layer)
    bad = {k: v + 1.0 for k, v in before.items()}
    bad["weight_ci_l0"] = np.zeros(3)
    with pytest.raises(ValueError, match="weight_ci_l0"):
        layer.load_state_dict(bad)
    _assert_unchanged(layer, before)


@pytest.mark.parametrize("variant,missing", [
    ("rnn_tanh", "bias_hh_l1"), ("gru", "weight_hh_l0"), ("lstm", "bias_ih_l1"),
    ("lstm_peephole", "weight_co_l1"),
])
def test_load_state_dict_rejects_missing_key_naming_it_and_changes_nothing(variant, missing):
    layer = new_layer(variant, 2, 3, 2, np.float64)
    before = _snapshot(layer)
    bad = {k: v + 1.0 for k, v in before.items() if k != missing}
    with pytest.raises(ValueError, match=missing):
        layer.load_state_dict(bad)
    _assert_unchanged(layer, before)


@pytest.mark.parametrize("variant,key,shape", [
    ("rnn_relu", "weight_ih_l1", (1, 3)), ("gru", "weight_hh_l1", (9, 2)),
    ("gru", "bias_ih_l0", (9, 1)), ("lstm", "weight_ih_l0", (12, 3)),
    ("lstm_peephole", "weight_cf_l1", (4,)),
])
def test_load_state_dict_rejects_mis_shaped_key_naming_it_and_changes_nothing(variant, key, shape):
    layer = new_layer(variant, 2, 3, 2, np.float64)
    before = _snapshot(layer)
    bad = {k: v + 1.0 for k, v in before.items() if k != key}
    bad[key] = np.zeros(shape)  # last, so a load that writes as it goes would show
    with pytest.raises(ValueError, match=key):
        layer.load_state_dict(bad)
    _assert_unchanged(layer, before)


@pytest.mark.parametrize("variant", TORCH_VARIANTS)
def test_state_dict_round_trips_through_torch(torch, variant):
    name, kwargs = VARIANTS[variant][3]
    source = new_layer(variant, 3, 4, 2, np.float64, random_state=5)
    module = getattr(torch.nn, name)(3, 4, num_layers=2, dtype=torch.float64, **kwargs)
    module.load_state_dict({k: torch.from_numpy(np.array(v))
                            for k, v in source.state_dict().items()})
    target = new_layer(variant, 3, 4, 2, np.float64, random_state=6)
    target.load_state_dict(module.state_dict())
    for key, value in source.params.items():
        np.testing.assert_array_equal(target.params[key], value, err_msg=key)
    x = np.random.default_rng(0).normal(size=(3, 2, 3))
    np.testing.assert_array_equal(target.forward(x)[0], source.forward(x)[0])


# ------------------------------------------------------------------------------------------------
# gradients against finite differences
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", GRAD_SHAPES, ids=shape_id)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_layer_gradients_match_central_differences(worst_errors, numgrad, variant, shape):
    layer, params, x, s0, dout, ds = make_problem(variant, shape, np.float64,
                                                  seed_of("fd", variant, shape))
    check_finite_differences(worst_errors, numgrad, layer, params, x, s0, dout, ds,
                             f"layers vs finite differences {variant} float64")


def check_finite_differences(worst_errors, numgrad, layer, params, x, s0, dout, ds, label):
    """Every gradient of ``layer`` (dx, the initial state's, each parameter's) against
    central differences of sum(dout * out) + sum(dstate * final state); returns the
    parameter gradients."""
    _, _, dx, ds0, grads = run_layer(layer, x, s0, dout, ds)

    def loss():
        # reads the perturbed arrays
        layer.load_state_dict(params)
        out, sT = layer.forward(x, api(s0))
        return float(np.sum(dout * out) + sum(np.sum(d * s) for d, s in zip(ds, parts(sT))))

    worst_errors.check(label, "dx", dx, numgrad(loss, x), 1e-6)
    for name, arr, analytic in zip(("dh0", "dc0"), s0, ds0):
        worst_errors.check(label, name, analytic, numgrad(loss, arr), 1e-6)
    assert set(grads) == set(params)
    for name in params:
        worst_errors.check(label, f"grad {name}", grads[name], numgrad(loss, params[name]), 1e-6)
    return grads


# ------------------------------------------------------------------------------------------------
# against torch.nn
# ------------------------------------------------------------------------------------------------
def run_torch(torch, module, x, s0, dout, ds):
    """torch forward/backward of sum(dout*out) + sum(ds*final state); numpy results."""
    xt = torch.from_numpy(x).requires_grad_()
    st = [torch.from_numpy(a.copy()).requires_grad_() for a in s0]
    out, sT = module(xt, st[0] if len(st) == 1 else tuple(st))
    sT = (sT,) if len(st) == 1 else tuple(sT)
    loss = (out * torch.from_numpy(dout)).sum()
    for d, s in zip(ds, sT):
        loss = loss + (s * torch.from_numpy(d)).sum()
    loss.backward()
    grads = {k: p.grad.numpy() for k, p in module.named_parameters()}
    return (out.detach().numpy(), tuple(s.detach().numpy() for s in sT), xt.grad.numpy(),
            tuple(s.grad.numpy() for s in st), grads)


@pytest.mark.parametrize("shape", ORACLE_SHAPES, ids=shape_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("variant", TORCH_VARIANTS)
def test_layer_matches_torch(torch, worst_errors, variant, dtype, shape):
    T, B, F, H, L = shape
    seed = seed_of("torch", variant, dtype_id(dtype), shape)
    torch.manual_seed(seed)
    name, kwargs = VARIANTS[variant][3]
    tdtype = torch.float32 if dtype is np.float32 else torch.float64
    module = getattr(torch.nn, name)(F, H, num_layers=L, dtype=tdtype, **kwargs)
    layer = new_layer(variant, F, H, L, dtype, random_state=1)
    layer.load_state_dict(module.state_dict())

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, B, F)).astype(dtype)
    s0 = random_state(variant, L, B, H, rng, dtype)
    dout = rng.normal(size=(T, B, H)).astype(dtype)
    ds = random_state(variant, L, B, H, rng, dtype, scale=1.0)

    got = run_layer(layer, x, s0, dout, ds)
    assert got[0].dtype == dtype and got[2].dtype == dtype
    expected = run_torch(torch, module, x, s0, dout, ds)
    compare_all(worst_errors, f"layers vs torch {variant} {dtype_id(dtype)}", got, expected,
                RTOL[dtype])


# ------------------------------------------------------------------------------------------------
# against the NumPy reference (all variants; the only oracle for peephole and reset-before)
# ------------------------------------------------------------------------------------------------
REFERENCE_SHAPES = [(1, 1, 1, 1, 1), (3, 2, 3, 4, 2), (5, 1, 2, 3, 3), (2, 4, 2, 2, 1)]
REFERENCE_SHAPES += WIDE_SHAPES


@pytest.mark.parametrize("shape", REFERENCE_SHAPES, ids=shape_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_layer_matches_numpy_reference(worst_errors, variant, dtype, shape):
    layer, params, x, s0, dout, ds = make_problem(variant, shape, dtype,
                                                  seed_of("ref", variant, dtype_id(dtype), shape))
    got = run_layer(layer, x, s0, dout, ds)
    # the reference computes in float64 from exactly the same (possibly float32) values
    expected = run_reference(variant, params, x, s0, dout, ds)
    compare_all(worst_errors, f"layers vs reference {variant} {dtype_id(dtype)}", got, expected,
                RTOL[dtype])


# ------------------------------------------------------------------------------------------------
# forward/backward conventions
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_forward_returns_layer_dtype_and_last_output_is_final_top_state(variant, dtype):
    layer, _, x, s0, _, _ = make_problem(variant, (4, 2, 3, 3, 2), dtype, seed=1)
    out, sT = layer.forward(x, api(s0))
    assert out.shape == (4, 2, 3) and out.dtype == dtype
    assert len(parts(sT)) == len(s0)
    for a in parts(sT):
        assert a.shape == (2, 2, 3) and a.dtype == dtype
    np.testing.assert_array_equal(out[-1], parts(sT)[0][-1])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_forward_and_backward_leave_inputs_untouched(variant):
    layer, _, x, s0, dout, ds = make_problem(variant, (3, 2, 2, 3, 2), np.float64, seed=2)
    copies = [a.copy() for a in (x, *s0, dout, *ds)]
    run_layer(layer, x, s0, dout, ds)
    for before, after in zip(copies, (x, *s0, dout, *ds)):
        np.testing.assert_array_equal(after, before)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_none_state_means_zeros_and_none_dstate_means_zero_gradient(variant):
    layer, _, x, s0, dout, _ = make_problem(variant, (3, 2, 2, 3, 2), np.float64, seed=3)
    zeros = tuple(np.zeros_like(a) for a in s0)
    out_none, s_none = layer.forward(x)
    dx_none, ds_none = layer.backward(dout)
    out_zero, s_zero = layer.forward(x, api(zeros))
    dx_zero, ds_zero = layer.backward(dout, api(zeros))
    np.testing.assert_array_equal(out_none, out_zero)
    for a, b in zip(parts(s_none), parts(s_zero)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dx_none, dx_zero)
    for a, b in zip(parts(ds_none), parts(ds_zero)):
        np.testing.assert_array_equal(a, b)
    assert len(parts(ds_none)) == len(s0)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_backward_overwrites_grads_instead_of_accumulating(variant):
    layer, _, x, s0, dout, ds = make_problem(variant, (3, 2, 2, 3, 2), np.float64, seed=8)
    first = run_layer(layer, x, s0, dout, ds)[4]
    layer.backward(dout, api(ds))  # the same forward, back-propagated a second time
    for name, value in first.items():
        np.testing.assert_array_equal(layer.grads[name], value, err_msg=name)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_backward_is_unaffected_by_caller_changing_x_or_state_after_forward(variant):
    # backward back-propagates the last forward, whatever the caller does with its arrays
    layer, _, x, s0, dout, ds = make_problem(variant, (3, 2, 2, 3, 2), np.float64, seed=9)
    expected = run_layer(layer, x, s0, dout, ds)
    layer.forward(x, api(s0))
    x[...] = 0.5
    for a in s0:
        a[...] = -0.5
    got = layer.backward(dout, api(ds))
    np.testing.assert_array_equal(got[0], expected[2], err_msg="dx")
    for name, value in expected[4].items():
        np.testing.assert_array_equal(layer.grads[name], value, err_msg=name)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_backward_is_unaffected_by_caller_writing_into_forward_results(variant):
    layer, _, x, s0, dout, ds = make_problem(variant, (3, 2, 2, 3, 2), np.float64, seed=10)
    expected = run_layer(layer, x, s0, dout, ds)
    out, sT = layer.forward(x, api(s0))
    for a in (out, *parts(sT)):
        try:
            a[...] = 0.0
        except ValueError:  # read-only views are a fine way to protect the cache
            pass
    got = layer.backward(dout, api(ds))
    np.testing.assert_array_equal(got[0], expected[2], err_msg="dx")
    for name, value in expected[4].items():
        np.testing.assert_array_equal(layer.grads[name], value, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_grads_have_param_keys_shapes_and_dtype(variant, dtype):
    layer, params, x, s0, dout, ds = make_problem(variant, (2, 2, 3, 2, 2), dtype, seed=4)
    layer.forward(x, api(s0))
    layer.backward(dout, api(ds))
    assert set(layer.grads) == set(params)
    for name, value in params.items():
        assert layer.grads[name].shape == value.shape, name
        assert layer.grads[name].dtype == dtype, name


# ------------------------------------------------------------------------------------------------
# step (streaming)
# ------------------------------------------------------------------------------------------------
STEP_TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_step_equals_forward_of_length_one(variant, dtype):
    layer, _, x, s0, _, _ = make_problem(variant, (1, 3, 2, 4, 2), dtype, seed=5)
    for state in (api(s0), None):
        out_f, s_f = layer.forward(x, state)
        out_s, s_s = layer.step(x[0], state)
        assert out_s.shape == (3, 4) and out_s.dtype == dtype
        np.testing.assert_allclose(out_s, out_f[0], **STEP_TOL[dtype])
        assert len(parts(s_s)) == len(parts(s_f))
        for a, b in zip(parts(s_s), parts(s_f)):
            np.testing.assert_allclose(a, b, **STEP_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_repeated_steps_equal_forward_over_the_sequence(variant, dtype):
    layer, _, x, s0, _, _ = make_problem(variant, (6, 2, 3, 3, 3), dtype, seed=6)
    out_f, s_f = layer.forward(x, api(s0))
    state, outs = api(s0), []
    for t in range(x.shape[0]):
        o, state = layer.step(x[t], state)
        outs.append(o)
    np.testing.assert_allclose(np.stack(outs), out_f, **STEP_TOL[dtype])
    for a, b in zip(parts(state), parts(s_f)):
        np.testing.assert_allclose(a, b, **STEP_TOL[dtype])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_step_does_not_disturb_the_last_forward_for_backward(variant):
    layer, _, x, s0, dout, ds = make_problem(variant, (3, 2, 2, 3, 2), np.float64, seed=7)
    layer.forward(x, api(s0))
    dx_ref, ds0_ref = layer.backward(dout, api(ds))
    dx_ref = np.array(dx_ref)
    layer.forward(x, api(s0))
    layer.step(x[0] + 1.0, api(s0))
    dx, _ = layer.backward(dout, api(ds))
    np.testing.assert_array_equal(dx, dx_ref)


# ------------------------------------------------------------------------------------------------
# bad arguments: a clear error before any kernel runs
# ------------------------------------------------------------------------------------------------
CHECKED = ["rnn_tanh", "gru", "lstm", "lstm_peephole"]
TYPE_OR_VALUE = (TypeError, ValueError)


def _small(variant, dtype=np.float32):
    """A 2-layer layer (F=3, H=4) with x (T=5, B=2, F=3) and a valid initial state."""
    layer = new_layer(variant, 3, 4, 2, dtype)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 2, 3)).astype(dtype)
    s0 = random_state(variant, 2, 2, 4, rng, dtype)
    return layer, x, s0


@pytest.mark.parametrize("variant", CHECKED)
def test_forward_rejects_x_of_wrong_rank(variant):
    layer, x, _ = _small(variant)
    with pytest.raises(ValueError, match=r"(?i)dim|rank|shape|3-?d"):
        layer.forward(x[0])
    with pytest.raises(ValueError, match=r"(?i)dim|rank|shape|3-?d"):
        layer.forward(x[None])


@pytest.mark.parametrize("variant", CHECKED)
def test_forward_rejects_x_of_other_dtype_instead_of_casting(variant):
    layer, x, _ = _small(variant, np.float32)
    with pytest.raises(TYPE_OR_VALUE, match=r"(?i)dtype|float"):
        layer.forward(x.astype(np.float64))
    layer64, x64, _ = _small(variant, np.float64)
    with pytest.raises(TYPE_OR_VALUE, match=r"(?i)dtype|float"):
        layer64.forward(x64.astype(np.float32))
    with pytest.raises(TYPE_OR_VALUE, match=r"(?i)dtype|float|int"):
        layer64.forward(x64.astype(np.int64))


@pytest.mark.parametrize("variant", CHECKED)
def test_forward_rejects_wrong_feature_count(variant):
    layer, x, _ = _small(variant)
    with pytest.raises(ValueError, match=r"(?i)feature|input.?size|shape|expected"):
        layer.forward(np.concatenate([x, x[..., :1]], axis=2))


@pytest.mark.parametrize("bad", ["batch", "layers", "hidden", "rank"])
@pytest.mark.parametrize("variant", CHECKED)
def test_forward_rejects_state_of_wrong_shape(variant, bad):
    layer, x, s0 = _small(variant)
    change = {
        "batch": lambda a: a[:, :1],
        "layers": lambda a: a[:1],
        "hidden": lambda a: np.concatenate([a, a[..., :1]], axis=2),
        "rank": lambda a: a[0],
    }[bad]
    for k in range(len(s0)):  # break h, then (LSTM) c, one at a time
        state = list(s0)
        state[k] = np.ascontiguousarray(change(state[k]))
        with pytest.raises(ValueError, match=r"(?i)state|shape|h0|c0|hidden|expected"):
            layer.forward(x, api(state))


@pytest.mark.parametrize("variant", CHECKED)
def test_forward_rejects_state_of_other_dtype(variant):
    layer, x, s0 = _small(variant, np.float32)
    state = tuple(a.astype(np.float64) for a in s0)
    with pytest.raises(TYPE_OR_VALUE, match=r"(?i)dtype|float"):
        layer.forward(x, api(state))


@pytest.mark.parametrize("variant", ["lstm", "lstm_peephole"])
def test_lstm_rejects_state_that_is_not_an_h_c_pair(variant):
    layer, x, (h0, c0) = _small(variant)
    for bad in (h0, (h0,), (h0, c0, c0)):
        with pytest.raises(TYPE_OR_VALUE, match=r"(?i)tuple|pair|\(h, ?c\)|state|structure"):
            layer.forward(x, bad)


@pytest.mark.parametrize("variant", ["rnn_tanh", "gru"])
def test_rnn_and_gru_reject_an_h_c_pair_as_state(variant):
    layer, x, (h0,) = _small(variant)
    with pytest.raises(TYPE_OR_VALUE, match=r"(?i)array|tuple|state|structure"):
        layer.forward(x, (h0, h0))


@pytest.mark.parametrize("variant", CHECKED)
def test_backward_before_forward_is_an_error(variant):
    layer, x, _ = _small(variant)
    with pytest.raises(ValueError, match=r"(?i)forward"):
        layer.backward(np.zeros((5, 2, 4), np.float32))


@pytest.mark.parametrize("variant", CHECKED)
def test_backward_rejects_dout_of_wrong_shape_or_dtype(variant):
    layer, x, s0 = _small(variant)
    layer.forward(x, api(s0))
    for shape in [(4, 2, 4), (5, 1, 4), (5, 2, 3), (5, 2)]:
        with pytest.raises(ValueError, match=r"(?i)dout|shape|expected"):
            layer.backward(np.zeros(shape, np.float32))
    with pytest.raises(TYPE_OR_VALUE, match=r"(?i)dtype|float"):
        layer.backward(np.zeros((5, 2, 4), np.float64))


@pytest.mark.parametrize("variant", CHECKED)
def test_backward_rejects_dstate_of_wrong_shape_or_structure(variant):
    layer, x, s0 = _small(variant)
    layer.forward(x, api(s0))
    bad = list(s0)
    bad[0] = np.ascontiguousarray(bad[0][:, :1])
    with pytest.raises(ValueError, match=r"(?i)state|shape|expected"):
        layer.backward(np.zeros((5, 2, 4), np.float32), api(bad))
    wrong_structure = s0[0] if len(s0) == 2 else (s0[0], s0[0])
    with pytest.raises(TYPE_OR_VALUE, match=r"(?i)tuple|pair|array|state|structure"):
        layer.backward(np.zeros((5, 2, 4), np.float32), wrong_structure)


@pytest.mark.parametrize("variant", CHECKED)
def test_a_rejected_call_leaves_the_last_forward_usable(variant):
    layer, x, s0 = _small(variant, np.float64)
    dout = np.random.default_rng(1).normal(size=(5, 2, 4))
    layer.forward(x, api(s0))
    dx_ref = np.array(layer.backward(dout)[0])
    layer.forward(x, api(s0))
    with pytest.raises(ValueError):
        layer.forward(x[:, :, :2], api(s0))
    with pytest.raises(ValueError):
        layer.backward(dout[:, :1])
    np.testing.assert_array_equal(layer.backward(dout)[0], dx_ref)


@pytest.mark.parametrize("variant", CHECKED)
def test_step_rejects_bad_x_and_state(variant):
    layer, x, s0 = _small(variant)
    with pytest.raises(ValueError, match=r"(?i)dim|rank|shape|2-?d"):
        layer.step(x)                                   # a sequence, not one step
    with pytest.raises(ValueError, match=r"(?i)feature|input.?size|shape|expected"):
        layer.step(x[0, :, :2])
    with pytest.raises(TYPE_OR_VALUE, match=r"(?i)dtype|float"):
        layer.step(x[0].astype(np.float64))
    bad = list(s0)
    bad[0] = np.ascontiguousarray(bad[0][:, :1])
    with pytest.raises(ValueError, match=r"(?i)state|shape|expected"):
        layer.step(x[0], api(bad))


@pytest.mark.parametrize("cls,kwargs,pattern", [
    (RNN, {"nonlinearity": "sigmoid"}, r"(?i)nonlinearity|sigmoid"),
    (RNN, {"hidden_size": 0}, r"(?i)hidden"),
    (GRU, {"num_layers": 0}, r"(?i)layers"),
    (LSTM, {"input_size": 0}, r"(?i)input"),
    (LSTM, {"dtype": np.int32}, r"(?i)dtype|float"),
    (GRU, {"dtype": np.float16}, r"(?i)dtype|float"),
])
def test_constructor_rejects_bad_arguments(cls, kwargs, pattern):
    args = {"input_size": 3, "hidden_size": 4, **kwargs}
    with pytest.raises(TYPE_OR_VALUE, match=pattern):
        cls(**args)


# ------------------------------------------------------------------ streaming
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_streamer_steps_equal_repeated_layer_steps(variant, dtype):
    layer = new_layer(variant, 2, 6, 2, dtype)
    rng = np.random.default_rng(5)
    batch = 3
    state = layer.forward(rng.standard_normal((2, batch, 2)).astype(dtype))[1]
    stream = layer.streamer(state, batch=batch)
    expected_state = state
    for _ in range(4):
        x = rng.standard_normal((batch, 2)).astype(dtype)
        got = stream.step(x).copy()
        expected, expected_state = layer.step(x, expected_state)
        np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == np.float32 else 1e-13)
    got_state = stream.state
    for a, b in zip(got_state if isinstance(got_state, tuple) else (got_state,),
                    expected_state if isinstance(expected_state, tuple) else (expected_state,)):
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == np.float32 else 1e-13)


def test_streamer_takes_a_float_for_one_row_of_one_feature():
    layer = new_layer("gru", 1, 4, 1, np.float32)
    stream = layer.streamer()
    got = stream.step(0.5).copy()
    expected, _ = layer.step(np.full((1, 1), 0.5, np.float32))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_streamer_rejects_input_of_the_wrong_shape_or_dtype():
    layer = new_layer("lstm", 2, 4, 1, np.float32)
    stream = layer.streamer(batch=2)
    with pytest.raises(ValueError, match="shape"):
        stream.step(np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        stream.step(np.zeros((2, 2), np.float64))
    with pytest.raises(ValueError, match="shape"):
        stream.step(1.0)


@pytest.mark.parametrize("cls", [RNN, GRU, LSTM])
def test_step_sees_a_parameter_array_replaced_by_a_valid_one(cls):
    layer = cls(2, 5, random_state=0)
    x = np.ones((1, 3, 2), np.float32)
    layer.step(x[0])
    layer.params["weight_hh_l0"] = np.full_like(layer.params["weight_hh_l0"], 0.3)
    out, _ = layer.step(x[0], layer.forward(x)[1])
    expected, _ = layer.forward(np.concatenate([x, x]))
    np.testing.assert_allclose(out, expected[1], rtol=1e-5, atol=1e-6)
