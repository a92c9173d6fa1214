"""Recurrent layers (RNN, GRU, LSTM) and a Linear head over the Cython kernels.

Parameters are named, shaped and ordered exactly as in PyTorch's ``state_dict()``, so weights
move between the two with ``load_state_dict``. Layers check every argument, allocate every
buffer and pick the kernel for the dtype; the kernels only compute.
"""

import threading
from collections.abc import Mapping

import numpy as np

from tsrnn._check_build import check_build

check_build()

from tsrnn import _kernels, _threads  # noqa: E402
from tsrnn._checks import check_array, check_bool, check_dtype, check_int  # noqa: E402

_gru = _kernels.load("gru")
_lstm = _kernels.load("lstm")
_rnn = _kernels.load("rnn")
_closed_loop = _kernels.load("closed_loop")

__all__ = ["RNN", "GRU", "LSTM", "Linear"]

# the four parameters every unit has, in PyTorch's order
_PARAM_BASES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _load_params(params, expected, mapping, owner):
    """Copy mapping into params in place after checking every name and shape."""
    if not isinstance(mapping, Mapping):
        raise TypeError(f"load_state_dict expects a mapping of names to arrays, "
                        f"got {type(mapping).__name__}")
    unknown = [name for name in mapping if name not in expected]
    missing = [name for name in expected if name not in mapping]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unexpected keys {unknown}")
        if missing:
            parts.append(f"missing keys {missing}")
        raise ValueError(f"state dict does not match {owner}: " + "; ".join(parts))
    converted = {}
    for name, shape in expected.items():
        value = np.asarray(mapping[name])
        if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
        if value.shape != tuple(shape):
            raise ValueError(f"{name} has shape {value.shape}, expected {tuple(shape)}")
        converted[name] = value
    # In place, so that optimisers holding these arrays see the new values.
    for name, value in converted.items():
        params[name][...] = value


def _read_only(array):
    view = array.view()
    view.flags.writeable = False
    return view


def _time_reversed(sequence):
    """A C-contiguous copy of ``sequence`` (T, B, ...) with time reversed.

    The kernels walk t = 0 .. T-1 over C-contiguous buffers, so the reverse direction of a
    bidirectional layer runs them over this copy rather than over a negative-stride view.
    """
    return np.ascontiguousarray(sequence[::-1])


