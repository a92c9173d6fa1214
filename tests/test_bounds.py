"""Requests that would allocate without bound are refused first, with the limit and how to
raise it (issue: memory exhaustion from one argument)."""
import numpy as np
import pytest

from tsrnn import ARIMAForecaster, MarkovForecaster, NaiveForecaster, RNNForecaster, _input
from tsrnn.cli import main
from tsrnn.datasets import csv as csv_reader
from tsrnn.model_selection import backtest

Y = np.sin(np.arange(200) / 5.0)


@pytest.mark.parametrize("make", [NaiveForecaster, MarkovForecaster,
                                  lambda: ARIMAForecaster(order=(1, 0, 0))])
def test_a_huge_horizon_is_refused_before_forecasting(make):
    f = make().fit(Y)
    for call in (f.predict, f.predict_interval, f.predict_quantiles, f.predict_samples):
        with pytest.raises(ValueError, match="MAX_HORIZON"):
            call(1_000_000_000)


def test_the_horizon_limit_can_be_raised(monkeypatch):
    f = NaiveForecaster().fit(Y)
    with pytest.raises(ValueError, match="limit of 100,000"):
        f.predict(100_001)
    monkeypatch.setattr(_input, "MAX_HORIZON", 200_000)
    assert f.predict(100_001).shape == (100_001,)


def test_rnn_and_backtest_refuse_a_huge_horizon():
    f = RNNForecaster(hidden_size=4, max_epochs=1, n_models=1, random_state=0).fit(Y)
    with pytest.raises(ValueError, match="horizon"):
        f.predict(10**9)
    with pytest.raises(ValueError, match="horizon"):
        backtest(NaiveForecaster(), Y, horizon=10**9)


def test_cli_refuses_a_huge_horizon_before_reading_or_fitting(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("t,hr\n" + "".join(f"{i},{np.sin(i)}\n" for i in range(50)))
    code = main(["forecast", str(path), "--column", "hr", "--horizon", "1000000000",
                 "--model", "naive", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "MAX_HORIZON" in err and "fitting" not in err


def test_csv_times_with_an_absurd_gap_are_refused_before_allocating(tmp_path, capsys):
    path = tmp_path / "gap.csv"
    path.write_text("t,hr\n0,1\n1,2\n2,3\n300000000,4\n")
    with pytest.raises(ValueError, match="MAX_INSERTED_ROWS"):
        csv_reader.read_csv_series(path, "hr")
    assert main(["forecast", str(path), "--column", "hr", "--horizon", "3", "--model",
                 "naive", "-q"]) == 1
    assert "missing rows" in capsys.readouterr().err


def test_ordinary_gaps_are_still_inserted(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("t,hr\n0,1\n1,2\n2,3\n10,4\n")
    data = csv_reader.read_csv_series(path, "hr")
    assert len(data.series) == 11 and data.series.isna().sum() == 7


@pytest.mark.parametrize("params", [{"hidden_size": 200_000}, {"num_layers": 200_000},
                                    {"n_models": 10 ** 6, "hidden_size": 4}])
def test_a_network_too_large_for_memory_is_refused_before_allocating(params):
    from tsrnn import RNNForecaster

    with pytest.raises(ValueError, match="tsrnn._input.MAX_NETWORK_BYTES"):
        RNNForecaster(max_epochs=1, **params).fit(np.sin(np.arange(300) / 5))


def test_the_network_size_limit_can_be_raised(monkeypatch):
    from tsrnn import RNNForecaster

    monkeypatch.setattr(_input, "MAX_NETWORK_BYTES", 1000)
    with pytest.raises(ValueError, match="more than the limit"):
        RNNForecaster(hidden_size=4, max_epochs=1).fit(np.sin(np.arange(300) / 5))


@pytest.mark.parametrize("params", [{"hidden_size": 200_000}, {"num_layers": 10 ** 6}])
def test_a_window_estimator_too_large_for_memory_is_refused(params):
    from tsrnn.sequence import RNNRegressor

    X = np.random.default_rng(0).normal(size=(40, 10, 2))
    model = RNNRegressor(max_epochs=1, **params)
    with pytest.raises(ValueError, match="tsrnn._input.MAX_NETWORK_BYTES"):
        model.fit(X, X[:, -1, 0])
    assert not hasattr(model, "network_")
