//! The sync use case: resolve the targets, then per chunk of persons read Webdesk and
//! Graph in bulk, decide per person, and store what the update mode calls for.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use time::{Date, OffsetDateTime};

use crate::decision::{Action, AfterDownload, Decision, GraphObservation, SyncState, WebdeskImage, decide};
use crate::ids::PersonId;
use crate::person::{MicrosoftAccount, Person};
use crate::photo::{ETag, ValidPhoto};
use crate::ports::{Clock, Download, PhotoSource, PhotoWrite, SourceError, StoreError, WebdeskStore, WriteResult};
use crate::report::{Outcome, PersonReport, SyncReport};
use crate::resolution::resolve;
use crate::selection::{Selection, UpdateMode};

/// Persons handled per round of bulk reads. Large enough that the query and request
/// count per person is small, small enough that a chunk's images fit in memory easily.
pub const DEFAULT_CHUNK_SIZE: usize = 100;

/// Photos downloaded per port call within a chunk. Downloading in smaller batches keeps
/// at most this many photos in memory and lets a stop request take effect after one
/// batch instead of after the whole chunk; 20 is also the size of a Graph `$batch`.
pub const DOWNLOAD_BATCH_SIZE: usize = 20;

/// A failure that ends the whole run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
///
/// The message includes the cause, so the cause is deliberately not exposed as `source()`:
/// printers that walk the chain would repeat it.
pub enum SyncError {
    #[error("the Webdesk database failed: {0}")]
    Store(StoreError),
    #[error("Microsoft Graph cannot be used: {0}")]
    Source(SourceError),
}

impl From<StoreError> for SyncError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<SourceError> for SyncError {
    fn from(error: SourceError) -> Self {
        Self::Source(error)
    }
}

/// The photo sync use case over a Webdesk store, a Graph photo source and a clock.
#[derive(Debug)]
pub struct SyncService<S, P, C> {
    store: S,
    source: P,
    clock: C,
    chunk_size: usize,
    stop: StopFlag,
}

/// A request to stop a run early, shared between the run and the signal handler that
/// requests the stop. The run takes no new person after the request, but finishes the
/// write in progress, so a stop never leaves half a person behind.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// One person of a chunk on its way through the decision.
struct Pending<'a> {
    person: &'a Person,
    account: &'a MicrosoftAccount,
    observed_etag: ETag,
    then: AfterDownload,
}

impl<S: WebdeskStore, P: PhotoSource, C: Clock> SyncService<S, P, C> {
    pub fn new(store: S, source: P, clock: C) -> Self {
        Self { store, source, clock, chunk_size: DEFAULT_CHUNK_SIZE, stop: StopFlag::default() }
    }

    /// Makes the run stop taking new persons once `stop` is requested.
    pub fn with_stop_flag(mut self, stop: StopFlag) -> Self {
        self.stop = stop;
        self
    }

