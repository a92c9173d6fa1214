# cython: language_level=3
"""A stack of recurrent layers and a linear head run step by step, predictions fed back.

This is the forecasting network in motion. At step t the input to the first layer is
    u_t = [target part (D), exogenous part (E)]
where the target part is the true value y_t (teacher forcing) or the network's own prediction
of it, chosen per step and row by ``teacher[t, b]``. The head turns the top layer's state into
    pred[t] = h^{L-1}_t W_out^T + b_out,     the prediction of y_{t+1}.
Because u_{t+1} may be pred[t], layers cannot be run one after another over the whole sequence:
every step advances every layer. The same loop serves
  - autoregressive generation: teacher forcing over known history, then feeding back;
  - streaming updates: teacher forcing only;
  - scheduled-sampling training, with ``closed_loop_backward`` back-propagating through the
    fed-back predictions (the gradient of pred[t-1] receives that of u_t where it was used).

Per-layer buffers arrive as :class:`LayerBuffers` (allocated by the layer classes of
``tsrnn.nn.layers``); every entry point checks them (:func:`check_buffers`) and reads their
addresses once, then the loop runs without the GIL.
With ``keep_cache`` false (inference) only one step of activations and two of states are kept,
so memory does not grow with the length of the stream. Rows are independent (feedback is per
row), so ``threads`` OpenMP threads each run every step for their own slice of the batch.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport free, malloc

from tsrnn._kernels._blas cimport (add_to, copy_to, fill_rows, fill_rows_sum, recurrent_product,
                                   step_gemm, transposed_if_it_pays)
from tsrnn._kernels._gru_cell cimport gru_cell_backward, gru_cell_forward, gru_weight_gradients
from tsrnn._kernels._lstm_cell cimport (lstm_cell_backward, lstm_cell_forward,
                                        lstm_weight_gradients)
from tsrnn._kernels._parallel cimport column_sums_split, gemm_rows_split, part_start
from tsrnn._kernels._rnn_cell cimport rnn_cell_backward, rnn_cell_forward, rnn_weight_gradients

cdef enum:
    RNN_TANH = 0
    RNN_RELU = 1
    GRU_RESET_AFTER = 2
    GRU_RESET_BEFORE = 3
    LSTM_PLAIN = 4
    LSTM_PEEPHOLE = 5

#: Cell codes understood by the kernels in this module.
CELL_KINDS = {
    "rnn_tanh": RNN_TANH, "rnn_relu": RNN_RELU,
    "gru": GRU_RESET_AFTER, "gru_reset_before": GRU_RESET_BEFORE,
    "lstm": LSTM_PLAIN, "lstm_peephole": LSTM_PEEPHOLE,
}


cdef struct Layer:
    # Addresses of one layer's arrays; each is a floating* of the call's dtype, or NULL.
    Py_ssize_t F          # input features of this layer
    void* w_ih            # (G, F)
    void* w_hh            # (G, H)
    void* b_ih            # (G,)
    void* b_hh            # (G,)
    void* peep            # (3, H), LSTM only: peephole weights, zeros without peepholes
    void* w_ih_t          # (F, G) scratch for W_ih^T and (H, G) for W_hh^T: filled by the
    void* w_hh_t          # forward pass when each thread has enough rows to use them, else NULL
    void* h0              # (B, H) initial state
    void* c0              # (B, H) initial cell, LSTM only
    void* h               # (Ts, B, H) states; Ts = T with the cache, else 2 (alternating)
    void* c               # (Ts, B, H) cells, LSTM only
    void* gates           # (Tc, B, 4H) activations, GRU and LSTM; Tc = T or 1
    void* x               # (Tc, B, F) this layer's input
    void* mask            # (Tc, B, H) dropout mask on this layer's input (layers > 0), or NULL
    void* hproj           # (B, 3H) scratch, GRU only
    # backward only
    void* dgx             # (T, B, G) input-side pre-activation gradients
    void* dgh             # (T, B, G) hidden-side ones (GRU; the same array as dgx otherwise)
    void* dh              # (B, H) in: gradient on the final state; out: on the initial state
    void* dc              # (B, H) same for the cell, LSTM only
    void* drh             # (B, H) scratch, GRU only
    void* dinput          # (B, F) scratch: gradient on this layer's input at one step
    void* dw_ih
    void* dw_hh
    void* db_ih
    void* db_hh
    void* dpeep


cdef class LayerBuffers:
    """The arrays of one layer that the closed-loop kernels read and write.

    One field per field of the C struct ``Layer`` (shapes there): a misspelt name is an
    AttributeError, never a silently missing buffer. The layer class that knows its cell
    fills it (``closed_loop_buffers`` and ``add_gradient_buffers`` in ``tsrnn.nn.layers``);
    :func:`check_buffers` checks every field against the call before any kernel reads it.
    Fields a cell does not use stay None.
    """

    cdef public object w_ih, w_hh, b_ih, b_hh, peep, w_ih_t, w_hh_t
    cdef public object h0, c0, h, c, gates, x, mask, hproj
    cdef public object dgx, dgh, dh, dc, drh, dinput, dw_ih, dw_hh, db_ih, db_hh, dpeep


cdef void* _address(object array, floating* kind) except? NULL:
    """Address of a C-contiguous array of dtype ``floating``, or NULL for None."""
    cdef const floating[::1] flat
    if array is None:
        return NULL
    flat = array.reshape(-1)
    return <void*> &flat[0]


cdef Layer* _layer_table(list layers, bint backward, floating* kind) except NULL:
    """Read every layer's buffers into a malloc'ed table (freed by the caller)."""
    cdef Py_ssize_t k, L = len(layers)
    cdef LayerBuffers d
    cdef Layer* table = <Layer*> malloc(L * sizeof(Layer))
    if table == NULL:
        raise MemoryError()
    try:
        for k in range(L):
            d = layers[k]
            table[k].F = d.w_ih.shape[1]
            table[k].w_ih = _address(d.w_ih, kind)
            table[k].w_hh = _address(d.w_hh, kind)
            table[k].b_ih = _address(d.b_ih, kind)
            table[k].b_hh = _address(d.b_hh, kind)
            table[k].peep = _address(d.peep, kind)
            table[k].w_ih_t = _address(d.w_ih_t, kind)
            table[k].w_hh_t = _address(d.w_hh_t, kind)
            table[k].h0 = _address(d.h0, kind)
            table[k].c0 = _address(d.c0, kind)
            table[k].h = _address(d.h, kind)
            table[k].c = _address(d.c, kind)
            table[k].gates = _address(d.gates, kind)
            table[k].x = _address(d.x, kind)
            table[k].mask = _address(d.mask, kind)
            table[k].hproj = _address(d.hproj, kind)
            if backward:
                table[k].dgx = _address(d.dgx, kind)
                table[k].dgh = _address(d.dgh, kind)
                table[k].dh = _address(d.dh, kind)
                table[k].dc = _address(d.dc, kind)
                table[k].drh = _address(d.drh, kind)
                table[k].dinput = _address(d.dinput, kind)
                table[k].dw_ih = _address(d.dw_ih, kind)
                table[k].dw_hh = _address(d.dw_hh, kind)
                table[k].db_ih = _address(d.db_ih, kind)
                table[k].db_hh = _address(d.db_hh, kind)
                table[k].dpeep = _address(d.dpeep, kind)
    except BaseException:
        free(table)
        raise
    return table


cdef object _expect(object array, str name, tuple shape, object dtype, bint required):
    """Raise a ValueError unless ``array`` is a C-contiguous ``dtype`` array of ``shape``."""
    if array is None:
        if required:
            raise ValueError(f"buffer {name} is missing: expected an array of shape {shape}")
        return
    if not isinstance(array, np.ndarray) or array.dtype != dtype \
            or not array.flags.c_contiguous or array.shape != shape:
        got = (f"{array.shape} {array.dtype}{'' if array.flags.c_contiguous else ' strided'}"
               if isinstance(array, np.ndarray) else type(array).__name__)
        raise ValueError(f"buffer {name}: got {got}, expected a C-contiguous {dtype} array of "
                         f"shape {shape}")


def check_buffers(int cell, list layers, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H,
                  bint keep_cache, bint backward, object dtype, Py_ssize_t F0=-1):
    """Check every layer's buffers for a run of T steps of B rows of H units, before any
    kernel reads them.

    Shapes are those of the ``Layer`` struct; ``F0`` is the first layer's input width (-1:
    not checked). Raises ValueError naming the first wrong buffer.
    """
    cdef Py_ssize_t k, F, G, Ts = T if keep_cache else 2, Tc = T if keep_cache else 1
    cdef bint gru = cell == GRU_RESET_AFTER or cell == GRU_RESET_BEFORE
    cdef bint lstm = cell == LSTM_PLAIN or cell == LSTM_PEEPHOLE
    cdef LayerBuffers d
    if not layers:
        raise ValueError("no layers")
    for k in range(len(layers)):
        d = layers[k]
        if not isinstance(d.w_hh, np.ndarray) or d.w_hh.ndim != 2 \
                or not isinstance(d.w_ih, np.ndarray) or d.w_ih.ndim != 2:
            raise ValueError(f"layer {k}: w_ih and w_hh must be 2-D arrays")
        F, G = d.w_ih.shape[1], _gate_rows(cell, H)
        if d.w_hh.shape[1] != H:
            raise ValueError(f"layer {k}: w_hh has {d.w_hh.shape[1]} columns, expected the "
                             f"{H} units of every layer")
        if k == 0 and F0 >= 0 and F != F0:
            raise ValueError(f"layer 0: w_ih has {F} input columns, expected {F0}")
        if k > 0 and F != H:
            raise ValueError(f"layer {k}: w_ih has {F} input columns, expected the {H} units "
                             f"of layer {k - 1}")
        shapes = {"w_ih": (G, F), "w_hh": (G, H), "b_ih": (G,), "b_hh": (G,), "h0": (B, H),
                  "h": (Ts, B, H), "x": (Tc, B, F)}
        for name, shape in shapes.items():
            _expect(getattr(d, name), f"{name} of layer {k}", shape, dtype, True)
        _expect(d.w_ih_t, f"w_ih_t of layer {k}", (F, G), dtype, False)
        _expect(d.w_hh_t, f"w_hh_t of layer {k}", (H, G), dtype, False)
        _expect(d.mask, f"mask of layer {k}", (Tc, B, H), dtype, False)
        _expect(d.gates, f"gates of layer {k}", (Tc, B, 4 * H), dtype, gru or lstm)
        _expect(d.hproj, f"hproj of layer {k}", (B, 3 * H), dtype, gru)
        _expect(d.peep, f"peep of layer {k}", (3, H), dtype, lstm)
        _expect(d.c0, f"c0 of layer {k}", (B, H), dtype, lstm)
        _expect(d.c, f"c of layer {k}", (Ts, B, H), dtype, lstm)
        if backward:
            _check_gradient_buffers(d, k, T, B, H, F, G, dtype, gru, lstm)


cdef _check_gradient_buffers(LayerBuffers d, Py_ssize_t k, Py_ssize_t T, Py_ssize_t B,
                             Py_ssize_t H, Py_ssize_t F, Py_ssize_t G, object dtype, bint gru,
                             bint lstm):
    shapes = {"dgx": (T, B, G), "dgh": (T, B, G), "dh": (B, H), "dinput": (B, F),
              "dw_ih": (G, F), "dw_hh": (G, H), "db_ih": (G,), "db_hh": (G,)}
    for name, shape in shapes.items():
        _expect(getattr(d, name), f"{name} of layer {k}", shape, dtype, True)
    _expect(d.dc, f"dc of layer {k}", (B, H), dtype, lstm)
    _expect(d.drh, f"drh of layer {k}", (B, H), dtype, gru)
    _expect(d.dpeep, f"dpeep of layer {k}", (3, H), dtype, lstm)


cdef inline Py_ssize_t _gate_rows(int cell, Py_ssize_t H) noexcept nogil:
    if cell == RNN_TANH or cell == RNN_RELU:
        return H
    if cell == GRU_RESET_AFTER or cell == GRU_RESET_BEFORE:
        return 3 * H
    return 4 * H


cdef void _layer_step(int cell, Layer* lay, Py_ssize_t B, Py_ssize_t b0, Py_ssize_t nb,
                      Py_ssize_t H, Py_ssize_t t, Py_ssize_t slot_x, Py_ssize_t slot_h,
                      Py_ssize_t slot_prev, floating* kind) noexcept nogil:
    """Advance rows b0 .. b0 + nb of one layer by one step: project the input, then recur."""
    cdef Py_ssize_t F = lay.F, G = _gate_rows(cell, H), W = 4 * H
    cdef const floating* x = <floating*> lay.x + slot_x * B * F + b0 * F
    cdef floating* h = <floating*> lay.h + slot_h * B * H + b0 * H
    cdef const floating* h_prev
    cdef const floating* c_prev = NULL
    cdef floating* c = NULL
    cdef floating* gates
    if t == 0:
        h_prev = <floating*> lay.h0 + b0 * H
    else:
        h_prev = <floating*> lay.h + slot_prev * B * H + b0 * H
    if cell == RNN_TANH or cell == RNN_RELU:
        # the new state is its own cache: h = act(x W_ih^T + b_ih + b_hh + h_prev W_hh^T)
        fill_rows_sum(nb, H, <floating*> lay.b_ih, <floating*> lay.b_hh, h, H)
        recurrent_product(<int> nb, <int> H, <int> F, x, <int> F, <floating*> lay.w_ih,
                          <int> F, <floating*> lay.w_ih_t, <int> H, 1, h, <int> H)
        rnn_cell_forward(nb, H, h, h_prev, <floating*> lay.w_hh, <floating*> lay.w_hh_t,
                         cell == RNN_RELU)
        return
    gates = <floating*> lay.gates + slot_x * B * W + b0 * W
    if cell == GRU_RESET_AFTER or cell == GRU_RESET_BEFORE:
        fill_rows(nb, G, <floating*> lay.b_ih, gates, W)
        recurrent_product(<int> nb, <int> G, <int> F, x, <int> F, <floating*> lay.w_ih,
                          <int> F, <floating*> lay.w_ih_t, <int> G, 1, gates, <int> W)
        gru_cell_forward(nb, H, gates, h_prev, <floating*> lay.w_hh, <floating*> lay.w_hh_t,
                         <floating*> lay.b_hh, cell == GRU_RESET_AFTER,
                         <floating*> lay.hproj + b0 * 3 * H, h)
        return
    c = <floating*> lay.c + slot_h * B * H + b0 * H
    if t == 0:
        c_prev = <floating*> lay.c0 + b0 * H
    else:
        c_prev = <floating*> lay.c + slot_prev * B * H + b0 * H
    fill_rows_sum(nb, G, <floating*> lay.b_ih, <floating*> lay.b_hh, gates, W)
    recurrent_product(<int> nb, <int> G, <int> F, x, <int> F, <floating*> lay.w_ih, <int> F,
                      <floating*> lay.w_ih_t, <int> G, 1, gates, <int> W)
    lstm_cell_forward(nb, H, gates, h_prev, c_prev, <floating*> lay.w_hh,
                      <floating*> lay.w_hh_t, <floating*> lay.peep, h, c)


cdef void _forward_rows(int cell, Layer* table, Py_ssize_t L, Py_ssize_t T, Py_ssize_t B,
                        Py_ssize_t b0, Py_ssize_t nb, Py_ssize_t D, Py_ssize_t E,
                        Py_ssize_t H, const floating* y, const floating* exog,
                        const unsigned char* teacher, const floating* first_pred,
                        bint keep_cache, bint residual, const floating* w_out,
                        const floating* b_out, floating* pred) noexcept nogil:
    """Every step of every layer, and the head, for rows b0 .. b0 + nb."""
    cdef Py_ssize_t t, b, k, slot_x, slot_h, slot_prev, F0 = table[0].F
    cdef const floating* source
    cdef floating* x0
    cdef floating* out
    cdef Layer* lay
    for t in range(T):
        slot_x = t if keep_cache else 0
        slot_h = t if keep_cache else t % 2
        slot_prev = t - 1 if keep_cache else (t - 1) % 2
        # layer-0 input: the true or the predicted target, then the exogenous columns
        x0 = <floating*> table[0].x + slot_x * B * F0
        for b in range(b0, b0 + nb):
            if teacher[t * B + b]:
                source = y + (t * B + b) * D
            elif t == 0:
                source = first_pred + b * D
            else:
                source = pred + ((t - 1) * B + b) * D
            copy_to(D, source, x0 + b * F0)
            if E > 0:
                copy_to(E, exog + (t * B + b) * E, x0 + b * F0 + D)
        for k in range(L):
            lay = &table[k]
            _layer_step(cell, lay, B, b0, nb, H, t, slot_x, slot_h, slot_prev, <floating*> NULL)
            if k + 1 < L:
                _feed_up(B, b0, nb, H, <floating*> lay.h + slot_h * B * H,
                         <floating*> table[k + 1].mask, slot_x, <floating*> table[k + 1].x)
        out = pred + (t * B + b0) * D
        fill_rows(nb, D, b_out, out, D)
        step_gemm(True, <int> nb, <int> D, <int> H,
                  <floating*> table[L - 1].h + (slot_h * B + b0) * H, <int> H, w_out, <int> H, 1,
                  out, <int> D)
        if residual:
            for b in range(b0, b0 + nb):
                add_to(D, x0 + b * F0, pred + (t * B + b) * D)


def closed_loop_forward(int cell, list layers, const floating[:, ::1] w_out,
                        const floating[::1] b_out, const floating[:, :, ::1] y, object exog,
                        const unsigned char[:, ::1] teacher,
                        const floating[:, ::1] first_pred, bint keep_cache, bint residual,
                        floating[:, :, ::1] pred, int threads=1):
    """Run the network for T steps, choosing per step and row between truth and feedback.

    cell: a value of ``CELL_KINDS``. layers: per layer a :class:`LayerBuffers` with ``w_ih,
    w_hh, b_ih, b_hh, h0, h, x`` and as the cell needs ``peep, c0, c, gates, hproj, mask``
    (shapes in ``Layer``);
    ``x`` of layer 0 is filled here with the inputs actually used, ``x`` of layer k > 0 with
    the (masked) states of layer k-1. w_out (D, H), b_out (D,): the head.
    y (T, B, D): true targets used where ``teacher[t, b]`` is 1; exog (T, B, E) or None: the
    exogenous part of u_t. first_pred (B, D): the prediction of y_0, used where
    ``teacher[0, b]`` is 0. residual: the head predicts the change, pred[t] = y_t (as fed) +
    h W_out^T + b_out. Output: pred (T, B, D).
    """
    cdef Py_ssize_t T = y.shape[0], B = y.shape[1], D = y.shape[2], L = len(layers)
    cdef Py_ssize_t H = w_out.shape[1], E = 0, p, b0, b1
    cdef const floating[:, :, ::1] exog_view
    cdef const floating* exog_ptr = NULL
    cdef Layer* table
    if exog is not None:
        exog_view = exog
        E = exog_view.shape[2]
        _check_shape("exog", exog_view, (T, B, E))
        if E > 0:
            exog_ptr = &exog_view[0, 0, 0]
    _check_head(w_out, b_out, D)
    _check_shape("teacher", teacher, (T, B))
    _check_shape("first_pred", first_pred, (B, D))
    _check_shape("pred", pred, (T, B, D))
    check_buffers(cell, layers, T, B, H, keep_cache, False, _dtype(<floating*> NULL), D + E)
    table = _layer_table(layers, False, <floating*> NULL)
    try:
        with nogil:
            _prepare_transposes(cell, table, L, H, B // threads, True, <floating*> NULL)
            for p in prange(threads, num_threads=threads, schedule="static"):
                b0 = part_start(B, threads, p)
                b1 = part_start(B, threads, p + 1)
                _forward_rows(cell, table, L, T, B, b0, b1 - b0, D, E, H, &y[0, 0, 0],
                              exog_ptr, &teacher[0, 0], &first_pred[0, 0], keep_cache,
                              residual, &w_out[0, 0], &b_out[0], &pred[0, 0, 0])
    finally:
        free(table)


cdef object _dtype(floating* kind):
    if floating is float:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


cdef _check_shape(str name, object view, tuple expected):
    got = tuple(view.shape)
    if got != expected:
        raise ValueError(f"{name}: got shape {got}, expected {expected}")


cdef _check_head(const floating[:, ::1] w_out, const floating[::1] b_out, Py_ssize_t D):
    if w_out.shape[0] != D or b_out.shape[0] != D:
        raise ValueError(f"head: w_out ({w_out.shape[0]}, {w_out.shape[1]}) and b_out "
                         f"({b_out.shape[0]},) must have {D} rows, one per target")


cdef void _prepare_transposes(int cell, Layer* table, Py_ssize_t L, Py_ssize_t H,
                             Py_ssize_t rows, bint hidden, floating* kind) noexcept nogil:
    """Write W_ih^T (and with ``hidden`` W_hh^T) of every layer when ``rows`` per thread make
    them pay (``few_rows``); otherwise leave them out (NULL): the products then use W itself.
    Each pass writes the copies it reads, so they always match the current weights."""
    cdef Py_ssize_t k, G = _gate_rows(cell, H)
    for k in range(L):
        table[k].w_ih_t = transposed_if_it_pays(rows, G, table[k].F, <floating*> table[k].w_ih,
                                                <floating*> table[k].w_ih_t)
        if hidden:
            table[k].w_hh_t = transposed_if_it_pays(rows, G, H, <floating*> table[k].w_hh,
                                                    <floating*> table[k].w_hh_t)
        else:
            table[k].w_hh_t = NULL


cdef inline void _feed_up(Py_ssize_t B, Py_ssize_t b0, Py_ssize_t nb, Py_ssize_t H,
                          const floating* h, const floating* mask, Py_ssize_t slot,
                          floating* x_next) noexcept nogil:
    """Rows b0 .. b0 + nb of the next layer's input at one step: h, times its dropout mask."""
    cdef Py_ssize_t i, n = nb * H, offset = slot * B * H + b0 * H
    h = h + b0 * H
    x_next = x_next + offset
    if mask == NULL:
        copy_to(n, h, x_next)
        return
    mask = mask + offset
    for i in range(n):
        x_next[i] = h[i] * mask[i]


