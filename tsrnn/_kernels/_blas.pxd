# cython: language_level=3
"""Row-major dense helpers over ``scipy.linalg.cython_blas``, fused over float32/float64.

All matrices are row-major with an explicit leading dimension (row stride, in elements), so a
slice of a wider buffer (for example the first 3H columns of a (rows, 4H) cache) can be used
directly.
"""
from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef extern from "_smallgemm.h" nogil:
    void tsrnn_gemm_nt_s(int m, int n, int k, const float* a, int lda, const float* w, int ldw,
                         float beta, float* c, int ldc)
    void tsrnn_gemm_nt_d(int m, int n, int k, const double* a, int lda, const double* w,
                         int ldw, double beta, double* c, int ldc)
    void tsrnn_gemm_nn_s(int m, int n, int k, const float* a, int lda, const float* w, int ldw,
                         float beta, float* c, int ldc)
    void tsrnn_gemm_nn_d(int m, int n, int k, const double* a, int lda, const double* w,
                         int ldw, double beta, double* c, int ldc)
    void tsrnn_gemm_tn_s(int m, int n, int k, const float* a, int lda, const float* b, int ldb,
                         float beta, float* c, int ldc)
    void tsrnn_gemm_tn_d(int m, int n, int k, const double* a, int lda, const double* b,
                         int ldb, double beta, double* c, int ldc)


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


cdef inline bint few_rows(Py_ssize_t m, floating* kind) noexcept nogil:
    """Whether C = A W^T for m rows is faster as dot products with the rows of W (see below)
    than from W^T or through BLAS: then the kernels need no transposed copy of W."""
    cdef Py_ssize_t most = 4
    if floating is float:
        most = 8
    return m <= most


cdef inline bint _small_product(bint trans_b, int m, int n, int k,
                               floating* kind) noexcept nogil:
    """Whether the kernels of ``_smallgemm.h`` beat BLAS on this product.

    Measured on x86-64 (AVX2) against OpenBLAS 0.3 on one thread, for the products of one
    step (CPU time): C = A W^T is faster by hand for up to 8 rows (1 row by 128 x 512: 3.8 us
    against 49) and for few columns (the head's one output per row); C = A M for up to 64
    float rows at every H <= 256 (64 rows, H = 256, forward from W^T: about 500 us against
    650), and for any number of rows up to H = 128 (64 rows, H = 32: 6.4 us against 10.4). In
    double precision the hand-written kernels win only for a few rows (up to 4, or 8 with
    H <= 64).
    """
    cdef bint small
    if trans_b:
        small = few_rows(m, kind) or n <= 8
    elif floating is float:
        small = m <= 64 or n * k <= 65536
    else:
        small = m <= 4 or (m <= 8 and n * k <= 16384)
    return small


cdef inline void step_gemm(bint trans_b, int m, int n, int k, const floating* a, int lda,
                           const floating* b, int ldb, floating beta, floating* c,
                           int ldc) noexcept nogil:
    """C (m, n) = A (m, k) op(B) + beta C, row-major, for the small products of one time step.

    op(B) = B^T with B (n, k) when ``trans_b``, else B (k, n); beta is 0 or 1. Small products
    go to the kernels of ``_smallgemm.h``, which skip BLAS's per-call packing; large ones to
    BLAS.
    """
    if not _small_product(trans_b, m, n, k, <floating*> NULL):
        gemm(False, trans_b, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
    elif floating is float:
        if trans_b:
            tsrnn_gemm_nt_s(m, n, k, a, lda, b, ldb, beta, c, ldc)
        else:
            tsrnn_gemm_nn_s(m, n, k, a, lda, b, ldb, beta, c, ldc)
    else:
        if trans_b:
            tsrnn_gemm_nt_d(m, n, k, a, lda, b, ldb, beta, c, ldc)
        else:
            tsrnn_gemm_nn_d(m, n, k, a, lda, b, ldb, beta, c, ldc)


cdef inline void recurrent_product(int m, int n, int k, const floating* h, int ldh,
                                   const floating* w, int ldw, const floating* w_t, int ldw_t,
                                   floating beta, floating* c, int ldc) noexcept nogil:
    """C (m, n) = h (m, k) W^T + beta C, from W (n, k) or from its transpose when there is one.

    w_t is W^T (k, n) with row stride ldw_t, or NULL. With many rows the product is faster
    from W^T (rows of W^T scaled and summed, no per-call packing); with a few, dot products of
    the rows of W are, and need no transposed copy.
    """
    if w_t != NULL and not few_rows(m, <floating*> NULL):
        step_gemm(False, m, n, k, h, ldh, w_t, ldw_t, beta, c, ldc)
    else:
        step_gemm(True, m, n, k, h, ldh, w, ldw, beta, c, ldc)


cdef inline void whole_sequence_gemm(bint trans_a, bint trans_b, int m, int n, int k,
                                     floating alpha, const floating* a, int lda,
                                     const floating* b, int ldb, floating beta, floating* c,
                                     int ldc) noexcept nogil:
    """``gemm`` for the products over all T*B rows after a time loop, by hand where that wins.

    Measured on x86-64 (AVX2) against OpenBLAS 0.3, one thread, T*B = 4096 rows: BLAS packs
    the whole (T*B, G*H) gate gradient for a weight gradient dW = dG^T X whatever the size of
    dW, so dW_ih with one input feature took 208 us (H = 16) to 4.7 ms (H = 128) through
    sgemm and 53 to 363 us here; dW_hh is faster here up to H = 64 (LSTM, 363 against 157 us
    at H = 16). dx = dG W_ih with one feature is G-long dot products (2.3x faster at H = 128).
    Everything else goes to BLAS. beta is 0 or 1.
    """
    cdef bint by_hand = False
    if alpha == 1:
        if trans_a and not trans_b:
            if floating is float:
                by_hand = n <= 8 or m * n <= 16384
            else:
                by_hand = n == 1 or m * n <= 1024
        elif not trans_a and not trans_b:
            by_hand = n == 1 and ldb == 1
    if not by_hand:
        gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    elif trans_a:
        if floating is float:
            tsrnn_gemm_tn_s(m, n, k, a, lda, b, ldb, beta, c, ldc)
        else:
            tsrnn_gemm_tn_d(m, n, k, a, lda, b, ldb, beta, c, ldc)
    else:
        # one output column: dot products of the rows of A with the (contiguous) column of B
        if floating is float:
            tsrnn_gemm_nt_s(m, 1, k, a, lda, b, k, beta, c, ldc)
        else:
            tsrnn_gemm_nt_d(m, 1, k, a, lda, b, k, beta, c, ldc)


cdef inline void transpose(Py_ssize_t rows, Py_ssize_t cols, const floating* a,
                           floating* out) noexcept nogil:
    """out (cols, rows) = a (rows, cols)^T, both contiguous."""
    cdef Py_ssize_t r, j
    for r in range(rows):
        for j in range(cols):
            out[j * rows + r] = a[r * cols + j]


cdef inline floating* transposed_if_it_pays(Py_ssize_t rows, Py_ssize_t n, Py_ssize_t k,
                                            const floating* w,
                                            floating* scratch) noexcept nogil:
    """W^T for ``recurrent_product``: with more than ``few_rows`` rows per call, write the
    transpose of W (n, k) into scratch (k, n) and return it; otherwise (or without scratch)
    NULL, and the products use W itself."""
    if scratch == NULL or few_rows(rows, <floating*> NULL):
        return NULL
    transpose(n, k, w, scratch)
    return scratch


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
