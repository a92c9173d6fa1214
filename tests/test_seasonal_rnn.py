"""The seasonal representation of RNNForecaster: encoding, decoding, the race, state and files."""

import numpy as np
import pandas as pd
import pytest

from tsrnn import RNNForecaster
from tsrnn._representation import Level, SeasonalChange, representation_from_config

FAST = dict(hidden_size=4, max_epochs=2, batch_size=4, tbptt=10, free_run=5,
            early_stopping=False, random_state=0)


def seasonal(n, period=12.0, trend=0.02, noise=0.05, seed=0, columns=1):
    t = np.arange(n)[:, None]
    rng = np.random.default_rng(seed)
    y = np.sin(2 * np.pi * t / period + np.arange(columns)) + trend * t
    return (y + noise * rng.standard_normal((n, columns))).squeeze()


@pytest.mark.parametrize("period", [12.0, 7.5, 52.18])
@pytest.mark.parametrize("columns", [1, 2])
def test_decoding_true_changes_gives_back_the_series(period, columns):
    y = seasonal(600, period, columns=columns).reshape(600, columns)
    rep = SeasonalChange(period).fit_scale([y[:400]])
    z = rep.encode(y)
    assert z.shape == (600 - rep.offset, columns)
    for origin in (rep.memory, 450, 600 - 80):
        future = z[origin - rep.offset:origin - rep.offset + 80][:, None, :]
        history = y[origin - rep.memory:origin][:, None, :]
        np.testing.assert_allclose(rep.decode(future, history)[:, 0], y[origin:origin + 80],
                                   atol=1e-10)


def test_a_short_history_decodes_like_the_encoding_of_the_same_values():
    y = seasonal(100, 12.0).reshape(-1, 1)
    rep = SeasonalChange(12.0).fit_scale([y])
    z = rep.encode(y)
    # 30 values hold fewer than five seasons: both sides average the seasons that exist
    decoded = rep.decode(z[30 - rep.offset:50 - rep.offset][:, None, :], y[:30][:, None, :])
    np.testing.assert_allclose(decoded[:, 0], y[30:50], atol=1e-10)


def test_a_constant_change_forecasts_the_seasonal_walk_averaged_over_seasons():
    y = seasonal(300, 12.0).reshape(-1, 1)
    rep = SeasonalChange(12.0, n_seasons=3).fit_scale([y])
    z = rep.encode(y)
    forecast = rep.decode(np.repeat(z[-1:], 12, axis=0)[:, None, :], y[:, None, :])[:, 0, 0]
    T, v = len(y) - 1, y[:, 0]
    expected = [v[T] + np.mean([v[T + h - 12 * k] - v[T - 12 * k] for k in (1, 2, 3)])
                for h in range(1, 13)]
    np.testing.assert_allclose(forecast, expected, atol=1e-10)


def test_representations_round_trip_through_their_config():
    rep = SeasonalChange(52.18, 4).fit_scale([seasonal(400, 52.18).reshape(-1, 1)])
    back = representation_from_config(rep.config())
    assert isinstance(back, SeasonalChange)
    assert (back.period, back.n_seasons, back.offset, back.memory) == (52.18, 4, 53, 210)
    np.testing.assert_array_equal(back.mean, rep.mean)
    assert isinstance(representation_from_config(Level().config()), Level)
    with pytest.raises(ValueError, match="unknown representation"):
        representation_from_config({"kind": "fourier"})


def test_a_given_season_is_used_without_early_stopping():
    f = RNNForecaster(season_length=12, **FAST).fit(seasonal(300))
    assert f.seasons_ == (12.0,)
    assert f.representation_.describe() == "seasonal change (season 12)"
    forecast = f.predict(30)
    assert forecast.shape == (30,) and np.all(np.isfinite(forecast))


def test_a_detected_season_is_not_used_without_validation_to_decide():
    f = RNNForecaster(**FAST).fit(seasonal(300))
    assert f.seasons_ and isinstance(f.representation_, Level)


