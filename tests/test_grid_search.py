"""grid_search: known winners, the results table, refit, parallel == serial, grid errors, NaN."""
import doctest
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import tsrnn.grid_search
from tsrnn.forecasters.arima import ARIMAForecaster
from tsrnn.forecasters.naive import NaiveForecaster
from tsrnn.model_selection import backtest, grid_search, summarize_backtest

GRID = [{"strategy": ["last", "mean"]},
        {"strategy": ["seasonal"], "season_length": [3, 7, 12]}]


def _weekly(n=120, seed=0):
    """A cycle of 7 steps plus noise: seasonal naive with season 7 is the right model."""
    rng = np.random.default_rng(seed)
    return 10 + 4 * np.sin(2 * np.pi * np.arange(n) / 7) + 0.3 * rng.normal(size=n)


def _ar2(n=300, seed=1):
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    for t in range(2, n):
        y[t] = 1.2 * y[t - 1] - 0.5 * y[t - 2] + rng.normal()
    return y


def test_seasonal_naive_with_the_right_season_wins():
    search = grid_search(NaiveForecaster(), GRID, _weekly(), horizon=7, n_origins=4)
    assert search.best_params == {"strategy": "seasonal", "season_length": 7}
    assert search.best_index == 3 and search.metric == "mase"
    assert search.best_score == search.cv_results["mean_score"].min()


def test_arima_order_two_beats_white_noise_on_an_ar2():
    search = grid_search(ARIMAForecaster(), {"order": [(0, 0, 0), (2, 0, 0)]}, _ar2(),
                         horizon=2, n_origins=3, metric="rmse")
    assert search.best_params == {"order": (2, 0, 0)}
    assert search.cv_results["param_order"].tolist() == [(0, 0, 0), (2, 0, 0)]
    assert search.cv_results["rank_score"].tolist() == [2, 1]
    assert search.best_forecaster.order_ == (2, 0, 0)


def test_results_table_has_a_ranked_row_per_setting_in_grid_order():
    search = grid_search(NaiveForecaster(), GRID, _weekly(), horizon=7, n_origins=4)
    table = search.cv_results
    assert list(table.columns) == ["param_season_length", "param_strategy", "params",
                                   "mean_score", "std_score", "rank_score", "n_origins",
                                   "fit_time", "error"]
    assert table["params"].tolist() == [
        {"strategy": "last"}, {"strategy": "mean"},
        {"season_length": 3, "strategy": "seasonal"},
        {"season_length": 7, "strategy": "seasonal"},
        {"season_length": 12, "strategy": "seasonal"}]
    assert table["param_season_length"].tolist() == [None, None, 3, 7, 12]
    order = np.argsort(table["mean_score"].to_numpy(), kind="stable")
    assert table["rank_score"].to_numpy()[order].tolist() == [1, 2, 3, 4, 5]
    assert (table["n_origins"] == 4).all() and (table["fit_time"] > 0).all()
    assert table["error"].isna().all()
    # The mean and std are over the per-origin scores of that setting's backtest.
    per_origin = search.scores[search.scores.setting == 3]["mase"]
    assert len(search.scores) == 5 * 4
    assert table["mean_score"][3] == pytest.approx(per_origin.mean())
    assert table["std_score"][3] == pytest.approx(per_origin.std(ddof=0))


def test_every_setting_is_scored_on_the_same_origins():
    # season 12 needs 12 observations to fit: every setting starts at the same origin anyway.
    search = grid_search(NaiveForecaster(), GRID, _weekly(60), horizon=4, n_origins=3,
                         step="spread")
    origins = search.scores.groupby("setting")["origin"].apply(tuple)
    assert origins.nunique() == 1 and origins.iloc[0][0] == 12


