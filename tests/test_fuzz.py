"""Property-based fuzzing of the public entry points (hypothesis).

What is fuzzed: ``fit``, ``predict``, ``update``, ``predict_interval``, ``predict_quantiles``
and ``predict_samples`` of the Naive, Markov, ARIMA(1, 0, 0) and a tiny RNN forecaster;
``RNNForecaster.load`` on random and mutated files; and the command line's CSV reader
:func:`tsrnn.datasets.read_csv_series` on generated CSV text.

Properties:

1. only documented errors escape: ValueError and TypeError (and subclasses such as
   :class:`tsrnn.io.ModelFileError`), FloatingPointError for a non-finite forecast,
   NotImplementedError where documented, FileNotFoundError/OSError for files. Never
   IndexError, KeyError, AttributeError, AssertionError, ZeroDivisionError, RecursionError,
   MemoryError, OverflowError, numpy's LinAlgError (a ValueError subclass, refused anyway),
   RuntimeError or anything else;
2. a failed ``fit``/``update`` of a fitted model leaves it as it was: ``predict(3)`` is
   bit-for-bit the same and ``layouts_`` is unchanged (and predict-type calls, failed or not,
   never change a model);
3. every returned forecast is finite with the documented shape and kind; intervals have
   ``lower <= upper``.

Bugs the fuzzing found are fixed and fuzzed again (none is left out of the strategies).

Runs are reproducible (``derandomize=True``, no example database). ``TSRNN_FUZZ_SCALE=10``
multiplies every example budget for a longer local run; ``TSRNN_FUZZ_RANDOM=1`` draws new
examples on every run instead.
"""
import copy
import io
import json
import os
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tsrnn
from tsrnn.datasets import read_csv_series
from tsrnn.io import ModelFileError

_SCALE = float(os.environ.get("TSRNN_FUZZ_SCALE", "1"))
_RANDOM = os.environ.get("TSRNN_FUZZ_RANDOM") == "1"  # explore new examples (not reproducible)


def fuzz_settings(max_examples):
    return settings(max_examples=max(1, int(max_examples * _SCALE)), deadline=None,
                    derandomize=not _RANDOM, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much,
                                           HealthCheck.function_scoped_fixture])


# ------------------------------------------------------------------------------------------------
# the error contract
# ------------------------------------------------------------------------------------------------
FORBIDDEN = (IndexError, KeyError, AttributeError, AssertionError, ZeroDivisionError,
             RecursionError, MemoryError, OverflowError, np.linalg.LinAlgError, RuntimeError)
FIT_ERRORS = (ValueError, TypeError)
PREDICT_ERRORS = (ValueError, TypeError, FloatingPointError)
UNCERTAINTY_ERRORS = (ValueError, TypeError, FloatingPointError, NotImplementedError)
UPDATE_ERRORS = (ValueError, TypeError, NotImplementedError)
RNN_FIT_ERRORS = (ValueError, TypeError, FloatingPointError)  # "training diverged"


def _event(text):
    """Record an outcome for ``--hypothesis-show-statistics`` (inside a hypothesis test)."""
    if currently_in_test_context():
        event(text)


class Failed:
    """What a call raised (a documented error)."""

    def __init__(self, error):
        self.error = error

    def __repr__(self):
        return f"Failed({type(self.error).__name__}: {self.error})"


def attempt(func, allowed):
    """``func()``, or a :class:`Failed` for a documented error; any other error fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                out = func()
        _event("returned")
        return out
    except Exception as error:  # noqa: BLE001 - the point is to classify it
        _event(f"{type(error).__name__}: {' '.join(str(error).split()[:5])[:50]}")
        if isinstance(error, FORBIDDEN) and not isinstance(error, ModelFileError):
            raise AssertionError(
                f"undocumented {type(error).__module__}.{type(error).__name__} escaped: "
                f"{error}") from error
        if not isinstance(error, allowed):
            raise AssertionError(
                f"{type(error).__module__}.{type(error).__name__} is not one of the documented "
                f"{[e.__name__ for e in allowed]}: {error}") from error
        return Failed(error)


# ------------------------------------------------------------------------------------------------
# output checks
# ------------------------------------------------------------------------------------------------
def _values(out):
    return out.to_numpy() if isinstance(out, (pd.Series, pd.DataFrame)) else np.asarray(out)


def _check_index(out, info, h):
    if info["kind"] not in ("series", "frame"):
        return
    index = out.index
    assert len(index) == h
    assert index.is_monotonic_increasing and not index.has_duplicates
    if info["last"] is not None:
        assert index[0] > info["last"], (index[0], info["last"])


def check_point(out, info, h):
    """predict's output (and each interval bound): kind, shape, index, finite."""
    kind, D = info["kind"], info["D"]
    expected = {"1d": (np.ndarray, (h,)), "2d": (np.ndarray, (h, D)),
                "series": (pd.Series, (h,)), "frame": (pd.DataFrame, (h, D))}[kind]
    assert isinstance(out, expected[0]), type(out)
    assert out.shape == expected[1], (out.shape, expected[1])
    values = _values(out)
    assert values.dtype == np.float64
    assert np.all(np.isfinite(values))
    _check_index(out, info, h)
    return values


