"""ARIMAForecaster against statsmodels itself: same forecasts, updates, contexts, intervals."""
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.arima.model import ARIMA

from tsrnn.forecasters.arima import ARIMAForecaster, fourier_terms, ndiffs


def simulate_ar2(n, seed, phi=(0.6, -0.3), mean=0.0):
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n + 50)
    x = np.zeros(n + 50)
    for t in range(2, n + 50):
        x[t] = phi[0] * x[t - 1] + phi[1] * x[t - 2] + e[t]
    return x[50:] + mean


Y = simulate_ar2(160, seed=0, mean=3.0)


def fit_statsmodels(y, order, exog=None, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ARIMA(y, exog=exog, order=order, **kwargs).fit()


def test_forecast_equals_statsmodels_for_same_order_and_data():
    reference = fit_statsmodels(Y, (2, 0, 1)).forecast(6)
    forecast = ARIMAForecaster(order=(2, 0, 1)).fit(Y).predict(6)
    np.testing.assert_allclose(forecast, reference, rtol=1e-10)


def test_forecast_with_exogenous_columns_equals_statsmodels():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(Y.size + 4, 2))
    y = Y + X[:-4] @ np.array([1.5, -0.5])
    reference = fit_statsmodels(y, (1, 0, 0), exog=X[:-4]).forecast(4, exog=X[-4:])
    f = ARIMAForecaster(order=(1, 0, 0)).fit(y, X=X[:-4])
    np.testing.assert_allclose(f.predict(4, X=X[-4:]), reference, rtol=1e-10)


def test_pandas_input_gives_indexed_forecast():
    y = pd.Series(Y, index=pd.date_range("2024-01-01", periods=Y.size, freq="D"), name="temp")
    forecast = ARIMAForecaster(order=(1, 0, 0)).fit(y).predict(3)
    assert forecast.name == "temp"
    assert list(forecast.index) == list(pd.date_range(y.index[-1], periods=4, freq="D")[1:])


def test_interval_equals_statsmodels_conf_int():
    reference = fit_statsmodels(Y, (1, 0, 1)).get_forecast(5).conf_int(alpha=0.2)
    lower, upper = ARIMAForecaster(order=(1, 0, 1)).fit(Y).predict_interval(5, coverage=0.8)
    np.testing.assert_allclose(lower, reference[:, 0], rtol=1e-10)
    np.testing.assert_allclose(upper, reference[:, 1], rtol=1e-10)


def test_update_matches_statsmodels_append_without_refit():
    f = ARIMAForecaster(order=(2, 0, 0)).fit(Y[:120])
    params = f.results_[0][0].params.copy()
    f.update(Y[120:])
    reference = fit_statsmodels(Y[:120], (2, 0, 0)).append(Y[120:]).forecast(4)
    np.testing.assert_allclose(f.predict(4), reference, rtol=1e-10)
    np.testing.assert_array_equal(f.results_[0][0].params, params)


def test_context_matches_statsmodels_apply():
    f = ARIMAForecaster(order=(2, 0, 0)).fit(Y[:120])
    context = Y[130:]
    reference = fit_statsmodels(Y[:120], (2, 0, 0)).apply(context).forecast(3)
    np.testing.assert_allclose(f.predict(3, context=context), reference, rtol=1e-10)
    # The stored end of data is untouched by a context.
    np.testing.assert_allclose(
        f.predict(3), fit_statsmodels(Y[:120], (2, 0, 0)).forecast(3), rtol=1e-10
    )


def test_auto_order_by_bic_recovers_simulated_ar2():
    y = simulate_ar2(300, seed=1)
    f = ARIMAForecaster(information_criterion="bic", max_p=3, max_q=2).fit(y)
    assert f.order_ == (2, 0, 0)


def test_auto_order_by_aic_is_stationary_with_autoregression():
    y = simulate_ar2(300, seed=1)
    f = ARIMAForecaster(max_p=3, max_q=2).fit(y)
    p, d, q = f.order_
    assert d == 0 and p >= 2


