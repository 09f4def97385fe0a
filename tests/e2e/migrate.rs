//! `photo-sync db migrate`: creates the job's tables and never touches Webdesk's.

use photo_sync_e2e::{Backend, PhotoSync, TestDatabase};

use crate::harness::on_both_backends;

async fn migrate_keeps_existing_webdesk_tables(backend: Backend) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let db = TestDatabase::create(backend, dir.path());
    let binary = PhotoSync::locate();

    let first = binary.run(dir.path(), &["db", "migrate", "--database", &db.url(), "--with-webdesk-schema"], &[]).await;
    assert_eq!(first.status, 0, "{}", first.stderr);
    db.add_client(1, "ACME-AT");
    db.add_person(1, 1, "anna", true, None, None);
    db.put_image(1, b"webdesk image", "2026-11-01 10:00:00", "upload", 4);

    let again = binary.run(dir.path(), &["db", "migrate", "--database", &db.url(), "--with-webdesk-schema"], &[]).await;

    assert_eq!(again.status, 0, "{}", again.stderr);
    assert!(again.stderr.contains("up to date"), "{}", again.stderr);
    let image = db.image(1).expect("the image row survives");
    assert_eq!(image.content, b"webdesk image");
    assert_eq!(image.version, 4);
}

async fn migrate_without_webdesk_tables_explains(backend: Backend) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let db = TestDatabase::create(backend, dir.path());
    db.execute("CREATE TABLE unrelated (x INTEGER)");
    let binary = PhotoSync::locate();

    let output = binary.run(dir.path(), &["db", "migrate", "--database", &db.url()], &[]).await;

    assert_eq!(output.status, 1, "{}", output.stderr);
    assert!(output.stderr.contains("persons"), "names the missing table: {}", output.stderr);
    assert!(output.stderr.contains("--with-webdesk-schema"), "names the fix: {}", output.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_never_creates_mistyped_file() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("webdsek.db");
    let url = format!("sqlite://{}", path.display());

    let output = PhotoSync::locate().run(dir.path(), &["db", "migrate", "--database", &url], &[]).await;

    assert_eq!(output.status, 1, "{}", output.stderr);
    assert!(output.stderr.contains("not found"), "{}", output.stderr);
    assert!(!path.exists(), "no empty file is left behind");
}

on_both_backends!(migrate_keeps_existing_webdesk_tables, migrate_without_webdesk_tables_explains);
