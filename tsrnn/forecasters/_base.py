"""The contract every tsrnn forecaster shares: input checking, index handling, scaling, and the
plumbing for warm-start contexts and streaming updates.

Everything a user passes in is validated and converted here, once. Subclasses implement a few
hooks that only ever see lists of C-contiguous float64 arrays laid out time-major:

``ys[i]``
    shape ``(n_i, D)``: series ``i``, ``n_i`` observations of ``D`` target columns.
``Xs[i]``
    shape ``(n_i, E)``: the ``E`` exogenous columns aligned with ``ys[i]``, or ``Xs is None`` when
    the model has no exogenous columns.

The hooks are ``_fit_core``, ``_predict_core``, ``_update_core``, ``_predict_interval_core``,
``_min_length`` and (optionally) ``_min_context_length``; see :class:`BaseForecaster`.
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

__all__ = ["BaseForecaster"]

_MISSING_OPTIONS = ("raise", "interpolate")


# --------------------------------------------------------------------------------------------
# Input conversion
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    """How one series was given, and where its index ends.

    ``kind`` is "series", "frame", "1d" or "2d"; ``index_kind`` is "datetime", "timedelta",
    "period", "range", "int" or None (arrays). ``last`` is the last index label seen and ``step``
    the spacing used to continue it (a pandas offset or an integer). ``n_seen`` counts the rows.
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
        last = self.last
        if self.index_kind in ("datetime", "timedelta", "range", "int"):
            last = last + n * self.step
        elif self.index_kind == "period":
            last = last + n
        return self._with(last=last, n_seen=self.n_seen + n)

    def _with(self, **changes):
        """A copy with ``changes``: what dataclasses.replace does, without its per-call field
        introspection (streaming updates call this once per observation batch)."""
        copy = object.__new__(_Layout)
        copy.__dict__.update(self.__dict__, **changes)
        return copy

    def future_index(self, horizon):
        """The ``horizon`` index labels that follow ``last`` (None for arrays)."""
        if self.index_kind is None:
            return None
        if self.index_kind == "datetime":
            index = pd.date_range(start=self.last + self.step, periods=horizon, freq=self.step)
        elif self.index_kind == "timedelta":
            index = pd.timedelta_range(
                start=self.last + self.step, periods=horizon, freq=self.step
            )
        elif self.index_kind == "period":
            index = pd.period_range(start=self.last + 1, periods=horizon, freq=self.last.freq)
        elif self.index_kind == "range":
            first = self.last + self.step
            index = pd.RangeIndex(first, first + horizon * self.step, self.step)
        else:  # "int"
            index = pd.Index(self.last + self.step * np.arange(1, horizon + 1))
        if self.index_dtype is not None and self.index_kind in ("datetime", "timedelta", "int"):
            index = index.astype(self.index_dtype)
        return index.rename(self.index_name)


@dataclass
class _Block:
    """One converted table: float64 values (n, k), its layout, and its pandas index (or None)."""

    values: np.ndarray
    layout: _Layout
    index: object = None


def _is_collection_of_series(obj):
    """True for a Python list whose items are series-like (not scalars): several series."""
    if not isinstance(obj, list) or len(obj) == 0:
        return False
    return all(
        isinstance(item, (pd.Series, pd.DataFrame, np.ndarray, list, tuple)) for item in obj
    )


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
            f"{what} has duplicate index labels (timestamps), e.g. {list(dupes)}; "
            f"aggregate or drop them first"
        )
    if not index.is_monotonic_increasing:
        raise ValueError(
            f"{what} has an unsorted index; sort it first (e.g. {what}.sort_index())"
        )


