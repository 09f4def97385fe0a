//! Microsoft Graph adapter of the photo sync: implements [`PhotoSource`] by reading
//! profile photos and their ETags with an app-only token (client credentials flow).
//!
//! Each call sends one request per account, up to `max_concurrency` at a time, and returns
//! the results in the order of the accounts. A user without a photo is
//! [`GraphObservation::NoPhoto`] and not a failure. A failure of one person is a
//! [`PhotoFailure`], and only a missing token fails the whole call with a [`SourceError`].
//!
//! Code map: `settings` validates the configuration, `credential` gets tokens,
//! `request` sends photo requests, `retry` computes the waits while Graph throttles, and
//! `response` interprets Graph's responses.

mod credential;
mod request;
mod response;
mod retry;
mod settings;

use std::fmt;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use photo_sync_domain::MicrosoftAccount;
use photo_sync_domain::decision::GraphObservation;
use photo_sync_domain::ports::{Download, PhotoFailure, PhotoSource, SourceError};

pub use retry::RetryPolicy;
pub use settings::{DEFAULT_AUTHORITY_HOST, DEFAULT_BASE_URL, DEFAULT_MAX_CONCURRENCY, GraphSettings, SettingsError};

use crate::credential::TokenSource;
use crate::request::{GraphResponse, PhotoClient, PhotoResource};
use crate::settings::is_loopback;

/// Maximum time for one request, from connecting until the whole body is read.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Maximum time to establish a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads profile photos from Microsoft Graph.
pub struct GraphPhotoSource {
    client: PhotoClient,
    max_concurrency: usize,
    tenant_id: String,
    client_id: String,
}

impl fmt::Debug for GraphPhotoSource {
    // Hand-written so that the output shows the endpoint and ids, and never the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphPhotoSource")
            .field("base_url", &self.client.base_url.as_str())
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("max_concurrency", &self.max_concurrency)
            .field("retry", &self.client.retry)
            .field("request_timeout", &self.client.request_timeout)
            .finish_non_exhaustive()
    }
}

impl GraphPhotoSource {
    /// Validates the settings and creates the HTTP client and the credential. No request
    /// is sent until the first call.
    pub fn new(settings: GraphSettings) -> Result<Self, SettingsError> {
        let settings = settings.validate()?;

        // A loopback simulator must be reached directly, never through a proxy from the
        // environment.
        let mut builder =
            reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT).redirect(reqwest::redirect::Policy::none());
        if is_loopback(&settings.base_url) {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| SettingsError::HttpClient { reason: e.to_string() })?;

        let loopback_client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(DEFAULT_REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| SettingsError::HttpClient { reason: e.to_string() })?;
        let tokens = TokenSource::new(&settings, &loopback_client)?;

        let client = PhotoClient {
            http,
            base_url: settings.base_url,
            tokens,
            retry: RetryPolicy::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        };
        Ok(Self {
            client,
            max_concurrency: settings.max_concurrency,
            tenant_id: settings.tenant_id,
            client_id: settings.client_id,
        })
    }

    /// Replaces the retry policy for throttled requests.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.client.retry = retry;
        self
    }

    /// Replaces the maximum time of one photo request, [`DEFAULT_REQUEST_TIMEOUT`] unless set.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.client.request_timeout = timeout;
        self
    }

    /// Reads one resource for every account, up to `max_concurrency` requests at a time,
    /// and returns the interpreted results in the order of `accounts`.
    ///
    /// The first token failure ends the call, and requests still running are dropped.
    async fn fetch_all<T>(
        &self,
        accounts: &[MicrosoftAccount],
        resource: PhotoResource,
        interpret: fn(&MicrosoftAccount, GraphResponse) -> Result<T, PhotoFailure>,
    ) -> Result<Vec<Result<T, PhotoFailure>>, SourceError> {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }

        // Getting the token once up front makes a wrong secret fail the call before any
        // photo request, and the parallel requests then find it in the cache.
        self.client.tokens.bearer_token().await?;

        let mut results: Vec<Option<Result<T, PhotoFailure>>> = accounts.iter().map(|_| None).collect();
        // The futures are collected first because a closure inside the stream would make
        // the compiler unable to prove the whole future `Send`. They start only when polled.
        let requests: Vec<_> = accounts
            .iter()
            .enumerate()
            .map(|(index, account)| async move { (index, account, self.client.fetch(account, resource).await) })
            .collect();
        let mut responses = stream::iter(requests).buffer_unordered(self.max_concurrency);

        while let Some((index, account, fetched)) = responses.next().await {
            results[index] = Some(fetched?.and_then(|response| interpret(account, response)));
        }

        let results = results.into_iter().map(|result| result.expect("every account got a result")).collect();
        Ok(results)
    }
}

impl PhotoSource for GraphPhotoSource {
    async fn observe(
        &self,
        accounts: &[MicrosoftAccount],
    ) -> Result<Vec<Result<GraphObservation, PhotoFailure>>, SourceError> {
        self.fetch_all(accounts, PhotoResource::Metadata, response::interpret_metadata).await
    }

    async fn download(
        &self,
        accounts: &[MicrosoftAccount],
    ) -> Result<Vec<Result<Download, PhotoFailure>>, SourceError> {
        self.fetch_all(accounts, PhotoResource::Value, response::interpret_value).await
    }
}

/// Formats an error with its causes, which hold the actual reason (such as "connection
/// refused") behind a generic "error sending request". Causes that the text already
/// contains are left out.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
