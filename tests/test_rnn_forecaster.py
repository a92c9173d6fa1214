"""RNNForecaster (forecasters/rnn.py): the forecaster contract, streaming state, saving, fitting
options, and a smoke test that it learns."""
import copy
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from tsrnn import RNNForecaster
from tsrnn.forecasters.rnn import VALIDATION_ORIGINS

# one network: these tests look at its weights and states (ensembles: test_ensembles.py)
FAST = dict(hidden_size=4, max_epochs=2, batch_size=4, tbptt=10, free_run=5,
            early_stopping=False, random_state=0, n_models=1)


def fast(**options):
    return RNNForecaster(**{**FAST, **options})


def sine(n, period=20.0, phase=0.0, noise=0.05, seed=0):
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sin(2 * np.pi * t / period + phase) + noise * rng.standard_normal(n)


def hourly(values, start="2024-01-01", name="y"):
    index = pd.date_range(start, periods=len(values), freq="h")
    if np.ndim(values) == 2:
        return pd.DataFrame(values, index=index, columns=[f"c{j}" for j in range(values.shape[1])])
    return pd.Series(values, index=index, name=name)


def exog(n, seed=1, columns=1):
    t = np.arange(n)[:, None]
    return np.cos(t / 7.0 + np.arange(columns)) + 0.1 * np.random.default_rng(seed).standard_normal(
        (n, columns))


def weights(f):
    return f.network_.state_dict()


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def assert_equal_forecasts(a, b):
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_equal_forecasts(x, y)
    elif isinstance(a, (pd.Series, pd.DataFrame)):
        assert type(a) is type(b)
        assert a.index.equals(b.index)
        np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    else:
        np.testing.assert_array_equal(a, b)


class Snapshot:
    """What a fitted forecaster holds and forecasts; ``check`` asserts nothing changed."""

    def __init__(self, f, **predict_args):
        self.f, self.args = f, predict_args
        self.attrs = dict(vars(f))
        self.weights = weights(f)
        self.forecast = f.predict(5, **predict_args)

    def check(self):
        f = self.f
        assert set(vars(f)) == set(self.attrs)
        replaced = [k for k, v in self.attrs.items() if vars(f)[k] is not v]
        assert not replaced, f"attributes replaced: {replaced}"
        assert_same_weights(weights(f), self.weights)
        assert_equal_forecasts(f.predict(5, **self.args), self.forecast)


# ------------------------------------------------------------------ output type follows input
def test_series_with_datetime_index_gets_forecast_at_the_next_timestamps():
    y = hourly(sine(120))
    forecast = fast().fit(y).predict(6)
    assert isinstance(forecast, pd.Series) and forecast.name == "y"
    expected = pd.date_range(y.index[-1] + pd.Timedelta("1h"), periods=6, freq="h")
    assert forecast.index.equals(expected) and forecast.index.freq == expected.freq
    assert np.all(np.isfinite(forecast.to_numpy()))


def test_daily_series_without_freq_continues_at_the_inferred_frequency():
    y = pd.Series(sine(60), index=pd.DatetimeIndex(list(pd.date_range("2023-05-01",
                                                                        periods=60, freq="D"))))
    assert y.index.freq is None
    forecast = fast().fit(y).predict(3)
    assert list(forecast.index) == list(pd.date_range("2023-06-30", periods=3, freq="D"))


def test_range_index_continues():
    y = pd.Series(sine(50), index=pd.RangeIndex(100, 200, 2))
    assert list(fast().fit(y).predict(3).index) == [200, 202, 204]


def test_one_dimensional_array_gives_one_dimensional_forecast():
    forecast = fast().fit(sine(80)).predict(7)
    assert isinstance(forecast, np.ndarray) and forecast.shape == (7,)
    assert forecast.dtype == np.float64


def test_two_dimensional_array_gives_two_dimensional_forecast():
    y = np.column_stack([sine(80), sine(80, phase=1.0)])
    forecast = fast().fit(y).predict(4)
    assert isinstance(forecast, np.ndarray) and forecast.shape == (4, 2)
    single_column = fast().fit(y[:, :1]).predict(4)
    assert single_column.shape == (4, 1)


def test_dataframe_keeps_columns_and_index():
    frame = hourly(np.column_stack([sine(80), 10 + 3 * sine(80, phase=1.0)]))
    frame.columns = ["load", "temp"]
    forecast = fast().fit(frame).predict(3)
    assert isinstance(forecast, pd.DataFrame)
    assert list(forecast.columns) == ["load", "temp"]
    assert forecast.index[0] == frame.index[-1] + pd.Timedelta("1h")
    # the columns are forecast in their own units (per-column scaling)
    assert 5 < forecast["temp"].mean() < 15 and abs(forecast["load"].mean()) < 3


