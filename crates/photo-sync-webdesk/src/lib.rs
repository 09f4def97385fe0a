//! The Webdesk database adapter: implements [`WebdeskStore`] with diesel-async over an
//! embedded SQLite file or a PostgreSQL server, creates the job's own tables, and keeps
//! the run lock and the run history.
//!
//! Every query is written once against a multi-backend connection (see `connection`),
//! taken from a deadpool connection pool (see `pool`). Only statements that differ
//! between the backends match on the connection's variant. The crate owns the diesel
//! schema of the five Webdesk contract tables and of its own `photo_sync_*` tables, and
//! converts rows into domain types at this seam.
//!
//! **Invariant:** the adapter writes only to `person_images` and its own `photo_sync_*`
//! tables, and [`WebdeskDb::migrate`] never alters or drops a table that already exists.

mod connection;
mod directory;
mod images;
mod lock;
mod migrate;
mod pool;
mod runs;
mod schema;
mod state;
mod timestamp;

use std::collections::HashMap;
use std::fmt;

use photo_sync_domain::ports::{PhotoWrite, StoreError, WebdeskStore, WriteResult};
use photo_sync_domain::{Directory, PersonId, Selection, SyncState, WebdeskImage};

pub use connection::ConnectError;
use connection::{DatabaseUrl, DbConnection};
use images::ImageError;
pub use lock::{LockError, RunHolder, RunLease};
pub use migrate::MigrationSummary;
use pool::{DbPool, PooledConnection};
pub use runs::{RunEnd, RunId, RunRecord, RunStart, RunStatus, UnknownRunStatus};

/// Why [`WebdeskDb::open_for_run`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    NotReady(#[from] StoreError),
}

/// The maximum number of keys bound in one `IN (...)` list. Longer lists are split into
/// several queries, so a statement stays below 999 bound parameters, the limit of SQLite
/// before 3.32 (later versions allow 32766).
const MAX_KEYS_PER_QUERY: usize = 500;

/// The Webdesk database, opened from a URL. Calls take a connection from a pool: one
/// connection for SQLite, which allows one writer at a time, and a few for PostgreSQL.
pub struct WebdeskDb {
    target: DatabaseUrl,
    pool: DbPool,
}

impl fmt::Debug for WebdeskDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebdeskDb").field("target", &self.target).finish_non_exhaustive()
    }
}

impl WebdeskDb {
    /// Opens the database at a URL: `sqlite://relative/path.db`,
    /// `sqlite:///absolute/path.db` (also plain `sqlite:path`), or `postgres://` /
    /// `postgresql://`. A PostgreSQL server's unix socket is named by a percent-encoded
    /// host (`postgres://user@%2Fvar%2Frun%2Fpostgresql/webdesk`) or by a `host=/path`
    /// parameter.
    ///
    /// A missing SQLite file is created, so that [`WebdeskDb::migrate`] can set up an
    /// empty database. Its folder must exist. The connection opened to check the URL is
    /// kept for the first call.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let target = DatabaseUrl::parse(url)?;
        let connection = connection::establish(&target).await?;
        Ok(Self::with_first_connection(target, connection))
    }

    /// Opens the database of a run: like [`WebdeskDb::connect`], but a missing SQLite file
    /// is an error instead of a new empty database, and every table the run needs must
    /// exist.
    pub async fn open_for_run(url: &str) -> Result<Self, OpenError> {
        let target = DatabaseUrl::parse(url)?;
        if let DatabaseUrl::Sqlite { path } = &target
            && !std::path::Path::new(path).exists()
        {
            return Err(ConnectError::SqliteMissing { path: path.clone() }.into());
        }

        let mut connection = connection::establish(&target).await?;
        migrate::check_ready(&mut connection).await?;
        Ok(Self::with_first_connection(target, connection))
    }

    fn with_first_connection(target: DatabaseUrl, connection: DbConnection) -> Self {
        let pool = pool::build(&target, connection);
        Self { target, pool }
    }

    /// Returns the backend name, `"sqlite"` or `"postgresql"`.
    pub fn backend_name(&self) -> &'static str {
        self.target.backend_name()
    }

    /// Creates the job's own tables with embedded diesel migrations, skipping those
    /// already applied. With `with_webdesk_schema`, it first creates those of the five
    /// Webdesk contract tables that do not exist yet. Without it, it fails when any of them
    /// is missing. It never alters or drops an existing table.
    ///
    /// # Panics
    ///
    /// On a current-thread tokio runtime, because diesel's migration harness blocks the
    /// thread with `tokio::task::block_in_place`.
    pub async fn migrate(&self, with_webdesk_schema: bool) -> Result<MigrationSummary, StoreError> {
        // The migration harness takes ownership of a connection, so it gets its own.
        let connection = connection::establish(&self.target)
            .await
            .map_err(|error| StoreError(format!("opening a connection for the migration failed: {error}")))?;
        migrate::migrate(connection, with_webdesk_schema).await
    }

    /// Takes a connection from the pool. The pool replaces a connection that an earlier
    /// call left inside a transaction because it was cancelled.
    async fn connection(&self) -> Result<PooledConnection, StoreError> {
        pool::get(&self.pool).await
    }
}

impl WebdeskStore for WebdeskDb {
    async fn load_directory(&self, selection: &Selection) -> Result<Directory, StoreError> {
        let mut connection = self.connection().await?;
        directory::load_directory(&mut connection, selection).await.map_err(|error| {
            let references = selection.persons.len() + selection.groups.len() + selection.clients.len();
            failed(format!("loading the persons, groups and clients of {references} selected references"), error)
        })
    }

    async fn load_images(&self, persons: &[PersonId]) -> Result<HashMap<PersonId, WebdeskImage>, StoreError> {
        let mut connection = self.connection().await?;
        images::load_images(&mut connection, persons).await.map_err(|error| match error {
            ImageError::Database(error) => failed(format!("loading the images of {} persons", persons.len()), error),
            ImageError::UnknownAuthor { person_id, modified_by } => StoreError(format!(
                "the image of person {person_id} has modified_by {modified_by:?}, expected \"upload\" or \"graph-sync\"; fix the row in person_images"
            )),
        })
    }

    async fn load_states(&self, persons: &[PersonId]) -> Result<HashMap<PersonId, SyncState>, StoreError> {
        let mut connection = self.connection().await?;
        state::load_states(&mut connection, persons)
            .await
            .map_err(|error| failed(format!("loading the sync states of {} persons", persons.len()), error))
    }

    async fn store_photo(&self, write: PhotoWrite<'_>) -> Result<WriteResult, StoreError> {
        let mut connection = self.connection().await?;
        images::store_photo(&mut connection, &write)
            .await
            .map_err(|error| failed(format!("storing the photo of person {}", write.person_id), error))
    }

    async fn record_states(&self, states: &[(PersonId, SyncState)]) -> Result<(), StoreError> {
        let mut connection = self.connection().await?;
        state::record_states(&mut connection, states)
            .await
            .map_err(|error| failed(format!("recording the sync states of {} persons", states.len()), error))
    }
}

/// Builds the store error for a failed operation. diesel's error text does not include
/// bound parameters, so the photo bytes stay out of the message.
fn failed(operation: String, error: diesel::result::Error) -> StoreError {
    StoreError(format!("{operation} failed: {error}"))
}
