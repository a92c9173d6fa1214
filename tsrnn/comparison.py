"""The comparison behind ``tsrnn compare``: fit every model once, forecast from rolling origins.

:func:`run_comparison` fits each forecaster on the first part of a series and scores its
forecasts from many origins over the rest (MASE, sMAPE, MAE, fit and predict time per model and
horizon); :func:`format_comparison` prints the result. :func:`make_forecaster` builds the
models by name, and :data:`PRESETS` holds the defaults for the embedded data sets and for CSV
files. Nothing here parses arguments: :mod:`tsrnn.cli` is the command around it.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tsrnn._checks import check_int, check_real
from tsrnn._defaults import (DEFAULT_CONTEXT, DEFAULT_ORIGINS, DEFAULT_TRAIN_FRACTION,
                             MODEL_NAMES)
from tsrnn._input import check_horizon
from tsrnn._threads import single_threaded_blas
from tsrnn._timesteps import describe_steps, index_step
from tsrnn.datasets import load_co2, load_ecg
from tsrnn.forecasters import (ARIMAForecaster, MarkovForecaster, NaiveForecaster, STLForecaster,
                               RNNForecaster)
from tsrnn.forecasters.arima import ndiffs
from tsrnn.metrics import coverage as coverage_score
from tsrnn.metrics import interval_score, mae, naive_scale, scaled_error, smape
from tsrnn.model_selection import backtest, rolling_origins

__all__ = ["run_comparison", "format_comparison", "make_forecaster", "describe_model",
           "choose_markov_differences", "describe_fitted", "fit_timed", "params_text",
           "resolve_models", "require_season",
           "ComparisonResult", "DEFAULT_ORIGINS", "DEFAULT_CONTEXT", "DEFAULT_TRAIN_FRACTION",
           "Preset", "PRESETS", "MODEL_NAMES", "MODEL_LABELS"]


MODEL_LABELS = {name: name for name in MODEL_NAMES} | {"seasonal": "seasonal naive"}
"""How each model is named in a comparison's table, forecasts and figures."""

_DESCRIPTIONS = {
    "lstm": "RNNForecaster(cell='lstm'), default parameters",
    "gru": "RNNForecaster(cell='gru'), default parameters",
    "arima": "ARIMAForecaster(order='auto')",
    "stl": "STLForecaster: STL/MSTL decomposition of the detected seasons, ARIMA on the "
           "adjusted series",
    "markov": "MarkovForecaster(differences={differences!r}, n_states={n_states!r})",
    "naive": "NaiveForecaster: the last value repeated (reference)",
    "seasonal": "NaiveForecaster(strategy='seasonal', season_length={season_length}): the last "
                "season repeated",
}



@dataclass(frozen=True)
class Preset:
    """Defaults of a comparison on one data set.

    Attributes
    ----------
    description : str
        What the series is, for the header ("" for a CSV file: its name is used).
    horizons : tuple of int
        Steps ahead scored.
    models : tuple of str
        Models compared, among :data:`MODEL_NAMES`.
    arima : dict
        :class:`~tsrnn.ARIMAForecaster` parameters limiting the order search and fit length,
        and for a seasonal data set the season of its Fourier terms.
    season_length : int, optional
        Period of the seasonal naive forecast (None: the data set has no fixed season); also
        the period of ARIMA's Fourier terms unless ``arima`` gives one.
    load : callable, optional
        Returns the series (None for a CSV file).
    """

    description: str
    horizons: tuple
    models: tuple
    arima: dict
    season_length: int | None = None
    load: object = None


_NON_SEASONAL = tuple(m for m in MODEL_NAMES if m != "seasonal")

