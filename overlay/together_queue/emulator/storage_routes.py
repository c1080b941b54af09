"""The storage routes: upload requests, signed uploads, and downloads through a redirect.

`POST /v1/storage/upload-request` (with the key) answers `{"upload_url": {"url"}}`,
a signed URL of its own (every request gets a new one) that takes one `PUT` of the
bytes without a key (Together's worker SDK
sends its usual headers along, which are ignored). `GET /v1/storage/{filename}` (with
the key) answers 307 to a signed download URL that serves the bytes without a key.

A worker names its files `<request_id>-<name>`. Once that job is finished, its files
are final: a worker whose claim lapsed cannot replace the file another worker's result
points to (409). While it runs, an upload whose worker headers match only a lapsed claim
of the job is refused too (409), as its updates are.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from together_queue.emulator._http import (
    ApiError,
    Endpoint,
    query_digits,
    read_json_object,
    require_string,
    runtime_of,
)
from together_queue.emulator.runtime import Runtime
from together_queue.emulator.storage import Action, check_filename
from together_queue.emulator.store import JobConflict, WorkerInfo

__all__ = ["DOWNLOAD_PREFIX", "DOWNLOAD_URL_SECONDS", "HANDLERS", "UPLOAD_PREFIX", "signed_path"]

UPLOAD_PREFIX = "/_storage/upload/"
"""Where signed upload URLs point (no key; the signature is the permission)."""

DOWNLOAD_PREFIX = "/_storage/download/"
"""Where signed download URLs point."""

_UPLOAD_URL_SECONDS = 15 * 60
DOWNLOAD_URL_SECONDS = 5 * 60
"""How long a signed download URL stays valid, in seconds."""
_MAX_EXPIRES_DIGITS = 20
_MAX_TOKEN_CHARS = 128  # the nonce and the signature are hex, far shorter


def _filename(name: str, param: str = "filename") -> str:
    try:
        return check_filename(name)
    except ValueError as exc:
        raise ApiError(400, "invalid_value", str(exc), param=param) from None


_REQUEST_ID_LENGTH = 36  # a UUID in its text form, as the store makes request ids


def _check_not_final(runtime: Runtime, name: str, request: Request) -> None:
    """Refuse a file of a finished job, or one from the worker of a lapsed claim."""
    request_id, dash = name[:_REQUEST_ID_LENGTH], name[_REQUEST_ID_LENGTH : _REQUEST_ID_LENGTH + 1]
    if dash != "-":
        return
    sender = WorkerInfo(
        worker_version=request.headers.get("x-worker-version"),
        user_agent=request.headers.get("user-agent"),
    )
    try:
        runtime.store.check_upload(request_id, name, sender)
    except JobConflict as exc:
        raise ApiError(
            409, "job_not_claimed", str(exc), type_="conflict_error", param="filename"
        ) from None
    status = runtime.store.finished_status(request_id)
    if status is not None:
        raise ApiError(
            409,
            "job_finished",
            f"job {request_id} is {status}: its files are final (a worker whose claim "
            "lapsed may not replace them)",
            type_="conflict_error",
            param="filename",
        )


def signed_path(runtime: Runtime, action: Action, name: str, lifetime: float) -> str:
    """The path and query of a signed `action` URL for `name`, valid `lifetime` seconds."""
    prefix = UPLOAD_PREFIX if action == "upload" else DOWNLOAD_PREFIX
    query = runtime.signer.query(action, name, lifetime)
    return f"{prefix}{quote(name, safe='')}?{query}"


def _signed_url(request: Request, runtime: Runtime, action: Action, name: str) -> str:
    lifetime = _UPLOAD_URL_SECONDS if action == "upload" else DOWNLOAD_URL_SECONDS
    # The origin the caller reached us on, so the URL works over TLS and behind any port
    # (the Host allowlist has vetted the Host header this comes from).
    origin = f"{request.url.scheme}://{request.url.netloc}"
    return origin + signed_path(runtime, action, name, lifetime)


def _token(request: Request, name: str) -> str:
    """The query parameter `name`: at most `_MAX_TOKEN_CHARS` ASCII characters ("" if absent)."""
    value = request.query_params.get(name, "")
    if len(value) > _MAX_TOKEN_CHARS or not value.isascii():
        raise ApiError(
            400,
            "invalid_value",
            f"query parameter {name} must be at most {_MAX_TOKEN_CHARS} ASCII characters",
            param=name,
        )
    return value


def _check_signature(request: Request, runtime: Runtime, action: Action, name: str) -> str:
    expires = query_digits(request, "expires", _MAX_EXPIRES_DIGITS)
    nonce = _token(request, "nonce")
    signature = _token(request, "signature")
    why = runtime.signer.check(
        action, name, "" if expires is None else str(expires), nonce, signature
    )
    if why is not None:
        raise ApiError(403, "invalid_signature", why, type_="permission_error")
    return signature


async def upload_request(request: Request) -> Response:
    """POST /v1/storage/upload-request {"filename"}: a signed URL for one PUT."""
    runtime = await runtime_of(request)
    body = await read_json_object(request, runtime.config.max_body_bytes)
    name = _filename(require_string(body, "filename"))
    _check_not_final(runtime, name, request)
    url = _signed_url(request, runtime, "upload", name)
    return JSONResponse({"upload_url": {"url": url, "method": "PUT"}})


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "file_too_large", f"the file exceeds {limit} bytes (--max-upload-bytes)")


async def signed_upload(request: Request) -> Response:
    """PUT /_storage/upload/{filename}?expires=&nonce=&signature=: store the body as the file."""
    runtime = await runtime_of(request)
    name = _filename(request.path_params["filename"])
    signature = _check_signature(request, runtime, "upload", name)
    _check_not_final(runtime, name, request)
    limit = runtime.config.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    # Reserved before a byte of the body is read: a parallel PUT on this URL gets its 409
    # at once instead of buffering a body that would be thrown away.
    why = runtime.signer.begin_upload(signature)
    if why is not None:
        raise ApiError(409, "upload_url_used", why)
    stored = False
    try:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():  # a chunked body has no Content-Length to trust
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        _check_not_final(runtime, name, request)  # again: the job may have finished meanwhile
        runtime.files.put(name, b"".join(chunks))
        stored = True
    finally:
        # A refused or broken upload leaves the URL usable for another try.
        runtime.signer.end_upload(signature, stored=stored)
    return JSONResponse({"filename": name, "size": size})


async def storage_get(request: Request) -> Response:
    """GET /v1/storage/{filename} (with the key): 307 to a signed download URL."""
    runtime = await runtime_of(request)
    name = _filename(request.path_params["filename"])
    if not runtime.files.exists(name):
        raise ApiError(404, "not_found", f"no file {name!r}", type_="not_found_error")
    # A relative reference: the client resolves it against the URL it called, so nothing
    # in the answer comes from the request's Host header.
    location = signed_path(runtime, "download", name, DOWNLOAD_URL_SECONDS)
    return Response(status_code=307, headers={"Location": location})


async def signed_download(request: Request) -> Response:
    """GET /_storage/download/{filename}?expires=&nonce=&signature=: the file's bytes."""
    runtime = await runtime_of(request)
    name = _filename(request.path_params["filename"])
    _check_signature(request, runtime, "download", name)
    data = runtime.files.get(name)
    if data is None:
        raise ApiError(404, "not_found", f"no file {name!r}", type_="not_found_error")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(data, media_type=media_type)


HANDLERS: Mapping[str, Endpoint] = {
    "upload_request": upload_request,
    "storage_get": storage_get,
    "signed_upload": signed_upload,
    "signed_download": signed_download,
}
"""Route name (`routes.ROUTES`) -> endpoint."""
