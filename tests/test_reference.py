"""Tests of tsrnn.nn.reference, the plain-NumPy oracle.

The reference must be right before it can judge anything, so it is held to two independent
standards: PyTorch (for the variants PyTorch has) and central finite differences (for all of them,
including the peephole LSTM and the reset-before GRU that PyTorch lacks). The two variants without
a PyTorch counterpart also get an explicit one-step check of their equations and limiting cases
in which they must reduce to a PyTorch cell.
"""
import zlib

import numpy as np
import pytest

from tsrnn.nn import reference as ref

# variant name -> (cell, gates G, keyword arguments of the reference forward)
VARIANTS = {
    "rnn_tanh": ("rnn", 1, {"nonlinearity": "tanh"}),
    "rnn_relu": ("rnn", 1, {"nonlinearity": "relu"}),
    "gru": ("gru", 3, {"reset_after": True}),
    "gru_reset_before": ("gru", 3, {"reset_after": False}),
    "lstm": ("lstm", 4, {}),
    "lstm_peephole": ("lstm", 4, {}),
}
TORCH_VARIANTS = ["rnn_tanh", "rnn_relu", "gru", "lstm"]
SHAPES = [  # (T, B, F, H)
    (1, 1, 1, 1),
    (1, 3, 2, 4),
    (4, 1, 3, 2),
    (5, 2, 3, 3),
]
PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
PEEPHOLES = ("weight_ci", "weight_cf", "weight_co")


def seed_of(*parts):
    """A deterministic seed from any repr-able labels (``hash`` of a str varies per process)."""
    return zlib.crc32(repr(parts).encode())


def make_case(variant, T, B, F, H, seed, scale=0.5):
    """Random float64 inputs, states, parameters and upstream gradients for one variant."""
    rng = np.random.default_rng(seed)
    cell, G, _ = VARIANTS[variant]
    case = {
        "x": rng.normal(size=(T, B, F)),
        "h0": rng.normal(size=(B, H)) * scale,
        "weight_ih": rng.normal(size=(G * H, F)) * scale,
        "weight_hh": rng.normal(size=(G * H, H)) * scale,
        "bias_ih": rng.normal(size=G * H) * scale,
        "bias_hh": rng.normal(size=G * H) * scale,
        "dout": rng.normal(size=(T, B, H)),
        "dh_last": rng.normal(size=(B, H)),
    }
    if cell == "lstm":
        case["c0"] = rng.normal(size=(B, H)) * scale
        case["dc_last"] = rng.normal(size=(B, H))
    if variant == "lstm_peephole":
        for name in PEEPHOLES:
            case[name] = rng.normal(size=H) * scale
    return case


def forward(variant, case):
    """Reference forward: returns (out, final state tuple, cache)."""
    cell, _, kwargs = VARIANTS[variant]
    p = [case[k] for k in PARAMS]
    if cell == "rnn":
        out, cache = ref.rnn_forward(case["x"], case["h0"], *p, **kwargs)
        return out, (out[-1],), cache
    if cell == "gru":
        out, cache = ref.gru_forward(case["x"], case["h0"], *p, **kwargs)
        return out, (out[-1],), cache
    peep = {k: case[k] for k in PEEPHOLES if k in case}
    out, (h, c), cache = ref.lstm_forward(case["x"], case["h0"], case["c0"], *p, **peep)
    return out, (h, c), cache


def backward(variant, case, cache):
    """Reference backward: returns (dx, d initial state tuple, grads)."""
    cell = VARIANTS[variant][0]
    if cell == "rnn":
        dx, dh0, grads = ref.rnn_backward(case["dout"], case["dh_last"], cache)
        return dx, (dh0,), grads
    if cell == "gru":
        dx, dh0, grads = ref.gru_backward(case["dout"], case["dh_last"], cache)
        return dx, (dh0,), grads
    dx, dh0, dc0, grads = ref.lstm_backward(case["dout"], case["dh_last"], case["dc_last"], cache)
    return dx, (dh0, dc0), grads


def scalar_loss(variant, case):
    """sum(dout * out) + sum(dh_last * h_T) [+ sum(dc_last * c_T)]: the loss backward targets."""
    out, final, _ = forward(variant, case)
    loss = np.sum(case["dout"] * out) + np.sum(case["dh_last"] * final[0])
    if len(final) == 2:
        loss += np.sum(case["dc_last"] * final[1])
    return loss