def check_interval(out, info, h, coverages, several):
    pairs = out if several else {coverages[0]: out}
    if several:
        assert isinstance(out, dict) and set(out) == set(coverages), (list(out), coverages)
    for lower, upper in pairs.values():
        lo, hi = check_point(lower, info, h), check_point(upper, info, h)
        assert np.all(lo <= hi), "lower > upper"


def check_quantiles(out, info, h, n_levels, levels=None):
    """predict_quantiles' output; with ``levels``, also non-decreasing in the level."""
    kind, D = info["kind"], info["D"]
    shape = {"1d": (h, n_levels), "2d": (h, D, n_levels), "series": (h, n_levels),
             "frame": (h, D * n_levels)}[kind]
    assert isinstance(out, pd.DataFrame if kind in ("series", "frame") else np.ndarray)
    assert out.shape == shape, (out.shape, shape)
    values = _values(out)
    assert np.all(np.isfinite(values))
    _check_index(out, info, h)
    if levels is not None:
        by_level = values.reshape(h, D, n_levels)[..., np.argsort(levels, kind="stable")]
        steps = np.diff(by_level, axis=-1)
        tolerance = 1e-9 * np.maximum(np.abs(by_level[..., 1:]), 1.0)
        assert np.all(steps >= -tolerance), "quantiles decrease with the level"


def check_samples(out, info, h, n):
    kind, D = info["kind"], info["D"]
    shape = {"1d": (n, h), "2d": (n, h, D), "series": (h, n), "frame": (h, D * n)}[kind]
    assert isinstance(out, pd.DataFrame if kind in ("series", "frame") else np.ndarray)
    assert out.shape == shape, (out.shape, shape)
    assert np.all(np.isfinite(_values(out)))
    _check_index(out, info, h)


def info_of(model):
    """What the outputs of ``model`` (fitted, no context) must look like."""
    layout = model.layouts_[0]
    return {"kind": layout.kind, "D": model.n_targets_, "last": layout.last,
            "index_kind": layout.index_kind}


def layout_key(model):
    return [tuple((k, repr(v)) for k, v in vars(layout).items()) for layout in model.layouts_]


