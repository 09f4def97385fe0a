//! Table tests of the update-mode decision: one case per row of the decision table in
//! the administrator guide (`docs/en/photo-sync.md`), evaluated in both modes.

use std::fmt::Write as _;

use photo_sync_domain::decision::{Action, Decision, GraphObservation, ModifiedBy, SyncState, WebdeskImage, decide};
use photo_sync_domain::{ETag, Outcome, UpdateMode};
use time::OffsetDateTime;
use time::macros::datetime;

const OLD_BYTES: &[u8] = b"webdesk bytes";
const GRAPH_BYTES: &[u8] = b"graph bytes";

fn etag(value: &str) -> ETag {
    ETag::new(value).expect("non-empty ETag")
}

fn image(version: i64, modified_at: OffsetDateTime, modified_by: ModifiedBy) -> WebdeskImage {
    WebdeskImage { content: OLD_BYTES.to_vec(), content_type: "image/jpeg".into(), modified_at, modified_by, version }
}

/// The job stored ETag "A" as version 3, and last looked at Graph on 1 December, 02:00 UTC.
fn state_after_job_wrote_v3(observed: &str) -> SyncState {
    SyncState {
        stored_etag: Some(etag("A")),
        written_version: Some(3),
        observed_etag: Some(etag(observed)),
        observed_at: datetime!(2026-12-01 02:00 UTC),
    }
}

struct Case {
    row: &'static str,
    graph: GraphObservation,
    webdesk: Option<WebdeskImage>,
    state: Option<SyncState>,
    downloaded: &'static [u8],
}

/// Evaluates one case the way the sync use case does: decide, and apply the downloaded
/// bytes only if the decision calls for a download.
fn evaluate(mode: UpdateMode, case: &Case) -> (bool, Outcome, Option<String>) {
    match decide(mode, &case.graph, case.webdesk.as_ref(), case.state.as_ref()) {
        Decision::Finish { outcome, detail } => (false, outcome, detail),
        Decision::Download(then) => match Decision::after_download(&then, case.downloaded, case.webdesk.as_ref()) {
            Action::Store { outcome, detail } => (true, outcome, detail.or(Some("store the Graph photo".into()))),
            Action::Finish { outcome, detail } => (true, outcome, detail),
        },
    }
}

fn cases() -> Vec<Case> {
    let graph_sync_v3 = image(3, datetime!(2026-11-30 02:00 UTC), ModifiedBy::GraphSync);
    let upload_v4_before_check = image(4, datetime!(2026-11-30 12:00 UTC), ModifiedBy::Upload);
    let upload_v4_after_check = image(4, datetime!(2026-12-02 09:30 UTC), ModifiedBy::Upload);
    let upload_no_history = image(1, datetime!(2026-11-30 12:00 UTC), ModifiedBy::Upload);

    vec![
        Case {
            row: "1 Graph has no photo",
            graph: GraphObservation::NoPhoto,
            webdesk: Some(graph_sync_v3.clone()),
            state: Some(state_after_job_wrote_v3("A")),
            downloaded: GRAPH_BYTES,
        },
        Case {
            row: "1 Graph has no photo, W absent",
            graph: GraphObservation::NoPhoto,
            webdesk: None,
            state: None,
            downloaded: GRAPH_BYTES,
        },
        Case {
            row: "2 W absent",
            graph: GraphObservation::Photo(etag("A")),
            webdesk: None,
            state: None,
            downloaded: GRAPH_BYTES,
        },
        Case {
            row: "2 W absent, state left from a deleted image",
            graph: GraphObservation::Photo(etag("A")),
            webdesk: None,
            state: Some(state_after_job_wrote_v3("A")),
            downloaded: GRAPH_BYTES,
        },
        Case {
            row: "3 G and W unchanged",
            graph: GraphObservation::Photo(etag("A")),
            webdesk: Some(graph_sync_v3.clone()),
            state: Some(state_after_job_wrote_v3("A")),
            downloaded: GRAPH_BYTES,
        },
        Case {
            row: "4 G changed, W unchanged",
            graph: GraphObservation::Photo(etag("B")),
            webdesk: Some(graph_sync_v3.clone()),
            state: Some(state_after_job_wrote_v3("A")),
            downloaded: GRAPH_BYTES,
        },
        Case {
            row: "4 G changed, same bytes",
            graph: GraphObservation::Photo(etag("B")),
            webdesk: Some(graph_sync_v3.clone()),
            state: Some(state_after_job_wrote_v3("A")),
            downloaded: OLD_BYTES,
        },
        Case {
            row: "5 G unchanged, W uploaded",
            graph: GraphObservation::Photo(etag("A")),
            webdesk: Some(upload_v4_after_check.clone()),
            state: Some(state_after_job_wrote_v3("A")),
            downloaded: GRAPH_BYTES,
        },
        Case {
            row: "6 both changed, upload before last check",
            graph: GraphObservation::Photo(etag("B")),
            webdesk: Some(upload_v4_before_check.clone()),
            state: Some(state_after_job_wrote_v3("A")),
            downloaded: GRAPH_BYTES,
        },
        Case {
            row: "7 both changed, upload after last check",
            graph: GraphObservation::Photo(etag("B")),
            webdesk: Some(upload_v4_after_check.clone()),
            state: Some(state_after_job_wrote_v3("A")),
            downloaded: GRAPH_BYTES,
        },
        Case {
            row: "7 both changed, G change already seen",
            graph: GraphObservation::Photo(etag("B")),
            webdesk: Some(upload_v4_before_check.clone()),
            state: Some(state_after_job_wrote_v3("B")),
            downloaded: GRAPH_BYTES,
        },
        Case {
            row: "7 no state, upload, bytes differ",
            graph: GraphObservation::Photo(etag("A")),
            webdesk: Some(upload_no_history.clone()),
            state: None,
            downloaded: GRAPH_BYTES,
        },
        Case {
            row: "7 no state, upload, same bytes",
            graph: GraphObservation::Photo(etag("A")),
            webdesk: Some(upload_no_history),
            state: None,
            downloaded: OLD_BYTES,
        },
        Case {
            row: "8 no state, W by graph-sync, bytes differ",
            graph: GraphObservation::Photo(etag("A")),
            webdesk: Some(graph_sync_v3.clone()),
            state: None,
            downloaded: GRAPH_BYTES,
        },
        Case {
            row: "8 no state, W by graph-sync, same bytes",
            graph: GraphObservation::Photo(etag("A")),
            webdesk: Some(graph_sync_v3),
            state: None,
            downloaded: OLD_BYTES,
        },
    ]
}

