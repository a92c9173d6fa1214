"""Prediction intervals, quantiles and sample paths of every forecaster.

On a simulated AR(1) each forecaster's intervals must reach their nominal coverage within
sampling error; samples and intervals must agree; bad requests must fail clearly.
"""
import math

import numpy as np
import pandas as pd
import pytest

from tsrnn import (ARIMAForecaster, MarkovForecaster, NaiveForecaster, RNNForecaster,
                   STLForecaster)

N_FIT, N_TOTAL, CONTEXT = 800, 1300, 300
ORIGINS = np.linspace(N_FIT + CONTEXT, N_TOTAL - 6, 120).astype(int)


def ar1(n, phi=0.7, seed=1):
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=n)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = phi * y[t - 1] + noise[t]
    return y


Y = ar1(N_TOTAL)


def small_rnn(**params):
    settings = dict(hidden_size=16, max_epochs=15, n_models=1, random_state=0)
    return RNNForecaster(**{**settings, **params})


FORECASTERS = {
    "naive": NaiveForecaster,
    "arima": lambda: ARIMAForecaster(order=(1, 0, 0)),
    "stl": STLForecaster,
    "markov": MarkovForecaster,
    "rnn": small_rnn,
}
_FITTED = {}


def fitted(name):
    """Each forecaster fitted once on the first part of the AR(1)."""
    if name not in _FITTED:
        _FITTED[name] = FORECASTERS[name]().fit(Y[:N_FIT])
    return _FITTED[name]


def empirical_coverage(forecaster, horizon, coverage):
    """Share of the values ``horizon`` steps after each origin inside their interval."""
    contexts = [Y[o - CONTEXT:o] for o in ORIGINS]
    lowers, uppers = forecaster.predict_interval(horizon, coverage=coverage, context=contexts)
    hits = [lo[-1] <= Y[o + horizon - 1] <= hi[-1]
            for lo, hi, o in zip(lowers, uppers, ORIGINS)]
    return float(np.mean(hits))


def within_sampling_error(observed, nominal, n=len(ORIGINS), sigmas=3.5):
    # the calibration itself is estimated from a few hundred errors, hence the wide band
    return abs(observed - nominal) <= sigmas * math.sqrt(nominal * (1 - nominal) / n) + 0.02


# ------------------------------------------------------------------ coverage
@pytest.mark.parametrize("name", list(FORECASTERS))
def test_one_step_intervals_reach_nominal_coverage_on_an_ar1(name):
    observed = empirical_coverage(fitted(name), 1, 0.9)
    assert within_sampling_error(observed, 0.9), observed


@pytest.mark.parametrize("name", ["arima", "stl", "markov", "rnn"])
def test_five_step_intervals_reach_nominal_coverage_on_an_ar1(name):
    # the naive forecast's random-walk interval is too wide on a stationary series, as it
    # should be: it is not this model
    observed = empirical_coverage(fitted(name), 5, 0.8)
    assert within_sampling_error(observed, 0.8), observed


@pytest.mark.parametrize("name", list(FORECASTERS))
def test_samples_agree_with_the_quantiles(name):
    f = fitted(name)
    levels = [0.1, 0.5, 0.9]
    quantiles = f.predict_quantiles(5, q=levels)
    samples = f.predict_samples(5, n_samples=4000, random_state=0)
    from_samples = np.quantile(samples, levels, axis=0).T
    width = quantiles[:, 2] - quantiles[:, 0]
    # the RNN's paths run its own closed loop, so they may differ more (see its Notes)
    tolerance = 0.35 if name == "rnn" else 0.15
    assert np.all(np.abs(from_samples - quantiles) <= tolerance * width[:, None]), \
        (from_samples, quantiles)


