//! The connection pool of a [`crate::WebdeskDb`]: deadpool over the multi-backend
//! [`DbConnection`], which opens every connection with [`connection::establish`] so that
//! each one gets the session setup of its backend.
//!
//! The pool also replaces a connection that an earlier call left inside a transaction,
//! for example because the call was cancelled: deadpool checks
//! `PoolableConnection::is_broken` before it hands a connection out again.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use photo_sync_domain::ports::StoreError;

use crate::connection::{self, DatabaseUrl, DbConnection};

pub(crate) type DbPool = Pool<DbConnection>;
pub(crate) type PooledConnection = Object<DbConnection>;

/// The maximum number of PostgreSQL connections of one store. A run calls the store one
/// step after another and so uses one connection at a time. The other connections serve
/// callers that share the store between tasks.
const POSTGRES_POOL_SIZE: usize = 4;

/// SQLite allows one writer at a time, so the store keeps a single connection and callers
/// wait for it instead of failing with "database is locked".
const SQLITE_POOL_SIZE: usize = 1;

/// How long a call waits for a free or new connection before it fails. Opening a
/// PostgreSQL connection to an unreachable host can otherwise take minutes of TCP retries.
const CONNECTION_WAIT: Duration = Duration::from_secs(60);

/// Builds the pool for `target`. `first` is a connection the caller already opened (to
/// check the URL), and becomes the pool's first connection.
pub(crate) fn build(target: &DatabaseUrl, first: DbConnection) -> DbPool {
    let (size, recycling_method) = match target {
        DatabaseUrl::Postgres { .. } => (POSTGRES_POOL_SIZE, RecyclingMethod::Verified),
        // A file cannot drop the connection the way a server can, so the pool skips the
        // test query before it reuses an SQLite connection.
        DatabaseUrl::Sqlite { .. } => (SQLITE_POOL_SIZE, RecyclingMethod::Fast),
    };

    let first = Arc::new(Mutex::new(Some(first)));
    let setup_target = target.clone();
    let mut config = ManagerConfig::default();
    config.recycling_method = recycling_method;
    // The derived `DbConnection::establish` would try each backend in turn and hide the
    // real error, so the pool opens connections by the URL's scheme instead.
    config.custom_setup = Box::new(move |_url| {
        let target = setup_target.clone();
        let first = Arc::clone(&first);
        Box::pin(async move {
            let opened = first.lock().unwrap_or_else(PoisonError::into_inner).take();
            match opened {
                Some(connection) => Ok(connection),
                None => connection::establish(&target)
                    .await
                    .map_err(|error| ConnectionError::BadConnection(error.to_string())),
            }
        })
    });

    // The manager's URL is unused because `custom_setup` opens `target`, and it would
    // only keep a copy of the password.
    let manager = AsyncDieselConnectionManager::new_with_config(String::new(), config);
    Pool::builder(manager)
        .max_size(size)
        .build()
        .expect("deadpool rejects a configuration only for timeouts without a runtime, and none are set")
}

/// Takes a connection from the pool, opening a new one when none is free.
pub(crate) async fn get(pool: &DbPool) -> Result<PooledConnection, StoreError> {
    let waited = tokio::time::timeout(CONNECTION_WAIT, pool.get()).await;
    let Ok(result) = waited else {
        return Err(StoreError(format!(
            "waiting for a database connection timed out after {} s; check that the database server is reachable",
            CONNECTION_WAIT.as_secs()
        )));
    };

    result.map_err(|error| match error {
        // `custom_setup` puts the whole `ConnectError` message, with the URL redacted and
        // the fix, into `BadConnection`.
        PoolError::Backend(diesel_async::pooled_connection::PoolError::ConnectionError(
            ConnectionError::BadConnection(message),
        )) => StoreError(message),
        other => StoreError(format!("opening a database connection failed: {other}")),
    })
}
