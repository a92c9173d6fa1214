"""The forecasting network: stacked recurrent layers and a linear head, run in closed loop.

``RecurrentNetwork.run`` advances every layer step by step; at each step the first layer's
input holds the target's true value or the network's own previous prediction (chosen per
step and row), followed by exogenous columns. ``backward`` back-propagates through time and
through the fed-back predictions. The loops are the kernels in ``tsrnn._kernels.closed_loop``.
"""

import threading

import numpy as np

from tsrnn import _kernels, _threads
from tsrnn._checks import check_array, check_bool, check_dtype, check_int, check_option
from tsrnn.nn.layers import GRU, LSTM, RNN, Linear

_closed_loop = _kernels.load("closed_loop")

__all__ = ["RecurrentNetwork", "CELLS"]

# Runs without cache longer than this go through the kernel in pieces, returning to Python in
# between, so that Ctrl-C (and any other signal) interrupts a long forecast within one piece.
INFERENCE_CHUNK_STEPS = 4096

# Each cell: its layer class and the one option it takes (None for the others).
_CELL_LAYERS = {"lstm": (LSTM, "peephole"), "gru": (GRU, "reset_after"),
                "rnn": (RNN, "nonlinearity")}
CELLS = tuple(_CELL_LAYERS)


def _refuse_bidirectional(bidirectional):
    """Raise unless ``bidirectional`` is False: a closed loop cannot use future inputs."""
    if check_bool(bidirectional, "bidirectional"):
        raise ValueError(
            "bidirectional=True is not possible in a forecasting network: it feeds each "
            "prediction back as the next input, so no layer can see later steps as a "
            "bidirectional layer's reverse direction does")


