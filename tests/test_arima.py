"""ARIMAForecaster against statsmodels itself: same forecasts, updates, contexts, intervals."""
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.arima.model import ARIMA

from tsrnn.forecasters.arima import ARIMAForecaster, ndiffs


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
        def _model(self, y, X, order):
            model = super()._model(y, X, order)
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
