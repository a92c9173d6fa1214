# cython: language_level=3
"""GRU recurrence over whole sequences: forward and backward through time.

Arrays are time-major and C-contiguous: x (T, B, F), states (B, H), sequences (T, B, H).
The Python layer validates and allocates; these functions only compute, without the GIL.
Gate equations and the (B, 4H) per-step cache layout are in ``_gru_cell.pxd``. ``threads``
OpenMP threads each run the whole time loop over their own slice of the batch.
"""
from cython cimport floating
from cython.parallel cimport prange

from tsrnn._kernels._blas cimport (add_to, fill_rows,
                                   transposed_if_it_pays)
from tsrnn._kernels._gru_cell cimport gru_cell_backward, gru_cell_forward, gru_weight_gradients
from tsrnn._kernels._parallel cimport gemm_rows_split, part_start
from tsrnn._kernels._shapes cimport expect_blas_rows, expect_shapes


cdef void _forward_rows(Py_ssize_t T, Py_ssize_t B, Py_ssize_t b0, Py_ssize_t nb, Py_ssize_t H,
                        floating* gates, const floating* h0, const floating* w_hh,
                        const floating* w_hh_t, const floating* b_hh, bint reset_after,
                        floating* hproj, floating* h_out) noexcept nogil:
    """The time loop for rows b0 .. b0 + nb of every step (hproj: those rows' scratch)."""
    cdef Py_ssize_t t, G = 4 * H
    gru_cell_forward(nb, H, gates + b0 * G, h0 + b0 * H, w_hh, w_hh_t, b_hh, reset_after,
                     hproj + b0 * 3 * H, h_out + b0 * H)
    for t in range(1, T):
        gru_cell_forward(nb, H, gates + (t * B + b0) * G, h_out + ((t - 1) * B + b0) * H,
                         w_hh, w_hh_t, b_hh, reset_after, hproj + b0 * 3 * H,
                         h_out + (t * B + b0) * H)


