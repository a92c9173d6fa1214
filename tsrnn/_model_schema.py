"""What a saved RNNForecaster file must hold, checked before anything is built from it.

:func:`tsrnn.io.read_model` guarantees a well-formed archive: a JSON header of bounded size
and depth, and numeric arrays whose sizes were checked before reading. This module says what a
*valid* RNNForecaster file holds on top of that: the header's keys and their types and ranges
(:func:`check_header` with a schema of constraints, the same ``constraint(value, name)``
callables as :mod:`tsrnn._checks`), and the name, dtype and shape of every array, derived from
the header (:func:`rnn_array_specs`), so that a file whose header contradicts its weights, or
whose weights are NaN, is refused with a :class:`~tsrnn.io.ModelFileError` rather than loaded.

:func:`read_rnn_model` puts both together for ``RNNForecaster.load``.
"""

import numbers
from collections.abc import Mapping
from dataclasses import fields

import numpy as np
import pandas as pd

from tsrnn._checks import boolean, integer, option, real
from tsrnn._input import SeriesLayout
from tsrnn.io import ArraySpec, ModelFileError, label_from_json, model_file_error, read_model
from tsrnn.nn.layers import GRU, LSTM, RNN
from tsrnn.nn.network import CELLS
from tsrnn.nn.optim import OPTIMIZERS

__all__ = ["check_header", "list_of", "number", "text", "label", "json_object",
           "rnn_header_schema", "check_rnn_header", "rnn_array_specs", "read_rnn_model"]


# ------------------------------------------------------------------ schemas of JSON values
def check_header(header, schema, path, name="header"):
    """Check a parsed JSON ``header`` against ``schema``.

    Parameters
    ----------
    header : object
        Parsed JSON.
    schema : dict or callable
        A dict: the value must be a JSON object with exactly these keys, each value checked
        against the schema the key maps to. A callable: a constraint ``(value, name)`` that
        raises TypeError or ValueError (those of :mod:`tsrnn._checks`, or those below).
    path : str or path-like
        The file, named in the error.
    name : str, default="header"
        How the value is named in messages (``header.members[0].network.cell``).

    Raises
    ------
    ModelFileError
        At the first value that does not match, naming it.

    Examples
    --------
    >>> from tsrnn._checks import integer
    >>> schema = {"hidden_size": integer(1)}
    >>> check_header({"hidden_size": -1}, schema, "m.tsrnn")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tsrnn.io.ModelFileError: m.tsrnn ...: header.hidden_size must be an integer >= 1, got -1
    """
    try:
        _check(header, schema, name)
    except ModelFileError:
        raise
    except (TypeError, ValueError) as error:
        raise model_file_error(path, str(error)) from error


def _check(value, schema, name):
    if not isinstance(schema, Mapping):
        schema(value, name)
        return
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a JSON object, got {type(value).__name__}")
    missing = sorted(set(schema) - set(value))
    unknown = sorted(set(value) - set(schema))
    if missing or unknown:
        problems = ([f"missing {missing}"] if missing else []) + (
            [f"unknown {unknown[:10]}"] if unknown else [])
        raise ValueError(f"{name} has the wrong keys: " + "; ".join(problems))
    for key, item_schema in schema.items():
        _check(value[key], item_schema, f"{name}.{key}")


def list_of(schema, allow_none=False):
    """A constraint: a JSON list whose every item matches ``schema`` (or None if allowed)."""
    def check(value, name):
        if value is None and allow_none:
            return value
        if not isinstance(value, list):
            raise TypeError(f"{name} must be a list, got {type(value).__name__}")
        for i, item in enumerate(value):
            _check(item, schema, f"{name}[{i}]")
        return value

    return check


def number(allow_none=False):
    """A constraint: any real number, NaN and infinities included (a diverged loss is kept)."""
    def check(value, name):
        if value is None and allow_none:
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        return value

    return check


def text():
    """A constraint: a string."""
    def check(value, name):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {type(value).__name__}")
        return value

    return check


