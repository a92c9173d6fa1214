"""The comparison protocol: origins, scores, the models and their settings, the printed table."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tsrnn import RNNForecaster
from tsrnn.comparison import (MODEL_NAMES, PRESETS, choose_markov_differences,
                              format_comparison, make_forecaster, run_comparison)


def weekly(values, name="level"):
    index = pd.date_range("2000-01-01", periods=len(values), freq="W-SAT")
    return pd.Series(values, index=index, name=name)


def trend_with_a_yearly_cycle(n=1000, seed=0):
    """A CO2-like weekly series: a trend, a 52-week cycle and a little noise."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return weekly(300 + 0.03 * t + 3 * np.sin(2 * np.pi * t / 52) + 0.2 * rng.normal(size=n))


# ---------------------------------------------------------------------------------------------
# protocol and scores
# ---------------------------------------------------------------------------------------------
def test_comparison_mase_is_scaled_by_the_naive_error_of_the_training_part():
    y = np.cumsum(np.random.default_rng(1).normal(size=300))
    result = run_comparison(y, models=["naive"], horizons=[4], n_origins=5)
    n_train = result.n_train
    assert n_train == 240
    scale = np.mean(np.abs(np.diff(y[:n_train])))
    errors = [np.mean(np.abs(y[t:t + 4] - y[t - 1])) for t in result.origins]
    row = result.table.iloc[0]
    assert row["mae"] == pytest.approx(np.mean(errors))
    assert row["mase"] == pytest.approx(np.mean(errors) / scale)
    assert result.scale == pytest.approx(scale)


def test_comparison_origins_are_spread_over_the_test_part_and_end_with_the_series():
    result = run_comparison(np.arange(500.0), models=["naive"], horizons=[3, 10], n_origins=7)
    origins = result.origins
    assert len(origins) == 7
    assert origins[0] >= result.n_train == 400
    assert origins[-1] + 10 == 500
    assert len(set(np.diff(origins))) == 1  # evenly spaced


def test_shorter_horizons_are_scored_on_the_first_steps_of_the_same_forecasts():
    y = np.sin(np.arange(600) / 7.0)
    result = run_comparison(y, models=["naive", "markov"], horizons=[1, 12], n_origins=6)
    for name in ("naive", "markov"):
        one_step = result.table.query("model == @name and horizon == 1")["mae"].item()
        assert one_step == pytest.approx(result.step_mae[name].loc[1])
        full = result.table.query("model == @name and horizon == 12")["mae"].item()
        assert full == pytest.approx(result.step_mae[name].mean())


def test_comparison_rejects_a_test_part_shorter_than_the_horizon():
    with pytest.raises(ValueError, match="lower the horizons"):
        run_comparison(np.arange(100.0), models=["naive"], horizons=[30], n_origins=2)


def test_rnn_models_use_the_forecaster_defaults_except_cell_and_seed():
    defaults = RNNForecaster().get_params()
    for cell in ("lstm", "gru"):
        params = make_forecaster(cell, random_state=7).get_params()
        changed = {k for k in params if params[k] != defaults[k]}
        assert changed <= {"cell", "random_state"}
        assert params["cell"] == cell and params["random_state"] == 7


def test_comparison_rejects_unknown_models_and_bad_settings():
    y = np.arange(200.0)
    with pytest.raises(ValueError, match="unknown model 'prophet'"):
        run_comparison(y, models=["prophet"], horizons=[2], n_origins=2)
    with pytest.raises(ValueError, match="no models"):
        run_comparison(y, models=[], horizons=[2], n_origins=2)
    with pytest.raises(ValueError, match="horizons must be positive"):
        run_comparison(y, models=["naive"], horizons=[0], n_origins=2)
    with pytest.raises(ValueError, match="lower the number of origins"):
        run_comparison(y, models=["naive"], horizons=[2], n_origins=100)


def test_format_comparison_prints_header_table_and_notes():
    result = run_comparison(trend_with_a_yearly_cycle(), models=["naive", "seasonal"],
                            horizons=[4, 52], n_origins=3, season_length=52, title="CO2-like")
    text = format_comparison(result)
    lines = text.splitlines()
    assert lines[0] == "CO2-like: 1,000 observations"
    assert "52 (52 weeks)" in text and "3 origins" in lines[1]
    rows = [line.split()[:3] for line in lines if line.split()[:1] in (["naive"], ["seasonal"])]
    assert rows[:4] == [["naive", "4", "(4"], ["seasonal", "naive", "4"],
                        ["naive", "52", "(52"], ["seasonal", "naive", "52"]]
    assert text.endswith("\n") and result.notes[-1] in text


