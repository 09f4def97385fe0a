//! Tests of reading images, the conditional photo write and the sync state table.

use std::time::Duration;

use photo_sync_domain::ports::{PhotoWrite, WebdeskStore, WriteResult};
use photo_sync_domain::{ETag, ModifiedBy, PersonId, SyncState, ValidPhoto};
use photo_sync_webdesk::WebdeskDb;
use time::OffsetDateTime;
use time::macros::datetime;

use crate::support::{Backend, TestDb, on_both_backends, png};

const PERSONS: &str = "
    INSERT INTO clients (id, short_name, name) VALUES (1, 'ACME', 'Acme GmbH');
    INSERT INTO persons (id, client_id, username, first_name, last_name) VALUES
        (100, 1, 'anna', 'Anna', 'Berg'),
        (101, 1, 'bert', 'Bert', 'Carl'),
        (102, 1, 'cora', 'Cora', 'Dahl');
";

async fn seeded(backend: Backend) -> (TestDb, WebdeskDb) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;
    db.execute(PERSONS).await;
    (db, store)
}

fn etag(value: &str) -> Option<ETag> {
    ETag::new(value)
}

fn state(written_version: Option<i64>, observed_at: OffsetDateTime) -> SyncState {
    SyncState { stored_etag: etag("\"graph-1\""), written_version, observed_etag: etag("\"graph-1\""), observed_at }
}

fn write<'a>(person: i64, expected_version: Option<i64>, photo: &'a ValidPhoto, state: SyncState) -> PhotoWrite<'a> {
    PhotoWrite {
        person_id: PersonId(person),
        expected_version,
        photo,
        modified_at: datetime!(2026-03-01 08:15:30.5 UTC),
        state,
    }
}

/// `modified_by`, `version`, `content_type` and the stored `modified_at` text of a person's image.
async fn image_row(db: &TestDb, person: i64) -> String {
    let modified_at = db.timestamp_of("modified_at");
    db.query_one(&format!(
        "SELECT modified_by || ' v' || CAST(version AS TEXT) || ' ' || content_type || ' ' || {modified_at} AS value
         FROM person_images WHERE person_id = {person}"
    ))
    .await
}

async fn image_content(db: &TestDb, person: i64) -> String {
    let content = db.hex_of("content");
    db.query_one(&format!("SELECT {content} AS value FROM person_images WHERE person_id = {person}")).await
}

