# cython: language_level=3
"""Inline activations and their derivatives, the latter written in terms of the OUTPUT.

Backward passes keep only post-activation values, so derivatives are taken from outputs:
sigmoid' = y (1 - y), tanh' = 1 - y^2, relu' = [y > 0].
"""
from cython cimport floating
from libc.math cimport exp, expf, tanh, tanhf


cdef inline floating sigmoid(floating x) noexcept nogil:
    # 1 / (1 + e^-x): for very negative x, e^-x overflows to inf and the result is 0, not NaN.
    if floating is float:
        return 1.0 / (1.0 + expf(-x))
    else:
        return 1.0 / (1.0 + exp(-x))


cdef inline floating tanh_(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline floating relu(floating x) noexcept nogil:
    return x if x > 0 else 0


cdef inline floating dsigmoid_from_output(floating y) noexcept nogil:
    return y * (1 - y)


cdef inline floating dtanh_from_output(floating y) noexcept nogil:
    return 1 - y * y


cdef inline floating drelu_from_output(floating y) noexcept nogil:
    return 1 if y > 0 else 0
