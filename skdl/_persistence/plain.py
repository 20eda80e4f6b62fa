"""Fitted state as plain data: JSON values plus a table of numeric arrays.

The safe model format (:mod:`skdl._persistence.mixin`) stores everything but tensors as
JSON and never unpickles anything, so what it can store is spelled out here:
JSON's own types, tuples, dicts with any plain keys, NumPy scalars and arrays
(numeric arrays go to the tensor table, object and string arrays to JSON),
pandas DataFrames, and instances of an explicit allow-list of classes
(scikit-learn's scalers and encoders, skdl's encoders and augmenters, torch
activation and optimizer classes by name). Decoding looks classes up in that
allow-list only: a file can name no other class, so loading runs no code
that skdl did not choose. Anything else raises :class:`Unstorable`.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import torch
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OrdinalEncoder,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)

from .. import augment
from ..finetune import TransferReport
from ..tabular._encoding import MedianImputer, RobustSmoothClip, TabularEncoder

__all__ = ["Unstorable", "decode", "encode", "fingerprint"]

TAG = "__skdl__"

#: Classes whose instances are stored as their attribute dict and rebuilt
#: without calling ``__init__`` (as pickle does, but from this list only).
STATE_CLASSES = {
    "sklearn.pipeline.Pipeline": Pipeline,
    "sklearn.preprocessing.StandardScaler": StandardScaler,
    "sklearn.preprocessing.RobustScaler": RobustScaler,
    "sklearn.preprocessing.MinMaxScaler": MinMaxScaler,
    "sklearn.preprocessing.QuantileTransformer": QuantileTransformer,
    "sklearn.preprocessing.OrdinalEncoder": OrdinalEncoder,
    "skdl.tabular.MedianImputer": MedianImputer,
    "skdl.tabular.RobustSmoothClip": RobustSmoothClip,
    "skdl.tabular.TabularEncoder": TabularEncoder,
    "skdl.finetune.TransferReport": TransferReport,
}
_STATE_NAMES = {cls: name for name, cls in STATE_CLASSES.items()}

#: Classes stored as their parameters and rebuilt by calling the class.
PARAM_CLASSES = {
    f"skdl.augment.{name}": getattr(augment, name)
    for name in augment.__all__
    if isinstance(getattr(augment, name), type)
}

#: Namespaces whose classes (activations, optimizers) are stored by name.
CLASS_NAMESPACES = {"torch.nn": torch.nn, "torch.optim": torch.optim}

#: Array dtype kinds that go to the tensor table: bool, ints, floats.
NUMERIC_KINDS = "biuf"


class Unstorable(TypeError):
    """A value that the safe format cannot store as plain data."""

    def __init__(self, where: str, value) -> None:
        self.where = where
        self.kind = (
            type(value).__name__
            if not isinstance(value, type)
            else (f"class {value.__module__}.{value.__qualname__}")
        )
        super().__init__(f"{where} holds a {self.kind}, which skdl cannot store")


def _class_name(value) -> str | None:
    """``"torch.nn.GELU"`` for a class reachable by name in a namespace."""
    for prefix, namespace in CLASS_NAMESPACES.items():
        name = getattr(value, "__name__", None)
        if name and getattr(namespace, name, None) is value:
            return f"{prefix}.{name}"
    return None


def encode(value, arrays: dict, where: str = "value"):
    """Plain-data form of ``value``; numeric arrays are added to ``arrays``.

    Parameters
    ----------
    value : object
        What to store.
    arrays : dict of str to ndarray
        Receives the numeric arrays, under the keys the result refers to.
    where : str, default="value"
        The value's name, for :class:`Unstorable`'s message.

    Returns
    -------
    plain : object
        JSON-serializable data that :func:`decode` turns back into ``value``.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int) and type(value) is int:
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {TAG: "float", "value": repr(value)}
    if isinstance(value, np.generic):
        dtype = value.dtype
        if dtype.kind not in NUMERIC_KINDS + "U":
            raise Unstorable(where, value)
        return {TAG: "scalar", "dtype": dtype.str, "value": encode(value.item(), {})}
    if isinstance(value, list):
        return [encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        items = [encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
        return {TAG: "tuple", "items": items}
    if isinstance(value, dict):
        items = [
            [encode(k, arrays, f"{where} key"), encode(v, arrays, f"{where}[{k!r}]")]
            for k, v in value.items()
        ]
        return {TAG: "dict", "items": items}
    if isinstance(value, np.ndarray):
        return _encode_array(value, arrays, where)
    if isinstance(value, torch.Tensor):
        return {
            TAG: "tensor",
            "array": _encode_array(value.detach().cpu().numpy(), arrays, where),
        }
    if isinstance(value, pd.DataFrame):
        return _encode_frame(value, arrays, where)
    if isinstance(value, np.dtype):
        return {TAG: "dtype", "name": value.str}
    if isinstance(value, type) and issubclass(value, np.generic):
        return {TAG: "dtype_class", "name": np.dtype(value).str}
    if isinstance(value, type) and _class_name(value) is not None:
        return {TAG: "class", "name": _class_name(value)}
    name = _STATE_NAMES.get(type(value))
    if name is not None:
        state = encode(dict(vars(value)), arrays, where)
        return {TAG: "object", "class": name, "state": state}
    public = "skdl.augment." + type(value).__name__
    if PARAM_CLASSES.get(public) is type(value):
        params = encode(value.get_params(deep=False), arrays, where)
        return {TAG: "estimator", "class": public, "params": params}
    raise Unstorable(where, value)


def _encode_array(array: np.ndarray, arrays: dict, where: str) -> dict:
    if array.dtype.kind in NUMERIC_KINDS:
        key = f"array.{len(arrays)}"
        # A C-ordered, native-endian, writable copy, as torch.from_numpy wants.
        arrays[key] = np.array(array, dtype=array.dtype.newbyteorder("="), order="C")
        return {TAG: "ndarray", "key": key}
    if array.dtype.kind not in "OU":
        raise Unstorable(where, array)
    items = [encode(v, arrays, f"{where} item") for v in array.ravel().tolist()]
    return {
        TAG: "array",
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "items": items,
    }


def _encode_frame(frame: pd.DataFrame, arrays: dict, where: str) -> dict:
    return {
        TAG: "frame",
        "columns": encode(list(frame.columns), arrays, where),
        "index": _encode_array(frame.index.to_numpy(), arrays, where),
        "index_name": encode(frame.index.name, arrays, where),
        "values": [
            _encode_array(frame[c].to_numpy(), arrays, f"{where}[{c!r}]")
            for c in frame.columns
        ],
    }


class FormatError(ValueError):
    """The stored data does not have the form :func:`encode` writes."""


def decode(plain, arrays: dict):
    """The value that :func:`encode` turned into ``plain``.

    Parameters
    ----------
    plain : object
        JSON data written by :func:`encode`.
    arrays : dict of str to ndarray
        The numeric arrays it refers to.

    Returns
    -------
    value : object
        The original value.

    Raises
    ------
    FormatError
        If ``plain`` names a class outside the allow-lists or is malformed.
    """
    if isinstance(plain, list):
        return [decode(v, arrays) for v in plain]
    if not isinstance(plain, dict):
        return plain
    kind = plain.get(TAG)
    try:
        return _DECODERS[kind](plain, arrays)
    except KeyError as exc:
        raise FormatError(f"unknown or incomplete entry ({exc})") from exc
    except (TypeError, ValueError) as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(f"malformed {kind!r} entry ({exc})") from exc


def _decode_array(plain: dict, arrays: dict) -> np.ndarray:
    if plain[TAG] == "ndarray":
        return arrays[plain["key"]]
    items = [decode(v, arrays) for v in plain["items"]]
    dtype = np.dtype(plain["dtype"])
    if dtype.kind not in "OU":
        raise FormatError(f"array of dtype {dtype} stored as JSON")
    out = np.empty(len(items), dtype=dtype)
    out[:] = items
    return out.reshape(plain["shape"])


def _decode_object(plain: dict, arrays: dict):
    cls = STATE_CLASSES.get(plain["class"])
    if cls is None:
        raise FormatError(f"class {plain['class']!r} is not one skdl stores")
    state = decode(plain["state"], arrays)
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise FormatError(f"malformed state of {plain['class']!r}")
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


def _decode_estimator(plain: dict, arrays: dict):
    cls = PARAM_CLASSES.get(plain["class"])
    if cls is None:
        raise FormatError(f"class {plain['class']!r} is not one skdl stores")
    return cls(**decode(plain["params"], arrays))


def _decode_class(plain: dict, arrays: dict):
    prefix, _, name = plain["name"].rpartition(".")
    value = getattr(CLASS_NAMESPACES[prefix], name, None)
    if not isinstance(value, type):
        raise FormatError(f"{plain['name']!r} is not a class")
    return value


def _decode_frame(plain: dict, arrays: dict) -> pd.DataFrame:
    columns = decode(plain["columns"], arrays)
    values = [_decode_array(v, arrays) for v in plain["values"]]
    index = pd.Index(_decode_array(plain["index"], arrays), name=plain["index_name"])
    return pd.DataFrame(dict(zip(columns, values)), index=index, columns=columns)


_DECODERS = {
    "float": lambda p, a: float(p["value"]),
    "scalar": lambda p, a: np.dtype(p["dtype"]).type(decode(p["value"], a)),
    "tuple": lambda p, a: tuple(decode(v, a) for v in p["items"]),
    "dict": lambda p, a: {decode(k, a): decode(v, a) for k, v in p["items"]},
    "ndarray": _decode_array,
    "array": _decode_array,
    "tensor": lambda p, a: torch.from_numpy(np.array(_decode_array(p["array"], a))),
    "frame": _decode_frame,
    "dtype": lambda p, a: np.dtype(p["name"]),
    "dtype_class": lambda p, a: np.dtype(p["name"]).type,
    "class": _decode_class,
    "object": _decode_object,
    "estimator": _decode_estimator,
}


def fingerprint(value) -> str:
    """A SHA-256 hex digest of ``value``'s plain-data form, arrays included.

    Parameters
    ----------
    value : object
        Anything :func:`encode` can store.

    Returns
    -------
    digest : str
        Equal for equal values (same arrays, same dtypes).
    """
    arrays: dict = {}
    plain = encode(value, arrays)
    digest = hashlib.sha256(json.dumps(plain, sort_keys=True).encode())
    for key in sorted(arrays):
        array = arrays[key]
        digest.update(f"{key}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