# ------------------------------------------------------------------------------------------------
# against PyTorch
# ------------------------------------------------------------------------------------------------
def torch_run(torch, variant, case):
    """Run the matching single-layer torch.nn module in float64 and back-propagate the loss."""
    cell, _, kwargs = VARIANTS[variant]
    T, B, F = case["x"].shape
    H = case["h0"].shape[1]
    if cell == "rnn":
        module = torch.nn.RNN(F, H, nonlinearity=kwargs["nonlinearity"], dtype=torch.float64)
    elif cell == "gru":
        module = torch.nn.GRU(F, H, dtype=torch.float64)
    else:
        module = torch.nn.LSTM(F, H, dtype=torch.float64)
    module.load_state_dict({f"{k}_l0": torch.from_numpy(case[k]) for k in PARAMS})
    x = torch.from_numpy(case["x"]).requires_grad_()
    h0 = torch.from_numpy(case["h0"][None]).requires_grad_()
    if cell == "lstm":
        c0 = torch.from_numpy(case["c0"][None]).requires_grad_()
        out, (hT, cT) = module(x, (h0, c0))
        loss = ((out * torch.from_numpy(case["dout"])).sum()
                + (hT[0] * torch.from_numpy(case["dh_last"])).sum()
                + (cT[0] * torch.from_numpy(case["dc_last"])).sum())
        final, inits = (hT[0], cT[0]), (h0, c0)
    else:
        out, hT = module(x, h0)
        loss = ((out * torch.from_numpy(case["dout"])).sum()
                + (hT[0] * torch.from_numpy(case["dh_last"])).sum())
        final, inits = (hT[0],), (h0,)
    loss.backward()
    grads = {k: getattr(module, f"{k}_l0").grad.numpy() for k in PARAMS}
    return (out.detach().numpy(), tuple(f.detach().numpy() for f in final),
            x.grad.numpy(), tuple(s.grad.numpy()[0] for s in inits), grads)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}-B{}-F{}-H{}".format(*s))
@pytest.mark.parametrize("variant", TORCH_VARIANTS)
def test_reference_forward_and_backward_equal_torch_float64(torch, worst_errors, variant, shape):
    case = make_case(variant, *shape, seed=seed_of(variant, shape))
    out, final, cache = forward(variant, case)
    dx, dinit, grads = backward(variant, case, cache)
    t_out, t_final, t_dx, t_dinit, t_grads = torch_run(torch, variant, case)

    label, rtol = f"reference vs torch {variant} float64", 1e-10
    worst_errors.check(label, "out", out, t_out, rtol)
    for k, (a, b) in enumerate(zip(final, t_final)):
        worst_errors.check(label, f"final state[{k}]", a, b, rtol)
    worst_errors.check(label, "dx", dx, t_dx, rtol)
    for k, (a, b) in enumerate(zip(dinit, t_dinit)):
        worst_errors.check(label, f"d initial state[{k}]", a, b, rtol)
    assert sorted(grads) == sorted(PARAMS)
    for name in PARAMS:
        worst_errors.check(label, f"grad {name}", grads[name], t_grads[name], rtol)


def test_reset_before_gru_equals_torch_gru_when_w_hn_is_diagonal_and_b_hn_zero(torch):
    # r * (W_hn h + b_hn) == W_hn (r * h) + b_hn exactly when W_hn is diagonal and b_hn = 0
    case = make_case("gru", 4, 2, 3, 3, seed=11)
    H = 3
    case["weight_hh"][2 * H:] = np.diag([0.7, -0.4, 1.1])
    case["bias_hh"][2 * H:] = 0.0
    out_after, _, _ = forward("gru", case)
    out_before = forward("gru_reset_before", case)[0]
    t_out = torch_run(torch, "gru", case)[0]
    np.testing.assert_allclose(out_after, t_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out_before, t_out, rtol=1e-10, atol=1e-12)


def test_reset_before_gru_differs_from_reset_after_in_general():
    case = make_case("gru", 3, 2, 2, 3, seed=12)
    out_after = forward("gru", case)[0]
    out_before = forward("gru_reset_before", case)[0]
    assert np.max(np.abs(out_after - out_before)) > 1e-3


