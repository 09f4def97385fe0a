//! The database connection: one diesel connection type over PostgreSQL and SQLite, and
//! opening it from a database URL.
//!
//! The `MultiConnection` derive emits a module with a fixed name, so the enum lives alone
//! in this module.

use std::fmt;
use std::time::Duration;

use diesel::SqliteConnection;
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

/// How long an SQLite statement waits for a lock held by another connection (a Webdesk
/// upload, for example) before it fails with "database is locked". Webdesk's own writes
/// are short transactions, so 5 s is an estimate that lets them finish while a stuck lock
/// still ends the run quickly.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// SQLite behind a wrapper that runs the blocking driver on tokio's blocking threads. The
/// alias exists because the derive below cannot take a generic type as written.
pub type SqliteWrapper = SyncConnectionWrapper<SqliteConnection>;

/// A connection to either backend. Queries written once against [`MultiBackend`] run on
/// both; code that needs a backend-specific statement matches on the variant.
#[derive(diesel::MultiConnection)]
#[diesel_async]
#[expect(clippy::large_enum_variant, reason = "a store holds one connection, so its size does not matter")]
pub enum DbConnection {
    Postgres(AsyncPgConnection),
    Sqlite(SqliteWrapper),
}

/// A database URL parsed into the backend and what that backend's driver opens.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum DatabaseUrl {
    /// A file path, relative to the working directory unless it starts with `/`.
    Sqlite { path: String },
    /// The URL as given, because tokio-postgres parses it itself.
    Postgres { url: String },
}

impl fmt::Debug for DatabaseUrl {
    // The URL can carry a password, so only its redacted form is ever shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
            Self::Postgres { url } => f.debug_struct("Postgres").field("url", &redact_password(url)).finish(),
        }
    }
}

/// Why [`crate::WebdeskDb::connect`] failed. Every URL in a message has its password
/// replaced by `***`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("cannot open SQLite database {path:?}: {reason}; check the path and that the folder exists")]
    SqliteOpen { path: String, reason: String },

    #[error(
        "SQLite database {path:?} not found; check database.url, or create an empty Webdesk database with `photo-sync db migrate --with-webdesk-schema`"
    )]
    SqliteMissing { path: String },

    #[error(
        "cannot prepare SQLite database {path:?} (setting the journal mode, busy timeout and foreign keys failed): {reason}; check that the file is an SQLite database and is writable"
    )]
    SqliteSetup { path: String, reason: String },

    #[error(
        "cannot connect to PostgreSQL at {url:?}: {reason}; check host, port, user, password and database name, and that the server accepts connections without TLS"
    )]
    Postgres { url: String, reason: String },

    #[error(
        "cannot connect to PostgreSQL at {url:?}: {reason}; the URL requests TLS (sslmode), but photo-sync connects to PostgreSQL without TLS; remove sslmode from database.url if the network to the server is trusted, or connect through the server's unix socket"
    )]
    PostgresTlsRequested { url: String, reason: String },

    #[error(
        "cannot connect to PostgreSQL at {url:?}: {reason}; the server admits this client only with TLS or not at all, and photo-sync connects to PostgreSQL without TLS; add a `host` line for this client, user and database to pg_hba.conf, or connect through the server's unix socket"
    )]
    PostgresTlsRequired { url: String, reason: String },
}

/// The `application_name` of the job's PostgreSQL sessions, which `pg_stat_activity` shows,
/// unless the URL sets another.
const APPLICATION_NAME: &str = "photo-sync";

/// How long opening a PostgreSQL connection may take unless the URL sets
/// `connect_timeout`. Without a limit, a host that drops packets stalls the run for the
/// minutes of the system's TCP retries.
const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

const EXPECTED_URL: &str =
    "expected sqlite://PATH, sqlite:///ABSOLUTE/PATH, sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE";

