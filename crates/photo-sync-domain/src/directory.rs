//! The rows of the person master that a selection can reach, as loaded by the Webdesk
//! adapter for target resolution.

use time::Date;

use crate::ids::{ClientId, GroupId, PersonId};
use crate::person::Person;

/// An inclusive date range; `None` leaves that side unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Validity {
    pub from: Option<Date>,
    pub to: Option<Date>,
}

impl Validity {
    /// Returns whether `today` lies within the range, both ends included.
    pub fn contains(&self, today: Date) -> bool {
        self.from.is_none_or(|from| from <= today) && self.to.is_none_or(|to| today <= to)
    }
}

/// A row of `clients`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub short_name: String,
}

/// A row of `groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub client_id: ClientId,
    pub short_name: String,
    pub validity: Validity,
}

/// A row of `group_memberships`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub group_id: GroupId,
    pub person_id: PersonId,
    pub validity: Validity,
}

/// Every row the selection could reach: the clients and groups its references name (a
/// group short name loads the groups of that name in every client), all memberships of
/// those groups, and the persons reachable through any reference.
///
/// The adapter may load more rows than match; [`crate::resolve`] decides what matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    pub clients: Vec<Client>,
    pub groups: Vec<Group>,
    pub memberships: Vec<Membership>,
    pub persons: Vec<Person>,
}
