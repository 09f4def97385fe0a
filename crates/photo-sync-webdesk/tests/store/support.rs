//! Test helpers: a fresh SQLite file per test, a plain diesel connection for seeding and
//! checking rows with raw SQL, and small valid photos.

use std::io::Cursor;
use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::sql_types::{Nullable, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use photo_sync_domain::ValidPhoto;
use photo_sync_webdesk::WebdeskDb;
use tempfile::TempDir;

/// The contract DDL, as the crate ships it.
pub const WEBDESK_SCHEMA: &str = include_str!("../../webdesk-schema/sqlite.sql");

/// An SQLite file in its own temporary folder, removed when the value is dropped.
pub struct TestDb {
    _dir: TempDir,
    pub path: PathBuf,
}

impl TestDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder can be created");
        let path = dir.path().join("webdesk.db");
        Self { _dir: dir, path }
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    pub async fn connect(&self) -> WebdeskDb {
        WebdeskDb::connect(&self.url()).await.expect("the test database opens")
    }

    /// Opens the database with the contract tables and the job's table in place.
    pub async fn migrated(&self) -> WebdeskDb {
        let db = self.connect().await;
        db.migrate(true).await.expect("an empty database migrates");
        db
    }

    /// A second, plain connection, like Webdesk itself would hold.
    pub fn raw(&self) -> SqliteConnection {
        let mut connection = SqliteConnection::establish(&self.path.to_string_lossy())
            .expect("the test database opens without the store");
        connection.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;").expect("the pragmas apply");
        connection
    }

    pub fn execute(&self, sql: &str) {
        self.raw().batch_execute(sql).unwrap_or_else(|error| panic!("SQL failed: {error}\n{sql}"));
    }

    /// Runs a query whose single column is named `value` and returns it as text.
    pub fn query_text(&self, sql: &str) -> Vec<Option<String>> {
        #[derive(QueryableByName)]
        struct Value {
            #[diesel(sql_type = Nullable<Text>)]
            value: Option<String>,
        }

        let rows: Vec<Value> =
            diesel::sql_query(sql).load(&mut self.raw()).unwrap_or_else(|error| panic!("query failed: {error}\n{sql}"));
        rows.into_iter().map(|row| row.value).collect()
    }

    /// Like [`TestDb::query_text`] for a query that returns exactly one non-null value.
    pub fn query_one(&self, sql: &str) -> String {
        let values = self.query_text(sql);
        match values.as_slice() {
            [Some(value)] => value.clone(),
            other => panic!("expected one non-null value, got {other:?}\n{sql}"),
        }
    }
}

/// A solid PNG of the given size and grey level, which the domain accepts as a photo.
pub fn png(width: u32, height: u32, grey: u8) -> ValidPhoto {
    let image = image::GrayImage::from_pixel(width, height, image::Luma([grey]));
    let mut bytes = Vec::new();
    image.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png).expect("a PNG encodes into memory");
    ValidPhoto::from_bytes(bytes).expect("an encoded PNG is a valid photo")
}
