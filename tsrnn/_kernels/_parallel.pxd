# cython: language_level=3
"""Work split across OpenMP threads: whole batch slices, and large products by rows.

Threads never split a time step: each one runs the whole time loop over its own rows of the
batch (rows are independent in every recurrence), so there is one fork and join per call and
no synchronisation per step. The large products after the time loop are split by output rows,
each part one single-threaded BLAS call. Without OpenMP at build time, prange runs serially.
"""
from cython cimport floating
from cython.parallel cimport prange

from tsrnn._kernels._blas cimport whole_sequence_gemm

# A product or reduction is split only when each thread gets at least this many multiply-adds:
# every parallel region ends in a barrier, which is cheap on an idle machine but costs a whole
# scheduler time slice when another process holds a core (measured: 24 ms per region).
cdef enum:
    MIN_WORK_PER_THREAD = 524288  # 2**19


cdef inline Py_ssize_t part_start(Py_ssize_t n, Py_ssize_t parts, Py_ssize_t p) noexcept nogil:
    """First index of part p when n items are cut into ``parts`` nearly equal parts."""
    return n * p // parts


cdef inline void gemm_rows_split(int threads, bint trans_a, bint trans_b, Py_ssize_t m,
                                 Py_ssize_t n, Py_ssize_t k, floating alpha,
                                 const floating* a, Py_ssize_t lda, const floating* b,
                                 Py_ssize_t ldb, floating beta, floating* c,
                                 Py_ssize_t ldc) noexcept nogil:
    """``gemm`` (row-major C (m, n) = alpha op(A) op(B) + beta C) with C's rows split.

    Row i of C needs row i of op(A): a row of A, or a column of A when ``trans_a``.
    """
    cdef Py_ssize_t p, m0, m1
    if threads <= 1 or m < 2 * threads or m * n * k < threads * MIN_WORK_PER_THREAD:
        whole_sequence_gemm(trans_a, trans_b, <int> m, <int> n, <int> k, alpha, a, <int> lda,
                            b, <int> ldb, beta, c, <int> ldc)
        return
    for p in prange(threads, num_threads=threads, schedule="static"):
        m0 = part_start(m, threads, p)
        m1 = part_start(m, threads, p + 1)
        whole_sequence_gemm(trans_a, trans_b, <int> (m1 - m0), <int> n, <int> k, alpha,
                            a + (m0 if trans_a else m0 * lda), <int> lda, b, <int> ldb, beta,
                            c + m0 * ldc, <int> ldc)


cdef inline void column_sums_split(int threads, Py_ssize_t rows, Py_ssize_t cols,
                                   const floating* a, Py_ssize_t lda,
                                   floating* out) noexcept nogil:
    """out (cols,) = sum over the rows of a (rows, cols; stride lda), columns split."""
    cdef Py_ssize_t p, j0, j1, r, j
    if threads <= 1 or cols < 2 * threads or rows * cols < threads * MIN_WORK_PER_THREAD:
        threads = 1
    for p in prange(threads, num_threads=threads, schedule="static"):
        j0 = part_start(cols, threads, p)
        j1 = part_start(cols, threads, p + 1)
        for j in range(j0, j1):
            out[j] = 0
        for r in range(rows):
            for j in range(j0, j1):
                out[j] += a[r * lda + j]