    /// Sets how many persons are read and decided together (at least one).
    pub fn with_chunk_size(mut self, chunk_size: usize) -> Self {
        self.chunk_size = chunk_size.max(1);
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn source(&self) -> &P {
        &self.source
    }

    /// Runs the job once for `selection`, with `today` as the date in the configured time
    /// zone. Per-person failures end up in the report; only a database or Graph failure
    /// that affects every person returns an error.
    pub async fn run(&self, mode: UpdateMode, selection: &Selection, today: Date) -> Result<SyncReport, SyncError> {
        let mut report = SyncReport::new(mode, self.clock.now());

        if selection.is_empty() {
            tracing::info!(
                "Nothing selected: the configuration names no persons, groups or clients, so no photo was synced"
            );
            report.finished_at = self.clock.now();
            return Ok(report);
        }

        let directory = self.store.load_directory(selection).await?;
        let resolution = resolve(selection, &directory, today);
        for reference in &resolution.unresolved {
            tracing::warn!(reference = %reference, "Configured reference not resolved: {reference}");
        }
        report.unresolved = resolution.unresolved;
        report.counts.targets = resolution.targets.len();
        tracing::info!(targets = resolution.targets.len(), mode = %mode, "Resolved {} target persons", resolution.targets.len());

        for chunk in resolution.targets.chunks(self.chunk_size) {
            if self.stop.is_requested() {
                break;
            }
            self.sync_chunk(mode, chunk, &mut report).await?;
        }

        if self.stop.is_requested() {
            report.interrupted = true;
            tracing::warn!(
                processed = report.persons.len(),
                targets = report.counts.targets,
                "Run interrupted: {} of {} persons processed; the rest are left for the next run",
                report.persons.len(),
                report.counts.targets
            );
        }
        report.persons.sort_by_key(|p| p.person_id);
        report.finished_at = self.clock.now();
        Ok(report)
    }

    async fn sync_chunk(&self, mode: UpdateMode, chunk: &[Person], report: &mut SyncReport) -> Result<(), SyncError> {
        let ids: Vec<PersonId> = chunk.iter().map(|p| p.id).collect();
        // NOTE: the images are read with their content even when no decision in the
        // chunk compares bytes, which makes memory grow with the image sizes of a chunk.
        let images = self.store.load_images(&ids).await?;
        let states = self.store.load_states(&ids).await?;

        let mut linked = Vec::with_capacity(chunk.len());
        for person in chunk {
            match &person.account {
                Some(account) => linked.push((person, account)),
                None => fail(
                    report,
                    person,
                    "the person has no linked Microsoft account; set entra_object_id or entra_user_principal_name in the person master",
                ),
            }
        }

        let accounts: Vec<MicrosoftAccount> = linked.iter().map(|(_, account)| (*account).clone()).collect();
        let observations = self.source.observe(&accounts).await?;

        let now = self.clock.now();
        let mut observed_states = Vec::new();
        let mut pending = Vec::new();
        for ((person, account), observation) in linked.into_iter().zip(observations) {
            let observation = match observation {
                Ok(observation) => observation,
                Err(failure) => {
                    fail(report, person, &failure.message);
                    continue;
                }
            };
            let image = images.get(&person.id);
            let state = states.get(&person.id);

            match (decide(mode, &observation, image, state), observation) {
                (Decision::Finish { outcome, detail }, observation) => {
                    let etag = match observation {
                        GraphObservation::Photo(etag) => Some(etag),
                        GraphObservation::NoPhoto => None,
                    };
                    observed_states.push((person.id, observed(state, etag, now)));
                    finish(report, person, outcome, detail);
                }
                (Decision::Download(then), GraphObservation::Photo(observed_etag)) => {
                    pending.push(Pending { person, account, observed_etag, then });
                }
                (Decision::Download(_), GraphObservation::NoPhoto) => {
                    unreachable!("the decision never downloads a photo that Graph does not have")
                }
            }
        }

        // Downloads go in batches, so a stop request leaves the rest of the chunk for the
        // next run after one batch.
        while !pending.is_empty() && !self.stop.is_requested() {
            let rest = pending.split_off(pending.len().min(DOWNLOAD_BATCH_SIZE));
            let batch = std::mem::replace(&mut pending, rest);
            self.download_batch(batch, &images, &states, &mut observed_states, report).await?;
        }

        self.store.record_states(&observed_states).await?;
        Ok(())
    }

    async fn download_batch(
        &self,
        pending: Vec<Pending<'_>>,
        images: &HashMap<PersonId, WebdeskImage>,
        states: &HashMap<PersonId, SyncState>,
        observed_states: &mut Vec<(PersonId, SyncState)>,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let accounts: Vec<MicrosoftAccount> = pending.iter().map(|p| p.account.clone()).collect();
        let downloads = self.source.download(&accounts).await?;

        for (item, download) in pending.into_iter().zip(downloads) {
            // A stop request leaves the remaining persons of the chunk for the next run.
            if self.stop.is_requested() {
                break;
            }
            let person = item.person;
            let image = images.get(&person.id);
            let state = states.get(&person.id);
            let now = self.clock.now();

            let (etag, bytes) = match download {
                Err(failure) => {
                    fail(report, person, &failure.message);
                    continue;
                }
                Ok(Download::NoPhoto) => {
                    observed_states.push((person.id, observed(state, None, now)));
                    finish(
                        report,
                        person,
                        Outcome::NoGraphPhoto,
                        Some("the Graph photo was removed during the run; the Webdesk image stays".to_owned()),
                    );
                    continue;
                }
                // The ETag served with the bytes describes exactly these bytes, so it wins
                // over the one observed a moment earlier.
                Ok(Download::Photo { etag, bytes }) => (etag.unwrap_or(item.observed_etag), bytes),
            };

            let photo = match ValidPhoto::from_bytes(bytes) {
                Ok(photo) => photo,
                Err(error) => {
                    fail(report, person, &format!("the Graph photo was rejected and the Webdesk image stays: {error}"));
                    continue;
                }
            };
            if photo.is_placeholder() {
                observed_states.push((person.id, observed(state, None, now)));
                finish(
                    report,
                    person,
                    Outcome::NoGraphPhoto,
                    Some("Microsoft 365 serves only a 1x1 placeholder; the Webdesk image stays".to_owned()),
                );
                continue;
            }

            match Decision::after_download(&item.then, photo.bytes(), image) {
                Action::Finish { outcome: Outcome::Unchanged, detail } => {
                    // Equal bytes make the Webdesk image as good as one the job wrote.
                    let state = SyncState {
                        stored_etag: Some(etag.clone()),
                        written_version: image.map(|i| i.version),
                        observed_etag: Some(etag),
                        observed_at: now,
                    };
                    observed_states.push((person.id, state));
                    finish(report, person, Outcome::Unchanged, detail);
                }
                Action::Finish { outcome, detail } => {
                    observed_states.push((person.id, observed(state, Some(etag), now)));
                    finish(report, person, outcome, detail);
                }
                Action::Store { outcome, detail } => {
                    self.store_one(person, image, &photo, etag, now, outcome, detail, report).await?;
                }
            }
        }
        Ok(())
    }

    #[expect(clippy::too_many_arguments, reason = "one call site, each argument is a distinct fact of the write")]
    async fn store_one(
        &self,
        person: &Person,
        image: Option<&WebdeskImage>,
        photo: &ValidPhoto,
        etag: ETag,
        now: OffsetDateTime,
        outcome: Outcome,
        detail: Option<String>,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let expected_version = image.map(|i| i.version);
        let new_version = expected_version.map_or(1, |v| v + 1);
        let write = PhotoWrite {
            person_id: person.id,
            expected_version,
            photo,
            modified_at: now,
            state: SyncState {
                stored_etag: Some(etag.clone()),
                written_version: Some(new_version),
                observed_etag: Some(etag),
                observed_at: now,
            },
        };

        match self.store.store_photo(write).await? {
            WriteResult::Stored { version } => {
                tracing::info!(person.id = %person.id, person.username = %person.username, image.version = version, outcome = %outcome, "Stored the Graph photo of person {} ({})", person.id, person.display_name());
                finish(report, person, outcome, detail);
            }
            WriteResult::Conflict => {
                finish(report, person, Outcome::KeptLocal, Some("changed during run: the Webdesk image was changed while the job ran, so the Graph photo was not stored".to_owned()));
            }
        }
        Ok(())
    }
}

/// Builds the state after an observation that stored nothing, keeping what the job
/// stored before.
fn observed(previous: Option<&SyncState>, etag: Option<ETag>, now: OffsetDateTime) -> SyncState {
    SyncState {
        stored_etag: previous.and_then(|s| s.stored_etag.clone()),
        written_version: previous.and_then(|s| s.written_version),
        observed_etag: etag,
        observed_at: now,
    }
}

fn finish(report: &mut SyncReport, person: &Person, outcome: Outcome, detail: Option<String>) {
    tracing::debug!(person.id = %person.id, person.username = %person.username, outcome = %outcome, "Photo sync outcome");
    report.push(PersonReport { person_id: person.id, username: person.username.clone(), outcome, detail });
}

fn fail(report: &mut SyncReport, person: &Person, reason: &str) {
    tracing::warn!(
        person.id = %person.id,
        person.username = %person.username,
        reason,
        "Failed to update the photo image of person {} ({}): {reason}",
        person.id,
        person.display_name(),
    );
    report.push(PersonReport {
        person_id: person.id,
        username: person.username.clone(),
        outcome: Outcome::Failed,
        detail: Some(reason.to_owned()),
    });
}
