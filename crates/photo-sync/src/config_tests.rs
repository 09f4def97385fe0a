//! Tests of configuration parsing and its error messages.

use std::path::Path;

use super::*;

const FULL: &str = r#"
mode = "Aktuellstes Bild verwenden"
persons = ["mmuster", 42]
groups = ["IT", "ACME-AT/HR", 7]
clients = ["ACME-AT"]
time_zone = "Europe/Vienna"
include_inactive = true

[database]
url = "sqlite://webdesk.db"

[graph]
tenant_id = "contoso-tenant"
client_id = "app-id"
client_secret = "file-secret"
"#;

fn load(text: &str) -> Result<ConfigFile, ConfigError> {
    let folder = tempfile::tempdir().expect("temporary folder");
    let path = folder.path().join("job.toml");
    std::fs::write(&path, text).expect("write the configuration");
    ConfigFile::load(&path)
}

fn job_error(text: &str, secret_from_env: Option<&str>) -> String {
    let file = load(text).expect("the file parses");
    let error = file.job(secret_from_env.map(str::to_owned)).expect_err("the configuration is invalid");
    error.message
}

#[test]
fn full_configuration_parses() {
    let job = load(FULL).expect("parses").job(None).expect("valid");

    assert_eq!(job.mode, UpdateMode::Newest);
    assert_eq!(job.selection.persons, vec![PersonRef::Username("mmuster".into()), PersonRef::Id(PersonId(42))]);
    assert_eq!(
        job.selection.groups,
        vec![
            GroupRef::ShortName("IT".into()),
            GroupRef::Qualified { client: "ACME-AT".into(), group: "HR".into() },
            GroupRef::Id(GroupId(7)),
        ]
    );
    assert_eq!(job.selection.clients, vec![ClientRef::ShortName("ACME-AT".into())]);
    assert!(job.selection.include_inactive);
    assert_eq!(job.time_zone.iana_name(), Some("Europe/Vienna"));
    assert_eq!(job.graph.client_secret, "file-secret");
    assert_eq!(job.graph.base_url, DEFAULT_GRAPH_BASE_URL);
    assert_eq!(job.graph.authority_host, DEFAULT_AUTHORITY_HOST);
    assert!(job.database_url.starts_with("sqlite:///"), "relative path made absolute: {}", job.database_url);
    assert!(job.database_url.ends_with("/webdesk.db"));
}

#[test]
fn secret_falls_back_to_environment() {
    let text = FULL.replace("client_secret = \"file-secret\"\n", "");
    let job = load(&text).expect("parses").job(Some("env-secret".into())).expect("valid");
    assert_eq!(job.graph.client_secret, "env-secret");
}

#[test]
fn missing_secret_names_both_places() {
    let text = FULL.replace("client_secret = \"file-secret\"\n", "");
    insta::assert_snapshot!(job_error(&text, None), @"missing key `graph.client_secret`: set it in the file, or set the AZURE_CLIENT_SECRET environment variable");
}

#[test]
fn missing_mode_lists_accepted_values() {
    let text = FULL.replace("mode = \"Aktuellstes Bild verwenden\"\n", "");
    insta::assert_snapshot!(job_error(&text, None), @r#"missing key `mode`: set it to "newest" ("Aktuellstes Bild verwenden") or "overwrite" ("Mit Groupware-Bild überschreiben")"#);
}

#[test]
fn invalid_mode_names_value() {
    let text = FULL.replace("Aktuellstes Bild verwenden", "latest");
    insta::assert_snapshot!(job_error(&text, None), @r#"key `mode`: invalid update mode "latest": expected "newest" ("Aktuellstes Bild verwenden") or "overwrite" ("Mit Groupware-Bild überschreiben")"#);
}

#[test]
fn unknown_key_is_rejected() {
    let text = FULL.replace("include_inactive", "include_inactiv");
    let error = load(&text).expect_err("unknown key");
    insta::assert_snapshot!(error.message, @"line 7, column 1: unknown field `include_inactiv`, expected one of `mode`, `persons`, `groups`, `clients`, `time_zone`, `include_inactive`, `database`, `graph`");
}

#[test]
fn reference_of_wrong_type_is_rejected() {
    let text = FULL.replace("clients = [\"ACME-AT\"]", "clients = [true]");
    let error = load(&text).expect_err("boolean reference");
    insta::assert_snapshot!(error.message, @"line 5, column 12: invalid type: boolean `true`, expected a name in quotes or a numeric id");
}

#[test]
fn half_qualified_group_is_rejected() {
    let text = FULL.replace("\"ACME-AT/HR\"", "\"ACME-AT/\"");
    insta::assert_snapshot!(job_error(&text, None), @r#"key `groups`, entry 2: invalid group reference "ACME-AT/": expected a group short name or CLIENT/GROUP with both parts set"#);
}

#[test]
fn unknown_time_zone_is_rejected() {
    let text = FULL.replace("Europe/Vienna", "Europe/Wien");
    insta::assert_snapshot!(job_error(&text, None), @r#"key `time_zone`: unknown time zone "Europe/Wien"; use an IANA name such as "Europe/Vienna" or "Europe/Berlin", or remove the key to use the machine's local zone"#);
}

#[test]
fn missing_database_url_is_rejected() {
    let text = FULL.replace("url = \"sqlite://webdesk.db\"", "");
    insta::assert_snapshot!(job_error(&text, None), @"missing key `database.url`: set it to sqlite://PATH (for example sqlite://webdesk.db) or postgres://USER@HOST/DATABASE");
}

#[test]
fn secret_never_in_debug_output() {
    let job = load(FULL).expect("parses").job(None).expect("valid");
    let debug = format!("{job:?}");
    assert!(!debug.contains("file-secret"), "{debug}");
}

#[test]
fn sqlite_paths_resolve_against_folder() {
    let base = Path::new("/etc/photo-sync");
    assert_eq!(resolve_sqlite_path("sqlite://webdesk.db", base), "sqlite:///etc/photo-sync/webdesk.db");
    assert_eq!(resolve_sqlite_path("sqlite:///var/lib/webdesk.db", base), "sqlite:///var/lib/webdesk.db");
    assert_eq!(resolve_sqlite_path("postgres://job@db/webdesk", base), "postgres://job@db/webdesk");
}

#[test]
fn unknown_database_scheme_is_rejected() {
    let text = FULL.replace("sqlite://webdesk.db", "mysql://job:geheim@db/webdesk");
    insta::assert_snapshot!(job_error(&text, None), @r#"key `database.url`: invalid URL "mysql://job:***@db/webdesk": expected sqlite://PATH or postgres://USER@HOST/DATABASE"#);
}
