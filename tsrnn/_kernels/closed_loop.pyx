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

Per-layer buffers arrive as dicts of C-contiguous arrays (allocated and shape-checked by
``tsrnn.nn.network``); their addresses are read once, then the loop runs without the GIL.
With ``keep_cache`` false (inference) only one step of activations and two of states are kept,
so memory does not grow with the length of the stream.
"""
from cython cimport floating
from libc.stdlib cimport free, malloc

from tsrnn._kernels._blas cimport add_to, column_sums, copy_to, fill_rows, fill_rows_sum, gemm
from tsrnn._kernels._gru_cell cimport gru_cell_backward, gru_cell_forward, gru_weight_gradients
from tsrnn._kernels._lstm_cell cimport (lstm_cell_backward, lstm_cell_forward,
                                        lstm_weight_gradients)
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


cdef void* _address(object array, floating* kind) except? NULL:
    """Address of a C-contiguous array of dtype ``floating``, or NULL for None."""
    cdef const floating[::1] flat
    if array is None:
        return NULL
    flat = array.reshape(-1)
    return <void*> &flat[0]


cdef Layer* _layer_table(list layers, bint backward, floating* kind) except NULL:
    """Read every layer dict into a malloc'ed table (freed by the caller)."""
    cdef Py_ssize_t k, L = len(layers)
    cdef Layer* table = <Layer*> malloc(L * sizeof(Layer))
    if table == NULL:
        raise MemoryError()
    try:
        for k in range(L):
            d = layers[k]
            table[k].F = d["w_ih"].shape[1]
            table[k].w_ih = _address(d["w_ih"], kind)
            table[k].w_hh = _address(d["w_hh"], kind)
            table[k].b_ih = _address(d["b_ih"], kind)
            table[k].b_hh = _address(d["b_hh"], kind)
            table[k].peep = _address(d.get("peep"), kind)
            table[k].h0 = _address(d["h0"], kind)
            table[k].c0 = _address(d.get("c0"), kind)
            table[k].h = _address(d["h"], kind)
            table[k].c = _address(d.get("c"), kind)
            table[k].gates = _address(d.get("gates"), kind)
            table[k].x = _address(d["x"], kind)
            table[k].mask = _address(d.get("mask"), kind)
            table[k].hproj = _address(d.get("hproj"), kind)
            if backward:
                table[k].dgx = _address(d["dgx"], kind)
                table[k].dgh = _address(d["dgh"], kind)
                table[k].dh = _address(d["dh"], kind)
                table[k].dc = _address(d.get("dc"), kind)
                table[k].drh = _address(d.get("drh"), kind)
                table[k].dinput = _address(d["dinput"], kind)
                table[k].dw_ih = _address(d["dw_ih"], kind)
                table[k].dw_hh = _address(d["dw_hh"], kind)
                table[k].db_ih = _address(d["db_ih"], kind)
                table[k].db_hh = _address(d["db_hh"], kind)
                table[k].dpeep = _address(d.get("dpeep"), kind)
    except BaseException:
        free(table)
        raise
    return table


cdef inline Py_ssize_t _gate_rows(int cell, Py_ssize_t H) noexcept nogil:
    if cell == RNN_TANH or cell == RNN_RELU:
        return H
    if cell == GRU_RESET_AFTER or cell == GRU_RESET_BEFORE:
        return 3 * H
    return 4 * H


