"""RNNForecaster: a recurrent network (LSTM, GRU or vanilla RNN) as a scikit-learn style forecaster."""

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from tsrnn._checks import (boolean, check_dtype, check_int, check_real, integer, option,
                           real)
from tsrnn._input import check_horizon, check_network_bytes, training_bytes
from tsrnn._model_schema import read_rnn_model
from tsrnn._representation import Level, SeasonalChange, representation_from_config
from tsrnn._threads import blas_single_threaded, get_num_threads
from tsrnn._uncertainty import error_quantiles
from tsrnn.io import ModelFileError, label_from_json, label_to_json, write_model
from tsrnn.nn.losses import LOSSES
from tsrnn.nn.network import CELLS, RecurrentNetwork
from tsrnn.nn.optim import OPTIMIZERS
from tsrnn.panel import split_panel
from tsrnn.seasonality import check_season_length, resolve_season
from tsrnn.training import ForecastValidation, Trainer, TrainingHistory, make_lanes

from ._base import BaseForecaster
from ._past import PastCovariatesMixin, PastScaling
from ._rnn_uncertainty import held_out_errors, sample_paths

__all__ = ["RNNForecaster"]

# A seasonal representation averages the change over this many earlier seasons, and is tried
# only on series that hold this many seasons.
SEASONS_AVERAGED = 5
MIN_SEASONS_OF_DATA = 3
# Fewest values a representation must leave to train on.
MIN_ENCODED_VALUES = 3

# Early stopping scores forecasts from this many origins per series, each warmed up over at
# most this many values before it (without context_length). Origins must be many: on a
# quasi-periodic signal a few dozen fall on a few phases of the cycle and the score is noise
# (measured on the ECG: 40 origins put the same model at 0.87 of the naive error, 200 at 0.62).
VALIDATION_ORIGINS = 100
VALIDATION_WARMUP = 2000
DIVERGED_LOSS = 1e6
"""A training loss (standardised units) beyond which the fit has diverged, not learned."""


def _tbptt_constraint(value, name):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int k or a pair (k1, k2), got {value!r}")
        k1, k2 = (check_int(k, name, minimum=1) for k in value)
        if k2 < k1:
            raise ValueError(f"{name}=(k1, k2) needs k2 >= k1, got {value!r}")
        return k1, k2
    return check_int(value, name, minimum=1)


def _teacher_forcing_constraint(value, name):
    if callable(value):
        return value
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number, a pair (start, end) or a callable, "
                             f"got {value!r}")
        return tuple(check_real(v, name, 0, 1) for v in value)
    return check_real(value, name, 0, 1)


def _dtype_constraint(value, name):
    if value is None:
        raise ValueError(f"{name} must be 'float32' or 'float64', got None")
    return check_dtype(value, name)


def _random_state_constraint(value, name):
    if value is None or isinstance(value, (np.random.Generator, np.random.SeedSequence)):
        return value
    return check_int(value, name, minimum=0)


@dataclass
class _Candidate:
    """One representation's network in training."""

    representation: object
    network: RecurrentNetwork
    trainer: Trainer
    lanes: object
    validation: ForecastValidation = None
    history: TrainingHistory = field(default_factory=TrainingHistory)
    best_state: dict = None

    def restore_best(self):
        if self.best_state is not None:
            self.network.load_state_dict(self.best_state)


