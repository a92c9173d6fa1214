"""The tsrnn command: compare, forecast and backtest end to end on small data, and its errors.

The comparison protocol itself (origins, scores, models) is tested in test_comparison.py.
"""
import sys

import numpy as np
import pandas as pd
import pytest

from tsrnn import cli, comparison
from tsrnn.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    """Run the command; return (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def hourly_csv(tmp_path):
    """400 hourly values of a noisy daily cycle, with a second numeric column."""
    rng = np.random.default_rng(0)
    t = np.arange(400)
    y = 10 + np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=t.size)
    frame = pd.DataFrame({
        "timestamp": pd.date_range("2024-03-01", periods=t.size, freq="h"),
        "temperature": y,
        "humidity": 50 + y,
    })
    path = tmp_path / "hourly.csv"
    frame.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------------
def test_compare_on_csv_prints_one_row_per_model_and_horizon(capsys, hourly_csv):
    code, out, err = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                         "--models", "naive", "markov", "--horizons", "2", "6",
                         "--origins", "4", "-q")
    assert code == 0, err
    assert "4 origins" in out and "400 observations" in out
    header = next(line for line in out.splitlines() if "MASE" in line and "model" in line)
    assert header.split() == ["model", "horizon", "MASE", "sMAPE", "%", "MAE", "fit", "s",
                              "predict", "ms", "cover", "%", "MSIS"]
    assert "share of the true values inside the 90 % prediction intervals" in out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["naive"],
                                                                             ["markov"])]
    assert [(r[0], r[1]) for r in rows] == [("naive", "2"), ("markov", "2"), ("naive", "6"),
                                            ("markov", "6")]
    assert err == ""  # -q: no progress on stderr


def test_compare_shows_progress_and_the_model_being_fitted_on_stderr(capsys, hourly_csv,
                                                                   monkeypatch):
    code, out, err = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                         "--models", "naive", "markov", "--horizons", "3", "--origins", "3")
    assert code == 0
    assert "[1/2] naive: fitting" in err and "[2/2] markov: fitting" in err
    assert "backtest" not in err  # stderr is no terminal here: no progress bar in the log
    assert "fitting" not in out  # the table on stdout stays clean
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    code, out, err = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                         "--models", "naive", "--horizons", "3", "--origins", "3")
    assert code == 0 and "backtest" in err  # on a terminal, the per-origin progress bar


def test_compare_out_writes_the_numeric_table(capsys, hourly_csv, tmp_path):
    target = tmp_path / "results.csv"
    code, _, _ = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                     "--models", "naive", "--horizons", "1", "5", "--origins", "3", "-q",
                     "--out", target)
    assert code == 0
    table = pd.read_csv(target)
    assert list(table.columns) == ["model", "horizon", "mase", "smape", "mae", "fit_seconds",
                                   "predict_seconds", "coverage", "msis"]
    assert table["horizon"].tolist() == [1, 5]
    assert np.isfinite(table[["mase", "smape", "mae", "coverage", "msis"]].to_numpy()).all()
    assert table["coverage"].between(0, 1).all()


def test_compare_coverage_and_no_intervals(capsys, hourly_csv, tmp_path):
    target = tmp_path / "results.csv"
    code, out, _ = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                       "--models", "naive", "--horizons", "3", "--origins", "3", "-q",
                       "--coverage", "0.8", "--out", target)
    assert code == 0 and "inside the 80 % prediction intervals" in out
    code, out, _ = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                       "--models", "naive", "--horizons", "3", "--origins", "3", "-q",
                       "--no-intervals", "--out", target)
    assert code == 0 and "MSIS" not in out
    assert "coverage" not in pd.read_csv(target).columns
    code, _, err = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                       "--coverage", "1.5")
    assert code == 2 and "coverage" in err


def test_forecast_coverage_writes_lower_and_upper(capsys, hourly_csv, tmp_path):
    target = tmp_path / "forecast.csv"
    code, _, err = run(capsys, "forecast", hourly_csv, "--column", "temperature", "--horizon",
                       "4", "--model", "naive", "--coverage", "0.9", "--out", target, "-q")
    assert code == 0, err
    table = pd.read_csv(target)
    assert list(table.columns[1:]) == ["temperature", "lower", "upper"]
    assert (table["lower"] <= table["temperature"]).all()
    assert (table["temperature"] <= table["upper"]).all()
    assert (table["upper"] - table["lower"]).is_monotonic_increasing


def test_backtest_coverage_adds_interval_scores_per_origin(capsys, hourly_csv, tmp_path):
    target = tmp_path / "scores.csv"
    code, out, err = run(capsys, "backtest", hourly_csv, "--column", "temperature",
                         "--horizon", "3", "--model", "naive", "--origins", "3",
                         "--coverage", "0.8", "--out", target, "-q")
    assert code == 0, err
    assert "80 % interval" in out
    table = pd.read_csv(target)
    assert {"coverage", "interval_width", "interval_score"} <= set(table.columns)


def test_compare_runs_rnns_through_their_public_api(capsys, hourly_csv, tiny_rnn):
    code, out, err = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                         "--models", "lstm", "gru", "naive", "--horizons", "4",
                         "--origins", "3", "-q")
    assert code == 0, err
    models = [line.split()[0] for line in out.splitlines()
              if line.split()[:1] in (["lstm"], ["gru"], ["naive"])]
    assert models == ["lstm", "gru", "naive"]
    assert "RNNForecaster with its default parameters (random_state=0)" in out


def test_compare_defaults_to_the_ecg_with_horizons_of_a_tenth_and_half_second(capsys):
    code, out, err = run(capsys, "compare", "--models", "naive", "--origins", "3", "-q")
    assert code == 0, err
    assert out.startswith("ECG")
    assert "108,000 observations" in out and "the first 86,400 (80 %)" in out
    assert "36 (0.1 s)" in out and "180 (0.5 s)" in out
    args = cli.build_parser().parse_args(["compare"])
    assert args.origins == 200 and args.context_length == 2000
    assert args.models is None  # the data set's preset decides
    assert comparison.PRESETS["ecg"].models == ("lstm", "gru", "arima", "stl", "markov", "naive")


def test_compare_co2_interpolates_gaps_and_leaves_them_out_of_scores(capsys, tmp_path):
    target = tmp_path / "co2.csv"
    code, out, err = run(capsys, "compare", "--dataset", "co2", "--models", "naive", "markov",
                         "seasonal", "--origins", "5", "-q", "--out", target)
    assert code == 0, err
    assert "4 (4 weeks)" in out and "52 (52 weeks)" in out
    assert "59 missing value(s)" in out
    table = pd.read_csv(target)
    assert table["model"].tolist() == ["naive", "markov", "seasonal naive"] * 2
    assert np.isfinite(table[["mase", "smape", "mae"]].to_numpy()).all()


def test_compare_co2_runs_a_seasonal_reference_and_a_differenced_markov_chain(capsys):
    code, out, err = run(capsys, "compare", "--dataset", "co2", "--models", "markov",
                         "seasonal", "--origins", "3", "-q")
    assert code == 0, err
    assert [line.split()[:2] for line in out.splitlines() if "seasonal naive" in line][:2] \
        == [["seasonal", "naive"], ["seasonal", "naive"]]
    assert "season_length=52), the value one season (52 weeks) before" in out
    assert "over increments (differences=1)" in out
    assert comparison.PRESETS["co2"].season_length == 52
    assert "seasonal" in comparison.PRESETS["co2"].models


def test_compare_on_csv_uses_the_season_detected_in_the_training_part(capsys, hourly_csv):
    code, out, err = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                         "--models", "seasonal", "naive", "--horizons", "3", "--origins", "2")
    assert code == 0, err
    assert "season detected in the training part: 23.97 steps" in err
    assert "season_length=24" in out
    code, out, err = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                         "--horizons", "3", "--origins", "2", "--models", "naive", "-q")
    assert code == 0 and "seasonal" not in out  # only the default list gains the reference


def test_seasonal_model_needs_a_season_length_outside_co2(capsys, hourly_csv, tmp_path):
    walk = np.cumsum(np.random.default_rng(5).normal(size=300))
    path = tmp_path / "walk.csv"
    pd.DataFrame({"t": np.arange(300), "value": walk}).to_csv(path, index=False)
    code, _, err = run(capsys, "compare", "--csv", path, "--column", "value",
                       "--models", "seasonal", "--horizons", "3", "--origins", "2")
    assert code == 1 and "--season-length" in err and "no season detected" in err
    code, out, err = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                         "--models", "seasonal", "naive", "--season-length", "24",
                         "--horizons", "3", "--origins", "2", "-q")
    assert code == 0, err
    assert "season_length=24" in out
    code, _, err = run(capsys, "forecast", hourly_csv, "--column", "temperature",
                       "--horizon", 3, "--model", "seasonal")
    assert code == 1 and "--season-length" in err


def test_forecast_with_the_seasonal_model_repeats_the_last_season(capsys, hourly_csv):
    code, out, err = run(capsys, "forecast", hourly_csv, "--column", "temperature",
                         "--horizon", 30, "--model", "seasonal", "--season-length", 24, "-q")
    assert code == 0, err
    history = pd.read_csv(hourly_csv)["temperature"].to_numpy()
    forecast = pd.read_csv(pd.io.common.StringIO(out))["temperature"].to_numpy()
    assert np.allclose(forecast, np.r_[history[-24:], history[-24:-18]])


def test_forecast_with_markov_follows_a_trend_in_the_file(capsys, tmp_path):
    path = tmp_path / "trend.csv"
    days = pd.date_range("2024-01-01", periods=300, freq="D")
    values = 0.5 * np.arange(300) + np.random.default_rng(0).normal(size=300)
    pd.DataFrame({"day": days, "v": values}).to_csv(path, index=False)
    code, out, err = run(capsys, "forecast", path, "--column", "v", "--horizon", 20,
                         "--model", "markov")
    assert code == 0, err
    assert "over increments (differences=1)" in err
    forecast = pd.read_csv(pd.io.common.StringIO(out))["v"].to_numpy()
    assert forecast[-1] > values.max() + 5  # a chain over levels would stay below the maximum


def test_python_api_names_stay_importable_from_the_command_module():
    assert cli.run_comparison is comparison.run_comparison


def test_compare_plot_writes_a_png(capsys, hourly_csv, tmp_path):
    pytest.importorskip("matplotlib")
    figure = tmp_path / "compare.png"
    code, _, err = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                       "--models", "naive", "markov", "--horizons", "3", "8", "--origins", "4",
                       "-q", "--plot", figure)
    assert code == 0, err
    assert figure.read_bytes()[:8] == PNG_SIGNATURE


def test_plot_without_matplotlib_says_how_to_install_it(capsys, hourly_csv, tmp_path,
                                                        monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    figure = tmp_path / "compare.png"
    code, out, err = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                         "--models", "naive", "--horizons", "3", "--origins", "2", "-q",
                         "--plot", figure)
    assert code == 1
    assert 'pip install "tsrnn[plot]"' in err
    assert out == "" and not figure.exists()  # failed before doing the work


def test_compare_csv_without_column_is_an_error(capsys, hourly_csv):
    code, _, err = run(capsys, "compare", "--csv", hourly_csv)
    assert code == 1
    assert "--column" in err


# ---------------------------------------------------------------------------------------------
# forecast
# ---------------------------------------------------------------------------------------------
def test_forecast_writes_horizon_rows_with_the_following_timestamps(capsys, hourly_csv,
                                                                    tmp_path):
    target = tmp_path / "forecast.csv"
    code, out, err = run(capsys, "forecast", hourly_csv, "--column", "temperature",
                         "--horizon", 7, "--model", "naive", "--out", target, "-q")
    assert code == 0, err
    assert out == ""
    forecast = pd.read_csv(target, parse_dates=["timestamp"])
    history = pd.read_csv(hourly_csv, parse_dates=["timestamp"])
    assert list(forecast.columns) == ["timestamp", "temperature"]
    assert len(forecast) == 7
    expected = pd.date_range(history["timestamp"].iloc[-1] + pd.Timedelta("1h"), periods=7,
                             freq="h")
    assert forecast["timestamp"].tolist() == expected.tolist()
    assert np.allclose(forecast["temperature"], history["temperature"].iloc[-1])


def test_forecast_without_out_writes_csv_to_stdout(capsys, hourly_csv):
    code, out, _ = run(capsys, "forecast", hourly_csv, "--column", "humidity", "--horizon", 3,
                       "--model", "markov", "-q")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "timestamp,humidity" and len(lines) == 4


def test_forecast_keeps_seconds_as_numbers_and_fills_missing_rows(capsys, tmp_path):
    seconds = np.round(np.arange(300) * 0.01, 2)
    keep = np.ones(300, bool)
    keep[[50, 51, 200]] = False  # three samples lost
    path = tmp_path / "sensor.csv"
    pd.DataFrame({"t": seconds[keep], "v": np.sin(seconds[keep] * 5)}).to_csv(path, index=False)
    code, out, err = run(capsys, "forecast", path, "--column", "v", "--horizon", 4,
                         "--model", "naive")
    assert code == 0, err
    forecast = pd.read_csv(pd.io.common.StringIO(out))
    assert np.allclose(forecast["t"], [3.0, 3.01, 3.02, 3.03])
    assert "3 missing time step(s) inserted" in err


def test_forecast_with_an_rnn_uses_the_model_option(capsys, hourly_csv, tiny_rnn):
    code, out, err = run(capsys, "forecast", hourly_csv, "--column", "temperature",
                         "--horizon", 5, "--model", "gru", "-q")
    assert code == 0, err
    values = pd.read_csv(pd.io.common.StringIO(out))["temperature"]
    assert len(values) == 5 and np.isfinite(values).all()


def test_forecast_plot_writes_a_png(capsys, hourly_csv, tmp_path):
    pytest.importorskip("matplotlib")
    figure = tmp_path / "forecast.png"
    code, _, err = run(capsys, "forecast", hourly_csv, "--column", "temperature",
                       "--horizon", 12, "--model", "naive", "-q", "--plot", figure)
    assert code == 0, err
    assert figure.read_bytes()[:8] == PNG_SIGNATURE


def test_missing_file_is_a_one_line_error_without_traceback(capsys, tmp_path):
    code, out, err = run(capsys, "forecast", tmp_path / "nope.csv", "--column", "x",
                         "--horizon", 3)
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert "file not found" in err and "Traceback" not in err


def test_missing_column_error_lists_the_columns(capsys, hourly_csv):
    code, _, err = run(capsys, "forecast", hourly_csv, "--column", "pressure", "--horizon", 3)
    assert code == 1
    assert "'pressure' not found" in err and "'temperature'" in err and "'humidity'" in err


def test_missing_time_column_is_an_error(capsys, hourly_csv):
    code, _, err = run(capsys, "forecast", hourly_csv, "--column", "temperature",
                       "--time-column", "when", "--horizon", 3)
    assert code == 1 and "time column 'when' not found" in err


def test_non_numeric_values_are_reported_with_their_row(capsys, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("day,v\n2024-01-01,1.0\n2024-01-02,oops\n2024-01-03,2.0\n")
    code, _, err = run(capsys, "forecast", path, "--column", "v", "--horizon", 1)
    assert code == 1 and "non-numeric" in err and "'oops'" in err and "row 2" in err


def test_irregular_times_are_an_error(capsys, tmp_path):
    path = tmp_path / "irregular.csv"
    path.write_text("t,v\n0.0,1\n1.0,2\n1.5,3\n3.7,4\n4.1,5\n")
    code, _, err = run(capsys, "forecast", path, "--column", "v", "--horizon", 1)
    assert code == 1 and "not evenly spaced" in err


def test_debug_shows_the_traceback(hourly_csv):
    with pytest.raises(ValueError, match="not found"):
        main(["forecast", str(hourly_csv), "--column", "nope", "--horizon", "2", "--debug"])


def test_usage_errors_return_2_and_help_returns_0(capsys):
    assert main(["forecast", "x.csv", "--column", "v", "--horizon", "2", "--model", "bogus"]) \
        == 2
    assert main(["--help"]) == 0
    assert "compare" in capsys.readouterr().out


def test_forecast_continues_a_duration_time_column(capsys, tmp_path):
    path = tmp_path / "durations.csv"
    elapsed = pd.to_timedelta(np.arange(50), unit="s")
    pd.DataFrame({"elapsed": elapsed.astype(str), "v": np.arange(50.0)}).to_csv(path,
                                                                             index=False)
    code, out, err = run(capsys, "forecast", path, "--column", "v", "--horizon", 2,
                         "--model", "naive", "-q")
    assert code == 0, err
    forecast = pd.read_csv(pd.io.common.StringIO(out))
    assert pd.to_timedelta(forecast["elapsed"]).tolist() == [pd.Timedelta(seconds=50),
                                                             pd.Timedelta(seconds=51)]


# ---------------------------------------------------------------------------------------------
# backtest
# ---------------------------------------------------------------------------------------------
def test_backtest_prints_per_origin_scores_and_their_mean(capsys, hourly_csv):
    code, out, err = run(capsys, "backtest", hourly_csv, "--column", "temperature",
                         "--horizon", 6, "--model", "naive", "--origins", 4, "-q")
    assert code == 0, err
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["origin"])
    assert lines[header].split()[-5:] == ["MAE", "RMSE", "sMAPE", "%", "MASE"]
    rows = lines[header + 1:header + 6]
    assert [r.split()[0] for r in rows] == ["376", "382", "388", "394", "mean"]
    maes = [float(r.split()[-4]) for r in rows]
    assert maes[-1] == pytest.approx(np.mean(maes[:-1]), rel=1e-3)


def test_backtest_with_refit_and_too_many_origins(capsys, hourly_csv):
    code, out, _ = run(capsys, "backtest", hourly_csv, "--column", "temperature",
                       "--horizon", 2, "--model", "markov", "--origins", 3, "--refit", "-q")
    assert code == 0 and "refitted at every origin" in out
    code, _, err = run(capsys, "backtest", hourly_csv, "--column", "temperature",
                       "--horizon", 50, "--model", "naive", "--origins", 20)
    assert code == 1 and "lower --origins" in err


def test_compare_co2_fits_a_seasonal_arima_and_says_what_it_fitted(capsys, monkeypatch):
    from dataclasses import replace

    co2 = comparison.PRESETS["co2"]  # a smaller search than the preset's, same kind of model
    monkeypatch.setitem(comparison.PRESETS, "co2",
                        replace(co2, arima=dict(co2.arima, max_harmonics=1)))
    code, out, err = run(capsys, "compare", "--dataset", "co2", "--models", "naive", "arima",
                         "--origins", "2", "--arima-max-p", "0", "--arima-max-q", "0", "-q")
    assert code == 0, err
    assert "arima: 1 Fourier pair of period 52.18 weeks and a drift with ARIMA(0, 1, 0)" in out


def test_season_length_makes_the_csv_arima_seasonal(capsys, hourly_csv):
    common = ["compare", "--csv", hourly_csv, "--column", "temperature", "--models", "arima",
              "--horizons", "3", "--origins", "2", "--arima-max-p", "0", "--arima-max-q", "0",
              "-q"]
    code, out, err = run(capsys, *common, "--season-length", "24")
    assert code == 0, err
    assert "Fourier pair" in out and "ARIMAForecaster(season_length=24)" in out
    code, out, err = run(capsys, *common)  # the season detected in the training part
    assert code == 0, err
    assert "Fourier pair" in out and "ARIMAForecaster(season_length=23.97)" in out
    walk = np.cumsum(np.random.default_rng(5).normal(size=300))
    path = hourly_csv.parent / "walk.csv"
    pd.DataFrame({"t": np.arange(300), "value": walk}).to_csv(path, index=False)
    code, out, err = run(capsys, "compare", "--csv", path, "--column", "value", *common[5:])
    assert code == 0, err
    assert "order by AIC over p <= 0, q <= 0 (d by ADF)" in out