cdef void _layer_step(int cell, Layer* lay, Py_ssize_t B, Py_ssize_t H, Py_ssize_t t,
                      Py_ssize_t slot_x, Py_ssize_t slot_h, Py_ssize_t slot_prev,
                      floating* kind) noexcept nogil:
    """Advance one layer by one step: project its input, then the cell's recurrence."""
    cdef Py_ssize_t F = lay.F, G = _gate_rows(cell, H), W = 4 * H
    cdef const floating* x = <floating*> lay.x + slot_x * B * F
    cdef floating* h = <floating*> lay.h + slot_h * B * H
    cdef const floating* h_prev
    cdef const floating* c_prev = NULL
    cdef floating* c = NULL
    cdef floating* gates
    if t == 0:
        h_prev = <floating*> lay.h0
    else:
        h_prev = <floating*> lay.h + slot_prev * B * H
    if cell == RNN_TANH or cell == RNN_RELU:
        # the new state is its own cache: h = act(x W_ih^T + b_ih + b_hh + h_prev W_hh^T)
        fill_rows_sum(B, H, <floating*> lay.b_ih, <floating*> lay.b_hh, h, H)
        gemm(False, True, <int> B, <int> H, <int> F, 1, x, <int> F, <floating*> lay.w_ih,
             <int> F, 1, h, <int> H)
        rnn_cell_forward(B, H, h, h_prev, <floating*> lay.w_hh, cell == RNN_RELU)
        return
    gates = <floating*> lay.gates + slot_x * B * W
    if cell == GRU_RESET_AFTER or cell == GRU_RESET_BEFORE:
        fill_rows(B, G, <floating*> lay.b_ih, gates, W)
        gemm(False, True, <int> B, <int> G, <int> F, 1, x, <int> F, <floating*> lay.w_ih,
             <int> F, 1, gates, <int> W)
        gru_cell_forward(B, H, gates, h_prev, <floating*> lay.w_hh, <floating*> lay.b_hh,
                         cell == GRU_RESET_AFTER, <floating*> lay.hproj, h)
        return
    c = <floating*> lay.c + slot_h * B * H
    if t == 0:
        c_prev = <floating*> lay.c0
    else:
        c_prev = <floating*> lay.c + slot_prev * B * H
    fill_rows_sum(B, G, <floating*> lay.b_ih, <floating*> lay.b_hh, gates, W)
    gemm(False, True, <int> B, <int> G, <int> F, 1, x, <int> F, <floating*> lay.w_ih,
         <int> F, 1, gates, <int> W)
    lstm_cell_forward(B, H, gates, h_prev, c_prev, <floating*> lay.w_hh, <floating*> lay.peep,
                      h, c)


def closed_loop_forward(int cell, list layers, const floating[:, ::1] w_out,
                        const floating[::1] b_out, const floating[:, :, ::1] y, object exog,
                        const unsigned char[:, ::1] teacher,
                        const floating[:, ::1] first_pred, bint keep_cache, bint residual,
                        floating[:, :, ::1] pred):
    """Run the network for T steps, choosing per step and row between truth and feedback.

    cell: a value of ``CELL_KINDS``. layers: per layer a dict with ``w_ih, w_hh, b_ih, b_hh,
    h0, h, x`` and as the cell needs ``peep, c0, c, gates, hproj, mask`` (shapes in ``Layer``);
    ``x`` of layer 0 is filled here with the inputs actually used, ``x`` of layer k > 0 with
    the (masked) states of layer k-1. w_out (D, H), b_out (D,): the head.
    y (T, B, D): true targets used where ``teacher[t, b]`` is 1; exog (T, B, E) or None: the
    exogenous part of u_t. first_pred (B, D): the prediction of y_0, used where
    ``teacher[0, b]`` is 0. residual: the head predicts the change, pred[t] = y_t (as fed) +
    h W_out^T + b_out. Output: pred (T, B, D).
    """
    cdef Py_ssize_t T = y.shape[0], B = y.shape[1], D = y.shape[2], L = len(layers)
    cdef Py_ssize_t H = w_out.shape[1], E = 0, t, b, k, slot_x, slot_h, slot_prev, F0
    cdef const floating[:, :, ::1] exog_view
    cdef const floating* exog_ptr = NULL
    cdef const floating* source
    cdef floating* x0
    cdef floating* h_top
    cdef Layer* lay
    cdef Layer* table
    if exog is not None:
        exog_view = exog
        E = exog_view.shape[2]
        if E > 0:
            exog_ptr = &exog_view[0, 0, 0]
    table = _layer_table(layers, False, <floating*> NULL)
    F0 = table[0].F
    try:
        with nogil:
            for t in range(T):
                slot_x = t if keep_cache else 0
                slot_h = t if keep_cache else t % 2
                slot_prev = t - 1 if keep_cache else (t - 1) % 2
                # layer-0 input: the true or the predicted target, then the exogenous columns
                x0 = <floating*> table[0].x + slot_x * B * F0
                for b in range(B):
                    if teacher[t, b]:
                        source = &y[t, b, 0]
                    elif t == 0:
                        source = &first_pred[b, 0]
                    else:
                        source = &pred[t - 1, b, 0]
                    copy_to(D, source, x0 + b * F0)
                    if E > 0:
                        copy_to(E, exog_ptr + (t * B + b) * E, x0 + b * F0 + D)
                for k in range(L):
                    lay = &table[k]
                    _layer_step(cell, lay, B, H, t, slot_x, slot_h, slot_prev, <floating*> NULL)
                    if k + 1 < L:
                        _feed_up(B * H, <floating*> lay.h + slot_h * B * H,
                                 <floating*> table[k + 1].mask, slot_x,
                                 <floating*> table[k + 1].x)
                h_top = <floating*> table[L - 1].h + slot_h * B * H
                fill_rows(B, D, &b_out[0], &pred[t, 0, 0], D)
                gemm(False, True, <int> B, <int> D, <int> H, 1, h_top, <int> H, &w_out[0, 0],
                     <int> H, 1, &pred[t, 0, 0], <int> D)
                if residual:
                    for b in range(B):
                        add_to(D, x0 + b * F0, &pred[t, b, 0])
    finally:
        free(table)


