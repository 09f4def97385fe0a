//! The run lock, which lets one run at a time work on a database.
//!
//! On PostgreSQL the lock is a session-level advisory lock, taken on a connection of its
//! own that the [`RunLease`] keeps open. The server releases it when that session ends,
//! also when the process is killed. The `photo_sync_lease` row only names the holder, so
//! that a blocked run can report who holds the lock.
//!
//! On SQLite the `photo_sync_lease` row is the lock. It expires unless the holder renews
//! it, and a lease whose process no longer runs on the same host is taken over at once.
//!
//! NOTE: a session-level advisory lock needs a real server session. Through a connection
//! pooler in transaction mode (PgBouncer's `pool_mode = transaction`, for example) the
//! lock does not exclude other runs, so `database.url` must reach PostgreSQL directly or
//! through session pooling (see the feature table at https://www.pgbouncer.org/features.html).

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::OptionalExtension;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::Bool;
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use photo_sync_domain::ports::StoreError;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
use tokio::sync::Mutex;

use crate::connection::{self, DatabaseUrl, DbConnection};
use crate::schema::photo_sync_lease;
use crate::timestamp::{UtcTimestamp, from_stored};
use crate::{WebdeskDb, failed};

/// The key of the PostgreSQL advisory lock: the 64-bit FNV-1a hash of
/// `"photo_sync.run_lock"`. Advisory locks belong to one database, so runs against
/// different databases of a server do not block each other. Changing the key would let an
/// old and a new version of the job run at the same time.
const RUN_LOCK_KEY: i64 = fnv1a_64(b"photo_sync.run_lock");

/// The primary key of the single `photo_sync_lease` row.
const LEASE_ROW_ID: i64 = 1;

/// How often an SQLite acquisition reads the lease again after another process changed
/// it between the read and the write. Each retry means that another process won a race,
/// so a few are plenty.
const MAX_SQLITE_ATTEMPTS: usize = 5;

/// The process that takes or holds the run lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunHolder {
    /// The host name. Another run on the same host can check whether `pid` still runs.
    pub host: String,
    pub pid: u32,
    pub started_at: OffsetDateTime,
}

impl RunHolder {
    /// Describes the current process: this machine's host name, this process's id and
    /// `started_at`. The host name is `"unknown"` when the system does not report one.
    pub fn current(started_at: OffsetDateTime) -> Self {
        let host = hostname::get().map_or_else(|_| "unknown".to_owned(), |name| name.to_string_lossy().into_owned());
        Self { host, pid: std::process::id(), started_at }
    }
}

impl fmt::Display for RunHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let utc = self.started_at.to_offset(time::UtcOffset::UTC);
        let started =
            utc.format(format_description!("[year]-[month]-[day] [hour]:[minute]:[second]")).map_err(|_| fmt::Error)?;
        write!(f, "host {}, pid {}, started {started} UTC", self.host, self.pid)
    }
}

/// Proof of holding the run lock, returned by [`WebdeskDb::acquire_run_lock`]. Pass it
/// to [`WebdeskDb::renew_run_lock`] while the run goes on and to
/// [`WebdeskDb::release_run_lock`] at its end.
///
/// Dropping a PostgreSQL lease without releasing it closes its session, which releases the
/// lock as well. A dropped SQLite lease stays in the table until it expires, or until a
/// run on the same host finds that its process no longer exists.
pub struct RunLease {
    token: String,
    holder: RunHolder,
    duration: Duration,
    /// PostgreSQL only: the session that holds the advisory lock.
    session: Option<Mutex<DbConnection>>,
}

impl RunLease {
    /// Returns the process this lease was taken for.
    pub fn holder(&self) -> &RunHolder {
        &self.holder
    }
}

impl fmt::Debug for RunLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunLease")
            .field("holder", &self.holder)
            .field("duration", &self.duration)
            .field("has_session", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

/// Why [`WebdeskDb::acquire_run_lock`] returned no lease.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Another run holds the lock.
    #[error(
        "another photo-sync run holds the run lock of this database ({holder}); wait until it finishes and start this run again. A lock left by a killed run frees itself when its lease expires"
    )]
    Held { holder: RunHolder },

    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = photo_sync_lease)]
struct LeaseRow {
    token: String,
    host: String,
    pid: i64,
    started_at: PrimitiveDateTime,
    expires_at: PrimitiveDateTime,
}

