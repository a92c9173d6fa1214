# cython: language_level=3
"""Inline activations and their derivatives, the latter written in terms of the OUTPUT.

sigmoid and tanh come from ``_fastmath.h``: branch-free versions (about one ulp) that the C
compiler vectorises inside the gate loops, where libm calls would run one element at a time.
Backward passes keep only post-activation values, so derivatives are taken from outputs:
sigmoid' = y (1 - y), tanh' = 1 - y^2, relu' = [y > 0].
"""
from cython cimport floating


cdef extern from "_fastmath.h" nogil:
    float tsrnn_sigmoidf(float x)
    double tsrnn_sigmoid(double x)
    float tsrnn_tanhf(float x)
    double tsrnn_tanh(double x)


cdef inline floating sigmoid(floating x) noexcept nogil:
    if floating is float:
        return tsrnn_sigmoidf(x)
    else:
        return tsrnn_sigmoid(x)


cdef inline floating tanh_(floating x) noexcept nogil:
    if floating is float:
        return tsrnn_tanhf(x)
    else:
        return tsrnn_tanh(x)


cdef inline floating relu(floating x) noexcept nogil:
    return x if x > 0 else 0


cdef inline floating dsigmoid_from_output(floating y) noexcept nogil:
    return y * (1 - y)


cdef inline floating dtanh_from_output(floating y) noexcept nogil:
    return 1 - y * y


cdef inline floating drelu_from_output(floating y) noexcept nogil:
    return 1 if y > 0 else 0