#[test]
fn decision_table_both_modes() {
    let mut table = String::new();
    for case in cases() {
        for mode in [UpdateMode::Overwrite, UpdateMode::Newest] {
            let (downloaded, outcome, detail) = evaluate(mode, &case);
            let download = if downloaded { "download" } else { "no download" };
            let detail = detail.unwrap_or_default();
            let _ = writeln!(table, "{row} | {mode} | {download} | {outcome} | {detail}", row = case.row);
        }
    }
    insta::assert_snapshot!(table);
}

#[test]
fn unchanged_needs_no_download() {
    let case = &cases()[4];
    for mode in [UpdateMode::Overwrite, UpdateMode::Newest] {
        let decision = decide(mode, &case.graph, case.webdesk.as_ref(), case.state.as_ref());
        assert_eq!(decision, Decision::Finish { outcome: Outcome::Unchanged, detail: None }, "mode {mode}");
    }
}

#[test]
fn newest_keeps_upload_after_graph_write() {
    let case = &cases()[7];
    let (downloaded, outcome, _) = evaluate(UpdateMode::Newest, case);
    assert!(!downloaded, "a kept upload needs no Graph bytes");
    assert_eq!(outcome, Outcome::KeptLocal);
}

#[test]
fn overwrite_replaces_upload() {
    let case = &cases()[7];
    let (downloaded, outcome, _) = evaluate(UpdateMode::Overwrite, case);
    assert!(downloaded);
    assert_eq!(outcome, Outcome::Updated);
}

#[test]
fn graph_newer_than_upload_wins_in_newest() {
    let case = &cases()[8];
    let (_, outcome, _) = evaluate(UpdateMode::Newest, case);
    assert_eq!(outcome, Outcome::Updated);
}

#[test]
fn upload_at_observation_time_is_kept() {
    // An upload at the very instant of the last check is not "earlier", so it stays.
    let mut case = cases().remove(8);
    if let Some(image) = case.webdesk.as_mut() {
        image.modified_at = datetime!(2026-12-01 02:00 UTC);
    }
    let (_, outcome, _) = evaluate(UpdateMode::Newest, &case);
    assert_eq!(outcome, Outcome::KeptLocal);
}

#[test]
fn times_compare_in_utc() {
    // 03:30 in Vienna (UTC+1) is 02:30 UTC, after the 02:00 UTC check: the upload is newer.
    let mut case = cases().remove(8);
    if let Some(image) = case.webdesk.as_mut() {
        image.modified_at = datetime!(2026-12-01 03:30 +01:00);
    }
    let (_, outcome, _) = evaluate(UpdateMode::Newest, &case);
    assert_eq!(outcome, Outcome::KeptLocal);

    // 02:30 in Vienna is 01:30 UTC, before the check: Graph is newer.
    if let Some(image) = case.webdesk.as_mut() {
        image.modified_at = datetime!(2026-12-01 02:30 +01:00);
    }
    let (_, outcome, _) = evaluate(UpdateMode::Newest, &case);
    assert_eq!(outcome, Outcome::Updated);
}
