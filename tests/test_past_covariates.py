"""Past covariates (RNNForecaster's X_past): read while known, hidden over every horizon."""

import numpy as np
import pandas as pd
import pytest

from tsrnn import ARIMAForecaster, RNNForecaster
from tsrnn.forecasters._past import future_rows, mask_stretches, past_moments, past_rows
from tsrnn.training import ForecastValidation


def lagged_pair(n=3000, seed=0):
    """A channel ``p`` (an AR(1) process: unpredictable beyond a few steps) and a target that
    repeats it one step later: ``p``'s latest value tells the target's next one."""
    rng = np.random.default_rng(seed)
    p = np.zeros(n)
    for t in range(1, n):
        p[t] = 0.8 * p[t - 1] + rng.normal()
    y = np.empty(n)
    y[0] = 0.0
    y[1:] = 2.0 * p[:-1]
    return y + 0.05 * rng.normal(size=n), p


def model(**params):
    defaults = dict(hidden_size=16, max_epochs=15, n_models=1, random_state=0, dtype="float64")
    return RNNForecaster(**{**defaults, **params})


@pytest.fixture(scope="module")
def fitted():
    y, p = lagged_pair()
    return model().fit(y[:2400], X_past=p[:2400]), y, p


# ------------------------------------------------------------------ the rows the network reads
def test_rows_hold_the_previous_values_and_whether_they_are_known():
    values = np.array([[1.0], [np.nan], [3.0], [4.0]])
    scaling = past_moments(np.array([[0.0], [2.0]]))  # mean 1, scale 1
    rows = past_rows(values, scaling, previous=np.array([5.0]))
    np.testing.assert_array_equal(rows, [[4.0, 1.0], [0.0, 1.0], [0.0, 0.0], [2.0, 1.0]])
    assert past_rows(values, scaling)[0].tolist() == [0.0, 0.0]  # nothing before the first
    np.testing.assert_array_equal(future_rows(np.array([3.0]), scaling, 3),
                                  [[2.0, 1.0], [0.0, 0.0], [0.0, 0.0]])


def test_training_hides_about_half_of_the_stretches():
    rows = np.ones((10_000, 2))
    hidden = mask_stretches(rows, 36, np.random.default_rng(0))[:, -1] == 0
    assert 0.4 < hidden.mean() < 0.6
    changes = np.flatnonzero(np.diff(hidden.astype(int)))
    assert np.all(np.diff(changes) % 36 == 0)  # whole stretches of 36 rows


def test_validation_forecasts_do_not_see_the_covariates_ahead():
    rng = np.random.default_rng(0)
    ys = [rng.normal(size=(300, 1))]
    Xs = [np.ones((300, 3))]
    validation = ForecastValidation(ys, Xs, [200], horizon=10, warmup=50, n_origins=4,
                                    dtype=np.float64, unknown_ahead=2)
    warm = validation.warm
    assert np.all(validation.exog[:warm] == 1)
    assert np.all(validation.exog[warm:, :, 1:] == 0) and np.all(validation.exog[warm:, :, 0] == 1)


# ------------------------------------------------------------------ forecasts
def test_past_covariates_improve_the_next_step(fitted):
    f, y, p = fitted
    plain = model().fit(y[:2400])
    with_past, without = [], []
    for origin in range(2450, 2990, 15):
        context = slice(origin - 300, origin)
        with_past.append(abs(f.predict(1, context=y[context], X_past=p[context])[0]
                             - y[origin]))
        without.append(abs(plain.predict(1, context=y[context])[0] - y[origin]))
    assert np.mean(with_past) < 0.8 * np.mean(without)


def test_forecasts_never_read_covariates_beyond_the_context(fitted):
    f, y, p = fitted
    base = f.predict(10, context=y[2000:2400], X_past=p[2000:2400])
    moved = p[2000:2400].copy()
    moved[-1] += 5.0  # the latest value: read by the first step
    assert not np.allclose(f.predict(10, context=y[2000:2400], X_past=moved), base)
    unknown = f.predict(10, context=y[2000:2400])  # no X_past: unknown all along
    assert np.isfinite(unknown).all() and not np.allclose(unknown, base)


def test_update_continues_like_a_context_over_all_the_data():
    y, p = lagged_pair(1200)
    f = model(max_epochs=3).fit(y[:1000], X_past=p[:1000])
    whole = f.predict(5, context=y[:1100], X_past=p[:1100])
    f.update(y[1000:1100], X_past=p[1000:1100])
    np.testing.assert_allclose(f.predict(5), whole, rtol=1e-9, atol=1e-12)


def test_known_covariates_work_beside_past_ones():
    y, p = lagged_pair(1200)
    hour = (np.arange(1200) % 24)[:, None] / 24.0
    f = model(max_epochs=3).fit(y[:1000], X=hour[:1000], X_past=p[:1000])
    assert f.n_exog_ == 3 and f.n_past_ == 1
    out = f.predict(4, X=hour[1000:1004])
    context = f.predict(4, X=hour[1000:1004], context=(y[:1000], hour[:1000]),
                        X_past=p[:1000])
    np.testing.assert_allclose(out, context, rtol=1e-9, atol=1e-12)