def snapshot(model):
    """What must not change when a call fails: predict(3) (exact) and layouts_."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        point = model.predict(3)
    return _values(point).copy(), layout_key(model)


def assert_same(model, before, what):
    point, layouts = snapshot(model)
    assert layouts == before[1], f"layouts_ changed by {what}"
    assert point.shape == before[0].shape and np.array_equal(point, before[0]), \
        f"predict(3) changed by {what}: {before[0]} -> {point}"


# ------------------------------------------------------------------------------------------------
# strategies: values
# ------------------------------------------------------------------------------------------------
SPECIALS = [np.nan, np.inf, -np.inf, 1e300, -1e300, 1e150, -1e150, 1.5e150, 5e-324, -5e-324,
            1e-300, 0.0, -0.0, 1.0, 2.0 ** 53, np.finfo(float).max, np.finfo(float).tiny]
ELEMENTS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                     st.sampled_from(SPECIALS))


@st.composite
def float_matrix(draw, max_len=300, max_cols=1, min_len=0):
    """(n, D) float64 values: raw hypothesis floats, constant, integers, or a random walk on a
    random scale with a few special values sprinkled in."""
    n = draw(st.integers(min_len, max_len))
    d = draw(st.integers(1, max_cols))
    how = draw(st.sampled_from(["walk", "walk", "walk", "raw", "constant", "ints", "tiny"]))
    if how == "raw":
        return draw(hnp.arrays(np.float64, (n, d), elements=ELEMENTS))
    if how == "constant":
        return np.full((n, d), draw(st.sampled_from(SPECIALS + [3.0, -7.25])))
    if how == "ints":
        return draw(hnp.arrays(np.int64, (n, d), elements=st.integers(-10 ** 6, 10 ** 6)))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1.0, 1.0, 1.0, 1.0, 1e-300, 1e-8, 1e6, 1e100, 1e147]))
    values = rng.normal(size=(n, d)).cumsum(axis=0) * scale
    if how == "tiny":
        values = rng.normal(size=(n, d)) * 5e-324
    values += draw(st.sampled_from([0.0, 0.0, 0.0, 1e6, -1e12, 1e149]))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3])) if n else 0):
        values[draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))] = \
            draw(st.sampled_from(SPECIALS))
    return values




@st.composite
def index_of(draw, n):
    """A pandas index of length n of a random kind (regular, irregular, unsorted...)."""
    kind = draw(st.sampled_from(["range", "range", "int", "datetime", "datetime", "irregular",
                                 "timedelta", "period", "float", "string", "dupes",
                                 "near_max", "int_extreme"]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    if kind == "range":
        start, step = draw(st.integers(-10 ** 6, 10 ** 6)), draw(st.sampled_from([1, 1, 3, -1]))
        return pd.RangeIndex(start, start + n * step, step)
    if kind == "int":
        step = draw(st.sampled_from([1, 2, 7]))
        start = draw(st.integers(-10 ** 12, 10 ** 12))
        if draw(st.booleans()):
            return pd.Index(start + step * np.arange(n, dtype=np.int64))
        return pd.Index(np.sort(rng.choice(10 * n + 10, size=n, replace=False)).astype(np.int64))
    if kind == "datetime":
        freq = draw(st.sampled_from(["h", "D", "15min", "s", "ms", "MS", "ME", "B", "W-SUN",
                                     "QS", "YE"]))
        start = pd.Timestamp("1990-01-01") + pd.Timedelta(draw(st.integers(0, 10 ** 6)), "h")
        tz = draw(st.sampled_from([None, None, "UTC", "Europe/Berlin"]))
        try:
            return pd.date_range(start, periods=n, freq=freq, tz=tz)
        except ValueError:  # a local time that daylight saving skips or repeats
            return pd.date_range(start, periods=n, freq=freq, tz="UTC")
    if kind == "irregular":
        seconds = np.sort(rng.choice(10 ** 6, size=n, replace=False))
        return pd.DatetimeIndex(pd.Timestamp("2020-01-01") + pd.to_timedelta(seconds, "s"))
    if kind == "timedelta":
        return pd.timedelta_range(0, periods=n, freq=draw(st.sampled_from(["s", "250ms", "h"])))
    if kind == "period":
        return pd.period_range("2000-01", periods=n, freq=draw(st.sampled_from(["M", "D", "Q"])))
    if kind == "float":
        return pd.Index(np.arange(n) * 0.5)
    if kind == "string":
        return pd.Index([f"t{i}" for i in range(n)])
    if kind == "int_extreme":  # labels near the ends of int64
        step = draw(st.sampled_from([1, 7, 2 ** 40, 2 ** 61]))
        low, high = -2 ** 63, 2 ** 63 - 1
        start = draw(st.sampled_from([low, low + 3, high - (n - 1) * step, high - n * step - 2]))
        labels = [start + k * step for k in range(n)]
        assume(all(low <= v <= high for v in labels))
        return pd.Index(np.array(labels, dtype=np.int64))
    if kind == "dupes":
        return pd.Index(np.sort(rng.integers(0, max(n // 2, 1), size=n)).astype(np.int64))
    # a daily index that ends a few days before the last timestamp datetime64[ns] can hold
    end = pd.Timestamp("2262-04-10") - pd.Timedelta(draw(st.integers(0, 3)), "D")
    return pd.date_range(start=end - pd.Timedelta(max(n - 1, 0), "D"), periods=n, freq="D",
                         unit="ns")


@st.composite
def series_like(draw, max_len=300, max_cols=1, min_len=0):
    """A numpy array (1-D or 2-D), a Series or a DataFrame, with a random index."""
    values = draw(float_matrix(max_len=max_len, max_cols=max_cols, min_len=min_len))
    n, d = values.shape
    container = draw(st.sampled_from(["1d", "1d", "series", "series", "2d", "frame", "list"]))
    if container == "1d" or (d > 1 and container in ("series", "list")):
        return values[:, 0] if container == "1d" else values
    if container == "2d":
        return values
    if container == "list":
        return values[:, 0].tolist()
    index = draw(index_of(n))
    if container == "series":
        return pd.Series(values[:, 0], index=index, name=draw(st.sampled_from(["y", None, 0])))
    return pd.DataFrame(values, index=index, columns=[f"c{j}" for j in range(d)])


def mostly(common, rare, weight=3):
    """``common`` about ``weight`` times as often as ``rare`` (so that one invalid argument
    does not hide what the other arguments do)."""
    return st.integers(0, weight).flatmap(lambda k: rare if k == weight else common)


HORIZONS = mostly(
    st.one_of(st.integers(1, 12), st.sampled_from([np.int64(4), np.int32(2), np.uint8(1)])),
    st.one_of(st.integers(-3, 0),
              st.sampled_from([10 ** 12, -10 ** 12, 100_001, 2 ** 63, 2.5, 3.0, float("nan"),
                               "3", None, True, False, np.float64(2.0), [3], (3,), np.array(3),
                               1 + 0j])))
COVERAGES = mostly(
    st.one_of(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True),
              st.lists(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True), min_size=1,
                       max_size=3),
              st.sampled_from([0.9, 0.5, 0.8, 1e-12, 1 - 1e-12, [0.5, 0.9], (0.8,),
                               np.array([0.2, 0.7]), np.float32(0.5), [0.5, 0.5]])),
    st.one_of(st.floats(allow_nan=True, allow_infinity=True),
              st.sampled_from([0, 1, 1.5, -0.5, "0.9", None, True, [], [0.5, "x"],
                               [0.5, float("nan")], [[0.5, 0.9]], {0.5: 1}, 1 + 0j])))
LEVELS = mostly(
    st.one_of(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True),
              st.lists(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True), min_size=1,
                       max_size=5),
              st.sampled_from([0.5, (0.1, 0.5, 0.9), [0.9, 0.1, 0.5], [0.5, 0.5], 1e-12,
                               1 - 1e-12, np.array([0.25, 0.75]), np.array([[0.1, 0.9]])])),
    st.one_of(st.floats(allow_nan=True, allow_infinity=True),
              st.sampled_from([0, 1, "0.5", None, [], [0.1, "x"], [0.1, None], {0.3},
                               True])))
N_SAMPLES = mostly(
    st.one_of(st.integers(1, 40), st.sampled_from([np.int64(5), np.uint8(3)])),
    st.one_of(st.integers(-2, 0),
              st.sampled_from([10 ** 12, 50_000_001, 2 ** 63, 2.5, 10.0, "10", None, True,
                               [5]])))
RANDOM_STATES = st.one_of(st.none(), st.integers(0, 2 ** 32 - 1))


# ------------------------------------------------------------------------------------------------
# fitted models, once per module
# ------------------------------------------------------------------------------------------------
def _fit_values(n=300):
    rng = np.random.default_rng(0)
    t = np.arange(n)
    return 10 + 3 * np.sin(2 * np.pi * t / 12) + np.cumsum(rng.normal(scale=0.3, size=n))


FIT_INPUTS = {
    "array": lambda: _fit_values(),
    "series": lambda: pd.Series(_fit_values(), name="y",
                                index=pd.date_range("2024-01-01", periods=300, freq="h")),
}


def make(name):
    return {
        "naive-last": lambda: tsrnn.NaiveForecaster(),
        "naive-mean": lambda: tsrnn.NaiveForecaster(strategy="mean"),
        "naive-seasonal": lambda: tsrnn.NaiveForecaster(strategy="seasonal", season_length=12),
        "markov": lambda: tsrnn.MarkovForecaster(),
        "markov-diff": lambda: tsrnn.MarkovForecaster(n_states=8, differences=1),
        "arima": lambda: tsrnn.ARIMAForecaster(order=(1, 0, 0)),
        "rnn": lambda: tsrnn.RNNForecaster(hidden_size=4, max_epochs=1, n_models=1,
                                           random_state=0),
    }[name]()


CHEAP = ["naive-last", "naive-mean", "naive-seasonal", "markov", "markov-diff", "arima"]
ALL = CHEAP + ["rnn"]


@pytest.fixture(scope="module")
def fitted():
    """name -> input kind -> a model fitted on that input (never changed by the tests)."""
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ALL:
            models[name] = {kind: make(name).fit(data()) for kind, data in FIT_INPUTS.items()}
    return models


# ------------------------------------------------------------------------------------------------
# 1 + 3: the predict family on fitted models, with random arguments
# ------------------------------------------------------------------------------------------------
def exercise_predictions(model, info, data, horizon=None):
    """Call each predict-type method with random arguments; check errors and outputs."""
    h_arg = data.draw(HORIZONS, label="horizon") if horizon is None else horizon
    h_ok = (isinstance(h_arg, (int, np.integer)) and not isinstance(h_arg, (bool, np.bool_))
            and 1 <= h_arg <= 100_000)

    X = data.draw(st.sampled_from([None] * 6 + [np.zeros(3), np.zeros((3, 1)), [0.0] * 3]),
                  label="X")
    out = attempt(lambda: model.predict(h_arg, X=X), PREDICT_ERRORS)
    if not isinstance(out, Failed):
        assert h_ok, f"predict accepted horizon={h_arg!r}"
        assert X is None, "X accepted by a model fitted without exogenous columns"
        check_point(out, info, int(h_arg))
    else:
        assert not h_ok or X is not None, f"predict({h_arg!r}) failed on a fitted model: {out}"

    coverage = data.draw(COVERAGES, label="coverage")
    out = attempt(lambda: model.predict_interval(h_arg, coverage=coverage), UNCERTAINTY_ERRORS)
    if not isinstance(out, Failed):
        assert h_ok
        several = isinstance(coverage, (list, tuple, np.ndarray))
        coverages = [float(c) for c in np.asarray(coverage, dtype=object).ravel()] \
            if several else [float(coverage)]
        assert all(0 < c < 1 for c in coverages), coverage
        check_interval(out, info, int(h_arg), coverages, several)

    q = data.draw(LEVELS, label="q")
    out = attempt(lambda: model.predict_quantiles(h_arg, q=q), UNCERTAINTY_ERRORS)
    if not isinstance(out, Failed):
        assert h_ok
        levels = np.atleast_1d(np.asarray(q, dtype=object)).ravel()
        assert all(0 < float(v) < 1 for v in levels), q
        check_quantiles(out, info, int(h_arg), levels.size, levels.astype(np.float64))

    n_samples = data.draw(N_SAMPLES, label="n_samples")
    seed = data.draw(RANDOM_STATES, label="random_state")
    out = attempt(lambda: model.predict_samples(h_arg, n_samples=n_samples, random_state=seed),
                  UNCERTAINTY_ERRORS)
    if not isinstance(out, Failed):
        assert h_ok
        assert isinstance(n_samples, (int, np.integer)) and n_samples >= 1, n_samples
        check_samples(out, info, int(h_arg), int(n_samples))


@pytest.mark.parametrize("kind", sorted(FIT_INPUTS))
@pytest.mark.parametrize("name", CHEAP)
@fuzz_settings(40)
@given(data=st.data())
def test_predict_family_arguments(fitted, name, kind, data):
    model = fitted[name][kind]
    before = snapshot(model)
    exercise_predictions(model, info_of(model), data)
    assert_same(model, before, "a predict-type call")


@pytest.mark.parametrize("kind", sorted(FIT_INPUTS))
@fuzz_settings(12)
@given(data=st.data())
def test_predict_family_arguments_rnn(fitted, kind, data):
    model = fitted["rnn"][kind]
    before = snapshot(model)
    exercise_predictions(model, info_of(model), data)
    assert_same(model, before, "a predict-type call")


@pytest.mark.parametrize("name", ["naive-last", "markov", "arima"])
@fuzz_settings(25)
@given(data=st.data(), context=series_like(max_len=60))
def test_predict_with_random_context(fitted, name, data, context):
    """A random context: a documented error, or a finite forecast of the context's kind."""
    model = fitted[name][data.draw(st.sampled_from(sorted(FIT_INPUTS)), label="fitted on")]
    before = snapshot(model)
    out = attempt(lambda: model.predict(3, context=context), PREDICT_ERRORS)
    if not isinstance(out, Failed):
        kind = ("1d" if isinstance(context, list) else
                {pd.Series: "series", pd.DataFrame: "frame"}.get(type(context))
                or ("1d" if np.ndim(context) == 1 else "2d"))
        last = context.index[-1] if kind in ("series", "frame") else None
        check_point(out, {"kind": kind, "D": 1, "last": last}, 3)
        out = attempt(lambda: model.predict_interval(3, 0.8, context=context),
                      UNCERTAINTY_ERRORS)
        if not isinstance(out, Failed):
            check_interval(out, {"kind": kind, "D": 1, "last": last}, 3, [0.8], False)
    assert_same(model, before, "predict with a context")


