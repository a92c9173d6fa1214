"""The forecaster contract in forecasters/_base.py, checked through small probe forecasters."""
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from tsrnn.forecasters._base import BaseForecaster


class LastValue(BaseForecaster):
    """Repeats each series' last row; records what the hooks received."""

    def __init__(self, missing="raise", fail=False):
        self.missing = missing
        self.fail = fail

    def _min_length(self):
        return 2

    def _fit_core(self, ys, Xs):
        self.seen_ = (ys, Xs)
        self.last_ = [y[-1].copy() for y in ys]
        if self.fail:
            raise RuntimeError("core failed on purpose")

    def _update_core(self, ys, Xs):
        self.last_ = [y[-1].copy() for y in ys]

    def _predict_core(self, horizon, Xs_future, contexts):
        self.future_seen_ = Xs_future
        if contexts is None:
            lasts = self.last_
        else:
            lasts = [c.y[-1] for c in contexts]
        return [np.tile(last, (horizon, 1)) for last in lasts]


class Scaled(LastValue):
    _standardize = True


def hourly(values, start="2024-01-01", name="y"):
    index = pd.date_range(start, periods=len(values), freq="h")
    return pd.Series(np.asarray(values, dtype=float), index=index, name=name)


# ------------------------------------------------------------------ input kinds round-trip
def test_datetime_series_forecast_continues_index_at_frequency():
    y = hourly([1.0, 2.0, 3.0])
    forecast = LastValue().fit(y).predict(2)
    assert isinstance(forecast, pd.Series)
    assert forecast.name == "y"
    expected = pd.date_range("2024-01-01 03:00", periods=2, freq="h")
    assert list(forecast.index) == list(expected)
    assert forecast.index.freq == expected.freq
    assert forecast.tolist() == [3.0, 3.0]


def test_datetime_index_without_freq_is_inferred():
    y = hourly(np.arange(5.0))
    y.index = pd.DatetimeIndex(list(y.index))  # drops freq
    assert y.index.freq is None
    forecast = LastValue().fit(y).predict(1)
    assert forecast.index[0] == pd.Timestamp("2024-01-01 05:00")


def test_weekly_anchored_frequency_continues():
    y = pd.Series([1.0, 2.0, 3.0], index=pd.date_range("2024-01-06", periods=3, freq="W-SAT"))
    forecast = LastValue().fit(y).predict(2)
    assert list(forecast.index) == list(pd.date_range("2024-01-27", periods=2, freq="W-SAT"))


def test_irregular_datetime_index_raises_clear_error():
    index = pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-05", "2024-01-06"])
    with pytest.raises(ValueError, match="frequency"):
        LastValue().fit(pd.Series([1.0, 2.0, 3.0, 4.0], index=index))


def test_range_index_continues_with_same_step():
    y = pd.Series([1.0, 2.0, 3.0], index=pd.RangeIndex(10, 16, 2))
    forecast = LastValue().fit(y).predict(3)
    assert list(forecast.index) == [16, 18, 20]


def test_integer_index_continues_with_same_step():
    y = pd.Series([1.0, 2.0, 3.0], index=pd.Index([5, 10, 15]))
    assert list(LastValue().fit(y).predict(2).index) == [20, 25]


def test_period_and_timedelta_indexes_continue():
    p = pd.Series([1.0, 2.0], index=pd.period_range("2024-01", periods=2, freq="M"))
    assert list(LastValue().fit(p).predict(2).index.astype(str)) == ["2024-03", "2024-04"]
    t = pd.Series([1.0, 2.0, 3.0], index=pd.timedelta_range(0, periods=3, freq="250ms"))
    assert list(LastValue().fit(t).predict(1).index) == [pd.Timedelta("750ms")]


def test_dataframe_keeps_columns_and_index():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}, index=pd.RangeIndex(2))
    forecast = LastValue().fit(frame).predict(2)
    assert isinstance(forecast, pd.DataFrame)
    assert list(forecast.columns) == ["a", "b"]
    assert list(forecast.index) == [2, 3]
    assert forecast.to_numpy().tolist() == [[2.0, 4.0], [2.0, 4.0]]


