//! Tests of `WebdeskDb::connect`, `WebdeskDb::migrate` and the readiness check of
//! `WebdeskDb::open_for_run`.

use photo_sync_webdesk::{ConnectError, OpenError, WebdeskDb};

use crate::support::{Backend, TestDb, on_both_backends};

const STATE_MIGRATION: &str = "2026-12-04-000000_create_photo_sync_state";
const LEASE_AND_RUNS_MIGRATION: &str = "2026-12-05-000000_create_photo_sync_lease_and_runs";

/// Returns the `CREATE TABLE` statement of `table` in a contract DDL file.
fn create_statement<'a>(ddl: &'a str, table: &str) -> &'a str {
    ddl.split(';')
        .find_map(|statement| statement.find(&format!("CREATE TABLE {table} ")).map(|start| &statement[start..]))
        .unwrap_or_else(|| panic!("the DDL file creates {table}"))
}

/// Describes the columns of the tables Webdesk owns, one line per column, so a test can
/// check that a migration left them alone.
async fn webdesk_columns(db: &TestDb) -> Vec<Option<String>> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT name || ': ' || coalesce(sql, '') AS value FROM sqlite_master
             WHERE tbl_name NOT LIKE 'photo_sync_%' AND tbl_name NOT IN ('__diesel_schema_migrations', 'sqlite_sequence')
             ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
                 || coalesce(' DEFAULT ' || column_default, '') AS value
             FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name NOT LIKE 'photo\\_sync\\_%'
                 AND table_name <> '__diesel_schema_migrations'
             ORDER BY table_name, ordinal_position"
        }
    };
    db.query_text(sql).await
}

