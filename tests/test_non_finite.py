"""Values that overflow a model's arithmetic are refused at the door, and a forecast that is
not finite is an error, never returned (issue: silent non-finite or absurd forecasts)."""
import numpy as np
import pytest

from tsrnn import ARIMAForecaster, MarkovForecaster, NaiveForecaster, RNNForecaster
from tsrnn.forecasters import BaseForecaster

Y = np.sin(np.arange(300) / 5.0)


def small_rnn(**params):
    return RNNForecaster(**{"hidden_size": 4, "max_epochs": 2, "n_models": 1,
                            "random_state": 0, **params})


def test_an_update_beyond_float32_is_refused_and_the_state_kept():
    f = small_rnn().fit(Y)
    before = f.predict(3)
    with pytest.raises(ValueError, match="standard deviations"):
        f.update(np.array([1e39]))
    np.testing.assert_array_equal(f.predict(3), before)
    with pytest.raises(ValueError, match="standard deviations"):
        f.predict(3, context=np.r_[Y[:50], 1e39])


def test_a_float64_rnn_takes_what_float32_cannot():
    f = small_rnn(dtype="float64").fit(Y)
    f.update(np.array([1e30]))  # far outside the data, but representable
    assert np.all(np.isfinite(f.predict(2)))


@pytest.mark.parametrize("make", [NaiveForecaster, MarkovForecaster, small_rnn,
                                  lambda: ARIMAForecaster(order=(1, 0, 0))])
def test_values_beyond_the_arithmetic_of_every_model_are_refused(make):
    with pytest.raises(ValueError, match="too large"):
        make().fit(Y * 1e300)
    with pytest.raises(ValueError, match="too large"):
        make(**{}).fit(np.r_[Y, 1e200])


def test_infinite_learning_rate_is_refused():
    for bad in (np.inf, -1.0, np.nan):
        with pytest.raises(ValueError, match="learning_rate"):
            small_rnn(learning_rate=bad).fit(Y)


class _Overflowing(BaseForecaster):
    """A model whose core forecast overflows."""

    def _fit_core(self, ys, Xs):
        pass

    def _predict_core(self, horizon, Xs_future, contexts):
        return [np.full((horizon, 1), np.inf)]

    def _predict_interval_core(self, horizon, coverage, Xs_future, contexts):
        return [(np.full((horizon, 1), -np.inf), np.full((horizon, 1), np.nan))]


def test_a_forecast_that_is_not_finite_is_an_error():
    f = _Overflowing().fit(Y)
    with pytest.raises(FloatingPointError, match="not finite"):
        f.predict(3)
    with pytest.raises(FloatingPointError, match="not finite"):
        f.predict_interval(3)


def test_one_wild_value_does_not_set_the_level_of_every_markov_forecast():
    clean = MarkovForecaster().fit(Y).predict(5)
    wild = Y.copy()
    wild[100] = 1e38
    forecast = MarkovForecaster().fit(wild).predict(5)
    assert np.all(np.abs(forecast) < 10)
    np.testing.assert_allclose(forecast, clean, atol=0.1)


@pytest.mark.parametrize("early_stopping", [True, False])
def test_a_diverging_fit_is_an_error_not_an_absurd_forecast(early_stopping):
    f = small_rnn(learning_rate=1e12, max_epochs=3, early_stopping=early_stopping)
    with pytest.raises(FloatingPointError, match="diverged"):
        f.fit(Y)
    assert not hasattr(f, "network_")  # nothing half-fitted is kept
