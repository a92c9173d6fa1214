"""Saving and loading fitted forecasters without pickle.

A saved model is one file in NumPy's ``.npz`` format: named arrays (weights, scaling, states,
optimiser moments) plus a JSON header (class, package version, parameters, index bookkeeping)
stored as a string array ``__header__``.

Model files may come from anyone, so :func:`read_model` trusts nothing in them. It never
unpickles, reads only the archive members it expects, checks every size in the zip directory
and in each array's ``.npy`` header before allocating anything (a small file cannot make it
allocate gigabytes), checks each array's name, dtype and shape against what the caller expects,
and reports every problem as one :class:`ModelFileError` naming the file. :func:`write_model`
writes atomically: an interrupted save leaves the previous file (or none), never half a file.
"""

import contextlib
import io
import json
import math
import os
import reprlib
import struct
import tokenize
import uuid
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

__all__ = ["ModelFileError", "ArraySpec", "write_model", "read_model", "check_array",
           "FORMAT_VERSION", "MAX_MODEL_BYTES", "MAX_HEADER_BYTES", "MAX_HEADER_DEPTH"]

FORMAT_VERSION = 1
_HEADER = "__header__"

#: Most bytes :func:`read_model` reads from one file: the arrays' uncompressed sizes together,
#: checked in the zip directory before any is read.
MAX_MODEL_BYTES = 2 * 1024 ** 3
#: Most bytes the ``__header__`` member may take (its text is stored as UTF-32, so about four
#: million characters: a model of tens of thousands of series).
MAX_HEADER_BYTES = 16 * 1024 ** 2
#: Deepest nesting of JSON objects and lists in a header; written headers nest under ten deep.
MAX_HEADER_DEPTH = 64
# Longest .npy header (dict text) read: NumPy's own limit for untrusted files.
_NPY_HEADER_LIMIT = 10_000
# .npy versions read: the format of the header's length field, and NumPy's header parser.
_NPY_READERS = {(1, 0): ("<H", np.lib.format.read_array_header_1_0),
                (2, 0): ("<I", np.lib.format.read_array_header_2_0)}
# Arrays are read in chunks of this many bytes, so reading never holds a second copy.
_CHUNK = 1 << 20
# Stored and deflated members decompress in bounded steps; bzip2 and LZMA members would
# decompress a whole read at once (an unbounded allocation), and np.savez writes neither.
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# What a damaged or foreign archive raises from zipfile, zlib and the .npy reader.
# NotImplementedError: zipfile's word for archive features it does not read (a newer
# "version needed to extract", flag bits it does not know)
_DAMAGED = (zipfile.BadZipFile, EOFError, OSError, zlib.error, struct.error, ValueError,
            NotImplementedError)

