# cython: language_level=3
"""Helpers shared by the whole-sequence backward passes of every cell."""
from cython cimport floating

from tsrnn._kernels._parallel cimport gemm_rows_split


cdef inline void hidden_weight_gradient(
        int threads, Py_ssize_t T, Py_ssize_t B, Py_ssize_t rows, Py_ssize_t H, const floating* dg,
        Py_ssize_t ldg, const floating* h0, const floating* h_seq, Py_ssize_t ldh,
        floating* dw, Py_ssize_t ldw) noexcept nogil:
    """dw (rows, H) = sum_t dg[t]^T h_{t-1}, with h_{-1} = h0 and h_t = h_seq[t].

    dg (T, B, rows) has row stride ldg and h_seq (T, B, H) row stride ldh, so column blocks of
    wider buffers work too; h0 (B, H) is contiguous. Two GEMMs, their output rows split among
    ``threads``: one over the T-1 steps whose previous state is in h_seq, one for the first.
    """
    if T > 1:
        gemm_rows_split(threads, True, False, rows, H, (T - 1) * B, 1, dg + B * ldg, ldg,
                        h_seq, ldh, 0, dw, ldw)
    gemm_rows_split(threads, True, False, rows, H, B, 1, dg, ldg, h0, H, 1 if T > 1 else 0,
                    dw, ldw)
