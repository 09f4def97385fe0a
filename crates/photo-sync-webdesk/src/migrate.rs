//! Creating the job's own tables with embedded diesel migrations and, on request, the
//! Webdesk contract tables that a database does not have yet.
//!
//! **Invariant:** the contract tables are never created by a diesel migration, so the
//! migration table never claims them, and an existing Webdesk table is never altered or
//! dropped.

use std::error::Error;
use std::fmt;

use diesel::backend::Backend;
use diesel::sql_types::{Nullable, Text};
use diesel::{QueryResult, QueryableByName};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use photo_sync_domain::ports::StoreError;

use crate::connection::DbConnection;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

const SQLITE_WEBDESK_SCHEMA: &str = include_str!("../webdesk-schema/sqlite.sql");
const POSTGRES_WEBDESK_SCHEMA: &str = include_str!("../webdesk-schema/postgres.sql");

/// The tables Webdesk owns, in the order their foreign keys allow creating them.
pub(crate) const WEBDESK_TABLES: [&str; 5] = ["clients", "persons", "groups", "group_memberships", "person_images"];

/// The tables and migrations that [`crate::WebdeskDb::migrate`] created, for the command
/// line to print.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationSummary {
    /// Webdesk contract tables created because the database did not have them.
    pub created_tables: Vec<String>,
    /// Names of the job's own migrations applied by this call, oldest first.
    pub applied_migrations: Vec<String>,
}

impl MigrationSummary {
    /// Returns `true` when the database was already up to date.
    pub fn is_empty(&self) -> bool {
        self.created_tables.is_empty() && self.applied_migrations.is_empty()
    }
}

impl fmt::Display for MigrationSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("the database is up to date; nothing was created");
        }
        let mut parts = Vec::new();
        if !self.created_tables.is_empty() {
            parts.push(format!("created Webdesk tables: {}", self.created_tables.join(", ")));
        }
        if !self.applied_migrations.is_empty() {
            parts.push(format!("applied migrations: {}", self.applied_migrations.join(", ")));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Brings the database up to date and returns what was created. `conn` is consumed
/// because the migration harness needs a connection of its own.
///
/// The migration harness blocks with `tokio::task::block_in_place`, which panics on a
/// current-thread runtime.
pub(crate) async fn migrate(mut conn: DbConnection, with_webdesk_schema: bool) -> Result<MigrationSummary, StoreError> {
    let missing = missing_tables(&mut conn, &WEBDESK_TABLES).await?;

    // The job's `photo_sync_state` table references `persons`, so the contract tables come
    // first.
    let created_tables = if with_webdesk_schema {
        create_webdesk_tables(&mut conn, &missing)
            .await
            .map_err(|error| failed(format!("creating the Webdesk tables {}", missing.join(", ")), error))?
    } else if !missing.is_empty() {
        return Err(StoreError(format!(
            "Webdesk tables missing from the database: {}; check the database URL, or migrate with --with-webdesk-schema to create them in an empty database",
            missing.join(", ")
        )));
    } else {
        Vec::new()
    };

    let applied_migrations = match conn {
        DbConnection::Sqlite(inner) => run_migrations(inner, SQLITE_MIGRATIONS),
        DbConnection::Postgres(inner) => run_migrations(inner, POSTGRES_MIGRATIONS),
    }
    .map_err(|error| StoreError(format!("running the photo sync migrations failed: {error}")))?;

    Ok(MigrationSummary { created_tables, applied_migrations })
}

/// The job's own tables, created by its migrations.
pub(crate) const JOB_TABLES: [&str; 3] = ["photo_sync_state", "photo_sync_lease", "photo_sync_runs"];

/// Checks that every table a run reads or writes exists, so a run against the wrong
/// database or before `db migrate` fails with the fix instead of an SQL error.
pub(crate) async fn check_ready(conn: &mut DbConnection) -> Result<(), StoreError> {
    let missing_webdesk = missing_tables(conn, &WEBDESK_TABLES).await?;
    if !missing_webdesk.is_empty() {
        return Err(StoreError(format!(
            "Webdesk tables missing from the database: {}; check database.url",
            missing_webdesk.join(", ")
        )));
    }

    let missing_job = missing_tables(conn, &JOB_TABLES).await?;
    if !missing_job.is_empty() {
        return Err(StoreError(format!(
            "the job's tables are missing ({}); create them once with `photo-sync db migrate --config FILE`",
            missing_job.join(", ")
        )));
    }
    Ok(())
}

async fn missing_tables<'a>(conn: &mut DbConnection, tables: &[&'a str]) -> Result<Vec<&'a str>, StoreError> {
    let mut missing = Vec::new();
    for table in tables {
        let exists = table_exists(conn, table)
            .await
            .map_err(|error| failed(format!("checking whether the table {table:?} exists"), error))?;
        if !exists {
            missing.push(*table);
        }
    }
    Ok(missing)
}

