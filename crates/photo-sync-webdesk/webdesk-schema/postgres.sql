-- The Webdesk person schema for PostgreSQL, exactly as the external contract defines it.
-- Not a diesel migration: `migrate --with-webdesk-schema` creates only the tables that
-- do not exist yet and never records them as the job's own.

CREATE TABLE clients (
    id          BIGINT PRIMARY KEY,
    short_name  TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL
);

CREATE TABLE persons (
    id                         BIGINT PRIMARY KEY,
    client_id                  BIGINT NOT NULL REFERENCES clients(id),
    username                   TEXT NOT NULL UNIQUE,
    first_name                 TEXT NOT NULL,
    last_name                  TEXT NOT NULL,
    personnel_number           TEXT,
    email                      TEXT,
    active                     BOOLEAN NOT NULL DEFAULT TRUE,
    entra_object_id            TEXT,
    entra_user_principal_name  TEXT
);

CREATE TABLE groups (
    id          BIGINT PRIMARY KEY,
    client_id   BIGINT NOT NULL REFERENCES clients(id),
    short_name  TEXT NOT NULL,
    name        TEXT NOT NULL,
    parent_id   BIGINT REFERENCES groups(id),
    valid_from  DATE,
    valid_to    DATE,
    UNIQUE (client_id, short_name)
);

CREATE TABLE group_memberships (
    group_id    BIGINT NOT NULL REFERENCES groups(id),
    person_id   BIGINT NOT NULL REFERENCES persons(id),
    valid_from  DATE NOT NULL,
    valid_to    DATE,
    PRIMARY KEY (group_id, person_id, valid_from)
);

CREATE TABLE person_images (
    person_id     BIGINT PRIMARY KEY REFERENCES persons(id),
    content       BYTEA NOT NULL,
    content_type  TEXT NOT NULL,
    modified_at   TIMESTAMPTZ NOT NULL,
    modified_by   TEXT NOT NULL CHECK (modified_by IN ('upload', 'graph-sync')),
    version       BIGINT NOT NULL DEFAULT 1
);
