"""Converting and checking what users pass: one path for ``fit``, ``update`` and ``predict``.

A user gives a pandas Series or DataFrame, a 1-D or 2-D array-like, or a list of those (several
series), each optionally with exogenous columns ``X``. This module turns each one into a
:class:`Table`: C-contiguous float64 values of shape ``(n, columns)``, the
:class:`SeriesLayout` that says how it was given and where its index ends, and its pandas
index. :func:`convert_observations` is the single sequence convert -> fill or reject missing
values -> match the fitted columns -> check that ``X`` is aligned with ``y``, used for fit
data, updates, contexts and future exogenous values alike.

Nothing here knows about models; :mod:`tsrnn.forecasters._base` builds the estimator contract
on top of it, and :mod:`tsrnn.model_selection` uses it to read series.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from tsrnn._checks import check_int, check_option, check_real

__all__ = ["SeriesLayout", "Table", "Columns", "Context", "to_table", "infer_step",
           "with_index_end", "fill_missing", "split_list", "split_pairs", "item_name",
           "match_columns", "check_aligned", "convert_observations", "exog_name", "wrap",
           "check_horizon",
           "check_coverage", "check_missing", "MISSING_OPTIONS", "MAX_NETWORK_BYTES",
           "check_network_bytes", "training_bytes"]

MISSING_OPTIONS = ("raise", "interpolate")
MAX_HORIZON = 100_000
"""Most steps one forecast may ask for: a request is refused before anything is allocated.
Raise it (``tsrnn._input.MAX_HORIZON = ...``) for a longer forecast."""
MAX_NETWORK_BYTES = 4 * 2 ** 30
"""Most memory a fit's networks may take (weights, gradients, optimiser moments and the
activations of a training window, over all ensemble members): beyond it ``fit`` raises a
ValueError naming the sizes, before anything is allocated. Raise it
(``tsrnn._input.MAX_NETWORK_BYTES = ...``) for a larger network."""


_GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def training_bytes(cell, n_inputs, hidden_size, num_layers, batch, steps, dtype,
                   directions=1, n_outputs=1):
    """Estimated bytes of one recurrent network in training: weights, gradients and two
    optimiser moments, and the activations (gates, states and their gradients) of a window of
    ``steps`` over ``batch`` rows, in every layer and direction."""
    G, H, L = _GATES[cell], hidden_size, num_layers
    weights = directions * (G * H * (n_inputs + H + 2)
                            + (L - 1) * G * H * (directions * H + H + 2) + H * n_outputs)
    activations = steps * batch * L * directions * (G + 4) * H
    # measured peaks were 2-3 times the arrays counted here, plus some 20 KiB a layer
    return (3 * np.dtype(dtype).itemsize * (4 * weights + activations)
            + L * directions * 32 * 2 ** 10)


def check_network_bytes(needed, sizes):
    """Raise a ValueError when ``needed`` bytes exceed :data:`MAX_NETWORK_BYTES`; ``sizes``
    says which parameters make them (``"hidden_size=64, num_layers=1"``)."""
    if needed > MAX_NETWORK_BYTES:
        raise ValueError(
            f"the network would need about {needed / 2 ** 30:,.1f} GiB ({sizes}), more than "
            f"the limit of {MAX_NETWORK_BYTES / 2 ** 30:g} GiB "
            f"(tsrnn._input.MAX_NETWORK_BYTES): choose smaller sizes, or raise the limit")


@dataclass(frozen=True)
class SeriesLayout:
    """How one series was given, and where its index ends.

    Attributes
    ----------
    kind : {"series", "frame", "1d", "2d"}
    name : object
        The Series' name.
    columns : pandas.Index or None
        The DataFrame's columns.
    index_kind : {"datetime", "timedelta", "period", "range", "int"} or None
        None for arrays.
    last : object
        The last index label seen.
    step : pandas offset, int or None
        The spacing used to continue the index.
    index_name, index_dtype : object
        Restored on forecast indexes.
    n_seen : int
        Rows seen (fit data plus updates).
    """

    kind: str
    name: object = None
    columns: object = None
    index_kind: object = None
    last: object = None
    step: object = None
    index_name: object = None
    index_dtype: object = None
    n_seen: int = 0

    @property
    def is_pandas(self):
        return self.kind in ("series", "frame")

    def advanced(self, n):
        """The layout after ``n`` more rows whose index labels were not given."""
        self.check_room(n, f"an update of {n:,} row(s)")
        last = self.last
        if self.index_kind in ("datetime", "timedelta", "range", "int"):
            last = last + n * self.step
        elif self.index_kind == "period":
            last = last + n
        return self.with_changes(last=last, n_seen=self.n_seen + n)

    def with_changes(self, **changes):
        """A copy with ``changes``: what dataclasses.replace does, without its per-call field
        introspection (streaming updates call this once per observation batch)."""
        copy = object.__new__(SeriesLayout)
        copy.__dict__.update(self.__dict__, **changes)
        return copy

    def check_room(self, n, what):
        """Raise a ValueError unless ``n`` more labels after ``last`` fit the index's dtype.

        One addition, before anything is built: past their largest value numpy integers wrap
        to negative labels without a word, and pandas fails past its latest timestamp with a
        bare AssertionError or OutOfBoundsDatetime. ``what`` names the request in the message
        (``"horizon=5"``).
        """
        if self.index_kind in ("range", "int"):
            dtype = _integer_dtype(self.index_dtype if self.index_kind == "int" else None)
            largest = int(np.iinfo(dtype).max)
            if int(self.last) + n * int(self.step) > largest:
                raise self._overflow(n, what, f"{dtype} index (largest label {largest})",
                                     "shift the labels (e.g. subtract a constant)")
        elif self.index_kind in ("datetime", "timedelta", "period"):
            try:
                self.last + (n if self.index_kind == "period" else n * self.step)
            except (OverflowError, ValueError):  # OutOfBounds* errors are ValueErrors
                dtype = self.index_dtype if self.index_dtype is not None else self.index_kind
                raise self._overflow(n, what, f"{dtype} index", "store the index in a coarser "
                                     "unit (e.g. index.as_unit('s'))") from None

    def _overflow(self, n, what, index, remedy):
        step = "period(s)" if self.index_kind == "period" else f"step(s) of {self.step!r}"
        return ValueError(
            f"{what} would overflow the {index}: {n:,} {step} after the last label "
            f"{self.last} do not fit; ask for fewer steps or {remedy}")

    def future_index(self, horizon):
        """The ``horizon`` index labels that follow ``last`` (None for arrays).

        Raises
        ------
        ValueError
            When those labels would not fit the index's dtype (see :meth:`check_room`).
        """
        if self.index_kind is None:
            return None
        self.check_room(horizon, f"horizon={horizon:,}")
        first = self.last + (1 if self.index_kind == "period" else self.step)
        if self.index_kind == "datetime":
            index = pd.date_range(start=first, periods=horizon, freq=self.step)
        elif self.index_kind == "timedelta":
            index = pd.timedelta_range(start=first, periods=horizon, freq=self.step)
        elif self.index_kind == "period":
            index = pd.period_range(start=first, periods=horizon, freq=self.last.freq)
        elif self.index_kind == "range":
            index = pd.RangeIndex(first, first + horizon * self.step, self.step)
        else:  # "int": in the index's own dtype, as uint64 + int64 would give float64
            dtype = _integer_dtype(self.index_dtype)
            steps = np.arange(1, horizon + 1, dtype=dtype) * dtype.type(self.step)
            index = pd.Index(dtype.type(self.last) + steps)
        if self.index_dtype is not None and self.index_kind in ("datetime", "timedelta", "int"):
            index = index.astype(self.index_dtype)
        return index.rename(self.index_name)


def _integer_dtype(index_dtype):
    """The numpy integer dtype of an integer index (int64 for RangeIndex and unknown)."""
    dtype = getattr(index_dtype, "numpy_dtype", index_dtype)  # nullable Int64 -> int64
    if dtype is None or np.dtype(dtype).kind not in "iu":
        return np.dtype(np.int64)
    return np.dtype(dtype)


@dataclass
class Table:
    """One converted table: float64 values (n, k), its layout, and its pandas index (or None)."""

    values: np.ndarray
    layout: SeriesLayout
    index: object = None


@dataclass(frozen=True)
class Columns:
    """The columns a model was fitted with: how many, and their names (DataFrames only)."""

    count: int
    names: object = None

    @classmethod
    def of(cls, table):
        names = table.layout.columns if table.layout.kind == "frame" else None
        return cls(table.values.shape[1], names)


@dataclass
class Context:
    """Known history to forecast from, in model units, as the forecasters' cores receive it.

    Attributes
    ----------
    y : ndarray of shape (m, D)
    X : ndarray of shape (m, E) or None
    layout : SeriesLayout
        How the context was given and where its index ends (a model with positions in a
        seasonal cycle places the context by it).
    series : int or ContextScaling
        The fitted series whose state and scaling the context uses, or (for a forecaster
        that scales contexts by their own values) the context's own moments.
    name : str
        How messages name the context (``"context"`` or ``"context[i]"``).
    """

    y: np.ndarray
    X: object
    layout: SeriesLayout
    series: int
    name: str = "context"


# ------------------------------------------------------------------ one table
def _check_numeric_dtype(dtype, label, what):
    if isinstance(dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(dtype):
        raise TypeError(
            f"{what} must be numeric, but {label} has dtype {dtype}; convert it to numbers "
            f"(e.g. with pd.to_numeric) or drop it"
        )
    if pd.api.types.is_complex_dtype(dtype):
        raise TypeError(f"{what} must be real-valued, but {label} has complex dtype {dtype}")


def _check_index(index, what):
    if index.has_duplicates:
        dupes = index[index.duplicated()].unique()[:3]
        raise ValueError(
            f"{what} has duplicate index labels (timestamps), e.g. "
            f"{[str(label) for label in dupes]}; "
            f"aggregate or drop them first"
        )
    if not index.is_monotonic_increasing:
        raise ValueError(
            f"{what} has an unsorted index; sort it first (e.g. {what}.sort_index())"
        )


def _series_values(obj, what):
    label = "the series" if obj.name is None else f"the series {obj.name!r}"
    _check_numeric_dtype(obj.dtype, label, what)
    values = obj.to_numpy(dtype=np.float64, na_value=np.nan).reshape(-1, 1)
    return values, SeriesLayout(kind="series", name=obj.name), obj.index


def _frame_values(obj, what):
    if obj.shape[1] == 0:
        raise ValueError(f"{what} is empty: the DataFrame has no columns")
    for column, dtype in obj.dtypes.items():
        _check_numeric_dtype(dtype, f"column {column!r}", what)
    if obj.columns.has_duplicates:
        raise ValueError(f"{what} has duplicate column names: {list(obj.columns)}")
    values = obj.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, SeriesLayout(kind="frame", columns=obj.columns.copy()), obj.index


def _numeric_array(obj, what):
    if obj is None:
        raise TypeError(f"{what} must be array-like or pandas, got None")
    if isinstance(obj, (str, bytes)) or np.isscalar(obj):
        raise TypeError(
            f"{what} must be a Series, DataFrame or array-like of numbers, got a scalar "
            f"{type(obj).__name__}"
        )
    array = np.asarray(obj)
    if array.dtype.kind in "mMV":
        raise TypeError(f"{what} must be numeric, got an array of dtype {array.dtype}")
    if array.dtype.kind in "USO":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{what} must be numeric, but it holds values of dtype {array.dtype} that "
                f"cannot be converted to float"
            ) from None
    if array.dtype.kind == "c":
        raise TypeError(f"{what} must be real-valued, got complex dtype {array.dtype}")
    return array


def _array_values(obj, what):
    array = _numeric_array(obj, what)
    if array.ndim == 0 or array.ndim > 2:
        raise ValueError(
            f"{what} must be 1-D (n,) or 2-D (n, columns), got an array with shape "
            f"{array.shape}"
        )
    values = np.array(array, dtype=np.float64)
    if array.ndim == 1:
        return values.reshape(-1, 1), SeriesLayout(kind="1d"), None
    return values, SeriesLayout(kind="2d"), None


def to_table(obj, what):
    """Convert one Series/DataFrame/array-like to a float64 (n, k) :class:`Table`.

    Parameters
    ----------
    obj : pandas.Series, pandas.DataFrame or array-like of shape (n,) or (n, k)
    what : str
        How error messages name ``obj`` (e.g. ``"y[2]"``).

    Returns
    -------
    Table
        Its values may hold NaN or infinities (see :func:`fill_missing`).

    Examples
    --------
    >>> from tsrnn._input import to_table
    >>> to_table([1, 2, 3], "y").values.shape
    (3, 1)
    """
    if isinstance(obj, pd.Series):
        values, layout, index = _series_values(obj, what)
    elif isinstance(obj, pd.DataFrame):
        values, layout, index = _frame_values(obj, what)
    else:
        values, layout, index = _array_values(obj, what)
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError(f"{what} is empty: got shape {values.shape}; need at least one value")
    if index is not None:
        _check_index(index, what)
    return Table(np.ascontiguousarray(values), layout.with_changes(n_seen=values.shape[0]),
                 index)


# ------------------------------------------------------------------ index ends
def infer_step(index):
    """The frequency of a datetime/timedelta index: its ``freq``, inferred, or None.

    Examples
    --------
    >>> import pandas as pd
    >>> from tsrnn._input import infer_step
    >>> infer_step(pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-03"]))
    <Day>
    """
    if index.freq is not None:
        return index.freq
    if len(index) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            freq = pd.infer_freq(index)
        if freq is not None:
            return to_offset(freq)
    if len(index) >= 2:
        diffs = index[1:] - index[:-1]
        if diffs.nunique() == 1:
            return to_offset(diffs[0])
    return None


def _integer_step(index, what):
    labels = index.to_numpy()
    if labels.size > 1 and labels.dtype.kind in "iu":
        # the spacing in Python integers: np.diff would wrap around past int64
        spacing = int(labels[-1]) - int(labels[0])
        if abs(spacing) > np.iinfo(np.int64).max:
            raise ValueError(f"{what} has an integer index whose spacing does not fit in "
                             f"int64 ({int(labels[0])} to {int(labels[-1])})")
    diffs = np.unique(np.diff(labels))
    if len(diffs) > 1:
        raise ValueError(
            f"{what} has an integer index with uneven spacing ({diffs[:3].tolist()}...); "
            f"forecasts need evenly spaced labels"
        )
    return int(diffs[0]) if len(diffs) == 1 else None


def _index_kind_and_step(index, what):
    if isinstance(index, pd.DatetimeIndex):
        return "datetime", infer_step(index)
    if isinstance(index, pd.TimedeltaIndex):
        return "timedelta", infer_step(index)
    if isinstance(index, pd.PeriodIndex):
        return "period", index.freq
    if isinstance(index, pd.RangeIndex):
        # one label has no spacing: a stored negative step would run the forecast backwards
        return "range", index.step if len(index) > 1 else abs(index.step)
    if pd.api.types.is_integer_dtype(index.dtype):
        return "int", _integer_step(index, what)
    raise TypeError(
        f"{what} has an index of type {type(index).__name__} ({index.dtype}) that cannot be "
        f"continued into the future; use a DatetimeIndex, TimedeltaIndex or PeriodIndex "
        f"with a frequency, an integer index, or pass a numpy array"
    )


def with_index_end(table, what, fallback=None):
    """``table`` with what is needed to continue its index after its last label.

    ``fallback`` is a layout whose step is used when the index alone does not reveal one (too
    short or irregular), provided its index kind matches.
    """
    index = table.index
    if index is None:
        return table
    kind, step = _index_kind_and_step(index, what)
    if step is None and fallback is not None and fallback.index_kind == kind:
        step = fallback.step
    if step is None and kind == "int":
        step = 1
    if step is None:
        raise ValueError(
            f"cannot determine the frequency of the {type(index).__name__} of {what}: it has "
            f"no freq and none can be inferred from {len(index)} irregular label(s); "
            + _freq_hint(index, what))
    dtype = index.dtype if kind in ("datetime", "timedelta", "int") else None
    layout = table.layout.with_changes(index_kind=kind, last=index[-1], step=step,
                                       index_name=index.name, index_dtype=dtype)
    return Table(table.values, layout, index)


def _freq_hint(index, what):
    """How to give an irregular index a frequency: business days when its labels look like
    trading days (weekdays, with weekend gaps and perhaps holidays), else an example."""
    from tsrnn._timesteps import is_business_daily  # here: _timesteps imports this module

    if is_business_daily(index):
        return (f"its labels are weekdays with weekend gaps, so business days: set freq 'B' "
                f"({what}.asfreq('B') inserts the missing weekdays, such as holidays, as NaN; "
                f"fit with missing='interpolate'), or pass a numpy array")
    return f"set one (e.g. {what}.asfreq('h')) or pass a numpy array"


# ------------------------------------------------------------------ values
MAX_ABS_VALUE = 1e150
"""Largest magnitude accepted in data: squares and sums of squares of larger values overflow
float64 in every model's fit (variances, likelihoods)."""


def fill_missing(values, what, missing):
    """Check for NaN/inf; with ``missing="interpolate"`` fill them linearly (edges: nearest).

    Values beyond :data:`MAX_ABS_VALUE` are refused either way.
    """
    finite = np.isfinite(values)
    huge = finite & (np.abs(values) > MAX_ABS_VALUE)
    if huge.any():
        rows = np.flatnonzero(huge.any(axis=1))
        raise ValueError(
            f"{what} holds {int(huge.sum())} value(s) beyond +-{MAX_ABS_VALUE:.0e} (first at "
            f"row(s) {rows[:5].tolist()}), too large for the models' arithmetic; rescale the "
            f"data (e.g. to other units)")
    if finite.all():
        return values
    if missing != "interpolate":
        rows = np.flatnonzero(~finite.all(axis=1))
        raise ValueError(
            f"{what} contains {int((~finite).sum())} NaN or infinite value(s) (first at "
            f"position(s) {rows[:5].tolist()}, counting from 0); clean them or pass "
            f"missing='interpolate'"
        )
    filled = values.copy()
    positions = np.arange(values.shape[0])
    for j in range(values.shape[1]):
        good = finite[:, j]
        if not good.any():
            raise ValueError(
                f"{what} column {j} has no finite value at all; nothing to interpolate from"
            )
        if not good.all():
            filled[:, j] = np.interp(positions, positions[good], values[good, j])
    return filled


def match_columns(table, expected, what):
    """Check ``table`` against the fitted :class:`Columns` (reordering named columns)."""
    k = table.values.shape[1]
    if k != expected.count:
        raise ValueError(
            f"{what} has {k} column(s) but the model was fitted with {expected.count}"
        )
    if expected.names is None or table.layout.kind != "frame":
        return table
    got, names = list(table.layout.columns), list(expected.names)
    if got == names:
        return table
    if len(got) != len(names) or set(got) != set(names):
        raise ValueError(f"{what} has columns {got} but the model was fitted with {names}")
    order = [got.index(name) for name in names]
    return Table(np.ascontiguousarray(table.values[:, order]),
                 table.layout.with_changes(columns=pd.Index(names)), table.index)


def check_aligned(y_table, x_table, what_y, what_x):
    """Raise unless ``x_table`` has ``y_table``'s rows (and index, when both are pandas)."""
    ny, nx = y_table.values.shape[0], x_table.values.shape[0]
    if ny != nx:
        raise ValueError(f"{what_x} has {nx} rows but {what_y} has {ny}; they must be aligned")
    if y_table.index is not None and x_table.index is not None:
        if not y_table.index.equals(x_table.index):
            raise ValueError(
                f"{what_x} and {what_y} have different indexes; align them (same timestamps)"
            )


def convert_observations(y, X, what, missing, *, columns=None, exog_columns=None,
                         fallback=None, index_end=True):
    """Convert and check one series and its exogenous columns: the one path for all inputs.

    Parameters
    ----------
    y : series-like
        Targets (fit data, an update, a context) or, with ``index_end=False``, any table.
    X : series-like or None
        Exogenous columns aligned with ``y``.
    what : str
        How messages name ``y`` (``X`` is called ``"X of <what>"`` unless ``what`` is "y"
        or "y[i]", whose exogenous columns are "X" and "X[i]").
    missing : {"raise", "interpolate"}
    columns, exog_columns : Columns, optional
        The fitted columns ``y`` and ``X`` must match; None accepts any.
    fallback : SeriesLayout, optional
        The layout whose step continues an index too short to reveal its own.
    index_end : bool, default=True
        Record where ``y``'s index ends (targets need it; future exogenous values do not).

    Returns
    -------
    y_table, x_table : Table, Table or None
    """
    table = to_table(y, what)
    if index_end:
        table = with_index_end(table, what, fallback)
    table.values = fill_missing(table.values, what, missing)
    if columns is not None:
        table = match_columns(table, columns, what)
    if X is None:
        return table, None
    x_what = exog_name(what)
    x_table = to_table(X, x_what)
    x_table.values = fill_missing(x_table.values, x_what, missing)
    if exog_columns is not None:
        x_table = match_columns(x_table, exog_columns, x_what)
    check_aligned(table, x_table, what, x_what)
    return table, x_table


def exog_name(what):
    """How messages name the exogenous columns belonging to ``what``."""
    if what == "y" or what.startswith("y["):
        return "X" + what[1:]
    return f"X of {what}"


# ------------------------------------------------------------------ lists of series
def _is_collection_of_series(obj):
    """True for a Python list whose items are series-like (not scalars): several series."""
    if not isinstance(obj, list) or len(obj) == 0:
        return False
    return all(
        isinstance(item, (pd.Series, pd.DataFrame, np.ndarray, list, tuple)) for item in obj
    )


def split_list(obj, what):
    """Return ``(items, is_list)`` for a single table or a list of tables."""
    if _is_collection_of_series(obj):
        return list(obj), True
    if isinstance(obj, list) and len(obj) == 0:
        raise ValueError(f"{what} is an empty list; need at least one series")
    return [obj], False


def _structure(items, is_list):
    return f"a list of {len(items)} series" if is_list else "one series"


def split_pairs(y, X, what="y"):
    """Split ``y`` and ``X`` (None or the same structure) into ``(y_i, X_i)`` pairs.

    Returns
    -------
    pairs : list of (series-like, series-like or None)
    is_list : bool
    """
    items, is_list = split_list(y, what)
    if X is None:
        return [(item, None) for item in items], is_list
    x_items, x_is_list = split_list(X, "X")
    if x_is_list != is_list or len(x_items) != len(items):
        raise ValueError(
            f"X must have the same structure as {what}: {what} is {_structure(items, is_list)} "
            f"but X is {_structure(x_items, x_is_list).replace('series', 'tables')}"
        )
    return list(zip(items, x_items)), is_list


def item_name(base, i, is_list):
    """How messages name item ``i`` of ``base``: ``"y[2]"`` in a list, ``"y"`` alone."""
    return f"{base}[{i}]" if is_list else base


# ------------------------------------------------------------------ outputs and arguments
def wrap(values, layout, index):
    """Turn a (horizon, D) array back into the kind of object the user gave."""
    if layout.kind == "series":
        return pd.Series(values[:, 0], index=index, name=layout.name)
    if layout.kind == "frame":
        return pd.DataFrame(values, index=index, columns=layout.columns)
    if layout.kind == "1d":
        return values[:, 0].copy()
    return values.copy()


def check_horizon(horizon):
    """``horizon`` as an int in 1..:data:`MAX_HORIZON`."""
    horizon = check_int(horizon, "horizon", minimum=1)
    if horizon > MAX_HORIZON:
        raise ValueError(
            f"horizon={horizon:,} is more than the limit of {MAX_HORIZON:,} steps "
            f"(tsrnn._input.MAX_HORIZON): forecast in pieces (predict, update with the new "
            f"values, predict again) or raise the limit")
    return horizon


def check_coverage(coverage):
    """``coverage`` as a float in (0, 1)."""
    return check_real(coverage, "coverage", 0.0, 1.0, low_open=True, high_open=True)


def check_missing(missing):
    """``missing`` if it is one of :data:`MISSING_OPTIONS`."""
    return check_option(missing, "missing", MISSING_OPTIONS)


# ------------------------------------------------------------------ updates
def _step_count(layout, label):
    """Whole steps from ``layout.last`` to ``label`` for a fixed step, else None (calendar
    offsets such as month ends or business days have no fixed length)."""
    step = layout.step
    if layout.index_kind in ("range", "int"):
        distance, length = label - layout.last, step
    elif layout.index_kind in ("datetime", "timedelta") and hasattr(step, "nanos"):
        try:
            length = pd.Timedelta(step.nanos, "ns")
        except ValueError:
            return None
        distance = pd.Timedelta(label - layout.last)
    else:
        return None
    count = distance / length
    return int(round(count)) if abs(count - round(count)) < 1e-9 else np.nan


def _spacing_error(layout, table, what):
    return ValueError(
        f"{what} is not on the model's time grid: the model steps by {layout.step!r} after "
        f"its last observation ({layout.last}), but {what}'s labels are "
        f"{[str(v) for v in table.index[:3]]}...; resample the new values to that step")


def place_update(layout, table, x_values, what, missing):
    """New observations put on the grid that continues ``layout``.

    Returns ``(values, x_values)``: the rows as given when they follow the last label seen
    step by step; with skipped steps, those rows inserted and filled by linear interpolation
    between the new values (a leading gap takes the first new value) when
    ``missing="interpolate"``, else a ValueError that counts them. Labels off the grid
    (another frequency, or between steps) are a ValueError.
    """
    index = table.index
    n = table.values.shape[0]
    if index is None or layout.index_kind is None:
        return table.values, x_values
    expected = layout.future_index(1)[0]
    if index[0] == expected and (n == 1 or index[-1] == layout.future_index(n)[-1]):
        return table.values, x_values  # the common case: consecutive rows
    positions = [_step_count(layout, label) for label in (index[0], index[-1])]
    if positions[0] is None:  # calendar offsets: only consecutive labels are checked
        raise _spacing_error(layout, table, what)
    slots = np.array([_step_count(layout, label) for label in index], dtype=np.float64)
    if not np.all(np.isfinite(slots)) or _has_other_step(slots):
        raise _spacing_error(layout, table, what)
    skipped = int(slots[-1]) - n
    if skipped > MAX_HORIZON:
        raise ValueError(f"{what} starts {int(slots[0]) - 1:,} steps after the last observation "
                         f"seen; more than {MAX_HORIZON:,} missing steps cannot be filled")
    if missing != "interpolate":
        raise ValueError(
            f"{what} skips {skipped:,} step(s) of {layout.step!r} after the last observation "
            f"seen ({layout.last}): pass the missing rows (NaN where unknown) with "
            f"missing='interpolate', or start at {expected}")
    rows = slots.astype(np.int64) - 1
    return _fill_grid(table.values, rows, what), (
        None if x_values is None else _fill_grid(x_values, rows, what + " (X)"))


def _has_other_step(slots):
    """True when the labels are spaced by a step other than the model's (e.g. daily values
    on an hourly model), rather than consecutive with a few gaps."""
    steps = np.diff(slots)
    return steps.size > 0 and (np.any(steps < 1) or np.median(steps) != 1)


def _fill_grid(values, rows, what):
    grid = np.full((int(rows[-1]) + 1, values.shape[1]), np.nan)
    grid[rows] = values
    return fill_missing(grid, what, "interpolate")


_STREAM_MAX = 64
"""Most values a streaming update may hold to take :func:`streaming_values`' short path."""


def streaming_values(y, layout):
    """The common streaming update, checked without the general conversion.

    ``y`` is a number or a short 1-D float array (unlabelled values: they follow the last
    one, as arrays do on the general path), or a one-value Series whose label is the next
    step of ``layout``. Returns ``(values (n, 1),
    advanced layout)``, or None for anything else (and for values that are not finite or
    too large, whose errors the general path words), which then takes the general path.
    """
    if isinstance(y, (float, int, np.floating, np.integer)) and not isinstance(
            y, (bool, np.bool_)):
        values = np.array([[float(y)]])
    elif isinstance(y, np.ndarray):
        if y.ndim != 1 or not 0 < y.size <= _STREAM_MAX or y.dtype.kind != "f":
            return None
        values = y.astype(np.float64).reshape(-1, 1)
    elif isinstance(y, pd.Series):
        label = _next_label(y, layout)
        if label is None:
            return None
        values = np.array([[float(y.iat[0])]]) if y.dtype.kind == "f" else None
        if values is None:
            return None
        return (values, layout.with_changes(last=label, n_seen=layout.n_seen + 1)) \
            if _ordinary(values) else None
    else:
        return None
    if not _ordinary(values):
        return None
    return values, layout.advanced(len(values))


def _ordinary(values):
    return bool(np.all(np.abs(values) <= MAX_ABS_VALUE))  # False for NaN and inf too


def _next_label(y, layout):
    """The label of a one-value Series when it is exactly the step after ``layout.last``."""
    if (len(y) != 1 or layout.kind != "series" or y.name != layout.name
            or layout.index_kind not in ("datetime", "timedelta")
            or not hasattr(layout.step, "nanos")):
        return None
    index = y.index
    if type(index) is not (pd.DatetimeIndex if layout.index_kind == "datetime"
                           else pd.TimedeltaIndex) or index.tz != getattr(layout.last, "tz",
                                                                          None):
        return None
    label = index[0]
    return label if label == layout.last + layout.step else None