def test_arrays_give_arrays_of_same_dimension():
    one = LastValue().fit(np.array([1.0, 2.0, 3.0])).predict(2)
    assert isinstance(one, np.ndarray) and one.shape == (2,)
    two = LastValue().fit(np.array([[1.0, 2.0], [3.0, 4.0]])).predict(2)
    assert two.shape == (2, 2)
    plain = LastValue().fit([1, 2, 3]).predict(1)
    assert plain.tolist() == [3.0]


def test_list_of_series_gives_list_one_per_series():
    ys = [hourly([1.0, 2.0]), hourly([5.0, 6.0, 7.0], start="2024-02-01")]
    forecasts = LastValue().fit(ys).predict(1)
    assert isinstance(forecasts, list) and len(forecasts) == 2
    assert forecasts[0].index[0] == pd.Timestamp("2024-01-01 02:00")
    assert forecasts[1].index[0] == pd.Timestamp("2024-02-01 03:00")
    assert [f.iloc[0] for f in forecasts] == [2.0, 7.0]


def test_hooks_receive_float64_two_dimensional_arrays():
    f = LastValue().fit([np.array([1, 2, 3], dtype=np.int32), np.array([4, 5], dtype=np.int64)])
    ys, Xs = f.seen_
    assert Xs is None
    assert [y.shape for y in ys] == [(3, 1), (2, 1)]
    assert all(y.dtype == np.float64 and y.flags.c_contiguous for y in ys)


def test_nullable_pandas_dtypes_are_accepted():
    y = pd.Series([1, 2, 3], dtype="Int64")
    assert LastValue().fit(y).predict(1).tolist() == [3.0]


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("y", [np.array([]), pd.Series([], dtype=float), [], np.empty((3, 0))])
def test_empty_input_raises(y):
    with pytest.raises(ValueError, match="empty"):
        LastValue().fit(y)


def test_nan_raises_unless_interpolating():
    y = np.array([1.0, np.nan, 3.0, np.inf])
    with pytest.raises(ValueError, match="NaN or infinite.*missing='interpolate'"):
        LastValue().fit(y)
    f = LastValue(missing="interpolate").fit(np.array([np.nan, 1.0, np.nan, 3.0, np.nan]))
    assert f.seen_[0][0].ravel().tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]


def test_all_missing_column_cannot_be_interpolated():
    with pytest.raises(ValueError, match="no finite value"):
        LastValue(missing="interpolate").fit(np.array([np.nan, np.nan]))


def test_invalid_missing_option_raises():
    with pytest.raises(ValueError, match="missing must be one of"):
        LastValue(missing="drop").fit(np.arange(3.0))


@pytest.mark.parametrize(
    "y",
    [
        pd.Series(["a", "b", "c"]),
        pd.Series(["a", "b", "c"], dtype="category"),
        pd.Series([1, 2, 3], dtype="category"),
        pd.DataFrame({"ok": [1.0, 2.0], "bad": ["x", "y"]}),
        np.array(["a", "b"]),
        np.array([1 + 2j, 3j]),
    ],
)
def test_non_numeric_input_raises_type_error(y):
    with pytest.raises(TypeError, match="numeric|real-valued"):
        LastValue().fit(y)


def test_non_numeric_error_names_the_column():
    with pytest.raises(TypeError, match="'bad'"):
        LastValue().fit(pd.DataFrame({"ok": [1.0, 2.0], "bad": ["x", "y"]}))


def test_duplicate_timestamps_raise():
    index = pd.DatetimeIndex(["2024-01-01", "2024-01-01", "2024-01-02"])
    with pytest.raises(ValueError, match="duplicate"):
        LastValue().fit(pd.Series([1.0, 2.0, 3.0], index=index))


def test_unsorted_timestamps_raise():
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-01", "2024-01-03"])
    with pytest.raises(ValueError, match="unsorted"):
        LastValue().fit(pd.Series([1.0, 2.0, 3.0], index=index))


