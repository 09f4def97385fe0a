//! Tests of the run history in `photo_sync_runs`.

use photo_sync_domain::Counts;
use photo_sync_webdesk::{RunEnd, RunHolder, RunId, RunRecord, RunStart, RunStatus, WebdeskDb};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::support::{Backend, TestDb, on_both_backends};

fn start(started_at: OffsetDateTime) -> RunStart {
    RunStart { holder: RunHolder { host: "web01".to_owned(), pid: 4242, started_at }, mode: "newest".to_owned() }
}

fn end(status: RunStatus, exit_status: u8, counts: Option<Counts>, message: Option<&str>) -> RunEnd {
    RunEnd {
        finished_at: datetime!(2026-03-01 08:20:00.654321 UTC),
        status,
        exit_status,
        counts,
        message: message.map(str::to_owned),
    }
}

const COUNTS: Counts =
    Counts { targets: 12, created: 3, updated: 2, unchanged: 4, kept_local: 1, no_graph_photo: 1, failed: 1 };

async fn statuses(store: &WebdeskDb) -> Vec<(i64, RunStatus)> {
    let runs = store.recent_runs(100).await.expect("the runs load");
    runs.into_iter().map(|run| (run.id.0, run.status)).collect()
}

async fn start_then_end_round_trips(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;

    let id = store.record_run_start(&start(datetime!(2026-03-01 09:15:30.123456789 +01:00))).await.expect("recorded");

    let running = store.recent_runs(10).await.expect("the runs load");
    assert_eq!(
        running,
        [RunRecord {
            id,
            started_at: datetime!(2026-03-01 08:15:30.123456 UTC),
            finished_at: None,
            mode: "newest".to_owned(),
            status: RunStatus::Running,
            exit_status: None,
            counts: None,
            host: "web01".to_owned(),
            pid: 4242,
            message: None,
        }]
    );

    store
        .record_run_end(id, &end(RunStatus::CompletedWithProblems, 3, Some(COUNTS), None))
        .await
        .expect("the end is recorded");

    let finished = store.recent_runs(10).await.expect("the runs load");
    assert_eq!(finished.len(), 1);
    let run = &finished[0];
    assert_eq!(run.finished_at, Some(datetime!(2026-03-01 08:20:00.654321 UTC)));
    assert_eq!(run.status, RunStatus::CompletedWithProblems);
    assert_eq!(run.exit_status, Some(3));
    assert_eq!(run.counts, Some(COUNTS));
    assert_eq!(run.message, None);

    let started_at = db.timestamp_of("started_at");
    assert_eq!(
        db.query_one(&format!("SELECT status || ' ' || {started_at} AS value FROM photo_sync_runs")).await,
        "completed_with_problems 2026-03-01 08:15:30.123456",
        "stored in UTC"
    );
}

async fn failed_run_keeps_message(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;
    let id = store.record_run_start(&start(datetime!(2026-03-01 08:15:30 UTC))).await.expect("recorded");

    let message = "loading the images of 3 persons failed: connection closed";
    store.record_run_end(id, &end(RunStatus::Failed, 1, None, Some(message))).await.expect("recorded");

    let run = &store.recent_runs(1).await.expect("the runs load")[0];
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.exit_status, Some(1));
    assert_eq!(run.counts, None, "a failed run may not know its counts");
    assert_eq!(run.message.as_deref(), Some(message));
}

async fn recent_runs_newest_first(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;
    let mut ids = Vec::new();
    for minute in 0..3 {
        let started_at = datetime!(2026-03-01 08:00:00 UTC) + time::Duration::minutes(minute);
        ids.push(store.record_run_start(&start(started_at)).await.expect("recorded"));
    }

    assert!(ids.windows(2).all(|pair| pair[0].0 < pair[1].0), "ids grow: {ids:?}");
    let newest_two: Vec<RunId> = store.recent_runs(2).await.expect("the runs load").iter().map(|run| run.id).collect();
    assert_eq!(newest_two, [ids[2], ids[1]]);
    assert_eq!(store.recent_runs(0).await.expect("the runs load"), []);

    let error = store.recent_runs(-1).await.expect_err("a negative limit is invalid");
    insta::allow_duplicates! {
        insta::assert_snapshot!(error, @"invalid run history limit -1: expected 0 or more");
    }
}

