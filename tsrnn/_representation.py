"""What the recurrent network reads and predicts: the series itself or its seasonal change.

A representation turns a standardised series ``y`` (n, D) into the values ``z`` the network is
trained on (``encode``), and the network's forecasts of ``z`` back into forecasts of ``y``
(``decode``), given the values of ``y`` known before the forecast.

- :class:`Level` is the identity: the network reads and predicts ``y``.
- :class:`SeasonalChange` subtracts the mean of the values one, two, ... seasons before:
  ``z_t = y_t - mean_k y(t - k m)`` over ``k = 1..n_seasons`` (fewer near the start of the
  data), read at fractional positions by linear interpolation, so that a season of 52.18 weeks
  is used as it is. Holding ``z`` constant (what a network with the residual head forecasts
  before training) forecasts the last value plus the average seasonal change from the same
  phase of earlier seasons: a seasonal random walk averaged over seasons, which training can
  only improve on the validation tail. Beyond one season the forecast reads its own values.
"""

import math

import numpy as np

__all__ = ["Level", "SeasonalChange", "representation_from_config"]


class Level:
    """The identity representation: the network reads and predicts the series itself."""

    offset = 0  # values at the start of a series that have no encoded value
    memory = 0  # values before a forecast that decoding needs

    def fit_scale(self, zs):
        return self

    def encode(self, y, tail=None):
        return y if tail is None else y[len(y) - tail:]

    def error_in_z(self, error):
        """An error of the series' (model) units as the error of the encoded value."""
        return error

    def decode(self, z, history):
        return z

    def config(self):
        return {"kind": "level"}

    def describe(self):
        return "level"


class SeasonalChange:
    """``z_t = (y_t - mean_k y(t - k m) - mean) / scale``, decoded step by step.

    Parameters
    ----------
    period : float
        Season length in steps (> 1; may be fractional).
    n_seasons : int
        Earlier seasons averaged.
    mean, scale : array-like (D,), optional
        Standardisation of the change, set by :meth:`fit_scale` from the training data.
    """

    def __init__(self, period, n_seasons=5, mean=None, scale=None):
        self.period = float(period)
        self.n_seasons = int(n_seasons)
        self.offset = int(math.ceil(self.period))
        self.memory = int(math.ceil(self.n_seasons * self.period)) + 1
        self.mean = None if mean is None else np.asarray(mean, np.float64)
        self.scale = None if scale is None else np.asarray(scale, np.float64)

    def _lags(self, values, t):
        """Mean of ``values`` (L, ...) at positions ``t - k m`` that exist, ``t`` an int."""
        count = min(self.n_seasons, int(t // self.period))
        positions = t - self.period * np.arange(1, count + 1)
        low = np.floor(positions).astype(np.intp)
        weight = (positions - low).reshape((-1,) + (1,) * (values.ndim - 1))
        # the upper neighbour only matters where the weight is not 0 (and may not exist there)
        high = np.where(weight.reshape(-1) > 0, low + 1, low)
        return ((1 - weight) * values[low] + weight * values[high]).mean(axis=0)

    def _raw(self, y, tail=None):
        """Unscaled changes of ``y`` (n, D) for times offset..n-1 (the last ``tail`` only)."""
        n = len(y)
        first = self.offset if tail is None else max(self.offset, n - tail)
        if n - first <= _FEW:  # a streaming update: plain arithmetic beats array set-up
            return np.array([y[t] - self._lags(y, t) for t in range(first, n)]).reshape(
                n - first, y.shape[1])
        t = np.arange(first, n, dtype=np.float64)
        total = np.zeros((len(t), y.shape[1]))
        count = np.zeros((len(t), 1))
        grid = np.arange(n, dtype=np.float64)
        for k in range(1, self.n_seasons + 1):
            position = t - k * self.period
            valid = position >= 0
            if not valid.any():
                break
            for d in range(y.shape[1]):
                total[valid, d] += np.interp(position[valid], grid, y[:, d])
            count[valid] += 1
        return y[first:] - total / count

    def fit_scale(self, ys):
        """Set the standardisation of the change from training series ``ys``."""
        raw = np.concatenate([self._raw(np.asarray(y, np.float64)) for y in ys])
        self.mean = raw.mean(axis=0)
        scale = raw.std(axis=0)
        self.scale = np.where(scale > 0, scale, 1.0)
        return self

    def encode(self, y, tail=None):
        """Standardised changes (n - offset, D) of ``y`` (n, D), n > offset; with ``tail``,
        only the last ``tail`` of them (what an update needs)."""
        return (self._raw(np.asarray(y, np.float64), tail) - self.mean) / self.scale

    def error_in_z(self, error):
        """An error of the series' (model) units as the error of the encoded value."""
        return error / self.scale

    def decode(self, z, history):
        """Forecasts of ``y`` (h, B, D) from forecasts ``z`` (h, B, D) of the change.

        ``history`` (L, B, D) holds the known values before the forecast, L > offset.
        """
        z = np.asarray(z, np.float64)
        h, L = len(z), len(history)
        values = np.concatenate([np.asarray(history, np.float64), np.zeros_like(z)])
        change = z * self.scale + self.mean
        for j in range(h):
            values[L + j] = change[j] + self._lags(values, L + j)
        return values[L:]

    def config(self):
        return {"kind": "seasonal", "period": self.period, "n_seasons": self.n_seasons,
                "mean": self.mean.tolist(), "scale": self.scale.tolist()}

    def describe(self):
        return f"seasonal change (season {self.period:g})"


_FEW = 4
"""Up to this many changes are computed one by one (see :meth:`SeasonalChange._raw`)."""


def representation_from_config(config):
    """The representation :meth:`config` described."""
    if config["kind"] == "level":
        return Level()
    if config["kind"] == "seasonal":
        return SeasonalChange(config["period"], config["n_seasons"], config["mean"],
                              config["scale"])
    raise ValueError(f"unknown representation {config['kind']!r}")
