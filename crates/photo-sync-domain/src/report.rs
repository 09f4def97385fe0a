//! The result of one run: an outcome per person, counts, and the references that matched
//! nothing.

use std::fmt;

use time::OffsetDateTime;

use crate::ids::PersonId;
use crate::resolution::UnresolvedReference;
use crate::selection::UpdateMode;

/// Result of the run for one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Webdesk had no image; the Graph photo was stored.
    Created,
    /// The Graph photo replaced the Webdesk image.
    Updated,
    /// Nothing changed since the last run, or the bytes were already equal.
    Unchanged,
    /// The Webdesk image was kept because it is newer, or changed during the run.
    KeptLocal,
    /// Graph has no photo for the person; the Webdesk image, if any, stays.
    NoGraphPhoto,
    /// The person could not be synced, for the reason in the detail.
    Failed,
}

impl Outcome {
    /// Returns the name used in reports and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::KeptLocal => "kept_local",
            Self::NoGraphPhoto => "no_graph_photo",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome for one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonReport {
    pub person_id: PersonId,
    pub username: String,
    pub outcome: Outcome,
    pub detail: Option<String>,
}

/// Number of targets and of persons per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub targets: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub kept_local: usize,
    pub no_graph_photo: usize,
    pub failed: usize,
}

impl Counts {
    fn add(&mut self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Created => &mut self.created,
            Outcome::Updated => &mut self.updated,
            Outcome::Unchanged => &mut self.unchanged,
            Outcome::KeptLocal => &mut self.kept_local,
            Outcome::NoGraphPhoto => &mut self.no_graph_photo,
            Outcome::Failed => &mut self.failed,
        };
        *counter += 1;
    }
}

/// Everything one run did, in the order the persons were processed (by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub mode: UpdateMode,
    pub started_at: OffsetDateTime,
    pub finished_at: OffsetDateTime,
    pub counts: Counts,
    pub unresolved: Vec<UnresolvedReference>,
    pub persons: Vec<PersonReport>,
    /// Whether a stop request ended the run before every target was processed.
    pub interrupted: bool,
}

impl SyncReport {
    /// Starts an empty report for a run that began at `started_at`.
    pub fn new(mode: UpdateMode, started_at: OffsetDateTime) -> Self {
        Self {
            mode,
            started_at,
            finished_at: started_at,
            counts: Counts::default(),
            unresolved: Vec::new(),
            persons: Vec::new(),
            interrupted: false,
        }
    }

    /// Adds the outcome for one person and counts it.
    pub fn push(&mut self, person: PersonReport) {
        self.counts.add(person.outcome);
        self.persons.push(person);
    }

    /// Returns whether the run finished with failed persons or unresolved references, which the
    /// CLI reports with its own exit status.
    pub fn has_problems(&self) -> bool {
        self.counts.failed > 0 || !self.unresolved.is_empty()
    }
}
