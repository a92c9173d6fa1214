"""tsrnn: recurrent neural network forecasting for time series, with Cython kernels.

>>> from tsrnn import RNNForecaster, ARIMAForecaster, MarkovForecaster, NaiveForecaster
"""

__version__ = "0.1.0"

from tsrnn.forecasters import (ARIMAForecaster, MarkovForecaster,  # noqa: E402
                               NaiveForecaster, RNNForecaster)

__all__ = ["RNNForecaster", "ARIMAForecaster", "MarkovForecaster", "NaiveForecaster",
           "__version__"]
