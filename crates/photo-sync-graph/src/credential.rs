//! The app-only access token for Graph: an azure_identity `ClientSecretCredential`, plus
//! a transport that lets it reach a token endpoint simulator on a loopback address.
//!
//! The credential caches the token and fetches a new one shortly before it expires, so
//! asking for the token before every request costs nothing most of the time.

use std::sync::{Arc, Mutex, PoisonError};

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::error::ErrorKind;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{
    AsyncRawResponse, ClientOptions, Context, ExponentialRetryOptions, HttpClient, Request, RetryOptions, Transport,
};
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use photo_sync_domain::ports::SourceError;
use serde::Deserialize;
use url::Url;

use crate::error_chain;
use crate::settings::{SettingsError, ValidSettings, is_loopback};

/// Gets bearer tokens for Graph and turns a failure into a [`SourceError`] that names
/// what to check.
#[derive(Debug)]
pub(crate) struct TokenSource {
    credential: Arc<ClientSecretCredential>,
    scope: String,
    tenant_id: String,
    client_id: String,
    authority_host: String,
    /// Kept only to scrub it from error messages.
    client_secret: Secret,
    token_errors: Arc<TokenErrorRecorder>,
}

impl TokenSource {
    pub(crate) fn new(settings: &ValidSettings, loopback_client: &reqwest::Client) -> Result<Self, SettingsError> {
        let credential_error = |reason: String| SettingsError::Credential {
            tenant_id: settings.tenant_id.clone(),
            client_id: settings.client_id.clone(),
            reason,
        };

        let token_errors = Arc::new(TokenErrorRecorder::default());
        let mut client_options = ClientOptions {
            per_try_policies: vec![token_errors.clone()],
            retry: token_retry_options(),
            ..ClientOptions::default()
        };
        let authority = &settings.authority_host;
        if authority.scheme() == "http" {
            // azure_identity accepts only https:// authorities. The credential gets the
            // https:// form of the loopback address, and the transport sends its request
            // to the original http:// address.
            let transport = LoopbackTransport::new(authority, loopback_client.clone()).map_err(credential_error)?;
            client_options.cloud = Some(Arc::new(custom_cloud(transport.https_origin())));
            client_options.transport = Some(Transport::new(Arc::new(transport)));
        } else {
            client_options.cloud = Some(Arc::new(custom_cloud(authority.origin().ascii_serialization())));
        }

        let credential = ClientSecretCredential::new(
            &settings.tenant_id,
            settings.client_id.clone(),
            Secret::new(settings.client_secret.clone()),
            Some(ClientSecretCredentialOptions { client_options }),
        )
        .map_err(|e| credential_error(one_line(&e.to_string())))?;

        Ok(Self {
            credential,
            scope: settings.graph_scope(),
            tenant_id: settings.tenant_id.clone(),
            client_id: settings.client_id.clone(),
            authority_host: authority.origin().ascii_serialization(),
            client_secret: Secret::new(settings.client_secret.clone()),
            token_errors,
        })
    }

    /// Returns a valid access token, from the cache when it lasts long enough.
    pub(crate) async fn bearer_token(&self) -> Result<Secret, SourceError> {
        let token = self.credential.get_token(&[self.scope.as_str()], None).await.map_err(|e| self.token_error(&e))?;
        Ok(token.token)
    }

    fn token_error(&self, error: &azure_core::Error) -> SourceError {
        let message = format!(
            "cannot get an access token for Microsoft Graph from {authority} for tenant {tenant} and client id {client}: {reason}. \
             Check graph.tenant_id, graph.client_id and graph.authority_host, and check the client secret or set AZURE_CLIENT_SECRET",
            authority = self.authority_host,
            tenant = self.tenant_id,
            client = self.client_id,
            reason = describe_token_error(error, self.token_errors.last().as_ref()),
        );

        // The reason comes from the token endpoint and from azure_identity, so make sure
        // that no echo of the secret can reach the message.
        let secret = self.client_secret.secret();
        SourceError(if secret.is_empty() { message } else { message.replace(secret, "***") })
    }
}

