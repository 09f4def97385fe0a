//! A Webdesk database to seed and inspect with plain SQL, independent of the adapter under
//! test: an SQLite file (through diesel's SQLite driver) or a PostgreSQL database (through
//! `psql`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::sql_types::{Nullable, Text};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};

use crate::postgres;

/// The database backends the job supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A `person_images` row as stored; `modified_at` as UTC text `YYYY-MM-DD HH:MM:SS[.ffffff]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    pub content: Vec<u8>,
    pub content_type: String,
    pub modified_at: String,
    pub modified_by: String,
    pub version: i64,
}

/// A `photo_sync_state` row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRow {
    pub stored_etag: Option<String>,
    pub written_version: Option<i64>,
    pub observed_etag: Option<String>,
    pub observed_at: String,
}

/// Up to six text columns of a SQLite row, named `c0` to `c5` in the query.
#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Nullable<Text>)]
    c0: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c1: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c2: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c3: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c4: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c5: Option<String>,
}

/// A Webdesk database of the contract schema.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    backend: Backend,
    /// The file path (SQLite) or the URL (PostgreSQL).
    target: String,
}

impl TestDatabase {
    /// Opens an SQLite file that `photo-sync db migrate --with-webdesk-schema` created.
    pub fn sqlite(path: &Path) -> Self {
        Self { backend: Backend::Sqlite, target: path.display().to_string() }
    }

    /// Opens a PostgreSQL database by URL.
    pub fn postgres(url: &str) -> Self {
        Self { backend: Backend::Postgres, target: url.to_owned() }
    }

    /// Names a new empty database: `webdesk.db` in `folder`, or a fresh database on the
    /// test PostgreSQL server.
    pub fn create(backend: Backend, folder: &Path) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(&folder.join("webdesk.db")),
            Backend::Postgres => Self::postgres(&postgres::create_database(&postgres::shared_admin_url(), "e2e")),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Returns the SQLite file, and panics for PostgreSQL.
    pub fn path(&self) -> PathBuf {
        assert_eq!(self.backend, Backend::Sqlite, "only an SQLite database has a path");
        PathBuf::from(&self.target)
    }