def test_mean_score_is_the_backtest_with_refit():
    y = _weekly()
    search = grid_search(NaiveForecaster(), {"strategy": ["last", "mean"]}, y, horizon=7,
                         n_origins=4, metric="mae")
    direct = backtest(NaiveForecaster(strategy="mean"), y, 7, n_origins=4, refit=True,
                      metrics=["mae"])
    assert search.cv_results["mean_score"][1] == pytest.approx(direct["mae"].mean())


def test_best_setting_is_refitted_on_the_whole_series():
    index = pd.date_range("2024-01-01", periods=120, freq="D")
    y = pd.Series(_weekly(), index=index)
    model = NaiveForecaster()
    search = grid_search(model, GRID, y, horizon=7, n_origins=4)
    forecast = search.best_forecaster.predict(7)
    assert forecast.index[0] == index[-1] + pd.Timedelta(days=1)
    expected = NaiveForecaster(strategy="seasonal", season_length=7).fit(y).predict(7)
    pd.testing.assert_series_equal(forecast, expected)
    # The forecaster passed in is cloned, never fitted or changed.
    assert not model.__sklearn_is_fitted__() and model.strategy == "last"


def test_without_refit_the_best_forecaster_is_left_unfitted():
    search = grid_search(NaiveForecaster(), GRID, _weekly(), horizon=7, n_origins=4,
                         refit=False)
    assert not search.best_forecaster.__sklearn_is_fitted__()
    assert search.best_forecaster.get_params()["season_length"] == 7


def test_two_jobs_give_the_serial_results():
    kwargs = dict(horizon=7, n_origins=4, metric="smape")
    serial = grid_search(NaiveForecaster(), GRID, _weekly(), **kwargs)
    parallel = grid_search(NaiveForecaster(), GRID, _weekly(), n_jobs=2, **kwargs)
    pd.testing.assert_frame_equal(serial.cv_results.drop(columns="fit_time"),
                                  parallel.cv_results.drop(columns="fit_time"))
    pd.testing.assert_frame_equal(serial.scores, parallel.scores)
    assert serial.best_params == parallel.best_params


@pytest.mark.parametrize("grid, error, match", [
    ([], ValueError, "empty list"),
    ({}, ValueError, "param_grid is empty"),
    ([{"strategy": ["last"]}, {}], ValueError, r"param_grid\[1\] is empty"),
    ({"strategy": []}, ValueError, "empty list: give at least one value"),
    ({"strategy": "last"}, TypeError, r"must be a list of values.*\['last'\]"),
    ({"season_length": (2, 7)}, TypeError, "ambiguous"),
    ("strategy", TypeError, "must be a dict"),
    ([{"strategy": ["last"]}, ["mean"]], TypeError, r"param_grid\[1\] must be a dict"),
    ({"strategi": ["last"], "seasons": [7]}, ValueError,
     "names 'strategi', 'seasons', not parameter.*parameters are missing, season_length, "
     "strategy"),
    ({"strategy": ["last", "bogus"]}, ValueError, "setting {'strategy': 'bogus'}"),
    ({"strategy": ["seasonal"]}, ValueError, "needs season_length"),
])
def test_bad_grids_raise_clear_errors_before_fitting(grid, error, match):
    with pytest.raises(error, match=match):
        grid_search(NaiveForecaster(), grid, _weekly(), horizon=7)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(metric="mape"), ValueError, "metric must be one of mae, rmse, smape, mase"),
    (dict(metric=3), TypeError, "metric must be a name"),
    (dict(error_score="ignore"), TypeError, "error_score must be 'raise' or a number"),
    (dict(horizon=0), ValueError, "horizon"),
])
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    kwargs = {"horizon": 7, **kwargs}
    with pytest.raises(error, match=match):
        grid_search(NaiveForecaster(), {"strategy": ["last"]}, _weekly(), **kwargs)


def _nan_for_flat_forecasts(y_true, y_pred):
    """MAE, but NaN for a forecast that repeats one value (the "last" and "mean" strategies)."""
    y_pred = np.asarray(y_pred)
    return np.nan if np.ptp(y_pred) == 0 else float(np.mean(np.abs(y_true - y_pred)))


