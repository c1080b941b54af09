"""Response bodies, built through the generated models so that they follow the spec."""

from __future__ import annotations

import datetime
from typing import Any

from together_queue.emulator.store import Claim, StoredJob
from together_queue_api.models import (
    QueueCancelResponse,
    QueueCancelResponseStatus,
    QueueJobResponse,
    QueueJobStatusResponse,
    QueueJobStatusResponseInfo,
    QueueJobStatusResponseInputs,
    QueueJobStatusResponseOutputs,
    QueueJobStatusResponseStatus,
    QueueMetricsResponse,
)
from together_queue_api.types import UNSET, Unset

__all__ = [
    "cancel_body",
    "claim_json",
    "job_json",
    "metrics_body",
    "rfc3339",
    "status_body",
    "submit_body",
    "worker_job_json",
]


_LAST_MOMENT = datetime.datetime.max.replace(tzinfo=datetime.UTC)


def rfc3339(timestamp: float) -> str:
    """`timestamp` (epoch seconds) as RFC 3339 in UTC with microseconds and a `Z`.

    A time past year 9999 (a database written before claims had a cap may hold one)
    is written as the last moment of 9999, so that every answer that shows it still works.
    """
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        moment = _LAST_MOMENT if timestamp > 0 else datetime.datetime.fromtimestamp(0, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _optional_time(timestamp: float | None) -> str | None:
    return None if timestamp is None else rfc3339(timestamp)


def submit_body(job: StoredJob) -> dict[str, Any]:
    """The 200 body of submit: `{"requestId": ...}`."""
    return QueueJobResponse(request_id=job.request_id).to_dict()


def status_body(job: StoredJob) -> dict[str, Any]:
    """The 200 body of status (QueueJobStatusResponse)."""
    outputs: QueueJobStatusResponseOutputs | Unset = UNSET
    if job.status == "done" and job.outputs is not None:
        outputs = QueueJobStatusResponseOutputs.from_dict(job.outputs)
    body = QueueJobStatusResponse(
        model=job.model,
        request_id=job.request_id,
        status=QueueJobStatusResponseStatus(job.status),
        info=QueueJobStatusResponseInfo.from_dict(job.info),
        inputs=QueueJobStatusResponseInputs.from_dict(job.payload),
        outputs=outputs,
        priority=job.priority,
        retries=job.retries,
        warnings=list(job.warnings) if job.warnings else UNSET,
    ).to_dict()
    # The model would write datetime.isoformat() ("+00:00", no fixed precision);
    # the emulator writes one fixed RFC 3339 form instead.
    body["created_at"] = rfc3339(job.created_at)
    if job.claimed_at is not None:
        body["claimed_at"] = rfc3339(job.claimed_at)
    if job.done_at is not None:
        body["done_at"] = rfc3339(job.done_at)
    return body


def cancel_body(status: str) -> dict[str, Any]:
    """The 200/409 body of cancel: the job's status after the attempt."""
    return QueueCancelResponse(status=QueueCancelResponseStatus(status)).to_dict()


def metrics_body(waiting: int, running: int) -> dict[str, Any]:
    """The 200 body of metrics (total = waiting + running)."""
    return QueueMetricsResponse(
        messages_running=running, messages_waiting=waiting, total_jobs=waiting + running
    ).to_dict()


def worker_job_json(job: StoredJob, claim_timeout: float) -> dict[str, Any]:
    """The `data` object of a worker's retrieve answer (the SDK reads request_id, payload).

    Its `claim_timeout` is the claim's own lease; `claim_timeout` (the emulator's
    default) stands in for a claim that recorded none.
    """
    return {
        "request_id": job.request_id,
        "model": job.model,
        "payload": job.payload,
        "info": job.info,
        "priority": job.priority,
        "retries": job.retries,
        "created_at": rfc3339(job.created_at),
        "claim_id": job.claim_id,
        "claim_timeout": job.claim_timeout if job.claim_timeout is not None else claim_timeout,
    }


def job_json(job: StoredJob) -> dict[str, Any]:
    """Everything about a job (admin API)."""
    return {
        "seq": job.seq,
        "request_id": job.request_id,
        "model": job.model,
        "priority": job.priority,
        "status": job.status,
        "payload": job.payload,
        "info": job.info,
        "outputs": job.outputs,
        "warnings": list(job.warnings),
        "retries": job.retries,
        "claim_count": job.claim_count,
        "created_at": rfc3339(job.created_at),
        "claimed_at": _optional_time(job.claimed_at),
        "done_at": _optional_time(job.done_at),
        "claim_expires_at": _optional_time(job.claim_expires_at),
        "claimed_by": job.claimed_by,
        "claim_timeout": job.claim_timeout,
    }


def claim_json(claim: Claim) -> dict[str, Any]:
    """One claim-log entry (admin API)."""
    return {
        "n": claim.n,
        "seq": claim.seq,
        "request_id": claim.request_id,
        "model": claim.model,
        "priority": claim.priority,
        "retries": claim.retries,
        "hostname": claim.hostname,
        "claimed_at": rfc3339(claim.claimed_at),
        "claim_timeout": claim.claim_timeout,
        "worker_version": claim.worker_version,
        "user_agent": claim.user_agent,
        "idle_time": claim.idle_time,
        "lapsed_at": _optional_time(claim.lapsed_at),
        "refused_updates": claim.refused_updates,
        "double_run": claim.double_run,
    }
