# cython: language_level=3
"""One LSTM time step for B rows, forward and backward (inline, shared by the kernels).

The gate nonlinearities of each row are in ``_lstm_rows.h``. Gate rows are ordered i, f, g, o
as in PyTorch:
    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi [+ w_ci * c])
    f = sigmoid(W_if x + b_if + W_hf h + b_hf [+ w_cf * c])
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)
    c' = f * c + i * g
    o = sigmoid(W_io x + b_io + W_ho h + b_ho [+ w_co * c'])
    h' = o * tanh(c')
The bracketed peephole terms use diagonal weights ``peep`` (3, H) = rows w_ci, w_cf, w_co.
"""
from cython cimport floating

from tsrnn._kernels._blas cimport (add_weighted_column_sums, copy_to, recurrent_product,
                                   step_gemm)
from tsrnn._kernels._parallel cimport column_sums_split, gemm_rows_split
from tsrnn._kernels._sequence cimport hidden_weight_gradient


cdef extern from "_lstm_rows.h" nogil:
    void tsrnn_lstm_forward_row_s(int H, float* gates, const float* c_prev, const float* peep,
                                  float* h, float* c)
    void tsrnn_lstm_forward_row_d(int H, double* gates, const double* c_prev,
                                  const double* peep, double* h, double* c)
    void tsrnn_lstm_backward_row_s(int H, const float* gates, const float* c_prev,
                                   const float* c, const float* peep, const float* dh,
                                   float* dc, float* dgates)
    void tsrnn_lstm_backward_row_d(int H, const double* gates, const double* c_prev,
                                   const double* c, const double* peep, const double* dh,
                                   double* dc, double* dgates)


cdef inline void lstm_cell_forward(
        Py_ssize_t B, Py_ssize_t H, floating* gates, const floating* h_prev,
        const floating* c_prev, const floating* w_hh, const floating* w_hh_t,
        const floating* peep, floating* h, floating* c) noexcept nogil:
    """Advance B rows by one step.

    gates  (B, 4H) in: x W_ih^T + b_ih + b_hh; out: i, f, g, o after their activations
    h_prev (B, H), c_prev (B, H): state at t-1
    w_hh   (4H, H); w_hh_t (H, 4H) its transpose, or NULL (see ``recurrent_product``)
    peep   (3, H): peephole weights, zeros for a plain LSTM (adding them keeps the loop free
           of branches, so it vectorises)
    h, c   (B, H) out: state at t (must not alias h_prev, c_prev)
    """
    cdef Py_ssize_t b, G = 4 * H
    # gates += h_{t-1} W_hh^T
    recurrent_product(<int> B, <int> G, <int> H, h_prev, <int> H, w_hh, <int> H, w_hh_t,
                      <int> G, 1, gates, <int> G)
    # the nonlinearities row by row (_lstm_rows.h: C, for restrict pointers)
    for b in range(B):
        if floating is float:
            tsrnn_lstm_forward_row_s(<int> H, gates + b * G, c_prev + b * H, peep, h + b * H,
                                     c + b * H)
        else:
            tsrnn_lstm_forward_row_d(<int> H, gates + b * G, c_prev + b * H, peep, h + b * H,
                                     c + b * H)


cdef inline void lstm_cell_backward(
        Py_ssize_t B, Py_ssize_t H, const floating* gates, const floating* c_prev,
        const floating* c, const floating* w_hh, const floating* peep,
        floating* dh, floating* dc, floating* dgates) noexcept nogil:
    """Back-propagate one step for B rows.

    gates  (B, 4H) i, f, g, o saved by the forward step; c_prev, c (B, H) cell at t-1 and t
    peep   (3, H) peephole weights (zeros for a plain LSTM)
    dh     (B, H) in: dL/dh_t (everything that reaches h_t); out: dL/dh_{t-1}
    dc     (B, H) in: dL/dc_t arriving from step t+1; out: dL/dc_{t-1}
    dgates (B, 4H) out: dL/d(pre-activation) of i, f, g, o
    """
    cdef Py_ssize_t b, G = 4 * H
    for b in range(B):
        if floating is float:
            tsrnn_lstm_backward_row_s(<int> H, gates + b * G, c_prev + b * H, c + b * H, peep,
                                      dh + b * H, dc + b * H, dgates + b * G)
        else:
            tsrnn_lstm_backward_row_d(<int> H, gates + b * G, c_prev + b * H, c + b * H, peep,
                                      dh + b * H, dc + b * H, dgates + b * G)
    # dh_{t-1} = dgates W_hh
    step_gemm(False, <int> B, <int> H, <int> G, dgates, <int> G, w_hh, <int> H,
              0, dh, <int> H)


cdef inline void lstm_weight_gradients(
        int threads, Py_ssize_t T, Py_ssize_t B, Py_ssize_t F, Py_ssize_t H, const floating* x,
        const floating* h0, const floating* h_seq, const floating* c0, const floating* c_seq,
        const floating* dgates, bint peephole, floating* dw_ih, floating* dw_hh,
        floating* db_ih, floating* db_hh, floating* dpeep) noexcept nogil:
    """Parameter gradients from the stacked gate gradients of all T steps (after the loop).

    x (T, B, F) layer input; h0, c0 (B, H); h_seq, c_seq (T, B, H); dgates (T, B, 4H).
    Outputs (overwritten): dw_ih (4H, F), dw_hh (4H, H), db_ih, db_hh (4H,), dpeep (3, H).
    The products are split among ``threads``.
    """
    cdef Py_ssize_t G = 4 * H, j
    gemm_rows_split(threads, True, False, G, F, T * B, 1, dgates, G, x, F, 0, dw_ih, F)
    hidden_weight_gradient(threads, T, B, G, H, dgates, G, h0, h_seq, H, dw_hh, H)
    column_sums_split(threads, T * B, G, dgates, G, db_ih)
    copy_to(G, db_ih, db_hh)
    if not peephole:
        return
    # w_ci, w_cf see c_{t-1} through i, f (c_{-1} = c0); w_co sees c_t through o
    for j in range(3 * H):
        dpeep[j] = 0
    add_weighted_column_sums(B, H, dgates, G, c0, H, dpeep)
    add_weighted_column_sums(B, H, dgates + H, G, c0, H, dpeep + H)
    if T > 1:
        add_weighted_column_sums((T - 1) * B, H, dgates + B * G, G, c_seq, H, dpeep)
        add_weighted_column_sums((T - 1) * B, H, dgates + B * G + H, G, c_seq, H, dpeep + H)
    add_weighted_column_sums(T * B, H, dgates + 3 * H, G, c_seq, H, dpeep + 2 * H)
