"""Brief descriptions of user values, for error messages.

A message that echoes a user's value with ``repr`` can run to megabytes (a
module's repr, a state dict of tensors). Every message that names a value
the user passed goes through :func:`describe_value`, which gives its type
and a short summary, capped at :data:`MAX_CHARS` characters.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager

import torch
from sklearn.utils._param_validation import InvalidParameterError

__all__ = ["MAX_CHARS", "brief_parameter_errors", "describe_error", "describe_value"]

#: Longest description of a value that a message echoes.
MAX_CHARS = 80


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_value(value, limit: int = MAX_CHARS) -> str:
    """A short description of ``value``: its repr if short, else type and size.

    Parameters
    ----------
    value : object
        Anything a user passed.
    limit : int, default=MAX_CHARS
        Longest description returned.

    Returns
    -------
    text : str
        ``repr(value)`` for short scalars, strings and paths (strings cut at
        ``limit``); otherwise the type and a summary, e.g. ``"an
        EfficientNet module (3,371,000 parameters)"`` or ``"a dict of 312
        tensors"``.
    """
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        return _cap(repr(value), limit)
    if isinstance(value, os.PathLike):
        return _cap(repr(os.fspath(value)), limit)
    if isinstance(value, type):
        return _cap(f"the class {value.__name__}", limit)
    name = type(value).__name__
    if isinstance(value, torch.nn.Module):
        n = sum(p.numel() for p in value.parameters())
        return _cap(f"a {name} module ({n:,} parameters)", limit)
    if isinstance(value, torch.Tensor):
        return _cap(f"a tensor of shape {tuple(value.shape)}", limit)
    if isinstance(value, dict):
        n_tensors = sum(isinstance(v, torch.Tensor) for v in value.values())
        what = "tensors" if n_tensors == len(value) and value else "entries"
        return _cap(f"a {name} of {len(value)} {what}", limit)
    if isinstance(value, list | tuple | set | frozenset):
        short = repr(value)
        if len(short) <= limit and "\n" not in short:
            return short
        return _cap(f"a {name} of {len(value)} items", limit)
    if hasattr(value, "get_params"):  # an estimator
        return _cap(f"{name}(...)", limit)
    short = repr(value)
    if len(short) <= limit and "\n" not in short:
        return short
    return _cap(f"a {name} object", limit)


_GOT = re.compile(r"^The '(?P<name>\w+)' parameter of (?P<owner>\w+) must be ")


@contextmanager
def brief_parameter_errors(estimator):
    """Re-raise scikit-learn's parameter errors with the value described briefly.

    :class:`~sklearn.utils._param_validation.InvalidParameterError` ends its
    message with ``Got <repr of the value> instead.``; the repr of a module
    or a state dict fills screens. The message is rebuilt with
    :func:`describe_value`.
    """
    try:
        yield
    except InvalidParameterError as exc:
        message = str(exc)
        match = _GOT.match(message)
        got = message.find(". Got ", match.end()) if match else -1
        if match is None or got < 0:
            raise
        value = estimator.get_params(deep=False).get(match["name"])
        raise InvalidParameterError(
            f"{message[:got]}. Got {describe_value(value)} instead."
        ) from None


def describe_error(exc: BaseException) -> str:
    """``"Type: first sentence"`` of an exception, for one-line messages."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text.split(". ", 1)[0]
    if len(text) > 150:
        text = text[:147] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
