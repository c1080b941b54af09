"""Bad input: every case gets its 4xx QueueError naming the field; auth; body limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from together_queue._json import MAX_JSON_DEPTH
from together_queue.emulator import EmulatorHandle, start_emulator
from together_queue.emulator.store import MAX_INFO_BYTES

from .conftest import Api, Factory
from .helpers import retrieve, status, submit, update, wait_status

JSON = {"content-type": "application/json"}

DEEP = b'{"model": "m", "payload": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
UTF16_SURROGATE = '{"model": "m", "payload": {"s": "\ud800"}}'.encode("utf-16-le", "surrogatepass")


NEAR = "near"
"""The model of the accepted bodies: the refused cases check that model `m` stays empty."""


def nest(depth: int, model: str = "m") -> bytes:
    """A submit body nesting objects and arrays `depth` levels deep, the body included."""
    inner = depth - 2  # the body and the payload are two levels
    head = json.dumps({"model": model}).encode()[:-1]
    return head + b', "payload": {"x": ' + b"[" * inner + b"]" * inner + b"}}"


# (case id, raw body or JSON value, expected param; None: the error names no field)
SUBMIT_CASES: list[tuple[str, Any, str | None]] = [
    ("missing model", {"payload": {}}, "model"),
    ("model not a string", {"model": 7, "payload": {}}, "model"),
    ("model null", {"model": None, "payload": {}}, "model"),
    ("model empty", {"model": "", "payload": {}}, "model"),
    ("missing payload", {"model": "m"}, "payload"),
    ("payload a string", {"model": "m", "payload": "text"}, "payload"),
    ("payload a list", {"model": "m", "payload": [1]}, "payload"),
    ("payload null", {"model": "m", "payload": None}, "payload"),
    ("priority a string", {"model": "m", "payload": {}, "priority": "1"}, "priority"),
    ("priority a float", {"model": "m", "payload": {}, "priority": 1.5}, "priority"),
    (
        "priority integral float past int64",
        {"model": "m", "payload": {}, "priority": 1e19},
        "priority",
    ),
    ("priority a bool", {"model": "m", "payload": {}, "priority": True}, "priority"),
    ("priority null", {"model": "m", "payload": {}, "priority": None}, "priority"),
    ("priority too big", {"model": "m", "payload": {}, "priority": 2**70}, "priority"),
    ("info a string", {"model": "m", "payload": {}, "info": "x"}, "info"),
    ("info a list", {"model": "m", "payload": {}, "info": []}, "info"),
    ("body a list", [], None),
    ("body a string", "model", None),
    ("malformed JSON", b'{"model": "m",', None),
    ("NaN", b'{"model": "m", "payload": {"x": NaN}}', None),
    ("not UTF-8", b'{"model": "\xff"}', None),
    ("empty body", b"", None),
    # Parsed by json.loads, yet no JSON answer or SQLite row can hold them.
    ("number out of range", b'{"model": "m", "payload": {"x": 1e400}}', None),
    ("negative out of range", b'{"model": "m", "payload": {"x": -1e400}}', None),
    ("lone surrogate in payload", b'{"model": "m", "payload": {"s": "\\ud800"}}', None),
    ("lone surrogate in a key", b'{"model": "m", "payload": {"\\udfff": 1}}', None),
    ("lone surrogate in model", b'{"model": "\\ud800", "payload": {}}', None),
    ("lone surrogate in info", b'{"model": "m", "payload": {}, "info": {"a": "\\udc00"}}', None),
    # Not escaped: UTF-8 bytes of a surrogate, and a UTF-16 body (json.loads takes both).
    ("lone surrogate as raw bytes", b'{"model": "m", "payload": {"s": "\xed\xa0\x80"}}', None),
    ("lone surrogate in UTF-16", UTF16_SURROGATE, None),
    ("nested too deeply", DEEP, None),
    ("nested one level too deeply", nest(MAX_JSON_DEPTH + 1), None),
]

CANCEL_CASES: list[tuple[str, Any, str | None]] = [
    ("missing model", {"request_id": "r"}, "model"),
    ("missing request_id", {"model": "m"}, "request_id"),
    ("request_id a number", {"model": "m", "request_id": 5}, "request_id"),
    ("request_id empty", {"model": "m", "request_id": ""}, "request_id"),
    ("model a dict", {"model": {}, "request_id": "r"}, "model"),
    ("malformed JSON", b"{", None),
    ("body a list", [1], None),
    ("lone surrogate in request_id", b'{"model": "m", "request_id": "\\ud800"}', None),
    ("lone surrogate in model", b'{"model": "\\ud800", "request_id": "r"}', None),
    ("number out of range", b'{"model": "m", "request_id": "r", "x": 1e999}', None),
    (
        "nested too deeply",
        b'{"model": "m", "request_id": "r", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        None,
    ),
]


def _content(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[EmulatorHandle]:
    # These cases change no state worth isolating: one emulator serves them all.
    with start_emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def keyed_emulator() -> Iterator[EmulatorHandle]:
    with start_emulator(api_keys=KEYS) as emulator:
        yield emulator


@pytest.fixture
def client(shared_emulator: EmulatorHandle, api: Api) -> httpx.Client:
    return api(shared_emulator)


def _assert_invalid(response: Any, param: str | None) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "invalid_request_error"
    assert body["code"] and body["message"]
    assert body.get("param") == param


@pytest.mark.parametrize(("case", "body", "param"), SUBMIT_CASES, ids=[c[0] for c in SUBMIT_CASES])
def test_bad_submit_is_400_naming_the_field(
    client: httpx.Client, case: str, body: Any, param: str | None
) -> None:
    _assert_invalid(client.post("/v1/queue/submit", content=_content(body), headers=JSON), param)
    assert client.get("/v1/queue/metrics", params={"model": "m"}).json()["total_jobs"] == 0
    assert client.get("/_emulator/jobs", params={"model": "m"}).json()["jobs"] == []


@pytest.mark.parametrize(
    "body",
    [
        nest(MAX_JSON_DEPTH, NEAR),
        # More brackets than the depth limit, all inside strings: shallow, so stored.
        json.dumps({"model": NEAR, "payload": {"s": "[{" * MAX_JSON_DEPTH}}).encode(),
        # Escapes that are not lone surrogates: a pair and a plain character.
        b'{"model": "near", "payload": {"s": "\\ud83d\\ude00 \\u00e9"}}',
        '{"model": "near", "payload": {"s": "\u00e9"}}'.encode("utf-16"),
    ],
    ids=["at the depth limit", "brackets in strings", "escaped pair", "UTF-16 with a BOM"],
)
def test_submit_bodies_near_the_checks_are_stored(client: httpx.Client, body: bytes) -> None:
    response = client.post("/v1/queue/submit", content=body, headers=JSON)
    assert response.status_code == 200, response.text
    job = status(client, NEAR, response.json()["requestId"])
    assert job["status"] == "pending"
    assert job["info"] == {}


@pytest.mark.parametrize("text", ["-4334946803902644.0", "2.0", "-9.2e18", "0e0"])
def test_an_integral_float_priority_is_that_integer(client: httpx.Client, text: str) -> None:
    # JSON Schema counts a number with a zero fraction as an integer: so does the emulator.
    body = b'{"model": "floaty", "payload": {}, "priority": ' + text.encode() + b"}"
    response = client.post("/v1/queue/submit", content=body, headers=JSON)
    assert response.status_code == 200, response.text
    rid = response.json()["requestId"]
    got = client.get("/v1/queue/status", params={"model": "floaty", "request_id": rid}).json()
    assert got["priority"] == int(float(text))
    assert type(got["priority"]) is int


@pytest.mark.parametrize(("case", "body", "param"), CANCEL_CASES, ids=[c[0] for c in CANCEL_CASES])
def test_bad_cancel_is_400_naming_the_field(
    client: httpx.Client, case: str, body: Any, param: str | None
) -> None:
    _assert_invalid(client.post("/v1/queue/cancel", content=_content(body), headers=JSON), param)


@pytest.mark.parametrize("path", ["/v1/queue/submit", "/v1/queue/cancel"])
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_400(
    client: httpx.Client, path: str, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    body = json.dumps({"model": "m", "payload": {}, "request_id": "r"}).encode()
    response = client.post(path, content=body, headers=headers)
    _assert_invalid(response, None)
    assert response.json()["code"] == "invalid_content_type"


def test_json_content_type_with_charset_is_accepted(client: httpx.Client) -> None:
    body = json.dumps({"model": "charset", "payload": {}}).encode()
    headers = {"content-type": "application/json; charset=utf-8"}
    assert client.post("/v1/queue/submit", content=body, headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"model": "m"}, "request_id"),
        ({"request_id": "r"}, "model"),
        ({"request_id": "", "model": "m"}, "request_id"),
        ({"request_id": "r", "model": ""}, "model"),
    ],
)
def test_bad_status_query_is_400(client: httpx.Client, params: dict[str, str], param: str) -> None:
    _assert_invalid(client.get("/v1/queue/status", params=params), param)


@pytest.mark.parametrize("params", [{}, {"model": ""}])
def test_bad_metrics_query_is_400(client: httpx.Client, params: dict[str, str]) -> None:
    _assert_invalid(client.get("/v1/queue/metrics", params=params), "model")


def test_unknown_query_parameters_are_ignored(client: httpx.Client) -> None:
    rid = submit(client, "extra", {})
    response = client.get(
        "/v1/queue/status", params={"model": "extra", "request_id": rid, "verbose": "1"}
    )
    assert response.status_code == 200
    response = client.get("/v1/queue/metrics", params={"model": "extra", "extra": "x"})
    assert response.json() == {"messages_running": 0, "messages_waiting": 1, "total_jobs": 1}


def test_unknown_job_status_is_404(client: httpx.Client) -> None:
    response = client.get("/v1/queue/status", params={"model": "m", "request_id": "nope"})
    assert response.status_code == 404
    assert response.json()["type"] == "not_found_error"
    assert response.json()["param"] == "request_id"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "request_id": "r", "status": "exploded"}, "status"),
        ({"model": "m", "request_id": "r"}, "status"),
        ({"model": "m", "request_id": "r", "status": "done", "payload": [1]}, "payload"),
        ({"model": "m", "request_id": "r", "status": "running", "info": "x"}, "info"),
        ({"model": "m", "request_id": "r", "status": "running", "claim_id": 3}, "claim_id"),
        ({"request_id": "r", "status": "running"}, "model"),
    ],
)
def test_bad_worker_updates_are_400(client: httpx.Client, body: dict[str, Any], param: str) -> None:
    _assert_invalid(client.post("/internal/v1/videos/status", json=body), param)


@pytest.mark.parametrize(
    "body",
    [
        b'{"model": "m", "request_id": "%s", "status": "done", "payload": {"x": 1e400}}',
        b'{"model": "m", "request_id": "%s", "status": "done", "payload": {"s": "\\ud800"}}',
        b'{"model": "m", "request_id": "%s", "status": "running", "info": {"s": "\\udbff"}}',
        b'{"model": "m", "request_id": "%s", "status": "done", "payload": {"x": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}}",
    ],
    ids=["out of range", "surrogate in outputs", "surrogate in info", "nested too deeply"],
)
def test_unstorable_worker_update_is_400_and_changes_nothing(
    queue_emulator_factory: Factory, api: Api, body: bytes
) -> None:
    client = api(queue_emulator_factory())
    rid = submit(client, "m", {})
    assert (
        client.get("/internal/v1/rabbitmq/retrieve", params={"model": "m", "timeout": "0"}).json()[
            "data"
        ]["request_id"]
        == rid
    )
    response = client.post("/internal/v1/videos/status", content=body % rid.encode(), headers=JSON)
    _assert_invalid(response, None)
    assert response.json()["code"] == "invalid_json"
    after = client.get("/v1/queue/status", params={"model": "m", "request_id": rid})
    assert after.status_code == 200
    assert (after.json()["status"], after.json()["info"]) == ("running", {})


def test_merged_running_updates_cannot_grow_info_past_its_limit(client: httpx.Client) -> None:
    rid = submit(client, "info-limit", {})
    assert retrieve(client, "info-limit") is not None
    chunk = "x" * (MAX_INFO_BYTES // 3)
    accepted = 0
    for n in range(12):  # each update adds a new key of a third of the limit
        response = update(client, "info-limit", rid, "running", info={f"k{n}": chunk})
        if response.status_code != 200:
            break
        accepted += 1
    assert accepted == 2
    _assert_invalid(response, "info")
    assert response.json()["code"] == "info_too_large"
    assert str(MAX_INFO_BYTES) in response.json()["message"]
    body = status(client, "info-limit", rid)
    assert (body["status"], sorted(body["info"])) == ("running", ["k0", "k1"])
    # Replacing a key keeps the size: still accepted. So is the final result.
    assert update(client, "info-limit", rid, "running", info={"k1": "small"}).status_code == 200
    assert update(client, "info-limit", rid, "done", payload={"ok": 1}).status_code == 200


def test_a_final_update_with_info_over_the_limit_is_refused(client: httpx.Client) -> None:
    rid = submit(client, "info-final", {})
    assert retrieve(client, "info-final") is not None
    huge = {"error": "e" * (MAX_INFO_BYTES + 1)}
    _assert_invalid(update(client, "info-final", rid, "failed", info=huge), "info")
    assert status(client, "info-final", rid)["status"] == "running"


def test_an_in_process_handler_reporting_too_much_info_fails_its_job(
    queue_emulator_factory: Factory, api: Api
) -> None:
    handler = "tests.integration.emulator.user_handlers:grow_info"
    client = api(queue_emulator_factory(models={"grow": handler}))
    rid = submit(client, "grow", {})
    body = wait_status(client, "grow", rid, {"done", "failed"})
    assert body["status"] == "failed"
    assert f"over the limit of {MAX_INFO_BYTES} bytes" in body["info"]["error"]


def test_submit_with_info_over_the_limit_is_400(client: httpx.Client) -> None:
    body = {"model": "m", "payload": {}, "info": {"big": "b" * MAX_INFO_BYTES}}
    response = client.post("/v1/queue/submit", json=body)
    _assert_invalid(response, "info")
    assert response.json()["code"] == "info_too_large"


def test_non_bmp_characters_are_stored_and_served(client: httpx.Client) -> None:
    # A proper surrogate pair is one character (U+1F600), not a lone surrogate: accepted.
    body = b'{"model": "emoji-\\ud83d\\ude00", "payload": {"s": "\\ud83d\\ude00"}}'
    response = client.post("/v1/queue/submit", content=body, headers=JSON)
    assert response.status_code == 200, response.text
    params = {"model": "emoji-\U0001f600", "request_id": response.json()["requestId"]}
    assert client.get("/v1/queue/status", params=params).json()["inputs"] == {"s": "\U0001f600"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/queue/status?model=m&request_id=%ED%A0%80",
        "/v1/queue/status?model=%ED%A0%80&request_id=r",
        "/v1/queue/metrics?model=%ED%A0%80",
        "/internal/v1/rabbitmq/retrieve?model=%ED%A0%80&timeout=0&hostname=%ED%A0%80",
        "/_emulator/jobs?model=%ED%A0%80",
        "/_emulator/claims?model=%ED%A0%80",
    ],
)
def test_surrogate_bytes_in_query_parameters_are_no_server_error(
    client: httpx.Client, path: str
) -> None:
    # Starlette decodes invalid UTF-8 (here an encoded surrogate) to U+FFFD: a name that
    # matches nothing, never a lone surrogate that would break SQLite or the answer.
    response = client.get(path)
    assert response.status_code in (200, 404), response.text
    if response.status_code == 404:
        assert response.json()["code"] == "not_found"


def test_retrieve_needs_a_model(client: httpx.Client) -> None:
    _assert_invalid(client.get("/internal/v1/rabbitmq/retrieve"), "model")


# -- auth ---------------------------------------------------------------------------

KEYS = ("key-one", "key-two")
AUTH_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/v1/queue/submit", {"json": {"model": "m", "payload": {}}}),
    ("GET", "/v1/queue/status", {"params": {"model": "m", "request_id": "r"}}),
    ("POST", "/v1/queue/cancel", {"json": {"model": "m", "request_id": "r"}}),
    ("GET", "/v1/queue/metrics", {"params": {"model": "m"}}),
    ("GET", "/internal/v1/rabbitmq/retrieve", {"params": {"model": "m", "timeout": "0"}}),
    (
        "POST",
        "/internal/v1/videos/status",
        {"json": {"model": "m", "request_id": "r", "status": "running"}},
    ),
    ("GET", "/_emulator/jobs", {}),
]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Bearer", "Basic key-one", "key-one", "Bearer key-one-and-more"],
)
def test_missing_or_wrong_key_is_401(
    keyed_emulator: EmulatorHandle, api: Api, authorization: str | None
) -> None:
    client = api(keyed_emulator)
    headers = {} if authorization is None else {"authorization": authorization}
    for method, path, kwargs in AUTH_CALLS:
        response = client.request(method, path, headers=headers, **kwargs)
        assert response.status_code == 401, (path, response.text)
        body = response.json()
        assert body["type"] == "authentication_error"
        assert "key-one" not in response.text and "wrong" not in response.text
        assert response.headers["www-authenticate"] == "Bearer"
    # Auth comes first: an unauthenticated bad request is still a 401.
    response = client.post("/v1/queue/submit", content=b"{", headers={**headers, **JSON})
    assert response.status_code == 401


@pytest.mark.parametrize("authorization", ["Bearer key-one", "bearer key-two"])
def test_any_configured_key_is_accepted(
    keyed_emulator: EmulatorHandle, api: Api, authorization: str | None
) -> None:
    client = api(keyed_emulator, headers={"authorization": authorization})
    rid = submit(client, "m", {"x": 1})
    expected = {"POST": {200, 404}, "GET": {200, 404}}
    for method, path, kwargs in AUTH_CALLS:
        response = client.request(method, path, **kwargs)
        assert response.status_code in expected[method], (path, response.text)
    assert (
        client.get("/v1/queue/status", params={"model": "m", "request_id": rid}).status_code == 200
    )


def test_health_needs_no_key(keyed_emulator: EmulatorHandle, api: Api) -> None:
    client = api(keyed_emulator)
    assert client.get("/_emulator/health").json()["status"] == "ok"


# -- body size ------------------------------------------------------------------------

LIMIT = 1000


def _body_of_size(size: int) -> bytes:
    skeleton = json.dumps({"model": "m", "payload": {"pad": ""}}).encode()
    body = json.dumps({"model": "m", "payload": {"pad": "x" * (size - len(skeleton))}}).encode()
    assert len(body) == size
    return body


def test_body_over_the_limit_is_413(queue_emulator_factory: Factory, api: Api) -> None:
    client = api(queue_emulator_factory(max_body_bytes=LIMIT))
    assert (
        client.post("/v1/queue/submit", content=_body_of_size(LIMIT), headers=JSON).status_code
        == 200
    )
    response = client.post("/v1/queue/submit", content=_body_of_size(LIMIT + 1), headers=JSON)
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    big_cancel = json.dumps({"model": "m", "request_id": "r" * (2 * LIMIT)}).encode()
    assert client.post("/v1/queue/cancel", content=big_cancel, headers=JSON).status_code == 413
    assert client.get("/v1/queue/metrics", params={"model": "m"}).json()["total_jobs"] == 1


def test_chunked_body_over_the_limit_is_413(queue_emulator_factory: Factory, api: Api) -> None:
    client = api(queue_emulator_factory(max_body_bytes=LIMIT))
    body = _body_of_size(2 * LIMIT)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    response = client.post("/v1/queue/submit", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
