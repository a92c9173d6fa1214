"""Point-forecast metrics on hand-checked examples."""
import numpy as np
import pandas as pd
import pytest

from tsrnn.metrics import mae, mase, rmse, smape


def test_mae_hand_example():
    assert mae([1.0, 2.0, 3.0], [2.0, 2.0, 5.0]) == pytest.approx(1.0)


def test_rmse_hand_example():
    assert rmse([0.0, 0.0], [3.0, 4.0]) == pytest.approx(np.sqrt(12.5))


def test_smape_hand_example_in_percent():
    assert smape([100.0, 50.0], [110.0, 50.0]) == pytest.approx(100 * (20 / 210) / 2)


def test_smape_counts_zero_over_zero_as_zero():
    assert smape([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert smape([0.0, 1.0], [0.0, 1.0]) == 0.0


def test_smape_is_bounded_by_200():
    assert smape([1.0, -1.0], [-1.0, 1.0]) == pytest.approx(200.0)
    assert smape([0.0], [5.0]) == pytest.approx(200.0)


def test_mase_scales_by_in_sample_naive_error():
    # Naive in-sample errors |2-1|, |4-2| -> scale 1.5; forecast MAE 0.5.
    assert mase([5.0, 6.0], [4.0, 6.0], y_train=[1.0, 2.0, 4.0]) == pytest.approx(1 / 3)


def test_mase_with_season_length():
    train = [1.0, 10.0, 2.0, 12.0]  # seasonal differences 1, 2 -> scale 1.5
    assert mase([3.0], [6.0], y_train=train, season_length=2) == pytest.approx(2.0)


def test_mase_zero_scale_is_inf_or_undefined():
    assert mase([1.0], [2.0], y_train=[3.0, 3.0, 3.0]) == np.inf
    with pytest.warns(RuntimeWarning, match="undefined"):
        assert np.isnan(mase([1.0], [1.0], y_train=[3.0, 3.0, 3.0]))


def test_mase_needs_training_values_beyond_season():
    with pytest.raises(ValueError, match="more than season_length"):
        mase([1.0], [1.0], y_train=[1.0, 2.0], season_length=2)


def test_pandas_inputs_with_other_labels_are_refused_arrays_compare_by_position():
    t = pd.Series([1.0, 2.0], index=[10, 11])
    p = pd.Series([2.0, 4.0], index=[0, 1])
    with pytest.raises(ValueError, match="10 is in y_true's index but not in y_pred's"):
        mae(t, p)
    assert mae(t, p.to_numpy()) == pytest.approx(1.5)
    assert rmse(pd.DataFrame({"a": [0.0, 0.0]}), np.array([3.0, 4.0])) == pytest.approx(
        np.sqrt(12.5)
    )


@pytest.mark.parametrize("metric", [mae, rmse, smape])
def test_length_mismatch_raises(metric):
    with pytest.raises(ValueError, match="same shape"):
        metric([1.0, 2.0], [1.0])


@pytest.mark.parametrize("metric", [mae, rmse, smape])
def test_empty_input_raises(metric):
    with pytest.raises(ValueError, match="empty"):
        metric([], [])


def test_mase_empty_training_raises():
    with pytest.raises(ValueError, match="empty"):
        mase([1.0], [1.0], y_train=[])


def test_omit_leaves_out_missing_truth_values():
    truth, pred = np.array([1.0, np.nan, 3.0]), np.array([2.0, 5.0, 3.0])
    assert mae(truth, pred, nan_policy="omit") == pytest.approx(0.5)
    assert rmse(truth, pred, nan_policy="omit") == pytest.approx(np.sqrt(0.5))
    history = np.array([0.0, 1.0, np.nan, 5.0, 7.0])  # consecutive finite steps: 1 and 2
    assert mase(truth, pred, history, nan_policy="omit") == pytest.approx(0.5 / 1.5)


def test_propagate_returns_nan_and_raise_raises():
    truth, pred = [1.0, np.nan, 3.0], [1.5, 2.0, 2.0]
    for metric in (mae, rmse, smape):
        assert np.isnan(metric(truth, pred))
        with pytest.raises(ValueError, match="NaN"):
            metric(truth, pred, nan_policy="raise")
    assert np.isnan(mase(truth, pred, y_train=[1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="nan_policy"):
        mae(truth, pred, nan_policy="ignore")


def test_smape_counts_a_nan_term_as_missing_not_as_perfect():
    assert smape([1.0, np.nan, 3.0], [1.5, 2.0, 2.0], nan_policy="omit") == pytest.approx(
        100 * (1 / 2.5 + 2 / 5) / 2)
