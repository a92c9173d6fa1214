"""PhysioNet WFDB records as DataFrames in physical units, through the ``wfdb`` package."""
from __future__ import annotations

import numbers
import warnings
from pathlib import Path

import pandas as pd

__all__ = ["read_wfdb", "is_wfdb_record", "time_index", "MAX_RECORD_VALUES"]

MAX_RECORD_VALUES = 200_000_000
"""Most values (samples times channels) :func:`read_wfdb` reads at once (1.6 GB as float64);
read a longer record in parts with ``sampfrom``/``sampto``, or raise it
(``tsrnn.datasets.physionet.MAX_RECORD_VALUES = ...``)."""

_SUFFIXES = (".hea", ".dat")


def time_index(n, rate, start=0):
    """A TimedeltaIndex named ``"time"`` of ``n`` samples at ``rate`` Hz from sample ``start``.

    Pandas time indexes count whole nanoseconds, so the step is the nearest whole number
    (1/360 s becomes 2,777,778 ns, a drift of 0.22 ns a sample).
    """
    step = pd.Timedelta(nanoseconds=round(1e9 / rate))
    return pd.timedelta_range(start=start * step, periods=n, freq=step, name="time")


def is_wfdb_record(path):
    """Whether ``path`` names a WFDB record: ``name.hea``, or ``name`` with a ``name.hea``
    beside it (and no file of its own)."""
    path = Path(path)
    if path.suffix in _SUFFIXES:
        return path.with_suffix(".hea").is_file()
    return not path.exists() and path.with_name(path.name + ".hea").is_file()


def _record_name(record):
    """The record's path without suffix, as wfdb takes it; checks its header exists."""
    if not isinstance(record, (str, Path)):
        raise TypeError(f"record must be a path (str or pathlib.Path), got "
                        f"{type(record).__name__}")
    path = Path(record)
    if path.suffix in _SUFFIXES:
        path = path.with_suffix("")
    if not path.with_name(path.name + ".hea").is_file():
        raise FileNotFoundError(f"no WFDB header {path}.hea (a record is given by its path "
                                f"without suffix, e.g. data/100, or by its .hea file)")
    return str(path)


def _import_wfdb():
    try:
        import wfdb
    except ImportError as error:
        raise ImportError("reading WFDB records needs the wfdb package: pip install "
                          "'tsrnn[wfdb]' (or pip install wfdb)") from error
    return wfdb


def _quiet_wfdb():
    """Inside ``warnings.catch_warnings()``: hide the deprecation warnings wfdb's own use of
    pandas and numpy raises (about wfdb's code, not the user's)."""
    for category in (FutureWarning, DeprecationWarning):
        warnings.simplefilter("ignore", category)


def _read_header(name):
    wfdb = _import_wfdb()
    try:
        with warnings.catch_warnings():
            _quiet_wfdb()
            return wfdb.rdheader(name)
    except Exception as error:  # noqa: BLE001 - wfdb raises many kinds for a bad header
        raise ValueError(f"cannot read the WFDB header {name}.hea: {error}") from error


def _read_signals(name, sampfrom, sampto, indexes):
    """Physical values (samples, channels) of the record's channels ``indexes``."""
    wfdb = _import_wfdb()
    try:
        with warnings.catch_warnings():
            _quiet_wfdb()
            return wfdb.rdrecord(name, sampfrom=sampfrom, sampto=sampto, channels=indexes,
                                 physical=True).p_signal
    except Exception as error:  # noqa: BLE001 - e.g. a signal file shorter than its header
        raise ValueError(f"cannot read the WFDB record {name}: {error}") from error