# ARIMA through statsmodels is the slow baseline on long signals: ARIMA(4, 0, 1) on 20,000 ECG
# samples took 48 s on a 2-core machine, and the automatic order search fits one model per grid
# point. On the ECG it is fitted on the last 3,000 training samples (8 s for the 12-point grid).
# The ECG gets no seasonal reference: its beat is irregular. CO2 has a yearly cycle of 52 weeks.
# On CO2 ARIMA is what a statistician would fit to weekly data with a yearly cycle: a dynamic
# harmonic regression, Fourier pairs of the year (365.25 / 7 = 52.18 weeks, their number by AIC)
# with ARIMA errors and a drift when the criterion wants one (Hyndman & Athanasopoulos, FPP3,
# 12.1). A seasonal ARIMA with s = 52 was too slow to be a baseline here: statsmodels took 58 s
# to fit ARIMA(0, 1, 1)(0, 1, 1, 52) on the training part and 3 s per forecast with context.
PRESETS = {
    "ecg": Preset("ECG, MIT-BIH record 208, lead MLII, 360 Hz, in mV", (36, 180), _NON_SEASONAL,
                  {"max_fit_length": 3000, "max_p": 3, "max_q": 2}, load=load_ecg),
    "co2": Preset("CO2 at Mauna Loa, weekly, in ppm", (4, 52), MODEL_NAMES,
                  {"max_fit_length": None, "max_p": 3, "max_q": 3, "season_length": 365.25 / 7,
                   "trend": "auto"}, season_length=52, load=load_co2),
    "csv": Preset("", (10, 50), _NON_SEASONAL,
                  {"max_fit_length": 5000, "max_p": 3, "max_q": 3}),
}
"""Comparison defaults per data set: ``"ecg"``, ``"co2"`` and ``"csv"`` (a file's column)."""


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------
def require_season(season_length):
    """Raise the one error for a seasonal model without a season."""
    if season_length is None:
        raise ValueError("the seasonal naive forecast needs season_length, the number of steps "
                         "in one season (--season-length N on the command line)")


def resolve_models(models, season_length=None, default=MODEL_NAMES):
    """The models to compare: checked names in order, without repeats.

    Parameters
    ----------
    models : sequence of str or None
        Names among :data:`MODEL_NAMES`; None takes ``default``, with ``"seasonal"`` only
        when ``season_length`` is given.
    season_length : float, optional
        The season of ``"seasonal"`` (required for it).
    default : sequence of str, default=MODEL_NAMES

    Returns
    -------
    list of str

    Examples
    --------
    >>> from tsrnn.comparison import resolve_models
    >>> resolve_models(None, season_length=None, default=("naive", "seasonal"))
    ['naive']
    >>> resolve_models(["naive", "seasonal", "naive"], season_length=52)
    ['naive', 'seasonal']
    """
    if models is None:
        models = [m for m in default if m != "seasonal" or season_length is not None]
    models = list(dict.fromkeys(models))
    if not models:
        raise ValueError("no models to compare")
    for name in models:
        if name not in MODEL_NAMES:
            raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    if "seasonal" in models:
        require_season(season_length)
    return models


def make_forecaster(name, random_state=0, missing="raise", verbose=0, arima_params=None,
                    season_length=None, markov_differences="auto"):
    """Create one of the compared forecasters by name.

    The RNNs get only ``cell``, ``random_state`` and the non-modelling options ``missing`` and
    ``verbose``: their hyperparameters are :class:`~tsrnn.RNNForecaster`'s defaults.

    Parameters
    ----------
    name : {"lstm", "gru", "arima", "stl", "markov", "naive", "seasonal"}
        ``"naive"`` repeats the last value, ``"seasonal"`` the last season.
    random_state : int, default=0
        Seed of the RNNs (the other models are deterministic).
    missing : {"raise", "interpolate"}, default="raise"
        How the forecaster treats NaN values in its inputs.
    verbose : int, default=0
        1 shows the RNN's training progress bar.
    arima_params : dict, optional
        Extra :class:`~tsrnn.ARIMAForecaster` parameters, e.g. ``{"max_fit_length": 3000}``.
    season_length : int, optional
        Period of ``"seasonal"`` (required for it), and of ``"arima"``'s Fourier terms unless
        ``arima_params`` gives a ``season_length``: with a season longer than 2 steps, ARIMA is
        a dynamic harmonic regression (see :class:`~tsrnn.ARIMAForecaster`).
    markov_differences : {"auto", 0, 1}, default="auto"
        ``differences`` of ``"markov"`` (see :class:`~tsrnn.MarkovForecaster`).

    Returns
    -------
    BaseForecaster
        An unfitted forecaster.

    Raises
    ------
    ValueError
        For an unknown name, or ``"seasonal"`` without ``season_length``.

    Examples
    --------
    >>> from tsrnn.comparison import make_forecaster
    >>> make_forecaster("naive")
    NaiveForecaster()
    >>> make_forecaster("seasonal", season_length=52)
    NaiveForecaster(season_length=52, strategy='seasonal')
    """
    if name in ("lstm", "gru"):
        return RNNForecaster(cell=name, random_state=random_state, missing=missing,
                             verbose=verbose)
    if name == "arima":
        params = dict(arima_params or {})
        if season_length is not None and season_length > 2:  # shorter: no Fourier pair fits
            params.setdefault("season_length", season_length)
        return ARIMAForecaster(order="auto", missing=missing, **params)
    if name == "stl":
        return STLForecaster(season_length=season_length or "auto", missing=missing)
    if name == "markov":
        return MarkovForecaster(differences=markov_differences, missing=missing)
    if name == "naive":
        return NaiveForecaster(strategy="last", missing=missing)
    if name == "seasonal":
        require_season(season_length)
        return NaiveForecaster(strategy="seasonal", season_length=int(round(season_length)),
                               missing=missing)
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")