class _Recurrent:
    """Shared machinery of RNN, GRU and LSTM: parameters, state handling, stacking.

    The layer is made of *units*, one per layer and direction, numbered as PyTorch orders the
    state: unit ``u`` is layer ``u // num_directions``, reverse direction when
    ``u % num_directions == 1``. Without ``bidirectional`` unit k is simply layer k.
    """

    gate_count = 1
    has_cell_state = False
    bidirectional = False  # class default: layers pickled before the option existed

    def __init__(self, input_size, hidden_size, num_layers=1, dtype=np.float32,
                 random_state=None, bidirectional=False):
        self.input_size = check_int(input_size, "input_size", minimum=1)
        self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        self.num_layers = check_int(num_layers, "num_layers", minimum=1)
        self.dtype = check_dtype(dtype)
        self.bidirectional = check_bool(bidirectional, "bidirectional")
        self._init_buffers()
        self.reset_parameters(random_state)
        self._cache = None

    # ----------------------------------------------------------------- units
    @property
    def num_directions(self):
        """2 for a bidirectional layer, else 1."""
        return 2 if self.bidirectional else 1

    def _units(self, k):
        """The units of layer k: forward, then (bidirectional) reverse."""
        D = self.num_directions
        return range(k * D, (k + 1) * D)

    def _is_reverse(self, unit):
        return unit % self.num_directions == 1

    def _name(self, base, unit):
        """PyTorch's name of parameter ``base`` of a unit, e.g. ``weight_ih_l1_reverse``."""
        suffix = "_reverse" if self._is_reverse(unit) else ""
        return f"{base}_l{unit // self.num_directions}{suffix}"

    def _in_time_order(self, unit, sequence):
        """A unit's per-step sequence (T, B, ...) in input time order: the reverse direction's
        kernels ran over reversed time, so its sequences are flipped back (a view)."""
        return sequence[::-1] if self._is_reverse(unit) else sequence

    # ----------------------------------------------------------------- parameters
    def _extra_param_shapes(self, unit):
        """Parameters beyond PyTorch's four per unit (peephole weights)."""
        return {}

    def _param_shapes(self):
        """Name -> shape, in PyTorch's state_dict order (per layer: forward, then reverse)."""
        G, H = self.gate_count * self.hidden_size, self.hidden_size
        D = self.num_directions
        shapes = {}
        for unit in range(self.num_layers * D):
            # layers above the first read both directions' outputs
            F = self.input_size if unit < D else D * H
            shapes[self._name("weight_ih", unit)] = (G, F)
            shapes[self._name("weight_hh", unit)] = (G, H)
            shapes[self._name("bias_ih", unit)] = (G,)
            shapes[self._name("bias_hh", unit)] = (G,)
            shapes.update(self._extra_param_shapes(unit))
        return shapes

    def _init_buffers(self):
        shapes = self._param_shapes()
        self.params = {name: np.zeros(shape, self.dtype) for name, shape in shapes.items()}
        self.grads = {name: np.zeros(shape, self.dtype) for name, shape in shapes.items()}

    def reset_parameters(self, random_state=None):
        """Draw every parameter from U(-1/sqrt(H), 1/sqrt(H)), PyTorch's default.

        Parameters
        ----------
        random_state : int, numpy.random.Generator or None
            Seed or generator, for reproducible initialisation.
        """
        rng = np.random.default_rng(random_state)
        bound = 1.0 / np.sqrt(self.hidden_size)
        for value in self.params.values():
            value[...] = rng.uniform(-bound, bound, size=value.shape)

    def state_dict(self):
        """Return a copy of the parameters as a dict, keyed and ordered like PyTorch's.

        Returns
        -------
        dict of str to ndarray
            ``weight_ih_l{k}`` (G*H, F_k), ``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}`` and
            ``bias_hh_l{k}`` (G*H,) for every layer k, plus ``weight_ci_l{k}``,
            ``weight_cf_l{k}``, ``weight_co_l{k}`` (H,) for a peephole LSTM. F_0 is
            ``input_size``, F_k (k > 0) is H, or 2H when bidirectional; a bidirectional layer
            adds the same names with the suffix ``_reverse`` after each layer's own.
        """
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, mapping):
        """Copy parameters from a mapping such as ``torch_module.state_dict()``.

        Every expected name must be present with the expected shape and no other name may be
        present; values may be numpy arrays, torch tensors or anything ``np.asarray`` takes.
        Nothing changes unless every entry is valid.

        Parameters
        ----------
        mapping : Mapping of str to array-like

        Examples
        --------
        >>> import torch  # doctest: +SKIP
        >>> module = torch.nn.LSTM(1, 8, num_layers=2)  # doctest: +SKIP
        >>> layer = LSTM(1, 8, num_layers=2)  # doctest: +SKIP
        >>> layer.load_state_dict(module.state_dict())  # doctest: +SKIP
        """
        _load_params(self.params, self._param_shapes(), mapping, repr(self))

    def zero_grad(self):
        """Set every gradient to zero."""
        for value in self.grads.values():
            value[...] = 0

    def __repr__(self):
        options = dict(self._extra_repr())
        if self.bidirectional:
            options["bidirectional"] = True
        extra = "".join(f", {key}={value!r}" for key, value in options.items())
        return (f"{type(self).__name__}(input_size={self.input_size}, "
                f"hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                f"dtype={self.dtype.name}{extra})")

    def _extra_repr(self):
        return {}

    def __getstate__(self):
        # streamers kept by step() hold buffer addresses: rebuilt on demand, never copied
        state = dict(self.__dict__)
        state.pop("_step_streamers", None)
        return state

    # ----------------------------------------------------------------- state handling
    def check_state(self, state, batch, name="state"):
        """Return (h, c), each (num_directions * num_layers, B, H) with one (B, H) row per
        unit; c is None without a cell state."""
        L, H = self.num_directions * self.num_layers, self.hidden_size
        shape = (L, batch, H)
        if state is None:
            h = np.zeros(shape, self.dtype)
            c = np.zeros(shape, self.dtype) if self.has_cell_state else None
            return h, c
        if self.has_cell_state:
            if not isinstance(state, tuple) or len(state) != 2:
                raise TypeError(f"{name} of an LSTM must be a tuple (h, c) of arrays of shape "
                                f"{shape}, got {type(state).__name__}")
            h = check_array(state[0], f"{name}[0] (h)", shape, self.dtype)
            c = check_array(state[1], f"{name}[1] (c)", shape, self.dtype)
            return h, c
        if isinstance(state, tuple):
            raise TypeError(f"{name} of a {type(self).__name__} is one array of shape {shape}, "
                            f"not a tuple")
        return check_array(state, name, shape, self.dtype), None

    def threads(self, rows):
        """Threads for a pass over ``rows`` sequences (see ``tsrnn._threads.threads_for``)."""
        H = self.hidden_size
        return _threads.threads_for(rows, rows * self.gate_count * H * H)

    def _transpose_scratch(self, weight):
        """Room for weight^T: the kernels write it when it speeds up their per-step products."""
        return np.empty(weight.shape[::-1], self.dtype)

    def pack_state(self, h, c):
        return (h, c) if self.has_cell_state else h

    def _check_input(self, x, ndim):
        shape = (None,) * (ndim - 1) + (self.input_size,)
        label = "x (T, B, F)" if ndim == 3 else "x (B, F)"
        return check_array(x, label, shape, self.dtype)

    def check_params(self):
        """Raise a ValueError unless every parameter and gradient still has its shape, the
        layer's dtype and a C-contiguous layout (a user may have replaced one in ``params``);
        the kernels read them by address."""
        shapes = self._param_shapes()
        for store, what in ((self.params, "params"), (self.grads, "grads")):
            for name, shape in shapes.items():
                value = store.get(name)
                if not (isinstance(value, np.ndarray) and value.shape == tuple(shape)
                        and value.dtype == self.dtype and value.flags.c_contiguous):
                    got = (f"{value.shape} {value.dtype}" if isinstance(value, np.ndarray)
                           else type(value).__name__)
                    raise ValueError(
                        f"{what}[{name!r}] is {got}, expected a C-contiguous {self.dtype} "
                        f"array of shape {tuple(shape)}; assign values in place "
                        f"({what}[{name!r}][...] = value) or use load_state_dict")
        self._check_extra_params()

    def _check_extra_params(self):
        """Cell-specific parameter checks (the LSTM's peephole views)."""

    def _layer(self, unit):
        return tuple(self.params[self._name(base, unit)] for base in _PARAM_BASES)

    def _layer_grads(self, unit):
        return tuple(self.grads[self._name(base, unit)] for base in _PARAM_BASES)

    def forward_layer(self, unit, x, h0, c0, threads):
        """Run one unit's kernel over x (T, B, F_k), C-contiguous, from t = 0 to T-1.

        ``unit`` is a layer index without ``bidirectional``, else layer * 2 + direction;
        the reverse direction's caller passes x reversed in time. h0, c0 (B, H) (c0 None
        without a cell state). Returns the cache for :meth:`backward_layer`, with at least
        ``h_out`` (T, B, H) (LSTM: also ``c_out``).
        """
        raise NotImplementedError

    def backward_layer(self, unit, cache, dout, dh, dc, threads):
        """Back-propagate one unit's :meth:`forward_layer` given dout (T, B, H), C-contiguous
        in the same time order; fill that unit's ``grads``, overwrite dh, dc (B, H) with the
        gradient on its initial state and return dx (T, B, F_k)."""
        raise NotImplementedError

    def _refuse_bidirectional(self, what):
        if self.bidirectional:
            raise ValueError(
                f"{what} advances one time step at a time, which a bidirectional layer cannot "
                f"do: its reverse direction needs the whole sequence first; use forward() "
                f"over the sequence, or a layer with bidirectional=False")

    # ----------------------------------------------------------------- closed-loop buffers
    @property
    def cell_code(self):
        """The cell code the closed-loop kernels use (a value of ``CELL_KINDS``)."""
        return _closed_loop.CELL_KINDS[self._kernel_kind()]

    def _kernel_kind(self):
        raise NotImplementedError

    def closed_loop_buffers(self, T, B, h0, c0, keep_cache, dropout_masks=None):
        """The buffers of every layer for a closed-loop run of T steps of B rows.

        With ``keep_cache`` every one of T steps is kept (for backward); otherwise one step of
        activations and two of states (alternating), so memory does not grow with T.

        Parameters
        ----------
        T, B : int
        h0, c0 : ndarray of shape (num_layers, B, H), c0 None without a cell state
            Copied: later changes by the caller are not seen.
        keep_cache : bool
        dropout_masks : list of ndarray of shape (T, B, H), optional
            Masks on the inputs of layers 1 .. num_layers - 1.

        Returns
        -------
        list of LayerBuffers
        """
        self._refuse_bidirectional("a closed-loop run")
        self.check_params()
        H, dtype = self.hidden_size, self.dtype
        steps_kept, states_kept = (T, T) if keep_cache else (1, 2)
        layers = []
        for k in range(self.num_layers):
            lay = _closed_loop.LayerBuffers()
            lay.w_ih, lay.w_hh, lay.b_ih, lay.b_hh = self._layer(k)
            lay.h0 = np.array(h0[k])
            lay.h = np.empty((states_kept, B, H), dtype)
            lay.x = np.empty((steps_kept, B, lay.w_ih.shape[1]), dtype)
            lay.w_ih_t = self._transpose_scratch(lay.w_ih)
            lay.w_hh_t = self._transpose_scratch(lay.w_hh)
            lay.mask = dropout_masks[k - 1] if (dropout_masks and k > 0) else None
            self._add_cell_buffers(k, lay, steps_kept, states_kept, B, c0)
            layers.append(lay)
        return layers

    def _add_cell_buffers(self, k, lay, steps_kept, states_kept, B, c0):
        """Cell-specific buffers (gates cache, cell state, scratch)."""

    def add_gradient_buffers(self, layers, T, B, dh, dc):
        """Add to ``layers`` (from :meth:`closed_loop_buffers` with ``keep_cache``) what a
        closed-loop backward pass writes: gate gradients, scratch, and this layer's ``grads``.

        ``dh``, ``dc`` (num_layers, B, H): gradients on the final state, overwritten by the
        kernels with those on the initial state.
        """
        G = self.gate_count * self.hidden_size
        for k, lay in enumerate(layers):
            lay.dgx = np.empty((T, B, G), self.dtype)
            lay.dgh = lay.dgx
            lay.dh = dh[k]
            lay.dinput = np.empty((B, lay.w_ih.shape[1]), self.dtype)
            lay.dw_ih, lay.dw_hh, lay.db_ih, lay.db_hh = self._layer_grads(k)
            self._add_cell_gradient_buffers(k, lay, T, B, dc)

    def _add_cell_gradient_buffers(self, k, lay, T, B, dc):
        """Cell-specific gradient buffers."""

    def streamer(self, state=None, batch=1):
        """A Streamer that advances this stack one step per call, for streaming data.

        Much cheaper per step than :meth:`step`: the weights, state buffers and scratch are
        prepared once. The streamer reads the weights in place, so later training is seen.

        Parameters
        ----------
        state : initial state, as in :meth:`forward` (None = zeros)
        batch : int, default 1
            Rows B advanced together.

        Returns
        -------
        Streamer
            ``streamer.step(x)`` takes x of shape (B, F) (a float when B = F = 1) and returns
            the last layer's new state (B, H); ``streamer.state`` is the full state.

        Raises
        ------
        ValueError
            For a bidirectional layer, whose reverse direction needs the whole sequence.

        Examples
        --------
        >>> import numpy as np
        >>> from tsrnn.nn import GRU
        >>> stream = GRU(1, 8, random_state=0).streamer()
        >>> for value in (0.1, 0.2, 0.3):
        ...     h = stream.step(value)
        >>> h.shape
        (1, 8)
        """
        self._refuse_bidirectional("a streamer")
        batch = check_int(batch, "batch", minimum=1)
        h0, c0 = self.check_state(state, batch)
        buffers = self.closed_loop_buffers(1, batch, h0, c0, keep_cache=False)
        return _closed_loop.Streamer(self.cell_code, buffers)

    # ----------------------------------------------------------------- public passes
    def forward(self, x, state=None):
        """Run the stacked layers over a sequence and remember what backward needs.

        Parameters
        ----------
        x : ndarray of shape (T, B, F)
            Time-major input of the layer's dtype.
        state : ndarray of shape (D * num_layers, B, H), tuple of two for LSTM, or None
            Initial hidden state (LSTM: ``(h, c)``); None means zeros. D is
            :attr:`num_directions`; rows are ordered as in PyTorch: layer 0 forward, layer 0
            reverse, layer 1 forward, ...

        Returns
        -------
        out : ndarray of shape (T, B, D * H)
            Hidden states of the last layer at every step (read-only); when bidirectional,
            the forward direction's in the first H features, the reverse direction's (which
            has seen x[t:] at step t) in the last H.
        state : ndarray of shape (D * num_layers, B, H), or tuple (h, c) for LSTM
            Final state of every unit, ordered as ``state``; the reverse direction's is the
            one after it reached t = 0.
        """
        # Copies: backward must not see later in-place changes to the caller's arrays.
        self.check_params()
        x = self._check_input(x, 3).copy()
        h0, c0 = self.check_state(state, x.shape[1])
        h0, c0 = h0.copy(), (c0.copy() if c0 is not None else None)
        caches, h_n = [], np.empty_like(h0)
        c_n = np.empty_like(c0) if c0 is not None else None
        inputs = x
        threads = self.threads(x.shape[1])
        with _threads.blas_for(threads):
            for k in range(self.num_layers):
                outputs = []
                for unit in self._units(k):
                    cache = self._forward_unit(unit, inputs, h0, c0, threads)
                    caches.append(cache)
                    h_n[unit] = cache["h_out"][-1]
                    if c_n is not None:
                        c_n[unit] = cache["c_out"][-1]
                    outputs.append(self._in_time_order(unit, cache["h_out"]))
                inputs = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=2)
        self._cache = {"caches": caches, "shape": x.shape}
        return _read_only(inputs), self.pack_state(h_n, c_n)

    def _forward_unit(self, unit, inputs, h0, c0, threads):
        """:meth:`forward_layer` of one unit over ``inputs`` (T, B, F_k) in input time order."""
        if self._is_reverse(unit):
            inputs = _time_reversed(inputs)
        return self.forward_layer(unit, inputs, h0[unit], None if c0 is None else c0[unit],
                                  threads)

    def backward(self, dout, dstate=None):
        """Back-propagate the last ``forward`` and fill ``grads``.

        Parameters
        ----------
        dout : ndarray of shape (T, B, D * H)
            Gradient of the loss with respect to ``out``.
        dstate : same structure as the returned state, or None
            Gradient with respect to the final state; None means zero.

        Returns
        -------
        dx : ndarray of shape (T, B, F)
            Gradient with respect to ``x``.
        dstate0 : same structure as ``state``
            Gradient with respect to the initial state.
        """
        if self._cache is None:
            raise ValueError("backward needs a forward pass first")
        self.check_params()
        T, B, _ = self._cache["shape"]
        D = self.num_directions
        label = "dout (T, B, 2H)" if self.bidirectional else "dout (T, B, H)"
        dout = check_array(dout, label, (T, B, D * self.hidden_size), self.dtype)
        dh, dc = self.check_state(dstate, B, name="dstate")
        dh = dh.copy()  # the kernels overwrite them with the gradient on the initial state
        dc = dc.copy() if dc is not None else None
        upstream = dout
        threads = self.threads(B)
        with _threads.blas_for(threads):
            for k in range(self.num_layers - 1, -1, -1):
                # every unit of layer k read the same input: their input gradients add up
                dx = None
                for unit in self._units(k):
                    part = self._backward_unit(unit, upstream, dh, dc, threads)
                    dx = part if dx is None else dx + part
                upstream = dx
        return upstream, self.pack_state(dh, dc)

    def _backward_unit(self, unit, dout, dh, dc, threads):
        """:meth:`backward_layer` of one unit: its H features of ``dout`` (T, B, D * H) in,
        the gradient on its input (T, B, F_k) out, both in input time order."""
        if self.bidirectional:
            H = self.hidden_size
            features = slice(H, 2 * H) if self._is_reverse(unit) else slice(0, H)
            # the kernels take C-contiguous gradients in the unit's own time order
            dout = np.ascontiguousarray(self._in_time_order(unit, dout[:, :, features]))
        dx = self.backward_layer(unit, self._cache["caches"][unit], dout, dh[unit],
                                 None if dc is None else dc[unit], threads)
        return self._in_time_order(unit, dx)

    def step(self, x, state=None):
        """Advance the stacked layers by one time step (streaming), without caching.

        One step of a fresh :meth:`streamer`; to advance many steps, keep a streamer instead.

        Parameters
        ----------
        x : ndarray of shape (B, F)
        state : as in ``forward``

        Returns
        -------
        out : ndarray of shape (B, H)
            New hidden state of the last layer.
        state : the new state of every layer, as in ``forward``

        Raises
        ------
        ValueError
            For a bidirectional layer, whose reverse direction needs the whole sequence.
        """
        self._refuse_bidirectional("step()")
        x = self._check_input(x, 2)
        h, c = self.check_state(state, x.shape[0])
        stream = self._step_streamer(x.shape[0])
        stream.reset(h, c)
        out = stream.step(x).copy()
        return out, stream.state

    def _step_streamer(self, batch):
        """A streamer kept for :meth:`step`, per thread and batch size; made anew when a
        parameter array was replaced (it reads the weights by address)."""
        self.check_params()
        key = (threading.get_ident(), batch, tuple(id(v) for v in self.params.values()))
        streamers = self.__dict__.setdefault("_step_streamers", {})
        stream = streamers.get(key)
        if stream is None:
            if len(streamers) >= 64:
                streamers.clear()
            stream = streamers[key] = self.streamer(batch=batch)
        return stream

