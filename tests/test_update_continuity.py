"""update checks that indexed values continue the stored index: a gap is filled (with
missing="interpolate") or refused, another frequency is refused (issue: time gaps ignored)."""
import numpy as np
import pandas as pd
import pytest

from tsrnn import ARIMAForecaster, NaiveForecaster, RNNForecaster

INDEX = pd.date_range("2024-01-01", periods=120, freq="h")
Y = pd.Series(np.sin(np.arange(120) / 5.0), index=INDEX)
LAST = INDEX[-1]


def hourly(start_hours, values):
    return pd.Series(values, index=pd.date_range(LAST + pd.Timedelta(hours=start_hours),
                                                 periods=len(values), freq="h"))


def test_consecutive_values_are_accepted():
    f = NaiveForecaster().fit(Y)
    f.update(hourly(1, [1.0, 2.0]))
    assert f.layouts_[0].last == LAST + pd.Timedelta(hours=2)
    assert f.predict(1).index[0] == LAST + pd.Timedelta(hours=3)


def test_a_gap_is_refused_with_missing_raise_and_the_state_kept():
    f = NaiveForecaster().fit(Y)
    with pytest.raises(ValueError, match="skips 10 step"):
        f.update(hourly(11, [1.0, 2.0]))
    assert f.layouts_[0].last == LAST and f.predict(1).iloc[0] == Y.iloc[-1]


def test_a_gap_is_filled_with_missing_interpolate():
    f = NaiveForecaster(missing="interpolate").fit(Y)
    f.update(hourly(11, [1.0, 2.0]))
    layout = f.layouts_[0]
    assert layout.last == LAST + pd.Timedelta(hours=12)
    assert layout.n_seen == len(Y) + 12
    assert f.predict(1).iloc[0] == 2.0


def test_gaps_inside_the_new_values_are_filled_too():
    f = ARIMAForecaster(order=(1, 0, 0), missing="interpolate").fit(Y)
    index = LAST + pd.to_timedelta([1, 2, 5, 6], unit="h")
    f.update(pd.Series([0.1, 0.2, 0.5, 0.6], index=index))
    assert f.layouts_[0].n_seen == len(Y) + 6


@pytest.mark.parametrize("missing", ["raise", "interpolate"])
def test_another_frequency_is_refused(missing):
    f = NaiveForecaster(missing=missing).fit(Y)
    daily = pd.Series([1.0, 2.0, 3.0],
                      index=pd.date_range(LAST + pd.Timedelta(days=1), periods=3, freq="D"))
    with pytest.raises(ValueError, match="not on the model's time grid"):
        f.update(daily)
    with pytest.raises(ValueError, match="not on the model's time grid"):
        f.update(pd.Series([1.0], index=[LAST + pd.Timedelta(minutes=30)]))


def test_values_before_the_end_are_still_refused():
    f = NaiveForecaster().fit(Y)
    with pytest.raises(ValueError, match="must continue after"):
        f.update(hourly(0, [1.0]))


def test_rnn_update_fills_a_gap_and_integer_indexes_are_checked():
    f = RNNForecaster(hidden_size=4, max_epochs=1, n_models=1, random_state=0,
                      missing="interpolate").fit(Y)
    f.update(hourly(3, [0.5]))
    assert f.layouts_[0].n_seen == len(Y) + 3
    stepped = NaiveForecaster().fit(pd.Series(np.arange(10.0), index=np.arange(0, 20, 2)))
    with pytest.raises(ValueError, match="skips 1 step"):
        stepped.update(pd.Series([1.0], index=[22]))
    with pytest.raises(ValueError, match="not on the model's time grid"):
        stepped.update(pd.Series([1.0], index=[19]))
    stepped.update(pd.Series([1.0], index=[20]))


def test_a_gap_beyond_the_limit_is_refused_without_allocating():
    f = NaiveForecaster(missing="interpolate").fit(Y)
    far = pd.Series([1.0], index=[LAST + pd.Timedelta(hours=10**6)])
    with pytest.raises(ValueError, match="cannot be filled"):
        f.update(far)
