"""The contract every tsrnn forecaster shares: validation, index handling, scaling, and the
plumbing for warm-start contexts and streaming updates.

What a user passes is converted and checked by :mod:`tsrnn._input`, once per call; this module
applies it to the estimator: parameters are validated against each class's declared
``_parameter_constraints``, values are standardised when the class asks for it, and every
output takes the kind of its input. Subclasses implement a few hooks that only ever see lists
of C-contiguous float64 arrays laid out time-major:

``ys[i]``
    shape ``(n_i, D)``: series ``i``, ``n_i`` observations of ``D`` target columns.
``Xs[i]``
    shape ``(n_i, E)``: the ``E`` exogenous columns aligned with ``ys[i]``, or ``Xs is None`` when
    the model has no exogenous columns.

The hooks are ``_fit_core``, ``_predict_core``, ``_update_core``, ``_predict_interval_core``,
``_min_length`` and (optionally) ``_min_context_length``; see :class:`BaseForecaster`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tsrnn._checks import option, validate_params
from tsrnn._estimator import ParamsMixin
from tsrnn._input import (MISSING_OPTIONS, Columns, Context, SeriesLayout, check_horizon,
                          check_missing, convert_observations, item_name, place_update,
                          split_list, split_pairs, streaming_values, wrap)
from tsrnn._uncertainty import (check_coverages, check_n_samples, check_quantile_levels,
                                interval_levels, wrap_quantiles, wrap_samples)
from tsrnn.panel import Panel, future_exog, is_long_frame, split_panel

__all__ = ["BaseForecaster"]


@dataclass
class _FitData:
    """Validated fit data: float64 arrays, their layouts, and how they were given."""

    ys: list
    Xs: object  # list of arrays, or None
    layouts: list
    is_list: bool
    target_names: object  # pd.Index or None
    exog_names: object  # pd.Index or None


@dataclass(frozen=True)
class ContextScaling:
    """The moments a context scaled by its own values is standardised with (in the place of a
    fitted series' row; see :meth:`BaseForecaster._scales_contexts_by_their_own_values`)."""

    y_mean: np.ndarray
    y_scale: np.ndarray
    X_mean: object = None
    X_scale: object = None


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
    panel: object = None  # a tsrnn.panel.Panel: outputs keyed like a dict or long input


class BaseForecaster(ParamsMixin):
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
        ``n_series_`` entries) or a list of :class:`~tsrnn._input.Context`, ``y`` of shape
        ``(m, D)`` and ``X`` of shape ``(m, E)`` or None: condition on this known history
        instead; ``series`` says which fitted series' state and scaling it uses. ``Xs_future`` is None or a list (one per output) of ``(horizon, E)``.
    ``_update_core(ys, Xs)``
        Advance the stored end-of-data state of each of the ``n_series_`` series by new
        observations (same shapes as in ``_fit_core``) without refitting.
    ``_predict_interval_core(horizon, coverage, Xs_future, contexts)``
        Returns a list of ``(lower, upper)`` pairs of ``(horizon, D)`` arrays. The default
        takes them from ``_predict_quantiles_core``.
    ``_predict_quantiles_core(horizon, levels, Xs_future, contexts)``
        Returns a list of ``(horizon, D, L)`` arrays, the quantiles at the increasing
        probabilities ``levels``. The default takes a level below 0.5 from the lower bound of
        the central interval of coverage ``1 - 2 p``, one above from an upper bound, and 0.5
        from the point forecast (exact for symmetric forecast distributions). A forecaster
        implements this hook or ``_predict_interval_core``.
    ``_predict_samples_core(horizon, n_samples, Xs_future, contexts, rng)``
        Returns a list of ``(n_samples, horizon, D)`` arrays of sample paths drawn with the
        :class:`numpy.random.Generator` ``rng``. The default raises NotImplementedError.
    ``_min_length()``
        The fewest observations per series that ``fit`` needs (default 1).
    ``_min_context_length()``
        The fewest observations a context needs (default 1).

    ``contexts`` entries are :class:`~tsrnn._input.Context` objects: ``y``, ``X``, the
    context's ``layout`` (where its index ends) and ``series``, the fitted series whose state
    and scaling it uses.

    Parameters are declared in the class attribute ``_parameter_constraints`` (name ->
    constraint, see :mod:`tsrnn._checks`) and checked once at the start of ``fit``; rules
    that combine parameters go in ``_check_param_combinations``.

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
    _parameter_constraints = {"missing": option(*MISSING_OPTIONS)}

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
        if type(self)._predict_quantiles_core is BaseForecaster._predict_quantiles_core:
            raise NotImplementedError(
                f"{type(self).__name__} does not provide prediction intervals; use predict "
                f"for point forecasts, or a forecaster with intervals (e.g. ARIMAForecaster)")
        quantiles = self._predict_quantiles_core(horizon, interval_levels(coverage), Xs_future,
                                                 contexts)
        return [(q[..., 0], q[..., 1]) for q in quantiles]

    def _predict_quantiles_core(self, horizon, levels, Xs_future, contexts):
        by_level = []
        for p in levels:
            if p == 0.5:
                by_level.append(self._predict_core(horizon, Xs_future, contexts))
            else:
                pairs = self._predict_interval_core(horizon, abs(1.0 - 2.0 * p), Xs_future,
                                                    contexts)
                by_level.append([pair[0] if p < 0.5 else pair[1] for pair in pairs])
        return [np.stack(per_output, axis=-1) for per_output in zip(*by_level)]

    def _predict_samples_core(self, horizon, n_samples, Xs_future, contexts, rng):
        raise NotImplementedError(f"{type(self).__name__} does not provide sample paths")

    def _min_length(self):
        return 1

    def _min_context_length(self):
        return 1

    def _check_param_combinations(self, params):
        """Rules that involve several parameters (``params``: the checked values)."""

    # ------------------------------------------------------------------ helpers for subclasses
    def _validate_params(self):
        """Check every constructor parameter against ``_parameter_constraints``, once per fit.

        Returns
        -------
        dict
            The checked values by name.
        """
        params = validate_params(self, self._parameter_constraints)
        self._check_param_combinations(params)
        return params

    def min_fit_length(self):
        """The fewest observations per series that :meth:`fit` accepts with these parameters.

        Returns
        -------
        int

        Examples
        --------
        >>> from tsrnn.forecasters.naive import NaiveForecaster
        >>> NaiveForecaster(strategy="seasonal", season_length=7).min_fit_length()
        7
        """
        self._validate_params()
        return self._min_length()

    def _series_of(self, i):
        """Which fitted series (and scaling) context/output ``i`` belongs to."""
        return i if self.n_series_ > 1 else 0

    def _check_fitted(self):
        if not hasattr(self, "n_series_"):
            # scikit-learn's error type, imported only when it is raised (import time)
            from sklearn.exceptions import NotFittedError

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

    def _target_columns(self):
        return Columns(self.n_targets_, self.target_names_)

    def _exog_columns(self):
        return Columns(self.n_exog_, self.exog_names_) if self.n_exog_ else None

    def _check_length(self, table, minimum, what, purpose=""):
        n = table.values.shape[0]
        if n < minimum:
            raise ValueError(f"{what} has {n} observation(s) but {type(self).__name__} needs "
                             f"at least {minimum}{purpose}")

    def _check_structure(self, is_list, n_items, where):
        if is_list != self.list_input_ or n_items != self.n_series_:
            expected = f"a list of {self.n_series_} series" if self.list_input_ else "one series"
            raise ValueError(f"{where} needs the same structure as fit: {expected}")

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
        missing = check_missing(self.missing)
        if X is not None and not self._supports_exog:
            raise ValueError(
                f"{type(self).__name__} does not use exogenous variables; call fit without X"
            )
        pairs, is_list = split_pairs(y, X)
        columns = exog_columns = None
        if not reset:
            self._check_fitted()
            self._check_structure(is_list, len(pairs), "partial_fit")
            self._check_exog_presence(X, "partial fit")
            columns, exog_columns = self._target_columns(), self._exog_columns()
        tables, min_length = [], self._min_length()
        for i, (y_i, X_i) in enumerate(pairs):
            what = item_name("y", i, is_list)
            table, x_table = convert_observations(y_i, X_i, what, missing, columns=columns,
                                                  exog_columns=exog_columns)
            self._check_length(table, min_length, what, " to fit")
            columns = columns or Columns.of(table)
            if x_table is not None:
                exog_columns = exog_columns or Columns.of(x_table)
            tables.append((table, x_table))
        return _FitData(
            [t.values for t, _ in tables], None if X is None else [x.values for _, x in tables],
            [t.layout for t, _ in tables], is_list, columns.names,
            None if exog_columns is None else exog_columns.names)

    # ------------------------------------------------------------------ scaling
    def _scales_contexts_by_their_own_values(self):
        """Whether a context is standardised by its own moments, so that it may be a series
        the model was never fitted on (RNNForecaster's ``scaling="context"``)."""
        return False

    def _moments_of(self, row, which):
        """(mean, scale) of fitted series ``row`` or of a :class:`ContextScaling`."""
        if isinstance(row, ContextScaling):
            return getattr(row, f"{which}_mean"), getattr(row, f"{which}_scale")
        return getattr(self, f"{which}_mean_")[row], getattr(self, f"{which}_scale_")[row]

    def _scale(self, values, row, which="y"):
        if not self._standardize:
            return values
        mean, scale = self._moments_of(row, which)
        scaled = np.ascontiguousarray((values - mean) / scale)
        self._check_representable(scaled, which)
        return scaled

    def _scaled_limit(self):
        """Largest standardised magnitude the model's arithmetic holds (None: no limit)."""
        return None

    def _check_representable(self, scaled, which):
        """Refuse values whose standardised size would overflow the model's arithmetic."""
        limit = self._scaled_limit()
        if limit is None or scaled.size == 0:
            return
        largest = float(np.max(np.abs(scaled)))
        if not largest <= limit:
            name = "exogenous values (X)" if which == "X" else "values"
            raise ValueError(
                f"{name} up to {largest:.3g} standard deviations from the fitted mean are "
                f"beyond what {type(self).__name__} can compute with (at most {limit:.3g}); "
                f"check the data for a wrong entry or a change of units")

    def _unscale(self, values, row):
        if not self._standardize:
            return values
        mean, scale = self._moments_of(row, "y")
        return values * scale + mean

    def _exog_moments(self, arrays):
        """The exogenous columns' scaling (a subclass may leave columns it scales itself
        alone)."""
        return self._moments(arrays)

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
                self.X_mean_, self.X_scale_ = self._exog_moments(data.Xs)
            else:
                self.X_mean_ = self.X_scale_ = None

    def _base_state(self):
        """The fitted attributes this class owns, as (JSON-able dict, dict of arrays), for saving."""
        from tsrnn.io import label_to_json

        header = {
            "n_series": self.n_series_, "n_targets": self.n_targets_, "n_exog": self.n_exog_,
            "target_names": label_to_json(self.target_names_),
            "exog_names": label_to_json(self.exog_names_), "list_input": self.list_input_,
            "layouts": [{key: label_to_json(value) for key, value in asdict(layout).items()}
                        for layout in self.layouts_],
            "panel": None if getattr(self, "panel_", None) is None else {
                "keys": label_to_json(self.panel_.keys), "form": self.panel_.form},
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
        self.layouts_ = [
            SeriesLayout(**{key: label_from_json(value) for key, value in layout.items()})
            for layout in header["layouts"]]
        panel = header.get("panel")
        self.panel_ = None if panel is None else Panel(list(label_from_json(panel["keys"])),
                                                        panel["form"])
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
            series. A panel (see :mod:`tsrnn.panel`) is a list too: a dict ``{id: series}``,
            or a long DataFrame with columns ``unique_id``, ``ds``, ``y`` and known-future
            covariates; forecasts are then keyed the same way.
        X : same kinds as ``y``, optional
            Exogenous columns aligned with ``y`` (same length; same index when both are pandas;
            a list when ``y`` is a list, a dict of the same keys when ``y`` is a dict).

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
        self._validate_params()
        y, X, panel = split_panel(y, X)
        data = self._validate_fit_data(y, X)
        self._transaction(self._fit_validated, data)
        self.panel_ = panel
        return self

    # ------------------------------------------------------------------ predict
    def _context_pairs(self, context):
        """Split ``context`` into ``(y, X or None)`` pairs; returns (pairs, is_list)."""
        if not self.n_exog_:
            items, is_list = split_list(context, "context")
            pairs = [(item, None) for item in items]
        elif _is_pair(context):
            pairs, is_list = [context], False
        elif isinstance(context, list) and context and all(_is_pair(c) for c in context):
            pairs, is_list = list(context), True
        else:
            raise ValueError(
                "the model was fitted with exogenous columns, so context must be a pair "
                "(y_context, X_context) or a list of such pairs"
            )
        if self._scales_contexts_by_their_own_values():
            return pairs, is_list
        if self.n_series_ > 1 and (not is_list or len(pairs) != self.n_series_):
            hint = (" (scaling='context' makes a model fitted on several series forecast "
                    "new ones)" if "scaling" in self.get_params() else "")
            raise ValueError(
                f"the model was fitted on {self.n_series_} series, so context must be a list "
                f"of {self.n_series_} entries, one per fitted series, in the same order{hint}"
            )
        return pairs, is_list

    def _convert_contexts(self, context, missing):
        """``context`` as a list of :class:`~tsrnn._input.Context` in model units."""
        pairs, is_list = self._context_pairs(context)
        contexts, minimum = [], self._min_context_length()
        own = self._scales_contexts_by_their_own_values()
        for i, (y_ctx, X_ctx) in enumerate(pairs):
            what = item_name("context", i, is_list)
            row = 0 if own else self._series_of(i)
            table, x_table = convert_observations(
                y_ctx, X_ctx, what, missing, columns=self._target_columns(),
                exog_columns=self._exog_columns(), fallback=self.layouts_[row])
            self._check_length(table, minimum, what)
            if own:
                row = self._context_scaling(table, x_table)
            X_scaled = None if x_table is None else self._scale(x_table.values, row, "X")
            contexts.append(Context(self._scale(table.values, row), X_scaled, table.layout, row,
                                    what))
        return contexts, is_list

    def _context_scaling(self, table, x_table):
        """The :class:`ContextScaling` of a context: its own moments, as the fit takes each
        series' own."""
        y_mean, y_scale = self._moments([table.values])
        X_mean = X_scale = None
        if x_table is not None:
            X_mean, X_scale = self._exog_moments([x_table.values])
            X_mean, X_scale = X_mean[0], X_scale[0]
        return ContextScaling(y_mean[0], y_scale[0], X_mean, X_scale)

    def _convert_future_exog(self, X, plan):
        """Future exogenous columns, one ``(horizon, E)`` array per forecast, in model units."""
        self._check_exog_presence(X, "predict")
        if X is None:
            return None
        items, x_is_list = split_list(X, "X")
        if x_is_list != plan.is_list or len(items) != len(plan.layouts):
            raise ValueError(
                f"X must give the future exogenous columns for each of the {len(plan.layouts)} "
                f"forecast(s) ({'a list' if plan.is_list else 'one table'}), got "
                f"{'a list of ' + str(len(items)) if x_is_list else 'one table'}"
            )
        out = []
        for i, item in enumerate(items):
            what = item_name("X", i, plan.is_list)
            table, _ = convert_observations(item, None, what, check_missing(self.missing),
                                            columns=self._exog_columns(), index_end=False)
            _check_covers_horizon(table, what, plan.horizon, plan.indexes[i])
            out.append(self._scale(table.values, plan.scale_rows[i], "X"))
        return out

    def _prepare_predict(self, horizon, X, context):
        self._check_fitted()
        horizon = check_horizon(horizon)
        missing = check_missing(self.missing)
        panel = getattr(self, "panel_", None)
        if context is None:
            contexts, is_list = None, self.list_input_
            layouts, rows = list(self.layouts_), list(range(self.n_series_))
        else:
            context, panel = self._panel_context(context)
            contexts, is_list = self._convert_contexts(context, missing)
            layouts, rows = [c.layout for c in contexts], [c.series for c in contexts]
        indexes = [layout.future_index(horizon) for layout in layouts]
        plan = _PredictPlan(horizon, None, contexts, layouts, indexes, rows, is_list, panel)
        plan.Xs_future = self._convert_future_exog(future_exog(X, panel), plan)
        return plan

    def _panel_context(self, context):
        """A dict or long-frame ``context`` as the list (of pairs, with covariates) the rest
        takes, and its panel (None for other contexts)."""
        if not (isinstance(context, dict) or is_long_frame(context)):
            return context, None
        ys, Xs, panel = split_panel(context, None, "context")
        if panel.form == "long" and Xs is not None:
            ys = list(zip(ys, Xs))
        return ys, panel

    @staticmethod
    def _shaped(outputs, plan):
        """The per-forecast ``outputs`` as the input was given: keyed, a list, or one."""
        if plan.panel is not None:
            return plan.panel.keyed(outputs)
        return outputs if plan.is_list else outputs[0]

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
        restored = [self._unscale(a, r) for a, r in zip(arrays, plan.scale_rows)]
        for values in restored:
            self._check_finite_output(values, "forecast")
        outputs = [wrap(values, layout, index)
                   for values, layout, index in zip(restored, plan.layouts, plan.indexes)]
        return self._shaped(outputs, plan)

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
            A dict or long frame of contexts (as in :meth:`fit`) gives forecasts keyed by
            its ids.

        Returns
        -------
        forecast : pandas.Series, pandas.DataFrame, ndarray of shape (horizon,) or (horizon, D),
            or a list of these
            Same kind as the input (the context when given, otherwise the fit data). A pandas
            forecast is indexed by the ``horizon`` labels after the last observation seen (fit
            data plus updates), or after the context's last label.

        Raises
        ------
        ValueError
            For a horizon beyond ``tsrnn._input.MAX_HORIZON`` steps, or contexts or
            exogenous values that do not fit the model (wrong columns, too short, values too
            large for the model's arithmetic).
        FloatingPointError
            When the forecast is not finite (the model or its inputs overflow); it is never
            returned.

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
        coverage : float or list of float, default=0.9
            Nominal probability in (0, 1) that each future value falls inside its interval;
            a list asks for several intervals at once.
        X, context : see :meth:`predict`.

        Returns
        -------
        lower, upper : same kind as :meth:`predict`'s output
            Interval bounds, elementwise ``lower <= upper``. With a list of coverages, a dict
            mapping each coverage to its ``(lower, upper)`` pair.

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
        >>> sorted(f.predict_interval(3, coverage=[0.5, 0.9]))
        [0.5, 0.9]
        """
        coverages, several = check_coverages(coverage)
        plan = self._prepare_predict(horizon, X, context)
        out = {}
        for c in coverages:
            pairs = self._predict_interval_core(plan.horizon, c, plan.Xs_future, plan.contexts)
            lower = self._check_core_output([p[0] for p in pairs], plan,
                                            "_predict_interval_core")
            upper = self._check_core_output([p[1] for p in pairs], plan,
                                            "_predict_interval_core")
            out[c] = (self._finish(lower, plan), self._finish(upper, plan))
        return out if several else out[coverages[0]]

    def predict_quantiles(self, horizon, q=(0.1, 0.5, 0.9), X=None, context=None):
        """Forecast quantiles of the future values.

        Parameters
        ----------
        horizon : int
            Number of steps ahead, >= 1.
        q : float or list of float, default=(0.1, 0.5, 0.9)
            Probabilities in (0, 1).
        X, context : see :meth:`predict`.

        Returns
        -------
        quantiles : pandas.DataFrame, ndarray, or a list of these
            For a Series, a DataFrame indexed like :meth:`predict`'s output with one column
            per level; for a DataFrame, columns ``(column, level)``; for arrays, shape
            ``(horizon, len(q))`` (one column) or ``(horizon, D, len(q))``.

        Examples
        --------
        >>> import numpy as np
        >>> from tsrnn.forecasters.naive import NaiveForecaster
        >>> f = NaiveForecaster().fit(np.array([1.0, 2.0, 1.0, 2.0]))
        >>> f.predict_quantiles(2, q=[0.1, 0.5, 0.9]).shape
        (2, 3)
        """
        levels = check_quantile_levels(q)
        order = np.argsort(levels)
        plan = self._prepare_predict(horizon, X, context)
        arrays = self._predict_quantiles_core(plan.horizon, levels[order], plan.Xs_future,
                                              plan.contexts)
        outputs = []
        for a, row, layout, index in zip(arrays, plan.scale_rows, plan.layouts, plan.indexes):
            a = np.asarray(a, np.float64)
            if a.shape != (plan.horizon, self.n_targets_, len(levels)):
                raise RuntimeError(f"{type(self).__name__}._predict_quantiles_core returned "
                                   f"shape {a.shape}")
            restored = np.empty_like(a)
            restored[..., order] = np.moveaxis(self._unscale(np.moveaxis(a, -1, 0), row), 0, -1)
            self._check_finite_output(restored, "quantile forecast")
            outputs.append(wrap_quantiles(restored, layout, index, levels))
        return self._shaped(outputs, plan)

    def predict_samples(self, horizon, n_samples=100, X=None, context=None, random_state=None):
        """Draw sample paths of the next ``horizon`` values.

        Parameters
        ----------
        horizon : int
            Number of steps ahead, >= 1.
        n_samples : int, default=100
            Number of paths (>= 1; at most 50 million values in all).
        X, context : see :meth:`predict`.
        random_state : int, numpy.random.Generator or None, default=None
            Seed of the draws; the same seed gives the same paths.

        Returns
        -------
        samples : pandas.DataFrame, ndarray, or a list of these
            For a Series, a DataFrame indexed like :meth:`predict`'s output with one column
            per sample; for a DataFrame, columns ``(column, sample)``; for arrays, shape
            ``(n_samples, horizon)`` (one column) or ``(n_samples, horizon, D)``.

        Examples
        --------
        >>> import numpy as np
        >>> from tsrnn.forecasters.naive import NaiveForecaster
        >>> f = NaiveForecaster().fit(np.array([1.0, 2.0, 1.0, 2.0]))
        >>> f.predict_samples(3, n_samples=5, random_state=0).shape
        (5, 3)
        """
        plan = self._prepare_predict(horizon, X, context)
        n_samples = check_n_samples(n_samples, plan.horizon, self.n_targets_,
                                    len(plan.layouts))
        rng = np.random.default_rng(random_state)
        arrays = self._predict_samples_core(plan.horizon, n_samples, plan.Xs_future,
                                            plan.contexts, rng)
        outputs = []
        for a, row, layout, index in zip(arrays, plan.scale_rows, plan.layouts, plan.indexes):
            a = np.asarray(a, np.float64)
            if a.shape != (n_samples, plan.horizon, self.n_targets_):
                raise RuntimeError(f"{type(self).__name__}._predict_samples_core returned "
                                   f"shape {a.shape}")
            restored = self._unscale(a, row)
            self._check_finite_output(restored, "sample path")
            outputs.append(wrap_samples(restored, layout, index))
        return self._shaped(outputs, plan)

    def _check_finite_output(self, values, what):
        if not np.all(np.isfinite(values)):
            raise FloatingPointError(
                f"{type(self).__name__} produced a {what} that is not finite (the model or its "
                f"inputs overflow); check the data's scale and the fitted parameters")

    # ------------------------------------------------------------------ update
    def _advance_layout(self, old, new, what):
        """The stored layout after the rows of ``new`` (a converted update table)."""
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
        return old.with_changes(last=new.index[-1], n_seen=old.n_seen + n)

    def _panel_update(self, y, X):
        """A dict or long-frame update as lists in the order of the fitted panel."""
        if not (isinstance(y, dict) or is_long_frame(y)):
            return y, X
        fitted = getattr(self, "panel_", None)
        if fitted is None:
            raise ValueError("got a dict or long frame of new values, but the model was not "
                             "fitted on one; pass them as the fit data were given")
        ys, Xs, panel = split_panel(y, X)
        ys = fitted.ordered(dict(zip(panel.keys, ys)), "y")
        if Xs is not None:
            Xs = fitted.ordered(dict(zip(panel.keys, Xs)), "X")
        return ys, Xs

    def _convert_update(self, y, X):
        """Check and convert new observations: (ys, Xs) in model units, the advanced layouts."""
        self._check_fitted()
        if X is None and self.n_exog_ == 0 and self.n_series_ == 1 and self.n_targets_ == 1 \
                and not self.list_input_:
            short = streaming_values(y, self.layouts_[0])
            if short is not None:  # a number or a few values that continue the series
                values, layout = short
                return [self._scale(values, 0)], None, [layout]
        missing = check_missing(self.missing)
        y, X = self._panel_update(y, X)
        self._check_exog_presence(X, "update")
        pairs, is_list = split_pairs(y, X)
        self._check_structure(is_list, len(pairs), "update")
        ys, Xs, layouts = [], ([] if X is not None else None), []
        for i, (y_i, X_i) in enumerate(pairs):
            what, old = item_name("y", i, is_list), self.layouts_[i]
            table, x_table = convert_observations(
                y_i, X_i, what, missing, columns=self._target_columns(),
                exog_columns=self._exog_columns(), fallback=old)
            layouts.append(self._advance_layout(old, table, what))
            values, x_values = place_update(old, table, None if x_table is None
                                            else x_table.values, what, missing)
            if values.shape[0] != table.values.shape[0]:  # skipped steps were filled in
                layouts[-1] = layouts[-1].with_changes(n_seen=old.n_seen + values.shape[0])
            ys.append(self._scale(values, i))
            if Xs is not None:
                Xs.append(self._scale(x_values, i, "X"))
        return ys, Xs, layouts

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
        ys, Xs, layouts = self._convert_update(y, X)

        def run():
            self._update_core(ys, Xs)
            self.layouts_ = layouts

        self._transaction(run)
        return self


def _is_pair(obj):
    return isinstance(obj, tuple) and len(obj) == 2


def _check_covers_horizon(table, what, horizon, index):
    """Future exogenous values must have one row per step, on the forecast's index."""
    if table.values.shape[0] != horizon:
        raise ValueError(
            f"{what} must cover the forecast horizon exactly: it has "
            f"{table.values.shape[0]} rows but horizon is {horizon}"
        )
    if table.index is not None and index is not None and not table.index.equals(index):
        raise ValueError(
            f"{what} index does not match the forecast index "
            f"({index[0]} .. {index[-1]}); align X with the horizon"
        )