def test_the_race_keeps_the_seasonal_network_on_a_seasonal_series_with_trend():
    f = RNNForecaster(hidden_size=8, max_epochs=3, random_state=0, free_run=24,
                      validation_fraction=0.2).fit(seasonal(600, 12.0, trend=0.05))
    assert f.seasons_ == pytest.approx((12.0,), abs=0.1)
    assert isinstance(f.representation_, SeasonalChange)
    assert f.best_validation_score_ <= f.initial_validation_score_


def test_no_season_means_the_level_network_only():
    y = np.cumsum(np.random.default_rng(1).standard_normal(400))
    f = RNNForecaster(hidden_size=8, max_epochs=2, random_state=0).fit(y)
    assert f.seasons_ == () and isinstance(f.representation_, Level)


def test_untrained_weights_kept_forecast_the_averaged_seasonal_walk():
    y = seasonal(400, 12.0)
    f = RNNForecaster(hidden_size=4, max_epochs=3, learning_rate=1e-12, random_state=0,
                      season_length=12, validation_fraction=0.2, free_run=12).fit(y)
    assert isinstance(f.representation_, SeasonalChange) and f.best_iteration_ == 0
    T = len(y) - 1
    expected = [y[T] + np.mean([y[T + h - 12 * k] - y[T - 12 * k] for k in range(1, 6)])
                for h in range(1, 13)]
    np.testing.assert_allclose(f.predict(12), expected, rtol=1e-4, atol=1e-4)


def _seasonal_fit(with_X):
    y = seasonal(260, 12.0)
    X = np.random.default_rng(3).standard_normal((260, 2)) if with_X else None
    f = RNNForecaster(season_length=12, **FAST).fit(y[:200], None if X is None else X[:200])
    return f, y, X


@pytest.mark.parametrize("with_X", [False, True])
def test_update_then_predict_equals_predict_from_all_data_as_context(with_X):
    f, y, X = _seasonal_fit(with_X)
    X_future = None if X is None else np.random.default_rng(4).standard_normal((20, 2))
    f.update(y[200:], None if X is None else X[200:])
    context = y if X is None else (y, X)
    np.testing.assert_allclose(f.predict(20, X=X_future),
                               f.predict(20, X=X_future, context=context), rtol=1e-5,
                               atol=1e-6)


def test_updates_in_pieces_equal_one_update():
    f, y, _ = _seasonal_fit(False)
    g, _, _ = _seasonal_fit(False)
    f.update(y[200:260])
    for start in range(200, 260, 7):
        g.update(y[start:min(start + 7, 260)])
    np.testing.assert_allclose(f.predict(15), g.predict(15), rtol=1e-6)


def test_save_and_load_keep_the_representation(tmp_path):
    f, y, _ = _seasonal_fit(False)
    f.save(tmp_path / "m.tsrnn")
    g = RNNForecaster.load(tmp_path / "m.tsrnn")
    assert g.representation_.config() == f.representation_.config()
    assert g.seasons_ == f.seasons_
    np.testing.assert_array_equal(g.predict(30), f.predict(30))
    g.update(y[200:210])
    f.update(y[200:210])
    np.testing.assert_array_equal(g.predict(5), f.predict(5))


def test_a_context_must_reach_past_one_season():
    f, y, _ = _seasonal_fit(False)
    with pytest.raises(ValueError, match="context"):
        f.predict(5, context=y[:12])
    assert np.all(np.isfinite(f.predict(5, context=y[:13])))


def test_a_pandas_series_with_a_fractional_season_forecasts_on_its_index():
    y = pd.Series(seasonal(400, 52.18, trend=0.01),
                  index=pd.date_range("2000-01-02", periods=400, freq="W"))
    f = RNNForecaster(season_length=365.25 / 7, **FAST).fit(y)
    forecast = f.predict(60)
    assert forecast.index[0] == y.index[-1] + pd.Timedelta(weeks=1)
    assert np.all(np.isfinite(forecast.to_numpy()))


def test_season_length_is_validated():
    with pytest.raises(ValueError, match="season_length"):
        RNNForecaster(season_length=1, **FAST).fit(seasonal(100))
    with pytest.raises(ValueError, match="season_length"):
        RNNForecaster(season_length="weekly", **FAST).fit(seasonal(100))
    with pytest.raises(TypeError, match="season_length"):
        RNNForecaster(season_length=True, **FAST).fit(seasonal(100))