class RNN(_Recurrent):
    """Stacked Elman RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh), act tanh or relu.

    Parameters
    ----------
    input_size : int
        Features F of the input.
    hidden_size : int
        Hidden units H per layer.
    num_layers : int, default 1
        Stacked layers; each feeds its output sequence to the next.
    nonlinearity : {"tanh", "relu"}, default "tanh"
    dtype : {numpy.float32, numpy.float64}, default float32
    random_state : int, Generator or None
        Seed for the U(-1/sqrt(H), 1/sqrt(H)) initialisation.
    bidirectional : bool, default False
        As in PyTorch: every layer also runs over the sequence reversed in time, with its own
        parameters (names ending in ``_reverse``); outputs are (T, B, 2H), the forward
        direction's features first, layers above the first read 2H features and the state
        has 2 * num_layers rows. Such a layer has no :meth:`step` or :meth:`streamer`.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.nn import RNN
    >>> layer = RNN(input_size=2, hidden_size=4, random_state=0)
    >>> out, h = layer.forward(np.ones((5, 3, 2), np.float32))
    >>> out.shape, h.shape
    ((5, 3, 4), (1, 3, 4))
    >>> both = RNN(2, 4, num_layers=2, random_state=0, bidirectional=True)
    >>> out, h = both.forward(np.ones((5, 3, 2), np.float32))
    >>> out.shape, h.shape
    ((5, 3, 8), (4, 3, 4))
    """

    gate_count = 1

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh",
                 dtype=np.float32, random_state=None, bidirectional=False):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, dtype, random_state,
                         bidirectional)

    def _extra_repr(self):
        return {"nonlinearity": self.nonlinearity}

    def _kernel_kind(self):
        return f"rnn_{self.nonlinearity}"

    def forward_layer(self, unit, x, h0, c0, threads):
        w_ih, w_hh, b_ih, b_hh = self._layer(unit)
        T, B, _ = x.shape
        h_out = np.empty((T, B, self.hidden_size), self.dtype)
        _rnn.rnn_forward(x, w_ih, w_hh, b_ih, b_hh, self.nonlinearity == "relu", h0, h_out,
                         self._transpose_scratch(w_hh), threads)
        return {"x": x, "h0": h0, "h_out": h_out}

    def backward_layer(self, unit, cache, dout, dh, dc, threads):
        x = cache["x"]
        w_ih, w_hh, _, _ = self._layer(unit)
        dw_ih, dw_hh, db_ih, db_hh = self._layer_grads(unit)
        dgates = np.empty(cache["h_out"].shape, self.dtype)
        dx = np.empty_like(x)
        _rnn.rnn_backward(x, w_ih, w_hh, self.nonlinearity == "relu", cache["h0"],
                          cache["h_out"], dout, dh, dgates, dx, dw_ih, dw_hh, db_ih, db_hh,
                          threads)
        return dx