def describe_model(name, model, params=None):
    """One line naming the forecaster behind ``name`` and its settings, for progress messages.

    ``params`` are the parameters set on top of :func:`make_forecaster`'s (the
    ``model_params`` of :func:`run_comparison`): the line names them.

    Examples
    --------
    >>> from tsrnn.comparison import describe_model, make_forecaster
    >>> describe_model("markov", make_forecaster("markov", markov_differences=1))
    "MarkovForecaster(differences=1, n_states='auto')"
    >>> describe_model("arima", make_forecaster("arima", season_length=12))
    "ARIMAForecaster(order='auto', season_length=12, harmonics='auto')"
    >>> describe_model("gru", make_forecaster("gru"), {"hidden_size": 8})
    "RNNForecaster(cell='gru', hidden_size=8)"
    """
    if params and name in ("lstm", "gru"):  # no longer "default parameters"
        return f"RNNForecaster(cell={name!r}, {params_text(params)})"
    settings = model.get_params()
    if name == "arima" and settings["season_length"] is not None:
        extra = (f", season_length={settings['season_length']:.4g}, "
                 f"harmonics={settings['harmonics']!r}")
        if settings["trend"] is not None:
            extra += f", trend={settings['trend']!r}"
        text = f"ARIMAForecaster(order='auto'{extra})"
    else:
        text = _DESCRIPTIONS[name].format(**settings)
    return text + (f", with {params_text(params)}" if params else "")


def params_text(params):
    """``name=value`` pairs, comma separated, values as Python literals.

    Examples
    --------
    >>> from tsrnn.comparison import params_text
    >>> params_text({"hidden_size": 8, "dtype": "float64"})
    "hidden_size=8, dtype='float64'"
    """
    return ", ".join(f"{key}={value!r}" for key, value in params.items())


def choose_markov_differences(y, alpha=0.05):
    """``differences`` for a Markov chain on ``y``: 1 when ``y`` does not look stationary.

    A chain over binned levels cannot forecast values outside the training range, so a series
    with a trend or a wandering level is better modelled through its increments. The choice is
    :func:`~tsrnn.forecasters.arima.ndiffs` with the KPSS test, as in ARIMA's order search,
    capped at one difference.

    Parameters
    ----------
    y : pandas.Series or array-like of shape (n,)
        The training series; NaN values are linearly interpolated for the test.
    alpha : float, default=0.05
        Significance level of the KPSS test.

    Returns
    -------
    int
        0 or 1.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.comparison import choose_markov_differences as choose
    >>> t = np.arange(500.0)
    >>> choose(np.sin(t / 5)), choose(0.1 * t + np.sin(t / 5))
    (0, 1)
    """
    values = pd.Series(np.asarray(y, dtype=np.float64).ravel())
    values = values.interpolate(limit_direction="both").to_numpy()
    if not np.isfinite(values).all():  # nothing to interpolate from
        return 0
    return ndiffs(values, test="kpss", alpha=alpha, max_d=1)


def _trend_words(trend, d):
    words = {"n": "no constant", "c": "a constant", "t": "a drift" if d == 1 else "a linear trend",
             "ct": "a constant and a linear trend"}
    return words.get(trend, f"trend={trend!r}") if isinstance(trend, str) else f"trend={trend!r}"


def _seasonal_arima_text(model, freq):
    """What a fitted seasonal ARIMAForecaster is, and how its terms were chosen."""
    params = model.get_params()
    order, k = model.order_, model.harmonics_
    d = order[1]
    ic = params["information_criterion"].upper()
    m = params["season_length"]
    period = describe_steps(round(m, 2), freq) or f"{m:.4g} steps"
    trend = _trend_words(model.trend_, d)
    call = f"ARIMAForecaster(season_length={m:.4g}"
    call += f", trend={params['trend']!r})" if params["trend"] is not None else ")"
    if k:
        fitted = (f"{k} Fourier pair{'s' if k != 1 else ''} of period {period} and {trend} with "
                  f"ARIMA{order} errors (dynamic harmonic regression, {call})")
    else:
        fitted = f"ARIMA{order} with {trend}, no Fourier pair of period {period} ({call})"
    staged = []
    if params["harmonics"] == "auto":
        staged.append(f"the number of pairs (0 to {model._harmonic_candidates()[-1]})")
    if params["trend"] == "auto" and d <= 1:
        staged.append("the drift" if d == 1 else "the constant")
    max_p, max_q = params["max_p"], params["max_q"]
    how = [f"d by {params['test'].upper()} on the series less its Fourier fit"]
    if staged:
        how.append(f"{' and '.join(staged)} by {ic} at ARIMA{(min(1, max_p), d, min(1, max_q))}")
    how.append(f"then p <= {max_p}, q <= {max_q} by {ic}")
    return f"arima: {fitted}; {', '.join(how)}; coefficients by feasible GLS"


