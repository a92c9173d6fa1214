"""Optimisers that update parameter arrays in place, and gradient clipping by global norm."""

import numpy as np

__all__ = ["Adam", "SGD", "clip_grad_norm", "make_optimizer"]


def clip_grad_norm(grads, max_norm):
    """Scale all gradients together so that their joint L2 norm is at most ``max_norm``.

    Parameters
    ----------
    grads : list of ndarray
        Modified in place.
    max_norm : float or None
        None disables clipping.

    Returns
    -------
    float
        The norm before clipping.
    """
    norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
    if max_norm is not None and norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads:
            g *= scale
    return norm


class _Optimizer:
    def __init__(self, params, learning_rate):
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate}")
        self.params = list(params)
        self.learning_rate = float(learning_rate)

    def state_dict(self):
        """Arrays and counters needed to continue where this optimiser stopped."""
        return {name: [a.copy() for a in value] if isinstance(value, list) else value
                for name, value in self._state().items()}

    def load_state_dict(self, state):
        """Restore what ``state_dict`` returned (shapes are checked)."""
        own = self._state()
        for name, value in state.items():
            if name not in own:
                raise ValueError(f"unknown optimiser state {name!r}")
            if isinstance(own[name], list):
                if len(value) != len(own[name]) or any(
                        np.shape(a) != b.shape for a, b in zip(value, own[name])):
                    raise ValueError(f"optimiser state {name!r} does not match the parameters")
                for target, source in zip(own[name], value):
                    target[...] = source
            else:
                setattr(self, name, value)


class SGD(_Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum.

    v <- momentum * v + g;  p <- p - learning_rate * v
    """

    def __init__(self, params, learning_rate=0.01, momentum=0.9):
        super().__init__(params, learning_rate)
        self.momentum = float(momentum)
        self.velocity = [np.zeros_like(p) for p in self.params]

    def _state(self):
        return {"velocity": self.velocity}

    def step(self, grads):
        """Update every parameter in place from its gradient."""
        for p, g, v in zip(self.params, grads, self.velocity):
            v *= self.momentum
            v += g
            p -= self.learning_rate * v


class Adam(_Optimizer):
    """Adam (Kingma and Ba, 2015) with bias correction.

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    def __init__(self, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(params, learning_rate)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def _state(self):
        return {"m": self.m, "v": self.v, "t": self.t}

    def step(self, grads):
        """Update every parameter in place from its gradient."""
        self.t += 1
        correction1 = 1.0 - self.beta1 ** self.t
        correction2 = 1.0 - self.beta2 ** self.t
        step_size = self.learning_rate * np.sqrt(correction2) / correction1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            p -= step_size * m / (np.sqrt(v) + self.eps * np.sqrt(correction2))


OPTIMIZERS = {"adam": Adam, "sgd": SGD}


def make_optimizer(name, params, learning_rate):
    """Build the optimiser called ``name`` ("adam" or "sgd") over ``params``."""
    try:
        cls = OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}") from None
    return cls(params, learning_rate=learning_rate)