class GRU(_Recurrent):
    """Stacked GRU with PyTorch's gate equations (rows r, z, n).

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z likewise,
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
    With ``reset_after=False`` the reset gate acts before the product, as in Cho et al.
    (2014): n = tanh(W_in x + b_in + W_hn (r * h) + b_hn).

    Parameters
    ----------
    input_size, hidden_size, num_layers, dtype, random_state, bidirectional
        As for :class:`RNN`.
    reset_after : bool, default True
        PyTorch/cuDNN variant (True) or the original one (False).

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.nn import GRU
    >>> layer = GRU(1, 8, num_layers=2, dtype=np.float64, random_state=0)
    >>> out, h = layer.forward(np.zeros((10, 4, 1)))
    >>> dx, dh0 = layer.backward(np.ones_like(out))
    >>> dx.shape, dh0.shape
    ((10, 4, 1), (2, 4, 8))
    """

    gate_count = 3

    def __init__(self, input_size, hidden_size, num_layers=1, reset_after=True,
                 dtype=np.float32, random_state=None, bidirectional=False):
        self.reset_after = bool(reset_after)
        super().__init__(input_size, hidden_size, num_layers, dtype, random_state,
                         bidirectional)

    def _extra_repr(self):
        return {} if self.reset_after else {"reset_after": False}

    def _kernel_kind(self):
        return "gru" if self.reset_after else "gru_reset_before"

    def _add_cell_buffers(self, k, lay, steps_kept, states_kept, B, c0):
        H = self.hidden_size
        lay.gates = np.empty((steps_kept, B, 4 * H), self.dtype)
        lay.hproj = np.empty((B, 3 * H), self.dtype)

    def _add_cell_gradient_buffers(self, k, lay, T, B, dc):
        # input- and hidden-side gate gradients differ in a GRU (the reset gate)
        lay.dgh = np.empty_like(lay.dgx)
        lay.drh = np.empty((B, self.hidden_size), self.dtype)

    def forward_layer(self, unit, x, h0, c0, threads):
        w_ih, w_hh, b_ih, b_hh = self._layer(unit)
        T, B, _ = x.shape
        H = self.hidden_size
        h_out = np.empty((T, B, H), self.dtype)
        gates = np.empty((T, B, 4 * H), self.dtype)
        hproj = np.empty((B, 3 * H), self.dtype)
        _gru.gru_forward(x, w_ih, w_hh, b_ih, b_hh, self.reset_after, h0, h_out, gates, hproj,
                         self._transpose_scratch(w_hh), threads)
        return {"x": x, "h0": h0, "h_out": h_out, "gates": gates}

    def backward_layer(self, unit, cache, dout, dh, dc, threads):
        x = cache["x"]
        T, B, _ = x.shape
        H = self.hidden_size
        w_ih, w_hh, _, _ = self._layer(unit)
        dw_ih, dw_hh, db_ih, db_hh = self._layer_grads(unit)
        dgx = np.empty((T, B, 3 * H), self.dtype)
        dgh = np.empty((T, B, 3 * H), self.dtype)
        drh = np.empty((B, H), self.dtype)
        dx = np.empty_like(x)
        _gru.gru_backward(x, w_ih, w_hh, self.reset_after, cache["h0"], cache["h_out"],
                          cache["gates"], dout, dh, dgx, dgh, drh, dx, dw_ih, dw_hh, db_ih,
                          db_hh, threads)
        return dx


