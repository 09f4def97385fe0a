//! Interpretation of Graph responses: metadata and bytes of a photo, "no photo", and the
//! failure kinds with messages that name the fix.
//!
//! Decisions use the status and the JSON `error.code`, never the human-readable
//! `error.message`, which Microsoft may reword at any time. Messages leave out the
//! person, which the domain adds.

use photo_sync_domain::MicrosoftAccount;
use photo_sync_domain::decision::GraphObservation;
use photo_sync_domain::photo::ETag;
use photo_sync_domain::ports::{Download, FailureKind, PhotoFailure};
use reqwest::StatusCode;
use serde::Deserialize;

use crate::request::GraphResponse;

/// The 404 code for a user that the directory does not know. Every other 404 of a photo
/// means that the user has no photo.
const UNKNOWN_USER_CODE: &str = "Request_ResourceNotFound";

/// 400 codes that Graph has sent for users without an Exchange Online mailbox.
const NO_MAILBOX_CODES: [&str; 3] =
    ["MailboxNotHostedInExchangeOnline", "MailboxNotEnabledForRESTAPI", "AuthenticationError"];

/// Metadata of `GET /users/{key}/photo`.
#[derive(Debug, Deserialize)]
struct PhotoMetadata {
    #[serde(rename = "@odata.mediaContentType")]
    content_type: Option<String>,
    #[serde(rename = "@odata.mediaEtag")]
    etag: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
}

/// The Graph error body: `{"error": {"code", "message", "innerError": {"request-id"}}}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErrorBody {
    error: GraphError,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GraphError {
    code: Option<String>,
    #[serde(rename = "innerError", alias = "innererror")]
    inner_error: Option<InnerError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InnerError {
    #[serde(rename = "request-id")]
    request_id: Option<String>,
}

/// The parts of a response that messages cite: the Graph error code and the request id.
struct ResponseDetails {
    status: StatusCode,
    code: Option<String>,
    request_id: Option<String>,
}

impl ResponseDetails {
    /// Reads the error code from the body, if it is a Graph error body, and the request
    /// id from the `request-id` header or else from the body.
    fn of(response: &GraphResponse) -> Self {
        let error = serde_json::from_slice::<ErrorBody>(&response.body).unwrap_or_default().error;
        let body_request_id = error.inner_error.and_then(|inner| inner.request_id);
        let request_id = response.request_id.clone().or(body_request_id);
        Self {
            status: response.status,
            code: error.code.as_deref().map(sanitize).filter(|code| !code.is_empty()),
            request_id: request_id.as_deref().map(sanitize).filter(|id| !id.is_empty()),
        }
    }
}

impl std::fmt::Display for ResponseDetails {
    /// Writes "403 Forbidden, code ErrorAccessDenied, request-id …", leaving out what is
    /// missing.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&status_text(self.status))?;
        if let Some(code) = &self.code {
            write!(f, ", code {code}")?;
        }
        if let Some(request_id) = &self.request_id {
            write!(f, ", request-id {request_id}")?;
        }
        Ok(())
    }
}

/// Turns the response of a metadata request into an observation.
pub(crate) fn interpret_metadata(
    account: &MicrosoftAccount,
    response: GraphResponse,
) -> Result<GraphObservation, PhotoFailure> {
    if response.status != StatusCode::OK {
        return interpret_error(account, &response).map(|NoPhoto| GraphObservation::NoPhoto);
    }

    let metadata: PhotoMetadata = serde_json::from_slice(&response.body).map_err(|e| {
        invalid_response(format!(
            "the photo metadata from Microsoft Graph is not valid JSON ({}): {e}. Check that graph.base_url points to Microsoft Graph",
            ResponseDetails::of(&response)
        ))
    })?;

    // For a user without a photo, Graph may return a 1x1 GIF placeholder whose ETag is
    // empty instead of a 404.
    let one_pixel = metadata.width == Some(1) && metadata.height == Some(1);
    let gif = metadata.content_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("image/gif"));
    if one_pixel || gif {
        return Ok(GraphObservation::NoPhoto);
    }

    let Some(etag) = metadata.etag else {
        return Err(invalid_response(format!(
            "the photo metadata from Microsoft Graph has no @odata.mediaEtag ({}). Check that graph.base_url points to Microsoft Graph",
            ResponseDetails::of(&response)
        )));
    };
    Ok(ETag::new(etag).map_or(GraphObservation::NoPhoto, GraphObservation::Photo))
}