_repr = reprlib.Repr()  # hostile names and values can be huge: messages show a bounded repr
_repr.maxstring = _repr.maxother = 80
_repr.maxlist = 10


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not a tsrnn model, damaged, too large, of another
    class or a newer format, or holding arrays or values no fitted model has.

    The message names the file and the problem. It is a ValueError, as the errors of
    :func:`read_model` always were.
    """


def _not_a_model(path, problem):
    return ModelFileError(f"{path} is not a tsrnn model file ({problem})")


def model_file_error(path, problem):
    """The :class:`ModelFileError` saying what is wrong with the file at ``path``."""
    return ModelFileError(f"{path} is not a valid tsrnn model file: {problem}")


@dataclass(frozen=True)
class ArraySpec:
    """What one array of a model file must be, checked before it is read (dtype, shape) and
    after (values).

    Parameters
    ----------
    shape : tuple of (int or None), optional
        The shape; None on an axis allows any length there. None allows any shape.
    dtype : str or numpy.dtype, optional
        The dtype (in either byte order). None allows any dtype of one of ``kinds``.
    kinds : str, default="biuf"
        NumPy dtype kinds allowed: ``b`` bool, ``i``/``u`` integers, ``f`` floats. Object,
        structured and other dtypes are refused whatever this says.
    finite : bool, default=True
        Floating values must be finite.
    allow_nan : bool, default=False
        With ``finite``, NaN is allowed (infinities still are not): e.g. errors whose truth lies
        past the end of a series.
    positive : bool, default=False
        Every value must be > 0 (scales).
    required : bool, default=True
        The file must hold the array.
    source : str, default=""
        Where the expectation comes from, quoted when the array does not match it.
    """

    shape: tuple = None
    dtype: object = None
    kinds: str = "biuf"
    finite: bool = True
    allow_nan: bool = False
    positive: bool = False
    required: bool = True
    source: str = ""


# Without expectations from the caller: any numeric array, values unchecked.
_ANY = ArraySpec(finite=False)
_HEADER_SPEC = ArraySpec(shape=(), kinds="U", finite=False)


# ------------------------------------------------------------------ writing
def _header_text(header):
    from tsrnn import __version__

    header = dict(header, format_version=FORMAT_VERSION, tsrnn_version=__version__)
    try:
        return json.dumps(header)
    except TypeError as error:
        raise ValueError(f"the model cannot be saved: {error}. Parameters must be plain "
                         f"numbers, strings, lists or None (not callables or generators)") \
            from error


def write_model(path, header, arrays):
    """Write ``arrays`` (name -> ndarray) and the JSON-serialisable ``header`` to ``path``.

    The file is written to a temporary file in the same directory, flushed to disk and then
    renamed onto ``path``, so that an interrupted or failed save leaves whatever ``path`` held
    before (and no temporary file).

    Parameters
    ----------
    path : str or path-like
        The file written, exactly as named (no suffix is added).
    header : dict
    arrays : dict of str to ndarray

    Raises
    ------
    ValueError
        If the header is not JSON-serialisable or an array uses the reserved name.
    """
    text = _header_text(header)
    if _HEADER in arrays:
        raise ValueError(f"array name {_HEADER!r} is reserved")
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    # A hidden name next to the target: os.replace is atomic only within one file system.
    temporary = os.path.join(directory, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
    # O_EXCL never reuses someone else's file; mode 0o666 lets the umask decide, like open().
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(handle, **{_HEADER: np.array(text)}, **arrays)
            handle.flush()
            os.fsync(handle.fileno())  # the data is on disk before the name points at it
        os.replace(temporary, path)
    except BaseException:  # KeyboardInterrupt included: never leave the temporary file
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(directory)


def _sync_directory(directory):
    """Make the rename itself durable (POSIX; elsewhere directories cannot be opened)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


# ------------------------------------------------------------------ reading
def read_model(path, expected_class, expected=None):
    """Read what :func:`write_model` wrote; returns ``(header, arrays)``.

    Parameters
    ----------
    path : str or path-like
    expected_class : str
        The class name the header must record.
    expected : mapping or callable, optional
        The arrays the file must hold: a mapping from array name to :class:`ArraySpec`, or a
        callable ``expected(header, names)`` returning one, given the parsed header (class and
        format already checked) and the set of array names in the file; a ValueError or
        TypeError it raises becomes a ModelFileError. A member it does not name is refused
        unread. Without it every array is read, checked only to be numeric and within the
        size limits.

    Returns
    -------
    header : dict
    arrays : dict of str to ndarray

    Raises
    ------
    ModelFileError
        If the file is not a zip archive of ``.npy`` members with a JSON header, is damaged or
        truncated, exceeds :data:`MAX_MODEL_BYTES`, :data:`MAX_HEADER_BYTES` or
        :data:`MAX_HEADER_DEPTH`, records another class or a newer format, or holds an array
        that is unexpected, missing, or of the wrong dtype, shape or values.
    OSError
        If ``path`` cannot be opened at all (missing, a directory, no permission).
    """
    with open(path, "rb") as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                return _read_archive(archive, path, expected_class, expected)
        except ModelFileError:
            raise
        except RecursionError as error:  # a .npy header nesting past the parser
            raise model_file_error(path, "an array header nests too deeply") from error
        except _DAMAGED as error:
            raise ModelFileError(f"{path} is not a tsrnn model file or is damaged "
                                 f"({type(error).__name__}: {error})") from error