cdef inline void _feed_up(Py_ssize_t n, const floating* h, const floating* mask,
                          Py_ssize_t slot, floating* x_next) noexcept nogil:
    """Input of the next layer at one step: h, times the dropout mask when there is one."""
    cdef Py_ssize_t i
    x_next = x_next + slot * n
    if mask == NULL:
        copy_to(n, h, x_next)
        return
    mask = mask + slot * n
    for i in range(n):
        x_next[i] = h[i] * mask[i]


def closed_loop_backward(int cell, list layers, const floating[:, ::1] w_out,
                         const unsigned char[:, ::1] teacher, bint residual,
                         const floating[:, :, ::1] dpred, floating[:, :, ::1] dpred_total,
                         floating[:, ::1] feedback, floating[:, ::1] dw_out,
                         floating[::1] db_out):
    """Back-propagate a ``closed_loop_forward`` run with ``keep_cache`` through time.

    layers: the dicts of the forward call plus ``dgx, dgh, dh, dinput, dw_ih, dw_hh, db_ih,
    db_hh`` and as the cell needs ``dc, drh, dpeep`` (shapes in ``Layer``). dpred (T, B, D):
    dL/dpred from the loss. residual: as in the forward call. dpred_total (T, B, D) out: dpred plus what flowed back through
    fed-back predictions. feedback (B, D) scratch. Outputs (overwritten): every layer's
    parameter gradients, dh/dc (gradients on the initial state), dw_out (D, H), db_out (D,).
    The gradient on ``first_pred`` is not propagated (truncation).
    """
    cdef Py_ssize_t T = dpred.shape[0], B = dpred.shape[1], D = dpred.shape[2]
    cdef Py_ssize_t L = len(layers), H = w_out.shape[1], t, b, k, i, G
    cdef Layer* lay
    cdef Layer* below
    cdef const floating* h_prev
    cdef floating* dinput
    cdef Layer* table = _layer_table(layers, True, <floating*> NULL)
    G = _gate_rows(cell, H)
    try:
        with nogil:
            for b in range(B):
                for i in range(D):
                    feedback[b, i] = 0
            for t in range(T - 1, -1, -1):
                # what reaches pred[t]: the loss, and u_{t+1} where pred[t] was fed back
                for b in range(B):
                    for i in range(D):
                        dpred_total[t, b, i] = dpred[t, b, i] + feedback[b, i]
                gemm(False, False, <int> B, <int> H, <int> D, 1, &dpred_total[t, 0, 0],
                     <int> D, &w_out[0, 0], <int> H, 1, <floating*> table[L - 1].dh, <int> H)
                for k in range(L - 1, -1, -1):
                    lay = &table[k]
                    _layer_step_backward(cell, lay, B, H, t, <floating*> NULL)
                    # gradient on this layer's input u^k_t = dg W_ih
                    dinput = <floating*> lay.dinput
                    gemm(False, False, <int> B, <int> lay.F, <int> G, 1,
                         <floating*> lay.dgx + t * B * G, <int> G, <floating*> lay.w_ih,
                         <int> lay.F, 0, dinput, <int> lay.F)
                    if k > 0:
                        below = &table[k - 1]
                        _feed_down(B * H, dinput, <floating*> lay.mask, t,
                                   <floating*> below.dh)
                # the target part of u_t came from pred[t-1] where teacher[t, b] is 0; with a
                # residual head it also reached pred[t] directly
                for b in range(B):
                    for i in range(D):
                        if t > 0 and not teacher[t, b]:
                            feedback[b, i] = (<floating*> table[0].dinput)[b * table[0].F + i]
                            if residual:
                                feedback[b, i] += dpred_total[t, b, i]
                        else:
                            feedback[b, i] = 0
            for k in range(L):
                _layer_weight_gradients(cell, &table[k], T, B, H, <floating*> NULL)
            gemm(True, False, <int> D, <int> H, <int> (T * B), 1, &dpred_total[0, 0, 0],
                 <int> D, <floating*> table[L - 1].h, <int> H, 0, &dw_out[0, 0], <int> H)
            column_sums(T * B, D, &dpred_total[0, 0, 0], D, &db_out[0])
    finally:
        free(table)


