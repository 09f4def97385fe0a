//! A simulated Microsoft Graph and Entra token endpoint on 127.0.0.1 (wiremock), serving
//! the documented response shapes of the photo endpoints.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The access token the simulated token endpoint issues and Graph requires.
pub const ACCESS_TOKEN: &str = "simulated-access-token";

/// What the simulated directory holds for one user key (object id or UPN).
#[derive(Debug, Clone)]
pub enum SimUser {
    /// A photo with its ETag (sent quoted, as Graph does) and bytes.
    Photo { etag: String, bytes: Vec<u8> },
    /// The user exists without a photo; the metadata call and `$value` return 404 with
    /// this error code.
    NoPhoto { code: &'static str },
    /// The user exists without a photo; the metadata call returns the 1x1 GIF stub.
    Placeholder,
    /// Every photo request fails with this status and error code.
    Error { status: u16, code: &'static str },
}

type Hook = Box<dyn Fn() + Send + Sync>;
type KeyHook = Box<dyn Fn(&str) + Send + Sync>;

#[derive(Default)]
struct State {
    users: HashMap<String, SimUser>,
    /// Hooks run right before the `$value` response of that key, to race the job.
    download_hooks: HashMap<String, Hook>,
    requests: Vec<String>,
    /// Whether the token endpoint rejects the client, as Entra does for a wrong secret.
    reject_client: bool,
    /// Hook run before every `$value` response, with the user key.
    every_download_hook: Option<KeyHook>,
    /// Delay of every `$value` response, so a run lasts long enough to race.
    download_delay: Option<std::time::Duration>,
}

/// The simulator. Dropping it stops the server.
pub struct GraphSim {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for GraphSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphSim").field("uri", &self.server.uri()).finish()
    }
}

impl GraphSim {
    /// Starts the simulator on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let server = MockServer::builder().start().await;
        let state = Arc::new(Mutex::new(State::default()));

        Mock::given(method("POST"))
            .and(path_regex(r"^/[^/]+/oauth2/v2\.0/token$"))
            .respond_with(TokenResponder { state: state.clone() })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/v1\.0/users/[^/]+/photo(/\$value)?$"))
            .respond_with(PhotoResponder { state: state.clone() })
            .mount(&server)
            .await;

        Self { server, state }
    }

    /// Returns the base URL, used as both `graph.base_url` and `graph.authority_host`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    pub fn set(&self, key: &str, user: SimUser) {
        self.lock().users.insert(key.to_owned(), user);
    }

    pub fn set_photo(&self, key: &str, etag: &str, bytes: Vec<u8>) {
        self.set(key, SimUser::Photo { etag: etag.to_owned(), bytes });
    }

    /// Runs `hook` with the user key before every photo download response.
    pub fn on_every_download(&self, hook: impl Fn(&str) + Send + Sync + 'static) {
        self.lock().every_download_hook = Some(Box::new(hook));
    }

    /// Delays every photo download response by `delay`.
    pub fn delay_downloads(&self, delay: std::time::Duration) {
        self.lock().download_delay = Some(delay);
    }

    /// Makes the token endpoint reject the client credentials (401 `invalid_client`).
    pub fn reject_client(&self) {
        self.lock().reject_client = true;
    }

    /// Runs `hook` each time the photo bytes of `key` are requested, before the response.
    pub fn on_download(&self, key: &str, hook: impl Fn() + Send + Sync + 'static) {
        self.lock().download_hooks.insert(key.to_owned(), Box::new(hook));
    }

    /// Request lines seen so far (`GET /v1.0/users/x/photo`, `POST /tenant/oauth2/...`).
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Counts the photo downloads (`$value`) served so far.
    pub fn download_count(&self) -> usize {
        self.requests().iter().filter(|r| r.ends_with("/$value")).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct TokenResponder {
    state: Arc<Mutex<State>>,
}

impl Respond for TokenResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        record(&self.state, request);
        if self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).reject_client {
            return ResponseTemplate::new(401).set_body_json(json!({
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.\r\nTrace ID: 00000000-0000-4000-8000-000000000002",
                "error_codes": [7000215],
            }));
        }
        let body = String::from_utf8_lossy(&request.body);
        if !body.contains("grant_type=client_credentials") {
            return ResponseTemplate::new(400).set_body_json(
                json!({"error": "unsupported_grant_type", "error_description": "AADSTS70003: simulated"}),
            );
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": ACCESS_TOKEN,
        }))
    }
}

struct PhotoResponder {
    state: Arc<Mutex<State>>,
}

impl Respond for PhotoResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        record(&self.state, request);
        let authorized = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {ACCESS_TOKEN}"));
        if !authorized {
            return graph_error(401, "InvalidAuthenticationToken");
        }

        let path = request.url.path();
        let wants_bytes = path.ends_with("/$value");
        let encoded_key = path.trim_start_matches("/v1.0/users/").split('/').next().unwrap_or_default();
        let key = percent_decode(encoded_key);

        let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if wants_bytes && let Some(hook) = state.download_hooks.get(&key) {
            hook();
        }
        if wants_bytes && let Some(hook) = &state.every_download_hook {
            hook(&key);
        }
        let delay = if wants_bytes { state.download_delay } else { None };
        let response = match state.users.get(&key) {
            None => graph_error(404, "Request_ResourceNotFound"),
            Some(SimUser::Error { status, code }) => graph_error(*status, code),
            Some(SimUser::NoPhoto { code }) => graph_error(404, code),
            Some(SimUser::Placeholder) if wants_bytes => graph_error(404, "ImageNotFound"),
            Some(SimUser::Placeholder) => ResponseTemplate::new(200).set_body_json(json!({
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('x')/photo/$entity",
                "@odata.mediaContentType": "image/gif",
                "@odata.mediaEtag": "",
                "id": "1X1",
                "width": 1,
                "height": 1,
            })),
            Some(SimUser::Photo { etag, bytes }) if wants_bytes => ResponseTemplate::new(200)
                .insert_header("ETag", etag.as_str())
                .set_body_raw(bytes.clone(), "image/jpeg"),
            Some(SimUser::Photo { etag, .. }) => ResponseTemplate::new(200).set_body_json(json!({
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('x')/photo/$entity",
                "@odata.mediaContentType": "image/jpeg",
                "@odata.mediaEtag": etag,
                "id": "648X648",
                "width": 648,
                "height": 648,
            })),
        };
        match delay {
            Some(delay) => response.set_delay(delay),
            None => response,
        }
    }
}

fn record(state: &Mutex<State>, request: &Request) {
    let line = format!("{} {}", request.method, request.url.path());
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).requests.push(line);
}

fn graph_error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {
            "code": code,
            "message": format!("Simulated Graph error {code}."),
            "innerError": {"request-id": "00000000-0000-4000-8000-000000000001", "date": "2026-12-04T02:00:00"},
        }
    }))
}

/// Decodes `%XX` escapes in one path segment (UPNs of guests contain `#`).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| segment.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}
