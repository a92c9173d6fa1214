"""Season detection and Fourier terms (tsrnn.seasonality)."""
import numpy as np
import pandas as pd
import pytest

from tsrnn.seasonality import (check_season_length, detect_season, fourier_terms,
                               resolve_season)

RNG = np.random.default_rng(0)


def test_a_clean_cycle_is_found_to_a_fraction_of_a_step():
    t = np.arange(2000)
    periods = detect_season(np.sin(2 * np.pi * t / 52.18) + 0.2 * RNG.normal(size=t.size))
    assert len(periods) == 1 and periods[0] == pytest.approx(52.18, abs=0.3)


def test_a_trend_does_not_hide_the_cycle():
    t = np.arange(1500)
    y = 0.05 * t + np.sin(2 * np.pi * t / 12) + 0.3 * RNG.normal(size=t.size)
    assert detect_season(y) == pytest.approx((12.0,), abs=0.2)


@pytest.mark.parametrize("make", [
    lambda n: RNG.normal(size=n),
    lambda n: np.cumsum(RNG.normal(size=n)),
    lambda n: pd.Series(RNG.normal(size=n)).ewm(alpha=0.05).mean().to_numpy(),
], ids=["white noise", "random walk", "smooth red noise"])
def test_series_without_a_cycle_have_no_season(make):
    assert detect_season(make(3000)) == ()


def test_daily_and_weekly_cycles_of_half_hourly_data():
    t = np.arange(48 * 7 * 12)
    y = (np.sin(2 * np.pi * t / 48) + 0.7 * np.sin(2 * np.pi * t / 336)
         + (t % 336 < 96) + 0.3 * RNG.normal(size=t.size))
    daily, weekly = detect_season(y)
    assert daily == pytest.approx(48, abs=2) and weekly == pytest.approx(336, abs=2)
    assert len(detect_season(y, max_seasons=1)) == 1


def test_missing_values_are_interpolated_and_short_or_constant_series_have_none():
    t = np.arange(600.0)
    y = np.sin(2 * np.pi * t / 20)
    y[::17] = np.nan
    assert detect_season(y) == pytest.approx((20.0,), abs=0.2)
    assert detect_season(np.ones(100)) == ()
    assert detect_season([1.0, 2.0, 3.0]) == ()


def test_max_period_limits_the_search():
    t = np.arange(3000)
    assert detect_season(np.sin(2 * np.pi * t / 200), max_period=100) == ()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="one series"):
        detect_season(np.ones((10, 2)))
    with pytest.raises(ValueError, match="alpha"):
        detect_season(np.ones(100), alpha=0)
    with pytest.raises(ValueError, match="no finite value"):
        detect_season([np.nan, np.nan])


def test_fourier_terms_are_sine_cosine_pairs():
    terms = fourier_terms(np.arange(8), 8, 2)
    assert terms.shape == (8, 4)
    np.testing.assert_allclose(terms[2], [1.0, 0.0, 0.0, -1.0], atol=1e-12)


def test_season_length_constraint_and_resolution():
    assert check_season_length(None) is None and check_season_length("auto") == "auto"
    assert check_season_length(7) == (7.0,)
    assert check_season_length((336, 48)) == (48.0, 336.0)
    with pytest.raises(TypeError):
        check_season_length("52" == 1 or True)
    with pytest.raises(ValueError, match="> 1"):
        check_season_length(1)
    with pytest.raises(ValueError, match="empty"):
        check_season_length(())
    with pytest.raises(ValueError, match="'auto'"):
        check_season_length("weekly")
    t = np.arange(500)
    assert resolve_season("auto", np.sin(2 * np.pi * t / 25)) == pytest.approx((25.0,), abs=0.2)
    assert resolve_season(None, t) == ()