    /// Returns the URL for configuration files and `--database`.
    pub fn url(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target),
            Backend::Postgres => self.target.clone(),
        }
    }

    fn connect_sqlite(&self) -> SqliteConnection {
        let mut connection =
            SqliteConnection::establish(&self.target).unwrap_or_else(|e| panic!("cannot open {}: {e}", self.target));
        connection.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;").expect("set pragmas");
        connection
    }

    /// Runs SQL statements separated by semicolons.
    pub fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                self.connect_sqlite().batch_execute(sql).unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"))
            }
            Backend::Postgres => {
                postgres::psql(&self.target, sql);
            }
        }
    }

    /// Runs a query whose columns are text or NULL, named `c0` to `c5`, and returns the rows.
    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self.backend {
            Backend::Sqlite => {
                let rows: Vec<TextRow> = diesel::sql_query(pad_columns(sql))
                    .load(&mut self.connect_sqlite())
                    .unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"));
                rows.into_iter().map(|r| vec![r.c0, r.c1, r.c2, r.c3, r.c4, r.c5]).collect()
            }
            Backend::Postgres => postgres::psql_rows(&self.target, sql),
        }
    }

    /// Formats a UTC timestamp literal from `text` in the form `YYYY-MM-DD HH:MM:SS`.
    pub fn timestamp(&self, text: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("'{text}'"),
            Backend::Postgres => format!("TIMESTAMPTZ '{text}+00'"),
        }
    }

    /// Formats a byte string literal.
    pub fn bytes(&self, content: &[u8]) -> String {
        let hex = content.iter().fold(String::with_capacity(content.len() * 2), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        });
        match self.backend {
            Backend::Sqlite => format!("X'{hex}'"),
            Backend::Postgres => format!("decode('{hex}', 'hex')"),
        }
    }

    pub fn add_client(&self, id: i64, short_name: &str) {
        self.execute(&format!(
            "INSERT INTO clients (id, short_name, name) VALUES ({id}, '{short_name}', '{short_name} GmbH')"
        ));
    }

    /// Adds a person; `object_id` and `upn` are the Microsoft account link columns.
    pub fn add_person(
        &self,
        id: i64,
        client_id: i64,
        username: &str,
        active: bool,
        object_id: Option<&str>,
        upn: Option<&str>,
    ) {
        self.execute(&format!(
            "INSERT INTO persons (id, client_id, username, first_name, last_name, active, entra_object_id, entra_user_principal_name) \
             VALUES ({id}, {client_id}, '{username}', 'Vorname', 'Nachname {id}', {active}, {object_id}, {upn})",
            active = if active { "TRUE" } else { "FALSE" },
            object_id = text_or_null(object_id),
            upn = text_or_null(upn),
        ));
    }

    /// Adds a group; dates are `YYYY-MM-DD` or `None` for unbounded.
    pub fn add_group(
        &self,
        id: i64,
        client_id: i64,
        short_name: &str,
        valid_from: Option<&str>,
        valid_to: Option<&str>,
    ) {
        self.execute(&format!(
            "INSERT INTO groups (id, client_id, short_name, name, valid_from, valid_to) VALUES ({id}, {client_id}, '{short_name}', 'Gruppe {short_name}', {}, {})",
            text_or_null(valid_from),
            text_or_null(valid_to),
        ));
    }

    pub fn add_membership(&self, group_id: i64, person_id: i64, valid_from: &str, valid_to: Option<&str>) {
        self.execute(&format!(
            "INSERT INTO group_memberships (group_id, person_id, valid_from, valid_to) VALUES ({group_id}, {person_id}, '{valid_from}', {})",
            text_or_null(valid_to),
        ));
    }

    /// Stores an image with the given author (`upload` or `graph-sync`) and version.
    pub fn put_image(&self, person_id: i64, content: &[u8], modified_at: &str, modified_by: &str, version: i64) {
        self.execute(&format!(
            "INSERT INTO person_images (person_id, content, content_type, modified_at, modified_by, version) \
             VALUES ({person_id}, {content}, 'image/jpeg', {modified_at}, '{modified_by}', {version}) \
             ON CONFLICT (person_id) DO UPDATE SET content = excluded.content, modified_at = excluded.modified_at, \
             modified_by = excluded.modified_by, version = excluded.version",
            content = self.bytes(content),
            modified_at = self.timestamp(modified_at),
        ));
    }

    /// Replaces an image the way a Webdesk upload does: new content, version + 1.
    pub fn upload(&self, person_id: i64, content: &[u8], modified_at: &str) {
        self.execute(&format!(
            "UPDATE person_images SET content = {}, modified_at = {}, modified_by = 'upload', version = version + 1 WHERE person_id = {person_id}",
            self.bytes(content),
            self.timestamp(modified_at),
        ));
    }

    pub fn image(&self, person_id: i64) -> Option<ImageRow> {
        self.images_where(&format!("person_id = {person_id}")).remove(&person_id)
    }

    /// Reads every image in one query, by person id.
    pub fn images(&self) -> HashMap<i64, ImageRow> {
        self.images_where("TRUE")
    }

    fn images_where(&self, condition: &str) -> HashMap<i64, ImageRow> {
        let sql = match self.backend {
            Backend::Sqlite => format!(
                "SELECT CAST(person_id AS TEXT) AS c0, hex(content) AS c1, content_type AS c2, modified_at AS c3, modified_by AS c4, CAST(version AS TEXT) AS c5 FROM person_images WHERE {condition}"
            ),
            Backend::Postgres => format!(
                "SELECT person_id, encode(content, 'hex'), content_type, to_char(modified_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), modified_by, version FROM person_images WHERE {condition}"
            ),
        };
        self.query(&sql)
            .into_iter()
            .map(|row| {
                let text = |index: usize| row[index].clone().unwrap_or_default();
                let image = ImageRow {
                    content: decode_hex(&text(1)),
                    content_type: text(2),
                    modified_at: text(3),
                    modified_by: text(4),
                    version: text(5).parse().expect("version is a number"),
                };
                (text(0).parse().expect("person id is a number"), image)
            })
            .collect()
    }

    pub fn state(&self, person_id: i64) -> Option<StateRow> {
        self.states_where(&format!("person_id = {person_id}")).remove(&person_id)
    }

    /// Reads every sync state in one query, by person id.
    pub fn states(&self) -> HashMap<i64, StateRow> {
        self.states_where("TRUE")
    }

    fn states_where(&self, condition: &str) -> HashMap<i64, StateRow> {
        let observed_at = match self.backend {
            Backend::Sqlite => "observed_at",
            Backend::Postgres => "to_char(observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
        };
        let sql = format!(
            "SELECT CAST(person_id AS TEXT) AS c0, stored_etag AS c1, CAST(written_version AS TEXT) AS c2, observed_etag AS c3, {observed_at} AS c4 FROM photo_sync_state WHERE {condition}"
        );
        self.query(&sql)
            .into_iter()
            .map(|row| {
                let state = StateRow {
                    stored_etag: row[1].clone(),
                    written_version: row[2].as_deref().map(|v| v.parse().expect("version is a number")),
                    observed_etag: row[3].clone(),
                    observed_at: row[4].clone().unwrap_or_default(),
                };
                (row[0].as_deref().and_then(|id| id.parse().ok()).expect("person id is a number"), state)
            })
            .collect()
    }
}

fn text_or_null(value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".to_owned(), |v| format!("'{}'", v.replace('\'', "''")))
}

/// Adds NULL columns up to `c5`, because the SQLite row type always has six.
fn pad_columns(sql: &str) -> String {
    let used = (0..6).filter(|i| sql.contains(&format!(" AS c{i}"))).count();
    let padding: String = (used..6).map(|i| format!(", NULL AS c{i}")).collect();
    match sql.find(" FROM ") {
        Some(at) => format!("{}{padding}{}", &sql[..at], &sql[at..]),
        None => format!("{sql}{padding}"),
    }
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex digits")).collect()
}
