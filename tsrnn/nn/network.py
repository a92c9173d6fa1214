"""The forecasting network: stacked recurrent layers and a linear head, run in closed loop.

``RecurrentNetwork.run`` advances every layer step by step; at each step the first layer's
input holds the target's true value or the network's own previous prediction (chosen per
step and row), followed by exogenous columns. ``backward`` back-propagates through time and
through the fed-back predictions. The loops are the kernels in ``tsrnn._kernels.closed_loop``.
"""

import numpy as np

from tsrnn._kernels import closed_loop as _closed_loop
from tsrnn.nn.layers import GRU, LSTM, RNN, Linear, _check_array, _check_positive_int

__all__ = ["RecurrentNetwork"]

CELLS = ("lstm", "gru", "rnn")


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
    dtype : numpy float dtype
    random_state : int, Generator or None

    Attributes
    ----------
    rnn : RNN, GRU or LSTM
        The stacked layers; ``rnn.params`` is PyTorch-compatible.
    head : Linear
        ``(D, H)`` output layer.
    """

    def __init__(self, cell, n_targets, n_exog=0, hidden_size=32, num_layers=1, peephole=False,
                 reset_after=True, nonlinearity="tanh", dtype=np.float32, random_state=None):
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
        self.cell = cell
        self.n_targets = _check_positive_int(n_targets, "n_targets")
        if n_exog < 0:
            raise ValueError(f"n_exog must be >= 0, got {n_exog}")
        self.n_exog = int(n_exog)
        rng = np.random.default_rng(random_state)
        F = self.n_targets + self.n_exog
        if cell == "lstm":
            self.rnn = LSTM(F, hidden_size, num_layers, peephole=peephole, dtype=dtype,
                            random_state=rng)
            self._kind = "lstm_peephole" if peephole else "lstm"
        elif cell == "gru":
            self.rnn = GRU(F, hidden_size, num_layers, reset_after=reset_after, dtype=dtype,
                           random_state=rng)
            self._kind = "gru" if reset_after else "gru_reset_before"
        else:
            self.rnn = RNN(F, hidden_size, num_layers, nonlinearity=nonlinearity, dtype=dtype,
                           random_state=rng)
            self._kind = f"rnn_{nonlinearity}"
        self.head = Linear(hidden_size, self.n_targets, dtype=dtype, random_state=rng)
        self.dtype = self.rnn.dtype
        self.hidden_size = self.rnn.hidden_size
        self.num_layers = self.rnn.num_layers
        self._cache = None

    # ---------------------------------------------------------------- parameters
    def parameters(self):
        """Return ``(name, value, grad)`` for every parameter; optimisers update values in place."""
        items = [(f"rnn.{name}", value, self.rnn.grads[name])
                 for name, value in self.rnn.params.items()]
        items += [(f"head.{name}", value, self.head.grads[name])
                  for name, value in self.head.params.items()]
        return items

    def state_dict(self):
        """All parameters as ``{"rnn.<torch name>": array, "head.weight": ..., "head.bias": ...}``."""
        return {name: value.copy() for name, value, _ in self.parameters()}

    def load_state_dict(self, mapping):
        """Load a mapping produced by ``state_dict`` (names and shapes are checked)."""
        rnn = {k[4:]: v for k, v in mapping.items() if k.startswith("rnn.")}
        head = {k[5:]: v for k, v in mapping.items() if k.startswith("head.")}
        other = [k for k in mapping if not k.startswith(("rnn.", "head."))]
        if other:
            raise ValueError(f"unexpected keys {other}")
        self.rnn.load_state_dict(rnn)
        self.head.load_state_dict(head)

    @property
    def has_cell_state(self):
        return self.cell == "lstm"

    def zero_state(self, batch):
        """Zero initial state for ``batch`` rows: h, or (h, c) for LSTM, each (L, B, H)."""
        h = np.zeros((self.num_layers, batch, self.hidden_size), self.dtype)
        return (h, h.copy()) if self.has_cell_state else h

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
        y = _check_array(y, "y (T, B, D)", (None, None, self.n_targets), self.dtype)
        T, B, D = y.shape
        teacher = np.asarray(teacher)
        if teacher.shape != (T, B):
            raise ValueError(f"teacher has shape {teacher.shape}, expected {(T, B)}")
        teacher = np.ascontiguousarray(teacher, dtype=np.uint8)
        if self.n_exog:
            if exog is None:
                raise ValueError(f"the network takes {self.n_exog} exogenous columns; exog is None")
            exog = _check_array(exog, "exog (T, B, E)", (T, B, self.n_exog), self.dtype)
        elif exog is not None:
            raise ValueError("the network takes no exogenous columns; exog must be None")
        if first_pred is None:
            if not teacher[0].all():
                raise ValueError("first_pred is needed where teacher[0] is false")
            first_pred = np.zeros((B, D), self.dtype)
        first_pred = _check_array(first_pred, "first_pred (B, D)", (B, D), self.dtype)
        h0, c0 = self.rnn._check_state(state, B)
        if dropout_masks is not None:
            if not keep_cache:
                raise ValueError("dropout masks are for training runs (keep_cache=True)")
            if len(dropout_masks) != self.num_layers - 1:
                raise ValueError(f"expected {self.num_layers - 1} dropout masks, "
                                 f"got {len(dropout_masks)}")
            dropout_masks = [_check_array(m, "dropout mask (T, B, H)",
                                          (T, B, self.hidden_size), self.dtype)
                             for m in dropout_masks]

        layers = self._layer_buffers(T, B, h0, c0, keep_cache, dropout_masks)
        pred = np.empty((T, B, D), self.dtype)
        _closed_loop.closed_loop_forward(
            _closed_loop.CELL_KINDS[self._kind], layers, self.head.params["weight"],
            self.head.params["bias"], y, exog, teacher, first_pred, keep_cache, pred)

        last = T - 1 if keep_cache else (T - 1) % 2
        h_n = np.stack([lay["h"][last] for lay in layers])
        c_n = np.stack([lay["c"][last] for lay in layers]) if self.has_cell_state else None
        self._cache = {"layers": layers, "teacher": teacher, "shape": (T, B, D)} \
            if keep_cache else None
        return pred, self.rnn._pack_state(h_n, c_n)

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
        dpred = _check_array(dpred, "dpred (T, B, D)", (T, B, D), self.dtype)
        dh, dc = self.rnn._check_state(dstate, B, name="dstate")
        dh, dc = dh.copy(), (dc.copy() if dc is not None else None)
        layers = self._cache["layers"]
        G = self.rnn._gate_count * self.hidden_size
        for k, lay in enumerate(layers):
            lay["dgx"] = np.empty((T, B, G), self.dtype)
            lay["dgh"] = np.empty((T, B, G), self.dtype) if self.cell == "gru" else lay["dgx"]
            lay["dh"] = dh[k]
            lay["dc"] = None if dc is None else dc[k]
            lay["drh"] = np.empty((B, self.hidden_size), self.dtype)
            lay["dinput"] = np.empty((B, lay["w_ih"].shape[1]), self.dtype)
            lay["dw_ih"], lay["dw_hh"], lay["db_ih"], lay["db_hh"] = self.rnn._layer_grads(k)
            lay["dpeep"] = self.rnn._dpeep[k] if self.cell == "lstm" else None
        dpred_total = np.empty_like(dpred)
        feedback = np.empty((B, D), self.dtype)
        _closed_loop.closed_loop_backward(
            _closed_loop.CELL_KINDS[self._kind], layers, self.head.params["weight"],
            self._cache["teacher"], dpred, dpred_total, feedback, self.head.grads["weight"],
            self.head.grads["bias"])
        return self.rnn._pack_state(dh, dc)

    def _layer_buffers(self, T, B, h0, c0, keep_cache, dropout_masks):
        """Per-layer dicts of the arrays the closed-loop kernel reads and writes."""
        H, dtype = self.hidden_size, self.dtype
        steps_kept = T if keep_cache else 1
        states_kept = T if keep_cache else 2
        layers = []
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self.rnn._layer(k)
            lay = {"w_ih": w_ih, "w_hh": w_hh, "b_ih": b_ih, "b_hh": b_hh,
                   "h0": np.array(h0[k]),  # a copy, safe from later changes by the caller
                   "h": np.empty((states_kept, B, H), dtype),
                   "x": np.empty((steps_kept, B, w_ih.shape[1]), dtype),
                   "mask": dropout_masks[k - 1] if (dropout_masks and k > 0) else None}
            if self.cell in ("gru", "lstm"):
                lay["gates"] = np.empty((steps_kept, B, 4 * H), dtype)
            if self.cell == "gru":
                lay["hproj"] = np.empty((B, 3 * H), dtype)
            if self.cell == "lstm":
                lay["peep"] = self.rnn._peep[k]
                lay["c0"] = np.array(c0[k])
                lay["c"] = np.empty((states_kept, B, H), dtype)
            layers.append(lay)
        return layers
