"""The loop of an async download: send each hop, stream the body into a part file.

Every decision (which URL, which hop, which file, which error) is `_download`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from together_queue._async._io import file_io
from together_queue._auth import origin_of
from together_queue._download import (
    CHUNK,
    MAX_REDIRECTS,
    PartFile,
    check_hop,
    download_target,
    expected_length,
    parse_url,
    redirect_target,
    too_many_redirects,
    transport_error_of,
)
from together_queue.errors import status_error

if TYPE_CHECKING:
    from pathlib import Path

    from together_queue._download import Dest, ProgressCallback

__all__ = ["download"]


async def download(
    http: httpx.AsyncClient,
    auth: httpx.Auth,
    base_url: str,
    url: str,
    dest: Dest,
    *,
    timeout: Any,
    on_progress: ProgressCallback | None = None,
    overwrite: bool = False,
) -> Path:
    """Download `url` to `dest`, one checked hop at a time (see `_download`)."""
    api_origin = origin_of(httpx.URL(base_url))
    current = parse_url(url)
    # Named from the caller's URL, and refused before anything is sent if it exists.
    target = await file_io(download_target, dest, current, overwrite=overwrite)
    for _ in range(MAX_REDIRECTS + 1):
        check_hop(current, api_origin)
        request = http.build_request("GET", current, timeout=timeout)
        try:
            response = await http.send(request, auth=auth, stream=True, follow_redirects=False)
        except httpx.RequestError as exc:
            raise transport_error_of(exc, current) from exc
        try:
            following = redirect_target(response)
            if following is not None:
                current = following
                continue
            if not response.is_success:
                await response.aread()
                raise status_error(response)
            part = await file_io(PartFile, target, overwrite=overwrite)
            try:
                expected = expected_length(response)
                async for chunk in response.aiter_bytes(CHUNK):
                    await file_io(part.write, chunk)
                    if on_progress is not None:
                        on_progress(part.received, expected)
                return await file_io(part.commit, expected, current)
            except httpx.RequestError as exc:
                await file_io(part.discard)
                raise transport_error_of(exc, current) from exc
            except BaseException:
                # Here, not through `file_io`: a cancelled task may get no later chance.
                part.discard()
                raise
        finally:
            await response.aclose()
    raise too_many_redirects(url)