/// Turns the response of a `$value` request into a download. The bytes are not checked
/// here, because the domain validates them from their content and not from a header.
pub(crate) fn interpret_value(account: &MicrosoftAccount, response: GraphResponse) -> Result<Download, PhotoFailure> {
    if response.status != StatusCode::OK {
        return interpret_error(account, &response).map(|NoPhoto| Download::NoPhoto);
    }
    Ok(Download::Photo { etag: response.etag.and_then(ETag::new), bytes: response.body })
}

/// The "no photo" result of a 404.
struct NoPhoto;

/// Maps a response other than 200: a 404 means no photo unless the user is unknown, and
/// everything else is a failure.
fn interpret_error(account: &MicrosoftAccount, response: &GraphResponse) -> Result<NoPhoto, PhotoFailure> {
    let details = ResponseDetails::of(response);
    let code = details.code.as_deref();

    let (kind, message) = match response.status {
        StatusCode::NOT_FOUND if code == Some(UNKNOWN_USER_CODE) => (
            FailureKind::UnknownUser,
            format!(
                "the user {} is not found in the Microsoft Entra directory ({details}). Check the object id or user principal name linked in the person master",
                sanitize(account.as_graph_key())
            ),
        ),
        StatusCode::NOT_FOUND => return Ok(NoPhoto),

        StatusCode::FORBIDDEN => (
            FailureKind::AccessDenied,
            format!(
                "access to the photo was denied by Microsoft Graph ({details}). Grant the app registration the application permission ProfilePhoto.Read.All (User.Read.All on older tenants) with admin consent"
            ),
        ),
        StatusCode::UNAUTHORIZED => (
            FailureKind::Unauthorized,
            format!(
                "the access token was rejected by Microsoft Graph ({details}). Check that graph.tenant_id and graph.authority_host belong to the same national cloud as graph.base_url"
            ),
        ),
        StatusCode::BAD_REQUEST if code.is_some_and(|c| NO_MAILBOX_CODES.contains(&c)) => (
            FailureKind::BadRequest,
            format!(
                "the photo request was rejected by Microsoft Graph with a code it sends for users without an Exchange Online mailbox ({details}). Check that the user has an Exchange Online mailbox, or maintain the photo in Webdesk"
            ),
        ),
        StatusCode::BAD_REQUEST => (
            FailureKind::BadRequest,
            format!(
                "the photo request was rejected as invalid by Microsoft Graph ({details}). Check the object id or user principal name linked in the person master"
            ),
        ),
        status if status.is_server_error() => (
            FailureKind::Unavailable,
            format!(
                "Microsoft Graph failed with a server error ({details}). Try again later, and contact Microsoft support with the request-id if it persists"
            ),
        ),
        _ => (
            FailureKind::InvalidResponse,
            format!(
                "the photo request got an unexpected response from Microsoft Graph ({details}). Check that graph.base_url points to Microsoft Graph"
            ),
        ),
    };
    Err(PhotoFailure { kind, message })
}

/// Builds the failure of a request that Graph still throttled or could not serve after
/// every retry.
pub(crate) fn still_unavailable(response: &GraphResponse, retries: u32) -> PhotoFailure {
    PhotoFailure {
        kind: FailureKind::Unavailable,
        message: format!(
            "Microsoft Graph still throttled or could not serve the photo request after {retries} retries ({}). Try again later, and lower graph.max_concurrency if this happens often",
            ResponseDetails::of(response)
        ),
    }
}

/// Builds the failure of a response body longer than `limit` bytes.
pub(crate) fn body_too_large(status: StatusCode, request_id: Option<String>, limit: usize) -> PhotoFailure {
    let details = ResponseDetails { status, code: None, request_id: request_id.as_deref().map(sanitize) };
    invalid_response(format!(
        "the response from Microsoft Graph ({details}) is longer than {limit} bytes, so it is not a profile photo. Check that graph.base_url points to Microsoft Graph"
    ))
}

fn invalid_response(message: String) -> PhotoFailure {
    PhotoFailure { kind: FailureKind::InvalidResponse, message }
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// Keeps server-provided text to one short line, so that a malformed response cannot
/// forge or flood log lines.
fn sanitize(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}
