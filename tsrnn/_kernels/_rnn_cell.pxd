# cython: language_level=3
"""One vanilla RNN time step for B rows: h' = act(W_ih x + b_ih + W_hh h + b_hh), tanh or relu."""
from cython cimport floating

from tsrnn._kernels._activations cimport drelu_from_output, dtanh_from_output, relu, tanh_
from tsrnn._kernels._blas cimport gemm


cdef inline void rnn_cell_forward(
        Py_ssize_t B, Py_ssize_t H, floating* h, const floating* h_prev,
        const floating* w_hh, bint use_relu) noexcept nogil:
    """Advance B rows by one step.

    h      (B, H) in: x W_ih^T + b_ih + b_hh; out: the new hidden state (it is its own cache)
    h_prev (B, H) state at t-1 (must not alias h); w_hh (H, H)
    """
    cdef Py_ssize_t k
    gemm(False, True, <int> B, <int> H, <int> H, 1, h_prev, <int> H, w_hh, <int> H,
         1, h, <int> H)
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
    gemm(False, False, <int> B, <int> H, <int> H, 1, dgates, <int> H, w_hh, <int> H,
         0, dh, <int> H)
