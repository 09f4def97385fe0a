//! Tests of the run lock: who holds it, expiry and takeover, a killed holder process, and
//! races between stores.

use std::io::Write as _;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use photo_sync_webdesk::{LockError, RunHolder, RunLease, WebdeskDb};
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Barrier;

use crate::support::{Backend, TestDb, on_both_backends};

const LEASE: Duration = Duration::from_secs(600);

/// The environment variable that makes [`child_process_holding_lock`] take the lock of
/// the database at this URL.
const CHILD_DATABASE_VARIABLE: &str = "PHOTO_SYNC_TEST_LOCK_HOLDER_URL";

/// The line the child process prints once it holds the lock.
const CHILD_HOLDS_LOCK: &str = "child process holds the run lock";

/// Returns a holder on a made-up host, so that no test process id can match it.
fn holder(host: &str, pid: u32) -> RunHolder {
    RunHolder { host: host.to_owned(), pid, started_at: datetime!(2026-03-01 08:15:30.123456 UTC) }
}

/// Returns the lease row as text, or `None` when there is none.
async fn lease_row(db: &TestDb) -> Option<String> {
    let expires_at = db.timestamp_of("expires_at");
    let rows = db
        .query_text(&format!(
            "SELECT host || ' ' || CAST(pid AS TEXT) || ' ' || {expires_at} AS value FROM photo_sync_lease"
        ))
        .await;
    match rows.as_slice() {
        [] => None,
        [Some(row)] => Some(row.clone()),
        other => panic!("photo_sync_lease has at most one row, found {other:?}"),
    }
}

async fn second_acquire_reports_holder(backend: Backend) {
    let db = TestDb::new(backend);
    let first_store = db.migrated().await;
    let second_store = db.connect().await;
    let first = holder("web01", 4242);

    let lease = first_store.acquire_run_lock(&first, LEASE).await.expect("the lock is free");

    // The same store and another store of the same database are both blocked.
    for store in [&first_store, &second_store] {
        let error = store.acquire_run_lock(&holder("web02", 7), LEASE).await.expect_err("the lock is held");
        assert_eq!(error, LockError::Held { holder: first.clone() });
        insta::allow_duplicates! {
            insta::assert_snapshot!(error, @"another photo-sync run holds the run lock of this database (host web01, pid 4242, started 2026-03-01 08:15:30 UTC); wait until it finishes and start this run again. A lock left by a killed run frees itself when its lease expires");
        }
    }
    assert_eq!(lease.holder(), &first);
    first_store.release_run_lock(lease).await.expect("the lock is released");
}

async fn release_then_acquire(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;

    let first = store.acquire_run_lock(&holder("web01", 1), LEASE).await.expect("the lock is free");
    store.release_run_lock(first).await.expect("the lock is released");
    assert_eq!(lease_row(&db).await, None, "release deletes the lease row");

    let second = store.acquire_run_lock(&holder("web02", 2), LEASE).await.expect("the released lock is free");
    assert!(lease_row(&db).await.expect("a lease row").starts_with("web02 2 "));
    store.release_run_lock(second).await.expect("the lock is released");
    assert_eq!(lease_row(&db).await, None);
}

async fn renew_moves_expiry(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;
    let lease = store.acquire_run_lock(&holder("web01", 1), LEASE).await.expect("the lock is free");
    let before = lease_row(&db).await.expect("a lease row");

    tokio::time::sleep(Duration::from_millis(20)).await;
    store.renew_run_lock(&lease).await.expect("the lease is renewed");

    let after = lease_row(&db).await.expect("a lease row");
    // The rows end with `expires_at` in a sortable form.
    assert!(after > before, "expiry moved from {before:?} to {after:?}");
    store.release_run_lock(lease).await.expect("the lock is released");
}

