-- The job's record per person of the Graph photo it stored and the ETag it last saw,
-- which the update mode "newest" needs because Graph has no photo modification time.
CREATE TABLE photo_sync_state (
    person_id        BIGINT PRIMARY KEY REFERENCES persons(id),
    stored_etag      TEXT,
    written_version  BIGINT,
    observed_etag    TEXT,
    observed_at      TIMESTAMPTZ NOT NULL
);
