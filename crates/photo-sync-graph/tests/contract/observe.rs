//! `observe`: photo metadata, placeholders, "no photo" responses, account keys and order.

use std::time::{Duration, Instant};

use photo_sync_domain::ports::{FailureKind, PhotoSource};
use photo_sync_domain::{ETag, GraphObservation, MicrosoftAccount};
use photo_sync_graph::GraphPhotoSource;
use serde_json::json;
use wiremock::ResponseTemplate;

use crate::support::*;

fn etag(value: &str) -> ETag {
    ETag::new(value).expect("the test ETag is not empty")
}

#[tokio::test]
async fn observe_returns_media_etag() {
    let server = start_graph().await;
    graph_get(metadata_path(OBJECT_ID))
        .respond_with(ResponseTemplate::new(200).set_body_json(photo_metadata("\"BA09D118\"")))
        .expect(1)
        .mount(&server)
        .await;

    let results = source(&server).observe(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    assert_eq!(results, vec![Ok(GraphObservation::Photo(etag("\"BA09D118\"")))]);
}

#[tokio::test]
async fn observe_placeholders_are_no_photo() {
    let placeholders = [
        (
            "1x1 gif with empty ETag",
            json!({"@odata.mediaContentType": "image/gif", "@odata.mediaEtag": "", "id": "1X1", "width": 1, "height": 1}),
        ),
        (
            "1x1 jpeg with ETag",
            json!({"@odata.mediaContentType": "image/jpeg", "@odata.mediaEtag": "\"0001\"", "id": "1X1", "width": 1, "height": 1}),
        ),
        (
            "gif of another size",
            json!({"@odata.mediaContentType": "image/gif", "@odata.mediaEtag": "\"0002\"", "width": 48, "height": 48}),
        ),
        (
            "jpeg with empty ETag",
            json!({"@odata.mediaContentType": "image/jpeg", "@odata.mediaEtag": "", "width": 240, "height": 240}),
        ),
    ];

    for (case, body) in placeholders {
        let server = start_graph().await;
        graph_get(metadata_path(OBJECT_ID))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;

        let results = source(&server).observe(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

        assert_eq!(results, vec![Ok(GraphObservation::NoPhoto)], "{case}");
    }
}

#[tokio::test]
async fn observe_every_other_404_is_no_photo() {
    let not_found = [
        ("ImageNotFound", ResponseTemplate::new(404).set_body_json(graph_error("ImageNotFound", "r-1"))),
        ("ErrorEntityNotFound", ResponseTemplate::new(404).set_body_json(graph_error("ErrorEntityNotFound", "r-2"))),
        ("ErrorItemNotFound", ResponseTemplate::new(404).set_body_json(graph_error("ErrorItemNotFound", "r-3"))),
        ("unknown code", ResponseTemplate::new(404).set_body_json(graph_error("SomeFutureCode", "r-4"))),
        ("empty body", ResponseTemplate::new(404)),
        ("HTML body", ResponseTemplate::new(404).set_body_raw("<html><body>Not Found</body></html>", "text/html")),
    ];

    for (case, response) in not_found {
        let server = start_graph().await;
        graph_get(metadata_path(OBJECT_ID)).respond_with(response).expect(1).mount(&server).await;

        let results = source(&server).observe(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

        assert_eq!(results, vec![Ok(GraphObservation::NoPhoto)], "{case}");
    }
}

#[tokio::test]
async fn observe_unknown_user_fails() {
    let server = start_graph().await;
    graph_get(metadata_path(OBJECT_ID))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(graph_error("Request_ResourceNotFound", "5e1d6d1c-0000-4000-8000-000000000001")),
        )
        .mount(&server)
        .await;

    let results = source(&server).observe(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    let failure = results[0].clone().expect_err("an unknown user is a failure");
    assert_eq!(failure.kind, FailureKind::UnknownUser);
    insta::assert_snapshot!(failure.message);
}

#[tokio::test]
async fn observe_invalid_metadata_fails() {
    let server = start_graph().await;
    graph_get(metadata_path(OBJECT_ID))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("<html>login page</html>", "text/html")
                .insert_header("request-id", "r-html"),
        )
        .mount(&server)
        .await;
    graph_get(metadata_path("no-etag"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"@odata.mediaContentType": "image/jpeg", "width": 240, "height": 240})),
        )
        .mount(&server)
        .await;

    let results =
        source(&server).observe(&[object_id(OBJECT_ID), object_id("no-etag")]).await.expect("a token is issued");

    let not_json = results[0].clone().expect_err("HTML is not metadata");
    assert_eq!(not_json.kind, FailureKind::InvalidResponse);
    insta::assert_snapshot!("observe_html_metadata", not_json.message);

    let no_etag = results[1].clone().expect_err("metadata without an ETag is unusable");
    assert_eq!(no_etag.kind, FailureKind::InvalidResponse);
    insta::assert_snapshot!("observe_metadata_without_etag", no_etag.message);
}

