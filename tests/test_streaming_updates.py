"""The short path of update for streams: a number, a few values or a one-value Series that
continues the index give exactly what the general path gives, with the same checks."""
import numpy as np
import pandas as pd
import pytest

from tsrnn import NaiveForecaster, RNNForecaster

Y = np.sin(np.arange(400) / 5.0)
INDEX = pd.date_range("2024-01-01", periods=400, freq="s")


def rnn(**params):
    return RNNForecaster(**{"hidden_size": 8, "max_epochs": 2, "n_models": 1,
                            "random_state": 0, **params})


@pytest.mark.parametrize("season_length", ["auto", None])
def test_a_number_updates_like_a_one_value_array(season_length):
    a = rnn(season_length=season_length).fit(Y)
    b = rnn(season_length=season_length).fit(Y)
    for value in (0.5, np.float32(0.25), 1):
        a.update(value)
        b.update(np.array([float(value)]).reshape(1, 1))  # 2-D: the general path
    np.testing.assert_array_equal(a.predict(5), b.predict(5))
    assert a.layouts_[0].n_seen == b.layouts_[0].n_seen == len(Y) + 3


def test_a_short_array_updates_like_the_general_path():
    a, b = rnn().fit(Y), rnn().fit(Y)
    a.update(np.array([0.1, 0.2, 0.3]))
    b.update(list(np.array([0.1, 0.2, 0.3])))  # a list takes the general path
    np.testing.assert_array_equal(a.predict(4), b.predict(4))


def test_a_one_value_series_that_continues_the_index_takes_the_short_path():
    a = rnn().fit(pd.Series(Y, index=INDEX))
    b = rnn().fit(pd.Series(Y, index=INDEX))
    nxt = INDEX[-1] + pd.Timedelta(seconds=1)
    a.update(pd.Series([0.5], index=[nxt]))
    b.update(pd.Series([0.5, 0.6], index=[nxt, nxt + pd.Timedelta(seconds=1)]).iloc[:1])
    assert a.layouts_[0].last == nxt
    pd.testing.assert_series_equal(a.predict(3), b.predict(3))


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e200, True, "0.5"])
def test_the_short_path_keeps_every_check(bad):
    f = NaiveForecaster().fit(Y)
    before = f.predict(1)
    with pytest.raises((ValueError, TypeError)):
        f.update(bad)
    np.testing.assert_array_equal(f.predict(1), before)


def test_a_series_that_skips_a_step_is_still_checked():
    f = NaiveForecaster().fit(pd.Series(Y, index=INDEX))
    with pytest.raises(ValueError, match="skips 1 step"):
        f.update(pd.Series([0.5], index=[INDEX[-1] + pd.Timedelta(seconds=2)]))


def test_a_number_on_a_model_fitted_on_several_columns_goes_the_general_way():
    f = NaiveForecaster().fit(np.column_stack([Y, Y]))
    with pytest.raises((ValueError, TypeError)):
        f.update(0.5)
