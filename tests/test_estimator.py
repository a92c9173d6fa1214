"""The scikit-learn parameter protocol of the forecasters, and what `import tsrnn` loads."""
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from tsrnn import ARIMAForecaster, NaiveForecaster, RNNForecaster


def test_get_and_set_params_follow_the_signature():
    f = RNNForecaster(hidden_size=8)
    params = f.get_params()
    assert params["hidden_size"] == 8 and list(params) == sorted(params)
    assert f.set_params(cell="gru", hidden_size=4) is f
    assert (f.cell, f.hidden_size) == ("gru", 4)
    with pytest.raises(ValueError, match="invalid parameter 'hiden_size'"):
        f.set_params(hiden_size=3)


def test_clone_gives_an_unfitted_copy_with_the_same_params():
    f = NaiveForecaster(strategy="mean").fit(np.arange(10.0))
    copy = clone(f)
    assert copy.get_params() == f.get_params() and copy is not f
    with pytest.raises(NotFittedError):
        copy.predict(1)


def test_repr_shows_the_parameters_that_differ_from_their_defaults():
    assert repr(NaiveForecaster()) == "NaiveForecaster()"
    assert repr(ARIMAForecaster(order=(1, 0, 0))) == "ARIMAForecaster(order=(1, 0, 0))"


def test_importing_tsrnn_leaves_the_heavy_libraries_for_later():
    code = ("import sys, tsrnn; heavy = [m for m in ('sklearn', 'statsmodels', 'matplotlib', "
            "'tqdm', 'scoringrules', 'joblib') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd="/").stdout.strip()
    assert out == "[]"
