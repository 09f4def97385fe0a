//! Wiring of the commands: configuration, adapters, the sync use case and the exit status.

use std::path::Path;

use photo_sync_graph::GraphSettings;
use photo_sync_webdesk::{ConnectError, WebdeskDb};

use crate::cli::{Command, DbCommand, LogFormat, MigrateArgs};
use crate::config::{ConfigFile, JobConfig};

pub const EXIT_SUCCESS: u8 = 0;
pub const EXIT_FATAL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_PROBLEMS: u8 = 3;
pub const EXIT_LOCKED: u8 = 4;
pub const EXIT_INTERRUPTED: u8 = 5;

/// Reason a command stopped before it finished its work.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad arguments or configuration: nothing was done.
    #[error(transparent)]
    Usage(anyhow::Error),
    /// The database or Microsoft Graph could not be used.
    #[error(transparent)]
    Fatal(anyhow::Error),
    /// Another run holds the run lock of the database.
    #[error(transparent)]
    Locked(anyhow::Error),
}

/// Runs one command and returns the exit status of a command that finished.
pub async fn execute(command: Command, log_format: LogFormat) -> Result<u8, Failure> {
    match command {
        Command::Run(args) => crate::job::run(args, log_format).await,
        Command::Db(DbCommand::Migrate(args)) => migrate(args).await,
    }
}

async fn migrate(args: MigrateArgs) -> Result<u8, Failure> {
    let url = match (&args.config, &args.database) {
        (Some(path), _) => {
            ConfigFile::load(path).and_then(|f| f.database_url()).map_err(|e| Failure::Usage(e.into()))?
        }
        (None, Some(url)) => crate::config::resolve_sqlite_path(url, Path::new(".")),
        (None, None) => return Err(Failure::Usage(anyhow::anyhow!("pass --config FILE or --database URL"))),
    };

    // Without the contract schema there is nothing to create a new file for, and a new
    // empty file would hide a mistyped path from the next run.
    if !args.with_webdesk_schema
        && let Some(path) = url.strip_prefix("sqlite://")
        && !Path::new(path).exists()
    {
        return Err(Failure::Fatal(anyhow::anyhow!(
            "SQLite database {path:?} not found; check the URL, or add --with-webdesk-schema to create an empty Webdesk database"
        )));
    }
    let store = WebdeskDb::connect(&url).await.map_err(|e| match e {
        ConnectError::InvalidUrl { .. } => Failure::Usage(e.into()),
        _ => Failure::Fatal(e.into()),
    })?;
    let summary = store.migrate(args.with_webdesk_schema).await.map_err(|e| Failure::Fatal(e.into()))?;
    tracing::info!("Database migrated: {summary}");
    Ok(EXIT_SUCCESS)
}

pub fn graph_settings(job: &JobConfig) -> GraphSettings {
    GraphSettings {
        tenant_id: job.graph.tenant_id.clone(),
        client_id: job.graph.client_id.clone(),
        client_secret: job.graph.client_secret.clone(),
        base_url: job.graph.base_url.clone(),
        authority_host: job.graph.authority_host.clone(),
        max_concurrency: 4,
    }
}

/// Fails before any work when the report could not be written at the end, so a run is
/// never wasted on a typo in `--report`.
pub fn check_report_folder(path: &Path) -> Result<(), Failure> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if folder.is_dir() {
        return Ok(());
    }
    Err(Failure::Usage(anyhow::anyhow!(
        "invalid --report {}: the folder {} does not exist",
        path.display(),
        folder.display()
    )))
}

/// Today's calendar date in the configured time zone, which decides which group
/// memberships are valid.
pub fn today_in(zone: &jiff::tz::TimeZone) -> time::Date {
    let date = jiff::Timestamp::now().to_zoned(zone.clone()).date();
    let month = time::Month::try_from(date.month().unsigned_abs()).expect("jiff months are 1 to 12");
    time::Date::from_calendar_date(i32::from(date.year()), month, date.day().unsigned_abs())
        .expect("a jiff date is a valid calendar date")
}
