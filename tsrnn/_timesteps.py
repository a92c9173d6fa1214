"""Time steps of a pandas index, and spans of them in words ("0.1 s", "52 weeks")."""
from __future__ import annotations

import pandas as pd

from tsrnn._input import infer_step

__all__ = ["format_seconds", "index_step", "describe_steps"]

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