@pytest.mark.parametrize("test", ["kpss", "adf"])
def test_auto_order_differences_a_random_walk_once(test):
    # Both tests err at rate alpha; seed 0 is a walk on which neither errs.
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.normal(size=200)) + 50
    f = ARIMAForecaster(max_p=1, max_q=1, information_criterion="bic", test=test).fit(y)
    assert f.order_[1] == 1


@pytest.mark.parametrize("test", ["kpss", "adf"])
def test_ndiffs_counts_the_integrations_of_white_noise(test):
    # Seed 0 is a draw on which neither test errs at alpha=0.05.
    noise = np.random.default_rng(0).normal(size=500)
    walk = np.cumsum(noise)
    assert [ndiffs(x, test=test) for x in (noise, walk, np.cumsum(walk))] == [0, 1, 2]
    assert ndiffs(np.cumsum(walk), test=test, max_d=1) == 1


def test_ndiffs_needs_no_differences_for_short_or_constant_series_and_checks_the_test():
    assert ndiffs(np.arange(7.0)) == 0 and ndiffs(np.full(50, 3.0)) == 0
    with pytest.raises(ValueError, match="test must be one of"):
        ndiffs(np.arange(50.0), test="pp")


def test_list_of_series_fits_one_model_each():
    a, b = Y[:100], simulate_ar2(100, seed=7) * 10
    f = ARIMAForecaster(order=(1, 0, 0)).fit([a, b])
    assert len(f.results_) == 2 and f.order_ == [[(1, 0, 0)], [(1, 0, 0)]]
    forecasts = f.predict(2)
    np.testing.assert_allclose(forecasts[1], fit_statsmodels(b, (1, 0, 0)).forecast(2))


def test_statsmodels_warnings_are_summarised_in_one_warning():
    class Noisy(ARIMAForecaster):
        def _model(self, *args):
            model = super()._model(*args)
            fit = model.fit

            def noisy_fit(*args, **kwargs):
                for i in range(3):
                    warnings.warn(f"did not converge {i}", RuntimeWarning, stacklevel=2)
                return fit(*args, **kwargs)

            model.fit = noisy_fit
            return model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Noisy(order=(1, 0, 0)).fit(Y)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert caught[0].category is UserWarning
    assert "3 warning(s)" in message and "RuntimeWarning" in message


def test_max_fit_length_fits_recent_samples_and_says_so_once():
    with pytest.warns(UserWarning, match="most recent max_fit_length=80") as record:
        f = ARIMAForecaster(order=(1, 0, 0), max_fit_length=80).fit(Y)
    assert sum("max_fit_length" in str(w.message) for w in record) == 1
    reference = fit_statsmodels(Y[-80:], (1, 0, 0)).forecast(3)
    np.testing.assert_allclose(f.predict(3), reference, rtol=1e-10)


def test_invalid_order_on_refit_leaves_fitted_model_unchanged():
    f = ARIMAForecaster(order=(1, 0, 0)).fit(Y)
    before = f.predict(3)
    f.set_params(order=(1, 0))
    with pytest.raises(ValueError, match="order must be"):
        f.fit(Y[:50])
    f.set_params(order=(1, 0, 0))
    np.testing.assert_array_equal(f.predict(3), before)


def test_future_exogenous_rows_are_required():
    f = ARIMAForecaster(order=(1, 0, 0)).fit(Y, X=np.arange(Y.size, dtype=float))
    with pytest.raises(ValueError, match="X is\\s+required"):
        f.predict(2)


# ---------------------------------------------------------------------------------------------
# seasons: a regression on Fourier terms with ARIMA errors (dynamic harmonic regression)
# ---------------------------------------------------------------------------------------------
PERIOD = 12.5  # a fractional season, as 365.25 / 7 weeks is


def seasonal_series(n, seed=0, amplitude=3.0, slope=0.0):
    """AR(1) noise around a level, a cycle of PERIOD steps and an optional trend."""
    rng = np.random.default_rng(seed)
    noise = np.zeros(n)
    for t in range(1, n):
        noise[t] = 0.5 * noise[t - 1] + rng.normal()
    t = np.arange(n)
    return 10 + slope * t + amplitude * np.sin(2 * np.pi * t / PERIOD + 0.3) + noise


def weekly(values, start="2001-01-06"):
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="W-SAT"))


