//! Tests of reading images, the conditional photo write and the sync state table.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use photo_sync_domain::ports::{PhotoWrite, WebdeskStore, WriteResult};
use photo_sync_domain::{ETag, ModifiedBy, PersonId, SyncState, ValidPhoto};
use photo_sync_webdesk::WebdeskDb;
use time::OffsetDateTime;
use time::macros::datetime;

use crate::support::{TestDb, png};

const PERSONS: &str = "
    INSERT INTO clients (id, short_name, name) VALUES (1, 'ACME', 'Acme GmbH');
    INSERT INTO persons (id, client_id, username, first_name, last_name) VALUES
        (100, 1, 'anna', 'Anna', 'Berg'),
        (101, 1, 'bert', 'Bert', 'Carl'),
        (102, 1, 'cora', 'Cora', 'Dahl');
";

async fn seeded() -> (TestDb, WebdeskDb) {
    let db = TestDb::new();
    let store = db.migrated().await;
    db.execute(PERSONS);
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
fn image_row(db: &TestDb, person: i64) -> String {
    db.query_one(&format!(
        "SELECT modified_by || ' v' || version || ' ' || content_type || ' ' || modified_at AS value
         FROM person_images WHERE person_id = {person}"
    ))
}

fn image_content(db: &TestDb, person: i64) -> String {
    db.query_one(&format!("SELECT hex(content) AS value FROM person_images WHERE person_id = {person}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn load_images_reads_both_timestamp_forms() {
    let (db, store) = seeded().await;
    db.execute(
        "INSERT INTO person_images (person_id, content, content_type, modified_at, modified_by, version) VALUES
             (100, x'01020304', 'image/jpeg', '2026-02-03 04:05:06', 'upload', 3),
             (101, x'0506', 'image/png', '2026-02-03 04:05:06.123456', 'graph-sync', 1);",
    );

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

#[tokio::test(flavor = "multi_thread")]
async fn load_images_rejects_unknown_author() {
    let db = TestDb::new();
    // A person_images table without the contract's CHECK constraint.
    db.execute(
        "CREATE TABLE clients (id INTEGER PRIMARY KEY, short_name TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
         CREATE TABLE persons (id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL, username TEXT NOT NULL UNIQUE,
             first_name TEXT NOT NULL, last_name TEXT NOT NULL, personnel_number TEXT, email TEXT,
             active INTEGER NOT NULL DEFAULT 1, entra_object_id TEXT, entra_user_principal_name TEXT);
         CREATE TABLE person_images (person_id INTEGER PRIMARY KEY, content BLOB NOT NULL, content_type TEXT NOT NULL,
             modified_at TEXT NOT NULL, modified_by TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1);
         INSERT INTO person_images VALUES (100, x'01', 'image/png', '2026-02-03 04:05:06', 'admin', 1);",
    );
    let store = db.migrated().await;

    let error = store.load_images(&[PersonId(100)]).await.expect_err("'admin' is not a contract value");

    insta::assert_snapshot!(error, @r#"the image of person 100 has modified_by "admin", expected "upload" or "graph-sync"; fix the row in person_images"#);
}

#[tokio::test(flavor = "multi_thread")]
async fn store_photo_creates_version_one() {
    let (db, store) = seeded().await;
    let photo = png(2, 2, 10);
    let recorded = state(Some(1), datetime!(2026-03-01 08:15:29.25 UTC));

    let result = store.store_photo(write(100, None, &photo, recorded.clone())).await.expect("the photo is stored");

    assert_eq!(result, WriteResult::Stored { version: 1 });
    assert_eq!(image_row(&db, 100), "graph-sync v1 image/png 2026-03-01 08:15:30.500000");
    assert_eq!(image_content(&db, 100), hex(photo.bytes()));
    assert_eq!(
        db.query_one("SELECT observed_at AS value FROM photo_sync_state WHERE person_id = 100"),
        "2026-03-01 08:15:29.250000"
    );
    let states = store.load_states(&[PersonId(100)]).await.expect("the states load");
    assert_eq!(states.get(&PersonId(100)), Some(&recorded));
}

#[tokio::test(flavor = "multi_thread")]
async fn store_photo_updates_to_next_version() {
    let (db, store) = seeded().await;
    db.execute(
        "INSERT INTO person_images (person_id, content, content_type, modified_at, modified_by, version)
         VALUES (100, x'FFD8FFD9', 'image/jpeg', '2026-01-01 00:00:00', 'upload', 4);",
    );
    let photo = png(3, 3, 200);
    let recorded = state(Some(5), datetime!(2026-03-01 08:15:29 UTC));

    let result = store.store_photo(write(100, Some(4), &photo, recorded.clone())).await.expect("the photo is stored");

    assert_eq!(result, WriteResult::Stored { version: 5 });
    assert_eq!(image_row(&db, 100), "graph-sync v5 image/png 2026-03-01 08:15:30.500000");
    assert_eq!(image_content(&db, 100), hex(photo.bytes()));
    let image = &store.load_images(&[PersonId(100)]).await.expect("the images load")[&PersonId(100)];
    assert_eq!(image.modified_at, datetime!(2026-03-01 08:15:30.5 UTC));
    assert_eq!(image.modified_by, ModifiedBy::GraphSync);
}

#[tokio::test(flavor = "multi_thread")]
async fn store_photo_conflicts_after_upload() {
    let (db, store) = seeded().await;
    db.execute(
        "INSERT INTO person_images (person_id, content, content_type, modified_at, modified_by, version)
         VALUES (100, x'0A', 'image/png', '2026-01-01 00:00:00', 'graph-sync', 1);",
    );
    let earlier = state(Some(1), datetime!(2026-01-01 00:00:00 UTC));
    store.record_states(&[(PersonId(100), earlier.clone())]).await.expect("the state is recorded");
    let read = store.load_images(&[PersonId(100)]).await.expect("the images load");
    assert_eq!(read[&PersonId(100)].version, 1);

    // A Webdesk upload lands between the job's read and its write.
    db.execute(
        "UPDATE person_images SET content = x'0B', modified_by = 'upload', version = version + 1,
             modified_at = '2026-03-01 08:00:00' WHERE person_id = 100;",
    );
    let photo = png(2, 2, 10);
    let result = store
        .store_photo(write(100, Some(1), &photo, state(Some(2), datetime!(2026-03-01 08:15:29 UTC))))
        .await
        .expect("a conflict is no error");

    assert_eq!(result, WriteResult::Conflict);
    assert_eq!(image_row(&db, 100), "upload v2 image/png 2026-03-01 08:00:00");
    assert_eq!(image_content(&db, 100), "0B");
    let states = store.load_states(&[PersonId(100)]).await.expect("the states load");
    assert_eq!(states.get(&PersonId(100)), Some(&earlier), "the state is unchanged");
}

#[tokio::test(flavor = "multi_thread")]
async fn store_photo_conflicts_when_image_appeared() {
    let (db, store) = seeded().await;
    let read = store.load_images(&[PersonId(100)]).await.expect("the images load");
    assert!(read.is_empty());

    db.execute(
        "INSERT INTO person_images (person_id, content, content_type, modified_at, modified_by, version)
         VALUES (100, x'0B', 'image/png', '2026-03-01 08:00:00', 'upload', 1);",
    );
    let photo = png(2, 2, 10);
    let result = store
        .store_photo(write(100, None, &photo, state(Some(1), datetime!(2026-03-01 08:15:29 UTC))))
        .await
        .expect("a conflict is no error");

    assert_eq!(result, WriteResult::Conflict);
    assert_eq!(image_row(&db, 100), "upload v1 image/png 2026-03-01 08:00:00");
    assert_eq!(image_content(&db, 100), "0B");
    let states = store.load_states(&[PersonId(100)]).await.expect("the states load");
    assert!(states.is_empty(), "no state was recorded: {states:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn store_photo_failure_rolls_back_image() {
    let (db, store) = seeded().await;
    db.execute(
        "INSERT INTO person_images (person_id, content, content_type, modified_at, modified_by, version)
         VALUES (100, x'0A', 'image/png', '2026-01-01 00:00:00', 'upload', 1);
         CREATE TRIGGER reject_state BEFORE INSERT ON photo_sync_state
         BEGIN SELECT RAISE(ABORT, 'state rejected by the test trigger'); END;",
    );
    let photo = png(2, 2, 10);

    let error = store
        .store_photo(write(100, Some(1), &photo, state(Some(2), datetime!(2026-03-01 08:15:29 UTC))))
        .await
        .expect_err("the state insert fails");

    insta::assert_snapshot!(error, @"storing the photo of person 100 failed: state rejected by the test trigger");
    assert_eq!(image_row(&db, 100), "upload v1 image/png 2026-01-01 00:00:00");
    assert_eq!(image_content(&db, 100), "0A");
}

#[tokio::test(flavor = "multi_thread")]
async fn store_photo_rejects_unknown_person() {
    let (db, store) = seeded().await;
    let photo = png(2, 2, 10);

    let error = store
        .store_photo(write(999, None, &photo, state(Some(1), datetime!(2026-03-01 08:15:29 UTC))))
        .await
        .expect_err("foreign keys are enforced");

    insta::assert_snapshot!(error, @"storing the photo of person 999 failed: FOREIGN KEY constraint failed");
    assert_eq!(db.query_text("SELECT person_id AS value FROM person_images"), Vec::<Option<String>>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn record_states_inserts_then_updates() {
    let (db, store) = seeded().await;
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

    let rows = db.query_text(
        "SELECT person_id || ' ' || coalesce(stored_etag, '-') || ' ' || coalesce(written_version, '-') || ' '
             || coalesce(observed_etag, '-') || ' ' || observed_at AS value
         FROM photo_sync_state ORDER BY person_id",
    );
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

#[tokio::test(flavor = "multi_thread")]
async fn record_states_accepts_empty_slice() {
    let (db, store) = seeded().await;

    store.record_states(&[]).await.expect("nothing to record is no error");

    assert_eq!(db.query_one("SELECT count(*) AS value FROM photo_sync_state"), "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn loads_accept_empty_slices() {
    let (_db, store) = seeded().await;

    let images = store.load_images(&[]).await.expect("no persons is no error");
    let states = store.load_states(&[]).await.expect("no persons is no error");

    assert!(images.is_empty());
    assert!(states.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn record_states_is_all_or_nothing() {
    let (db, store) = seeded().await;
    let observed_at = datetime!(2026-03-01 08:15:29 UTC);
    // Person 999 does not exist, so its row violates the foreign key after 100's insert.
    let states = [(PersonId(100), state(Some(1), observed_at)), (PersonId(999), state(Some(1), observed_at))];

    let error = store.record_states(&states).await.expect_err("person 999 does not exist");

    insta::assert_snapshot!(error, @"recording the sync states of 2 persons failed: FOREIGN KEY constraint failed");
    assert_eq!(db.query_one("SELECT count(*) AS value FROM photo_sync_state"), "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn store_recovers_after_cancelled_write() {
    let (db, store) = seeded().await;
    let photo = png(2, 2, 10);
    let recorded = state(Some(1), datetime!(2026-03-01 08:15:29 UTC));

    // Another writer holds the write lock for 500 ms, so the store's INSERT is still
    // waiting inside its transaction when the 100 ms timeout drops the write.
    let mut webdesk = db.raw();
    webdesk.batch_execute("BEGIN IMMEDIATE").expect("the other writer takes the lock");
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        webdesk.batch_execute("COMMIT").expect("the other writer releases the lock");
    });

    let cancelled =
        tokio::time::timeout(Duration::from_millis(100), store.store_photo(write(100, None, &photo, recorded.clone())))
            .await;
    assert!(cancelled.is_err(), "the write was cancelled");
    release.join().expect("the other writer finished");

    // Reusing the connection would run this write inside the dangling transaction, which
    // already contains the cancelled INSERT, and report a conflict.
    let result = store.store_photo(write(100, None, &photo, recorded.clone())).await.expect("the next write works");
    assert_eq!(result, WriteResult::Stored { version: 1 });
    assert_eq!(image_row(&db, 100), "graph-sync v1 image/png 2026-03-01 08:15:30.500000");
    let states = store.load_states(&[PersonId(100)]).await.expect("the states load");
    assert_eq!(states.get(&PersonId(100)), Some(&recorded));
}