def _read_archive(archive, path, expected_class, expected):
    members = _members(archive, path)
    header = _read_header(archive, members.pop(_HEADER, None), path)
    _check_identity(header, expected_class, path)
    specs = _specs(expected, header, frozenset(members), path)
    chosen = _choose(members, specs, path)
    total = sum(info.file_size for info, _ in chosen.values())
    if total > MAX_MODEL_BYTES:
        raise model_file_error(path, f"its arrays take {total} bytes, more than MAX_MODEL_BYTES="
                             f"{MAX_MODEL_BYTES}")
    arrays = {name: _read_array(archive, info, spec, name, path)
              for name, (info, spec) in chosen.items()}
    return header, arrays


def _members(archive, path):
    """Array name -> ZipInfo, from the zip directory alone (nothing is decompressed)."""
    members = {}
    for info in archive.infolist():
        name = info.filename
        if not name.endswith(".npy") or name == ".npy":
            raise model_file_error(path, f"unexpected member {_repr.repr(name)} (not an .npy array)")
        if name[:-4] in members:
            raise model_file_error(path, f"member {_repr.repr(name)} appears twice")
        if info.flag_bits & 0x1:
            raise model_file_error(path, f"member {_repr.repr(name)} is encrypted")
        if info.compress_type not in _COMPRESSIONS:
            raise model_file_error(path, f"member {_repr.repr(name)} uses an unsupported compression "
                                 f"(method {info.compress_type})")
        members[name[:-4]] = info
    return members


def _read_header(archive, info, path):
    if info is None:
        raise _not_a_model(path, "no header")
    if info.file_size > MAX_HEADER_BYTES:
        raise model_file_error(path, f"its header takes {info.file_size} bytes, more than "
                             f"MAX_HEADER_BYTES={MAX_HEADER_BYTES}")
    text = str(_read_array(archive, info, _HEADER_SPEC, _HEADER, path)[()])
    try:
        header = json.loads(text)
    except RecursionError as error:
        raise model_file_error(path, "its header nests too deeply") from error
    except ValueError as error:
        raise _not_a_model(path, f"the header is not JSON: {error}") from error
    if not isinstance(header, dict):
        raise _not_a_model(path, f"the header is a JSON {type(header).__name__}, not an object")
    # Code reading the header recurses into it; bound the depth once for all of it.
    if _too_deep(header, MAX_HEADER_DEPTH):
        raise model_file_error(path, f"its header nests deeper than MAX_HEADER_DEPTH="
                             f"{MAX_HEADER_DEPTH}")
    return header


def _too_deep(value, limit):
    """Whether JSON ``value`` nests lists and objects more than ``limit`` deep (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _check_identity(header, expected_class, path):
    """The class and format version, checked before anything else in the header is used."""
    found = header.get("class")
    if found != expected_class:
        raise ModelFileError(f"{path} holds a {_repr.repr(found)}, not a {expected_class!r}")
    version = header.get("format_version")
    if type(version) is not int or version < 1:
        raise model_file_error(path, f"format_version must be a positive integer, got "
                             f"{_repr.repr(version)}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path} was written by a newer tsrnn "
                             f"({_repr.repr(header.get('tsrnn_version'))}, format {version}); "
                             f"upgrade tsrnn to read it")


def _specs(expected, header, names, path):
    if expected is None or not callable(expected):
        return expected
    try:
        return expected(header, names)
    except ModelFileError:
        raise
    except (TypeError, ValueError) as error:
        raise model_file_error(path, str(error)) from error


def _choose(members, specs, path):
    """Name -> (ZipInfo, ArraySpec) of the members to read, refusing any unexpected one."""
    if specs is None:
        return {name: (info, _ANY) for name, info in members.items()}
    unexpected = sorted(set(members) - set(specs))
    if unexpected:
        raise model_file_error(path, f"unexpected array(s) {_repr.repr(unexpected)}")
    missing = sorted(name for name, spec in specs.items()
                     if spec.required and name not in members)
    if missing:
        raise model_file_error(path, f"missing array(s) {_repr.repr(missing)}")
    return {name: (info, specs[name]) for name, info in members.items()}


def _read_array(archive, info, spec, name, path):
    """One member as an array: its .npy header checked against ``spec`` and against the
    member's size in the zip directory before its data is allocated and read."""
    with archive.open(info) as stream:
        shape, fortran_order, dtype, offset = _read_npy_header(stream, name, path)
        _check_meta(shape, dtype, spec, name, path)
        nbytes = math.prod(shape) * dtype.itemsize
        if offset + nbytes != info.file_size:
            raise model_file_error(path, f"array {name!r} claims shape {shape} of {dtype} ({nbytes} "
                                 f"bytes) but holds {info.file_size - offset} bytes of data")
        array = _read_data(stream, nbytes, dtype, shape, fortran_order, name, path)
    _check_values(array, spec, name, path)
    return array


