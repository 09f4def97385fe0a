//! Tests of `load_directory`: which rows each kind of reference loads from a small seeded
//! person master. On PostgreSQL they also check `IN` lists, `BOOLEAN` and `DATE` columns.

use std::fmt::Write as _;

use photo_sync_domain::ports::WebdeskStore;
use photo_sync_domain::{
    ClientId, ClientRef, Directory, GroupId, GroupRef, PersonId, PersonRef, Selection, UnresolvedReference, resolve,
};
use time::macros::date;

use crate::support::{Backend, TestDb, on_both_backends};

/// Three clients; `HR` exists in two of them, `SALES` expired in 2020, and Emil and
/// Fritz belong to no group. SQLite stores `TRUE` and `FALSE` as 1 and 0.
const SEED: &str = "
    INSERT INTO clients (id, short_name, name) VALUES
        (1, 'ACME-DE', 'Acme Deutschland'),
        (2, 'ACME-AT', 'Acme Österreich'),
        (3, 'OTHER', 'Other Ltd');
    INSERT INTO groups (id, client_id, short_name, name, parent_id, valid_from, valid_to) VALUES
        (10, 1, 'HR', 'Personal DE', NULL, NULL, NULL),
        (11, 2, 'HR', 'Personal AT', NULL, '2021-01-01', NULL),
        (12, 1, 'IT', 'IT DE', 10, NULL, NULL),
        (13, 3, 'SALES', 'Sales', NULL, '2020-01-01', '2020-12-31');
    INSERT INTO persons (id, client_id, username, first_name, last_name, active, entra_object_id, entra_user_principal_name) VALUES
        (100, 1, 'anna', 'Anna', 'Berg', TRUE, '0b1c', 'anna@acme.example'),
        (101, 1, 'bert', 'Bert', 'Carl', TRUE, NULL, 'Bert@acme.example'),
        (102, 2, 'cora', 'Cora', 'Dahl', FALSE, NULL, NULL),
        (103, 3, 'dirk', 'Dirk', 'Ernst', TRUE, '  ', 'dirk@other.example'),
        (104, 3, 'emil', 'Emil', 'Fink', TRUE, NULL, NULL),
        (105, 2, 'fritz', 'Fritz', 'Gans', TRUE, '9f8e', NULL);
    INSERT INTO group_memberships (group_id, person_id, valid_from, valid_to) VALUES
        (10, 100, '2020-01-01', NULL),
        (10, 101, '2019-01-01', '2019-12-31'),
        (11, 102, '2021-01-01', '2021-12-31'),
        (11, 105, '2022-03-01', NULL),
        (12, 101, '2020-01-01', NULL),
        (13, 103, '2020-01-01', NULL);
";

async fn seeded(backend: Backend) -> (TestDb, photo_sync_webdesk::WebdeskDb) {
    let db = TestDb::new(backend);
    let store = db.migrated().await;
    db.execute(SEED).await;
    (db, store)
}

/// Describes each loaded row on one line, so a snapshot shows exactly which rows were loaded.
fn describe(directory: &Directory) -> String {
    let mut out = String::new();
    for client in &directory.clients {
        writeln!(out, "client {} {}", client.id, client.short_name).expect("writing to a String succeeds");
    }
    for group in &directory.groups {
        writeln!(
            out,
            "group {} {} of client {} valid {:?}..{:?}",
            group.id, group.short_name, group.client_id, group.validity.from, group.validity.to
        )
        .expect("writing to a String succeeds");
    }
    for membership in &directory.memberships {
        writeln!(
            out,
            "membership group {} person {} valid {:?}..{:?}",
            membership.group_id, membership.person_id, membership.validity.from, membership.validity.to
        )
        .expect("writing to a String succeeds");
    }
    for person in &directory.persons {
        writeln!(
            out,
            "person {} {} ({}) of client {} active {} account {:?}",
            person.id,
            person.username,
            person.display_name(),
            person.client_id,
            person.active,
            person.account
        )
        .expect("writing to a String succeeds");
    }
    out
}

