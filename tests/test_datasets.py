"""Dataset loaders: shape, units, index frequency, gaps kept."""
import numpy as np
import pandas as pd

from tsrnn.datasets import load_co2, load_ecg
from tsrnn.forecasters.naive import NaiveForecaster


def test_ecg_shape_name_and_dtype():
    ecg = load_ecg()
    assert ecg.shape == (108000,)
    assert ecg.name == "ecg_mv" and ecg.dtype == np.float64
    assert ecg.attrs["sampling_rate_hz"] == 360


def test_ecg_is_in_millivolts():
    ecg = load_ecg()
    # (adc - 1024) / 200 on an 11-bit ADC: every value is on a 5 microvolt grid within range.
    assert np.allclose(ecg * 200, np.round(ecg * 200))
    assert ecg.min() >= -1024 / 200 and ecg.max() <= 1023 / 200
    assert -1.0 < ecg.median() < 1.0 and 0.2 < ecg.std() < 2.0


def test_ecg_index_is_elapsed_time_at_360_hz():
    ecg = load_ecg()
    assert isinstance(ecg.index, pd.TimedeltaIndex)
    assert ecg.index.freq is not None
    assert abs(ecg.index.freq.nanos - 1e9 / 360) < 1
    assert abs(ecg.index[-1].total_seconds() - 107999 / 360) < 1e-4


def test_ecg_forecast_continues_its_index():
    ecg = load_ecg().iloc[:720]
    forecast = NaiveForecaster().fit(ecg).predict(2)
    assert forecast.index[0] == ecg.index[-1] + ecg.index.freq


def test_co2_weekly_index_with_gaps_kept_as_nan():
    co2 = load_co2()
    assert co2.shape == (2284,) and co2.name == "co2"
    assert co2.index.freqstr == "W-SAT"
    assert co2.isna().sum() == 59
    assert 300 < co2.min() and co2.max() < 400  # ppm
