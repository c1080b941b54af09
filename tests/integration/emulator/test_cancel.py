"""Cancel: only pending jobs; 409 with the unchanged status otherwise; 404 when unknown."""

from __future__ import annotations

from .conftest import Api, Factory
from .helpers import cancel, metrics, retrieve, status, submit, update


def test_cancel_pending_job(queue_emulator_factory: Factory, api: Api) -> None:
    client = api(queue_emulator_factory())
    rid = submit(client, "m", {"x": 1})
    keep = submit(client, "m", {"x": 2})
    response = cancel(client, "m", rid)
    assert (response.status_code, response.json()) == (200, {"status": "canceled"})
    assert status(client, "m", rid)["status"] == "canceled"
    assert metrics(client, "m") == (1, 0, 1)
    job = retrieve(client, "m")
    assert job is not None and job["request_id"] == keep  # a canceled job is never claimed
    again = cancel(client, "m", rid)
    assert (again.status_code, again.json()) == (409, {"status": "canceled"})


def test_cancel_running_done_and_failed_jobs_is_409_and_changes_nothing(
    queue_emulator_factory: Factory, api: Api
) -> None:
    client = api(queue_emulator_factory())
    running, done, failed = (submit(client, "m", {"i": i}) for i in range(3))
    for _ in range(3):
        assert retrieve(client, "m") is not None
    assert update(client, "m", done, "done", payload={"r": 1}).status_code == 200
    assert update(client, "m", failed, "failed", info={"error": "x"}).status_code == 200
    for rid, current in ((running, "running"), (done, "done"), (failed, "failed")):
        before = status(client, "m", rid)
        response = cancel(client, "m", rid)
        assert (response.status_code, response.json()) == (409, {"status": current})
        assert status(client, "m", rid) == before
    assert update(client, "m", running, "done", payload={}).status_code == 200


def test_cancel_unknown_job_or_other_model_is_404(
    queue_emulator_factory: Factory, api: Api
) -> None:
    client = api(queue_emulator_factory())
    rid = submit(client, "m", {})
    for model, request_id in (("m", "no-such-job"), ("another-model", rid)):
        response = cancel(client, model, request_id)
        assert response.status_code == 404
        body = response.json()
        assert body["type"] == "not_found_error"
        assert body["param"] == "request_id"
    assert status(client, "m", rid)["status"] == "pending"
    response = client.get("/v1/queue/status", params={"model": "another-model", "request_id": rid})
    assert response.status_code == 404


def test_worker_cannot_update_a_canceled_job(queue_emulator_factory: Factory, api: Api) -> None:
    client = api(queue_emulator_factory())
    rid = submit(client, "m", {})
    assert cancel(client, "m", rid).status_code == 200
    response = update(client, "m", rid, "done", payload={"sneaky": True})
    assert response.status_code == 409
    assert response.json()["status"] == "canceled"
    body = status(client, "m", rid)
    assert body["status"] == "canceled"
    assert "outputs" not in body
    assert update(client, "m", "no-such-job", "running").status_code == 404