def label():
    """A constraint: a value :func:`tsrnn.io.label_from_json` restores (index labels, names)."""
    def check(value, name):
        try:
            return label_from_json(value)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
            raise ValueError(f"{name} is not a valid label: {error!r}") from error

    return check


def json_object():
    """A constraint: a JSON object (its keys checked elsewhere)."""
    def check(value, name):
        if not isinstance(value, dict):
            raise TypeError(f"{name} must be a JSON object, got {type(value).__name__}")
        return value

    return check


# ------------------------------------------------------------------ RNNForecaster header
_NETWORK = {
    "cell": option(*CELLS), "n_targets": integer(1), "n_exog": integer(0),
    "hidden_size": integer(1), "num_layers": integer(1), "peephole": boolean(),
    "reset_after": boolean(), "nonlinearity": option("tanh", "relu"), "residual": boolean(),
    "initial_state": option("zeros", "learned"), "dtype": option("float32", "float64"),
}
_LEVEL = {"kind": option("level")}
_SEASONAL = {"kind": option("seasonal"), "period": real(1, low_open=True),
             "n_seasons": integer(1), "mean": list_of(real()),
             "scale": list_of(real(0, low_open=True))}
_HISTORY = {"loss_curve": list_of(number()), "validation_scores": list_of(number(), True),
            "best_validation_score": number(True), "initial_validation_score": number(True),
            "n_iter": integer(0), "best_iteration": integer(0, allow_none=True)}
# SeriesLayout's fields are labels apart from these; listing the rest from the dataclass keeps
# the schema in step with it.
_LAYOUT_FIELDS = {"kind": option("series", "frame", "1d", "2d"),
                  "index_kind": option(None, "datetime", "timedelta", "period", "range", "int"),
                  "n_seen": integer(0)}
_LAYOUT = {f.name: _LAYOUT_FIELDS.get(f.name, label()) for f in fields(SeriesLayout)}


def _layout(value, name):
    """A constraint: a layout record whose fields are each valid and agree with each other."""
    _check(value, _LAYOUT, name)
    layout = {key: label_from_json(item) for key, item in value.items()}
    kind, index_kind = layout["kind"], layout["index_kind"]
    if (kind in ("series", "frame")) != (index_kind is not None):
        raise ValueError(f"{name}: a {kind!r} layout cannot have index_kind={index_kind!r}")
    if index_kind is None:
        for key in ("last", "step", "index_dtype"):
            if layout[key] is not None:
                raise ValueError(f"{name}.{key} must be null for a layout without an index")
        return value
    expected = _INDEX_LABELS[index_kind]
    if not isinstance(layout["last"], expected["last"]) or isinstance(layout["last"], bool):
        raise ValueError(f"{name}.last={layout['last']!r} is not a label of an index of kind "
                         f"{index_kind!r}")
    step = layout["step"]
    if not isinstance(step, expected["step"]) or isinstance(step, bool) or step == 0 * step:
        raise ValueError(f"{name}.step={step!r} is not a step of an index of kind {index_kind!r}")
    _check_index_dtype(layout["index_dtype"], expected["dtype_kinds"], f"{name}.index_dtype")
    return value


# What each index kind's last label, step and dtype may be (a damaged file must not produce
# forecasts on an index of another kind, or fail inside pandas).
_INDEX_LABELS = {
    "datetime": {"last": pd.Timestamp, "step": pd.offsets.BaseOffset, "dtype_kinds": "M"},
    "timedelta": {"last": pd.Timedelta, "step": (pd.offsets.BaseOffset, pd.Timedelta),
                  "dtype_kinds": "m"},
    "period": {"last": pd.Period, "step": (pd.offsets.BaseOffset, numbers.Integral),
               "dtype_kinds": ""},
    "range": {"last": numbers.Integral, "step": numbers.Integral, "dtype_kinds": ""},
    "int": {"last": numbers.Integral, "step": numbers.Integral, "dtype_kinds": "iu"},
}


