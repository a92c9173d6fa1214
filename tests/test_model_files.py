"""Hostile and damaged model files: every way a file can be wrong raises one ModelFileError,
before anything large is allocated; saving is atomic.

Each test saves a small fitted RNNForecaster and tampers with the file (``_rewrite`` copies
its zip members, replacing, dropping or adding some). ``read_rnn_model`` is what
``RNNForecaster.load`` reads files with; failures that need no knowledge of the model are also
checked through ``RNNForecaster.load`` and the generic ``read_model``.
"""
import io
import json
import os
import shutil
import time
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

import tsrnn.io
from tsrnn import RNNForecaster
from tsrnn._checks import integer, option
from tsrnn._model_schema import _array_count, check_header, read_rnn_model
from tsrnn.io import ArraySpec, ModelFileError, check_array, read_model, write_model

HEADER = "__header__.npy"
WEIGHT = "m0/network/rnn.weight_ih_l0.npy"


def sine(n=200):
    return np.sin(np.arange(n) / 5.0)


def fitted(**params):
    return RNNForecaster(hidden_size=4, max_epochs=2, random_state=0, **params).fit(sine())


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """A saved two-member LSTM model (read-only: tests tamper with copies)."""
    path = tmp_path_factory.mktemp("model") / "model.tsrnn"
    fitted().save(path)
    return path


@pytest.fixture
def model(original, tmp_path):
    path = tmp_path / "model.tsrnn"
    shutil.copyfile(original, path)
    return path