/// On SQLite an expired lease belongs to the next run, and the old holder learns that it
/// lost the lock. On PostgreSQL the lock lasts as long as the holder's session, whatever
/// the lease duration.
async fn expired_lease(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;
    let old = store.acquire_run_lock(&holder("web01", 1), Duration::from_millis(1)).await.expect("the lock is free");
    tokio::time::sleep(Duration::from_millis(20)).await;

    let taken = store.acquire_run_lock(&holder("web02", 2), LEASE).await;

    match backend {
        Backend::Sqlite => {
            let new = taken.expect("the expired lease is taken over");
            let error = store.renew_run_lock(&old).await.expect_err("the old holder lost the lock");
            insta::allow_duplicates! {
                insta::assert_snapshot!(error, @"the run lock was lost: its lease expired and another run took it over; stop this run, and renew the lock more often than its lease duration");
            }
            store.release_run_lock(old).await.expect("releasing a lost lease is no error");
            assert!(lease_row(&db).await.expect("the new lease stays").starts_with("web02 2 "));
            store.release_run_lock(new).await.expect("the lock is released");
        }
        Backend::Postgres => {
            let error = taken.expect_err("the session still holds the lock");
            assert_eq!(error, LockError::Held { holder: holder("web01", 1) });
            store.renew_run_lock(&old).await.expect("the session still holds the lock");
            store.release_run_lock(old).await.expect("the lock is released");
        }
    }
}