impl DatabaseUrl {
    /// Parses `sqlite://relative/path.db`, `sqlite:///absolute/path.db`, `sqlite:path`,
    /// `postgres://...` and `postgresql://...`.
    pub(crate) fn parse(url: &str) -> Result<Self, ConnectError> {
        let invalid = |reason: &str| ConnectError::InvalidUrl { url: redact_password(url), reason: reason.to_owned() };
        let trimmed = url.trim();

        let Some((scheme, rest)) = trimmed.split_once(':') else {
            return Err(invalid(EXPECTED_URL));
        };

        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => {
                if !rest.starts_with("//") {
                    return Err(invalid(EXPECTED_URL));
                }
                Ok(Self::Postgres { url: trimmed.to_owned() })
            }
            "sqlite" => {
                // `sqlite://a.db` names the relative path `a.db`, and `sqlite:///a.db` keeps
                // the third slash as the root of an absolute path.
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    return Err(invalid("the SQLite file path is empty; expected sqlite://PATH"));
                }
                if path == ":memory:" || path.contains("mode=memory") {
                    return Err(invalid(
                        "in-memory SQLite databases are not supported because the migration and the sync would each see their own empty database; use a file path",
                    ));
                }
                Ok(Self::Sqlite { path: path.to_owned() })
            }
            _ => Err(invalid(EXPECTED_URL)),
        }
    }

    pub(crate) fn backend_name(&self) -> &'static str {
        match self {
            Self::Postgres { .. } => "postgresql",
            Self::Sqlite { .. } => "sqlite",
        }
    }
}

/// Opens a connection and prepares the session the way every query of this crate expects.
pub(crate) async fn establish(target: &DatabaseUrl) -> Result<DbConnection, ConnectError> {
    match target {
        DatabaseUrl::Sqlite { path } => establish_sqlite(path).await.map(DbConnection::Sqlite),

        DatabaseUrl::Postgres { url } => establish_postgres(url).await.map(DbConnection::Postgres),
    }
}

/// Opens a PostgreSQL connection with tokio-postgres and hands it to diesel-async, which
/// sets the session time zone to UTC. Opening it here, and not with
/// `AsyncPgConnection::establish`, keeps the cause of a failure (diesel-async 0.10 reports
/// only "error connecting to server") and lets the session carry an application name.
///
/// NOTE: the connection uses `NoTls`, so it is never encrypted. `postgres_error` names TLS
/// in the message when the URL requests TLS or the server requires it.
async fn establish_postgres(url: &str) -> Result<AsyncPgConnection, ConnectError> {
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|error| postgres_error(url, describe_postgres_error(&error)))?;
    if config.get_application_name().is_none() {
        config.application_name(APPLICATION_NAME);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(POSTGRES_CONNECT_TIMEOUT);
    }

    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|error| postgres_error(url, describe_postgres_error(&error)))?;
    AsyncPgConnection::try_from_client_and_connection(client, connection)
        .await
        .map_err(|error| postgres_error(url, error.to_string()))
}

/// Describes a tokio-postgres error with its cause, which its `Display` leaves out: the
/// server's message for an error the server sent, else the error and its sources.
fn describe_postgres_error(error: &tokio_postgres::Error) -> String {
    if let Some(server_error) = error.as_db_error() {
        return server_error.message().to_owned();
    }

    let mut description = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        description.push_str(": ");
        description.push_str(&cause.to_string());
        source = cause.source();
    }
    description
}

/// Builds the error for a failed PostgreSQL connection, telling a TLS requirement apart
/// from other failures because its fix differs.
fn postgres_error(url: &str, reason: String) -> ConnectError {
    let url_lowercase = url.to_ascii_lowercase();
    let redacted = redact_password(url);

    // tokio-postgres accepts `disable`, `prefer` and `require`. libpq's `verify-ca` and
    // `verify-full` also request TLS, and tokio-postgres rejects them as invalid values.
    let requests_tls = ["sslmode=require", "sslmode=verify-ca", "sslmode=verify-full"]
        .iter()
        .any(|parameter| url_lowercase.contains(parameter));
    if requests_tls {
        return ConnectError::PostgresTlsRequested { url: redacted, reason };
    }

    // PostgreSQL 12 and later end the message with "no encryption" when pg_hba.conf has no
    // entry for an unencrypted connection. Older servers write "SSL off" there.
    let rejected_without_tls =
        reason.contains("no pg_hba.conf entry") && (reason.contains("no encryption") || reason.contains("SSL off"));
    if rejected_without_tls {
        return ConnectError::PostgresTlsRequired { url: redacted, reason };
    }

    ConnectError::Postgres { url: redacted, reason }
}

async fn establish_sqlite(path: &str) -> Result<SqliteWrapper, ConnectError> {
    let mut connection = SqliteWrapper::establish(path)
        .await
        .map_err(|error| ConnectError::SqliteOpen { path: path.to_owned(), reason: error.to_string() })?;

    // WAL lets Webdesk read while the job writes. SQLite enforces foreign keys only on
    // connections that enable them, and the busy timeout is per connection as well. The
    // busy timeout comes first, because setting the journal mode needs a lock and would
    // fail at once while a Webdesk upload holds one.
    let setup =
        format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;");
    connection
        .batch_execute(&setup)
        .await
        .map_err(|error| ConnectError::SqliteSetup { path: path.to_owned(), reason: error.to_string() })?;

    Ok(connection)
}