# ------------------------------------------------------------------------------------------------
# 1 + 2 + 3: update and refit of fitted models
# ------------------------------------------------------------------------------------------------
@st.composite
def update_for(draw, layout):
    """New observations for a model whose index ends with ``layout``: mostly continuing the
    index (consecutive, with gaps, overlapping, other step), sometimes anything at all."""
    how = draw(st.sampled_from(["continue", "continue", "continue", "array", "anything"]))
    if how == "anything" or (how == "continue" and layout.index_kind is None):
        return draw(series_like(max_len=40, max_cols=2))
    values = draw(float_matrix(max_len=40, min_len=0))[:, 0]
    n = values.size
    if how == "array":
        return values
    offset = draw(st.sampled_from([1, 1, 1, 0, -5, 2, 50, 100_001, 10 ** 9]))
    steps = np.arange(n) + offset
    if n > 1 and draw(st.booleans()):  # gaps, repeats, unsorted
        steps = offset + np.sort(draw(st.lists(st.integers(0, 3 * n), min_size=n, max_size=n,
                                               unique=draw(st.integers(0, 4)) < 4)))
    if draw(st.integers(0, 4)) == 4:  # another step or off the grid
        steps = steps * draw(st.sampled_from([0.5, 2.0, 1.5, 24.0]))
    try:
        index = pd.DatetimeIndex(layout.last + pd.to_timedelta(steps, "h"))
    except (OverflowError, ValueError):
        assume(False)
    if draw(st.integers(0, 5)) == 5:
        index = index.tz_localize("UTC")
    return pd.Series(values, index=index, name="y")


