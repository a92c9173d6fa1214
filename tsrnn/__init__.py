"""tsrnn: recurrent neural network forecasting for time series, with Cython kernels."""

__version__ = "0.1.0"
