# cython: language_level=3
"""Shape checks at the kernels' Python entry points, once per call, before any pointer is read.

Typed memoryviews already check dtype, dimensions and contiguity; these check that the sizes
agree with each other, so that no call reachable from Python reads or writes out of bounds.
"""

cdef inline int expect_shapes(dict expected, object views) except -1:
    """``expected``: name -> shape tuple; ``views``: name -> memoryview. Raise ValueError on
    the first mismatch, naming the buffer."""
    for name, shape in expected.items():
        view = views[name]
        got = tuple(view.shape[:len(shape)])
        if got != shape:
            raise ValueError(f"{name}: got shape {got}, expected {shape}")
    return 0


cdef inline int expect_blas_rows(Py_ssize_t rows) except -1:
    """BLAS takes 32-bit sizes: a product over more rows cannot be called."""
    if rows > 2147483647:
        raise ValueError(f"T * B = {rows} rows exceed the 2**31 - 1 that BLAS accepts; split "
                         f"the sequence or the batch")
    return 0
