"""Panels (dict and long DataFrame input, keyed output) and backtests over many series, serial,
with joblib workers and on a Dask cluster."""

import numpy as np
import pandas as pd
import pytest

from tsrnn import ARIMAForecaster, NaiveForecaster, RNNForecaster
from tsrnn.model_selection import backtest, summarize_backtest
from tsrnn.panel import split_panel

HOURS = pd.date_range("2024-01-01", periods=120, freq="h")


def patients():
    """Three hourly series of different lengths (the keys are of mixed type on purpose)."""
    t = np.arange(160)
    return {"p1": pd.Series(np.sin(t[:120] / 4), index=HOURS, name="hr"),
            "p2": pd.Series(10 + 2 * np.cos(t[:100] / 5), index=HOURS[:100], name="hr"),
            7: pd.Series(np.linspace(0, 3, 160), name="hr",
                         index=pd.date_range("2024-02-01", periods=160, freq="h"))}


def long_frame(with_covariate=False):
    rows = []
    for key, series in patients().items():
        part = pd.DataFrame({"unique_id": key, "ds": series.index, "y": series.to_numpy()})
        if with_covariate:
            part["dose"] = np.arange(len(series)) % 3
        rows.append(part)
    return pd.concat(rows, ignore_index=True).sample(frac=1.0, random_state=0)  # any order


# ------------------------------------------------------------------ input and output
def test_dict_in_dict_out():
    model = NaiveForecaster().fit(patients())
    out = model.predict(2)
    assert list(out) == ["p1", "p2", 7]
    assert out["p2"].index[0] == HOURS[100] and out["p2"].iloc[0] == patients()["p2"].iloc[-1]
    lower, upper = model.predict_interval(2, 0.8)
    assert list(lower) == list(upper) == ["p1", "p2", 7]
    assert list(model.predict_quantiles(2, [0.1, 0.9])) == ["p1", "p2", 7]
    assert model.predict_samples(2, 4, random_state=0)[7].shape == (2, 4)


def test_long_frame_in_long_frame_out():
    frame = long_frame()
    model = NaiveForecaster().fit(frame)
    out = model.predict(3)
    assert list(out.columns) == ["unique_id", "ds", "y"]
    ids = list(pd.unique(frame.unique_id))  # in the order of first appearance
    assert out["unique_id"].tolist() == [key for key in ids for _ in range(3)]
    first = out[out.unique_id == "p2"].iloc[0]
    assert first.ds == HOURS[100] and first.y == patients()["p2"].iloc[-1]
    quantiles = model.predict_quantiles(2, [0.1, 0.9])
    assert list(quantiles.columns) == ["unique_id", "ds", 0.1, 0.9]


def test_long_frame_covariates_are_its_other_columns():
    model = ARIMAForecaster(order=(1, 0, 0)).fit(long_frame(with_covariate=True))
    assert model.n_exog_ == 1
    future = pd.concat([pd.DataFrame({"unique_id": key, "dose": [0, 1],
                                      "ds": s.index[-1] + pd.Timedelta("1h") * np.arange(1, 3)})
                        for key, s in patients().items()])
    out = model.predict(2, X=future)
    assert len(out) == 6 and np.isfinite(out.y).all()


def test_dict_contexts_give_dict_forecasts():
    model = NaiveForecaster().fit(patients()["p1"])
    contexts = {"x": patients()["p2"], "y": patients()[7]}
    out = model.predict(2, context=contexts)
    assert list(out) == ["x", "y"] and out["y"].iloc[0] == 3.0


def test_update_by_key_in_any_order():
    model = NaiveForecaster().fit(patients())
    new = {7: pd.Series([5.0], index=[pd.Timestamp("2024-02-01") + pd.Timedelta("160h")]),
           "p2": pd.Series([4.0], index=[HOURS[100]]),
           "p1": pd.Series([3.0], index=[pd.Timestamp("2024-01-06")])}
    out = model.update(new).predict(1)
    assert [out[k].iloc[0] for k in ("p1", "p2", 7)] == [3.0, 4.0, 5.0]
    with pytest.raises(ValueError, match="missing \\['p1'\\]"):
        model.update({k: v for k, v in new.items() if k != "p1"})