def _check_index_dtype(dtype, kinds, name):
    """``dtype`` is None or a dtype of one of the numpy ``kinds`` (M: datetimes, with a time
    zone too; m: timedeltas; i/u: integers, nullable ones too)."""
    if dtype is None:
        return
    if not kinds or not isinstance(dtype, (np.dtype, pd.api.extensions.ExtensionDtype)):
        raise ValueError(f"{name}={dtype!r} is not a dtype this index kind can have")
    kind = getattr(getattr(dtype, "numpy_dtype", None), "kind", None) or dtype.kind
    if kind not in kinds:
        raise ValueError(f"{name}={dtype!r} is not a dtype this index kind can have")


def _panel(value, name):
    """A constraint: null, or the keys and form of a panel (one key per series)."""
    if value is None:
        return value
    _check(value, {"keys": list_of(label()), "form": option("dict", "long")}, name)
    keys = label_from_json(value["keys"])
    if len(set(keys)) != len(keys):
        raise ValueError(f"{name}.keys has a key twice")
    return value


_BASE = {"n_series": integer(1), "n_targets": integer(1), "n_exog": integer(0),
         "target_names": label(), "exog_names": label(), "list_input": boolean(),
         "layouts": list_of(_layout), "panel": _panel}


_REPRESENTATIONS = {"level": _LEVEL, "seasonal": _SEASONAL}


def _representation(value, name):
    """A constraint: a representation's config, against the schema of its kind."""
    kind = value.get("kind") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in _REPRESENTATIONS:
        raise ValueError(f"{name}.kind must be 'level' or 'seasonal', got {kind!r}")
    _check(value, _REPRESENTATIONS[kind], name)


def _params(forecaster_class):
    """A constraint: the constructor parameters, each restored from JSON and checked by the
    class's own ``_parameter_constraints`` (so ``hidden_size=-1`` fails as in ``fit``)."""
    names = set(forecaster_class._get_param_names())
    constraints = forecaster_class._parameter_constraints

    def check(value, name):
        json_object()(value, name)
        missing, unknown = sorted(names - set(value)), sorted(set(value) - names)
        if missing or unknown:
            raise ValueError(f"{name} are not {forecaster_class.__name__}'s parameters: "
                             f"missing {missing}, unknown {unknown[:10]}")
        for key in sorted(names):
            restored = label()(value[key], f"{name}.{key}")
            if key in constraints:
                constraints[key](restored, f"{name}.{key}")
        return value

    return check


def rnn_header_schema(forecaster_class):
    """The schema of an RNNForecaster file's header, for :func:`check_header`.

    Parameters
    ----------
    forecaster_class : type
        RNNForecaster or a subclass: its parameters and their constraints.
    """
    member = {"network": _NETWORK, "representation": _representation,
              "seasons": list_of(real(1, low_open=True)), "history": _HISTORY,
              "optimizer": json_object()}
    return {"class": text(), "params": _params(forecaster_class), "base": _BASE,
            "members": list_of(member),
            "calibration": {"errors": boolean(), "held_out": boolean()},
            "past": {"n_past": integer(0)},
            "format_version": integer(1), "tsrnn_version": text()}


def check_rnn_header(header, forecaster_class, path):
    """Check an RNNForecaster header: its schema, then what its parts must agree on.

    Raises
    ------
    ModelFileError
        Naming the first value that is wrong, e.g. ``hidden_size=-1``, or a member's network
        whose cell, size or columns contradict the parameters or the data.
    """
    check_header(header, rnn_header_schema(forecaster_class), path)
    params, base, members = header["params"], header["base"], header["members"]
    if not members:
        raise model_file_error(path, "header.members is empty")
    if len(base["layouts"]) != base["n_series"]:
        raise model_file_error(path, f"header.base has {len(base['layouts'])} layouts for n_series="
                             f"{base['n_series']}")
    if header["past"]["n_past"] and base["n_exog"] < header["past"]["n_past"] + 1:
        raise model_file_error(path, f"header.past.n_past={header['past']['n_past']} needs "
                               f"n_past + 1 exogenous columns, header.base has "
                               f"n_exog={base['n_exog']}")
    if base["panel"] is not None and len(base["panel"]["keys"]) != base["n_series"]:
        raise model_file_error(path, f"header.base.panel has {len(base['panel']['keys'])} keys "
                               f"for n_series={base['n_series']}")
    for k, member in enumerate(members):
        network, where = member["network"], f"header.members[{k}]"
        for key in ("cell", "hidden_size", "num_layers"):
            if network[key] != params[key]:
                raise model_file_error(path, f"{where}.network.{key}={network[key]!r} contradicts "
                                     f"the parameter {key}={params[key]!r}")
        for key in ("n_targets", "n_exog"):
            if network[key] != base[key]:
                raise model_file_error(path, f"{where}.network.{key}={network[key]} contradicts "
                                     f"header.base.{key}={base[key]}")
        representation = member["representation"]
        if representation["kind"] == "seasonal" and not (
                len(representation["mean"]) == len(representation["scale"])
                == base["n_targets"]):
            raise model_file_error(path, f"{where}.representation needs mean and scale of "
                                 f"n_targets={base['n_targets']} values")
        try:
            _optimizer_lists(member["optimizer"], f"{where}.optimizer")
        except (TypeError, ValueError) as error:
            raise model_file_error(path, str(error)) from error