# ------------------------------------------------------------------ tampering helpers
def npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_header(shape, descr, version=(1, 0)):
    """Just the .npy header of an array of ``shape`` and dtype ``descr`` (no data)."""
    buffer = io.BytesIO()
    write = {(1, 0): np.lib.format.write_array_header_1_0,
             (2, 0): np.lib.format.write_array_header_2_0}[version]
    write(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def members(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def array(path, name):
    return np.lib.format.read_array(io.BytesIO(members(path)[name]))


def header_of(path):
    return json.loads(str(array(path, HEADER)[()]))


def _rewrite(path, replace=None, drop=(), add=None):
    """Rewrite the zip at ``path`` with members replaced, dropped or added (name -> bytes)."""
    contents = members(path)
    contents.update(replace or {})
    for name in drop:
        del contents[name]
    contents.update(add or {})
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return path


def with_header(path, change):
    """Rewrite ``path`` with its JSON header changed by ``change(header)`` (in place)."""
    header = header_of(path)
    change(header)
    return _rewrite(path, {HEADER: npy(np.array(json.dumps(header)))})


def with_array(path, name, change):
    """Rewrite ``path`` with array ``name`` replaced by ``change(array)``."""
    return _rewrite(path, {f"{name}.npy": npy(change(array(path, f"{name}.npy")))})


def raises_model_file_error(match, path, reader=RNNForecaster.load):
    with pytest.raises(ModelFileError, match=match) as info:
        reader(path)
    assert str(path) in str(info.value)  # every message names the file
    return info.value


def peak_bytes(function):
    """Peak memory traced while ``function`` runs (NumPy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        function()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def expect_error(path, reader):
    def run():
        with pytest.raises(ModelFileError):
            reader(path)
    return run


# ------------------------------------------------------------------ valid files still load
def test_error_type_is_one_documented_value_error():
    assert issubclass(ModelFileError, ValueError)
    assert "ModelFileError" in tsrnn.io.__all__
    assert tsrnn.io.MAX_MODEL_BYTES == 2 * 1024 ** 3


def test_round_trip_predicts_identically(tmp_path):
    f = fitted()
    path = tmp_path / "m.tsrnn"
    f.save(path)
    g = RNNForecaster.load(path)
    np.testing.assert_array_equal(g.predict(10), f.predict(10))
    header, arrays = read_rnn_model(path, RNNForecaster)
    assert header["class"] == "RNNForecaster" and "calibration/errors" in arrays


@pytest.mark.parametrize("params, exog, lists", [
    (dict(cell="gru", n_models=1), False, False),
    (dict(cell="rnn", num_layers=2, optimizer="sgd", nonlinearity="relu"), False, False),
    (dict(peephole=True, initial_state="learned", season_length=None), True, False),
    (dict(cell="gru", initial_state="learned", dtype="float64"), False, True),
], ids=["gru", "rnn-2-layers-sgd", "lstm-peephole-learned-exog", "gru-float64-two-series"])
def test_every_kind_of_saved_model_passes_the_schema(tmp_path, params, exog, lists):
    """The schema must accept whatever save writes: cells, layers, optimisers, states."""
    y = [sine(200), sine(150)] if lists else sine(200)
    X = np.cos(np.arange(200) / 7.0)[:, None] if exog else None
    f = RNNForecaster(hidden_size=3, max_epochs=2, random_state=0, **params).fit(y, X)
    path = tmp_path / "m.tsrnn"
    f.save(path)
    header, arrays = read_rnn_model(path, RNNForecaster)
    assert len(arrays) == len(members(path)) - 1 == _array_count(header)
    g = RNNForecaster.load(path)
    X_future = np.cos(np.arange(200, 205) / 7.0)[:, None] if exog else None
    before, after = f.predict(5, X=X_future), g.predict(5, X=X_future)
    for a, b in zip(before if lists else [before], after if lists else [after]):
        np.testing.assert_array_equal(a, b)


def test_calibration_errors_may_hold_nan_but_not_infinity(model):
    assert np.isnan(array(model, "calibration/errors.npy")).any()  # as fitted: NaN is normal
    read_rnn_model(model, RNNForecaster)
    with_array(model, "calibration/errors", lambda a: np.where(np.isnan(a), np.inf, a))
    raises_model_file_error("'calibration/errors' holds infinite values", model)


# ------------------------------------------------------------------ sizes before allocation
def test_extra_deflated_member_is_refused_unread(model):
    """A 200 MB member compressed to a few hundred KB must not be decompressed."""
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(model, "a", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=1) as archive, archive.open("extra.npy", "w") as member:
        member.write(npy_header((200 * len(chunk) // 8,), "<f8"))  # a valid 200 MiB array
        for _ in range(200):
            member.write(chunk)
    assert os.path.getsize(model) < 5_000_000
    peak = peak_bytes(expect_error(model, lambda p: read_rnn_model(p, RNNForecaster)))
    assert peak < 50_000_000
    raises_model_file_error(r"unexpected array\(s\) \['extra'\]", model)


def test_array_header_claiming_1e12_values_is_refused_before_allocating(model):
    """A small member whose .npy header claims 10**12 values (8 TB)."""
    _rewrite(model, {WEIGHT: npy_header((10 ** 12,), "<f8") + bytes(64)})
    for reader in (lambda p: read_model(p, "RNNForecaster"), RNNForecaster.load,
                   lambda p: read_rnn_model(p, RNNForecaster)):
        assert peak_bytes(expect_error(model, reader)) < 50_000_000
    raises_model_file_error(r"claims shape \(1000000000000,\) of float64 \(8000000000000 bytes\)"
                            r" but holds 64 bytes", model, lambda p: read_model(p, "RNNForecaster"))


def test_npy_header_of_huge_claimed_length_is_refused_unread(model):
    """Version 2.0 headers give their length in 4 bytes: NumPy would read 4 GiB of header."""
    magic = np.lib.format.magic(2, 0)
    _rewrite(model, {WEIGHT: magic + (2 ** 31).to_bytes(4, "little") + bytes(100)})
    raises_model_file_error("2147483648-byte .npy header", model, RNNForecaster.load)


def test_total_size_is_checked_in_the_zip_directory_first(model, monkeypatch):
    monkeypatch.setattr(tsrnn.io, "MAX_MODEL_BYTES", 1000)
    raises_model_file_error("more than MAX_MODEL_BYTES=1000", model,
                            lambda p: read_model(p, "RNNForecaster"))


def test_header_larger_than_the_limit_is_refused_unread(model, monkeypatch):
    monkeypatch.setattr(tsrnn.io, "MAX_HEADER_BYTES", 1000)
    raises_model_file_error("more than MAX_HEADER_BYTES=1000", model, RNNForecaster.load)


# ------------------------------------------------------------------ not a model, damaged
@pytest.mark.parametrize("damage", ["text", "npy", "empty", "half", "no-directory-end",
                                    "flipped-byte"])
def test_damaged_or_foreign_files_raise_model_file_error(model, damage):
    data = model.read_bytes()
    if damage == "text":
        model.write_text("a text file\n")
    elif damage == "npy":
        model.write_bytes(npy(np.ones(3)))
    elif damage == "empty":
        model.write_bytes(b"")
    elif damage == "half":
        model.write_bytes(data[:len(data) // 2])
    elif damage == "no-directory-end":
        model.write_bytes(data[:-10])
    else:  # a byte inside the first weight's data: the CRC no longer matches
        with zipfile.ZipFile(model) as archive:
            info = archive.getinfo(WEIGHT)
        # the data follows the local header: 30 bytes, then the name and extra field
        local = data[info.header_offset:info.header_offset + 30]
        start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") \
            + int.from_bytes(local[28:30], "little")
        position = start + info.file_size - 1
        data = bytearray(data)
        data[position] ^= 0xFF
        model.write_bytes(bytes(data))
    raises_model_file_error("not a tsrnn model file", model, RNNForecaster.load)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        RNNForecaster.load(tmp_path / "nothing.tsrnn")


def test_member_that_is_not_an_npy_array_is_refused(model):
    _rewrite(model, add={"notes.txt": b"hello"})
    raises_model_file_error("unexpected member 'notes.txt'", model, RNNForecaster.load)


def test_object_dtype_member_is_refused_before_unpickling(model):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _rewrite(model, {WEIGHT: buffer.getvalue()})
    raises_model_file_error("has dtype object", model, RNNForecaster.load)
    raises_model_file_error("has dtype object", model, lambda p: read_model(p, "RNNForecaster"))


def test_structured_dtype_member_is_refused(model):
    _rewrite(model, {WEIGHT: npy(np.zeros(2, dtype=[("a", "<f8"), ("b", "<i4")]))})
    raises_model_file_error("has dtype", model, RNNForecaster.load)


def test_bzip2_member_is_refused_unread(model):
    """bzip2 and LZMA members decompress a whole read at once: only stored and deflate."""
    contents = members(model)
    with zipfile.ZipFile(model, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_BZIP2 if name == WEIGHT
                             else zipfile.ZIP_STORED)
    raises_model_file_error("unsupported compression", model, RNNForecaster.load)


def test_duplicate_member_is_refused(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate
        with zipfile.ZipFile(model, "a") as archive:
            archive.writestr(WEIGHT, npy(np.zeros((16, 1), np.float32)))
    raises_model_file_error("appears twice", model, RNNForecaster.load)


# ------------------------------------------------------------------ the header
def header_text(model, text):
    return _rewrite(model, {HEADER: npy(np.array(text))})


@pytest.mark.parametrize("text, match", [
    ("[1, 2, 3]", "the header is a JSON list, not an object"),
    ("{not json", "the header is not JSON"),
    ("[" * 100_000 + "]" * 100_000, "nests too deeply"),
    ('{"a": ' * 200 + "1" + "}" * 200, "nests deeper than MAX_HEADER_DEPTH=64"),
], ids=["list", "not-json", "deep-list", "deep-object"])
def test_unreadable_headers_raise_model_file_error(model, text, match):
    header_text(model, text)
    raises_model_file_error(match, model, RNNForecaster.load)


def test_missing_header_and_non_string_header(model):
    _rewrite(model, {HEADER: npy(np.arange(3))})
    raises_model_file_error("'__header__' has dtype int64", model, RNNForecaster.load)
    _rewrite(model, drop=[HEADER])
    raises_model_file_error("no header", model, RNNForecaster.load)


def test_wrong_class_and_future_format_raise_model_file_error(model):
    with_header(model, lambda h: h.update({"class": "ARIMAForecaster"}))
    raises_model_file_error("holds a 'ARIMAForecaster', not a 'RNNForecaster'", model,
                            RNNForecaster.load)
    with_header(model, lambda h: h.update({"class": "RNNForecaster", "format_version": 2}))
    raises_model_file_error("newer tsrnn", model, RNNForecaster.load)
    with_header(model, lambda h: h.update({"format_version": "1"}))
    raises_model_file_error("format_version must be a positive integer", model,
                            RNNForecaster.load)


def _set(*keys, value):
    """A header change setting header[keys[0]][keys[1]]... to ``value``."""
    def change(header):
        target = header
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


@pytest.mark.parametrize("change, match", [
    (_set("params", "hidden_size", value=-1), r"params.hidden_size must be an integer >= 1"),
    (_set("params", "cell", value="gru"),
     r"members\[0\].network.cell='lstm' contradicts the parameter cell='gru'"),
    (_set("params", "unknown", value=1), r"unknown \['unknown'\]"),
    (_set("members", 0, "network", "hidden_size", value=-1),
     r"members\[0\].network.hidden_size must be an integer >= 1"),
    (_set("members", 0, "network", "cell", value="cnn"), r"network.cell must be one of"),
    (_set("members", 0, "representation", value={"kind": ["x"]}), "must be 'level' or"),
    (_set("members", 0, "optimizer", value={"t": -1}), r"optimizer.t must be an integer >= 0"),
    (_set("members", 0, "optimizer", value={"q": 1}), "not the state of a known optimiser"),
    (_set("members", value=[]), "members is empty"),
    (_set("base", "n_series", value=3), "1 layouts for n_series=3"),
    (_set("base", "layouts", 0, "last", value={"period": "x"}), "is not a valid label"),
    (_set("calibration", value=None), "calibration must be a JSON object"),
    (lambda h: h.pop("base"), r"missing \['base'\]"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_header_against_the_schema(model, change, match):
    with_header(model, change)
    raises_model_file_error(match, model)


def test_header_implying_billions_of_arrays_is_refused_before_listing_them(model):
    def change(header):
        for key in ("num_layers",):
            header["params"][key] = 10 ** 9
            for member in header["members"]:
                member["network"][key] = 10 ** 9

    with_header(model, change)
    start = time.perf_counter()
    raises_model_file_error(r"the header describes 24000000023 arrays but the file holds 47",
                            model)
    assert time.perf_counter() - start < 5


def test_check_header_names_the_value():
    schema = {"cell": option("lstm", "gru", "rnn"), "net": {"hidden_size": integer(1)}}
    check_header({"cell": "gru", "net": {"hidden_size": 2}}, schema, "f.tsrnn")
    with pytest.raises(ModelFileError, match=r"f.tsrnn .*header.net.hidden_size must be"):
        check_header({"cell": "gru", "net": {"hidden_size": 0}}, schema, "f.tsrnn")
    with pytest.raises(ModelFileError, match=r"header.net must be a JSON object"):
        check_header({"cell": "gru", "net": 3}, schema, "f.tsrnn")


# ------------------------------------------------------------------ the arrays
def test_missing_member_is_refused(model):
    _rewrite(model, drop=["m1/state/0/c.npy"])
    raises_model_file_error(r"missing array\(s\) \['m1/state/0/c'\]", model)


def test_nan_weight_is_refused(model):
    with_array(model, "m1/network/rnn.weight_hh_l0", lambda a: np.where(a == a.flat[3], np.nan, a))
    raises_model_file_error("'m1/network/rnn.weight_hh_l0' holds NaN or infinite values", model)


def test_zero_scale_is_refused(model):
    with_array(model, "base/y_scale", np.zeros_like)
    raises_model_file_error("'base/y_scale' must be positive", model)


def test_wrong_shaped_mean_is_refused(model):
    with_array(model, "base/y_mean", lambda a: np.zeros((1, 2)))
    raises_model_file_error(r"'base/y_mean' has shape \(1, 2\), expected \(1, 1\)", model)


def relabel_cell(cell):
    def change(header):
        header["params"]["cell"] = cell
        for member in header["members"]:
            member["network"]["cell"] = cell
    return change


def test_cell_that_contradicts_the_stored_weights_is_refused(tmp_path, model):
    """An RNN header over GRU weights: weight_ih_l0 has 3 * hidden rows, an RNN's 1."""
    path = tmp_path / "gru.tsrnn"
    fitted(cell="gru").save(path)
    with_header(path, relabel_cell("rnn"))
    raises_model_file_error(r"rnn.weight_ih_l0' has shape \(12, 1\), expected \(4, 1\) "
                            r"\(header m0/network: cell 'rnn', hidden_size 4", path)
    with_header(model, relabel_cell("gru"))  # LSTM to GRU: the cell states are left over
    raises_model_file_error(r"unexpected array\(s\) \['m0/state/0/c', 'm1/state/0/c'\]", model)


def test_wrong_dtype_is_refused(model):
    with_array(model, "m0/network/head.bias", lambda a: a.astype(np.float64))
    raises_model_file_error("'m0/network/head.bias' has dtype float64, expected float32", model)


def test_read_model_takes_a_mapping_of_expected_arrays(tmp_path):
    path = tmp_path / "m"
    write_model(path, {"class": "Thing"}, {"w": np.ones((2, 3)), "n": np.arange(2)})
    header, arrays = read_model(path, "Thing", expected={
        "w": ArraySpec((None, 3), "float64"), "n": ArraySpec((2,), kinds="i"),
        "optional": ArraySpec(required=False)})
    assert set(arrays) == {"w", "n"}
    with pytest.raises(ModelFileError, match=r"unexpected array\(s\) \['n'\]"):
        read_model(path, "Thing", expected={"w": ArraySpec()})
    with pytest.raises(ModelFileError, match=r"'n' has dtype int64, not one of the kinds 'f'"):
        read_model(path, "Thing", expected={"w": ArraySpec(), "n": ArraySpec(kinds="f")})


def test_check_array_applies_a_spec_to_an_array_in_memory():
    spec = ArraySpec((None, 2), "float64", positive=True)
    check_array(np.ones((3, 2)), spec, "scale", "f.tsrnn")
    for bad, match in [(np.ones((3, 3)), "has shape"), (np.ones((3, 2), np.float32), "dtype"),
                       (np.full((3, 2), np.nan), "NaN"), (-np.ones((3, 2)), "positive")]:
        with pytest.raises(ModelFileError, match=f"f.tsrnn .*'scale' .*{match}"):
            check_array(bad, spec, "scale", "f.tsrnn")


def test_big_endian_arrays_are_read_in_native_byte_order(tmp_path):
    path = tmp_path / "m"
    write_model(path, {"class": "Thing"}, {"w": np.arange(3.0).astype(">f8")})
    _, arrays = read_model(path, "Thing", expected={"w": ArraySpec((3,), "float64")})
    assert arrays["w"].dtype == np.float64 and arrays["w"].dtype.isnative
    np.testing.assert_array_equal(arrays["w"], [0.0, 1.0, 2.0])


# ------------------------------------------------------------------ atomic writes
def test_failed_save_leaves_the_previous_file_and_no_temporary(model, monkeypatch):
    before = model.read_bytes()
    listing = sorted(os.listdir(model.parent))

    def savez_then_fail(handle, **arrays):
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(OSError, match="disk full"):
        fitted(n_models=1).save(model)
    assert model.read_bytes() == before
    assert sorted(os.listdir(model.parent)) == listing


def test_interrupted_save_leaves_no_file_and_no_temporary(tmp_path, monkeypatch):
    def interrupted(handle, **arrays):
        handle.write(b"PK")
        raise KeyboardInterrupt

    f = fitted(n_models=1)
    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        f.save(tmp_path / "new.tsrnn")
    assert os.listdir(tmp_path) == []


def test_save_replaces_the_file_with_the_usual_permissions(model):
    umask = os.umask(0)
    os.umask(umask)
    fitted(n_models=1).save(model)
    assert RNNForecaster.load(model).n_models == 1
    if os.name == "posix":
        assert model.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [name for name in os.listdir(model.parent) if name.endswith(".tmp")] == []


# ------------------------------------------------------------------ layouts that disagree
@pytest.fixture(scope="module")
def indexed_original(tmp_path_factory):
    """A saved model fitted on an hourly Series (read-only)."""
    import pandas as pd

    path = tmp_path_factory.mktemp("indexed") / "model.tsrnn"
    y = pd.Series(sine(), index=pd.date_range("2020-01-01", periods=200, freq="h"), name="y")
    RNNForecaster(hidden_size=4, max_epochs=2, random_state=0).fit(y).save(path)
    return path


@pytest.fixture
def indexed_model(indexed_original, tmp_path):
    path = tmp_path / "indexed.tsrnn"
    shutil.copyfile(indexed_original, path)
    return path


def _layout_value(value):
    from tsrnn.io import label_to_json
    return label_to_json(value)


@pytest.mark.parametrize("key, value, match", [
    ("index_dtype", np.dtype("V8"), "index_dtype=.* is not a dtype this index kind can have"),
    ("index_dtype", np.dtype("S3"), "is not a dtype this index kind can have"),
    ("index_dtype", np.dtype("int64"), "is not a dtype this index kind can have"),
    ("index_kind", None, "a 'series' layout cannot have index_kind=None"),
    ("index_kind", "int", r"last=Timestamp.* is not a label of an index of kind 'int'"),
    ("last", 5, "is not a label of an index of kind 'datetime'"),
    ("step", 3, "is not a step of an index of kind 'datetime'"),
    ("step", "zero hours", "is not a step of an index of kind 'datetime'"),
], ids=lambda v: str(v))
def test_layout_fields_that_disagree_are_refused(indexed_model, key, value, match):
    import pandas as pd

    value = pd.offsets.Hour(0) if value == "zero hours" else value
    with_header(indexed_model, _set("base", "layouts", 0, key, value=_layout_value(value)))
    raises_model_file_error(match, indexed_model)


def test_array_layout_with_an_index_label_is_refused(model):
    import pandas as pd

    with_header(model, _set("base", "layouts", 0, "last",
                            value=_layout_value(pd.Timestamp("2020-01-01"))))
    raises_model_file_error("last must be null for a layout without an index", model)


def test_indexed_model_round_trips(indexed_model):
    loaded = RNNForecaster.load(indexed_model)
    assert str(loaded.predict(2).index[0]) == "2020-01-09 08:00:00"