def test_rnn_panel_round_trips_through_a_file(tmp_path):
    model = RNNForecaster(hidden_size=4, max_epochs=2, n_models=1, random_state=0)
    model.fit(patients())
    model.save(tmp_path / "panel.tsrnn")
    loaded = RNNForecaster.load(tmp_path / "panel.tsrnn")
    assert list(loaded.predict(2)) == ["p1", "p2", 7]
    np.testing.assert_array_equal(loaded.predict(2)[7], model.predict(2)[7])


@pytest.mark.parametrize("y, X, match", [
    ({}, None, "empty dict"),
    (patients(), {"p1": None}, "missing"),
    (long_frame(), pd.DataFrame({"a": [1]}), "X must be None"),
    (long_frame().drop(columns="y"), None, "without the target column 'y'"),
    (pd.concat([long_frame(), long_frame().iloc[:1]]), None, "two rows for unique_id="),
    (long_frame().assign(ds=pd.NaT), None, "rows without 'unique_id' or 'ds'"),
])
def test_malformed_panels_are_refused(y, X, match):
    with pytest.raises(ValueError, match=match):
        split_panel(y, X)


def test_a_dict_update_of_a_model_not_fitted_on_a_panel_is_refused():
    model = NaiveForecaster().fit(patients()["p1"])
    with pytest.raises(ValueError, match="not fitted on one"):
        model.update({"p1": pd.Series([1.0], index=[HOURS[-1] + pd.Timedelta("1h")])})


# ------------------------------------------------------------------ panel backtests
@pytest.mark.parametrize("form", ["list", "dict", "long"])
def test_backtest_over_a_panel_scores_every_series(form):
    panel = {"list": list(patients().values()), "dict": patients(), "long": long_frame()}[form]
    scores = backtest(NaiveForecaster(), panel, horizon=4, n_origins=3)
    expected_ids = {"list": [0, 1, 2], "dict": ["p1", "p2", 7],
                    "long": list(pd.unique(long_frame().unique_id))}[form]
    assert scores["unique_id"].tolist() == [k for k in expected_ids for _ in range(3)]
    single = backtest(NaiveForecaster(), patients()["p2"], horizon=4, n_origins=3)
    key = 1 if form == "list" else "p2"
    second = scores[scores.unique_id == key].drop(columns="unique_id")
    if form == "long":  # the long frame's series are named "y" and indexed by "ds"
        single = backtest(NaiveForecaster(), patients()["p2"].rename("y").rename_axis("ds"),
                          horizon=4, n_origins=3)
    pd.testing.assert_frame_equal(second.reset_index(drop=True), single)


def test_backtest_panel_forecasts_and_summary():
    scores, forecasts = backtest(NaiveForecaster(), patients(), horizon=2, n_origins=2,
                                 return_forecasts=True, metrics=["mae"])
    assert forecasts.columns[0] == "unique_id" and len(forecasts) == 3 * 2 * 2
    summary = summarize_backtest(scores)
    assert summary.index.tolist() == ["p1", "p2", 7, "pooled"]
    assert summary.loc["pooled", "n_origins"] == 6
    assert summary.loc["pooled", "mae"] == pytest.approx(scores["mae"].mean())
    with pytest.raises(ValueError, match="no 'unique_id' column"):
        summarize_backtest(scores.drop(columns="unique_id"))


def test_a_fitted_global_model_needs_context_scaling():
    series = patients()
    fitted = RNNForecaster(hidden_size=4, max_epochs=2, n_models=1, random_state=0)
    fitted.fit(series)
    with pytest.raises(ValueError, match="scaling='context'"):
        backtest(fitted, series, horizon=3, n_origins=2)
    global_model = RNNForecaster(hidden_size=4, max_epochs=2, n_models=1, random_state=0,
                                 scaling="context").fit(series)
    scores = backtest(global_model, series, horizon=3, n_origins=2, context_length=50)
    assert len(scores) == 6 and np.isfinite(scores["mae"]).all()