def _optimizer_lists(state, name):
    """The list names of the optimiser whose state ``state`` (its counters) is."""
    for optimizer in OPTIMIZERS.values():
        prototype = optimizer([], learning_rate=1.0).state_dict()
        counters = {key for key, value in prototype.items() if not isinstance(value, list)}
        if set(state) == counters:
            for key in counters:
                integer(0)(state[key], f"{name}.{key}")
            return [key for key, value in prototype.items() if isinstance(value, list)]
    raise ValueError(f"{name} is not the state of a known optimiser: keys {sorted(state)[:10]}")


# ------------------------------------------------------------------ RNNForecaster arrays
_GATES = {"lstm": LSTM.gate_count, "gru": GRU.gate_count, "rnn": RNN.gate_count}
# A file lacking up to this many of the arrays its header implies has them listed (and named
# as missing); one lacking more is refused by count, before a huge listing is built.
_MISSING_LISTED = 1000


def _network_shapes(config):
    """Parameter name -> shape of the network ``config`` describes, in the order of
    ``RecurrentNetwork.parameters()`` (the order of the optimiser's lists)."""
    H, L = config["hidden_size"], config["num_layers"]
    G, D = _GATES[config["cell"]] * H, config["n_targets"]
    peephole = config["cell"] == "lstm" and config["peephole"]
    shapes = {}
    for k in range(L):
        inputs = D + config["n_exog"] if k == 0 else H
        shapes.update({f"rnn.weight_ih_l{k}": (G, inputs), f"rnn.weight_hh_l{k}": (G, H),
                       f"rnn.bias_ih_l{k}": (G,), f"rnn.bias_hh_l{k}": (G,)})
        if peephole:
            shapes.update({f"rnn.weight_c{gate}_l{k}": (H,) for gate in "ifo"})
    shapes.update({"head.weight": (D, H), "head.bias": (D,)})
    if config["initial_state"] == "learned":
        shapes.update({f"init.{part}": (L, H)
                       for part in ("h", "c")[:1 + (config["cell"] == "lstm")]})
    return shapes


def _array_count(header):
    """How many arrays the header implies, by arithmetic (nothing is listed)."""
    base = header["base"]
    count = (2 + 2 * (base["n_exog"] > 0) + header["calibration"]["errors"]
             + 3 * (header["past"]["n_past"] > 0))
    for member in header["members"]:
        network = member["network"]
        per_layer = 4 + 3 * (network["cell"] == "lstm" and network["peephole"])
        parameters = (network["num_layers"] * per_layer + 2
                      + (network["initial_state"] == "learned") * (1 + (network["cell"] == "lstm")))
        lists = len(_optimizer_lists(member["optimizer"], "optimizer"))
        count += parameters * (1 + lists) + base["n_series"] * (3 + (network["cell"] == "lstm"))
    return count


