/* Branch-free exp, sigmoid and tanh that compilers can vectorise without -ffast-math.
 *
 * libm's expf/tanhf are opaque calls, so a loop over gate activations runs one element at a
 * time. These inline versions use only arithmetic and a bit-level 2^n, which GCC and Clang
 * turn into SIMD code at -O3 on any x86-64 (SSE2) or ARM64 target.
 *
 * exp(x) = 2^n * e^r with n = round(x / ln 2) and r = x - n ln 2 in [-ln2/2, ln2/2]
 * (Cody-Waite: ln 2 split into a short high part and a correction, so n * ln2_hi is exact);
 * e^r by its Taylor polynomial, degree 7 for float (truncation < 6e-9 relative) and 13 for
 * double (< 5e-18). n is found with the 1.5 * 2^m rounding trick, and x is clamped first so
 * that 2^n stays a normal number: the results saturate instead of overflowing to inf/NaN.
 */
#ifndef TSRNN_FASTMATH_H
#define TSRNN_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float tsrnn_expf(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float shifter = 12582912.0f; /* 1.5 * 2^23 */
    float n = (x * 1.44269504088896341f + shifter) - shifter;
    float r = x - n * 0.693359375f;     /* ln2_hi: 9 significant bits, n * ln2_hi is exact */
    r = r - n * -2.12194440e-4f;        /* ln2_lo = ln 2 - ln2_hi */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline double tsrnn_exp(double x)
{
    x = x < -708.0 ? -708.0 : x;
    x = x > 709.0 ? 709.0 : x;
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52 */
    double n = (x * 1.4426950408889634074 + shifter) - shifter;
    double r = x - n * 6.93147180369123816490e-01; /* ln2_hi, exact product for |n| < 2^11 */
    r = r - n * 1.90821492927058770002e-10;         /* ln2_lo */
    double p = 1.0 / 6227020800.0;                  /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    int64_t bits = ((int64_t)n + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* sigmoid(x) = 1 / (1 + e^-x); saturates cleanly at both ends. */
static inline float tsrnn_sigmoidf(float x) { return 1.0f / (1.0f + tsrnn_expf(-x)); }
static inline double tsrnn_sigmoid(double x) { return 1.0 / (1.0 + tsrnn_exp(-x)); }

/* tanh(x) = 1 - 2 / (1 + e^{2x}): absolute error about one ulp of 1, which is what the gate
 * equations need (relative accuracy near 0 is not). */
static inline float tsrnn_tanhf(float x) { return 1.0f - 2.0f / (1.0f + tsrnn_expf(2.0f * x)); }
static inline double tsrnn_tanh(double x) { return 1.0 - 2.0 / (1.0 + tsrnn_exp(2.0 * x)); }

#endif
