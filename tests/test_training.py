"""Training in training.py: lanes, teacher masks, TBPTT(k1, k2) against a hand-unrolled reference,
gradients through fed-back predictions, padding, schedules, clipping and validation."""
import copy

import numpy as np
import pytest

from tsrnn.nn.network import RecurrentNetwork
from tsrnn.training import ForecastValidation, Lanes, Trainer, make_lanes, teacher_mask


# ------------------------------------------------------------------ helpers
class Recording:
    """Wraps an optimiser: keeps a copy of the gradients of every step, then (optionally) steps."""

    def __init__(self, inner=None):
        self.inner = inner
        self.grads = []

    def step(self, grads):
        self.grads.append([g.copy() for g in grads])
        if self.inner is not None:
            self.inner.step(grads)


def plain_sgd_trainer(net, k1, k2, learning_rate, seed, **options):
    """A Trainer doing p -= lr * g (SGD, momentum 0) that records every window's gradients."""
    trainer = Trainer(net, tbptt=(k1, k2), learning_rate=learning_rate, optimizer="sgd",
                      clip_norm=None, rng=np.random.default_rng(seed), **options)
    trainer.optimizer.momentum = 0.0
    trainer.optimizer = Recording(trainer.optimizer)
    return trainer


def series(n, seed=0, columns=1):
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    return np.ascontiguousarray(np.sin(t / 3.0 + np.arange(columns)) + 0.1 * rng.standard_normal(
        (n, columns)))


def reference_tbptt(net, lane, teacher, k1, k2, learning_rate):
    """TBPTT(k1, k2) unrolled by hand, window by window, with plain SGD.

    Window w ends at e_w = k1, 2 k1, ... (the last at S) and scores the steps since the previous
    window's end. It re-runs the network over [max(0, e_w - k2), e_w) from the state reached
    at that step by the previous window's forward pass (weights before that window's update),
    or from the network's current start state when it begins at step 0. The gradient of the
    loss on the scored steps only, back-propagated through the whole re-run, updates the
    weights. Returns ``[(loss, [grad per parameter]), ...]``; updates ``net`` in place.
    """
    S, B, D = lane.y.shape
    ends = list(range(k1, S, k1)) + [S]
    known = {}  # begin step -> (state before it, prediction of its value), from an earlier run
    windows, scored_from = [], 0
    for end in ends:
        begin = max(0, end - k2)
        if begin == 0:
            state, first = net.start_state(B), np.zeros((B, D))
        else:
            state, first = known[begin]
        exog = None if lane.exog is None else lane.exog[begin:end]
        pred, _ = net.run(lane.y[begin:end], teacher[begin:end], exog, state, first,
                          keep_cache=True)
        weight = np.zeros_like(pred)
        weight[scored_from - begin:] = lane.weight[scored_from:end]
        count = max(weight.sum(), 1.0)
        residual = (pred - lane.target[begin:end]) * weight
        loss = float(np.sum(residual ** 2) / count)
        net.zero_grad()
        dstate0 = net.backward(2.0 * residual / count)
        if begin == 0:
            net.add_start_state_gradient(dstate0)
        grads = [g.copy() for _, _, g in net.parameters()]
        # where the next window begins: the state this run reaches there, before the update
        next_begin = max(0, min(end + k1, S) - k2)
        if next_begin > begin:
            part = slice(begin, next_begin)
            p, s = net.run(lane.y[part], teacher[part],
                           None if lane.exog is None else lane.exog[part], state, first)
            known[next_begin] = (s, p[-1].copy())
        for (_, value, _), g in zip(net.parameters(), grads):
            value -= learning_rate * g
        windows.append((loss, grads))
        scored_from = end
    return windows


def one_lane(n, batch_size=2, seed=0, exog=True):
    y = series(n, seed)
    X = series(n, seed + 1) if exog else None
    lanes = make_lanes([y], [X], batch_size, np.float64)
    assert len(lanes) == 1
    return lanes[0]


