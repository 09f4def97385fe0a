//! Runs where persons fail, references do not resolve, or the configuration is wrong.

use photo_sync_e2e::{Backend, SimUser, fixture};

use crate::harness::{World, detail, on_both_backends, outcomes};

async fn broken_photos_keep_old_image(backend: Backend) {
    let world = World::new(backend).await;
    let old = fixture("grace-hopper-48.jpg");
    for (id, name) in [(1, "truncated.jpg"), (2, "empty.jpg"), (3, "html-error-page.jpg")] {
        world.add_linked_person(id, &format!("user{id}"));
        world.db.put_image(id, &old, "2026-11-01 10:00:00", "graph-sync", 1);
        world.graph.set_photo(&format!("object-{id}"), &format!("\"BROKEN{id}\""), fixture(name));
    }
    world.add_linked_person(4, "user4");
    world.graph.set_photo("object-4", "\"GOOD\"", fixture("grace-hopper.jpg"));
    world.write_config("overwrite", "clients = [1]");

    let (output, report) = world.run().await;

    assert_eq!(output.status, 3, "{}", output.stderr);
    assert_eq!(
        outcomes(&report),
        vec![(1, "failed".to_owned()), (2, "failed".to_owned()), (3, "failed".to_owned()), (4, "created".to_owned())],
        "the job goes on after each failure"
    );
    for id in 1..=3 {
        let image = world.db.image(id).expect("image");
        assert_eq!(image.content, old, "person {id} keeps the old image");
        assert_eq!(image.version, 1, "person {id} was not rewritten");
        let line = format!("Failed to update the photo image of person {id} (Vorname Nachname {id})");
        assert!(output.stderr.contains(&line), "log line for {id} missing: {}", output.stderr);
    }
    assert!(detail(&report, 1).contains("truncated"), "{}", detail(&report, 1));
    assert!(detail(&report, 2).contains("empty"), "{}", detail(&report, 2));
    assert!(detail(&report, 3).contains("not a JPEG or PNG"), "{}", detail(&report, 3));
}

async fn person_without_link_fails(backend: Backend) {
    let world = World::new(backend).await;
    world.db.add_person(1, 1, "anna", true, Some("  "), None);
    world.write_config("newest", "persons = [\"anna\"]");

    let (output, report) = world.run().await;

    assert_eq!(output.status, 3, "{}", output.stderr);
    assert_eq!(outcomes(&report), vec![(1, "failed".to_owned())]);
    assert!(
        output.stderr.contains("Failed to update the photo image of person 1 (Vorname Nachname 1)"),
        "{}",
        output.stderr
    );
    assert!(detail(&report, 1).contains("no linked Microsoft account"), "{}", detail(&report, 1));
}

async fn access_denied_fails_person_only(backend: Backend) {
    let world = World::new(backend).await;
    world.add_linked_person(1, "anna");
    world.add_linked_person(2, "bernd");
    world.graph.set("object-1", SimUser::Error { status: 403, code: "ErrorAccessDenied" });
    world.graph.set_photo("object-2", "\"B\"", fixture("grace-hopper.jpg"));
    world.write_config("newest", "persons = [1, 2]");

    let (output, report) = world.run().await;

    assert_eq!(output.status, 3, "{}", output.stderr);
    assert_eq!(outcomes(&report), vec![(1, "failed".to_owned()), (2, "created".to_owned())]);
    assert!(detail(&report, 1).contains("403"), "{}", detail(&report, 1));
    assert!(detail(&report, 1).contains("ProfilePhoto.Read.All"), "the fix is named: {}", detail(&report, 1));
}

async fn missing_photos_keep_webdesk_image(backend: Backend) {
    let world = World::new(backend).await;
    let old = fixture("grace-hopper-48.jpg");
    for (id, user) in [
        (1, SimUser::NoPhoto { code: "ImageNotFound" }),
        (2, SimUser::NoPhoto { code: "ErrorItemNotFound" }),
        (3, SimUser::Placeholder),
    ] {
        world.add_linked_person(id, &format!("user{id}"));
        world.db.put_image(id, &old, "2026-11-01 10:00:00", "upload", 1);
        world.graph.set(&format!("object-{id}"), user);
    }
    world.write_config("overwrite", "persons = [1, 2, 3]");

    let (output, report) = world.run().await;

    assert_eq!(output.status, 0, "{}", output.stderr);
    assert_eq!(report["counts"]["no_graph_photo"], 3);
    for id in 1..=3 {
        assert_eq!(world.db.image(id).expect("image").content, old, "person {id} keeps the Webdesk image");
    }
}

async fn unknown_user_fails_person(backend: Backend) {
    let world = World::new(backend).await;
    world.db.add_person(1, 1, "anna", true, None, Some("anna@contoso.example"));
    world.write_config("newest", "persons = [\"anna\"]");

    let (output, report) = world.run().await;

    assert_eq!(output.status, 3, "{}", output.stderr);
    assert_eq!(outcomes(&report), vec![(1, "failed".to_owned())]);
    assert!(
        world.graph.requests().iter().any(|r| r.contains("anna@contoso.example")),
        "the UPN is used when no object id is set"
    );
}

