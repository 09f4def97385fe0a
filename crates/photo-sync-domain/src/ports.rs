//! The seams between the use case and the outside world. Adapters implement these traits,
//! and every type crossing them is a domain type. Adapters translate SQL and HTTP errors
//! into [`StoreError`], [`SourceError`] and [`PhotoFailure`] at the seam.

use std::collections::HashMap;
use std::future::Future;

use time::OffsetDateTime;

use crate::decision::{GraphObservation, SyncState, WebdeskImage};
use crate::directory::Directory;
use crate::ids::PersonId;
use crate::person::MicrosoftAccount;
use crate::photo::{ETag, ValidPhoto};
use crate::selection::Selection;

/// The Webdesk database failed; the run cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// A Graph photo to store for one person, with the sync state to record in the same
/// transaction.
#[derive(Debug, Clone)]
pub struct PhotoWrite<'a> {
    pub person_id: PersonId,
    /// The `person_images.version` read before the decision, or `None` when the person
    /// had no image. The write only happens while the row is still at this version.
    pub expected_version: Option<i64>,
    pub photo: &'a ValidPhoto,
    pub modified_at: OffsetDateTime,
    /// The state to record; its `written_version` is the version this write creates.
    pub state: SyncState,
}

/// The result of a conditional photo write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteResult {
    Stored {
        version: i64,
    },
    /// The image changed (or appeared) after it was read, so nothing was written.
    Conflict,
}

/// The Webdesk person master and the job's own tables.
pub trait WebdeskStore: Send + Sync {
    /// Loads every row the selection can reach; see [`Directory`].
    fn load_directory(&self, selection: &Selection) -> impl Future<Output = Result<Directory, StoreError>> + Send;

    /// Loads the current images of these persons in a fixed number of queries.
    fn load_images(
        &self,
        persons: &[PersonId],
    ) -> impl Future<Output = Result<HashMap<PersonId, WebdeskImage>, StoreError>> + Send;

    /// Loads the recorded sync state of these persons in a fixed number of queries.
    fn load_states(
        &self,
        persons: &[PersonId],
    ) -> impl Future<Output = Result<HashMap<PersonId, SyncState>, StoreError>> + Send;

    /// Stores a photo and its sync state in one transaction, unless the image changed
    /// since it was read.
    fn store_photo(&self, write: PhotoWrite<'_>) -> impl Future<Output = Result<WriteResult, StoreError>> + Send;

    /// Records sync states that come with no image change, in one transaction.
    fn record_states(&self, states: &[(PersonId, SyncState)]) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Why Graph could not deliver one person's photo. The run goes on with the next person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PhotoFailure {
    pub kind: FailureKind,
    /// Message naming what failed and what to do, without secrets.
    pub message: String,
}

/// The class of a [`PhotoFailure`], for counting and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The directory does not know the user (`404 Request_ResourceNotFound`).
    UnknownUser,
    /// `403`: the app lacks `ProfilePhoto.Read.All` or `User.Read.All`.
    AccessDenied,
    /// `401`: the token was rejected.
    Unauthorized,
    /// `400`, for example a user without an Exchange Online mailbox.
    BadRequest,
    /// `429` or `5xx` still failing after retries.
    Unavailable,
    /// The connection failed or timed out.
    Transport,
    /// Graph sent something the adapter cannot read.
    InvalidResponse,
}

/// Graph cannot be used at all, for example because no token can be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// Photo bytes as Graph sent them, not yet validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download {
    NoPhoto,
    Photo { etag: Option<ETag>, bytes: Vec<u8> },
}

/// Microsoft Graph, read-only. Each call carries many persons so an adapter can batch
/// and parallelise; results come back in the order of `accounts`.
pub trait PhotoSource: Send + Sync {
    /// Reads each account's photo metadata: whether a photo exists and its ETag.
    fn observe(
        &self,
        accounts: &[MicrosoftAccount],
    ) -> impl Future<Output = Result<Vec<Result<GraphObservation, PhotoFailure>>, SourceError>> + Send;

    /// Downloads each account's photo bytes and the ETag they were served with.
    fn download(
        &self,
        accounts: &[MicrosoftAccount],
    ) -> impl Future<Output = Result<Vec<Result<Download, PhotoFailure>>, SourceError>> + Send;
}

/// The current time in UTC, replaceable in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
