/* The kernels of _smallgemm.h, written once for both element types.
 *
 * Included by _smallgemm.h with T (the element type), V (its vector type), L (lanes per
 * vector), NAME(f) (f with the type's suffix), LOAD, STORE and LANE_SUMS defined.
 */

#ifndef TSRNN_SHUFFLE
/* out[i] = the sum of the lanes of v[i], i = 0..7, for compilers without vector shuffles */
static inline void NAME(tsrnn_lane_sums_plain)(const V v[8], T out[8])
{
    for (int i = 0; i < 8; i++) {
        T lanes[L];
        STORE(lanes, v[i]);
        out[i] = 0;
        for (int q = 0; q < L; q++)
            out[i] += lanes[q];
    }
}
#endif

/* Rows r < rows of C, columns n0 .. n-1: the columns the wide tiles of gemm_nt leave over,
 * one dot product each. */
TSRNN_FUNCTION void NAME(tsrnn_nt_columns)(int rows, int n0, int n, int k, const T *a, int lda,
                                   const T *w, int ldw, T beta, T *c, int ldc)
{
    int kv = k - k % L;
    for (int r = 0; r < rows; r++)
        for (int j = n0; j < n; j++) {
            const T *ar = a + (size_t)r * lda, *wj = w + (size_t)j * ldw;
            T total = 0;
            if (kv > 0) {
                V acc = {0};
                T lanes[L];
                for (int p = 0; p < kv; p += L)
                    acc += LOAD(ar + p) * LOAD(wj + p);
                STORE(lanes, acc);
                for (int q = 0; q < L; q++)
                    total += lanes[q];
            }
            for (int p = kv; p < k; p++)
                total += ar[p] * wj[p];
            c[(size_t)r * ldc + j] = TSRNN_KEEP(beta, c[(size_t)r * ldc + j]) + total;
        }
}

TSRNN_FUNCTION void NAME(tsrnn_gemm_nt)(int m, int n, int k, const T *a, int lda, const T *w, int ldw,
                                T beta, T *c, int ldc)
{
    int kv = k - k % L, i = 0;
    if (kv == 0) {  /* k < L (a few input features): too short for vectors */
        NAME(tsrnn_nt_columns)(m, 0, n, k, a, lda, w, ldw, beta, c, ldc);
        return;
    }
    /* tiles of 2 rows x 4 columns: 8 accumulators, 6 vector loads per 8 multiply-adds */
    for (; i + 2 <= m; i += 2) {
        const T *a0 = a + (size_t)i * lda, *a1 = a0 + lda;
        T *c0 = c + (size_t)i * ldc, *c1 = c0 + ldc;
        int j = 0;
        for (; j + 4 <= n; j += 4) {
            const T *w0 = w + (size_t)j * ldw;
            V acc[8] = {0};
            T sums[8];
            for (int p = 0; p < kv; p += L) {
                V x0 = LOAD(a0 + p), x1 = LOAD(a1 + p);
                for (int s = 0; s < 4; s++) {
                    V y = LOAD(w0 + (size_t)s * ldw + p);
                    acc[s] += x0 * y;
                    acc[4 + s] += x1 * y;
                }
            }
            LANE_SUMS(acc, sums);
            for (int p = kv; p < k; p++)
                for (int s = 0; s < 4; s++) {
                    sums[s] += a0[p] * w0[(size_t)s * ldw + p];
                    sums[4 + s] += a1[p] * w0[(size_t)s * ldw + p];
                }
            for (int s = 0; s < 4; s++) {
                c0[j + s] = TSRNN_KEEP(beta, c0[j + s]) + sums[s];
                c1[j + s] = TSRNN_KEEP(beta, c1[j + s]) + sums[4 + s];
            }
        }
        NAME(tsrnn_nt_columns)(2, j, n, k, a0, lda, w, ldw, beta, c0, ldc);
    }
    /* the last row of an odd m: tiles of 8 columns, 9 vector loads per 8 multiply-adds */
    for (; i < m; i++) {
        const T *a0 = a + (size_t)i * lda;
        T *c0 = c + (size_t)i * ldc;
        int j = 0;
        for (; j + 8 <= n; j += 8) {
            const T *w0 = w + (size_t)j * ldw;
            V acc[8] = {0};
            T sums[8];
            for (int p = 0; p < kv; p += L) {
                V x0 = LOAD(a0 + p);
                for (int s = 0; s < 8; s++)
                    acc[s] += x0 * LOAD(w0 + (size_t)s * ldw + p);
            }
            LANE_SUMS(acc, sums);
            for (int p = kv; p < k; p++)
                for (int s = 0; s < 8; s++)
                    sums[s] += a0[p] * w0[(size_t)s * ldw + p];
            for (int s = 0; s < 8; s++)
                c0[j + s] = TSRNN_KEEP(beta, c0[j + s]) + sums[s];
        }
        NAME(tsrnn_nt_columns)(1, j, n, k, a0, lda, w, ldw, beta, c0, ldc);
    }
}

/* One tile of the axpy-form products: for r < R and the 2L columns v of the tile,
 *     out[r][v] = beta out[r][v] + sum over p < np of A[r][p] * M[p][v],
 * with A[r][p] at a[r * ar + p * ap], M[p][v] at mm[p * ldm + v] (rows contiguous) and
 * out[r][v] at c[r * cr + v * cc]. R x 2 vector accumulators; each row of M is loaded once
 * for all R rows. R = 6 gives 12 independent accumulators, enough to hide the latency of
 * fused multiply-adds on two pipes. */