def _read_npy_header(stream, name, path):
    """(shape, fortran_order, dtype, bytes before the data) of the .npy stream ``stream``.

    The header's length is checked before the header is read: NumPy's own reader would read
    a header of any claimed length (up to 4 GiB) before refusing it.
    """
    version = np.lib.format.read_magic(stream)
    if version not in _NPY_READERS:
        raise model_file_error(path, f"array {name!r} has unsupported .npy version {version}")
    length_format, reader = _NPY_READERS[version]
    length_bytes = stream.read(struct.calcsize(length_format))
    (length,) = struct.unpack(length_format, length_bytes)
    if length > _NPY_HEADER_LIMIT:
        raise model_file_error(path, f"array {name!r} has a {length}-byte .npy header, more than "
                             f"{_NPY_HEADER_LIMIT}")
    text = stream.read(length)
    try:
        shape, fortran_order, dtype = reader(io.BytesIO(length_bytes + text))
    except (ValueError, SyntaxError, TypeError, tokenize.TokenError) as error:
        raise model_file_error(path, f"array {name!r} has an invalid .npy header ({error})") from error
    return shape, fortran_order, dtype, stream.tell()


def _check_meta(shape, dtype, spec, name, path):
    """The dtype and shape from an array's .npy header against ``spec``."""
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None \
            or dtype.kind not in spec.kinds:
        raise model_file_error(path, f"array {name!r} has dtype {dtype}, not one of the kinds "
                             f"{spec.kinds!r}")
    if spec.dtype is not None and dtype.newbyteorder("=") != np.dtype(spec.dtype):
        raise model_file_error(path, f"array {name!r} has dtype {dtype}, expected {spec.dtype}"
                             + (f" ({spec.source})" if spec.source else ""))
    if any(type(n) is not int or n < 0 for n in shape):
        raise model_file_error(path, f"array {name!r} has an invalid shape {_repr.repr(shape)}")
    if spec.shape is not None and (len(shape) != len(spec.shape) or any(
            want is not None and n != want for n, want in zip(shape, spec.shape))):
        wanted = "(" + ", ".join("any" if n is None else str(n) for n in spec.shape) + ")"
        raise model_file_error(path, f"array {name!r} has shape {shape}, expected {wanted}"
                             + (f" ({spec.source})" if spec.source else ""))


def _read_data(stream, nbytes, dtype, shape, fortran_order, name, path):
    """Read exactly ``nbytes`` into one preallocated buffer, then view it as the array."""
    raw = np.empty(nbytes, np.uint8)
    view = memoryview(raw)
    filled = 0
    while filled < nbytes:
        count = stream.readinto(view[filled:filled + _CHUNK])
        if not count:
            raise model_file_error(path, f"array {name!r} ends after {filled} of {nbytes} bytes")
        filled += count
    array = raw.view(dtype).reshape(shape, order="F" if fortran_order else "C")
    return array.astype(dtype.newbyteorder("="), copy=False)  # native byte order for kernels


def _check_values(array, spec, name, path):
    if array.dtype.kind == "f" and spec.finite:
        bad = np.isinf(array) if spec.allow_nan else ~np.isfinite(array)
        if bad.any():
            what = "infinite" if spec.allow_nan else "NaN or infinite"
            raise model_file_error(path, f"array {name!r} holds {what} values")
    if spec.positive and not np.all(array > 0):
        raise model_file_error(path, f"array {name!r} must be positive everywhere")


def check_array(array, spec, name, path):
    """Check an array already in memory against ``spec`` as :func:`read_model` does.

    Parameters
    ----------
    array : ndarray
    spec : ArraySpec
    name : str
        The array's name in messages.
    path : str or path-like
        The file it came from, in messages.

    Raises
    ------
    ModelFileError
        If its dtype, shape or values do not match ``spec``.
    """
    if not isinstance(array, np.ndarray):
        raise model_file_error(path, f"{name!r} is a {type(array).__name__}, not an array")
    _check_meta(array.shape, array.dtype, spec, name, path)
    _check_values(array, spec, name, path)
    return array


