# cython: language_level=3
"""LSTM recurrence over whole sequences: forward and backward through time.

Arrays are time-major and C-contiguous: x (T, B, F), states (B, H), sequences (T, B, H).
The Python layer validates shapes and dtypes and allocates every buffer; these functions only
compute, with the GIL released. Gate equations are in ``_lstm_cell.pxd``. ``threads`` OpenMP
threads each run the whole time loop over their own slice of the batch (``_parallel.pxd``).
"""
from cython cimport floating
from cython.parallel cimport prange

from tsrnn._kernels._blas cimport (add_to, fill_rows_sum,
                                   transposed_if_it_pays)
from tsrnn._kernels._lstm_cell cimport (lstm_cell_backward, lstm_cell_forward,
                                        lstm_weight_gradients)
from tsrnn._kernels._parallel cimport gemm_rows_split, part_start
from tsrnn._kernels._shapes cimport expect_blas_rows, expect_shapes


cdef void _forward_rows(Py_ssize_t T, Py_ssize_t B, Py_ssize_t b0, Py_ssize_t nb, Py_ssize_t H,
                        floating* gates, const floating* h0, const floating* c0,
                        const floating* w_hh, const floating* w_hh_t, const floating* peep,
                        floating* h_out, floating* c_out) noexcept nogil:
    """The time loop for rows b0 .. b0 + nb of every step."""
    cdef Py_ssize_t t, G = 4 * H
    lstm_cell_forward(nb, H, gates + b0 * G, h0 + b0 * H, c0 + b0 * H, w_hh, w_hh_t, peep,
                      h_out + b0 * H, c_out + b0 * H)
    for t in range(1, T):
        lstm_cell_forward(nb, H, gates + (t * B + b0) * G, h_out + ((t - 1) * B + b0) * H,
                          c_out + ((t - 1) * B + b0) * H, w_hh, w_hh_t, peep,
                          h_out + (t * B + b0) * H, c_out + (t * B + b0) * H)


