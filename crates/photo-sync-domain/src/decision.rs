//! The update-mode decision: per person, whether to keep the Webdesk image or store the
//! Graph photo, from what Graph and Webdesk hold now and what the job recorded last time.
//!
//! Graph offers no modification time for photos, only an ETag that changes on every
//! upload. The job therefore records when it last looked at Graph and which ETag it saw,
//! which bounds when a Graph change happened: after that observation. All times are UTC.

use time::OffsetDateTime;

use crate::photo::ETag;
use crate::report::Outcome;
use crate::selection::UpdateMode;

/// Author of the last write of a `person_images` row (`modified_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModifiedBy {
    /// A person or an administrator through Webdesk.
    Upload,
    /// This job.
    GraphSync,
}

impl ModifiedBy {
    /// Returns the value stored in `person_images.modified_by`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::GraphSync => "graph-sync",
        }
    }
}

/// The image Webdesk holds for a person now.
#[derive(Clone, PartialEq, Eq)]
pub struct WebdeskImage {
    pub content: Vec<u8>,
    pub content_type: String,
    pub modified_at: OffsetDateTime,
    pub modified_by: ModifiedBy,
    pub version: i64,
}

impl std::fmt::Debug for WebdeskImage {
    // The content is left out: it is personal data and large.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebdeskImage")
            .field("len", &self.content.len())
            .field("content_type", &self.content_type)
            .field("modified_at", &self.modified_at)
            .field("modified_by", &self.modified_by)
            .field("version", &self.version)
            .finish()
    }
}

/// Record the job keeps per person in its own table after its last look at Graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    /// ETag of the last Graph photo the job stored in Webdesk.
    pub stored_etag: Option<ETag>,
    /// `person_images.version` the job wrote with that photo.
    pub written_version: Option<i64>,
    /// ETag Graph reported at the last observation; `None` when Graph had no photo.
    pub observed_etag: Option<ETag>,
    pub observed_at: OffsetDateTime,
}

/// Photo state of a person in Graph now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphObservation {
    /// Any 404 of the photo, or Graph's 1x1 placeholder.
    NoPhoto,
    Photo(ETag),
}

/// Decision for a person before any photo bytes are downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to download and nothing to store.
    Finish { outcome: Outcome, detail: Option<String> },
    /// Download the Graph photo, then apply [`Decision::after_download`].
    Download(AfterDownload),
}

/// Action for downloaded bytes that differ from the Webdesk image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterDownload {
    /// Store the Graph photo with this outcome.
    Store(Outcome),
    /// Keep the Webdesk image, for this reason.
    KeepLocal(String),
}

/// The final action for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Store { outcome: Outcome, detail: Option<String> },
    Finish { outcome: Outcome, detail: Option<String> },
}

/// Decides, before downloading, what to do for one person.
pub fn decide(
    mode: UpdateMode,
    graph: &GraphObservation,
    webdesk: Option<&WebdeskImage>,
    state: Option<&SyncState>,
) -> Decision {
    let GraphObservation::Photo(etag) = graph else {
        return finish(
            Outcome::NoGraphPhoto,
            Some("Microsoft 365 has no photo for this person; the Webdesk image stays"),
        );
    };
    let Some(image) = webdesk else {
        return Decision::Download(AfterDownload::Store(Outcome::Created));
    };
    let Some(state) = state else {
        return decide_without_history(mode, image);
    };

    let graph_changed = state.stored_etag.as_ref() != Some(etag);
    let webdesk_changed = state.written_version != Some(image.version);

    match (graph_changed, webdesk_changed) {
        (false, false) => finish(Outcome::Unchanged, None),
        (true, false) => Decision::Download(AfterDownload::Store(Outcome::Updated)),
        (false, true) => match mode {
            UpdateMode::Overwrite => Decision::Download(AfterDownload::Store(Outcome::Updated)),
            UpdateMode::Newest => finish(
                Outcome::KeptLocal,
                Some(
                    "the Webdesk image was uploaded after the job stored the Graph photo, which has not changed since",
                ),
            ),
        },
        (true, true) => {
            // The last observation still saw an older ETag, so Graph changed after it. An
            // upload from before that observation is therefore older than the Graph photo.
            let graph_changed_since_observation = state.observed_etag.as_ref() != Some(etag);
            let graph_is_newer = graph_changed_since_observation && image.modified_at < state.observed_at;

            if graph_is_newer || mode == UpdateMode::Overwrite {
                return Decision::Download(AfterDownload::Store(Outcome::Updated));
            }
            let reason = if graph_changed_since_observation {
                "both photos changed, and the Webdesk upload is not older than the last Graph check, so it counts as newer"
            } else {
                "both photos changed, and the Graph photo had already changed when the job last kept the Webdesk upload"
            };
            finish(Outcome::KeptLocal, Some(reason))
        }
    }
}

/// Decides for a person the job has never looked at before. Without history there is no
/// time for the Graph photo, so only the bytes and the image's author can tell.
fn decide_without_history(mode: UpdateMode, image: &WebdeskImage) -> Decision {
    match (image.modified_by, mode) {
        (ModifiedBy::GraphSync, _) | (ModifiedBy::Upload, UpdateMode::Overwrite) => {
            Decision::Download(AfterDownload::Store(Outcome::Updated))
        }
        (ModifiedBy::Upload, UpdateMode::Newest) => Decision::Download(AfterDownload::KeepLocal(
            "no sync history yet and the Webdesk upload differs from the Graph photo; the upload is kept because its age relative to the Graph photo is unknown".to_owned(),
        )),
    }
}

impl Decision {
    /// Applies the decision to downloaded bytes. Bytes equal to the Webdesk image never
    /// cause a write.
    pub fn after_download(then: &AfterDownload, downloaded: &[u8], webdesk: Option<&WebdeskImage>) -> Action {
        if webdesk.is_some_and(|image| image.content == downloaded) {
            return Action::Finish {
                outcome: Outcome::Unchanged,
                detail: Some("the Graph photo has the same bytes as the Webdesk image".to_owned()),
            };
        }
        match then {
            AfterDownload::Store(outcome) => Action::Store { outcome: *outcome, detail: None },
            AfterDownload::KeepLocal(reason) => {
                Action::Finish { outcome: Outcome::KeptLocal, detail: Some(reason.clone()) }
            }
        }
    }
}

fn finish(outcome: Outcome, detail: Option<&str>) -> Decision {
    Decision::Finish { outcome, detail: detail.map(str::to_owned) }
}
