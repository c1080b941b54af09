"""The dashboard's admin JSON and its page over HTTP: paging, detail, workers, files, auth."""

from __future__ import annotations

import httpx
import pytest

from together_queue.emulator import EmulatorHandle
from together_queue.emulator.dashboard.routes import ASSETS
from together_queue.emulator.faults import parse_fault

from .conftest import Api, Factory
from .helpers import retrieve, submit, update


def _admin(handle: EmulatorHandle, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=handle.url, headers=headers, timeout=10, trust_env=False)


def _ids(page: dict[str, object]) -> list[str]:
    jobs = page["jobs"]
    assert isinstance(jobs, list)
    return [job["request_id"] for job in jobs]


def test_job_pages_are_newest_first_complete_and_disjoint(
    queue_emulator_factory: Factory, api: Api
) -> None:
    handle = queue_emulator_factory()
    client = api(handle)
    submitted = [submit(client, "a" if i % 3 else "b", {"i": i}) for i in range(25)]
    with _admin(handle) as admin:
        seen: list[str] = []
        before = None
        for _ in range(10):
            params = {"limit": 10} if before is None else {"limit": 10, "before": before}
            page = admin.get("/_emulator/jobs/search", params=params).json()
            seen += _ids(page)
            before = page["next_before"]
            if before is None:
                break
        assert seen == list(reversed(submitted))
        only_b = admin.get("/_emulator/jobs/search", params={"model": "b"}).json()
        assert _ids(only_b) == [
            rid for i, rid in reversed(list(enumerate(submitted))) if i % 3 == 0
        ]
        assert only_b["next_before"] is None
        needle = submitted[7][:8]
        found = admin.get("/_emulator/jobs/search", params={"q": needle}).json()
        assert submitted[7] in _ids(found)
        assert all(needle in rid for rid in _ids(found))
        bad = admin.get("/_emulator/jobs/search", params={"limit": 0})
        assert bad.status_code == 400 and bad.json()["param"] == "limit"
        bad = admin.get("/_emulator/jobs/search", params={"priority": "high"})
        assert bad.status_code == 400 and bad.json()["param"] == "priority"


def test_a_job_page_uses_an_index_not_a_sort(queue_emulator_factory: Factory) -> None:
    store = queue_emulator_factory().runtime.store
    for model, status in [(None, None), ("m", None), ("m", "pending"), (None, "failed")]:
        plan = store.explain_page(model=model, status=status)
        assert not any("TEMP B-TREE" in step for step in plan), plan
    assert any("jobs_model_status" in step for step in store.explain_page(model="m", status="done"))


def test_job_detail_has_claims_and_every_status_update(
    queue_emulator_factory: Factory, api: Api
) -> None:
    handle = queue_emulator_factory()
    client = api(handle)
    rid = submit(client, "m", {"prompt": "<script>alert(1)</script>"})
    job = retrieve(client, "m", hostname="host-a")
    assert job is not None
    assert update(client, "m", rid, "running", info={"progress": 0.25}).status_code == 200
    assert update(client, "m", rid, "running", info={"progress": 0.5}).status_code == 200
    assert update(client, "m", rid, "done", payload={"n": 1}).status_code == 200
    with _admin(handle) as admin:
        detail = admin.get(f"/_emulator/jobs/{rid}").json()
        assert detail["job"]["payload"] == {"prompt": "<script>alert(1)</script>"}
        assert detail["job"]["status"] == "done"
        assert detail["job"]["outputs"] == {"n": 1}
        assert [(c["hostname"], c["current"]) for c in detail["claims"]] == [("host-a", True)]
        assert [(u["status"], u["info"]) for u in detail["history"]] == [
            ("running", {"progress": 0.25}),
            ("running", {"progress": 0.5}),
            ("done", {}),
        ]
        missing = admin.get("/_emulator/jobs/no-such-job")
        assert missing.status_code == 404 and missing.json()["param"] == "request_id"


def test_workers_show_holders_and_lapsed_claims(queue_emulator_factory: Factory, api: Api) -> None:
    handle = queue_emulator_factory(claim_timeout=0.2)
    client = api(handle)
    lapsing = submit(client, "m", {})
    assert retrieve(client, "m", hostname="slow-host") is not None
    # The claim lapses; the job is claimed again by another worker, which holds it.
    job = retrieve(client, "m", timeout="5s", hostname="fast-host")
    assert job is not None and job["request_id"] == lapsing
    with _admin(handle) as admin:
        workers = admin.get("/_emulator/workers").json()
    assert [(c["hostname"], c["state"]) for c in workers["claims"]] == [
        ("fast-host", "holding"),
        ("slow-host", "lapsed"),
    ]
    assert [h["hostname"] for h in workers["holding"]] == ["fast-host"]
    assert "m" in workers["last_polls"]