def lstm_forward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                 const floating[:, ::1] w_hh, const floating[::1] b_ih,
                 const floating[::1] b_hh, const floating[:, ::1] peep,
                 const floating[:, ::1] h0, const floating[:, ::1] c0,
                 floating[:, :, ::1] h_out, floating[:, :, ::1] c_out,
                 floating[:, :, ::1] gates, floating[:, ::1] w_hh_t, int threads=1):
    """Run an LSTM layer over a sequence, keeping what backward needs.

    x (T, B, F); w_ih (4H, F); w_hh (4H, H); b_ih, b_hh (4H,); peep (3, H) peephole weights,
    zeros for a plain LSTM; h0, c0 (B, H). Outputs: h_out, c_out (T, B, H) the states at
    every step; gates (T, B, 4H) the activated gates i, f, g, o. w_hh_t (H, 4H) scratch:
    W_hh^T, written here when each thread's rows make it pay.
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], F = x.shape[2], H = h0.shape[1]
    cdef Py_ssize_t G = 4 * H, p, b0, b1
    cdef floating* w_t
    expect_shapes({"h0": (B, H), "w_ih": (G, F), "w_hh": (G, H), "b_ih": (G,), "b_hh": (G,), "peep": (3, H),
                   "c0": (B, H), "h_out": (T, B, H), "c_out": (T, B, H), "gates": (T, B, G),
                   "w_hh_t": (H, G)},
                  {"h0": h0, "w_ih": w_ih, "w_hh": w_hh, "b_ih": b_ih, "b_hh": b_hh, "peep": peep,
                   "c0": c0, "h_out": h_out, "c_out": c_out, "gates": gates, "w_hh_t": w_hh_t})
    expect_blas_rows(T * B)
    with nogil:
        w_t = transposed_if_it_pays(B // threads, G, H, &w_hh[0, 0], &w_hh_t[0, 0])
        # All T*B input projections in one product: gates = x W_ih^T + b_ih + b_hh
        fill_rows_sum(T * B, G, &b_ih[0], &b_hh[0], &gates[0, 0, 0], G)
        gemm_rows_split(threads, False, True, T * B, G, F, 1, &x[0, 0, 0], F, &w_ih[0, 0], F,
                        1, &gates[0, 0, 0], G)
        for p in prange(threads, num_threads=threads, schedule="static"):
            b0 = part_start(B, threads, p)
            b1 = part_start(B, threads, p + 1)
            _forward_rows(T, B, b0, b1 - b0, H, &gates[0, 0, 0], &h0[0, 0], &c0[0, 0],
                          &w_hh[0, 0], w_t, &peep[0, 0], &h_out[0, 0, 0], &c_out[0, 0, 0])


cdef void _backward_rows(Py_ssize_t T, Py_ssize_t B, Py_ssize_t b0, Py_ssize_t nb,
                         Py_ssize_t H, const floating* gates, const floating* c0,
                         const floating* c_out, const floating* w_hh, const floating* peep,
                         const floating* dout, floating* dh, floating* dc,
                         floating* dgates) noexcept nogil:
    """The sequential part for rows b0 .. b0 + nb: gate derivatives and dh_{t-1} = dgates W_hh."""
    cdef Py_ssize_t t, G = 4 * H
    cdef const floating* c_prev
    for t in range(T - 1, -1, -1):
        add_to(nb * H, dout + (t * B + b0) * H, dh + b0 * H)
        c_prev = c0 + b0 * H if t == 0 else c_out + ((t - 1) * B + b0) * H
        lstm_cell_backward(nb, H, gates + (t * B + b0) * G, c_prev, c_out + (t * B + b0) * H,
                           w_hh, peep, dh + b0 * H, dc + b0 * H, dgates + (t * B + b0) * G)


def lstm_backward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                  const floating[:, ::1] w_hh, const floating[:, ::1] peep, bint peephole,
                  const floating[:, ::1] h0, const floating[:, ::1] c0,
                  const floating[:, :, ::1] h_out, const floating[:, :, ::1] c_out,
                  const floating[:, :, ::1] gates, const floating[:, :, ::1] dout,
                  floating[:, ::1] dh, floating[:, ::1] dc, floating[:, :, ::1] dgates,
                  floating[:, :, ::1] dx, floating[:, ::1] dw_ih, floating[:, ::1] dw_hh,
                  floating[::1] db_ih, floating[::1] db_hh, floating[:, ::1] dpeep,
                  int threads=1):
    """Back-propagate through a whole sequence after ``lstm_forward``.

    Forward inputs and caches as in ``lstm_forward``; dout (T, B, H) dL/dh_t from above.
    dh, dc (B, H): in, the gradient on the final state; out, the gradient on h0, c0.
    dgates (T, B, 4H) scratch: gate pre-activation gradients. Outputs (overwritten):
    dx (T, B, F), dw_ih (4H, F), dw_hh (4H, H), db_ih, db_hh (4H,), and dpeep (3, H) when
    ``peephole`` (otherwise dpeep is left as it is).
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], F = x.shape[2], H = h0.shape[1]
    cdef Py_ssize_t G = 4 * H, p, b0, b1
    expect_shapes({"h0": (B, H), "w_ih": (G, F), "w_hh": (G, H), "peep": (3, H), "c0": (B, H),
                   "h_out": (T, B, H), "c_out": (T, B, H), "gates": (T, B, G),
                   "dout": (T, B, H), "dh": (B, H), "dc": (B, H), "dgates": (T, B, G),
                   "dx": (T, B, F), "dw_ih": (G, F), "dw_hh": (G, H), "db_ih": (G,),
                   "db_hh": (G,), "dpeep": (3, H)},
                  {"h0": h0, "w_ih": w_ih, "w_hh": w_hh, "peep": peep, "c0": c0, "h_out": h_out,
                   "c_out": c_out, "gates": gates, "dout": dout, "dh": dh, "dc": dc,
                   "dgates": dgates, "dx": dx, "dw_ih": dw_ih, "dw_hh": dw_hh,
                   "db_ih": db_ih, "db_hh": db_hh, "dpeep": dpeep})
    expect_blas_rows(T * B)
    with nogil:
        for p in prange(threads, num_threads=threads, schedule="static"):
            b0 = part_start(B, threads, p)
            b1 = part_start(B, threads, p + 1)
            _backward_rows(T, B, b0, b1 - b0, H, &gates[0, 0, 0], &c0[0, 0], &c_out[0, 0, 0],
                           &w_hh[0, 0], &peep[0, 0], &dout[0, 0, 0], &dh[0, 0], &dc[0, 0],
                           &dgates[0, 0, 0])
        # Everything else as large products over all T*B rows of stacked gate gradients
        lstm_weight_gradients(threads, T, B, F, H, &x[0, 0, 0], &h0[0, 0], &h_out[0, 0, 0],
                              &c0[0, 0], &c_out[0, 0, 0], &dgates[0, 0, 0], peephole,
                              &dw_ih[0, 0], &dw_hh[0, 0], &db_ih[0], &db_hh[0], &dpeep[0, 0])
        gemm_rows_split(threads, False, False, T * B, F, G, 1, &dgates[0, 0, 0], G,
                        &w_ih[0, 0], F, 0, &dx[0, 0, 0], F)

