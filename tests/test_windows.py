"""Tests of tsrnn.datasets.make_windows: windows of a long signal and their targets."""
import numpy as np
import pandas as pd
import pytest

from tsrnn.datasets import make_windows


def test_windows_of_a_1d_signal_are_its_consecutive_slices():
    y = np.arange(10.0)
    X = make_windows(y, length=4, step=3)
    assert X.shape == (3, 4, 1)
    np.testing.assert_array_equal(X[:, :, 0], [y[0:4], y[3:7], y[6:10]])
    assert X.flags.c_contiguous and X.dtype == np.float64


def test_windows_of_a_2d_signal_keep_the_columns_as_features():
    y = np.arange(24.0).reshape(12, 2)
    X = make_windows(y, length=5, step=2)
    assert X.shape == (4, 5, 2)
    np.testing.assert_array_equal(X[2], y[4:9])


def test_horizon_target_is_the_value_that_many_steps_after_the_window_end():
    y = np.arange(20.0)
    X, target = make_windows(y, length=5, step=4, horizon=3)
    assert target.tolist() == [X[i, -1, 0] + 3 for i in range(len(X))]
    # the last window still has its target inside the signal
    assert target[-1] <= y[-1] and target[-1] + 4 > y[-1]


def test_horizon_targets_of_a_dataframe_can_be_chosen_by_column_name():
    frame = pd.DataFrame({"a": np.arange(10.0), "b": 100 + np.arange(10.0)})
    X, target = make_windows(frame, length=3, horizon=2, target_columns="b")
    assert X.shape == (6, 3, 2) and target.shape == (6,)
    np.testing.assert_array_equal(target, frame["b"].to_numpy()[4:])
    _, both = make_windows(frame, length=3, horizon=2)
    assert both.shape == (6, 2)
    _, listed = make_windows(frame.to_numpy(), length=3, horizon=2, target_columns=[1])
    assert listed.shape == (6, 1)


def test_return_index_gives_the_index_label_of_each_window_end():
    index = pd.date_range("2024-01-01", periods=8, freq="D")
    series = pd.Series(np.arange(8.0), index=index)
    X, target, ends = make_windows(series, length=3, step=2, horizon=1, return_index=True)
    assert list(ends) == list(index[[2, 4, 6]])
    _, positions = make_windows(series.to_numpy(), length=3, step=2, return_index=True)
    assert positions.tolist() == [2, 4, 6]


def test_events_label_the_windows_that_contain_them():
    X, labels = make_windows(np.zeros(12), length=3, step=3, events=[4, 10, 11])
    assert labels.tolist() == [0, 1, 0, 1]


def test_events_with_horizon_label_the_windows_they_follow():
    # windows [0..2], [3..5], [6..8]; look-ahead spans 3..4, 6..7, 9..10
    _, labels = make_windows(np.zeros(11), length=3, step=3, horizon=2, events=[7])
    assert labels.tolist() == [0, 1, 0]


def test_event_labels_take_the_first_event_in_the_span_and_fill_label_elsewhere():
    _, labels = make_windows(np.zeros(9), length=3, step=3, events=[5, 4, 8],
                             event_labels=["V", "A", "N"], fill_label="-")
    assert labels.tolist() == ["-", "A", "N"]


def test_events_as_timestamps_of_a_series_map_to_the_next_sample():
    index = pd.timedelta_range(0, periods=10, freq="1s")
    series = pd.Series(np.zeros(10), index=index)
    events = [pd.Timedelta(seconds=4.5), pd.Timedelta(seconds=-3), pd.Timedelta(seconds=30)]
    _, labels = make_windows(series, length=5, step=5, events=events)
    # 4.5 s lies in the second window (its sample at 5 s); the others are outside the signal
    assert labels.tolist() == [0, 1]


def test_dropna_leaves_out_windows_with_missing_values():
    y = np.arange(10.0)
    y[4] = np.nan
    X, target, ends = make_windows(y, length=2, step=2, horizon=1, dropna=True,
                                   return_index=True)
    assert not np.isnan(X).any() and not np.isnan(target).any()
    assert ends.tolist() == [1, 7]  # window 4..5 holds y[4], window 2..3 has it as target


@pytest.mark.parametrize("kwargs, error, match", [
    ({"length": 11}, ValueError, "needs length 11 = 11 values, but y has only 10"),
    ({"length": 8, "horizon": 3}, ValueError, "plus horizon 3"),
    ({"length": 0}, ValueError, "length must be an integer >= 1"),
    ({"length": 2.0}, TypeError, "length must be an integer"),
    ({"length": 2, "step": 0}, ValueError, "step must be"),
    ({"length": 2, "target_columns": 0}, ValueError, "needs horizon"),
    ({"length": 2, "horizon": 1, "target_columns": 3}, ValueError, r"\[0, 1\)"),
    ({"length": 2, "event_labels": [1]}, ValueError, "pass events"),
    ({"length": 2, "fill_label": "N"}, ValueError, "pass events"),
    ({"length": 2, "events": [1], "fill_label": [0, 1]}, ValueError, "one label"),
    ({"length": 2, "events": [10]}, ValueError, r"positions in \[0, 10\)"),
    ({"length": 2, "events": [1.5]}, TypeError, "integer positions"),
    ({"length": 2, "events": [1, 2], "event_labels": [1]}, ValueError, "one label per event"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_windows(np.arange(10.0), **kwargs)


@pytest.mark.parametrize("y, match", [
    (np.zeros((2, 2, 2)), "1-D"), (np.zeros(0), "empty"), (["a", "b"], "numbers")])
def test_bad_signals_are_named(y, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_windows(y, length=1)


def test_windows_feed_a_sequence_regressor():
    from tsrnn.sequence import RNNRegressor

    t = np.arange(400)
    y = np.sin(2 * np.pi * t / 25)
    X, target = make_windows(y, length=20, step=2, horizon=1)
    model = RNNRegressor(hidden_size=8, learning_rate=0.02, max_epochs=40, dtype="float64",
                         random_state=0).fit(X, target)
    assert model.score(X, target) > 0.9
