//! A Webdesk SQLite database file to seed and inspect with plain SQL, independent of the
//! adapter under test.

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Binary, Nullable, Text};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};

/// A `person_images` row as stored.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ImageRow {
    #[diesel(sql_type = Binary)]
    pub content: Vec<u8>,
    #[diesel(sql_type = Text)]
    pub content_type: String,
    #[diesel(sql_type = Text)]
    pub modified_at: String,
    #[diesel(sql_type = Text)]
    pub modified_by: String,
    #[diesel(sql_type = BigInt)]
    pub version: i64,
}

/// A `photo_sync_state` row as stored.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct StateRow {
    #[diesel(sql_type = Nullable<Text>)]
    pub stored_etag: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub written_version: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub observed_etag: Option<String>,
    #[diesel(sql_type = Text)]
    pub observed_at: String,
}

/// An SQLite file of the Webdesk contract schema.
#[derive(Debug)]
pub struct WebdeskFile {
    path: PathBuf,
}

impl WebdeskFile {
    /// Wraps a file that `photo-sync db migrate --with-webdesk-schema` created.
    pub fn open(path: &Path) -> Self {
        Self { path: path.to_owned() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The URL for configuration files and `--database`.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    fn connect(&self) -> SqliteConnection {
        let mut connection = SqliteConnection::establish(&self.path.to_string_lossy())
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.path.display()));
        connection.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;").expect("set pragmas");
        connection
    }

    /// Runs SQL statements separated by semicolons.
    pub fn execute(&self, sql: &str) {
        self.connect().batch_execute(sql).unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"));
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
        let text = |v: Option<&str>| v.map_or_else(|| "NULL".to_owned(), |v| format!("'{v}'"));
        self.execute(&format!(
            "INSERT INTO persons (id, client_id, username, first_name, last_name, active, entra_object_id, entra_user_principal_name) \
             VALUES ({id}, {client_id}, '{username}', 'Vorname', 'Nachname {id}', {active}, {object_id}, {upn})",
            active = i32::from(active),
            object_id = text(object_id),
            upn = text(upn),
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
        let date = |v: Option<&str>| v.map_or_else(|| "NULL".to_owned(), |v| format!("'{v}'"));
        self.execute(&format!(
            "INSERT INTO groups (id, client_id, short_name, name, valid_from, valid_to) VALUES ({id}, {client_id}, '{short_name}', 'Gruppe {short_name}', {}, {})",
            date(valid_from),
            date(valid_to),
        ));
    }

    pub fn add_membership(&self, group_id: i64, person_id: i64, valid_from: &str, valid_to: Option<&str>) {
        let to = valid_to.map_or_else(|| "NULL".to_owned(), |v| format!("'{v}'"));
        self.execute(&format!(
            "INSERT INTO group_memberships (group_id, person_id, valid_from, valid_to) VALUES ({group_id}, {person_id}, '{valid_from}', {to})"
        ));
    }

    /// Stores an image as Webdesk would on an upload (or as `modified_by` says).
    pub fn put_image(&self, person_id: i64, content: &[u8], modified_at: &str, modified_by: &str, version: i64) {
        let mut connection = self.connect();
        diesel::sql_query(
            "INSERT INTO person_images (person_id, content, content_type, modified_at, modified_by, version) VALUES (?, ?, 'image/jpeg', ?, ?, ?) \
             ON CONFLICT (person_id) DO UPDATE SET content = excluded.content, modified_at = excluded.modified_at, modified_by = excluded.modified_by, version = excluded.version",
        )
        .bind::<BigInt, _>(person_id)
        .bind::<Binary, _>(content)
        .bind::<Text, _>(modified_at)
        .bind::<Text, _>(modified_by)
        .bind::<BigInt, _>(version)
        .execute(&mut connection)
        .expect("store the image");
    }

    /// Replaces an image the way a Webdesk upload does: new content, version + 1.
    pub fn upload(&self, person_id: i64, content: &[u8], modified_at: &str) {
        let mut connection = self.connect();
        diesel::sql_query("UPDATE person_images SET content = ?, modified_at = ?, modified_by = 'upload', version = version + 1 WHERE person_id = ?")
            .bind::<Binary, _>(content)
            .bind::<Text, _>(modified_at)
            .bind::<BigInt, _>(person_id)
            .execute(&mut connection)
            .expect("upload the image");
    }

    pub fn image(&self, person_id: i64) -> Option<ImageRow> {
        let mut connection = self.connect();
        diesel::sql_query(
            "SELECT content, content_type, modified_at, modified_by, version FROM person_images WHERE person_id = ?",
        )
        .bind::<BigInt, _>(person_id)
        .load::<ImageRow>(&mut connection)
        .expect("read the image")
        .pop()
    }

    pub fn state(&self, person_id: i64) -> Option<StateRow> {
        let mut connection = self.connect();
        diesel::sql_query(
            "SELECT stored_etag, written_version, observed_etag, observed_at FROM photo_sync_state WHERE person_id = ?",
        )
        .bind::<BigInt, _>(person_id)
        .load::<StateRow>(&mut connection)
        .expect("read the sync state")
        .pop()
    }
}
