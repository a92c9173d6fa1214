"""Read one column of a CSV file as a regularly spaced time series."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from tsrnn._timesteps import format_seconds, is_business_daily

__all__ = ["read_csv_series", "CsvSeries"]


@dataclass
class CsvSeries:
    """One column of a CSV file as a regularly spaced series.

    Attributes
    ----------
    series : pandas.Series
        Float values indexed by the parsed time column (DatetimeIndex, TimedeltaIndex for
        fractional seconds, or an integer index), on a regular grid: rows missing from the
        grid were inserted as NaN.
    time_name : str
        Name of the time column.
    time_kind : {"datetime", "timedelta", "seconds", "int"}
        How the time column was read ("seconds": numbers with fractions, read as seconds).
    notes : list of str
        What was changed on the way (sorted rows, inserted timestamps).
    """

    series: pd.Series
    time_name: str
    time_kind: str
    notes: list = field(default_factory=list)

    def output_times(self, index):
        """Index labels in the file's own time format (seconds stay numbers)."""
        if self.time_kind == "seconds":
            # nanoseconds to seconds, without float noise such as 5.9399999999999995
            return np.round(np.asarray(index.total_seconds()), 9)
        return index


def _columns_text(frame):
    names = [repr(str(c)) for c in frame.columns]
    return ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")


def _parse_time(column, name):
    """Parse a time column: returns (index, kind)."""
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise ValueError(f"the time column {name!r} is empty in row {row + 1}")
    if pd.api.types.is_bool_dtype(column.dtype):
        raise ValueError(f"the time column {name!r} holds booleans, not times")
    if pd.api.types.is_numeric_dtype(column.dtype):
        numbers = column.to_numpy(dtype=np.float64)
        whole = bool(np.all(numbers == np.round(numbers)))
        # step numbers within +-2**53 (exact in float64); seconds within what int64 ns hold
        limit = 2.0 ** 53 if whole else 9.2e9
        if not np.all(np.abs(numbers) < limit):
            raise ValueError(
                f"the time column {name!r} holds numbers beyond +-{limit:.3g} (e.g. "
                f"{float(numbers[~(np.abs(numbers) < limit)][0])!r}), too large for "
                f"{'step numbers' if whole else 'seconds'}: check the column")
        if whole:
            return pd.Index(numbers.astype(np.int64), name=name), "int"
        nanos = np.round(numbers * 1e9).astype(np.int64)
        return pd.TimedeltaIndex(nanos, name=name), "seconds"
    try:  # durations first: to_datetime would read "00:00:01.5" as a time of today
        return pd.TimedeltaIndex(pd.to_timedelta(column), name=name).as_unit("ns"), "timedelta"
    except (ValueError, TypeError, OverflowError):
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            index = pd.DatetimeIndex(pd.to_datetime(column), name=name)
        return index.as_unit("ns"), "datetime"
    except (ValueError, TypeError, OverflowError) as exc:
        date_error = exc
    first = str(column.iloc[0])
    raise ValueError(
        f"cannot read the time column {name!r} as dates, durations or numbers (first value "
        f"{first!r}: {str(date_error).splitlines()[0]}); name another one (time_column, or "
        f"--time-column on the command line)"
    )