def _arima_note(model, n_train, freq=None):
    """One line saying what the fitted ARIMAForecaster ``model`` is (with a season) or how its
    search was restricted for speed; ``freq`` is the series' step."""
    params = model.get_params()
    if params["season_length"] is not None:
        text = _seasonal_arima_text(model, freq)
    else:
        max_p, max_q = params["max_p"], params["max_q"]
        test = params["test"].upper()
        order = getattr(model, "order_", None)
        chosen = f"ARIMA{tuple(order)}, " if isinstance(order, tuple) else ""
        text = f"arima: {chosen}order by AIC over p <= {max_p}, q <= {max_q} (d by {test})"
    length = params["max_fit_length"]
    if length is not None and length < n_train:
        text += (f", fitted on the last {length:,} training observations only (statsmodels is "
                 f"slow on long signals)")
    return text + "."


def describe_fitted(name, model):
    """One sentence on what the fitted forecaster behind ``name`` chose from its data, or
    None when it chose nothing worth saying (for progress messages and notes).

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.comparison import describe_fitted, make_forecaster
    >>> walk = np.cumsum(np.random.default_rng(0).normal(size=300))
    >>> print(describe_fitted("markov", make_forecaster("markov").fit(walk)))
    MarkovForecaster over increments (differences=1) with 8 states; differences and n_states chosen by the forecast error on the last 20 % of the training part.
    """
    if name != "markov":
        return None
    params = model.get_params()
    what = "increments" if model.differences_ else "levels"
    n_states = model.n_states_[0]
    text = (f"MarkovForecaster over {what} (differences={model.differences_}) with "
            f"{n_states} state{'s' if n_states != 1 else ''}")
    if model.validation_scores_:
        chosen = [key for key in ("differences", "n_states") if params[key] == "auto"]
        text += (f"; {' and '.join(chosen)} chosen by the forecast error on the last 20 % of "
                 f"the training part")
    return text + "."


