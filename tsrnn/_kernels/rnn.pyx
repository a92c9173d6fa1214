# cython: language_level=3
"""Vanilla RNN recurrence over whole sequences: forward and backward through time.

Arrays are time-major and C-contiguous: x (T, B, F), states (B, H), sequences (T, B, H).
The Python layer validates and allocates; these functions only compute, without the GIL.
h' = act(W_ih x + b_ih + W_hh h + b_hh) with act tanh or relu (``_rnn_cell.pxd``).
``threads`` OpenMP threads each run the whole time loop over their own slice of the batch.
"""
from cython cimport floating
from cython.parallel cimport prange

from tsrnn._kernels._blas cimport (add_to, fill_rows_sum,
                                   transposed_if_it_pays)
from tsrnn._kernels._parallel cimport gemm_rows_split, part_start
from tsrnn._kernels._shapes cimport expect_blas_rows, expect_shapes
from tsrnn._kernels._rnn_cell cimport rnn_cell_backward, rnn_cell_forward, rnn_weight_gradients


cdef void _forward_rows(Py_ssize_t T, Py_ssize_t B, Py_ssize_t b0, Py_ssize_t nb, Py_ssize_t H,
                        const floating* h0, const floating* w_hh, const floating* w_hh_t,
                        bint use_relu, floating* h_out) noexcept nogil:
    """The time loop for rows b0 .. b0 + nb of every step."""
    cdef Py_ssize_t t
    rnn_cell_forward(nb, H, h_out + b0 * H, h0 + b0 * H, w_hh, w_hh_t, use_relu)
    for t in range(1, T):
        rnn_cell_forward(nb, H, h_out + (t * B + b0) * H, h_out + ((t - 1) * B + b0) * H,
                         w_hh, w_hh_t, use_relu)


def rnn_forward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                const floating[:, ::1] w_hh, const floating[::1] b_ih, const floating[::1] b_hh,
                bint use_relu, const floating[:, ::1] h0, floating[:, :, ::1] h_out,
                floating[:, ::1] w_hh_t, int threads=1):
    """Run an RNN layer over a sequence.

    x (T, B, F); w_ih (H, F); w_hh (H, H); b_ih, b_hh (H,); h0 (B, H).
    Output: h_out (T, B, H), the state at every step (also all that backward needs).
    w_hh_t (H, H) scratch: W_hh^T, written here when each thread's rows make it pay.
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], F = x.shape[2], H = h0.shape[1]
    cdef Py_ssize_t p, b0, b1
    cdef floating* w_t
    expect_shapes({"h0": (B, H), "w_ih": (H, F), "w_hh": (H, H), "b_ih": (H,), "b_hh": (H,),
                   "h_out": (T, B, H), "w_hh_t": (H, H)},
                  {"h0": h0, "w_ih": w_ih, "w_hh": w_hh, "b_ih": b_ih, "b_hh": b_hh, "h_out": h_out,
                   "w_hh_t": w_hh_t})
    expect_blas_rows(T * B)
    with nogil:
        w_t = transposed_if_it_pays(B // threads, H, H, &w_hh[0, 0], &w_hh_t[0, 0])
        # All T*B input projections in one product: h_out = x W_ih^T + b_ih + b_hh
        fill_rows_sum(T * B, H, &b_ih[0], &b_hh[0], &h_out[0, 0, 0], H)
        gemm_rows_split(threads, False, True, T * B, H, F, 1, &x[0, 0, 0], F, &w_ih[0, 0], F,
                        1, &h_out[0, 0, 0], H)
        for p in prange(threads, num_threads=threads, schedule="static"):
            b0 = part_start(B, threads, p)
            b1 = part_start(B, threads, p + 1)
            _forward_rows(T, B, b0, b1 - b0, H, &h0[0, 0], &w_hh[0, 0], w_t, use_relu,
                          &h_out[0, 0, 0])


cdef void _backward_rows(Py_ssize_t T, Py_ssize_t B, Py_ssize_t b0, Py_ssize_t nb,
                         Py_ssize_t H, const floating* h_out, const floating* w_hh,
                         bint use_relu, const floating* dout, floating* dh,
                         floating* dgates) noexcept nogil:
    """The sequential part for rows b0 .. b0 + nb."""
    cdef Py_ssize_t t
    for t in range(T - 1, -1, -1):
        add_to(nb * H, dout + (t * B + b0) * H, dh + b0 * H)
        rnn_cell_backward(nb, H, h_out + (t * B + b0) * H, w_hh, use_relu, dh + b0 * H,
                          dgates + (t * B + b0) * H)


def rnn_backward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                 const floating[:, ::1] w_hh, bint use_relu, const floating[:, ::1] h0,
                 const floating[:, :, ::1] h_out, const floating[:, :, ::1] dout,
                 floating[:, ::1] dh, floating[:, :, ::1] dgates, floating[:, :, ::1] dx,
                 floating[:, ::1] dw_ih, floating[:, ::1] dw_hh, floating[::1] db_ih,
                 floating[::1] db_hh, int threads=1):
    """Back-propagate through a whole sequence after ``rnn_forward``.

    dout (T, B, H) dL/dh_t from above; dh (B, H): in, the gradient on the final state; out,
    the gradient on h0. dgates (T, B, H) scratch. Outputs (overwritten): dx (T, B, F),
    dw_ih (H, F), dw_hh (H, H), db_ih, db_hh (H,).
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], F = x.shape[2], H = h0.shape[1]
    cdef Py_ssize_t p, b0, b1
    expect_shapes({"h0": (B, H), "w_ih": (H, F), "w_hh": (H, H), "h_out": (T, B, H), "dout": (T, B, H),
                   "dh": (B, H), "dgates": (T, B, H), "dx": (T, B, F), "dw_ih": (H, F),
                   "dw_hh": (H, H), "db_ih": (H,), "db_hh": (H,)},
                  {"h0": h0, "w_ih": w_ih, "w_hh": w_hh, "h_out": h_out, "dout": dout, "dh": dh,
                   "dgates": dgates, "dx": dx, "dw_ih": dw_ih, "dw_hh": dw_hh,
                   "db_ih": db_ih, "db_hh": db_hh})
    expect_blas_rows(T * B)
    with nogil:
        for p in prange(threads, num_threads=threads, schedule="static"):
            b0 = part_start(B, threads, p)
            b1 = part_start(B, threads, p + 1)
            _backward_rows(T, B, b0, b1 - b0, H, &h_out[0, 0, 0], &w_hh[0, 0], use_relu,
                           &dout[0, 0, 0], &dh[0, 0], &dgates[0, 0, 0])
        rnn_weight_gradients(threads, T, B, F, H, &x[0, 0, 0], &h0[0, 0], &h_out[0, 0, 0],
                             &dgates[0, 0, 0], &dw_ih[0, 0], &dw_hh[0, 0], &db_ih[0],
                             &db_hh[0])
        gemm_rows_split(threads, False, False, T * B, F, H, 1, &dgates[0, 0, 0], H,
                        &w_ih[0, 0], F, 0, &dx[0, 0, 0], F)