class RecurrentNetwork:
    """Stacked RNN/GRU/LSTM layers with a linear head predicting the next target values.

    At step t the input is ``u_t = [y_t or its prediction (D), exog_t (E)]`` and the head
    gives ``pred[t]``, the prediction of ``y_{t+1}``.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}
    n_targets : int
        D, target columns (predicted and fed back).
    n_exog : int
        E, exogenous columns (given, never predicted).
    hidden_size, num_layers : int
    peephole : bool
        LSTM only: peephole connections.
    reset_after : bool
        GRU only: PyTorch's variant (True) or Cho et al.'s (False).
    nonlinearity : {"tanh", "relu"}
        RNN only.
    residual : bool
        The head predicts the change from the current value: ``pred[t] = y_t + W h_t + b``
        (where y_t is the value fed at step t, true or predicted). An untrained network then
        forecasts the last value, a strong start for smooth, densely sampled signals.
    initial_state : {"zeros", "learned"}
        Start every sequence from zeros, or from a learned state (parameters ``init.h`` and,
        for LSTM, ``init.c``, each (num_layers, H), shared by all sequences).
    dtype : numpy float dtype
    random_state : int, Generator or None
    bidirectional : bool, default False
        Only False is accepted: the network feeds each prediction back as the next input, so
        its layers cannot look ahead in time as a bidirectional layer's reverse direction
        does. True raises a ValueError.

    Attributes
    ----------
    rnn : RNN, GRU or LSTM
        The stacked layers; ``rnn.params`` is PyTorch-compatible.
    head : Linear
        ``(D, H)`` output layer.
    """

    def __init__(self, cell, n_targets, n_exog=0, hidden_size=32, num_layers=1, peephole=False,
                 reset_after=True, nonlinearity="tanh", residual=False, initial_state="zeros",
                 dtype=np.float32, random_state=None, bidirectional=False):
        _refuse_bidirectional(bidirectional)
        self.cell = check_option(cell, "cell", CELLS)
        self.n_targets = check_int(n_targets, "n_targets", minimum=1)
        self.n_exog = check_int(n_exog, "n_exog", minimum=0)
        rng = np.random.default_rng(random_state)
        layer_class, option_name = _CELL_LAYERS[cell]
        options = {"peephole": peephole, "reset_after": reset_after,
                   "nonlinearity": nonlinearity}
        self.rnn = layer_class(self.n_targets + self.n_exog, hidden_size, num_layers,
                               dtype=dtype, random_state=rng,
                               **{option_name: options[option_name]})
        self.head = Linear(hidden_size, self.n_targets, dtype=dtype, random_state=rng)
        self.residual = bool(residual)
        if self.residual:
            # start from "no change": an untrained network forecasts the last value
            for value in self.head.params.values():
                value[...] = 0
        self.dtype = self.rnn.dtype
        self.hidden_size = self.rnn.hidden_size
        self.num_layers = self.rnn.num_layers
        if initial_state not in ("zeros", "learned"):
            raise ValueError(f"initial_state must be 'zeros' or 'learned', got {initial_state!r}")
        self.initial_state = initial_state
        self.init = {}
        self.init_grads = {}
        if initial_state == "learned":
            names = ("h", "c") if self.has_cell_state else ("h",)
            for name in names:
                self.init[name] = np.zeros((self.num_layers, self.hidden_size), self.dtype)
                self.init_grads[name] = np.zeros_like(self.init[name])
        self._cache = None
        self._inference = {}
        self._streamers = {}

    # ---------------------------------------------------------------- parameters
    def parameters(self):
        """Return ``(name, value, grad)`` for every parameter; optimisers update values in place."""
        items = [(f"rnn.{name}", value, self.rnn.grads[name])
                 for name, value in self.rnn.params.items()]
        items += [(f"head.{name}", value, self.head.grads[name])
                  for name, value in self.head.params.items()]
        items += [(f"init.{name}", value, self.init_grads[name])
                  for name, value in self.init.items()]
        return items

    def state_dict(self):
        """All parameters as ``{"rnn.<torch name>": array, "head.weight": ..., "head.bias": ...}``."""
        return {name: value.copy() for name, value, _ in self.parameters()}

    def load_state_dict(self, mapping):
        """Load a mapping produced by ``state_dict`` (names and shapes are checked)."""
        rnn = {k[4:]: v for k, v in mapping.items() if k.startswith("rnn.")}
        head = {k[5:]: v for k, v in mapping.items() if k.startswith("head.")}
        init = {k[5:]: v for k, v in mapping.items() if k.startswith("init.")}
        other = [k for k in mapping if not k.startswith(("rnn.", "head.", "init."))]
        if other:
            raise ValueError(f"unexpected keys {other}")
        if sorted(init) != sorted(self.init):
            raise ValueError(f"initial-state keys {sorted(init)} do not match "
                             f"{sorted(self.init)} (initial_state={self.initial_state!r})")
        for name, value in init.items():
            if np.shape(value) != self.init[name].shape:
                raise ValueError(f"init.{name} has shape {np.shape(value)}, "
                                 f"expected {self.init[name].shape}")
        self.rnn.load_state_dict(rnn)
        self.head.load_state_dict(head)
        for name, value in init.items():
            self.init[name][...] = value

    @property
    def has_cell_state(self):
        return self.rnn.has_cell_state

    def config(self):
        """The constructor arguments as a JSON-able dict (see :meth:`from_config`)."""
        return {"cell": self.cell, "n_targets": self.n_targets, "n_exog": self.n_exog,
                "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "peephole": bool(getattr(self.rnn, "peephole", False)),
                "reset_after": bool(getattr(self.rnn, "reset_after", True)),
                "nonlinearity": getattr(self.rnn, "nonlinearity", "tanh"),
                "residual": self.residual, "initial_state": self.initial_state,
                "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config, random_state=None):
        """A network built from :meth:`config`'s dict (weights freshly initialised).

        Examples
        --------
        >>> from tsrnn.nn.network import RecurrentNetwork
        >>> net = RecurrentNetwork("gru", 1, hidden_size=4)
        >>> RecurrentNetwork.from_config(net.config()).config() == net.config()
        True
        """
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        expected = {"cell", "n_targets", "n_exog", "hidden_size", "num_layers", "peephole",
                    "reset_after", "nonlinearity", "residual", "initial_state", "dtype"}
        if "bidirectional" in config:  # a layer option the network refuses with its reason
            _refuse_bidirectional(config["bidirectional"])
            config = {k: v for k, v in config.items() if k != "bidirectional"}
        if set(config) != expected:
            raise ValueError(f"config must have the keys {sorted(expected)}, got "
                             f"{sorted(config)}")
        options = dict(config, dtype=check_dtype(config["dtype"]))
        return cls(**options, random_state=random_state)

    def zero_state(self, batch):
        """Zero initial state for ``batch`` rows: h, or (h, c) for LSTM, each (L, B, H)."""
        h = np.zeros((self.num_layers, batch, self.hidden_size), self.dtype)
        return (h, h.copy()) if self.has_cell_state else h

    def start_state(self, batch):
        """The state every sequence starts from: zeros, or the learned one, for ``batch`` rows."""
        if self.initial_state == "zeros":
            return self.zero_state(batch)
        h = np.repeat(self.init["h"][:, None, :], batch, axis=1)
        if self.has_cell_state:
            return h, np.repeat(self.init["c"][:, None, :], batch, axis=1)
        return h

    def add_start_state_gradient(self, dstate0, rows=None):
        """Add the gradient on the start state of ``rows`` (default all) to the learned one."""
        if self.initial_state == "zeros":
            return
        parts = dstate0 if self.has_cell_state else (dstate0,)
        for name, grad in zip(("h", "c"), parts):
            selected = grad if rows is None else grad[:, rows]
            self.init_grads[name] += selected.sum(axis=1)

    def zero_grad(self):
        """Set every gradient to zero."""
        for _, _, grad in self.parameters():
            grad[...] = 0

    def forget_cache(self):
        """Drop what the last training run kept for backward (frees its memory)."""
        self._cache = None

    def _inference_buffers(self, B, h0, c0):
        """Buffers for runs without cache, made once per thread and batch size.

        Their size does not depend on T, so streaming updates and forecasts reuse them instead
        of allocating per call; one set per thread keeps concurrent use safe.
        """
        key = (threading.get_ident(), B)
        layers = self._inference.get(key)
        if layers is None:
            layers = self._inference[key] = self.rnn.closed_loop_buffers(1, B, h0, c0, False)
            return layers
        self.rnn.check_params()
        for k, lay in enumerate(layers):
            lay.h0[...] = h0[k]
            if c0 is not None:
                lay.c0[...] = c0[k]
        return layers

    def __getstate__(self):
        # transient buffers are rebuilt on demand, never saved
        state = dict(self.__dict__)
        state.update(_cache=None, _inference={}, _streamers={})
        return state

    def cached_state(self, step):
        """State after step ``step`` of the last ``run(keep_cache=True)`` (-1: the initial one)."""
        if self._cache is None:
            raise ValueError("cached_state needs a run(..., keep_cache=True) first")
        if self._cache["mode"] == "layers":
            layers = [{"h0": c["h0"], "h": c["h_out"], "c0": c.get("c0"), "c": c.get("c_out")}
                      for c in self._cache["caches"]]
        else:
            layers = [{"h0": lay.h0, "h": lay.h, "c0": lay.c0, "c": lay.c}
                      for lay in self._cache["layers"]]
        key = "h0" if step < 0 else "h"
        h = np.stack([lay[key] if step < 0 else lay[key][step] for lay in layers])
        if not self.has_cell_state:
            return h
        key = "c0" if step < 0 else "c"
        return h, np.stack([lay[key] if step < 0 else lay[key][step] for lay in layers])

    # ---------------------------------------------------------------- passes
    def run(self, y, teacher, exog=None, state=None, first_pred=None, keep_cache=False,
            dropout_masks=None):
        """Run the network for T steps.

        Parameters
        ----------
        y : ndarray of shape (T, B, D)
            True targets; row b at step t is the input where ``teacher[t, b]`` is true
            (elsewhere its values are not read and may be anything, e.g. zeros).
        teacher : array of bool of shape (T, B)
            True: feed the true value; False: feed the network's own prediction.
        exog : ndarray of shape (T, B, E) or None
            Exogenous part of each step's input.
        state : initial state as returned by ``zero_state`` (None = zeros).
        first_pred : ndarray of shape (B, D) or None
            Prediction of y_0, fed where ``teacher[0, b]`` is false (required then).
        keep_cache : bool
            Keep every step's activations for ``backward`` (training); otherwise memory stays
            constant in T.
        dropout_masks : list of ndarray (T, B, H) or None
            Masks on the inputs of layers 1..L-1 (training only).

        Returns
        -------
        pred : ndarray of shape (T, B, D)
            ``pred[t]`` is the prediction of ``y_{t+1}``.
        state : the state after the last step, as ``zero_state``.
        """
        y = check_array(y, "y (T, B, D)", (None, None, self.n_targets), self.dtype)
        teacher, exog, first_pred, h0, c0, dropout_masks = self._checked_run_inputs(
            y, teacher, exog, state, first_pred, keep_cache, dropout_masks)
        if keep_cache and teacher.all():
            return self._run_teacher_forced(y, exog, h0, c0, dropout_masks)
        return self._run_closed_loop(y, teacher, exog, first_pred, h0, c0, keep_cache,
                                     dropout_masks)

    def _checked_run_inputs(self, y, teacher, exog, state, first_pred, keep_cache,
                            dropout_masks):
        """The arguments of :meth:`run`, checked and laid out as the kernels take them."""
        T, B, D = y.shape
        teacher = np.asarray(teacher)
        if teacher.shape != (T, B):
            raise ValueError(f"teacher has shape {teacher.shape}, expected {(T, B)}")
        teacher = np.ascontiguousarray(teacher, dtype=np.uint8)
        if self.n_exog:
            if exog is None:
                raise ValueError(f"the network takes {self.n_exog} exogenous columns; exog is None")
            exog = check_array(exog, "exog (T, B, E)", (T, B, self.n_exog), self.dtype)
        elif exog is not None:
            raise ValueError("the network takes no exogenous columns; exog must be None")
        if first_pred is None:
            if not teacher[0].all():
                raise ValueError("first_pred is needed where teacher[0] is false")
            first_pred = np.zeros((B, D), self.dtype)
        first_pred = check_array(first_pred, "first_pred (B, D)", (B, D), self.dtype)
        h0, c0 = self.rnn.check_state(state, B)
        if dropout_masks is not None:
            if not keep_cache:
                raise ValueError("dropout masks are for training runs (keep_cache=True)")
            if len(dropout_masks) != self.num_layers - 1:
                raise ValueError(f"expected {self.num_layers - 1} dropout masks, "
                                 f"got {len(dropout_masks)}")
            dropout_masks = [check_array(m, "dropout mask (T, B, H)",
                                         (T, B, self.hidden_size), self.dtype)
                             for m in dropout_masks]
        return teacher, exog, first_pred, h0, c0, dropout_masks

    def _run_closed_loop(self, y, teacher, exog, first_pred, h0, c0, keep_cache,
                         dropout_masks):
        """:meth:`run` through the closed-loop kernel (predictions may be fed back)."""
        T, B, D = y.shape
        if not keep_cache and T > INFERENCE_CHUNK_STEPS:
            return self._run_in_chunks(y, teacher, exog, first_pred, h0, c0)
        if keep_cache:
            layers = self.rnn.closed_loop_buffers(T, B, h0, c0, True, dropout_masks)
        else:
            layers = self._inference_buffers(B, h0, c0)
        pred = np.empty((T, B, D), self.dtype)
        threads = self.rnn.threads(B)
        self.head.check_params()
        with _threads.blas_for(threads):
            _closed_loop.closed_loop_forward(
                self.rnn.cell_code, layers, self.head.params["weight"],
                self.head.params["bias"], y, exog, teacher, first_pred, keep_cache,
                self.residual, pred, threads)
        last = T - 1 if keep_cache else (T - 1) % 2
        h_n = np.stack([lay.h[last] for lay in layers])
        c_n = np.stack([lay.c[last] for lay in layers]) if self.has_cell_state else None
        self._cache = {"mode": "closed", "layers": layers, "teacher": teacher,
                       "shape": (T, B, D)} if keep_cache else None
        return pred, self.rnn.pack_state(h_n, c_n)

    def _run_in_chunks(self, y, teacher, exog, first_pred, h0, c0):
        """:meth:`_run_closed_loop` without cache, :data:`INFERENCE_CHUNK_STEPS` steps at a
        time; each piece starts from the state and the last prediction of the one before, so
        the result is the same as one run."""
        T, B, D = y.shape
        pred = np.empty((T, B, D), self.dtype)
        for start in range(0, T, INFERENCE_CHUNK_STEPS):
            stop = min(T, start + INFERENCE_CHUNK_STEPS)
            part_exog = None if exog is None else exog[start:stop]
            part, state = self._run_closed_loop(y[start:stop], teacher[start:stop], part_exog,
                                                first_pred, h0, c0, False, None)
            pred[start:stop] = part
            first_pred = np.ascontiguousarray(part[-1])
            h0, c0 = self.rnn.check_state(state, B)
        return pred, state

    def advance(self, y, exog=None, state=None):
        """The state after feeding true inputs for T steps, without the head (streaming).

        Equal to ``run(y, all true, exog, state)[1]``. A short advance of one row goes through
        a :class:`~tsrnn._kernels.closed_loop.Streamer` kept between calls: passing back the
        state this method returned continues that streamer where it stopped, so a streaming
        update costs a few microseconds of arithmetic instead of a kernel call's set-up.

        Parameters
        ----------
        y : ndarray of shape (T, B, D)
        exog : ndarray of shape (T, B, E) or None
        state : the state to start from (None = zeros); not modified.

        Returns
        -------
        state : the state after the last step (a new object), as ``zero_state``.
        """
        if y.ndim != 3 or y.shape[1] != 1 or y.shape[0] > self._STREAM_STEPS:
            return self.run(y, np.ones(y.shape[:2], bool), exog, state)[1]
        if y.shape[2] != self.n_targets:
            raise ValueError(f"y has shape {y.shape}, expected (T, 1, {self.n_targets})")
        key = (threading.get_ident(), id(state))
        known = self._streamers.pop(key, None)
        if known is not None and known[0] is state:
            streamer = known[1]
        else:
            h0, c0 = self.rnn.check_state(state, 1)
            streamer = self.rnn.streamer(h0 if c0 is None else (h0, c0))
        T = y.shape[0]
        if self.n_exog:
            if exog is None or exog.shape != (T, 1, self.n_exog):
                raise ValueError(f"exog must have shape {(T, 1, self.n_exog)}, got "
                                 f"{None if exog is None else exog.shape}")
            inputs = np.concatenate([y, exog], axis=2).astype(self.dtype)
        elif exog is not None:
            raise ValueError("the network takes no exogenous columns; exog must be None")
        else:
            inputs = np.asarray(y, self.dtype)
        if inputs.shape[2] == 1:
            for value in inputs.ravel().tolist():
                streamer.step(value)
        else:
            for row in inputs:
                streamer.step(row)
        if len(self._streamers) >= self._STREAM_CACHE:
            self._streamers.clear()
        new_state = streamer.state
        self._streamers[(threading.get_ident(), id(new_state))] = (new_state, streamer)
        return new_state

    # advance() goes through a streamer for at most this many steps (longer runs are cheaper
    # as one kernel call) and keeps at most this many streamers (one per series streamed)
    _STREAM_STEPS = 64
    _STREAM_CACHE = 256

    def _run_teacher_forced(self, y, exog, h0, c0, masks):
        """A training run in which every input is true: nothing is fed back, so each layer
        runs over the whole window at once (one product projects all its inputs) and the head
        is one product over all steps, as in the layers' own forward pass."""
        T, B, D = y.shape
        H, L = self.hidden_size, self.num_layers
        x = np.ascontiguousarray(y if exog is None else np.concatenate([y, exog], axis=2))
        self.rnn.check_params()
        self.head.check_params()
        threads = self.rnn.threads(B)
        caches = []
        h_n = np.empty_like(h0)
        c_n = np.empty_like(c0) if c0 is not None else None
        with _threads.blas_for(threads):
            for k in range(L):
                cache = self.rnn.forward_layer(k, x, h0[k].copy(),
                                                None if c0 is None else c0[k].copy(), threads)
                caches.append(cache)
                x = cache["h_out"]
                h_n[k] = x[-1]
                if c_n is not None:
                    c_n[k] = cache["c_out"][-1]
                if masks is not None and k + 1 < L:
                    x = x * masks[k]
        top = caches[-1]["h_out"].reshape(T * B, H)
        pred = (top @ self.head.params["weight"].T + self.head.params["bias"]).reshape(T, B, D)
        if self.residual:
            pred += y
        self._cache = {"mode": "layers", "caches": caches, "masks": masks, "shape": (T, B, D)}
        return pred, self.rnn.pack_state(h_n, c_n)

    def _backward_teacher_forced(self, dpred, dh, dc):
        """Backward of ``_run_teacher_forced``: the head once, then layer by layer."""
        T, B, D = dpred.shape
        H = self.hidden_size
        caches, masks = self._cache["caches"], self._cache["masks"]
        flat = dpred.reshape(T * B, D)
        self.head.grads["weight"][...] = flat.T @ caches[-1]["h_out"].reshape(T * B, H)
        self.head.grads["bias"][...] = flat.sum(axis=0)
        dout = (flat @ self.head.params["weight"]).reshape(T, B, H)
        threads = self.rnn.threads(B)
        with _threads.blas_for(threads):
            for k in range(self.num_layers - 1, -1, -1):
                dx = self.rnn.backward_layer(k, caches[k], dout, dh[k],
                                              None if dc is None else dc[k], threads)
                if k > 0:
                    dout = dx * masks[k - 1] if masks is not None else dx

    def backward(self, dpred, dstate=None):
        """Back-propagate the last ``run(keep_cache=True)``; fill every parameter's gradient.

        Parameters
        ----------
        dpred : ndarray of shape (T, B, D)
            Gradient of the loss with respect to ``pred``.
        dstate : gradient on the final state (structure of the state) or None.

        Returns
        -------
        dstate0 : gradient on the initial state, structure of the state.
        """
        if self._cache is None:
            raise ValueError("backward needs a run(..., keep_cache=True) first")
        T, B, D = self._cache["shape"]
        dpred = check_array(dpred, "dpred (T, B, D)", (T, B, D), self.dtype)
        dh, dc = self.rnn.check_state(dstate, B, name="dstate")
        dh, dc = dh.copy(), (dc.copy() if dc is not None else None)
        if self._cache["mode"] == "layers":
            self._backward_teacher_forced(dpred, dh, dc)
            return self.rnn.pack_state(dh, dc)
        layers = self._cache["layers"]
        self.rnn.check_params()
        self.head.check_params()
        self.rnn.add_gradient_buffers(layers, T, B, dh, dc)
        dpred_total = np.empty_like(dpred)
        feedback = np.empty((B, D), self.dtype)
        threads = self.rnn.threads(B)
        with _threads.blas_for(threads):
            _closed_loop.closed_loop_backward(
                self.rnn.cell_code, layers, self.head.params["weight"],
                self._cache["teacher"], self.residual, dpred, dpred_total, feedback,
                self.head.grads["weight"], self.head.grads["bias"], threads)
        return self.rnn.pack_state(dh, dc)