def test_backtest_with_workers_equals_the_serial_run():
    model = ARIMAForecaster(order=(1, 0, 0))
    serial = backtest(model, patients(), horizon=3, n_origins=2)
    parallel = backtest(model, patients(), horizon=3, n_origins=2, n_jobs=2)
    pd.testing.assert_frame_equal(parallel, serial)


def test_backtest_on_a_dask_cluster_equals_the_serial_run():
    distributed = pytest.importorskip("distributed")
    import joblib

    model = ARIMAForecaster(order=(1, 0, 0))
    serial = backtest(model, patients(), horizon=3, n_origins=2, coverage=0.8)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with joblib.parallel_config(backend="dask"):
            on_cluster = backtest(model, patients(), horizon=3, n_origins=2, coverage=0.8)
        assert client.run(lambda: 1)  # the workers ran (two processes)
    pd.testing.assert_frame_equal(on_cluster, serial)


# ------------------------------------------------------------------ the CLI on a cluster
@pytest.fixture
def hourly_file(tmp_path):
    path = tmp_path / "hr.csv"
    t = np.arange(300)
    pd.DataFrame({"time": pd.date_range("2024-01-01", periods=300, freq="h"),
                  "hr": 70 + 5 * np.sin(t / 6)}).to_csv(path, index=False)
    return path


