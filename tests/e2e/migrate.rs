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

/// PostgreSQL only: the job runs as a user with exactly the privileges the guide lists.
#[tokio::test(flavor = "multi_thread")]
async fn documented_privileges_suffice() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let owner_url = photo_sync_e2e::postgres::create_database(&photo_sync_e2e::postgres::shared_admin_url(), "grants");
    let owner = TestDatabase::postgres(&owner_url);
    let binary = PhotoSync::locate();
    let migrated =
        binary.run(dir.path(), &["db", "migrate", "--database", &owner_url, "--with-webdesk-schema"], &[]).await;
    assert_eq!(migrated.status, 0, "{}", migrated.stderr);

    // The statements of the administrator guide, with a role name unique to this test.
    let role = format!("photo_sync_{}", std::process::id());
    owner.execute(&format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} LOGIN; END IF; END $$;
         GRANT SELECT ON clients, persons, groups, group_memberships TO {role};
         GRANT SELECT, INSERT, UPDATE ON person_images TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON photo_sync_state, photo_sync_lease, photo_sync_runs TO {role};
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role};"
    ));
    owner.add_client(1, "ACME-AT");
    owner.add_person(1, 1, "anna", true, Some("object-1"), None);
    let graph = photo_sync_e2e::GraphSim::start().await;
    graph.set_photo("object-1", "\"A\"", photo_sync_e2e::fixture("grace-hopper-48.jpg"));

    let job_url = owner_url.replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    let config = format!(
        "mode = \"overwrite\"\npersons = [1]\n\n[database]\nurl = \"{job_url}\"\n\n[graph]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\nbase_url = \"{uri}\"\nauthority_host = \"{uri}\"\n",
        uri = graph.uri()
    );
    std::fs::write(dir.path().join("job.toml"), config).expect("write job.toml");

    for round in ["first", "second"] {
        let output = binary.run(dir.path(), &["run", "--config", "job.toml"], &[]).await;
        assert_eq!(output.status, 0, "{round} run as {role}: {}", output.stderr);
    }
    assert_eq!(owner.image(1).expect("image").modified_by, "graph-sync");
}
