"""Job lifecycle over HTTP: built-in and user handlers, status fields, metrics."""

from __future__ import annotations

import datetime

from together_queue.emulator import EmulatorHandle

from .conftest import Api, Factory
from .helpers import (
    cancel,
    claims,
    metrics,
    retrieve,
    status,
    submit,
    update,
    wait_for,
    wait_status,
)

MODULE = "tests.integration.emulator.user_handlers"


def _time(text: str) -> datetime.datetime:
    assert text.endswith("Z"), text
    moment = datetime.datetime.fromisoformat(text)
    assert moment.utcoffset() == datetime.timedelta(0)
    return moment


def test_echo_job_reports_every_field(queue_emulator: EmulatorHandle, api: Api) -> None:
    client = api(queue_emulator)
    rid = submit(client, "echo", {"prompt": "hi", "n": 2}, priority=4, info={"tag": "a"})
    body = wait_status(client, "echo", rid, {"done"})
    assert body["request_id"] == rid
    assert body["model"] == "echo"
    assert body["inputs"] == {"prompt": "hi", "n": 2}
    assert body["outputs"] == {"prompt": "hi", "n": 2}
    assert body["info"] == {"tag": "a"}
    assert body["priority"] == 4
    assert body["retries"] == 0
    assert "warnings" not in body
    created, claimed, done = (_time(body[k]) for k in ("created_at", "claimed_at", "done_at"))
    assert created <= claimed <= done


def test_pending_job_has_no_claim_or_outputs(queue_emulator: EmulatorHandle, api: Api) -> None:
    client = api(queue_emulator)
    rid = submit(client, "nobody-serves-this", {"x": 1})
    body = status(client, "nobody-serves-this", rid)
    assert body["status"] == "pending"
    assert body["priority"] == 0
    assert body["info"] == {}
    assert {"claimed_at", "done_at", "outputs"}.isdisjoint(body)


def test_unknown_submit_fields_are_ignored_with_a_warning(
    queue_emulator: EmulatorHandle, api: Api
) -> None:
    client = api(queue_emulator)
    response = client.post(
        "/v1/queue/submit", json={"model": "idle", "payload": {}, "colour": "blue"}
    )
    assert response.status_code == 200
    body = status(client, "idle", response.json()["requestId"])
    assert body["warnings"] == ["unknown field 'colour' ignored"]


def test_sleep_reports_progress_then_finishes(queue_emulator: EmulatorHandle, api: Api) -> None:
    client = api(queue_emulator)
    rid = submit(client, "sleep", {"seconds": 0.4})
    running = wait_status(client, "sleep", rid, {"running", "done"})
    if running["status"] == "running":
        wait_for(lambda: "progress" in status(client, "sleep", rid)["info"], what="progress")
    body = wait_status(client, "sleep", rid, {"done"})
    assert body["info"]["progress"] == 1.0
    assert body["outputs"] == {"slept": 0.4}


def test_fail_handler_fails_once_and_is_not_retried(
    queue_emulator: EmulatorHandle, api: Api
) -> None:
    client = api(queue_emulator)
    rid = submit(client, "fail", {"message": "model exploded"})
    body = wait_status(client, "fail", rid, {"failed"})
    assert body["info"]["error"] == "model exploded"
    assert body["retries"] == 0
    assert "outputs" not in body
    assert "done_at" in body
    assert [c["request_id"] for c in claims(client, "fail")] == [rid]
    assert metrics(client, "fail") == (0, 0, 0)


def test_user_handlers_sync_async_and_reporting(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory(
        models={
            "shout": f"{MODULE}:shout",
            "count": f"{MODULE}:count_up",
            "double": f"{MODULE}:double",
            "double-report": f"{MODULE}:double_with_report",
        }
    )
    client = api(emulator)
    shout = submit(client, "shout", {"text": "hey"})
    count = submit(client, "count", {"steps": 4})
    double = submit(client, "double", {"value": 21})
    double_report = submit(client, "double-report", {"value": 5})
    assert wait_status(client, "shout", shout, {"done"})["outputs"] == {"text": "HEY"}
    counted = wait_status(client, "count", count, {"done"})
    assert counted["outputs"] == {"counted": 4}
    assert counted["info"] == {"progress": 1.0, "step": 4}
    assert wait_status(client, "double", double, {"done"})["outputs"] == {"value": 42}
    reported = wait_status(client, "double-report", double_report, {"done"})
    assert reported["outputs"] == {"value": 10}
    assert reported["info"] == {"stage": "doubling"}


def test_user_handler_errors_fail_the_job_without_retry(
    queue_emulator_factory: Factory, api: Api
) -> None:
    emulator = queue_emulator_factory(
        models={"explode": f"{MODULE}:explode", "list": f"{MODULE}:not_a_dict"}
    )
    client = api(emulator)
    exploded = submit(client, "explode", {"what": "cheese"})
    listed = submit(client, "list", {})
    body = wait_status(client, "explode", exploded, {"failed"})
    assert body["info"]["error"] == "cannot handle cheese"
    assert body["retries"] == 0
    body = wait_status(client, "list", listed, {"failed"})
    assert body["info"]["error"] == "handler returned list, expected a dict of outputs"
    assert len(claims(client, "explode")) == 1


def test_metrics_follow_every_step(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory()
    client = api(emulator)
    assert metrics(client, "m") == (0, 0, 0)
    first, second, third = (submit(client, "m", {"i": i}) for i in range(3))
    submit(client, "other", {})
    assert metrics(client, "m") == (3, 0, 3)
    job = retrieve(client, "m")
    assert job is not None and job["request_id"] == first
    assert metrics(client, "m") == (2, 1, 3)
    assert update(client, "m", first, "running", info={"progress": 0.5}).status_code == 200
    assert metrics(client, "m") == (2, 1, 3)
    assert update(client, "m", first, "done", payload={"ok": True}).status_code == 200
    assert metrics(client, "m") == (2, 0, 2)
    assert cancel(client, "m", third).status_code == 200
    assert metrics(client, "m") == (1, 0, 1)
    job = retrieve(client, "m")
    assert job is not None and job["request_id"] == second
    assert metrics(client, "m") == (0, 1, 1)
    assert update(client, "m", second, "failed", info={"error": "no"}).status_code == 200
    assert metrics(client, "m") == (0, 0, 0)
    assert metrics(client, "other") == (1, 0, 1)
    assert status(client, "m", first)["outputs"] == {"ok": True}
    assert status(client, "m", first)["info"] == {"progress": 0.5}