cdef void _backward_rows(int cell, Layer* table, Py_ssize_t L, Py_ssize_t T, Py_ssize_t B,
                         Py_ssize_t b0, Py_ssize_t nb, Py_ssize_t D, Py_ssize_t H,
                         const unsigned char* teacher, bint residual, const floating* w_out,
                         const floating* dpred, floating* dpred_total,
                         floating* feedback) noexcept nogil:
    """The sequential part for rows b0 .. b0 + nb: every step, every layer, the feedback."""
    cdef Py_ssize_t t, b, i, k, G = _gate_rows(cell, H), F0 = table[0].F
    cdef Layer* lay
    cdef floating* dinput
    cdef floating* total
    for b in range(b0, b0 + nb):
        for i in range(D):
            feedback[b * D + i] = 0
    for t in range(T - 1, -1, -1):
        # what reaches pred[t]: the loss, and u_{t+1} where pred[t] was fed back
        total = dpred_total + t * B * D
        for b in range(b0, b0 + nb):
            for i in range(D):
                total[b * D + i] = dpred[(t * B + b) * D + i] + feedback[b * D + i]
        step_gemm(False, <int> nb, <int> H, <int> D, total + b0 * D, <int> D, w_out,
                  <int> H, 1, <floating*> table[L - 1].dh + b0 * H, <int> H)
        for k in range(L - 1, -1, -1):
            lay = &table[k]
            _layer_step_backward(cell, lay, B, b0, nb, H, t, <floating*> NULL)
            # gradient on this layer's input u^k_t = dg W_ih
            dinput = <floating*> lay.dinput + b0 * lay.F
            _input_gradient(lay, G, <floating*> lay.dgx + (t * B + b0) * G, nb, dinput)
            if k > 0:
                _feed_down(B, b0, nb, H, dinput, <floating*> lay.mask, t,
                           <floating*> table[k - 1].dh)
        # the target part of u_t came from pred[t-1] where teacher[t, b] is 0; with a
        # residual head it also reached pred[t] directly
        dinput = <floating*> table[0].dinput
        for b in range(b0, b0 + nb):
            for i in range(D):
                if t > 0 and not teacher[t * B + b]:
                    feedback[b * D + i] = dinput[b * F0 + i]
                    if residual:
                        feedback[b * D + i] += total[b * D + i]
                else:
                    feedback[b * D + i] = 0


