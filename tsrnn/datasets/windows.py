"""Cutting a long signal into fixed-length windows, with targets for sequence models.

The windows are what :class:`tsrnn.sequence.RNNClassifier` and
:class:`~tsrnn.sequence.RNNRegressor` take. A window starting at position ``s`` covers
``s .. s + length - 1`` (its *end* is the last of these); starts go ``0, step, 2 * step, ...``
while the window, and the span its target needs, fit in the signal. Targets are either

- values: with ``horizon`` alone, the signal's value ``horizon`` steps after the window's end
  (all columns, or ``target_columns``), the forecasting set-up; or
- labels from event times: with ``events``, each window is labelled by the first event in its
  span (the window itself, or with ``horizon`` the ``horizon`` steps after it: "does an event
  come next?"), ``fill_label`` when there is none, the set-up of detecting or predicting
  annotated beats, alarms or faults.
"""
from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from tsrnn._checks import check_int

__all__ = ["make_windows"]


def make_windows(y, length, step=1, horizon=None, *, target_columns=None, events=None,
                 event_labels=None, fill_label=0, dropna=False, return_index=False):
    """Windows of ``length`` steps from a long signal, and optionally their targets.

    Parameters
    ----------
    y : array-like of shape (n,) or (n, n_features), pandas Series or DataFrame
        The signal, regularly sampled; values are read as float64.
    length : int
        Steps per window (>= 1).
    step : int, default=1
        Distance between the starts of consecutive windows (>= 1; ``step = length`` gives
        windows that do not overlap).
    horizon : int, optional
        Without ``events``: return as target the value ``horizon`` steps after each window's
        last step (``horizon=1``: the next value). With ``events``: label each window by the
        events in the ``horizon`` steps after it instead of those inside it.
    target_columns : int, str or list of them, optional
        With ``horizon`` (and no ``events``): which columns are targets, by position or, for a
        DataFrame, by name; default all. A single one (or a 1-D ``y``) gives 1-D targets.
    events : array-like, optional
        Event times: positions (integers in [0, n)) into an array ``y``, or index labels of a
        Series or DataFrame ``y`` (with an increasing index; an event between two samples
        belongs to the next one; events outside the index are ignored).
    event_labels : array-like, optional
        One label per event (default: 1 for every event).
    fill_label : scalar, default=0
        The label of a window with no event in its span.
    dropna : bool, default=False
        Leave out windows (and their targets) that contain NaN.
    return_index : bool, default=False
        Also return where each window ends: the index labels of its last step for a Series or
        DataFrame, its position for an array.

    Returns
    -------
    X : ndarray of shape (n_windows, length, n_features), float64
        n_features is 1 for a 1-D ``y``.
    targets : ndarray of shape (n_windows,) or (n_windows, n_targets)
        Only with ``horizon`` or ``events``: values (float64) or labels.
    ends : pandas.Index or ndarray of shape (n_windows,)
        Only with ``return_index``.

    Raises
    ------
    ValueError
        If the signal is shorter than one window plus its target span, or an argument is out
        of range.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.datasets import make_windows
    >>> X, target = make_windows(np.arange(10.0), length=4, step=2, horizon=1)
    >>> X.shape, X[1, :, 0].tolist(), target.tolist()
    ((3, 4, 1), [2.0, 3.0, 4.0, 5.0], [4.0, 6.0, 8.0])
    >>> X, labels = make_windows(np.zeros(12), length=3, step=3, events=[4, 10])
    >>> labels.tolist()
    [0, 1, 0, 1]
    """
    values, index = _signal(y)
    length = check_int(length, "length", minimum=1)
    step = check_int(step, "step", minimum=1)
    horizon = check_int(horizon, "horizon", minimum=1, allow_none=True)
    _check_options(horizon, target_columns, events, event_labels, fill_label)
    ends = _window_ends(len(values), length, step, horizon)
    X = _cut(values, ends, length)
    outputs = [X]
    if events is not None:
        positions = _event_positions(events, index, len(values))
        outputs.append(_event_targets(ends, length, horizon, positions, event_labels,
                                      fill_label))
    elif horizon is not None:
        outputs.append(values[ends + horizon][:, _target_columns(target_columns, y, values)])
        if np.ndim(target_columns) == 0 and (target_columns is not None or np.ndim(y) == 1):
            outputs[-1] = outputs[-1][:, 0]
    if return_index:
        outputs.append(ends if index is None else index[ends])
    if dropna:
        outputs = _without_nan(outputs)
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def _signal(y):
    """(values (n, F) float64, pandas index or None)."""
    index = y.index if isinstance(y, (pd.Series, pd.DataFrame)) else None
    try:
        values = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"y must hold numbers, got {type(y).__name__} that does not convert "
                        f"to float64: {error}") from None
    if values.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D (n,) or 2-D (n, n_features), got shape {values.shape}")
    if values.size == 0:
        raise ValueError(f"y is empty (shape {values.shape})")
    return (values[:, None] if values.ndim == 1 else values), index


