# cython: language_level=3
"""LSTM recurrence over whole sequences: forward, backward through time, one streaming step.

Arrays are time-major and C-contiguous: x (T, B, F), states (B, H), sequences (T, B, H).
The Python layer validates shapes and dtypes and allocates every buffer; these functions only
compute, with the GIL released. Gate equations are in ``_lstm_cell.pxd``.
"""
from cython cimport floating

from tsrnn._kernels._blas cimport add_to, fill_rows_sum, gemm
from tsrnn._kernels._lstm_cell cimport (lstm_cell_backward, lstm_cell_forward,
                                        lstm_weight_gradients)


def lstm_forward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                 const floating[:, ::1] w_hh, const floating[::1] b_ih,
                 const floating[::1] b_hh, const floating[:, ::1] peep,
                 const floating[:, ::1] h0, const floating[:, ::1] c0,
                 floating[:, :, ::1] h_out, floating[:, :, ::1] c_out,
                 floating[:, :, ::1] gates):
    """Run an LSTM layer over a sequence, keeping what backward needs.

    x (T, B, F); w_ih (4H, F); w_hh (4H, H); b_ih, b_hh (4H,); peep (3, H) peephole weights,
    zeros for a plain LSTM; h0, c0 (B, H). Outputs: h_out, c_out (T, B, H) the states at every step;
    gates (T, B, 4H) the activated gates i, f, g, o.
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], F = x.shape[2], H = h0.shape[1]
    cdef Py_ssize_t G = 4 * H, t
    with nogil:
        # All T*B input projections in one GEMM: gates = x W_ih^T + b_ih + b_hh
        fill_rows_sum(T * B, G, &b_ih[0], &b_hh[0], &gates[0, 0, 0], G)
        gemm(False, True, <int> (T * B), <int> G, <int> F, 1, &x[0, 0, 0], <int> F,
             &w_ih[0, 0], <int> F, 1, &gates[0, 0, 0], <int> G)
        lstm_cell_forward(B, H, &gates[0, 0, 0], &h0[0, 0], &c0[0, 0], &w_hh[0, 0],
                          &peep[0, 0], &h_out[0, 0, 0], &c_out[0, 0, 0])
        for t in range(1, T):
            lstm_cell_forward(B, H, &gates[t, 0, 0], &h_out[t - 1, 0, 0], &c_out[t - 1, 0, 0],
                              &w_hh[0, 0], &peep[0, 0], &h_out[t, 0, 0], &c_out[t, 0, 0])


def lstm_backward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                  const floating[:, ::1] w_hh, const floating[:, ::1] peep, bint peephole,
                  const floating[:, ::1] h0, const floating[:, ::1] c0,
                  const floating[:, :, ::1] h_out, const floating[:, :, ::1] c_out,
                  const floating[:, :, ::1] gates, const floating[:, :, ::1] dout,
                  floating[:, ::1] dh, floating[:, ::1] dc, floating[:, :, ::1] dgates,
                  floating[:, :, ::1] dx, floating[:, ::1] dw_ih, floating[:, ::1] dw_hh,
                  floating[::1] db_ih, floating[::1] db_hh, floating[:, ::1] dpeep):
    """Back-propagate through a whole sequence after ``lstm_forward``.

    Forward inputs and caches as in ``lstm_forward``; dout (T, B, H) dL/dh_t from above.
    dh, dc (B, H): in, the gradient on the final state; out, the gradient on h0, c0.
    dgates (T, B, 4H) scratch: gate pre-activation gradients. Outputs (overwritten):
    dx (T, B, F), dw_ih (4H, F), dw_hh (4H, H), db_ih, db_hh (4H,), and dpeep (3, H) when
    ``peephole`` (otherwise dpeep is left as it is).
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], F = x.shape[2], H = h0.shape[1]
    cdef Py_ssize_t G = 4 * H, t
    with nogil:
        # The sequential part: elementwise gate derivatives and dh_{t-1} = dgates W_hh
        for t in range(T - 1, -1, -1):
            add_to(B * H, &dout[t, 0, 0], &dh[0, 0])
            lstm_cell_backward(B, H, &gates[t, 0, 0], &c0[0, 0] if t == 0 else &c_out[t - 1, 0, 0],
                               &c_out[t, 0, 0], &w_hh[0, 0], &peep[0, 0], &dh[0, 0], &dc[0, 0],
                               &dgates[t, 0, 0])
        # Everything else as large products over all T*B rows of stacked gate gradients
        lstm_weight_gradients(T, B, F, H, &x[0, 0, 0], &h0[0, 0], &h_out[0, 0, 0], &c0[0, 0],
                              &c_out[0, 0, 0], &dgates[0, 0, 0], peephole, &dw_ih[0, 0],
                              &dw_hh[0, 0], &db_ih[0], &db_hh[0], &dpeep[0, 0])
        gemm(False, False, <int> (T * B), <int> F, <int> G, 1, &dgates[0, 0, 0], <int> G,
             &w_ih[0, 0], <int> F, 0, &dx[0, 0, 0], <int> F)

def lstm_step(const floating[:, ::1] x, const floating[:, ::1] w_ih,
              const floating[:, ::1] w_hh, const floating[::1] b_ih, const floating[::1] b_hh,
              const floating[:, ::1] peep, const floating[:, ::1] h_prev,
              const floating[:, ::1] c_prev, floating[:, ::1] h, floating[:, ::1] c,
              floating[:, ::1] gates):
    """One streaming step: x (B, F), h_prev, c_prev (B, H) -> h, c (B, H); gates (B, 4H) scratch."""
    cdef Py_ssize_t B = x.shape[0], F = x.shape[1], H = h_prev.shape[1], G = 4 * H
    with nogil:
        fill_rows_sum(B, G, &b_ih[0], &b_hh[0], &gates[0, 0], G)
        gemm(False, True, <int> B, <int> G, <int> F, 1, &x[0, 0], <int> F, &w_ih[0, 0],
             <int> F, 1, &gates[0, 0], <int> G)
        lstm_cell_forward(B, H, &gates[0, 0], &h_prev[0, 0], &c_prev[0, 0], &w_hh[0, 0],
                          &peep[0, 0], &h[0, 0], &c[0, 0])
