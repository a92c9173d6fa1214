"""Defaults of the comparison protocol, in a module of their own so that the command's
argument parser reads them without importing the forecasters."""

__all__ = ["MODEL_NAMES", "DEFAULT_ORIGINS", "DEFAULT_CONTEXT", "DEFAULT_TRAIN_FRACTION"]

MODEL_NAMES = ("lstm", "gru", "arima", "stl", "markov", "naive", "seasonal")
"""Models :func:`tsrnn.comparison.make_forecaster` knows, in the order a comparison runs
them."""
DEFAULT_ORIGINS = 200
"""Forecast origins of a comparison, spread over the test part."""
DEFAULT_CONTEXT = 2000
"""Observations before each origin given to the models as context."""
DEFAULT_TRAIN_FRACTION = 0.8
"""Share of the series the models are fitted on."""
