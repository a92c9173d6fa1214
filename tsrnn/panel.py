"""Panels: several series keyed by an id, given as a dict or as a long DataFrame.

The forecasters take a list of series; a panel is turned into such a list (in the order of
its keys) on the way in, and their list outputs are keyed the same way on the way out:

- a **dict** ``{id: series}`` (with ``X`` a dict of the same keys, and contexts with
  covariates as ``{id: (y, X)}``) gives back ``{id: forecast}``;
- a **long DataFrame** with the columns ``unique_id``, ``ds`` and ``y``, as statsforecast and
  neuralforecast take it (one row per series and time, in any order; every other column is a
  known-future covariate of that row; the series in the order their ids first appear), gives
  back a long DataFrame: ``unique_id``, ``ds``, then the
  forecast's columns (``y``; or one per quantile level or sample path).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Panel", "ID", "TIME", "TARGET", "split_panel", "is_long_frame"]

ID, TIME, TARGET = "unique_id", "ds", "y"


def is_long_frame(obj):
    """Whether ``obj`` is a long panel frame (a DataFrame with ``unique_id`` and ``ds``)."""
    return isinstance(obj, pd.DataFrame) and ID in obj.columns and TIME in obj.columns


@dataclass(frozen=True)
class Panel:
    """The keys of a panel and its form, to key outputs like the input.

    Attributes
    ----------
    keys : list
        The series' ids, in the order of the list the forecasters see.
    form : {"dict", "long"}
    """

    keys: list
    form: str

    def keyed(self, outputs):
        """``outputs`` (one per key, in order) as a dict or a long DataFrame."""
        if self.form == "dict":
            return dict(zip(self.keys, outputs))
        frames = [_long_rows(key, output) for key, output in zip(self.keys, outputs)]
        return pd.concat(frames, ignore_index=True)

    def ordered(self, mapping, what):
        """The values of ``mapping`` (a dict keyed like this panel) in the panel's order."""
        if not isinstance(mapping, dict):
            raise TypeError(f"{what} must be a dict keyed like the series (ids "
                            f"{_keys_text(self.keys)}), got {type(mapping).__name__}")
        missing = [key for key in self.keys if key not in mapping]
        extra = [key for key in mapping if key not in set(self.keys)]
        if missing or extra:
            raise ValueError(f"{what} must have the keys of the series: missing "
                             f"{_keys_text(missing)}, unknown {_keys_text(extra)}")
        return [mapping[key] for key in self.keys]


def _keys_text(keys):
    shown = ", ".join(repr(k) for k in list(keys)[:10])
    return f"[{shown}{', ...' if len(keys) > 10 else ''}]"


def _long_rows(key, output):
    """One series' output (a Series or DataFrame indexed by time) as rows of a long frame."""
    if isinstance(output, pd.Series):
        frame = output.to_frame(TARGET)
    elif isinstance(output, pd.DataFrame):
        frame = output.copy()
        if isinstance(frame.columns, pd.MultiIndex):
            frame.columns = ["_".join(map(str, c)) for c in frame.columns]
    else:  # arrays (a panel of arrays in a dict, answered in long form): row numbers
        frame = pd.DataFrame(np.asarray(output))
    frame.index = frame.index.rename(TIME)
    frame.columns.name = None
    frame = frame.reset_index()
    frame.insert(0, ID, key)
    return frame


def _from_dict(mapping, what):
    if not mapping:
        raise ValueError(f"{what} is an empty dict; need at least one series")
    return list(mapping.values()), Panel(list(mapping), "dict")


def _from_long(frame, what):
    """Series per id of a long frame: (ys, Xs or None, Panel)."""
    if TARGET not in frame.columns:
        raise ValueError(f"{what} is a long frame ({ID!r}, {TIME!r}) without the target "
                         f"column {TARGET!r}")
    if frame[ID].isna().any() or frame[TIME].isna().any():
        raise ValueError(f"{what} has rows without {ID!r} or {TIME!r}")
    if frame.duplicated([ID, TIME]).any():
        first = frame.loc[frame.duplicated([ID, TIME]), [ID, TIME]].iloc[0]
        raise ValueError(f"{what} has two rows for {ID}={first[ID]!r} at {TIME}={first[TIME]}")
    exog = [c for c in frame.columns if c not in (ID, TIME, TARGET)]
    keys = list(pd.unique(frame[ID]))
    ys, Xs = [], []
    for key, group in frame.groupby(ID, sort=False):
        group = group.sort_values(TIME)
        index = pd.Index(group[TIME].to_numpy(), name=TIME)  # its step is inferred later
        ys.append(pd.Series(group[TARGET].to_numpy(), index=index, name=TARGET))
        Xs.append(pd.DataFrame(group[exog].to_numpy(), index=index, columns=exog))
    return ys, (Xs if exog else None), Panel(keys, "long")


def split_panel(y, X=None, what="y"):
    """``(y, X, panel)``: a dict or long-frame ``y`` as lists (with ``X`` likewise), or
    ``(y, X, None)`` for anything else (left to the forecasters' own checks).

    Raises
    ------
    ValueError, TypeError
        For a dict ``X`` whose keys differ from ``y``'s, an ``X`` beside a long frame (its
        covariates are its other columns), or a long frame without ``y``, with missing ids or
        times, or with two rows for one id and time.
    """
    if isinstance(y, dict):
        ys, panel = _from_dict(y, what)
        return ys, (None if X is None else panel.ordered(X, "X")), panel
    if is_long_frame(y):
        if X is not None:
            raise ValueError(f"{what} is a long frame: its covariates are its columns other "
                             f"than {ID!r}, {TIME!r} and {TARGET!r}; X must be None")
        return _from_long(y, what)
    return y, X, None


def future_exog(X, panel, what="X"):
    """Future covariates for the forecasts of ``panel``: a dict keyed like it, or a long frame
    (``unique_id``, ``ds`` and the covariate columns), as a list in its order."""
    if panel is None or X is None:
        return X
    if panel.form == "long" and is_long_frame(X):
        exog = [c for c in X.columns if c not in (ID, TIME)]
        parts = {}
        for key, group in X.groupby(ID, sort=False):
            group = group.sort_values(TIME)
            parts[key] = pd.DataFrame(group[exog].to_numpy(), columns=exog,
                                      index=pd.Index(group[TIME].to_numpy(), name=TIME))
        return panel.ordered(parts, what)
    return panel.ordered(X, what)
