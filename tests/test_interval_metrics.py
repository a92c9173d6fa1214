"""Interval, quantile and sample scores in tsrnn.metrics."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tsrnn.metrics import coverage, crps, interval_score, interval_width, pinball_loss


def test_coverage_counts_the_bounds_as_inside():
    assert coverage([0.0, 1.0, 2.0, 3.0], [0.0] * 4, [2.0] * 4) == 0.75


def test_coverage_of_two_columns_pools_them():
    truth = np.array([[0.0, 5.0], [1.0, 1.0]])
    assert coverage(truth, np.zeros((2, 2)), np.full((2, 2), 2.0)) == 0.75


def test_interval_width_is_the_mean_width():
    assert interval_width([0.0, 1.0], pd.Series([1.0, 4.0])) == 2.0


def test_interval_score_matches_its_definition():
    rng = np.random.default_rng(0)
    y, lo = rng.normal(size=50), rng.normal(size=50) - 1.0
    hi = lo + rng.uniform(0.5, 2.0, size=50)
    alpha = 0.2
    expected = np.mean((hi - lo) + 2 / alpha * (lo - y) * (y < lo)
                       + 2 / alpha * (y - hi) * (y > hi))
    assert interval_score(y, lo, hi, coverage=0.8) == pytest.approx(expected)


def test_pinball_loss_of_one_level_matches_its_definition():
    y, f = np.array([1.0, 0.0, 2.0]), np.array([0.0, 1.0, 2.0])
    q = 0.3
    expected = np.mean(np.where(y >= f, q * (y - f), (1 - q) * (f - y)))
    assert pinball_loss(y, f, q=q) == pytest.approx(expected)


def test_pinball_loss_of_several_levels_averages_them():
    y = np.array([1.0, 2.0])
    f = np.array([[0.5, 1.5], [1.0, 3.0]])
    single = [pinball_loss(y, f[:, k], q=q) for k, q in enumerate([0.1, 0.9])]
    assert pinball_loss(y, f, q=[0.1, 0.9]) == pytest.approx(np.mean(single))


def test_pinball_loss_at_the_median_is_half_the_absolute_error():
    assert pinball_loss([3.0, 0.0], [1.0, 1.0], q=0.5) == pytest.approx(0.75)


def test_crps_of_one_sample_is_the_absolute_error():
    assert crps([1.0, 2.0], [[0.0, 4.0]]) == pytest.approx(1.5)


def test_crps_of_many_normal_samples_approaches_the_closed_form():
    rng = np.random.default_rng(1)
    samples = rng.normal(size=(4000, 1))
    closed = 2 * stats.norm.pdf(0.3) + 0.3 * (2 * stats.norm.cdf(0.3) - 1) - 1 / np.sqrt(np.pi)
    assert crps([0.3], samples) == pytest.approx(closed, rel=0.03)


def test_crps_reads_the_pandas_layout_of_predict_samples():
    rng = np.random.default_rng(2)
    samples = rng.normal(size=(30, 4))
    frame = pd.DataFrame(samples.T)  # one row per step, one column per sample
    truth = rng.normal(size=4)
    assert crps(truth, frame) == pytest.approx(crps(truth, samples))


def test_crps_of_several_columns():
    rng = np.random.default_rng(3)
    samples = rng.normal(size=(20, 5, 2))
    truth = rng.normal(size=(5, 2))
    per_column = [crps(truth[:, j], samples[:, :, j]) for j in range(2)]
    assert crps(truth, samples) == pytest.approx(np.mean(per_column))


@pytest.mark.parametrize("policy, expected", [("propagate", np.nan), ("omit", 1.0)])
def test_nan_policy_of_coverage(policy, expected):
    value = coverage([np.nan, 1.0], [0.0, 0.0], [2.0, 2.0], nan_policy=policy)
    assert value == expected or (np.isnan(value) and np.isnan(expected))


def test_nan_policy_raise_names_the_option():
    with pytest.raises(ValueError, match="nan_policy='omit'"):
        interval_score([np.nan], [0.0], [1.0], coverage=0.9, nan_policy="raise")


def test_crps_omits_positions_with_a_nan_sample():
    samples = np.array([[0.0, np.nan], [0.0, 1.0]])
    assert crps([0.0, 1.0], samples, nan_policy="omit") == pytest.approx(0.0)


def test_lower_above_upper_is_refused():
    with pytest.raises(ValueError, match="lower exceeds upper"):
        coverage([1.0], [2.0], [0.0])


def test_shapes_must_match():
    with pytest.raises(ValueError, match="same shape"):
        interval_width([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="y_quantile must have shape"):
        pinball_loss([1.0, 2.0], [[1.0], [2.0]], q=[0.1, 0.9])
    with pytest.raises(ValueError, match="samples must have shape"):
        crps([1.0, 2.0], np.zeros((5, 3)))


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, float("nan"), -0.1])
def test_bad_levels_are_refused(bad):
    with pytest.raises(ValueError, match="coverage"):
        interval_score([1.0], [0.0], [2.0], coverage=bad)
    with pytest.raises(ValueError, match="q"):
        pinball_loss([1.0], [1.0], q=bad)


def test_a_string_level_is_a_type_error():
    with pytest.raises(TypeError, match="coverage"):
        interval_score([1.0], [0.0], [2.0], coverage="0.9")