def _regular(series, kind):
    """Put ``series`` on a regular grid; returns (series, number of inserted rows)."""
    index = series.index
    if len(index) < 3:
        return series, 0
    if kind in ("datetime", "timedelta", "seconds"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            freq = pd.infer_freq(index)
        if freq is not None:
            # Already regular: record the frequency (Series.asfreq refuses durations).
            make = pd.DatetimeIndex if kind == "datetime" else pd.TimedeltaIndex
            return series.set_axis(make(index, freq=freq)), 0
        if kind == "datetime" and is_business_daily(index):
            # trading days with holidays: the weekends are not gaps, the holidays are
            return _on_grid(series, kind, to_offset("B"))
        ticks = index.asi8.astype(np.float64)
    else:
        ticks = index.to_numpy().astype(np.float64)
    gaps = np.diff(ticks)
    step = float(np.median(gaps))
    position = (ticks - ticks[0]) / step
    slot = np.round(position).astype(np.int64)
    if step <= 0 or np.any(np.abs(position - slot) > 0.01) or np.any(np.diff(slot) < 1):
        raise ValueError(
            f"the times in {index.name!r} are not evenly spaced (median step "
            f"{_describe_tick(step, kind)}); forecasting needs a regular sampling rate: "
            f"resample the file first"
        )
    _check_grid_size(int(slot[-1]) + 1, len(index), index.name)
    values = np.full(slot[-1] + 1, np.nan)
    values[slot] = series.to_numpy(dtype=np.float64)
    grid_ticks = ticks[0] + step * np.arange(slot[-1] + 1)
    if kind == "datetime":
        grid = pd.DatetimeIndex(np.round(grid_ticks).astype(np.int64).astype("M8[ns]"),
                                name=index.name)
        if index.tz is not None:
            grid = grid.tz_localize("UTC").tz_convert(index.tz)
        grid = pd.DatetimeIndex(grid, freq=pd.Timedelta(int(round(step)), "ns"))
    elif kind in ("timedelta", "seconds"):
        grid = pd.TimedeltaIndex(np.round(grid_ticks).astype(np.int64), name=index.name,
                                 freq=pd.Timedelta(int(round(step)), "ns"))
    else:
        if step != round(step):
            raise ValueError(f"the integer times in {index.name!r} have an uneven step")
        grid = pd.Index(np.round(grid_ticks).astype(np.int64), name=index.name)
    return pd.Series(values, index=grid, name=series.name), int(grid.size - len(index))


def _parse_freq(freq):
    """``freq`` as a pandas offset, or a whole number of steps (integer times); None stays."""
    if freq is None:
        return None
    if isinstance(freq, str) and freq.strip().isdigit():
        freq = int(freq)  # the command line passes "5" for a step of 5 integer times
    if isinstance(freq, (int, np.integer)) and not isinstance(freq, bool):
        if freq < 1:
            raise ValueError(f"freq={freq} must be a positive number of steps")
        return int(freq)
    try:
        offset = to_offset(freq)
    except (ValueError, TypeError):
        raise ValueError(f"freq={freq!r} is not a frequency: give a pandas alias such as 'B', "
                         f"'h' or '15min' (or a whole number of steps for integer times)") from None
    if offset.n < 1:
        raise ValueError(f"freq={freq!r} must step forward, got {offset!r}")
    return offset


def _check_freq_kind(freq, kind, name):
    """Refuse a frequency the time column cannot have, before building anything."""
    if kind == "int" and not isinstance(freq, int):
        raise ValueError(f"the times in {name!r} are step numbers: freq must be a whole number "
                         f"of steps, not {freq!r}")
    if kind != "int" and isinstance(freq, int):
        raise ValueError(f"freq={freq} is a number of steps, which only integer times take; "
                         f"the times in {name!r} need an alias such as 'h' or '15min'")
    if kind in ("timedelta", "seconds") and _fixed_nanos(freq) is None:
        raise ValueError(f"the times in {name!r} are durations, which have no calendar: "
                         f"freq={freq.freqstr!r} must be a fixed step such as '15min' or '1s'")


def _fixed_nanos(freq):
    """The length of ``freq`` in nanoseconds, or None for a calendar offset."""
    if isinstance(freq, pd.offsets.Tick):
        return int(freq.nanos)
    if isinstance(freq, pd.offsets.Day):  # a day of durations is 24 h (of dates, not always)
        return int(pd.Timedelta(freq).value)
    return None


def _on_grid(series, kind, freq):
    """``series`` on the grid of ``freq`` from its first time: (series, inserted rows).

    Times between the grid's steps are a ValueError naming the first one.
    """
    index = series.index
    _check_grid_size(_grid_length(index[0], index[-1], kind, freq), len(index), index.name)
    grid = _grid(index, kind, freq)
    off = ~index.isin(grid)
    if off.any():
        where = (f"the first time {index[0]} in {index.name!r} is not a step of "
                 f"freq={_freq_text(freq)}" if off[0] else
                 f"the time {index[off][0]} in {index.name!r} falls between the steps of "
                 f"freq={_freq_text(freq)} from its first time {index[0]}")
        raise ValueError(f"{where}; resample the file first, or give another freq")
    return series.reindex(grid), int(grid.size - len(index))


def _freq_text(freq):
    return str(freq) if isinstance(freq, int) else repr(freq.freqstr)


def _grid_length(first, last, kind, freq):
    """How many labels of ``freq`` lie from ``first`` to ``last`` (about, for calendar
    offsets), known before any is built."""
    if kind == "int":
        return int((last - first) // freq) + 1
    if kind != "datetime" or isinstance(freq, pd.offsets.Tick):
        return int((last - first) // pd.Timedelta(_fixed_nanos(freq), "ns")) + 1
    return _calendar_steps(first, last, freq) + 1


def _grid(index, kind, freq):
    """The labels of ``freq`` from the first to the last time of ``index``."""
    first, last = index[0], index[-1]
    if kind == "int":
        return pd.Index(np.arange(first, last + 1, freq, dtype=np.int64), name=index.name)
    if kind == "datetime":
        return pd.date_range(first, last, freq=freq, name=index.name, unit=index.unit)
    return pd.timedelta_range(first, last, freq=freq, name=index.name, unit=index.unit)


def _calendar_steps(first, last, freq, probe=64):
    """About how many steps of a calendar offset (business days, months) lie from ``first``
    to ``last``: one jump of ``probe`` steps gives their mean length."""
    try:
        reach = (first + probe * freq) - first
    except (OverflowError, ValueError):  # past pandas' last timestamp: a short grid
        return probe
    return int(probe * ((last - first) / reach)) if reach > pd.Timedelta(0) else probe


MAX_INSERTED_ROWS = 1_000_000
"""Most missing rows the reader inserts to put a file's times on a regular grid."""


def _check_grid_size(n_grid, n_rows, name):
    """Refuse, before allocating, a grid that would be mostly inserted gaps."""
    inserted = n_grid - n_rows
    if inserted > MAX_INSERTED_ROWS:
        raise ValueError(
            f"the times in {name!r} would need {inserted:,} missing rows inserted between "
            f"{n_rows:,} rows to be evenly spaced, more than the limit of "
            f"{MAX_INSERTED_ROWS:,} (tsrnn.datasets.csv.MAX_INSERTED_ROWS): check the time "
            f"column for a wrong entry, or resample the file first")


def _describe_tick(step, kind):
    if kind == "int":
        return f"{step:g}"
    return format_seconds(step / 1e9)


def _time_column(frame, path, column, time_column):
    """The name of the time column, after checking both named columns exist and differ."""
    if column not in frame.columns:
        raise ValueError(
            f"column {column!r} not found in {path}; its columns are {_columns_text(frame)}"
        )
    if time_column is None:
        time_column = frame.columns[0]
        if time_column == column:
            raise ValueError(
                f"{column!r} is the first column of {path}, which is read as the time column; "
                f"name the time column (time_column, or --time-column on the command line)"
            )
    elif time_column not in frame.columns:
        raise ValueError(
            f"time column {time_column!r} not found in {path}; its columns are "
            f"{_columns_text(frame)}"
        )
    elif time_column == column:
        raise ValueError(f"the time column and the value column are both {column!r}")
    return time_column


def read_csv_series(path, column, time_column=None, freq=None):
    """Read one numeric column of a CSV file, indexed by its time column.

    Parameters
    ----------
    path : str or path-like
        A CSV file with a header row.
    column : str
        The column to forecast.
    time_column : str, optional
        The column with the times; default: the first column. Dates and date-times become a
        DatetimeIndex, durations ("00:00:01.5") a TimedeltaIndex, whole numbers an integer
        index (step counts) and fractional numbers seconds (a TimedeltaIndex).
    freq : str, pandas offset or int, optional
        The grid to put the rows on, from the first time: a pandas alias such as ``'B'``,
        ``'h'`` or ``'15min'`` (durations take fixed steps only), or a whole number of steps
        for integer times. Its missing steps are inserted as NaN; a time between its steps
        is an error. Default: inferred from the times; weekdays with weekend gaps (trading
        days) are business days, ``'B'``, whose missing weekdays (holidays) become gaps.

    Returns
    -------
    CsvSeries
        Rows sorted by time and put on a regular grid (missing rows inserted as NaN).

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        When ``path`` is not a file.
    ValueError
        For a file that is not CSV, an unknown column, non-numeric values, times that are
        unparseable, repeated or unevenly spaced, or a ``freq`` that is no frequency, does not
        suit the times or does not fit them.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from tsrnn.datasets import read_csv_series
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "sensor.csv"
    >>> _ = path.write_text("time,temperature\\n2024-05-01 10:00,20.5\\n2024-05-01 10:01,20.7\\n"
    ...                     "2024-05-01 10:02,20.9\\n2024-05-01 10:04,20.6\\n")
    >>> data = read_csv_series(path, "temperature")
    >>> data.series.tolist(), data.series.index.freq, data.time_kind
    ([20.5, 20.7, 20.9, nan, 20.6], <Minute>, 'datetime')
    >>> data.notes
    ['1 missing time step(s) inserted as gaps']
    """
    grid_freq = _parse_freq(freq)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a CSV file")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path} as CSV: {str(exc).strip()}") from None
    frame.columns = [str(c) for c in frame.columns]
    time_column = _time_column(frame, path, column, time_column)
    if len(frame) == 0:
        raise ValueError(f"{path} has no data rows")
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"column {column!r} has non-numeric values, e.g. {raw.iloc[row]!r} in row {row + 1}"
        )
    index, kind = _parse_time(frame[time_column], time_column)
    if index.hasnans:  # e.g. the text "NaT", which the parsers read as a missing time
        row = int(np.flatnonzero(pd.isna(index))[0])
        raise ValueError(f"the time column {time_column!r} has no time in row {row + 1} "
                         f"({frame[time_column].iloc[row]!r})")
    series = pd.Series(values.to_numpy(dtype=np.float64), index=index, name=column)
    notes = []
    if not series.index.is_monotonic_increasing:
        series = series.sort_index(kind="stable")
        notes.append("rows sorted by time")
    if series.index.has_duplicates:
        dupes = series.index[series.index.duplicated()][:3]
        raise ValueError(
            f"the time column {time_column!r} repeats some times, e.g. "
            f"{[str(d) for d in dupes]}; aggregate the duplicates first"
        )
    if grid_freq is None:
        series, inserted = _regular(series, kind)
        if inserted and getattr(series.index, "freqstr", None) == "B":
            notes.append("weekdays only: read as business days (freq 'B'), so weekends are "
                         "not gaps")
    else:
        _check_freq_kind(grid_freq, kind, time_column)
        series, inserted = _on_grid(series, kind, grid_freq)
    if inserted:
        notes.append(f"{inserted} missing time step(s) inserted as gaps")
    if series.notna().sum() < 2:
        raise ValueError(f"column {column!r} has fewer than 2 numeric values")
    return CsvSeries(series, time_column, kind, notes)