def closed_loop_backward(int cell, list layers, const floating[:, ::1] w_out,
                         const unsigned char[:, ::1] teacher, bint residual,
                         const floating[:, :, ::1] dpred, floating[:, :, ::1] dpred_total,
                         floating[:, ::1] feedback, floating[:, ::1] dw_out,
                         floating[::1] db_out, int threads=1):
    """Back-propagate a ``closed_loop_forward`` run with ``keep_cache`` through time.

    layers: the buffers of the forward call with the gradient fields ``dgx, dgh, dh, dinput,
    dw_ih, dw_hh, db_ih, db_hh`` and as the cell needs ``dc, drh, dpeep`` (shapes in ``Layer``). dpred (T, B, D):
    dL/dpred from the loss. residual: as in the forward call. dpred_total (T, B, D) out: dpred
    plus what flowed back through fed-back predictions. feedback (B, D) scratch. Outputs
    (overwritten): every layer's parameter gradients, dh/dc (gradients on the initial state),
    dw_out (D, H), db_out (D,). The gradient on ``first_pred`` is not propagated (truncation).
    """
    cdef Py_ssize_t T = dpred.shape[0], B = dpred.shape[1], D = dpred.shape[2]
    cdef Py_ssize_t L = len(layers), H = w_out.shape[1], k, p, b0, b1
    cdef Layer* table
    if w_out.shape[0] != D or dw_out.shape[0] != D or dw_out.shape[1] != H \
            or db_out.shape[0] != D:
        raise ValueError(f"head: w_out, dw_out ({D}, {H}) and db_out ({D},) do not match")
    _check_shape("teacher", teacher, (T, B))
    _check_shape("dpred_total", dpred_total, (T, B, D))
    _check_shape("feedback", feedback, (B, D))
    check_buffers(cell, layers, T, B, H, True, True, _dtype(<floating*> NULL), -1)
    table = _layer_table(layers, True, <floating*> NULL)
    try:
        with nogil:
            _prepare_transposes(cell, table, L, H, B // threads, False, <floating*> NULL)
            for p in prange(threads, num_threads=threads, schedule="static"):
                b0 = part_start(B, threads, p)
                b1 = part_start(B, threads, p + 1)
                _backward_rows(cell, table, L, T, B, b0, b1 - b0, D, H, &teacher[0, 0],
                               residual, &w_out[0, 0], &dpred[0, 0, 0], &dpred_total[0, 0, 0],
                               &feedback[0, 0])
            for k in range(L):
                _layer_weight_gradients(cell, &table[k], T, B, H, threads, <floating*> NULL)
            gemm_rows_split(threads, True, False, D, H, T * B, 1, &dpred_total[0, 0, 0], D,
                            <floating*> table[L - 1].h, H, 0, &dw_out[0, 0], H)
            column_sums_split(threads, T * B, D, &dpred_total[0, 0, 0], D, &db_out[0])
    finally:
        free(table)


cdef inline void _feed_down(Py_ssize_t B, Py_ssize_t b0, Py_ssize_t nb, Py_ssize_t H,
                            const floating* dinput, const floating* mask, Py_ssize_t t,
                            floating* dh_below) noexcept nogil:
    """dh of the layer below += gradient on this layer's input, through the dropout mask.

    dinput points at row b0 already; dh_below and mask are whole (B, H) / (T, B, H) buffers.
    """
    cdef Py_ssize_t i, n = nb * H
    dh_below = dh_below + b0 * H
    if mask == NULL:
        for i in range(n):
            dh_below[i] += dinput[i]
        return
    mask = mask + t * B * H + b0 * H
    for i in range(n):
        dh_below[i] += dinput[i] * mask[i]


cdef inline void _input_gradient(Layer* lay, Py_ssize_t G, const floating* dg, Py_ssize_t nb,
                                 floating* dinput) noexcept nogil:
    """dinput (nb, F) = dg (nb, G) W_ih: dot products with the rows of W_ih^T when the
    forward pass wrote it (one vector loop over G per input feature), else from W_ih."""
    if lay.w_ih_t != NULL:
        step_gemm(True, <int> nb, <int> lay.F, <int> G, dg, <int> G,
                  <floating*> lay.w_ih_t, <int> G, 0, dinput, <int> lay.F)
    else:
        step_gemm(False, <int> nb, <int> lay.F, <int> G, dg, <int> G,
                  <floating*> lay.w_ih, <int> lay.F, 0, dinput, <int> lay.F)


cdef void _layer_step_backward(int cell, Layer* lay, Py_ssize_t B, Py_ssize_t b0,
                               Py_ssize_t nb, Py_ssize_t H, Py_ssize_t t,
                               floating* kind) noexcept nogil:
    """Rows b0 .. b0 + nb of one layer, one step back: gate gradients into dgx[t] (and
    dgh[t]); dh, dc move to t-1."""
    cdef Py_ssize_t G = _gate_rows(cell, H), W = 4 * H, row = t * B + b0
    cdef const floating* h_prev
    cdef const floating* c_prev = NULL
    if t == 0:
        h_prev = <floating*> lay.h0 + b0 * H
        if lay.c0 != NULL:
            c_prev = <floating*> lay.c0 + b0 * H
    else:
        h_prev = <floating*> lay.h + (row - B) * H
        if lay.c != NULL:
            c_prev = <floating*> lay.c + (row - B) * H
    if cell == RNN_TANH or cell == RNN_RELU:
        rnn_cell_backward(nb, H, <floating*> lay.h + row * H, <floating*> lay.w_hh,
                          cell == RNN_RELU, <floating*> lay.dh + b0 * H,
                          <floating*> lay.dgx + row * G)
    elif cell == GRU_RESET_AFTER or cell == GRU_RESET_BEFORE:
        gru_cell_backward(nb, H, <floating*> lay.gates + row * W, h_prev,
                          <floating*> lay.w_hh, cell == GRU_RESET_AFTER,
                          <floating*> lay.dh + b0 * H, <floating*> lay.dgx + row * G,
                          <floating*> lay.dgh + row * G, <floating*> lay.drh + b0 * H)
    else:
        lstm_cell_backward(nb, H, <floating*> lay.gates + row * W, c_prev,
                           <floating*> lay.c + row * H, <floating*> lay.w_hh,
                           <floating*> lay.peep, <floating*> lay.dh + b0 * H,
                           <floating*> lay.dc + b0 * H, <floating*> lay.dgx + row * G)


cdef void _layer_weight_gradients(int cell, Layer* lay, Py_ssize_t T, Py_ssize_t B,
                                  Py_ssize_t H, int threads, floating* kind) noexcept nogil:
    """After the loop: one layer's parameter gradients as large products over all steps."""
    if cell == RNN_TANH or cell == RNN_RELU:
        rnn_weight_gradients(threads, T, B, lay.F, H, <floating*> lay.x, <floating*> lay.h0,
                             <floating*> lay.h, <floating*> lay.dgx, <floating*> lay.dw_ih,
                             <floating*> lay.dw_hh, <floating*> lay.db_ih,
                             <floating*> lay.db_hh)
    elif cell == GRU_RESET_AFTER or cell == GRU_RESET_BEFORE:
        gru_weight_gradients(threads, T, B, lay.F, H, <floating*> lay.x, <floating*> lay.h0,
                             <floating*> lay.h, <floating*> lay.gates, <floating*> lay.dgx,
                             <floating*> lay.dgh, cell == GRU_RESET_AFTER,
                             <floating*> lay.dw_ih, <floating*> lay.dw_hh,
                             <floating*> lay.db_ih, <floating*> lay.db_hh)
    else:
        lstm_weight_gradients(threads, T, B, lay.F, H, <floating*> lay.x, <floating*> lay.h0,
                              <floating*> lay.h, <floating*> lay.c0, <floating*> lay.c,
                              <floating*> lay.dgx, cell == LSTM_PEEPHOLE,
                              <floating*> lay.dw_ih, <floating*> lay.dw_hh,
                              <floating*> lay.db_ih, <floating*> lay.db_hh,
                              <floating*> lay.dpeep)


cdef void _stream_step(int cell, Layer* table, Py_ssize_t L, Py_ssize_t B, Py_ssize_t H,
                       Py_ssize_t slot, floating* kind) noexcept nogil:
    """One step of every layer for all rows, from state slot 1 - slot into slot ``slot``.

    Layer 0's input must already be in its x buffer; each layer feeds the next.
    """
    cdef Py_ssize_t k
    for k in range(L):
        # t = 1 always: the previous state lives in the other slot, never in h0
        _layer_step(cell, &table[k], B, 0, B, H, 1, 0, slot, 1 - slot, <floating*> NULL)
        if k + 1 < L:
            _feed_up(B, 0, B, H, <floating*> table[k].h + slot * B * H, <floating*> NULL, 0,
                     <floating*> table[k + 1].x)


cdef class Streamer:
    """Advance a stack of recurrent layers one time step at a time, with little overhead.

    Everything is prepared once: weights are read in place (later updates to them are seen),
    states alternate between two buffers and the scratch space is allocated here, so a step
    costs about a microsecond plus the arithmetic. Build it with ``layer.streamer()``.

    Parameters
    ----------
    cell : int
        A value of ``CELL_KINDS``.
    layers : list of LayerBuffers
        Buffers from the layer's ``closed_loop_buffers(1, B, h0, c0, keep_cache=False)``.
    """

    cdef Layer* table
    cdef int cell
    cdef Py_ssize_t L, B, H, F
    cdef int slot
    cdef bint double
    cdef list layers
    cdef object dtype
    cdef tuple outputs
    cdef object inputs

    def __cinit__(self, int cell, list layers):
        cdef Py_ssize_t k
        cdef LayerBuffers first = layers[0]
        cdef LayerBuffers lay
        self.cell = cell
        self.layers = layers
        self.L = len(layers)
        self.B = first.h.shape[1]
        self.H = first.h.shape[2]
        self.F = first.w_ih.shape[1]
        self.dtype = first.h.dtype
        check_buffers(cell, layers, 1, self.B, self.H, False, False, self.dtype, self.F)
        self.double = self.dtype.itemsize == 8
        if self.double:
            self.table = _layer_table(layers, False, <double*> NULL)
        else:
            self.table = _layer_table(layers, False, <float*> NULL)
        # no transposed copies: they would go stale when the weights change between steps
        for k in range(self.L):
            self.table[k].w_ih_t = NULL
            self.table[k].w_hh_t = NULL
        # the start state goes into slot 1, so the first step writes slot 0
        for lay in layers:
            lay.h[1] = lay.h0
            if lay.c is not None:
                lay.c[1] = lay.c0
        self.slot = 1
        self.inputs = first.x[0]
        top = (<LayerBuffers> layers[self.L - 1]).h
        self.outputs = (top[0], top[1])

    def __dealloc__(self):
        free(self.table)

    def step(self, x):
        """Advance one step.

        Parameters
        ----------
        x : ndarray of shape (B, F) of the layers' dtype, or a float when B = F = 1

        Returns
        -------
        ndarray of shape (B, H)
            The last layer's new state: a view of an internal buffer, overwritten two steps
            later (copy it to keep it).
        """
        cdef float[:, ::1] xf
        cdef double[:, ::1] xd
        if isinstance(x, float) and self.B == 1 and self.F == 1:
            self.inputs[0, 0] = x
        else:
            if not isinstance(x, np.ndarray) or x.shape != (self.B, self.F) \
                    or x.dtype != self.dtype:
                raise ValueError(f"x must be an array of shape {(self.B, self.F)} and dtype "
                                 f"{self.dtype}, got {getattr(x, 'shape', type(x).__name__)} "
                                 f"{getattr(x, 'dtype', '')}")
            self.inputs[...] = x
        self.slot = 1 - self.slot
        with nogil:
            if self.double:
                _stream_step(self.cell, self.table, self.L, self.B, self.H, self.slot,
                             <double*> NULL)
            else:
                _stream_step(self.cell, self.table, self.L, self.B, self.H, self.slot,
                             <float*> NULL)
        return self.outputs[self.slot]

    def reset(self, h, c=None):
        """Start again from state ``h`` (and ``c`` for LSTM), each (num_layers, B, H)."""
        cdef Py_ssize_t k
        cdef LayerBuffers lay
        for k in range(self.L):
            lay = self.layers[k]
            lay.h[1] = h[k]
            if lay.c is not None:
                lay.c[1] = c[k]
        self.slot = 1

    @property
    def state(self):
        """The current state: h (num_layers, B, H), or (h, c) for LSTM (copies)."""
        h = self._copy_slot("h")
        if (<LayerBuffers> self.layers[0]).c is None:
            return h
        return h, self._copy_slot("c")

    cdef object _copy_slot(self, str name):
        """The current slot of buffer ``name`` of every layer, as one new (L, B, H) array."""
        cdef Py_ssize_t k
        out = np.empty((self.L, self.B, self.H), self.dtype)
        for k in range(self.L):
            out[k] = getattr(self.layers[k], name)[self.slot]
        return out