def test_pandas_inputs_and_intervals(fitted):
    f, y, p = fitted
    index = pd.date_range("2024-01-01", periods=400, freq="8ms")
    context = pd.Series(y[2000:2400], index=index, name="abp")
    channels = pd.DataFrame({"resp": p[2000:2400]}, index=index)
    out = f.predict(3, context=context, X_past=channels)
    assert isinstance(out, pd.Series) and out.index[0] == index[-1] + pd.Timedelta("8ms")
    lower, upper = f.predict_interval(3, 0.8, context=context, X_past=channels)
    assert np.all(lower.to_numpy() <= upper.to_numpy())
    assert f.predict_samples(3, 5, context=context, X_past=channels,
                             random_state=0).shape == (3, 5)
    assert f.predict_quantiles(3, [0.5], context=context, X_past=channels).shape == (3, 1)


def test_a_list_of_series_each_with_its_channels():
    pairs = [lagged_pair(700, seed) for seed in (1, 2)]
    f = model(max_epochs=2).fit([y for y, _ in pairs], X_past=[p for _, p in pairs])
    out = f.predict(3, context=[y[-200:] for y, _ in pairs], X_past=[p[-200:] for _, p in pairs])
    assert len(out) == 2 and all(np.isfinite(o).all() for o in out)


def test_context_scaling_takes_the_channels_own_moments():
    pairs = [lagged_pair(700, seed) for seed in (1, 2)]
    f = model(max_epochs=2, scaling="context").fit([y for y, _ in pairs],
                                                   X_past=[p for _, p in pairs])
    y, p = lagged_pair(500, 3)
    np.testing.assert_allclose(f.predict(4, context=y, X_past=10 * p + 3),
                               f.predict(4, context=y, X_past=p), rtol=1e-9, atol=1e-12)


def test_round_trip_through_a_file(fitted, tmp_path):
    f, y, p = fitted
    f.save(tmp_path / "past.tsrnn")
    loaded = RNNForecaster.load(tmp_path / "past.tsrnn")
    assert loaded.n_past_ == 1
    np.testing.assert_array_equal(loaded.predict(4), f.predict(4))
    np.testing.assert_array_equal(loaded.predict(4, context=y[:300], X_past=p[:300]),
                                  f.predict(4, context=y[:300], X_past=p[:300]))


def test_partial_fit_keeps_the_first_scaling():
    y, p = lagged_pair(800)
    f = model(max_epochs=1).partial_fit(y, X_past=p)
    first = f.past_scalings_
    f.partial_fit(y, X_past=10 * p)
    assert f.past_scalings_ is first
    with pytest.raises(ValueError, match="X_past exactly when"):
        f.partial_fit(y)


# ------------------------------------------------------------------ errors
def test_bad_past_covariates_are_refused_before_anything_changes(fitted):
    f, y, p = fitted
    before = f.predict(3)
    with pytest.raises(ValueError, match="has 10 rows but its series has 400"):
        f.predict(3, context=y[:400], X_past=p[:10])
    with pytest.raises(ValueError, match="X_past goes with a context"):
        f.predict(3, X_past=p[:10])
    with pytest.raises(ValueError, match="2 channel"):
        f.predict(3, context=y[:400], X_past=np.ones((400, 2)))
    with pytest.raises(ValueError, match="infinite"):
        f.update(y[:3], X_past=[1.0, np.inf, 2.0])
    np.testing.assert_array_equal(f.predict(3), before)
    with pytest.raises(ValueError, match="fitted without past covariates"):
        model(max_epochs=1).fit(y[:300]).predict(3, context=y[:300], X_past=p[:300])


def test_baselines_take_no_past_covariates():
    y, p = lagged_pair(300)
    with pytest.raises(TypeError, match="X_past"):
        ARIMAForecaster(order=(1, 0, 0)).fit(y, X_past=p)


# ------------------------------------------------------------------ the command
def test_cli_forecast_with_past_covariates(tmp_path, capsys):
    from tsrnn.cli import main

    y, p = lagged_pair(600)
    path = tmp_path / "icu.csv"
    pd.DataFrame({"t": np.arange(600), "abp": y, "resp": p}).to_csv(path, index=False)
    argv = ["forecast", str(path), "--column", "abp", "--horizon", "3", "--model", "gru",
            "--past-covariates", "resp"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "reading resp as past covariates" in captured.err
    assert captured.out.splitlines()[0] == "t,abp" and len(captured.out.splitlines()) == 4
    assert main(argv[:-4] + ["--model", "naive", "--past-covariates", "resp"]) == 1
    assert "read by the lstm and gru models" in capsys.readouterr().err
    assert main(argv[:-1] + ["nothing"]) == 1
    assert "nothing" in capsys.readouterr().err
