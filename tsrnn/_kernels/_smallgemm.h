/* Hand-written products for the small matrices of one recurrent time step.
 *
 * A step multiplies a few rows of states by a weight matrix, (B, H) @ (H, 4H) with B and H in
 * the tens. BLAS is built for large products: it copies ("packs") both operands into blocked
 * panels on every call, which at these sizes costs more than the arithmetic (measured with
 * OpenBLAS on x86-64: a 1 x 128 by 128 x 512 float product took 48 us through sgemm, 3.5 us
 * here). These kernels read the operands in place with the C compiler's generic vectors (GCC
 * and Clang), so one source serves every instruction set the package is compiled for; other
 * compilers get the same loops on scalars.
 *
 * Row-major throughout, with row strides (lda, ldw, ldm, ldc) in elements:
 *   tsrnn_gemm_nt_{s,d}: C (m, n) = beta C + A (m, k) W^T, W (n, k): dot products of rows;
 *   tsrnn_gemm_nn_{s,d}: C (m, n) = beta C + A (m, k) M,   M (k, n): rows of M, scaled and
 *                                                              summed (axpy form);
 *   tsrnn_gemm_tn_{s,d}: C (m, n) = beta C + A^T B, A (k, m), B (k, n): weight gradients.
 * s is float, d double; beta is 0 or 1 (with 0, C is only written); m, n, k >= 1. Results
 * equal BLAS's up to the order of the additions.
 */
#ifndef TSRNN_SMALLGEMM_H
#define TSRNN_SMALLGEMM_H

#include <stddef.h>
#include <string.h>

/* beta C for beta 0 or 1, never reading C when beta is 0 (it may hold anything, NaN too) */
#define TSRNN_KEEP(beta, value) ((beta) == 0 ? 0 : (value))

#if defined(__GNUC__) || defined(__clang__)
#define TSRNN_VECTORS 1
#define TSRNN_INLINE static inline __attribute__((always_inline))
#define TSRNN_FUNCTION static __attribute__((unused))
#else
#define TSRNN_VECTORS 0
#define TSRNN_INLINE static inline
#define TSRNN_FUNCTION static
#endif

#if TSRNN_VECTORS
/* Static inline helpers pass vectors between themselves only: the ABI note GCC gives for
 * 32-byte vectors in a build without AVX does not concern them. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#if defined(__AVX__) || !(defined(__x86_64__) || defined(__i386__))
/* 32-byte vectors: 8 floats or 4 doubles */
typedef float tsrnn_vs __attribute__((vector_size(32)));
typedef double tsrnn_vd __attribute__((vector_size(32)));
#define TSRNN_LANES_S 8
#define TSRNN_LANES_D 4
#define TSRNN_WIDE_VECTORS 1
#else
/* x86 without AVX: 16-byte vectors, one SSE register each. Emulated 32-byte vectors there
 * spill the tiles' accumulators (twice the 16 registers) and broadcast each float scalar
 * through memory (benchmarks/bench_simd.py measured the baseline build's float32 loops). */
typedef float tsrnn_vs __attribute__((vector_size(16)));
typedef double tsrnn_vd __attribute__((vector_size(16)));
#define TSRNN_LANES_S 4
#define TSRNN_LANES_D 2
#define TSRNN_WIDE_VECTORS 0
#endif
#else
typedef float tsrnn_vs;
typedef double tsrnn_vd;
#define TSRNN_LANES_S 1
#define TSRNN_LANES_D 1
#endif

/* memcpy makes unaligned loads and stores legal; compilers emit one vector move for each */
static inline tsrnn_vs tsrnn_load_s(const float *p) { tsrnn_vs v; memcpy(&v, p, sizeof v); return v; }
static inline tsrnn_vd tsrnn_load_d(const double *p) { tsrnn_vd v; memcpy(&v, p, sizeof v); return v; }
static inline void tsrnn_store_s(float *p, tsrnn_vs v) { memcpy(p, &v, sizeof v); }
static inline void tsrnn_store_d(double *p, tsrnn_vd v) { memcpy(p, &v, sizeof v); }

