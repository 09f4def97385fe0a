-- The run lock's holder: at most one row, naming the process whose session holds the
-- advisory lock. The advisory lock decides who holds the run lock; this row only lets a
-- blocked run name the holder. token identifies one acquisition.
CREATE TABLE photo_sync_lease (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    token       TEXT NOT NULL,
    host        TEXT NOT NULL,
    pid         BIGINT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

-- The run history: one row per run, written at its start and completed at its end.
-- finished_at, exit_status and the counts stay NULL until the run records its end.
CREATE TABLE photo_sync_runs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    mode            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'completed_with_problems',
                        'failed', 'interrupted', 'abandoned', 'rejected_locked')),
    exit_status     INTEGER,
    targets         BIGINT,
    created         BIGINT,
    updated         BIGINT,
    unchanged       BIGINT,
    kept_local      BIGINT,
    no_graph_photo  BIGINT,
    failed          BIGINT,
    host            TEXT NOT NULL,
    pid             BIGINT NOT NULL,
    message         TEXT
);
