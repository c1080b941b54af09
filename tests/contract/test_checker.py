"""The checkers reject what they must, with messages naming schema, field and status.

The three deliberate breakages of the issue, kept as tests so that a checker which
stopped working would turn this file red:

1. a generated model whose output lacks a required field (monkeypatched, never edited);
2. the overlay sending a request with a misspelled property (monkeypatched);
3. the emulator answering a status code the spec does not declare (an ASGI wrapper).

Smaller cases follow, built from plain httpx objects: no server needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.contract.params import API_KEY, FAST_POLL
from tests.contract.schemas import check_round_trip, component_schema, example_instance
from tests.support.contract import (
    AsyncCheckingTransport,
    CheckingTransport,
    ContractRecorder,
    global_checking,
)
from tests.support.openapi_check import OpenAPIContract, Violation
from together_queue import AsyncQueueClient, QueueClient
from together_queue.emulator import EmulatorConfig, EmulatorHandle, create_app
from together_queue.errors import NotFoundError, ResponseValidationError
from together_queue_api.models import QueueJobRequest, QueueJobStatusResponse, QueueMetricsResponse

# The demonstrations break the contract on purpose; a session-wide check must not fail them.
ON_PURPOSE = pytest.mark.contract_exempt("breaks the contract on purpose to show it is caught")


def _dropping(
    original: Callable[[Any], dict[str, Any]], name: str
) -> Callable[[Any], dict[str, Any]]:
    def to_dict(self: Any) -> dict[str, Any]:
        out = original(self)
        out.pop(name, None)
        return out

    return to_dict


# -- 1. a required field removed from a model's output -------------------------------


def test_round_trip_rejects_a_model_that_drops_a_required_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        QueueMetricsResponse, "to_dict", _dropping(QueueMetricsResponse.to_dict, "total_jobs")
    )
    instance = example_instance(component_schema("QueueMetricsResponse"))
    with pytest.raises(AssertionError) as caught:
        check_round_trip("QueueMetricsResponse", instance)
    message = str(caught.value)
    print(message)
    assert "schema QueueMetricsResponse" in message
    assert "'total_jobs' is a required property" in message


@ON_PURPOSE
def test_response_check_rejects_an_emulator_body_missing_a_required_field(
    monkeypatch: pytest.MonkeyPatch,
    emulator: EmulatorHandle,
    contract_checked_client: Any,
    contract_recorder: ContractRecorder,
) -> None:
    # The emulator writes its status bodies through the generated model.
    monkeypatch.setattr(
        QueueJobStatusResponse, "to_dict", _dropping(QueueJobStatusResponse.to_dict, "model")
    )
    client = contract_checked_client(emulator.url, api_key=API_KEY)
    job = client.submit("echo", {"a": 1})
    with pytest.raises(ResponseValidationError):
        client.status(job.request_id, model="echo")
    violations = contract_recorder.take_violations()
    print("\n".join(map(str, violations)))
    (violation,) = violations
    assert (violation.kind, violation.status, violation.schema) == (
        "response",
        200,
        "QueueJobStatusResponse",
    )
    assert "at $: 'model' is a required property" in violation.detail
    assert str(violation).startswith("response GET /v1/queue/status -> 200 (getQueueJobStatus")


# -- 2. an overlay request with a misspelled property ---------------------------------


@ON_PURPOSE
def test_request_check_rejects_a_misspelled_property(
    monkeypatch: pytest.MonkeyPatch,
    emulator: EmulatorHandle,
    contract_checked_client: Any,
    contract_recorder: ContractRecorder,
) -> None:
    original = QueueJobRequest.to_dict

    def misspelled(self: QueueJobRequest) -> dict[str, Any]:
        out = original(self)
        out["priorty"] = out.pop("priority")
        return out

    monkeypatch.setattr(QueueJobRequest, "to_dict", misspelled)
    client = contract_checked_client(emulator.url, api_key=API_KEY)
    client.submit("echo", {"a": 1}, priority=5)  # the emulator tolerates it, with a warning
    violations = contract_recorder.take_violations()
    print("\n".join(map(str, violations)))
    (violation,) = violations
    assert (violation.kind, violation.operation_id, violation.schema) == (
        "request",
        "submitQueueJob",
        "QueueJobRequest",
    )
    assert "'priorty' was unexpected" in violation.detail


# -- 3. an emulator response with an undeclared status code ---------------------------


def _config(**fields: Any) -> EmulatorConfig:
    # Through Any: mypy's attrs plugin reads api_keys' `converter=tuple` as Iterable[_T_co].
    return EmulatorConfig(**fields)


def _gone_instead_of_not_found(app: Any) -> Any:
    """ASGI wrapper: the status endpoint answers 410 where the emulator says 404."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        async def renumbered(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 404:
                message = {**message, "status": 410}
            await send(message)

        is_status = scope["type"] == "http" and scope["path"] == "/v1/queue/status"
        await app(scope, receive, renumbered if is_status else send)

    return wrapped