def _to_block(obj, what):
    """Convert one Series/DataFrame/array-like to a float64 (n, k) block with its layout."""
    if isinstance(obj, pd.Series):
        _check_numeric_dtype(obj.dtype, f"the series {obj.name!r}", what)
        values = obj.to_numpy(dtype=np.float64, na_value=np.nan).reshape(-1, 1)
        layout = _Layout(kind="series", name=obj.name)
        index = obj.index
    elif isinstance(obj, pd.DataFrame):
        if obj.shape[1] == 0:
            raise ValueError(f"{what} is empty: the DataFrame has no columns")
        for column, dtype in obj.dtypes.items():
            _check_numeric_dtype(dtype, f"column {column!r}", what)
        if obj.columns.has_duplicates:
            raise ValueError(f"{what} has duplicate column names: {list(obj.columns)}")
        values = obj.to_numpy(dtype=np.float64, na_value=np.nan)
        layout = _Layout(kind="frame", columns=obj.columns.copy())
        index = obj.index
    else:
        if obj is None:
            raise TypeError(f"{what} must be array-like or pandas, got None")
        if isinstance(obj, (str, bytes)) or np.isscalar(obj):
            raise TypeError(
                f"{what} must be a Series, DataFrame or array-like of numbers, got a scalar "
                f"{type(obj).__name__}"
            )
        array = np.asarray(obj)
        if array.dtype.kind in "mMV":
            raise TypeError(
                f"{what} must be numeric, got an array of dtype {array.dtype}"
            )
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
        if array.ndim == 0 or array.ndim > 2:
            raise ValueError(
                f"{what} must be 1-D (n,) or 2-D (n, columns), got an array with shape "
                f"{array.shape}"
            )
        kind = "1d" if array.ndim == 1 else "2d"
        values = np.array(array, dtype=np.float64)
        values = values.reshape(-1, 1) if array.ndim == 1 else values
        layout = _Layout(kind=kind)
        index = None
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError(f"{what} is empty: got shape {values.shape}; need at least one value")
    if index is not None:
        _check_index(index, what)
    return _Block(np.ascontiguousarray(values), layout._with(n_seen=values.shape[0]), index)


def _infer_step(index):
    """The frequency of a datetime/timedelta index: its ``freq``, inferred, or None."""
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


def _with_index_end(block, what, fallback=None):
    """Add to ``block.layout`` what is needed to continue its index after its last label.

    ``fallback`` is a layout whose step is used when the index alone does not reveal one (too
    short or irregular), provided its index kind matches.
    """
    layout, index = block.layout, block.index
    if index is None:
        return block
    if isinstance(index, pd.DatetimeIndex):
        kind, step = "datetime", _infer_step(index)
    elif isinstance(index, pd.TimedeltaIndex):
        kind, step = "timedelta", _infer_step(index)
    elif isinstance(index, pd.PeriodIndex):
        kind, step = "period", index.freq
    elif isinstance(index, pd.RangeIndex):
        kind, step = "range", index.step
    elif pd.api.types.is_integer_dtype(index.dtype):
        kind = "int"
        diffs = np.unique(np.diff(index.to_numpy()))
        if len(diffs) > 1:
            raise ValueError(
                f"{what} has an integer index with uneven spacing ({diffs[:3].tolist()}...); "
                f"forecasts need evenly spaced labels"
            )
        step = int(diffs[0]) if len(diffs) == 1 else None
    else:
        raise TypeError(
            f"{what} has an index of type {type(index).__name__} ({index.dtype}) that cannot be "
            f"continued into the future; use a DatetimeIndex, TimedeltaIndex or PeriodIndex "
            f"with a frequency, an integer index, or pass a numpy array"
        )
    if step is None and fallback is not None and fallback.index_kind == kind:
        step = fallback.step
    if step is None and kind == "int":
        step = 1
    if step is None:
        raise ValueError(
            f"cannot determine the frequency of the {type(index).__name__} of {what}: it has "
            f"no freq and none can be inferred from {len(index)} irregular label(s); set one "
            f"(e.g. {what}.asfreq('h')) or pass a numpy array"
        )
    dtype = index.dtype if kind in ("datetime", "timedelta", "int") else None
    layout = layout._with(
        index_kind=kind, last=index[-1], step=step, index_name=index.name, index_dtype=dtype,
    )
    return _Block(block.values, layout, block.index)


