"""STLForecaster: decomposition, ARIMA on the adjusted series, contexts, updates, checks."""

import numpy as np
import pandas as pd
import pytest

from tsrnn import STLForecaster


def seasonal(n, period=12, trend=0.05, noise=0.1, seed=0):
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 10 + trend * t + 2 * np.sin(2 * np.pi * t / period) + noise * rng.standard_normal(n)


def test_the_season_is_detected_and_forecast():
    y = seasonal(360)
    f = STLForecaster().fit(y[:300])
    assert f.periods_ == (12,)
    error = np.abs(f.predict(24) - y[300:324]).mean()
    assert error < 0.3  # the noise is 0.1, the seasonal amplitude 2


def test_two_seasons_use_mstl():
    t = np.arange(1200)
    y = np.sin(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 168) \
        + 0.05 * np.random.default_rng(1).standard_normal(1200)
    f = STLForecaster(season_length=(24, 168)).fit(y[:1000])
    assert f.periods_ == (24, 168)
    assert np.abs(f.predict(48) - y[1000:1048]).mean() < 0.2


def test_no_season_is_arima_on_the_series():
    rng = np.random.default_rng(2)
    y = np.zeros(300)
    for t in range(1, 300):
        y[t] = 0.8 * y[t - 1] + rng.standard_normal()
    f = STLForecaster(season_length=None).fit(y)
    assert f.periods_ == ()
    assert f.predict(3).shape == (3,)


def test_a_context_equals_an_update_with_the_same_values():
    y = seasonal(400)
    f = STLForecaster(season_length=12).fit(y[:300])
    from_context = f.predict(12, context=y[:350])
    f.update(y[300:350])
    np.testing.assert_allclose(f.predict(12), from_context, rtol=1e-10)


def test_pandas_in_and_out_and_intervals_contain_the_mean():
    y = pd.Series(seasonal(240), index=pd.date_range("2000-01", periods=240, freq="MS"))
    f = STLForecaster(season_length=12).fit(y)
    forecast = f.predict(6)
    assert forecast.index[0] == pd.Timestamp("2020-01-01")
    lower, upper = f.predict_interval(6, coverage=0.9)
    assert np.all(lower.to_numpy() < forecast.to_numpy())
    assert np.all(forecast.to_numpy() < upper.to_numpy())


def test_a_short_context_is_refused():
    f = STLForecaster(season_length=12).fit(seasonal(200))
    with pytest.raises(ValueError, match="context"):
        f.predict(3, context=seasonal(20))


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="season_length"):
        STLForecaster(season_length=0.5).fit(seasonal(100))
    with pytest.raises(ValueError, match="max_fit_length"):
        STLForecaster(max_fit_length=5).fit(seasonal(100))
    with pytest.raises(ValueError, match="exogenous|X"):
        STLForecaster().fit(seasonal(100), X=np.ones((100, 1)))