def test_x_with_different_length_raises():
    with pytest.raises(ValueError, match="aligned"):
        LastValue().fit(np.arange(4.0), X=np.arange(3.0))


def test_x_with_different_index_raises():
    y = hourly([1.0, 2.0, 3.0])
    X = pd.Series([0.0, 1.0, 2.0], index=y.index + pd.Timedelta("1h"))
    with pytest.raises(ValueError, match="different indexes"):
        LastValue().fit(y, X)


def test_x_list_structure_must_match_y():
    with pytest.raises(ValueError, match="same structure"):
        LastValue().fit([np.arange(3.0), np.arange(3.0)], X=np.arange(3.0))


@pytest.mark.parametrize("horizon", [0, -1])
def test_horizon_below_one_raises_value_error(horizon):
    f = LastValue().fit(np.arange(3.0))
    with pytest.raises(ValueError, match="horizon must be an integer >= 1"):
        f.predict(horizon)


@pytest.mark.parametrize("horizon", [1.5, "3", None, True])
def test_non_integer_horizon_raises_type_error(horizon):
    f = LastValue().fit(np.arange(3.0))
    with pytest.raises(TypeError, match="horizon must be an integer"):
        f.predict(horizon)


def test_numpy_integer_horizon_is_accepted():
    assert LastValue().fit(np.arange(3.0)).predict(np.int64(2)).shape == (2,)


@pytest.mark.parametrize("method", ["predict", "predict_interval", "update"])
def test_use_before_fit_raises_not_fitted(method):
    f = LastValue()
    with pytest.raises(NotFittedError, match="not fitted"):
        if method == "update":
            f.update(np.arange(2.0))
        else:
            getattr(f, method)(2)


def test_too_few_observations_raises():
    with pytest.raises(ValueError, match="needs at least 2"):
        LastValue().fit(np.array([1.0]))


def test_context_with_wrong_number_of_columns_raises():
    f = LastValue().fit(np.ones((4, 2)))
    with pytest.raises(ValueError, match="3 column.*fitted with 2"):
        f.predict(1, context=np.ones((4, 3)))


def test_context_with_wrong_column_names_raises():
    f = LastValue().fit(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}))
    with pytest.raises(ValueError, match="columns"):
        f.predict(1, context=pd.DataFrame({"a": [1.0], "c": [2.0]}))


def test_context_with_reordered_columns_is_realigned():
    f = LastValue().fit(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}))
    context = pd.DataFrame({"b": [30.0], "a": [10.0]})
    forecast = f.predict(1, context=context)
    assert list(forecast.columns) == ["a", "b"]
    assert forecast.to_numpy().tolist() == [[10.0, 30.0]]


def test_update_with_wrong_columns_raises():
    f = LastValue().fit(np.ones((4, 2)))
    with pytest.raises(ValueError, match="1 column.*fitted with 2"):
        f.update(np.ones(3))


def test_x_at_predict_without_x_at_fit_raises():
    f = LastValue().fit(np.arange(3.0))
    with pytest.raises(ValueError, match="fitted without exogenous"):
        f.predict(2, X=np.ones(2))


def test_missing_x_at_predict_after_fit_with_x_raises():
    f = LastValue().fit(np.arange(3.0), X=np.ones(3))
    with pytest.raises(ValueError, match="X is\\s+required"):
        f.predict(2)


def test_future_x_must_have_exactly_horizon_rows():
    f = LastValue().fit(np.arange(3.0), X=np.ones(3))
    with pytest.raises(ValueError, match="exactly.*3 rows but horizon is 2"):
        f.predict(2, X=np.ones(3))
    f.predict(2, X=np.ones(2))
    assert f.future_seen_[0].shape == (2, 1)


