"""Recurrent layers over tsrnn's Cython kernels, parameter-compatible with PyTorch."""

from tsrnn.nn.layers import GRU, LSTM, RNN, Linear

__all__ = ["RNN", "GRU", "LSTM", "Linear"]