def fit_fourier_statsmodels(y, order, positions, k, **kwargs):
    exog = fourier_terms(positions, PERIOD, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ARIMA(y, exog=exog, order=order, **kwargs).fit(gls=True)


def future_terms(start, horizon, k):
    return fourier_terms(np.arange(start, start + horizon), PERIOD, k)


def test_fourier_terms_are_sine_cosine_pairs_of_the_period():
    t = np.array([0.0, 1.0, 5.0, 11.0])
    terms = fourier_terms(t, PERIOD, 2)
    expected = np.column_stack([np.sin(2 * np.pi * t / PERIOD), np.cos(2 * np.pi * t / PERIOD),
                                np.sin(4 * np.pi * t / PERIOD), np.cos(4 * np.pi * t / PERIOD)])
    np.testing.assert_allclose(terms, expected, atol=1e-15)
    assert fourier_terms(t, PERIOD, 0).shape == (4, 0)


def test_seasonal_forecast_and_interval_equal_statsmodels_with_fourier_regressors():
    y = seasonal_series(150)
    reference = fit_fourier_statsmodels(y, (1, 0, 0), np.arange(150), 2)
    f = ARIMAForecaster(order=(1, 0, 0), season_length=PERIOD, harmonics=2).fit(y)
    expected = reference.get_forecast(8, exog=future_terms(150, 8, 2))
    np.testing.assert_allclose(f.predict(8), expected.predicted_mean, rtol=1e-10)
    lower, upper = f.predict_interval(8, coverage=0.8)
    np.testing.assert_allclose(lower, expected.conf_int(alpha=0.2)[:, 0], rtol=1e-10)
    np.testing.assert_allclose(upper, expected.conf_int(alpha=0.2)[:, 1], rtol=1e-10)
    assert f.order_ == (1, 0, 0) and f.harmonics_ == 2 and f.trend_ == "c"


def test_automatic_harmonics_find_a_season_and_none_in_plain_noise():
    # AIC adds a spurious pair at a rate of about 0.14 per pair; seed 1 is noise on which it
    # adds none.
    params = {"order": (1, 0, 0), "season_length": PERIOD, "max_harmonics": 3}
    seasonal = ARIMAForecaster(**params).fit(seasonal_series(200))
    plain = ARIMAForecaster(**params).fit(seasonal_series(200, seed=1, amplitude=0.0))
    assert seasonal.harmonics_ >= 1 and plain.harmonics_ == 0
    without = ARIMAForecaster(order=(1, 0, 0)).fit(seasonal_series(200))
    assert without.harmonics_ == 0


def test_automatic_search_differences_a_trend_and_keeps_its_drift():
    y = seasonal_series(160, slope=0.2)
    f = ARIMAForecaster(season_length=PERIOD, max_harmonics=1, max_p=1, max_q=0,
                        trend="auto").fit(y)
    assert f.order_[1] == 1 and f.trend_ == "t" and f.harmonics_ == 1
    # The same model fitted by statsmodels forecasts the same.
    reference = fit_fourier_statsmodels(y, f.order_, np.arange(160), 1, trend="t")
    np.testing.assert_allclose(f.predict(5), reference.forecast(5, exog=future_terms(160, 5, 1)),
                               rtol=1e-10)


def test_seasonal_update_equals_statsmodels_append_without_refit():
    y = weekly(seasonal_series(170))
    f = ARIMAForecaster(order=(1, 0, 0), season_length=PERIOD, harmonics=2).fit(y.iloc[:140])
    params = f.results_[0][0].params.copy()
    f.update(y.iloc[140:])
    reference = fit_fourier_statsmodels(y.to_numpy()[:140], (1, 0, 0), np.arange(140), 2)
    reference = reference.append(y.to_numpy()[140:], exog=future_terms(140, 30, 2))
    np.testing.assert_allclose(f.predict(6), reference.forecast(6, exog=future_terms(170, 6, 2)),
                               rtol=1e-10)
    np.testing.assert_array_equal(f.results_[0][0].params, params)


def test_seasonal_context_equals_statsmodels_apply_at_its_place_in_the_cycle():
    values = seasonal_series(220)
    y = weekly(values)
    f = ARIMAForecaster(order=(1, 0, 0), season_length=PERIOD, harmonics=2).fit(y.iloc[:150])
    fitted = fit_fourier_statsmodels(values[:150], (1, 0, 0), np.arange(150), 2)
    for start, stop in [(163, 200), (40, 90)]:  # after the fit data, and inside them
        reference = fitted.apply(values[start:stop], exog=future_terms(start, stop - start, 2))
        forecast = f.predict(5, context=y.iloc[start:stop])
        np.testing.assert_allclose(forecast, reference.forecast(5, exog=future_terms(stop, 5, 2)),
                                   rtol=1e-10)
        assert forecast.index[0] == y.index[stop]
    # A model fitted on an array places a context by an integer index counting its rows.
    g = ARIMAForecaster(order=(1, 0, 0), season_length=PERIOD, harmonics=2).fit(values[:150])
    context = pd.Series(values[163:200], index=pd.RangeIndex(163, 200))
    np.testing.assert_allclose(g.predict(5, context=context),
                               f.predict(5, context=y.iloc[163:200]), rtol=1e-10)


def test_seasonal_fit_on_recent_observations_keeps_their_positions():
    values = seasonal_series(200)
    y = weekly(values)
    with pytest.warns(UserWarning, match="max_fit_length=90"):
        f = ARIMAForecaster(order=(1, 0, 0), season_length=PERIOD, harmonics=1,
                            max_fit_length=90).fit(y.iloc[:160])
    fitted = fit_fourier_statsmodels(values[70:160], (1, 0, 0), np.arange(70, 160), 1)
    reference = fitted.apply(values[170:200], exog=future_terms(170, 30, 1))
    np.testing.assert_allclose(f.predict(4, context=y.iloc[170:200]),
                               reference.forecast(4, exog=future_terms(200, 4, 1)), rtol=1e-10)


def test_seasonal_context_must_be_indexed_on_the_fit_grid():
    y = weekly(seasonal_series(160))
    f = ARIMAForecaster(order=(1, 0, 0), season_length=PERIOD, harmonics=1).fit(y.iloc[:120])
    with pytest.raises(ValueError, match="where it lies in the seasonal cycle"):
        f.predict(3, context=y.to_numpy()[130:])
    shifted = y.iloc[130:].copy()
    shifted.index = shifted.index + pd.Timedelta(days=1)  # Sundays: off the Saturday grid
    with pytest.raises(ValueError, match="not a whole number of steps"):
        f.predict(3, context=shifted)
    fortnightly = pd.Series(y.to_numpy()[130:140],
                            index=pd.date_range("2004-01-03", periods=10, freq="2W-SAT"))
    with pytest.raises(ValueError, match="spaced by"):
        f.predict(3, context=fortnightly)
    with pytest.raises(ValueError, match="integer index counting the rows"):
        ARIMAForecaster(order=(1, 0, 0), season_length=PERIOD, harmonics=1).fit(
            y.to_numpy()).predict(3, context=y.to_numpy()[-40:])
    # Without Fourier terms any context will do.
    plain = ARIMAForecaster(order=(1, 0, 0)).fit(y.iloc[:120])
    assert plain.predict(3, context=y.to_numpy()[130:]).shape == (3,)


@pytest.mark.parametrize("params, error, message", [
    ({"season_length": "52"}, TypeError, "season_length must be None or a number"),
    ({"season_length": 2}, ValueError, "season_length must be a number of steps > 2"),
    ({"season_length": np.nan}, ValueError, "season_length must be a number of steps > 2"),
    ({"season_length": 12, "harmonics": 6}, ValueError, "harmonics must be below"),
    ({"harmonics": 2}, ValueError, "harmonics=2 needs season_length"),
    ({"season_length": 12, "harmonics": "many"}, ValueError, "harmonics must be 'auto'"),
    ({"season_length": 12, "harmonics": 1.5}, TypeError, "harmonics must be an integer"),
    ({"season_length": 12, "max_harmonics": -1}, ValueError, "max_harmonics must be"),
])
def test_bad_seasonal_parameters_raise_naming_the_problem(params, error, message):
    with pytest.raises(error, match=message):
        ARIMAForecaster(order=(1, 0, 0), **params).fit(Y)