@pytest.mark.parametrize("name", list(FORECASTERS))
def test_intervals_are_ordered_and_widen_with_coverage(name):
    f = fitted(name)
    pairs = f.predict_interval(10, coverage=[0.5, 0.8, 0.95])
    assert sorted(pairs) == [0.5, 0.8, 0.95]
    widths = [pairs[c][1] - pairs[c][0] for c in (0.5, 0.8, 0.95)]
    assert np.all(widths[0] >= 0)
    assert np.all(widths[1] >= widths[0] - 1e-12) and np.all(widths[2] >= widths[1] - 1e-12)
    point = f.predict(10)
    lower, upper = pairs[0.95]
    assert np.all(lower <= point + 1e-9) and np.all(point <= upper + 1e-9)


# ------------------------------------------------------------------ bad requests
@pytest.mark.parametrize("coverage", [0, 1, 1.5, -0.1, float("nan"), "0.9", [0.5, 2.0], []])
@pytest.mark.parametrize("name", ["naive", "rnn"])
def test_bad_coverage_is_refused_by_name(name, coverage):
    with pytest.raises((ValueError, TypeError), match="coverage"):
        fitted(name).predict_interval(3, coverage=coverage)


@pytest.mark.parametrize("q", [0, 1, [0.5, 1.2], float("nan"), "0.5", []])
def test_bad_quantile_levels_are_refused(q):
    with pytest.raises((ValueError, TypeError), match="q"):
        fitted("naive").predict_quantiles(3, q=q)


@pytest.mark.parametrize("n_samples", [0, -5, 2.5, "10", None, True])
@pytest.mark.parametrize("name", ["naive", "rnn"])
def test_bad_n_samples_is_refused_by_name(name, n_samples):
    with pytest.raises((ValueError, TypeError), match="n_samples"):
        fitted(name).predict_samples(3, n_samples=n_samples)


def test_a_sample_request_beyond_the_limit_says_so_before_allocating():
    with pytest.raises(ValueError, match="limit"):
        fitted("naive").predict_samples(1_000_000, n_samples=1_000_000)


# ------------------------------------------------------------------ outputs
def test_quantile_and_sample_shapes_for_arrays_series_and_frames():
    index = pd.date_range("2020-01-01", periods=300, freq="h")
    frame = pd.DataFrame({"a": ar1(300, seed=2), "b": ar1(300, seed=3)}, index=index)
    one = NaiveForecaster().fit(frame["a"].to_numpy())
    assert one.predict_quantiles(4, q=[0.1, 0.9]).shape == (4, 2)
    assert one.predict_samples(4, n_samples=7).shape == (7, 4)
    two = NaiveForecaster().fit(frame.to_numpy())
    assert two.predict_quantiles(4, q=[0.1, 0.9]).shape == (4, 2, 2)
    assert two.predict_samples(4, n_samples=7).shape == (7, 4, 2)

    series = NaiveForecaster().fit(frame["a"])
    quantiles = series.predict_quantiles(4, q=[0.1, 0.5, 0.9])
    assert list(quantiles.columns) == [0.1, 0.5, 0.9]
    assert quantiles.index[0] == index[-1] + pd.Timedelta(hours=1)
    samples = series.predict_samples(4, n_samples=3)
    assert samples.shape == (4, 3) and samples.columns.name == "sample"

    table = NaiveForecaster().fit(frame)
    quantiles = table.predict_quantiles(4, q=[0.1, 0.9])
    assert list(quantiles.columns) == [("a", 0.1), ("a", 0.9), ("b", 0.1), ("b", 0.9)]
    samples = table.predict_samples(4, n_samples=3)
    assert samples.shape == (4, 6) and samples.columns.names == [None, "sample"]


def test_quantile_levels_in_any_order_come_back_in_that_order():
    f = fitted("arima")
    ordered = f.predict_quantiles(3, q=[0.1, 0.5, 0.9])
    shuffled = f.predict_quantiles(3, q=[0.9, 0.1, 0.5])
    np.testing.assert_allclose(shuffled, ordered[:, [2, 0, 1]])


@pytest.mark.parametrize("name", list(FORECASTERS))
def test_the_same_seed_gives_the_same_paths(name):
    f = fitted(name)
    first = f.predict_samples(6, n_samples=20, random_state=3)
    np.testing.assert_array_equal(first, f.predict_samples(6, n_samples=20, random_state=3))
    assert not np.array_equal(first, f.predict_samples(6, n_samples=20, random_state=4))


