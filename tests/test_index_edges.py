"""Index edge cases: labels at the end of their dtype's range, and calendar offsets that must
survive save and load with all their parameters (holidays, opening hours)."""
import io
import json
import re
import zipfile

import numpy as np
import pandas as pd
import pytest

from tsrnn import RNNForecaster
from tsrnn._model_schema import label
from tsrnn.forecasters import NaiveForecaster
from tsrnn.io import ModelFileError, label_from_json, label_to_json

INT64_MAX = np.iinfo(np.int64).max


def series(index):
    return pd.Series(np.arange(1.0, len(index) + 1), index=index)


# ------------------------------------------------------------------ integer labels
def test_integer_index_near_int64_max_is_refused_not_wrapped():
    y = series(INT64_MAX - np.array([4, 2, 0]))
    model = NaiveForecaster().fit(y)
    with pytest.raises(ValueError, match="horizon=5 would overflow the int64 index"):
        model.predict(5)


def test_integer_index_that_just_fits_ends_at_int64_max():
    y = series(INT64_MAX - 10 - np.array([4, 2, 0]))
    index = NaiveForecaster().fit(y).predict(5).index
    assert index[-1] == INT64_MAX and index.dtype == np.int64 and index.is_monotonic_increasing


def test_range_index_near_int64_max_is_refused():
    y = series(pd.RangeIndex(INT64_MAX - 6, INT64_MAX, 2))
    with pytest.raises(ValueError, match="overflow the int64 index"):
        NaiveForecaster().fit(y).predict(5)


def test_uint64_index_keeps_its_dtype_and_exact_labels():
    top = np.iinfo(np.uint64).max
    y = series(pd.Index(top - np.array([14, 12, 10], dtype=np.uint64)))
    model = NaiveForecaster().fit(y)
    index = model.predict(5).index
    assert index.dtype == np.uint64 and int(index[-1]) == top  # no float64 rounding
    with pytest.raises(ValueError, match="overflow the uint64 index"):
        model.predict(6)


def test_update_without_labels_near_int64_max_is_refused():
    model = NaiveForecaster().fit(series(INT64_MAX - np.array([2, 1, 0]) - 3))
    with pytest.raises(ValueError, match="an update of 5 row"):
        model.update(np.ones(5))
    assert model.predict(3).index[-1] == INT64_MAX  # the refused update left the model as it was


# ------------------------------------------------------------------ times
def test_datetime_index_near_timestamp_max_names_last_label_and_horizon():
    last = pd.Timestamp.max.floor("D")
    y = series(pd.DatetimeIndex([last - pd.Timedelta(days=2), last - pd.Timedelta(days=1), last]))
    with pytest.raises(ValueError, match=re.escape(f"horizon=5 would overflow the "
                                                   f"datetime64[ns] index")) as info:
        NaiveForecaster().fit(y).predict(5)
    assert str(last) in str(info.value)


def test_datetime_index_near_timestamp_max_with_a_calendar_offset():
    last = pd.Timestamp("2262-04-09")  # a Wednesday, two business days before the end
    y = series(pd.bdate_range(end=last, periods=5).as_unit("ns"))
    model = NaiveForecaster().fit(y)
    assert model.predict(2).index[-1] == pd.Timestamp("2262-04-11")
    with pytest.raises(ValueError, match="horizon=3 would overflow"):
        model.predict(3)


def test_timedelta_index_near_its_max_is_refused():
    last = pd.Timedelta.max.floor("D")
    y = series(pd.TimedeltaIndex([last - pd.Timedelta(days=2), last - pd.Timedelta(days=1),
                                  last]))
    with pytest.raises(ValueError, match=r"horizon=5 would overflow the timedelta64\[ns\]"):
        NaiveForecaster().fit(y).predict(5)


LAST_OF_TIME = pd.Timestamp.max  # 2262-04-11 23:47:16.854775807, a Friday


@pytest.mark.parametrize("freq, last", [
    ("h", LAST_OF_TIME.floor("h")), ("s", LAST_OF_TIME.floor("s")), ("ns", LAST_OF_TIME),
    ("D", "2262-04-10"), ("B", "2262-04-09"), ("ME", "2262-03-31"), ("W-SUN", "2262-04-06"),
])
@pytest.mark.parametrize("horizon", [1, 2, 3, 10, 1000])
def test_forecast_indexes_at_the_end_of_time_are_built_or_refused(freq, last, horizon):
    step, last = pd.tseries.frequencies.to_offset(freq), pd.Timestamp(last).as_unit("ns")
    y = series(pd.DatetimeIndex([last - 2 * step, last - step, last]).as_unit("ns"))
    model = NaiveForecaster().fit(y)
    try:
        index = model.predict(horizon).index
    except ValueError as error:  # nothing else: no AssertionError or OutOfBoundsDatetime
        assert "would overflow" in str(error)
    else:
        assert len(index) == horizon and index[0] > last


