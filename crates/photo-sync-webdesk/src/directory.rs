//! Loading the rows a selection can reach: the referenced clients and groups, the
//! memberships of those groups and every person reachable through any reference.
//!
//! The queries load a superset on purpose. Deciding validity, activity, ambiguity and
//! duplicates is the job of `photo_sync_domain::resolve`, which receives every candidate row.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use photo_sync_domain::{
    Client, ClientId, ClientRef, Directory, Group, GroupId, GroupRef, Membership, MicrosoftAccount, Person, PersonId,
    PersonRef, Selection, Validity,
};
use time::Date;

use crate::MAX_KEYS_PER_QUERY;
use crate::connection::DbConnection;
use crate::schema::{clients, group_memberships, groups, persons};

#[derive(Queryable, Selectable)]
#[diesel(table_name = clients)]
struct ClientRow {
    id: i64,
    short_name: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = groups)]
struct GroupRow {
    id: i64,
    client_id: i64,
    short_name: String,
    valid_from: Option<Date>,
    valid_to: Option<Date>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = group_memberships)]
struct MembershipRow {
    group_id: i64,
    person_id: i64,
    valid_from: Date,
    valid_to: Option<Date>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = persons)]
struct PersonRow {
    id: i64,
    client_id: i64,
    username: String,
    first_name: String,
    last_name: String,
    active: bool,
    entra_object_id: Option<String>,
    entra_user_principal_name: Option<String>,
}

/// The selection's references, split into the key lists the queries bind.
#[derive(Default)]
struct Keys {
    person_ids: Vec<i64>,
    usernames: Vec<String>,
    group_ids: Vec<i64>,
    group_short_names: Vec<String>,
    /// `CLIENT/GROUP`, compared against `clients.short_name || '/' || groups.short_name`.
    qualified_groups: Vec<String>,
    client_ids: Vec<i64>,
    client_short_names: Vec<String>,
}

impl Keys {
    fn from_selection(selection: &Selection) -> Self {
        let mut keys = Self::default();

        for reference in &selection.persons {
            match reference {
                PersonRef::Id(id) => keys.person_ids.push(id.0),
                PersonRef::Username(name) => keys.usernames.push(name.clone()),
            }
        }

        for reference in &selection.groups {
            match reference {
                GroupRef::Id(id) => keys.group_ids.push(id.0),
                GroupRef::ShortName(name) => keys.group_short_names.push(name.clone()),
                GroupRef::Qualified { client, group } => keys.qualified_groups.push(format!("{client}/{group}")),
            }
        }

        for reference in &selection.clients {
            match reference {
                ClientRef::Id(id) => keys.client_ids.push(id.0),
                ClientRef::ShortName(name) => keys.client_short_names.push(name.clone()),
            }
        }
        keys
    }

    fn selects_client(&self, client: &ClientRow) -> bool {
        self.client_ids.contains(&client.id) || self.client_short_names.contains(&client.short_name)
    }
}

/// Loads every row the selection can reach, in a fixed number of queries per
/// [`MAX_KEYS_PER_QUERY`] keys. Each list comes back ordered by its key.
pub(crate) async fn load_directory(conn: &mut DbConnection, selection: &Selection) -> QueryResult<Directory> {
    let keys = Keys::from_selection(selection);

    let groups = load_groups(conn, &keys).await?;
    let group_ids: Vec<i64> = groups.keys().copied().collect();

    let mut group_client_ids: Vec<i64> = groups.values().map(|group| group.client_id).collect();
    group_client_ids.sort_unstable();
    group_client_ids.dedup();
    let clients = load_clients(conn, &keys, &group_client_ids).await?;

    let memberships = load_memberships(conn, &group_ids).await?;

    // Only clients named by a client reference bring all their persons along. A client
    // loaded because it owns a group is there for the `CLIENT/GROUP` lookup.
    let selected_client_ids: Vec<i64> =
        clients.values().filter(|client| keys.selects_client(client)).map(|client| client.id).collect();
    let persons = load_persons(conn, &keys, &group_ids, &selected_client_ids).await?;

    Ok(Directory {
        clients: clients.into_values().map(into_client).collect(),
        groups: groups.into_values().map(into_group).collect(),
        memberships: memberships.into_iter().map(into_membership).collect(),
        persons: persons.into_values().map(into_person).collect(),
    })
}

