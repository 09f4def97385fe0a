-- The run lock: at most one row, naming the process that holds the lock until
-- expires_at (UTC text, like every timestamp of this database). token identifies one
-- acquisition, so that renewing and releasing touch only the holder's own row.
CREATE TABLE photo_sync_lease (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    token       TEXT NOT NULL,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

-- The run history: one row per run, written at its start and completed at its end.
-- finished_at, exit_status and the counts stay NULL until the run records its end.
CREATE TABLE photo_sync_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    mode            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'completed_with_problems',
                        'failed', 'interrupted', 'abandoned', 'rejected_locked')),
    exit_status     INTEGER,
    targets         INTEGER,
    created         INTEGER,
    updated         INTEGER,
    unchanged       INTEGER,
    kept_local      INTEGER,
    no_graph_photo  INTEGER,
    failed          INTEGER,
    host            TEXT NOT NULL,
    pid             INTEGER NOT NULL,
    message         TEXT
);
