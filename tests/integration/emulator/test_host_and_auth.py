"""Who the emulator answers: the Host allowlist, one reading of Authorization, bounded input."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from together_queue.emulator import EmulatorConfig, EmulatorHandle
from together_queue.emulator.store import JobStore

from .conftest import Factory
from .helpers import submit

KEY = "k-host"
AUTH = {"Authorization": f"Bearer {KEY}"}
MAX_CLAIM_TIMEOUT = 86400.0  # one day: config.MAX_CLAIM_TIMEOUT


@pytest.fixture
def plain() -> Iterator[Any]:
    """`plain(handle, **kwargs)`: an httpx.Client on the emulator, with no spec check."""
    with contextlib.ExitStack() as stack:

        def make(handle: EmulatorHandle, **kwargs: Any) -> httpx.Client:
            kwargs.setdefault("timeout", 10.0)
            return stack.enter_context(httpx.Client(base_url=handle.url, **kwargs))

        yield make


# -- the Host allowlist -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/_emulator/jobs", "/internal/v1/queue/retrieve?model=m&timeout=0", "/_emulator/health"],
)
def test_a_foreign_host_name_is_refused(
    queue_emulator: EmulatorHandle, plain: Any, path: str
) -> None:
    # A page that rebinds its own DNS name to 127.0.0.1 sends that name in Host.
    client = plain(queue_emulator)
    response = client.get(path, headers={"Host": "rebind.attacker.example"})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_host"
    assert "--allowed-host" in body["message"]
    assert client.get("/_emulator/jobs").status_code == 200  # 127.0.0.1:PORT is served


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:8000", "127.0.0.1", "127.0.0.2:1", "[::1]:80"]
)
def test_loopback_host_names_are_served(
    queue_emulator: EmulatorHandle, plain: Any, host: str
) -> None:
    response = plain(queue_emulator).get("/_emulator/jobs", headers={"Host": host})
    assert response.status_code == 200, response.text


def test_allowed_host_adds_a_name(queue_emulator_factory: Factory, plain: Any) -> None:
    emulator = queue_emulator_factory(allowed_hosts=["queue.lan"])
    client = plain(emulator)
    assert client.get("/_emulator/jobs", headers={"Host": "queue.lan:8000"}).status_code == 200
    assert client.get("/_emulator/jobs", headers={"Host": "other.lan"}).status_code == 400


def test_allowed_host_star_serves_any_name(queue_emulator_factory: Factory, plain: Any) -> None:
    client = plain(queue_emulator_factory(allowed_hosts="*"))
    assert client.get("/_emulator/jobs", headers={"Host": "any.example"}).status_code == 200


# -- one reading of Authorization ----------------------------------------------------------


def test_two_authorization_headers_are_a_400_that_skips_faults(
    queue_emulator_factory: Factory, plain: Any
) -> None:
    emulator = queue_emulator_factory(api_keys=[KEY])
    emulator.set_faults(["status:500:next=1"])
    client = plain(emulator)
    headers = [("Authorization", f"Bearer {KEY}"), ("Authorization", "Bearer nope")]
    response = client.get(
        "/v1/queue/status", params={"model": "m", "request_id": "r"}, headers=headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_authorization"
    assert emulator.runtime.faults.remaining() == [1]  # the fault was not spent either
    # With the good key alone, the fault strikes: auth and faults agree on who called.
    one = client.get("/v1/queue/status", params={"model": "m", "request_id": "r"}, headers=AUTH)
    assert one.status_code == 500


def test_rate_limits_and_faults_follow_the_auth_verdict(
    queue_emulator_factory: Factory, plain: Any
) -> None:
    emulator = queue_emulator_factory(api_keys=[KEY])
    emulator.set_rate_limits(["metrics=0.001/s,burst=1"])
    client = plain(emulator)
    bad = {"Authorization": "Bearer nope"}
    assert client.get("/v1/queue/metrics", params={"model": "m"}, headers=bad).status_code == 401
    # The refused call took no token: the first keyed call passes, the second is limited.
    assert client.get("/v1/queue/metrics", params={"model": "m"}, headers=AUTH).status_code == 200
    limited = client.get("/v1/queue/metrics", params={"model": "m"}, headers=AUTH)
    assert limited.status_code == 429
    assert limited.json()["type"] == "rate_limit_error"
    assert int(limited.headers["retry-after"]) >= 1


# -- claim_timeout is capped, and stored times stay in range --------------------------------


@pytest.mark.parametrize("claim_timeout", ["1e300", "1e11", str(MAX_CLAIM_TIMEOUT + 1), "²"])
def test_claim_timeout_past_the_cap_is_400_naming_it(
    queue_emulator: EmulatorHandle, plain: Any, claim_timeout: str
) -> None:
    client = plain(queue_emulator)
    submit(client, "capped", {})
    params = {"model": "capped", "timeout": "0", "claim_timeout": claim_timeout}
    response = client.get("/internal/v1/queue/retrieve", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["param"] == "claim_timeout"
    assert f"{MAX_CLAIM_TIMEOUT:g}" in response.json()["message"]
    jobs = client.get("/_emulator/jobs", params={"model": "capped"})
    assert jobs.status_code == 200
    assert [job["status"] for job in jobs.json()["jobs"]] == ["pending"]


def test_claim_timeout_at_the_cap_is_served(queue_emulator: EmulatorHandle, plain: Any) -> None:
    client = plain(queue_emulator)
    submit(client, "at-cap", {})
    params = {"model": "at-cap", "timeout": "0", "claim_timeout": f"{MAX_CLAIM_TIMEOUT:g}"}
    data = client.get("/internal/v1/queue/retrieve", params=params).json()["data"]
    assert data["claim_timeout"] == MAX_CLAIM_TIMEOUT
    assert client.get("/_emulator/jobs").status_code == 200


def test_config_refuses_a_claim_timeout_past_the_cap() -> None:
    with pytest.raises(ValueError, match="at most 86400"):
        EmulatorConfig(claim_timeout=1e300)


# -- key-free storage routes validate their query --------------------------------------------


def _stored_file(client: httpx.Client) -> str:
    """Upload a file; the signed download path of it (relative: see the next test)."""
    response = client.post("/v1/storage/upload-request", json={"filename": "r-1-a.txt"})
    url = response.json()["upload_url"]["url"]
    assert client.put(url, content=b"bytes").status_code == 200
    got = client.get("/v1/storage/r-1-a.txt")
    assert got.status_code == 307
    location: str = got.headers["location"]
    return location


def test_the_download_redirect_does_not_echo_the_host_header(
    queue_emulator: EmulatorHandle, plain: Any
) -> None:
    client = plain(queue_emulator)
    _stored_file(client)
    got = client.get("/v1/storage/r-1-a.txt", headers={"Host": "localhost:1"})
    assert got.status_code == 307
    location = got.headers["location"]
    assert location.startswith("/_storage/download/r-1-a.txt?"), location
    assert client.get(location).content == b"bytes"


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"expires": "²", "signature": "ab"}, "expires"),
        ({"expires": "9" * 5000, "signature": "ab"}, "expires"),
        ({"expires": "-1", "signature": "ab"}, "expires"),
        ({"expires": "1", "signature": "é" * 10}, "signature"),
        ({"expires": "1", "signature": "a" * 5000}, "signature"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_malformed_signed_url_queries_are_400_not_500(
    queue_emulator: EmulatorHandle, plain: Any, query: dict[str, str], param: str, method: str
) -> None:
    client = plain(queue_emulator)
    prefix = "/_storage/download/" if method == "GET" else "/_storage/upload/"
    response = client.request(method, prefix + "r-1-a.txt", params=query, content=b"")
    assert response.status_code == 400, response.text
    assert response.json()["param"] == param


def test_a_wrong_signature_is_still_403(queue_emulator: EmulatorHandle, plain: Any) -> None:
    client = plain(queue_emulator)
    location = _stored_file(client)
    tampered = location[:-1] + ("0" if location[-1] != "0" else "1")
    assert client.get(tampered).status_code == 403


# -- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["clé", "tab\tkey", " padded"])
def test_a_key_no_client_can_send_is_refused_at_start(key: str) -> None:
    with pytest.raises(ValueError, match="API key number 2") as caught:
        EmulatorConfig(api_keys=["fine", key])
    assert key.strip() not in str(caught.value)  # the key itself is not echoed


def test_a_database_holding_an_endless_claim_is_still_served(
    queue_emulator_factory: Factory, plain: Any, tmp_path: Path
) -> None:
    # A database written before claims had a cap may hold a lease past year 9999.
    db = str(tmp_path / "endless.db")
    store = JobStore(db)
    job = store.submit("endless", {})
    assert store.claim("endless", "old-worker", 1e300) is not None
    store.close()
    client = plain(queue_emulator_factory(db=db))
    for path in ("/_emulator/jobs", "/_emulator/claims", "/_emulator/workers"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
    (listed,) = client.get("/_emulator/jobs").json()["jobs"]
    assert listed["request_id"] == job.request_id
    assert listed["claim_expires_at"] == "9999-12-31T23:59:59.999999Z"
