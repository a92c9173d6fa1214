"""The kernels compiled for CPUs with AVX2 and FMA (chosen at import by tsrnn._kernels)."""
