-- The emulator's SQLite schema version 1, as together-queue 0.1.0 wrote it (migration tests).
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
    claimed_by TEXT
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
    claimed_at REAL NOT NULL
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
