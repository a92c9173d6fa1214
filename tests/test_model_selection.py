"""backtest: origin placement, hand-checked scores, refit vs context, parallel == serial."""
import numpy as np
import pandas as pd
import pytest

from tsrnn.forecasters.naive import NaiveForecaster
from tsrnn.model_selection import backtest

Y = np.arange(10.0)


def test_origins_end_at_the_series_end_spaced_by_horizon():
    scores = backtest(NaiveForecaster(), Y, horizon=2, n_origins=3, metrics=["mae"])
    assert scores["origin"].tolist() == [4, 6, 8]
    # Naive "last" from y[:t] = t - 1, truths t, t + 1: errors 1 and 2.
    assert scores["mae"].tolist() == [1.5, 1.5, 1.5]


def test_step_spacing_and_initial_choose_all_origins():
    scores = backtest(NaiveForecaster(), Y, horizon=1, step=3, initial=2, metrics=["mae"])
    assert scores["origin"].tolist() == [3, 6, 9]


def test_default_uses_the_last_five_origins():
    scores = backtest(NaiveForecaster(), np.arange(40.0), horizon=3, metrics=["mae"])
    assert scores["origin"].tolist() == [25, 28, 31, 34, 37]


def test_too_many_origins_raise_clear_error():
    with pytest.raises(ValueError, match="lower n_origins"):
        backtest(NaiveForecaster(), Y, horizon=2, n_origins=6)


def test_default_metrics_are_hand_checked():
    y = np.array([1.0, 2.0, 4.0, 5.0, 6.0])
    scores = backtest(NaiveForecaster(), y, horizon=2, n_origins=1)
    row = scores.iloc[0]
    assert row["origin"] == 3 and row["n_train"] == 3
    # History [1, 2, 4] -> forecast 4, 4; truth 5, 6; errors 1, 2.
    assert row["mae"] == pytest.approx(1.5)
    assert row["rmse"] == pytest.approx(np.sqrt(2.5))
    assert row["smape"] == pytest.approx(100 * (2 / 9 + 4 / 10) / 2)
    assert row["mase"] == pytest.approx(1.5 / 1.5)


def test_forecast_table_allows_error_per_step():
    scores, forecasts = backtest(
        NaiveForecaster(), Y, horizon=2, n_origins=3, metrics=["mae"], return_forecasts=True
    )
    assert list(forecasts.columns) == ["origin", "step", "y_true", "y_pred"]
    assert len(forecasts) == 6
    per_step = (forecasts.y_true - forecasts.y_pred).abs().groupby(forecasts.step).mean()
    assert per_step.tolist() == [1.0, 2.0]


def test_pandas_series_reports_origin_times():
    y = pd.Series(Y, index=pd.date_range("2024-01-01", periods=10, freq="D"))
    scores, forecasts = backtest(
        NaiveForecaster(), y, horizon=2, n_origins=2, return_forecasts=True
    )
    assert scores["time"].tolist() == [pd.Timestamp("2024-01-07"), pd.Timestamp("2024-01-09")]
    assert forecasts["time"].iloc[-1] == pd.Timestamp("2024-01-10")


def test_fitted_model_predicts_from_context_without_refit():
    model = NaiveForecaster("mean").fit(np.full(5, 100.0))
    scores, forecasts = backtest(
        model, Y, horizon=1, n_origins=2, context_length=2, metrics=["mae"],
        return_forecasts=True,
    )
    # Context = the 2 values before each origin: mean of (6, 7) and (7, 8).
    assert forecasts["y_pred"].tolist() == [6.5, 7.5]
    assert scores["n_train"].tolist() == [2, 2]
    assert model.count_ == [5]  # the fitted model was not refitted


def test_refit_true_fits_a_clone_per_origin():
    model = NaiveForecaster("mean").fit(np.full(5, 100.0))
    _, forecasts = backtest(
        model, Y, horizon=1, n_origins=2, refit=True, metrics=["mae"], return_forecasts=True
    )
    assert forecasts["y_pred"].tolist() == [np.mean(Y[:8]), np.mean(Y[:9])]
    assert model.count_ == [5]


def test_multi_column_forecast_table_has_column_names():
    frame = pd.DataFrame({"a": Y, "b": 2 * Y})
    _, forecasts = backtest(
        NaiveForecaster(), frame, horizon=1, n_origins=1, metrics=["mae"], return_forecasts=True
    )
    assert forecasts["column"].tolist() == ["a", "b"]
    assert forecasts["y_pred"].tolist() == [8.0, 16.0]