def fit_timed(model, y, **fit_params):
    """Fit ``model`` on ``y`` (with ``fit_params``, e.g. ``X_past``); return the seconds it
    took and its distinct warnings.

    Returns
    -------
    seconds : float
    warnings : list of str
        The first line of each distinct warning raised while fitting.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(y, **fit_params)
        seconds = time.perf_counter() - start
    lines = []
    for w in caught:
        text = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ""
        if text and text not in lines:
            lines.append(text)
    return seconds, lines


@dataclass
class ComparisonResult:
    """What :func:`run_comparison` measured.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model and horizon: ``model``, ``horizon``, ``mase``, ``smape`` (percent),
        ``mae``, ``fit_seconds`` (one fit on the training part) and ``predict_seconds`` (mean
        time of one forecast of the longest horizon, context included).
        With a ``coverage``, also ``coverage`` (share of the true values inside the
        intervals) and ``msis`` (mean interval score over the MASE scale); NaN for a model
        whose intervals could not be computed (the notes say why).
    forecasts : dict of str to pandas.DataFrame
        Per model, the forecasts of the longest horizon at every origin, as returned by
        :func:`~tsrnn.model_selection.backtest` (``origin``, ``step``, ``y_true``, ``y_pred``,
        and with a ``coverage`` the interval's ``lower`` and ``upper``).
    step_mae : pandas.DataFrame of shape (max(horizons), n_models)
        Mean absolute error per step ahead (rows 1..H), one column per model.
    y : pandas.Series
        The series evaluated.
    models : list of str
        The models compared, by their labels in the table (:data:`MODEL_LABELS`).
    horizons, origins : list of int
        The horizons scored, and the positions of the first forecast value of every origin.
    origin_step, n_train, context_length : int or None
        Spacing of the origins, size of the training part, context length (None: all).
    scale : float
        The MASE scale: in-sample MAE of the one-step naive forecast on the training part.
    notes : list of str
        Lines printed under the table (model settings, missing values).
    title, value_label, step_note : str
        Texts for headers and figures.
    coverage : float or None
        Nominal coverage of the intervals scored (None: none were).
    season_length : float, tuple or None
        The season given to the comparison (for figures).
    """

    table: pd.DataFrame
    forecasts: dict
    step_mae: pd.DataFrame
    y: pd.Series
    models: list
    horizons: list
    origins: list
    origin_step: int
    n_train: int
    context_length: object
    scale: float
    notes: list = field(default_factory=list)
    title: str = ""
    value_label: str = ""
    step_note: str = ""
    coverage: object = None
    season_length: object = None


def _check_horizons(horizons):
    try:
        values = sorted({int(h) for h in horizons})
    except (TypeError, ValueError):
        raise ValueError(f"horizons must be positive integers, got {horizons!r}") from None
    if not values or values[0] < 1:
        raise ValueError(f"horizons must be positive integers, got {list(horizons)!r}")
    check_horizon(values[-1])
    return values


@dataclass
class _Protocol:
    """The fixed part of a comparison: data split, origins, horizons, scoring scale."""

    y: pd.Series
    n_train: int
    origins: list
    horizons: list
    context_length: object
    scale: float
    missing: str
    coverage: object = None
    n_jobs: object = None

    @property
    def longest(self):
        return self.horizons[-1]

    @property
    def n_origins(self):
        return len(self.origins)

    @property
    def origin_step(self):
        return self.origins[1] - self.origins[0] if len(self.origins) > 1 else 1


def _make_protocol(y, horizons, n_origins, train_fraction, context_length, coverage=None,
                   n_jobs=None):
    """Split ``y``, place the origins and fix the MASE scale (see :func:`run_comparison`)."""
    horizons = _check_horizons(horizons)
    if not isinstance(y, pd.Series):
        y = pd.Series(np.asarray(y, dtype=np.float64).ravel())
    check_real(train_fraction, "train_fraction", 0, 1, low_open=True, high_open=True)
    if coverage is not None:
        coverage = check_real(coverage, "coverage", 0, 1, low_open=True, high_open=True)
    n_origins = check_int(n_origins, "n_origins", minimum=1)
    n, longest = len(y), horizons[-1]
    n_train = int(round(n * train_fraction))
    if n_train < 3 or n - longest < n_train:
        raise ValueError(
            f"the series has {n} observations: a training part of {n_train} leaves "
            f"{n - n_train} for testing, fewer than the longest horizon ({longest}); lower "
            f"the horizons or the train fraction (--horizons, --train-fraction)"
        )
    origins = rolling_origins(n, longest, n_origins, step="spread", initial=n_train)
    return _Protocol(
        y=y, n_train=n_train, origins=origins, horizons=horizons,
        context_length=context_length if context_length and context_length > 0 else None,
        scale=naive_scale(y.iloc[:n_train].to_numpy(), nan_policy="omit"),
        missing="interpolate" if y.isna().any() else "raise", coverage=coverage,
        n_jobs=n_jobs,
    )


def _forecast_all(model, protocol, progress):
    """The longest-horizon forecasts from every origin (with intervals when the protocol has
    a coverage), the mean time of one, and why intervals are missing (or None)."""
    try:
        frame, seconds = _backtest_timed(model, protocol, progress, protocol.coverage)
        return frame, seconds, None
    except (ValueError, NotImplementedError) as error:
        if protocol.coverage is None:
            raise
        # the point forecasts are still worth comparing; the notes say why there is no band
        frame, seconds = _backtest_timed(model, protocol, progress, None)
        return frame, seconds, str(error)


def _backtest_timed(model, protocol, progress, coverage):
    p = protocol
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        _, frame = backtest(model, p.y, horizon=p.longest, n_origins=p.n_origins,
                            step=p.origin_step, initial=p.n_train,
                            context_length=p.context_length, metrics={"mae": lambda t, f: 0.0},
                            progress=progress, return_forecasts=True, coverage=coverage,
                            n_jobs=p.n_jobs)
        seconds = (time.perf_counter() - start) / p.n_origins
    return frame.sort_values(["origin", "step"], kind="stable").reset_index(drop=True), seconds


def _interval_columns(truth, bounds, h, protocol):
    """Coverage and scaled interval score of the first ``h`` steps, pooled over origins."""
    if bounds is None:
        return {"coverage": np.nan, "msis": np.nan}
    lower, upper = (b[:, :h].ravel() for b in bounds)
    known = truth[:, :h].ravel()
    score = interval_score(known, lower, upper, protocol.coverage, nan_policy="omit")
    return {"coverage": coverage_score(known, lower, upper, nan_policy="omit"),
            "msis": scaled_error(score, protocol.scale)}


def _horizon_rows(name, truth, pred, bounds, protocol, fit_seconds, predict_seconds):
    """One table row per horizon: scores per origin over its first h steps, then the mean."""
    rows = []
    for h in protocol.horizons:
        maes = [mae(t[:h], f[:h], nan_policy="omit") for t, f in zip(truth, pred)]
        smapes = [smape(t[:h], f[:h], nan_policy="omit") for t, f in zip(truth, pred)]
        mean_mae = float(np.nanmean(maes))
        rows.append({
            "model": name, "horizon": h, "mase": scaled_error(mean_mae, protocol.scale),
            "smape": float(np.nanmean(smapes)), "mae": mean_mae,
            "fit_seconds": fit_seconds, "predict_seconds": predict_seconds,
        })
        if protocol.coverage is not None:
            rows[-1].update(_interval_columns(truth, bounds, h, protocol))
    return rows


def _evaluate(model, name, protocol, progress, log):
    """Fit ``model`` on the training part, forecast from every origin and score each horizon.

    Returns
    -------
    rows : list of dict
        One row of the comparison table per horizon.
    forecasts : pandas.DataFrame
        The longest-horizon forecasts from :func:`~tsrnn.model_selection.backtest`.
    step_mae : ndarray of shape (longest,)
        Mean absolute error per step ahead.
    interval_problem : str or None
        Why the model gave no intervals, when a coverage was asked for.
    """
    p = protocol
    fit_seconds, lines = fit_timed(model, p.y.iloc[:p.n_train])
    for line in lines:
        if "max_fit_length" not in line:  # the table notes say so already
            log(f"      warning: {line}")
    log(f"      fitted in {fit_seconds:.1f} s; forecasting {p.longest} steps from "
        f"{p.n_origins} origins")
    frame, predict_seconds, interval_problem = _forecast_all(model, p, progress)
    if interval_problem:
        log(f"      no intervals: {interval_problem}")

    def per_origin(column):
        return frame[column].to_numpy().reshape(p.n_origins, p.longest)

    truth, pred = per_origin("y_true"), per_origin("y_pred")
    bounds = (per_origin("lower"), per_origin("upper")) if "lower" in frame else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a step with no truth gives NaN
        step_mae = np.nanmean(np.abs(truth - pred), axis=0)
    rows = _horizon_rows(name, truth, pred, bounds, p, fit_seconds, predict_seconds)
    return rows, frame, step_mae, interval_problem


def _sorted_table(rows, labels):
    table = pd.DataFrame(rows)
    order = {label: i for i, label in enumerate(labels)}
    return table.sort_values(["horizon", "model"], key=lambda c: c.map(order)
                             if c.name == "model" else c, kind="stable").reset_index(drop=True)


def _fit_size(name, limit, n_train):
    if name == "arima" and limit is not None and limit < n_train:
        return f"the last {limit:,} of {n_train:,} training observations"
    return f"{n_train:,} observations"


def _params_notes(models, model_params, random_state):
    """Lines naming the parameters set on each model; the RNNs without any get one line
    saying they ran with their defaults."""
    notes = []
    defaults = [name for name in models if name in ("lstm", "gru") and not model_params.get(name)]
    if defaults:
        notes.append(f"{', '.join(defaults)}: RNNForecaster with its default parameters "
                     f"(random_state={random_state}).")
    for name in models:
        params = model_params.get(name)
        if not params:
            continue
        if name in ("lstm", "gru"):
            seed = "" if "random_state" in params else f", random_state={random_state}"
            notes.append(f"{name}: RNNForecaster with {params_text(params)}{seed}, other "
                         f"parameters default.")
        else:
            notes.append(f"{MODEL_LABELS[name]}: parameters set: {params_text(params)}.")
    return notes


def _notes(y, models, fitted, protocol, random_state, season_length, interval_problems,
           model_params):
    """Lines under the table: what each model was and how missing values were handled."""
    n_train = protocol.n_train
    notes = []
    for label, problem in interval_problems.items():
        notes.append(f"{label}: no intervals ({problem}).")
    n_missing = int(y.isna().sum())
    if n_missing:
        notes.append(f"{n_missing} missing value(s): interpolated in the models' inputs, left "
                     f"out of the scores.")
    freq = index_step(y.index)
    if "arima" in models:
        notes.append(_arima_note(fitted["arima"], n_train, freq))
    notes.extend(_params_notes(models, model_params, random_state))
    if "markov" in models:
        notes.append(f"markov: {describe_fitted('markov', fitted['markov'])}")
    if "seasonal" in models:
        season = fitted["seasonal"].season_length  # model_params may have set another
        span = describe_steps(season, freq)
        notes.append(f"seasonal naive: NaiveForecaster(strategy='seasonal', season_length="
                     f"{season}), the value one season{f' ({span})' if span else ''} "
                     f"before.")
    return notes


def run_comparison(y, models=None, horizons=(36, 180), n_origins=DEFAULT_ORIGINS,
                   train_fraction=DEFAULT_TRAIN_FRACTION, context_length=DEFAULT_CONTEXT,
                   random_state=0, arima_params=None, season_length=None,
                   markov_differences="auto", coverage=0.9, title="", progress=False,
                   log=None, n_jobs=None, model_params=None):
    """Fit each model once on the start of ``y`` and score rolling forecasts over the rest.

    Protocol: every model is fitted on the first ``train_fraction`` of ``y`` (timed), then
    forecasts ``max(horizons)`` steps from ``n_origins`` origins spread evenly over the rest
    (the last one ends with ``y``), each time from the ``context_length`` observations before
    the origin given as ``context`` (no refit). A horizon ``h`` is scored on the first ``h``
    steps of those forecasts, so every horizon uses the same origins. Scores are averaged over
    origins; NaN truth values are left out and NaN inputs are interpolated.

    Parameters
    ----------
    y : pandas.Series or array-like of shape (n,)
        One univariate series.
    models : sequence of str, optional
        Names understood by :func:`make_forecaster`. Default: all of :data:`MODEL_NAMES`,
        ``"seasonal"`` only when ``season_length`` is given.
    horizons : sequence of int, default=(36, 180)
        Steps ahead scored.
    n_origins : int, default=200
        Number of forecast origins in the test part.
    train_fraction : float, default=0.8
        Share of ``y`` the models are fitted on.
    context_length : int or None, default=2000
        Observations before each origin passed as context (None: all of them).
    random_state : int, default=0
        Seed of the RNNs.
    arima_params : dict, optional
        Extra ARIMA parameters (``max_fit_length``, ``max_p``, ``max_q``, ``season_length``,
        ``trend``...).
    season_length : int, optional
        Period of the seasonal naive forecast (``"seasonal"``), e.g. 52 for weekly data with a
        yearly cycle; also the period of ARIMA's Fourier terms unless ``arima_params`` gives
        one (with a season, ARIMA is a dynamic harmonic regression).
    markov_differences : {"auto", 0, 1}, default="auto"
        ``differences`` of the Markov chain; "auto" lets :class:`~tsrnn.MarkovForecaster`
        choose by its validation score on the training part.
    coverage : float or None, default=0.9
        Nominal coverage of the prediction intervals scored at every origin (table columns
        ``coverage`` and ``msis``); None scores point forecasts only (faster).
    title : str, optional
        What ``y`` is, for the header.
    progress : bool, default=False
        Show progress bars (RNN training, origins) on stderr.
    log : callable, optional
        Called with one line of text at each stage (e.g. ``print``).
    n_jobs : int, optional
        Origins forecast in parallel (joblib, as :func:`~tsrnn.model_selection.backtest`;
        inside ``joblib.parallel_config(backend="dask")`` on a Dask cluster). The scores are
        those of the serial run; ``predict_seconds`` is then wall time per origin, shorter
        than one forecast takes.
    model_params : dict of str to dict, optional
        Per model name, parameters set on its forecaster (``set_params``) after
        :func:`make_forecaster` builds it, e.g. ``{"gru": {"hidden_size": 32}}``; the log and
        the notes name them.

    Returns
    -------
    ComparisonResult

    Raises
    ------
    ValueError
        For unknown models, or when the series is too short for the horizons, origins and
        training part asked for.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.comparison import run_comparison
    >>> y = np.sin(np.arange(400) / 5.0)
    >>> result = run_comparison(y, models=["naive", "markov"], horizons=[1, 5], n_origins=4)
    >>> result.table[["model", "horizon"]].to_numpy().tolist()
    [['naive', 1], ['markov', 1], ['naive', 5], ['markov', 5]]
    """
    log = log or (lambda message: None)
    model_params = model_params or {}
    models = resolve_models(models, season_length)
    protocol = _make_protocol(y, horizons, n_origins, train_fraction, context_length,
                              coverage, n_jobs)
    y, n_train = protocol.y, protocol.n_train
    limit = (arima_params or {}).get("max_fit_length")
    rows, forecasts, step_mae, fitted, interval_problems = [], {}, {}, {}, {}
    with single_threaded_blas():
        for k, name in enumerate(models, start=1):
            model = make_forecaster(name, random_state=random_state, missing=protocol.missing,
                                    verbose=int(bool(progress)), arima_params=arima_params,
                                    season_length=season_length,
                                    markov_differences=markov_differences)
            params = model_params.get(name, {})
            model.set_params(**params)
            label = MODEL_LABELS[name]
            log(f"[{k}/{len(models)}] {label}: fitting {describe_model(name, model, params)} on "
                f"{_fit_size(name, limit, n_train)}")
            model_rows, forecasts[label], step_mae[label], problem = _evaluate(
                model, label, protocol, progress, log)
            if problem:
                interval_problems[label] = problem
            rows.extend(model_rows)
            fitted[name] = model
    labels = [MODEL_LABELS[name] for name in models]
    freq = index_step(y.index)
    return ComparisonResult(
        table=_sorted_table(rows, labels), forecasts=forecasts,
        step_mae=pd.DataFrame(step_mae,
                              index=pd.RangeIndex(1, protocol.longest + 1, name="step")),
        y=y, models=labels, horizons=protocol.horizons, origins=protocol.origins,
        origin_step=protocol.origin_step, n_train=n_train,
        context_length=protocol.context_length, scale=protocol.scale,
        notes=_notes(y, models, fitted, protocol, random_state, season_length,
                     interval_problems, model_params),
        title=title, value_label=str(y.name) if y.name is not None else "",
        step_note=f" (1 step = {describe_steps(1, freq)})" if freq is not None else "",
        coverage=protocol.coverage, season_length=season_length,
    )


def format_comparison(result):
    """The comparison as text: header lines, a fixed-width table and notes.

    Parameters
    ----------
    result : ComparisonResult

    Returns
    -------
    str
        Ready to print; ends with a newline.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.comparison import format_comparison, run_comparison
    >>> result = run_comparison(np.arange(100.0), models=["naive"], horizons=[2], n_origins=3)
    >>> print(format_comparison(result))  # doctest: +SKIP
    """
    step = index_step(result.y.index)
    n = len(result.y)
    n_test = n - result.n_train
    spans = [describe_steps(h, step) for h in result.horizons]
    horizon_text = ", ".join(f"{h} ({s})" if s else str(h) for h, s in zip(result.horizons, spans))
    context = ("all observations before its origin" if result.context_length is None
               else f"(up to) the last {result.context_length:,} observations before its "
                    f"origin")
    lines = [
        f"{result.title or 'series'}: {n:,} observations",
        f"train: the first {result.n_train:,} ({100 * result.n_train / n:.0f} %), each model "
        f"fitted once; test: the last {n_test:,}, {len(result.origins)} origins "
        f"{result.origin_step:,} steps apart",
        f"horizons: {horizon_text}; each forecast is conditioned on {context} (context)",
        "",
    ]
    columns = {
        "model": result.table["model"],
        "horizon": [
            f"{h} ({describe_steps(h, step)})" if step is not None else str(h)
            for h in result.table["horizon"]
        ],
        "MASE": result.table["mase"].map(lambda v: f"{v:.3f}"),
        "sMAPE %": result.table["smape"].map(lambda v: f"{v:.2f}"),
        "MAE": result.table["mae"].map(lambda v: f"{v:.4g}"),
        "fit s": result.table["fit_seconds"].map(lambda v: f"{v:.1f}"),
        "predict ms": result.table["predict_seconds"].map(lambda v: f"{1000 * v:.1f}"),
    }
    if result.coverage is not None:
        columns["cover %"] = result.table["coverage"].map(lambda v: f"{100 * v:.1f}")
        columns["MSIS"] = result.table["msis"].map(lambda v: f"{v:.3f}")
    lines.append(pd.DataFrame(columns).to_string(index=False))
    lines.append("")
    lines.append(
        f"MASE: MAE over the in-sample MAE of the one-step naive forecast on the training part "
        f"({result.scale:.4g}). sMAPE in percent (0-200)."
    )
    lines.append(
        f"predict ms: mean time of one {result.horizons[-1]}-step forecast with its context"
        f"{' and its interval' if result.coverage is not None else ''}."
    )
    if result.coverage is not None:
        level = f"{100 * result.coverage:g} %"
        lines.append(
            f"cover %: share of the true values inside the {level} prediction intervals (aim: "
            f"{level}); MSIS: mean interval score at {level} over the MASE scale (width plus "
            f"penalties for misses; lower is better).")
    lines.extend(result.notes)
    return "\n".join(lines) + "\n"


