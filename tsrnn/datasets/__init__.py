"""Example signals (an ECG recording shipped with the package, CO2 from statsmodels) and
readers for your own: one column of a CSV file as a regularly spaced series, and PhysioNet
WFDB records (with the optional ``wfdb`` package)."""
from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from .csv import CsvSeries, read_csv_series
from .physionet import read_wfdb, time_index
from .windows import make_windows

__all__ = ["load_ecg", "load_icu", "load_co2", "read_csv_series", "CsvSeries", "read_wfdb",
           "make_windows"]

ECG_SAMPLING_RATE = 360
"""Sampling rate of :func:`load_ecg`, in Hz."""



def _data_file(name):
    return resources.files(__name__).joinpath("data", name)


def _read_adc(name):
    """Physical values, channel names, units and sampling rate of a converted WFDB record."""
    with _data_file(name).open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
        adc, gain, baseline = archive["adc"], archive["gain"], archive["baseline"]
        names, units = archive["names"].tolist(), archive["units"].tolist()
        rate = float(archive["sampling_rate"])
    values = (adc.astype(np.float64) - baseline) / gain
    values[adc == -2048] = np.nan  # WFDB format 212's mark of a missing sample
    return values, names, units, rate


def load_ecg(record=208):
    """Load 5 minutes of ECG (MIT-BIH Arrhythmia Database, lead MLII), in millivolts.

    Record 208 (the default) has normal beats and frequent premature ventricular
    contractions, so it is quasi-periodic with irregular beats: a hard, realistic test for
    forecasters. Record 100 is another patient with a regular rhythm.

    Parameters
    ----------
    record : {208, 100}, default=208
        The MIT-BIH record.

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
    Source: PhysioNet, MIT-BIH Arrhythmia Database, the first 5 minutes of lead MLII sampled at
    360 Hz: record 208 is the copy that SciPy 1.11 shipped as ``scipy.misc.electrocardiogram``,
    record 100 comes from the sample data of the wfdb-python project (MIT licence), which
    redistributes it from PhysioNet.
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
    if record not in (208, 100) or isinstance(record, bool):
        raise ValueError(f"record must be 208 or 100, got {record!r}")
    if record == 100:
        values = _read_adc("mitbih_record100_mlii.npz")[0][:, 0]
    else:
        with _data_file("mitbih_record208_ecg.npz").open("rb") as handle, \
                np.load(handle, allow_pickle=False) as archive:
            adc = archive["ecg"]
        values = (adc.astype(np.float64) - 1024.0) / 200.0
    index = time_index(values.size, ECG_SAMPLING_RATE)
    ecg = pd.Series(values, index=index, name="ecg_mv")
    ecg.attrs["sampling_rate_hz"] = ECG_SAMPLING_RATE
    return ecg


def load_icu():
    """Load 10 minutes of an ICU recording: ECG, arterial blood pressure and respiration.

    Three channels sampled together at 125 Hz: the case for forecasting one vital sign (ABP)
    from the history of the others.

    Returns
    -------
    icu : pandas.DataFrame of shape (75000, 3)
        Columns ``MCL1`` (ECG lead MCL1, mV), ``ABP`` (arterial pressure, mmHg) and ``RESP``
        (respiration, in the record's units: ADC counts / 2000, no physical unit given),
        indexed by a ``TimedeltaIndex`` named ``"time"`` with a frequency of 8 ms.
        ``icu.attrs["sampling_rate_hz"]`` is 125 and ``icu.attrs["units"]`` maps columns to
        units. Four RESP samples that the record marks as missing are NaN.

    Notes
    -----
    Source: PhysioNet record 03700181 (the sample data of the wfdb-python project, MIT
    licence, which redistributes it from PhysioNet), converted by
    ``tsrnn/datasets/data/convert_physionet.py``. When using it, cite:

    - Goldberger AL, Amaral LAN, Glass L, Hausdorff JM, Ivanov PCh, Mark RG, Mietus JE, Moody
      GB, Peng C-K, Stanley HE. PhysioBank, PhysioToolkit, and PhysioNet: Components of a New
      Research Resource for Complex Physiologic Signals. Circulation 101(23):e215-e220 (2000).

    Examples
    --------
    >>> from tsrnn.datasets import load_icu
    >>> icu = load_icu()
    >>> icu.shape, list(icu.columns), icu.attrs["sampling_rate_hz"]
    ((75000, 3), ['MCL1', 'ABP', 'RESP'], 125)
    """
    values, names, units, rate = _read_adc("icu_03700181.npz")
    frame = pd.DataFrame(values, columns=names, index=time_index(len(values), rate))
    frame.attrs["sampling_rate_hz"] = int(rate)
    frame.attrs["units"] = {name: ("" if name == "RESP" else unit)
                            for name, unit in zip(names, units)}
    return frame


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