TSRNN_INLINE void NAME(tsrnn_axpy_tile)(int R, int np, const T *a, size_t ar, size_t ap,
                                        const T *mm, size_t ldm, T beta, T *c, size_t cr,
                                        size_t cc)
{
    V acc[6][2];
    T lanes[2 * L];
    for (int r = 0; r < R; r++)
        for (int s = 0; s < 2; s++) {
            V zero = {0};
            acc[r][s] = zero;
            if (beta != 0 && cc == 1)
                acc[r][s] = LOAD(c + r * cr + s * L);
        }
    for (int p = 0; p < np; p++) {
        V y0 = LOAD(mm + p * ldm), y1 = LOAD(mm + p * ldm + L);
        for (int r = 0; r < R; r++) {
            T x = a[r * ar + p * ap];
            acc[r][0] += x * y0;
            acc[r][1] += x * y1;
        }
    }
    for (int r = 0; r < R; r++) {
        if (cc == 1) {
            STORE(c + r * cr, acc[r][0]);
            STORE(c + r * cr + L, acc[r][1]);
            continue;
        }
        /* a transposed output (see tsrnn_gemm_tn): one element at a time */
        STORE(lanes, acc[r][0]);
        STORE(lanes + L, acc[r][1]);
        for (int v = 0; v < 2 * L; v++)
            c[r * cr + v * cc] = TSRNN_KEEP(beta, c[r * cr + v * cc]) + lanes[v];
    }
}

/* out (rows, cols) = beta out + A (rows, k) M (k, cols), with the strides of axpy_tile:
 * tiles of up to 6 rows by 2L columns, k in chunks of 256 so that the part of M a tile reads
 * stays in L1 cache, and the columns past the last full tile one dot product at a time.
 * With four row tiles or more and rows of M at least 2 KB apart (W_hh^T of the forward pass
 * from H = 128), that part of M (chunk x 2L) is first copied together: rows a large power of
 * two apart fall into a few L1 cache sets and evict each other (measured, AVX2, 32 rows: 1.15x
 * faster copied at H = 128, 1.5x at H = 256; with 16 rows, or rows 1 KB apart, the copy does
 * not pay). */
TSRNN_FUNCTION void NAME(tsrnn_axpy_product)(int rows, int cols, int k, const T *a, size_t ar,
                                             size_t ap, const T *mm, size_t ldm, T beta,
                                             T *c, size_t cr, size_t cc)
{
    enum { chunk = 256 };
    T panel[chunk * 2 * L];
    int wide = cols - cols % (2 * L);
    for (int p0 = 0; p0 < k; p0 += chunk) {
        int np = k - p0 < chunk ? k - p0 : chunk;
        const T *ap0 = a + p0 * ap;
        T b = p0 == 0 ? beta : 1;
        for (int j = 0; j < wide; j += 2 * L) {
            const T *mj = mm + p0 * ldm + j;
            size_t ldj = ldm;
            T *cj = c + j * cc;
            int i = 0;
            if (rows >= 24 && ldm * sizeof(T) >= 2048 && np >= 16) {
                for (int p = 0; p < np; p++)
                    memcpy(panel + (size_t)p * 2 * L, mj + p * ldm, sizeof(T) * 2 * L);
                mj = panel;
                ldj = 2 * L;
            }
            /* constant row counts, so that each tile's loops unroll into registers */
            for (; i + 6 <= rows; i += 6)
                NAME(tsrnn_axpy_tile)(6, np, ap0 + i * ar, ar, ap, mj, ldj, b, cj + i * cr,
                                      cr, cc);
            if (rows - i >= 4) {
                NAME(tsrnn_axpy_tile)(4, np, ap0 + i * ar, ar, ap, mj, ldj, b, cj + i * cr,
                                      cr, cc);
                i += 4;
            }
            if (rows - i >= 2) {
                NAME(tsrnn_axpy_tile)(2, np, ap0 + i * ar, ar, ap, mj, ldj, b, cj + i * cr,
                                      cr, cc);
                i += 2;
            }
            if (rows - i == 1)
                NAME(tsrnn_axpy_tile)(1, np, ap0 + i * ar, ar, ap, mj, ldj, b, cj + i * cr,
                                      cr, cc);
        }
    }
    for (int i = 0; i < rows; i++)
        for (int j = wide; j < cols; j++) {
            T total = 0;
            for (int p = 0; p < k; p++)
                total += a[i * ar + p * ap] * mm[p * ldm + j];
            c[i * cr + j * cc] = TSRNN_KEEP(beta, c[i * cr + j * cc]) + total;
        }
}

/* C (m, n) = beta C + A (m, k) M (k, n), both row-major */
TSRNN_FUNCTION void NAME(tsrnn_gemm_nn)(int m, int n, int k, const T *a, int lda, const T *mm,
                                        int ldm, T beta, T *c, int ldc)
{
    NAME(tsrnn_axpy_product)(m, n, k, a, lda, 1, mm, ldm, beta, c, ldc, 1);
}

/* C (m, n) = beta C + A^T B with A (k, m) and B (k, n) row-major: the weight gradients, sums
 * over all steps of outer products. Vectorised along n, or, when n is too narrow for a tile
 * (one input feature: dW_ih is 4H x 1), along m by computing C^T = B^T A instead. */
TSRNN_FUNCTION void NAME(tsrnn_gemm_tn)(int m, int n, int k, const T *a, int lda, const T *b,
                                        int ldb, T beta, T *c, int ldc)
{
    if (n >= 2 * L || n >= m)
        NAME(tsrnn_axpy_product)(m, n, k, a, 1, lda, b, ldb, beta, c, ldc, 1);
    else
        NAME(tsrnn_axpy_product)(n, m, k, b, 1, ldb, a, lda, beta, c, 1, ldc);
}
