//! Test helpers: a fresh database per test on either backend, a plain connection for
//! seeding and checking rows with raw SQL, and small valid photos. An SQLite database is a
//! file in a temporary folder, a PostgreSQL one a new database on the test server.

use std::io::Cursor;
use std::path::PathBuf;

use diesel::SqliteConnection;
use diesel::sql_types::{Nullable, Text};
use diesel::{QueryableByName, sql_query};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use photo_sync_domain::ValidPhoto;
use photo_sync_e2e::postgres::{create_database, shared_admin_url};
use photo_sync_webdesk::WebdeskDb;
use tempfile::TempDir;

/// Defines one test per backend for each listed `async fn name(backend: Backend)`, as
/// `name::sqlite` and `name::postgres`. The PostgreSQL tests need the server named by
/// `PHOTO_SYNC_TEST_POSTGRES` and fail with the fix when it is not set.
///
/// insta rejects an inline snapshot that one test process checks twice, so the snapshot
/// assertions in these bodies sit in `insta::allow_duplicates!`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread")]
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread")]
                async fn postgres() {
                    super::$name($crate::support::Backend::Postgres).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;

/// The contract DDL, as the crate ships it.
pub const SQLITE_WEBDESK_SCHEMA: &str = include_str!("../../webdesk-schema/sqlite.sql");
pub const POSTGRES_WEBDESK_SCHEMA: &str = include_str!("../../webdesk-schema/postgres.sql");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A new, empty database, which an SQLite test removes when the value is dropped. The
/// PostgreSQL databases stay until the test server stops.
pub struct TestDb {
    backend: Backend,
    url: String,
    /// The SQLite file, in `_dir`.
    sqlite_path: Option<PathBuf>,
    _dir: Option<TempDir>,
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder can be created");
                let path = dir.path().join("webdesk.db");
                let url = format!("sqlite://{}", path.display());
                Self { backend, url, sqlite_path: Some(path), _dir: Some(dir) }
            }
            Backend::Postgres => {
                let url = create_database(&shared_admin_url(), "webdesk_store");
                Self { backend, url, sqlite_path: None, _dir: None }
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Returns the SQLite file. Panics for PostgreSQL.
    pub fn sqlite_path(&self) -> &PathBuf {
        self.sqlite_path.as_ref().expect("only an SQLite test database has a file")
    }

    pub async fn connect(&self) -> WebdeskDb {
        WebdeskDb::connect(&self.url).await.expect("the test database opens")
    }

    /// Opens the database with the contract tables and the job's tables in place.
    pub async fn migrated(&self) -> WebdeskDb {
        let db = self.connect().await;
        db.migrate(true).await.expect("an empty database migrates");
        db
    }

    /// Opens a second, plain connection, like one of Webdesk itself.
    pub async fn raw(&self) -> RawConnection {
        match self.backend {
            Backend::Sqlite => {
                let path = self.sqlite_path().to_string_lossy().into_owned();
                let mut connection =
                    SyncConnectionWrapper::<SqliteConnection>::establish(&path).await.expect("the test database opens");
                connection
                    .batch_execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")
                    .await
                    .expect("the pragmas apply");
                RawConnection::Sqlite(connection)
            }
            Backend::Postgres => {
                RawConnection::Postgres(AsyncPgConnection::establish(&self.url).await.expect("the test database opens"))
            }
        }
    }

    pub async fn execute(&self, sql: &str) {
        self.raw().await.execute(sql).await;
    }

    /// Runs a query whose single column is named `value` and returns it as text. On
    /// PostgreSQL the column must have a text type, so cast numbers with `CAST(... AS TEXT)`.
    pub async fn query_text(&self, sql: &str) -> Vec<Option<String>> {
        self.raw().await.query_text(sql).await
    }

    /// Like [`TestDb::query_text`] for a query that returns exactly one non-null value.
    pub async fn query_one(&self, sql: &str) -> String {
        let values = self.query_text(sql).await;
        match values.as_slice() {
            [Some(value)] => value.clone(),
            other => panic!("expected one non-null value, got {other:?}\n{sql}"),
        }
    }

    /// Returns the contract DDL of this backend.
    pub fn webdesk_schema(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => SQLITE_WEBDESK_SCHEMA,
            Backend::Postgres => POSTGRES_WEBDESK_SCHEMA,
        }
    }

    /// Returns an SQL literal of the bytes written as hexadecimal digits.
    pub fn blob(&self, hex: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("x'{hex}'"),
            Backend::Postgres => format!("'\\x{hex}'::bytea"),
        }
    }

    /// Returns an SQL literal of a UTC timestamp given as `YYYY-MM-DD HH:MM:SS[.ffffff]`.
    /// SQLite stores the text as written. PostgreSQL gets it with an offset, so the session
    /// time zone cannot shift it.
    pub fn timestamp(&self, utc: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("'{utc}'"),
            Backend::Postgres => format!("'{utc}+00'"),
        }
    }

    /// Returns an SQL expression with the bytes of `column` as uppercase hexadecimal digits.
    pub fn hex_of(&self, column: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("hex({column})"),
            Backend::Postgres => format!("upper(encode({column}, 'hex'))"),
        }
    }

    /// Returns an SQL expression with the timestamp in `column` as text. In SQLite that is
    /// the stored text itself, in PostgreSQL the UTC time with six fraction digits, which is
    /// the form the job writes into SQLite.
    pub fn timestamp_of(&self, column: &str) -> String {
        match self.backend {
            Backend::Sqlite => column.to_owned(),
            Backend::Postgres => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"),
        }
    }

    /// Returns the names of the tables in the database, sorted bytewise.
    pub async fn table_names(&self) -> Vec<String> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT name AS value FROM sqlite_master WHERE type = 'table' ORDER BY name",
            Backend::Postgres => {
                "SELECT CAST(tablename AS TEXT) AS value FROM pg_tables WHERE schemaname = 'public'
                 ORDER BY tablename COLLATE \"C\""
            }
        };
        self.query_text(sql).await.into_iter().flatten().collect()
    }
}

