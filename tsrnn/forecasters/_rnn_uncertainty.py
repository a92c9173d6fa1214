"""What RNNForecaster's intervals and sample paths are made of.

Intervals are split-conformal: the errors of the fitted network's multi-step forecasts from
origins in each series' held-out tail (see :func:`held_out_errors` and
:func:`tsrnn._uncertainty.error_quantiles`). Sample paths run the network's closed loop with a
one-step error, drawn from the same held-out errors, added to every value it feeds back
(:func:`sample_paths`).
"""
from __future__ import annotations

import numpy as np

from tsrnn.training import ForecastValidation

CALIBRATION_ORIGINS = 200
"""Origins of the held-out forecasts, over all series."""
CALIBRATION_HORIZON = 500
"""Most steps ahead calibrated directly; intervals further ahead widen from the last one."""


def calibration_origins(members, ys, starts):
    """``(series, origin)`` pairs spread over the tails, each with its history decodable by
    every member and at least one value after it."""
    need = max(max(m.representation_.offset + 1, m.representation_.memory) for m in members)
    per_series = max(1, -(-CALIBRATION_ORIGINS // len(ys)))
    origins = []
    for i, (y, start) in enumerate(zip(ys, starts)):
        first, last = max(start, need), len(y) - 1
        if last >= first:
            spread = np.unique(np.linspace(first, last, per_series).round().astype(int))
            origins.extend((i, int(o)) for o in spread)
    return origins


def _padded(arrays, horizon, fill):
    """Each array with ``horizon`` rows appended (``fill``, or the last row when None)."""
    out = []
    for a in arrays:
        if a is None:
            out.append(None)
            continue
        extra = (np.full((horizon, a.shape[1]), fill) if fill is not None
                 else np.repeat(a[-1:], horizon, axis=0))
        out.append(np.concatenate([a, extra]))
    return out


def held_out_errors(members, ys, Xs, starts, warmup, unknown_ahead=0):
    """Signed errors (n_origins, horizon, D), truth minus the members' mean forecast, from
    origins after ``starts``; None when the tails are too short for one forecast.

    Origins lie all over the tails, so the steps just ahead, which every origin reaches, get
    the most errors; an error whose truth lies past the end of its series is NaN.

    Parameters
    ----------
    members : list of fitted RNNForecaster
        Networks whose forecasts are averaged (``network_``, ``representation_``).
    ys, Xs : list of ndarray (n_i, D), list of ndarray (n_i, E) or None
        Whole series in model units.
    starts : list of int
        Where each series' tail begins.
    warmup : int
        Known values before each origin that condition the state.
    unknown_ahead : int, default=0
        The last exogenous columns unknown after an origin (see ``ForecastValidation``).
    """
    horizon = min(CALIBRATION_HORIZON, max(len(y) - start for y, start in zip(ys, starts)))
    origins = calibration_origins(members, ys, starts)
    if horizon < 1 or not origins:
        return None
    # past the end the truth is unknown (NaN) and the inputs are never read as values; known
    # future covariates repeat their last row only to keep the batch rectangular
    ys, Xs = _padded(ys, horizon, np.nan), _padded(Xs, horizon, None)
    forecasts = []
    for member in members:
        validation = ForecastValidation(ys, Xs, starts, horizon, warmup,
                                        dtype=member.network_.dtype,
                                        representation=member.representation_,
                                        origins=origins, unknown_ahead=unknown_ahead)
        forecasts.append(validation.forecasts(member.network_))
    errors = validation.truth - np.mean(forecasts, axis=0)
    return np.ascontiguousarray(np.transpose(errors, (1, 0, 2)))


def _repeated(state, n):
    """A one-row network state repeated into ``n`` rows."""
    if isinstance(state, tuple):
        return tuple(np.repeat(part, n, axis=1) for part in state)
    return np.repeat(state, n, axis=1)


def sample_paths(network, representation, start, horizon, X_future, noise):
    """Paths (B, horizon, D) of the closed loop with ``noise`` (horizon, B, D) added.

    ``start`` is ``(state, last encoded value, known values)`` as the forecaster stores an
    end of data. At each step the network predicts the next encoded value, the step's error
    (in model units, converted to the encoding's) is added, and the sum is fed back, so every
    path is a trajectory the network could have been shown.
    """
    state, last, known = start
    B, dtype = noise.shape[1], network.dtype
    state = _repeated(state, B)
    value = np.repeat(last[None, :], B, axis=0)
    teacher = np.ones((1, B), bool)
    exog = None
    if X_future is not None:
        exog = np.ascontiguousarray(
            np.broadcast_to(X_future[:, None, :], (horizon, B, X_future.shape[1])), dtype)
    encoded = np.empty((horizon, B, value.shape[1]))
    for t in range(horizon):
        step_exog = None if exog is None else exog[t:t + 1]
        pred, state = network.run(np.ascontiguousarray(value[None], dtype), teacher,
                                  step_exog, state)
        value = pred[0] + representation.error_in_z(noise[t])
        encoded[t] = value
    history = np.repeat(known[:, None, :], B, axis=1)
    return np.transpose(representation.decode(encoded, history), (1, 0, 2))
