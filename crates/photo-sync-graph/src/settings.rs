//! Connection settings of the Graph adapter and their validation, so that a wrong URL or
//! id is reported by its configuration key before any request is sent.

use std::fmt;

use url::{Host, Url};

/// Microsoft Graph in the global cloud.
pub const DEFAULT_BASE_URL: &str = "https://graph.microsoft.com";

/// Microsoft Entra ID in the global cloud.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// Requests sent at the same time by one call. Graph has historically limited photo reads
/// to 4 concurrent requests per application and mailbox.
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;

/// The scope requested when Graph is a loopback simulator. A simulator accepts any
/// token, and Entra ID issues tokens only for registered resources such as this one.
const GLOBAL_GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

const ACCEPTED_URLS: &str = "an https:// URL, or an http:// URL of a loopback host (127.0.0.0/8, [::1] or localhost)";

/// The app registration and the endpoints the adapter reads photos with.
#[derive(Clone)]
pub struct GraphSettings {
    /// Directory (tenant) id: a GUID or a domain such as `contoso.onmicrosoft.com`.
    pub tenant_id: String,
    /// Application (client) id of the app registration.
    pub client_id: String,
    /// Client secret of the app registration. It never appears in `Debug` output,
    /// logs or error messages.
    pub client_secret: String,
    /// Graph root without the API version, [`DEFAULT_BASE_URL`] in the global cloud.
    pub base_url: String,
    /// Entra ID token authority, [`DEFAULT_AUTHORITY_HOST`] in the global cloud.
    pub authority_host: String,
    /// Maximum number of requests in flight per call, at least 1.
    pub max_concurrency: usize,
}

impl GraphSettings {
    /// Creates settings for the global cloud with the default concurrency.
    pub fn new(tenant_id: impl Into<String>, client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            authority_host: DEFAULT_AUTHORITY_HOST.to_owned(),
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
        }
    }
}

impl fmt::Debug for GraphSettings {
    // Hand-written so that the client secret never reaches a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphSettings")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("base_url", &self.base_url)
            .field("authority_host", &self.authority_host)
            .field("max_concurrency", &self.max_concurrency)
            .finish()
    }
}

/// An invalid setting, named by its configuration key, with the accepted values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid {key} {value:?}: {reason}. Expected {ACCEPTED_URLS}")]
    InvalidUrl { key: &'static str, value: String, reason: String },

    #[error("missing {key}: copy the id from the app registration in the Microsoft Entra admin center")]
    MissingId { key: &'static str },

    #[error(
        "invalid graph.tenant_id {value:?}: expected the directory (tenant) id, a GUID or a domain such as contoso.onmicrosoft.com, made of letters, digits, '.' and '-'"
    )]
    InvalidTenantId { value: String },

    #[error("missing graph.client_secret: set it, or set the AZURE_CLIENT_SECRET environment variable")]
    MissingSecret,

    #[error("invalid graph.max_concurrency 0: expected at least 1 parallel request")]
    ZeroConcurrency,

    #[error("cannot create the HTTP client for Microsoft Graph: {reason}")]
    HttpClient { reason: String },

    #[error("cannot create the client secret credential for tenant {tenant_id} and client id {client_id}: {reason}")]
    Credential { tenant_id: String, client_id: String, reason: String },
}

/// Settings after validation, with parsed URLs.
pub(crate) struct ValidSettings {
    pub(crate) tenant_id: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) base_url: Url,
    pub(crate) authority_host: Url,
    pub(crate) max_concurrency: usize,
}

impl GraphSettings {
    /// Checks every setting and parses the URLs.
    pub(crate) fn validate(self) -> Result<ValidSettings, SettingsError> {
        let base_url = parse_endpoint("graph.base_url", &self.base_url)?;
        let authority_host = parse_endpoint("graph.authority_host", &self.authority_host)?;

        // The credential always requests `/{tenant}/oauth2/v2.0/token` from the root of
        // the authority, so a path here would be dropped without notice.
        if authority_host.path() != "/" {
            return Err(invalid_url(
                "graph.authority_host",
                &self.authority_host,
                "a path is not allowed because the token endpoint is always /{tenant}/oauth2/v2.0/token",
            ));
        }

        let tenant_id = self.tenant_id.trim().to_owned();
        if tenant_id.is_empty() {
            return Err(SettingsError::MissingId { key: "graph.tenant_id" });
        }
        // azure_identity 1.0 rejects other characters too, and the value becomes a path
        // segment of the token endpoint.
        if !tenant_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
            return Err(SettingsError::InvalidTenantId { value: self.tenant_id });
        }

