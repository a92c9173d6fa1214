"""Losses (nn/losses.py) and optimisers with gradient clipping (nn/optim.py)."""
import numpy as np
import pytest

from tsrnn.nn.losses import LOSSES, get_loss, huber, mae, mse
from tsrnn.nn.optim import SGD, Adam, clip_grad_norm, make_optimizer


def _data(seed=0, shape=(4, 3, 2)):
    rng = np.random.default_rng(seed)
    pred = rng.standard_normal(shape)
    target = rng.standard_normal(shape)
    weight = (rng.random(shape) < 0.7).astype(float)
    return pred, target, weight


def _numeric_grad(loss, pred, target, weight, eps=1e-6):
    grad = np.zeros_like(pred)
    for index in np.ndindex(pred.shape):
        old = pred[index]
        pred[index] = old + eps
        up = loss(pred, target, weight)[0]
        pred[index] = old - eps
        down = loss(pred, target, weight)[0]
        pred[index] = old
        grad[index] = (up - down) / (2 * eps)
    return grad


# ------------------------------------------------------------------ values by hand
def test_mse_mae_huber_values_by_hand():
    pred = np.array([1.0, 2.0, 5.0, -1.0])
    target = np.array([0.0, 2.5, 2.0, 7.0])
    weight = np.array([1.0, 1.0, 1.0, 0.0])  # last entry masked
    # residuals 1, -0.5, 3 over 3 observed entries
    assert mse(pred, target, weight)[0] == pytest.approx((1 + 0.25 + 9) / 3)
    assert mae(pred, target, weight)[0] == pytest.approx((1 + 0.5 + 3) / 3)
    # huber, delta 1: 0.5 r^2 inside, |r| - 0.5 outside
    assert huber(pred, target, weight)[0] == pytest.approx((0.5 + 0.125 + 2.5) / 3)
    assert huber(pred, target, weight, delta=2.0)[0] == pytest.approx(
        (0.5 + 0.125 + 2 * (3 - 1)) / 3)


