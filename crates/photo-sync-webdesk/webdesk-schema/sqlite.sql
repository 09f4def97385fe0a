-- The Webdesk person schema for SQLite, exactly as the external contract defines it.
-- Not a diesel migration: `migrate --with-webdesk-schema` creates only the tables that
-- do not exist yet and never records them as the job's own.

CREATE TABLE clients (
    id          INTEGER PRIMARY KEY,
    short_name  TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL
);

CREATE TABLE persons (
    id                         INTEGER PRIMARY KEY,
    client_id                  INTEGER NOT NULL REFERENCES clients(id),
    username                   TEXT NOT NULL UNIQUE,
    first_name                 TEXT NOT NULL,
    last_name                  TEXT NOT NULL,
    personnel_number           TEXT,
    email                      TEXT,
    active                     INTEGER NOT NULL DEFAULT 1,
    entra_object_id            TEXT,
    entra_user_principal_name  TEXT
);

CREATE TABLE groups (
    id          INTEGER PRIMARY KEY,
    client_id   INTEGER NOT NULL REFERENCES clients(id),
    short_name  TEXT NOT NULL,
    name        TEXT NOT NULL,
    parent_id   INTEGER REFERENCES groups(id),
    valid_from  TEXT,
    valid_to    TEXT,
    UNIQUE (client_id, short_name)
);

CREATE TABLE group_memberships (
    group_id    INTEGER NOT NULL REFERENCES groups(id),
    person_id   INTEGER NOT NULL REFERENCES persons(id),
    valid_from  TEXT NOT NULL,
    valid_to    TEXT,
    PRIMARY KEY (group_id, person_id, valid_from)
);

CREATE TABLE person_images (
    person_id     INTEGER PRIMARY KEY REFERENCES persons(id),
    content       BLOB NOT NULL,
    content_type  TEXT NOT NULL,
    modified_at   TEXT NOT NULL,
    modified_by   TEXT NOT NULL CHECK (modified_by IN ('upload', 'graph-sync')),
    version       INTEGER NOT NULL DEFAULT 1
);