def test_overview_counts_and_answers_an_unchanged_poll_with_a_counter(
    queue_emulator_factory: Factory, api: Api
) -> None:
    handle = queue_emulator_factory(models={"echo": "echo"})
    client = api(handle)
    for _ in range(3):
        submit(client, "paint", {})
    rid = submit(client, "paint", {})
    assert client.post("/v1/queue/cancel", json={"model": "paint", "request_id": rid}).is_success
    handle.set_faults(["submit:500:next=2:after"])
    with _admin(handle) as admin:
        overview = admin.get("/_emulator/overview").json()
        paint = next(q for q in overview["queues"] if q["model"] == "paint")
        assert paint["counts"] == {
            "pending": 3,
            "running": 0,
            "done": 0,
            "failed": 0,
            "canceled": 1,
        }
        assert paint["handler"] is None
        echo = next(q for q in overview["queues"] if q["model"] == "echo")
        assert echo["handler"] == "echo"
        assert overview["totals"]["pending"] == 3
        assert overview["faults"]["rules"] == ["submit:500:next=2:after"]
        assert parse_fault(overview["faults"]["rules"][0]) == handle.runtime.faults.plan.rules[0]
        same = admin.get("/_emulator/overview", params={"since": overview["version"]}).json()
        assert same == {"version": overview["version"], "changed": False, "now": same["now"]}
        # The fault strikes after the submit: the answer is a 500, the job is stored.
        assert (
            client.post("/v1/queue/submit", json={"model": "paint", "payload": {}}).status_code
            == 500
        )
        assert admin.get("/_emulator/overview", params={"since": overview["version"]}).json()[
            "changed"
        ]


def test_storage_outputs_become_signed_download_links(
    queue_emulator_factory: Factory, api: Api
) -> None:
    handle = queue_emulator_factory()
    client = api(handle)
    rid = submit(client, "m", {})
    assert retrieve(client, "m") is not None
    name = f"{rid}-out.txt"
    signed = client.post("/v1/storage/upload-request", json={"filename": name}).json()
    assert httpx.put(signed["upload_url"]["url"], content=b"hello", trust_env=False).is_success
    url = f"https://api.example/v1/storage/{name}"
    assert update(client, "m", rid, "done", payload={"file": url, "text": "x"}).is_success
    with _admin(handle) as admin:
        detail = admin.get(f"/_emulator/jobs/{rid}").json()
        assert list(detail["links"]) == [url]
        assert admin.get(detail["links"][url]).content == b"hello"
        files = admin.get("/_emulator/files").json()["files"]
        assert [(f["name"], f["size"]) for f in files] == [(name, 5)]
        assert admin.get(files[0]["href"]).content == b"hello"


def test_json_routes_need_the_key_and_the_page_does_not(queue_emulator_factory: Factory) -> None:
    handle = queue_emulator_factory(api_keys=("secret-key",))
    with _admin(handle) as anonymous, _admin(handle, "secret-key") as keyed:
        for path in ("overview", "jobs/search", "workers", "files", "syntax"):
            assert anonymous.get(f"/_emulator/{path}").status_code == 401
            assert keyed.get(f"/_emulator/{path}").status_code == 200
        assert anonymous.get("/_dashboard/session").json() == {"auth": True}
        page = anonymous.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        for name in ASSETS:
            assert anonymous.get(f"/_dashboard/{name}").status_code == 200
        assert anonymous.get("/_dashboard/..%2Fadmin.py").status_code == 404
        assert anonymous.get("/_dashboard/missing.js").status_code == 404


@pytest.mark.parametrize("name", ["index.html", "app.js", "style.css", "syntax.js"])
def test_the_assets_ship_in_the_package(name: str) -> None:
    assert name in ASSETS


def test_the_handle_and_the_page_agree_on_the_dashboard_url(
    queue_emulator_factory: Factory,
) -> None:
    handle = queue_emulator_factory()
    assert handle.dashboard_url == handle.url + "/"
    assert httpx.get(handle.dashboard_url, trust_env=False).text.startswith("<!doctype html>")


def test_the_first_overview_rates_cover_the_minute_before_it(
    queue_emulator_factory: Factory, api: Api
) -> None:
    handle = queue_emulator_factory()
    client = api(handle)
    for _ in range(6):
        submit(client, "m", {})
    with _admin(handle) as admin:
        queue = admin.get("/_emulator/overview").json()["queues"][0]
    assert queue["window_s"] == pytest.approx(60.0)
    assert queue["submitted_per_s"] == pytest.approx(6 / 60)
    assert queue["finished_per_s"] == 0.0