/// Retries of the token request on 408, 429, 500, 502, 503, 504 and connection errors.
/// The azure_core default of 8 retries within 60 s would delay the report of an
/// unreachable authority by most of a minute, and a run without a token can do nothing.
fn token_retry_options() -> RetryOptions {
    RetryOptions::exponential(ExponentialRetryOptions {
        initial_delay: azure_core::time::Duration::milliseconds(200),
        max_retries: 3,
        max_total_elapsed: azure_core::time::Duration::seconds(30),
        max_delay: azure_core::time::Duration::seconds(10),
    })
}

fn custom_cloud(authority_host: String) -> CloudConfiguration {
    let mut custom = CustomConfiguration::default();
    custom.authority_host = authority_host;
    CloudConfiguration::Custom(custom)
}

/// An OAuth error response body of the token endpoint. Both fields are empty when the
/// body is not one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct OAuthErrorBody {
    error: String,
    error_description: String,
}

/// The last error response of the token endpoint.
#[derive(Debug, Clone)]
struct TokenEndpointError {
    status: u16,
    body: OAuthErrorBody,
}

/// Records the last error response of the token endpoint for the error message.
///
/// azure_identity 1.0 reads `error_description` as a borrowed string, which fails for
/// every description with a JSON escape, such as the `\r\n` that Entra ID puts before
/// its trace ids. The credential then reports only that JSON error and drops the
/// response, so this policy keeps the server's `error` code and description.
#[derive(Debug, Default)]
struct TokenErrorRecorder {
    last: Mutex<Option<TokenEndpointError>>,
}

impl TokenErrorRecorder {
    fn last(&self) -> Option<TokenEndpointError> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn record(&self, error: Option<TokenEndpointError>) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = error;
    }
}

#[async_trait::async_trait]
impl Policy for TokenErrorRecorder {
    async fn send(&self, ctx: &Context, request: &mut Request, next: &[Arc<dyn Policy>]) -> PolicyResult {
        // A failure without a response, such as a refused connection, must not be
        // explained by the response of an earlier attempt.
        self.record(None);

        let Some((next_policy, rest)) = next.split_first() else {
            return Err(azure_core::Error::with_message(
                ErrorKind::Other,
                "the token error recorder must not be the last policy",
            ));
        };
        let response = next_policy.send(ctx, request, rest).await?;
        if response.status().is_success() {
            return Ok(response);
        }

        // The body is a stream that can be read once, so it is buffered and handed on.
        let (status, headers, body) = response.deconstruct();
        let bytes = body.collect().await?;
        let body = serde_json::from_slice::<OAuthErrorBody>(&bytes).unwrap_or_default();
        self.record(Some(TokenEndpointError { status: u16::from(status), body }));

        Ok(AsyncRawResponse::from_bytes(status, headers, bytes))
    }
}

/// Describes why no token was issued: the OAuth `error` code (such as `invalid_client`)
/// and its description when the token endpoint sent an error response, otherwise the
/// error of azure_identity with its causes.
fn describe_token_error(error: &azure_core::Error, endpoint_error: Option<&TokenEndpointError>) -> String {
    let Some(endpoint_error) = endpoint_error else {
        // The credential wraps the actual error in "ClientSecretCredential authentication
        // failed" with a link to a general troubleshooting page, so start at the cause.
        let cause = std::error::Error::source(error).unwrap_or(error);
        return one_line(&error_chain(cause));
    };

    let body = &endpoint_error.body;
    if body.error.is_empty() {
        return format!("the token endpoint returned {} without an OAuth error code", endpoint_error.status);
    }
    let mut reason = format!("the token endpoint returned {} {}", endpoint_error.status, one_line(&body.error));
    if !body.error_description.is_empty() {
        reason.push_str(&format!(" ({})", one_line(&body.error_description)));
    }
    reason
}