async fn migrate_empty_database_with_webdesk_schema(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.connect().await;

    let summary = store.migrate(true).await.expect("an empty database migrates");

    assert_eq!(summary.created_tables, ["clients", "persons", "groups", "group_memberships", "person_images"]);
    assert_eq!(summary.applied_migrations, [STATE_MIGRATION, LEASE_AND_RUNS_MIGRATION]);
    insta::allow_duplicates! {
        insta::assert_snapshot!(summary, @"created Webdesk tables: clients, persons, groups, group_memberships, person_images; applied migrations: 2026-12-04-000000_create_photo_sync_state, 2026-12-05-000000_create_photo_sync_lease_and_runs");
    }

    let mut tables = db.table_names().await;
    // SQLite keeps the AUTOINCREMENT counter of photo_sync_runs in a table of its own.
    tables.retain(|table| table != "sqlite_sequence");
    insta::allow_duplicates! {
        insta::assert_debug_snapshot!(tables, @r#"
        [
            "__diesel_schema_migrations",
            "clients",
            "group_memberships",
            "groups",
            "person_images",
            "persons",
            "photo_sync_lease",
            "photo_sync_runs",
            "photo_sync_state",
        ]
        "#);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_migrate_creates_exact_contract_ddl() {
    let db = TestDb::new(Backend::Sqlite);
    db.connect().await.migrate(true).await.expect("an empty database migrates");

    let stored = db.query_one("SELECT sql AS value FROM sqlite_master WHERE name = 'person_images'").await;
    assert_eq!(stored, create_statement(db.webdesk_schema(), "person_images"));
}

/// PostgreSQL keeps no DDL text, so this compares its catalog with the contract: every
/// column's type, nullability and default, and every constraint.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_migrate_creates_contract_columns_and_constraints() {
    let db = TestDb::new(Backend::Postgres);
    db.connect().await.migrate(true).await.expect("an empty database migrates");

    insta::assert_debug_snapshot!(webdesk_columns(&db).await.into_iter().flatten().collect::<Vec<_>>(), @r#"
    [
        "clients.id bigint NO",
        "clients.short_name text NO",
        "clients.name text NO",
        "group_memberships.group_id bigint NO",
        "group_memberships.person_id bigint NO",
        "group_memberships.valid_from date NO",
        "group_memberships.valid_to date YES",
        "groups.id bigint NO",
        "groups.client_id bigint NO",
        "groups.short_name text NO",
        "groups.name text NO",
        "groups.parent_id bigint YES",
        "groups.valid_from date YES",
        "groups.valid_to date YES",
        "person_images.person_id bigint NO",
        "person_images.content bytea NO",
        "person_images.content_type text NO",
        "person_images.modified_at timestamp with time zone NO",
        "person_images.modified_by text NO",
        "person_images.version bigint NO DEFAULT 1",
        "persons.id bigint NO",
        "persons.client_id bigint NO",
        "persons.username text NO",
        "persons.first_name text NO",
        "persons.last_name text NO",
        "persons.personnel_number text YES",
        "persons.email text YES",
        "persons.active boolean NO DEFAULT true",
        "persons.entra_object_id text YES",
        "persons.entra_user_principal_name text YES",
    ]
    "#);

    let constraints = db
        .query_text(
            "SELECT value FROM (
                 SELECT CAST(conrelid::regclass AS TEXT) || ' ' || pg_get_constraintdef(oid) AS value
                 FROM pg_constraint
                 WHERE connamespace = 'public'::regnamespace
                     AND CAST(conrelid::regclass AS TEXT) NOT LIKE 'photo\\_sync\\_%'
                     AND CAST(conrelid::regclass AS TEXT) <> '__diesel_schema_migrations'
             ) AS constraints
             ORDER BY value COLLATE \"C\"",
        )
        .await;
    insta::assert_debug_snapshot!(constraints.into_iter().flatten().collect::<Vec<_>>(), @r#"
    [
        "clients PRIMARY KEY (id)",
        "clients UNIQUE (short_name)",
        "group_memberships FOREIGN KEY (group_id) REFERENCES groups(id)",
        "group_memberships FOREIGN KEY (person_id) REFERENCES persons(id)",
        "group_memberships PRIMARY KEY (group_id, person_id, valid_from)",
        "groups FOREIGN KEY (client_id) REFERENCES clients(id)",
        "groups FOREIGN KEY (parent_id) REFERENCES groups(id)",
        "groups PRIMARY KEY (id)",
        "groups UNIQUE (client_id, short_name)",
        "person_images CHECK ((modified_by = ANY (ARRAY['upload'::text, 'graph-sync'::text])))",
        "person_images FOREIGN KEY (person_id) REFERENCES persons(id)",
        "person_images PRIMARY KEY (person_id)",
        "persons FOREIGN KEY (client_id) REFERENCES clients(id)",
        "persons PRIMARY KEY (id)",
        "persons UNIQUE (username)",
    ]
    "#);
}

async fn migrate_without_flag_reports_missing_tables(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.connect().await;

    let error = store.migrate(false).await.expect_err("an empty database has no Webdesk tables");

    insta::allow_duplicates! {
        insta::assert_snapshot!(error, @"Webdesk tables missing from the database: clients, persons, groups, group_memberships, person_images; check the database URL, or migrate with --with-webdesk-schema to create them in an empty database");
    }
    assert_eq!(db.table_names().await, Vec::<String>::new(), "a failed migration creates nothing");
}

async fn migrate_names_only_missing_table(backend: Backend) {
    let db = TestDb::new(backend);
    let without_persons: String = db
        .webdesk_schema()
        .split(';')
        .filter(|statement| !statement.contains("CREATE TABLE persons"))
        .collect::<Vec<_>>()
        .join(";");
    // Without `persons`, the foreign keys that reference it cannot be created.
    let without_persons = without_persons.replace("REFERENCES persons(id)", "");
    db.execute(&without_persons).await;

    let error = db.connect().await.migrate(false).await.expect_err("persons is missing");

    insta::allow_duplicates! {
        insta::assert_snapshot!(error, @"Webdesk tables missing from the database: persons; check the database URL, or migrate with --with-webdesk-schema to create them in an empty database");
    }
    assert!(!db.table_names().await.contains(&"photo_sync_state".to_owned()));
}

async fn migrate_is_idempotent(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.connect().await;
    store.migrate(true).await.expect("the first migration succeeds");

    for with_webdesk_schema in [true, false] {
        let summary = store.migrate(with_webdesk_schema).await.expect("a repeated migration succeeds");
        assert!(summary.is_empty(), "with_webdesk_schema {with_webdesk_schema}: {summary}");
    }
}

async fn migrate_keeps_existing_webdesk_tables(backend: Backend) {
    let db = TestDb::new(backend);
    db.execute(db.webdesk_schema()).await;
    db.execute(&format!(
        "INSERT INTO clients (id, short_name, name) VALUES (1, 'ACME', 'Acme GmbH');
         INSERT INTO persons (id, client_id, username, first_name, last_name) VALUES (7, 1, 'anna', 'Anna', 'Berg');
         INSERT INTO person_images (person_id, content, content_type, modified_at, modified_by, version)
             VALUES (7, {}, 'image/png', {}, 'upload', 4);",
        db.blob("0102"),
        db.timestamp("2026-01-02 03:04:05.000000"),
    ))
    .await;
    let schema_before = webdesk_columns(&db).await;

    for with_webdesk_schema in [false, true] {
        let summary = db.connect().await.migrate(with_webdesk_schema).await.expect("the migration succeeds");
        assert_eq!(summary.created_tables, Vec::<String>::new(), "with_webdesk_schema {with_webdesk_schema}");
    }

    assert_eq!(webdesk_columns(&db).await, schema_before);
    assert_eq!(db.query_one("SELECT username AS value FROM persons WHERE id = 7").await, "anna");
    let modified_at = db.timestamp_of("modified_at");
    assert_eq!(
        db.query_one(&format!(
            "SELECT modified_by || ' ' || CAST(version AS TEXT) || ' ' || {modified_at} AS value FROM person_images"
        ))
        .await,
        "upload 4 2026-01-02 03:04:05.000000"
    );
}

async fn migrate_creates_only_missing_tables(backend: Backend) {
    let db = TestDb::new(backend);
    // A `clients` table that differs from the contract must stay exactly as it is.
    let id_type = match backend {
        Backend::Sqlite => "INTEGER",
        Backend::Postgres => "BIGINT",
    };
    db.execute(&format!(
        "CREATE TABLE clients (id {id_type} PRIMARY KEY, short_name TEXT NOT NULL UNIQUE, name TEXT NOT NULL, region TEXT);
         INSERT INTO clients (id, short_name, name, region) VALUES (1, 'ACME', 'Acme GmbH', 'north');"
    ))
    .await;

    let summary = db.connect().await.migrate(true).await.expect("the migration succeeds");

    assert_eq!(summary.created_tables, ["persons", "groups", "group_memberships", "person_images"]);
    assert_eq!(summary.applied_migrations, [STATE_MIGRATION, LEASE_AND_RUNS_MIGRATION]);
    assert_eq!(
        db.query_one("SELECT name || ' ' || region AS value FROM clients WHERE id = 1").await,
        "Acme GmbH north"
    );
    let columns = webdesk_columns(&db).await.into_iter().flatten().collect::<Vec<_>>();
    assert!(columns.iter().any(|column| column.contains("region")), "columns {columns:?}");
}

async fn migration_table_records_only_own_migrations(backend: Backend) {
    let db = TestDb::new(backend);
    db.connect().await.migrate(true).await.expect("an empty database migrates");

    let versions =
        db.query_text("SELECT CAST(version AS TEXT) AS value FROM __diesel_schema_migrations ORDER BY version").await;
    assert_eq!(versions, [Some("20261204000000".to_owned()), Some("20261205000000".to_owned())]);
}

/// A database that a version with only the first migration set up gets the later one.
async fn migrate_upgrades_first_version_database(backend: Backend) {
    let db = TestDb::new(backend);
    db.execute(db.webdesk_schema()).await;
    let first_migration = match backend {
        Backend::Sqlite => include_str!("../../migrations/sqlite/2026-12-04-000000_create_photo_sync_state/up.sql"),
        Backend::Postgres => include_str!("../../migrations/postgres/2026-12-04-000000_create_photo_sync_state/up.sql"),
    };
    db.execute(first_migration).await;
    // The table diesel's migration harness creates, with the first migration recorded.
    db.execute(
        "CREATE TABLE __diesel_schema_migrations (
             version VARCHAR(50) PRIMARY KEY NOT NULL,
             run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
         );
         INSERT INTO __diesel_schema_migrations (version) VALUES ('20261204000000');",
    )
    .await;
    assert!(matches!(WebdeskDb::open_for_run(db.url()).await, Err(OpenError::NotReady(_))));

    let summary = db.connect().await.migrate(false).await.expect("the later migration applies");

    assert_eq!(summary.applied_migrations, [LEASE_AND_RUNS_MIGRATION]);
    WebdeskDb::open_for_run(db.url()).await.expect("the upgraded database is ready for a run");
}

async fn open_for_run_accepts_migrated_database(backend: Backend) {
    let db = TestDb::new(backend);
    db.migrated().await;

    let store = WebdeskDb::open_for_run(db.url()).await.expect("a migrated database is ready");

    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgresql",
    };
    assert_eq!(store.backend_name(), expected);
}

