"""The clients' TLS context: httpx's default one, its CA certificates read at first use."""

from __future__ import annotations

import ssl
import threading
import types
from pathlib import Path

import certifi
import httpx
import pytest

from tests.support.tls import ca_files_read
from together_queue._tls import DeferredTrustContext, UnreadableCA, client_tls_context


def _settings(context: ssl.SSLContext) -> dict[str, object]:
    """Every setting an `SSLContext` shows, by name: its public properties and descriptors."""
    names = {
        name
        for cls in type(context).__mro__
        for name, attribute in vars(cls).items()
        if isinstance(attribute, property | types.GetSetDescriptorType) and not name.startswith("_")
    }
    return {name: getattr(context, name) for name in sorted(names)}


def _connect(context: ssl.SSLContext) -> None:
    """What a TLS connection does first with its context (no socket needed)."""
    context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="example.com")


def _one_ca(tmp_path: Path) -> Path:
    """A CA file holding the first certificate of certifi's bundle only."""
    pem = Path(certifi.where()).read_text(encoding="ascii")
    end = "-----END CERTIFICATE-----"
    path = tmp_path / "one-ca.pem"
    path.write_text(pem[pem.index("-----BEGIN CERTIFICATE-----") : pem.index(end) + len(end)])
    return path


@pytest.mark.parametrize("keylog", [False, True], ids=["plain", "SSLKEYLOGFILE"])
def test_it_has_httpx_settings_and_after_first_use_its_certificates(
    keylog: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    if keylog:
        monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "keys.log"))
    ours, httpx_own = client_tls_context(), httpx.create_ssl_context()
    assert isinstance(ours, ssl.SSLContext)
    assert _settings(ours) == _settings(httpx_own)
    assert {"verify_mode", "check_hostname", "verify_flags", "options"} <= set(_settings(ours))
    assert ours.cert_store_stats()["x509_ca"] == 0  # nothing trusted, nothing read yet
    _connect(ours)
    assert ours.cert_store_stats() == httpx_own.cert_store_stats() != {"x509_ca": 0}
    assert [c["name"] for c in ours.get_ciphers()] == [c["name"] for c in httpx_own.get_ciphers()]


def test_ssl_cert_file_is_read_from_the_environment_when_the_context_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = _one_ca(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(one))
    context = client_tls_context()
    monkeypatch.delenv("SSL_CERT_FILE")  # as httpx: the variable counts when the client is made
    _connect(context)
    assert context.cert_store_stats()["x509_ca"] == 1
    # Not trusting the environment: certifi's bundle, as httpx then uses.
    monkeypatch.setenv("SSL_CERT_FILE", str(one))
    untrusting = client_tls_context(trust_env=False)
    _connect(untrusting)
    expected = httpx.create_ssl_context(trust_env=False).cert_store_stats()
    assert untrusting.cert_store_stats() == expected


def test_the_certificates_are_read_once_whatever_the_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    context = DeferredTrustContext(cafile=certifi.where())
    loaded = ca_files_read(monkeypatch)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def connect() -> None:
        try:
            start.wait(timeout=10)
            for _ in range(20):
                _connect(context)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=connect) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and not any(thread.is_alive() for thread in threads)
    assert loaded == [certifi.where()]


@pytest.mark.parametrize("content", [None, "not a certificate\n"], ids=["missing", "not-pem"])
def test_an_unreadable_ca_file_is_named_when_a_connection_needs_it(
    content: str | None, tmp_path: Path
) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_text(content)
    context = DeferredTrustContext(cafile=str(path))  # made without complaint: maybe never used
    for _ in range(2):  # not marked as loaded after a failure: every use says it
        with pytest.raises(UnreadableCA, match=f"cannot read the CA certificates in '{path}'"):
            _connect(context)
    with pytest.raises(UnreadableCA) as raised:
        _connect(context)
    # An SSLError, as httpcore's sync and async connects map; said as a sentence, not a tuple.
    assert isinstance(raised.value, ssl.SSLError)
    assert str(raised.value).startswith("cannot read the CA certificates in ")