def test_nan_scores_are_ranked_last_and_reported():
    with pytest.warns(UserWarning, match="2 of 5 settings failed or scored NaN"):
        search = grid_search(NaiveForecaster(), GRID, _weekly(), horizon=7, n_origins=4,
                             metric=_nan_for_flat_forecasts)
    table = search.cv_results
    assert table["mean_score"][:2].isna().all()
    assert table["rank_score"].tolist()[:2] == [4, 4]
    assert sorted(table["rank_score"][2:]) == [1, 2, 3]
    assert search.best_params["season_length"] == 7
    assert search.metric == "_nan_for_flat_forecasts"


def test_every_setting_scoring_nan_is_an_error():
    with pytest.raises(ValueError, match="every setting scored NaN"):
        grid_search(NaiveForecaster(), {"strategy": ["last", "mean"]}, _weekly(), horizon=7,
                    metric=_nan_for_flat_forecasts)


def test_a_setting_that_fails_gets_error_score_and_its_message():
    # With initial=5, season 40 cannot be fitted at the first origins: only that one fails.
    grid = {"strategy": ["seasonal"], "season_length": [7, 40]}
    with pytest.warns(UserWarning, match="1 of 2 settings failed"):
        search = grid_search(NaiveForecaster(), grid, _weekly(60), horizon=7, n_origins=4,
                             initial=5)
    table = search.cv_results
    assert np.isnan(table["mean_score"][1]) and table["n_origins"][1] == 0
    assert "ValueError" in table["error"][1] and "at least 40" in table["error"][1]
    assert table["rank_score"].tolist() == [1, 2]
    with pytest.raises(ValueError, match="at least 40"):
        grid_search(NaiveForecaster(), grid, _weekly(60), horizon=7, n_origins=4, initial=5,
                    error_score="raise")


def test_every_setting_failing_is_an_error_with_the_first_message():
    # The default initial (40 observations, what season 40 needs) leaves no room for 4 origins.
    with pytest.raises(ValueError, match="every setting of the grid failed.*lower n_origins"):
        grid_search(NaiveForecaster(), {"strategy": ["seasonal"], "season_length": [7, 40]},
                    _weekly(60), horizon=7, n_origins=4)


@pytest.mark.parametrize("as_dict", [True, False])
def test_panels_score_the_pooled_mean_over_all_origins(as_dict):
    series = [_weekly(80, seed=2), 3 * _weekly(100, seed=3)]
    panel = dict(zip(["a", "b"], series)) if as_dict else series
    search = grid_search(NaiveForecaster(), GRID, panel, horizon=7, n_origins=3)
    assert search.best_params == {"strategy": "seasonal", "season_length": 7}
    assert search.cv_results["n_origins"].tolist() == [6] * 5
    direct = backtest(NaiveForecaster(strategy="mean"), panel, 7, n_origins=3, refit=True,
                      initial=12, metrics=["mase"])
    pooled = summarize_backtest(direct).loc["pooled", "mase"]
    assert search.cv_results["mean_score"][1] == pytest.approx(pooled)
    forecast = search.best_forecaster.predict(7)
    assert isinstance(forecast, dict if as_dict else list) and len(forecast) == 2
    np.testing.assert_allclose(forecast["b" if as_dict else 1], series[1][-7:])


def test_progress_bar_counts_settings(capsys):
    grid_search(NaiveForecaster(), {"strategy": ["last", "mean"]}, _weekly(), horizon=7,
                progress=True)
    assert "grid search" in capsys.readouterr().err


def test_importing_model_selection_leaves_scikit_learn_unimported():
    code = ("import sys, tsrnn.model_selection as m; assert 'sklearn' not in sys.modules; "
            "assert 'tsrnn.grid_search' not in sys.modules; m.grid_search; "
            "assert 'sklearn' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_docstring_example_runs():
    result = doctest.testmod(tsrnn.grid_search)
    assert result.attempted > 0 and result.failed == 0