class RNNForecaster(PastCovariatesMixin, BaseForecaster):
    """Forecast with a recurrent neural network trained by truncated backpropagation through time.

    The network reads one step at a time: the target value(s) and, if given, the exogenous
    columns of the time being predicted, and predicts the next target value(s) with a linear
    head (by default the change from the current value). Forecasts feed each prediction back
    as the next input (autoregressive generation in a compiled loop). Model selection matches
    that use: early stopping scores multi-step forecasts on a held-out tail and keeps the best
    weights. With ``teacher_forcing < 1`` the network is also trained on its own predictions
    for stretches of ``free_run`` steps, learning through them (scheduled sampling with
    backpropagation through the fed-back values).

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}, default="lstm"
    hidden_size : int, default=64
        Units per recurrent layer.
    num_layers : int, default=1
        Stacked recurrent layers.
    peephole : bool, default=False
        LSTM only: peephole connections from the cell to the gates.
    reset_after : bool, default=True
        GRU only: PyTorch's variant (True) or Cho et al.'s (False).
    nonlinearity : {"tanh", "relu"}, default="tanh"
        RNN only.
    residual : bool, default=True
        Predict the change from the current value (``y_{t+1} = y_t + head(h_t)``) rather than
        the value itself. An untrained model then forecasts the last value, and training
        improves on it; this suits smooth, densely sampled signals.
    tbptt : int or (int, int), default=50
        Truncated BPTT: update every k1 steps from gradients through the last k2 steps;
        an int k means k1 = k2 = k.
    batch_size : int, default=8
        Most streams trained side by side. One long series is cut into contiguous streams,
        each carrying its own state; many series are grouped into batches. Fewer streams are
        used when the data is short, so that each stream spans at least 10 TBPTT windows.
    max_epochs : int, default=40
        Passes over the training data.
    learning_rate : float, default=1e-3
    optimizer : {"adam", "sgd"}, default="adam"
        SGD uses momentum 0.9.
    loss : {"mse", "mae", "huber"}, default="mse"
    clip_norm : float or None, default=1.0
        Clip the global gradient norm (None: no clipping).
    teacher_forcing : float, (float, float) or callable, default=1.0
        Fraction of training inputs that are true values; the rest are the network's own
        predictions (scheduled sampling). A pair (start, end) decays linearly over the
        epochs; a callable gets ``(epoch, max_epochs)``. On the ECG benchmark plain teacher
        forcing (1.0) with the residual head and multi-step early stopping forecast best
        (``benchmarks/bench_ecg_accuracy.py``), hence the default.
    free_run : int, default=36
        Length of the stretches in which the network is fed its own predictions in training
        (when ``teacher_forcing < 1``); also the default validation horizon.
    context_length : int or None, default=None
        How many known values before a forecast condition the state when a ``context`` is
        given; None uses all of it. Validation forecasts are warmed up over this many values
        (None: a training stream's length, at most 2,000). The state reached by ``fit`` and
        ``update`` always reflects all data seen.
    dropout : float, default=0.0
        Dropout on the inputs of recurrent layers after the first.
    initial_state : {"zeros", "learned"}, default="zeros"
        State every sequence starts from.
    early_stopping : bool, default=True
        Hold out the last ``validation_fraction`` of each series, score multi-step forecasts
        there after every epoch, stop after ``n_iter_no_change`` epochs without improvement
        and restore the best weights.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
        Improvement in validation score (standardised MAE) that counts.
    validation_horizon : int or None, default=None
        Steps ahead scored in validation; None uses ``free_run``.
    warm_start : bool, default=False
        Make ``fit`` continue from the current weights instead of reinitialising.
    season_length : "auto", None, float or tuple of float, default="auto"
        Seasons the network may read as changes from earlier seasons. For each season ``m``
        (detected with :func:`tsrnn.seasonality.detect_season` for ``"auto"``; fractional
        periods such as 365.25 / 7 are used as they are) a second network reads
        ``y_t - mean_k y(t - k m)``, the change from the same phase of up to five earlier
        seasons, and its forecasts are turned back into values step by step (beyond one season
        from its own forecasts). Both networks train with early stopping and the one with the
        better multi-step validation score, in the series' units, is kept; so a detected
        period that does not help (a heart beat whose period drifts) is left out, at the cost
        of about ``n_iter_no_change`` extra epochs. Without early
        stopping a detected season is not used and a given one always is. ``representation_``
        says which was kept; series shorter than three seasons use the level only.
    n_models : int, default=2
        Networks trained side by side from independent seeds (drawn from ``random_state``);
        the forecast is their mean. Members train in threads (the kernels release the GIL),
        at most ``tsrnn.get_num_threads()`` at once, so spare cores absorb the extra members.
        An average is steadier across seeds than one network (``benchmarks/bench_accuracy.py``
        reports the spread over seeds).
    scaling : {"series", "context"}, default="series"
        How a ``context`` given to ``predict`` is standardised. ``"series"``: by the mean and
        standard deviation of the fitted series it continues (the i-th context of a list by
        the i-th fitted series), so a model fitted on several series takes one context per
        series, in order. ``"context"``: by the context's own mean and standard deviation
        (the fit standardises each series by its own as well), so a model fitted on several
        series, a *global* model, forecasts any number of series it never saw, e.g. a new
        patient from the history of the patients it was fitted on. Contexts then need enough
        values for their moments to mean something (say a few cycles).
    dtype : {"float32", "float64"}, default="float32"
    random_state : int, numpy.random.Generator or None, default=None
        Makes fits reproducible (bit-identical on the same machine).
    verbose : int, default=0
        1 shows a progress bar with the running loss.
    missing : {"raise", "interpolate"}, default="raise"
        What to do with NaN or infinite values.

    Attributes
    ----------
    network_ : RecurrentNetwork
        The trained network (of the first member when ``n_models > 1``; likewise the history
        attributes below); ``network_.rnn.state_dict()`` loads into ``torch.nn.LSTM`` etc.
    members_ : list of RNNForecaster
        With ``n_models > 1``: the members, each holding one network, its representation,
        history and states (they are used through this forecaster, which holds the scaling
        and the index).
    loss_curve_ : list of float
        Mean training loss per epoch (standardised units).
    validation_scores_ : list of float or None
        Validation MAE (standardised units) per epoch, with early stopping.
    best_validation_score_ : float or None
    initial_validation_score_ : float or None
        Validation MAE of the untrained network: with the residual head, the forecast that
        holds the last value (or, for a seasonal representation, the last seasonal change).
        Weights are kept from the best epoch only when it beats this.
    seasons_ : tuple of float
        The seasons considered (given or detected).
    representation_ : object
        What the kept network reads: ``representation_.describe()`` is ``"level"`` or
        ``"seasonal change (season m)"``.
    n_iter_ : int
        Epochs run (over all fits when continuing).
    best_iteration_ : int or None
        Epoch (1-based, counted like ``n_iter_``) whose weights were kept; 0 (or the epochs
        of earlier fits, when continuing) when no epoch beat the starting weights.
    calibration_errors_ : ndarray of shape (n_origins, n_steps, D) or None
        Errors (truth minus forecast, standardised units) of the fitted forecast from origins
        in the last ``validation_fraction`` of each series, behind the intervals; None when
        the series are too short for one such forecast.
    calibration_held_out_ : bool
        Whether the weights were trained without those values (early stopping on); if not,
        the errors are in-sample and the intervals tend to be too narrow.

    Notes
    -----
    *Intervals* (:meth:`predict_interval`, :meth:`predict_quantiles`) are split-conformal:
    after fitting, the forecaster (the mean of its members) forecasts up to 500 steps from
    up to 200 origins spread over the validation tails, which the weights were not trained on
    when ``early_stopping`` is on (the tail chose the epoch and the representation, a mild
    optimism). Step ``h``'s quantiles are the point forecast plus the conformal quantiles of
    the errors ``h`` steps ahead whose truth lies inside the tail, so the first steps get the
    most errors; beyond the steps with at least 20 errors the spread grows with the square
    root of the horizon. ``update`` keeps the calibration; ``fit`` and ``partial_fit``
    renew it. *Sample paths* (:meth:`predict_samples`) run the network's closed loop with a
    one-step error drawn from the held-out ones added to every value it feeds back, the
    members sharing the paths; their spread is the network's own, so it can differ from the
    calibrated intervals where the network is wrong about its errors' dynamics.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn import RNNForecaster
    >>> t = np.arange(600)
    >>> y = np.sin(2 * np.pi * t / 50)
    >>> f = RNNForecaster(hidden_size=16, max_epochs=5, random_state=0).fit(y)
    >>> f.predict(horizon=10).shape
    (10,)
    """

    _standardize = True

    def __init__(self, cell="lstm", hidden_size=64, num_layers=1, peephole=False,
                 reset_after=True, nonlinearity="tanh", residual=True, tbptt=50, batch_size=8,
                 max_epochs=40, learning_rate=1e-3, optimizer="adam", loss="mse", clip_norm=1.0,
                 teacher_forcing=1.0, free_run=36, context_length=None, dropout=0.0,
                 initial_state="zeros", early_stopping=True, validation_fraction=0.1,
                 n_iter_no_change=10, tol=1e-4, validation_horizon=None, warm_start=False,
                 season_length="auto", n_models=2, scaling="series", dtype="float32",
                 random_state=None, verbose=0, missing="raise"):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.peephole = peephole
        self.reset_after = reset_after
        self.nonlinearity = nonlinearity
        self.residual = residual
        self.tbptt = tbptt
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.loss = loss
        self.clip_norm = clip_norm
        self.teacher_forcing = teacher_forcing
        self.free_run = free_run
        self.context_length = context_length
        self.dropout = dropout
        self.initial_state = initial_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.validation_horizon = validation_horizon
        self.warm_start = warm_start
        self.season_length = season_length
        self.n_models = n_models
        self.scaling = scaling
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.missing = missing

    _parameter_constraints = {
        **BaseForecaster._parameter_constraints,
        "cell": option(*CELLS),
        "hidden_size": integer(1),
        "num_layers": integer(1),
        "peephole": boolean(),
        "reset_after": boolean(),
        "nonlinearity": option("tanh", "relu"),
        "residual": boolean(),
        "tbptt": _tbptt_constraint,
        "batch_size": integer(1),
        "max_epochs": integer(1),
        "learning_rate": real(0, low_open=True),
        "optimizer": option(*OPTIMIZERS),
        "loss": option(*LOSSES),
        "clip_norm": real(0, low_open=True, allow_none=True),
        "teacher_forcing": _teacher_forcing_constraint,
        "free_run": integer(1),
        "context_length": integer(1, allow_none=True),
        "dropout": real(0, 1, high_open=True),
        "initial_state": option("zeros", "learned"),
        "early_stopping": boolean(),
        "validation_fraction": real(0, 1, low_open=True, high_open=True),
        "n_iter_no_change": integer(1),
        "tol": real(0),
        "validation_horizon": integer(1, allow_none=True),
        "warm_start": boolean(),
        "season_length": check_season_length,
        "n_models": integer(1),
        "scaling": option("series", "context"),
        "dtype": _dtype_constraint,
        "random_state": _random_state_constraint,
        "verbose": integer(0),
    }

    def _min_length(self):
        return 3

    def _scales_contexts_by_their_own_values(self):
        return self.scaling == "context"

    def _tbptt(self):
        """(k1, k2) from the validated ``tbptt``."""
        return tuple(self.tbptt) if isinstance(self.tbptt, (tuple, list)) else (self.tbptt,) * 2

    # ------------------------------------------------------------------ fitting
    def fit(self, y, X=None, X_past=None):
        """Train the network on one series or a list of series.

        Parameters
        ----------
        y : pandas.Series, pandas.DataFrame, array-like (n,) or (n, D), or a list of these
            Target series; several columns are forecast jointly, a list trains one model.
        X : same kinds as ``y``, optional
            Exogenous columns aligned with ``y``; ``predict`` then needs their future values.
        X_past : array-like (n,) or (n, P), Series, DataFrame, or a list like ``y``, optional
            Past covariates: channels aligned with ``y`` whose future is unknown (e.g. the
            respiration beside a pressure forecast). The network reads their latest values
            while they are known and learns to do without them: they are hidden in random
            stretches of ``free_run`` steps in training, and over every forecast's horizon
            (validation, calibration and ``predict``). NaN marks unknown values. Contexts
            then take their own ``X_past`` in ``predict``, and ``update`` the new rows'.

        Returns
        -------
        self : RNNForecaster

        Examples
        --------
        >>> import numpy as np
        >>> from tsrnn import RNNForecaster
        >>> t = np.arange(600)
        >>> resp = np.sin(t / 8)
        >>> f = RNNForecaster(hidden_size=8, max_epochs=2, random_state=0)
        >>> f.fit(np.roll(resp, 3), X_past=resp).n_past_
        1
        >>> f.predict(5, context=np.roll(resp, 3)[-200:], X_past=resp[-200:]).shape
        (5,)
        """
        if X_past is None:
            def plain():
                self._forget_past()
                return super(RNNForecaster, self).fit(y, X)

            return self._transaction(plain)
        return self._fit_with_past(super().fit, y, X, X_past)

    def _forget_past(self):
        self.n_past_, self.past_scalings_, self.past_last_ = 0, None, None

    def _with_past(self, horizon, X, context, X_past, where):
        """``(X, context)`` as the base class takes them, past covariates joined."""
        if not getattr(self, "n_past_", 0):
            self._check_no_past(X_past, where)
            return X, context
        return self._past_inputs(check_horizon(horizon), X, context, X_past)

    def predict(self, horizon, X=None, context=None, X_past=None):
        """Forecast the next ``horizon`` steps (see :meth:`BaseForecaster.predict`).

        ``X_past`` gives the past covariates of ``context`` (a list for a list of contexts);
        without it they count as unknown over the context. Without a context the forecast
        continues the fitted (and updated) data, whose past covariates the model keeps.
        """
        X, context = self._with_past(horizon, X, context, X_past, "predict")
        return super().predict(horizon, X=X, context=context)

    def predict_interval(self, horizon, coverage=0.9, X=None, context=None, X_past=None):
        """See :meth:`BaseForecaster.predict_interval`; ``X_past`` as in :meth:`predict`."""
        X, context = self._with_past(horizon, X, context, X_past, "predict_interval")
        return super().predict_interval(horizon, coverage=coverage, X=X, context=context)

    def predict_quantiles(self, horizon, q=(0.1, 0.5, 0.9), X=None, context=None,
                          X_past=None):
        """See :meth:`BaseForecaster.predict_quantiles`; ``X_past`` as in :meth:`predict`."""
        X, context = self._with_past(horizon, X, context, X_past, "predict_quantiles")
        return super().predict_quantiles(horizon, q=q, X=X, context=context)

    def predict_samples(self, horizon, n_samples=100, X=None, context=None, random_state=None,
                        X_past=None):
        """See :meth:`BaseForecaster.predict_samples`; ``X_past`` as in :meth:`predict`."""
        X, context = self._with_past(horizon, X, context, X_past, "predict_samples")
        return super().predict_samples(horizon, n_samples=n_samples, X=X, context=context,
                                       random_state=random_state)

    def update(self, y, X=None, X_past=None):
        """Advance by new observations (see :meth:`BaseForecaster.update`); ``X_past``: the
        new rows' past covariates (unknown when omitted)."""
        if not getattr(self, "n_past_", 0):
            self._check_no_past(X_past, "update")
            return super().update(y, X)
        return self._update_with_past(super().update, y, X, X_past)

    def partial_fit(self, y, X=None, X_past=None):
        """Train one more epoch on ``y`` (and ``X``), continuing from the current weights.

        The scaling fitted first is kept. Afterwards forecasts continue from the end of ``y``,
        as after ``fit``. An unfitted forecaster is fitted for one epoch.

        Parameters
        ----------
        y, X, X_past : as in :meth:`fit`, with the same columns and number of series (and
            past covariates whenever the first call had them).

        Returns
        -------
        self : RNNForecaster
        """
        fitted = self.__sklearn_is_fitted__()
        if fitted and bool(getattr(self, "n_past_", 0)) != (X_past is not None):
            raise ValueError("partial_fit needs X_past exactly when the model was first fitted "
                             "with past covariates")
        if X_past is not None:
            return self._fit_with_past(self._partial_fit_plain, y, X, X_past,
                                       keep_scaling=fitted)
        if not fitted:
            self._forget_past()
        return self._partial_fit_plain(y, X)

    def _partial_fit_plain(self, y, X):
        self._validate_params()
        first = not self.__sklearn_is_fitted__()
        if first:
            y, X, panel = split_panel(y, X)
        else:  # the fitted order of a panel's series, whatever the order of y's keys
            y, X = self._panel_update(y, X)
            panel = getattr(self, "panel_", None)
        data = self._validate_fit_data(y, X, reset=first)

        def train_one_epoch():
            if first:
                self._store_fit_state(data)
            ys, Xs = self._scaled_fit_data(data)
            self._train_members(ys, Xs, epochs=1, incremental=True)
            self._calibrate(ys, Xs, held_out=False)
            self.layouts_ = list(data.layouts)

        self._transaction(train_one_epoch)
        self.panel_ = panel
        return self

    def _fit_core(self, ys, Xs):
        self._check_network_size(ys, Xs)
        continuing = self.warm_start and hasattr(self, "network_")
        self._train_members(ys, Xs, epochs=self.max_epochs, incremental=continuing)
        self._calibrate(ys, Xs, held_out=self.early_stopping and self.max_epochs > 1)

    def _check_network_size(self, ys, Xs):
        n_inputs = ys[0].shape[1] + (0 if Xs is None else Xs[0].shape[1])
        steps = min(self._tbptt()[1], max(len(y) for y in ys))
        batch = self._effective_batch(ys)
        needed = self.n_models * training_bytes(self.cell, n_inputs, self.hidden_size,
                                                self.num_layers, batch, steps, self.dtype,
                                                n_outputs=ys[0].shape[1])
        check_network_bytes(needed,
                            f"hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                            f"n_models={self.n_models}, a TBPTT window of {steps} steps over "
                            f"a batch of {batch}")

    def _scaled_limit(self):
        # products in the kernels must stay finite in the network's dtype
        return float(np.sqrt(np.finfo(check_dtype(self.dtype, "dtype")).max))

    # ------------------------------------------------------------------ uncertainty
    def _calibrate(self, ys, Xs, held_out):
        """Keep the errors of the fitted forecast at origins in the validation tails."""
        starts = [int(round(len(y) * (1 - self.validation_fraction))) for y in ys]
        Xs_list = Xs if Xs is not None else [None] * len(ys)
        warmup = self.context_length or VALIDATION_WARMUP
        self.calibration_errors_ = held_out_errors(self._members(), ys, Xs_list, starts,
                                                   warmup, self._unknown_ahead())
        self.calibration_held_out_ = bool(held_out)

    def _calibration(self):
        errors = getattr(self, "calibration_errors_", None)
        if errors is None or errors.ndim != 3 or 0 in errors.shape[:2]:
            raise ValueError(
                "this model holds no forecast errors to calibrate intervals on: its series "
                "were too short for one forecast from the validation tail (or it was saved "
                "without them); fit on longer series or raise validation_fraction")
        return errors

    def _predict_quantiles_core(self, horizon, levels, Xs_future, contexts):
        offsets = error_quantiles(self._calibration(), levels, horizon)
        return [point[:, :, None] + offsets
                for point in self._predict_core(horizon, Xs_future, contexts)]

    def _predict_samples_core(self, horizon, n_samples, Xs_future, contexts, rng):
        one_step = self._calibration()[:, 0, :]
        one_step = one_step[np.isfinite(one_step).all(axis=1)]
        members = self._members()
        shares = [len(part) for part in np.array_split(np.arange(n_samples), len(members))]
        per_member = []
        for member, share in zip(members, shares):
            if share == 0:
                continue
            paths = []
            for i, start in enumerate(member._starts(contexts, self.context_length)):
                noise = one_step[rng.integers(0, len(one_step), size=(horizon, share))]
                X = None if Xs_future is None else Xs_future[i]
                paths.append(sample_paths(member.network_, member.representation_, start,
                                          horizon, X, noise))
            per_member.append(paths)
        return [np.concatenate(paths, axis=0) for paths in zip(*per_member)]

    # ------------------------------------------------------------------ ensembles
    def _members(self):
        """The fitted networks whose forecasts are averaged (the forecaster itself for one)."""
        return getattr(self, "members_", None) or [self]

    def _train_members(self, ys, Xs, epochs, incremental):
        """Train ``n_models`` members side by side in threads (the kernels release the GIL)."""
        if self.n_models == 1:
            self.__dict__.pop("members_", None)
            self._train(ys, Xs, epochs, incremental)
            return
        continuing = incremental and len(getattr(self, "members_", ())) == self.n_models
        if continuing:  # copies: a failure must leave the fitted members as they were
            members = [copy.copy(member).set_params(**self._member_params(member.random_state))
                       for member in self.members_]
        else:
            members = self._new_members()
        workers = max(1, min(self.n_models, get_num_threads()))
        with ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(member._train, ys, Xs, epochs, continuing)
                       for member in members]
            for future in futures:
                future.result()
        self._adopt(members)

    def _new_members(self):
        """Unfitted members with independent seeds drawn from ``random_state``."""
        seeds = np.random.SeedSequence(
            np.random.default_rng(self.random_state).integers(2**63)).spawn(self.n_models)
        members = [type(self)(**self._member_params(seed)) for seed in seeds]
        members[0].set_params(verbose=self.verbose)  # one progress bar
        return members

    def _member_params(self, seed):
        return {**self.get_params(), "n_models": 1, "verbose": 0, "random_state": seed}

    def _adopt(self, members):
        """Keep ``members``; the attributes describing the network are the first member's."""
        self.members_ = members
        first = members[0]
        for name in ("network_", "representation_", "seasons_", "optimizer_state_",
                     "loss_curve_", "validation_scores_", "initial_validation_score_",
                     "best_validation_score_", "best_iteration_", "n_iter_"):
            setattr(self, name, getattr(first, name))
        self.__dict__.pop("end_states_", None)

    def _representations(self, ys, validated):
        """The representations to race: the level, and the seasonal change of each season
        that leaves enough data (only when there is a validation score to decide by, or
        when ``season_length`` is given)."""
        longest = max(ys, key=len)
        seasons = resolve_season(self.season_length, longest[:, 0])
        self.seasons_ = seasons
        if not seasons or not (validated or self.season_length != "auto"):
            return [Level()]
        usable = [SeasonalChange(p, SEASONS_AVERAGED) for p in seasons
                  if min(len(y) for y in ys) >= MIN_SEASONS_OF_DATA * p]
        if not validated:
            return usable[:1] or [Level()]
        return [Level()] + usable

    def _network_config(self, n_targets, n_exog, dtype):
        """The network these parameters describe, as :meth:`RecurrentNetwork.config`."""
        return {"cell": self.cell, "n_targets": n_targets, "n_exog": n_exog,
                "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "peephole": self.peephole, "reset_after": self.reset_after,
                "nonlinearity": self.nonlinearity, "residual": self.residual,
                "initial_state": self.initial_state, "dtype": dtype.name}

    def _trainer(self, network, rng, incremental):
        trainer = Trainer(network, tbptt=self._tbptt(), learning_rate=self.learning_rate,
                          optimizer=self.optimizer, loss=self.loss, clip_norm=self.clip_norm,
                          teacher_forcing=self.teacher_forcing, free_run=self.free_run,
                          dropout=self.dropout, rng=rng)
        if incremental and hasattr(self, "optimizer_state_"):
            trainer.optimizer.load_state_dict(self.optimizer_state_)
        return trainer

    @blas_single_threaded
    def _train(self, ys, Xs, epochs, incremental):
        """Train, then store the network, the history and each series' end-of-data state."""
        dtype = np.dtype(self.dtype)
        rng = np.random.default_rng(self.random_state)
        Xs_list = Xs if Xs is not None else [None] * len(ys)
        continuing = incremental and hasattr(self, "network_")
        validated = self.early_stopping and epochs > 1
        starts = self._validation_starts(ys) if validated else None
        representations = ([self.representation_] if continuing
                            else self._representations(ys, validated))
        candidates = []
        for representation in representations:
            candidate = self._candidate(representation, ys, Xs_list, starts, dtype, rng,
                                        continuing)
            if candidate is not None:
                candidates.append(candidate)
        from tqdm.auto import tqdm  # here, not at import: it takes a noticeable time

        progress = tqdm(total=epochs * sum(c.trainer.windows(c.lanes) for c in candidates),
                        disable=not self.verbose, desc=f"{self.cell} fit", unit="update",
                        leave=False)
        try:
            winner = self._race(candidates, epochs, progress)
        finally:
            progress.close()
        winner.restore_best()
        self.representation_ = winner.representation
        self._store_training(winner.network, winner.trainer, winner.history,
                             winner.validation is not None, incremental)
        self.end_states_ = [self._end_state(y, X) for y, X in zip(ys, Xs_list)]
        winner.network.forget_cache()

    def _candidate(self, representation, ys, Xs, starts, dtype, rng, continuing):
        """A network, its trainer, lanes and validation for one representation (None when
        the data is too short for it)."""
        offset = representation.offset
        ends = starts or [len(y) for y in ys]
        if any(end - offset < MIN_ENCODED_VALUES for end in ends):
            return None  # a seasonal one only: the level has offset 0 and fit needs 3 values
        representation.fit_scale([y[:end] for y, end in zip(ys, ends)])
        validation = None
        if starts is not None:
            validation = self._validation(ys, Xs, starts, representation, dtype)
            if validation is None:
                return None
        train_zs = [representation.encode(y[:end]) for y, end in zip(ys, ends)]
        train_Xs = [None if X is None else self._hide_past(X[offset:end], rng)
                    for X, end in zip(Xs, ends)]
        n_exog = 0 if train_Xs[0] is None else train_Xs[0].shape[1]
        if continuing:
            network = self._compatible_copy(ys[0].shape[1], n_exog, dtype)
        else:
            network = RecurrentNetwork.from_config(
                self._network_config(ys[0].shape[1], n_exog, dtype), random_state=rng)
        trainer = self._trainer(network, rng, continuing)
        lanes = make_lanes(train_zs, train_Xs, self._effective_batch(train_zs), dtype)
        return _Candidate(representation, network, trainer, lanes, validation)

    def _race(self, candidates, epochs, progress):
        """Train every candidate with early stopping; the best validation score wins (the
        level on ties). Each runs its full course: the level network of a quasi-periodic
        signal can improve slowly and unevenly for many epochs before it overtakes a
        seasonal one, and cutting it short picked the worse model."""
        for candidate in candidates:
            if candidate.validation is not None:
                self._score_initial(candidate)
            self._run_epochs(candidate, epochs, progress)
        return min(candidates, key=lambda c: c.history.best_score)

    def _score_initial(self, candidate):
        """Score the untrained network (for the residual head: the representation's own
        persistence forecast), so that training is kept only where it helps."""
        history = candidate.history
        history.initial_score = candidate.validation.score(candidate.network)
        history.best_score = history.initial_score
        candidate.best_state = candidate.network.state_dict()

    def _run_epochs(self, candidate, epochs, progress):
        """Up to ``epochs`` passes with early stopping on the candidate's validation."""
        trainer, history = candidate.trainer, candidate.history
        for epoch in range(epochs):
            if history.no_improvement >= self.n_iter_no_change:
                break
            rate = trainer.teacher_rate(epoch, epochs)
            history.loss_curve.append(trainer.epoch(candidate.lanes, rate, progress))
            loss = history.loss_curve[-1]
            if not loss <= DIVERGED_LOSS:
                shown = "is not finite" if not np.isfinite(loss) else f"{loss:.3g}"
                raise FloatingPointError(
                    f"training diverged at epoch {epoch + 1} (loss {shown}, where the "
                    f"standardised data keep it near 1); lower learning_rate "
                    f"({self.learning_rate:g}) or set clip_norm")
            if candidate.validation is not None and self._validate_epoch(
                    candidate.network, candidate.validation, history, epoch, progress):
                candidate.best_state = candidate.network.state_dict()

    def _validate_epoch(self, network, validation, history, epoch, progress):
        """Score the epoch on the validation tail; True when it is the best so far."""
        score = validation.score(network)
        history.validation_scores.append(score)
        progress.set_postfix(loss=f"{history.loss_curve[-1]:.4g}", val=f"{score:.4g}",
                             refresh=False)
        if score < history.best_score - self.tol:
            history.best_score, history.best_iteration = score, epoch
            history.no_improvement = 0
            return True
        history.no_improvement += 1
        return False

    def _store_training(self, network, trainer, history, validated, incremental):
        previous = getattr(self, "n_iter_", 0) if incremental else 0
        self.network_ = network
        self.optimizer_state_ = trainer.optimizer.state_dict()
        self.loss_curve_ = (list(getattr(self, "loss_curve_", [])) if incremental else []) \
            + history.loss_curve
        self.validation_scores_ = history.validation_scores if validated else None
        self.initial_validation_score_ = history.initial_score if validated else None
        self.best_validation_score_ = history.best_score if validated else None
        if history.best_iteration is not None:
            self.best_iteration_ = previous + history.best_iteration + 1
        else:  # validated, and no epoch beat the weights training started from
            self.best_iteration_ = previous if validated else None
        self.n_iter_ = previous + len(history.loss_curve)

    def _effective_batch(self, ys):
        """Streams side by side for series ``ys``: see :meth:`_effective_batch_of`."""
        return self._effective_batch_of([len(y) for y in ys])

    def _effective_batch_of(self, lengths, min_windows=10):
        """Streams side by side: at most batch_size, so that each spans >= min_windows windows."""
        k1 = self._tbptt()[0]
        return int(max(1, min(self.batch_size, sum(lengths) // (min_windows * k1))))

    def _compatible_copy(self, n_targets, n_exog, dtype):
        """A copy of the current network (training must not touch a fitted model in place)."""
        network = self.network_
        expected = (self.cell, self.hidden_size, self.num_layers, n_targets, n_exog, dtype)
        actual = (network.cell, network.hidden_size, network.num_layers, network.n_targets,
                  network.n_exog, network.dtype)
        if expected != actual:
            raise ValueError(
                "cannot continue training: the data or parameters changed the network's shape "
                f"(cell, hidden_size, num_layers, targets, exogenous, dtype) from {actual} to "
                f"{expected}; set warm_start=False to start afresh")
        return copy.deepcopy(network)

    def _validation_starts(self, ys):
        """Where each series' held-out tail begins (checked long enough to score)."""
        starts = []
        for y in ys:
            start = int(round(len(y) * (1 - self.validation_fraction)))
            horizon = self._validation_horizon(len(y) - start)
            if start < 3 or len(y) - start < horizon:
                raise ValueError(
                    f"a series of {len(y)} observations is too short for early stopping: its "
                    f"validation tail ({len(y) - start} values, validation_fraction="
                    f"{self.validation_fraction}) must hold at least validation_horizon="
                    f"{horizon} values; give more data, lower validation_horizon or set "
                    f"early_stopping=False")
            starts.append(start)
        return starts

    def _validation_horizon(self, tail):
        """validation_horizon, or free_run shortened to half a short validation tail."""
        if self.validation_horizon is not None:
            return self.validation_horizon
        return max(1, min(self.free_run, tail // 2))

    def _validation(self, ys, Xs, starts, representation, dtype):
        """Multi-step forecasts from the held-out tails (None if no origin fits)."""
        tail = min(len(y) - start for y, start in zip(ys, starts))
        horizon = self._validation_horizon(tail)
        lengths = [start - representation.offset for start in starts]
        lane_length = -(-sum(lengths) // self._effective_batch_of(lengths))
        warmup = self.context_length or min(lane_length, VALIDATION_WARMUP)
        try:
            return ForecastValidation(ys, Xs, starts, horizon, warmup,
                                      n_origins=VALIDATION_ORIGINS, dtype=dtype,
                                      representation=representation,
                                      unknown_ahead=self._unknown_ahead())
        except ValueError:
            if isinstance(representation, Level):
                raise
            return None

    # ------------------------------------------------------------------ saving
    def save(self, path):
        """Write the fitted forecaster to one file (arrays and a JSON header, no pickle).

        The file holds the parameters, the weights, the scaling, each series' end-of-data
        state and the optimiser's moments, so a loaded model predicts identically and
        ``partial_fit`` continues where it stopped.

        Parameters
        ----------
        path : str or path-like
            Written exactly as named, e.g. ``"model.tsrnn"``.

        Examples
        --------
        >>> f.save("model.tsrnn")  # doctest: +SKIP
        >>> g = RNNForecaster.load("model.tsrnn")  # doctest: +SKIP
        """
        self._check_fitted()
        base_header, base_arrays = self._base_state()
        members = self._members()
        header = {
            "class": type(self).__name__,
            "params": {name: label_to_json(value) for name, value in self.get_params().items()},
            "base": base_header,
            "members": [_member_header(member) for member in members],
        }
        arrays = {f"base/{name}": value for name, value in base_arrays.items()}
        for k, member in enumerate(members):
            arrays.update(_member_arrays(member, f"m{k}/"))
        errors = getattr(self, "calibration_errors_", None)
        header["calibration"] = {"errors": errors is not None,
                                 "held_out": getattr(self, "calibration_held_out_", False)}
        if errors is not None:
            arrays["calibration/errors"] = errors
        header["past"] = {"n_past": getattr(self, "n_past_", 0)}
        if header["past"]["n_past"]:
            arrays.update({"past/mean": np.stack([s.mean for s in self.past_scalings_]),
                           "past/scale": np.stack([s.scale for s in self.past_scalings_]),
                           "past/last": np.stack(self.past_last_)})
        write_model(path, header, arrays)

    @classmethod
    def load(cls, path):
        """Read a forecaster written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        RNNForecaster

        Raises
        ------
        tsrnn.io.ModelFileError
            A ValueError, if the file is not a valid model of this class: it is checked
            (sizes, header, every array's name, dtype, shape and values) before anything is
            built from it.
        """
        header, arrays = read_rnn_model(path, cls)
        try:
            return cls._from_file(header, arrays)
        except (KeyError, IndexError, TypeError, ValueError) as error:
            # read_rnn_model checked the file; anything it missed is still the file's fault
            raise ModelFileError(f"{path} is not a valid tsrnn model file: {error!r}") \
                from error

    @classmethod
    def _from_file(cls, header, arrays):
        """The forecaster a checked file's header and arrays describe."""
        params = {name: label_from_json(value) for name, value in header["params"].items()}
        forecaster = cls(**params)
        base = {k[5:]: v for k, v in arrays.items() if k.startswith("base/")}
        forecaster._restore_base_state(header["base"], base)
        members = []
        for k, member_header in enumerate(header["members"]):
            member = (forecaster if len(header["members"]) == 1
                      else cls(**{**params, "n_models": 1}))
            member.n_series_ = forecaster.n_series_
            _restore_member(member, member_header, arrays, f"m{k}/")
            members.append(member)
        if len(members) > 1:
            forecaster._adopt(members)
        calibration = header.get("calibration", {})
        forecaster.calibration_errors_ = (arrays["calibration/errors"]
                                          if calibration.get("errors") else None)
        forecaster.calibration_held_out_ = bool(calibration.get("held_out", False))
        forecaster._forget_past()
        if header["past"]["n_past"]:
            forecaster.n_past_ = header["past"]["n_past"]
            forecaster.past_scalings_ = [PastScaling(m, s) for m, s in
                                         zip(arrays["past/mean"], arrays["past/scale"])]
            forecaster.past_last_ = list(arrays["past/last"])
        return forecaster

    # ------------------------------------------------------------------ state plumbing
    def _min_context_length(self):
        return max(getattr(member, "representation_", Level()).offset + 1
                   for member in self._members())

    def _known_tail(self, y):
        """The values decoding needs after ``y``: its last ``memory`` values (at least one)."""
        return y[-max(self.representation_.memory, 1):].copy()

    def _warm_state(self, z, X_z):
        """State after reading encoded values z[:-1] (X_z aligned with z)."""
        state = self.network_.start_state(1)
        if len(z) > 1:
            _, state = self._run(state, z[:-1], None if X_z is None else X_z[1:])
        return state

    def _end_state(self, y, X):
        """State after every input but the last value (which waits for the next X row), the
        last encoded value and the known values decoding needs."""
        representation = self.representation_
        z = representation.encode(y)
        X_z = None if X is None else X[representation.offset:]
        return self._warm_state(z, X_z), z[-1].copy(), self._known_tail(y)

    def _one_row(self, y, X):
        """Values y (T, D) and exogenous inputs X (T, E) as the network's (T, 1, .) arrays."""
        dtype = self.network_.dtype
        T = len(y)
        y3 = np.ascontiguousarray(y, dtype=dtype).reshape(T, 1, -1)
        X3 = None if X is None else np.ascontiguousarray(X, dtype=dtype).reshape(T, 1, -1)
        return y3, X3

    def _run(self, state, y, X, teacher=None, first_pred=None):
        """Run the network over values y (T, D) with exogenous inputs X (T, E) for one row."""
        y3, X3 = self._one_row(y, X)
        if teacher is None:
            teacher = np.ones((len(y), 1), bool)
        return self.network_.run(y3, teacher, X3, state, first_pred)

    def _advance(self, state, y, X):
        """The state after the network reads values y (T, D) and exogenous inputs X (T, E)."""
        y3, X3 = self._one_row(y, X)
        return self.network_.advance(y3, X3, state)

    def _forecast(self, state, last, known, horizon, X_future):
        """Feed ``last`` then the network's own predictions for ``horizon`` steps, decoded
        after the ``known`` values."""
        D = last.shape[0]
        z = np.zeros((horizon, D))
        z[0] = last
        teacher = np.zeros((horizon, 1), bool)
        teacher[0] = True
        pred, _ = self._run(state, z, X_future, teacher)
        y = self.representation_.decode(pred, known[:, None, :])
        return np.asarray(y[:, 0, :], np.float64)

    def _predict_core(self, horizon, Xs_future, contexts):
        members = self._members()
        if len(members) == 1:
            return self._predict_member(horizon, Xs_future, contexts, self.context_length)
        outputs = [m._predict_member(horizon, Xs_future, contexts, self.context_length)
                   for m in members]
        return [np.mean(forecasts, axis=0) for forecasts in zip(*outputs)]

    def _predict_member(self, horizon, Xs_future, contexts, context_length):
        # One row at a time: every product is small enough for the kernels' own loops, so BLAS
        # (and the cost of limiting its threads, about 50 us a call) stays out of forecasts.
        outputs = []
        for i, (state, last, known) in enumerate(self._starts(contexts, context_length)):
            X = None if Xs_future is None else Xs_future[i]
            outputs.append(self._forecast(state, last, known, horizon, X))
        return outputs

    def _starts(self, contexts, context_length):
        """Per output: (state, last encoded value, known values) to forecast from."""
        if contexts is None:
            return list(self.end_states_)
        representation = self.representation_
        starts = []
        for context in contexts:
            y_ctx, X_ctx = context.y, context.X
            z = representation.encode(y_ctx)
            X_z = None if X_ctx is None else X_ctx[representation.offset:]
            if context_length is not None:
                z = z[-context_length:]
                X_z = None if X_z is None else X_z[-context_length:]
            starts.append((self._warm_state(z, X_z), z[-1], self._known_tail(y_ctx)))
        return starts

    def _update_core(self, ys, Xs):
        if len(self._members()) > 1:
            members = [copy.copy(member) for member in self.members_]
            for member in members:
                member._update_member(ys, Xs)
            self.members_ = members
            return
        self._update_member(ys, Xs)

    def _update_member(self, ys, Xs):
        states = []
        for i, y in enumerate(ys):
            state, last, known = self.end_states_[i]
            seen = np.concatenate([known, y])
            z = self.representation_.encode(seen, tail=len(y))
            inputs = np.concatenate([last[None, :], z[:-1]])
            state = self._advance(state, inputs, None if Xs is None else Xs[i])
            states.append((state, z[-1].copy(), self._known_tail(seen)))
        self.end_states_ = states


# ---------------------------------------------------------------------------------------------
# Files: one member (a network, its representation, history, optimiser and states) at a time
# ---------------------------------------------------------------------------------------------
_HISTORY = ("loss_curve", "validation_scores", "best_validation_score",
            "initial_validation_score", "n_iter", "best_iteration")


def _member_header(member):
    return {
        "network": member.network_.config(),
        "representation": member.representation_.config(),
        "seasons": list(member.seasons_),
        "history": {name: getattr(member, f"{name}_") for name in _HISTORY},
        "optimizer": {name: value for name, value in member.optimizer_state_.items()
                      if not isinstance(value, list)},
    }


def _member_arrays(member, prefix):
    network = member.network_
    arrays = {f"{prefix}network/{name}": value for name, value in network.state_dict().items()}
    for name, value in member.optimizer_state_.items():
        if isinstance(value, list):
            arrays.update({f"{prefix}optimizer/{name}/{i}": a for i, a in enumerate(value)})
    for i, (state, last, known) in enumerate(member.end_states_):
        parts = state if network.has_cell_state else (state,)
        for part_name, part in zip("hc", parts):
            arrays[f"{prefix}state/{i}/{part_name}"] = part
        arrays[f"{prefix}state/{i}/last"] = last
        arrays[f"{prefix}state/{i}/known"] = known
    return arrays


def _restore_member(member, header, arrays, prefix):
    network = RecurrentNetwork.from_config(header["network"])
    start = len(prefix) + len("network/")
    network.load_state_dict({k[start:]: v for k, v in arrays.items()
                             if k.startswith(f"{prefix}network/")})
    member.network_ = network
    member.representation_ = representation_from_config(header["representation"])
    member.seasons_ = tuple(header["seasons"])
    for name in _HISTORY:
        setattr(member, f"{name}_", header["history"][name])
    optimizer, lists = dict(header["optimizer"]), {}
    for key in arrays:
        if key.startswith(f"{prefix}optimizer/"):
            _, name, index = key[len(prefix):].split("/")
            lists.setdefault(name, {})[int(index)] = arrays[key]
    for name, items in lists.items():
        optimizer[name] = [items[i] for i in range(len(items))]
    member.optimizer_state_ = optimizer
    states = []
    for i in range(member.n_series_):
        h = arrays[f"{prefix}state/{i}/h"]
        state = (h, arrays[f"{prefix}state/{i}/c"]) if network.has_cell_state else h
        states.append((state, arrays[f"{prefix}state/{i}/last"],
                       arrays[f"{prefix}state/{i}/known"]))
    member.end_states_ = states
