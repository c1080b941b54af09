"""Serving the emulator with uvicorn, in a background thread or in the foreground.

`start_emulator` serves it in a thread for tests; the CLI calls `serve_forever`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from types import FrameType
from typing import Any, cast

import attrs
import httpx
import uvicorn
from starlette.applications import Starlette

from together_queue.emulator.app import create_app
from together_queue.emulator.config import EmulatorConfig
from together_queue.emulator.faults import FaultPlan
from together_queue.emulator.ratelimit import RateLimit, parse_rate_limit
from together_queue.emulator.runtime import Runtime
from together_queue.emulator.tls import client_context, write_self_signed

__all__ = ["EmulatorHandle", "bind_socket", "serve_forever", "start_emulator"]

_START_DEADLINE_SECONDS = 15.0
_STOP_DEADLINE_SECONDS = 15.0


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port` (port 0: the OS picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket, scheme: str = "http") -> str:
    """`SCHEME://HOST:PORT` of a bound socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn.Server that ends long polls at shutdown and reports when it is serving."""

    def __init__(
        self,
        config: uvicorn.Config,
        runtime: Runtime,
        on_started: Callable[[], None],
        handle_signals: bool,
    ) -> None:
        super().__init__(config)
        self.runtime = runtime
        self.on_started = on_started
        self.handle_signals = handle_signals

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Long polls would hold the graceful shutdown for up to their timeout:
        # answer them (no job) first.
        self.runtime.begin_shutdown()
        await super().shutdown(sockets=sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises a captured SIGINT after shutdown, which would end the CLI
        # with a KeyboardInterrupt traceback; a stop on Ctrl-C/SIGTERM is a clean exit.
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            yield
            return
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop waiting for connections
        self.should_exit = True


def _uvicorn_config(app: Starlette, log_level: str, config: EmulatorConfig) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        ssl_certfile=config.ssl_certfile,
        ssl_keyfile=config.ssl_keyfile,
        lifespan="on",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
        # The emulator runs on asyncio with h11: no optional C extensions needed.
        loop="asyncio",
        http="h11",
    )


def serve_forever(
    config: EmulatorConfig,
    sock: socket.socket,
    on_started: Callable[[], None],
    log_level: str = "warning",
) -> None:
    """Serve on `sock` in this thread until SIGINT/SIGTERM; `on_started` once serving."""
    app = create_app(config)
    server = _Server(
        _uvicorn_config(app, log_level, config),
        cast(Runtime, app.state.runtime),
        on_started,
        handle_signals=True,
    )
    server.run(sockets=[sock])


@attrs.define(eq=False)
class EmulatorHandle:
    """A running emulator: its root `url` and `config`; faults can change at runtime.

    The public API is under `url + "/v1"`, the worker API under `url + "/internal/v1"`,
    the admin API under `url + "/_emulator"`. Over HTTPS started with `tls=DIR`,
    `ca_file` is the CA to trust (`SSL_CERT_FILE`, or `ssl_context()`).
    """

    url: str
    config: EmulatorConfig
    app: Starlette = attrs.field(repr=False)
    ca_file: str | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context trusting this emulator's CA, for `httpx.Client(verify=...)`."""
        if self.ca_file is None:
            raise ValueError("this emulator was not started with tls=DIR: there is no CA")
        return client_context(self.ca_file)

    @property
    def api_url(self) -> str:
        """The public API base URL, `url + "/v1"`."""
        return self.url + "/v1"

    @property
    def dashboard_url(self) -> str:
        """The dashboard page, `url + "/"`: open it in a browser."""
        return self.url + "/"

    @property
    def runtime(self) -> Runtime:
        """The live state (store, fault injector) of this emulator."""
        return cast(Runtime, self.app.state.runtime)

    def set_faults(self, plan: FaultPlan | Iterable[str], seed: int = 0) -> None:
        """Replace the fault plan: a FaultPlan, or spec strings such as `submit:500:next=1`."""
        if isinstance(plan, str):
            plan = [plan]  # one spec, not an iterable of one-character specs
        if not isinstance(plan, FaultPlan):
            plan = FaultPlan.parse(plan, seed=seed)
        self.runtime.faults.set_plan(plan)

    def clear_faults(self) -> None:
        """Turn every fault off."""
        self.runtime.faults.set_plan(FaultPlan())

    def set_rate_limits(self, limits: Iterable[RateLimit | str] | str) -> None:
        """Replace the rate limits: RateLimits or specs such as `submit=200/s,burst=10`."""
        if isinstance(limits, str):
            limits = [limits]  # one spec, not an iterable of one-character specs
        self.runtime.rate_limits.set_limits(
            limit if isinstance(limit, RateLimit) else parse_rate_limit(limit) for limit in limits
        )

    def clear_rate_limits(self) -> None:
        """Turn every rate limit off."""
        self.runtime.rate_limits.set_limits(())


@contextlib.contextmanager
def start_emulator(
    config: EmulatorConfig | None = None,
    *,
    tls: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> Iterator[EmulatorHandle]:
    """Serve an emulator with uvicorn in a background thread for the `with` block.

    `overrides` replace fields of `config` (default: `EmulatorConfig()`). Port 0
    (the default) picks a free port; the handle's `url` holds the real one. `tls`
    names a directory: a local CA and a localhost certificate are written there (see
    `write_self_signed`) and the emulator serves HTTPS; `handle.ca_file` is the CA.
    Returns once the server answers; stops it (and waits for it) on exit.
    """
    ca_file: str | None = None
    if tls is not None:
        files = write_self_signed(tls)
        overrides = {"ssl_certfile": str(files.cert), "ssl_keyfile": str(files.key), **overrides}
        ca_file = str(files.ca)
    config = attrs.evolve(config or EmulatorConfig(), **overrides)
    # Bind before creating the app: the app opens the store, which a failed bind would leak.
    sock = bind_socket(config.host, config.port)
    try:
        app = create_app(config)
    except BaseException:
        sock.close()
        raise
    runtime = cast(Runtime, app.state.runtime)
    started = threading.Event()
    failure: list[BaseException] = []
    url = url_of(sock, config.scheme)
    server = _Server(
        _uvicorn_config(app, "warning", config), runtime, started.set, handle_signals=False
    )

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # uvicorn reports a failed startup with SystemExit
            failure.append(exc)
        finally:
            started.set()

    thread = threading.Thread(target=run, name=f"together-queue-emulator {url}", daemon=True)
    thread.start()
    try:
        if not started.wait(_START_DEADLINE_SECONDS) or failure or not server.started:
            raise RuntimeError(f"the emulator did not start at {url}") from (
                failure[0] if failure else None
            )
        # trust_env=False: an HTTP(S)_PROXY in the environment must not see loopback calls.
        # verify=False: this probe only asks whether our own server answers, and sends
        # nothing secret; a certificate given without its CA must not fail the start.
        response = httpx.get(
            url + "/_emulator/health",
            timeout=_START_DEADLINE_SECONDS,
            trust_env=False,
            verify=False,  # noqa: S501
        )
        response.raise_for_status()
        yield EmulatorHandle(url=url, config=config, app=app, ca_file=ca_file)
    finally:
        server.should_exit = True
        thread.join(_STOP_DEADLINE_SECONDS)
        sock.close()
        if not thread.is_alive():
            # The lifespan closed it already unless the server failed before starting.
            runtime.store.close()
        else:
            raise RuntimeError(
                f"the emulator at {url} did not stop within {_STOP_DEADLINE_SECONDS} s"
            )