async fn open_for_run_names_missing_job_tables(backend: Backend) {
    let db = TestDb::new(backend);
    db.migrated().await;
    db.execute("DROP TABLE photo_sync_lease; DROP TABLE photo_sync_runs;").await;

    let error = WebdeskDb::open_for_run(db.url()).await.expect_err("the run lock and history tables are missing");

    assert!(matches!(error, OpenError::NotReady(_)), "error {error:?}");
    insta::allow_duplicates! {
        insta::assert_snapshot!(error, @"the job's tables are missing (photo_sync_lease, photo_sync_runs); create them once with `photo-sync db migrate --config FILE`");
    }
}

async fn open_for_run_names_missing_webdesk_tables(backend: Backend) {
    let db = TestDb::new(backend);
    db.connect().await;

    let error = WebdeskDb::open_for_run(db.url()).await.expect_err("an empty database has no tables");

    insta::allow_duplicates! {
        insta::assert_snapshot!(error, @"Webdesk tables missing from the database: clients, persons, groups, group_memberships, person_images; check database.url");
    }
}

on_both_backends!(
    migrate_empty_database_with_webdesk_schema,
    migrate_without_flag_reports_missing_tables,
    migrate_names_only_missing_table,
    migrate_is_idempotent,
    migrate_keeps_existing_webdesk_tables,
    migrate_creates_only_missing_tables,
    migration_table_records_only_own_migrations,
    migrate_upgrades_first_version_database,
    open_for_run_accepts_migrated_database,
    open_for_run_names_missing_job_tables,
    open_for_run_names_missing_webdesk_tables,
);

