"""Client configuration: API key, base URL, timeouts, and the rules that keep the key safe."""

from __future__ import annotations

import ipaddress
import os
from typing import Final, NamedTuple

import httpx

from together_queue._version import __version__
from together_queue.errors import ConfigurationError, InsecureTransportError

DEFAULT_BASE_URL: Final = "https://api.together.ai/v1"
DEFAULT_TIMEOUT: Final = httpx.Timeout(60.0, connect=10.0)
DEFAULT_MAX_RETRIES: Final = 2
#: The pool of a client's own http client. Idle connections are kept up to the pool's
#: size, so a bulk call at any concurrency up to it reuses its connections (see `_pool`).
DEFAULT_LIMITS: Final = httpx.Limits(max_connections=100, max_keepalive_connections=100)
API_KEY_ENV: Final = "TOGETHER_API_KEY"
BASE_URL_ENV: Final = "TOGETHER_BASE_URL"
USER_AGENT: Final = f"together-queue/{__version__} (python; httpx/{httpx.__version__})"

TimeoutTypes = float | httpx.Timeout | None


class Secret:
    """A string that never shows itself in `repr()` or `str()`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# A NamedTuple, not an attrs class: this module is on the import path of
# `from together_queue import QueueClient`, and attrs alone costs ~19% of `import httpx`.
class ClientConfig(NamedTuple):
    """Everything a client needs to talk to the service, resolved and checked.

    `env_key_withheld` is True when `TOGETHER_API_KEY` was set but not used, because
    the base URL given in code is a loopback address (see `resolve_config`).
    """

    base_url: str
    api_key: Secret | None
    timeout: httpx.Timeout
    max_retries: int
    retry_submits: bool
    env_key_withheld: bool = False

    @property
    def loopback(self) -> bool:
        """True when the base URL names this machine (no key needed, no proxy used)."""
        return is_loopback_host(httpx.URL(self.base_url).host)


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and any address in 127.0.0.0/8 or ::1, decided without DNS.

    Other names, `*.localhost` included, are not loopback: such a name is sent to
    whatever resolver the machine uses, which may answer with any address, and a
    check that resolved it first could be answered differently when httpx resolves
    it again to connect. Only the name `localhost` itself, which resolvers keep on
    this machine, and literal addresses count.
    """
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_base_url(raw: str) -> str:
    """Return `raw` without trailing slashes and ending in `/v1`.

    Accepts both conventions the official SDKs use: `https://api.together.ai`
    and `https://api.together.ai/v1`.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigurationError("base_url must be a non-empty URL such as https://api.together.ai")
    if "://" not in raw:
        raise ConfigurationError(f"base_url must start with http:// or https://, {_suggest(raw)}")
    try:
        url = httpx.URL(raw.strip())
    except httpx.InvalidURL as exc:
        raise ConfigurationError(f"base_url is not a valid URL ({exc}): {raw!r}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"base_url must be an http(s) URL with a host, got {raw!r}")
    if url.query or url.fragment:
        raise ConfigurationError(f"base_url must not carry a query or fragment, got {raw!r}")
    path = url.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return str(url.copy_with(path=path)).rstrip("/")


def resolve_config(
    *,
    api_key: str | None,
    base_url: str | None,
    timeout: TimeoutTypes,
    max_retries: int,
    retry_submits: bool,
    allow_insecure_http: bool,
) -> ClientConfig:
    """Fill arguments from the environment and check them; raise `ConfigurationError`.

    The key and the URL travel together: a `TOGETHER_API_KEY` from the environment
    is sent to a loopback base URL only when that URL came from the environment too
    (`TOGETHER_BASE_URL`). A loopback URL written in code (a test, a local emulator)
    gets a key only from `api_key=`, so a real key in the shell never reaches
    whatever process happens to listen on a local port.
    """
    url_from_env = base_url is None and bool(os.environ.get(BASE_URL_ENV))
    if base_url is None:
        base_url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    url = normalize_base_url(base_url)
    parsed = httpx.URL(url)
    loopback = is_loopback_host(parsed.host)

    if api_key is not None and not isinstance(api_key, str):
        raise ConfigurationError("api_key must be a string")
    env_key = (os.environ.get(API_KEY_ENV) or "").strip() if api_key is None else ""
    withheld = bool(env_key) and loopback and not url_from_env
    key = api_key.strip() if api_key is not None else ("" if withheld else env_key)
    if not key and not loopback:
        raise ConfigurationError(
            f"no API key for {parsed.host}: pass api_key=... or set the {API_KEY_ENV} "
            "environment variable (get a key at https://api.together.ai/settings/api-keys)"
        )
    if key and parsed.scheme == "http" and not loopback and not allow_insecure_http:
        raise InsecureTransportError(
            f"refusing to send the API key in clear text to {parsed.host} over http://; "
            "use https://, or pass allow_insecure_http=True if you really mean it"
        )
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"max_retries must be an int >= 0, got {max_retries!r}")
    return ClientConfig(
        base_url=url,
        api_key=Secret(key) if key else None,
        timeout=to_timeout(timeout),
        max_retries=max_retries,
        retry_submits=bool(retry_submits),
        env_key_withheld=withheld,
    )


def _suggest(raw: str) -> str:
    """`did you mean http://127.0.0.1:8000?`: http for this machine, https elsewhere."""
    text = raw.strip().lstrip("/")
    host = (
        text.split("/", 1)[0].rsplit(":", 1)[0]
        if not text.startswith("[")
        else text[1:].split("]")[0]
    )
    scheme = "http" if is_loopback_host(host) else "https"
    return f"did you mean {scheme}://{text}? (got {raw!r})"


def to_timeout(timeout: TimeoutTypes) -> httpx.Timeout:
    """An `httpx.Timeout` from seconds, an `httpx.Timeout`, or None (no timeout)."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if timeout is None:
        return httpx.Timeout(None)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigurationError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return httpx.Timeout(float(timeout), connect=min(float(timeout), 10.0))