#[derive(QueryableByName)]
struct FoundTable {
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
}

/// Returns whether a table of this name is visible to unqualified queries.
async fn table_exists(conn: &mut DbConnection, table: &str) -> QueryResult<bool> {
    // SQLite compares table names case-insensitively. PostgreSQL's `to_regclass` resolves
    // the name through the search path exactly like the job's queries do.
    let sql = match conn {
        DbConnection::Sqlite(_) => "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
        DbConnection::Postgres(_) => "SELECT CAST(to_regclass($1) AS TEXT) AS name",
    };

    let found: Vec<FoundTable> = diesel::sql_query(sql).bind::<Text, _>(table).load(conn).await?;
    Ok(found.into_iter().any(|row| row.name.is_some()))
}

/// Runs the contract's `CREATE TABLE` statement of each missing table, all in one
/// transaction, and returns the names of the tables created.
async fn create_webdesk_tables(conn: &mut DbConnection, missing: &[&str]) -> QueryResult<Vec<String>> {
    let ddl = match conn {
        DbConnection::Sqlite(_) => SQLITE_WEBDESK_SCHEMA,
        DbConnection::Postgres(_) => POSTGRES_WEBDESK_SCHEMA,
    };
    let statements: Vec<(&str, &str)> =
        create_table_statements(ddl).into_iter().filter(|(table, _)| missing.contains(table)).collect();
    if statements.is_empty() {
        return Ok(Vec::new());
    }

    conn.transaction(async |conn| {
        for (_, statement) in &statements {
            conn.batch_execute(statement).await?;
        }
        Ok(statements.iter().map(|(table, _)| (*table).to_owned()).collect())
    })
    .await
}

/// Splits a contract DDL file into `(table name, CREATE TABLE statement)` pairs, in file
/// order. The contract DDL has no `;` inside a statement.
fn create_table_statements(ddl: &str) -> Vec<(&str, &str)> {
    ddl.split(';')
        .filter_map(|chunk| {
            let start = chunk.find("CREATE TABLE ")?;
            let statement = &chunk[start..];
            let name = statement["CREATE TABLE ".len()..].split([' ', '(']).next()?;
            Some((name, statement))
        })
        .collect()
}

/// Applies the pending embedded migrations and returns their names.
fn run_migrations<C>(conn: C, migrations: EmbeddedMigrations) -> Result<Vec<String>, Box<dyn Error + Send + Sync>>
where
    C: AsyncConnection,
    C::Backend: Backend,
    AsyncMigrationHarness<C>: MigrationHarness<C::Backend>,
{
    let mut harness = AsyncMigrationHarness::new(conn);
    let pending = harness.pending_migrations(migrations)?;
    harness.run_migrations(&pending)?;
    Ok(pending.iter().map(|migration| migration.name().to_string()).collect())
}

fn failed(operation: String, error: diesel::result::Error) -> StoreError {
    StoreError(format!("{operation} failed: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_files_create_the_webdesk_tables_in_order() {
        for ddl in [SQLITE_WEBDESK_SCHEMA, POSTGRES_WEBDESK_SCHEMA] {
            let tables: Vec<&str> = create_table_statements(ddl).into_iter().map(|(table, _)| table).collect();
            assert_eq!(tables, WEBDESK_TABLES);
        }
    }

    #[test]
    fn statements_end_before_the_semicolon() {
        let statements = create_table_statements(SQLITE_WEBDESK_SCHEMA);
        let (_, last) = statements.last().expect("the SQLite DDL has statements");
        assert!(last.starts_with("CREATE TABLE person_images ("), "statement {last:?}");
        assert!(last.ends_with("version       INTEGER NOT NULL DEFAULT 1\n)"), "statement {last:?}");
    }

    #[test]
    fn summary_lists_what_was_created() {
        let summary = MigrationSummary {
            created_tables: vec!["clients".to_owned(), "persons".to_owned()],
            applied_migrations: vec!["2026-12-04-000000_create_photo_sync_state".to_owned()],
        };
        insta::assert_snapshot!(summary, @"created Webdesk tables: clients, persons; applied migrations: 2026-12-04-000000_create_photo_sync_state");
        insta::assert_snapshot!(MigrationSummary::default(), @"the database is up to date; nothing was created");
    }
}
