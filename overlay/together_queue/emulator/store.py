"""JobStore: every job and every state transition, in SQLite (stdlib `sqlite3`).

The store is the single place where the queue rules live: strict priority then FIFO
(a monotonic sequence number, never a timestamp), claims with a deadline, lapsed
claims requeued at their original place with `retries + 1` and failed for good
past `max_retries`. Every method is one transaction under one lock, so concurrent
submitters, pollers and workers (threads or tasks) see a consistent queue. Lapsed
claims are swept at the start of every transaction, so no reader ever sees a claim
that should already have lapsed.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, NoReturn

import attrs

__all__ = [
    "KEPT_UPDATES",
    "MAX_INFO_BYTES",
    "Claim",
    "InfoTooLarge",
    "JobConflict",
    "JobNotFound",
    "JobStore",
    "StoredJob",
    "UpdateStatus",
    "WorkerInfo",
]

logger = logging.getLogger("together_queue.emulator")

UpdateStatus = Literal["running", "done", "failed"]

MAX_INFO_BYTES = 65_536
"""The largest a job's `info` may be stored, as compact UTF-8 JSON (64 KiB).

It bounds what every status answer carries: `running` updates merge their keys into
`info`, so without it a worker could grow one job's answers without end.
"""

KEPT_UPDATES = 1_000
"""A job's worker updates kept for the dashboard, the newest: a worker reporting progress
for hours would otherwise grow the `updates` table (and an in-memory store) without end."""

# Deletes the updates of job `seq` older than its newest KEPT_UPDATES (the third value).
# The job's seq is bound twice: numbered placeholders (`?1`) bound from a tuple are
# deprecated since Python 3.12 and an error in 3.14.
_TRIM_UPDATES_SQL = (
    "DELETE FROM updates WHERE seq = ? AND n <= "
    "(SELECT n FROM updates WHERE seq = ? ORDER BY n DESC LIMIT 1 OFFSET ?)"
)

_SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    model TEXT NOT NULL,
    priority INTEGER NOT NULL,
    status TEXT NOT NULL,
    payload TEXT NOT NULL,
    info TEXT NOT NULL,
    outputs TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',
    retries INTEGER NOT NULL DEFAULT 0,
    claim_count INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    claimed_at REAL,
    done_at REAL,
    claim_expires_at REAL,
    claim_id TEXT,
    claimed_by TEXT,
    claim_timeout REAL
);
-- The next job of a model is the first entry of this index: O(log n) to claim.
CREATE INDEX IF NOT EXISTS jobs_pending ON jobs (model, priority DESC, seq)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS jobs_running ON jobs (claim_expires_at)
    WHERE status = 'running';
CREATE INDEX IF NOT EXISTS jobs_model_status ON jobs (model, status);
CREATE TABLE IF NOT EXISTS claims (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    model TEXT NOT NULL,
    priority INTEGER NOT NULL,
    retries INTEGER NOT NULL,
    hostname TEXT NOT NULL,
    claim_id TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    claim_timeout REAL,
    worker_version TEXT,
    user_agent TEXT,
    idle_time TEXT,
    lapsed_at REAL,
    refused_updates INTEGER NOT NULL DEFAULT 0,
    double_run TEXT
);
-- Active (pending/running) jobs per model, kept by triggers in the same transaction as
-- the change: metrics is one primary-key lookup instead of a COUNT over the queue.
CREATE TABLE IF NOT EXISTS active_counts (
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (model, status)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS jobs_count_insert AFTER INSERT ON jobs
WHEN NEW.status IN ('pending', 'running') BEGIN
    INSERT INTO active_counts VALUES (NEW.model, NEW.status, 1)
        ON CONFLICT (model, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS jobs_count_update AFTER UPDATE OF status ON jobs
WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE active_counts SET n = n - 1 WHERE model = OLD.model AND status = OLD.status;
    INSERT INTO active_counts SELECT NEW.model, NEW.status, 1
        WHERE NEW.status IN ('pending', 'running')
        ON CONFLICT (model, status) DO UPDATE SET n = n + 1;
END;
-- Every worker update, in order: the job's history of status updates (dashboard).
CREATE TABLE IF NOT EXISTS updates (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    info TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS updates_seq ON updates (seq);
CREATE INDEX IF NOT EXISTS claims_seq ON claims (seq);
-- A model's jobs newest first without a sort (the dashboard's pages by model).
CREATE INDEX IF NOT EXISTS jobs_model ON jobs (model);
"""

