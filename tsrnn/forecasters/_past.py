"""Past covariates of RNNForecaster: channels whose history helps but whose future is unknown.

The network reads them as extra exogenous columns, built here in the forecaster's model
units (each channel standardised by its own series' moments): the row of the time being
predicted, ``t``, holds the channels' values at ``t - 1`` (the latest known when ``y_{t-1}``
is read) and a last column that is 1 where they are known. Where they are not, over a
forecast's horizon, in NaN gaps, and in random stretches of the training data (so that the
network learns to do without them), the row is all zeros. The base class leaves these
columns unscaled (their moments are fixed at 0 and 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsrnn._input import split_list

__all__ = ["PastScaling", "as_past_arrays", "past_moments", "past_rows", "future_rows",
           "mask_stretches", "join_exog", "split_past_pairs"]


@dataclass(frozen=True)
class PastScaling:
    """Per-channel mean and scale of one series' past covariates (model units)."""

    mean: np.ndarray
    scale: np.ndarray

    def standardise(self, values):
        return (values - self.mean) / self.scale


def _as_float_table(obj, what):
    if isinstance(obj, (pd.Series, pd.DataFrame)):
        values = obj.to_numpy(dtype=np.float64)
    else:
        try:
            values = np.asarray(obj, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{what} must be numeric (an array, Series or DataFrame): "
                            f"{error}") from None
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] == 0:
        raise ValueError(f"{what} must be 1-D or 2-D with at least one column, got shape "
                         f"{values.shape}")
    if np.isinf(values).any():
        raise ValueError(f"{what} holds infinite values; use NaN for unknown ones")
    return values


def as_past_arrays(X_past, lengths, is_list, what="X_past", n_channels=None):
    """``X_past`` (one table, or a list when the series are a list) as float arrays, one per
    series, each of the series' length; NaN marks unknown values."""
    if is_list and not isinstance(X_past, list):
        raise TypeError(f"the series are a list, so {what} must be a list of their past "
                        f"covariates, got {type(X_past).__name__}")
    items = X_past if is_list else [X_past]
    if len(items) != len(lengths):
        raise ValueError(f"{what} must give the past covariates of each of the "
                         f"{len(lengths)} series (a list like y), got {len(items)}")
    arrays = []
    for i, (item, n) in enumerate(zip(items, lengths)):
        name = f"{what}[{i}]" if is_list else what
        values = _as_float_table(item, name)
        if values.shape[0] != n:
            raise ValueError(f"{name} has {values.shape[0]} rows but its series has {n}")
        if n_channels is not None and values.shape[1] != n_channels:
            raise ValueError(f"{name} has {values.shape[1]} channel(s); the model was fitted "
                             f"with {n_channels}")
        arrays.append(values)
    return arrays