def test_list_of_series_gives_list_from_one_global_model():
    ys = [hourly(sine(150)), hourly(5 + 2 * sine(60, phase=2.0), start="2025-01-01")]
    f = fast().fit(ys)
    forecasts = f.predict(4)
    assert isinstance(forecasts, list) and len(forecasts) == 2
    assert f.n_series_ == 2 and f.y_mean_.shape == (2, 1)
    assert forecasts[0].index[0] == ys[0].index[-1] + pd.Timedelta("1h")
    assert forecasts[1].index[0] == ys[1].index[-1] + pd.Timedelta("1h")
    # one network, each series continued from its own state and in its own units
    assert forecasts[1].mean() > 2
    assert_equal_forecasts(forecasts, f.predict(4, context=ys))


def test_list_of_arrays_gives_list_of_arrays():
    f = fast().fit([sine(100), sine(30)])
    out = f.predict(2)
    assert isinstance(out, list) and [o.shape for o in out] == [(2,), (2,)]


def test_forecast_with_context_follows_the_context_kind():
    f = fast().fit(hourly(sine(100)))
    assert isinstance(f.predict(3, context=sine(40)), np.ndarray)
    ctx = hourly(sine(40), start="2030-01-01")
    forecast = f.predict(3, context=ctx)
    assert forecast.index[0] == pd.Timestamp("2030-01-01") + pd.Timedelta("40h")


# ------------------------------------------------------------------ update == context
def _streaming_case(kind):
    """(fit args, update args, predict X, context) for one kind of input, n = 240, cut 160."""
    n, cut, h = 240, 160, 6
    if kind.startswith("frame"):
        y = hourly(np.column_stack([sine(n), 2 + sine(n, phase=1.0, seed=3)]))
    elif kind.startswith("series"):
        y = hourly(sine(n))
    else:
        y = sine(n)
    X = X_future = None
    if kind.endswith("+X"):
        values = exog(n + h, columns=2 if kind.startswith("frame") else 1)
        if isinstance(y, pd.Series | pd.DataFrame):
            index = pd.date_range(y.index[0], periods=n + h, freq="h")
            full = pd.DataFrame(values, index=index, columns=[f"x{j}" for j in
                                                              range(values.shape[1])])
        else:
            full = values
        X, X_future = full[:n], full[n:]
    def rows(a, part):
        return a.iloc[part] if isinstance(a, pd.Series | pd.DataFrame) else a[part]

    fit_args = (rows(y, slice(None, cut)), None if X is None else rows(X, slice(None, cut)))
    update_args = (rows(y, slice(cut, None)), None if X is None else rows(X, slice(cut, None)))
    context = y if X is None else (y, X)
    return fit_args, update_args, X_future, context, h


KINDS = ["array", "series", "frame", "array+X", "series+X", "frame+X"]


@pytest.mark.parametrize("kind", KINDS)
def test_update_then_predict_equals_predict_with_all_data_as_context(kind):
    fit_args, update_args, X_future, context, h = _streaming_case(kind)
    f = fast().fit(*fit_args)
    f.update(*update_args)
    streamed = f.predict(h, X=X_future)
    from_context = f.predict(h, X=X_future, context=context)
    assert type(streamed) is type(from_context)
    if isinstance(streamed, pd.Series | pd.DataFrame):
        assert streamed.index.equals(from_context.index)
        streamed, from_context = streamed.to_numpy(), from_context.to_numpy()
    np.testing.assert_allclose(streamed, from_context, rtol=1e-5, atol=1e-6)


def test_update_of_a_list_model_equals_contexts_per_series():
    ys = [sine(200), sine(120, phase=1.0, seed=2)]
    Xs = [exog(200), exog(120, seed=4)]
    futures = [exog(5, seed=5), exog(5, seed=6)]
    f = fast().fit([ys[0][:150], ys[1][:70]], [Xs[0][:150], Xs[1][:70]])
    f.update([ys[0][150:], ys[1][70:]], [Xs[0][150:], Xs[1][70:]])
    streamed = f.predict(5, X=futures)
    from_context = f.predict(5, X=futures, context=list(zip(ys, Xs)))
    for a, b in zip(streamed, from_context):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("options", [dict(cell="lstm"), dict(cell="gru", num_layers=2, dropout=0.3),
                                     dict(cell="rnn", initial_state="learned")],
                         ids=["lstm", "gru-2-layers-dropout", "rnn-learned-state"])
def test_predict_after_fit_equals_predict_with_the_fit_data_as_context(options):
    """The end state is the start state run over the whole fit data (dropout off)."""
    y = sine(150)
    f = fast(**options).fit(y)
    np.testing.assert_allclose(f.predict(8), f.predict(8, context=y), rtol=1e-5, atol=1e-6)


def test_update_in_pieces_equals_one_update():
    y = sine(200)
    a = fast().fit(y[:120])
    b = copy.deepcopy(a)
    a.update(y[120:])
    b.update(y[120:121])  # a single value
    for start in range(121, 200, 7):
        b.update(y[start:start + 7])
    np.testing.assert_allclose(a.predict(5), b.predict(5), rtol=1e-5, atol=1e-6)


def test_update_advances_the_state_and_the_index():
    y = hourly(sine(150))
    f = fast().fit(y.iloc[:100])
    before = f.predict(3)
    f.update(y.iloc[100:])
    after = f.predict(3)
    assert after.index[0] == y.index[-1] + pd.Timedelta("1h")
    assert not np.allclose(before.to_numpy(), after.to_numpy())