def _check_options(horizon, target_columns, events, event_labels, fill_label):
    if target_columns is not None and (horizon is None or events is not None):
        raise ValueError("target_columns chooses the value targets of horizon; it needs "
                         "horizon and no events")
    if np.ndim(fill_label) != 0:
        raise ValueError(f"fill_label must be one label (a scalar), got {fill_label!r}")
    default_fill = isinstance(fill_label, numbers.Number) and fill_label == 0
    if events is None and (event_labels is not None or not default_fill):
        raise ValueError("event_labels and fill_label label windows by events; pass events "
                         "too")


def _window_ends(n, length, step, horizon):
    """Positions of the last step of every window whose target span fits in n values."""
    span = length + (horizon or 0)
    if span > n:
        needed = f"length {length}" + (f" plus horizon {horizon}" if horizon else "")
        raise ValueError(f"a window needs {needed} = {span} values, but y has only {n}")
    return np.arange(length - 1, n - (horizon or 0), step)


def _cut(values, ends, length):
    """(n_windows, length, F) copies of the windows ending at ``ends``."""
    views = np.lib.stride_tricks.sliding_window_view(values, length, axis=0)  # (n', F, L)
    return np.ascontiguousarray(views[ends - (length - 1)].transpose(0, 2, 1))


def _target_columns(target_columns, y, values):
    """Column positions of the value targets."""
    if target_columns is None:
        return np.arange(values.shape[1])
    chosen = [target_columns] if np.ndim(target_columns) == 0 else list(target_columns)
    if isinstance(y, pd.DataFrame):
        positions = []
        for column in chosen:
            if column in y.columns:
                positions.append(y.columns.get_loc(column))
            elif isinstance(column, (int, np.integer)) and 0 <= column < values.shape[1]:
                positions.append(int(column))
            else:
                raise ValueError(f"target column {column!r} is not among the columns "
                                 f"{list(y.columns)}")
        return np.array(positions)
    for column in chosen:
        if isinstance(column, bool) or not isinstance(column, (int, np.integer)) \
                or not 0 <= column < values.shape[1]:
            raise ValueError(f"target_columns must be column positions in "
                             f"[0, {values.shape[1]}), got {column!r}")
    return np.array(chosen, dtype=np.intp)


def _event_positions(events, index, n):
    """Sample positions of the events (-1 for one outside the signal, which labels nothing)."""
    events = np.asarray(events)
    if events.ndim != 1:
        raise ValueError(f"events must be 1-D (one time per event), got shape {events.shape}")
    if index is None:
        if events.size and not np.issubdtype(events.dtype, np.integer):
            raise TypeError(f"events of an array y are integer positions, got dtype "
                            f"{events.dtype}")
        if events.size and (events.min() < 0 or events.max() >= n):
            raise ValueError(f"events must be positions in [0, {n}), got values from "
                             f"{events.min()} to {events.max()}")
        return events.astype(np.intp)
    if not index.is_monotonic_increasing:
        raise ValueError("events given as index labels need an increasing index")
    positions = np.asarray(index.searchsorted(events, side="left"))
    # after the last sample, or before the first (no sample at or before it)
    outside = (positions >= n) | (np.asarray(index.searchsorted(events, side="right")) == 0)
    return np.where(outside, -1, positions).astype(np.intp)


def _event_targets(ends, length, horizon, positions, event_labels, fill_label):
    """Each window's label: the first event in its span, ``fill_label`` if none."""
    if event_labels is None:
        labels = np.ones(len(positions), dtype=np.int64)
    else:
        labels = np.asarray(event_labels)
        if labels.shape != positions.shape:
            raise ValueError(f"event_labels must have one label per event ({len(positions)}),"
                             f" got shape {labels.shape}")
    kept = positions >= 0
    order = np.argsort(positions[kept], kind="stable")  # ties: the first event given
    sorted_positions, sorted_labels = positions[kept][order], labels[kept][order]
    first, last = (ends - length + 1, ends) if horizon is None else (ends + 1, ends + horizon)
    nxt = np.searchsorted(sorted_positions, first, side="left")
    found = nxt < len(sorted_positions)
    found[found] = sorted_positions[nxt[found]] <= last[found]
    try:
        dtype = np.result_type(sorted_labels, np.asarray(fill_label))
    except TypeError:  # e.g. string labels with a number: keep both as they are
        dtype = object
    targets = np.full(len(ends), fill_label, dtype=dtype)
    targets[found] = sorted_labels[nxt[found]]
    return targets


def _without_nan(outputs):
    """The outputs without the windows whose values (or value targets) hold NaN."""
    X = outputs[0]
    keep = ~np.isnan(X).any(axis=(1, 2))
    for array in outputs[1:]:
        if isinstance(array, np.ndarray) and array.dtype.kind == "f":
            keep &= ~np.isnan(array.reshape(len(array), -1)).any(axis=1)
    return [array[keep] for array in outputs]
