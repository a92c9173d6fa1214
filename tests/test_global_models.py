"""Global models: an RNNForecaster fitted on several series forecasts series it never saw
(``scaling="context"``: each context standardised by its own moments)."""

import numpy as np
import pandas as pd
import pytest

from tsrnn import RNNForecaster

T = np.arange(900)


def waves():
    """Three series of one family (a cycle near 40 steps) at different levels and sizes."""
    return [amplitude * np.sin(2 * np.pi * T / period) + level
            for amplitude, level, period in [(1.0, 0.0, 38), (5.0, 10.0, 40), (0.5, -3.0, 42)]]


def new_patient(n=400, amplitude=20.0, level=100.0):
    return amplitude * np.sin(2 * np.pi * np.arange(n) / 41) + level


@pytest.fixture(scope="module")
def global_model():
    return RNNForecaster(cell="gru", hidden_size=8, max_epochs=4, n_models=1, random_state=0,
                         scaling="context", dtype="float64").fit(waves())


@pytest.fixture(scope="module")
def exog_model():
    rng = np.random.default_rng(0)
    ys, Xs = [], []
    for y in waves():
        X = rng.normal(size=(y.size, 1))
        ys.append(y + 0.5 * X[:, 0])
        Xs.append(X)
    return RNNForecaster(cell="gru", hidden_size=4, max_epochs=2, n_models=1, random_state=0,
                         scaling="context", dtype="float64").fit(ys, Xs)


def test_a_new_series_is_forecast_in_its_own_units(global_model):
    context = new_patient()
    forecast = global_model.predict(40, context=context)
    truth = new_patient(440)[400:]
    assert np.mean(np.abs(forecast - truth)) < np.mean(np.abs(context[-1] - truth))


def test_forecasts_follow_the_context_under_a_change_of_units(global_model):
    """Standardising by the context's own moments: forecasting a*y + b gives a*f(y) + b."""
    context = new_patient()
    base = global_model.predict(20, context=context)
    np.testing.assert_allclose(global_model.predict(20, context=3.0 * context - 7.0),
                               3.0 * base - 7.0, rtol=1e-9, atol=1e-9)
    lower, upper = global_model.predict_interval(20, 0.8, context=context)
    lower3, upper3 = global_model.predict_interval(20, 0.8, context=3.0 * context - 7.0)
    np.testing.assert_allclose(lower3, 3.0 * lower - 7.0, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(upper3, 3.0 * upper - 7.0, rtol=1e-9, atol=1e-9)


def test_any_number_of_new_series(global_model):
    contexts = [new_patient(), new_patient(300, 2.0, -5.0)]
    out = global_model.predict(10, context=contexts)
    assert isinstance(out, list) and len(out) == 2
    np.testing.assert_allclose(out[1], global_model.predict(10, context=contexts[1]))
    assert np.mean(out[1]) < 0 < np.mean(out[0]) - 50
    assert len(global_model.predict(10, context=contexts * 3)) == 6


def test_indexed_new_series_get_their_own_future_index(global_model):
    index = pd.date_range("2024-01-01", periods=400, freq="8ms")
    context = pd.Series(new_patient(), index=index, name="abp")
    out = global_model.predict(5, context=context)
    assert isinstance(out, pd.Series) and out.name == "abp"
    assert out.index[0] == index[-1] + pd.Timedelta("8ms")


def test_uncertainty_of_new_series(global_model):
    contexts = [new_patient(), new_patient(300, 2.0, -5.0)]
    quantiles = global_model.predict_quantiles(6, [0.1, 0.5, 0.9], context=contexts)
    samples = global_model.predict_samples(6, 20, context=contexts, random_state=0)
    assert [q.shape for q in quantiles] == [(6, 3)] * 2
    assert [s.shape for s in samples] == [(20, 6)] * 2
    assert np.all(np.diff(quantiles[0], axis=1) >= 0)
    assert abs(np.mean(samples[1]) - np.mean(contexts[1])) < 5


def test_known_future_covariates_are_scaled_by_the_context_too(exog_model):
    rng = np.random.default_rng(1)
    y, X = new_patient(), rng.normal(size=(400, 1))
    X_future = rng.normal(size=(8, 1))
    base = exog_model.predict(8, X=X_future, context=(y, X))
    moved = exog_model.predict(8, X=2.0 * X_future + 1.0, context=(y, 2.0 * X + 1.0))
    np.testing.assert_allclose(moved, base, rtol=1e-9, atol=1e-9)


def test_series_scaling_keeps_one_context_per_fitted_series():
    model = RNNForecaster(hidden_size=4, max_epochs=2, n_models=1, random_state=0).fit(waves())
    with pytest.raises(ValueError, match="list of 3 entries.*scaling='context'"):
        model.predict(3, context=new_patient())
    assert len(model.predict(3, context=waves())) == 3


def test_context_scaling_on_one_fitted_series_uses_the_context():
    y = waves()[1]
    model = RNNForecaster(hidden_size=4, max_epochs=2, n_models=1, random_state=0,
                          scaling="context", dtype="float64").fit(y)
    np.testing.assert_allclose(model.predict(5, context=10 * y[-300:]),
                               10 * model.predict(5, context=y[-300:]), rtol=1e-9)
    series = RNNForecaster(hidden_size=4, max_epochs=2, n_models=1, random_state=0,
                           dtype="float64").fit(y)
    np.testing.assert_allclose(series.predict(5), model.predict(5))  # no context: the fit's


def test_scaling_round_trips_through_a_file(global_model, tmp_path):
    global_model.save(tmp_path / "global.tsrnn")
    loaded = RNNForecaster.load(tmp_path / "global.tsrnn")
    assert loaded.scaling == "context"
    np.testing.assert_array_equal(loaded.predict(7, context=new_patient()),
                                  global_model.predict(7, context=new_patient()))


def test_unknown_scaling_is_refused_by_fit():
    with pytest.raises(ValueError, match="scaling"):
        RNNForecaster(scaling="global").fit(waves()[0])
