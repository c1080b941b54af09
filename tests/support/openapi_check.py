"""Hold HTTP exchanges against openapi.yaml with openapi-core, in readable messages.

`OpenAPIContract.check_request` validates method, path, server, query parameters,
security, content type and body of an `httpx.Request`; `check_response` validates
an `httpx.Response` against the operation's response for its status code (a status
the operation does not list is a violation), its headers, content type and body.
Every problem comes back as a `Violation` naming the operation, the schema and the
JSON path of the field.

The spec's only server is https://api.together.ai/v1; tests talk to loopback. The
document used for validation therefore also lists `http://{authority}/v1` (one
server variable for host and port), so openapi-core's own server matching maps
`http://127.0.0.1:PORT/v1/queue/status` onto `/queue/status`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import yaml
from jsonschema.exceptions import ValidationError
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.request.exceptions import (
    ParameterValidationError,
    RequestBodyValidationError,
)
from openapi_core.validation.response.exceptions import DataValidationError, HeaderValidationError
from werkzeug.datastructures import Headers, ImmutableMultiDict

__all__ = [
    "LOOPBACK_SERVER",
    "SPEC_PATH",
    "OpenAPIContract",
    "Operation",
    "Violation",
    "load_spec",
]

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
"""The project's spec: the one source of truth for the wire."""

LOOPBACK_SERVER: dict[str, Any] = {
    "url": "http://{authority}/v1",
    "description": "The emulator or a scripted server on loopback (tests only).",
    "variables": {"authority": {"default": "127.0.0.1", "description": "host[:port]"}},
}
"""The server entry added for validation, so loopback URLs match like the real one."""

LOOPBACK_TLS_SERVER: dict[str, Any] = {
    **LOOPBACK_SERVER,
    "url": "https://{authority}/v1",
    "description": "The emulator over TLS on loopback, with a local CA (tests only).",
}
"""The same for an emulator serving HTTPS (``--tls-self-signed``, ``tls=True``)."""

Kind = Literal["request", "response"]


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """The spec at `path` as a dict."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not an OpenAPI document")
    return data


@dataclass(frozen=True)
class Operation:
    """One operation of the spec, with what a message needs to name it."""

    operation_id: str
    method: str
    path: str
    request_schema: str | None
    responses: Mapping[str, Any]

    def response_schema(self, status: int) -> str | None:
        """The schema name of the response declared for `status`, if it is a `$ref`."""
        declared = self.responses.get(str(status), {})
        for media in declared.get("content", {}).values():
            return _schema_name(media.get("schema", {}))
        return None


@dataclass(frozen=True)
class Violation:
    """One way an exchange breaks the spec."""

    kind: Kind
    method: str
    path: str
    status: int | None
    operation_id: str | None
    schema: str | None
    detail: str

    def __str__(self) -> str:
        where = f"{self.method} {self.path}"
        if self.status is not None:
            where += f" -> {self.status}"
        what = self.operation_id or "no operation"
        if self.schema:
            what += f", schema {self.schema}"
        return f"{self.kind} {where} ({what}): {self.detail}"


class OpenAPIContract:
    """openapi-core validators for openapi.yaml, reporting `Violation`s.

    `strict_properties` treats object schemas without `additionalProperties` as
    closed: a client should send only what the spec declares, and the emulator only
    what the spec declares, so a misspelled optional property is caught. The spec
    itself still lets clients accept extra keys (see the model round trips).
    `require_auth` False tolerates a request with no `Authorization` header at all
    (the overlay sends none to a keyless loopback emulator, a documented choice);
    a malformed one is still a violation.
    """

    def __init__(
        self,
        spec_path: Path = SPEC_PATH,
        *,
        strict_properties: bool = True,
        require_auth: bool = True,
    ) -> None:
        self.spec = load_spec(spec_path)
        self.require_auth = require_auth
        validation_spec = copy.deepcopy(self.spec)
        validation_spec.setdefault("servers", []).extend(
            copy.deepcopy([LOOPBACK_SERVER, LOOPBACK_TLS_SERVER])
        )
        policy: Literal["allow", "forbid"] = "forbid" if strict_properties else "allow"
        self._api = OpenAPI.from_dict(
            validation_spec, config=Config(additional_properties_default_policy=policy)
        )
        self.operations = tuple(_operations(self.spec))
        self._base_paths = tuple(_server_paths(validation_spec))

    def operation(self, method: str, url_path: str) -> Operation | None:
        """The operation `method url_path` is, or None."""
        for op in self.operations:
            if op.method == method.upper() and self._matches(url_path, op):
                return op
        return None

    def in_scope(self, url_path: str) -> bool:
        """Whether `url_path` ends in a spec path: a request the checker has an opinion on.

        The base path before it is not required to match here: a request to the right
        operation under the wrong base path is in scope, and fails the server check.
        """
        return any(url_path.endswith(op.path) for op in self.operations)

    def _matches(self, url_path: str, op: Operation) -> bool:
        return any(url_path == base + op.path for base in self._base_paths)

    def check_request(self, request: httpx.Request) -> list[Violation]:
        """Every way `request` breaks the spec (empty when it conforms)."""
        op = self.operation(request.method, request.url.path)
        extra: dict[str, str] = {}
        if not self.require_auth and "authorization" not in request.headers:
            # openapi-core stops at a security error; with the absence forgiven, a
            # stand-in key lets it check everything else about the request.
            extra["Authorization"] = "Bearer absent-key-forgiven"
        found: list[Violation] = []
        for error in self._api.iter_request_errors(_RequestAdapter(request, extra)):
            body_error = isinstance(error, RequestBodyValidationError)
            schema = op.request_schema if op and body_error else None
            found.append(self._violation("request", request, None, op, schema, error))
        return found

    def check_response(self, response: httpx.Response) -> list[Violation]:
        """Every way `response` breaks the spec for its request's operation."""
        request = response.request
        op = self.operation(request.method, request.url.path)
        found: list[Violation] = []
        errors = self._api.iter_response_errors(
            _RequestAdapter(request), _ResponseAdapter(response)
        )
        for error in errors:
            body_error = isinstance(error, DataValidationError)
            schema = op.response_schema(response.status_code) if op and body_error else None
            if isinstance(error, ResponseNotFound) and op is not None:
                declared = ", ".join(sorted(op.responses))
                detail = (
                    f"status {response.status_code} is not declared for {op.operation_id} "
                    f"(declared: {declared}); body {_excerpt(response.content)}"
                )
                found.append(
                    Violation(
                        "response",
                        request.method,
                        request.url.path,
                        response.status_code,
                        op.operation_id,
                        None,
                        detail,
                    )
                )
                continue
            found.append(self._violation("response", request, response, op, schema, error))
        return found

    @staticmethod
    def _violation(
        kind: Kind,
        request: httpx.Request,
        response: httpx.Response | None,
        op: Operation | None,
        schema: str | None,
        error: Exception,
    ) -> Violation:
        return Violation(
            kind=kind,
            method=request.method,
            path=request.url.path,
            status=None if response is None else response.status_code,
            operation_id=op.operation_id if op else None,
            schema=schema,
            detail=describe(error),
        )