async fn load(store: &photo_sync_webdesk::WebdeskDb, selection: Selection) -> String {
    let directory = store.load_directory(&selection).await.expect("the directory loads");
    describe(&directory)
}

async fn person_by_id_and_username(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let selection = Selection {
        persons: vec![
            PersonRef::Id(PersonId(100)),
            PersonRef::Username("bert".into()),
            PersonRef::Username("nobody".into()),
        ],
        ..Selection::default()
    };

    let loaded = load(&store, selection).await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(loaded, @r#"
        person 100 anna (Anna Berg) of client 1 active true account Some(ObjectId("0b1c"))
        person 101 bert (Bert Carl) of client 1 active true account Some(UserPrincipalName("Bert@acme.example"))
        "#);
    }
}

async fn group_by_id(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let selection = Selection { groups: vec![GroupRef::Id(GroupId(12))], ..Selection::default() };

    let loaded = load(&store, selection).await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(loaded, @r#"
        client 1 ACME-DE
        group 12 IT of client 1 valid None..None
        membership group 12 person 101 valid Some(2020-01-01)..None
        person 101 bert (Bert Carl) of client 1 active true account Some(UserPrincipalName("Bert@acme.example"))
        "#);
    }
}

async fn group_by_short_name_in_every_client(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let selection = Selection { groups: vec![GroupRef::ShortName("HR".into())], ..Selection::default() };

    let loaded = load(&store, selection).await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(loaded, @r#"
        client 1 ACME-DE
        client 2 ACME-AT
        group 10 HR of client 1 valid None..None
        group 11 HR of client 2 valid Some(2021-01-01)..None
        membership group 10 person 100 valid Some(2020-01-01)..None
        membership group 10 person 101 valid Some(2019-01-01)..Some(2019-12-31)
        membership group 11 person 102 valid Some(2021-01-01)..Some(2021-12-31)
        membership group 11 person 105 valid Some(2022-03-01)..None
        person 100 anna (Anna Berg) of client 1 active true account Some(ObjectId("0b1c"))
        person 101 bert (Bert Carl) of client 1 active true account Some(UserPrincipalName("Bert@acme.example"))
        person 102 cora (Cora Dahl) of client 2 active false account None
        person 105 fritz (Fritz Gans) of client 2 active true account Some(ObjectId("9f8e"))
        "#);
    }
}

async fn group_qualified_by_client(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let selection = Selection {
        groups: vec![
            GroupRef::Qualified { client: "ACME-AT".into(), group: "HR".into() },
            GroupRef::Qualified { client: "OTHER".into(), group: "HR".into() },
        ],
        ..Selection::default()
    };

    let loaded = load(&store, selection).await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(loaded, @r#"
        client 2 ACME-AT
        group 11 HR of client 2 valid Some(2021-01-01)..None
        membership group 11 person 102 valid Some(2021-01-01)..Some(2021-12-31)
        membership group 11 person 105 valid Some(2022-03-01)..None
        person 102 cora (Cora Dahl) of client 2 active false account None
        person 105 fritz (Fritz Gans) of client 2 active true account Some(ObjectId("9f8e"))
        "#);
    }
}

