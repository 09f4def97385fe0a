//! The job configuration file (TOML): parsing, validation and the defaults, so that every
//! mistake is reported before any work starts, naming the key and the accepted values.

use std::fmt;
use std::path::{Path, PathBuf};

use photo_sync_domain::{ClientId, ClientRef, GroupId, GroupRef, PersonId, PersonRef, Selection, UpdateMode};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// The environment variable that can carry the client secret instead of the file.
pub const CLIENT_SECRET_VARIABLE: &str = "AZURE_CLIENT_SECRET";

pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.microsoft.com";
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// An invalid configuration; the message names the file, the key and the fix.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration {path}: {message}")]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

/// The file as written, before validation. Unknown keys are rejected so a typo such as
/// `include_inactiv` never silently falls back to a default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    mode: Option<String>,
    #[serde(default)]
    persons: Vec<Reference>,
    #[serde(default)]
    groups: Vec<Reference>,
    #[serde(default)]
    clients: Vec<Reference>,
    time_zone: Option<String>,
    #[serde(default)]
    include_inactive: bool,
    database: Option<RawDatabase>,
    graph: Option<RawGraph>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGraph {
    tenant_id: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    base_url: Option<String>,
    authority_host: Option<String>,
}

impl fmt::Debug for RawGraph {
    // Hand-written so the client secret can never reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawGraph")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("base_url", &self.base_url)
            .field("authority_host", &self.authority_host)
            .finish()
    }
}

/// A reference as written: a name (string) or an id (integer).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reference {
    Id(i64),
    Name(String),
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ReferenceVisitor;

        impl Visitor<'_> for ReferenceVisitor {
            type Value = Reference;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name in quotes or a numeric id")
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Reference, E> {
                Ok(Reference::Id(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Reference, E> {
                i64::try_from(value).map(Reference::Id).map_err(|_| E::custom(format!("id {value} is too large")))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Reference, E> {
                Ok(Reference::Name(value.to_owned()))
            }
        }

        deserializer.deserialize_any(ReferenceVisitor)
    }
}

/// Graph connection settings after validation of presence; the Graph adapter checks the
/// URLs themselves.
#[derive(Clone)]
pub struct GraphConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub base_url: String,
    pub authority_host: String,
}

impl fmt::Debug for GraphConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphConfig")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("base_url", &self.base_url)
            .field("authority_host", &self.authority_host)
            .finish()
    }
}

/// Everything `photo-sync run` needs, validated.
#[derive(Debug, Clone)]
pub struct JobConfig {
    pub mode: UpdateMode,
    pub selection: Selection,
    /// The configured zone, or the machine's local zone.
    pub time_zone: jiff::tz::TimeZone,
    pub database_url: String,
    pub graph: GraphConfig,
}

/// A parsed file, validated lazily so `db migrate` needs only the `[database]` table.
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
    raw: RawConfig,
}

