# cython: language_level=3
"""Helpers shared by the whole-sequence backward passes of every cell."""
from cython cimport floating

from tsrnn._kernels._blas cimport gemm


cdef inline void hidden_weight_gradient(
        Py_ssize_t T, Py_ssize_t B, Py_ssize_t rows, Py_ssize_t H, const floating* dg,
        Py_ssize_t ldg, const floating* h0, const floating* h_seq, Py_ssize_t ldh,
        floating* dw, Py_ssize_t ldw) noexcept nogil:
    """dw (rows, H) = sum_t dg[t]^T h_{t-1}, with h_{-1} = h0 and h_t = h_seq[t].

    dg (T, B, rows) has row stride ldg and h_seq (T, B, H) row stride ldh, so column blocks of
    wider buffers work too; h0 (B, H) is contiguous. Two GEMMs: one over the T-1 steps whose
    previous state is in h_seq, one for the first step.
    """
    if T > 1:
        gemm(True, False, <int> rows, <int> H, <int> ((T - 1) * B), 1, dg + B * ldg,
             <int> ldg, h_seq, <int> ldh, 0, dw, <int> ldw)
    gemm(True, False, <int> rows, <int> H, <int> B, 1, dg, <int> ldg, h0, <int> H,
         1 if T > 1 else 0, dw, <int> ldw)