def test_context_length_conditions_on_the_last_values_only():
    y = sine(200)
    f = fast(context_length=25).fit(y)
    np.testing.assert_allclose(f.predict(5, context=y), f.predict(5, context=y[-25:]),
                               rtol=1e-6)
    whole = copy.deepcopy(f).set_params(context_length=None)
    assert not np.array_equal(whole.predict(5, context=y), f.predict(5, context=y))
    np.testing.assert_allclose(whole.predict(5, context=y), whole.predict(5), rtol=1e-5)


# ------------------------------------------------------------------ save / load
SAVE_CASES = {
    "lstm-series": (dict(cell="lstm"), lambda: (hourly(sine(160)), None)),
    "gru-frame-exog-learned-f64": (
        dict(cell="gru", initial_state="learned", dtype="float64", reset_after=False),
        lambda: (hourly(np.column_stack([sine(160), sine(160, phase=2.0)])),
                 pd.DataFrame(exog(160), index=hourly(sine(160)).index, columns=["x"]))),
    "rnn-list-relu-direct": (dict(cell="rnn", nonlinearity="relu", residual=False),
                      lambda: ([sine(160), sine(90, phase=1.0)], None)),
    "lstm-peephole-early-stopping": (
        dict(cell="lstm", peephole=True, early_stopping=True, max_epochs=3,
             validation_fraction=0.25, tbptt=(5, 10), teacher_forcing=(0.9, 0.5)),
        lambda: (pd.Series(sine(160), index=pd.RangeIndex(0, 320, 2)), None)),
}


def _future_X(f, X, horizon):
    """Future exogenous values for ``horizon`` steps, indexed like the forecast if pandas."""
    if X is None:
        return None
    layout = f.layouts_[0]
    values = exog(horizon, seed=9)
    if isinstance(X, pd.DataFrame):
        return pd.DataFrame(values, index=layout.future_index(horizon), columns=X.columns)
    return values


@pytest.mark.parametrize("case", list(SAVE_CASES))
def test_save_load_round_trip_predicts_identically(tmp_path, case):
    options, data = SAVE_CASES[case]
    y, X = data()
    f = fast(**options).fit(y, X)
    path = tmp_path / "model.tsrnn"
    f.save(path)
    g = RNNForecaster.load(path)
    assert type(g) is RNNForecaster
    assert g.get_params() == f.get_params()
    assert_same_weights(weights(g), weights(f))
    for attr in ("n_iter_", "loss_curve_", "validation_scores_", "best_iteration_",
                 "best_validation_score_", "n_series_", "n_targets_", "n_exog_"):
        assert getattr(g, attr) == getattr(f, attr), attr
    X_future = _future_X(f, X, 5)
    assert_equal_forecasts(g.predict(5, X=X_future), f.predict(5, X=X_future))
    # the index continues where the fitted data ended
    if isinstance(y, pd.Series | pd.DataFrame):
        assert g.predict(5, X=X_future).index.equals(f.predict(5, X=X_future).index)
    # the scaling and the streaming state come back too
    context = y if X is None else (y, X)
    assert_equal_forecasts(g.predict(5, X=X_future, context=context),
                           f.predict(5, X=X_future, context=context))


def test_loaded_model_updates_and_continues_training_like_the_original(tmp_path):
    y = hourly(sine(200))
    f = fast(max_epochs=2).fit(y.iloc[:150])
    f.save(tmp_path / "m.tsrnn")
    g = RNNForecaster.load(tmp_path / "m.tsrnn")
    for model in (f, g):
        model.update(y.iloc[150:170])
    assert_equal_forecasts(g.predict(4), f.predict(4))
    for model in (f, g):
        model.partial_fit(y.iloc[170:])
    assert g.n_iter_ == f.n_iter_ == 3
    assert g.optimizer_state_["t"] == f.optimizer_state_["t"] > 0
    assert_same_weights(weights(g), weights(f))
    forecast = g.predict(4)
    assert_equal_forecasts(forecast, f.predict(4))
    assert forecast.index[0] == y.index[-1] + pd.Timedelta("1h")


def test_loading_a_file_of_another_class_raises_value_error(tmp_path):
    class OtherForecaster(RNNForecaster):
        pass

    OtherForecaster(**FAST).fit(sine(60)).save(tmp_path / "other.tsrnn")
    with pytest.raises(ValueError, match="OtherForecaster"):
        RNNForecaster.load(tmp_path / "other.tsrnn")


def test_loading_a_file_that_is_not_a_model_raises_value_error(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, w=np.ones(3))
    with pytest.raises(ValueError, match="not a tsrnn model"):
        RNNForecaster.load(path)


@pytest.mark.parametrize("params", [
    dict(teacher_forcing=lambda epoch, epochs: 1.0 - epoch / epochs),
    dict(random_state=np.random.default_rng(0)),
], ids=["callable-teacher-forcing", "generator-random-state"])
def test_parameters_that_are_not_plain_values_cannot_be_saved(tmp_path, params):
    f = fast(**params).fit(sine(60))
    with pytest.raises(ValueError, match="cannot save"):
        f.save(tmp_path / "m.tsrnn")
    assert not (tmp_path / "m.tsrnn").exists()