def describe(error: BaseException) -> str:
    """A one-paragraph account of an openapi-core error: field paths and messages."""
    schema_errors = _schema_errors(error)
    label = type(error).__name__
    if isinstance(error, ParameterValidationError):
        label += f" ({error.location} parameter {error.name!r})"
    elif isinstance(error, HeaderValidationError):
        label += f" (header {error.name!r})"
    if not schema_errors:
        return f"{label}: {_first_line(str(error))}"
    return f"{label}: " + "; ".join(_field_message(e) for e in schema_errors)


def _schema_errors(error: BaseException) -> list[ValidationError]:
    seen: BaseException | None = error
    while seen is not None:
        found = getattr(seen, "schema_errors", None)
        if found:
            return list(found)
        seen = seen.__cause__
    return []


def _field_message(error: ValidationError) -> str:
    # The leaf errors of a failed anyOf/oneOf say more than the parent.
    if error.context:
        return "; ".join(_field_message(e) for e in error.context)
    return f"at {error.json_path}: {error.message}"


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit] + "..."


def _excerpt(content: bytes, limit: int = 200) -> str:
    text = content.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _schema_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return ref.rsplit("/", 1)[1]
    return "inline schema" if schema else None


def _operations(spec: Mapping[str, Any]) -> Iterator[Operation]:
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method not in {"get", "put", "post", "delete", "patch", "head", "options"}:
                continue
            body = op.get("requestBody", {}).get("content", {})
            request_schema = next((_schema_name(m.get("schema", {})) for m in body.values()), None)
            yield Operation(
                operation_id=str(op.get("operationId", f"{method.upper()} {path}")),
                method=method.upper(),
                path=path,
                request_schema=request_schema,
                responses=op.get("responses", {}),
            )


def _server_paths(spec: Mapping[str, Any]) -> Iterable[str]:
    paths = {urlsplit(server["url"]).path.rstrip("/") for server in spec.get("servers", [])}
    return sorted(paths)


class _RequestAdapter:
    """An `httpx.Request` as openapi-core's Request protocol."""

    def __init__(
        self, request: httpx.Request, extra_headers: Mapping[str, str] | None = None
    ) -> None:
        self._request = request
        headers = [*request.headers.items(), *(extra_headers or {}).items()]
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(headers),
        )

    @property
    def host_url(self) -> str:
        url = self._request.url
        return f"{url.scheme}://{url.netloc.decode('ascii')}"

    @property
    def path(self) -> str:
        return self._request.url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._request.content or None

    @property
    def content_type(self) -> str:
        return str(self._request.headers.get("content-type", "")).lower()


class _ResponseAdapter:
    """An `httpx.Response` (already read) as openapi-core's Response protocol."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Headers:
        return Headers(list(self._response.headers.items()))

    @property
    def data(self) -> bytes | None:
        return self._response.content

    @property
    def content_type(self) -> str:
        return str(self._response.headers.get("content-type", "")).lower()