/// Replaces the password of a URL's user info and any `password=` parameter with `***`,
/// so a URL can go into messages and logs.
pub(crate) fn redact_password(url: &str) -> String {
    let mut redacted = redact_user_info(url);

    let mut search_from = 0;
    while let Some(found) = redacted[search_from..].to_ascii_lowercase().find("password=") {
        let value_start = search_from + found + "password=".len();
        let value_end = redacted[value_start..]
            .find(|c: char| c == '&' || c == '#' || c.is_whitespace())
            .map_or(redacted.len(), |end| value_start + end);
        redacted.replace_range(value_start..value_end, "***");
        search_from = value_start + "***".len();
    }
    redacted
}

/// Masks the password in `scheme://user:password@host`, leaving the user name visible.
fn redact_user_info(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let authority_start = scheme_end + "://".len();
    let authority_end = url[authority_start..].find(['/', '?', '#']).map_or(url.len(), |end| authority_start + end);
    let authority = &url[authority_start..authority_end];

    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return url.to_owned();
    };

    let password_start = authority_start + colon + 1;
    let password_end = authority_start + at;
    format!("{}***{}", &url[..password_start], &url[password_end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_sqlite_forms() {
        let cases = [
            ("sqlite://data/webdesk.db", "data/webdesk.db"),
            ("sqlite:///var/lib/webdesk.db", "/var/lib/webdesk.db"),
            ("sqlite:webdesk.db", "webdesk.db"),
            ("SQLite:webdesk.db", "webdesk.db"),
            (" sqlite://webdesk.db ", "webdesk.db"),
        ];
        for (url, path) in cases {
            assert_eq!(DatabaseUrl::parse(url), Ok(DatabaseUrl::Sqlite { path: path.to_owned() }), "url {url:?}");
        }
    }

    #[test]
    fn parse_accepts_postgres_schemes() {
        for url in ["postgres://sync@db/webdesk", "postgresql://sync:secret@db:5432/webdesk"] {
            assert_eq!(DatabaseUrl::parse(url), Ok(DatabaseUrl::Postgres { url: url.to_owned() }), "url {url:?}");
        }
    }

    #[test]
    fn parse_rejects_other_schemes() {
        let error = DatabaseUrl::parse("mysql://sync:secret@db/webdesk").expect_err("mysql is not supported");
        insta::assert_snapshot!(error, @r#"invalid database URL "mysql://sync:***@db/webdesk": expected sqlite://PATH, sqlite:///ABSOLUTE/PATH, sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE"#);
    }

    #[test]
    fn parse_rejects_missing_scheme() {
        let error = DatabaseUrl::parse("webdesk.db").expect_err("a bare path has no scheme");
        insta::assert_snapshot!(error, @r#"invalid database URL "webdesk.db": expected sqlite://PATH, sqlite:///ABSOLUTE/PATH, sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE"#);
    }

    #[test]
    fn parse_rejects_empty_and_memory_sqlite() {
        for url in ["sqlite://", "sqlite:", "sqlite::memory:", "sqlite:file:x?mode=memory"] {
            assert!(DatabaseUrl::parse(url).is_err(), "url {url:?}");
        }
    }

    #[test]
    fn redact_masks_user_info_password() {
        assert_eq!(redact_password("postgres://sync:s3cr:et@db:5432/webdesk"), "postgres://sync:***@db:5432/webdesk");
        assert_eq!(redact_password("postgres://sync@db/webdesk"), "postgres://sync@db/webdesk");
        assert_eq!(redact_password("sqlite://data/a:b@c.db"), "sqlite://data/a:b@c.db");
    }

    #[test]
    fn redact_masks_password_parameters() {
        assert_eq!(
            redact_password("postgres://db/webdesk?user=sync&Password=secret&sslmode=disable"),
            "postgres://db/webdesk?user=sync&Password=***&sslmode=disable"
        );
        assert_eq!(redact_password("host=db password=secret user=sync"), "host=db password=*** user=sync");
    }

    #[test]
    fn debug_hides_postgres_password() {
        let url = DatabaseUrl::Postgres { url: "postgres://sync:secret@db/webdesk".to_owned() };
        assert_eq!(format!("{url:?}"), r#"Postgres { url: "postgres://sync:***@db/webdesk" }"#);
    }
}
