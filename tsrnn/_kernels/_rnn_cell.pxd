# cython: language_level=3
"""One vanilla RNN time step for B rows: h' = act(W_ih x + b_ih + W_hh h + b_hh), tanh or relu."""
from cython cimport floating

from tsrnn._kernels._activations cimport drelu_from_output, dtanh_from_output, relu, tanh_
from tsrnn._kernels._blas cimport copy_to, recurrent_product, step_gemm
from tsrnn._kernels._parallel cimport column_sums_split, gemm_rows_split
from tsrnn._kernels._sequence cimport hidden_weight_gradient


cdef inline void rnn_cell_forward(
        Py_ssize_t B, Py_ssize_t H, floating* h, const floating* h_prev,
        const floating* w_hh, const floating* w_hh_t, bint use_relu) noexcept nogil:
    """Advance B rows by one step.

    h      (B, H) in: x W_ih^T + b_ih + b_hh; out: the new hidden state (it is its own cache)
    h_prev (B, H) state at t-1 (must not alias h); w_hh (H, H)
    w_hh_t (H, H) W_hh^T, or NULL (see ``recurrent_product``)
    """
    cdef Py_ssize_t k
    recurrent_product(<int> B, <int> H, <int> H, h_prev, <int> H, w_hh, <int> H, w_hh_t,
                      <int> H, 1, h, <int> H)
    if use_relu:
        for k in range(B * H):
            h[k] = relu(h[k])
    else:
        for k in range(B * H):
            h[k] = tanh_(h[k])


cdef inline void rnn_cell_backward(
        Py_ssize_t B, Py_ssize_t H, const floating* h, const floating* w_hh, bint use_relu,
        floating* dh, floating* dgates) noexcept nogil:
    """Back-propagate one step for B rows.

    h      (B, H) the state at t saved by forward
    dh     (B, H) in: dL/dh_t; out: dL/dh_{t-1}
    dgates (B, H) out: dL/d(pre-activation)
    """
    cdef Py_ssize_t k
    if use_relu:
        for k in range(B * H):
            dgates[k] = dh[k] * drelu_from_output(h[k])
    else:
        for k in range(B * H):
            dgates[k] = dh[k] * dtanh_from_output(h[k])
    step_gemm(False, <int> B, <int> H, <int> H, dgates, <int> H, w_hh, <int> H,
              0, dh, <int> H)


cdef inline void rnn_weight_gradients(
        int threads, Py_ssize_t T, Py_ssize_t B, Py_ssize_t F, Py_ssize_t H, const floating* x,
        const floating* h0, const floating* h_seq, const floating* dgates, floating* dw_ih,
        floating* dw_hh, floating* db_ih, floating* db_hh) noexcept nogil:
    """Parameter gradients from the stacked pre-activation gradients of all T steps.

    x (T, B, F) layer input; h0 (B, H); h_seq (T, B, H); dgates (T, B, H).
    Outputs (overwritten): dw_ih (H, F), dw_hh (H, H), db_ih, db_hh (H,). The products are
    split among ``threads``.
    """
    gemm_rows_split(threads, True, False, H, F, T * B, 1, dgates, H, x, F, 0, dw_ih, F)
    hidden_weight_gradient(threads, T, B, H, H, dgates, H, h0, h_seq, H, dw_hh, H)
    column_sums_split(threads, T * B, H, dgates, H, db_ih)
    copy_to(H, db_ih, db_hh)