#[tokio::test]
async fn observe_prefers_object_id() {
    let server = start_graph().await;
    graph_get(metadata_path(OBJECT_ID))
        .respond_with(ResponseTemplate::new(200).set_body_json(photo_metadata("\"A1\"")))
        .expect(1)
        .mount(&server)
        .await;

    let account = MicrosoftAccount::from_columns(Some(OBJECT_ID), Some("ada@contoso.com")).expect("linked");
    let results = source(&server).observe(&[account]).await.expect("a token is issued");

    assert_eq!(results, vec![Ok(GraphObservation::Photo(etag("\"A1\"")))]);
    assert_eq!(count_requests(&server, &metadata_path("ada@contoso.com")).await, 0);
}

#[tokio::test]
async fn observe_encodes_guest_upn() {
    let server = start_graph().await;
    let encoded = "ada_example.com%23EXT%23@contoso.onmicrosoft.com";
    graph_get(metadata_path(encoded))
        .respond_with(ResponseTemplate::new(200).set_body_json(photo_metadata("\"G1\"")))
        .expect(1)
        .mount(&server)
        .await;

    let guest = MicrosoftAccount::UserPrincipalName("ada_example.com#EXT#@contoso.onmicrosoft.com".into());
    let results = source(&server).observe(&[guest]).await.expect("a token is issued");

    assert_eq!(results, vec![Ok(GraphObservation::Photo(etag("\"G1\"")))]);
}

#[tokio::test]
async fn observe_keeps_input_order_under_concurrency() {
    let server = start_graph().await;
    let delay = Duration::from_millis(300);
    let keys: Vec<String> = (0..8).map(|i| format!("user-{i}")).collect();
    for (i, key) in keys.iter().enumerate() {
        // Earlier accounts respond later, so completion order is the reverse of the input
        // order within each group of parallel requests.
        let extra = Duration::from_millis(20 * (8 - i as u64));
        graph_get(metadata_path(key))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(photo_metadata(&format!("\"E{i}\""))).set_delay(delay + extra),
            )
            .expect(1)
            .mount(&server)
            .await;
    }

    let settings = photo_sync_graph::GraphSettings { max_concurrency: 4, ..settings(&server) };
    let source = GraphPhotoSource::new(settings).expect("valid settings");
    let accounts: Vec<MicrosoftAccount> = keys.iter().map(|key| object_id(key)).collect();

    let started = Instant::now();
    let results = source.observe(&accounts).await.expect("a token is issued");
    let elapsed = started.elapsed();

    let expected: Vec<_> = (0..8).map(|i| Ok(GraphObservation::Photo(etag(&format!("\"E{i}\""))))).collect();
    assert_eq!(results, expected);
    // Two rounds of 4 parallel requests take at least 2 delays, and one request at a
    // time would take 8.
    assert!(elapsed >= delay * 2, "more than 4 requests ran at once: {elapsed:?}");
    assert!(elapsed < delay * 6, "requests did not run in parallel: {elapsed:?}");
}

#[tokio::test]
async fn observe_mixed_results_per_account() {
    let server = start_graph().await;
    graph_get(metadata_path("with-photo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(photo_metadata("\"P\"")))
        .mount(&server)
        .await;
    graph_get(metadata_path("without-photo"))
        .respond_with(ResponseTemplate::new(404).set_body_json(graph_error("ImageNotFound", "r")))
        .mount(&server)
        .await;
    graph_get(metadata_path("unknown"))
        .respond_with(ResponseTemplate::new(404).set_body_json(graph_error("Request_ResourceNotFound", "r")))
        .mount(&server)
        .await;

    let accounts = [object_id("unknown"), object_id("with-photo"), object_id("without-photo")];
    let results = source(&server).observe(&accounts).await.expect("a token is issued");

    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().map_err(|f| f.kind), Err(FailureKind::UnknownUser));
    assert_eq!(results[1], Ok(GraphObservation::Photo(etag("\"P\""))));
    assert_eq!(results[2], Ok(GraphObservation::NoPhoto));
}

#[tokio::test]
async fn observe_base_url_with_path() {
    let server = start_graph().await;
    graph_get(format!("/graph{}", metadata_path(OBJECT_ID)))
        .respond_with(ResponseTemplate::new(200).set_body_json(photo_metadata("\"P1\"")))
        .expect(1)
        .mount(&server)
        .await;
    let settings =
        photo_sync_graph::GraphSettings { base_url: format!("{}/graph/", server.uri()), ..settings(&server) };
    let source = GraphPhotoSource::new(settings).expect("valid settings");

    let results = source.observe(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    assert_eq!(results, vec![Ok(GraphObservation::Photo(etag("\"P1\"")))]);
}