/* the shuffle-based lane sums below are written for 32-byte vectors */
#if TSRNN_VECTORS && TSRNN_WIDE_VECTORS && \
    (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12))
#define TSRNN_SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#endif

#ifdef TSRNN_SHUFFLE
/* out[i] = the sum of the lanes of v[i], i = 0..7: pairwise sums across the eight vectors
 * (three rounds of shuffles and adds) instead of eight separate horizontal sums. Without
 * shuffles _smallgemm_impl.h adds each vector's lanes in turn. */
static inline void tsrnn_lane_sums_s(const tsrnn_vs v[8], float out[8])
{
    tsrnn_vs p[4], q[2], r;
    for (int i = 0; i < 4; i++)  /* p[i]: neighbouring lanes of v[2i] and v[2i+1] added */
        p[i] = TSRNN_SHUFFLE(v[2 * i], v[2 * i + 1], 0, 8, 2, 10, 4, 12, 6, 14)
             + TSRNN_SHUFFLE(v[2 * i], v[2 * i + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    for (int i = 0; i < 2; i++)  /* q[i]: per-half sums of v[4i .. 4i+3] */
        q[i] = TSRNN_SHUFFLE(p[2 * i], p[2 * i + 1], 0, 1, 8, 9, 4, 5, 12, 13)
             + TSRNN_SHUFFLE(p[2 * i], p[2 * i + 1], 2, 3, 10, 11, 6, 7, 14, 15);
    r = TSRNN_SHUFFLE(q[0], q[1], 0, 1, 2, 3, 8, 9, 10, 11)
      + TSRNN_SHUFFLE(q[0], q[1], 4, 5, 6, 7, 12, 13, 14, 15);
    tsrnn_store_s(out, r);
}

static inline void tsrnn_lane_sums_d(const tsrnn_vd v[8], double out[8])
{
    for (int half = 0; half < 2; half++) {
        const tsrnn_vd *w = v + 4 * half;
        tsrnn_vd p0 = TSRNN_SHUFFLE(w[0], w[1], 0, 4, 2, 6) + TSRNN_SHUFFLE(w[0], w[1], 1, 5, 3, 7);
        tsrnn_vd p1 = TSRNN_SHUFFLE(w[2], w[3], 0, 4, 2, 6) + TSRNN_SHUFFLE(w[2], w[3], 1, 5, 3, 7);
        tsrnn_vd r = TSRNN_SHUFFLE(p0, p1, 0, 1, 4, 5) + TSRNN_SHUFFLE(p0, p1, 2, 3, 6, 7);
        tsrnn_store_d(out + 4 * half, r);
    }
}
#define TSRNN_LANE_SUMS_S tsrnn_lane_sums_s
#define TSRNN_LANE_SUMS_D tsrnn_lane_sums_d
#else
#define TSRNN_LANE_SUMS_S tsrnn_lane_sums_plain_s
#define TSRNN_LANE_SUMS_D tsrnn_lane_sums_plain_d
#endif

/* The kernels themselves, once per element type (see _smallgemm_impl.h). */
#define TSRNN_CAT_(a, b) a##_##b
#define TSRNN_CAT(a, b) TSRNN_CAT_(a, b)

#define T float
#define V tsrnn_vs
#define L TSRNN_LANES_S
#define NAME(f) TSRNN_CAT(f, s)
#define LOAD tsrnn_load_s
#define STORE tsrnn_store_s
#define LANE_SUMS TSRNN_LANE_SUMS_S
#include "_smallgemm_impl.h"
#undef T
#undef V
#undef L
#undef NAME
#undef LOAD
#undef STORE
#undef LANE_SUMS

#define T double
#define V tsrnn_vd
#define L TSRNN_LANES_D
#define NAME(f) TSRNN_CAT(f, d)
#define LOAD tsrnn_load_d
#define STORE tsrnn_store_d
#define LANE_SUMS TSRNN_LANE_SUMS_D
#include "_smallgemm_impl.h"
#undef T
#undef V
#undef L
#undef NAME
#undef LOAD
#undef STORE
#undef LANE_SUMS

#endif