def gru_forward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                const floating[:, ::1] w_hh, const floating[::1] b_ih, const floating[::1] b_hh,
                bint reset_after, const floating[:, ::1] h0, floating[:, :, ::1] h_out,
                floating[:, :, ::1] gates, floating[:, ::1] hproj, floating[:, ::1] w_hh_t,
                int threads=1):
    """Run a GRU layer over a sequence, keeping what backward needs.

    x (T, B, F); w_ih (3H, F); w_hh (3H, H); b_ih, b_hh (3H,); h0 (B, H).
    Outputs: h_out (T, B, H); gates (T, B, 4H) r, z, n, hn|rh. hproj (B, 3H) scratch.
    w_hh_t (H, 3H) scratch: W_hh^T, written here when each thread's rows make it pay.
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], F = x.shape[2], H = h0.shape[1]
    cdef Py_ssize_t G = 4 * H, H3 = 3 * H, p, b0, b1
    cdef floating* w_t
    expect_shapes({"h0": (B, H), "w_ih": (H3, F), "w_hh": (H3, H), "b_ih": (H3,), "b_hh": (H3,),
                   "h_out": (T, B, H), "gates": (T, B, G), "hproj": (B, H3), "w_hh_t": (H, H3)},
                  {"h0": h0, "w_ih": w_ih, "w_hh": w_hh, "b_ih": b_ih, "b_hh": b_hh, "h_out": h_out,
                   "gates": gates, "hproj": hproj, "w_hh_t": w_hh_t})
    expect_blas_rows(T * B)
    with nogil:
        w_t = transposed_if_it_pays(B // threads, H3, H, &w_hh[0, 0], &w_hh_t[0, 0])
        # All T*B input projections in one product into columns 0:3H of the cache
        fill_rows(T * B, H3, &b_ih[0], &gates[0, 0, 0], G)
        gemm_rows_split(threads, False, True, T * B, H3, F, 1, &x[0, 0, 0], F, &w_ih[0, 0], F,
                        1, &gates[0, 0, 0], G)
        for p in prange(threads, num_threads=threads, schedule="static"):
            b0 = part_start(B, threads, p)
            b1 = part_start(B, threads, p + 1)
            _forward_rows(T, B, b0, b1 - b0, H, &gates[0, 0, 0], &h0[0, 0], &w_hh[0, 0], w_t,
                          &b_hh[0], reset_after, &hproj[0, 0], &h_out[0, 0, 0])


cdef void _backward_rows(Py_ssize_t T, Py_ssize_t B, Py_ssize_t b0, Py_ssize_t nb,
                         Py_ssize_t H, const floating* gates, const floating* h0,
                         const floating* h_out, const floating* w_hh, bint reset_after,
                         const floating* dout, floating* dh, floating* dgx, floating* dgh,
                         floating* drh) noexcept nogil:
    """The sequential part for rows b0 .. b0 + nb."""
    cdef Py_ssize_t t, H3 = 3 * H
    cdef const floating* h_prev
    for t in range(T - 1, -1, -1):
        add_to(nb * H, dout + (t * B + b0) * H, dh + b0 * H)
        h_prev = h0 + b0 * H if t == 0 else h_out + ((t - 1) * B + b0) * H
        gru_cell_backward(nb, H, gates + (t * B + b0) * 4 * H, h_prev, w_hh, reset_after,
                          dh + b0 * H, dgx + (t * B + b0) * H3, dgh + (t * B + b0) * H3,
                          drh + b0 * H)


def gru_backward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                 const floating[:, ::1] w_hh, bint reset_after, const floating[:, ::1] h0,
                 const floating[:, :, ::1] h_out, const floating[:, :, ::1] gates,
                 const floating[:, :, ::1] dout, floating[:, ::1] dh,
                 floating[:, :, ::1] dgx, floating[:, :, ::1] dgh, floating[:, ::1] drh,
                 floating[:, :, ::1] dx, floating[:, ::1] dw_ih, floating[:, ::1] dw_hh,
                 floating[::1] db_ih, floating[::1] db_hh, int threads=1):
    """Back-propagate through a whole sequence after ``gru_forward``.

    dout (T, B, H) dL/dh_t from above; dh (B, H): in, the gradient on the final state; out,
    the gradient on h0. Scratch: dgx, dgh (T, B, 3H) input- and hidden-side pre-activation
    gradients, drh (B, H). Outputs (overwritten): dx (T, B, F), dw_ih (3H, F),
    dw_hh (3H, H), db_ih, db_hh (3H,).
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], F = x.shape[2], H = h0.shape[1]
    cdef Py_ssize_t H3 = 3 * H, p, b0, b1
    expect_shapes({"h0": (B, H), "w_ih": (H3, F), "w_hh": (H3, H), "h_out": (T, B, H), "gates": (T, B, 4 * H),
                   "dout": (T, B, H), "dh": (B, H), "dgx": (T, B, H3), "dgh": (T, B, H3),
                   "drh": (B, H), "dx": (T, B, F), "dw_ih": (H3, F), "dw_hh": (H3, H),
                   "db_ih": (H3,), "db_hh": (H3,)},
                  {"h0": h0, "w_ih": w_ih, "w_hh": w_hh, "h_out": h_out, "gates": gates, "dout": dout,
                   "dh": dh, "dgx": dgx, "dgh": dgh, "drh": drh, "dx": dx, "dw_ih": dw_ih,
                   "dw_hh": dw_hh, "db_ih": db_ih, "db_hh": db_hh})
    expect_blas_rows(T * B)
    with nogil:
        for p in prange(threads, num_threads=threads, schedule="static"):
            b0 = part_start(B, threads, p)
            b1 = part_start(B, threads, p + 1)
            _backward_rows(T, B, b0, b1 - b0, H, &gates[0, 0, 0], &h0[0, 0], &h_out[0, 0, 0],
                           &w_hh[0, 0], reset_after, &dout[0, 0, 0], &dh[0, 0],
                           &dgx[0, 0, 0], &dgh[0, 0, 0], &drh[0, 0])
        gru_weight_gradients(threads, T, B, F, H, &x[0, 0, 0], &h0[0, 0], &h_out[0, 0, 0],
                             &gates[0, 0, 0], &dgx[0, 0, 0], &dgh[0, 0, 0], reset_after,
                             &dw_ih[0, 0], &dw_hh[0, 0], &db_ih[0], &db_hh[0])
        gemm_rows_split(threads, False, False, T * B, F, H3, 1, &dgx[0, 0, 0], H3,
                        &w_ih[0, 0], F, 0, &dx[0, 0, 0], F)

