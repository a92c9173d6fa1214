"""MarkovForecaster: counts, exact forecasts, interval coverage, sparse high orders."""
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsrnn.forecasters import NaiveForecaster
from tsrnn.forecasters.markov import MarkovForecaster

# States 0, 1, 2 with uniform bins on values 0, 1, 2 (bin i holds exactly the value i).
SEQ = np.array([0, 1, 1, 2, 0, 1, 2, 2, 0, 0], dtype=float)


def test_first_order_transition_probabilities_equal_hand_counts():
    # Pairs: 0->1 x2, 0->0 x1 | 1->1 x1, 1->2 x2 | 2->0 x2, 2->2 x1.
    f = MarkovForecaster(n_states=3, binning="uniform", smoothing=0.5).fit(SEQ)
    assert f.n_states_ == [3]
    hand = {0: [1, 2, 0], 1: [0, 1, 2], 2: [2, 0, 1]}
    for state, counts in hand.items():
        expected = (np.array(counts) + 0.5) / (3 + 3 * 0.5)
        assert np.allclose(f.transition_probabilities([state]), expected)


def test_one_step_forecast_is_expected_bin_mean():
    f = MarkovForecaster(n_states=3, binning="uniform", smoothing=0.0).fit(SEQ)
    # Last state 0: next is 0 w.p. 1/3, 1 w.p. 2/3.
    assert f.predict(1).tolist() == [pytest.approx(2 / 3)]


def test_second_order_counts_and_back_off_to_lower_order():
    f = MarkovForecaster(order=2, n_states=3, binning="uniform", smoothing=0.0).fit(SEQ)
    # History (0, 1) is followed once by 1 and once by 2.
    assert np.allclose(f.transition_probabilities([0, 1]), [0, 0.5, 0.5])
    # History (1, 0) never occurs: fall back to the first-order history (0,).
    assert np.allclose(f.transition_probabilities([1, 0]), [1 / 3, 2 / 3, 0])


def test_unseen_state_backs_off_to_marginal():
    y = np.array([0.0, 0.0, 1.0, 0.0, 2.0])  # state 2 only at the end: never a history
    f = MarkovForecaster(n_states=3, binning="uniform", smoothing=0.0).fit(y)
    assert np.allclose(f.transition_probabilities([2]), [3 / 5, 1 / 5, 1 / 5])


def test_list_of_series_pools_counts_without_crossing_series():
    a, b = np.array([0.0, 2.0, 0.0]), np.array([2.0, 2.0])
    f = MarkovForecaster(n_states=2, binning="uniform", smoothing=0.0).fit([a, b])
    # Pairs: 0->2, 2->0 (series a), 2->2 (series b); never a->b's 0->2 across the boundary.
    assert np.allclose(f.transition_probabilities([0]), [0, 1])
    assert np.allclose(f.transition_probabilities([1]), [0.5, 0.5])
    assert isinstance(f.predict(1), list)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_deterministic_cycle_is_forecast_exactly(order):
    cycle = np.array([3.0, -1.0, 4.0, 1.5])
    y = pd.Series(np.tile(cycle, 20), index=pd.date_range("2024", periods=80, freq="min"))
    f = MarkovForecaster(order=order, n_states=4, smoothing=0.0, differences=0).fit(y)
    forecast = f.predict(9)
    assert np.allclose(forecast.to_numpy(), np.tile(cycle, 3)[:9])
    assert forecast.index[0] == y.index[-1] + pd.Timedelta("1min")


def test_update_moves_the_history_forward():
    f = MarkovForecaster(n_states=4, smoothing=0.0).fit(np.tile([0.0, 1.0, 2.0, 3.0], 10))
    f.update(np.array([0.0, 1.0]))
    assert np.allclose(f.predict(2), [2.0, 3.0])


def test_context_conditions_on_given_history():
    f = MarkovForecaster(n_states=4, smoothing=0.0).fit(np.tile([0.0, 1.0, 2.0, 3.0], 10))
    assert np.allclose(f.predict(3, context=np.array([5.0, 2.0])), [3.0, 0.0, 1.0])


def test_each_column_gets_its_own_chain():
    frame = pd.DataFrame({"up": np.tile([0.0, 1.0], 10), "three": np.tile([5.0, 6.0, 7.0], 7)[:20]})
    f = MarkovForecaster(n_states=3, smoothing=0.0).fit(frame)
    out = f.predict(3)
    assert np.allclose(out["up"], [0.0, 1.0, 0.0])
    assert np.allclose(out["three"], [7.0, 5.0, 6.0])