def _fill_missing(values, what, missing):
    """Check for NaN/inf; with ``missing="interpolate"`` fill them linearly (edges: nearest)."""
    finite = np.isfinite(values)
    if finite.all():
        return values
    if missing != "interpolate":
        rows = np.flatnonzero(~finite.all(axis=1))
        raise ValueError(
            f"{what} contains {int((~finite).sum())} NaN or infinite value(s) (first at row(s) "
            f"{rows[:5].tolist()}); clean them or pass missing='interpolate'"
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


def _convert(obj, what, missing, *, needs_index_end=False, fallback=None):
    """Convert one table, handle missing values and (for targets) record its index end."""
    block = _to_block(obj, what)
    if needs_index_end:
        block = _with_index_end(block, what, fallback)
    block.values = _fill_missing(block.values, what, missing)
    return block


def _split_list(obj, what):
    """Return (items, is_list) for a single table or a list of tables."""
    if _is_collection_of_series(obj):
        return list(obj), True
    if isinstance(obj, list) and len(obj) == 0:
        raise ValueError(f"{what} is an empty list; need at least one series")
    return [obj], False


def _check_aligned(y_block, x_block, what_y, what_x):
    ny, nx = y_block.values.shape[0], x_block.values.shape[0]
    if ny != nx:
        raise ValueError(f"{what_x} has {nx} rows but {what_y} has {ny}; they must be aligned")
    if y_block.index is not None and x_block.index is not None:
        if not y_block.index.equals(x_block.index):
            raise ValueError(
                f"{what_x} and {what_y} have different indexes; align them (same timestamps)"
            )


def _match_columns(block, n_expected, names_expected, what):
    """Check the column count, and the names if both sides are DataFrames (reorder if needed)."""
    k = block.values.shape[1]
    if k != n_expected:
        raise ValueError(
            f"{what} has {k} column(s) but the model was fitted with {n_expected}"
        )
    if names_expected is not None and block.layout.kind == "frame":
        got = list(block.layout.columns)
        expected = list(names_expected)
        if got != expected:
            if len(got) != len(expected) or set(got) != set(expected):
                raise ValueError(
                    f"{what} has columns {got} but the model was fitted with {expected}"
                )
            order = [got.index(name) for name in expected]
            block.values = np.ascontiguousarray(block.values[:, order])
            block.layout = block.layout._with(columns=pd.Index(expected))
    return block


def _wrap(values, layout, index):
    """Turn a (horizon, D) array back into the kind of object the user gave."""
    if layout.kind == "series":
        return pd.Series(values[:, 0], index=index, name=layout.name)
    if layout.kind == "frame":
        return pd.DataFrame(values, index=index, columns=layout.columns)
    if layout.kind == "1d":
        return values[:, 0].copy()
    return values.copy()


def _check_horizon(horizon):
    if isinstance(horizon, (bool, np.bool_)) or not isinstance(horizon, numbers.Integral):
        raise TypeError(f"horizon must be an integer >= 1, got {horizon!r}")
    if horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon}")
    return int(horizon)


def _check_coverage(coverage):
    if isinstance(coverage, (bool, np.bool_)) or not isinstance(coverage, numbers.Real):
        raise TypeError(f"coverage must be a number in (0, 1), got {coverage!r}")
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be in (0, 1), got {coverage}")
    return float(coverage)


@dataclass
class _FitData:
    """Validated fit data: float64 arrays, their layouts, and how they were given."""

    ys: list
    Xs: object  # list of arrays, or None
    layouts: list
    is_list: bool
    target_names: object  # pd.Index or None
    exog_names: object  # pd.Index or None


@dataclass
class _PredictPlan:
    """Validated predict inputs, in model units, and how to wrap the outputs."""

    horizon: int
    Xs_future: object
    contexts: object
    layouts: list
    indexes: list
    scale_rows: list
    is_list: bool