def _per_series(out, model):
    """``[(output, info)]`` per fitted series: a list-input model (fitted on a list, or loaded
    from a file that says so) returns one output per series."""
    infos = [{"kind": layout.kind, "D": model.n_targets_, "last": layout.last,
              "index_kind": layout.index_kind} for layout in model.layouts_]
    if not model.list_input_:
        return [(out, infos[0])]
    assert isinstance(out, list) and len(out) == model.n_series_, type(out)
    return list(zip(out, infos))


def _check_after_success(model, what):
    """After a successful fit/update/load: the model still predicts (finite, documented
    shape)."""
    out = attempt(lambda: model.predict(3), PREDICT_ERRORS)
    if not isinstance(out, Failed):
        for one, info in _per_series(out, model):
            check_point(one, info, 3)
    out = attempt(lambda: model.predict_interval(3, [0.5, 0.9]), UNCERTAINTY_ERRORS)
    if not isinstance(out, Failed):
        assert isinstance(out, dict) and set(out) == {0.5, 0.9}, out
        bounds = {c: list(zip(*(_per_series(bound, model) for bound in pair)))
                  for c, pair in out.items()}
        for i in range(model.n_series_ if model.list_input_ else 1):
            for c in (0.5, 0.9):
                (lower, info), (upper, _) = bounds[c][i]
                check_interval((lower, upper), info, 3, [c], False)
    out = attempt(lambda: model.predict_quantiles(2, [0.1, 0.5, 0.9]), UNCERTAINTY_ERRORS)
    if not isinstance(out, Failed):
        for one, info in _per_series(out, model):
            check_quantiles(one, info, 2, 3, np.array([0.1, 0.5, 0.9]))
    out = attempt(lambda: model.predict_samples(2, 5, random_state=0), UNCERTAINTY_ERRORS)
    if not isinstance(out, Failed):
        for one, info in _per_series(out, model):
            check_samples(one, info, 2, 5)