@pytest.mark.parametrize("params", [dict(tbptt=(3, 6)), dict(tbptt=[3, 6]),
                                    dict(teacher_forcing=(0.9, 0.4)),
                                    dict(teacher_forcing=[0.9, 0.4])],
                         ids=["tbptt-tuple", "tbptt-list", "tf-tuple", "tf-list"])
def test_every_accepted_parameter_form_can_be_saved(tmp_path, params):
    """fit accepts tbptt and teacher_forcing as a tuple or a list; save must too."""
    f = fast(**params).fit(sine(60))
    f.save(tmp_path / "m.tsrnn")
    g = RNNForecaster.load(tmp_path / "m.tsrnn")
    (name, value), = params.items()
    assert list(getattr(g, name)) == list(value)
    assert_equal_forecasts(g.predict(3), f.predict(3))


def test_save_before_fit_raises_not_fitted(tmp_path):
    with pytest.raises(NotFittedError):
        fast().save(tmp_path / "m.tsrnn")
    assert not (tmp_path / "m.tsrnn").exists()


# ------------------------------------------------------------------ sklearn conventions
def test_clone_gives_an_unfitted_forecaster_with_equal_params():
    f = fast(cell="gru", tbptt=(4, 8), teacher_forcing=(1.0, 0.3)).fit(sine(80))
    g = clone(f)
    assert g is not f and g.get_params() == f.get_params()
    assert not hasattr(g, "network_")
    with pytest.raises(NotFittedError):
        g.predict(1)
    assert_equal_forecasts(g.fit(sine(80)).predict(3), f.predict(3))  # same random_state


def test_get_params_set_params_and_repr():
    f = RNNForecaster(cell="gru", hidden_size=8)
    params = f.get_params()
    assert params["cell"] == "gru" and params["hidden_size"] == 8 and params["dropout"] == 0.0
    assert {"tbptt", "teacher_forcing", "free_run", "early_stopping", "warm_start",
            "random_state", "verbose", "missing", "dtype"} <= set(params)
    assert f.set_params(learning_rate=0.5, cell="rnn") is f
    assert f.learning_rate == 0.5 and f.cell == "rnn"
    text = repr(f)
    assert text.startswith("RNNForecaster(") and "hidden_size=8" in text and "cell='rnn'" in text
    assert "dropout" not in text  # defaults are left out
    assert not [k for k in vars(RNNForecaster()) if k.endswith("_")]  # __init__ only stores


def test_pickle_and_deepcopy_give_identical_predictions():
    f = fast(cell="lstm").fit(hourly(sine(100)))
    for g in (pickle.loads(pickle.dumps(f)), copy.deepcopy(f)):
        assert_equal_forecasts(g.predict(6), f.predict(6))
        assert_equal_forecasts(g.predict(6, context=sine(30)), f.predict(6, context=sine(30)))


# ------------------------------------------------------------------ bad input, nothing changes
@pytest.fixture
def fitted():
    """A fitted forecaster on an hourly series and its snapshot."""
    y = hourly(sine(120))
    f = fast().fit(y)
    return f, y, Snapshot(f)


@pytest.fixture
def fitted_exog():
    y = hourly(sine(120))
    X = pd.DataFrame(exog(120), index=y.index, columns=["x"])
    f = fast().fit(y, X)
    X_future = pd.DataFrame(exog(5, seed=7), index=f.layouts_[0].future_index(5), columns=["x"])
    return f, y, X, X_future, Snapshot(f, X=X_future)


def with_nan(values, where=5, value=np.nan):
    values = values.copy()
    if isinstance(values, pd.Series | pd.DataFrame):
        values.iloc[where] = value
    else:
        values[where] = value
    return values


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_values_in_fit_raise_and_change_nothing(fitted, bad):
    f, y, snap = fitted
    with pytest.raises(ValueError, match="NaN or infinite"):
        f.fit(with_nan(y, 7, bad))
    snap.check()


def test_nan_in_exogenous_values_raises(fitted_exog):
    f, y, X, X_future, snap = fitted_exog
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        f.fit(y, with_nan(X))
    with pytest.raises(ValueError, match="NaN"):
        f.predict(5, X=with_nan(X_future, 2))
    with pytest.raises(ValueError, match="NaN"):
        f.update(hourly(sine(3), start=y.index[-1] + pd.Timedelta("1h")),
                 pd.DataFrame([[0.0], [np.nan], [1.0]], columns=["x"],
                              index=pd.date_range(y.index[-1] + pd.Timedelta("1h"),
                                                  periods=3, freq="h")))
    snap.check()


def test_nan_in_update_or_context_raises_and_changes_nothing(fitted):
    f, y, snap = fitted
    with pytest.raises(ValueError, match="NaN"):
        f.update(np.array([0.1, np.nan, 0.3]))
    with pytest.raises(ValueError, match="context contains"):
        f.predict(3, context=with_nan(sine(30)))
    snap.check()