def rnn_array_specs(header, names=None):
    """Array name -> :class:`~tsrnn.io.ArraySpec` for a checked RNNForecaster ``header``.

    Every shape follows from the header: the scaling is (n_series, n_targets), a member's
    weights follow its network (``weight_ih_l0`` has 4, 3 or 1 times ``hidden_size`` rows for
    LSTM, GRU or RNN), its optimiser moments the weights, its states the network. Only the
    calibration errors may hold NaN.

    Parameters
    ----------
    header : dict
        Checked by :func:`check_rnn_header`.
    names : set of str, optional
        The arrays the file holds. A header implying far more arrays than that is refused
        before they are listed (a header of a few kilobytes could claim billions).

    Raises
    ------
    ValueError
        If ``names`` is given and holds far fewer arrays than the header implies.
    """
    if names is not None:
        count = _array_count(header)
        if count > len(names) + _MISSING_LISTED:
            raise ValueError(f"the header describes {count} arrays but the file holds "
                             f"{len(names)}")
    base = header["base"]
    S, D, E = base["n_series"], base["n_targets"], base["n_exog"]
    scaling = "header.base: n_series, n_targets, n_exog"
    specs = {"base/y_mean": ArraySpec((S, D), "float64", source=scaling),
             "base/y_scale": ArraySpec((S, D), "float64", positive=True, source=scaling),
             # a fit with exogenous columns stores their scaling (E > 0 implies one)
             "base/X_mean": ArraySpec((S, E), "float64", required=E > 0, source=scaling),
             "base/X_scale": ArraySpec((S, E), "float64", positive=True, required=E > 0,
                                       source=scaling)}
    for k, member in enumerate(header["members"]):
        specs.update(_member_specs(member, f"m{k}/", S))
    if header["calibration"]["errors"]:
        specs["calibration/errors"] = ArraySpec((None, None, D), "float64", allow_nan=True,
                                                source="header.base.n_targets")
    P = header["past"]["n_past"]
    if P:
        past = "header.base.n_series, header.past.n_past"
        specs.update({"past/mean": ArraySpec((S, P), "float64", source=past),
                      "past/scale": ArraySpec((S, P), "float64", positive=True, source=past),
                      "past/last": ArraySpec((S, P), "float64", allow_nan=True, source=past)})
    return specs


def _member_specs(member, prefix, n_series):
    network = member["network"]
    dtype, H, L = network["dtype"], network["hidden_size"], network["num_layers"]
    source = (f"header {prefix}network: cell {network['cell']!r}, hidden_size {H}, "
              f"num_layers {L}, n_targets {network['n_targets']}, n_exog {network['n_exog']}")
    shapes = _network_shapes(network)
    specs = {f"{prefix}network/{name}": ArraySpec(shape, dtype, source=source)
             for name, shape in shapes.items()}
    for list_name in _optimizer_lists(member["optimizer"], "optimizer"):
        specs.update({f"{prefix}optimizer/{list_name}/{i}": ArraySpec(shape, dtype, source=source)
                      for i, shape in enumerate(shapes.values())})
    D = network["n_targets"]
    for i in range(n_series):
        state = f"{prefix}state/{i}/"
        for part in ("h", "c")[:1 + (network["cell"] == "lstm")]:
            specs[state + part] = ArraySpec((L, 1, H), dtype, source=source)
        specs[state + "last"] = ArraySpec((D,), "float64", source=source)
        specs[state + "known"] = ArraySpec((None, D), "float64", source=source)
    return specs


def read_rnn_model(path, forecaster_class):
    """Read and check an RNNForecaster file: ``(header, arrays)`` that ``load`` can trust.

    Parameters
    ----------
    path : str or path-like
    forecaster_class : type
        The class loading it (RNNForecaster or a subclass), whose name the file must record.

    Returns
    -------
    header : dict
    arrays : dict of str to ndarray

    Raises
    ------
    ModelFileError
        If :func:`tsrnn.io.read_model` refuses the file, the header does not match
        :func:`rnn_header_schema` or contradicts itself, or an array is unexpected, missing,
        of the wrong dtype or shape for the header, NaN or infinite (the calibration errors
        may hold NaN), or a scale is not positive.
    """
    def expected(header, names):
        check_rnn_header(header, forecaster_class, path)
        return rnn_array_specs(header, names)

    return read_model(path, forecaster_class.__name__, expected=expected)