def test_quantile_bins_with_many_ties_merge_states():
    y = np.r_[np.zeros(80), np.linspace(1, 2, 20)]
    f = MarkovForecaster(n_states=16).fit(y)
    assert 1 < f.n_states_[0] < 16
    assert np.all(np.diff(f.bin_edges_[0]) > 0)
    assert np.isfinite(f.predict(5)).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=2, max_size=60), st.integers(1, 8))
def test_quantile_bins_never_split_or_merge_few_distinct_values(values, n_states):
    y = np.array(values, dtype=float)
    # the bins of the values themselves (with differences="auto" they may be increments)
    f = MarkovForecaster(n_states=n_states, differences=0).fit(y)
    k = len(np.unique(y))
    assert f.n_states_[0] <= min(k, n_states)
    if k <= n_states and min(np.unique(y, return_counts=True)[1]) * n_states >= y.size:
        assert f.n_states_[0] == k  # every value holds at least one bin's worth of mass
    states = np.searchsorted(f.bin_edges_[0], y)
    for s in range(f.n_states_[0]):  # a tied value always lands in a single state
        assert np.isin(np.unique(y[states == s]), y[states != s]).sum() == 0


def test_constant_series_has_one_state_and_forecasts_the_constant():
    f = MarkovForecaster().fit(np.full(10, 4.2))
    assert f.n_states_ == [1]
    assert np.allclose(f.predict(3), 4.2)