def test_peephole_lstm_with_zero_peepholes_equals_torch_lstm(torch):
    case = make_case("lstm_peephole", 4, 2, 3, 3, seed=13)
    for name in PEEPHOLES:
        case[name] = np.zeros(3)
    out, final, cache = forward("lstm_peephole", case)
    dx, dinit, grads = backward("lstm_peephole", case, cache)
    t_out, t_final, t_dx, t_dinit, t_grads = torch_run(torch, "lstm", case)
    np.testing.assert_allclose(out, t_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(final[1], t_final[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dinit[1], t_dinit[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads["weight_hh"], t_grads["weight_hh"], rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------------------------
# explicit equations for the variants torch lacks
# ------------------------------------------------------------------------------------------------
def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def test_peephole_lstm_follows_its_equations_for_two_steps():
    # written out gate by gate, independently of the reference's vectorised layout
    case = make_case("lstm_peephole", 2, 2, 3, 2, seed=21)
    W, U, b = case["weight_ih"], case["weight_hh"], case["bias_ih"] + case["bias_hh"]
    H = 2
    rows = {name: slice(k * H, (k + 1) * H) for k, name in enumerate("ifgo")}
    h, c = case["h0"], case["c0"]
    expected = []
    for t in range(2):
        pre = {g: case["x"][t] @ W[rows[g]].T + h @ U[rows[g]].T + b[rows[g]] for g in "ifgo"}
        i = _sig(pre["i"] + case["weight_ci"] * c)          # previous cell
        f = _sig(pre["f"] + case["weight_cf"] * c)          # previous cell
        g = np.tanh(pre["g"])
        c = f * c + i * g
        o = _sig(pre["o"] + case["weight_co"] * c)          # new cell
        h = o * np.tanh(c)
        expected.append(h)
    out, (hT, cT), _ = forward("lstm_peephole", case)
    np.testing.assert_allclose(out, np.stack(expected), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cT, c, rtol=1e-12, atol=1e-14)


def test_reset_before_gru_follows_its_equations_for_two_steps():
    case = make_case("gru_reset_before", 2, 2, 3, 2, seed=22)
    W, U, bi, bh = case["weight_ih"], case["weight_hh"], case["bias_ih"], case["bias_hh"]
    H = 2
    r_, z_, n_ = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
    h = case["h0"]
    expected = []
    for t in range(2):
        x = case["x"][t]
        r = _sig(x @ W[r_].T + bi[r_] + h @ U[r_].T + bh[r_])
        z = _sig(x @ W[z_].T + bi[z_] + h @ U[z_].T + bh[z_])
        n = np.tanh(x @ W[n_].T + bi[n_] + (r * h) @ U[n_].T + bh[n_])
        h = (1 - z) * n + z * h
        expected.append(h)
    out = forward("gru_reset_before", case)[0]
    np.testing.assert_allclose(out, np.stack(expected), rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------------------------------------
# finite differences, every variant
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}-B{}-F{}-H{}".format(*s))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_reference_gradients_match_central_differences(numgrad, relerr, variant, shape):
    case = make_case(variant, *shape, seed=seed_of("fd", variant, shape))
    _, _, cache = forward(variant, case)
    dx, dinit, grads = backward(variant, case, cache)

    def loss():
        return scalar_loss(variant, case)

    analytic = {"x": dx, "h0": dinit[0], **grads}
    if len(dinit) == 2:
        analytic["c0"] = dinit[1]
    expected_keys = set(PARAMS) | (set(PEEPHOLES) if variant == "lstm_peephole" else set())
    assert set(grads) == expected_keys
    for name, value in analytic.items():
        numeric = numgrad(loss, case[name])
        err = relerr(value, numeric)
        assert err < 1e-7, f"{variant} d{name}: relative error {err:.3g} against finite differences"


# ------------------------------------------------------------------------------------------------
# inputs and outputs
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_reference_accepts_float32_and_computes_in_float64(variant):
    case = make_case(variant, 3, 2, 2, 3, seed=31)
    case32 = {k: v.astype(np.float32) for k, v in case.items()}
    case64 = {k: v.astype(np.float32).astype(np.float64) for k, v in case.items()}
    out32, _, cache32 = forward(variant, case32)
    out64, _, cache64 = forward(variant, case64)
    assert out32.dtype == np.float64
    np.testing.assert_array_equal(out32, out64)
    dx32 = backward(variant, case32, cache32)[0]
    assert dx32.dtype == np.float64
    np.testing.assert_array_equal(dx32, backward(variant, case64, cache64)[0])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_reference_leaves_its_inputs_untouched(variant):
    case = make_case(variant, 3, 2, 2, 3, seed=32)
    before = {k: v.copy() for k, v in case.items()}
    _, _, cache = forward(variant, case)
    backward(variant, case, cache)
    for k, v in case.items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_rnn_backward_with_no_final_state_gradient_equals_zero_gradient():
    case = make_case("rnn_tanh", 3, 2, 2, 3, seed=33)
    _, cache = ref.rnn_forward(case["x"], case["h0"], *[case[k] for k in PARAMS])
    a = ref.rnn_backward(case["dout"], None, cache)
    b = ref.rnn_backward(case["dout"], np.zeros_like(case["h0"]), cache)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_reference_rejects_mis_shaped_weights_and_unknown_nonlinearity():
    case = make_case("rnn_tanh", 3, 2, 2, 3, seed=34)
    p = [case[k] for k in PARAMS]
    with pytest.raises(ValueError, match="nonlinearity"):
        ref.rnn_forward(case["x"], case["h0"], *p, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="weight_ih"):
        ref.rnn_forward(case["x"], case["h0"], p[0][:, :1], *p[1:])
    with pytest.raises(ValueError, match="h0"):
        ref.rnn_forward(case["x"], case["h0"][:1], *p)
