//! A wiremock server that issues tokens and responds like Graph, and helpers to build the
//! adapter against it.

use std::time::Duration;

use photo_sync_domain::MicrosoftAccount;
use photo_sync_graph::{GraphPhotoSource, GraphSettings, RetryPolicy};
use serde_json::{Value, json};
use wiremock::matchers::{any, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const TENANT_ID: &str = "contoso.onmicrosoft.com";
pub const CLIENT_ID: &str = "7d4f1c2a-0b3e-4c5d-9e6f-112233445566";
pub const CLIENT_SECRET: &str = "Xy7~q-secret-value.4bN";
pub const ACCESS_TOKEN: &str = "eyJ0eXAi.test-access-token";

/// An object id of a member user.
pub const OBJECT_ID: &str = "9f1c3c8e-2a8b-4d2c-9a43-3f8d6f1f2b7e";

/// Retries without noticeable waits, for tests that do not look at the wait itself.
pub const FAST_RETRY: RetryPolicy =
    RetryPolicy { max_retries: 3, initial_backoff: Duration::from_millis(1), max_wait: Duration::from_secs(1) };

/// Starts a server that issues `ACCESS_TOKEN` to the test app and responds with 418 to
/// every request that no test mock matches. A request the test did not plan for thus
/// never passes as a 404 "no photo".
pub async fn start_graph() -> MockServer {
    let server = MockServer::start().await;
    mount_token_endpoint(&server).await;

    Mock::given(any())
        .respond_with(ResponseTemplate::new(418).set_body_string("no mock matched this request"))
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

pub async fn mount_token_endpoint(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT_ID}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer",
            "expires_in": 3600,
            "ext_expires_in": 3600,
            "access_token": ACCESS_TOKEN,
        })))
        .named("token endpoint")
        .mount(server)
        .await;
}

/// Settings that use `server` as both Graph and the token authority.
pub fn settings(server: &MockServer) -> GraphSettings {
    GraphSettings {
        base_url: server.uri(),
        authority_host: server.uri(),
        ..GraphSettings::new(TENANT_ID, CLIENT_ID, CLIENT_SECRET)
    }
}

pub fn source(server: &MockServer) -> GraphPhotoSource {
    GraphPhotoSource::new(settings(server)).expect("the test settings are valid")
}

pub fn object_id(id: &str) -> MicrosoftAccount {
    MicrosoftAccount::ObjectId(id.to_owned())
}

/// Path of the metadata of `encoded_key`, which must be percent-encoded already.
pub fn metadata_path(encoded_key: &str) -> String {
    format!("/v1.0/users/{encoded_key}/photo")
}

/// Path of the bytes of `encoded_key`, which must be percent-encoded already.
pub fn value_path(encoded_key: &str) -> String {
    format!("/v1.0/users/{encoded_key}/photo/$value")
}

/// Starts a mock of a Graph GET request for `request_path` that carries the test token.
pub fn graph_get(request_path: String) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(request_path))
        .and(header("authorization", format!("Bearer {ACCESS_TOKEN}").as_str()))
}

/// Builds a Graph error body as documented, with a request id inside `innerError`.
pub fn graph_error(code: &str, request_id: &str) -> Value {
    json!({
        "error": {
            "code": code,
            "message": "a message that the adapter must not branch on",
            "innerError": {
                "date": "2025-06-02T07:10:14",
                "request-id": request_id,
                "client-request-id": request_id,
            }
        }
    })
}

/// Metadata of a 240x240 JPEG photo.
pub fn photo_metadata(etag: &str) -> Value {
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('9f1c3c8e')/photo/$entity",
        "@odata.mediaContentType": "image/jpeg",
        "@odata.mediaEtag": etag,
        "id": "240X240",
        "height": 240,
        "width": 240,
    })
}

/// Reads a photo from the workspace's shared fixtures.
pub fn fixture_photo(name: &str) -> Vec<u8> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/photos").join(name);
    std::fs::read(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()))
}

/// Replaces the random port of `server` in `text`, so that snapshots stay stable.
pub fn without_port(text: &str, server: &MockServer) -> String {
    text.replace(&server.address().port().to_string(), "[port]")
}

/// Counts the requests the server received for `request_path`.
pub async fn count_requests(server: &MockServer, request_path: &str) -> usize {
    let requests = server.received_requests().await.expect("request recording is on");
    requests.iter().filter(|request| request.url.path() == request_path).count()
}
