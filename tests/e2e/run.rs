//! Runs that succeed: photos created, kept, replaced and left alone.

use photo_sync_e2e::{Backend, SimUser, VALID_PHOTOS, fixture};

use crate::harness::{World, detail, on_both_backends, outcomes};

async fn first_run_stores_every_valid_photo(backend: Backend) {
    let world = World::new(backend).await;
    for (index, name) in VALID_PHOTOS.iter().enumerate() {
        let id = 10 + i64::try_from(index).expect("small index");
        world.add_linked_person(id, &format!("user{id}"));
        world.graph.set_photo(&format!("object-{id}"), &format!("\"E{id}\""), fixture(name));
    }
    world.write_config("overwrite", "clients = [\"ACME-AT\"]");

    let (output, report) = world.run().await;

    assert_eq!(output.status, 0, "{}", output.stderr);
    assert_eq!(report["counts"]["created"], 8);
    for (index, name) in VALID_PHOTOS.iter().enumerate() {
        let id = 10 + i64::try_from(index).expect("small index");
        let image = world.db.image(id).unwrap_or_else(|| panic!("no image for {name}"));
        assert_eq!(image.content, fixture(name), "{name} stored byte for byte");
        assert_eq!(image.modified_by, "graph-sync");
        assert_eq!(image.version, 1);
        let expected_type = if name.ends_with(".png") { "image/png" } else { "image/jpeg" };
        assert_eq!(image.content_type, expected_type, "{name}");
    }
    assert!(output.stderr.contains("8 created"), "summary on stderr: {}", output.stderr);
}

async fn second_run_changes_nothing(backend: Backend) {
    let world = World::new(backend).await;
    world.add_linked_person(1, "anna");
    world.add_linked_person(2, "bernd");
    world.graph.set_photo("object-1", "\"A\"", fixture("grace-hopper.jpg"));
    world.graph.set_photo("object-2", "\"B\"", fixture("eileen-collins.png"));
    world.write_config("newest", "persons = [\"anna\", 2]");

    let (first, _) = world.run().await;
    assert_eq!(first.status, 0, "{}", first.stderr);
    world.graph.clear_requests();
    let (second, report) = world.run().await;

    assert_eq!(second.status, 0, "{}", second.stderr);
    assert_eq!(outcomes(&report), vec![(1, "unchanged".to_owned()), (2, "unchanged".to_owned())]);
    assert_eq!(world.graph.download_count(), 0, "an unchanged ETag needs no download");
    assert_eq!(world.db.image(1).expect("image").version, 1, "nothing was rewritten");
}

async fn report_shape_is_stable(backend: Backend) {
    let world = World::new(backend).await;
    world.add_linked_person(1, "anna");
    world.db.add_person(2, 1, "bernd", true, None, None);
    world.add_linked_person(3, "clara");
    world.graph.set_photo("object-1", "\"A\"", fixture("grace-hopper-48.jpg"));
    world.graph.set("object-3", SimUser::NoPhoto { code: "ImageNotFound" });
    world.write_config("newest", "persons = [\"anna\", \"bernd\", \"clara\", \"nobody\"]");

    let (output, mut report) = world.run().await;

    assert_eq!(output.status, 3, "failed persons and unresolved references: {}", output.stderr);
    for key in ["started_at", "finished_at"] {
        assert!(report[key].as_str().is_some_and(|t| t.ends_with('Z')), "{key} is UTC RFC 3339");
        report[key] = "[time]".into();
    }
    // One snapshot per backend, because insta numbers repeated assertions of one name.
    insta::with_settings!({ snapshot_suffix => format!("{backend:?}").to_lowercase() }, {
        insta::assert_json_snapshot!(report);
    });
}