def simulate_ar1(n, rng, phi=0.8):
    x = np.zeros(n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + rng.normal()
    return x


@pytest.mark.parametrize("coverage", [0.8, 0.9])
def test_intervals_cover_at_about_the_stated_rate_on_a_simulated_chain(coverage):
    rng = np.random.default_rng(1)
    x = simulate_ar1(6000, rng)
    f = MarkovForecaster(n_states=16).fit(x[:4000])
    test, h, hits = x[4000:], 3, []
    for t in range(10, test.size - h, 4):
        lower, upper = f.predict_interval(h, coverage=coverage, context=test[t - 5:t])
        assert np.all(lower <= upper)
        hits.append((test[t:t + h] >= lower) & (test[t:t + h] <= upper))
    rate = np.mean(hits, axis=0)
    assert np.all(np.abs(rate - coverage) < 0.05), rate


def test_intervals_on_a_discrete_chain_are_never_too_narrow():
    rng = np.random.default_rng(2)
    P = np.array([[0.7, 0.2, 0.1], [0.2, 0.6, 0.2], [0.1, 0.3, 0.6]])
    z = [0]
    for _ in range(3999):
        z.append(rng.choice(3, p=P[z[-1]]))
    z = np.array(z, dtype=float)
    f = MarkovForecaster(n_states=3, smoothing=0.1).fit(z[:3000])
    hits = []
    for t in range(3000, 3990, 3):
        lower, upper = f.predict_interval(2, coverage=0.8, context=z[t - 3:t])
        hits.append((z[t:t + 2] >= lower) & (z[t:t + 2] <= upper))
    assert np.all(np.mean(hits, axis=0) >= 0.8 - 0.03)


def test_high_order_stores_only_observed_histories():
    rng = np.random.default_rng(0)
    y = rng.normal(size=2000)
    order, n_states = 12, 16  # a dense table would hold 16**12 * 16 counts
    tracemalloc.start()
    f = MarkovForecaster(order=order, n_states=n_states).fit(y)
    forecast = f.predict(10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert f.n_contexts_[0] <= order * y.size + 1
    assert f.chains_[0].counts.nnz <= (order + 1) * y.size
    assert peak < 100 * 2**20
    assert np.isfinite(forecast).all()


def test_successor_table_is_the_longest_observed_suffix():
    rng = np.random.default_rng(4)
    f = MarkovForecaster(order=3, n_states=4).fit(rng.integers(0, 4, size=300).astype(float))
    chain = f.chains_[0]
    for cid, context in enumerate(chain.contexts):
        for s in range(chain.n_states):
            expected = chain.context_of(context + (s,))
            assert chain.successors[cid, s] == expected
            history, found = context + (s,), chain.contexts[expected]
            assert history[len(history) - len(found):] == found


def test_exogenous_columns_are_refused():
    with pytest.raises(ValueError, match="does not use exogenous"):
        MarkovForecaster().fit(SEQ, X=np.ones(SEQ.size))


@pytest.mark.parametrize(
    "params, error, message",
    [
        ({"order": 0}, ValueError, "order"),
        ({"n_states": 0}, ValueError, "n_states"),
        ({"binning": "kmeans"}, ValueError, "binning"),
        ({"smoothing": -1.0}, ValueError, "smoothing"),
        ({"differences": 2}, ValueError, r"differences must be an integer in \[0, 1\]"),
        ({"differences": True}, TypeError, r"differences must be an integer in \[0, 1\]"),
        ({"differences": 0.5}, TypeError, r"differences must be an integer in \[0, 1\]"),
    ],
)
def test_invalid_parameters_raise(params, error, message):
    with pytest.raises(error, match=message):
        MarkovForecaster(**params).fit(SEQ)


# ---------------------------------------------------------------------------------------------
# differences=1: a chain over the increments
# ---------------------------------------------------------------------------------------------
def random_walk_with_drift(n, drift, rng, scale=1.0):
    return 100.0 + np.cumsum(drift + scale * rng.normal(size=n))


def test_differenced_chain_follows_the_drift_of_a_random_walk():
    rng = np.random.default_rng(3)
    y = random_walk_with_drift(3000, drift=0.5, rng=rng)
    horizon = 200
    forecast = MarkovForecaster(differences=1).fit(y).predict(horizon)
    slope = np.polyfit(np.arange(1, horizon + 1), forecast - y[-1], 1)[0]
    assert slope == pytest.approx(np.mean(np.diff(y)), abs=0.05)
    assert abs(forecast[0] - y[-1]) < 2.0  # starts from the last value
    assert forecast[-1] > y.max() + 50  # leaves the training range, as the walk does


def test_level_chain_cannot_leave_the_training_range_of_a_trend():
    y = random_walk_with_drift(3000, drift=0.5, rng=np.random.default_rng(3))
    forecast = MarkovForecaster(differences=0).fit(y).predict(200)
    assert forecast.max() <= y.max()


def test_differenced_chain_forecasts_a_trend_with_a_deterministic_step_cycle_exactly():
    steps = np.array([2.0, -1.0, 0.5])
    y = np.cumsum(np.tile(steps, 30))
    f = MarkovForecaster(n_states=3, smoothing=0.0, differences=1).fit(y)
    assert f.bin_means_[0].tolist() == [-1.0, 0.5, 2.0]
    assert np.allclose(f.predict(7), y[-1] + np.cumsum(np.tile(steps, 3)[:7]))


def test_differenced_update_and_context_continue_from_the_last_value():
    steps = np.array([2.0, -1.0, 0.5])
    y = np.cumsum(np.tile(steps, 30))
    f = MarkovForecaster(n_states=3, smoothing=0.0, differences=1).fit(y)
    new = y[-1] + np.cumsum(steps[:2])  # two more steps: 2.0, -1.0
    f.update(new)
    assert np.allclose(f.predict(2), new[-1] + np.array([0.5, 2.5]))
    assert np.allclose(f.predict(2, context=np.array([10.0, 12.0])), [11.0, 11.5])
    # A context of one value has no increment: the first step is the mean increment.
    assert f.predict(1, context=np.array([10.0]))[0] == pytest.approx(10 + np.mean(np.diff(y)))


def test_differenced_chain_needs_three_observations():
    with pytest.raises(ValueError, match="at least 3"):
        MarkovForecaster(differences=1).fit(np.array([1.0, 2.0]))
    assert MarkovForecaster(differences=1).fit(np.array([1.0, 2.0, 4.0])).predict(1) > 4.0


def test_differenced_intervals_cover_a_random_walk_and_widen_with_the_horizon():
    rng = np.random.default_rng(5)
    y = random_walk_with_drift(7000, drift=0.2, rng=rng)
    f = MarkovForecaster(differences=1).fit(y[:5000])
    test, h, hits, widths = y[5000:], 10, [], []
    for t in range(10, test.size - h, 20):
        lower, upper = f.predict_interval(h, coverage=0.8, context=test[t - 5:t])
        hits.append((test[t:t + h] >= lower) & (test[t:t + h] <= upper))
        widths.append(upper - lower)
    rate = np.mean(hits, axis=0)
    assert np.all(np.abs(rate - 0.8) < 0.07), rate
    width = np.mean(widths, axis=0)
    # A random walk's spread grows like sqrt(h): 10 steps about sqrt(10) times one step.
    assert width[-1] / width[0] == pytest.approx(np.sqrt(10), rel=0.15)
    again = f.predict_interval(h, coverage=0.8, context=test[:5])
    assert np.array_equal(again[0], f.predict_interval(h, coverage=0.8, context=test[:5])[0])


def test_differenced_chain_keeps_one_last_value_per_series_and_column():
    a = pd.DataFrame({"x": np.arange(10.0), "y": 2.0 * np.arange(10.0)})
    b = pd.DataFrame({"x": 50.0 - np.arange(10.0), "y": np.full(10, 7.0)})
    f = MarkovForecaster(n_states=2, smoothing=0.0, differences=1).fit([a, b])
    first, second = f.predict(2)
    assert np.allclose(first["x"], [10.0, 11.0]) and np.allclose(first["y"], [20.0, 22.0])
    assert np.allclose(second["x"], [40.0, 39.0]) and np.allclose(second["y"], [7.0, 7.0])


# ---------------------------------------------------------------------------------------------
# automatic differences and bins
# ---------------------------------------------------------------------------------------------
def smooth_slow_signal(n=3000, seed=0):
    """A slowly varying sensor-like signal: a moving average of noise plus a slow wave."""
    noise = np.random.default_rng(seed).normal(size=n + 199)
    return 10.0 * np.convolve(noise, np.ones(200) / 200, "valid") + np.sin(np.arange(n) / 300)


def mean_error(model, y, n_train, horizon=10, n_origins=20):
    origins = np.linspace(n_train, y.size - horizon, n_origins).astype(int)
    return np.mean([np.abs(model.predict(horizon, context=y[:o]) - y[o:o + horizon]).mean()
                    for o in origins])


def test_auto_configuration_follows_a_smooth_signal_as_closely_as_the_last_value():
    y = smooth_slow_signal()
    n_train = 2400
    auto = MarkovForecaster().fit(y[:n_train])
    fixed = MarkovForecaster(n_states=16, differences=0).fit(y[:n_train])
    naive = NaiveForecaster().fit(y[:n_train])
    assert auto.differences_ == 1
    assert mean_error(auto, y, n_train) < 1.1 * mean_error(naive, y, n_train)
    assert mean_error(fixed, y, n_train) > 1.5 * mean_error(naive, y, n_train)


def test_auto_configuration_keeps_levels_for_noise_around_a_mean():
    noise = np.random.default_rng(1).normal(size=800)
    model = MarkovForecaster().fit(noise)
    assert model.differences_ == 0
    assert len(model.validation_scores_) == 10
    best = min(model.validation_scores_, key=model.validation_scores_.get)
    assert best[0] == model.differences_
    assert model.n_states_[0] <= best[1]


def test_given_parameters_are_not_validated_and_only_auto_ones_are_searched():
    y = smooth_slow_signal(600)
    assert MarkovForecaster(n_states=8, differences=1).fit(y).validation_scores_ == {}
    searched = MarkovForecaster(differences=1).fit(y).validation_scores_
    assert sorted(searched) == [(1, 4), (1, 8), (1, 16), (1, 32), (1, 64)]


def test_a_series_too_short_to_validate_on_falls_back_to_fixed_values():
    short = np.array([1.0, 2.0, 1.0, 3.0, 2.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0])
    model = MarkovForecaster().fit(short)
    assert (model.differences_, model.validation_scores_) == (0, {})
    assert MarkovForecaster(differences=1).fit(short).differences_ == 1
    assert np.isfinite(model.predict(3)).all()


def test_auto_configuration_validates_every_series_of_a_list():
    series = [smooth_slow_signal(500, seed) for seed in range(3)]
    model = MarkovForecaster().fit(series)
    assert model.differences_ == 1
    assert len(model.predict(2, context=series)) == 3


@pytest.mark.parametrize("params, match", [
    ({"n_states": "many"}, "n_states must be 'auto' or an integer"),
    ({"n_states": 0}, "n_states"),
    ({"differences": 2}, "differences"),
    ({"differences": "yes"}, "differences must be 'auto' or 0 or 1"),
])
def test_invalid_automatic_parameters_are_refused(params, match):
    with pytest.raises(ValueError, match=match):
        MarkovForecaster(**params).fit(np.arange(50.0))
