"""NaiveForecaster: hand-checked forecasts, state updates and intervals."""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from tsrnn.forecasters.naive import NaiveForecaster

Y = np.array([1.0, 5.0, 2.0, 6.0, 3.0, 7.0])


def test_last_strategy_repeats_last_value():
    assert NaiveForecaster("last").fit(Y).predict(3).tolist() == [7.0, 7.0, 7.0]


def test_mean_strategy_forecasts_mean_of_everything_seen():
    f = NaiveForecaster("mean").fit(Y)
    assert f.predict(2).tolist() == [4.0, 4.0]
    f.update(np.array([18.0]))
    assert f.predict(1).tolist() == [pytest.approx((24.0 + 18.0) / 7)]


def test_seasonal_strategy_repeats_last_season():
    f = NaiveForecaster("seasonal", season_length=3).fit(Y)
    assert f.predict(5).tolist() == [6.0, 3.0, 7.0, 6.0, 3.0]


def test_update_shifts_the_seasonal_window():
    f = NaiveForecaster("seasonal", season_length=2).fit(Y)
    f.update(np.array([10.0]))
    assert f.predict(3).tolist() == [7.0, 10.0, 7.0]


def test_context_replaces_the_fitted_history():
    f = NaiveForecaster("mean").fit(Y)
    assert f.predict(1, context=np.array([2.0, 4.0])).tolist() == [3.0]


def test_each_column_of_a_dataframe_is_forecast():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [9.0, 8.0, 7.0]})
    out = NaiveForecaster("last").fit(frame).predict(2)
    assert out.to_numpy().tolist() == [[3.0, 7.0], [3.0, 7.0]]


def test_seasonal_needs_season_length():
    with pytest.raises(ValueError, match="season_length"):
        NaiveForecaster("seasonal").fit(Y)


def test_seasonal_needs_a_full_season_of_data():
    with pytest.raises(ValueError, match="at least 4"):
        NaiveForecaster("seasonal", season_length=4).fit(Y[:3])


def test_unknown_strategy_raises():
    with pytest.raises(ValueError, match="strategy must be one of"):
        NaiveForecaster("drift").fit(Y)


def test_exogenous_columns_are_refused():
    with pytest.raises(ValueError, match="does not use exogenous"):
        NaiveForecaster().fit(Y, X=np.ones(6))


def test_last_strategy_interval_widens_like_a_random_walk():
    y = np.array([0.0, 1.0, 0.0, 1.0, 0.0])  # one-step residuals +-1: sigma = 1
    lower, upper = NaiveForecaster("last").fit(y).predict_interval(4, coverage=0.95)
    z = norm.ppf(0.975)
    assert np.allclose(upper, z * np.sqrt([1, 2, 3, 4]))
    assert np.allclose(lower, -z * np.sqrt([1, 2, 3, 4]))


def test_seasonal_interval_widens_once_per_season():
    y = np.array([0.0, 10.0, 2.0, 10.0, 0.0, 10.0])  # residuals 2, 0, -2, 0: sigma = sqrt(2)
    lower, upper = NaiveForecaster("seasonal", season_length=2).fit(y).predict_interval(
        4, coverage=0.9
    )
    width = (upper - lower) / (2 * norm.ppf(0.95) * np.sqrt(2))
    assert np.allclose(width, [1, 1, np.sqrt(2), np.sqrt(2)])


def test_mean_interval_uses_residual_scale_and_sample_size():
    y = np.array([1.0, 3.0, 1.0, 3.0])  # residuals +-1, sigma = 1, T = 4
    lower, upper = NaiveForecaster("mean").fit(y).predict_interval(2, coverage=0.8)
    half = norm.ppf(0.9) * np.sqrt(1 + 1 / 4)
    assert np.allclose(upper, 2.0 + half) and np.allclose(lower, 2.0 - half)