cdef inline void _feed_down(Py_ssize_t n, const floating* dinput, const floating* mask,
                            Py_ssize_t t, floating* dh_below) noexcept nogil:
    """dh of the layer below += gradient on this layer's input, through the dropout mask."""
    cdef Py_ssize_t i
    if mask == NULL:
        for i in range(n):
            dh_below[i] += dinput[i]
        return
    mask = mask + t * n
    for i in range(n):
        dh_below[i] += dinput[i] * mask[i]


cdef void _layer_step_backward(int cell, Layer* lay, Py_ssize_t B, Py_ssize_t H, Py_ssize_t t,
                               floating* kind) noexcept nogil:
    """One layer, one step back: gate gradients into dgx[t] (and dgh[t]); dh, dc to t-1."""
    cdef Py_ssize_t G = _gate_rows(cell, H), W = 4 * H
    cdef const floating* h_prev
    cdef const floating* c_prev
    if t == 0:
        h_prev = <floating*> lay.h0
        c_prev = <floating*> lay.c0
    else:
        h_prev = <floating*> lay.h + (t - 1) * B * H
        c_prev = <floating*> lay.c + (t - 1) * B * H if lay.c != NULL else NULL
    if cell == RNN_TANH or cell == RNN_RELU:
        rnn_cell_backward(B, H, <floating*> lay.h + t * B * H, <floating*> lay.w_hh,
                          cell == RNN_RELU, <floating*> lay.dh,
                          <floating*> lay.dgx + t * B * G)
    elif cell == GRU_RESET_AFTER or cell == GRU_RESET_BEFORE:
        gru_cell_backward(B, H, <floating*> lay.gates + t * B * W, h_prev,
                          <floating*> lay.w_hh, cell == GRU_RESET_AFTER, <floating*> lay.dh,
                          <floating*> lay.dgx + t * B * G, <floating*> lay.dgh + t * B * G,
                          <floating*> lay.drh)
    else:
        lstm_cell_backward(B, H, <floating*> lay.gates + t * B * W, c_prev,
                           <floating*> lay.c + t * B * H, <floating*> lay.w_hh,
                           <floating*> lay.peep, <floating*> lay.dh, <floating*> lay.dc,
                           <floating*> lay.dgx + t * B * G)


cdef void _layer_weight_gradients(int cell, Layer* lay, Py_ssize_t T, Py_ssize_t B,
                                  Py_ssize_t H, floating* kind) noexcept nogil:
    """After the loop: one layer's parameter gradients as large products over all steps."""
    if cell == RNN_TANH or cell == RNN_RELU:
        rnn_weight_gradients(T, B, lay.F, H, <floating*> lay.x, <floating*> lay.h0,
                             <floating*> lay.h, <floating*> lay.dgx, <floating*> lay.dw_ih,
                             <floating*> lay.dw_hh, <floating*> lay.db_ih,
                             <floating*> lay.db_hh)
    elif cell == GRU_RESET_AFTER or cell == GRU_RESET_BEFORE:
        gru_weight_gradients(T, B, lay.F, H, <floating*> lay.x, <floating*> lay.h0,
                             <floating*> lay.h, <floating*> lay.gates, <floating*> lay.dgx,
                             <floating*> lay.dgh, cell == GRU_RESET_AFTER,
                             <floating*> lay.dw_ih, <floating*> lay.dw_hh,
                             <floating*> lay.db_ih, <floating*> lay.db_hh)
    else:
        lstm_weight_gradients(T, B, lay.F, H, <floating*> lay.x, <floating*> lay.h0,
                              <floating*> lay.h, <floating*> lay.c0, <floating*> lay.c,
                              <floating*> lay.dgx, cell == LSTM_PEEPHOLE,
                              <floating*> lay.dw_ih, <floating*> lay.dw_hh,
                              <floating*> lay.db_ih, <floating*> lay.db_hh,
                              <floating*> lay.dpeep)
