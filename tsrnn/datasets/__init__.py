"""Example signals (an ECG recording shipped with the package, CO2 from statsmodels) and a
reader for your own: one column of a CSV file as a regularly spaced series."""
from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from .csv import CsvSeries, read_csv_series

__all__ = ["load_ecg", "load_co2", "read_csv_series", "CsvSeries"]

ECG_SAMPLING_RATE = 360
"""Sampling rate of :func:`load_ecg`, in Hz."""

# 1/360 s is not a whole number of nanoseconds, the resolution of pandas time indexes; the index
# steps by the nearest whole number (2,777,778 ns), which drifts by 0.22 ns a sample (24
# microseconds over the whole 5-minute record).
_ECG_STEP = pd.Timedelta(nanoseconds=round(1e9 / ECG_SAMPLING_RATE))


def load_ecg():
    """Load 5 minutes of ECG (MIT-BIH Arrhythmia Database, record 208, lead MLII), in millivolts.

    The record has normal beats and frequent premature ventricular contractions, so it is
    quasi-periodic with irregular beats: a hard, realistic test for forecasters.

    Returns
    -------
    ecg : pandas.Series of shape (108000,)
        Float64 values named ``"ecg_mv"``, in millivolts, converted from the raw 11-bit ADC units
        as ``(adc - 1024) / 200``. Indexed by a ``TimedeltaIndex`` named ``"time"``: the time
        since the start of the recording, with a fixed frequency of 1/360 s (rounded to 2,777,778
        ns because pandas indexes count whole nanoseconds), so forecasts continue it. The
        sampling rate is also in ``ecg.attrs["sampling_rate_hz"]`` (360).

    Notes
    -----
    Source: PhysioNet, MIT-BIH Arrhythmia Database, record 208, the first 5 minutes of lead
    MLII sampled at 360 Hz (the copy that SciPy 1.11 shipped as ``scipy.misc.electrocardiogram``).
    Licence: Open Data Commons Attribution License v1.0 (ODC-By 1.0). When using it, cite:

    - Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. IEEE Eng in Med and
      Biol 20(3):45-50 (May-June 2001).
    - Goldberger AL, Amaral LAN, Glass L, Hausdorff JM, Ivanov PCh, Mark RG, Mietus JE, Moody
      GB, Peng C-K, Stanley HE. PhysioBank, PhysioToolkit, and PhysioNet: Components of a New
      Research Resource for Complex Physiologic Signals. Circulation 101(23):e215-e220 (2000).

    Examples
    --------
    >>> from tsrnn.datasets import load_ecg
    >>> ecg = load_ecg()
    >>> ecg.shape, ecg.name, ecg.attrs["sampling_rate_hz"]
    ((108000,), 'ecg_mv', 360)
    """
    path = resources.files(__name__).joinpath("data", "mitbih_record208_ecg.npz")
    with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
        adc = archive["ecg"]
    values = (adc.astype(np.float64) - 1024.0) / 200.0
    index = pd.timedelta_range(start=0, periods=values.size, freq=_ECG_STEP, name="time")
    ecg = pd.Series(values, index=index, name="ecg_mv")
    ecg.attrs["sampling_rate_hz"] = ECG_SAMPLING_RATE
    return ecg


def load_co2():
    """Load weekly atmospheric CO2 at Mauna Loa, March 1958 to December 2001.

    Returns
    -------
    co2 : pandas.Series of shape (2284,)
        CO2 mole fraction in parts per million (ppm), named ``"co2"``, indexed by a weekly
        ``DatetimeIndex`` (Saturdays, ``freq="W-SAT"``). Weeks without a measurement are kept
        as NaN (59 of them), so gaps stay visible: fill them (e.g. ``co2.interpolate()``) or fit
        with ``missing="interpolate"``.

    Notes
    -----
    Loaded from :mod:`statsmodels.datasets.co2` (a dependency), which marks it as public
    domain: flask air samples from Mauna Loa Observatory, Hawaii, in the Scripps Institution of
    Oceanography network, obtained by statsmodels from the Carbon Dioxide Information Analysis
    Center. Citation: Keeling, C.D. and T.P. Whorf. 2004. Atmospheric CO2 concentrations
    derived from flask air samples at sites in the SIO network. In Trends: A Compendium of Data
    on Global Change. Carbon Dioxide Information Analysis Center, Oak Ridge National
    Laboratory, U.S. Department of Energy, Oak Ridge, Tennessee, U.S.A.

    Examples
    --------
    >>> from tsrnn.datasets import load_co2
    >>> co2 = load_co2()
    >>> co2.index.freqstr, int(co2.isna().sum())
    ('W-SAT', 59)
    """
    from statsmodels.datasets import co2 as co2_dataset

    frame = co2_dataset.load_pandas().data
    series = frame["co2"].astype(np.float64)
    if series.index.freq is None:
        series = series.asfreq("W-SAT")
    series.name = "co2"
    return series