def _channel_indexes(names, channels, record):
    """Positions of ``channels`` (names or positions; None: all) among the record's ``names``."""
    if channels is None:
        return list(range(len(names)))
    if isinstance(channels, (str, numbers.Integral)):
        channels = [channels]
    indexes = []
    for channel in channels:
        if isinstance(channel, numbers.Integral) and not isinstance(channel, bool):
            if not 0 <= channel < len(names):
                raise ValueError(f"channel {channel} is out of range: {record} has "
                                 f"{len(names)} channels ({', '.join(names)})")
            indexes.append(int(channel))
        elif isinstance(channel, str) and channel in names:
            indexes.append(names.index(channel))
        else:
            raise ValueError(f"{record} has no channel {channel!r}; its channels are "
                             f"{', '.join(map(repr, names))}")
    if len(set(indexes)) != len(indexes):
        raise ValueError(f"channels {list(channels)!r} name a channel twice")
    return indexes


def _sample_range(sampfrom, sampto, length, n_channels, record):
    """``(sampfrom, sampto)`` checked against the record's ``length`` and the size limit."""
    for name, value in (("sampfrom", sampfrom), ("sampto", sampto)):
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, numbers.Integral)):
            raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    sampto = length if sampto is None else int(sampto)
    if not 0 <= sampfrom < sampto <= length:
        raise ValueError(f"need 0 <= sampfrom < sampto <= {length:,} (the samples of "
                         f"{record}), got sampfrom={sampfrom}, sampto={sampto}")
    values = (sampto - sampfrom) * n_channels
    if values > MAX_RECORD_VALUES:
        raise ValueError(
            f"reading {sampto - sampfrom:,} samples of {n_channels} channel(s) from {record} "
            f"is {values:,} values, more than the limit of {MAX_RECORD_VALUES:,} "
            f"(tsrnn.datasets.physionet.MAX_RECORD_VALUES): read it in parts with "
            f"sampfrom/sampto, or fewer channels")
    return int(sampfrom), sampto


def read_wfdb(record, channels=None, sampfrom=0, sampto=None):
    """Read a PhysioNet WFDB record as a DataFrame of physical values.

    Parameters
    ----------
    record : str or path-like
        The record's path without suffix (``data/03700181``) or its ``.hea`` file.
    channels : str, int or list of them, optional
        Channels to read, by name (``"ABP"``) or position; default: all.
    sampfrom, sampto : int, optional
        The samples to read, ``sampfrom <= i < sampto`` (default: the whole record).

    Returns
    -------
    pandas.DataFrame
        One float64 column per channel, named as in the header, in physical units (samples
        the record marks as invalid are NaN), indexed by a ``TimedeltaIndex`` named
        ``"time"``: the time since the start of the record, at the sampling rate (rounded to
        whole nanoseconds). ``attrs["sampling_rate_hz"]`` holds the rate and
        ``attrs["units"]`` each channel's unit.

    Raises
    ------
    ImportError
        Without the ``wfdb`` package (``pip install 'tsrnn[wfdb]'``).
    FileNotFoundError
        When there is no header ``record.hea``.
    ValueError
        For an unknown channel, a sample range outside the record, a request of more than
        :data:`MAX_RECORD_VALUES` values, or a record wfdb cannot read (named in the message).

    Examples
    --------
    >>> from tsrnn.datasets import read_wfdb
    >>> icu = read_wfdb("data/03700181", channels=["ABP", "RESP"])  # doctest: +SKIP
    >>> icu.attrs["sampling_rate_hz"], icu.index.freq  # doctest: +SKIP
    (125.0, <8000000 * Nanoseconds>)
    """
    name = _record_name(record)
    header = _read_header(name)
    names = list(header.sig_name or [])
    indexes = _channel_indexes(names, channels, name)
    sampfrom, sampto = _sample_range(sampfrom, sampto, int(header.sig_len or 0), len(indexes),
                                     name)
    signals = _read_signals(name, sampfrom, sampto, indexes)
    rate = float(header.fs)
    frame = pd.DataFrame(signals, columns=[names[i] for i in indexes], dtype="float64",
                         index=time_index(sampto - sampfrom, rate, sampfrom))
    frame.attrs["sampling_rate_hz"] = rate
    frame.attrs["units"] = {names[i]: header.units[i] for i in indexes}
    return frame