def test_loss_gradients_by_hand():
    pred = np.array([1.0, 2.0, 5.0, -1.0])
    target = np.array([0.0, 2.5, 2.0, 7.0])
    weight = np.array([1.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(mse(pred, target, weight)[1], [2 / 3, -1 / 3, 2.0, 0.0])
    np.testing.assert_allclose(mae(pred, target, weight)[1], [1 / 3, -1 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(huber(pred, target, weight)[1], [1 / 3, -0.5 / 3, 1 / 3, 0.0])


@pytest.mark.parametrize("name", ["mse", "mae", "huber"])
def test_loss_gradient_matches_finite_differences(name):
    loss = get_loss(name)
    pred, target, weight = _data(1)
    # keep away from the kinks of mae (r = 0) and huber (|r| = delta)
    r = pred - target
    assert np.min(np.abs(r)) > 1e-3 and np.min(np.abs(np.abs(r) - 1.0)) > 1e-3
    _, grad = loss(pred, target, weight)
    np.testing.assert_allclose(grad, _numeric_grad(loss, pred, target, weight), rtol=1e-6,
                               atol=1e-9)


@pytest.mark.parametrize("name", ["mse", "mae", "huber"])
def test_masked_entries_are_ignored(name):
    loss = get_loss(name)
    pred, target, weight = _data(2)
    value, grad = loss(pred, target, weight)
    masked = weight == 0
    assert masked.any()
    pred2, target2 = pred.copy(), target.copy()
    pred2[masked] += 100.0
    target2[masked] -= 50.0
    value2, grad2 = loss(pred2, target2, weight)
    assert value2 == value
    np.testing.assert_array_equal(grad2, grad)
    assert not grad[masked].any()
    # the mean is over the observed entries only
    observed = loss(pred[~masked], target[~masked], np.ones(int((~masked).sum())))[0]
    assert value == pytest.approx(observed)


@pytest.mark.parametrize("name", ["mse", "mae", "huber"])
def test_all_masked_gives_zero_loss_and_gradient(name):
    pred, target, _ = _data(3)
    value, grad = get_loss(name)(pred, target, np.zeros_like(pred))
    assert value == 0.0 and not grad.any()


def test_get_loss_rejects_unknown_names():
    assert set(LOSSES) == {"mse", "mae", "huber"}
    with pytest.raises(ValueError, match="loss must be one of"):
        get_loss("l2")
    with pytest.raises(ValueError, match="loss must be one of"):
        get_loss(None)


# ------------------------------------------------------------------ clipping
def test_clip_grad_norm_scales_to_the_max_norm_and_returns_the_norm_before():
    grads = [np.array([3.0, 0.0]), np.array([[0.0], [4.0]])]
    norm = clip_grad_norm(grads, 1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(grads[0], [0.6, 0.0])
    np.testing.assert_allclose(grads[1], [[0.0], [0.8]])
    total = np.sqrt(sum(np.sum(g * g) for g in grads))
    assert total == pytest.approx(1.0)


def test_clip_grad_norm_leaves_small_gradients_and_none_disables_it():
    grads = [np.array([0.3, 0.4])]
    assert clip_grad_norm(grads, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(grads[0], [0.3, 0.4])
    big = [np.array([30.0, 40.0])]
    assert clip_grad_norm(big, None) == pytest.approx(50.0)
    np.testing.assert_array_equal(big[0], [30.0, 40.0])


def test_clip_grad_norm_works_in_place_on_float32():
    grads = [np.full(4, 2.0, np.float32)]
    clip_grad_norm(grads, 2.0)
    assert grads[0].dtype == np.float32
    np.testing.assert_allclose(grads[0], 1.0, rtol=1e-6)


# ------------------------------------------------------------------ optimisers
def _toy_problem(seed=0):
    """Least squares: loss = sum over k of |A_k p_k - b_k|^2, gradients by hand."""
    rng = np.random.default_rng(seed)
    A = [rng.standard_normal((5, 3)), rng.standard_normal((4, 2))]
    b = [rng.standard_normal(5), rng.standard_normal(4)]
    params = [rng.standard_normal(3), rng.standard_normal(2)]

    def grads(ps):
        return [2 * a.T @ (a @ p - bb) for a, p, bb in zip(A, ps, b)]

    return params, grads


def test_adam_matches_torch_step_by_step(torch):
    params, grads_of = _toy_problem(0)
    ours = [p.copy() for p in params]
    theirs = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    adam = Adam(ours, learning_rate=0.05, beta1=0.8, beta2=0.99, eps=1e-6)
    reference = torch.optim.Adam(theirs, lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    for step in range(30):
        grads = grads_of(ours)
        adam.step(grads)
        for t, g in zip(theirs, grads_of([t.detach().numpy() for t in theirs])):
            t.grad = torch.tensor(g, dtype=torch.float64)
        reference.step()
        for k, (p, t) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-12, atol=1e-14,
                                       err_msg=f"step {step}, parameter {k}")
    assert adam.t == 30


def test_adam_by_hand_with_bias_correction():
    p = np.array([1.0, -2.0])
    adam = Adam([p], learning_rate=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    g1, g2 = np.array([0.5, -1.0]), np.array([0.1, 2.0])
    m = v = np.zeros(2)
    expected = np.array([1.0, -2.0])
    for t, g in enumerate([g1, g2], start=1):
        adam.step([g])
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        expected = expected - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        np.testing.assert_allclose(p, expected, rtol=1e-12)


def test_sgd_with_momentum_by_hand():
    params, grads_of = _toy_problem(1)
    ours = [p.copy() for p in params]
    sgd = SGD(ours, learning_rate=0.01, momentum=0.9)
    assert make_optimizer("sgd", [np.zeros(1)], 0.1).momentum == 0.9
    hand = [p.copy() for p in params]
    velocity = [np.zeros_like(p) for p in params]
    for step in range(20):
        sgd.step(grads_of(ours))
        for k, g in enumerate(grads_of(hand)):
            velocity[k] = 0.9 * velocity[k] + g
            hand[k] = hand[k] - 0.01 * velocity[k]
        for p, h in zip(ours, hand):
            np.testing.assert_allclose(p, h, rtol=1e-13, atol=1e-15, err_msg=f"step {step}")


def test_sgd_matches_torch_with_momentum(torch):
    params, grads_of = _toy_problem(2)
    ours = [p.copy() for p in params]
    theirs = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    sgd = SGD(ours, learning_rate=0.02, momentum=0.9)
    reference = torch.optim.SGD(theirs, lr=0.02, momentum=0.9)
    for _ in range(15):
        sgd.step(grads_of(ours))
        for t, g in zip(theirs, grads_of([t.detach().numpy() for t in theirs])):
            t.grad = torch.tensor(g, dtype=torch.float64)
        reference.step()
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-12)


def test_optimisers_update_the_parameter_arrays_in_place():
    p = np.ones(3)
    for name in ("adam", "sgd"):
        opt = make_optimizer(name, [p], 0.1)
        before = p.copy()
        opt.step([np.ones(3)])
        assert opt.params[0] is p and np.all(p < before)


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_optimiser_state_dict_continues_exactly(name):
    params, grads_of = _toy_problem(3)
    straight = [p.copy() for p in params]
    opt = make_optimizer(name, straight, 0.05)
    for _ in range(10):
        opt.step(grads_of(straight))
    resumed = [p.copy() for p in params]
    first = make_optimizer(name, resumed, 0.05)
    for _ in range(4):
        first.step(grads_of(resumed))
    state = first.state_dict()
    second = make_optimizer(name, resumed, 0.05)
    second.load_state_dict(state)
    for _ in range(6):
        second.step(grads_of(resumed))
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)


def test_optimiser_state_dict_is_a_copy_and_checks_shapes():
    p = np.zeros(3)
    adam = Adam([p], learning_rate=0.1)
    adam.step([np.ones(3)])
    state = adam.state_dict()
    adam.step([np.ones(3)])
    assert state["t"] == 1 and not np.array_equal(state["m"][0], adam.m[0])
    with pytest.raises(ValueError, match="does not match"):
        Adam([np.zeros(4)], learning_rate=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="unknown optimiser state"):
        SGD([np.zeros(3)]).load_state_dict(state)


def test_make_optimizer_rejects_bad_names_and_learning_rates():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("rmsprop", [np.zeros(1)], 0.1)
    for rate in (0.0, -1.0):
        with pytest.raises(ValueError, match="learning_rate"):
            make_optimizer("adam", [np.zeros(1)], rate)