class LSTM(_Recurrent):
    """Stacked LSTM with PyTorch's gate equations (rows i, f, g, o), optionally with peepholes.

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi), f and o likewise, g = tanh(...),
    c' = f * c + i * g, h' = o * tanh(c'). With ``peephole=True``, i and f also see the
    previous cell through diagonal weights ``weight_ci``, ``weight_cf`` and o sees the new
    cell through ``weight_co`` (Gers and Schmidhuber, 2000).

    Parameters
    ----------
    input_size, hidden_size, num_layers, dtype, random_state, bidirectional
        As for :class:`RNN`.
    peephole : bool, default False
        Add the peephole weights ``weight_ci_l{k}``, ``weight_cf_l{k}``, ``weight_co_l{k}``
        (each of shape (H,)) to every layer.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.nn import LSTM
    >>> layer = LSTM(1, 16, random_state=0)
    >>> out, (h, c) = layer.forward(np.zeros((20, 2, 1), np.float32))
    >>> out.shape, h.shape, c.shape
    ((20, 2, 16), (1, 2, 16), (1, 2, 16))
    """

    gate_count = 4
    has_cell_state = True

    def __init__(self, input_size, hidden_size, num_layers=1, peephole=False,
                 dtype=np.float32, random_state=None, bidirectional=False):
        self.peephole = bool(peephole)
        super().__init__(input_size, hidden_size, num_layers, dtype, random_state,
                         bidirectional)

    def _extra_repr(self):
        return {"peephole": True} if self.peephole else {}

    def _kernel_kind(self):
        return "lstm_peephole" if self.peephole else "lstm"

    def _add_cell_buffers(self, k, lay, steps_kept, states_kept, B, c0):
        H = self.hidden_size
        lay.gates = np.empty((steps_kept, B, 4 * H), self.dtype)
        lay.peep = self._peep[k]
        lay.c0 = np.array(c0[k])
        lay.c = np.empty((states_kept, B, H), self.dtype)

    def _add_cell_gradient_buffers(self, k, lay, T, B, dc):
        lay.dc = dc[k]
        lay.dpeep = self._dpeep[k]

    def _check_extra_params(self):
        # the kernels read the peephole weights from one (3, H) block per layer; params and
        # grads must still be views of its rows
        if not self.peephole:
            return
        for unit in range(len(self._peep)):
            for row, gate in enumerate("ifo"):
                name = self._name(f"weight_c{gate}", unit)
                for store, block, what in ((self.params, self._peep, "params"),
                                           (self.grads, self._dpeep, "grads")):
                    if not np.shares_memory(store[name], block[unit][row]):
                        raise ValueError(
                            f"{what}[{name!r}] was replaced by another array; assign values "
                            f"in place ({what}[{name!r}][...] = value) or use load_state_dict")

    def _init_buffers(self):
        # Peephole weights live in one (3, H) block per unit, which the kernels read directly;
        # params/grads expose its rows under PyTorch-style names.
        super()._init_buffers()
        H = self.hidden_size
        units = self.num_directions * self.num_layers
        self._peep = [np.zeros((3, H), self.dtype) for _ in range(units)]
        self._dpeep = [np.zeros((3, H), self.dtype) for _ in range(units)]
        if self.peephole:
            for unit in range(units):
                for row, gate in enumerate("ifo"):
                    self.params[self._name(f"weight_c{gate}", unit)] = self._peep[unit][row]
                    self.grads[self._name(f"weight_c{gate}", unit)] = self._dpeep[unit][row]

    def _extra_param_shapes(self, unit):
        if not self.peephole:
            return {}
        H = self.hidden_size
        return {self._name(f"weight_c{gate}", unit): (H,) for gate in "ifo"}

    def forward_layer(self, unit, x, h0, c0, threads):
        w_ih, w_hh, b_ih, b_hh = self._layer(unit)
        T, B, _ = x.shape
        H = self.hidden_size
        h_out = np.empty((T, B, H), self.dtype)
        c_out = np.empty((T, B, H), self.dtype)
        gates = np.empty((T, B, 4 * H), self.dtype)
        _lstm.lstm_forward(x, w_ih, w_hh, b_ih, b_hh, self._peep[unit], h0, c0, h_out, c_out,
                           gates, self._transpose_scratch(w_hh), threads)
        return {"x": x, "h0": h0, "c0": c0, "h_out": h_out, "c_out": c_out, "gates": gates}

    def backward_layer(self, unit, cache, dout, dh, dc, threads):
        x = cache["x"]
        w_ih, w_hh, _, _ = self._layer(unit)
        dw_ih, dw_hh, db_ih, db_hh = self._layer_grads(unit)
        dgates = np.empty(cache["gates"].shape, self.dtype)
        dx = np.empty_like(x)
        _lstm.lstm_backward(x, w_ih, w_hh, self._peep[unit], self.peephole, cache["h0"],
                            cache["c0"], cache["h_out"], cache["c_out"], cache["gates"], dout,
                            dh, dc, dgates, dx, dw_ih, dw_hh, db_ih, db_hh, self._dpeep[unit],
                            threads)
        return dx