impl LeaseRow {
    fn holder(&self) -> RunHolder {
        RunHolder {
            host: self.host.clone(),
            // A pid outside u32 can only come from a row written by hand.
            pid: u32::try_from(self.pid).unwrap_or(u32::MAX),
            started_at: from_stored(self.started_at),
        }
    }
}

/// The reason an SQLite acquisition may take over a lease that another process wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takeover {
    Expired,
    ProcessGone,
}

/// The result of one PostgreSQL acquisition attempt.
enum PostgresAttempt {
    Acquired,
    HeldBy(Option<LeaseRow>),
}

impl WebdeskDb {
    /// Takes the run lock for `holder`, or returns [`LockError::Held`] naming the process
    /// that holds it. Call it before the run's first write.
    ///
    /// On SQLite the lease expires `lease` after this call unless
    /// [`WebdeskDb::renew_run_lock`] extends it, so renew well within `lease`. Expiry uses
    /// the clocks of the processes involved. On PostgreSQL the lock lasts as long as the
    /// lease's own database session, and `lease` only sets the `expires_at` shown in
    /// `photo_sync_lease`.
    pub async fn acquire_run_lock(&self, holder: &RunHolder, lease: Duration) -> Result<RunLease, LockError> {
        let token = new_token(holder);
        let acquired = match &self.target {
            DatabaseUrl::Sqlite { .. } => self.acquire_sqlite(holder, &token, lease).await,
            DatabaseUrl::Postgres { .. } => self.acquire_postgres(holder, &token, lease).await,
        };

        match acquired {
            Ok(session) => {
                tracing::info!(lock.host = %holder.host, lock.pid = holder.pid, "Run lock acquired");
                Ok(RunLease { token, holder: holder.clone(), duration: lease, session: session.map(Mutex::new) })
            }
            Err(LockError::Held { holder: current }) => {
                tracing::info!(lock.host = %current.host, lock.pid = current.pid, "Run lock is held by another run");
                Err(LockError::Held { holder: current })
            }
            Err(error) => Err(error),
        }
    }

    /// Extends the lease on SQLite. On PostgreSQL, checks that the lease's session is alive
    /// and still holds the advisory lock, and moves `expires_at` forward too.
    ///
    /// An error means that the lock may be lost (another run took over an expired SQLite
    /// lease, or the PostgreSQL session ended), so the run should stop writing.
    pub async fn renew_run_lock(&self, lease: &RunLease) -> Result<(), StoreError> {
        let expires_at = expiry(OffsetDateTime::now_utc(), lease.duration)?;

        let Some(session) = &lease.session else {
            let mut connection = self.connection().await?;
            let extended = extend_lease(&mut connection, &lease.token, expires_at)
                .await
                .map_err(|error| failed("renewing the run lock".to_owned(), error))?;
            if !extended {
                return Err(StoreError(
                    "the run lock was lost: its lease expired and another run took it over; stop this run, and renew the lock more often than its lease duration".to_owned(),
                ));
            }
            return Ok(());
        };

        let mut session = session.lock().await;
        let held = holds_advisory_lock(&mut session).await.map_err(|error| {
            StoreError(format!(
                "the run lock's database session failed, so the lock is lost: {error}; stop this run and start it again"
            ))
        })?;
        if !held {
            return Err(StoreError(
                "the run lock's database session no longer holds the advisory lock; stop this run and start it again"
                    .to_owned(),
            ));
        }
        extend_lease(&mut session, &lease.token, expires_at)
            .await
            .map_err(|error| failed("renewing the run lock".to_owned(), error))?;
        Ok(())
    }

    /// Releases the run lock. On SQLite the lease row is deleted only while it is still
    /// this lease's own, so a lease that expired and was taken over stays with its new
    /// holder. On PostgreSQL the lease's session unlocks and closes.
    pub async fn release_run_lock(&self, lease: RunLease) -> Result<(), StoreError> {
        let RunLease { token, holder, session, .. } = lease;

        match session {
            Some(session) => {
                let mut session = session.into_inner();
                session
                    .transaction(async |conn| {
                        conn.batch_execute("LOCK TABLE photo_sync_lease IN EXCLUSIVE MODE").await?;
                        delete_lease(conn, &token).await?;
                        diesel::sql_query("SELECT pg_advisory_unlock($1)")
                            .bind::<diesel::sql_types::BigInt, _>(RUN_LOCK_KEY)
                            .execute(conn)
                            .await?;
                        Ok::<_, DieselError>(())
                    })
                    .await
                    .map_err(|error| {
                        StoreError(format!(
                            "releasing the run lock failed: {error}; the server frees the lock anyway when it notices that the lease's session has closed"
                        ))
                    })?;
            }
            None => {
                let mut connection = self.connection().await?;
                let deleted = delete_lease(&mut connection, &token)
                    .await
                    .map_err(|error| failed("releasing the run lock".to_owned(), error))?;
                if !deleted {
                    tracing::warn!(
                        lock.host = %holder.host,
                        lock.pid = holder.pid,
                        "Run lock was already taken over by another run after its lease expired"
                    );
                }
            }
        }

        tracing::info!(lock.host = %holder.host, lock.pid = holder.pid, "Run lock released");
        Ok(())
    }