@pytest.mark.parametrize("kind", sorted(FIT_INPUTS))
@pytest.mark.parametrize("name", ALL)
@fuzz_settings(25)
@given(data=st.data())
def test_update(fitted, name, kind, data):
    model = copy.deepcopy(fitted[name][kind])
    new = data.draw(update_for(model.layouts_[0]), label="update")
    before = snapshot(model)
    out = attempt(lambda: model.update(new), UPDATE_ERRORS)
    if isinstance(out, Failed):
        assert_same(model, before, f"a failed update ({out})")
    else:
        assert out is model
        _check_after_success(model, "update")


@pytest.mark.parametrize("name", ALL)
@fuzz_settings(20)
@given(data=st.data())
def test_refit(fitted, name, data):
    """Refitting a fitted model on random data: documented errors leave it as it was."""
    model = copy.deepcopy(fitted[name][data.draw(st.sampled_from(sorted(FIT_INPUTS)))])
    new = data.draw(series_like(max_len=300 if name != "arima" else 150,
                                max_cols=1 if name == "arima" else 3), label="y")
    before = snapshot(model)
    out = attempt(lambda: model.fit(new), RNN_FIT_ERRORS if name == "rnn" else FIT_ERRORS)
    if isinstance(out, Failed):
        assert_same(model, before, f"a failed fit ({out})")
    else:
        assert out is model
        _check_after_success(model, "fit")


@pytest.mark.parametrize("name", ["naive-last", "naive-seasonal", "markov"])
@fuzz_settings(15)
@given(data=st.data())
def test_fit_list_and_bad_objects(name, data):
    """Lists of series, exogenous X where none is used, and objects that are not series."""
    y = data.draw(st.one_of(
        st.lists(series_like(max_len=30), min_size=0, max_size=3),
        st.sampled_from([None, 3.0, "abc", b"xy", {"a": 1}, object(), [[]], [[1.0], [2.0, 3.0]],
                         np.array([["a", "b"]]), np.zeros((3, 0)), np.zeros((2, 2, 2)),
                         np.array([1 + 1j, 2.0]), pd.DataFrame(), np.array([True, False, True]),
                         pd.Series(["1", "2", "3"]), pd.Series([1.0, 2.0], dtype="category"),
                         np.array(["2024-01-01"], dtype="M8[D]"), np.array([1.0, 2.0], "f2")])),
        label="y")
    X = data.draw(st.sampled_from([None, None, np.zeros(3)]), label="X")
    model = make(name)
    out = attempt(lambda: model.fit(y, X), FIT_ERRORS)
    if not isinstance(out, Failed):
        preds = attempt(lambda: model.predict(2), PREDICT_ERRORS)
        if not isinstance(preds, Failed):
            for p in (preds if isinstance(preds, list) else [preds]):
                assert np.all(np.isfinite(_values(p))) and len(p) == 2


# ------------------------------------------------------------------------------------------------
# the tiny RNN: fit on random data
# ------------------------------------------------------------------------------------------------
@fuzz_settings(15)
@given(y=series_like(max_len=200, max_cols=2))
def test_rnn_fit(y):
    model = make("rnn")
    out = attempt(lambda: model.fit(y), RNN_FIT_ERRORS)
    if not isinstance(out, Failed):
        _check_after_success(model, "fit")


# ------------------------------------------------------------------------------------------------
# RNNForecaster.load on random and mutated files
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_files(fitted, tmp_path_factory):
    """The bytes of valid saved models (fitted on an array and on a Series)."""
    directory = tmp_path_factory.mktemp("models")
    files = {}
    for kind, model in fitted["rnn"].items():
        path = directory / f"{kind}.tsrnn"
        model.save(path)
        files[kind] = Blob(path.read_bytes())
    return files


class Blob(bytes):
    """Bytes with a short repr (hypothesis prints the fixtures of a failing example)."""

    def __repr__(self):
        return f"<{len(self)} bytes>"


def load_checked(path):
    """Load ``path``: a ModelFileError, or a model that predicts finitely (or says why not)."""
    out = attempt(lambda: tsrnn.RNNForecaster.load(path), (ModelFileError,))
    if not isinstance(out, Failed):
        assert isinstance(out, tsrnn.RNNForecaster)
        _check_after_success(out, "load")
    return out


@fuzz_settings(40)
@given(blob=st.one_of(st.binary(max_size=600),
                      st.binary(max_size=600).map(lambda b: b"PK\x03\x04" + b),
                      st.binary(max_size=300).map(lambda b: b"PK\x05\x06" + b.ljust(18, b"\0"))))
def test_load_random_bytes(tmp_path_factory, blob):
    path = tmp_path_factory.getbasetemp() / "random.tsrnn"
    path.write_bytes(blob)
    assert isinstance(load_checked(path), Failed)