# ------------------------------------------------------------------ make_lanes
def test_lanes_hold_inputs_targets_and_exogenous_values_of_the_predicted_time():
    y, X = series(40, 0, columns=2), series(40, 1)
    (lane,) = make_lanes([y], [X], 4, np.float64)
    assert (lane.steps, lane.batch) == (10, 4)
    rebuilt = np.concatenate([lane.y[:, b] for b in range(4)])
    np.testing.assert_array_equal(rebuilt, y)
    for b in range(4):
        start = 10 * b
        known = 10 if b < 3 else 9  # the series' last value has no target
        np.testing.assert_array_equal(lane.target[:known, b], y[start + 1:start + 1 + known])
        np.testing.assert_array_equal(lane.exog[:known, b], X[start + 1:start + 1 + known])
        assert lane.weight[:known, b].all() and not lane.weight[known:, b].any()


def test_lanes_of_series_of_different_lengths_put_zero_weight_on_padding():
    ys = [series(50, 0), series(23, 1), series(9, 2), series(31, 3)]
    Xs = [series(len(y), 10 + i) for i, y in enumerate(ys)]
    lanes = make_lanes(ys, Xs, 3, np.float64)
    assert all(lane.batch <= 3 for lane in lanes)
    # every target of every series appears exactly once with weight 1, nothing else has weight
    found = {i: [] for i in range(len(ys))}
    total_weight = 0.0
    for lane in lanes:
        total_weight += lane.weight.sum()
        for b in range(lane.batch):
            w = lane.weight[:, b, 0]
            n = int(w.sum())
            assert w[:n].all() and not w[n:].any(), "weight must be 1 then 0 (padding at the end)"
            assert not lane.target[n:, b].any() and not lane.exog[n:, b].any()
            targets = lane.target[:n, b, 0]
            matches = [i for i, y in enumerate(ys)
                       if any(np.array_equal(targets, y[s:s + n, 0]) for s in range(1, len(y)))]
            assert matches
            found[matches[0]].append(n)
    assert total_weight == sum(len(y) - 1 for y in ys)
    assert {i: sum(v) for i, v in found.items()} == {i: len(y) - 1 for i, y in enumerate(ys)}


def test_lanes_are_grouped_longest_first_and_cover_every_sample_once():
    ys = [series(n, n) for n in (7, 30, 12, 12, 5)]
    lanes = make_lanes(ys, [None] * len(ys), 2, np.float32)
    assert all(lane.exog is None and lane.y.dtype == np.float32 for lane in lanes)
    steps = [lane.steps for lane in lanes]
    assert steps == sorted(steps, reverse=True)
    assert sum(int((lane.weight[:, :, 0] > 0).sum()) for lane in lanes) == sum(
        len(y) - 1 for y in ys)


# ------------------------------------------------------------------ teacher masks
def test_teacher_mask_fraction_of_true_inputs_is_close_to_teacher_forcing():
    rng = np.random.default_rng(0)
    for rate, free_run in [(0.7, 10), (0.3, 5), (0.5, 1), (0.9, 36)]:
        mask = teacher_mask(rng, 20000, 4, rate, free_run)
        assert mask.shape == (20000, 4) and mask.dtype == bool
        assert abs(mask.mean() - rate) < 0.02, (rate, free_run, mask.mean())


def test_teacher_mask_fed_back_runs_have_length_free_run_when_apart():
    free_run = 6
    mask = teacher_mask(np.random.default_rng(1), 5000, 3, 0.9, free_run)
    lengths = []
    for b in range(3):
        fed = np.concatenate([[0], (~mask[:, b]).astype(int), [0]])
        edges = np.flatnonzero(np.diff(fed))
        for start, stop in zip(edges[::2], edges[1::2]):
            if start == 1 or stop == len(mask):
                continue  # possibly cut by step 0 (always true) or by the end
            lengths.append(stop - start)
    lengths = np.array(lengths)
    assert len(lengths) > 50
    assert lengths.min() >= free_run  # overlapping runs merge into longer ones, never shorter
    assert np.mean(lengths == free_run) > 0.8  # runs that do not overlap are exactly free_run