    /// Takes the SQLite lease row with single-statement writes: an `INSERT` when there is
    /// no row, or an `UPDATE` conditional on the token read before. When two processes
    /// race, SQLite runs their writes one after another, and the loser's write matches
    /// nothing, so it reads the row again.
    async fn acquire_sqlite(
        &self,
        holder: &RunHolder,
        token: &str,
        lease: Duration,
    ) -> Result<Option<DbConnection>, LockError> {
        let mut connection = self.connection().await?;
        let failed_to_take = |error| failed("taking the run lock".to_owned(), error);

        for _ in 0..MAX_SQLITE_ATTEMPTS {
            let now = OffsetDateTime::now_utc();
            let expires_at = expiry(now, lease)?;

            let Some(current) = read_lease(&mut connection).await.map_err(failed_to_take)? else {
                if insert_lease(&mut connection, token, holder, expires_at).await.map_err(failed_to_take)? {
                    return Ok(None);
                }
                continue;
            };

            let Some(reason) = takeover_reason(&current, holder, now) else {
                return Err(LockError::Held { holder: current.holder() });
            };
            let taken = take_over_lease(&mut connection, &current.token, reason, now, token, holder, expires_at)
                .await
                .map_err(failed_to_take)?;
            if taken {
                let previous = current.holder();
                tracing::warn!(
                    lock.previous_host = %previous.host,
                    lock.previous_pid = previous.pid,
                    lock.reason = ?reason,
                    "Took over the run lock of a run that did not release it"
                );
                return Ok(None);
            }
        }

        Err(LockError::Store(StoreError(format!(
            "taking the run lock failed: other runs changed the lease {MAX_SQLITE_ATTEMPTS} times while this run tried to take it; start this run again"
        ))))
    }

    /// Takes the advisory lock on a new session and, in the same transaction, writes the
    /// holder's row. Both happen under an exclusive lock on `photo_sync_lease`, which a
    /// blocked run also takes before it reads the row, so it always reads the row of the
    /// session that holds the advisory lock.
    async fn acquire_postgres(
        &self,
        holder: &RunHolder,
        token: &str,
        lease: Duration,
    ) -> Result<Option<DbConnection>, LockError> {
        let expires_at = expiry(OffsetDateTime::now_utc(), lease)?;
        let mut session = connection::establish(&self.target)
            .await
            .map_err(|error| StoreError(format!("opening the session for the run lock failed: {error}")))?;

        let attempt = session
            .transaction(async |conn| {
                conn.batch_execute("LOCK TABLE photo_sync_lease IN EXCLUSIVE MODE").await?;
                if !try_advisory_lock(conn).await? {
                    return read_lease(conn).await.map(PostgresAttempt::HeldBy);
                }
                // A row left by a session that ended without releasing the lock.
                diesel::delete(photo_sync_lease::table).execute(conn).await?;
                insert_lease(conn, token, holder, expires_at).await?;
                Ok(PostgresAttempt::Acquired)
            })
            .await
            .map_err(|error| failed("taking the run lock".to_owned(), error))?;

        match attempt {
            PostgresAttempt::Acquired => Ok(Some(session)),
            PostgresAttempt::HeldBy(Some(row)) => Err(LockError::Held { holder: row.holder() }),
            PostgresAttempt::HeldBy(None) => Err(LockError::Store(StoreError(format!(
                "the run lock (PostgreSQL advisory lock {RUN_LOCK_KEY}) is held by another session, but photo_sync_lease names no holder; find the session in pg_locks, and check whether another program uses the same advisory lock key"
            )))),
        }
    }
}

