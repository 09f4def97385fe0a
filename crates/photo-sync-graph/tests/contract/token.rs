//! The app-only token: the request to the token endpoint, caching, the bearer header and
//! token failures.

use photo_sync_domain::GraphObservation;
use photo_sync_domain::ports::PhotoSource;
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

#[tokio::test]
async fn token_request_uses_client_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT_ID}/oauth2/v2.0/token")))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains(format!("client_id={CLIENT_ID}").as_str()))
        .and(body_string_contains("scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"token_type": "Bearer", "expires_in": 3600, "access_token": ACCESS_TOKEN})),
        )
        .expect(1)
        .mount(&server)
        .await;
    graph_get(metadata_path(OBJECT_ID))
        .respond_with(ResponseTemplate::new(200).set_body_json(photo_metadata("\"T\"")))
        .expect(1)
        .mount(&server)
        .await;

    let results = source(&server).observe(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    assert!(matches!(results[0], Ok(GraphObservation::Photo(_))), "{results:?}");
}

#[tokio::test]
async fn token_is_cached_across_calls() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT_ID}/oauth2/v2.0/token")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"token_type": "Bearer", "expires_in": 3600, "access_token": ACCESS_TOKEN})),
        )
        .expect(1)
        .mount(&server)
        .await;
    for i in 0..6 {
        graph_get(metadata_path(&format!("user-{i}"))).respond_with(ResponseTemplate::new(404)).mount(&server).await;
    }
    let source = source(&server);
    let first: Vec<_> = (0..3).map(|i| object_id(&format!("user-{i}"))).collect();
    let second: Vec<_> = (3..6).map(|i| object_id(&format!("user-{i}"))).collect();

    source.observe(&first).await.expect("a token is issued");
    source.observe(&second).await.expect("the token is cached");
}

#[tokio::test]
async fn bearer_token_is_sent() {
    let server = start_graph().await;
    graph_get(metadata_path(OBJECT_ID))
        .respond_with(ResponseTemplate::new(200).set_body_json(photo_metadata("\"B\"")))
        .expect(1)
        .mount(&server)
        .await;

    source(&server).observe(&[object_id(OBJECT_ID)]).await.expect("a token is issued");

    let requests = server.received_requests().await.expect("request recording is on");
    let graph_request =
        requests.iter().find(|r| r.url.path() == metadata_path(OBJECT_ID)).expect("the photo request was sent");
    let authorization = graph_request.headers.get("authorization").and_then(|v| v.to_str().ok());
    assert_eq!(authorization, Some(format!("Bearer {ACCESS_TOKEN}").as_str()));
}

#[tokio::test]
async fn empty_call_sends_nothing() {
    let server = MockServer::start().await;

    let observed = source(&server).observe(&[]).await.expect("nothing to do");
    let downloaded = source(&server).download(&[]).await.expect("nothing to do");

    assert!(observed.is_empty());
    assert!(downloaded.is_empty());
    assert_eq!(server.received_requests().await.expect("request recording is on").len(), 0);
}

#[tokio::test]
async fn invalid_client_fails_whole_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT_ID}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.\r\nTrace ID: 0f2d\r\nCorrelation ID: 8c1e\r\nTimestamp: 2025-06-02 07:10:14Z",
            "error_codes": [7000215],
            "timestamp": "2025-06-02 07:10:14Z",
            "trace_id": "0f2d",
            "correlation_id": "8c1e",
            "error_uri": "https://login.microsoftonline.com/error?code=7000215",
        })))
        .mount(&server)
        .await;

    let error = source(&server).observe(&[object_id(OBJECT_ID)]).await.expect_err("no token can be had");

    assert!(error.0.contains(TENANT_ID), "{}", error.0);
    assert!(error.0.contains(CLIENT_ID), "{}", error.0);
    assert!(!error.0.contains(CLIENT_SECRET), "{}", error.0);
    insta::assert_snapshot!(without_port(&error.0, &server));

    let requests = server.received_requests().await.expect("request recording is on");
    assert!(requests.iter().all(|r| r.url.path().ends_with("/token")), "a photo request was sent without a token");
}

#[tokio::test]
async fn token_endpoint_bad_request_fails() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT_ID}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS700016: Application with identifier '7d4f1c2a' was not found in the directory 'Contoso'.",
            "error_codes": [700016],
        })))
        .mount(&server)
        .await;

    let error = source(&server).download(&[object_id(OBJECT_ID)]).await.expect_err("no token can be had");

    assert!(error.0.contains("400 invalid_client"), "{}", error.0);
    assert!(error.0.contains("AADSTS700016"), "{}", error.0);
    assert!(!error.0.contains(CLIENT_SECRET), "{}", error.0);
}

#[tokio::test]
async fn token_endpoint_html_error_fails() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT_ID}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(404).set_body_raw("<html><body>Not Found</body></html>", "text/html"))
        .mount(&server)
        .await;

    let error = source(&server).observe(&[object_id(OBJECT_ID)]).await.expect_err("no token can be had");

    insta::assert_snapshot!(without_port(&error.0, &server));
}

#[tokio::test]
async fn unreachable_authority_fails() {
    let server = start_graph().await;
    // A port that was just free: bind it, note it and release it again.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let closed_port = listener.local_addr().expect("bound address").port();
    drop(listener);
    let settings = photo_sync_graph::GraphSettings {
        authority_host: format!("http://127.0.0.1:{closed_port}"),
        ..settings(&server)
    };
    let source = photo_sync_graph::GraphPhotoSource::new(settings).expect("valid settings");

    let error = source.observe(&[object_id(OBJECT_ID)]).await.expect_err("no token can be had");

    assert!(
        error.0.starts_with(&format!(
            "cannot get an access token for Microsoft Graph from http://127.0.0.1:{closed_port} "
        )),
        "{}",
        error.0
    );
    assert!(error.0.to_lowercase().contains("connect"), "{}", error.0);
    assert!(!error.0.contains('\n'), "{}", error.0);
    assert_eq!(count_requests(&server, &metadata_path(OBJECT_ID)).await, 0);
}

#[tokio::test]
async fn secret_echo_is_scrubbed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT_ID}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_request",
            "error_description": format!("a server that echoes the secret {CLIENT_SECRET} back"),
        })))
        .mount(&server)
        .await;

    let error = source(&server).observe(&[object_id(OBJECT_ID)]).await.expect_err("no token can be had");

    assert!(!error.0.contains(CLIENT_SECRET), "{}", error.0);
    assert!(error.0.contains("echoes the secret *** back"), "{}", error.0);
}
