"""Calendars: trading-day CSV files read as business days, a forced grid (``freq=``), the
irregular-index message that suggests 'B', and metrics that match pandas objects by label."""
import numpy as np
import pandas as pd
import pytest

from tsrnn._timesteps import is_business_daily
from tsrnn.datasets import read_csv_series
from tsrnn.forecasters import NaiveForecaster
from tsrnn.metrics import coverage, crps, interval_width, mae, mase, pinball_loss, rmse, smape

HOLIDAYS = pd.DatetimeIndex(["2024-01-15", "2024-02-19"])  # two Mondays


def trading_days(periods=40, holidays=HOLIDAYS):
    days = pd.bdate_range("2024-01-02", periods=periods)
    return days[~days.isin(holidays)]


def write_csv(tmp_path, times, values=None, name="prices.csv"):
    values = np.arange(1.0, len(times) + 1) if values is None else values
    path = tmp_path / name
    pd.DataFrame({"date": [str(t) for t in times], "close": values}).to_csv(path, index=False)
    return path


# ------------------------------------------------------------------ business days
def test_trading_days_with_holidays_are_read_as_business_days(tmp_path):
    days = trading_days()
    data = read_csv_series(write_csv(tmp_path, days.strftime("%Y-%m-%d")), "close")
    index = data.series.index
    assert index.freqstr == "B"
    assert not (index.day_of_week >= 5).any()  # no weekend rows
    assert index.equals(pd.bdate_range(days[0], days[-1]).rename("date"))
    assert data.series[HOLIDAYS].isna().all() and data.series.isna().sum() == len(HOLIDAYS)
    assert data.notes == ["weekdays only: read as business days (freq 'B'), so weekends are "
                          "not gaps", "2 missing time step(s) inserted as gaps"]


def test_trading_day_forecasts_skip_weekends(tmp_path):
    data = read_csv_series(write_csv(tmp_path, trading_days().strftime("%Y-%m-%d")), "close")
    forecast = NaiveForecaster(missing="interpolate").fit(data.series).predict(10)
    assert not (forecast.index.day_of_week >= 5).any()


def test_trading_days_without_holidays_stay_business_days(tmp_path):
    days = pd.bdate_range("2024-01-02", periods=20)
    data = read_csv_series(write_csv(tmp_path, days.strftime("%Y-%m-%d")), "close")
    assert data.series.index.freqstr == "B" and len(data.series) == 20 and data.notes == []


def test_trading_days_at_a_closing_time_keep_it(tmp_path):
    days = trading_days() + pd.Timedelta(hours=16)
    data = read_csv_series(write_csv(tmp_path, days), "close")
    assert data.series.index.freqstr == "B" and (data.series.index.hour == 16).all()


def test_weekly_data_with_a_missing_week_is_not_business_days(tmp_path):
    weeks = pd.date_range("2024-01-01", periods=12, freq="W-MON").delete(5)
    data = read_csv_series(write_csv(tmp_path, weeks.strftime("%Y-%m-%d")), "close")
    assert data.series.index.freq == pd.Timedelta(days=7) and len(data.series) == 12


def test_calendar_days_with_missing_days_are_not_business_days(tmp_path):
    days = pd.date_range("2024-01-01", periods=20).delete([3, 9])
    data = read_csv_series(write_csv(tmp_path, days.strftime("%Y-%m-%d")), "close")
    assert data.series.index.freq == pd.Timedelta(days=1) and len(data.series) == 20


@pytest.mark.parametrize("index, expected", [
    (trading_days(), True),
    (trading_days(holidays=[]), True),
    (trading_days() + pd.Timedelta(hours=9), True),
    (trading_days().tz_localize("America/New_York"), True),
    (pd.bdate_range("2024-01-01", periods=4), False),  # Monday to Thursday: no weekend
    (pd.date_range("2024-01-01", periods=20), False),  # weekends present
    (pd.date_range("2024-01-01", periods=10, freq="W-MON"), False),  # weekdays, a week apart
    (pd.DatetimeIndex(["2024-01-05 10:00", "2024-01-08 11:00", "2024-01-09 10:00"]), False),
    (pd.Index([1, 2, 3]), False),
])
def test_is_business_daily(index, expected):
    assert is_business_daily(index) is expected


# ------------------------------------------------------------------ freq=
def test_freq_forces_business_days(tmp_path):
    days = trading_days()
    data = read_csv_series(write_csv(tmp_path, days.strftime("%Y-%m-%d")), "close", freq="B")
    assert data.series.index.freqstr == "B" and data.series.isna().sum() == 2


@pytest.mark.parametrize("freq, rows, inserted", [("h", 5, 2), ("15min", 17, 14)])
def test_freq_places_rows_on_a_finer_grid(tmp_path, freq, rows, inserted):
    times = pd.DatetimeIndex(["2024-05-01 10:00", "2024-05-01 11:00", "2024-05-01 14:00"])
    data = read_csv_series(write_csv(tmp_path, times), "close", freq=freq)
    assert len(data.series) == rows and data.series.index.freqstr == freq
    assert data.series.loc[times].tolist() == [1.0, 2.0, 3.0]
    assert data.notes == [f"{inserted} missing time step(s) inserted as gaps"]


def test_freq_for_durations_and_step_numbers(tmp_path):
    seconds = tmp_path / "s.csv"
    seconds.write_text("t,close\n0.0,1\n0.5,2\n1.5,3\n")
    data = read_csv_series(seconds, "close", freq="500ms")
    assert data.series.tolist()[:2] == [1.0, 2.0] and len(data.series) == 4
    steps = tmp_path / "n.csv"
    steps.write_text("t,close\n0,1\n2,2\n6,3\n")
    assert read_csv_series(steps, "close", freq=2).series.index.tolist() == [0, 2, 4, 6]
    assert read_csv_series(steps, "close", freq="2").series.index.tolist() == [0, 2, 4, 6]