def test_custom_metric_functions_receive_training_history():
    seen = []

    def history_length(y_true, y_pred, y_train):
        seen.append(len(y_train))
        return float(len(y_train))

    scores = backtest(
        NaiveForecaster(), Y, horizon=2, n_origins=2, metrics={"n": history_length}
    )
    assert scores["n"].tolist() == [6.0, 8.0] and seen == [6, 8]


def test_unknown_metric_name_raises():
    with pytest.raises(ValueError, match="unknown metric"):
        backtest(NaiveForecaster(), Y, horizon=1, metrics=["mape"])


def test_exogenous_columns_are_split_at_each_origin():
    from tsrnn.forecasters.arima import ARIMAForecaster

    rng = np.random.default_rng(0)
    X = rng.normal(size=60)
    y = 2.0 * X + 0.01 * rng.normal(size=60)
    scores = backtest(
        ARIMAForecaster(order=(0, 0, 0)), y, horizon=3, n_origins=2, X=X, metrics=["mae"]
    )
    assert (scores["mae"] < 0.1).all()


def test_parallel_equals_serial():
    rng = np.random.default_rng(0)
    y = pd.Series(np.cumsum(rng.normal(size=60)))
    kwargs = dict(horizon=4, n_origins=6, step=3, return_forecasts=True)
    serial = backtest(NaiveForecaster("seasonal", season_length=4), y, **kwargs)
    parallel = backtest(NaiveForecaster("seasonal", season_length=4), y, n_jobs=2, **kwargs)
    pd.testing.assert_frame_equal(serial[0], parallel[0])
    pd.testing.assert_frame_equal(serial[1], parallel[1])


def test_progress_bar_is_shown(capsys):
    backtest(NaiveForecaster(), Y, horizon=1, n_origins=3, metrics=["mae"], progress=True)
    assert "backtest" in capsys.readouterr().err


def test_a_list_of_series_is_backtested_series_by_series():
    scores = backtest(NaiveForecaster(), [Y, Y], horizon=1)
    assert scores["unique_id"].tolist() == [0] * 5 + [1] * 5  # tests/test_panels.py has more


def test_missing_truth_values_are_left_out_of_the_scores():
    y = np.arange(20.0)
    y[15] = np.nan
    scores = backtest(NaiveForecaster(missing="interpolate"), y, horizon=3, n_origins=2)
    assert np.isfinite(scores[["mae", "rmse", "smape", "mase"]].to_numpy()).all()
    kept = backtest(NaiveForecaster(missing="interpolate"), y, horizon=3, n_origins=2,
                    nan_policy="propagate")
    assert np.isnan(kept["mae"]).any()


def test_rolling_origins_spread_and_errors():
    from tsrnn.model_selection import rolling_origins

    assert rolling_origins(100, 10, n_origins=4, step="spread", initial=60) == [60, 70, 80, 90]
    assert rolling_origins(10, 2) == [2, 4, 6, 8]
    with pytest.raises(ValueError, match="lower the number of origins"):
        rolling_origins(100, 10, n_origins=50, step="spread", initial=60)
    with pytest.raises(ValueError, match="too few for a horizon"):
        rolling_origins(5, 5)


def _ar1(n, phi=0.8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = phi * y[t - 1] + rng.normal()
    return y


def test_backtest_with_coverage_scores_intervals_per_origin():
    from tsrnn import ARIMAForecaster

    y = _ar1(500)
    model = ARIMAForecaster(order=(1, 0, 0)).fit(y[:300])
    scores, frame = backtest(model, y, horizon=5, n_origins=30, coverage=0.9,
                             return_forecasts=True)
    assert {"coverage", "interval_width", "interval_score"} <= set(scores.columns)
    assert {"lower", "upper"} <= set(frame.columns)
    assert (frame["lower"] <= frame["y_pred"]).all() and (frame["y_pred"] <= frame["upper"]).all()
    inside = (frame.y_true >= frame.lower) & (frame.y_true <= frame.upper)
    assert scores["coverage"].mean() == pytest.approx(inside.mean())
    assert 0.8 < scores["coverage"].mean() <= 1.0


def test_backtest_with_coverage_and_refit():
    y = _ar1(120)
    scores = backtest(NaiveForecaster(), y, horizon=3, n_origins=4, coverage=0.8, refit=True)
    assert scores["interval_width"].gt(0).all()


def test_backtest_without_coverage_has_no_interval_columns():
    scores = backtest(NaiveForecaster(), _ar1(60), horizon=3, n_origins=2)
    assert "coverage" not in scores.columns


@pytest.mark.parametrize("bad", [0, 1, 1.5, float("nan")])
def test_backtest_refuses_a_bad_coverage(bad):
    with pytest.raises(ValueError, match="coverage"):
        backtest(NaiveForecaster(), _ar1(60), horizon=3, n_origins=2, coverage=bad)
