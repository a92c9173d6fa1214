"""PhysioNet WFDB records: tsrnn.datasets.read_wfdb and the CLI reading a record for a CSV."""

import sys

import numpy as np
import pandas as pd
import pytest

from tsrnn.cli import main
from tsrnn.datasets import physionet, read_wfdb
from tsrnn.datasets.physionet import is_wfdb_record

wfdb = pytest.importorskip("wfdb")
# wfdb's writer (the fixture) warns about its own use of pandas
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GAINS = [200.0, 10.0, 1000.0]
N = 600


def digital_signals():
    """Three channels of ADC counts (a heart-beat-like ECG, a pressure wave, a slow breath),
    with one sample marked invalid (format 16's -32768)."""
    t = np.arange(N)
    ecg = 200 * np.sin(2 * np.pi * t / 100) ** 15
    abp = 800 + 300 * np.sin(2 * np.pi * t / 100)
    resp = 500 * np.sin(2 * np.pi * t / 400)
    counts = np.round(np.column_stack([ecg, abp, resp])).astype(np.int16)
    counts[10, 2] = -32768
    return counts


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    """A 3-channel record written with wfdb: (path without suffix, expected physical values)."""
    folder = tmp_path_factory.mktemp("wfdb")
    counts = digital_signals()
    wfdb.wrsamp("rec", fs=125, units=["mV", "mmHg", "NU"], sig_name=["ECG", "ABP", "RESP"],
                d_signal=counts, adc_gain=GAINS, baseline=[0, 0, 0], fmt=["16"] * 3,
                write_dir=str(folder))
    physical = counts / np.array(GAINS)
    physical[10, 2] = np.nan
    return folder / "rec", physical


def test_values_are_physical_units_with_a_time_index(record):
    path, physical = record
    frame = read_wfdb(path)
    assert list(frame.columns) == ["ECG", "ABP", "RESP"]
    np.testing.assert_array_equal(frame.to_numpy(), physical)
    assert isinstance(frame.index, pd.TimedeltaIndex) and frame.index.name == "time"
    assert frame.index.freq == pd.Timedelta("8ms") and frame.index[0] == pd.Timedelta(0)
    assert frame.attrs == {"sampling_rate_hz": 125.0,
                           "units": {"ECG": "mV", "ABP": "mmHg", "RESP": "NU"}}


def test_the_header_file_names_the_record_too(record):
    path, physical = record
    frame = read_wfdb(str(path) + ".hea", channels="ABP")
    np.testing.assert_array_equal(frame["ABP"].to_numpy(), physical[:, 1])


def test_channels_by_name_or_position_in_the_order_given(record):
    path, physical = record
    frame = read_wfdb(path, channels=["RESP", 0])
    assert list(frame.columns) == ["RESP", "ECG"]
    np.testing.assert_array_equal(frame.to_numpy(), physical[:, [2, 0]])
    assert frame.attrs["units"] == {"RESP": "NU", "ECG": "mV"}


def test_a_sample_range_keeps_the_times_of_the_record(record):
    path, physical = record
    frame = read_wfdb(path, channels="ECG", sampfrom=100, sampto=150)
    np.testing.assert_array_equal(frame["ECG"].to_numpy(), physical[100:150, 0])
    assert frame.index[0] == pd.Timedelta("800ms") and len(frame) == 50


@pytest.mark.parametrize("channels, match", [
    ("HR", "has no channel 'HR'; its channels are 'ECG', 'ABP', 'RESP'"),
    ([3], "channel 3 is out of range"),
    (["ABP", 1], "name a channel twice"),
    ([True], "has no channel True"),
])
def test_unknown_channels_are_named(record, channels, match):
    with pytest.raises(ValueError, match=match):
        read_wfdb(record[0], channels=channels)


@pytest.mark.parametrize("sampfrom, sampto, error, match", [
    (0, N + 1, ValueError, "need 0 <= sampfrom < sampto <= 600"),
    (50, 50, ValueError, "need 0 <= sampfrom < sampto"),
    (-1, None, ValueError, "need 0 <= sampfrom"),
    (0.5, None, TypeError, "sampfrom must be an integer"),
    (0, "10", TypeError, "sampto must be an integer"),
])
def test_sample_ranges_outside_the_record_are_refused(record, sampfrom, sampto, error, match):
    with pytest.raises(error, match=match):
        read_wfdb(record[0], sampfrom=sampfrom, sampto=sampto)


def test_a_request_beyond_the_size_limit_is_refused_before_reading(record, monkeypatch):
    monkeypatch.setattr(physionet, "MAX_RECORD_VALUES", 1000)
    with pytest.raises(ValueError, match="1,800 values, more than the limit of 1,000"):
        read_wfdb(record[0])
    assert read_wfdb(record[0], channels="ABP", sampto=500).shape == (500, 1)


def test_missing_header_and_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="no WFDB header"):
        read_wfdb(tmp_path / "nothing")
    with pytest.raises(TypeError, match="record must be a path"):
        read_wfdb(3)


def test_a_signal_file_shorter_than_its_header_is_a_value_error(record, tmp_path):
    path, _ = record
    for suffix in (".hea", ".dat"):
        data = path.with_name(path.name + suffix).read_bytes()
        (tmp_path / ("rec" + suffix)).write_bytes(data[:100] if suffix == ".dat" else data)
    with pytest.raises(ValueError, match="cannot read the WFDB record"):
        read_wfdb(tmp_path / "rec")


def test_an_unreadable_header_is_a_value_error(tmp_path):
    (tmp_path / "bad.hea").write_text("this is not a header\n")
    with pytest.raises(ValueError, match="cannot read the WFDB header"):
        read_wfdb(tmp_path / "bad")


def test_without_wfdb_the_error_says_what_to_install(record, monkeypatch):
    monkeypatch.setitem(sys.modules, "wfdb", None)
    with pytest.raises(ImportError, match=r"pip install 'tsrnn\[wfdb\]'"):
        read_wfdb(record[0])


def test_is_wfdb_record(record, tmp_path):
    path, _ = record
    assert is_wfdb_record(path) and is_wfdb_record(str(path) + ".hea")
    assert is_wfdb_record(str(path) + ".dat")
    (tmp_path / "data.csv").write_text("t,y\n0,1\n")
    assert not is_wfdb_record(tmp_path / "data.csv")
    assert not is_wfdb_record(tmp_path / "nothing")


def test_cli_forecasts_a_channel_of_a_record(record, capsys):
    path, physical = record
    code = main(["forecast", str(path), "--column", "ABP", "--horizon", "3", "--model",
                 "naive"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "time,ABP" and len(lines) == 4
    assert float(lines[1].split(",")[1]) == physical[-1, 1]
    assert lines[1].startswith("0 days 00:00:04.8")


def test_cli_names_an_unknown_channel_and_refuses_csv_options(record, capsys):
    path, _ = record
    assert main(["forecast", str(path), "--column", "HR", "--horizon", "3"]) == 1
    assert "has no channel 'HR'" in capsys.readouterr().err
    assert main(["forecast", str(path), "--column", "ABP", "--horizon", "3",
                 "--freq", "h"]) != 0
    assert "--time-column and --freq are for CSV files" in capsys.readouterr().err


def test_cli_compare_on_a_record(record, capsys):
    path, _ = record
    code = main(["compare", "--csv", str(path) + ".hea", "--column", "ECG", "--models",
                 "naive", "--horizons", "5", "--origins", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "naive" in out
