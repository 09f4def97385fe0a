//! Wiring of the commands: configuration, adapters, the sync use case and the exit status.

use std::path::Path;

use photo_sync_domain::ports::SystemClock;
use photo_sync_domain::{SyncService, sync::SyncError};
use photo_sync_graph::{GraphPhotoSource, GraphSettings};
use photo_sync_webdesk::WebdeskDb;

use crate::cli::{Command, DbCommand, MigrateArgs, RunArgs};
use crate::config::{CLIENT_SECRET_VARIABLE, ConfigFile, JobConfig};
use crate::report;

pub const EXIT_SUCCESS: u8 = 0;
pub const EXIT_FATAL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_PROBLEMS: u8 = 3;

/// Why a command stopped before it finished its work.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad arguments or configuration: nothing was done.
    #[error(transparent)]
    Usage(anyhow::Error),
    /// The database or Microsoft Graph could not be used.
    #[error(transparent)]
    Fatal(anyhow::Error),
}

/// Runs one command and returns the exit status of a command that finished.
pub async fn execute(command: Command) -> Result<u8, Failure> {
    match command {
        Command::Run(args) => run(args).await,
        Command::Db(DbCommand::Migrate(args)) => migrate(args).await,
    }
}

async fn run(args: RunArgs) -> Result<u8, Failure> {
    let file = ConfigFile::load(&args.config).map_err(|e| Failure::Usage(e.into()))?;
    let job = file.job(std::env::var(CLIENT_SECRET_VARIABLE).ok()).map_err(|e| Failure::Usage(e.into()))?;
    let source = GraphPhotoSource::new(graph_settings(&job))
        .map_err(|e| Failure::Usage(anyhow::anyhow!("invalid configuration {}: {e}", args.config.display())))?;
    if let Some(path) = &args.report {
        check_report_folder(path)?;
    }

    let today = today_in(&job.time_zone);
    tracing::info!(
        mode = %job.mode,
        time_zone = job.time_zone_name.as_deref().unwrap_or("local"),
        today = %today,
        "Photo sync started"
    );

    let store = WebdeskDb::open_for_run(&job.database_url).await.map_err(|e| Failure::Fatal(e.into()))?;
    let service = SyncService::new(store, source, SystemClock);
    let report = service.run(job.mode, &job.selection, today).await.map_err(|e| match e {
        SyncError::Store(_) | SyncError::Source(_) => Failure::Fatal(e.into()),
    })?;

    if let Some(path) = &args.report {
        report::write_json(&report, path)
            .map_err(|e| Failure::Fatal(anyhow::anyhow!("cannot write the report {}: {e}", path.display())))?;
    }
    eprint!("{}", report::summary(&report));

    let status = if report.has_problems() { EXIT_PROBLEMS } else { EXIT_SUCCESS };
    tracing::info!(exit_status = status, "Photo sync finished");
    Ok(status)
}

async fn migrate(args: MigrateArgs) -> Result<u8, Failure> {
    let url = match (&args.config, &args.database) {
        (Some(path), _) => {
            ConfigFile::load(path).and_then(|f| f.database_url()).map_err(|e| Failure::Usage(e.into()))?
        }
        (None, Some(url)) => crate::config::resolve_sqlite_path(url, Path::new(".")),
        (None, None) => return Err(Failure::Usage(anyhow::anyhow!("pass --config FILE or --database URL"))),
    };

    let store = WebdeskDb::connect(&url).await.map_err(|e| Failure::Fatal(e.into()))?;
    let summary = store.migrate(args.with_webdesk_schema).await.map_err(|e| Failure::Fatal(e.into()))?;
    eprintln!("photo-sync: database migrated: {summary}");
    Ok(EXIT_SUCCESS)
}

fn graph_settings(job: &JobConfig) -> GraphSettings {
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
fn check_report_folder(path: &Path) -> Result<(), Failure> {
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
fn today_in(zone: &jiff::tz::TimeZone) -> time::Date {
    let date = jiff::Timestamp::now().to_zoned(zone.clone()).date();
    let month = time::Month::try_from(date.month().unsigned_abs()).expect("jiff months are 1 to 12");
    time::Date::from_calendar_date(i32::from(date.year()), month, date.day().unsigned_abs())
        .expect("a jiff date is a valid calendar date")
}
