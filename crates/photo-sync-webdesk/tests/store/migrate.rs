//! Tests of `WebdeskDb::connect` and `WebdeskDb::migrate` on real SQLite files.

use photo_sync_webdesk::{ConnectError, WebdeskDb};

use crate::support::{TestDb, WEBDESK_SCHEMA};

const MIGRATION: &str = "2026-12-04-000000_create_photo_sync_state";

fn table_names(db: &TestDb) -> Vec<String> {
    db.query_text("SELECT name AS value FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .into_iter()
        .flatten()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_empty_database_with_webdesk_schema() {
    let db = TestDb::new();
    let store = db.connect().await;

    let summary = store.migrate(true).await.expect("an empty database migrates");

    assert_eq!(summary.created_tables, ["clients", "persons", "groups", "group_memberships", "person_images"]);
    assert_eq!(summary.applied_migrations, [MIGRATION]);
    insta::assert_snapshot!(summary, @"created Webdesk tables: clients, persons, groups, group_memberships, person_images; applied migrations: 2026-12-04-000000_create_photo_sync_state");
    insta::assert_debug_snapshot!(table_names(&db), @r#"
    [
        "__diesel_schema_migrations",
        "clients",
        "group_memberships",
        "groups",
        "person_images",
        "persons",
        "photo_sync_state",
    ]
    "#);
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_creates_exact_contract_ddl() {
    let db = TestDb::new();
    db.connect().await.migrate(true).await.expect("an empty database migrates");

    let stored = db.query_one("SELECT sql AS value FROM sqlite_master WHERE name = 'person_images'");
    let expected = WEBDESK_SCHEMA
        .split(';')
        .find_map(|statement| statement.find("CREATE TABLE person_images").map(|start| &statement[start..]))
        .expect("the DDL file creates person_images");
    assert_eq!(stored, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_without_flag_reports_missing_tables() {
    let db = TestDb::new();
    let store = db.connect().await;

    let error = store.migrate(false).await.expect_err("an empty database has no Webdesk tables");

    insta::assert_snapshot!(error, @"Webdesk tables missing from the database: clients, persons, groups, group_memberships, person_images; check the database URL, or migrate with --with-webdesk-schema to create them in an empty database");
    assert_eq!(table_names(&db), Vec::<String>::new(), "a failed migration creates nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_names_only_missing_table() {
    let db = TestDb::new();
    let without_persons: String = WEBDESK_SCHEMA
        .split(';')
        .filter(|statement| !statement.contains("CREATE TABLE persons"))
        .collect::<Vec<_>>()
        .join(";");
    db.execute(&without_persons);

    let error = db.connect().await.migrate(false).await.expect_err("persons is missing");

    insta::assert_snapshot!(error, @"Webdesk tables missing from the database: persons; check the database URL, or migrate with --with-webdesk-schema to create them in an empty database");
    assert!(!table_names(&db).contains(&"photo_sync_state".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_is_idempotent() {
    let db = TestDb::new();
    let store = db.connect().await;
    store.migrate(true).await.expect("the first migration succeeds");

    for with_webdesk_schema in [true, false] {
        let summary = store.migrate(with_webdesk_schema).await.expect("a repeated migration succeeds");
        assert!(summary.is_empty(), "with_webdesk_schema {with_webdesk_schema}: {summary}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_keeps_existing_webdesk_tables() {
    let db = TestDb::new();
    db.execute(WEBDESK_SCHEMA);
    db.execute(
        "INSERT INTO clients (id, short_name, name) VALUES (1, 'ACME', 'Acme GmbH');
         INSERT INTO persons (id, client_id, username, first_name, last_name) VALUES (7, 1, 'anna', 'Anna', 'Berg');
         INSERT INTO person_images (person_id, content, content_type, modified_at, modified_by, version)
             VALUES (7, x'0102', 'image/png', '2026-01-02 03:04:05', 'upload', 4);",
    );
    let schema_query = "SELECT name || ': ' || coalesce(sql, '') AS value FROM sqlite_master
                        WHERE tbl_name NOT IN ('photo_sync_state', '__diesel_schema_migrations') ORDER BY name";
    let schema_before = db.query_text(schema_query);

    for with_webdesk_schema in [false, true] {
        let summary = db.connect().await.migrate(with_webdesk_schema).await.expect("the migration succeeds");
        assert_eq!(summary.created_tables, Vec::<String>::new(), "with_webdesk_schema {with_webdesk_schema}");
    }

    assert_eq!(db.query_text(schema_query), schema_before);
    assert_eq!(db.query_one("SELECT username AS value FROM persons WHERE id = 7"), "anna");
    assert_eq!(
        db.query_one("SELECT modified_by || ' ' || version || ' ' || modified_at AS value FROM person_images"),
        "upload 4 2026-01-02 03:04:05"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_creates_only_missing_tables() {
    let db = TestDb::new();
    // A `clients` table that differs from the contract must stay exactly as it is.
    db.execute(
        "CREATE TABLE clients (id INTEGER PRIMARY KEY, short_name TEXT NOT NULL UNIQUE, name TEXT NOT NULL, region TEXT);
         INSERT INTO clients (id, short_name, name, region) VALUES (1, 'ACME', 'Acme GmbH', 'north');",
    );

    let summary = db.connect().await.migrate(true).await.expect("the migration succeeds");

    assert_eq!(summary.created_tables, ["persons", "groups", "group_memberships", "person_images"]);
    assert_eq!(summary.applied_migrations, [MIGRATION]);
    assert_eq!(db.query_one("SELECT name || ' ' || region AS value FROM clients WHERE id = 1"), "Acme GmbH north");
    assert!(db.query_one("SELECT sql AS value FROM sqlite_master WHERE name = 'clients'").contains("region TEXT"));
}

#[tokio::test(flavor = "multi_thread")]
async fn migration_table_records_only_own_migration() {
    let db = TestDb::new();
    db.connect().await.migrate(true).await.expect("an empty database migrates");

    let versions = db.query_text("SELECT version AS value FROM __diesel_schema_migrations");
    assert_eq!(versions, [Some("20261204000000".to_owned())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_sets_wal_journal_mode() {
    let db = TestDb::new();
    let store = db.connect().await;

    assert_eq!(store.backend_name(), "sqlite");
    // The journal mode is stored in the database file, so a second connection reports it.
    assert_eq!(db.query_one("SELECT journal_mode AS value FROM pragma_journal_mode"), "wal");
}

#[tokio::test]
async fn connect_reports_missing_folder() {
    let db = TestDb::new();
    let path = db.path.with_file_name("missing-folder").join("webdesk.db");

    let error =
        WebdeskDb::connect(&format!("sqlite://{}", path.display())).await.expect_err("SQLite does not create folders");

    assert!(matches!(error, ConnectError::SqliteOpen { .. }), "error {error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "cannot open SQLite database {:?}: Unable to open the database file; check the path and that the folder exists",
            path.display().to_string()
        )
    );
}

#[tokio::test]
async fn connect_reports_non_database_file() {
    let db = TestDb::new();
    std::fs::write(&db.path, "name,photo\nanna,none\n".repeat(100)).expect("the test file is written");

    let error = db.connect_error().await;

    assert!(matches!(error, ConnectError::SqliteSetup { .. }), "error {error:?}");
    assert!(error.to_string().contains("file is not a database"), "error {error}");
    assert!(error.to_string().contains("check that the file is an SQLite database"), "error {error}");
}

#[tokio::test]
async fn connect_rejects_unknown_scheme() {
    let error = WebdeskDb::connect("mysql://sync:secret@127.0.0.1/webdesk").await.expect_err("mysql is not supported");

    insta::assert_snapshot!(error, @r#"invalid database URL "mysql://sync:***@127.0.0.1/webdesk": expected sqlite://PATH, sqlite:///ABSOLUTE/PATH, sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE"#);
}

impl TestDb {
    async fn connect_error(&self) -> ConnectError {
        WebdeskDb::connect(&self.url()).await.expect_err("the connection fails")
    }
}