def test_missing_interpolate_accepts_nan_everywhere():
    y = with_nan(with_nan(sine(120), 0), 50, np.inf)
    f = fast(missing="interpolate").fit(y)
    f.update(np.array([np.nan, 0.2, np.nan]))
    out = f.predict(4, context=with_nan(sine(30), 29))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(f.predict(4)))
    assert np.all(np.isfinite(f.y_mean_))


def test_too_few_observations_raise(fitted):
    f, _, snap = fitted
    with pytest.raises(ValueError, match="needs at least 3"):
        f.fit(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"y\[1\] has 2 observation"):
        f.fit([sine(50), np.array([1.0, 2.0])])
    snap.check()


def test_early_stopping_tail_shorter_than_validation_horizon_raises(fitted):
    f, _, snap = fitted
    f.set_params(early_stopping=True, validation_horizon=20)
    with pytest.raises(ValueError, match="too short for early stopping.*validation_horizon=20"):
        f.fit(sine(150))  # tail of 15 values
    with pytest.raises(ValueError, match="too short for early stopping"):
        f.fit([sine(400), sine(100)])  # the second series' tail is too short
    f.set_params(early_stopping=False, validation_horizon=None)
    snap.check()


@pytest.mark.parametrize("y, match", [
    (pd.Series(["a", "b", "c", "d"]), "numeric"),
    (pd.Series([1, 2, 3, 4], dtype="category"), "numeric"),
    (pd.DataFrame({"ok": [1.0, 2.0, 3.0], "bad": ["x", "y", "z"]}), "'bad'"),
    (np.array(["a", "b", "c"]), "numeric"),
    (np.array([1 + 1j, 2j, 3.0]), "real-valued"),
])
def test_non_numeric_values_raise_type_error_naming_the_column(fitted, y, match):
    f, _, snap = fitted
    with pytest.raises(TypeError, match=match):
        f.fit(y)
    snap.check()


def test_non_numeric_exogenous_column_raises(fitted):
    f, y, snap = fitted
    X = pd.DataFrame({"when": pd.Series(["a"] * len(y), index=y.index)})
    with pytest.raises(TypeError, match="'when'"):
        f.fit(y, X)
    snap.check()


def test_exogenous_values_misaligned_with_y_raise(fitted):
    f, y, snap = fitted
    with pytest.raises(ValueError, match="aligned"):
        f.fit(y, exog(len(y) - 1))
    shifted = pd.Series(exog(len(y))[:, 0], index=y.index + pd.Timedelta("1h"))
    with pytest.raises(ValueError, match="different indexes"):
        f.fit(y, shifted)
    with pytest.raises(ValueError, match="same structure"):
        f.fit([y, y], exog(len(y)))
    snap.check()


@pytest.mark.parametrize("labels, match", [
    (["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-03"], "duplicate"),
    (["2024-01-02", "2024-01-01", "2024-01-03", "2024-01-04"], "unsorted"),
])
def test_duplicate_or_unsorted_timestamps_raise(fitted, labels, match):
    f, y, snap = fitted
    bad = pd.Series([1.0, 2.0, 3.0, 4.0], index=pd.DatetimeIndex(labels))
    with pytest.raises(ValueError, match=match):
        f.fit(bad)
    with pytest.raises(ValueError, match=match):
        f.predict(2, context=bad)
    shifted = bad.copy()
    shifted.index = shifted.index + (y.index[-1] - pd.Timestamp("2023-12-31"))
    with pytest.raises(ValueError, match=match):
        f.update(shifted)
    snap.check()


def test_update_that_does_not_follow_the_data_raises(fitted):
    f, y, snap = fitted
    with pytest.raises(ValueError, match="continue after"):
        f.update(y.iloc[-3:])
    snap.check()


@pytest.mark.parametrize("horizon, error", [(0, ValueError), (-3, ValueError), (2.0, TypeError),
                                            (None, TypeError), (True, TypeError)])
def test_bad_horizon_raises(fitted, horizon, error):
    f, _, snap = fitted
    with pytest.raises(error, match="horizon"):
        f.predict(horizon)
    snap.check()


@pytest.mark.parametrize("call", ["predict", "update", "predict_interval"])
def test_use_before_fit_raises_not_fitted(call):
    f = fast()
    with pytest.raises(NotFittedError, match="not fitted"):
        if call == "update":
            f.update(sine(5))
        else:
            getattr(f, call)(3)


def test_context_with_wrong_columns_raises(fitted):
    f, _, snap = fitted
    with pytest.raises(ValueError, match="2 column.*fitted with 1"):
        f.predict(3, context=np.ones((10, 2)))
    frame = fast().fit(hourly(np.column_stack([sine(80), sine(80, phase=1)])))
    with pytest.raises(ValueError, match="columns"):
        frame.predict(3, context=pd.DataFrame({"c0": [1.0, 2.0], "other": [3.0, 4.0]}))
    snap.check()


def test_exogenous_values_required_at_predict_when_fitted_with_them(fitted_exog):
    f, y, X, X_future, snap = fitted_exog
    with pytest.raises(ValueError, match="X is\\s+required"):
        f.predict(5)
    with pytest.raises(ValueError, match="X is\\s+required"):
        f.update(hourly(sine(2), start=y.index[-1] + pd.Timedelta("1h")))
    with pytest.raises(ValueError, match="pair"):
        f.predict(5, X=X_future, context=y)
    snap.check()