/// Joins the lines of a multi-line message, such as Entra ID error descriptions with
/// trace ids on lines of their own, so that a log line stays one line.
fn one_line(text: &str) -> String {
    text.split(['\r', '\n']).map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Sends the credential's token request to a loopback token endpoint over plain http.
///
/// The credential addresses the endpoint by its https:// form with the same host and port.
/// Any request for another host or port is rejected, so this transport can never send a
/// secret in the clear anywhere but to the loopback address it was built for.
#[derive(Debug)]
struct LoopbackTransport {
    client: reqwest::Client,
    host: String,
    port: u16,
}

impl LoopbackTransport {
    fn new(authority: &Url, client: reqwest::Client) -> Result<Self, String> {
        if authority.scheme() != "http" || !is_loopback(authority) {
            return Err(format!("plain http is allowed only for a loopback authority host, not {authority}"));
        }
        let host =
            authority.host_str().ok_or_else(|| format!("the authority host {authority} has no host"))?.to_owned();
        let port = authority.port_or_known_default().unwrap_or(80);
        Ok(Self { client, host, port })
    }

    /// Returns the origin the credential uses, with the port written out because 80 is
    /// not the default port of https.
    fn https_origin(&self) -> String {
        format!("https://{}:{}", self.host, self.port)
    }
}

#[async_trait::async_trait]
impl HttpClient for LoopbackTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let url = request.url();
        let expected = url.scheme() == "https"
            && url.host_str() == Some(self.host.as_str())
            && url.port_or_known_default() == Some(self.port);
        if !expected {
            return Err(azure_core::Error::with_message(
                ErrorKind::Other,
                format!(
                    "the loopback token transport sends only to {}, not to {}",
                    self.https_origin(),
                    url.origin().ascii_serialization()
                ),
            ));
        }

        let mut request = request.clone();
        let url = request.url_mut();
        // The https form drops a port of 443 as the https default, so the port is set
        // again after the scheme.
        let switched = url.set_scheme("http").is_ok() && url.set_port(Some(self.port)).is_ok();
        if !switched {
            return Err(azure_core::Error::with_message(
                ErrorKind::Other,
                "cannot rewrite the token request URL to plain http",
            ));
        }
        self.client.execute_request(&request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_entra_descriptions() {
        let description = "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nCorrelation ID: 2\r\n";
        assert_eq!(
            one_line(description),
            "AADSTS7000215: Invalid client secret provided. Trace ID: 1 Correlation ID: 2"
        );
    }

    #[test]
    fn loopback_transport_keeps_port_80() {
        let authority = Url::parse("http://127.0.0.1").expect("valid URL");
        let transport = LoopbackTransport::new(&authority, reqwest::Client::new()).expect("loopback authority");
        assert_eq!(transport.https_origin(), "https://127.0.0.1:80");
    }

    #[test]
    fn loopback_transport_rejects_remote_hosts() {
        for authority in ["http://login.example.com", "https://127.0.0.1:8443"] {
            let authority = Url::parse(authority).expect("valid URL");
            assert!(LoopbackTransport::new(&authority, reqwest::Client::new()).is_err(), "{authority}");
        }
    }

    #[tokio::test]
    async fn loopback_transport_rejects_other_targets() {
        let authority = Url::parse("http://127.0.0.1:9").expect("valid URL");
        let transport = LoopbackTransport::new(&authority, reqwest::Client::new()).expect("loopback authority");

        for target in [
            "https://login.microsoftonline.com/t/oauth2/v2.0/token",
            "https://127.0.0.1:10/t/oauth2/v2.0/token",
            "http://127.0.0.1:9/t",
        ] {
            let request = Request::new(Url::parse(target).expect("valid URL"), azure_core::http::Method::Post);
            let error =
                transport.execute_request(&request).await.expect_err("the target is not the loopback authority");
            assert!(error.to_string().contains("sends only to https://127.0.0.1:9"), "{target}: {error}");
        }
    }
}
