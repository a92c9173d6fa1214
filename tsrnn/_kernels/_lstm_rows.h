/* The LSTM gate nonlinearities of one row, in C for one reason: restrict.
 *
 * Cython cannot mark pointers restrict, so GCC vectorises the gate loops behind run-time
 * checks that their eight or so arrays do not overlap, evaluated every time a row's loop
 * starts. With H = 16 a row is two vectors of work and the checks cost more than the work
 * (measured, AVX2: the backward row loop took 5.3 ns per unit with the checks, 1.8 ns with
 * restrict). Everything else about a step (products, threads, the time loop) stays in the
 * Cython kernels; the equations are those of _lstm_cell.pxd:
 *     i = sigmoid(a_i + w_ci c),  f = sigmoid(a_f + w_cf c),  g = tanh(a_g),
 *     c' = f c + i g,  o = sigmoid(a_o + w_co c'),  h' = o tanh(c').
 * Rows: gates (4H) holds a_i, a_f, a_g, a_o in, the activated i, f, g, o out; c_prev, c, h
 * (H); peep (3H) the peephole weights (zeros without peepholes).
 */
#ifndef TSRNN_LSTM_ROWS_H
#define TSRNN_LSTM_ROWS_H

#include "_fastmath.h"

#if defined(__GNUC__) || defined(__clang__)
#define TSRNN_RESTRICT __restrict__
#define TSRNN_ROW_FUNCTION static inline __attribute__((unused))
#elif defined(_MSC_VER)
#define TSRNN_RESTRICT __restrict
#define TSRNN_ROW_FUNCTION static inline
#else
#define TSRNN_RESTRICT
#define TSRNN_ROW_FUNCTION static inline
#endif

#define TSRNN_ROW_CAT_(a, b) a##_##b
#define TSRNN_ROW_CAT(a, b) TSRNN_ROW_CAT_(a, b)

#define T float
#define NAME(f) TSRNN_ROW_CAT(f, s)
#define SIGMOID tsrnn_sigmoidf
#define TANH tsrnn_tanhf
#include "_lstm_rows_impl.h"
#undef T
#undef NAME
#undef SIGMOID
#undef TANH

#define T double
#define NAME(f) TSRNN_ROW_CAT(f, d)
#define SIGMOID tsrnn_sigmoid
#define TANH tsrnn_tanh
#include "_lstm_rows_impl.h"
#undef T
#undef NAME
#undef SIGMOID
#undef TANH

#endif