@fuzz_settings(60)
@given(data=st.data())
def test_load_truncated_or_flipped(model_files, tmp_path_factory, data):
    good = model_files[data.draw(st.sampled_from(sorted(model_files)), label="model")]
    how = data.draw(st.sampled_from(["truncate", "flip", "flip", "flip_tail"]), label="how")
    if how == "truncate":
        blob = good[:data.draw(st.integers(0, len(good) - 1), label="length")]
    else:
        low = len(good) - 400 if how == "flip_tail" else 0  # the zip directory lives at the end
        position = data.draw(st.integers(max(low, 0), len(good) - 1), label="position")
        mask = data.draw(st.integers(1, 255), label="mask")
        blob = bytearray(good)
        blob[position] ^= mask
        blob = bytes(blob)
    path = tmp_path_factory.getbasetemp() / "mutated.tsrnn"
    path.write_bytes(blob)
    out = load_checked(path)
    if how == "truncate":
        assert isinstance(out, Failed), "a truncated model file loaded"


JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from([0, -1, 1, 10 ** 9, 1e308, "float64", "lstm", "gru", "h", "D", "V8"]))
JSON_VALUES = st.one_of(
    JSON_LEAVES, st.lists(JSON_LEAVES, max_size=3),
    st.dictionaries(st.text(max_size=5), JSON_LEAVES, max_size=3),
    st.sampled_from([{"timestamp": "2024-01-01"}, {"timestamp": "x"}, {"offset": "h"},
                     {"offset": "MS"}, {"offset": "?"}, {"timedelta": 2 ** 70},
                     {"period": "2024-01", "freq": "M"}, {"dtype": "int64"},
                     {"dtype": "datetime64[ns]"}, {"dtype": "category"}, {"tuple": [1, 2]},
                     {"index": [1, 2], "dtype": "int64"}, {"index": [], "dtype": "x"},
                     [[[[]]]], [{"kind": "level"}]]))


