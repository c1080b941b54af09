"""A local certificate authority and a server certificate for serving the emulator over HTTPS.

Together's worker SDK always connects with `https://`, so a worker run against the
emulator needs a certificate it trusts. `write_self_signed(DIR)` writes `ca.pem` (a
CA made for this directory only), `cert.pem` and `key.pem` (a server certificate
for `localhost`, `127.0.0.1` and `::1` signed by that CA). Trust the CA, not the
server certificate: `SSL_CERT_FILE=DIR/ca.pem` for httpx (the SDK and QueueClient
both honour it), or `ssl.create_default_context(cafile=DIR/ca.pem)`.

Whoever can write into DIR decides what the user trusts, so DIR must be the user's own:
created 0700 when new, refused when another user owns it or group or others may write
to it. Each file is written to a new temporary file and renamed into place (a symlink
planted at its name is replaced, never followed); the key is 0600.

Built on `cryptography` (the `[emulator]` extra), imported only when called.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import ssl
import stat
import tempfile
from pathlib import Path

import attrs

__all__ = ["TlsFiles", "UnsafeTlsFolder", "client_context", "write_self_signed"]

_VALID_DAYS = 825  # the longest validity macOS accepts for a server certificate


@attrs.frozen
class TlsFiles:
    """Where `write_self_signed` put the CA, the server certificate and its key (PEM)."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def in_dir(cls, directory: str | os.PathLike[str]) -> TlsFiles:
        """The three file names inside `directory`, as absolute paths."""
        base = Path(directory).absolute()
        return cls(ca=base / "ca.pem", cert=base / "cert.pem", key=base / "key.pem")


def client_context(ca_file: str | os.PathLike[str]) -> ssl.SSLContext:
    """An SSL context that trusts `ca_file` (pass as `httpx.Client(verify=...)`)."""
    return ssl.create_default_context(cafile=os.fspath(ca_file))


class UnsafeTlsFolder(PermissionError):
    """The TLS folder or a file in it could be another user's: it is not used."""


def _check_owned(path: Path, what: str, info: os.stat_result) -> None:
    """Refuse `path` unless this user owns it and group and others cannot write to it."""
    if info.st_uid != os.getuid():
        raise UnsafeTlsFolder(
            f"{what} {path} belongs to user id {info.st_uid}, not to you: use a folder of your own"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeTlsFolder(
            f"{what} {path} is writable by group or others (mode "
            f"{stat.S_IMODE(info.st_mode):o}): chmod go-w it, or use a new folder"
        )


def _own_folder(directory: Path) -> None:
    """Create `directory` 0700 if it is missing; refuse it if it could be another user's."""
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700, parents=True)
    info = directory.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeTlsFolder(f"{directory} is not a folder")
    _check_owned(directory, "the TLS folder", info)


def _reusable(files: TlsFiles) -> bool:
    """Whether all three files exist as this user's own regular files (else: write anew).

    A complete set holding a symlink or a file another user may write is refused, never
    reused: it would let that user choose the CA the user trusts. An incomplete set, or
    a key others may read, is written anew.
    """
    infos = []
    for path in (files.ca, files.cert, files.key):
        try:
            infos.append((path, path.lstat()))
        except FileNotFoundError:
            return False
    for path, info in infos:
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeTlsFolder(f"{path} is not a regular file: remove it")
        _check_owned(path, "the file", info)
    return not infos[2][1].st_mode & 0o077


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to a new file in `path`'s folder, then rename it to `path`.

    The temporary file is created exclusively (0600, no symlink followed); the rename
    replaces whatever entry `path` was, a symlink included, without following it.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_self_signed(directory: str | os.PathLike[str]) -> TlsFiles:
    """Write a new local CA and a server certificate for localhost into `directory`.

    Files already there are kept when all three exist as the user's own, so a CA the
    user trusted once stays valid across restarts. Creates `directory` (0700) if
    needed. `UnsafeTlsFolder` (an `OSError`) when the folder or a file in it is another
    user's, writable by others, or not a regular file.
    """
    files = TlsFiles.in_dir(directory)
    _own_folder(files.ca.parent)
    if _reusable(files):
        return files
    # Imported here: only --tls-self-signed and tests pay for loading cryptography.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

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
    key = server_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # The CA last: a folder whose CA is new holds the matching certificate and key.
    _write_new(files.key, key, 0o600)
    _write_new(files.cert, server_cert.public_bytes(pem), 0o644)
    _write_new(files.ca, ca_cert.public_bytes(pem), 0o644)
    # The CA's key is not written: nothing else can ever be signed by this CA.
    return files
