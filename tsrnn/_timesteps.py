"""Time steps of a pandas index, and spans of them in words ("0.1 s", "52 weeks")."""
from __future__ import annotations

import numpy as np
import pandas as pd

from tsrnn._input import infer_step

__all__ = ["format_seconds", "index_step", "describe_steps", "is_business_daily"]

_CALENDAR_UNITS = (
    (pd.offsets.Week, "week"), (pd.offsets.Day, "day"), (pd.offsets.BusinessDay, "business day"),
    (pd.offsets.MonthBegin, "month"), (pd.offsets.MonthEnd, "month"),
    (pd.offsets.QuarterBegin, "quarter"), (pd.offsets.QuarterEnd, "quarter"),
    (pd.offsets.YearBegin, "year"), (pd.offsets.YearEnd, "year"),
)


def format_seconds(seconds):
    """A duration in the largest unit that keeps it readable: "2.78 ms", "0.5 s", "1 h"."""
    if seconds < 0.05:
        return f"{1000 * seconds:.3g} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    if seconds < 86400:
        return f"{seconds / 3600:.3g} h"
    days = f"{seconds / 86400:.3g}"
    return f"{days} day{'' if days == '1' else 's'}"


def index_step(index):
    """The spacing of a time index (a pandas offset), or None for other or irregular indexes."""
    if isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex, pd.PeriodIndex)):
        return infer_step(index)
    return None


def describe_steps(n, step):
    """``n`` steps of ``step`` (from :func:`index_step`) in words; "" when ``step`` is None.

    Examples
    --------
    >>> import pandas as pd
    >>> from tsrnn._timesteps import describe_steps
    >>> describe_steps(52, pd.offsets.Week(weekday=5)), describe_steps(36, pd.offsets.Milli(5))
    ('52 weeks', '0.18 s')
    """
    if step is None:
        return ""
    if isinstance(step, pd.offsets.Tick):
        return format_seconds(n * pd.Timedelta(step).total_seconds())
    for kind, word in _CALENDAR_UNITS:
        if isinstance(step, kind):
            count = n * step.n
            return f"{count} {word}{'s' if count != 1 else ''}"
    return f"{n} x {step.freqstr}"


def is_business_daily(index):
    """Whether ``index`` holds trading-day labels: business days, with holidays left out.

    That is what :func:`pandas.infer_freq` calls ``'B'``, less strict about missing weekdays:
    every label a weekday at one time of day, most labels one business day after the previous
    one (so weekly or monthly labels do not count), and at least one weekend between two
    labels (without one, nothing tells business days from calendar days).

    Parameters
    ----------
    index : pandas.Index

    Returns
    -------
    bool
        False for anything but a sorted DatetimeIndex of two or more labels.

    Examples
    --------
    >>> import pandas as pd
    >>> from tsrnn._timesteps import is_business_daily
    >>> weekdays = pd.bdate_range("2024-01-01", periods=10)  # two weeks, Monday to Friday
    >>> every_day = pd.date_range("2024-01-01", periods=10)
    >>> is_business_daily(weekdays.delete(2)), is_business_daily(every_day)
    (True, False)
    """
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return False
    local = index.tz_localize(None) if index.tz is not None else index  # wall-clock days
    midnight = local.normalize()
    if (local.day_of_week >= 5).any() or (local - midnight).nunique() != 1:
        return False
    days = midnight.to_numpy().astype("datetime64[D]")
    steps = np.busday_count(days[:-1], days[1:])
    if (steps < 1).any() or np.median(steps) != 1:
        return False
    return bool(((days[1:] - days[:-1]).astype(np.int64) > steps).any())
