//! The `run` command: one sync run under the database's run lock, recorded in the run
//! history, stoppable by SIGINT or SIGTERM between persons.

use std::time::Duration;

use photo_sync_domain::ports::SystemClock;
use photo_sync_domain::{StopFlag, SyncReport, SyncService};
use photo_sync_graph::GraphPhotoSource;
use photo_sync_webdesk::{LockError, RunEnd, RunHolder, RunId, RunLease, RunStart, RunStatus, WebdeskDb};
use time::OffsetDateTime;

use crate::cli::{LogFormat, RunArgs};
use crate::config::{CLIENT_SECRET_VARIABLE, ConfigFile};
use crate::report;
use crate::run::{
    EXIT_INTERRUPTED, EXIT_PROBLEMS, EXIT_SUCCESS, Failure, check_report_folder, graph_settings, today_in,
};

/// How long the run lock stays valid without renewal. A run renews it every third of
/// that, so only a run that stopped renewing (killed, frozen) loses it.
const LEASE_DURATION: Duration = Duration::from_secs(300);

pub async fn run(args: RunArgs, log_format: LogFormat) -> Result<u8, Failure> {
    let file = ConfigFile::load(&args.config).map_err(|e| Failure::Usage(e.into()))?;
    let job = file.job(std::env::var(CLIENT_SECRET_VARIABLE).ok()).map_err(|e| Failure::Usage(e.into()))?;
    let source = GraphPhotoSource::new(graph_settings(&job))
        .map_err(|e| Failure::Usage(anyhow::anyhow!("invalid configuration {}: {e}", args.config.display())))?;
    if let Some(path) = &args.report {
        check_report_folder(path)?;
    }

    let today = today_in(&job.time_zone);
    let store = WebdeskDb::open_for_run(&job.database_url).await.map_err(|e| Failure::Fatal(e.into()))?;
    let holder = RunHolder { host: host_name(), pid: std::process::id(), started_at: OffsetDateTime::now_utc() };
    let start = RunStart { holder: holder.clone(), mode: job.mode.as_str().to_owned() };

    let lease = match store.acquire_run_lock(&holder, LEASE_DURATION).await {
        Ok(lease) => lease,
        Err(LockError::Held { holder: other }) => {
            record_rejected(&store, &start, &other).await;
            return Err(Failure::Locked(anyhow::anyhow!(LockError::Held { holder: other })));
        }
        Err(LockError::Store(error)) => return Err(Failure::Fatal(error.into())),
    };
    let run_id = match store.record_run_start(&start).await {
        Ok(id) => id,
        Err(error) => {
            release(&store, lease).await;
            return Err(Failure::Fatal(error.into()));
        }
    };
    match store.mark_abandoned_runs(run_id).await {
        Ok(0) => {}
        Ok(count) => tracing::warn!(
            runs = count,
            "Marked {count} earlier runs as abandoned: they ended without recording an end, for example because they were killed"
        ),
        Err(error) => tracing::warn!(error = %error, "Marking abandoned runs failed; the run goes on"),
    }
    tracing::info!(
        mode = %job.mode,
        time_zone = job.time_zone.iana_name().unwrap_or("local"),
        today = %today,
        run.id = %run_id,
        "Photo sync started"
    );

    let stop = StopFlag::default();
    listen_for_stop_signals(stop.clone());
    let service = SyncService::new(store, source, SystemClock).with_stop_flag(stop);

    let result = tokio::select! {
        result = service.run(job.mode, &job.selection, today) => result,
        never = renew_lease(service.store(), &lease) => match never {},
    };
    let store = service.store();

    let report = match result {
        Ok(report) => report,
        Err(error) => {
            let end = RunEnd {
                finished_at: OffsetDateTime::now_utc(),
                status: RunStatus::Failed,
                exit_status: crate::run::EXIT_FATAL,
                counts: None,
                message: Some(error.to_string()),
            };
            record_end(store, run_id, &end).await;
            release(store, lease).await;
            return Err(Failure::Fatal(error.into()));
        }
    };

    let (status, exit_status) = outcome_of(&report);
    if let Some(path) = &args.report
        && let Err(error) = report::write_json(&report, path)
    {
        let message = format!("cannot write the report {}: {error}", path.display());
        let end = RunEnd {
            finished_at: report.finished_at,
            status: RunStatus::Failed,
            exit_status: crate::run::EXIT_FATAL,
            counts: Some(report.counts),
            message: Some(message.clone()),
        };
        record_end(store, run_id, &end).await;
        release(store, lease).await;
        return Err(Failure::Fatal(anyhow::anyhow!(message)));
    }
    report::print_summary(&report, log_format);

    let end =
        RunEnd { finished_at: report.finished_at, status, exit_status, counts: Some(report.counts), message: None };
    record_end(store, run_id, &end).await;
    release(store, lease).await;
    tracing::info!(exit_status, run.id = %run_id, "Photo sync finished");
    Ok(exit_status)
}