@pytest.mark.anyio
@ON_PURPOSE
async def test_response_check_rejects_an_undeclared_status(openapi_contract: Any) -> None:
    recorder = ContractRecorder(openapi_contract)
    app = _gone_instead_of_not_found(create_app(_config(api_keys=(API_KEY,))))
    transport = AsyncCheckingTransport(httpx.ASGITransport(app=app), recorder)
    async with (
        httpx.AsyncClient(transport=transport) as http,
        AsyncQueueClient(base_url="http://127.0.0.1", api_key=API_KEY, http_client=http) as c,
    ):
        with pytest.raises(Exception) as caught:
            await c.status("no-such-job", model="echo")
    assert not isinstance(caught.value, NotFoundError)  # the overlay saw the 410
    violations = recorder.take_violations()
    print("\n".join(map(str, violations)))
    (violation,) = violations
    assert (violation.kind, violation.status) == ("response", 410)
    assert "status 410 is not declared for getQueueJobStatus" in violation.detail
    assert "declared: 200, 400, 401, 404, 429, 500" in violation.detail


# -- smaller cases, no server -----------------------------------------------------------


@pytest.fixture
def contract() -> OpenAPIContract:
    return OpenAPIContract()


def _status_request(**params: str) -> httpx.Request:
    return httpx.Request(
        "GET",
        "http://127.0.0.1:8000/v1/queue/status",
        params=params,
        headers={"Authorization": f"Bearer {API_KEY}"},
    )


def _only(violations: list[Violation]) -> Violation:
    assert len(violations) == 1, violations
    return violations[0]


def test_request_missing_a_query_parameter(contract: OpenAPIContract) -> None:
    violation = _only(contract.check_request(_status_request(request_id="r")))
    assert "query parameter 'model'" in violation.detail


def test_request_without_a_key(contract: OpenAPIContract) -> None:
    request = httpx.Request("GET", "http://127.0.0.1/v1/queue/metrics", params={"model": "m"})
    assert "Security" in _only(contract.check_request(request)).detail
    assert OpenAPIContract(require_auth=False).check_request(request) == []


def test_request_under_the_wrong_base_path(contract: OpenAPIContract) -> None:
    request = _status_request(request_id="r", model="m")
    request.url = request.url.copy_with(path="/v2/queue/status")
    assert contract.in_scope(request.url.path)
    assert "Server not found" in _only(contract.check_request(request)).detail


def test_request_to_the_real_server_url_conforms(contract: OpenAPIContract) -> None:
    request = _status_request(request_id="r", model="m")
    request.url = request.url.copy_with(scheme="https", host="api.together.ai", port=None)
    assert contract.check_request(request) == []


def test_request_body_of_the_wrong_content_type(contract: OpenAPIContract) -> None:
    request = httpx.Request(
        "POST",
        "http://127.0.0.1/v1/queue/cancel",
        content=b'{"model": "m", "request_id": "r"}',
        headers={"Authorization": "Bearer k", "Content-Type": "text/plain"},
    )
    assert "text/plain" in _only(contract.check_request(request)).detail


