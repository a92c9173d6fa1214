"""The command catching up with the library (issue 12, item 6): ``--param`` on every command,
known-future ``--covariates`` with their ``--future`` values, several ``--column`` forecast
jointly, and ``--save`` / ``--model-file`` for the RNNs; each option's errors come before any
reading or fitting. The RNNs are tiny (``--param``), so every test runs in seconds.
"""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tsrnn.cli import _param_pair, main

TINY = ["--param", "hidden_size=4", "--param", "max_epochs=2", "--param", "n_models=1"]
HEAVY = ("numpy", "pandas", "statsmodels", "scipy", "tsrnn.forecasters", "tsrnn._commands")


def run(capsys, *argv):
    """Run the command; return (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_out(text):
    return pd.read_csv(pd.io.common.StringIO(text))


@pytest.fixture
def hourly_csv(tmp_path):
    """300 hourly rows: ``load`` is three times the ``dose`` planned ahead plus noise;
    ``temperature`` and ``humidity`` follow a daily cycle."""
    rng = np.random.default_rng(1)
    t = np.arange(300)
    dose = np.round(rng.uniform(0, 2, size=t.size), 3)
    cycle = 10 + np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=t.size)
    frame = pd.DataFrame({
        "timestamp": pd.date_range("2024-03-01", periods=t.size, freq="h"),
        "load": 3.0 * dose + 0.05 * rng.normal(size=t.size),
        "dose": dose,
        "temperature": cycle,
        "humidity": 50 + 2 * cycle,
    })
    path = tmp_path / "hourly.csv"
    frame.to_csv(path, index=False)
    return path


def future_file(directory, doses, name="future.csv", start="2024-03-13 12:00"):
    """A --future file with ``dose`` at the hours from ``start`` (the hour after the data)."""
    path = directory / name
    pd.DataFrame({"timestamp": pd.date_range(start, periods=len(doses), freq="h"),
                  "dose": doses}).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------------------------------
# --param
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("hidden_size=32", ("hidden_size", 32)),
    ("learning_rate=1e-3", ("learning_rate", 0.001)),
    ("early_stopping=False", ("early_stopping", False)),
    ("validation_horizon=None", ("validation_horizon", None)),
    ("tbptt=(20, 40)", ("tbptt", (20, 40))),
    ("tbptt=20,40", ("tbptt", (20, 40))),
    ("dtype=float64", ("dtype", "float64")),
    ("loss='mae'", ("loss", "mae")),
    ("gru.hidden_size=8", ("gru.hidden_size", 8)),
])
def test_param_values_are_python_literals_or_else_text(text, expected):
    assert _param_pair(text) == expected


@pytest.mark.parametrize("text", ["hidden_size", "=4", "a.b.c=1", "hidden size=4"])
def test_a_param_without_name_and_value_is_a_usage_error(capsys, hourly_csv, text):
    code, _, err = run(capsys, "forecast", hourly_csv, "--column", "load", "--horizon", 2,
                       "--model", "naive", "--param", text)
    assert code == 2 and "expected NAME=VALUE" in err


def test_forecast_param_sets_the_rnn_and_logs_the_values(capsys, hourly_csv):
    code, out, err = run(capsys, "forecast", hourly_csv, "--column", "temperature",
                         "--horizon", 4, "--model", "gru", *TINY, "--param", "dtype=float64")
    assert code == 0, err
    assert "--param: gru with hidden_size=4, max_epochs=2, n_models=1, dtype='float64'" in err
    assert "fitting RNNForecaster(cell='gru', hidden_size=4, max_epochs=2" in err
    values = read_out(out)["temperature"]
    assert len(values) == 4 and np.isfinite(values).all()


def test_a_bad_param_value_fails_with_the_estimators_message_before_reading(capsys, tmp_path):
    missing_file = tmp_path / "not-there.csv"  # never read: the check comes first
    code, out, err = run(capsys, "forecast", missing_file, "--column", "v", "--horizon", 2,
                         "--model", "lstm", "--param", "hidden_size=-1")
    assert code == 1 and out == ""
    assert "hidden_size must be an integer >= 1, got -1" in err
    assert "not found" not in err and err.count("\n") == 1
    code, _, err = run(capsys, "backtest", missing_file, "--column", "v", "--horizon", 2,
                       "--model", "arima", "--param", "max_p=x")
    assert code == 1 and "max_p" in err and "not found" not in err


def test_an_unknown_param_lists_the_valid_ones(capsys, hourly_csv):
    code, _, err = run(capsys, "forecast", hourly_csv, "--column", "load", "--horizon", 2,
                       "--model", "gru", "--param", "hiden_size=4")
    assert code == 1
    assert "invalid parameter 'hiden_size'" in err
    assert "hidden_size" in err.split("its parameters are")[1]
    assert "fitting" not in err


def test_params_the_model_name_sets_or_another_models_params_are_refused(capsys, hourly_csv):
    code, _, err = run(capsys, "forecast", hourly_csv, "--column", "load", "--horizon", 2,
                       "--model", "gru", "--param", "cell=lstm")
    assert code == 1 and "sets cell" in err
    code, _, err = run(capsys, "forecast", hourly_csv, "--column", "load", "--horizon", 2,
                       "--model", "gru", "--param", "lstm.hidden_size=4")
    assert code == 1 and "lstm is not the --model (gru)" in err
    code, out, err = run(capsys, "forecast", hourly_csv, "--column", "load", "--horizon", 2,
                         "--model", "gru", "--param", "gru.hidden_size=4", *TINY[2:], "-q")
    assert code == 0, err  # the prefix of the model itself is accepted


def test_backtest_param_is_applied_and_printed(capsys, hourly_csv):
    code, out, err = run(capsys, "backtest", hourly_csv, "--column", "temperature",
                         "--horizon", 3, "--origins", 2, "--model", "arima", "--param",
                         "max_p=0", "--param", "max_q=0")
    assert code == 0, err
    assert "--param: arima with max_p=0, max_q=0" in err
    assert "--param max_p=0, max_q=0" in out


def test_compare_param_by_model_prefix_and_plain_name(capsys, hourly_csv):
    code, out, err = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                         "--models", "naive", "gru", "--horizons", 3, "--origins", 3,
                         "--param", "gru.hidden_size=4", "--param", "max_epochs=2",
                         "--param", "n_models=1")
    assert code == 0, err
    assert "--param: gru with hidden_size=4, max_epochs=2, n_models=1" in err
    assert ("gru: RNNForecaster with hidden_size=4, max_epochs=2, n_models=1, random_state=0, "
            "other parameters default.") in out
    assert "default parameters (random_state" not in out
    code, out, err = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                         "--models", "naive", "seasonal", "--horizons", 3, "--origins", 3,
                         "--param", "season_length=12", "-q")
    assert code == 0, err  # a plain name goes to every compared model that has it
    assert "naive: parameters set: season_length=12." in out
    assert "seasonal naive: parameters set: season_length=12." in out
    assert "season_length=12), the value one season (12 h) before" in out


def test_compare_param_errors_come_before_the_data_is_read(capsys, tmp_path, hourly_csv):
    missing_file = tmp_path / "not-there.csv"
    code, _, err = run(capsys, "compare", "--csv", missing_file, "--column", "v", "--models",
                       "naive", "gru", "--param", "gru.hidden_size=0")
    assert code == 1 and "--param for gru: hidden_size must be" in err
    assert "not found" not in err
    code, _, err = run(capsys, "compare", "--csv", missing_file, "--column", "v", "--models",
                       "naive", "markov", "--param", "hidden_size=4")
    assert code == 1
    assert "no compared model (naive, markov) has a parameter 'hidden_size'" in err
    assert "naive's are missing, season_length, strategy" in err
    code, _, err = run(capsys, "compare", "--csv", missing_file, "--column", "v", "--models",
                       "naive", "--param", "lstm.hidden_size=4")
    assert code == 1 and "lstm is not among the compared models (naive)" in err
    code, _, err = run(capsys, "compare", "--csv", hourly_csv, "--column", "temperature",
                       "--models", "naive", "--param", "strategy=seasonal")
    assert code == 1 and "sets strategy" in err


# ---------------------------------------------------------------------------------------------
# --covariates and --future
# ---------------------------------------------------------------------------------------------
def test_forecast_with_covariates_follows_their_future_values(capsys, hourly_csv, tmp_path):
    low = future_file(tmp_path, [0.0] * 5, "low.csv")
    high = future_file(tmp_path, [2.0] * 5, "high.csv")
    common = ["forecast", hourly_csv, "--column", "load", "--horizon", 5, "--model", "arima",
              "--covariates", "dose"]
    code, out_low, err = run(capsys, *common, "--future", low)
    assert code == 0, err
    assert "reading dose as covariates" in err
    code, out_high, err = run(capsys, *common, "--future", high, "-q")
    assert code == 0, err
    forecast_low, forecast_high = read_out(out_low), read_out(out_high)
    assert list(forecast_low.columns) == ["timestamp", "load"]
    assert forecast_low["timestamp"].tolist() == pd.date_range(
        "2024-03-13 12:00", periods=5, freq="h").astype(str).tolist()
    # load is three times the dose: two more units of dose, six more of load
    assert np.allclose(forecast_high["load"] - forecast_low["load"], 6.0, atol=0.3)


def test_covariates_and_past_covariates_together_with_an_rnn(capsys, hourly_csv, tmp_path):
    future = future_file(tmp_path, [1.0, 0.5, 1.5])
    code, out, err = run(capsys, "forecast", hourly_csv, "--column", "load", "--horizon", 3,
                         "--model", "lstm", *TINY, "--covariates", "dose", "--future", future,
                         "--past-covariates", "humidity", "--coverage", 0.8)
    assert code == 0, err
    assert "reading dose as covariates, reading humidity as past covariates" in err
    table = read_out(out)
    assert list(table.columns) == ["timestamp", "load", "lower", "upper"]
    assert len(table) == 3 and np.isfinite(table[["load", "lower", "upper"]]).all().all()


@pytest.mark.parametrize("horizon, doses, message", [
    (6, [1.0] * 5, "it lacks 2024-03-13 17:00:00"),
    (4, [1.0] * 5, "it has times outside the horizon: 2024-03-13 16:00:00"),
    (3, [1.0, None, 1.0], "has no number for 'dose' at 2024-03-13 13:00:00"),
])
def test_future_values_must_cover_exactly_the_horizon(capsys, hourly_csv, tmp_path, horizon,
                                                      doses, message):
    future = future_file(tmp_path, doses)
    code, out, err = run(capsys, "forecast", hourly_csv, "--column", "load", "--horizon",
                         horizon, "--model", "arima", "--covariates", "dose", "--future",
                         future)
    assert code == 1 and out == ""
    assert message in err and "fitting" not in err  # refused before fitting
    if "lacks" in message or "outside" in message:
        assert (f"exactly the {horizon} --horizon times that follow the data, "
                f"2024-03-13 12:00:00 to") in err


def test_future_file_errors(capsys, hourly_csv, tmp_path):
    common = ["forecast", hourly_csv, "--column", "load", "--horizon", 2, "--model", "arima",
              "--covariates", "dose", "--future"]
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"timestamp": ["2024-03-13 12:00", "2024-03-13 13:00"],
                  "other": [1, 2]}).to_csv(wrong, index=False)
    code, _, err = run(capsys, *common, wrong)
    assert code == 1 and "has no column 'dose'; its columns are 'timestamp', 'other'" in err
    steps = tmp_path / "steps.csv"
    pd.DataFrame({"timestamp": [300, 301], "dose": [1, 2]}).to_csv(steps, index=False)
    code, _, err = run(capsys, *common, steps)
    assert code == 1 and "as dates like the data's times" in err
    code, _, err = run(capsys, *common, tmp_path / "nope.csv")
    assert code == 1 and "file not found" in err


def test_future_file_of_step_numbers_and_seconds(capsys, tmp_path):
    seconds = np.round(np.arange(200) * 0.5, 1)
    data = tmp_path / "seconds.csv"
    pd.DataFrame({"t": seconds, "v": np.sin(seconds), "u": np.cos(seconds)}).to_csv(
        data, index=False)
    future = tmp_path / "future.csv"
    pd.DataFrame({"t": [100.0, 100.5], "u": [0.1, 0.2]}).to_csv(future, index=False)
    code, out, err = run(capsys, "forecast", data, "--column", "v", "--horizon", 2,
                         "--model", "arima", "--covariates", "u", "--future", future, "-q")
    assert code == 0, err
    assert read_out(out)["t"].tolist() == [100.0, 100.5]  # seconds stay numbers
    code, _, err = run(capsys, "forecast", data, "--column", "v", "--horizon", 3,
                       "--model", "arima", "--covariates", "u", "--future", future, "-q")
    assert code == 1 and "100.0 to 101.0: it lacks 101.0" in err


def test_covariate_option_errors_come_before_reading(capsys, hourly_csv, tmp_path):
    future = future_file(tmp_path, [1.0, 1.0])
    missing_file = tmp_path / "not-there.csv"
    code, _, err = run(capsys, "forecast", missing_file, "--column", "load", "--horizon", 2,
                       "--model", "naive", "--covariates", "dose", "--future", future)
    assert code == 1 and "--covariates are read by the lstm, gru and arima models, not by naive" \
        in err
    code, _, err = run(capsys, "forecast", missing_file, "--column", "load", "--horizon", 2,
                       "--model", "arima", "--covariates", "load", "--future", future)
    assert code == 1 and "'load' is named by both --column and --covariates" in err
    code, _, err = run(capsys, "forecast", hourly_csv, "--column", "load", "--horizon", 2,
                       "--model", "arima", "--covariates", "dose")
    assert code == 2 and "--covariates and --future go together" in err
    code, _, err = run(capsys, "forecast", hourly_csv, "--column", "load", "--horizon", 2,
                       "--model", "naive", "--past-covariates", "dose")
    assert code == 1 and "read by the lstm and gru models" in err


# ---------------------------------------------------------------------------------------------
# several --column
# ---------------------------------------------------------------------------------------------
def test_several_columns_are_forecast_jointly_with_bounds_per_column(capsys, hourly_csv):
    code, out, err = run(capsys, "forecast", hourly_csv, "--column", "temperature",
                         "humidity", "--horizon", 3, "--model", "naive", "--coverage", 0.9,
                         "-q")
    assert code == 0, err
    table = read_out(out)
    assert list(table.columns) == ["timestamp", "temperature", "lower_temperature",
                                   "upper_temperature", "humidity", "lower_humidity",
                                   "upper_humidity"]
    history = pd.read_csv(hourly_csv)
    for name in ("temperature", "humidity"):
        assert np.allclose(table[name], history[name].iloc[-1])
        assert (table[f"lower_{name}"] <= table[name]).all()
        assert (table[name] <= table[f"upper_{name}"]).all()


def test_one_column_keeps_its_format_and_an_rnn_forecasts_several(capsys, hourly_csv):
    code, out, err = run(capsys, "forecast", hourly_csv, "--column", "temperature",
                         "--horizon", 2, "--model", "naive", "--coverage", 0.9, "-q")
    assert code == 0, err
    assert out.splitlines()[0] == "timestamp,temperature,lower,upper"
    code, out, err = run(capsys, "forecast", hourly_csv, "--column", "temperature",
                         "humidity", "--horizon", 3, "--model", "gru", *TINY, "-q")
    assert code == 0, err
    table = read_out(out)
    assert list(table.columns) == ["timestamp", "temperature", "humidity"]
    assert np.isfinite(table[["temperature", "humidity"]]).all().all()


def test_several_columns_help_and_plot(capsys, hourly_csv, tmp_path):
    assert main(["forecast", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "lower_NAME and upper_NAME" in text and "--model-file" in text
    code, _, err = run(capsys, "forecast", hourly_csv, "--column", "temperature", "humidity",
                       "--horizon", 3, "--model", "naive", "--plot", tmp_path / "f.png")
    assert code == 2 and "--plot draws one forecast column" in err


# ---------------------------------------------------------------------------------------------
# --save and --model-file
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def saved_gru(capsys, hourly_csv, tmp_path):
    """A tiny GRU fitted on temperature and saved; returns (model file, its 4-step forecast)."""
    path = tmp_path / "model.tsrnn"
    code, out, err = run(capsys, "forecast", hourly_csv, "--column", "temperature",
                         "--horizon", 4, "--model", "gru", *TINY, "--save", path)
    assert code == 0, err
    assert f"model written to {path}" in err
    return path, read_out(out)


def test_a_saved_model_continues_its_data_without_refitting(capsys, saved_gru):
    path, fitted = saved_gru
    code, out, err = run(capsys, "forecast", "--model-file", path, "--horizon", 4)
    assert code == 0, err
    assert "fitting" not in err and "not refitted" in err
    table = read_out(out)
    assert list(table.columns) == ["timestamp", "temperature"]
    assert table["timestamp"].tolist() == fitted["timestamp"].tolist()
    assert np.allclose(table["temperature"], fitted["temperature"])


def test_a_saved_model_forecasts_from_a_files_column_as_context(capsys, saved_gru,
                                                                hourly_csv, tmp_path):
    path, _ = saved_gru
    part = tmp_path / "part.csv"
    pd.read_csv(hourly_csv).iloc[:200].to_csv(part, index=False)
    code, out, err = run(capsys, "forecast", part, "--column", "temperature", "--model-file",
                         path, "--horizon", 3, "--coverage", 0.8)
    assert code == 0, err
    assert "from the 200 observations in" in err and "as context" in err
    table = read_out(out)
    assert list(table.columns) == ["timestamp", "temperature", "lower", "upper"]
    assert table["timestamp"].tolist() == pd.date_range(
        "2024-03-09 08:00", periods=3, freq="h").astype(str).tolist()  # after the 200th hour


def test_save_needs_an_rnn_and_is_refused_before_reading(capsys, tmp_path):
    code, _, err = run(capsys, "forecast", tmp_path / "not-there.csv", "--column", "v",
                       "--horizon", 2, "--model", "arima", "--save", tmp_path / "m.tsrnn")
    assert code == 1 and "--save writes the lstm and gru models; arima" in err
    assert "not found" not in err


def test_bad_model_files_are_one_line_errors(capsys, hourly_csv, tmp_path):
    code, out, err = run(capsys, "forecast", "--model-file", hourly_csv, "--horizon", 2)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "is not a tsrnn model file" in err and "Traceback" not in err
    code, _, err = run(capsys, "forecast", "--model-file", tmp_path / "none.tsrnn",
                       "--horizon", 2)
    assert code == 1 and "file not found" in err


@pytest.mark.parametrize("extra, message", [
    (["--model", "gru"], "leave out --model"),
    (["--param", "hidden_size=4"], "leave out --param"),
    (["--column", "temperature"], "FILE.csv and --column go together"),
])
def test_model_file_option_conflicts_are_usage_errors(capsys, tmp_path, extra, message):
    code, _, err = run(capsys, "forecast", "--model-file", tmp_path / "m.tsrnn",
                       "--horizon", 2, *extra)
    assert code == 2 and message in err


def test_forecast_without_data_or_model_file_is_a_usage_error(capsys):
    code, _, err = run(capsys, "forecast", "--column", "v", "--horizon", 2)
    assert code == 2 and "give FILE.csv and --column NAME" in err


def test_a_saved_model_with_covariates_needs_their_future(capsys, hourly_csv, tmp_path):
    path = tmp_path / "model.tsrnn"
    future = future_file(tmp_path, [1.0, 0.0, 2.0])
    code, fitted, err = run(capsys, "forecast", hourly_csv, "--column", "load", "--horizon", 3,
                            "--model", "lstm", *TINY, "--covariates", "dose", "--future",
                            future, "--save", path, "-q")
    assert code == 0, err
    code, _, err = run(capsys, "forecast", "--model-file", path, "--horizon", 3)
    assert code == 1 and "fitted with 1 covariate (dose)" in err
    code, _, err = run(capsys, "forecast", "--model-file", path, "--horizon", 3,
                       "--covariates", "temperature", "--future", future)
    assert code == 1 and "--covariates must be the ones" in err
    code, out, err = run(capsys, "forecast", "--model-file", path, "--horizon", 3,
                         "--covariates", "dose", "--future", future, "-q")
    assert code == 0, err
    assert np.allclose(read_out(out)["load"], read_out(fitted)["load"])


# ---------------------------------------------------------------------------------------------
# the parser stays light
# ---------------------------------------------------------------------------------------------
def test_the_parser_and_help_import_nothing_heavy(tmp_path):
    script = ("import contextlib, io, sys\n"
              "import tsrnn.cli\n"
              "with contextlib.redirect_stdout(io.StringIO()):\n"
              "    tsrnn.cli.main(['forecast', '--help'])\n"
              "    tsrnn.cli.main(['compare', '--help'])\n"
              f"print([m for m in {HEAVY!r} if m in sys.modules])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    done = subprocess.run([sys.executable, "-c",
                           "import sys, tsrnn.cli; print('pandas' in sys.modules)"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.stdout.strip() == "False"
