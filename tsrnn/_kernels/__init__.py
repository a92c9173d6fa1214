"""Cython kernels for batched RNN, GRU and LSTM recurrence (internal)."""