def _response(status: int, body: Any = None, **kwargs: Any) -> httpx.Response:
    request = _status_request(request_id="r", model="m")
    if body is not None:
        kwargs["json"] = body
    return httpx.Response(status, request=request, **kwargs)


def test_response_with_a_wrong_type_names_the_field(contract: OpenAPIContract) -> None:
    body = {"request_id": 7, "model": "m", "status": "done"}
    violation = _only(contract.check_response(_response(200, body)))
    assert violation.schema == "QueueJobStatusResponse"
    assert "at $.request_id: 7 is not of type 'string'" in violation.detail


def test_response_with_a_bad_date_time(contract: OpenAPIContract) -> None:
    body = {"request_id": "r", "model": "m", "status": "done", "created_at": "yesterday"}
    assert (
        "'yesterday' is not a 'date-time'"
        in _only(contract.check_response(_response(200, body))).detail
    )


def test_response_with_an_undeclared_property(contract: OpenAPIContract) -> None:
    # The emulator is held to the declared properties (strict_properties); clients are not.
    body = {"request_id": "r", "model": "m", "status": "done", "requestId": "r"}
    assert (
        "'requestId' was unexpected" in _only(contract.check_response(_response(200, body))).detail
    )
    assert OpenAPIContract(strict_properties=False).check_response(_response(200, body)) == []


def test_response_that_is_not_json(contract: OpenAPIContract) -> None:
    violation = _only(contract.check_response(_response(200, text="<html>oops</html>")))
    assert "text/plain" in violation.detail


def test_rate_limit_with_a_bad_retry_after(contract: OpenAPIContract) -> None:
    response = _response(429, {"code": "rate_limited"}, headers={"Retry-After": "-1"})
    violation = _only(contract.check_response(response))
    assert "header 'Retry-After'" in violation.detail
    assert "less than the minimum of 0" in violation.detail


def test_error_body_with_a_wrong_type(contract: OpenAPIContract) -> None:
    violation = _only(contract.check_response(_response(404, {"code": 404})))
    assert (violation.schema, violation.status) == ("QueueError", 404)
    assert "at $.code: 404 is not of type 'string'" in violation.detail


def test_paths_outside_the_spec_are_not_checked(contract: OpenAPIContract) -> None:
    recorder = ContractRecorder(contract)
    request = httpx.Request("GET", "http://127.0.0.1/_emulator/health")
    recorder.on_request(request)
    recorder.on_response(httpx.Response(200, text="ok", request=request))
    assert (recorder.requests_checked, recorder.responses_checked) == (0, 0)


def test_global_checking_covers_clients_created_anywhere(emulator: EmulatorHandle) -> None:
    recorder = ContractRecorder(OpenAPIContract())
    original = httpx.HTTPTransport.handle_request
    with global_checking(recorder):
        # A client with its own default transport: nothing was passed to it.
        with QueueClient(base_url=emulator.url, api_key=API_KEY, poll=FAST_POLL) as client:
            assert client.run("echo", {"a": 1}, timeout=10) == {"a": 1}
    assert httpx.HTTPTransport.handle_request is original, "the patch was not undone"
    recorder.assert_clean()
    assert recorder.requests_checked >= 2
    assert recorder.responses_checked == recorder.requests_checked


def test_checking_transport_leaves_streaming_bodies_intact(emulator: EmulatorHandle) -> None:
    recorder = ContractRecorder(OpenAPIContract())
    transport = CheckingTransport(httpx.HTTPTransport(), recorder)
    with httpx.Client(transport=transport, base_url=emulator.api_url) as http:
        query = {"model": "echo"}
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with http.stream("GET", "/queue/metrics", params=query, headers=headers) as response:
            body = b"".join(response.iter_bytes())
        assert response.elapsed.total_seconds() >= 0
    assert b"total_jobs" in body
    recorder.assert_clean()
    assert recorder.seen[("getQueueMetrics", 200)] == 1
