"""Saving and loading without pickle (io.py): the file format and the JSON form of labels."""
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from pandas.tseries.frequencies import to_offset

from tsrnn.io import FORMAT_VERSION, label_from_json, label_to_json, read_model, write_model


# ------------------------------------------------------------------ file format
def test_write_then_read_gives_header_and_arrays_back(tmp_path):
    path = tmp_path / "model.tsrnn"
    arrays = {"a": np.arange(6.0).reshape(2, 3), "b/c": np.array([1, 2], np.int32),
              "f32": np.ones(3, np.float32)}
    write_model(path, {"class": "Thing", "params": {"x": 1, "y": None}}, arrays)
    assert path.exists() and not (tmp_path / "model.tsrnn.npz").exists()  # exactly as named
    header, back = read_model(path, "Thing")
    assert header["params"] == {"x": 1, "y": None}
    assert header["format_version"] == FORMAT_VERSION and "tsrnn_version" in header
    assert set(back) == set(arrays)
    for name, value in arrays.items():
        np.testing.assert_array_equal(back[name], value)
        assert back[name].dtype == value.dtype


def test_file_is_readable_without_pickle(tmp_path):
    path = tmp_path / "m.tsrnn"
    write_model(path, {"class": "Thing"}, {"w": np.zeros(2)})
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["__header__"]))["class"] == "Thing"


def test_reading_the_wrong_class_raises(tmp_path):
    path = tmp_path / "m.tsrnn"
    write_model(path, {"class": "NaiveForecaster"}, {})
    with pytest.raises(ValueError, match="holds a 'NaiveForecaster', not a 'RNNForecaster'"):
        read_model(path, "RNNForecaster")


def _not_a_model(tmp_path, kind):
    path = tmp_path / f"file.{kind}"
    if kind == "txt":
        path.write_text("just some text\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "npz":
        np.savez(path, weights=np.ones(3))
    elif kind == "npy":
        with open(path, "wb") as handle:
            np.save(handle, np.ones(3))
    elif kind == "pickle-npy":
        with open(path, "wb") as handle:
            np.save(handle, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return path


@pytest.mark.parametrize("kind", ["npz", "txt", "empty", "npy", "pickle-npy"])
def test_reading_a_file_that_is_not_a_model_raises_value_error(tmp_path, kind):
    """Whatever the file holds, the error is a ValueError that says it is not a model."""
    path = _not_a_model(tmp_path, kind)
    with pytest.raises(ValueError, match="not a tsrnn model"):
        read_model(path, "RNNForecaster")


def test_reading_a_newer_format_raises(tmp_path):
    path = tmp_path / "m.tsrnn"
    header = {"class": "Thing", "format_version": FORMAT_VERSION + 1, "tsrnn_version": "99"}
    with open(path, "wb") as handle:
        np.savez(handle, __header__=np.array(json.dumps(header)))
    with pytest.raises(ValueError, match="newer"):
        read_model(path, "Thing")


def test_header_that_is_not_json_serialisable_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="cannot be saved"):
        write_model(tmp_path / "m", {"class": "Thing", "params": {"f": print}}, {})


def test_reserved_array_name_raises(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        write_model(tmp_path / "m", {"class": "Thing"}, {"__header__": np.zeros(1)})


# ------------------------------------------------------------------ labels
LABELS = [
    None, True, False, "name", 3, np.int64(7), 2.5, np.float32(0.5),
    pd.Timestamp("2024-01-01 03:00"), pd.Timestamp("2024-03-31 01:00", tz="Europe/Paris"),
    pd.Timedelta("250ms"), pd.Period("2024-03", freq="M"), pd.Period("2000Q1", freq="Q"),
    pd.Index(["a", "b"]), pd.Index([3, 1, 2]), np.dtype("datetime64[ns]"),
    pd.DatetimeTZDtype("ns", "UTC"), np.dtype("int64"), (2, 4), (0.9, 0.5),
]


@pytest.mark.parametrize("label", LABELS, ids=[repr(v) for v in LABELS])
def test_labels_round_trip_through_json(label):
    text = json.dumps(label_to_json(label))
    back = label_from_json(json.loads(text))
    if isinstance(label, pd.Index):
        assert back.equals(label) and back.dtype == label.dtype
    else:
        assert back == label and type(back) is type(label) or (
            isinstance(label, (np.integer, np.floating)) and back == label)


@pytest.mark.parametrize("freq", ["h", "15min", "D", "B", "W-SAT", "ME", "QE-DEC", "YS", "250ms"])
def test_offsets_round_trip_through_json(freq):
    offset = to_offset(freq)
    assert label_from_json(json.loads(json.dumps(label_to_json(offset)))) == offset


@pytest.mark.parametrize("freq", ["h", "D", "ME"])
def test_saving_offsets_raises_no_deprecation_warning(freq):
    """label_to_json must recognise offsets in a way pandas will keep supporting."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        label_to_json(to_offset(freq))


def test_unsupported_labels_raise_value_error():
    with pytest.raises(ValueError, match="cannot save a label"):
        label_to_json(object())
    with pytest.raises(ValueError, match="unknown label record"):
        label_from_json({"what": 1})