def _leaves(value, path=()):
    """Every path into a JSON value (object keys and list positions)."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, path + (i,))


def _replace(value, path, new):
    if not path:
        return new
    value = copy.copy(value)
    value[path[0]] = _replace(value[path[0]], path[1:], new)
    return value


def _npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _members(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {name[:-4]: np.lib.format.read_array(archive.open(name), allow_pickle=False)
                for name in archive.namelist()}


@fuzz_settings(100)
@given(data=st.data())
def test_load_mutated_contents(model_files, tmp_path_factory, data):
    """Well-formed archives whose header JSON or arrays were changed: a ModelFileError, or a
    model that predicts finitely."""
    arrays = _members(model_files[data.draw(st.sampled_from(sorted(model_files)), label="model")])
    header = json.loads(str(arrays["__header__"][()]))
    if data.draw(st.booleans(), label="mutate header"):
        paths = list(_leaves(header))
        path = data.draw(st.sampled_from(paths[1:]), label="path")
        action = data.draw(st.sampled_from(["replace", "delete"]), label="action")
        if action == "delete":
            parent = _replace(header, (), header)
            target = parent
            for key in path[:-1]:
                target = target[key]
            target = copy.deepcopy(target)
            del target[path[-1]]
            header = _replace(header, path[:-1], target)
        else:
            header = _replace(header, path, data.draw(JSON_VALUES, label="value"))
        arrays["__header__"] = np.array(json.dumps(header))
    else:
        name = data.draw(st.sampled_from(sorted(set(arrays) - {"__header__"})), label="array")
        action = data.draw(st.sampled_from(["values", "shape", "dtype", "delete", "extra"]),
                           label="action")
        a = arrays[name]
        if action == "values" and a.size:
            a = a.copy()
            value = data.draw(st.sampled_from([np.nan, np.inf, -1.0, 0.0, 1e300, 1e38, -1e300,
                                               2 ** 40]))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # inf where the dtype cannot hold 1e300
                a.flat[data.draw(st.integers(0, a.size - 1))] = value
        elif action == "shape":
            shape = tuple(data.draw(st.lists(st.integers(0, 5), max_size=3), label="shape"))
            a = np.ones(shape, dtype=a.dtype)
        elif action == "dtype":
            dtype = data.draw(st.sampled_from(["f4", "f8", "i8", "u1", "?", ">f8"]))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # NaN cast to integers
                a = a.astype(dtype)
        if action == "delete":
            del arrays[name]
        elif action == "extra":
            arrays[name + "_extra"] = a
        else:
            arrays[name] = a
    path = tmp_path_factory.getbasetemp() / "contents.tsrnn"
    path.write_bytes(_npz_bytes(arrays))
    load_checked(path)


def test_load_missing_file_and_directory(tmp_path):
    with pytest.raises(OSError):
        tsrnn.RNNForecaster.load(tmp_path / "absent.tsrnn")
    with pytest.raises(OSError):
        tsrnn.RNNForecaster.load(tmp_path)


# ------------------------------------------------------------------------------------------------
# read_csv_series on generated CSV text
# ------------------------------------------------------------------------------------------------


@st.composite
def time_cells(draw, n):
    kind = draw(st.sampled_from(["int", "int", "float", "date", "datetime", "datetime",
                                 "duration", "garbage", "mixed"]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    step = draw(st.sampled_from([1, 1, 2, 3, 1000]))
    ticks = np.arange(n) * step + draw(st.integers(-10 ** 6, 10 ** 6))
    shape = draw(st.sampled_from(["regular", "regular", "gaps", "shuffled", "dupes", "random"]))
    if shape == "gaps" and n > 2:
        ticks = np.delete(ticks, rng.choice(n, size=max(1, n // 5), replace=False))
    elif shape == "shuffled":
        ticks = rng.permutation(ticks)
    elif shape == "dupes" and n > 1:
        ticks[-1] = ticks[0]
    elif shape == "random":
        ticks = rng.integers(-10 ** 9, 10 ** 9, size=n)
    if kind == "int":
        return [str(int(t)) for t in ticks]
    if kind == "float":
        return [repr(float(t) * draw(st.sampled_from([0.5, 0.1, 1e-9, 1e300]))) for t in ticks]
    if kind == "date":
        return [str((pd.Timestamp("2000-01-01") + pd.Timedelta(int(t) % 10 ** 5, "D")).date())
                for t in ticks]
    if kind == "datetime":
        unit = draw(st.sampled_from(["s", "min", "h"]))
        suffix = draw(st.sampled_from(["", "", "Z", "+02:00"]))
        return [(pd.Timestamp("2024-01-01") + pd.Timedelta(int(t), unit)).isoformat() + suffix
                for t in ticks]
    if kind == "duration":
        return [str(pd.Timedelta(int(t) * 500, "ms")) for t in ticks]
    if kind == "garbage":
        return draw(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)),
                                     max_size=6), min_size=n, max_size=n))
    cells = [str(int(t)) for t in ticks]
    for _ in range(draw(st.integers(1, 3)) if cells else 0):
        cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(
            ["", "nan", "abc", "2024-01-01", "1.5", "00:00:01", "True", "1e400", "-0", "NaT"]))
    return cells


VALUE_CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10 ** 30, 10 ** 30).map(str),
    st.sampled_from(["", "", "nan", "NaN", "inf", "-inf", "1e308", "1e400", "-1e400", "1e150",
                     "1.5e150", "abc", "1,5", "0x10", "True", "  3 ", "NA", "null", "1_000"]),
    st.text(max_size=5))


@st.composite
def csv_texts(draw):
    n = draw(st.integers(0, 40))
    times = draw(time_cells(n))
    regular = draw(st.floats(-1e3, 1e3, allow_nan=False))
    values = [repr(regular + 0.5 * i) for i in range(n)]
    for i in draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=4)) if n else []:
        values[i] = draw(VALUE_CELLS)
    header = draw(st.sampled_from(["time,value"] * 5 + ["time,value,other", "value,time",
                                                        "time", "t,value", "",
                                                        "time,value,value"]))
    sep = draw(st.sampled_from([","] * 6 + [";", "\t"]))
    columns = header.split(",") if header else []
    lines = [sep.join(columns)] if header else []
    for t, v in zip(times, values):
        row = {"time": t, "t": t, "value": v, "other": "x"}
        lines.append(sep.join(row.get(c, "") for c in columns) if columns else t)
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n", "\r\n"]))
    if draw(st.integers(0, 9)) == 9:  # quoting trouble, stray bytes
        text = text.replace(sep, draw(st.sampled_from(['"', '",', sep + '"'])), 1)
    return text


@fuzz_settings(250)
@given(text=csv_texts(), encoding=st.sampled_from(["utf-8"] * 6 + ["utf-16", "latin-1"]))
def test_read_csv_series(tmp_path_factory, text, encoding):
    path = tmp_path_factory.getbasetemp() / "fuzz.csv"
    try:
        path.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        assume(False)
    out = attempt(lambda: read_csv_series(path, "value"), (ValueError,))
    if isinstance(out, Failed):
        return
    series = out.series
    assert isinstance(series, pd.Series) and series.dtype == np.float64
    assert out.time_kind in ("datetime", "timedelta", "seconds", "int")
    index = series.index
    assert index.is_monotonic_increasing and not index.has_duplicates
    assert series.notna().sum() >= 2
    if len(index) >= 3:  # a regular grid
        diffs = np.diff(index.asi8 if out.time_kind != "int" else index.to_numpy())
        if out.time_kind == "int" or index.freq is None or isinstance(
                index.freq, pd.offsets.Tick):
            assert np.all(diffs == diffs[0]), diffs
    # what the command does next: fit a forecaster on it (gaps interpolated)
    missing = "interpolate" if series.isna().any() else "raise"
    model = tsrnn.NaiveForecaster(missing=missing)
    fit = attempt(lambda: model.fit(series), FIT_ERRORS)
    if not isinstance(fit, Failed):
        forecast = attempt(lambda: model.predict(3), PREDICT_ERRORS)
        if not isinstance(forecast, Failed):
            check_point(forecast, {"kind": "series", "D": 1, "last": index[-1]}, 3)
            np.asarray(out.output_times(forecast.index))


@pytest.mark.parametrize("column", ["value", "missing", "", "time"])
def test_read_csv_series_paths(tmp_path, column):
    with pytest.raises(FileNotFoundError):
        read_csv_series(tmp_path / "absent.csv", column)
    with pytest.raises(OSError):
        read_csv_series(tmp_path, column)
    (tmp_path / "ok.csv").write_text("time,value\n1,2.0\n2,3.0\n3,4.0\n")
    out = attempt(lambda: read_csv_series(tmp_path / "ok.csv", column), (ValueError,))
    assert isinstance(out, Failed) == (column != "value")