# Version 1 (0.1.0) had no per-claim lease length and no worker details: add the columns.
# Rows claimed under version 1 keep NULL there and renew by the emulator's default.
_MIGRATE_1_TO_2 = """
ALTER TABLE jobs ADD COLUMN claim_timeout REAL;
ALTER TABLE claims ADD COLUMN claim_timeout REAL;
ALTER TABLE claims ADD COLUMN worker_version TEXT;
ALTER TABLE claims ADD COLUMN user_agent TEXT;
ALTER TABLE claims ADD COLUMN idle_time TEXT;
"""

# Version 2 (0.2.0) did not record when a claim lapsed, nor the updates that came from a
# worker other than the holder.
_MIGRATE_2_TO_3 = """
ALTER TABLE claims ADD COLUMN lapsed_at REAL;
ALTER TABLE claims ADD COLUMN refused_updates INTEGER NOT NULL DEFAULT 0;
ALTER TABLE claims ADD COLUMN double_run TEXT;
"""

_MAX_SEQ = 2**63 - 1

_NEXT_PENDING_SQL = (
    "SELECT seq FROM jobs WHERE model = ? AND status = 'pending' "
    "ORDER BY priority DESC, seq LIMIT 1"
)


def _page_sql(
    *,
    model: str | None,
    status: str | None,
    priority: int | None,
    text: str | None,
    before: int | None,
) -> tuple[str, list[Any]]:
    """The SQL of `JobStore.page` and its parameters (the limit goes last)."""
    where = ["seq < ?"]
    params: list[Any] = [before if before is not None else _MAX_SEQ]
    for column, value in (("model", model), ("status", status), ("priority", priority)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if text:
        where.append("instr(request_id, ?) > 0")
        params.append(text)
    # Only fixed column names are joined in; every value is a bound parameter.
    sql = (
        "SELECT seq, request_id, model, priority, status, retries, created_at, "  # noqa: S608
        "claimed_at, done_at, claim_expires_at, claimed_by, "
        "json_extract(info, '$.progress') AS progress FROM jobs "
        f"WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?"
    )
    return sql, params


class JobNotFound(LookupError):
    """No job has this request id, or it belongs to another model."""


class JobConflict(Exception):
    """The job is not in a state that allows the operation; `status` is its current one."""

    def __init__(self, status: str, message: str) -> None:
        """Record the job's current status and why the operation was refused."""
        super().__init__(message)
        self.status = status


class InfoTooLarge(ValueError):
    """A job's `info`, after a submit or a merged update, would exceed its size limit."""

    def __init__(self, size: int, limit: int) -> None:
        """Record the size `info` would have had and the limit."""
        super().__init__(
            f"info would be {size} bytes of JSON, over the limit of {limit} bytes; "
            "send smaller values, or replace keys instead of adding new ones"
        )
        self.size = size
        self.limit = limit


@attrs.frozen
class StoredJob:
    """A snapshot of one job row."""

    seq: int
    request_id: str
    model: str
    priority: int
    status: str
    payload: dict[str, Any]
    info: dict[str, Any]
    outputs: dict[str, Any] | None
    warnings: tuple[str, ...]
    retries: int
    claim_count: int
    created_at: float
    claimed_at: float | None
    done_at: float | None
    claim_expires_at: float | None
    claim_id: str | None
    claimed_by: str | None
    claim_timeout: float | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredJob:
        """Decode a `jobs` row."""
        return cls(
            seq=row["seq"],
            request_id=row["request_id"],
            model=row["model"],
            priority=row["priority"],
            status=row["status"],
            payload=json.loads(row["payload"]),
            info=json.loads(row["info"]),
            outputs=None if row["outputs"] is None else json.loads(row["outputs"]),
            warnings=tuple(json.loads(row["warnings"])),
            retries=row["retries"],
            claim_count=row["claim_count"],
            created_at=row["created_at"],
            claimed_at=row["claimed_at"],
            done_at=row["done_at"],
            claim_expires_at=row["claim_expires_at"],
            claim_id=row["claim_id"],
            claimed_by=row["claimed_by"],
            claim_timeout=row["claim_timeout"],
        )


@attrs.frozen
class Claim:
    """One entry of the claim log: which job was handed to which worker, in order.

    `lapsed_at` is when the claim lapsed without an update (None while it holds or
    after it ended with a result). `refused_updates` counts updates refused because
    they came from this claim's worker after it lost the job. `double_run` says why
    the job is known or suspected to have run twice while this claim held it.
    """

    n: int
    seq: int
    request_id: str
    model: str
    priority: int
    retries: int
    hostname: str
    claim_id: str
    claimed_at: float
    claim_timeout: float | None = None
    worker_version: str | None = None
    user_agent: str | None = None
    idle_time: str | None = None
    lapsed_at: float | None = None
    refused_updates: int = 0
    double_run: str | None = None


@attrs.frozen
class WorkerInfo:
    """What a worker said about itself when it claimed a job (headers and query)."""

    hostname: str = "unknown"
    worker_version: str | None = None
    user_agent: str | None = None
    idle_time: str | None = None

    def headers_match(self, claim: Claim) -> bool | None:
        """Whether these headers are the ones `claim` was made with; None: they say nothing.

        Only `x-worker-version` and `User-Agent` travel with every call (the hostname
        goes with retrieve only). A worker that sends neither cannot be told apart.
        """
        if self.worker_version is None and self.user_agent is None:
            return None
        return (self.worker_version, self.user_agent) == (claim.worker_version, claim.user_agent)


def _dumps(value: object) -> str:
    # allow_nan=False: NaN is not JSON, and every stored value is served as JSON later.
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _dumps_info(info: Mapping[str, Any], limit: int) -> str:
    """`info` as stored JSON; `InfoTooLarge` past `limit` bytes."""
    text = _dumps(dict(info))
    if len(text) * 4 > limit:  # a character is at most 4 bytes: a shorter text fits unmeasured
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise InfoTooLarge(size, limit)
    return text


def _create_private(path: str) -> None:
    """Create `path` empty and readable by its owner only, unless it exists.

    SQLite would create it with the umask's mode (often 0644), and it holds every
    payload and output; its `-wal` and `-shm` files take the database file's mode.
    An existing file keeps its mode.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class JobStore:
    """The queue in SQLite: in a file that survives restarts, or in memory.

    In memory when `path` is None or SQLite's own `":memory:"` (no file of that name is made).
    """

    def __init__(
        self,
        path: str | None = None,
        *,
        max_retries: int = 3,
        clock: Callable[[], float] = time.time,
        max_info_bytes: int = MAX_INFO_BYTES,
    ) -> None:
        """Open (or create) the database and requeue claims that lapsed while it was closed."""
        self.max_retries = max_retries
        self.max_info_bytes = max_info_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str], None]] = []
        if path == ":memory:":
            path = None
        if path:
            _create_private(path)
        # One connection shared by every thread, serialised by self._lock; autocommit
        # mode so that each method's explicit BEGIN IMMEDIATE .. COMMIT is the transaction.
        self._conn = sqlite3.connect(
            path or ":memory:", check_same_thread=False, isolation_level=None
        )
        self._conn.row_factory = sqlite3.Row
        if path:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, 1, 2, _SCHEMA_VERSION):
            self._conn.close()
            raise ValueError(f"{path}: unknown emulator database version {version}")
        if version in (1, 2):
            steps = (_MIGRATE_1_TO_2 if version == 1 else "") + _MIGRATE_2_TO_3
            # One transaction: a failed migration leaves the old file as it was.
            self._conn.executescript(
                f"BEGIN; {steps} PRAGMA user_version={_SCHEMA_VERSION}; COMMIT;"
            )
        self._conn.executescript(_SCHEMA)
        # Recount once at open: cheap, and right for a database written before the triggers.
        self._conn.executescript(
            "BEGIN; DELETE FROM active_counts; INSERT INTO active_counts "
            "SELECT model, status, COUNT(*) FROM jobs WHERE status IN ('pending', 'running') "
            "GROUP BY model, status; COMMIT;"
        )
        self._conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        with self._transaction():
            pass  # the sweep at the start of every transaction does the startup requeue

    def close(self) -> None:
        """Close the database (a file database keeps every job)."""
        with self._lock:
            self._conn.close()

    def add_requeue_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(model)` after a job of `model` becomes pending again."""
        self._listeners.append(listener)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        requeued: set[str] = set()
        try:
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    requeued = self._sweep_lapsed(self._clock())
                    yield self._conn
                except (JobNotFound, JobConflict):
                    # A refused operation changed nothing, but the sweep before it stands.
                    self._conn.execute("COMMIT")
                    raise
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    requeued = set()
                    raise
                self._conn.execute("COMMIT")
        finally:
            # Outside the lock: listeners may call back into the store.
            for model in requeued:
                for listener in self._listeners:
                    listener(model)

    def _sweep_lapsed(self, now: float) -> set[str]:
        """Requeue (or fail for good) every running job whose claim lapsed by `now`."""
        rows = self._conn.execute(
            "SELECT seq, model, retries, info, claim_id FROM jobs "
            "WHERE status = 'running' AND claim_expires_at <= ?",
            (now,),
        ).fetchall()
        requeued: set[str] = set()
        for row in rows:
            self._conn.execute(
                "UPDATE claims SET lapsed_at = ? WHERE seq = ? AND claim_id = ?",
                (now, row["seq"], row["claim_id"]),
            )
            if row["retries"] >= self.max_retries:
                info = json.loads(row["info"])
                info["error"] = (
                    f"claim lapsed {row['retries'] + 1} times without an update; "
                    f"failed for good after {self.max_retries} retries"
                )
                self._conn.execute(
                    "UPDATE jobs SET status = 'failed', done_at = ?, info = ?, "
                    "claim_expires_at = NULL, claim_id = NULL WHERE seq = ?",
                    (now, _dumps(info), row["seq"]),
                )
            else:
                # The job keeps its seq, hence its original place in the queue.
                self._conn.execute(
                    "UPDATE jobs SET status = 'pending', retries = retries + 1, "
                    "claimed_at = NULL, claim_expires_at = NULL, claim_id = NULL, "
                    "claimed_by = NULL, claim_timeout = NULL WHERE seq = ?",
                    (row["seq"],),
                )
                requeued.add(row["model"])
        return requeued

    def sweep(self) -> None:
        """Apply lapsed claims now (they are also applied before every other operation)."""
        with self._transaction():
            pass

    @staticmethod
    def _fetch(conn: sqlite3.Connection, request_id: str, model: str) -> StoredJob:
        row = conn.execute("SELECT * FROM jobs WHERE request_id = ?", (request_id,)).fetchone()
        if row is None or row["model"] != model:
            raise JobNotFound(request_id)
        return StoredJob.from_row(row)

    def submit(
        self,
        model: str,
        payload: Mapping[str, Any],
        *,
        priority: int = 0,
        info: Mapping[str, Any] | None = None,
        warnings: tuple[str, ...] = (),
    ) -> StoredJob:
        """Store a new pending job and return it (`InfoTooLarge` if `info` is too large).

        The job returned is built from what was stored, not read back: its `payload` and
        `info` are copies of the arguments, whose nested values it shares.
        """
        stored_payload, stored_info = dict(payload), dict(info or {})
        info_json = _dumps_info(stored_info, self.max_info_bytes)
        request_id = str(uuid.uuid4())
        with self._transaction() as conn:
            created_at = self._clock()
            cursor = conn.execute(
                "INSERT INTO jobs (request_id, model, priority, status, payload, info, "
                "warnings, created_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)",
                (
                    request_id,
                    model,
                    priority,
                    _dumps(stored_payload),
                    info_json,
                    _dumps(list(warnings)),
                    created_at,
                ),
            )
            seq = cursor.lastrowid
            assert seq is not None  # an INSERT into a rowid table sets it
        return StoredJob(
            seq=seq,
            request_id=request_id,
            model=model,
            priority=priority,
            status="pending",
            payload=stored_payload,
            info=stored_info,
            outputs=None,
            warnings=tuple(warnings),
            retries=0,
            claim_count=0,
            created_at=created_at,
            claimed_at=None,
            done_at=None,
            claim_expires_at=None,
            claim_id=None,
            claimed_by=None,
        )

    def get(self, request_id: str, model: str) -> StoredJob:
        """The job `request_id` of `model`; JobNotFound when unknown or of another model."""
        with self._transaction() as conn:
            return self._fetch(conn, request_id, model)

    def cancel(self, request_id: str, model: str) -> StoredJob:
        """Cancel a pending job; JobConflict with the current status otherwise."""
        with self._transaction() as conn:
            job = self._fetch(conn, request_id, model)
            if job.status != "pending":
                raise JobConflict(job.status, f"job is {job.status}; only pending jobs cancel")
            # No done_at: the spec defines it for done and failed jobs only.
            conn.execute("UPDATE jobs SET status = 'canceled' WHERE seq = ?", (job.seq,))
            return self._fetch(conn, request_id, model)

    def clear(self, model: str) -> int:
        """Cancel every pending job of `model` in one transaction; return how many.

        Running jobs are untouched. Claims select pending jobs inside a transaction
        under the same lock, so a worker can never claim a job this call canceled.
        """
        with self._transaction() as conn:
            # The count trigger moves each job out of active_counts, so metrics follow.
            cursor = conn.execute(
                "UPDATE jobs SET status = 'canceled' WHERE model = ? AND status = 'pending'",
                (model,),
            )
            return cursor.rowcount

    def metrics(self, model: str) -> tuple[int, int]:
        """`(waiting, running)` job counts of `model`."""
        with self._transaction() as conn:
            counts = dict(
                conn.execute(
                    "SELECT status, n FROM active_counts WHERE model = ?",
                    (model,),
                ).fetchall()
            )
        return counts.get("pending", 0), counts.get("running", 0)

    def claim(
        self,
        model: str,
        hostname: str,
        claim_timeout: float,
        *,
        worker: WorkerInfo | None = None,
    ) -> StoredJob | None:
        """Hand the next pending job of `model` (priority, then FIFO) to a worker, or None.

        The claim lasts `claim_timeout` seconds, and so does every renewal of it.
        """
        worker = worker or WorkerInfo(hostname=hostname)
        with self._transaction() as conn:
            row = conn.execute(_NEXT_PENDING_SQL, (model,)).fetchone()
            if row is None:
                return None
            now = self._clock()
            claim_id = uuid.uuid4().hex
            conn.execute(
                "UPDATE jobs SET status = 'running', claimed_at = ?, claim_expires_at = ?, "
                "claim_id = ?, claimed_by = ?, claim_timeout = ?, claim_count = claim_count + 1 "
                "WHERE seq = ?",
                (now, now + claim_timeout, claim_id, hostname, claim_timeout, row["seq"]),
            )
            job = StoredJob.from_row(
                conn.execute("SELECT * FROM jobs WHERE seq = ?", (row["seq"],)).fetchone()
            )
            conn.execute(
                "INSERT INTO claims (seq, request_id, model, priority, retries, hostname, "
                "claim_id, claimed_at, claim_timeout, worker_version, user_agent, idle_time) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.seq,
                    job.request_id,
                    model,
                    job.priority,
                    job.retries,
                    hostname,
                    claim_id,
                    now,
                    claim_timeout,
                    worker.worker_version,
                    worker.user_agent,
                    worker.idle_time,
                ),
            )
            return job

    def update(
        self,
        request_id: str,
        model: str,
        status: UpdateStatus,
        *,
        outputs: Mapping[str, Any] | None = None,
        info: Mapping[str, Any] | None = None,
        claim_id: str | None = None,
        claim_timeout: float,
        sender: WorkerInfo | None = None,
    ) -> StoredJob:
        """Apply a worker's update to a running job.

        Only the holder of the job's current claim may update it. `claim_id` names the
        claim exactly; without it (Together's worker SDK sends none) the update is told
        apart by `sender`'s headers when the job was claimed more than once: headers of a
        lapsed claim only are refused, and an update that could come from either worker
        is applied and recorded as a double run (the claim's `double_run`, the job's
        warnings, a logged warning).

        `running` renews the claim by the length it was made with (`claim_timeout`
        only for claims that recorded none) and merges `info`; `done` stores `outputs`;
        `failed` fails the job for good (no retry) with `info["error"]`. A job that
        is not running, or (when `claim_id` is given) is held by another claim,
        raises JobConflict and is left unchanged; so does one whose merged `info` would
        exceed `max_info_bytes`, with `InfoTooLarge`.
        """
        outputs_json = _dumps(dict(outputs or {}))  # ValueError/TypeError: not JSON
        sender = sender or WorkerInfo()
        with self._transaction() as conn:
            job = self._fetch(conn, request_id, model)
            claims = self._claims_of(conn, job.seq)
            if job.status != "running" or (claim_id is not None and claim_id != job.claim_id):
                self._refuse_late(conn, job, claims, status, claim_id, sender)
            if claim_id is None and len(claims) > 1:
                self._attribute(conn, job, claims, f"{status!r} update", sender)
            merged = {**job.info, **(info or {})}
            if status == "failed":
                merged.setdefault("error", "the worker reported a failure")
            info_json = _dumps_info(merged, self.max_info_bytes)
            now = self._clock()
            conn.execute(
                "INSERT INTO updates (seq, status, info, at) VALUES (?, ?, ?, ?)",
                (job.seq, status, _dumps(dict(info or {})), now),
            )
            # Normally the one update this insert pushed past KEPT_UPDATES goes; the lookup
            # walks the job's own index entries, at most KEPT_UPDATES of them.
            conn.execute(_TRIM_UPDATES_SQL, (job.seq, job.seq, KEPT_UPDATES))
            if status == "running":
                conn.execute(
                    "UPDATE jobs SET info = ?, claim_expires_at = ? WHERE seq = ?",
                    (info_json, now + (job.claim_timeout or claim_timeout), job.seq),
                )
            elif status == "done":
                conn.execute(
                    "UPDATE jobs SET status = 'done', info = ?, outputs = ?, done_at = ?, "
                    "claim_expires_at = NULL WHERE seq = ?",
                    (info_json, outputs_json, now, job.seq),
                )
            else:
                conn.execute(
                    "UPDATE jobs SET status = 'failed', info = ?, done_at = ?, "
                    "claim_expires_at = NULL WHERE seq = ?",
                    (info_json, now, job.seq),
                )
            return self._fetch(conn, request_id, model)

    @staticmethod
    def _claims_of(conn: sqlite3.Connection, seq: int) -> list[Claim]:
        rows = conn.execute("SELECT * FROM claims WHERE seq = ? ORDER BY n", (seq,))
        return [Claim(**dict(row)) for row in rows.fetchall()]

    def _refuse_late(
        self,
        conn: sqlite3.Connection,
        job: StoredJob,
        claims: list[Claim],
        status: str,
        claim_id: str | None,
        sender: WorkerInfo,
    ) -> NoReturn:
        """Record an update for a job its sender no longer holds, then refuse it."""
        if claim_id is not None:
            origin = next((claim for claim in claims if claim.claim_id == claim_id), None)
        else:
            matching = [claim for claim in claims if sender.headers_match(claim)]
            origin = matching[-1] if matching else (claims[-1] if len(claims) == 1 else None)
        if origin is not None:
            conn.execute(
                "UPDATE claims SET refused_updates = refused_updates + 1 WHERE n = ?",
                (origin.n,),
            )
        reason = (
            f"job is {job.status}, not running"
            if job.status != "running"
            else "the claim lapsed; another worker holds the job"
        )
        if claims and (origin is None or origin.n != claims[-1].n):
            # The job went to another worker after the sender's claim (or we cannot tell
            # whose claim it was, and there were several): the job ran more than once.
            who = "a worker" if origin is None else f"the worker of claim {origin.n}"
            self._note_double_run(
                conn,
                job,
                claims[-1],
                f"{who} sent a {status!r} update after the job went to claim "
                f"{claims[-1].n} ({claims[-1].hostname}); refused ({reason})",
            )
        logger.debug("refused the %r update of %s: %s", status, job.request_id, reason)
        raise JobConflict(job.status, reason)

    def _attribute(
        self,
        conn: sqlite3.Connection,
        job: StoredJob,
        claims: list[Claim],
        what: str,
        sender: WorkerInfo,
    ) -> None:
        """Tell by its headers which worker sent `what` (an update, an upload) for a job.

        Called for a running job claimed more than once: the worker of a lapsed claim
        may still be running it. Refuses (JobConflict) a call whose headers match only
        a lapsed claim; records a double run when they cannot tell.
        """
        current, earlier = claims[-1], claims[:-1]
        holder = sender.headers_match(current)
        lapsed = [claim for claim in earlier if sender.headers_match(claim)]
        if holder is False and lapsed:
            origin = lapsed[-1]
            conn.execute(
                "UPDATE claims SET refused_updates = refused_updates + 1 WHERE n = ?",
                (origin.n,),
            )
            self._note_double_run(
                conn,
                job,
                current,
                f"the worker of lapsed claim {origin.n} ({origin.hostname}) kept running "
                f"the job: its {what} was refused (told apart by x-worker-version and "
                "User-Agent)",
            )
            logger.debug(
                "refused the %s of %s: its headers are those of lapsed claim %d",
                what,
                job.request_id,
                origin.n,
            )
            raise JobConflict(
                job.status,
                f"this {what} carries the headers of claim {origin.n}, which lapsed; "
                f"claim {current.n} holds the job now",
            )
        if holder is True and not lapsed:
            logger.debug("%s of %s from claim %d", what, job.request_id, current.n)
            return
        self._note_double_run(
            conn,
            job,
            current,
            f"a {what} came without claim_id after claim {earlier[-1].n} lapsed, with "
            "headers that cannot tell its worker from the holder's; taken, and the job "
            "may have run twice",
        )
        logger.debug(
            "%s of %s taken for claim %d; it may come from the worker of a lapsed claim",
            what,
            job.request_id,
            current.n,
        )

    @staticmethod
    def _note_double_run(conn: sqlite3.Connection, job: StoredJob, claim: Claim, why: str) -> None:
        """Record a double run on `claim` and the job's warnings, once per claim; log it."""
        row = conn.execute("SELECT double_run FROM claims WHERE n = ?", (claim.n,)).fetchone()
        if row is None or row["double_run"] is not None:
            return
        conn.execute("UPDATE claims SET double_run = ? WHERE n = ?", (why, claim.n))
        warning = f"double run: {why}"
        conn.execute(
            "UPDATE jobs SET warnings = ? WHERE seq = ?",
            (_dumps([*job.warnings, warning]), job.seq),
        )
        logger.warning("job %s (%s): %s", job.request_id, job.model, warning)

    def check_upload(self, request_id: str, filename: str, sender: WorkerInfo) -> None:
        """Refuse (JobConflict) an upload of `filename` for job `request_id` from a stale worker.

        A running job claimed more than once takes files only from its holder, told
        apart as `update` tells updates apart (a double run when it cannot tell).
        """
        with self._transaction() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE request_id = ?", (request_id,)).fetchone()
            if row is None or row["status"] != "running":
                return
            job = StoredJob.from_row(row)
            claims = self._claims_of(conn, job.seq)
            if len(claims) > 1:
                self._attribute(conn, job, claims, f"upload of {filename!r}", sender)

    def finished_status(self, request_id: str) -> str | None:
        """The status of job `request_id` (any model) if it is finished, else None."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT status FROM jobs WHERE request_id = ? "
                "AND status IN ('done', 'failed', 'canceled')",
                (request_id,),
            ).fetchone()
        return None if row is None else str(row["status"])

    def jobs(self, model: str | None = None) -> list[StoredJob]:
        """Every job (of `model` if given) in submission order."""
        with self._transaction() as conn:
            if model is None:
                rows = conn.execute("SELECT * FROM jobs ORDER BY seq").fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM jobs WHERE model = ? ORDER BY seq", (model,)
                ).fetchall()
        return [StoredJob.from_row(row) for row in rows]

    def claims(self, model: str | None = None) -> list[Claim]:
        """The claim log (of `model` if given) in the order the claims were made."""
        with self._transaction() as conn:
            if model is None:
                rows = conn.execute("SELECT * FROM claims ORDER BY n").fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM claims WHERE model = ? ORDER BY n", (model,)
                ).fetchall()
        return [Claim(**dict(row)) for row in rows]

    def explain_next_claim(self, model: str) -> list[str]:
        """SQLite's query plan for picking the next job (tests check it uses the index)."""
        with self._lock:
            rows = self._conn.execute("EXPLAIN QUERY PLAN " + _NEXT_PENDING_SQL, (model,))
            return [str(row["detail"]) for row in rows.fetchall()]

    # -- reads for the dashboard (newest first, keyset-paged, indexed) ----------------

    def change_count(self) -> int:
        """How many rows changed since the store opened: it moves whenever a job does."""
        with self._lock:
            return self._conn.total_changes

    def status_counts(self) -> dict[str, dict[str, int]]:
        """Job counts per model and status (one pass over the `(model, status)` index)."""
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT model, status, COUNT(*) FROM jobs GROUP BY model, status"
            ).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for model, status, n in rows:
            counts.setdefault(model, {})[status] = n
        return counts

    def page(
        self,
        *,
        model: str | None = None,
        status: str | None = None,
        priority: int | None = None,
        text: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Up to `limit` jobs with `seq < before` that match every filter, newest first.

        Keyset paging on `seq` (the primary key, or the `(model, status)` index when
        both are given): a page costs the same at the 100,000th job as at the first.
        `text` matches anywhere in the request id. Rows leave out payload and outputs.
        """
        sql, params = _page_sql(
            model=model, status=status, priority=priority, text=text, before=before
        )
        with self._transaction() as conn:
            rows = conn.execute(sql, (*params, limit)).fetchall()
        return [dict(row) for row in rows]

    def find(self, request_id: str) -> StoredJob | None:
        """The job `request_id` of any model, or None."""
        with self._transaction() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE request_id = ?", (request_id,)).fetchone()
        return None if row is None else StoredJob.from_row(row)

    def claims_of(self, seq: int) -> list[Claim]:
        """Every claim of the job `seq`, oldest first."""
        with self._transaction() as conn:
            rows = conn.execute("SELECT * FROM claims WHERE seq = ? ORDER BY n", (seq,))
            return [Claim(**dict(row)) for row in rows.fetchall()]

    def updates_of(self, seq: int, limit: int = KEPT_UPDATES) -> list[dict[str, Any]]:
        """The last `limit` worker updates of job `seq` (status, info sent, at), in order.

        The store keeps a job's last `KEPT_UPDATES` only.
        """
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT status, info, at FROM updates WHERE seq = ? ORDER BY n DESC LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [
            {"status": row["status"], "info": json.loads(row["info"]), "at": row["at"]}
            for row in reversed(rows)
        ]

    def recent_claims(self, limit: int = 200) -> list[tuple[Claim, str, str | None]]:
        """The newest `limit` claims, each with its job's status and current claim id."""
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT c.*, j.status AS job_status, j.claim_id AS job_claim_id "
                "FROM claims c JOIN jobs j ON j.seq = c.seq ORDER BY c.n DESC LIMIT ?",
                (limit,),
            ).fetchall()
        result = []
        for row in rows:
            fields = dict(row)
            job_status, job_claim_id = fields.pop("job_status"), fields.pop("job_claim_id")
            result.append((Claim(**fields), job_status, job_claim_id))
        return result

    def holders(self, limit: int = 500) -> list[dict[str, Any]]:
        """Running jobs, soonest lease end first, each with the worker of its current claim."""
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT j.request_id, j.model, j.priority, j.retries, j.claimed_at, "
                "j.claim_expires_at, json_extract(j.info, '$.progress') AS progress, "
                "c.hostname, c.worker_version, c.user_agent, c.idle_time "
                "FROM jobs j LEFT JOIN claims c ON c.seq = j.seq AND c.claim_id = j.claim_id "
                "WHERE j.status = 'running' ORDER BY j.claim_expires_at LIMIT ?",
                (limit,),
            ).fetchall()
        return [dict(row) for row in rows]

    def explain_page(self, *, model: str | None = None, status: str | None = None) -> list[str]:
        """SQLite's query plan for a page of `page` (tests check it needs no sort)."""
        sql, params = _page_sql(model=model, status=status, priority=None, text=None, before=None)
        with self._lock:
            rows = self._conn.execute("EXPLAIN QUERY PLAN " + sql, (*params, 50))
            return [str(row["detail"]) for row in rows.fetchall()]

    def totals_at(self, moment: float) -> dict[str, tuple[int, int]]:
        """Per model, `(jobs submitted, jobs done or failed)` as they were at `moment`.

        One scan of every job's times: the dashboard asks once, to start its rates.
        """
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT model, SUM(created_at <= ?), "
                "SUM(status IN ('done', 'failed') AND done_at <= ?) FROM jobs GROUP BY model",
                (moment, moment),
            ).fetchall()
        return {model: (int(submitted), int(finished)) for model, submitted, finished in rows}