# ------------------------------------------------------------------ JSON for pandas labels
# Offsets whose freqstr drops parameters ("C" for every CustomBusinessDay whatever its
# holidays, "bh" for any opening hours): saved with the parameters that name their calendar,
# besides n, normalize and the time shift every business offset has.
_OFFSET_PARAMS = {
    "CustomBusinessDay": ("weekmask", "holidays"),
    "BusinessHour": ("start", "end"),
    "CustomBusinessHour": ("weekmask", "holidays", "start", "end"),
    "CustomBusinessMonthEnd": ("weekmask", "holidays"),
    "CustomBusinessMonthBegin": ("weekmask", "holidays"),
}


def _freqstr_restores(offset):
    try:
        return to_offset(offset.freqstr) == offset
    except (ValueError, TypeError):  # e.g. "<DateOffset: months=1>" is no alias
        return False


def _offset_to_json(offset):
    """``{"offset": freqstr}``, plus the parameters when the alias alone would lose them."""
    if _freqstr_restores(offset):
        return {"offset": offset.freqstr}
    name = type(offset).__name__
    if getattr(pd.offsets, name, None) is not type(offset) or name not in _OFFSET_PARAMS:
        raise ValueError(f"cannot save the offset {offset!r}: its alias {offset.freqstr!r} "
                         f"does not restore it")
    record = {"offset": offset.freqstr, "class": name, "n": int(offset.n),
              "normalize": bool(offset.normalize), "shift": int(pd.Timedelta(offset.offset).value)}
    for key in _OFFSET_PARAMS[name]:
        record[key] = _offset_param_to_json(key, getattr(offset, key))
    return record


def _offset_param_to_json(key, value):
    if key == "weekmask":
        return str(value)
    if key == "holidays":  # np.datetime64 days, as ISO dates
        return [str(day) for day in np.asarray(value, dtype="datetime64[D]")]
    return [t.strftime("%H:%M") for t in value]  # start, end: opening times (hours, minutes)


# The JSON type of each field of a full offset record (lists hold strings). Its "offset", the
# alias, is for people reading the header: the other fields rebuild the offset.
_OFFSET_FIELD_TYPES = {"offset": str, "n": int, "normalize": bool, "shift": int,
                       "weekmask": str, "holidays": list, "start": list, "end": list}


def _offset_from_json(value):
    """Inverse of :func:`_offset_to_json`; ValueError or TypeError for a malformed record."""
    if "class" not in value:
        return to_offset(value["offset"])
    name = value["class"]
    if name not in _OFFSET_PARAMS:
        raise ValueError(f"unknown offset class {name!r}; expected one of "
                         f"{sorted(_OFFSET_PARAMS)}")
    expected = {"offset", "class", "n", "normalize", "shift", *_OFFSET_PARAMS[name]}
    if set(value) != expected:
        raise ValueError(f"the {name} record has keys {sorted(value)}, expected "
                         f"{sorted(expected)}")
    for key in expected - {"class"}:
        kind = _OFFSET_FIELD_TYPES[key]
        # type() rather than isinstance(): True is an int, and n=True is no offset's n
        if type(value[key]) is not kind or (
                kind is list and not all(isinstance(v, str) for v in value[key])):
            raise TypeError(f"the {name} record's {key!r} must be "
                            f"{'a list of strings' if kind is list else kind.__name__}, got "
                            f"{value[key]!r:.80}")
    params = {key: value[key] for key in _OFFSET_PARAMS[name]}
    return getattr(pd.offsets, name)(n=value["n"], normalize=value["normalize"],
                                     offset=pd.Timedelta(value["shift"], unit="ns"), **params)


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
        return _offset_to_json(value)
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
        return _offset_from_json(value)
    if "index" in value:
        return pd.Index([label_from_json(v) for v in value["index"]], dtype=value["dtype"])
    if "dtype" in value:
        return pd.api.types.pandas_dtype(value["dtype"])
    if "tuple" in value:
        return tuple(label_from_json(v) for v in value["tuple"])
    raise ValueError(f"unknown label record {value!r}")
