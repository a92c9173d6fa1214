# cython: language_level=3
"""Which SIMD instruction sets this CPU (and operating system) supports."""

cdef extern from *:
    """
    static int tsrnn_simd_level(void)
    {
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        int avx512 = avx2 && __builtin_cpu_supports("avx512f")
                     && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")
                     && __builtin_cpu_supports("avx512dq");
        return avx512 ? 2 : (avx2 ? 1 : 0);
    #else
        return 0;
    #endif
    }
    """
    int tsrnn_simd_level() nogil


def simd_level():
    """0: baseline only; 1: AVX2 with FMA; 2: AVX-512 (F, VL, BW, DQ) as well."""
    return tsrnn_simd_level()
