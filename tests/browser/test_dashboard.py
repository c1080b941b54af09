"""The dashboard in headless Chromium against a fresh emulator on loopback.

Each test drives the page as a person would (clicks, typing) and checks what the
emulator's API reports afterwards; the `page` fixture fails a test whose page logged a
console error. Waits are Playwright's expectations, each with a deadline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from together_queue import QueueClient, SubmitOutcomeUnknown
from together_queue.emulator import EmulatorHandle
from together_queue.emulator.faults import parse_fault
from together_queue.emulator.ratelimit import parse_rate_limit

Factory = Callable[..., EmulatorHandle]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "img" / "dashboard.png"
NASTY = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def _client(handle: EmulatorHandle) -> QueueClient:
    return QueueClient(api_key="", base_url=handle.url, max_retries=0)


def _worker(handle: EmulatorHandle) -> httpx.Client:
    return httpx.Client(base_url=handle.url, timeout=10, trust_env=False)


def _claim(worker: httpx.Client, model: str, hostname: str) -> dict[str, Any]:
    answer = worker.get(
        "/internal/v1/queue/retrieve",
        params={"model": model, "timeout": "5s", "hostname": hostname},
        headers={"x-worker-version": "test-1.0"},
    )
    answer.raise_for_status()
    data: dict[str, Any] = answer.json()["data"]
    assert data is not None
    return data


def _progress(worker: httpx.Client, model: str, request_id: str, progress: float) -> None:
    body = {
        "model": model,
        "request_id": request_id,
        "status": "running",
        "info": {"progress": progress},
    }
    worker.post("/internal/v1/videos/status", json=body).raise_for_status()


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def test_counts_progress_cancel_faults_and_untrusted_text(
    queue_emulator_factory: Factory, page: Page
) -> None:
    handle = queue_emulator_factory(claim_timeout=60)
    with _client(handle) as client, _worker(handle) as worker:
        paint = [client.submit("paint", {"prompt": f"cat {i}"}) for i in range(3)]
        client.submit("other", {"prompt": "dog"})
        nasty = client.submit("other", {"prompt": NASTY})

        page.goto(handle.dashboard_url)
        row = page.locator("tr[data-model='paint']")
        expect(row.locator(".count-pending")).to_have_text("3")
        expect(page.locator("tr[data-model='other'] .count-pending")).to_have_text("2")
        expect(page.locator("#totals .total-pending")).to_have_text("pending 5")

        # A worker claims the first paint job; its page follows the progress it reports.
        claimed = _claim(worker, "paint", "gpu-box-7")
        assert claimed["request_id"] == paint[0].request_id
        row.locator("a").click()
        page.locator(f"a[href='#/job/{paint[0].request_id}']").click()
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text("gpu-box-7")
        expect(facts).to_contain_text("running")
        _progress(worker, "paint", paint[0].request_id, 0.25)
        expect(facts).to_contain_text("25 %")
        _progress(worker, "paint", paint[0].request_id, 0.6)
        expect(facts).to_contain_text("60 %")
        expect(page.locator("#history tbody tr")).to_have_count(2)
        expect(page.locator("text=s left").first).to_be_visible()

        # Cancel the second paint job from the jobs table; the API reports it canceled.
        page.goto(handle.dashboard_url + "#/jobs?model=paint")
        target = page.locator(f"tr[data-request-id='{paint[1].request_id}']")
        target.get_by_role("button", name="Cancel").click()
        _wait_for(
            lambda: client.status(paint[1].request_id, model="paint").status == "canceled",
            "the API to report the job canceled",
        )
        expect(target.locator(".status")).to_have_text("canceled")

        # A payload holding markup shows as text and runs nothing.
        page.goto(handle.dashboard_url + f"#/job/{nasty.request_id}")
        expect(page.locator("#payload")).to_contain_text(NASTY.replace('"', '\\"'))
        assert page.locator("#payload img, #payload script").count() == 0
        assert page.evaluate("window.__pwned") is None

        # A fault rule set from the page strikes the next submit; bad syntax is refused first.
        page.goto(handle.dashboard_url + "#/actions")
        rules = page.locator("#fault-rules")
        rules.fill("submit:boom:1")
        expect(page.locator("#fault-rules-form .problems")).to_contain_text("unknown fault kind")
        expect(page.locator("#fault-rules-form button[type=submit]")).to_be_disabled()
        rules.fill("submit:500:next=1")
        expect(page.locator("#fault-rules-form .problems li")).to_have_count(0)
        page.locator("#fault-rules-form button[type=submit]").click()
        expect(page.locator("#fault-rules-form .message")).to_have_text("Fault rules: set")
        with pytest.raises(SubmitOutcomeUnknown):
            client.submit("paint", {"prompt": "struck"})
        client.submit("paint", {"prompt": "passes"})
        assert handle.runtime.faults.remaining() == [0]


def test_tls_and_an_api_key_typed_once(queue_emulator_factory: Factory, page: Page) -> None:
    handle = queue_emulator_factory(tls=True, api_keys=("dashboard-key-123",))
    assert handle.dashboard_url.startswith("https://")
    verify = handle.ssl_context()
    headers = {"Authorization": "Bearer dashboard-key-123"}
    with httpx.Client(base_url=handle.url, verify=verify, headers=headers, trust_env=False) as api:
        for i in range(2):
            api.post("/v1/queue/submit", json={"model": "tls-model", "payload": {"i": i}})
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request))
    page.goto(handle.dashboard_url)
    page.locator("#key-input").fill("dashboard-key-123")
    page.locator("#key-form button").click()
    expect(page.locator("tr[data-model='tls-model'] .count-pending")).to_have_text("2")
    page.goto(handle.dashboard_url + "#/jobs")
    expect(page.locator("table.jobs-table tbody tr")).to_have_count(2)
    assert page.locator("#key-form").is_hidden()  # typed once: kept for the tab
    assert page.evaluate("document.cookie") == ""
    assert all("dashboard-key-123" not in request.url for request in seen)
    keyed = [r for r in seen if r.url.startswith(handle.url + "/_emulator/")]
    assert keyed
    assert all(r.headers.get("authorization") == "Bearer dashboard-key-123" for r in keyed)


FAULT_EXAMPLES = [
    "submit:500:0.1:after",
    "status:429:next=2:before:retry_after=3",
    "*:latency:1:seconds=0.05",
    "submit:drop:next=1:after",
    "retrieve:500:1",
    "update:drop:0",
    "cancel:429:next=0",
    " metrics:500:.5 ",
    "clear:latency:1e-1:after:seconds=2",
    "submit:500",
    "submit",
    "nope:500:1",
    "submit:404:1",
    "submit:500:1.5",
    "submit:500:-0.1",
    "submit:500:x",
    "submit:500:next=x",
    "submit:500:next=-1",
    "submit:500:next=1.5",
    "submit:429:1:after",
    "submit:500:1:later",
    "submit:500:1:colour=red",
    "submit:429:1:retry_after=x",
    "submit:429:1:retry_after=-1",
    "submit:latency:1:seconds=-1",
    "submit:latency:1:seconds=abc",
    "submit:500:1:before:after",
    "Submit:500:1",
]
LIMIT_EXAMPLES = [
    "submit=50/s",
    "*=2.5/s,burst=10",
    " status = 10/s ",
    "retrieve=1e2/s,burst=1",
    "submit=50",
    "submit",
    "nope=5/s",
    "submit=0/s",
    "submit=-1/s",
    "submit=x/s",
    "submit=5/s,burst=0",
    "submit=5/s,burst=x",
    "submit=5/s,size=3",
    "submit=5/s,burst",
]


def _python_accepts(parse: Callable[[str], object], spec: str) -> bool:
    try:
        parse(spec)
    except ValueError:
        return False
    return True


def test_the_page_checks_rule_syntax_as_the_server_parses_it(
    queue_emulator_factory: Factory, page: Page
) -> None:
    handle = queue_emulator_factory()
    page.goto(handle.dashboard_url)
    expect(page.locator("#live")).to_have_text("live")
    verdicts = page.evaluate(
        """async ([faults, limits]) => {
            const syntax = await import("/_dashboard/syntax.js");
            const words = await (await fetch("/_emulator/syntax")).json();
            return {
                faults: faults.map((s) => syntax.checkFault(s, words.fault) === null),
                limits: limits.map((s) => syntax.checkRateLimit(s, words.rate_limit) === null),
            };
        }""",
        [FAULT_EXAMPLES, LIMIT_EXAMPLES],
    )
    expected_faults = [_python_accepts(parse_fault, s) for s in FAULT_EXAMPLES]
    expected_limits = [_python_accepts(parse_rate_limit, s) for s in LIMIT_EXAMPLES]
    assert dict(zip(FAULT_EXAMPLES, verdicts["faults"], strict=True)) == dict(
        zip(FAULT_EXAMPLES, expected_faults, strict=True)
    )
    assert dict(zip(LIMIT_EXAMPLES, verdicts["limits"], strict=True)) == dict(
        zip(LIMIT_EXAMPLES, expected_limits, strict=True)
    )
    assert any(expected_faults) and not all(expected_faults)


def test_screenshot_for_the_guide(queue_emulator_factory: Factory, page: Page) -> None:
    """Write docs/img/dashboard.png: the queues view (every job falls in the rates' minute)."""
    handle = queue_emulator_factory(models={"echo": "echo"}, workers=1)
    with _client(handle) as client, _worker(handle) as worker:
        jobs = [
            client.submit("video-gen", {"prompt": f"clip {i}"}, priority=i % 2) for i in range(6)
        ]
        for _ in range(2):
            client.submit("image-gen", {"prompt": "a lighthouse"})
        for i in range(4):
            client.submit("echo", {"n": i}).wait(timeout=15)
        client.cancel(jobs[5].request_id, model="video-gen")
        claimed = _claim(worker, "video-gen", "gpu-box-1")
        _progress(worker, "video-gen", claimed["request_id"], 0.4)
        page.set_viewport_size({"width": 1000, "height": 330})
        page.goto(handle.dashboard_url)
        expect(page.locator("tr[data-model='video-gen'] .count-running")).to_have_text("1")
        expect(page.locator("tr[data-model='echo'] .count-done")).to_have_text("4")
        expect(page.locator("#live")).to_have_text("live")
        expect(page.locator("tr[data-model='video-gen'] .rate").first).to_have_text("0.1")
        image = page.screenshot()
    if not SCREENSHOT.exists() or SCREENSHOT.read_bytes() != image:
        SCREENSHOT.write_bytes(image)
    assert image.startswith(b"\x89PNG")


@pytest.mark.slow
def test_first_screen_of_jobs_with_100000_jobs(
    queue_emulator_factory: Factory, page: Page, capsys: pytest.CaptureFixture[str]
) -> None:
    """Timed and reported, not asserted: a wall time depends on the machine."""
    handle = queue_emulator_factory(workers=0)
    store = handle.runtime.store
    # The store directly: 100,000 submits over HTTP would take minutes and test nothing new.
    for i in range(100_000):
        store.submit(("alpha", "beta", "gamma")[i % 3], {"i": i}, priority=i % 5)
    page.goto(handle.dashboard_url)
    expect(page.locator("#live")).to_have_text("live")
    started = time.perf_counter()
    page.goto(handle.dashboard_url + "#/jobs")
    page.reload()
    expect(page.locator("table.jobs-table tbody tr")).to_have_count(50)
    first_screen = time.perf_counter() - started
    expect(page.locator("table.jobs-table tbody tr").first).to_contain_text("alpha")
    started = time.perf_counter()
    page.goto(handle.dashboard_url + "#/jobs?model=gamma&status=pending")
    expect(page.locator("table.jobs-table tbody tr").first).to_contain_text("gamma")
    filtered = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\ndashboard with 100,000 jobs: jobs page first screen {first_screen * 1000:.0f} ms "
            "(load, auth check, overview, first page of 50); "
            f"filtered page {filtered * 1000:.0f} ms"
        )
    rows = page.locator("table.jobs-table tbody tr")
    first_id = rows.first.get_attribute("data-request-id")
    assert first_id is not None and re.fullmatch(r"[0-9a-f-]{36}", first_id)
    page.get_by_role("button", name="Older »").click()
    expect(rows.first).not_to_have_attribute("data-request-id", first_id)
    expect(rows).to_have_count(50)
    page.get_by_role("button", name="« Newer").click()
    expect(rows.first).to_have_attribute("data-request-id", first_id)