class Linear:
    """Affine map y = x W^T + b, PyTorch's ``nn.Linear`` (parameters ``weight``, ``bias``).

    Parameters
    ----------
    in_features, out_features : int
    dtype : {numpy.float32, numpy.float64}, default float32
    random_state : int, Generator or None
        Seed for the U(-1/sqrt(in), 1/sqrt(in)) initialisation.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.nn import Linear
    >>> head = Linear(4, 1, random_state=0)
    >>> head.forward(np.ones((3, 4), np.float32)).shape
    (3, 1)
    """

    def __init__(self, in_features, out_features, dtype=np.float32, random_state=None):
        self.in_features = check_int(in_features, "in_features", minimum=1)
        self.out_features = check_int(out_features, "out_features", minimum=1)
        self.dtype = check_dtype(dtype)
        shapes = {"weight": (self.out_features, self.in_features), "bias": (self.out_features,)}
        self.params = {name: np.zeros(shape, self.dtype) for name, shape in shapes.items()}
        self.grads = {name: np.zeros(shape, self.dtype) for name, shape in shapes.items()}
        self.reset_parameters(random_state)
        self._x = None

    def reset_parameters(self, random_state=None):
        """Draw weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features))."""
        rng = np.random.default_rng(random_state)
        bound = 1.0 / np.sqrt(self.in_features)
        for value in self.params.values():
            value[...] = rng.uniform(-bound, bound, size=value.shape)

    def state_dict(self):
        """Return a copy of ``weight`` (out, in) and ``bias`` (out,)."""
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, mapping):
        """Copy ``weight`` and ``bias`` from a mapping, checking names and shapes first."""
        _load_params(self.params, self._param_shapes(), mapping, repr(self))

    def _param_shapes(self):
        return {"weight": (self.out_features, self.in_features), "bias": (self.out_features,)}

    def check_params(self):
        """Raise a ValueError unless ``weight`` and ``bias`` (and their gradients) still have
        their shapes, the layer's dtype and a C-contiguous layout."""
        for store, what in ((self.params, "params"), (self.grads, "grads")):
            for name, shape in self._param_shapes().items():
                value = store.get(name)
                if not (isinstance(value, np.ndarray) and value.shape == shape
                        and value.dtype == self.dtype and value.flags.c_contiguous):
                    raise ValueError(f"{what}[{name!r}] must be a C-contiguous {self.dtype} "
                                     f"array of shape {shape}; assign values in place")

    def forward(self, x):
        """Return x W^T + b for x of shape (N, in_features)."""
        x = check_array(x, "x (N, in_features)", (None, self.in_features), self.dtype)
        self._x = x
        return x @ self.params["weight"].T + self.params["bias"]

    def backward(self, dy):
        """Fill ``grads`` from dy (N, out_features) and return dx (N, in_features)."""
        if self._x is None:
            raise ValueError("backward needs a forward pass first")
        dy = check_array(dy, "dy (N, out_features)", (self._x.shape[0], self.out_features),
                          self.dtype)
        self.grads["weight"][...] = dy.T @ self._x
        self.grads["bias"][...] = dy.sum(axis=0)
        return dy @ self.params["weight"]

    def __repr__(self):
        return (f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
                f"dtype={self.dtype.name})")