def test_comparison_module_does_not_load_the_command(tmp_path):
    # cwd outside the checkout, so that the installed package is the one imported
    code = "import sys, tsrnn.comparison; print('tsrnn.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout
    assert out.strip() == "False"


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------
def test_make_forecaster_builds_every_named_model():
    kinds = {name: type(make_forecaster(name, season_length=12)).__name__
             for name in MODEL_NAMES}
    assert kinds == {"lstm": "RNNForecaster", "gru": "RNNForecaster",
                     "arima": "ARIMAForecaster", "stl": "STLForecaster",
                     "markov": "MarkovForecaster",
                     "naive": "NaiveForecaster", "seasonal": "NaiveForecaster"}
    seasonal = make_forecaster("seasonal", season_length=12).get_params()
    assert seasonal["strategy"] == "seasonal" and seasonal["season_length"] == 12
    assert make_forecaster("markov", markov_differences=1).get_params()["differences"] == 1
    with pytest.raises(ValueError, match="needs season_length"):
        make_forecaster("seasonal")
    with pytest.raises(ValueError, match="unknown model"):
        make_forecaster("prophet")


def test_seasonal_naive_row_repeats_the_value_one_season_before():
    y = trend_with_a_yearly_cycle()
    result = run_comparison(y, models=["seasonal"], horizons=[52], n_origins=4,
                            season_length=52)
    frame = result.forecasts["seasonal naive"]
    values = y.to_numpy()
    for origin, group in frame.groupby("origin"):
        assert np.allclose(group["y_pred"], values[origin - 52:origin])
    assert result.models == ["seasonal naive"]
    assert "seasonal naive" in result.step_mae.columns


def test_default_models_add_the_seasonal_reference_only_with_a_season_length(tiny_rnn):
    y = trend_with_a_yearly_cycle(300)
    quick = {"horizons": [4], "n_origins": 2, "arima_params": {"max_p": 0, "max_q": 0}}
    assert run_comparison(y, **quick).models == ["lstm", "gru", "arima", "stl", "markov",
                                                 "naive"]
    assert run_comparison(y, season_length=52, **quick).models[-1] == "seasonal naive"
    with pytest.raises(ValueError, match="needs season_length"):
        run_comparison(y, models=["naive", "seasonal"], **quick)


def test_presets_compare_a_seasonal_reference_on_co2_only():
    assert PRESETS["co2"].season_length == 52 and "seasonal" in PRESETS["co2"].models
    assert PRESETS["ecg"].season_length is None and "seasonal" not in PRESETS["ecg"].models
    assert PRESETS["ecg"].load().shape == (108000,)


# ---------------------------------------------------------------------------------------------
# the Markov baseline: differenced when the training part is not stationary
# ---------------------------------------------------------------------------------------------
def test_markov_differences_follow_the_kpss_test_of_the_training_part():
    t = np.arange(600.0)
    cycle = np.sin(2 * np.pi * t / 25)
    assert choose_markov_differences(cycle) == 0
    assert choose_markov_differences(0.05 * t + cycle) == 1
    with_gaps = 0.05 * t + cycle
    with_gaps[[10, 11, 300]] = np.nan
    assert choose_markov_differences(with_gaps) == 1


def test_comparison_differences_the_markov_chain_on_a_trend_and_beats_the_level_chain():
    y = trend_with_a_yearly_cycle()
    auto = run_comparison(y, models=["markov"], horizons=[52], n_origins=5)
    levels = run_comparison(y, models=["markov"], horizons=[52], n_origins=5,
                            markov_differences=0)
    assert any("over increments (differences=1)" in note for note in auto.notes)
    assert any("differences=0" in note for note in levels.notes)
    assert auto.table["mase"].item() < levels.table["mase"].item() / 3


def test_comparison_keeps_the_level_chain_on_a_stationary_series():
    noise = np.random.default_rng(0).normal(size=800)
    result = run_comparison(noise, models=["markov"], horizons=[5], n_origins=4)
    assert any("over levels (differences=0)" in note for note in result.notes)