@pytest.mark.parametrize("name", list(FORECASTERS))
def test_intervals_and_samples_from_contexts(name):
    f = fitted(name)
    contexts = [Y[N_FIT:N_FIT + CONTEXT], Y[N_FIT + 100:N_FIT + 100 + CONTEXT]]
    lowers, uppers = f.predict_interval(4, coverage=0.9, context=contexts)
    assert len(lowers) == len(uppers) == 2
    assert all(np.all(np.isfinite(b)) for b in lowers + uppers)
    samples = f.predict_samples(4, n_samples=10, context=contexts, random_state=0)
    assert [s.shape for s in samples] == [(10, 4), (10, 4)]
    # each interval is centred on its own context's forecast
    points = f.predict(4, context=contexts)
    for lower, upper, point in zip(lowers, uppers, points):
        assert np.all(lower <= point + 1e-9) and np.all(point <= upper + 1e-9)


# ------------------------------------------------------------------ the RNN's calibration
def test_rnn_calibration_is_held_out_with_early_stopping_and_in_sample_without():
    held_out = fitted("rnn")
    assert held_out.calibration_held_out_
    errors = held_out.calibration_errors_
    assert errors.ndim == 3 and errors.shape[2] == 1
    known = np.isfinite(errors[..., 0]).sum(axis=0)
    assert known[0] >= 50 and np.all(np.diff(known) <= 0)  # fewer origins reach far
    in_sample = small_rnn(early_stopping=False).fit(Y[:N_FIT])
    assert not in_sample.calibration_held_out_
    lower, upper = in_sample.predict_interval(3)
    assert np.all(lower < upper)


def test_rnn_intervals_beyond_the_calibrated_steps_keep_widening():
    f = fitted("rnn")
    calibrated = f.calibration_errors_.shape[1]
    lower, upper = f.predict_interval(calibrated + 200, coverage=0.9)
    width = upper - lower
    assert np.all(np.isfinite(width))
    assert width[-1] > width[calibrated - 1]


def test_rnn_save_and_load_keep_the_calibration(tmp_path):
    f = fitted("rnn")
    path = tmp_path / "model.npz"
    f.save(path)
    loaded = RNNForecaster.load(path)
    np.testing.assert_array_equal(loaded.calibration_errors_, f.calibration_errors_)
    assert loaded.calibration_held_out_ == f.calibration_held_out_
    for a, b in zip(loaded.predict_interval(8, coverage=0.8), f.predict_interval(8, coverage=0.8)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(loaded.predict_samples(5, n_samples=30, random_state=1),
                               f.predict_samples(5, n_samples=30, random_state=1), atol=1e-6)


def test_rnn_ensemble_intervals_and_samples():
    f = small_rnn(n_models=2, max_epochs=5).fit(Y[:N_FIT])
    lower, upper = f.predict_interval(6, coverage=0.9)
    point = f.predict(6)
    assert np.all(lower <= point) and np.all(point <= upper)
    # the paths are shared among the members: an odd count still comes back whole
    assert f.predict_samples(6, n_samples=11, random_state=0).shape == (11, 6)


def test_rnn_update_keeps_the_calibration_and_moves_the_interval():
    f = small_rnn(max_epochs=5).fit(Y[:N_FIT])
    before = f.predict_interval(3)
    errors = f.calibration_errors_.copy()
    f.update(Y[N_FIT:N_FIT + 50])
    np.testing.assert_array_equal(f.calibration_errors_, errors)
    after = f.predict_interval(3)
    assert not np.allclose(before[0], after[0])


def test_stl_intervals_need_enough_fitted_values_for_the_calibration():
    f = STLForecaster(season_length=None).fit(Y[:30])
    with pytest.raises(ValueError, match="held-out"):
        f.predict_interval(3)
    assert np.all(np.isfinite(f.predict(3)))  # the point forecast does not need them
