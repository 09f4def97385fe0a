//! Photo requests to Graph: the URL of each resource, sending one request with the bearer
//! token and a timeout, and retrying it while Graph throttles.
//!
//! A request ends in a [`GraphResponse`] that contains only what the interpretation in
//! `response.rs` needs. A later `POST /v1.0/$batch` sender can build the same value from
//! each item of a batch response, because each item has a status, headers and a body.
//! The relative URL from [`PhotoResource::relative_url`] is what a batch item takes as
//! its `url`.

use std::time::Duration;

use photo_sync_domain::MicrosoftAccount;
use photo_sync_domain::ports::{FailureKind, PhotoFailure, SourceError};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use url::Url;

use crate::credential::TokenSource;
use crate::error_chain;
use crate::response;
use crate::retry::{RetryPolicy, is_retried};

/// The Graph API version all requests use.
const API_VERSION: &str = "v1.0";

/// Maximum response body in bytes. A profile photo is far smaller, so a longer body is
/// not a photo and is not read into memory.
const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

/// The part of a user's photo that a request reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PhotoResource {
    /// `/users/{key}/photo`: metadata of the largest photo, with its ETag.
    Metadata,
    /// `/users/{key}/photo/$value`: the photo bytes.
    Value,
}

impl PhotoResource {
    /// Returns the URL relative to the API version root, such as
    /// `/users/a%23EXT%23@contoso.onmicrosoft.com/photo`.
    ///
    /// The account key is percent-encoded as one path segment. This matters for guest
    /// user principal names, whose `#EXT#` would otherwise start a URL fragment. A key
    /// that cannot be a path segment is rejected as `BadRequest`.
    pub(crate) fn relative_url(self, account: &MicrosoftAccount) -> Result<String, PhotoFailure> {
        let key = account.as_graph_key();
        // The URL standard treats `.` and `..` as steps to the current and parent folder,
        // so such a key would address another resource, such as `/users/photo`.
        if matches!(key.trim(), "" | "." | "..") {
            return Err(PhotoFailure {
                kind: FailureKind::BadRequest,
                message: format!(
                    "the linked Microsoft account {key:?} is not a valid object id or user principal name, so no request was sent. Fix entra_object_id or entra_user_principal_name in the person master"
                ),
            });
        }

        let mut url = Url::parse("https://graph.invalid/").expect("the fixed URL parses");
        {
            let mut segments = url.path_segments_mut().expect("an https URL has path segments");
            segments.pop_if_empty().extend(["users", key, "photo"]);
            if self == Self::Value {
                segments.push("$value");
            }
        }
        Ok(url.path().to_owned())
    }
}

