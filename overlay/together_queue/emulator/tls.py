"""A local certificate authority and a server certificate for serving the emulator over HTTPS.

Together's worker SDK always connects with ``https://``, so a worker run against the
emulator needs a certificate it trusts. ``write_self_signed(DIR)`` writes ``ca.pem`` (a
CA made for this directory only), ``cert.pem`` and ``key.pem`` (a server certificate
for ``localhost``, ``127.0.0.1`` and ``::1`` signed by that CA). Trust the CA, not the
server certificate: ``SSL_CERT_FILE=DIR/ca.pem`` for httpx (the SDK and QueueClient
both honour it), or ``ssl.create_default_context(cafile=DIR/ca.pem)``.

Built on ``cryptography`` (the ``[emulator]`` extra), imported only when called.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

import attrs

__all__ = ["TlsFiles", "client_context", "write_self_signed"]

_VALID_DAYS = 825  # the longest validity macOS accepts for a server certificate


@attrs.frozen
class TlsFiles:
    """Where ``write_self_signed`` put the CA, the server certificate and its key (PEM)."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def in_dir(cls, directory: str | os.PathLike[str]) -> TlsFiles:
        """The three file names inside ``directory``."""
        base = Path(directory)
        return cls(ca=base / "ca.pem", cert=base / "cert.pem", key=base / "key.pem")


def client_context(ca_file: str | os.PathLike[str]) -> ssl.SSLContext:
    """An SSL context that trusts ``ca_file`` (pass as ``httpx.Client(verify=...)``)."""
    return ssl.create_default_context(cafile=os.fspath(ca_file))


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by its owner only (it holds a private key)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def write_self_signed(directory: str | os.PathLike[str]) -> TlsFiles:
    """Write a new local CA and a server certificate for localhost into ``directory``.

    Files already there are kept when all three exist, so a CA the user trusted once
    stays valid across restarts. Creates ``directory`` if needed.
    """
    files = TlsFiles.in_dir(directory)
    if files.ca.is_file() and files.cert.is_file() and files.key.is_file():
        return files
    # Imported here: only --tls-self-signed and tests pay for loading cryptography.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    Path(directory).mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    not_before = now - datetime.timedelta(minutes=5)  # tolerate a little clock skew
    not_after = now + datetime.timedelta(days=_VALID_DAYS)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "together-queue emulator local CA")]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    files.ca.write_bytes(ca_cert.public_bytes(pem))
    files.cert.write_bytes(server_cert.public_bytes(pem))
    _write_private(
        files.key,
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    # The CA's key is not written: nothing else can ever be signed by this CA.
    return files