def test_exogenous_values_at_predict_when_fitted_without_raise(fitted):
    f, _, snap = fitted
    with pytest.raises(ValueError, match="fitted without exogenous"):
        f.predict(3, X=np.ones(3))
    snap.check()


@pytest.mark.parametrize("rows", [4, 6])
def test_exogenous_values_with_wrong_number_of_rows_for_the_horizon_raise(fitted_exog, rows):
    f, _, _, _, snap = fitted_exog
    with pytest.raises(ValueError, match=f"{rows} rows but horizon is 5"):
        f.predict(5, X=exog(rows))
    snap.check()


def test_exogenous_values_not_at_the_forecast_index_raise(fitted_exog):
    f, _, _, X_future, snap = fitted_exog
    late = X_future.copy()
    late.index = late.index + pd.Timedelta("1h")
    with pytest.raises(ValueError, match="forecast index"):
        f.predict(5, X=late)
    snap.check()


INVALID_PARAMS = [
    ("cell", "transformer", ValueError), ("hidden_size", 0, ValueError),
    ("hidden_size", 2.5, TypeError), ("hidden_size", True, TypeError),
    ("num_layers", 0, ValueError), ("batch_size", 0, ValueError), ("batch_size", "4", TypeError),
    ("max_epochs", 0, ValueError), ("free_run", 0, ValueError),
    ("n_iter_no_change", 0, ValueError), ("context_length", 0, ValueError),
    ("context_length", 1.5, TypeError), ("validation_horizon", 0, ValueError),
    ("tbptt", 0, ValueError), ("tbptt", 2.5, TypeError), ("tbptt", (1, 2, 3), ValueError),
    ("tbptt", (6, 3), ValueError), ("tbptt", (0, 3), ValueError),
    ("learning_rate", 0.0, ValueError), ("learning_rate", -1e-3, ValueError),
    ("learning_rate", "fast", TypeError), ("learning_rate", float("nan"), ValueError),
    ("clip_norm", 0.0, ValueError), ("clip_norm", -1.0, ValueError),
    ("clip_norm", "big", TypeError), ("learning_rate", float("inf"), ValueError),
    ("random_state", -1, ValueError), ("random_state", "seed", TypeError),
    ("teacher_forcing", 1.5, ValueError), ("teacher_forcing", -0.1, ValueError),
    ("teacher_forcing", (0.5,), ValueError), ("teacher_forcing", (0.5, 2.0), ValueError),
    ("teacher_forcing", "half", TypeError),
    ("dropout", 1.0, ValueError), ("dropout", -0.1, ValueError),
    ("validation_fraction", 0.0, ValueError), ("validation_fraction", 1.0, ValueError),
    ("initial_state", "random", ValueError),
    ("dtype", "int32", ValueError), ("dtype", "float16", ValueError),
    ("dtype", "nonsense", ValueError),
    ("loss", "l2", ValueError), ("optimizer", "rmsprop", ValueError),
    ("nonlinearity", "sigmoid", ValueError), ("missing", "drop", ValueError),
]


@pytest.mark.parametrize("name, value, error", INVALID_PARAMS,
                         ids=[f"{n}={v!r}" for n, v, _ in INVALID_PARAMS])
def test_invalid_parameter_raises_naming_it_before_anything_changes(fitted, name, value, error):
    f, y, snap = fitted
    good = getattr(f, name)
    f.set_params(**{name: value})
    expected = "k2 >= k1" if value == (6, 3) else name
    with pytest.raises(error, match=expected):
        f.fit(y)
    with pytest.raises(error, match=expected):
        f.partial_fit(y)
    f.set_params(**{name: good})
    snap.check()
    with pytest.raises(error, match=expected):
        RNNForecaster(**{**FAST, name: value}).fit(y)


def test_diverging_fit_raises_and_leaves_the_fitted_model_intact(fitted):
    f, y, snap = fitted
    good = {name: getattr(f, name) for name in ("learning_rate", "clip_norm", "optimizer")}
    f.set_params(learning_rate=1e8, clip_norm=None, optimizer="sgd")
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="diverged"):
        f.fit(y * 1000)
    f.set_params(**good)
    snap.check()