def test_future_x_index_must_match_forecast_index():
    y = hourly([1.0, 2.0, 3.0])
    f = LastValue().fit(y, X=y * 0)
    wrong = pd.Series([0.0, 0.0], index=pd.date_range("2030-01-01", periods=2, freq="h"))
    with pytest.raises(ValueError, match="forecast index"):
        f.predict(2, X=wrong)
    right = pd.Series([0.0, 0.0], index=pd.date_range("2024-01-01 03:00", periods=2, freq="h"))
    assert len(f.predict(2, X=right)) == 2


def test_context_must_be_pair_when_fitted_with_x():
    f = LastValue().fit(np.arange(3.0), X=np.ones(3))
    with pytest.raises(ValueError, match="pair"):
        f.predict(1, X=np.ones(1), context=np.arange(3.0))
    out = f.predict(1, X=np.ones(1), context=(np.array([7.0, 8.0]), np.ones(2)))
    assert out.tolist() == [8.0]


def test_multi_series_model_needs_one_context_per_series():
    f = LastValue().fit([np.arange(3.0), np.arange(4.0)])
    with pytest.raises(ValueError, match="list of 2"):
        f.predict(1, context=np.arange(3.0))


def test_invalid_coverage_raises():
    f = LastValue().fit(np.arange(3.0))
    with pytest.raises(ValueError, match="coverage"):
        f.predict_interval(1, coverage=1.5)


def test_forecaster_without_intervals_says_so():
    f = LastValue().fit(np.arange(3.0))
    with pytest.raises(NotImplementedError, match="does not provide prediction intervals"):
        f.predict_interval(2)


# ------------------------------------------------------------------ failed fit changes nothing
def test_failed_fit_leaves_previous_model_unchanged():
    f = LastValue().fit(hourly([1.0, 2.0, 3.0]))
    before = dict(f.__dict__)
    f.fail = True
    with pytest.raises(RuntimeError, match="on purpose"):
        f.fit(np.arange(10.0))
    f.fail = False
    assert set(f.__dict__) == set(before)
    assert f.layouts_ is before["layouts_"] and f.last_ is before["last_"]
    assert f.predict(1).index[0] == pd.Timestamp("2024-01-01 03:00")


def test_invalid_input_to_refit_leaves_previous_model_unchanged():
    f = LastValue().fit(np.arange(5.0))
    before = dict(f.__dict__)
    with pytest.raises(ValueError):
        f.fit(np.array([1.0, np.nan]))
    assert f.__dict__ == before


def test_failed_fit_on_unfitted_model_leaves_it_unfitted():
    f = LastValue(fail=True)
    with pytest.raises(RuntimeError):
        f.fit(np.arange(3.0))
    with pytest.raises(NotFittedError):
        f.predict(1)


# ------------------------------------------------------------------ scikit-learn conventions
def test_get_params_set_params_clone_and_repr():
    f = LastValue(missing="interpolate")
    assert f.get_params() == {"missing": "interpolate", "fail": False}
    f.set_params(fail=True)
    assert f.fail is True
    g = clone(f)
    assert g is not f and g.get_params() == f.get_params()
    assert "missing='interpolate'" in repr(f)


def test_clone_of_fitted_model_is_unfitted():
    f = LastValue().fit(np.arange(3.0))
    with pytest.raises(NotFittedError):
        clone(f).predict(1)


def test_init_stores_parameters_only():
    f = LastValue()
    assert not [k for k in vars(f) if k.endswith("_")]


# ------------------------------------------------------------------ update and context
def test_update_then_predict_continues_index():
    y = hourly([1.0, 2.0, 3.0])
    f = LastValue().fit(y)
    f.update(hourly([10.0, 11.0], start="2024-01-01 03:00"))
    forecast = f.predict(1)
    assert forecast.index[0] == pd.Timestamp("2024-01-01 05:00")
    assert forecast.iloc[0] == 11.0


def test_update_with_array_advances_pandas_index_by_its_length():
    f = LastValue().fit(hourly([1.0, 2.0, 3.0]))
    f.update(np.array([4.0, 5.0, 6.0]))
    assert f.predict(1).index[0] == pd.Timestamp("2024-01-01 06:00")


