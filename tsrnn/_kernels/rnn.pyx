# cython: language_level=3
"""Vanilla RNN recurrence over whole sequences: forward, backward through time, one step.

Arrays are time-major and C-contiguous: x (T, B, F), states (B, H), sequences (T, B, H).
The Python layer validates and allocates; these functions only compute, without the GIL.
h' = act(W_ih x + b_ih + W_hh h + b_hh) with act tanh or relu (``_rnn_cell.pxd``).
"""
from cython cimport floating

from tsrnn._kernels._blas cimport add_to, fill_rows_sum, gemm
from tsrnn._kernels._rnn_cell cimport rnn_cell_backward, rnn_cell_forward, rnn_weight_gradients


def rnn_forward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                const floating[:, ::1] w_hh, const floating[::1] b_ih, const floating[::1] b_hh,
                bint use_relu, const floating[:, ::1] h0, floating[:, :, ::1] h_out):
    """Run an RNN layer over a sequence.

    x (T, B, F); w_ih (H, F); w_hh (H, H); b_ih, b_hh (H,); h0 (B, H).
    Output: h_out (T, B, H), the state at every step (also all that backward needs).
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], F = x.shape[2], H = h0.shape[1], t
    with nogil:
        # All T*B input projections in one GEMM: h_out = x W_ih^T + b_ih + b_hh
        fill_rows_sum(T * B, H, &b_ih[0], &b_hh[0], &h_out[0, 0, 0], H)
        gemm(False, True, <int> (T * B), <int> H, <int> F, 1, &x[0, 0, 0], <int> F,
             &w_ih[0, 0], <int> F, 1, &h_out[0, 0, 0], <int> H)
        rnn_cell_forward(B, H, &h_out[0, 0, 0], &h0[0, 0], &w_hh[0, 0], use_relu)
        for t in range(1, T):
            rnn_cell_forward(B, H, &h_out[t, 0, 0], &h_out[t - 1, 0, 0], &w_hh[0, 0], use_relu)


def rnn_backward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                 const floating[:, ::1] w_hh, bint use_relu, const floating[:, ::1] h0,
                 const floating[:, :, ::1] h_out, const floating[:, :, ::1] dout,
                 floating[:, ::1] dh, floating[:, :, ::1] dgates, floating[:, :, ::1] dx,
                 floating[:, ::1] dw_ih, floating[:, ::1] dw_hh, floating[::1] db_ih,
                 floating[::1] db_hh):
    """Back-propagate through a whole sequence after ``rnn_forward``.

    dout (T, B, H) dL/dh_t from above; dh (B, H): in, the gradient on the final state; out,
    the gradient on h0. dgates (T, B, H) scratch. Outputs (overwritten): dx (T, B, F),
    dw_ih (H, F), dw_hh (H, H), db_ih, db_hh (H,).
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], F = x.shape[2], H = h0.shape[1], t
    with nogil:
        for t in range(T - 1, -1, -1):
            add_to(B * H, &dout[t, 0, 0], &dh[0, 0])
            rnn_cell_backward(B, H, &h_out[t, 0, 0], &w_hh[0, 0], use_relu, &dh[0, 0],
                              &dgates[t, 0, 0])
        rnn_weight_gradients(T, B, F, H, &x[0, 0, 0], &h0[0, 0], &h_out[0, 0, 0],
                             &dgates[0, 0, 0], &dw_ih[0, 0], &dw_hh[0, 0], &db_ih[0],
                             &db_hh[0])
        gemm(False, False, <int> (T * B), <int> F, <int> H, 1, &dgates[0, 0, 0], <int> H,
             &w_ih[0, 0], <int> F, 0, &dx[0, 0, 0], <int> F)


def rnn_step(const floating[:, ::1] x, const floating[:, ::1] w_ih,
             const floating[:, ::1] w_hh, const floating[::1] b_ih, const floating[::1] b_hh,
             bint use_relu, const floating[:, ::1] h_prev, floating[:, ::1] h):
    """One streaming step: x (B, F), h_prev (B, H) -> h (B, H); h must not alias h_prev."""
    cdef Py_ssize_t B = x.shape[0], F = x.shape[1], H = h_prev.shape[1]
    with nogil:
        fill_rows_sum(B, H, &b_ih[0], &b_hh[0], &h[0, 0], H)
        gemm(False, True, <int> B, <int> H, <int> F, 1, &x[0, 0], <int> F, &w_ih[0, 0],
             <int> F, 1, &h[0, 0], <int> H)
        rnn_cell_forward(B, H, &h[0, 0], &h_prev[0, 0], &w_hh[0, 0], use_relu)