# --------------------------------------------------------------------------------------------
# The base class
# --------------------------------------------------------------------------------------------
class BaseForecaster(BaseEstimator):
    """Base class for tsrnn forecasters: one interface, validated once.

    Subclasses implement hooks on float64 arrays; this class converts and checks what the user
    passes (pandas Series/DataFrame, 1-D/2-D arrays, or a list of those for several series),
    keeps track of where each series ends so forecasts get the right index, standardises values
    when the subclass asks for it, and gives every output the type of the input.

    Parameters
    ----------
    missing : {"raise", "interpolate"}, default="raise"
        What to do with NaN or infinite values in any input: raise a ValueError, or fill them by
        linear interpolation (leading/trailing gaps take the nearest finite value).

    Attributes
    ----------
    n_series_ : int
        Number of series the model was fitted on (1 unless ``y`` was a list).
    n_targets_ : int
        Number of target columns ``D`` forecast jointly.
    n_exog_ : int
        Number of exogenous columns ``E`` (0 when fitted without ``X``).
    target_names_ : pandas.Index or None
        Target column names when ``y`` was a DataFrame.
    exog_names_ : pandas.Index or None
        Exogenous column names when ``X`` was a DataFrame.
    y_mean_, y_scale_ : ndarray of shape (n_series_, n_targets_)
        Per-series, per-column standardisation of the targets (only when the class standardises).
    X_mean_, X_scale_ : ndarray of shape (n_series_, n_exog_) or None
        The same for the exogenous columns.

    Notes
    -----
    Hooks a subclass implements (all arrays float64, C-contiguous, time-major):

    ``_fit_core(ys, Xs)``
        ``ys`` is a list of ``n_series_`` arrays of shape ``(n_i, D)``; ``Xs`` is None or a list
        of ``(n_i, E)`` arrays. Sets the fitted attributes, including whatever end-of-data state
        ``predict`` needs to continue each series.
    ``_predict_core(horizon, Xs_future, contexts)``
        Returns a list of ``(horizon, D)`` arrays. ``contexts`` is None (continue each fitted
        series from the end of what the model has seen: fit data plus updates; the list has
        ``n_series_`` entries) or a list of ``(y_ctx, X_ctx)`` pairs, ``y_ctx`` of shape
        ``(m, D)`` and ``X_ctx`` of shape ``(m, E)`` or None: condition on this known history
        instead. Entry ``i`` of ``contexts`` belongs to fitted series :meth:`_series_of(i)
        <_series_of>`. ``Xs_future`` is None or a list (one per output) of ``(horizon, E)``.
    ``_update_core(ys, Xs)``
        Advance the stored end-of-data state of each of the ``n_series_`` series by new
        observations (same shapes as in ``_fit_core``) without refitting.
    ``_predict_interval_core(horizon, coverage, Xs_future, contexts)``
        Returns a list of ``(lower, upper)`` pairs of ``(horizon, D)`` arrays. The default
        raises NotImplementedError.
    ``_min_length()``
        The fewest observations per series that ``fit`` needs (default 1).
    ``_min_context_length()``
        The fewest observations a context needs (default 1).

    Cores must assign new objects to fitted attributes rather than mutate existing ones in
    place: on any exception in a core, ``fit``/``update`` restore ``self.__dict__`` from a
    shallow snapshot, which only undoes re-assignments.

    Class attributes: ``_standardize`` (default False) makes the hooks see standardised values;
    ``_supports_exog`` (default True) set to False makes passing ``X`` an error.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.forecasters.naive import NaiveForecaster
    >>> f = NaiveForecaster(strategy="last").fit(np.array([1.0, 2.0, 3.0]))
    >>> f.predict(2)
    array([3., 3.])
    """

    _standardize = False
    _supports_exog = True

    def __init__(self, missing="raise"):
        self.missing = missing

    # ------------------------------------------------------------------ hooks
    def _fit_core(self, ys, Xs):
        raise NotImplementedError(f"{type(self).__name__} does not implement _fit_core")

    def _predict_core(self, horizon, Xs_future, contexts):
        raise NotImplementedError(f"{type(self).__name__} does not implement _predict_core")

    def _update_core(self, ys, Xs):
        raise NotImplementedError(f"{type(self).__name__} does not support update")

    def _predict_interval_core(self, horizon, coverage, Xs_future, contexts):
        raise NotImplementedError(
            f"{type(self).__name__} does not provide prediction intervals; use predict for "
            f"point forecasts, or a forecaster with intervals (e.g. ARIMAForecaster)"
        )

    def _min_length(self):
        return 1

    def _min_context_length(self):
        return 1

    # ------------------------------------------------------------------ helpers for subclasses
    def _series_of(self, i):
        """Which fitted series (and scaling) context/output ``i`` belongs to."""
        return i if self.n_series_ > 1 else 0

    def _check_fitted(self):
        if not hasattr(self, "n_series_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call 'fit' with a "
                f"series before using this method."
            )

    def __sklearn_is_fitted__(self):
        return hasattr(self, "n_series_")

    def _transaction(self, func, *args, **kwargs):
        """Run ``func``; on any exception put ``self.__dict__`` back as it was, then re-raise."""
        snapshot = dict(self.__dict__)
        try:
            return func(*args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            raise

    def _check_missing_param(self):
        missing = getattr(self, "missing", "raise")
        if missing not in _MISSING_OPTIONS:
            raise ValueError(f"missing must be one of {_MISSING_OPTIONS}, got {missing!r}")
        return missing

    # ------------------------------------------------------------------ validation
    def _validate_fit_data(self, y, X=None, reset=True):
        """Check and convert fit data without touching ``self``.

        Parameters
        ----------
        y, X : see :meth:`fit`.
        reset : bool, default=True
            False checks the data against the fitted model (same number of series, columns
            and exogenous columns), as ``partial_fit`` needs.

        Returns
        -------
        _FitData
            ``ys``/``Xs`` float64 arrays in original units, their layouts, names and list-ness.
        """
        missing = self._check_missing_param()
        items, is_list = _split_list(y, "y")
        if X is not None and not self._supports_exog:
            raise ValueError(
                f"{type(self).__name__} does not use exogenous variables; call fit without X"
            )
        if X is not None:
            x_items, x_is_list = _split_list(X, "X")
            if x_is_list != is_list or len(x_items) != len(items):
                raise ValueError(
                    f"X must have the same structure as y: y is "
                    f"{'a list of ' + str(len(items)) + ' series' if is_list else 'one series'}"
                    f" but X is "
                    f"{'a list of ' + str(len(x_items)) if x_is_list else 'one table'}"
                )
        ys, Xs, layouts = [], ([] if X is not None else None), []
        target_names = exog_names = None
        min_length = self._min_length()
        for i, item in enumerate(items):
            what = f"y[{i}]" if is_list else "y"
            block = _convert(item, what, missing, needs_index_end=True)
            if i == 0:
                n_targets = block.values.shape[1]
                if block.layout.kind == "frame":
                    target_names = block.layout.columns
            else:
                block = _match_columns(block, n_targets, target_names, what)
            if block.values.shape[0] < min_length:
                raise ValueError(
                    f"{what} has {block.values.shape[0]} observation(s) but "
                    f"{type(self).__name__} needs at least {min_length} to fit"
                )
            if X is not None:
                x_what = f"X[{i}]" if is_list else "X"
                x_block = _convert(x_items[i], x_what, missing)
                _check_aligned(block, x_block, what, x_what)
                if i == 0:
                    n_exog = x_block.values.shape[1]
                    if x_block.layout.kind == "frame":
                        exog_names = x_block.layout.columns
                else:
                    x_block = _match_columns(x_block, n_exog, exog_names, x_what)
                Xs.append(x_block.values)
            ys.append(block.values)
            layouts.append(block.layout)
        if not reset:
            self._check_fitted()
            if is_list != self.list_input_ or len(ys) != self.n_series_:
                raise ValueError(
                    f"expected the same series structure as in fit ({self.n_series_} series)"
                )
            ys = [
                _match_columns(_Block(v, lay), self.n_targets_, self.target_names_, "y").values
                for v, lay in zip(ys, layouts)
            ]
            self._check_exog_presence(X, "partial fit")
            if Xs is not None:
                Xs = [
                    _match_columns(_Block(v, _Layout("2d")), self.n_exog_, None, "X").values
                    for v in Xs
                ]
        return _FitData(ys, Xs, layouts, is_list, target_names, exog_names)

    def _check_exog_presence(self, X, where):
        if X is None and self.n_exog_ > 0:
            raise ValueError(
                f"the model was fitted with {self.n_exog_} exogenous column(s) X, so X is "
                f"required here too ({where})"
            )
        if X is not None and self.n_exog_ == 0:
            raise ValueError(
                f"X was given ({where}) but the model was fitted without exogenous columns"
            )

    # ------------------------------------------------------------------ scaling
    def _scale(self, values, row, which="y"):
        if not self._standardize:
            return values
        mean = getattr(self, f"{which}_mean_")[row]
        scale = getattr(self, f"{which}_scale_")[row]
        return np.ascontiguousarray((values - mean) / scale)

    def _unscale(self, values, row):
        if not self._standardize:
            return values
        return values * self.y_scale_[row] + self.y_mean_[row]

    @staticmethod
    def _moments(arrays):
        mean = np.array([a.mean(axis=0) for a in arrays])
        scale = np.array([a.std(axis=0) for a in arrays])
        scale[~(np.isfinite(scale) & (scale > 0))] = 1.0
        return mean, scale

    # ------------------------------------------------------------------ fit
    def _store_fit_state(self, data):
        """Set the fitted attributes this class owns (shapes, names, index ends, scaling)."""
        self.n_series_ = len(data.ys)
        self.n_targets_ = data.ys[0].shape[1]
        self.n_exog_ = 0 if data.Xs is None else data.Xs[0].shape[1]
        self.target_names_ = data.target_names
        self.exog_names_ = data.exog_names
        self.list_input_ = data.is_list
        self.layouts_ = list(data.layouts)
        if self._standardize:
            self.y_mean_, self.y_scale_ = self._moments(data.ys)
            if data.Xs is not None:
                self.X_mean_, self.X_scale_ = self._moments(data.Xs)
            else:
                self.X_mean_ = self.X_scale_ = None

    def _base_state(self):
        """The fitted attributes this class owns, as (JSON-able dict, dict of arrays), for saving."""
        from dataclasses import asdict

        from tsrnn.io import label_to_json

        header = {
            "n_series": self.n_series_, "n_targets": self.n_targets_, "n_exog": self.n_exog_,
            "target_names": label_to_json(self.target_names_),
            "exog_names": label_to_json(self.exog_names_), "list_input": self.list_input_,
            "layouts": [{key: label_to_json(value) for key, value in asdict(layout).items()}
                        for layout in self.layouts_],
        }
        arrays = {}
        if self._standardize:
            arrays.update(y_mean=self.y_mean_, y_scale=self.y_scale_)
            if self.X_mean_ is not None:
                arrays.update(X_mean=self.X_mean_, X_scale=self.X_scale_)
        return header, arrays

    def _restore_base_state(self, header, arrays):
        """Inverse of :meth:`_base_state`."""
        from tsrnn.io import label_from_json

        self.n_series_ = header["n_series"]
        self.n_targets_ = header["n_targets"]
        self.n_exog_ = header["n_exog"]
        self.target_names_ = label_from_json(header["target_names"])
        self.exog_names_ = label_from_json(header["exog_names"])
        self.list_input_ = header["list_input"]
        self.layouts_ = [_Layout(**{key: label_from_json(value) for key, value in layout.items()})
                         for layout in header["layouts"]]
        if self._standardize:
            self.y_mean_, self.y_scale_ = arrays["y_mean"], arrays["y_scale"]
            self.X_mean_ = arrays.get("X_mean")
            self.X_scale_ = arrays.get("X_scale")

    def _scaled_fit_data(self, data):
        """The fit data in model units: (ys, Xs) lists as the hooks receive them."""
        ys = [self._scale(v, i) for i, v in enumerate(data.ys)]
        Xs = None if data.Xs is None else [self._scale(v, i, "X") for i, v in enumerate(data.Xs)]
        return ys, Xs

    def _fit_validated(self, data):
        self._store_fit_state(data)
        ys, Xs = self._scaled_fit_data(data)
        self._fit_core(ys, Xs)

    def fit(self, y, X=None):
        """Fit the forecaster to one series or a list of series.

        Parameters
        ----------
        y : pandas.Series, pandas.DataFrame, array-like of shape (n,) or (n, D), or list of these
            The target series. A DataFrame or 2-D array holds ``D`` columns forecast jointly; a
            list holds several series (possibly of different lengths, same columns) for one
            model. A pandas index must be sorted, without duplicates, and continuable (a
            DatetimeIndex/TimedeltaIndex with a frequency, a PeriodIndex, or an integer index).
            A 2-D table must be a numpy array or DataFrame: a list of lists is read as several
            series.
        X : same kinds as ``y``, optional
            Exogenous columns aligned with ``y`` (same length; same index when both are pandas;
            a list when ``y`` is a list).

        Returns
        -------
        self : object
            The fitted forecaster.

        Raises
        ------
        ValueError, TypeError
            On empty, non-numeric, NaN/inf (unless ``missing="interpolate"``), misaligned or
            too-short input. A model that was fitted before is left unchanged.

        Examples
        --------
        >>> import numpy as np
        >>> from tsrnn.forecasters.naive import NaiveForecaster
        >>> f = NaiveForecaster().fit([np.array([1.0, 2.0]), np.array([7.0, 8.0, 9.0])])
        >>> f.n_series_, f.predict(1)
        (2, [array([2.]), array([9.])])
        """
        data = self._validate_fit_data(y, X)
        self._transaction(self._fit_validated, data)
        return self

    # ------------------------------------------------------------------ predict
    def _convert_context(self, context, missing):
        """Split and convert ``context`` into lists of (y block, X block or None)."""
        with_exog = self.n_exog_ > 0

        def is_pair(obj):
            return isinstance(obj, tuple) and len(obj) == 2

        if with_exog:
            if is_pair(context):
                pairs, is_list = [context], False
            elif isinstance(context, list) and context and all(is_pair(c) for c in context):
                pairs, is_list = list(context), True
            else:
                raise ValueError(
                    "the model was fitted with exogenous columns, so context must be a pair "
                    "(y_context, X_context) or a list of such pairs"
                )
        else:
            items, is_list = _split_list(context, "context")
            pairs = [(item, None) for item in items]
        if self.n_series_ > 1 and (not is_list or len(pairs) != self.n_series_):
            raise ValueError(
                f"the model was fitted on {self.n_series_} series, so context must be a list "
                f"of {self.n_series_} entries, one per fitted series, in the same order"
            )
        blocks = []
        min_context = self._min_context_length()
        for i, (y_ctx, X_ctx) in enumerate(pairs):
            what = f"context[{i}]" if is_list else "context"
            fallback = self.layouts_[self._series_of(i)]
            block = _convert(y_ctx, what, missing, needs_index_end=True, fallback=fallback)
            block = _match_columns(block, self.n_targets_, self.target_names_, what)
            if block.values.shape[0] < min_context:
                raise ValueError(
                    f"{what} has {block.values.shape[0]} observation(s) but "
                    f"{type(self).__name__} needs at least {min_context}"
                )
            x_block = None
            if with_exog:
                x_what = f"X of {what}"
                x_block = _convert(X_ctx, x_what, missing)
                x_block = _match_columns(x_block, self.n_exog_, self.exog_names_, x_what)
                _check_aligned(block, x_block, what, x_what)
            blocks.append((block, x_block))
        return blocks, is_list

    def _prepare_predict(self, horizon, X, context):
        self._check_fitted()
        horizon = _check_horizon(horizon)
        missing = self._check_missing_param()
        if context is None:
            layouts = list(self.layouts_)
            is_list = self.list_input_
            contexts = None
            rows = list(range(self.n_series_))
        else:
            blocks, is_list = self._convert_context(context, missing)
            layouts = [b.layout for b, _ in blocks]
            rows = [self._series_of(i) for i in range(len(blocks))]
            contexts = [
                (
                    self._scale(b.values, r),
                    None if xb is None else self._scale(xb.values, r, "X"),
                )
                for (b, xb), r in zip(blocks, rows)
            ]
        indexes = [layout.future_index(horizon) for layout in layouts]
        self._check_exog_presence(X, "predict")
        Xs_future = None
        if X is not None:
            x_items, x_is_list = _split_list(X, "X")
            if x_is_list != is_list or len(x_items) != len(layouts):
                raise ValueError(
                    f"X must give the future exogenous columns for each of the {len(layouts)} "
                    f"forecast(s) ({'a list' if is_list else 'one table'}), got "
                    f"{'a list of ' + str(len(x_items)) if x_is_list else 'one table'}"
                )
            Xs_future = []
            for i, item in enumerate(x_items):
                x_what = f"X[{i}]" if is_list else "X"
                x_block = _convert(item, x_what, missing)
                x_block = _match_columns(x_block, self.n_exog_, self.exog_names_, x_what)
                if x_block.values.shape[0] != horizon:
                    raise ValueError(
                        f"{x_what} must cover the forecast horizon exactly: it has "
                        f"{x_block.values.shape[0]} rows but horizon is {horizon}"
                    )
                if (
                    x_block.index is not None
                    and indexes[i] is not None
                    and not x_block.index.equals(indexes[i])
                ):
                    raise ValueError(
                        f"{x_what} index does not match the forecast index "
                        f"({indexes[i][0]} .. {indexes[i][-1]}); align X with the horizon"
                    )
                Xs_future.append(self._scale(x_block.values, rows[i], "X"))
        return _PredictPlan(horizon, Xs_future, contexts, layouts, indexes, rows, is_list)

    def _check_core_output(self, arrays, plan, name):
        if not isinstance(arrays, list) or len(arrays) != len(plan.layouts):
            raise RuntimeError(
                f"{type(self).__name__}.{name} returned {type(arrays).__name__} of length "
                f"{len(arrays) if hasattr(arrays, '__len__') else '?'}, expected a list of "
                f"{len(plan.layouts)} arrays"
            )
        out = []
        for a in arrays:
            a = np.asarray(a, dtype=np.float64)
            if a.shape != (plan.horizon, self.n_targets_):
                raise RuntimeError(
                    f"{type(self).__name__}.{name} returned shape {a.shape}, expected "
                    f"{(plan.horizon, self.n_targets_)}"
                )
            out.append(a)
        return out

    def _finish(self, arrays, plan):
        outputs = [
            _wrap(self._unscale(a, r), layout, index)
            for a, r, layout, index in zip(arrays, plan.scale_rows, plan.layouts, plan.indexes)
        ]
        return outputs if plan.is_list else outputs[0]

    def predict(self, horizon, X=None, context=None):
        """Forecast the next ``horizon`` steps.

        Parameters
        ----------
        horizon : int
            Number of steps ahead, >= 1.
        X : same kinds as in :meth:`fit`, optional
            Future exogenous columns: exactly ``horizon`` rows per forecast (a list when the
            output is a list). Required if and only if the model was fitted with ``X``.
        context : series-like, list of series-like, or (y, X) pair(s), optional
            Known history to condition on instead of the end of the fitted data (warm start).
            When the model was fitted with ``X``, give ``(y_context, X_context)`` pairs. When
            fitted on a list of ``k`` series, give a list of ``k`` contexts (entry ``i`` uses
            series ``i``'s fitted state and scaling); when fitted on one series, any number.

        Returns
        -------
        forecast : pandas.Series, pandas.DataFrame, ndarray of shape (horizon,) or (horizon, D),
            or a list of these
            Same kind as the input (the context when given, otherwise the fit data). A pandas
            forecast is indexed by the ``horizon`` labels after the last observation seen (fit
            data plus updates), or after the context's last label.

        Examples
        --------
        >>> import pandas as pd
        >>> from tsrnn.forecasters.naive import NaiveForecaster
        >>> y = pd.Series([1.0, 2.0, 3.0], index=pd.date_range("2024-01-01", periods=3, freq="D"))
        >>> NaiveForecaster().fit(y).predict(2).index.strftime("%Y-%m-%d").tolist()
        ['2024-01-04', '2024-01-05']
        """
        plan = self._prepare_predict(horizon, X, context)
        arrays = self._predict_core(plan.horizon, plan.Xs_future, plan.contexts)
        return self._finish(self._check_core_output(arrays, plan, "_predict_core"), plan)

    def predict_interval(self, horizon, coverage=0.9, X=None, context=None):
        """Forecast an interval that holds the future values with probability ``coverage``.

        Parameters
        ----------
        horizon : int
            Number of steps ahead, >= 1.
        coverage : float, default=0.9
            Nominal probability in (0, 1) that each future value falls inside its interval.
        X, context : see :meth:`predict`.

        Returns
        -------
        lower, upper : same kind as :meth:`predict`'s output
            Interval bounds, elementwise ``lower <= upper``.

        Raises
        ------
        NotImplementedError
            If the forecaster has no interval method.

        Examples
        --------
        >>> import numpy as np
        >>> from tsrnn.forecasters.naive import NaiveForecaster
        >>> f = NaiveForecaster().fit(np.array([1.0, 2.0, 1.0, 2.0]))
        >>> lower, upper = f.predict_interval(3, coverage=0.8)
        >>> bool(np.all(lower < upper))
        True
        """
        coverage = _check_coverage(coverage)
        plan = self._prepare_predict(horizon, X, context)
        pairs = self._predict_interval_core(
            plan.horizon, coverage, plan.Xs_future, plan.contexts
        )
        lower = self._check_core_output([p[0] for p in pairs], plan, "_predict_interval_core")
        upper = self._check_core_output([p[1] for p in pairs], plan, "_predict_interval_core")
        return self._finish(lower, plan), self._finish(upper, plan)

    # ------------------------------------------------------------------ update
    def _advance_layout(self, old, new, what):
        """The stored layout after the rows of ``new`` (a converted update block)."""
        n = new.values.shape[0]
        if new.index is None or old.index_kind is None:
            return old.advanced(n)
        if new.layout.index_kind != old.index_kind:
            raise ValueError(
                f"{what} has a {type(new.index).__name__} but the model was fitted on a series "
                f"indexed by {old.index_kind} labels; pass matching labels or a numpy array"
            )
        if not new.index[0] > old.last:
            raise ValueError(
                f"{what} must continue after the last observation seen ({old.last}), but it "
                f"starts at {new.index[0]}"
            )
        return old._with(last=new.index[-1], n_seen=old.n_seen + n)

    def update(self, y, X=None):
        """Advance the model by new observations that follow the data seen so far (no refit).

        Parameters
        ----------
        y : same kinds as in :meth:`fit`
            New observations, with the same structure as the fit data (a list of
            ``n_series_`` tables when fitted on a list) and the same columns. A pandas index
            must start after the last label seen.
        X : same kinds as in :meth:`fit`, optional
            The exogenous columns aligned with ``y``; required if and only if the model was
            fitted with ``X``.

        Returns
        -------
        self : object
            The updated forecaster; :meth:`predict` without context now continues after ``y``.

        Examples
        --------
        >>> import numpy as np
        >>> from tsrnn.forecasters.naive import NaiveForecaster
        >>> f = NaiveForecaster().fit(np.array([1.0, 2.0]))
        >>> f.update(np.array([5.0])).predict(1)
        array([5.])
        """
        self._check_fitted()
        missing = self._check_missing_param()
        self._check_exog_presence(X, "update")
        items, is_list = _split_list(y, "y")
        if is_list != self.list_input_ or len(items) != self.n_series_:
            expected = f"a list of {self.n_series_} series" if self.list_input_ else "one series"
            raise ValueError(f"update needs the same structure as fit: {expected}")
        x_items = None
        if X is not None:
            x_items, x_is_list = _split_list(X, "X")
            if x_is_list != is_list or len(x_items) != len(items):
                raise ValueError("X must have the same structure as y in update")
        ys, Xs, layouts = [], ([] if X is not None else None), []
        for i, item in enumerate(items):
            what = f"y[{i}]" if is_list else "y"
            old = self.layouts_[i]
            block = _convert(item, what, missing, needs_index_end=True, fallback=old)
            block = _match_columns(block, self.n_targets_, self.target_names_, what)
            layouts.append(self._advance_layout(old, block, what))
            ys.append(self._scale(block.values, i))
            if X is not None:
                x_what = f"X[{i}]" if is_list else "X"
                x_block = _convert(x_items[i], x_what, missing)
                x_block = _match_columns(x_block, self.n_exog_, self.exog_names_, x_what)
                _check_aligned(block, x_block, what, x_what)
                Xs.append(self._scale(x_block.values, i, "X"))

        def run():
            self._update_core(ys, Xs)
            self.layouts_ = layouts

        self._transaction(run)
        return self