def test_diverging_fit_of_an_unfitted_model_leaves_it_unfitted():
    f = fast(learning_rate=1e8, clip_norm=None, optimizer="sgd")
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError):
        f.fit(sine(100) * 1000)
    assert not [k for k in vars(f) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        f.predict(2)


def test_bad_series_in_a_list_raises_and_changes_nothing(fitted):
    f, _, snap = fitted
    with pytest.raises(ValueError, match=r"y\[1\] contains"):
        f.fit([sine(80), with_nan(sine(80))])
    with pytest.raises(ValueError, match=r"y\[1\] has 3 column"):
        f.fit([np.ones((50, 2)), np.ones((50, 3))])
    snap.check()


def test_partial_fit_with_mismatched_data_raises_and_changes_nothing(fitted):
    f, _, snap = fitted
    with pytest.raises(ValueError, match="2 column.*fitted with 1"):
        f.partial_fit(np.ones((40, 2)))
    with pytest.raises(ValueError, match="same structure as fit"):
        f.partial_fit([sine(40), sine(40)])
    with pytest.raises(ValueError, match="fitted without exogenous"):
        f.partial_fit(sine(40), exog(40))
    snap.check()


def test_warm_start_with_a_different_network_shape_raises(fitted):
    f, y, snap = fitted
    f.set_params(warm_start=True, hidden_size=7)
    with pytest.raises(ValueError, match="cannot continue training"):
        f.fit(y)
    f.set_params(warm_start=False, hidden_size=FAST["hidden_size"])
    snap.check()


def test_update_with_the_wrong_structure_raises(fitted):
    f, _, snap = fitted
    with pytest.raises(ValueError, match="same structure as fit"):
        f.update([sine(3), sine(3)])
    snap.check()


# ------------------------------------------------------------------ random_state, verbose, history
def test_random_state_makes_fits_bit_identical():
    y = sine(200)
    options = dict(cell="lstm", teacher_forcing=0.6, early_stopping=True, max_epochs=3,
                   validation_fraction=0.2, num_layers=2, dropout=0.2, season_length=None)
    a, b = fast(**options).fit(y), fast(**options).fit(y)
    assert_same_weights(weights(a), weights(b))
    assert a.loss_curve_ == b.loss_curve_ and a.validation_scores_ == b.validation_scores_
    assert_equal_forecasts(a.predict(10), b.predict(10))
    c = fast(**{**options, "random_state": 1}).fit(y)
    assert not np.array_equal(c.predict(10), a.predict(10))


def test_random_state_generator_is_accepted():
    f = fast(random_state=np.random.default_rng(3)).fit(sine(60))
    assert f.predict(2).shape == (2,)


def test_verbose_shows_a_progress_bar(capsys):
    fast(verbose=1, cell="gru").fit(sine(100))
    captured = capsys.readouterr()
    assert "gru fit" in captured.err and "update" in captured.err


def test_verbose_zero_prints_nothing(capsys):
    f = fast(verbose=0).fit(sine(100))
    f.partial_fit(sine(50))
    f.update(sine(5))
    f.predict(3)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_history_without_early_stopping():
    f = fast(max_epochs=4).fit(sine(100))
    assert f.n_iter_ == 4 and len(f.loss_curve_) == 4
    assert all(np.isfinite(f.loss_curve_))
    assert f.validation_scores_ is None and f.best_iteration_ is None
    assert f.best_validation_score_ is None


def test_early_stopping_keeps_the_best_weights_and_scores_them_as_predict_would():
    """Validation scores are the MAE (standardised units) of predict(context=...) forecasts
    from origins in the held-out tail; the kept weights are those of the best epoch."""
    n, horizon, context_length, fraction = 300, 10, 30, 0.2
    y, X = sine(n), exog(n)
    for learning_rate in (0.1, 0.3, 0.05, 0.2, 0.5):  # find a run whose last epoch was worse
        f = RNNForecaster(cell="gru", hidden_size=5, max_epochs=5, batch_size=4, tbptt=10,
                          free_run=5, learning_rate=learning_rate, validation_fraction=fraction,
                          validation_horizon=horizon, context_length=context_length,
                          n_iter_no_change=100, tol=0.0, dtype="float64",
                          random_state=0, n_models=1).fit(y, X)
        if f.best_iteration_ < f.n_iter_:
            break
    else:
        pytest.fail("every run improved until its last epoch: the restore is not exercised")
    scores = f.validation_scores_
    assert len(scores) == len(f.loss_curve_) == f.n_iter_ == 5
    assert f.best_iteration_ == int(np.argmin(scores)) + 1
    assert f.best_validation_score_ == min(scores)
    start = round(n * (1 - fraction))
    origins = np.unique(np.linspace(start, n - horizon, VALIDATION_ORIGINS).round().astype(int))
    errors = [np.abs(f.predict(horizon, X=X[o:o + horizon], context=(y[:o], X[:o]))
                     - y[o:o + horizon]) for o in origins]
    score_of_kept_weights = np.mean(errors) / f.y_scale_[0, 0]
    assert score_of_kept_weights == pytest.approx(min(scores), rel=1e-9)


def test_n_iter_no_change_stops_when_validation_does_not_improve():
    f = fast(max_epochs=20, early_stopping=True, n_iter_no_change=3, learning_rate=1e-9,
             validation_fraction=0.2).fit(sine(200))
    # the untrained network is scored first; no epoch beats it, so its weights are kept
    assert f.n_iter_ == 3 and len(f.validation_scores_) == 3
    assert f.best_iteration_ == 0
    assert f.best_validation_score_ == f.initial_validation_score_


def test_early_stopping_on_a_constant_series():
    f = fast(max_epochs=30, early_stopping=True, n_iter_no_change=3, learning_rate=1e-2,
             validation_fraction=0.2).fit(np.full(200, 5.0))
    assert f.n_iter_ < 30 and f.best_iteration_ <= f.n_iter_
    assert f.y_scale_[0, 0] == 1.0
    np.testing.assert_allclose(f.predict(3), 5.0, atol=0.2)


# ------------------------------------------------------------------ warm_start and partial_fit
def test_warm_start_continues_from_the_current_weights():
    y = sine(150)
    f = fast(warm_start=True, learning_rate=1e-2).fit(y)
    first_weights, first_curve = weights(f), list(f.loss_curve_)
    steps = f.optimizer_state_["t"]
    f.fit(y)
    assert f.n_iter_ == 4 and f.loss_curve_[:2] == first_curve and len(f.loss_curve_) == 4
    assert f.optimizer_state_["t"] == 2 * steps  # Adam's moments continue too
    fresh = fast(learning_rate=1e-2).fit(y)
    assert_same_weights(weights(fresh), first_weights)
    assert any(not np.array_equal(a, b) for a, b in zip(weights(f).values(),
                                                         first_weights.values()))
    # a negligible learning rate keeps the weights where the first fit left them
    f.set_params(learning_rate=1e-12)
    before = weights(f)
    f.fit(y)
    for name, value in weights(f).items():
        np.testing.assert_allclose(value, before[name], atol=1e-9, err_msg=name)


def test_without_warm_start_refit_starts_afresh():
    y = sine(150)
    f = fast().fit(y)
    first = weights(f)
    f.fit(y)
    assert f.n_iter_ == 2 and len(f.loss_curve_) == 2
    assert_same_weights(weights(f), first)


def test_partial_fit_runs_one_epoch_and_keeps_the_first_scaling():
    f = fast(max_epochs=3).fit(hourly(sine(150)))
    mean, scale, old_network = f.y_mean_.copy(), f.y_scale_.copy(), f.network_
    old_weights = weights(f)
    more = hourly(100 + 10 * sine(60, phase=1.0), start="2024-02-01")
    f.partial_fit(more)
    assert f.n_iter_ == 4 and len(f.loss_curve_) == 4
    np.testing.assert_array_equal(f.y_mean_, mean)
    np.testing.assert_array_equal(f.y_scale_, scale)
    assert any(not np.array_equal(a, b) for a, b in zip(weights(f).values(),
                                                         old_weights.values()))
    assert_same_weights(old_network.state_dict(), old_weights)  # trained a copy
    # forecasts continue from the end of the new data
    forecast = f.predict(3)
    assert forecast.index[0] == more.index[-1] + pd.Timedelta("1h")
    np.testing.assert_allclose(forecast.to_numpy(), f.predict(3, context=more).to_numpy(),
                               rtol=1e-5, atol=1e-6)


def test_partial_fit_on_an_unfitted_model_fits_one_epoch():
    y = 3 + 2 * sine(120)
    f = fast(max_epochs=10, early_stopping=True).partial_fit(y)
    assert f.n_iter_ == 1 and len(f.loss_curve_) == 1 and f.validation_scores_ is None
    np.testing.assert_allclose(f.y_mean_, [[y.mean()]])
    assert f.predict(2).shape == (2,)


# ------------------------------------------------------------------ lists of series
def test_series_of_different_lengths_train_one_model():
    ys = [sine(300), 10 + sine(40, phase=2.0, seed=1), -sine(90, seed=2)]
    f = fast(batch_size=3).fit(ys)
    assert f.n_series_ == 3 and len(f.end_states_) == 3
    out = f.predict(5)
    assert [o.shape for o in out] == [(5,)] * 3
    assert 7 < out[1].mean() < 13
    with pytest.raises(ValueError, match="list of 3"):
        f.predict(2, context=sine(20))
    # entry i of a context list uses series i's scaling
    shifted = f.predict(5, context=[ys[0], ys[1], ys[2]])
    for a, b in zip(out, shifted):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ it learns
@pytest.mark.parametrize("residual", [True, False], ids=["residual", "direct"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_small_model_beats_the_last_value_on_a_sine(cell, residual):
    y = np.sin(2 * np.pi * np.arange(600) / 20)
    train, test = y[:580], y[580:]
    f = RNNForecaster(cell=cell, hidden_size=8, max_epochs=15, batch_size=4, tbptt=20,
                      learning_rate=1e-2, teacher_forcing=1.0, free_run=10, residual=residual,
                      early_stopping=False, random_state=0).fit(train)
    error = np.mean(np.abs(f.predict(20) - test))
    last_value = np.mean(np.abs(train[-1] - test))
    assert error < 0.5 * last_value, (error, last_value)


def test_residual_head_starts_from_the_last_value_forecast():
    """residual=True predicts the change from the current value and starts at "no change": a
    model that has barely moved from its initial weights forecasts the last value."""
    y = 3 + sine(100)
    barely = dict(learning_rate=1e-12, max_epochs=2)
    residual = fast(residual=True, **barely).fit(y)
    np.testing.assert_allclose(residual.predict(4), y[-1], atol=1e-6)
    direct = fast(residual=False, **barely).fit(y)
    assert not np.allclose(direct.predict(4), y[-1], atol=1e-3)