def _backtest_lines(capsys, *extra, path):
    from tsrnn.cli import main

    code = main(["backtest", str(path), "--column", "hr", "--horizon", "6", "--model",
                 "arima", "--origins", "4", "-q", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_cli_backtest_with_workers_and_on_a_scheduler_prints_the_serial_table(
        capsys, hourly_file):
    distributed = pytest.importorskip("distributed")
    serial = _backtest_lines(capsys, path=hourly_file)
    assert _backtest_lines(capsys, "--n-jobs", "2", path=hourly_file) == serial
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        on_cluster = _backtest_lines(capsys, "--scheduler", cluster.scheduler_address,
                                     path=hourly_file)
    assert on_cluster == serial


def test_cli_names_an_unreachable_scheduler(capsys, hourly_file, monkeypatch):
    pytest.importorskip("distributed")
    from tsrnn import _commands, cli

    monkeypatch.setattr(_commands, "SCHEDULER_TIMEOUT", "1s")
    code = cli.main(["backtest", str(hourly_file), "--column", "hr", "--horizon", "6",
                     "--model", "naive", "--origins", "2", "-q",
                     "--scheduler", "tcp://127.0.0.1:9"])
    assert code != 0
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in capsys.readouterr().err


def test_cli_backtest_of_several_files_scores_each_and_pools(capsys, hourly_file, tmp_path):
    from tsrnn.cli import main

    second = tmp_path / "hr2.csv"
    frame = pd.read_csv(hourly_file)
    frame.assign(hr=frame.hr * 2).to_csv(second, index=False)
    out_file = tmp_path / "scores.csv"
    code = main(["backtest", str(hourly_file), str(second), "--column", "hr", "--horizon",
                 "4", "--model", "naive", "--origins", "3", "-q", "--out", str(out_file)])
    out = capsys.readouterr().out
    assert code == 0
    assert "naive on 2 files: mean scores per file, and pooled over all 6 origins" in out
    scores = pd.read_csv(out_file)
    assert scores.columns[0] == "file" and len(scores) == 6
    first, doubled = (scores[scores.file == str(p)].mae.to_numpy() for p in (hourly_file, second))
    np.testing.assert_allclose(doubled, 2 * first)
    pooled = [line for line in out.splitlines() if line.strip().startswith("pooled")][0]
    assert f"{scores.mae.mean():.4g}" in pooled


def test_cli_compare_with_workers_scores_as_the_serial_run(capsys, hourly_file):
    from tsrnn.cli import main

    def table(*extra):
        code = main(["compare", "--csv", str(hourly_file), "--column", "hr", "--models",
                     "naive", "arima", "--horizons", "3", "6", "--origins", "4", "-q",
                     "--out", str(hourly_file.with_suffix(".out.csv")), *extra])
        assert code == 0, capsys.readouterr().err
        capsys.readouterr()
        frame = pd.read_csv(hourly_file.with_suffix(".out.csv"))
        return frame.drop(columns=[c for c in frame.columns if c.endswith("seconds")])

    pd.testing.assert_frame_equal(table("--n-jobs", "2"), table())


def test_a_long_frame_and_a_dict_give_the_forecasts_of_a_list():
    series = patients()
    as_list = RNNForecaster(hidden_size=4, max_epochs=2, n_models=1, random_state=0)
    forecasts = as_list.fit([s.rename("y").rename_axis("ds") for s in series.values()]).predict(3)
    as_dict = RNNForecaster(hidden_size=4, max_epochs=2, n_models=1, random_state=0)
    by_key = as_dict.fit({k: s.rename("y").rename_axis("ds") for k, s in series.items()})
    by_key = by_key.predict(3)
    frame = long_frame()  # shuffled: put in the dict's order of ids below
    as_long = RNNForecaster(hidden_size=4, max_epochs=2, n_models=1, random_state=0)
    long_out = as_long.fit(frame.set_index("unique_id").loc[list(series)].reset_index())
    long_out = long_out.predict(3)
    for i, key in enumerate(series):
        np.testing.assert_array_equal(by_key[key].to_numpy(), forecasts[i].to_numpy())
        rows = long_out[long_out.unique_id == key]
        np.testing.assert_array_equal(rows.y.to_numpy(), forecasts[i].to_numpy())


def test_a_model_fitted_on_two_ecg_records_forecasts_a_third_series_from_context():
    from tsrnn.datasets import load_ecg, load_icu

    records = {"208": load_ecg(208).iloc[:6000], "100": load_ecg(100).iloc[:6000]}
    model = RNNForecaster(cell="gru", hidden_size=16, max_epochs=4, n_models=1,
                          random_state=0, scaling="context").fit(records)
    third = load_icu()["MCL1"].iloc[:3000]  # another patient, another lead and rate
    forecast = model.predict(25, context=third)
    assert isinstance(forecast, pd.Series) and len(forecast) == 25
    assert forecast.index[0] == third.index[-1] + third.index.freq
    assert np.isfinite(forecast).all()
    assert abs(forecast.mean() - third.iloc[-500:].mean()) < 3 * third.iloc[-500:].std()


def test_cli_compare_of_several_files_prints_each_and_their_mean(capsys, hourly_file, tmp_path):
    from tsrnn.cli import main

    second = tmp_path / "hr2.csv"
    frame = pd.read_csv(hourly_file)
    frame.assign(hr=frame.hr * 3).to_csv(second, index=False)
    out_file = tmp_path / "table.csv"
    code = main(["compare", "--csv", str(hourly_file), str(second), "--column", "hr",
                 "--models", "naive", "--horizons", "3", "--origins", "4", "-q",
                 "--out", str(out_file)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Mean over the 2 files (each file counts once):" in captured.out
    table = pd.read_csv(out_file)
    assert table.columns[0] == "file" and set(table.file) == {str(hourly_file), str(second)}
    mase = table.groupby("file").mase.first()
    assert mase[str(hourly_file)] == pytest.approx(mase[str(second)])  # MASE ignores the scale
    assert main(["compare", "--csv", str(hourly_file), str(second), "--column", "hr",
                 "--plot", str(tmp_path / "c.png")]) != 0
    assert "--plot draws the comparison of one file" in capsys.readouterr().err


def test_parallel_workers_run_the_kernels_on_one_thread_each():
    import tsrnn

    def threads(truth, forecast):
        return float(tsrnn.get_num_threads())

    serial = backtest(NaiveForecaster(), patients()["p1"], horizon=2, n_origins=2,
                      metrics={"threads": threads})
    parallel = backtest(NaiveForecaster(), patients()["p1"], horizon=2, n_origins=2,
                        metrics={"threads": threads}, n_jobs=2)
    assert serial["threads"].tolist() == [float(tsrnn.get_num_threads())] * 2
    assert parallel["threads"].tolist() == [1.0, 1.0]
