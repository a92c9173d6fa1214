# cython: language_level=3
"""Row-major dense helpers over ``scipy.linalg.cython_blas``, fused over float32/float64.

All matrices are row-major with an explicit leading dimension (row stride, in elements), so a
slice of a wider buffer (for example the first 3H columns of a (rows, 4H) cache) can be used
directly.
"""
from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k,
                      floating alpha, const floating* a, int lda,
                      const floating* b, int ldb,
                      floating beta, floating* c, int ldc) noexcept nogil:
    """C (m, n) = alpha * op(A) @ op(B) + beta * C, all row-major.

    op(A) is (m, k) and op(B) is (k, n). BLAS is column-major: a row-major C is a column-major
    C^T = op(B)^T op(A)^T, so the operands are handed over swapped with their own flags.
    """
    cdef char ta = b'N'
    cdef char tb = b'N'
    if trans_a:
        ta = b'T'
    if trans_b:
        tb = b'T'
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> b, &ldb, <float*> a, &lda,
              &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> b, &ldb, <double*> a, &lda,
              &beta, c, &ldc)


cdef inline void fill_rows(Py_ssize_t rows, Py_ssize_t cols, const floating* row,
                           floating* out, Py_ssize_t ld) noexcept nogil:
    """Set every row of out (rows, cols; stride ld) to row (cols,)."""
    cdef Py_ssize_t r, j
    for r in range(rows):
        for j in range(cols):
            out[r * ld + j] = row[j]


cdef inline void fill_rows_sum(Py_ssize_t rows, Py_ssize_t cols, const floating* row_a,
                               const floating* row_b, floating* out,
                               Py_ssize_t ld) noexcept nogil:
    """Set every row of out (rows, cols; stride ld) to row_a + row_b (both (cols,))."""
    cdef Py_ssize_t r, j
    for r in range(rows):
        for j in range(cols):
            out[r * ld + j] = row_a[j] + row_b[j]


cdef inline void column_sums(Py_ssize_t rows, Py_ssize_t cols, const floating* a,
                             Py_ssize_t lda, floating* out) noexcept nogil:
    """out (cols,) = sum over the rows of a (rows, cols; stride lda)."""
    cdef Py_ssize_t r, j
    for j in range(cols):
        out[j] = 0
    for r in range(rows):
        for j in range(cols):
            out[j] += a[r * lda + j]


cdef inline void add_weighted_column_sums(Py_ssize_t rows, Py_ssize_t cols, const floating* a,
                                          Py_ssize_t lda, const floating* w, Py_ssize_t ldw,
                                          floating* out) noexcept nogil:
    """out (cols,) += sum over rows of a * w, elementwise (a: stride lda, w: stride ldw)."""
    cdef Py_ssize_t r, j
    for r in range(rows):
        for j in range(cols):
            out[j] += a[r * lda + j] * w[r * ldw + j]


cdef inline void add_to(Py_ssize_t n, const floating* a, floating* out) noexcept nogil:
    """out (n,) += a (n,)."""
    cdef Py_ssize_t k
    for k in range(n):
        out[k] += a[k]


cdef inline void copy_to(Py_ssize_t n, const floating* a, floating* out) noexcept nogil:
    """out (n,) = a (n,)."""
    cdef Py_ssize_t k
    for k in range(n):
        out[k] = a[k]