fn outcome_of(report: &SyncReport) -> (RunStatus, u8) {
    if report.interrupted {
        (RunStatus::Interrupted, EXIT_INTERRUPTED)
    } else if report.has_problems() {
        (RunStatus::CompletedWithProblems, EXIT_PROBLEMS)
    } else {
        (RunStatus::Succeeded, EXIT_SUCCESS)
    }
}

/// Renews the run lock until the run ends (the caller drops this future). A failed
/// renewal is logged and retried; the lock only lapses after the whole lease duration.
async fn renew_lease(store: &WebdeskDb, lease: &RunLease) -> std::convert::Infallible {
    loop {
        tokio::time::sleep(LEASE_DURATION / 3).await;
        if let Err(error) = store.renew_run_lock(lease).await {
            tracing::warn!(error = %error, "Renewing the run lock failed; retrying");
        }
    }
}

/// Requests a stop on the first SIGINT or SIGTERM. A second signal ends the process at
/// once, which is safe because every photo and its state are written in one transaction.
fn listen_for_stop_signals(stop: StopFlag) {
    use tokio::signal::unix::{SignalKind, signal};

    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        tracing::warn!("Cannot listen for SIGINT and SIGTERM; a signal will end the run at once");
        return;
    };
    tokio::spawn(async move {
        for attempt in 1.. {
            let name = tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            };
            if attempt > 1 {
                tracing::warn!(signal = name, "Second stop signal {name}: exiting now without finishing the run");
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
            tracing::warn!(
                signal = name,
                "Stop requested by {name}: finishing the write in progress, then stopping; send it again to exit at once"
            );
            stop.request();
        }
    });
}

/// Records a run that could not start because another run holds the lock. A failure to
/// record is only logged, because the lock message is what the administrator needs.
async fn record_rejected(store: &WebdeskDb, start: &RunStart, holder: &RunHolder) {
    let message = LockError::Held { holder: holder.clone() }.to_string();
    let recorded = match store.record_run_start(start).await {
        Ok(id) => {
            let end = RunEnd {
                finished_at: OffsetDateTime::now_utc(),
                status: RunStatus::RejectedLocked,
                exit_status: crate::run::EXIT_LOCKED,
                counts: None,
                message: Some(message),
            };
            store.record_run_end(id, &end).await
        }
        Err(error) => Err(error),
    };
    if let Err(error) = recorded {
        tracing::warn!(error = %error, "Recording the rejected run in the run history failed");
    }
}

async fn record_end(store: &WebdeskDb, run_id: RunId, end: &RunEnd) {
    if let Err(error) = store.record_run_end(run_id, end).await {
        tracing::error!(run.id = %run_id, error = %error, "Recording the end of the run in the run history failed");
    }
}

async fn release(store: &WebdeskDb, lease: RunLease) {
    if let Err(error) = store.release_run_lock(lease).await {
        tracing::warn!(error = %error, "Releasing the run lock failed; it expires by itself");
    }
}

/// Returns the machine's host name for the run lock and history, or `unknown`.
fn host_name() -> String {
    hostname::get().map_or_else(|_| "unknown".to_owned(), |name| name.to_string_lossy().into_owned())
}
