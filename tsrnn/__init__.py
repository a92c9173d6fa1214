"""tsrnn: recurrent neural network forecasting for time series, with Cython kernels.

>>> from tsrnn import RNNForecaster, ARIMAForecaster, MarkovForecaster, NaiveForecaster
"""

__version__ = "0.1.0"

from tsrnn._threads import get_num_threads, set_num_threads  # noqa: E402
from tsrnn.forecasters import (ARIMAForecaster, MarkovForecaster,  # noqa: E402
                               NaiveForecaster, RNNForecaster, STLForecaster)

__all__ = ["RNNForecaster", "ARIMAForecaster", "STLForecaster", "MarkovForecaster", "NaiveForecaster",
           "set_num_threads", "get_num_threads", "__version__"]
