"""Job handles: what `submit()` returns, sync (`Job`) and async (`AsyncJob`).

A handle is just (model, request_id) plus the client it talks through. It
pickles, and serialises with `to_dict()`, as (model, request_id) alone, so a
job submitted in one process can be resumed in another with
`client.job(request_id, model=...)` or `Job.from_dict(data).bind(client)`.

`AsyncJob` is written in `_async/jobs.py`; `Job` is generated from it into
`_sync/jobs.py`. Both are documented and pickled under this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from together_queue._async.jobs import AsyncJob
from together_queue._handles import C as C  # public here since the first release
from together_queue._handles import _restore
from together_queue._models import JobStatus
from together_queue._sync.jobs import Job

__all__ = ["AsyncJob", "Job", "JobRequest", "UpdateCallback"]

UpdateCallback = Callable[[JobStatus], object]
"""`on_update(status)`: called with each observed change of a job's status or info."""

# Pickles name `together_queue.jobs._restore`, whichever module defines it.
Job.__module__ = AsyncJob.__module__ = _restore.__module__ = __name__


def _copy(value: Mapping[str, Any]) -> Mapping[str, Any]:
    # A dict first: the ABC check is a Python call, made for every JobRequest of a bulk run.
    is_mapping = type(value) is dict or isinstance(value, Mapping)
    return dict(value) if is_mapping else value  # checked at submit


def _copy_optional(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return None if value is None else _copy(value)


@attrs.frozen
class JobRequest:
    """One job to submit: for `submit_many` items that differ in model, priority or info.

    No attribute can be reassigned, and `payload` and `info` are copied when the
    request is made, so changing the caller's dicts afterwards does not change it.
    Hashable by `model` and `priority` (the dicts are left out of the hash, equal
    requests still hash alike).
    """

    model: str
    payload: Mapping[str, Any] = attrs.field(converter=_copy, hash=False)
    priority: int = 0
    info: Mapping[str, Any] | None = attrs.field(default=None, converter=_copy_optional, hash=False)
