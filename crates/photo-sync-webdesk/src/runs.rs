//! The run history in `photo_sync_runs`: one row per run, written when the run starts and
//! completed when it ends.

use std::fmt;
use std::str::FromStr;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use photo_sync_domain::Counts;
use photo_sync_domain::ports::StoreError;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::connection::DbConnection;
use crate::schema::photo_sync_runs;
use crate::timestamp::{UtcTimestamp, from_stored};
use crate::{RunHolder, WebdeskDb, failed};

/// The id of a row in `photo_sync_runs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The state of a run as `photo_sync_runs.status` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Started and not ended yet, or ended without recording its end.
    Running,
    Succeeded,
    /// Ended with failed persons or unresolved references.
    CompletedWithProblems,
    /// Ended early because the database or Graph could not be used.
    Failed,
    /// Stopped on request, for example by a signal.
    Interrupted,
    /// Found `running` by a later run that holds the lock, so its process ended without
    /// recording its end.
    Abandoned,
    /// Did not start because another run held the lock.
    RejectedLocked,
}

impl RunStatus {
    /// Every status, in the order of the list above.
    pub const ALL: [Self; 7] = [
        Self::Running,
        Self::Succeeded,
        Self::CompletedWithProblems,
        Self::Failed,
        Self::Interrupted,
        Self::Abandoned,
        Self::RejectedLocked,
    ];

    /// Returns the value stored in `photo_sync_runs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::CompletedWithProblems => "completed_with_problems",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
            Self::Abandoned => "abandoned",
            Self::RejectedLocked => "rejected_locked",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value of `photo_sync_runs.status` that no [`RunStatus`] has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown run status {0:?}")]
pub struct UnknownRunStatus(pub String);

impl FromStr for RunStatus {
    type Err = UnknownRunStatus;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|status| status.as_str() == value).ok_or_else(|| UnknownRunStatus(value.to_owned()))
    }
}

/// The start of a run, which [`WebdeskDb::record_run_start`] stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStart {
    /// The process, and in `started_at` the start time of the run.
    pub holder: RunHolder,
    /// The update mode of the run, as the configuration names it.
    pub mode: String,
}

/// The end of a run, which [`WebdeskDb::record_run_end`] stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    pub finished_at: OffsetDateTime,
    pub status: RunStatus,
    /// The process exit status the run ends with.
    pub exit_status: u8,
    /// `None` when the run ended before it knew its counts.
    pub counts: Option<Counts>,
    /// The fatal error, if any. The caller makes sure that it contains no secret.
    pub message: Option<String>,
}

/// One row of `photo_sync_runs`, as [`WebdeskDb::recent_runs`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: RunId,
    pub started_at: OffsetDateTime,
    /// `None` while the run is running, and for an abandoned run.
    pub finished_at: Option<OffsetDateTime>,
    pub mode: String,
    pub status: RunStatus,
    pub exit_status: Option<u8>,
    pub counts: Option<Counts>,
    pub host: String,
    pub pid: u32,
    pub message: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = photo_sync_runs)]
struct NewRun<'a> {
    #[diesel(serialize_as = UtcTimestamp)]
    started_at: OffsetDateTime,
    mode: &'a str,
    status: &'a str,
    host: &'a str,
    pid: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = photo_sync_runs)]
struct RunRow {
    id: i64,
    started_at: PrimitiveDateTime,
    finished_at: Option<PrimitiveDateTime>,
    mode: String,
    status: String,
    exit_status: Option<i32>,
    targets: Option<i64>,
    created: Option<i64>,
    updated: Option<i64>,
    unchanged: Option<i64>,
    kept_local: Option<i64>,
    no_graph_photo: Option<i64>,
    failed: Option<i64>,
    host: String,
    pid: i64,
    message: Option<String>,
}

impl WebdeskDb {
    /// Records the start of a run with status `running` and returns the new row's id.
    pub async fn record_run_start(&self, start: &RunStart) -> Result<RunId, StoreError> {
        let new_run = NewRun {
            started_at: start.holder.started_at,
            mode: &start.mode,
            status: RunStatus::Running.as_str(),
            host: &start.holder.host,
            pid: i64::from(start.holder.pid),
        };
        let insert = diesel::insert_into(photo_sync_runs::table).values(new_run);

        let mut connection = self.connection().await?;
        // `RETURNING` is not available through the multi-backend connection, so each
        // backend gets the new id its own way.
        let id = match &mut *connection {
            DbConnection::Postgres(conn) => insert.returning(photo_sync_runs::id).get_result(conn).await,
            DbConnection::Sqlite(conn) => {
                // The pool hands this connection to no one else until it is dropped, so no
                // other insert can come between these two statements.
                match insert.execute(conn).await {
                    Ok(_) => diesel::select(diesel::dsl::sql::<BigInt>("last_insert_rowid()")).get_result(conn).await,
                    Err(error) => Err(error),
                }
            }
        }
        .map_err(|error| failed("recording the start of the run".to_owned(), error))?;

        Ok(RunId(id))
    }