        let client_id = self.client_id.trim().to_owned();
        if client_id.is_empty() {
            return Err(SettingsError::MissingId { key: "graph.client_id" });
        }

        if self.client_secret.is_empty() {
            return Err(SettingsError::MissingSecret);
        }

        if self.max_concurrency == 0 {
            return Err(SettingsError::ZeroConcurrency);
        }

        Ok(ValidSettings {
            tenant_id,
            client_id,
            client_secret: self.client_secret,
            base_url,
            authority_host,
            max_concurrency: self.max_concurrency,
        })
    }
}

impl ValidSettings {
    /// Returns the `.default` scope of the Graph host in `base_url`, such as
    /// `https://graph.microsoft.us/.default` for US Government L4.
    pub(crate) fn graph_scope(&self) -> String {
        if is_loopback(&self.base_url) {
            return GLOBAL_GRAPH_SCOPE.to_owned();
        }
        format!("{}/.default", self.base_url.origin().ascii_serialization())
    }
}

/// Parses an endpoint URL: `https://` anywhere, plain `http://` only on a loopback host.
fn parse_endpoint(key: &'static str, value: &str) -> Result<Url, SettingsError> {
    let url = Url::parse(value.trim()).map_err(|e| invalid_url(key, value, &format!("not a URL ({e})")))?;

    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(invalid_url(key, value, "plain http:// is allowed only for loopback hosts")),
        other => return Err(invalid_url(key, value, &format!("the scheme {other}:// is not supported"))),
    }

    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid_url(key, value, "a user name or password in the URL is not allowed"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid_url(key, value, "a query or fragment is not allowed"));
    }
    Ok(url)
}

/// Returns whether the URL's host is `localhost` or a loopback address (127.0.0.0/8 or
/// ::1).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(address)) => address.is_loopback(),
        Some(Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

/// Builds the error with any password in `value` replaced by `***`, because the message
/// reaches logs.
fn invalid_url(key: &'static str, value: &str, reason: &str) -> SettingsError {
    let shown = match Url::parse(value.trim()) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => value.to_owned(),
    };
    SettingsError::InvalidUrl { key, value: shown, reason: reason.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(base_url: &str, authority_host: &str) -> GraphSettings {
        GraphSettings {
            base_url: base_url.to_owned(),
            authority_host: authority_host.to_owned(),
            ..GraphSettings::new("contoso.onmicrosoft.com", "client-1", "secret-1")
        }
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        let cases = [
            ("http://127.0.0.1:8080", true),
            ("http://127.1.2.3", true),
            ("http://[::1]:9000", true),
            ("http://localhost:3000", true),
            ("http://LOCALHOST", true),
            ("http://128.0.0.1", false),
            ("http://[::2]", false),
            ("http://localhost.example.com", false),
            ("http://10.0.0.1", false),
        ];
        for (url, expected) in cases {
            let parsed = Url::parse(url).expect("test URL parses");
            assert_eq!(is_loopback(&parsed), expected, "{url}");
        }
    }

    #[test]
    fn scope_follows_national_cloud() {
        let valid =
            settings("https://graph.microsoft.us/", "https://login.microsoftonline.us").validate().expect("valid");
        assert_eq!(valid.graph_scope(), "https://graph.microsoft.us/.default");

        let valid = settings("https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn")
            .validate()
            .expect("valid");
        assert_eq!(valid.graph_scope(), "https://microsoftgraph.chinacloudapi.cn/.default");
    }

    #[test]
    fn scope_of_loopback_graph_is_global() {
        let valid = settings("http://127.0.0.1:9000/graph", "http://127.0.0.1:9001").validate().expect("valid");
        assert_eq!(valid.graph_scope(), "https://graph.microsoft.com/.default");
    }

    #[test]
    fn debug_output_hides_secret() {
        let debug = format!("{:?}", GraphSettings::new("tenant-1", "client-1", "very-secret-value"));
        assert!(!debug.contains("very-secret-value"), "{debug}");
        assert!(debug.contains("client-1"), "{debug}");
    }
}