async fn client_by_short_name_and_id(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let selection = Selection {
        clients: vec![ClientRef::ShortName("OTHER".into()), ClientRef::Id(ClientId(2)), ClientRef::Id(ClientId(99))],
        ..Selection::default()
    };

    let loaded = load(&store, selection).await;
    insta::allow_duplicates! {
        insta::assert_snapshot!(loaded, @r#"
        client 2 ACME-AT
        client 3 OTHER
        person 102 cora (Cora Dahl) of client 2 active false account None
        person 103 dirk (Dirk Ernst) of client 3 active true account Some(UserPrincipalName("dirk@other.example"))
        person 104 emil (Emil Fink) of client 3 active true account None
        person 105 fritz (Fritz Gans) of client 2 active true account Some(ObjectId("9f8e"))
        "#);
    }
}

async fn client_owning_a_group_brings_no_persons(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let selection = Selection { groups: vec![GroupRef::ShortName("SALES".into())], ..Selection::default() };

    let directory = store.load_directory(&selection).await.expect("the directory loads");

    let client_ids: Vec<ClientId> = directory.clients.iter().map(|client| client.id).collect();
    let person_ids: Vec<PersonId> = directory.persons.iter().map(|person| person.id).collect();
    assert_eq!(client_ids, [ClientId(3)]);
    assert_eq!(person_ids, [PersonId(103)], "Emil is in client 3 but in no selected group");
}

async fn empty_selection_loads_nothing(backend: Backend) {
    let (_db, store) = seeded(backend).await;

    let directory = store.load_directory(&Selection::default()).await.expect("the directory loads");

    assert_eq!(directory, Directory::default());
}

async fn overlapping_references_load_each_row_once(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let selection = Selection {
        persons: vec![PersonRef::Id(PersonId(100)), PersonRef::Username("anna".into())],
        groups: vec![GroupRef::Id(GroupId(10)), GroupRef::ShortName("HR".into())],
        clients: vec![ClientRef::ShortName("ACME-DE".into()), ClientRef::Id(ClientId(1))],
        include_inactive: false,
    };

    let directory = store.load_directory(&selection).await.expect("the directory loads");

    let person_ids: Vec<i64> = directory.persons.iter().map(|person| person.id.0).collect();
    let group_ids: Vec<i64> = directory.groups.iter().map(|group| group.id.0).collect();
    let client_ids: Vec<i64> = directory.clients.iter().map(|client| client.id.0).collect();
    assert_eq!(person_ids, [100, 101, 102, 105]);
    assert_eq!(group_ids, [10, 11]);
    assert_eq!(client_ids, [1, 2]);
    assert_eq!(directory.memberships.len(), 4);
}

async fn loaded_rows_resolve_selection(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let selection = Selection {
        groups: vec![
            GroupRef::ShortName("HR".into()),
            GroupRef::Qualified { client: "ACME-DE".into(), group: "HR".into() },
        ],
        clients: vec![ClientRef::ShortName("OTHER".into())],
        ..Selection::default()
    };

    let directory = store.load_directory(&selection).await.expect("the directory loads");
    let resolution = resolve(&selection, &directory, date!(2026 - 06 - 01));

    let targets: Vec<&str> = resolution.targets.iter().map(|person| person.username.as_str()).collect();
    assert_eq!(targets, ["anna", "dirk", "emil"]);
    assert_eq!(
        resolution.unresolved,
        [UnresolvedReference::AmbiguousGroup {
            short_name: "HR".into(),
            clients: vec!["ACME-AT".into(), "ACME-DE".into()]
        }]
    );
}

async fn long_reference_lists_stay_below_sqlite_limits(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    // More ids than SQLite's default limit of 32766 bound parameters in one statement.
    let persons = (1..=40_000).map(|id| PersonRef::Id(PersonId(id))).collect();
    let groups = (1..=40_000).map(|id| GroupRef::Id(GroupId(id))).collect();
    let selection = Selection { persons, groups, ..Selection::default() };

    let directory = store.load_directory(&selection).await.expect("the directory loads in chunks");

    let person_ids: Vec<i64> = directory.persons.iter().map(|person| person.id.0).collect();
    let group_ids: Vec<i64> = directory.groups.iter().map(|group| group.id.0).collect();
    assert_eq!(person_ids, [100, 101, 102, 103, 104, 105]);
    assert_eq!(group_ids, [10, 11, 12, 13]);
}

on_both_backends!(
    person_by_id_and_username,
    group_by_id,
    group_by_short_name_in_every_client,
    group_qualified_by_client,
    client_by_short_name_and_id,
    client_owning_a_group_brings_no_persons,
    empty_selection_loads_nothing,
    overlapping_references_load_each_row_once,
    loaded_rows_resolve_selection,
    long_reference_lists_stay_below_sqlite_limits,
);
