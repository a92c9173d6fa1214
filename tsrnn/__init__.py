"""tsrnn: recurrent neural network forecasting for time series, with Cython kernels.

>>> from tsrnn import RNNForecaster, ARIMAForecaster, MarkovForecaster, NaiveForecaster

The names below are imported on first use (PEP 562), so that ``import tsrnn`` and the
``tsrnn`` command's help start quickly; ``from tsrnn import X`` works as usual.
"""

__version__ = "0.1.0"

_LAZY = {
    "RNNForecaster": "tsrnn.forecasters", "ARIMAForecaster": "tsrnn.forecasters",
    "STLForecaster": "tsrnn.forecasters", "MarkovForecaster": "tsrnn.forecasters",
    "NaiveForecaster": "tsrnn.forecasters",
    "set_num_threads": "tsrnn._threads", "get_num_threads": "tsrnn._threads",
}

__all__ = ["RNNForecaster", "ARIMAForecaster", "STLForecaster", "MarkovForecaster", "NaiveForecaster",
           "set_num_threads", "get_num_threads", "__version__"]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tsrnn' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