/// Returns the id of a process that has ended.
async fn ended_process_id() -> u32 {
    let mut child = tokio::process::Command::new("true").spawn().expect("`true` starts");
    let pid = child.id().expect("a running child has an id");
    child.wait().await.expect("`true` ends");
    pid
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_lease_of_ended_process_is_taken_over() {
    let db = TestDb::new(Backend::Sqlite);
    let store = db.migrated().await;
    let this_host = RunHolder::current(OffsetDateTime::now_utc());
    let ended = ended_process_id().await;
    let insert_lease = |host: &str| {
        format!(
            "DELETE FROM photo_sync_lease;
             INSERT INTO photo_sync_lease (id, token, host, pid, started_at, expires_at)
             VALUES (1, 'left-behind', '{host}', {ended}, '2026-03-01 08:00:00.000000', '9999-01-01 00:00:00.000000');"
        )
    };

    // A process id on another host cannot be checked from here, so its lease holds.
    db.execute(&insert_lease("elsewhere")).await;
    let error = store.acquire_run_lock(&this_host, LEASE).await.expect_err("the other host's lease holds");
    let LockError::Held { holder: blocking } = error else { panic!("expected Held, got {error:?}") };
    assert_eq!(blocking.pid, ended);
    assert_eq!(blocking.host, "elsewhere");

    db.execute(&insert_lease(&this_host.host)).await;
    let lease = store.acquire_run_lock(&this_host, LEASE).await.expect("the ended process's lease is taken over");
    assert_eq!(
        db.query_one("SELECT CAST(pid AS TEXT) AS value FROM photo_sync_lease").await,
        this_host.pid.to_string()
    );
    store.release_run_lock(lease).await.expect("the lock is released");
}

/// Takes the run lock and holds it until the process is killed, when
/// [`CHILD_DATABASE_VARIABLE`] is set. `killed_holder_frees_lock` runs this test binary
/// again with only this test; in a normal test run it returns at once.
#[tokio::test(flavor = "multi_thread")]
async fn child_process_holding_lock() {
    let Ok(url) = std::env::var(CHILD_DATABASE_VARIABLE) else {
        return;
    };
    let store = WebdeskDb::connect(&url).await.expect("the child opens the database");
    let _lease = store
        .acquire_run_lock(&RunHolder::current(OffsetDateTime::now_utc()), LEASE)
        .await
        .expect("the child takes the lock");

    let mut stdout = std::io::stdout();
    writeln!(stdout, "{CHILD_HOLDS_LOCK}").expect("stdout is writable");
    stdout.flush().expect("stdout is writable");
    tokio::time::sleep(Duration::from_secs(120)).await;
}

/// Checks that the lock of a run killed with SIGKILL, which cannot release it, frees itself:
/// on PostgreSQL the server ends the session, and on SQLite the next run on the host
/// finds the process gone.
async fn killed_holder_frees_lock(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("the test binary has a path"))
        .args(["lock::child_process_holding_lock", "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_DATABASE_VARIABLE, db.url())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the child process starts");
    let child_pid = child.id().expect("a running child has an id");

    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let wait_for_lock = async {
        while let Some(line) = lines.next_line().await.expect("the child's output is readable") {
            // libtest prints the test's name on the same line first.
            if line.ends_with(CHILD_HOLDS_LOCK) {
                return;
            }
        }
        panic!("the child process ended without taking the lock");
    };
    tokio::time::timeout(Duration::from_secs(60), wait_for_lock).await.expect("the child takes the lock within 60 s");

    let this_process = RunHolder::current(OffsetDateTime::now_utc());
    let error = store.acquire_run_lock(&this_process, LEASE).await.expect_err("the child holds the lock");
    let LockError::Held { holder: child_holder } = error else { panic!("expected Held, got {error:?}") };
    assert_eq!(child_holder.pid, child_pid);
    assert_eq!(child_holder.host, this_process.host);

    child.kill().await.expect("the child is killed");

    let lease = acquire_within_10_seconds(&store, &this_process).await;
    store.release_run_lock(lease).await.expect("the lock is released");
}

/// Takes the lock, retrying while it is held. A PostgreSQL server frees the lock of a
/// closed session only when it notices that the connection has closed.
async fn acquire_within_10_seconds(store: &WebdeskDb, holder: &RunHolder) -> RunLease {
    let mut attempts = 0;
    loop {
        match store.acquire_run_lock(holder, LEASE).await {
            Ok(lease) => return lease,
            Err(LockError::Held { .. }) if attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("the lock was not freed within 10 s: {error}"),
        }
    }
}

/// Checks what dropping a lease without releasing it does: on PostgreSQL it closes the
/// session and so frees the lock, and on SQLite the lease stays until it expires.
async fn dropped_lease(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;
    let lease = store.acquire_run_lock(&holder("web01", 1), LEASE).await.expect("the lock is free");

    drop(lease);

    match backend {
        Backend::Sqlite => {
            let error = store.acquire_run_lock(&holder("web02", 2), LEASE).await.expect_err("the lease stays");
            assert_eq!(error, LockError::Held { holder: holder("web01", 1) });
        }
        Backend::Postgres => {
            let lease = acquire_within_10_seconds(&store, &holder("web02", 2)).await;
            store.release_run_lock(lease).await.expect("the lock is released");
        }
    }
}

/// Two stores with separate connections try to take the lock at the same moment, from a
/// free lock and from an expired lease of a third run, many times over.
async fn racing_acquires_never_both_win(backend: Backend) {
    const ROUNDS: usize = 20;
    let db = TestDb::new(backend);
    db.migrated().await;
    let stores = [Arc::new(db.connect().await), Arc::new(db.connect().await)];
    let barrier = Arc::new(Barrier::new(stores.len()));
    let expired_lease = format!(
        "INSERT INTO photo_sync_lease (id, token, host, pid, started_at, expires_at)
         VALUES (1, 'expired', 'web09', 9, {started_at}, {started_at})",
        started_at = db.timestamp("2026-03-01 08:00:00.000000")
    );

    for round in 0..ROUNDS {
        if round % 2 == 1 {
            db.execute(&expired_lease).await;
        }

        let tasks = stores.iter().enumerate().map(|(index, store)| {
            let store = Arc::clone(store);
            let barrier = Arc::clone(&barrier);
            let contender = holder(&format!("web0{index}"), u32::try_from(index).expect("two stores"));
            tokio::spawn(async move {
                barrier.wait().await;
                let outcome = store.acquire_run_lock(&contender, LEASE).await;
                (store, outcome)
            })
        });
        let mut winners = Vec::new();
        for task in tasks.collect::<Vec<_>>() {
            let (store, outcome) = task.await.expect("the task ends");
            match outcome {
                Ok(lease) => winners.push((store, lease)),
                Err(LockError::Held { .. }) => {}
                Err(error) => panic!("round {round}: acquiring failed: {error}"),
            }
        }

        assert_eq!(winners.len(), 1, "round {round}: exactly one store takes the lock");
        for (store, lease) in winners {
            store.release_run_lock(lease).await.expect("the lock is released");
        }
    }
}

on_both_backends!(
    second_acquire_reports_holder,
    release_then_acquire,
    renew_moves_expiry,
    expired_lease,
    killed_holder_frees_lock,
    dropped_lease,
    racing_acquires_never_both_win,
);