def past_moments(values):
    """The :class:`PastScaling` of one series' past covariates (NaN left out)."""
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(values, axis=0) if np.isfinite(values).any() else \
            np.zeros(values.shape[1])
        scale = np.nanstd(values, axis=0) if np.isfinite(values).any() else \
            np.ones(values.shape[1])
    mean = np.where(np.isfinite(mean), mean, 0.0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return PastScaling(mean, scale)


def past_rows(values, scaling, previous=None):
    """The network's past-covariate columns for the rows of ``values`` (n, P): row ``t``
    holds row ``t - 1`` (``previous``, the last row before them, for the first; unknown
    without one) and the known-indicator."""
    n, P = values.shape
    shifted = np.full((n, P), np.nan)
    shifted[1:] = values[:-1]
    if previous is not None:
        shifted[0] = previous
    return _with_indicator(scaling.standardise(shifted))


def _with_indicator(standardised):
    known = np.isfinite(standardised).all(axis=1)
    rows = np.zeros((standardised.shape[0], standardised.shape[1] + 1))
    rows[known, :-1] = standardised[known]
    rows[known, -1] = 1.0
    return rows


def future_rows(last, scaling, horizon):
    """The past-covariate columns of a forecast's ``horizon`` rows: the first reads the last
    known values (``last``, or unknown if None), the rest are unknown."""
    shifted = np.full((horizon, scaling.mean.shape[0]), np.nan)
    if last is not None:
        shifted[0] = last
    return _with_indicator(scaling.standardise(shifted))


def mask_stretches(rows, length, rng):
    """``rows`` with about half of its stretches of ``length`` rows made unknown (zeros), at a
    random phase: training then also sees the forecasts' situation, history without them."""
    out = rows.copy()
    phase = int(rng.integers(0, length))
    blocks = (np.arange(len(rows)) + phase) // length
    hidden = rng.random(blocks[-1] + 1 if len(rows) else 0) < 0.5
    out[hidden[blocks]] = 0.0
    return out


def join_exog(X, rows, what="X"):
    """The known covariates ``X`` (None, an array, Series or DataFrame) with the past
    columns ``rows`` appended, in the kind of ``X`` (a DataFrame's index and names kept)."""
    if X is None:
        return rows
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):
        names = [f"__past_{j}" for j in range(rows.shape[1])]
        if len(X) != len(rows):
            raise ValueError(f"{what} has {len(X)} rows but {len(rows)} are needed")
        extra = pd.DataFrame(rows, index=X.index, columns=names)
        return pd.concat([X, extra], axis=1)
    values = np.asarray(X, dtype=np.float64)
    values = values[:, None] if values.ndim == 1 else values
    if len(values) != len(rows):
        raise ValueError(f"{what} has {len(values)} rows but {len(rows)} are needed")
    return np.hstack([values, rows])


def split_past_pairs(context, has_exog):
    """``context`` as (list of (y, X or None), is_list)."""
    if has_exog:
        if isinstance(context, tuple) and len(context) == 2:
            return [context], False
        if isinstance(context, list) and all(isinstance(c, tuple) and len(c) == 2
                                             for c in context):
            return list(context), True
        raise ValueError("the model was fitted with exogenous columns, so context must be a "
                         "pair (y_context, X_context) or a list of such pairs")
    items, is_list = split_list(context, "context")
    return [(c, None) for c in items], is_list


def _is_list(obj):
    return split_list(obj, "y")[1]


def _per_series(X, n, is_list):
    """The known covariates ``X`` (None, one table, or a list when the series are one) as
    one entry per series."""
    if X is None:
        return [None] * n
    return list(X) if is_list else [X]


def _length(obj):
    return len(obj) if isinstance(obj, (pd.Series, pd.DataFrame)) else np.shape(obj)[0]


