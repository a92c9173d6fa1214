"""Forecasters sharing one interface: ``fit``, ``predict``, ``update``, ``predict_interval``.

See :class:`tsrnn.forecasters._base.BaseForecaster` for the contract and the hooks a new
forecaster implements.
"""
from ._base import BaseForecaster
from .arima import ARIMAForecaster
from .markov import MarkovForecaster
from .naive import NaiveForecaster
from .rnn import RNNForecaster
from .stl import STLForecaster

__all__ = ["BaseForecaster", "ARIMAForecaster", "MarkovForecaster", "NaiveForecaster",
           "RNNForecaster", "STLForecaster"]
