"""The kernels compiled for CPUs with AVX-512 (chosen at import by tsrnn._kernels)."""