@pytest.mark.parametrize("times, freq, match", [
    (["2024-05-01 10:00", "2024-05-01 10:30", "2024-05-01 11:00"], "h",
     "the time 2024-05-01 10:30:00 in 'date' falls between the steps of freq='h'"),
    (["2024-01-02", "2024-01-03", "2024-01-04"], "W-SUN",
     "the first time 2024-01-02 00:00:00 in 'date' is not a step of freq='W-SUN'"),
    (["2024-01-02", "2024-01-03", "2024-01-04"], "fortnightly", "is not a frequency"),
    (["2024-01-02", "2024-01-03", "2024-01-04"], "-1D", "must step forward"),
    (["2024-01-02", "2024-01-03", "2024-01-04"], 3, "only integer times take"),
    (["2024-01-02", "2024-01-03", "2024-01-04"], "ns", "MAX_INSERTED_ROWS"),
])
def test_freq_errors_name_the_problem(tmp_path, times, freq, match):
    with pytest.raises(ValueError, match=match):
        read_csv_series(write_csv(tmp_path, times), "close", freq=freq)


def test_freq_that_durations_cannot_have(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("t,close\n0.0,1\n0.5,2\n1.5,3\n")
    with pytest.raises(ValueError, match="durations, which have no calendar"):
        read_csv_series(path, "close", freq="B")


def test_a_bad_freq_is_refused_before_the_file_is_read(tmp_path):
    with pytest.raises(ValueError, match="is not a frequency"):
        read_csv_series(tmp_path / "does-not-exist.csv", "close", freq="bogus")


# ------------------------------------------------------------------ irregular index message
def test_irregular_weekday_index_suggests_business_days():
    y = pd.Series(np.arange(38.0), index=trading_days())
    with pytest.raises(ValueError, match=r"weekdays with weekend gaps.*freq 'B'.*asfreq\('B'\)"):
        NaiveForecaster().fit(y)
    fitted = NaiveForecaster(missing="interpolate").fit(y.asfreq("B"))  # the suggested fix
    assert fitted.predict(3).index.freqstr == "B"


def test_other_irregular_index_suggests_an_example_frequency():
    index = pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-05", "2024-01-06"])
    with pytest.raises(ValueError, match=r"asfreq\('h'\)") as info:
        NaiveForecaster().fit(pd.Series([1.0, 2.0, 3.0, 4.0], index=index))
    assert "'B'" not in str(info.value)


# ------------------------------------------------------------------ metrics by index label
def reordered():
    index = pd.date_range("2024-01-01", periods=4)
    truth = pd.Series([1.0, 2.0, 3.0, 5.0], index=index)
    forecast = pd.Series([1.5, 2.0, 2.0, 5.0], index=index)
    return truth, forecast.iloc[::-1]


@pytest.mark.parametrize("metric", [mae, rmse, smape])
def test_point_metrics_align_pandas_objects_by_index(metric):
    truth, forecast = reordered()
    assert metric(truth, forecast) == metric(truth.to_numpy(), forecast.sort_index().to_numpy())


def test_mase_and_interval_metrics_align_by_index():
    truth, forecast = reordered()
    expected = mase(truth.to_numpy(), forecast.sort_index().to_numpy(), y_train=[1.0, 3.0, 2.0])
    assert mase(truth, forecast, y_train=[1.0, 3.0, 2.0]) == expected
    assert coverage(truth, forecast - 0.25, forecast + 0.25) == 0.5  # by position: 0.25
    assert interval_width(forecast - 1.0, (forecast + 1.0).sort_index()) == 2.0
    assert pinball_loss(truth, forecast, q=0.5) == pytest.approx(0.5 * mae(truth, forecast))
    samples = pd.DataFrame({"s0": forecast, "s1": forecast})
    assert crps(truth, samples) == pytest.approx(mae(truth, forecast))


def test_data_frames_align_by_index():
    truth, forecast = reordered()
    assert mae(truth.to_frame("a"), forecast.to_frame("a")) == mae(truth, forecast)


@pytest.mark.parametrize("metric", [mae, rmse, smape])
def test_different_indexes_are_an_error_naming_a_label(metric):
    truth, forecast = reordered()
    later = forecast.shift(1, freq="D")  # one day late: 2024-01-05 is not in the truth
    with pytest.raises(ValueError, match=r"Timestamp\('2024-01-01 00:00:00'\) is in y_true's "
                                         r"index but not in y_pred's"):
        metric(truth, later)
    extra = pd.concat([forecast, pd.Series([0.0], index=[pd.Timestamp("2024-02-01")])])
    with pytest.raises(ValueError, match=r"Timestamp\('2024-02-01 00:00:00'\) is in y_pred's"):
        metric(truth, extra)


def test_coverage_with_other_labels_is_an_error():
    truth, forecast = reordered()
    with pytest.raises(ValueError, match="y_true and upper have different indexes"):
        coverage(truth, forecast - 1.0, forecast.reset_index(drop=True) + 1.0)


def test_repeated_labels_cannot_be_aligned():
    truth = pd.Series([1.0, 2.0, 3.0], index=[0, 1, 1])
    with pytest.raises(ValueError, match="repeats some"):
        mae(truth, pd.Series([1.0, 2.0, 3.0], index=[1, 1, 0]))


def test_arrays_and_equal_indexes_still_compare_by_position():
    truth, forecast = reordered()
    assert mae(truth, forecast.to_numpy()) == mae(truth.to_numpy(), forecast.to_numpy())
    assert mae(truth, truth + 1.0) == 1.0
