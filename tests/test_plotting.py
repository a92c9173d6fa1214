"""Figures of tsrnn.plotting: interval bands, model styles, origin titles, gaps and history."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from tsrnn.comparison import run_comparison  # noqa: E402
from tsrnn.plotting import plot_comparison, plot_forecast  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HORIZON = 5


def bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def line(ax, label):
    (found,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return found


def origin_axes(figure):
    """The per-origin panels (the error panel is the last axes)."""
    return figure.axes[:-1]


@pytest.fixture(scope="module")
def dated():
    """Trading-day data: business days, weekends missing."""
    index = pd.bdate_range("2001-01-01", periods=300)
    return pd.Series(np.sin(np.arange(300) / 5.0), index=index, name="price")


@pytest.fixture(scope="module")
def comparison(dated):
    return run_comparison(dated, models=["naive", "markov"], horizons=[HORIZON], n_origins=4,
                          context_length=100, coverage=None)


def test_comparison_with_intervals_draws_their_bands(dated):
    result = run_comparison(dated, models=["naive", "markov"], horizons=[HORIZON], n_origins=4,
                            context_length=100, coverage=0.9)
    for ax in origin_axes(plot_comparison(result)):
        assert len(bands(ax)) == 2


@pytest.fixture
def banded(comparison):
    """A copy of ``comparison`` whose forecasts have interval bounds, added by hand."""
    forecasts = {name: frame.assign(lower=frame["y_pred"] - 0.2, upper=frame["y_pred"] + 0.2)
                 for name, frame in comparison.forecasts.items()}
    result = replace(comparison, forecasts=forecasts)
    result.coverage = 0.8
    return result


# ---------------------------------------------------------------------------------------------
# plot_forecast
# ---------------------------------------------------------------------------------------------
def test_forecast_figure_is_agg_and_written_to_path(tmp_path):
    y = np.arange(50.0)
    path = tmp_path / "forecast.png"
    figure = plot_forecast(y, np.full(HORIZON, 49.0), path)
    assert isinstance(figure.canvas, FigureCanvasAgg)
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_forecast_without_bounds_draws_no_band():
    figure = plot_forecast(np.arange(50.0), np.full(HORIZON, 49.0))
    assert bands(figure.axes[0]) == []


def test_forecast_bounds_draw_a_labelled_band():
    point = np.full(HORIZON, 49.0)
    figure = plot_forecast(np.arange(50.0), point, lower=point - 1, upper=point + 1,
                           coverage=0.9)
    ax = figure.axes[0]
    (band,) = bands(ax)
    assert band.get_label() == "90 % interval"
    assert "90 % interval" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_forecast_band_has_the_forecast_colour():
    from matplotlib.colors import to_rgb

    point = np.full(HORIZON, 49.0)
    ax = plot_forecast(np.arange(50.0), point, lower=point - 1, upper=point + 1).axes[0]
    (band,) = bands(ax)
    assert tuple(band.get_facecolor()[0][:3]) == pytest.approx(to_rgb(line(ax, "forecast")
                                                                      .get_color()))
    assert band.get_label() == "interval"  # no coverage given


def test_forecast_dataframe_with_bounds(dated):
    index = pd.bdate_range(dated.index[-1] + pd.offsets.BDay(), periods=HORIZON)
    frame = pd.DataFrame({"y_pred": np.zeros(HORIZON), "lower": -np.ones(HORIZON),
                          "upper": np.ones(HORIZON)}, index=index)
    ax = plot_forecast(dated, frame, coverage=0.95).axes[0]
    (band,) = bands(ax)
    assert band.get_label() == "95 % interval"
    x = line(ax, "forecast").get_xdata()
    assert pd.DatetimeIndex(x).equals(index)  # plotted at the forecast's own dates


def test_forecast_dataframe_without_bounds_draws_no_band():
    frame = pd.DataFrame({"y_pred": np.zeros(HORIZON)}, index=np.arange(50, 50 + HORIZON))
    ax = plot_forecast(pd.Series(np.arange(50.0)), frame).axes[0]
    assert bands(ax) == []
    np.testing.assert_array_equal(line(ax, "forecast").get_ydata(), np.zeros(HORIZON))


@pytest.mark.parametrize("bounds, message", [
    ({"lower": np.zeros(HORIZON - 1), "upper": np.ones(HORIZON)}, "lower has 4 values"),
    ({"lower": np.zeros(HORIZON), "upper": np.ones(HORIZON + 2)}, "upper has 7 values"),
    ({"lower": np.zeros(HORIZON)}, "both lower and upper"),
])
def test_forecast_bounds_are_checked(bounds, message):
    with pytest.raises(ValueError, match=message):
        plot_forecast(np.arange(50.0), np.zeros(HORIZON), **bounds)


def test_forecast_dataframe_needs_y_pred():
    with pytest.raises(ValueError, match="'y_pred' column"):
        plot_forecast(np.arange(50.0), pd.DataFrame({"forecast": np.zeros(HORIZON)}))


def test_forecast_history_breaks_at_nan_values_only(dated):
    y = dated.copy()
    y.iloc[-20:-17] = np.nan
    x = line(plot_forecast(y, np.zeros(HORIZON)).axes[0], "observed")
    values = np.asarray(x.get_ydata(), dtype=np.float64)
    assert len(values) == len(y)  # nothing dropped, nothing inserted at the weekends
    np.testing.assert_array_equal(np.isnan(values), np.isnan(y.to_numpy()))


def test_forecast_history_with_nullable_missing_values():
    y = pd.Series([1.0, 2.0, None, 4.0, 5.0], dtype="Float64")
    ax = plot_forecast(y, np.zeros(2)).axes[0]
    assert np.isnan(line(ax, "observed").get_ydata()[2])


def test_forecast_history_weekend_gaps_are_bridged(dated):
    future = pd.bdate_range(dated.index[-1] + pd.offsets.BDay(), periods=HORIZON)
    ax = plot_forecast(dated, pd.Series(np.zeros(HORIZON), index=future)).axes[0]
    values = np.asarray(line(ax, "observed").get_ydata(), dtype=np.float64)
    assert np.isfinite(values).all()  # a continuous line over the missing weekends
    assert pd.DatetimeIndex(line(ax, "observed").get_xdata()).equals(dated.index)


def test_forecast_default_history_is_long_and_follows_the_season():
    y = np.sin(np.arange(2000) / 50.0)

    def observed(**kwargs):
        ax = plot_forecast(y, np.zeros(HORIZON), **kwargs).axes[0]
        return len(line(ax, "observed").get_ydata())

    assert observed() == 400
    assert observed(season_length=300) == 600
    assert observed(season_length=(7, 365.25)) == 731
    assert observed(season_length=5000) == 2000  # capped at the series' length
    assert observed(n_history=50) == 50


# ---------------------------------------------------------------------------------------------
# plot_comparison
# ---------------------------------------------------------------------------------------------
def test_comparison_written_to_path(comparison, tmp_path):
    path = tmp_path / "comparison.png"
    figure = plot_comparison(comparison, path)
    assert isinstance(figure.canvas, FigureCanvasAgg)
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_models_differ_in_line_style_in_every_panel(comparison):
    figure = plot_comparison(comparison)
    styles = [{name: (line(ax, name).get_linestyle(), line(ax, name).get_marker())
               for name in comparison.models} for ax in figure.axes]
    assert styles[0]["naive"][0] != styles[0]["markov"][0]
    assert styles[0]["naive"][1] != styles[0]["markov"][1]
    assert all(panel == styles[0] for panel in styles)  # stable, the error panel included


def test_comparison_without_bounds_draws_no_band(comparison):
    assert all(bands(ax) == [] for ax in plot_comparison(comparison).axes)


def test_comparison_bounds_draw_a_band_per_model(banded):
    figure = plot_comparison(banded)
    for ax in origin_axes(figure):
        assert len(bands(ax)) == len(banded.models)
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert any(text.startswith("80 % interval") for text in legend)


def test_origin_titles_use_the_dates(comparison):
    figure = plot_comparison(comparison)
    titles = [ax.get_title() for ax in origin_axes(figure)]
    expected = [f"origin {comparison.y.index[o]:%Y-%m-%d}" for o in comparison.origins]
    assert titles == expected


def test_origin_titles_use_positions_without_an_index():
    result = run_comparison(np.sin(np.arange(1500) / 5.0), models=["naive"], horizons=[3],
                            n_origins=2, context_length=50)
    titles = [ax.get_title() for ax in origin_axes(plot_comparison(result))]
    assert titles == [f"origin {o:,}" for o in result.origins]
    assert "," in titles[0]


def test_comparison_truth_breaks_at_nan_values(dated):
    y = dated.copy()
    y.iloc[285:288] = np.nan
    result = run_comparison(y, models=["naive"], horizons=[HORIZON], n_origins=2,
                            context_length=100)
    ax = plot_comparison(result, history=30).axes[-2]  # the last origin: 295
    truth = np.asarray(line(ax, "truth").get_ydata(), dtype=np.float64)
    shown = y.iloc[result.origins[-1] - 30:]
    np.testing.assert_array_equal(np.isnan(truth), np.isnan(shown.to_numpy()))
    assert np.isnan(truth).sum() == 3


def test_comparison_history_follows_the_season(comparison):
    def truth(result):
        return len(line(plot_comparison(result).axes[0], "truth").get_ydata())

    assert truth(comparison) == HORIZON + HORIZON  # default: the horizon before the origin
    seasonal = replace(comparison)
    seasonal.season_length = (5, 20)
    assert truth(seasonal) == 2 * 20 + HORIZON