async fn unresolved_references_exit_three(backend: Backend) {
    let world = World::new(backend).await;
    world.add_linked_person(1, "anna");
    world.graph.set_photo("object-1", "\"A\"", fixture("grace-hopper-48.jpg"));
    world.write_config("newest", "persons = [\"anna\", \"nobody\"]\ngroups = [\"NOPE\"]\nclients = [\"ACME-CH\"]");

    let (output, report) = world.run().await;

    assert_eq!(output.status, 3, "{}", output.stderr);
    assert_eq!(outcomes(&report), vec![(1, "created".to_owned())], "the rest still runs");
    let references: Vec<&str> = report["unresolved"]
        .as_array()
        .expect("array")
        .iter()
        .map(|u| u["reference"].as_str().expect("reference"))
        .collect();
    assert_eq!(references, ["nobody", "NOPE", "ACME-CH"]);
    assert!(output.stderr.contains("unresolved: person \"nobody\": not found"), "{}", output.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_mode_exits_two_before_work() {
    let world = World::new(Backend::Sqlite).await;
    world.write_config("latest", "persons = [1]");

    let (output, report) = world.run().await;

    assert_eq!(output.status, 2, "{}", output.stderr);
    assert!(output.stderr.contains("invalid update mode \"latest\""), "{}", output.stderr);
    assert!(output.stderr.contains("Aktuellstes Bild verwenden"), "accepted values listed: {}", output.stderr);
    assert!(report.is_null(), "no report for a run that never started");
    assert!(world.graph.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_key_exits_two() {
    let world = World::new(Backend::Sqlite).await;
    world.write_config("newest", "persons = [1]\nincldue_inactive = true");

    let (output, _) = world.run().await;

    assert_eq!(output.status, 2, "{}", output.stderr);
    assert!(output.stderr.contains("unknown field `incldue_inactive`"), "{}", output.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_graph_rejected() {
    let world = World::new(Backend::Sqlite).await;
    let path = world.write_config("newest", "persons = [1]");
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replace(&format!("base_url = \"{}\"", world.graph.uri()), "base_url = \"http://graph.example.com\"");
    std::fs::write(&path, text).expect("write");

    let (output, _) = world.run().await;

    assert_eq!(output.status, 2, "{}", output.stderr);
    assert!(output.stderr.contains("graph.base_url"), "{}", output.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_database_exits_one() {
    let world = World::new(Backend::Sqlite).await;
    let path = world.write_config("newest", "persons = [1]");
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replace("sqlite://webdesk.db", "sqlite://missing-folder/webdesk.db");
    std::fs::write(&path, text).expect("write");

    let (output, _) = world.run().await;

    assert_eq!(output.status, 1, "{}", output.stderr);
    assert!(output.stderr.contains("missing-folder"), "the message names the path: {}", output.stderr);
}

async fn rejected_client_secret_exits_one(backend: Backend) {
    let world = World::new(backend).await;
    world.add_linked_person(1, "anna");
    world.db.put_image(1, &fixture("grace-hopper-48.jpg"), "2026-11-01 10:00:00", "upload", 1);
    world.graph.reject_client();
    world.write_config("overwrite", "persons = [1]");

    let (output, report) = world.run().await;

    assert_eq!(output.status, 1, "{}", output.stderr);
    assert!(output.stderr.contains("invalid_client"), "names the reason: {}", output.stderr);
    assert!(
        output.stderr.contains("sim-tenant") && output.stderr.contains("sim-client"),
        "names the ids: {}",
        output.stderr
    );
    assert!(report.is_null(), "no report for a run that could not use Graph");
    assert_eq!(world.db.image(1).expect("image").version, 1, "nothing was written");
    assert_eq!(world.run_history(), vec![("failed".to_owned(), Some(1))], "a failed run is recorded too");
}

async fn run_before_migrate_explains(backend: Backend) {
    let world = World::new(backend).await;
    world.db.execute("DROP TABLE photo_sync_state");
    world.add_linked_person(1, "anna");
    world.graph.set_photo("object-1", "\"A\"", fixture("grace-hopper-48.jpg"));
    world.write_config("overwrite", "persons = [1]");

    let (output, _) = world.run().await;

    assert_eq!(output.status, 1, "{}", output.stderr);
    assert!(output.stderr.contains("photo-sync db migrate"), "names the fix: {}", output.stderr);
}

on_both_backends!(
    broken_photos_keep_old_image,
    person_without_link_fails,
    access_denied_fails_person_only,
    missing_photos_keep_webdesk_image,
    unknown_user_fails_person,
    unresolved_references_exit_three,
    rejected_client_secret_exits_one,
    run_before_migrate_explains
);

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_json_lines() {
    let world = World::new(Backend::Sqlite).await;
    world.add_linked_person(1, "anna");
    world.db.add_person(2, 1, "bernd", true, None, None);
    world.graph.set_photo("object-1", "\"A\"", fixture("grace-hopper-48.jpg"));
    world.write_config("newest", "persons = [1, 2, \"nobody\"]");

    let output =
        world.binary.run(world.dir.path(), &["--log-format", "json", "run", "--config", "job.toml"], &[]).await;

    assert_eq!(output.status, 3, "{}", output.stderr);
    let lines: Vec<serde_json::Value> = output
        .stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    let failure = lines
        .iter()
        .find(|line| {
            line["message"].as_str().is_some_and(|m| m.starts_with("Failed to update the photo image of person 2"))
        })
        .expect("the failure line");
    assert_eq!(failure["person.id"], "2");
    assert_eq!(failure["level"], "WARN");
    let summary = lines.iter().find(|line| line["message"] == "Run summary").expect("the summary event");
    assert_eq!(summary["created"], 1);
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["unresolved"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_invalid_url_exits_two() {
    let dir = tempfile::tempdir().expect("temporary folder");

    let output = photo_sync_e2e::PhotoSync::locate()
        .run(dir.path(), &["db", "migrate", "--database", "mysql://x/webdesk"], &[])
        .await;

    assert_eq!(output.status, 2, "{}", output.stderr);
    assert!(output.stderr.contains("mysql://x/webdesk"), "{}", output.stderr);
}
