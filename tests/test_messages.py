"""Clear messages for careless inputs: each names the problem in the user's own terms (the
command line's options for the command line) before any long work."""
import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tsrnn import NaiveForecaster, RNNForecaster
from tsrnn.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def small_csv(tmp_path):
    path = tmp_path / "small.csv"
    values = np.sin(np.arange(60) / 3.0)
    pd.DataFrame({"t": np.arange(60), "hr": values}).to_csv(path, index=False)
    return path


def test_an_infinite_value_in_a_csv_is_treated_as_missing_and_said_so(tmp_path, capsys):
    path = tmp_path / "inf.csv"
    path.write_text("t,hr\n" + "".join(f"{i},{'inf' if i == 3 else i % 5}\n"
                                       for i in range(30)))
    code, out, err = run(capsys, "forecast", path, "--column", "hr", "--horizon", "2",
                         "--model", "naive")
    assert code == 0, err
    assert "1 infinite value(s) in 'hr' treated as missing" in err
    assert "missing='interpolate'" not in err  # a Python parameter means nothing here


def test_out_naming_a_directory_is_refused_before_fitting(small_csv, tmp_path, capsys):
    code, _, err = run(capsys, "forecast", small_csv, "--column", "hr", "--horizon", "2",
                       "--model", "naive", "--out", tmp_path)
    assert code == 1 and "is a directory" in err and "fitting" not in err


def test_closed_standard_output_is_a_clear_error(small_csv, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", None)
    code = main(["forecast", str(small_csv), "--column", "hr", "--horizon", "2",
                 "--model", "naive", "-q"])
    assert code == 1
    assert "standard output is closed" in capsys.readouterr().err


def test_a_reader_that_stops_early_is_not_an_error(small_csv):
    command = [sys.executable, "-m", "tsrnn.cli", "forecast", str(small_csv), "--column", "hr",
               "--horizon", "5000", "--model", "naive", "-q"]
    shell = f"{' '.join(command)} | head -1"
    # from outside the source folder, so that the installed package is the one imported
    done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True,
                          text=True, timeout=120, cwd=small_csv.parent)
    assert done.stdout.startswith("t,hr")
    assert "Error" not in done.stderr and "Traceback" not in done.stderr


def test_a_too_short_series_for_the_rnn_names_command_line_remedies(small_csv, capsys,
                                                                      monkeypatch):
    def too_short(self, ys):
        raise ValueError("a series of 60 observations is too short for early stopping: ... "
                         "or set early_stopping=False")

    monkeypatch.setattr(RNNForecaster, "_validation_starts", too_short)
    code, _, err = run(capsys, "forecast", small_csv, "--column", "hr", "--horizon", "2",
                       "--model", "lstm", "-q")
    assert code == 1
    assert "early_stopping=False" not in err and "another --model" in err


def test_a_nameless_series_is_not_called_none():
    with pytest.raises(TypeError) as info:
        NaiveForecaster().fit(pd.Series(["a", "b", "c"]))
    assert "None" not in str(info.value)


def test_missing_value_positions_say_how_they_are_counted():
    with pytest.raises(ValueError, match="counting from 0"):
        NaiveForecaster().fit(np.array([1.0, np.nan, 3.0]))


def test_a_negative_random_state_names_the_parameter():
    with pytest.raises(ValueError, match="random_state"):
        RNNForecaster(random_state=-1).fit(np.sin(np.arange(100) / 5.0))


def test_backtest_text_counts_and_times_read_well(tmp_path, capsys):
    path = tmp_path / "seconds.csv"
    path.write_text("t,hr\n" + "".join(f"{i * 0.02:.2f},{np.sin(i / 5)}\n" for i in range(400)))
    code, out, err = run(capsys, "backtest", path, "--column", "hr", "--horizon", "1",
                         "--step", "1", "--model", "naive", "--origins", "3")
    assert code == 0, err
    assert "3 origins 1 step apart" in out
    assert "7.94 " in out and "7.9399999" not in out  # seconds as written in the file


def test_durations_of_one_day_are_singular():
    from tsrnn._timesteps import format_seconds

    assert format_seconds(86400) == "1 day" and format_seconds(2 * 86400) == "2 days"
