//! The core of the photo sync job: which persons to sync, what to do per person, and the
//! use case that drives both through ports.
//!
//! **Architecture Invariant:** this crate does no I/O. It has no database, HTTP or async
//! runtime dependency; adapters implement the traits in [`ports`] and the app wires them
//! together. Everything that crosses a port is a domain type, so the core never re-checks
//! input that a constructor here has already validated.

pub mod decision;
pub mod directory;
pub mod ids;
pub mod person;
pub mod photo;
pub mod ports;
pub mod report;
pub mod resolution;
pub mod selection;
pub mod sync;

pub use decision::{Action, AfterDownload, Decision, GraphObservation, ModifiedBy, SyncState, WebdeskImage, decide};
pub use directory::{Client, Directory, Group, Membership, Validity};
pub use ids::{ClientId, GroupId, PersonId};
pub use person::{MicrosoftAccount, Person};
pub use photo::{ETag, PhotoError, PhotoFormat, ValidPhoto};
pub use report::{Counts, Outcome, PersonReport, SyncReport};
pub use resolution::{Resolution, UnresolvedReference, resolve};
pub use selection::{ClientRef, GroupRef, PersonRef, Selection, UpdateMode};
pub use sync::{StopFlag, SyncService};