/// A Graph response reduced to what the interpretation needs.
#[derive(Debug, Clone)]
pub(crate) struct GraphResponse {
    pub(crate) status: StatusCode,
    /// The `ETag` header, which `$value` responses carry.
    pub(crate) etag: Option<String>,
    /// The `request-id` header, which Microsoft support needs to trace a request.
    pub(crate) request_id: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// A Graph response with the headers the retry loop reads.
struct Attempt {
    response: GraphResponse,
    retry_after: Option<String>,
}

/// Sends photo requests to one Graph endpoint.
#[derive(Debug)]
pub(crate) struct PhotoClient {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: Url,
    pub(crate) tokens: TokenSource,
    pub(crate) retry: RetryPolicy,
    pub(crate) request_timeout: Duration,
}

impl PhotoClient {
    /// Reads one resource of one account, retrying while Graph throttles. The outer error
    /// means no token could be had, which ends the whole call.
    pub(crate) async fn fetch(
        &self,
        account: &MicrosoftAccount,
        resource: PhotoResource,
    ) -> Result<Result<GraphResponse, PhotoFailure>, SourceError> {
        let relative_url = match resource.relative_url(account) {
            Ok(relative_url) => relative_url,
            Err(failure) => return Ok(Err(failure)),
        };
        let url = self.absolute_url(&relative_url);
        let mut retries = 0;

        loop {
            let token = self.tokens.bearer_token().await?;
            let attempt = match self.send_once(&url, token.secret()).await {
                Ok(attempt) => attempt,
                Err(failure) => return Ok(Err(failure)),
            };

            let status = attempt.response.status;
            if !is_retried(status) {
                return Ok(Ok(attempt.response));
            }
            if retries >= self.retry.max_retries {
                return Ok(Err(response::still_unavailable(&attempt.response, retries)));
            }

            retries += 1;
            let wait = self.retry.wait_before(retries, attempt.retry_after.as_deref());
            let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            tracing::warn!(
                graph.status = status.as_u16(),
                graph.request_id = attempt.response.request_id.as_deref().unwrap_or(""),
                wait_ms,
                attempt = retries,
                max_retries = self.retry.max_retries,
                "Microsoft Graph responded {status} to a photo request, retrying in {wait_ms} ms (retry {retries} of {})",
                self.retry.max_retries,
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn absolute_url(&self, relative_url: &str) -> Url {
        let mut url = self.base_url.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        // `relative_url` is already encoded, so it is appended as a path and not pushed
        // as segments, which would encode its `%` again.
        url.set_path(&format!("{base_path}/{API_VERSION}{relative_url}"));
        url
    }

    async fn send_once(&self, url: &Url, token: &str) -> Result<Attempt, PhotoFailure> {
        let result = self.http.get(url.clone()).bearer_auth(token).timeout(self.request_timeout).send().await;
        let mut http_response = result.map_err(|e| self.transport_failure(&e))?;

        let status = http_response.status();
        let headers = http_response.headers().clone();

        let mut body = Vec::new();
        while let Some(chunk) = http_response.chunk().await.map_err(|e| self.transport_failure(&e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(response::body_too_large(status, header(&headers, "request-id"), MAX_BODY_BYTES));
            }
            body.extend_from_slice(&chunk);
        }

        let response =
            GraphResponse { status, etag: header(&headers, "etag"), request_id: header(&headers, "request-id"), body };
        Ok(Attempt { response, retry_after: header(&headers, RETRY_AFTER.as_str()) })
    }

    fn transport_failure(&self, error: &reqwest::Error) -> PhotoFailure {
        let host = self.base_url.host_str().unwrap_or("the Graph host");
        let message = if error.is_timeout() {
            format!(
                "the request to Microsoft Graph timed out after {} s. Check the network connection to {host}, then try again",
                self.request_timeout.as_secs_f64()
            )
        } else {
            format!(
                "the request to Microsoft Graph failed: {}. Check the network connection to {host} and graph.base_url",
                error_chain(error)
            )
        };
        PhotoFailure { kind: FailureKind::Transport, message }
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_url_encodes_guest_upn() {
        let account = MicrosoftAccount::UserPrincipalName("ada_example.com#EXT#@contoso.onmicrosoft.com".into());
        assert_eq!(
            PhotoResource::Metadata.relative_url(&account),
            Ok("/users/ada_example.com%23EXT%23@contoso.onmicrosoft.com/photo".to_owned())
        );
        assert_eq!(
            PhotoResource::Value.relative_url(&account),
            Ok("/users/ada_example.com%23EXT%23@contoso.onmicrosoft.com/photo/$value".to_owned())
        );
    }

    #[test]
    fn relative_url_keeps_key_in_one_segment() {
        let account = MicrosoftAccount::UserPrincipalName("a/b?c%d e".into());
        assert_eq!(PhotoResource::Metadata.relative_url(&account), Ok("/users/a%2Fb%3Fc%25d%20e/photo".to_owned()));
    }

    #[test]
    fn relative_url_of_object_id() {
        let account = MicrosoftAccount::ObjectId("9f1c3c8e-2a8b-4d2c-9a43-3f8d6f1f2b7e".into());
        assert_eq!(
            PhotoResource::Value.relative_url(&account),
            Ok("/users/9f1c3c8e-2a8b-4d2c-9a43-3f8d6f1f2b7e/photo/$value".to_owned())
        );
    }

    #[test]
    fn relative_url_rejects_dot_segments() {
        for key in ["", " ", ".", ".."] {
            let failure = PhotoResource::Metadata
                .relative_url(&MicrosoftAccount::ObjectId(key.into()))
                .expect_err("not a path segment");
            assert_eq!(failure.kind, FailureKind::BadRequest, "{key:?}");
        }
    }

    #[test]
    fn relative_url_keeps_dots_inside_key() {
        let account = MicrosoftAccount::UserPrincipalName("a..b@contoso.com".into());
        assert_eq!(PhotoResource::Metadata.relative_url(&account), Ok("/users/a..b@contoso.com/photo".to_owned()));
    }
}
