# cython: language_level=3
"""LSTM recurrence over whole sequences: forward, backward through time, one streaming step.

Arrays are time-major and C-contiguous: x (T, B, F), states (B, H), sequences (T, B, H).
The Python layer validates shapes and dtypes and allocates every buffer; these functions only
compute, with the GIL released. Gate equations are in ``_lstm_cell.pxd``.
"""
from cython cimport floating

from tsrnn._kernels._blas cimport (add_to, add_weighted_column_sums, column_sums, copy_to,
                                   fill_rows_sum, gemm)
from tsrnn._kernels._lstm_cell cimport lstm_cell_backward, lstm_cell_forward
from tsrnn._kernels._sequence cimport hidden_weight_gradient


def lstm_forward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                 const floating[:, ::1] w_hh, const floating[::1] b_ih,
                 const floating[::1] b_hh, const floating[:, ::1] peep, bint peephole,
                 const floating[:, ::1] h0, const floating[:, ::1] c0,
                 floating[:, :, ::1] h_out, floating[:, :, ::1] c_out,
                 floating[:, :, ::1] gates):
    """Run an LSTM layer over a sequence, keeping what backward needs.

    x (T, B, F); w_ih (4H, F); w_hh (4H, H); b_ih, b_hh (4H,); peep (3, H) (read only when
    peephole); h0, c0 (B, H). Outputs: h_out, c_out (T, B, H) the states at every step;
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
                          &peep[0, 0], peephole, &h_out[0, 0, 0], &c_out[0, 0, 0])
        for t in range(1, T):
            lstm_cell_forward(B, H, &gates[t, 0, 0], &h_out[t - 1, 0, 0], &c_out[t - 1, 0, 0],
                              &w_hh[0, 0], &peep[0, 0], peephole, &h_out[t, 0, 0],
                              &c_out[t, 0, 0])


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
    dx (T, B, F), dw_ih (4H, F), dw_hh (4H, H), db_ih, db_hh (4H,), dpeep (3, H) (peephole).
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], F = x.shape[2], H = h0.shape[1]
    cdef Py_ssize_t G = 4 * H, t
    with nogil:
        # The sequential part: elementwise gate derivatives and dh_{t-1} = dgates W_hh
        for t in range(T - 1, -1, -1):
            add_to(B * H, &dout[t, 0, 0], &dh[0, 0])
            lstm_cell_backward(B, H, &gates[t, 0, 0], &c0[0, 0] if t == 0 else &c_out[t - 1, 0, 0],
                               &c_out[t, 0, 0], &w_hh[0, 0], &peep[0, 0], peephole, &dh[0, 0],
                               &dc[0, 0], &dgates[t, 0, 0])
        # Everything else as large products over all T*B rows of stacked gate gradients
        gemm(True, False, <int> G, <int> F, <int> (T * B), 1, &dgates[0, 0, 0], <int> G,
             &x[0, 0, 0], <int> F, 0, &dw_ih[0, 0], <int> F)
        hidden_weight_gradient(T, B, G, H, &dgates[0, 0, 0], G, &h0[0, 0], &h_out[0, 0, 0],
                               H, &dw_hh[0, 0], H)
        column_sums(T * B, G, &dgates[0, 0, 0], G, &db_ih[0])
        copy_to(G, &db_ih[0], &db_hh[0])
        gemm(False, False, <int> (T * B), <int> F, <int> G, 1, &dgates[0, 0, 0], <int> G,
             &w_ih[0, 0], <int> F, 0, &dx[0, 0, 0], <int> F)
        if peephole:
            _peephole_gradient(T, B, H, &dgates[0, 0, 0], &c0[0, 0], &c_out[0, 0, 0],
                               &dpeep[0, 0])


cdef void _peephole_gradient(Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, const floating* dg,
                             const floating* c0, const floating* c_out,
                             floating* dpeep) noexcept nogil:
    """dpeep (3, H): w_ci, w_cf see c_{t-1} through i, f; w_co sees c_t through o."""
    cdef Py_ssize_t G = 4 * H, j
    for j in range(3 * H):
        dpeep[j] = 0
    # i and f blocks: t = 0 uses c0, t >= 1 uses c_out[t - 1]
    add_weighted_column_sums(B, H, dg, G, c0, H, dpeep)
    add_weighted_column_sums(B, H, dg + H, G, c0, H, dpeep + H)
    if T > 1:
        add_weighted_column_sums((T - 1) * B, H, dg + B * G, G, c_out, H, dpeep)
        add_weighted_column_sums((T - 1) * B, H, dg + B * G + H, G, c_out, H, dpeep + H)
    add_weighted_column_sums(T * B, H, dg + 3 * H, G, c_out, H, dpeep + 2 * H)


def lstm_step(const floating[:, ::1] x, const floating[:, ::1] w_ih,
              const floating[:, ::1] w_hh, const floating[::1] b_ih, const floating[::1] b_hh,
              const floating[:, ::1] peep, bint peephole, const floating[:, ::1] h_prev,
              const floating[:, ::1] c_prev, floating[:, ::1] h, floating[:, ::1] c,
              floating[:, ::1] gates):
    """One streaming step: x (B, F), h_prev, c_prev (B, H) -> h, c (B, H); gates (B, 4H) scratch."""
    cdef Py_ssize_t B = x.shape[0], F = x.shape[1], H = h_prev.shape[1], G = 4 * H
    with nogil:
        fill_rows_sum(B, G, &b_ih[0], &b_hh[0], &gates[0, 0], G)
        gemm(False, True, <int> B, <int> G, <int> F, 1, &x[0, 0], <int> F, &w_ih[0, 0],
             <int> F, 1, &gates[0, 0], <int> G)
        lstm_cell_forward(B, H, &gates[0, 0], &h_prev[0, 0], &c_prev[0, 0], &w_hh[0, 0],
                          &peep[0, 0], peephole, &h[0, 0], &c[0, 0])
