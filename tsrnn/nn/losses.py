"""Pointwise regression losses with their gradients, averaged over the observed entries.

Each loss takes predictions, targets and a weight array (1 where a target exists, 0 for
padding or missing targets) of the same shape, and returns ``(value, gradient)`` where the
gradient is with respect to the predictions.
"""

import numpy as np

__all__ = ["mse", "mae", "huber", "LOSSES", "get_loss"]


def _count(weight):
    return max(float(weight.sum()), 1.0)


def mse(pred, target, weight):
    """Mean squared error: mean of w (p - y)^2."""
    diff = (pred - target) * weight
    n = _count(weight)
    return float(np.sum(diff * diff) / n), (2.0 / n) * diff


def mae(pred, target, weight):
    """Mean absolute error: mean of w |p - y| (subgradient 0 at p = y)."""
    diff = pred - target
    n = _count(weight)
    return float(np.sum(np.abs(diff) * weight) / n), np.sign(diff) * weight / n


def huber(pred, target, weight, delta=1.0):
    """Huber loss: quadratic within ``delta`` of the target, linear beyond it."""
    diff = pred - target
    small = np.abs(diff) <= delta
    values = np.where(small, 0.5 * diff * diff, delta * (np.abs(diff) - 0.5 * delta))
    n = _count(weight)
    grad = np.where(small, diff, delta * np.sign(diff)) * weight / n
    return float(np.sum(values * weight) / n), grad


LOSSES = {"mse": mse, "mae": mae, "huber": huber}


def get_loss(name):
    """Return the loss function called ``name`` (one of ``LOSSES``)."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {name!r}") from None
