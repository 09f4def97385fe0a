//! The run report: JSON for `--report` and monitoring, and the human summary on stderr.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use photo_sync_domain::{Outcome, SyncReport, UnresolvedReference};
use serde_json::{Value, json};

use crate::cli::LogFormat;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Renders the report as the JSON document `--report` writes.
pub fn to_json(report: &SyncReport) -> Value {
    let counts = report.counts;
    json!({
        "mode": report.mode.as_str(),
        "started_at": rfc3339(report.started_at),
        "finished_at": rfc3339(report.finished_at),
        "counts": {
            "targets": counts.targets,
            "created": counts.created,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
            "kept_local": counts.kept_local,
            "no_graph_photo": counts.no_graph_photo,
            "failed": counts.failed,
        },
        "interrupted": report.interrupted,
        "unresolved": report.unresolved.iter().map(unresolved_json).collect::<Vec<_>>(),
        "persons": report.persons.iter().map(|p| json!({
            "person_id": p.person_id.0,
            "username": p.username,
            "outcome": p.outcome.as_str(),
            "detail": p.detail,
        })).collect::<Vec<_>>(),
    })
}

fn unresolved_json(reference: &UnresolvedReference) -> Value {
    let (kind, name, problem) = match reference {
        UnresolvedReference::Person(r) => ("person", r.to_string(), "not_found"),
        UnresolvedReference::Group(r) => ("group", r.to_string(), "not_found"),
        UnresolvedReference::Client(r) => ("client", r.to_string(), "not_found"),
        UnresolvedReference::AmbiguousGroup { short_name, .. } => ("group", short_name.clone(), "ambiguous"),
    };
    json!({ "kind": kind, "reference": name, "problem": problem, "message": reference.to_string() })
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// Writes the JSON report next to its final path first and renames it into place, so a
/// monitoring tool never reads half a report.
pub fn write_json(report: &SyncReport, path: &Path) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(&to_json(report)).map_err(std::io::Error::other)?;
    text.push('\n');

    let file_name = path.file_name().map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!(".{file_name}.partial"));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Formats the summary printed to stderr at the end of every run: counts, then one line per
/// failed person and per unresolved reference.
pub fn summary(report: &SyncReport) -> String {
    let c = report.counts;
    let seconds = (report.finished_at - report.started_at).as_seconds_f64();
    let mut text = format!(
        "photo-sync: mode {mode}, {targets} target {persons} in {seconds:.1} s: {created} created, {updated} updated, {unchanged} unchanged, {kept} kept_local, {none} no_graph_photo, {failed} failed",
        mode = report.mode,
        targets = c.targets,
        persons = if c.targets == 1 { "person" } else { "persons" },
        created = c.created,
        updated = c.updated,
        unchanged = c.unchanged,
        kept = c.kept_local,
        none = c.no_graph_photo,
        failed = c.failed,
    );
    if report.interrupted {
        let _ = write!(text, "; interrupted after {} persons", report.persons.len());
    }
    if !report.unresolved.is_empty() {
        let count = report.unresolved.len();
        let _ = write!(text, "; {count} unresolved {}", if count == 1 { "reference" } else { "references" });
    }
    text.push('\n');

    for person in report.persons.iter().filter(|p| p.outcome == Outcome::Failed) {
        let detail = person.detail.as_deref().unwrap_or("no detail");
        let _ = writeln!(text, "  failed: person {} ({}): {detail}", person.person_id, person.username);
    }
    for reference in &report.unresolved {
        let _ = writeln!(text, "  unresolved: {reference}");
    }
    text
}

/// Prints the summary: as plain text on stderr, or as log events in JSON mode so that
/// stderr stays one JSON object per line.
pub fn print_summary(report: &SyncReport, format: LogFormat) {
    match format {
        LogFormat::Text => eprint!("{}", summary(report)),
        LogFormat::Json => {
            let c = report.counts;
            tracing::info!(
                mode = %report.mode,
                targets = c.targets,
                created = c.created,
                updated = c.updated,
                unchanged = c.unchanged,
                kept_local = c.kept_local,
                no_graph_photo = c.no_graph_photo,
                failed = c.failed,
                unresolved = report.unresolved.len(),
                interrupted = report.interrupted,
                "Run summary"
            );
        }
    }
}
