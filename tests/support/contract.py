"""Record HTTP exchanges at the transport and hold each one against openapi.yaml.

Three ways to use it:

- Per client: `CheckingTransport` / `AsyncCheckingTransport` wrap any httpx transport;
  pass `httpx.Client(transport=CheckingTransport(httpx.HTTPTransport(), recorder))`
  to `QueueClient(http_client=...)` (or to any raw httpx client).
- Per test, as pytest fixtures of this plugin: `contract_recorder` (fails the test
  at teardown on any violation it did not take), `contract_checked_client`
  (QueueClient factory) and `contract_checked_async_client` (AsyncQueueClient factory).
- Session-wide: load this module as a plugin (`pytest_plugins = ["tests.support.contract"]`
  or `-p tests.support.contract`) with `--contract-check=on`: every httpx transport of
  the process is wrapped, requests the overlay sends (its User-Agent) and every
  response under the spec's paths are checked, and a test during which a violation
  happened errors at teardown. Responses of a `ScriptedServer` (tests/support), which
  answers off-spec on purpose, are not checked (the overlay's requests to it are);
  tests marked `contract_exempt(reason)` are not checked at all.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.openapi_check import OpenAPIContract, Violation

__all__ = [
    "OVERLAY_USER_AGENT_PREFIX",
    "AsyncCheckingTransport",
    "CheckingTransport",
    "ContractRecorder",
    "global_checking",
    "sent_by_overlay",
]

OVERLAY_USER_AGENT_PREFIX = "together-queue/"
"""How requests the overlay sends announce themselves (together_queue._config.USER_AGENT)."""

RequestFilter = Callable[[httpx.Request], bool]
ResponseFilter = Callable[[httpx.Response], bool]


def sent_by_overlay(request: httpx.Request) -> bool:
    """Whether `request` was built by the overlay client (not by a raw httpx call)."""
    return str(request.headers.get("user-agent", "")).startswith(OVERLAY_USER_AGENT_PREFIX)


def _always(_: Any) -> bool:
    return True


class ContractRecorder:
    """Checks every exchange it is shown and keeps the violations and the statuses seen.

    `check_request` / `check_response` choose which requests and responses are
    validated (default: all that fall under the spec's paths). Thread-safe: the
    emulator's clients may run in several threads or tasks at once.
    """

    def __init__(
        self,
        contract: OpenAPIContract,
        *,
        check_request: RequestFilter = _always,
        check_response: ResponseFilter = _always,
    ) -> None:
        self.contract = contract
        self._want_request = check_request
        self._want_response = check_response
        self._lock = threading.Lock()
        self._violations: list[Violation] = []
        self.requests_checked = 0
        self.responses_checked = 0
        #: (operationId, status code) of every response checked.
        self.seen: Counter[tuple[str, int]] = Counter()

    def on_request(self, request: httpx.Request) -> None:
        """Validate `request` (its body already read) if it is in scope."""
        if not self.contract.in_scope(request.url.path) or not self._want_request(request):
            return
        found = self.contract.check_request(request)
        with self._lock:
            self.requests_checked += 1
            self._violations.extend(found)

    def on_response(self, response: httpx.Response) -> None:
        """Validate `response` (its body already read) if it is in scope."""
        request = response.request
        if not self.contract.in_scope(request.url.path) or not self._want_response(response):
            return
        op = self.contract.operation(request.method, request.url.path)
        if op is None:
            # A method the path does not have: the spec says nothing about the answer.
            return
        found = self.contract.check_response(response)
        with self._lock:
            self.responses_checked += 1
            self.seen[(op.operation_id, response.status_code)] += 1
            self._violations.extend(found)

    @property
    def violations(self) -> list[Violation]:
        """Violations recorded so far (a copy)."""
        with self._lock:
            return list(self._violations)

    def take_violations(self) -> list[Violation]:
        """Return the violations recorded so far and forget them."""
        with self._lock:
            taken, self._violations = self._violations, []
        return taken

    def assert_clean(self) -> None:
        """Raise AssertionError listing every violation recorded (and forget them)."""
        taken = self.take_violations()
        if taken:
            raise AssertionError(report(taken))


def report(violations: list[Violation]) -> str:
    """The message a failing contract check prints."""
    lines = [f"{len(violations)} contract violation(s) against openapi.yaml:"]
    lines += [f"  - {v}" for v in violations]
    return "\n".join(lines)


class CheckingTransport(httpx.BaseTransport):
    """An httpx transport that shows every exchange through `inner` to a recorder."""

    def __init__(self, inner: httpx.BaseTransport, recorder: ContractRecorder) -> None:
        self.inner = inner
        self.recorder = recorder

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Check the request, send it; the response is checked once its body is read."""
        return _checked_sync(self.inner.handle_request, request, self.recorder)

    def close(self) -> None:
        """Close the wrapped transport."""
        self.inner.close()


class AsyncCheckingTransport(httpx.AsyncBaseTransport):
    """The async twin of `CheckingTransport`."""

    def __init__(self, inner: httpx.AsyncBaseTransport, recorder: ContractRecorder) -> None:
        self.inner = inner
        self.recorder = recorder

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Check the request, send it; the response is checked once its body is read."""
        return await _checked_async(self.inner.handle_async_request, request, self.recorder)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()


def _checked_sync(
    send: Callable[[httpx.Request], httpx.Response],
    request: httpx.Request,
    recorder: ContractRecorder,
) -> httpx.Response:
    if not recorder.contract.in_scope(request.url.path):
        return send(request)
    request.read()
    recorder.on_request(request)
    response = send(request)
    response.stream = _RecordingStream(response.stream, _on_body(recorder, request, response))
    return response


async def _checked_async(
    send: Callable[[httpx.Request], Awaitable[httpx.Response]],
    request: httpx.Request,
    recorder: ContractRecorder,
) -> httpx.Response:
    if not recorder.contract.in_scope(request.url.path):
        return await send(request)
    await request.aread()
    recorder.on_request(request)
    response = await send(request)
    response.stream = _AsyncRecordingStream(response.stream, _on_body(recorder, request, response))
    return response


def _on_body(
    recorder: ContractRecorder, request: httpx.Request, response: httpx.Response
) -> Callable[[bytes], None]:
    def complete(body: bytes) -> None:
        # A copy carrying the whole body: the client's own response object streams on.
        whole = httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )
        recorder.on_response(whole)

    return complete


class _RecordingStream(httpx.SyncByteStream):
    """Passes the body through; hands it over whole once it was read to the end."""

    def __init__(self, inner: Any, on_complete: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._on_complete = on_complete
        self._chunks: list[bytes] = []
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._chunks.append(chunk)
            yield chunk
        # Only a body read to the end is checked: a dropped connection has no answer.
        if not self._done:
            self._done = True
            self._on_complete(b"".join(self._chunks))

    def close(self) -> None:
        self._inner.close()


class _AsyncRecordingStream(httpx.AsyncByteStream):
    """The async twin of `_RecordingStream`."""

    def __init__(self, inner: Any, on_complete: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._on_complete = on_complete
        self._chunks: list[bytes] = []
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._chunks.append(chunk)
            yield chunk
        if not self._done:
            self._done = True
            self._on_complete(b"".join(self._chunks))

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- session-wide checking -------------------------------------------------------------


@contextlib.contextmanager
def global_checking(recorder: ContractRecorder) -> Iterator[None]:
    """Within the block, every httpx HTTP/ASGI transport in the process reports to `recorder`.

    Patches the transport classes (not instances), so clients created anywhere,
    including inside fixtures of other plugins, are covered; restored on exit.
    """
    sync_classes: list[type[httpx.BaseTransport]] = [httpx.HTTPTransport]
    async_classes: list[type[httpx.AsyncBaseTransport]] = [
        httpx.AsyncHTTPTransport,
        httpx.ASGITransport,
    ]
    saved: list[tuple[type[Any], str, Any]] = []

    def patch_sync(cls: type[httpx.BaseTransport]) -> None:
        original = cls.handle_request

        def handle_request(self: httpx.BaseTransport, request: httpx.Request) -> httpx.Response:
            return _checked_sync(lambda r: original(self, r), request, recorder)

        saved.append((cls, "handle_request", original))
        cls.handle_request = handle_request  # type: ignore[method-assign]

    def patch_async(cls: type[httpx.AsyncBaseTransport]) -> None:
        original = cls.handle_async_request

        async def handle_async_request(
            self: httpx.AsyncBaseTransport, request: httpx.Request
        ) -> httpx.Response:
            return await _checked_async(lambda r: original(self, r), request, recorder)

        saved.append((cls, "handle_async_request", original))
        cls.handle_async_request = handle_async_request  # type: ignore[method-assign]

    for sync_cls in sync_classes:
        patch_sync(sync_cls)
    for async_cls in async_classes:
        patch_async(async_cls)
    try:
        yield
    finally:
        for cls, name, original in reversed(saved):
            setattr(cls, name, original)


class _SessionState:
    """What the session-wide check knows about the test running now."""

    def __init__(self) -> None:
        self.recorder: ContractRecorder | None = None
        self.item: pytest.Item | None = None
        self.stack = contextlib.ExitStack()
        self.unattributed: list[Violation] = []

    def _exempt(self) -> bool:
        item = self.item
        return item is not None and item.get_closest_marker("contract_exempt") is not None

    def request_wanted(self, request: httpx.Request) -> bool:
        """Check requests the overlay sends, outside tests that break the spec on purpose."""
        return sent_by_overlay(request) and not self._exempt()

    def response_wanted(self, response: httpx.Response) -> bool:
        """Check responses, except a ScriptedServer's and in tests exempt on purpose."""
        if self._exempt():
            return False
        item = self.item
        return item is None or _origin(response.request.url) not in _scripted_origins(item)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def _scripted_origins(item: pytest.Item) -> set[tuple[str, str, int | None]]:
    from tests.support.scripted_server import ScriptedServer

    funcargs = getattr(item, "funcargs", {})
    return {
        _origin(httpx.URL(value.url))
        for value in funcargs.values()
        if isinstance(value, ScriptedServer)
    }


_SESSION_KEY = pytest.StashKey[_SessionState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--contract-check=on|off`: hold every exchange of the session against openapi.yaml."""
    parser.addoption(
        "--contract-check",
        choices=("on", "off"),
        default="on",
        help="validate every request the overlay sends and every response under the "
        "spec's paths against openapi.yaml (default: on)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and, when on, wrap every httpx transport for the session."""
    config.addinivalue_line(
        "markers",
        "contract_exempt(reason): the session-wide contract check ignores this test "
        "(it breaks the spec on purpose)",
    )
    state = _SessionState()
    config.stash[_SESSION_KEY] = state
    if config.getoption("--contract-check") != "on":
        return
    contract = OpenAPIContract(require_auth=False)
    state.recorder = ContractRecorder(
        contract, check_request=state.request_wanted, check_response=state.response_wanted
    )
    state.stack.enter_context(global_checking(state.recorder))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put the httpx transports back."""
    config.stash[_SESSION_KEY].stack.close()


@pytest.fixture(autouse=True)
def _contract_session_check(request: pytest.FixtureRequest) -> Iterator[None]:
    """Error at teardown when an exchange of this test broke the spec (session mode)."""
    state = request.config.stash[_SESSION_KEY]
    recorder = state.recorder
    if recorder is None:
        yield
        return
    state.unattributed.extend(recorder.take_violations())
    state.item = request.node
    try:
        yield
    finally:
        state.item = None
    found = recorder.take_violations()
    if found:
        pytest.fail(report(found), pytrace=False)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say how much was checked, and list violations no test could be blamed for."""
    state = config.stash.get(_SESSION_KEY, None)
    if state is None or state.recorder is None:
        return
    recorder = state.recorder
    leftover = state.unattributed + recorder.take_violations()
    terminalreporter.write_line(
        f"contract check: {recorder.requests_checked} overlay requests and "
        f"{recorder.responses_checked} responses validated against openapi.yaml"
    )
    if leftover:
        terminalreporter.write_line(report(leftover), red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session on violations outside any test (e.g. in session fixtures)."""
    state = session.config.stash.get(_SESSION_KEY, None)
    if state is None or state.recorder is None:
        return
    if state.unattributed or state.recorder.violations:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- per-test fixtures -----------------------------------------------------------------


@pytest.fixture(scope="session")
def openapi_contract() -> OpenAPIContract:
    """The openapi.yaml validators (strict properties, auth required)."""
    return OpenAPIContract()


@pytest.fixture
def contract_recorder(openapi_contract: OpenAPIContract) -> Iterator[ContractRecorder]:
    """A recorder for this test; any violation it still holds at teardown fails the test."""
    recorder = ContractRecorder(openapi_contract)
    yield recorder
    recorder.assert_clean()


@pytest.fixture
def contract_checked_client(contract_recorder: ContractRecorder) -> Iterator[Callable[..., Any]]:
    """`make(base_url, **client_kwargs)`: a QueueClient whose every exchange is checked."""
    from together_queue import QueueClient

    opened: list[tuple[Any, httpx.Client]] = []

    def make(base_url: str, **kwargs: Any) -> Any:
        http = httpx.Client(
            transport=CheckingTransport(httpx.HTTPTransport(), contract_recorder),
            timeout=kwargs.pop("timeout", 10.0),
        )
        client = QueueClient(base_url=base_url, http_client=http, **kwargs)
        opened.append((client, http))
        return client

    yield make
    for client, http in opened:
        client.close()
        http.close()


@pytest.fixture
async def contract_checked_async_client(
    contract_recorder: ContractRecorder,
) -> AsyncIterator[Callable[..., Any]]:
    """`make(base_url, **client_kwargs)`: an AsyncQueueClient whose every exchange is checked."""
    from together_queue import AsyncQueueClient

    opened: list[tuple[Any, httpx.AsyncClient]] = []

    def make(base_url: str, **kwargs: Any) -> Any:
        http = httpx.AsyncClient(
            transport=AsyncCheckingTransport(httpx.AsyncHTTPTransport(), contract_recorder),
            timeout=kwargs.pop("timeout", 10.0),
        )
        client = AsyncQueueClient(base_url=base_url, http_client=http, **kwargs)
        opened.append((client, http))
        return client

    yield make
    for client, http in opened:
        await client.aclose()
        await http.aclose()