class PastCovariatesMixin:
    """``X_past`` for RNNForecaster's public methods: past covariates turned into the extra
    exogenous columns described in this module, around the base class's own handling.

    Fitted attributes: ``n_past_`` (channels; 0 without), ``past_scalings_`` (a
    :class:`PastScaling` per fitted series) and ``past_last_`` (each series' last row of
    channel values, NaN where unknown).
    """

    # ------------------------------------------------------------------ hooks
    def _unknown_ahead(self):
        n = getattr(self, "n_past_", 0)
        return n + 1 if n else 0

    def _exog_moments(self, arrays):
        mean, scale = self._moments(arrays)
        k = self._unknown_ahead()
        if k:  # built in model units already
            mean[:, -k:], scale[:, -k:] = 0.0, 1.0
        return mean, scale

    def _hide_past(self, X, rng):
        """Training exogenous rows with past covariates hidden in random stretches."""
        k = self._unknown_ahead()
        if not k:
            return X
        X = X.copy()
        X[:, -k:] = mask_stretches(X[:, -k:], self.free_run, rng)
        return X

    # ------------------------------------------------------------------ fit
    def _fit_with_past(self, fit, y, X, X_past, keep_scaling=False):
        """Run ``fit(y, X)`` with the past covariates ``X_past`` joined to ``X`` (scaled as
        at the first fit when ``keep_scaling``)."""
        items = y if _is_list(y) else [y]
        channels = self.n_past_ if keep_scaling else None
        arrays = as_past_arrays(X_past, [_length(i) for i in items], _is_list(y),
                                n_channels=channels)
        scalings = (self.past_scalings_ if keep_scaling
                    else [past_moments(a) for a in arrays])
        if len(scalings) != len(arrays):
            raise ValueError(f"X_past must give {len(scalings)} series, as the first fit")
        X_items = _per_series(X, len(items), _is_list(y))
        joined = [join_exog(x, past_rows(a, s)) for x, a, s in zip(X_items, arrays, scalings)]

        def run():
            self.n_past_ = arrays[0].shape[1]
            self.past_scalings_ = scalings
            self.past_last_ = [a[-1].copy() for a in arrays]
            return fit(y, joined if _is_list(y) else joined[0])

        return self._transaction(run)

    # ------------------------------------------------------------------ predict
    def _check_no_past(self, X_past, where):
        if X_past is not None and not getattr(self, "n_past_", 0):
            raise ValueError(f"X_past was given to {where}, but the model was fitted without "
                             f"past covariates")

    def _past_inputs(self, horizon, X, context, X_past):
        """``(X, context)`` for the base class: the past columns joined to both."""
        self._check_fitted()
        if context is None:
            if X_past is not None:
                raise ValueError("X_past goes with a context (the past covariates of its "
                                 "history); without one the model continues its fitted data")
            return self._future_joined(horizon, X, self.past_last_, self.past_scalings_,
                                       self.list_input_), None
        return self._context_joined(horizon, X, context, X_past)

    def _future_joined(self, horizon, X, lasts, scalings, is_list):
        X_items = _per_series(X, len(lasts), is_list)
        if len(X_items) != len(lasts):
            raise ValueError(f"X must give the future covariates of each of the {len(lasts)} "
                             f"forecasts")
        joined = [join_exog(x, future_rows(last, s, horizon), "X")
                  for x, last, s in zip(X_items, lasts, scalings)]
        return joined if is_list else joined[0]

    def _context_joined(self, horizon, X, context, X_past):
        if isinstance(context, dict):
            raise TypeError("a dict of contexts cannot take X_past; pass a list of contexts "
                            "and a list of past covariates")
        pairs, is_list = split_past_pairs(context, self.n_exog_ > self._unknown_ahead())
        lengths = [_length(y) for y, _ in pairs]
        if X_past is None:  # unknown all along the context
            arrays = [np.full((n, self.n_past_), np.nan) for n in lengths]
        else:
            arrays = as_past_arrays(X_past, lengths, is_list, n_channels=self.n_past_)
        scalings = [self._context_past_scaling(a, i) for i, a in enumerate(arrays)]
        contexts = [(y, join_exog(x, past_rows(a, s), "context X"))
                    for (y, x), a, s in zip(pairs, arrays, scalings)]
        lasts = [a[-1] for a in arrays]
        X_future = self._future_joined(horizon, X, lasts, scalings, is_list)
        return X_future, (contexts if is_list else contexts[0])

    def _context_past_scaling(self, values, i):
        if getattr(self, "scaling", "series") == "context":
            return past_moments(values)
        return self.past_scalings_[i if self.n_series_ > 1 else 0]

    # ------------------------------------------------------------------ update
    def _update_with_past(self, update, y, X, X_past):
        items = y if self.list_input_ else [y]
        lengths = [1 if np.isscalar(i) else _length(i) for i in items]
        if X_past is None:
            arrays = [np.full((n, self.n_past_), np.nan) for n in lengths]
        else:
            arrays = as_past_arrays(X_past, lengths, self.list_input_, n_channels=self.n_past_)
        X_items = _per_series(X, len(items), self.list_input_)
        joined = [join_exog(x, past_rows(a, s, previous=last))
                  for x, a, s, last in zip(X_items, arrays, self.past_scalings_,
                                           self.past_last_)]

        def run():
            update(y, joined if self.list_input_ else joined[0])
            self.past_last_ = [a[-1].copy() for a in arrays]
            return self

        return self._transaction(run)