// The tests below are about SQLite files; `postgres.rs` has the connection tests of
// PostgreSQL.

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_connect_sets_wal_journal_mode() {
    let db = TestDb::new(Backend::Sqlite);
    let store = db.connect().await;

    assert_eq!(store.backend_name(), "sqlite");
    // The journal mode is stored in the database file, so a second connection reports it.
    assert_eq!(db.query_one("SELECT journal_mode AS value FROM pragma_journal_mode").await, "wal");
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_connect_waits_for_writers() {
    let db = std::sync::Arc::new(TestDb::new(Backend::Sqlite));
    drop(db.migrated().await);
    db.execute("INSERT INTO clients (id, short_name, name) VALUES (1, 'ACME-AT', 'ACME')").await;

    // Webdesk opens a connection per upload. When the last connection to a WAL database
    // closes, SQLite checkpoints it under an exclusive lock, which a new connection
    // must wait for instead of failing with "database is locked".
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move {
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                round += 1;
                let mut connection = db.raw().await;
                connection.execute(&format!("UPDATE clients SET name = 'ACME {round}' WHERE id = 1")).await;
            }
        })
    };
    let mut failures = Vec::new();
    for _ in 0..40 {
        if let Err(error) = WebdeskDb::connect(db.url()).await {
            failures.push(error.to_string());
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.expect("the writer stops");

    assert!(failures.is_empty(), "connecting failed while Webdesk wrote: {failures:?}");
}

#[tokio::test]
async fn sqlite_connect_reports_missing_folder() {
    let db = TestDb::new(Backend::Sqlite);
    let path = db.sqlite_path().with_file_name("missing-folder").join("webdesk.db");

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
async fn sqlite_connect_reports_non_database_file() {
    let db = TestDb::new(Backend::Sqlite);
    std::fs::write(db.sqlite_path(), "name,photo\nanna,none\n".repeat(100)).expect("the test file is written");

    let error = WebdeskDb::connect(db.url()).await.expect_err("the connection fails");

    assert!(matches!(error, ConnectError::SqliteSetup { .. }), "error {error:?}");
    assert!(error.to_string().contains("file is not a database"), "error {error}");
    assert!(error.to_string().contains("check that the file is an SQLite database"), "error {error}");
}

#[tokio::test]
async fn connect_rejects_unknown_scheme() {
    let error = WebdeskDb::connect("mysql://sync:secret@127.0.0.1/webdesk").await.expect_err("mysql is not supported");

    insta::assert_snapshot!(error, @r#"invalid database URL "mysql://sync:***@127.0.0.1/webdesk": expected sqlite://PATH, sqlite:///ABSOLUTE/PATH, sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE"#);
}