# ------------------------------------------------------------------ offsets in JSON
OFFSETS = [
    pd.offsets.CustomBusinessDay(holidays=["2024-01-15", "2024-02-19"]),
    pd.offsets.CustomBusinessDay(2, weekmask="Sun Mon Tue Wed Thu", offset=pd.Timedelta("1h")),
    pd.offsets.BusinessHour(start="09:30", end="16:00"),
    pd.offsets.BusinessHour(start=["09:00", "13:00"], end=["12:00", "17:00"]),
    pd.offsets.CustomBusinessHour(start="10:00", end="15:00", weekmask="Mon Wed",
                                  holidays=["2024-01-03"]),
    pd.offsets.CustomBusinessMonthEnd(holidays=["2024-01-31"]),
    pd.offsets.CustomBusinessMonthBegin(normalize=True, holidays=["2024-01-01"]),
]


@pytest.mark.parametrize("offset", OFFSETS, ids=lambda o: repr(o))
def test_business_offsets_survive_json_with_their_parameters(offset):
    record = json.loads(json.dumps(label_to_json(offset)))
    restored = label_from_json(record)
    assert restored == offset and type(restored) is type(offset)
    assert label()(record, "header.layouts[0].step") == offset  # the model files' schema


def test_offsets_from_a_holiday_calendar_are_saved_as_their_holidays():
    from pandas.tseries.holiday import USFederalHolidayCalendar

    offset = pd.offsets.CustomBusinessDay(calendar=USFederalHolidayCalendar())
    assert label_from_json(json.loads(json.dumps(label_to_json(offset)))) == offset


@pytest.mark.parametrize("offset", ["D", "3B", "W-SAT", "15min", "ME", "C", "bh"])
def test_offsets_their_alias_restores_are_saved_as_the_alias(offset):
    offset = pd.tseries.frequencies.to_offset(offset)
    assert label_to_json(offset) == {"offset": offset.freqstr}
    assert label_from_json({"offset": offset.freqstr}) == offset


def test_an_offset_that_cannot_be_restored_is_refused_when_saving():
    with pytest.raises(ValueError, match="cannot save the offset"):
        label_to_json(pd.DateOffset(months=1))


@pytest.mark.parametrize("key, value, match", [
    ("class", "DateOffset", "unknown offset class"),
    ("holidays", [1], "list of strings"),
    ("holidays", ["not a date"], "datetime"),
    ("n", True, "'n' must be int"),
    ("weekmask", "Someday", "weekmask"),
    ("extra", 1, "has keys"),
])
def test_malformed_offset_records_are_not_valid_labels(key, value, match):
    record = label_to_json(OFFSETS[4])
    record[key] = value
    with pytest.raises(ValueError, match=match):
        label()(record, "header.layouts[0].step")


# ------------------------------------------------------------------ save and load
def tiny_rnn():
    return RNNForecaster(hidden_size=4, max_epochs=1, n_models=1, random_state=0)


@pytest.mark.parametrize("freq, start, excluded", [
    (pd.offsets.CustomBusinessDay(holidays=["2024-01-15", "2024-02-19"]), "2024-01-02",
     pd.Timestamp("2024-02-19")),
    (pd.offsets.BusinessHour(start="09:30", end="16:00"), "2024-01-02 09:30",
     pd.Timestamp("2024-01-08 09:00")),
    (pd.offsets.CustomBusinessHour(start="10:00", end="15:00", holidays=["2024-01-10"]),
     "2024-01-02 10:00", pd.Timestamp("2024-01-10 10:00")),
], ids=["CustomBusinessDay", "BusinessHour", "CustomBusinessHour"])
def test_saved_model_keeps_business_calendar_of_its_index(tmp_path, freq, start, excluded):
    index = pd.date_range(start, periods=30, freq=freq)
    y = pd.Series(np.sin(np.arange(30) / 3.0), index=index)
    model = tiny_rnn().fit(y)
    before = model.predict(5).index
    path = tmp_path / "model.tsrnn"
    model.save(path)
    loaded = RNNForecaster.load(path)
    after = loaded.predict(5).index
    assert after.equals(before) and after.freq == freq
    assert excluded not in after  # a holiday or a closed hour, which freqstr alone loses
    assert loaded.layouts_[0].step == freq


def test_a_tampered_offset_in_a_model_file_is_a_model_file_error(tmp_path):
    index = pd.date_range("2024-01-02", periods=30,
                          freq=pd.offsets.CustomBusinessDay(holidays=["2024-01-15"]))
    path = tmp_path / "model.tsrnn"
    tiny_rnn().fit(pd.Series(np.sin(np.arange(30.0)), index=index)).save(path)
    with zipfile.ZipFile(path) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    header = json.loads(str(np.lib.format.read_array(io.BytesIO(contents["__header__.npy"]))[()]))
    assert header["base"]["layouts"][0]["step"]["holidays"] == ["2024-01-15"]
    header["base"]["layouts"][0]["step"]["holidays"] = ["not a date"]
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array(json.dumps(header)), allow_pickle=False)
    contents["__header__.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match="step is not a valid label"):
        RNNForecaster.load(path)
