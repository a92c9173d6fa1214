"""Saving and loading fitted forecasters without pickle.

A saved model is one file in NumPy's ``.npz`` format: named arrays (weights, scaling, states,
optimiser moments) plus a JSON header (class, package version, parameters, index bookkeeping)
stored as a string array. It is read with ``allow_pickle=False``, so loading a file never runs
code from it.
"""

import json

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

__all__ = ["write_model", "read_model", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_HEADER = "__header__"


def write_model(path, header, arrays):
    """Write ``arrays`` (name -> ndarray) and the JSON-serialisable ``header`` to ``path``.

    Parameters
    ----------
    path : str or path-like
        The file written, exactly as named (no suffix is added).
    header : dict
    arrays : dict of str to ndarray
    """
    from tsrnn import __version__

    header = dict(header, format_version=FORMAT_VERSION, tsrnn_version=__version__)
    try:
        text = json.dumps(header)
    except TypeError as error:
        raise ValueError(f"the model cannot be saved: {error}. Parameters must be plain "
                         f"numbers, strings, lists or None (not callables or generators)") \
            from error
    if _HEADER in arrays:
        raise ValueError(f"array name {_HEADER!r} is reserved")
    with open(path, "wb") as handle:
        np.savez(handle, **{_HEADER: np.array(text)}, **arrays)


def read_model(path, expected_class):
    """Read what ``write_model`` wrote; returns ``(header, arrays)``.

    Raises ValueError when the file is not a tsrnn model of ``expected_class`` or comes from
    a newer format.
    """
    not_a_model = f"{path} is not a tsrnn model file"
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{not_a_model} ({type(error).__name__})") from error
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{not_a_model} (a single array, not an archive)")
    with data:
        if _HEADER not in data.files:
            raise ValueError(f"{not_a_model} (no header)")
        try:
            header = json.loads(str(data[_HEADER]))
            arrays = {name: data[name] for name in data.files if name != _HEADER}
        except ValueError as error:
            raise ValueError(f"{not_a_model} ({error})") from error
    if header.get("class") != expected_class:
        raise ValueError(f"{path} holds a {header.get('class')!r}, not a {expected_class!r}")
    if header.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer tsrnn ({header.get('tsrnn_version')}); "
                         f"upgrade tsrnn to read it")
    return header, arrays


# ------------------------------------------------------------------ JSON for pandas labels
def label_to_json(value):
    """A JSON form of an index label, offset or dtype that ``label_from_json`` restores."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, pd.Timestamp):
        return {"timestamp": value.isoformat()}
    if isinstance(value, pd.Timedelta):
        return {"timedelta": int(value.value)}
    if isinstance(value, pd.Period):
        return {"period": str(value), "freq": value.freqstr}
    if isinstance(value, pd.offsets.BaseOffset):
        return {"offset": value.freqstr}
    if isinstance(value, pd.Index):
        return {"index": [label_to_json(v) for v in value], "dtype": str(value.dtype)}
    if isinstance(value, np.dtype) or isinstance(value, pd.api.extensions.ExtensionDtype):
        return {"dtype": str(value)}
    if isinstance(value, tuple):
        return {"tuple": [label_to_json(v) for v in value]}
    if isinstance(value, list):
        return [label_to_json(v) for v in value]
    raise ValueError(f"cannot save a label of type {type(value).__name__}: {value!r}")


def label_from_json(value):
    """Inverse of ``label_to_json``."""
    if isinstance(value, list):
        return [label_from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "timestamp" in value:
        return pd.Timestamp(value["timestamp"])
    if "timedelta" in value:
        return pd.Timedelta(value["timedelta"], unit="ns")
    if "period" in value:
        return pd.Period(value["period"], freq=value["freq"])
    if "offset" in value:
        return to_offset(value["offset"])
    if "index" in value:
        return pd.Index([label_from_json(v) for v in value["index"]], dtype=value["dtype"])
    if "dtype" in value:
        return pd.api.types.pandas_dtype(value["dtype"])
    if "tuple" in value:
        return tuple(label_from_json(v) for v in value["tuple"])
    raise ValueError(f"unknown label record {value!r}")