    /// Records the end of the run `id`: its status, exit status, counts and message.
    pub async fn record_run_end(&self, id: RunId, end: &RunEnd) -> Result<(), StoreError> {
        if end.status == RunStatus::Running {
            return Err(StoreError(format!("cannot record the end of run {id} with status running")));
        }
        let counts = end.counts.map(|counts| CountColumns::from(&counts));

        let mut connection = self.connection().await?;
        let updated = diesel::update(photo_sync_runs::table.find(id.0))
            .set((
                photo_sync_runs::finished_at.eq(UtcTimestamp::new(end.finished_at).nullable()),
                photo_sync_runs::status.eq(end.status.as_str()),
                photo_sync_runs::exit_status.eq(i32::from(end.exit_status)),
                photo_sync_runs::targets.eq(counts.map(|c| c.targets)),
                photo_sync_runs::created.eq(counts.map(|c| c.created)),
                photo_sync_runs::updated.eq(counts.map(|c| c.updated)),
                photo_sync_runs::unchanged.eq(counts.map(|c| c.unchanged)),
                photo_sync_runs::kept_local.eq(counts.map(|c| c.kept_local)),
                photo_sync_runs::no_graph_photo.eq(counts.map(|c| c.no_graph_photo)),
                photo_sync_runs::failed.eq(counts.map(|c| c.failed)),
                photo_sync_runs::message.eq(end.message.as_deref()),
            ))
            .execute(&mut connection)
            .await
            .map_err(|error| failed(format!("recording the end of run {id}"), error))?;

        if updated == 0 {
            return Err(StoreError(format!("recording the end of run {id} failed: photo_sync_runs has no row {id}")));
        }
        Ok(())
    }

    /// Marks every `running` row other than `current` as `abandoned`, and returns how many
    /// it marked. Call it right after taking the run lock and recording the run's start:
    /// while this run holds the lock, no other run can still be running, so such rows
    /// belong to runs whose process ended without recording its end.
    pub async fn mark_abandoned_runs(&self, current: RunId) -> Result<u64, StoreError> {
        let message = format!(
            "the run ended without recording its end (its process was killed or lost the database); found by run {current}"
        );

        let mut connection = self.connection().await?;
        let marked = diesel::update(photo_sync_runs::table)
            .filter(photo_sync_runs::status.eq(RunStatus::Running.as_str()))
            .filter(photo_sync_runs::id.ne(current.0))
            .set((photo_sync_runs::status.eq(RunStatus::Abandoned.as_str()), photo_sync_runs::message.eq(message)))
            .execute(&mut connection)
            .await
            .map_err(|error| failed("marking abandoned runs".to_owned(), error))?;

        if marked > 0 {
            tracing::warn!(
                run.id = current.0,
                runs.abandoned = marked,
                "Marked earlier runs that never recorded their end as abandoned"
            );
        }
        Ok(marked as u64)
    }

    /// Returns up to `limit` runs, the newest (highest id) first.
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
        if limit < 0 {
            return Err(StoreError(format!("invalid run history limit {limit}: expected 0 or more")));
        }

        let mut connection = self.connection().await?;
        let rows: Vec<RunRow> = photo_sync_runs::table
            .order(photo_sync_runs::id.desc())
            .limit(limit)
            .select(RunRow::as_select())
            .load(&mut connection)
            .await
            .map_err(|error| failed(format!("loading the latest {limit} runs"), error))?;

        rows.into_iter().map(into_record).collect()
    }
}

/// The counts as the `BIGINT` columns store them.
#[derive(Clone, Copy)]
struct CountColumns {
    targets: i64,
    created: i64,
    updated: i64,
    unchanged: i64,
    kept_local: i64,
    no_graph_photo: i64,
    failed: i64,
}

impl From<&Counts> for CountColumns {
    fn from(counts: &Counts) -> Self {
        // A count is at most the number of persons, far below i64::MAX.
        let column = |count: usize| i64::try_from(count).unwrap_or(i64::MAX);
        Self {
            targets: column(counts.targets),
            created: column(counts.created),
            updated: column(counts.updated),
            unchanged: column(counts.unchanged),
            kept_local: column(counts.kept_local),
            no_graph_photo: column(counts.no_graph_photo),
            failed: column(counts.failed),
        }
    }
}

fn into_record(row: RunRow) -> Result<RunRecord, StoreError> {
    let id = row.id;
    let invalid = |column: &str, value: String| {
        StoreError(format!("photo_sync_runs row {id} has the invalid {column} {value}; fix or delete the row"))
    };

    let status = row.status.parse::<RunStatus>().map_err(|_| invalid("status", format!("{:?}", row.status)))?;
    let exit_status = row
        .exit_status
        .map(|value| u8::try_from(value).map_err(|_| invalid("exit_status", value.to_string())))
        .transpose()?;
    let pid = u32::try_from(row.pid).map_err(|_| invalid("pid", row.pid.to_string()))?;

    let columns =
        [row.targets, row.created, row.updated, row.unchanged, row.kept_local, row.no_graph_photo, row.failed];
    let counts = match columns.map(|column| column.map(usize::try_from)) {
        [
            Some(Ok(targets)),
            Some(Ok(created)),
            Some(Ok(updated)),
            Some(Ok(unchanged)),
            Some(Ok(kept_local)),
            Some(Ok(no_graph_photo)),
            Some(Ok(failed)),
        ] => Some(Counts { targets, created, updated, unchanged, kept_local, no_graph_photo, failed }),
        [None, None, None, None, None, None, None] => None,
        _ => return Err(invalid("counts", format!("{columns:?}"))),
    };

    Ok(RunRecord {
        id: RunId(id),
        started_at: from_stored(row.started_at),
        finished_at: row.finished_at.map(from_stored),
        mode: row.mode,
        status,
        exit_status,
        counts,
        host: row.host,
        pid,
        message: row.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_text() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
        }
        assert_eq!("done".parse::<RunStatus>(), Err(UnknownRunStatus("done".to_owned())));
    }

    #[test]
    fn status_text_matches_migration_check() {
        // The CHECK constraint of both migrations lists every status.
        for up in [
            include_str!("../migrations/sqlite/2026-12-05-000000_create_photo_sync_lease_and_runs/up.sql"),
            include_str!("../migrations/postgres/2026-12-05-000000_create_photo_sync_lease_and_runs/up.sql"),
        ] {
            for status in RunStatus::ALL {
                assert!(up.contains(&format!("'{status}'")), "status {status}");
            }
        }
    }
}
