"""File storage for worker outputs: named blobs, in memory or in a folder beside `--db`.

A worker asks for an upload URL, PUTs the bytes there, and reports the file as
`https://<api>/v1/storage/<name>`; a caller fetches that URL with its key and is sent
on to a signed download URL. The signed URLs carry an HMAC of (action, name, expiry)
under a secret made at start, so they need no key and stop working when they expire
or the emulator restarts (the files themselves survive a restart with `--db`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
import threading
import time
import unicodedata
from pathlib import Path
from typing import Literal

__all__ = [
    "MAX_FILENAME_BYTES",
    "Action",
    "FileStore",
    "Signer",
    "check_filename",
    "files_dir_for",
]

MAX_FILENAME_BYTES = 255
"""The longest file name (UTF-8 bytes) storage accepts, the common file system limit."""

Action = Literal["upload", "download"]


def check_filename(name: str) -> str:
    """`name` if it is a plain file name; ValueError saying what is wrong otherwise."""
    if not name:
        raise ValueError("filename must not be empty")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_FILENAME_BYTES:
        raise ValueError(f"filename must be at most {MAX_FILENAME_BYTES} bytes long")
    if name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"filename must be a plain name, not a path: {name!r}")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
        raise ValueError("filename must not hold control characters or lone surrogates")
    return name


def files_dir_for(db: str) -> Path:
    """Where the files of the database `db` live: `<db>.files` beside it."""
    return Path(db).with_name(Path(db).name + ".files")


class FileStore:
    """Named files: in a dict (`directory` None) or one file each in `directory`."""

    def __init__(self, directory: Path | None) -> None:
        """Keep files in memory, or in `directory` (created on first write)."""
        self.directory = directory
        self._memory: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, name: str, data: bytes) -> None:
        """Store `data` as `name`, replacing any file of that name, atomically."""
        check_filename(name)
        if self.directory is None:
            with self._lock:
                self._memory[name] = data
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        # Write a temporary file, then rename: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, self.directory / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, name: str) -> bytes | None:
        """The bytes of `name`, or None when there is no such file."""
        check_filename(name)
        if self.directory is None:
            with self._lock:
                return self._memory.get(name)
        try:
            return (self.directory / name).read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, name: str) -> bool:
        """Whether a file `name` is stored."""
        check_filename(name)
        if self.directory is None:
            with self._lock:
                return name in self._memory
        return (self.directory / name).is_file()

    def listing(self) -> list[tuple[str, int]]:
        """Every stored file as `(name, size in bytes)`, sorted by name."""
        if self.directory is None:
            with self._lock:
                return sorted((name, len(data)) for name, data in self._memory.items())
        if not self.directory.is_dir():
            return []
        return sorted(
            (path.name, path.stat().st_size)
            for path in self.directory.iterdir()
            if path.is_file() and not path.name.startswith(".upload-")
        )


class Signer:
    """Signs and checks expiring URLs for one file and one action (upload or download).

    Every signed URL carries a random nonce, so two URLs asked for one file differ, each
    with its own signature. An upload URL takes one PUT: `begin_upload` reserves its
    signature before the body is read, `end_upload` uses it up (or frees it again).
    """

    def __init__(self, secret: bytes | None = None) -> None:
        """Use `secret` (default: 32 random bytes, so URLs die with the process)."""
        self._secret = secret or secrets.token_bytes(32)
        self._used: set[str] = set()
        self._uploading: set[str] = set()
        self._lock = threading.Lock()

    def sign(self, action: Action, name: str, lifetime: float) -> tuple[int, str, str]:
        """`(expires, nonce, signature)` for `action` on `name` for `lifetime` seconds."""
        expires = int(time.time() + lifetime)
        nonce = secrets.token_hex(8)
        return expires, nonce, self._mac(action, name, expires, nonce)

    def query(self, action: Action, name: str, lifetime: float) -> str:
        """The query string of a new signed URL: `expires=..&nonce=..&signature=..`."""
        expires, nonce, signature = self.sign(action, name, lifetime)
        return f"expires={expires}&nonce={nonce}&signature={signature}"

    def _mac(self, action: Action, name: str, expires: int, nonce: str) -> str:
        message = f"{action}\n{name}\n{expires}\n{nonce}".encode("utf-8", "surrogatepass")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def check(
        self, action: Action, name: str, expires: str, nonce: str, signature: str
    ) -> str | None:
        """None if the signature is good and unexpired, else why it is refused."""
        if not expires.isdigit():
            return "the URL has no valid expiry"
        if not hmac.compare_digest(self._mac(action, name, int(expires), nonce), signature):
            return "the URL's signature does not match"
        if int(expires) < time.time():
            return "the URL has expired"
        return None

    def begin_upload(self, signature: str) -> str | None:
        """Reserve the upload URL with `signature` for one PUT: None, or why it is refused.

        Atomic: of parallel PUTs on one URL, exactly one gets the reservation.
        """
        with self._lock:
            if signature in self._used:
                return "this upload URL was used already; ask for another"
            if signature in self._uploading:
                return "another upload on this URL is in progress; ask for another URL"
            self._uploading.add(signature)
            return None

    def end_upload(self, signature: str, *, stored: bool) -> None:
        """Release the reservation: used up if the file was `stored`, else free again."""
        with self._lock:
            self._uploading.discard(signature)
            if stored:
                self._used.add(signature)