impl ConfigFile {
    /// Reads and parses the file; syntax errors and unknown keys fail here.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_owned(),
            message: format!("cannot read the file: {e}; pass the path of the job configuration with --config"),
        })?;
        let raw: RawConfig = toml::from_str(&text)
            .map_err(|e| ConfigError { path: path.to_owned(), message: format_toml_error(&e, &text) })?;
        Ok(Self { path: path.to_owned(), raw })
    }

    fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError { path: self.path.clone(), message: message.into() }
    }

    /// Returns the database URL, with a relative SQLite path taken relative to the file's folder
    /// so the job finds the same database whatever directory a scheduler starts it in.
    pub fn database_url(&self) -> Result<String, ConfigError> {
        let url = self
            .raw
            .database
            .as_ref()
            .and_then(|d| d.url.as_deref())
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| self.error("missing key `database.url`: set it to sqlite://PATH (for example sqlite://webdesk.db) or postgres://USER@HOST/DATABASE"))?;
        let known = ["sqlite:", "postgres://", "postgresql://"];
        if !known.iter().any(|scheme| url.starts_with(scheme)) {
            return Err(self.error(format!(
                "key `database.url`: invalid URL {:?}: expected sqlite://PATH or postgres://USER@HOST/DATABASE",
                redact_password(url)
            )));
        }
        let base = self.path.parent().unwrap_or(Path::new("."));
        Ok(resolve_sqlite_path(url, base))
    }

    /// Validates everything `run` needs. `secret_from_env` is the value of
    /// [`CLIENT_SECRET_VARIABLE`], passed in so tests need not touch the environment.
    pub fn job(&self, secret_from_env: Option<String>) -> Result<JobConfig, ConfigError> {
        let mode = match self.raw.mode.as_deref() {
            None => return Err(self.error(format!("missing key `mode`: set it to {}", UpdateMode::ACCEPTED))),
            Some(value) => value.parse::<UpdateMode>().map_err(|e| self.error(format!("key `mode`: {e}")))?,
        };

        let selection = Selection {
            persons: self.references("persons", &self.raw.persons, |r| match r {
                Reference::Id(id) => Ok(PersonRef::Id(PersonId(*id))),
                Reference::Name(name) => PersonRef::parse(name),
            })?,
            groups: self.references("groups", &self.raw.groups, |r| match r {
                Reference::Id(id) => Ok(GroupRef::Id(GroupId(*id))),
                Reference::Name(name) => GroupRef::parse(name),
            })?,
            clients: self.references("clients", &self.raw.clients, |r| match r {
                Reference::Id(id) => Ok(ClientRef::Id(ClientId(*id))),
                Reference::Name(name) => ClientRef::parse(name),
            })?,
            include_inactive: self.raw.include_inactive,
        };

        let time_zone = match self.raw.time_zone.as_deref().map(str::trim) {
            None => jiff::tz::TimeZone::system(),
            Some(name) => jiff::tz::TimeZone::get(name).map_err(|_| {
                self.error(format!("key `time_zone`: unknown time zone {name:?}; use an IANA name such as \"Europe/Vienna\" or \"Europe/Berlin\", or remove the key to use the machine's local zone"))
            })?,
        };

        Ok(JobConfig {
            mode,
            selection,
            time_zone,
            database_url: self.database_url()?,
            graph: self.graph(secret_from_env)?,
        })
    }

    fn references<T, E: fmt::Display>(
        &self,
        key: &str,
        raw: &[Reference],
        parse: impl Fn(&Reference) -> Result<T, E>,
    ) -> Result<Vec<T>, ConfigError> {
        raw.iter()
            .enumerate()
            .map(|(index, reference)| {
                parse(reference).map_err(|e| self.error(format!("key `{key}`, entry {}: {e}", index + 1)))
            })
            .collect()
    }

    fn graph(&self, secret_from_env: Option<String>) -> Result<GraphConfig, ConfigError> {
        let Some(graph) = &self.raw.graph else {
            return Err(self.error("missing table `[graph]`: set tenant_id, client_id and client_secret of the app registration in the Entra tenant"));
        };
        let required = |key: &str, value: &Option<String>| {
            value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).ok_or_else(|| {
                self.error(format!(
                    "missing key `graph.{key}`: copy it from the app registration in the Entra admin center"
                ))
            })
        };
        let optional = |value: &Option<String>, default: &str| {
            value.as_deref().map(str::trim).filter(|v| !v.is_empty()).unwrap_or(default).to_owned()
        };

        let file_secret = graph.client_secret.clone().filter(|s| !s.trim().is_empty());
        let client_secret = file_secret.or(secret_from_env.filter(|s| !s.trim().is_empty())).ok_or_else(|| {
            self.error(format!("missing key `graph.client_secret`: set it in the file, or set the {CLIENT_SECRET_VARIABLE} environment variable"))
        })?;

        Ok(GraphConfig {
            tenant_id: required("tenant_id", &graph.tenant_id)?,
            client_id: required("client_id", &graph.client_id)?,
            client_secret,
            base_url: optional(&graph.base_url, DEFAULT_GRAPH_BASE_URL),
            authority_host: optional(&graph.authority_host, DEFAULT_AUTHORITY_HOST),
        })
    }
}

/// Returns the URL with the password of `user:password@` replaced by `***`, for messages.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Rewrites `sqlite://relative.db` to an absolute path under `base`; other URLs pass
/// unchanged.
pub fn resolve_sqlite_path(url: &str, base: &Path) -> String {
    let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
        return url.to_owned();
    };
    if path.starts_with('/') {
        return format!("sqlite://{path}");
    }
    let base = std::path::absolute(base).unwrap_or_else(|_| base.to_owned());
    format!("sqlite://{}", base.join(path).display())
}

/// Formats a TOML error as one line with its line and column, since the default
/// rendering spans several lines that a log collector would split.
fn format_toml_error(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim_end_matches('.').replace('\n', " ");
    let Some(span) = error.span() else {
        return message;
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("line {line}, column {column}: {message}")
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