/// A connection outside the store, on either backend.
#[expect(clippy::large_enum_variant, reason = "a test holds one or two of these at a time")]
pub enum RawConnection {
    Sqlite(SyncConnectionWrapper<SqliteConnection>),
    Postgres(AsyncPgConnection),
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
}

impl RawConnection {
    /// Runs SQL statements separated by semicolons.
    pub async fn execute(&mut self, sql: &str) {
        self.try_execute(sql).await.unwrap_or_else(|error| panic!("SQL failed: {error}\n{sql}"));
    }

    /// Like [`RawConnection::execute`], for statements that are expected to fail.
    pub async fn try_execute(&mut self, sql: &str) -> diesel::QueryResult<()> {
        match self {
            Self::Sqlite(connection) => connection.batch_execute(sql).await,
            Self::Postgres(connection) => connection.batch_execute(sql).await,
        }
    }

    /// See [`TestDb::query_text`].
    pub async fn query_text(&mut self, sql: &str) -> Vec<Option<String>> {
        let rows: Result<Vec<Value>, _> = match self {
            Self::Sqlite(connection) => sql_query(sql).load(connection).await,
            Self::Postgres(connection) => sql_query(sql).load(connection).await,
        };
        let rows = rows.unwrap_or_else(|error| panic!("query failed: {error}\n{sql}"));
        rows.into_iter().map(|row| row.value).collect()
    }
}

/// Encodes a solid PNG of the given size and grey level, which the domain accepts as a photo.
pub fn png(width: u32, height: u32, grey: u8) -> ValidPhoto {
    let image = image::GrayImage::from_pixel(width, height, image::Luma([grey]));
    let mut bytes = Vec::new();
    image.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png).expect("a PNG encodes into memory");
    ValidPhoto::from_bytes(bytes).expect("an encoded PNG is a valid photo")
}