/// Inserts an image row as a Webdesk upload would, with `content` in hexadecimal digits
/// and `modified_at` in UTC.
async fn insert_image(
    db: &TestDb,
    person: i64,
    content: &str,
    content_type: &str,
    modified_at: &str,
    author: &str,
    version: i64,
) {
    db.execute(&format!(
        "INSERT INTO person_images (person_id, content, content_type, modified_at, modified_by, version)
         VALUES ({person}, {}, '{content_type}', {}, '{author}', {version})",
        db.blob(content),
        db.timestamp(modified_at),
    ))
    .await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

async fn load_images_reads_both_timestamp_forms(backend: Backend) {
    let (db, store) = seeded(backend).await;
    insert_image(&db, 100, "01020304", "image/jpeg", "2026-02-03 04:05:06", "upload", 3).await;
    insert_image(&db, 101, "0506", "image/png", "2026-02-03 04:05:06.123456", "graph-sync", 1).await;

    let images = store.load_images(&[PersonId(100), PersonId(101), PersonId(102)]).await.expect("the images load");

    assert_eq!(images.len(), 2, "person 102 has no image");
    let anna = &images[&PersonId(100)];
    assert_eq!(anna.content, [1, 2, 3, 4]);
    assert_eq!(anna.content_type, "image/jpeg");
    assert_eq!(anna.modified_at, datetime!(2026-02-03 04:05:06 UTC));
    assert_eq!(anna.modified_by, ModifiedBy::Upload);
    assert_eq!(anna.version, 3);
    let bert = &images[&PersonId(101)];
    assert_eq!(bert.modified_at, datetime!(2026-02-03 04:05:06.123456 UTC));
    assert_eq!(bert.modified_by, ModifiedBy::GraphSync);
}

async fn load_images_rejects_unknown_author(backend: Backend) {
    let db = TestDb::new(backend);
    // A person_images table without the contract's CHECK constraint.
    let tables = match backend {
        Backend::Sqlite => {
            "CREATE TABLE clients (id INTEGER PRIMARY KEY, short_name TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
             CREATE TABLE persons (id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL, username TEXT NOT NULL UNIQUE,
                 first_name TEXT NOT NULL, last_name TEXT NOT NULL, personnel_number TEXT, email TEXT,
                 active INTEGER NOT NULL DEFAULT 1, entra_object_id TEXT, entra_user_principal_name TEXT);
             CREATE TABLE person_images (person_id INTEGER PRIMARY KEY, content BLOB NOT NULL, content_type TEXT NOT NULL,
                 modified_at TEXT NOT NULL, modified_by TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1);"
        }
        Backend::Postgres => {
            "CREATE TABLE clients (id BIGINT PRIMARY KEY, short_name TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
             CREATE TABLE persons (id BIGINT PRIMARY KEY, client_id BIGINT NOT NULL, username TEXT NOT NULL UNIQUE,
                 first_name TEXT NOT NULL, last_name TEXT NOT NULL, personnel_number TEXT, email TEXT,
                 active BOOLEAN NOT NULL DEFAULT TRUE, entra_object_id TEXT, entra_user_principal_name TEXT);
             CREATE TABLE person_images (person_id BIGINT PRIMARY KEY, content BYTEA NOT NULL, content_type TEXT NOT NULL,
                 modified_at TIMESTAMPTZ NOT NULL, modified_by TEXT NOT NULL, version BIGINT NOT NULL DEFAULT 1);"
        }
    };
    db.execute(tables).await;
    insert_image(&db, 100, "01", "image/png", "2026-02-03 04:05:06", "admin", 1).await;
    let store = db.migrated().await;

    let error = store.load_images(&[PersonId(100)]).await.expect_err("'admin' is not a contract value");

    insta::allow_duplicates! {
        insta::assert_snapshot!(error, @r#"the image of person 100 has modified_by "admin", expected "upload" or "graph-sync"; fix the row in person_images"#);
    }
}

async fn store_photo_creates_version_one(backend: Backend) {
    let (db, store) = seeded(backend).await;
    let photo = png(2, 2, 10);
    let recorded = state(Some(1), datetime!(2026-03-01 08:15:29.25 UTC));

    let result = store.store_photo(write(100, None, &photo, recorded.clone())).await.expect("the photo is stored");

    assert_eq!(result, WriteResult::Stored { version: 1 });
    assert_eq!(image_row(&db, 100).await, "graph-sync v1 image/png 2026-03-01 08:15:30.500000");
    assert_eq!(image_content(&db, 100).await, hex(photo.bytes()));
    let observed_at = db.timestamp_of("observed_at");
    assert_eq!(
        db.query_one(&format!("SELECT {observed_at} AS value FROM photo_sync_state WHERE person_id = 100")).await,
        "2026-03-01 08:15:29.250000"
    );
    let states = store.load_states(&[PersonId(100)]).await.expect("the states load");
    assert_eq!(states.get(&PersonId(100)), Some(&recorded));
}

async fn store_photo_updates_to_next_version(backend: Backend) {
    let (db, store) = seeded(backend).await;
    insert_image(&db, 100, "FFD8FFD9", "image/jpeg", "2026-01-01 00:00:00", "upload", 4).await;
    let photo = png(3, 3, 200);
    let recorded = state(Some(5), datetime!(2026-03-01 08:15:29 UTC));

    let result = store.store_photo(write(100, Some(4), &photo, recorded.clone())).await.expect("the photo is stored");

    assert_eq!(result, WriteResult::Stored { version: 5 });
    assert_eq!(image_row(&db, 100).await, "graph-sync v5 image/png 2026-03-01 08:15:30.500000");
    assert_eq!(image_content(&db, 100).await, hex(photo.bytes()));
    let image = &store.load_images(&[PersonId(100)]).await.expect("the images load")[&PersonId(100)];
    assert_eq!(image.modified_at, datetime!(2026-03-01 08:15:30.5 UTC));
    assert_eq!(image.modified_by, ModifiedBy::GraphSync);
}

async fn store_photo_conflicts_after_upload(backend: Backend) {
    let (db, store) = seeded(backend).await;
    insert_image(&db, 100, "0A", "image/png", "2026-01-01 00:00:00", "graph-sync", 1).await;
    let earlier = state(Some(1), datetime!(2026-01-01 00:00:00 UTC));
    store.record_states(&[(PersonId(100), earlier.clone())]).await.expect("the state is recorded");
    let read = store.load_images(&[PersonId(100)]).await.expect("the images load");
    assert_eq!(read[&PersonId(100)].version, 1);

    // A Webdesk upload lands between the job's read and its write.
    db.execute(&format!(
        "UPDATE person_images SET content = {}, modified_by = 'upload', version = version + 1,
             modified_at = {} WHERE person_id = 100;",
        db.blob("0B"),
        db.timestamp("2026-03-01 08:00:00.000000"),
    ))
    .await;
    let photo = png(2, 2, 10);
    let result = store
        .store_photo(write(100, Some(1), &photo, state(Some(2), datetime!(2026-03-01 08:15:29 UTC))))
        .await
        .expect("a conflict is no error");

    assert_eq!(result, WriteResult::Conflict);
    assert_eq!(image_row(&db, 100).await, "upload v2 image/png 2026-03-01 08:00:00.000000");
    assert_eq!(image_content(&db, 100).await, "0B");
    let states = store.load_states(&[PersonId(100)]).await.expect("the states load");
    assert_eq!(states.get(&PersonId(100)), Some(&earlier), "the state is unchanged");
}

async fn store_photo_conflicts_when_image_appeared(backend: Backend) {
    let (db, store) = seeded(backend).await;
    let read = store.load_images(&[PersonId(100)]).await.expect("the images load");
    assert!(read.is_empty());

    insert_image(&db, 100, "0B", "image/png", "2026-03-01 08:00:00.000000", "upload", 1).await;
    let photo = png(2, 2, 10);
    let result = store
        .store_photo(write(100, None, &photo, state(Some(1), datetime!(2026-03-01 08:15:29 UTC))))
        .await
        .expect("a conflict is no error");

    assert_eq!(result, WriteResult::Conflict);
    assert_eq!(image_row(&db, 100).await, "upload v1 image/png 2026-03-01 08:00:00.000000");
    assert_eq!(image_content(&db, 100).await, "0B");
    let states = store.load_states(&[PersonId(100)]).await.expect("the states load");
    assert!(states.is_empty(), "no state was recorded: {states:?}");
}

async fn store_photo_failure_rolls_back_image(backend: Backend) {
    let (db, store) = seeded(backend).await;
    insert_image(&db, 100, "0A", "image/png", "2026-01-01 00:00:00.000000", "upload", 1).await;
    let trigger = match backend {
        Backend::Sqlite => {
            "CREATE TRIGGER reject_state BEFORE INSERT ON photo_sync_state
             BEGIN SELECT RAISE(ABORT, 'state rejected by the test trigger'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION reject_state() RETURNS trigger LANGUAGE plpgsql
                 AS $$ BEGIN RAISE EXCEPTION 'state rejected by the test trigger'; END $$;
             CREATE TRIGGER reject_state BEFORE INSERT ON photo_sync_state
                 FOR EACH ROW EXECUTE FUNCTION reject_state();"
        }
    };
    db.execute(trigger).await;
    let photo = png(2, 2, 10);

    let error = store
        .store_photo(write(100, Some(1), &photo, state(Some(2), datetime!(2026-03-01 08:15:29 UTC))))
        .await
        .expect_err("the state insert fails");

    insta::allow_duplicates! {
        insta::assert_snapshot!(error, @"storing the photo of person 100 failed: state rejected by the test trigger");
    }
    assert_eq!(image_row(&db, 100).await, "upload v1 image/png 2026-01-01 00:00:00.000000");
    assert_eq!(image_content(&db, 100).await, "0A");
}

async fn store_photo_rejects_unknown_person(backend: Backend) {
    let (db, store) = seeded(backend).await;
    let photo = png(2, 2, 10);

    let error = store
        .store_photo(write(999, None, &photo, state(Some(1), datetime!(2026-03-01 08:15:29 UTC))))
        .await
        .expect_err("foreign keys are enforced");

    let expected = match backend {
        Backend::Sqlite => "storing the photo of person 999 failed: FOREIGN KEY constraint failed",
        Backend::Postgres => {
            "storing the photo of person 999 failed: insert or update on table \"person_images\" violates foreign key constraint \"person_images_person_id_fkey\""
        }
    };
    assert_eq!(error.to_string(), expected);
    assert_eq!(
        db.query_text("SELECT CAST(person_id AS TEXT) AS value FROM person_images").await,
        Vec::<Option<String>>::new()
    );
}

async fn record_states_inserts_then_updates(backend: Backend) {
    let (db, store) = seeded(backend).await;
    let first = [
        (PersonId(100), state(Some(1), datetime!(2026-03-01 08:15:29 UTC))),
        (
            PersonId(101),
            SyncState {
                stored_etag: None,
                written_version: None,
                observed_etag: None,
                observed_at: datetime!(2026-03-01 08:15:29.000001 UTC),
            },
        ),
    ];
    store.record_states(&first).await.expect("the states are recorded");

    let second = [(
        PersonId(100),
        SyncState {
            stored_etag: etag("\"graph-1\""),
            written_version: Some(1),
            observed_etag: etag("\"graph-2\""),
            observed_at: datetime!(2026-03-02 09:00:00.75 +01:00),
        },
    )];
    store.record_states(&second).await.expect("the states are recorded again");

    let states = store.load_states(&[PersonId(100), PersonId(101), PersonId(102)]).await.expect("the states load");
    assert_eq!(states.len(), 2);
    assert_eq!(states[&PersonId(100)], second[0].1);
    assert_eq!(states[&PersonId(101)], first[1].1);
    assert_eq!(states[&PersonId(100)].observed_at.offset(), time::UtcOffset::UTC);

    let observed_at = db.timestamp_of("observed_at");
    let rows = db
        .query_text(&format!(
            "SELECT CAST(person_id AS TEXT) || ' ' || coalesce(stored_etag, '-') || ' '
                 || coalesce(CAST(written_version AS TEXT), '-') || ' ' || coalesce(observed_etag, '-') || ' '
                 || {observed_at} AS value
             FROM photo_sync_state ORDER BY person_id"
        ))
        .await;
    insta::allow_duplicates! {
        insta::assert_debug_snapshot!(rows, @r#"
        [
            Some(
                "100 \"graph-1\" 1 \"graph-2\" 2026-03-02 08:00:00.750000",
            ),
            Some(
                "101 - - - 2026-03-01 08:15:29.000001",
            ),
        ]
        "#);
    }
}

async fn record_states_accepts_empty_slice(backend: Backend) {
    let (db, store) = seeded(backend).await;

    store.record_states(&[]).await.expect("nothing to record is no error");

    assert_eq!(db.query_one("SELECT CAST(count(*) AS TEXT) AS value FROM photo_sync_state").await, "0");
}

async fn loads_accept_empty_slices(backend: Backend) {
    let (_db, store) = seeded(backend).await;

    let images = store.load_images(&[]).await.expect("no persons is no error");
    let states = store.load_states(&[]).await.expect("no persons is no error");

    assert!(images.is_empty());
    assert!(states.is_empty());
}

async fn record_states_is_all_or_nothing(backend: Backend) {
    let (db, store) = seeded(backend).await;
    let observed_at = datetime!(2026-03-01 08:15:29 UTC);
    // Person 999 does not exist, so its row violates the foreign key after 100's insert.
    let states = [(PersonId(100), state(Some(1), observed_at)), (PersonId(999), state(Some(1), observed_at))];

    let error = store.record_states(&states).await.expect_err("person 999 does not exist");

    let expected = match backend {
        Backend::Sqlite => "recording the sync states of 2 persons failed: FOREIGN KEY constraint failed",
        Backend::Postgres => {
            "recording the sync states of 2 persons failed: insert or update on table \"photo_sync_state\" violates foreign key constraint \"photo_sync_state_person_id_fkey\""
        }
    };
    assert_eq!(error.to_string(), expected);
    assert_eq!(db.query_one("SELECT CAST(count(*) AS TEXT) AS value FROM photo_sync_state").await, "0");
}

async fn store_recovers_after_cancelled_write(backend: Backend) {
    let (db, store) = seeded(backend).await;
    let photo = png(2, 2, 10);
    let recorded = state(Some(1), datetime!(2026-03-01 08:15:29 UTC));

    // Another writer holds the write lock for 500 ms, so the store's INSERT is still
    // waiting inside its transaction when the 100 ms timeout drops the write.
    let mut webdesk = db.raw().await;
    let take_lock = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        // INSERT needs a ROW EXCLUSIVE lock, which conflicts with SHARE.
        Backend::Postgres => "BEGIN; LOCK TABLE person_images IN SHARE MODE",
    };
    webdesk.execute(take_lock).await;
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        webdesk.execute("COMMIT").await;
    });

    let cancelled =
        tokio::time::timeout(Duration::from_millis(100), store.store_photo(write(100, None, &photo, recorded.clone())))
            .await;
    assert!(cancelled.is_err(), "the write was cancelled");
    release.await.expect("the other writer finished");

    // Reusing the connection would run this write inside the dangling transaction, which
    // already contains the cancelled INSERT, and report a conflict.
    let result = store.store_photo(write(100, None, &photo, recorded.clone())).await.expect("the next write works");
    assert_eq!(result, WriteResult::Stored { version: 1 });
    assert_eq!(image_row(&db, 100).await, "graph-sync v1 image/png 2026-03-01 08:15:30.500000");
    let states = store.load_states(&[PersonId(100)]).await.expect("the states load");
    assert_eq!(states.get(&PersonId(100)), Some(&recorded));
}

/// Calls from many tasks at once share the store's pool: on SQLite they wait for its one
/// connection instead of failing with "database is locked".
async fn concurrent_calls_share_pool(backend: Backend) {
    let (db, store) = seeded(backend).await;
    let store = std::sync::Arc::new(store);
    let persons = [PersonId(100), PersonId(101), PersonId(102)];

    let tasks: Vec<_> = (0..16)
        .map(|task: usize| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                store.load_images(&persons).await.expect("the images load");
                // Each person's state has one writer: the update-then-insert upsert is
                // not safe for two writers of the same person at once.
                if let Some(person) = persons.get(task) {
                    let recorded = state(None, datetime!(2026-03-01 08:00:00 UTC));
                    store.record_states(&[(*person, recorded)]).await.expect("the state is recorded");
                }
                store.load_states(&persons).await.expect("the states load").len()
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("the task ends");
    }

    assert_eq!(db.query_one("SELECT CAST(count(*) AS TEXT) AS value FROM photo_sync_state").await, "3");
}

on_both_backends!(
    load_images_reads_both_timestamp_forms,
    load_images_rejects_unknown_author,
    store_photo_creates_version_one,
    store_photo_updates_to_next_version,
    store_photo_conflicts_after_upload,
    store_photo_conflicts_when_image_appeared,
    store_photo_failure_rolls_back_image,
    store_photo_rejects_unknown_person,
    record_states_inserts_then_updates,
    record_states_accepts_empty_slice,
    loads_accept_empty_slices,
    record_states_is_all_or_nothing,
    store_recovers_after_cancelled_write,
    concurrent_calls_share_pool,
);