def test_update_that_does_not_follow_the_data_raises_and_changes_nothing():
    f = LastValue().fit(hourly([1.0, 2.0, 3.0]))
    before = dict(f.__dict__)
    with pytest.raises(ValueError, match="continue after"):
        f.update(hourly([9.0], start="2024-01-01 01:00"))
    assert f.__dict__ == before


def test_context_forecast_follows_context_index():
    f = LastValue().fit(hourly([1.0, 2.0, 3.0]))
    context = hourly([7.0, 8.0], start="2025-06-01")
    forecast = f.predict(2, context=context)
    assert list(forecast.index) == list(pd.date_range("2025-06-01 02:00", periods=2, freq="h"))
    assert forecast.tolist() == [8.0, 8.0]


def test_single_observation_context_uses_fitted_frequency():
    f = LastValue().fit(hourly([1.0, 2.0, 3.0]))
    forecast = f.predict(1, context=hourly([5.0], start="2025-01-01"))
    assert forecast.index[0] == pd.Timestamp("2025-01-01 01:00")


def test_array_context_gives_array():
    f = LastValue().fit(hourly([1.0, 2.0, 3.0]))
    assert isinstance(f.predict(2, context=np.array([4.0, 5.0])), np.ndarray)


def test_single_series_model_accepts_list_of_contexts():
    f = LastValue().fit(np.arange(3.0))
    out = f.predict(1, context=[np.array([1.0, 4.0]), np.array([9.0])])
    assert isinstance(out, list) and [o.tolist() for o in out] == [[4.0], [9.0]]


# ------------------------------------------------------------------ standardisation
def test_standardised_hooks_see_zero_mean_unit_std_and_outputs_are_restored():
    ys = [np.array([10.0, 20.0, 30.0]), np.array([-1.0, -1.0, -1.0])]
    f = Scaled().fit(ys)
    seen = f.seen_[0]
    assert np.allclose(seen[0].mean(), 0.0) and np.allclose(seen[0].std(), 1.0)
    assert np.allclose(seen[1], 0.0)  # constant series: std 0 -> scale 1
    assert f.y_scale_.tolist() == [[pytest.approx(np.std([10, 20, 30]))], [1.0]]
    out = f.predict(1)
    assert out[0].tolist() == [pytest.approx(30.0)] and out[1].tolist() == [-1.0]


def test_standardised_context_uses_its_series_scaling():
    f = Scaled().fit([np.array([0.0, 10.0]), np.array([100.0, 300.0])])
    out = f.predict(1, context=[np.array([5.0]), np.array([250.0])])
    assert out[0].tolist() == [pytest.approx(5.0)] and out[1].tolist() == [pytest.approx(250.0)]


# ------------------------------------------------------------------ hooks for partial_fit
class Incremental(Scaled):
    """How a subclass adds partial_fit on top of the shared validation."""

    def partial_fit(self, y, X=None):
        if not self.__sklearn_is_fitted__():
            return self.fit(y, X)
        data = self._validate_fit_data(y, X, reset=False)

        def run():
            ys, Xs = self._scaled_fit_data(data)
            self.chunks_ = self.chunks_ + [ys]

        self._transaction(run)
        return self

    def _fit_core(self, ys, Xs):
        super()._fit_core(ys, Xs)
        self.chunks_ = [ys]


def test_partial_fit_shares_validation_and_keeps_the_first_scaling():
    f = Incremental().partial_fit(np.array([0.0, 2.0, 4.0]))
    mean, scale = f.y_mean_.copy(), f.y_scale_.copy()
    f.partial_fit(np.array([4.0, 6.0]))
    assert np.array_equal(f.y_mean_, mean) and np.array_equal(f.y_scale_, scale)
    assert np.allclose(f.chunks_[1][0].ravel(), (np.array([4.0, 6.0]) - 2.0) / scale[0, 0])
    with pytest.raises(ValueError, match="2 column.*fitted with 1"):
        f.partial_fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        f.partial_fit(np.array([1.0, np.nan]))
    assert len(f.chunks_) == 2
