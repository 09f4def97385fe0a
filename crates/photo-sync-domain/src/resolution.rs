//! Target resolution: turns a [`Selection`] and the rows it can reach into one
//! de-duplicated list of persons, and lists every reference that matched nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use time::Date;

use crate::directory::{Directory, Group};
use crate::ids::{ClientId, GroupId, PersonId};
use crate::person::Person;
use crate::selection::{ClientRef, GroupRef, PersonRef, Selection};

/// The persons to sync, ordered by id, and the references that could not be used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    pub targets: Vec<Person>,
    pub unresolved: Vec<UnresolvedReference>,
}

/// A configured reference that matched nothing, or a group short name that several
/// clients use. The run goes on without it and ends with the "completed with problems"
/// status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnresolvedReference {
    Person(PersonRef),
    Group(GroupRef),
    Client(ClientRef),
    /// The short name matches groups of these clients (their short names, sorted).
    AmbiguousGroup {
        short_name: String,
        clients: Vec<String>,
    },
}

impl fmt::Display for UnresolvedReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Person(reference) => write!(f, "person {reference:?}: not found", reference = reference.to_string()),
            Self::Group(reference) => write!(f, "group {reference:?}: not found", reference = reference.to_string()),
            Self::Client(reference) => write!(f, "client {reference:?}: not found", reference = reference.to_string()),
            Self::AmbiguousGroup { short_name, clients } => {
                let qualified: Vec<String> = clients.iter().map(|c| format!("{c}/{short_name}")).collect();
                write!(
                    f,
                    "group {short_name:?}: ambiguous, several clients have it; write one of {}",
                    qualified.join(", ")
                )
            }
        }
    }
}

/// Resolves `selection` against `directory` with `today` as the calendar date in the
/// configured time zone.
///
/// Persons chosen one by one are always included. Group and client selections skip
/// inactive persons unless `include_inactive` is set, and a group reaches only the
/// members whose membership and the group itself are valid today.
pub fn resolve(selection: &Selection, directory: &Directory, today: Date) -> Resolution {
    let persons_by_id: BTreeMap<PersonId, &Person> = directory.persons.iter().map(|p| (p.id, p)).collect();
    let mut unresolved = Vec::new();
    let mut chosen: BTreeSet<PersonId> = BTreeSet::new();

    for reference in &selection.persons {
        let found = match reference {
            PersonRef::Id(id) => persons_by_id.get(id).copied(),
            PersonRef::Username(name) => directory.persons.iter().find(|p| &p.username == name),
        };
        match found {
            Some(person) => {
                chosen.insert(person.id);
            }
            None => unresolved.push(UnresolvedReference::Person(reference.clone())),
        }
    }

    let reaches = |person: &Person| selection.include_inactive || person.active;

    for group_id in match_groups(selection, directory, &mut unresolved) {
        let Some(group) = directory.groups.iter().find(|g| g.id == group_id) else {
            continue;
        };
        if !group.validity.contains(today) {
            continue;
        }
        let members = directory
            .memberships
            .iter()
            .filter(|m| m.group_id == group_id && m.validity.contains(today))
            .filter_map(|m| persons_by_id.get(&m.person_id).copied());
        chosen.extend(members.filter(|p| reaches(p)).map(|p| p.id));
    }

    for client_id in match_clients(selection, directory, &mut unresolved) {
        let persons = directory.persons.iter().filter(|p| p.client_id == client_id);
        chosen.extend(persons.filter(|p| reaches(p)).map(|p| p.id));
    }

    let targets = chosen.iter().filter_map(|id| persons_by_id.get(id).map(|p| (*p).clone())).collect();
    Resolution { targets, unresolved }
}

fn match_groups(
    selection: &Selection,
    directory: &Directory,
    unresolved: &mut Vec<UnresolvedReference>,
) -> BTreeSet<GroupId> {
    let client_name = |id: ClientId| directory.clients.iter().find(|c| c.id == id).map(|c| c.short_name.as_str());
    let mut matched = BTreeSet::new();

    for reference in &selection.groups {
        let candidates: Vec<&Group> = match reference {
            GroupRef::Id(id) => directory.groups.iter().filter(|g| g.id == *id).collect(),
            GroupRef::ShortName(name) => directory.groups.iter().filter(|g| &g.short_name == name).collect(),
            GroupRef::Qualified { client, group } => directory
                .groups
                .iter()
                .filter(|g| &g.short_name == group && client_name(g.client_id) == Some(client.as_str()))
                .collect(),
        };

        match candidates.as_slice() {
            [] => unresolved.push(UnresolvedReference::Group(reference.clone())),
            [group] => {
                matched.insert(group.id);
            }
            several => {
                let mut clients: Vec<String> = several
                    .iter()
                    .map(|g| client_name(g.client_id).map_or_else(|| g.client_id.to_string(), str::to_owned))
                    .collect();
                clients.sort();
                unresolved.push(UnresolvedReference::AmbiguousGroup { short_name: reference.to_string(), clients });
            }
        }
    }
    matched
}

fn match_clients(
    selection: &Selection,
    directory: &Directory,
    unresolved: &mut Vec<UnresolvedReference>,
) -> BTreeSet<ClientId> {
    let mut matched = BTreeSet::new();

    for reference in &selection.clients {
        let found = directory.clients.iter().find(|c| match reference {
            ClientRef::Id(id) => c.id == *id,
            ClientRef::ShortName(name) => &c.short_name == name,
        });
        match found {
            Some(client) => {
                matched.insert(client.id);
            }
            None => unresolved.push(UnresolvedReference::Client(reference.clone())),
        }
    }
    matched
}
