//! Failures of one person: permissions, tokens, bad requests, server errors, unexpected
//! responses and the network.

use std::time::Duration;

use photo_sync_domain::ports::{FailureKind, PhotoFailure, PhotoSource};
use wiremock::ResponseTemplate;

use crate::support::*;

/// Observes `OBJECT_ID` against a Graph that returns `response` and returns the failure.
async fn observe_failure(response: ResponseTemplate) -> PhotoFailure {
    let server = start_graph().await;
    graph_get(metadata_path(OBJECT_ID)).respond_with(response).expect(1).mount(&server).await;

    let mut results = source(&server).observe(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    assert_eq!(results.len(), 1);
    results.remove(0).expect_err("the response is a failure")
}

#[tokio::test]
async fn forbidden_error_access_denied() {
    let response = ResponseTemplate::new(403)
        .set_body_json(graph_error("ErrorAccessDenied", "0a1b2c3d-0000-4000-8000-000000000403"));

    let failure = observe_failure(response).await;

    assert_eq!(failure.kind, FailureKind::AccessDenied);
    insta::assert_snapshot!(failure.message);
}

#[tokio::test]
async fn forbidden_authorization_request_denied() {
    let response = ResponseTemplate::new(403)
        .set_body_json(graph_error("Authorization_RequestDenied", "body-request-id"))
        .insert_header("request-id", "header-request-id");

    let failure = observe_failure(response).await;

    assert_eq!(failure.kind, FailureKind::AccessDenied);
    insta::assert_snapshot!(failure.message);
}

#[tokio::test]
async fn unauthorized_token_rejected() {
    let response = ResponseTemplate::new(401).set_body_json(graph_error("InvalidAuthenticationToken", "r-401"));

    let failure = observe_failure(response).await;

    assert_eq!(failure.kind, FailureKind::Unauthorized);
    insta::assert_snapshot!(failure.message);
}

#[tokio::test]
async fn bad_request_without_mailbox() {
    let response = ResponseTemplate::new(400).set_body_json(graph_error("MailboxNotHostedInExchangeOnline", "r-400"));

    let failure = observe_failure(response).await;

    assert_eq!(failure.kind, FailureKind::BadRequest);
    insta::assert_snapshot!(failure.message);
}

#[tokio::test]
async fn bad_request_mailbox_codes() {
    for code in ["MailboxNotHostedInExchangeOnline", "MailboxNotEnabledForRESTAPI", "AuthenticationError"] {
        let response = ResponseTemplate::new(400).set_body_json(graph_error(code, "r-400"));

        let failure = observe_failure(response).await;

        assert_eq!(failure.kind, FailureKind::BadRequest, "{code}");
        assert!(failure.message.contains("without an Exchange Online mailbox"), "{code}: {}", failure.message);
        assert!(failure.message.contains(&format!("code {code}")), "{code}: {}", failure.message);
    }
}

#[tokio::test]
async fn bad_request_other_code() {
    let response = ResponseTemplate::new(400).set_body_json(graph_error("Request_BadRequest", "r-400b"));

    let failure = observe_failure(response).await;

    assert_eq!(failure.kind, FailureKind::BadRequest);
    insta::assert_snapshot!(failure.message);
}

#[tokio::test]
async fn server_error_is_not_retried() {
    let response = ResponseTemplate::new(500).set_body_json(graph_error("generalException", "r-500"));

    let failure = observe_failure(response).await;

    assert_eq!(failure.kind, FailureKind::Unavailable);
    insta::assert_snapshot!(failure.message);
}

#[tokio::test]
async fn unexpected_status_is_invalid_response() {
    let response = ResponseTemplate::new(302).insert_header("location", "https://login.example.invalid/");

    let failure = observe_failure(response).await;

    assert_eq!(failure.kind, FailureKind::InvalidResponse);
    insta::assert_snapshot!(failure.message);
}

#[tokio::test]
async fn dot_segment_key_is_not_sent() {
    let server = start_graph().await;

    let results = source(&server).observe(&[object_id("..")]).await.expect("a token is issued");

    let failure = results[0].clone().expect_err("`..` is not a user");
    assert_eq!(failure.kind, FailureKind::BadRequest);
    insta::assert_snapshot!(failure.message);
    let requests = server.received_requests().await.expect("request recording is on");
    assert!(requests.iter().all(|r| r.url.path().ends_with("/token")), "a photo request was sent");
}

#[tokio::test]
async fn slow_graph_times_out() {
    let server = start_graph().await;
    graph_get(metadata_path(OBJECT_ID))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(photo_metadata("\"A\"")).set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let source = source(&server).with_request_timeout(Duration::from_millis(200));

    let results = source.observe(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    let failure = results[0].clone().expect_err("the request timed out");
    assert_eq!(failure.kind, FailureKind::Transport);
    insta::assert_snapshot!(failure.message);
}

#[tokio::test]
async fn closed_port_is_transport_failure() {
    let server = start_graph().await;
    // A port that was just free: bind it, note it and release it again.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let closed_port = listener.local_addr().expect("bound address").port();
    drop(listener);

    let settings =
        photo_sync_graph::GraphSettings { base_url: format!("http://127.0.0.1:{closed_port}"), ..settings(&server) };
    let source = photo_sync_graph::GraphPhotoSource::new(settings).expect("valid settings");

    let results = source.observe(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    let failure = results[0].clone().expect_err("nothing listens on the port");
    assert_eq!(failure.kind, FailureKind::Transport);
    assert!(failure.message.starts_with("the request to Microsoft Graph failed: "), "{}", failure.message);
    assert!(
        failure.message.contains("Check the network connection to 127.0.0.1 and graph.base_url"),
        "{}",
        failure.message
    );
}