/// Returns why `current` may be taken over by `acquirer`, or `None` while its holder may
/// still be running.
fn takeover_reason(current: &LeaseRow, acquirer: &RunHolder, now: OffsetDateTime) -> Option<Takeover> {
    if from_stored(current.expires_at) < now {
        return Some(Takeover::Expired);
    }
    let same_host = current.host == acquirer.host;
    let gone = u32::try_from(current.pid).is_ok_and(process_is_gone);
    (same_host && gone).then_some(Takeover::ProcessGone)
}

/// Returns whether no process with this id runs on this machine. It returns `true` only
/// where `/proc` lists processes (Linux), so elsewhere a lease waits for its expiry.
///
/// NOTE: a process id that the system has given to a new process since counts as
/// running, so such a lease also waits for its expiry.
fn process_is_gone(pid: u32) -> bool {
    Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists()
}

/// Returns a value that identifies one acquisition among all processes and hosts.
fn new_token(holder: &RunHolder) -> String {
    static ACQUISITIONS: AtomicU64 = AtomicU64::new(0);
    let sequence = ACQUISITIONS.fetch_add(1, Ordering::Relaxed);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("{}/{}/{nanos}/{sequence}", holder.host, std::process::id())
}

fn expiry(now: OffsetDateTime, lease: Duration) -> Result<OffsetDateTime, StoreError> {
    time::Duration::try_from(lease)
        .ok()
        .and_then(|lease| now.checked_add(lease))
        .ok_or_else(|| StoreError(format!("invalid run lock lease duration of {} s: too long", lease.as_secs())))
}

async fn read_lease(conn: &mut DbConnection) -> QueryResult<Option<LeaseRow>> {
    photo_sync_lease::table.find(LEASE_ROW_ID).select(LeaseRow::as_select()).first(conn).await.optional()
}

