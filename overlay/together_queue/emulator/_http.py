"""Request checks shared by every route: auth, body limits, JSON, typed fields, QueueErrors."""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive

from together_queue._json import MAX_JSON_DEPTH, nesting_exceeds, reject_constant
from together_queue_api.models import QueueError
from together_queue_api.types import UNSET

if TYPE_CHECKING:
    from together_queue.emulator.runtime import Runtime

__all__ = [
    "ApiError",
    "Endpoint",
    "drain",
    "error_response",
    "is_authorized",
    "optional_int",
    "optional_object",
    "query_digits",
    "query_string",
    "read_json_object",
    "require_string",
    "runtime_of",
    "unauthorized",
]

Endpoint = Callable[[Request], Awaitable[Response]]
"""A route's handler."""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_TOO_DEEP = f"request body nests objects and arrays deeper than {MAX_JSON_DEPTH} levels"


class ApiError(Exception):
    """An error answer: HTTP status plus the fields of a spec `QueueError` body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Describe the error; `extra` adds keys to the body (internal API only)."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.type_ = type_
        self.param = param
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def error_response(err: ApiError) -> JSONResponse:
    """The JSON response for `err`, built through the generated `QueueError` model."""
    model = QueueError(
        code=err.code,
        message=err.message,
        type_=err.type_,
        param=UNSET if err.param is None else err.param,
    )
    model.additional_properties.update(err.extra)
    return JSONResponse(model.to_dict(), status_code=err.status, headers=err.headers)


def _invalid(code: str, message: str, param: str | None) -> NoReturn:
    raise ApiError(400, code, message, param=param)


def is_authorized(authorization: str, api_keys: tuple[str, ...]) -> bool:
    """Whether an `Authorization` header value passes (always, when auth is off)."""
    if not api_keys:
        return True
    scheme, _, token = authorization.partition(" ")
    presented = token.strip().encode()
    matched = False
    if scheme.lower() == "bearer" and presented:
        for key in api_keys:
            # Compare with every key, in constant time, so timing reveals nothing.
            matched |= hmac.compare_digest(presented, key.encode())
    return matched


def unauthorized() -> ApiError:
    """The 401 for a call without a good key."""
    return ApiError(
        401,
        "invalid_api_key",
        "missing or invalid API key: send Authorization: Bearer <key>",
        type_="authentication_error",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def runtime_of(request: Request) -> Runtime:
    """The emulator's `Runtime`, started if no lifespan started it (in process)."""
    runtime = cast("Runtime", request.app.state.runtime)
    # In process (httpx.ASGITransport) nobody sends lifespan events: start on first use.
    await runtime.ensure_started()
    return runtime


async def drain(receive: Receive) -> None:
    """Read a request body to its end (for layers that answer without the route)."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "request_too_large",
        f"request body exceeds {limit} bytes",
        type_="invalid_request_error",
    )


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as inf, which no JSON can hold
        raise ValueError(f"number {text} is out of range")
    return value


_STRICT = json.JSONDecoder(parse_constant=reject_constant, parse_float=_finite)
"""The decoder of every body: `json.loads` with hooks would build a new one per call."""


def _parse_body(raw: bytes) -> Any:
    r"""`raw` decoded as `json.loads` decodes bytes, strictly; 400 for what cannot be stored.

    The checks that walk or re-encode the value run only when the text could fail them:
    a value nests no deeper than the text has brackets, and a lone surrogate comes
    from a `\u` escape or a character outside ASCII.
    """
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        data = _STRICT.decode(text)
    except RecursionError:
        _invalid("invalid_json", _TOO_DEEP, None)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        _invalid("invalid_json", f"request body is not valid JSON: {exc}", None)
    if not text.isascii() or "\\u" in text:
        try:
            # A lone surrogate ("\ud800") parses, but SQLite cannot bind it and no UTF-8
            # answer can carry it: refuse it here rather than 500 on every later read of it.
            json.dumps(data, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            _invalid(
                "invalid_json", "request body holds a lone UTF-16 surrogate (\\ud800-\\udfff)", None
            )
        except RecursionError:
            _invalid("invalid_json", _TOO_DEEP, None)
    if text.count("{") + text.count("[") > MAX_JSON_DEPTH and nesting_exceeds(data, MAX_JSON_DEPTH):
        # Deeper values parse, but re-encoding them on every later status read could
        # hit the recursion limit: refuse them here, before anything is stored.
        _invalid("invalid_json", _TOO_DEEP, None)
    return data


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """Read the body (413 past `limit` bytes) as a JSON object (400 otherwise)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    mime = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if mime != "application/json" and not (
        mime.startswith("application/") and mime.endswith("+json")
    ):
        _invalid(
            "invalid_content_type",
            f"Content-Type must be application/json, not {mime or 'absent'!r}",
            None,
        )
    chunks: list[bytes] = []
    size = 0
    # Count streamed bytes too: a chunked body has no Content-Length to trust.
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    data = _parse_body(b"".join(chunks))
    if not isinstance(data, dict):
        _invalid("invalid_json", "request body must be a JSON object", None)
    return data


def require_string(data: Mapping[str, Any], name: str) -> str:
    """The non-empty string field `name` of a JSON body (400 naming it otherwise)."""
    if name not in data:
        _invalid("missing_parameter", f"{name} is required", name)
    value = data[name]
    if not isinstance(value, str):
        _invalid("invalid_type", f"{name} must be a string", name)
    if not value:
        _invalid("invalid_value", f"{name} must not be empty", name)
    return value


def optional_object(
    data: Mapping[str, Any], name: str, *, required: bool = False
) -> dict[str, Any] | None:
    """The JSON-object field `name` (None when absent and not required)."""
    if name not in data:
        if required:
            _invalid("missing_parameter", f"{name} is required", name)
        return None
    value = data[name]
    if not isinstance(value, dict):
        _invalid("invalid_type", f"{name} must be a JSON object", name)
    return value


def optional_int(data: Mapping[str, Any], name: str, default: int) -> int:
    """The 64-bit integer field `name`.

    As in JSON Schema, a number with a zero fraction (`5.0`) is an integer; booleans
    and other fractions are not.
    """
    if name not in data:
        return default
    value = data[name]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        _invalid("invalid_type", f"{name} must be an integer", name)
    if not INT64_MIN <= value <= INT64_MAX:
        _invalid("invalid_value", f"{name} must fit in 64 bits", name)
    return value


def query_string(request: Request, name: str) -> str:
    """The non-empty query parameter `name` (400 naming it otherwise)."""
    value = request.query_params.get(name)
    if value is None:
        _invalid("missing_parameter", f"query parameter {name} is required", name)
    if not value:
        _invalid("invalid_value", f"query parameter {name} must not be empty", name)
    return value


def query_digits(request: Request, name: str, max_digits: int) -> int | None:
    """The query parameter `name` as 1 to `max_digits` ASCII digits (None if absent)."""
    value = request.query_params.get(name)
    if value is None:
        return None
    if not (0 < len(value) <= max_digits and value.isascii() and value.isdigit()):
        _invalid(
            "invalid_value",
            f"query parameter {name} must be 1 to {max_digits} ASCII digits",
            name,
        )
    return int(value)