async fn rejected_run_is_recorded(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;
    let id = store.record_run_start(&start(datetime!(2026-03-01 08:15:30 UTC))).await.expect("recorded");

    let message = "another photo-sync run holds the run lock of this database";
    store.record_run_end(id, &end(RunStatus::RejectedLocked, 4, None, Some(message))).await.expect("recorded");

    assert_eq!(statuses(&store).await, [(id.0, RunStatus::RejectedLocked)]);
}

async fn mark_abandoned_skips_current_and_finished(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;
    let killed = store.record_run_start(&start(datetime!(2026-03-01 06:00:00 UTC))).await.expect("recorded");
    let finished = store.record_run_start(&start(datetime!(2026-03-01 07:00:00 UTC))).await.expect("recorded");
    store.record_run_end(finished, &end(RunStatus::Succeeded, 0, Some(COUNTS), None)).await.expect("recorded");
    let lost = store.record_run_start(&start(datetime!(2026-03-01 07:30:00 UTC))).await.expect("recorded");
    let current = store.record_run_start(&start(datetime!(2026-03-01 08:00:00 UTC))).await.expect("recorded");

    let marked = store.mark_abandoned_runs(current).await.expect("the runs are marked");

    assert_eq!(marked, 2);
    assert_eq!(
        statuses(&store).await,
        [
            (current.0, RunStatus::Running),
            (lost.0, RunStatus::Abandoned),
            (finished.0, RunStatus::Succeeded),
            (killed.0, RunStatus::Abandoned),
        ]
    );
    let runs = store.recent_runs(100).await.expect("the runs load");
    let abandoned = runs.iter().find(|run| run.id == killed).expect("the killed run is listed");
    assert_eq!(abandoned.finished_at, None, "the end time of an abandoned run is unknown");
    assert_eq!(
        abandoned.message.as_deref(),
        Some(format!("the run ended without recording its end (its process was killed or lost the database); found by run {current}").as_str())
    );
    assert_eq!(store.mark_abandoned_runs(current).await.expect("nothing left to mark"), 0);
}

async fn end_of_unknown_run_fails(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;

    let error =
        store.record_run_end(RunId(77), &end(RunStatus::Succeeded, 0, None, None)).await.expect_err("no row 77");

    insta::allow_duplicates! {
        insta::assert_snapshot!(error, @"recording the end of run 77 failed: photo_sync_runs has no row 77");
    }
}

async fn end_with_running_status_is_rejected(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;
    let id = store.record_run_start(&start(datetime!(2026-03-01 08:15:30 UTC))).await.expect("recorded");

    let error = store.record_run_end(id, &end(RunStatus::Running, 0, None, None)).await.expect_err("not an end");

    assert_eq!(error.to_string(), format!("cannot record the end of run {id} with status running"));
}

async fn partial_counts_are_reported(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;
    let id = store.record_run_start(&start(datetime!(2026-03-01 08:15:30 UTC))).await.expect("recorded");
    db.execute(&format!("UPDATE photo_sync_runs SET targets = 5 WHERE id = {id}")).await;

    let error = store.recent_runs(1).await.expect_err("one count without the others is invalid");

    assert_eq!(
        error.to_string(),
        format!(
            "photo_sync_runs row {id} has the invalid counts [Some(5), None, None, None, None, None, None]; fix or delete the row"
        )
    );
}

async fn status_check_rejects_unknown_value(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;
    let id = store.record_run_start(&start(datetime!(2026-03-01 08:15:30 UTC))).await.expect("recorded");

    let rejected =
        db.raw().await.try_execute(&format!("UPDATE photo_sync_runs SET status = 'done' WHERE id = {id}")).await;

    let error = rejected.expect_err("the CHECK constraint lists the statuses");
    assert!(error.to_string().to_lowercase().contains("check"), "error {error}");
}

on_both_backends!(
    start_then_end_round_trips,
    failed_run_keeps_message,
    recent_runs_newest_first,
    rejected_run_is_recorded,
    mark_abandoned_skips_current_and_finished,
    end_of_unknown_run_fails,
    end_with_running_status_is_rejected,
    partial_counts_are_reported,
    status_check_rejects_unknown_value,
);
