"""The storage routes: upload requests, signed uploads, and downloads through a redirect.

``POST /v1/storage/upload-request`` (with the key) answers ``{"upload_url": {"url"}}``,
a signed URL of its own (every request gets a new one) that takes one ``PUT`` of the
bytes without a key (Together's worker SDK
sends its usual headers along, which are ignored). ``GET /v1/storage/{filename}`` (with
the key) answers 307 to a signed download URL that serves the bytes without a key.

A worker names its files ``<request_id>-<name>``. Once that job is finished, its files
are final: a worker whose claim lapsed cannot replace the file another worker's result
points to (409).
"""

from __future__ import annotations

import mimetypes
from typing import TYPE_CHECKING, cast
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from together_queue.emulator._http import ApiError, check_auth, read_json_object, require_string
from together_queue.emulator.storage import Action, check_filename

if TYPE_CHECKING:
    from together_queue.emulator.runtime import Runtime

__all__ = ["DOWNLOAD_PREFIX", "UPLOAD_PREFIX", "signed_path", "storage_routes"]

UPLOAD_PREFIX = "/_storage/upload/"
"""Where signed upload URLs point (no key; the signature is the permission)."""

DOWNLOAD_PREFIX = "/_storage/download/"
"""Where signed download URLs point."""

_UPLOAD_URL_SECONDS = 15 * 60
DOWNLOAD_URL_SECONDS = 5 * 60
"""How long a signed download URL stays valid, in seconds."""


async def _runtime(request: Request, *, auth: bool) -> Runtime:
    runtime = cast("Runtime", request.app.state.runtime)
    await runtime.ensure_started()
    if auth:
        check_auth(request, runtime.config.api_keys)
    return runtime


def _filename(name: str, param: str = "filename") -> str:
    try:
        return check_filename(name)
    except ValueError as exc:
        raise ApiError(400, "invalid_value", str(exc), param=param) from None


_REQUEST_ID_LENGTH = 36  # a UUID in its text form, as the store makes request ids


def _check_not_final(runtime: Runtime, name: str) -> None:
    """Refuse a file of a finished job (the files a result points to do not change)."""
    request_id, dash = name[:_REQUEST_ID_LENGTH], name[_REQUEST_ID_LENGTH : _REQUEST_ID_LENGTH + 1]
    if dash != "-":
        return
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
    # The origin the caller reached us on, so the URL works over TLS and behind any port.
    origin = f"{request.url.scheme}://{request.url.netloc}"
    return origin + signed_path(runtime, action, name, lifetime)


def _check_signature(request: Request, runtime: Runtime, action: Action, name: str) -> str:
    params = request.query_params
    signature = params.get("signature", "")
    why = runtime.signer.check(
        action, name, params.get("expires", ""), params.get("nonce", ""), signature
    )
    if why is not None:
        raise ApiError(403, "invalid_signature", why, type_="permission_error")
    return signature


async def upload_request(request: Request) -> Response:
    """POST /v1/storage/upload-request {"filename"}: a signed URL for one PUT."""
    runtime = await _runtime(request, auth=True)
    body = await read_json_object(request, runtime.config.max_body_bytes)
    name = _filename(require_string(body, "filename"))
    _check_not_final(runtime, name)
    url = _signed_url(request, runtime, "upload", name)
    return JSONResponse({"upload_url": {"url": url, "method": "PUT"}})


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "file_too_large", f"the file exceeds {limit} bytes (--max-upload-bytes)")


async def signed_upload(request: Request) -> Response:
    """PUT /_storage/upload/{filename}?expires=&signature=: store the body as the file."""
    runtime = await _runtime(request, auth=False)
    name = _filename(request.path_params["filename"])
    signature = _check_signature(request, runtime, "upload", name)
    _check_not_final(runtime, name)
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
        _check_not_final(runtime, name)  # again: the job may have finished meanwhile
        runtime.files.put(name, b"".join(chunks))
        stored = True
    finally:
        # A refused or broken upload leaves the URL usable for another try.
        runtime.signer.end_upload(signature, stored=stored)
    return JSONResponse({"filename": name, "size": size})


async def storage_get(request: Request) -> Response:
    """GET /v1/storage/{filename} (with the key): 307 to a signed download URL."""
    runtime = await _runtime(request, auth=True)
    name = _filename(request.path_params["filename"])
    if not runtime.files.exists(name):
        raise ApiError(404, "not_found", f"no file {name!r}", type_="not_found_error")
    url = _signed_url(request, runtime, "download", name)
    return Response(status_code=307, headers={"Location": url})


async def signed_download(request: Request) -> Response:
    """GET /_storage/download/{filename}?expires=&signature=: the file's bytes."""
    runtime = await _runtime(request, auth=False)
    name = _filename(request.path_params["filename"])
    _check_signature(request, runtime, "download", name)
    data = runtime.files.get(name)
    if data is None:
        raise ApiError(404, "not_found", f"no file {name!r}", type_="not_found_error")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(data, media_type=media_type)


def storage_routes() -> list[Route]:
    """The routes above; ``upload-request`` comes before the ``{filename}`` route."""
    return [
        Route("/v1/storage/upload-request", upload_request, methods=["POST"]),
        Route("/v1/storage/{filename}", storage_get, methods=["GET"]),
        Route(UPLOAD_PREFIX + "{filename}", signed_upload, methods=["PUT"]),
        Route(DOWNLOAD_PREFIX + "{filename}", signed_download, methods=["GET"]),
    ]