@pytest.mark.parametrize("rate, free_run", [(0.0, 1), (0.0, 4), (0.2, 3), (0.5, 1)])
def test_teacher_mask_step_zero_is_always_true(rate, free_run):
    mask = teacher_mask(np.random.default_rng(2), 50, 7, rate, free_run)
    assert mask[0].all()
    if rate == 0.0:
        assert not mask[1:].any()


def test_teacher_forcing_one_gives_all_true_inputs():
    assert teacher_mask(np.random.default_rng(3), 40, 5, 1.0, 7).all()


def test_teacher_mask_is_reproducible_from_the_generator():
    a = teacher_mask(np.random.default_rng(4), 100, 3, 0.5, 4)
    b = teacher_mask(np.random.default_rng(4), 100, 3, 0.5, 4)
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ TBPTT against a reference
@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("k1, k2", [(2, 4), (2, 5), (3, 3), (1, 3)])
@pytest.mark.parametrize("rate, free_run", [(1.0, 1), (0.5, 2)], ids=["teacher", "fed-back"])
def test_tbptt_equals_reference_unrolled_by_hand(cell, k1, k2, rate, free_run):
    lane = one_lane(24, batch_size=2)  # S = 12 steps, a multiple of every k1 here
    net = RecurrentNetwork(cell, 1, 1, 3, 1, dtype=np.float64, random_state=0)
    reference_net = copy.deepcopy(net)
    seed, lr = 5, 0.05
    trainer = plain_sgd_trainer(net, k1, k2, lr, seed, teacher_forcing=rate, free_run=free_run)
    losses = list(trainer._batch(lane, rate))
    teacher = teacher_mask(np.random.default_rng(seed), lane.steps, lane.batch, rate, free_run)
    if rate < 1:
        assert not teacher.all()  # the fed-back case does feed predictions back
    expected = reference_tbptt(reference_net, lane, teacher, k1, k2, lr)
    assert len(losses) == len(expected) == trainer.windows([lane])
    for w, (value, grads) in enumerate(expected):
        assert losses[w] == pytest.approx(value, rel=1e-12), f"loss of window {w}"
        for (name, _, _), got, want in zip(net.parameters(), trainer.optimizer.grads[w], grads):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13,
                                       err_msg=f"window {w} gradient of {name}")
    for (name, got, _), (_, want, _) in zip(net.parameters(), reference_net.parameters()):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13, err_msg=name)


def test_tbptt_with_learned_initial_state_equals_reference():
    """Windows that start at step 0 again start from the learned state as it is now."""
    lane = one_lane(24, batch_size=2)
    net = RecurrentNetwork("lstm", 1, 1, 3, 1, initial_state="learned", dtype=np.float64,
                           random_state=1)
    for value in net.init.values():
        value[...] = np.random.default_rng(2).standard_normal(value.shape)
    reference_net = copy.deepcopy(net)
    trainer = plain_sgd_trainer(net, 2, 6, 0.1, 0)
    losses = list(trainer._batch(lane, 1.0))
    expected = reference_tbptt(reference_net, lane, np.ones((12, 2), bool), 2, 6, 0.1)
    np.testing.assert_allclose(losses, [v for v, _ in expected], rtol=1e-12)
    for (name, got, _), (_, want, _) in zip(net.parameters(), reference_net.parameters()):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("k1, k2", [(2, 4), (4, 4), (3, 5)])