async fn load_groups(conn: &mut DbConnection, keys: &Keys) -> QueryResult<BTreeMap<i64, GroupRow>> {
    let mut rows = Vec::new();

    for chunk in keys.group_ids.chunks(MAX_KEYS_PER_QUERY) {
        let query = groups::table.filter(groups::id.eq_any(chunk)).select(GroupRow::as_select());
        rows.extend(query.load(conn).await?);
    }

    for chunk in keys.group_short_names.chunks(MAX_KEYS_PER_QUERY) {
        let query = groups::table.filter(groups::short_name.eq_any(chunk)).select(GroupRow::as_select());
        rows.extend(query.load(conn).await?);
    }

    for chunk in keys.qualified_groups.chunks(MAX_KEYS_PER_QUERY) {
        let qualified_name = clients::short_name.concat("/").concat(groups::short_name);
        let query =
            groups::table.inner_join(clients::table).filter(qualified_name.eq_any(chunk)).select(GroupRow::as_select());
        rows.extend(query.load(conn).await?);
    }

    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}

async fn load_clients(
    conn: &mut DbConnection,
    keys: &Keys,
    group_client_ids: &[i64],
) -> QueryResult<BTreeMap<i64, ClientRow>> {
    let mut rows = Vec::new();

    let ids: Vec<i64> = keys.client_ids.iter().chain(group_client_ids).copied().collect();
    for chunk in ids.chunks(MAX_KEYS_PER_QUERY) {
        let query = clients::table.filter(clients::id.eq_any(chunk)).select(ClientRow::as_select());
        rows.extend(query.load(conn).await?);
    }

    for chunk in keys.client_short_names.chunks(MAX_KEYS_PER_QUERY) {
        let query = clients::table.filter(clients::short_name.eq_any(chunk)).select(ClientRow::as_select());
        rows.extend(query.load(conn).await?);
    }

    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}

async fn load_memberships(conn: &mut DbConnection, group_ids: &[i64]) -> QueryResult<Vec<MembershipRow>> {
    let mut rows = Vec::new();

    for chunk in group_ids.chunks(MAX_KEYS_PER_QUERY) {
        let query = group_memberships::table
            .filter(group_memberships::group_id.eq_any(chunk))
            .order((group_memberships::group_id, group_memberships::person_id, group_memberships::valid_from))
            .select(MembershipRow::as_select());
        rows.extend(query.load(conn).await?);
    }
    Ok(rows)
}

async fn load_persons(
    conn: &mut DbConnection,
    keys: &Keys,
    group_ids: &[i64],
    client_ids: &[i64],
) -> QueryResult<BTreeMap<i64, PersonRow>> {
    let mut rows = Vec::new();

    for chunk in keys.person_ids.chunks(MAX_KEYS_PER_QUERY) {
        let query = persons::table.filter(persons::id.eq_any(chunk)).select(PersonRow::as_select());
        rows.extend(query.load(conn).await?);
    }

    for chunk in keys.usernames.chunks(MAX_KEYS_PER_QUERY) {
        let query = persons::table.filter(persons::username.eq_any(chunk)).select(PersonRow::as_select());
        rows.extend(query.load(conn).await?);
    }

    // Members are selected by a subquery, so a large group costs no bound parameters.
    for chunk in group_ids.chunks(MAX_KEYS_PER_QUERY) {
        let members = group_memberships::table
            .filter(group_memberships::group_id.eq_any(chunk))
            .select(group_memberships::person_id);
        let query = persons::table.filter(persons::id.eq_any(members)).select(PersonRow::as_select());
        rows.extend(query.load(conn).await?);
    }

    for chunk in client_ids.chunks(MAX_KEYS_PER_QUERY) {
        let query = persons::table.filter(persons::client_id.eq_any(chunk)).select(PersonRow::as_select());
        rows.extend(query.load(conn).await?);
    }

    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}

fn into_client(row: ClientRow) -> Client {
    Client { id: ClientId(row.id), short_name: row.short_name }
}

fn into_group(row: GroupRow) -> Group {
    Group {
        id: GroupId(row.id),
        client_id: ClientId(row.client_id),
        short_name: row.short_name,
        validity: Validity { from: row.valid_from, to: row.valid_to },
    }
}

fn into_membership(row: MembershipRow) -> Membership {
    Membership {
        group_id: GroupId(row.group_id),
        person_id: PersonId(row.person_id),
        validity: Validity { from: Some(row.valid_from), to: row.valid_to },
    }
}

fn into_person(row: PersonRow) -> Person {
    let account =
        MicrosoftAccount::from_columns(row.entra_object_id.as_deref(), row.entra_user_principal_name.as_deref());
    Person {
        id: PersonId(row.id),
        client_id: ClientId(row.client_id),
        username: row.username,
        first_name: row.first_name,
        last_name: row.last_name,
        active: row.active,
        account,
    }
}