def test_comparison_runs_rnns_through_their_public_api(tiny_rnn):
    y = trend_with_a_yearly_cycle(300)
    result = run_comparison(y, models=["lstm", "gru"], horizons=[3], n_origins=2)
    assert result.models == ["lstm", "gru"]
    assert np.isfinite(result.table["mae"]).all()
    assert "lstm, gru: RNNForecaster with its default parameters (random_state=0)." \
        in result.notes


# ---------------------------------------------------------------------------------------------
# the ARIMA baseline: seasonal (Fourier terms with ARIMA errors) when there is a season
# ---------------------------------------------------------------------------------------------
def test_arima_gets_the_season_unless_its_parameters_give_one():
    assert make_forecaster("arima").get_params()["season_length"] is None
    assert make_forecaster("arima", season_length=52).get_params()["season_length"] == 52
    own = make_forecaster("arima", season_length=52, arima_params={"season_length": 52.18})
    assert own.get_params()["season_length"] == 52.18
    # Two steps hold no Fourier pair: the seasonal naive model takes them, ARIMA does not.
    assert make_forecaster("arima", season_length=2).get_params()["season_length"] is None
    assert PRESETS["co2"].arima["season_length"] == pytest.approx(365.25 / 7)
    assert PRESETS["co2"].arima["trend"] == "auto"
    assert "season_length" not in PRESETS["ecg"].arima | PRESETS["csv"].arima


def test_co2_comparison_fits_a_seasonal_arima_and_its_note_says_what_it_is():
    from tsrnn.datasets import load_co2

    quick = dict(PRESETS["co2"].arima, max_p=0, max_q=0, max_harmonics=1)  # 4 small fits
    result = run_comparison(load_co2(), models=["naive", "seasonal", "arima"], horizons=[4, 52],
                            n_origins=3, season_length=52, arima_params=quick)
    note = next(note for note in result.notes if note.startswith("arima:"))
    assert note.startswith("arima: 1 Fourier pair of period 52.18 weeks and a drift with "
                           "ARIMA(0, 1, 0) errors (dynamic harmonic regression, "
                           "ARIMAForecaster(season_length=52.18, trend='auto'))")
    assert "the number of pairs (0 to 1) and the drift by AIC" in note
    mase = result.table.set_index(["model", "horizon"])["mase"]
    assert mase["arima", 52] < mase["seasonal naive", 52] < mase["naive", 52]


def test_arima_note_is_unchanged_without_a_season():
    result = run_comparison(trend_with_a_yearly_cycle(300), models=["arima"], horizons=[4],
                            n_origins=2, arima_params={"max_p": 1, "max_q": 0})
    assert "arima: ARIMA(1, 1, 0), order by AIC over p <= 1, q <= 0 (d by ADF)." in result.notes


def test_comparison_scores_intervals_at_the_coverage_asked_for():
    y = np.sin(np.arange(600) / 5.0) + np.random.default_rng(0).normal(scale=0.2, size=600)
    result = run_comparison(y, models=["naive", "markov"], horizons=[1, 5], n_origins=10,
                            coverage=0.8)
    assert result.coverage == 0.8
    assert result.table["coverage"].between(0, 1).all()
    assert (result.table["msis"] > 0).all()
    frame = result.forecasts["naive"]
    assert (frame["lower"] <= frame["y_pred"]).all() and (frame["y_pred"] <= frame["upper"]).all()
    assert "cover %" in format_comparison(result)
    plain = run_comparison(y, models=["naive"], horizons=[1], n_origins=3, coverage=None)
    assert plain.coverage is None and "coverage" not in plain.table
    assert "lower" not in plain.forecasts["naive"] and "MSIS" not in format_comparison(plain)


def test_a_model_without_intervals_is_still_compared_and_the_notes_say_why():
    y = np.sin(np.arange(300) / 5.0)
    result = run_comparison(y, models=["naive", "stl"], horizons=[2], n_origins=3,
                            train_fraction=0.1, coverage=0.9)
    row = result.table.set_index("model").loc["stl"]
    assert np.isfinite(row["mase"]) and np.isnan(row["coverage"])
    assert any(note.startswith("stl: no intervals") for note in result.notes)


@pytest.mark.parametrize("bad", [0, 1, 1.5, float("nan"), "0.9"])
def test_comparison_refuses_a_bad_coverage(bad):
    with pytest.raises((ValueError, TypeError), match="coverage"):
        run_comparison(np.arange(100.0), models=["naive"], horizons=[2], coverage=bad)
