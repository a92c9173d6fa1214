"""Dataset loaders (shape, units, index frequency, gaps kept) and the CSV reader."""
import numpy as np
import pandas as pd
import pytest

from tsrnn.datasets import load_co2, load_ecg, read_csv_series
from tsrnn.forecasters.naive import NaiveForecaster


def test_ecg_shape_name_and_dtype():
    ecg = load_ecg()
    assert ecg.shape == (108000,)
    assert ecg.name == "ecg_mv" and ecg.dtype == np.float64
    assert ecg.attrs["sampling_rate_hz"] == 360


def test_ecg_is_in_millivolts():
    ecg = load_ecg()
    # (adc - 1024) / 200 on an 11-bit ADC: every value is on a 5 microvolt grid within range.
    assert np.allclose(ecg * 200, np.round(ecg * 200))
    assert ecg.min() >= -1024 / 200 and ecg.max() <= 1023 / 200
    assert -1.0 < ecg.median() < 1.0 and 0.2 < ecg.std() < 2.0


def test_ecg_index_is_elapsed_time_at_360_hz():
    ecg = load_ecg()
    assert isinstance(ecg.index, pd.TimedeltaIndex)
    assert ecg.index.freq is not None
    assert abs(ecg.index.freq.nanos - 1e9 / 360) < 1
    assert abs(ecg.index[-1].total_seconds() - 107999 / 360) < 1e-4


def test_ecg_forecast_continues_its_index():
    ecg = load_ecg().iloc[:720]
    forecast = NaiveForecaster().fit(ecg).predict(2)
    assert forecast.index[0] == ecg.index[-1] + ecg.index.freq


def test_co2_weekly_index_with_gaps_kept_as_nan():
    co2 = load_co2()
    assert co2.shape == (2284,) and co2.name == "co2"
    assert co2.index.freqstr == "W-SAT"
    assert co2.isna().sum() == 59
    assert 300 < co2.min() and co2.max() < 400  # ppm


# ---------------------------------------------------------------------------------------------
# read_csv_series
# ---------------------------------------------------------------------------------------------
def write(tmp_path, frame, name="data.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_read_csv_series_uses_the_named_time_column(tmp_path):
    path = write(tmp_path, pd.DataFrame({
        "id": [9, 3, 7, 1], "day": pd.date_range("2024-01-01", periods=4, freq="D"),
        "v": [1.0, 2.0, 3.0, 4.0]}))
    data = read_csv_series(path, "v", time_column="day")
    assert data.time_kind == "datetime" and data.time_name == "day"
    assert data.series.index.freq is not None and data.series.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_read_csv_series_sorts_rows_and_inserts_missing_steps_as_nan(tmp_path):
    days = pd.to_datetime(["2024-01-03", "2024-01-01", "2024-01-02", "2024-01-05"])
    path = write(tmp_path, pd.DataFrame({"day": days, "v": [3.0, 1.0, 2.0, 5.0]}))
    data = read_csv_series(path, "v")
    assert data.series.index.equals(pd.date_range("2024-01-01", periods=5, freq="D"))
    assert np.allclose(data.series.to_numpy(), [1.0, 2.0, 3.0, np.nan, 5.0], equal_nan=True)
    assert data.notes == ["rows sorted by time", "1 missing time step(s) inserted as gaps"]


def test_read_csv_series_reads_fractional_numbers_as_seconds_and_writes_them_back(tmp_path):
    path = write(tmp_path, pd.DataFrame({"t": [0.0, 0.5, 1.0, 1.5], "v": [1.0, 2.0, 3.0, 4.0]}))
    data = read_csv_series(path, "v")
    assert data.time_kind == "seconds"
    assert data.series.index.freq == pd.Timedelta(milliseconds=500)
    assert data.output_times(data.series.index).tolist() == [0.0, 0.5, 1.0, 1.5]


def test_read_csv_series_reads_whole_numbers_as_step_counts(tmp_path):
    path = write(tmp_path, pd.DataFrame({"step": [10, 11, 12, 14], "v": [1.0, 2.0, 3.0, 5.0]}))
    data = read_csv_series(path, "v")
    assert data.time_kind == "int"
    assert data.series.index.tolist() == [10, 11, 12, 13, 14]
    assert np.isnan(data.series.loc[13])


@pytest.mark.parametrize("text, column, error, match", [
    ("t,v\n0.0,1\n1.0,2\n1.5,3\n3.7,4\n4.1,5\n", "v", ValueError, "not evenly spaced"),
    ("t,v\n1,1\n1,2\n2,3\n", "v", ValueError, "repeats some times"),
    ("t,v\n1,1\n2,oops\n", "v", ValueError, "non-numeric values, e.g. 'oops' in row 2"),
    ("t,v\n1,1\n2,2\n", "w", ValueError, "column 'w' not found in .*'t', 'v'"),
    ("t,v\n1,1\n2,2\n", "t", ValueError, "first column"),
    ("t,v\n", "v", ValueError, "no data rows"),
])
def test_read_csv_series_rejects_what_it_cannot_forecast(tmp_path, text, column, error, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(error, match=match):
        read_csv_series(path, column)


def test_read_csv_series_says_when_the_path_is_not_a_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="file not found"):
        read_csv_series(tmp_path / "nope.csv", "v")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        read_csv_series(tmp_path, "v")


def test_record_100_is_another_patient_in_millivolts():
    from tsrnn.datasets import load_ecg

    ecg = load_ecg(record=100)
    assert ecg.shape == (108000,) and ecg.index.freq is not None
    assert ecg.iloc[:3].tolist() == [(995 - 1024) / 200] * 3  # the header's gain and baseline
    assert not np.allclose(ecg.to_numpy(), load_ecg().to_numpy())
    with pytest.raises(ValueError, match="208 or 100"):
        load_ecg(record=101)


def test_icu_record_has_three_channels_in_physical_units():
    from tsrnn.datasets import load_icu

    icu = load_icu()
    assert icu.shape == (75000, 3) and list(icu.columns) == ["MCL1", "ABP", "RESP"]
    assert icu.index.freq == pd.Timedelta("8ms") and icu.attrs["sampling_rate_hz"] == 125
    assert icu.attrs["units"] == {"MCL1": "mV", "ABP": "mmHg", "RESP": ""}
    assert icu["ABP"].iloc[0] == pytest.approx((-943 + 1605) / 12.84)
    assert 10 < icu["ABP"].min() and icu["ABP"].max() < 200  # a pressure in mmHg
    assert int(icu.isna().sum().sum()) == 4 and icu["RESP"].isna().sum() == 4