def test_tbptt_scores_every_step_once_per_epoch_when_k1_does_not_divide_the_lane(k1, k2):
    """The last, shorter window scores only the steps no earlier window scored."""
    lane = one_lane(22, batch_size=2, exog=False)  # S = 11
    assert lane.steps % k1
    net = RecurrentNetwork("gru", 1, 0, 3, 1, dtype=np.float64, random_state=0)
    trainer = plain_sgd_trainer(net, k1, k2, 0.01, 0)
    scored = np.zeros_like(lane.weight)
    inner_loss = trainer.loss

    def recording_loss(pred, target, weight):
        # which global steps this window scores: match the window's target rows
        begin = next(b for b in range(lane.steps - len(pred) + 1)
                     if np.array_equal(lane.target[b:b + len(pred)], target))
        scored[begin:begin + len(pred)] += weight
        return inner_loss(pred, target, weight)

    trainer.loss = recording_loss
    list(trainer._batch(lane, 1.0))
    np.testing.assert_array_equal(scored, lane.weight)


def test_trainer_epoch_returns_mean_window_loss_and_counts_windows():
    lanes = make_lanes([series(60, 0), series(33, 1)], [None, None], 2, np.float64)
    net = RecurrentNetwork("rnn", 1, 0, 4, 1, dtype=np.float64, random_state=0)
    trainer = plain_sgd_trainer(net, 4, 6, 1e-3, 0)
    losses = []
    original = trainer._batch

    def spy(lane, rate):
        for value in original(lane, rate):
            losses.append(value)
            yield value

    trainer._batch = spy
    mean = trainer.epoch(lanes, 1.0)
    assert len(losses) == trainer.windows(lanes) == sum(-(-lane.steps // 4) for lane in lanes)
    assert mean == pytest.approx(np.mean(losses), rel=1e-12)


# ------------------------------------------------------------------ finite differences
@pytest.mark.parametrize("cell, initial_state", [("lstm", "learned"), ("gru", "zeros"),
                                                 ("rnn", "learned")])
@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_window_loss_gradient_through_fed_back_predictions_matches_finite_differences(
        cell, initial_state, loss):
    """The gradient a window's update uses is the gradient of the loss the Trainer computes.

    TBPTT(3, 6) on 9 steps: the second window re-runs steps 0..5 (from the start state) and
    scores steps 3..5, so its loss is a function of the weights alone and finite differences of
    it (same teacher mask, weights left unchanged by a no-op optimiser) give the full gradient.
    """
    lane = one_lane(18, batch_size=2)  # S = 9, B = 2, one exogenous column
    rate, free_run, seed = 0.4, 2, 3
    teacher = teacher_mask(np.random.default_rng(seed), lane.steps, lane.batch, rate, free_run)
    assert not teacher[:6].all()  # the scored window does run on fed-back predictions
    net = RecurrentNetwork(cell, 1, 1, 3, 1, initial_state=initial_state, dtype=np.float64,
                           random_state=4)
    for value in net.init.values():
        value[...] = np.random.default_rng(5).standard_normal(value.shape) * 0.5
    trainer = Trainer(net, tbptt=(3, 6), loss=loss, clip_norm=None, teacher_forcing=rate,
                      free_run=free_run, rng=np.random.default_rng(seed))
    trainer.optimizer = Recording()  # records, never changes the weights

    def window_loss():
        trainer.rng = np.random.default_rng(seed)
        return list(trainer._batch(lane, rate))[1]

    window_loss()
    analytic = trainer.optimizer.grads[1]
    for (name, value, _), grad in zip(net.parameters(), analytic):
        flat = value.reshape(-1)
        numeric = np.zeros(flat.size)
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + 1e-6
            up = window_loss()
            flat[k] = old - 1e-6
            down = window_loss()
            flat[k] = old
            numeric[k] = (up - down) / 2e-6
        scale = max(np.max(np.abs(numeric)), 1e-3)
        assert np.max(np.abs(grad.reshape(-1) - numeric)) / scale < 1e-6, name


# ------------------------------------------------------------------ padding
def _padded_and_single_lanes():
    long, short = series(9, 0), series(6, 1)
    X_long, X_short = series(9, 2), series(6, 3)
    (padded,) = make_lanes([long, short], [X_long, X_short], 2, np.float64)
    (alone_long,) = make_lanes([long], [X_long], 1, np.float64)
    (alone_short,) = make_lanes([short], [X_short], 1, np.float64)
    assert padded.steps == 9 and padded.batch == 2 and not padded.weight[5:, 1].any()
    return padded, alone_long, alone_short


def _window_grads(net, lane, k1, k2, rate, seed=0):
    trainer = Trainer(net, tbptt=(k1, k2), clip_norm=None, teacher_forcing=rate, free_run=2,
                      rng=np.random.default_rng(seed))
    trainer.optimizer = Recording()
    list(trainer._batch(lane, rate))
    return trainer.optimizer.grads


@pytest.mark.parametrize("k1, k2", [(3, 3), (3, 6), (1, 2), (9, 9)])
def test_padded_lane_batch_gives_the_gradient_of_its_lanes_alone(k1, k2):
    """Batch gradient = count-weighted mean of the gradients of each lane trained alone.

    The loss averages over the scored entries of the window, so with n_a and n_b scored
    targets in the two lanes: (n_a + n_b) g_batch = n_a g_a + n_b g_b; the padded steps of the
    short lane add nothing. k1 divides both lane lengths (9 and 6), so windows line up, and the
    weights are left unchanged between windows so every window is comparable.
    """
    padded, alone_long, alone_short = _padded_and_single_lanes()
    net = RecurrentNetwork("lstm", 1, 1, 3, 1, dtype=np.float64, random_state=0)
    batch = _window_grads(net, padded, k1, k2, 1.0)
    long = _window_grads(net, alone_long, k1, k2, 1.0)
    short = _window_grads(net, alone_short, k1, k2, 1.0)
    assert len(batch) == len(long) == -(-9 // k1) and len(short) == -(-6 // k1)
    for w in range(len(batch)):
        scored = slice(w * k1, min((w + 1) * k1, 9))
        n_long = alone_long.weight[scored].sum()
        n_short = alone_short.weight[scored].sum()
        for i, (g_batch, g_long) in enumerate(zip(batch[w], long[w])):
            combined = g_long * n_long
            if w < len(short):
                combined = combined + short[w][i] * n_short
            np.testing.assert_allclose(g_batch * (n_long + n_short), combined, rtol=1e-10,
                                       atol=1e-13, err_msg=f"window {w}, parameter {i}")


@pytest.mark.parametrize("rate", [1.0, 0.5])
def test_values_in_the_padding_never_reach_a_gradient(rate):
    padded, _, _ = _padded_and_single_lanes()
    garbage = copy.deepcopy(padded)
    rng = np.random.default_rng(9)
    # padded region of lane 1: steps 6..8 (inputs), and 5..8 for targets (no target there)
    garbage.y[6:, 1] = 50 * rng.standard_normal(garbage.y[6:, 1].shape)
    garbage.exog[5:, 1] = 50 * rng.standard_normal(garbage.exog[5:, 1].shape)
    garbage.target[5:, 1] = 50 * rng.standard_normal(garbage.target[5:, 1].shape)
    net = RecurrentNetwork("gru", 1, 1, 3, 1, dtype=np.float64, random_state=0)
    clean = _window_grads(net, padded, 3, 6, rate, seed=1)
    dirty = _window_grads(net, garbage, 3, 6, rate, seed=1)
    for w, (a, b) in enumerate(zip(clean, dirty)):
        for g_clean, g_dirty in zip(a, b):
            np.testing.assert_array_equal(g_dirty, g_clean, err_msg=f"window {w}")


# ------------------------------------------------------------------ schedules, clipping, dropout
def test_teacher_rate_constant_pair_and_callable_schedules():
    net = RecurrentNetwork("gru", 1, 0, 2, 1, random_state=0)
    assert Trainer(net, teacher_forcing=0.3).teacher_rate(7, 10) == 0.3
    decay = Trainer(net, teacher_forcing=(1.0, 0.2))
    assert [decay.teacher_rate(e, 5) for e in range(5)] == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2])
    assert decay.teacher_rate(0, 1) == 1.0
    calls = []
    schedule = Trainer(net, teacher_forcing=lambda e, n: calls.append((e, n)) or 1 - e / n)
    assert schedule.teacher_rate(2, 8) == 0.75 and calls == [(2, 8)]


def test_trainer_clips_the_global_gradient_norm_before_the_update():
    lane = one_lane(40, batch_size=2)
    net = RecurrentNetwork("gru", 1, 1, 4, 1, dtype=np.float64, random_state=0)
    trainer = Trainer(net, tbptt=5, clip_norm=1e-3, rng=np.random.default_rng(0))
    trainer.optimizer = Recording()
    list(trainer._batch(lane, 1.0))
    norms = [np.sqrt(sum(np.sum(g * g) for g in grads)) for grads in trainer.optimizer.grads]
    np.testing.assert_allclose(norms, 1e-3, rtol=1e-6)


def test_dropout_masks_scale_kept_units_and_only_apply_between_layers():
    net = RecurrentNetwork("lstm", 1, 0, 8, 3, random_state=0)
    trainer = Trainer(net, dropout=0.25, rng=np.random.default_rng(0))
    masks = trainer._dropout_masks(200, 4)
    assert len(masks) == 2 and masks[0].shape == (200, 4, 8)
    values = np.unique(np.concatenate([m.ravel() for m in masks]))
    np.testing.assert_allclose(values, [0.0, 1 / 0.75], rtol=1e-6)
    assert abs(np.mean(masks[0] > 0) - 0.75) < 0.02
    assert Trainer(RecurrentNetwork("lstm", 1, 0, 8, 1), dropout=0.5)._dropout_masks(5, 2) is None


def test_training_reduces_the_loss_on_a_sine():
    lanes = make_lanes([np.sin(np.arange(400) / 3.0)[:, None]], [None], 4, np.float32)
    net = RecurrentNetwork("gru", 1, 0, 8, 1, random_state=0)
    trainer = Trainer(net, tbptt=20, learning_rate=1e-2, rng=np.random.default_rng(0))
    first = trainer.epoch(lanes, 1.0)
    for _ in range(4):
        last = trainer.epoch(lanes, 1.0)
    assert last < 0.5 * first


# ------------------------------------------------------------------ validation
def test_forecast_validation_scores_forecasts_from_teacher_forced_warmup():
    y, X = series(80, 0), series(80, 1)
    net = RecurrentNetwork("lstm", 1, 1, 4, 1, dtype=np.float64, random_state=0)
    horizon, warmup, start = 5, 7, 60
    validation = ForecastValidation([y], [X], [start], horizon, warmup, n_origins=4,
                                    dtype=np.float64)
    errors = []
    for _, origin in validation.origins:
        assert start <= origin <= len(y) - horizon
        # by hand: teacher-forced over the warmup values before the origin, then free-running
        ctx = slice(origin - warmup, origin)
        _, state = net.run(y[ctx][:-1, None], np.ones((warmup - 1, 1), bool),
                           X[origin - warmup + 1:origin, None])
        steps = np.zeros((horizon, 1, 1))
        steps[0, 0] = y[origin - 1]
        teacher = np.zeros((horizon, 1), bool)
        teacher[0] = True
        pred, _ = net.run(steps, teacher, X[origin:origin + horizon, None], state)
        errors.append(np.abs(pred[:, 0] - y[origin:origin + horizon]))
    assert validation.score(net) == pytest.approx(np.mean(errors), rel=1e-12)


def test_forecast_validation_rejects_a_tail_too_short_for_one_forecast():
    with pytest.raises(ValueError, match="too short"):
        ForecastValidation([series(20)], [None], [18], 5, 4)


def test_lanes_dataclass_reports_steps_and_batch():
    lane = Lanes(np.zeros((7, 3, 1)), None, np.zeros((7, 3, 1)), np.zeros((7, 3, 1)))
    assert (lane.steps, lane.batch) == (7, 3)