/// Inserts the lease row and returns `false` when another process inserted it first.
async fn insert_lease(
    conn: &mut DbConnection,
    token: &str,
    holder: &RunHolder,
    expires_at: OffsetDateTime,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(photo_sync_lease::table)
        .values((
            photo_sync_lease::id.eq(LEASE_ROW_ID),
            photo_sync_lease::token.eq(token),
            photo_sync_lease::host.eq(&holder.host),
            photo_sync_lease::pid.eq(i64::from(holder.pid)),
            photo_sync_lease::started_at.eq(UtcTimestamp::new(holder.started_at)),
            photo_sync_lease::expires_at.eq(UtcTimestamp::new(expires_at)),
        ))
        .execute(conn)
        .await;

    match inserted {
        Ok(_) => Ok(true),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Replaces the lease row with this holder's while it still has `seen_token` and the
/// reason to take it over still applies, and returns whether it did.
async fn take_over_lease(
    conn: &mut DbConnection,
    seen_token: &str,
    reason: Takeover,
    now: OffsetDateTime,
    token: &str,
    holder: &RunHolder,
    expires_at: OffsetDateTime,
) -> QueryResult<bool> {
    // A holder that renewed its lease since the read has a later `expires_at`. A process
    // that is gone cannot renew, so its lease is taken over regardless of `expires_at`.
    let process_gone = reason == Takeover::ProcessGone;
    let still_takeable = photo_sync_lease::expires_at.lt(UtcTimestamp::new(now)).or(process_gone.into_sql::<Bool>());

    let updated = diesel::update(photo_sync_lease::table.find(LEASE_ROW_ID))
        .filter(photo_sync_lease::token.eq(seen_token))
        .filter(still_takeable)
        .set((
            photo_sync_lease::token.eq(token),
            photo_sync_lease::host.eq(&holder.host),
            photo_sync_lease::pid.eq(i64::from(holder.pid)),
            photo_sync_lease::started_at.eq(UtcTimestamp::new(holder.started_at)),
            photo_sync_lease::expires_at.eq(UtcTimestamp::new(expires_at)),
        ))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}

/// Moves the lease's `expires_at` and returns `false` when the row is no longer the
/// lease's own.
async fn extend_lease(conn: &mut DbConnection, token: &str, expires_at: OffsetDateTime) -> QueryResult<bool> {
    let updated = diesel::update(photo_sync_lease::table.find(LEASE_ROW_ID))
        .filter(photo_sync_lease::token.eq(token))
        .set(photo_sync_lease::expires_at.eq(UtcTimestamp::new(expires_at)))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}

/// Deletes the lease row if it is still the lease's own, and returns whether it was.
async fn delete_lease(conn: &mut DbConnection, token: &str) -> QueryResult<bool> {
    let deleted = diesel::delete(photo_sync_lease::table.find(LEASE_ROW_ID))
        .filter(photo_sync_lease::token.eq(token))
        .execute(conn)
        .await?;
    Ok(deleted == 1)
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    value: bool,
}

async fn try_advisory_lock(conn: &mut DbConnection) -> QueryResult<bool> {
    let flag: Flag = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS value")
        .bind::<diesel::sql_types::BigInt, _>(RUN_LOCK_KEY)
        .get_result(conn)
        .await?;
    Ok(flag.value)
}

/// Returns whether this session holds the advisory lock. `pg_locks` shows a 64-bit key
/// as `classid` (high half) and `objid` (low half) with `objsubid` 1.
async fn holds_advisory_lock(conn: &mut DbConnection) -> QueryResult<bool> {
    let flag: Flag = diesel::sql_query(
        "SELECT EXISTS (
             SELECT 1 FROM pg_locks
             WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 1
                 AND ((classid::bigint << 32) | objid::bigint) = $1
         ) AS value",
    )
    .bind::<diesel::sql_types::BigInt, _>(RUN_LOCK_KEY)
    .get_result(conn)
    .await?;
    Ok(flag.value)
}

/// Computes the 64-bit FNV-1a hash of `bytes`, at compile time for [`RUN_LOCK_KEY`].
const fn fnv1a_64(bytes: &[u8]) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut index = 0;
    while index < bytes.len() {
        hash ^= bytes[index] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        index += 1;
    }
    hash as i64
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn run_lock_key_is_fixed() {
        // Every version of the job must use the same key, or two versions could run at
        // the same time.
        assert_eq!(RUN_LOCK_KEY, -3_619_166_915_806_933_130);
    }

    #[test]
    fn fnv1a_matches_reference_values() {
        assert_eq!(fnv1a_64(b"") as u64, 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a") as u64, 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn holder_display_uses_utc() {
        let holder =
            RunHolder { host: "web01".to_owned(), pid: 4242, started_at: datetime!(2026-03-01 09:15:30.75 +01:00) };
        assert_eq!(holder.to_string(), "host web01, pid 4242, started 2026-03-01 08:15:30 UTC");
    }

    #[test]
    fn held_error_names_holder_and_fix() {
        let holder = RunHolder { host: "web01".to_owned(), pid: 4242, started_at: datetime!(2026-03-01 08:15:30 UTC) };
        insta::assert_snapshot!(LockError::Held { holder }, @"another photo-sync run holds the run lock of this database (host web01, pid 4242, started 2026-03-01 08:15:30 UTC); wait until it finishes and start this run again. A lock left by a killed run frees itself when its lease expires");
    }

    #[test]
    fn takeover_needs_expiry_or_gone_local_process() {
        let now = datetime!(2026-03-01 08:00:00 UTC);
        let acquirer = RunHolder { host: "web01".to_owned(), pid: std::process::id(), started_at: now };
        let lease = |host: &str, pid: i64, expires_at: PrimitiveDateTime| LeaseRow {
            token: "t".to_owned(),
            host: host.to_owned(),
            pid,
            started_at: datetime!(2026-03-01 07:00:00),
            expires_at,
        };
        let live = i64::from(std::process::id());
        // Process ids above the kernel's maximum (4194304 on Linux) never exist.
        let gone = 999_999_999;

        let cases = [
            ("live, not expired", lease("web01", live, datetime!(2026-03-01 08:05:00)), None),
            ("live, expired", lease("web01", live, datetime!(2026-03-01 07:59:59)), Some(Takeover::Expired)),
            ("gone here", lease("web01", gone, datetime!(2026-03-01 08:05:00)), Some(Takeover::ProcessGone)),
            ("gone pid on other host", lease("web02", gone, datetime!(2026-03-01 08:05:00)), None),
        ];
        for (name, row, expected) in cases {
            assert_eq!(takeover_reason(&row, &acquirer, now), expected, "case {name}");
        }
    }

    #[test]
    fn expiry_rejects_huge_lease() {
        let error = expiry(datetime!(2026-03-01 08:00:00 UTC), Duration::MAX).expect_err("far beyond year 9999");
        assert!(error.0.starts_with("invalid run lock lease duration"), "error {error}");
    }
}