async fn newest_keeps_upload_overwrite_replaces(backend: Backend) {
    let world = World::new(backend).await;
    world.add_linked_person(1, "anna");
    world.graph.set_photo("object-1", "\"A\"", fixture("grace-hopper.jpg"));
    world.write_config("newest", "persons = [\"anna\"]");
    let (first, _) = world.run().await;
    assert_eq!(first.status, 0, "{}", first.stderr);

    // Anna uploads her own photo in Webdesk after the job stored the Graph photo.
    let upload = fixture("eileen-collins-648.jpg");
    world.db.upload(1, &upload, "2026-12-04 08:15:00");
    let (kept, report) = world.run().await;
    assert_eq!(kept.status, 0, "{}", kept.stderr);
    assert_eq!(outcomes(&report), vec![(1, "kept_local".to_owned())]);
    assert_eq!(world.db.image(1).expect("image").content, upload, "the upload survives in newest mode");

    world.write_config("Mit Groupware-Bild überschreiben", "persons = [\"anna\"]");
    let (replaced, report) = world.run().await;
    assert_eq!(replaced.status, 0, "{}", replaced.stderr);
    assert_eq!(outcomes(&report), vec![(1, "updated".to_owned())]);
    let image = world.db.image(1).expect("image");
    assert_eq!(image.content, fixture("grace-hopper.jpg"), "overwrite stores the Graph photo");
    assert_eq!(image.version, 3);
    assert_eq!(image.modified_by, "graph-sync");
}

async fn upload_racing_the_job_survives(backend: Backend) {
    let world = World::new(backend).await;
    world.add_linked_person(1, "anna");
    world.db.put_image(1, &fixture("grace-hopper-48.jpg"), "2026-11-01 10:00:00", "graph-sync", 1);
    world.graph.set_photo("object-1", "\"NEW\"", fixture("grace-hopper.jpg"));

    // The upload lands after the job read the image and while it downloads the photo.
    let db = world.db.clone();
    let upload = fixture("eileen-collins-648.jpg");
    let racing_upload = upload.clone();
    world.graph.on_download("object-1", move || db.upload(1, &racing_upload, "2026-12-04 02:00:01"));
    world.write_config("overwrite", "persons = [1]");

    let (output, report) = world.run().await;

    assert_eq!(output.status, 0, "{}", output.stderr);
    assert_eq!(outcomes(&report), vec![(1, "kept_local".to_owned())]);
    assert!(detail(&report, 1).starts_with("changed during run"), "{}", detail(&report, 1));
    let image = world.db.image(1).expect("image");
    assert_eq!(image.content, upload, "the racing upload is not overwritten");
    assert_eq!(image.version, 2);
    assert_eq!(image.modified_by, "upload");
}

async fn group_selection_follows_validity(backend: Backend) {
    let world = World::new(backend).await;
    world.db.add_group(10, 1, "HR", None, None);
    for (id, name) in [(1, "anna"), (2, "bernd"), (3, "clara")] {
        world.add_linked_person(id, name);
        world.graph.set_photo(&format!("object-{id}"), &format!("\"E{id}\""), fixture("grace-hopper-48.jpg"));
    }
    world.db.execute("UPDATE persons SET active = FALSE WHERE id = 3");
    world.db.add_membership(10, 1, "2020-01-01", None);
    world.db.add_membership(10, 2, "2020-01-01", Some("2021-12-31"));
    world.db.add_membership(10, 3, "2020-01-01", None);
    world.write_config("newest", "groups = [\"ACME-AT/HR\"]");

    let (output, report) = world.run().await;

    assert_eq!(output.status, 0, "{}", output.stderr);
    assert_eq!(outcomes(&report), vec![(1, "created".to_owned())], "bernd's membership ended, clara is inactive");
}

async fn empty_selection_does_nothing(backend: Backend) {
    let world = World::new(backend).await;
    world.add_linked_person(1, "anna");
    world.write_config("newest", "");

    let (output, report) = world.run().await;

    assert_eq!(output.status, 0, "{}", output.stderr);
    assert!(output.stderr.contains("Nothing selected"), "{}", output.stderr);
    assert_eq!(report["counts"]["targets"], 0);
    assert!(world.graph.requests().is_empty(), "Graph is not contacted: {:?}", world.graph.requests());
}

on_both_backends!(
    first_run_stores_every_valid_photo,
    second_run_changes_nothing,
    report_shape_is_stable,
    newest_keeps_upload_overwrite_replaces,
    upload_racing_the_job_survives,
    group_selection_follows_validity,
    empty_selection_does_nothing
);
