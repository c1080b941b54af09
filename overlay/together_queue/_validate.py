"""Checks on user arguments, before any I/O: a clear TypeError/ValueError naming the argument."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final


def _non_empty_str(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    return value


def model_name(value: object, name: str = "model") -> str:
    """A non-empty model identifier."""
    return _non_empty_str(value, name)


def request_id(value: object, name: str = "request_id") -> str:
    """A non-empty request id as returned by submit."""
    return _non_empty_str(value, name)


def json_mapping(value: object, name: str) -> Mapping[str, Any]:
    """A mapping with string keys (not copied); its values are checked by `encode_json`."""
    # A dict first: the ABC check is a Python call, and every submit makes one or two.
    if type(value) is not dict and not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping (a JSON object), got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"{name} keys must be str, got {key!r}")
    return value


_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
"""The request-body encoder, built once: `json.dumps` with options builds one a call.

Safe to share between threads: an `encode` keeps its circular-reference table to itself.
"""


def encode_json(value: object, name: str) -> bytes:
    """`value` as the UTF-8 JSON a request sends; ValueError naming `name` if JSON cannot carry it.

    Compact, not ASCII-escaped, no NaN or Infinity: the encoding httpx gives `json=`
    bodies. A lone surrogate cannot be UTF-8 and is refused here too.
    """
    try:
        return _ENCODER.encode(value).encode()
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise ValueError(f"{name} is not JSON-serialisable: {exc}") from None
    except RecursionError:
        # json gives up at the recursion limit (~1,000 levels before 3.13, later ones go deeper).
        raise ValueError(f"{name} is nested too deeply to send as JSON") from None


def json_object(value: object, name: str) -> dict[str, Any]:
    """A mapping with string keys whose contents JSON can carry (no NaN, no sets, no bytes)."""
    checked = dict(json_mapping(value, name))
    encode_json(checked, name)
    return checked


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def priority(value: object) -> int:
    """An int (not a bool) job priority that fits in 64 bits, as the spec's `int64` says."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"priority must be an int, got {type(value).__name__}")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"priority must fit in 64 bits (-2**63 to 2**63 - 1), got {value}")
    return value


def positive_int(value: object, name: str) -> int:
    """An int >= 1, e.g. a concurrency limit."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def non_negative_int(value: object, name: str) -> int:
    """An int >= 0, e.g. a retry count."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def optional_seconds(value: object, name: str) -> float | None:
    """None, or a non-negative number of seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if value < 0 or value != value:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return float(value)
