//! Table tests of target resolution: which persons a selection reaches on a given day.

use photo_sync_domain::{
    Client, ClientId, ClientRef, Directory, Group, GroupId, GroupRef, Membership, MicrosoftAccount, Person, PersonId,
    PersonRef, Selection, UnresolvedReference, Validity, resolve,
};
use time::macros::date;

const TODAY: time::Date = date!(2026 - 12 - 04);

fn person(id: i64, client: i64, username: &str, active: bool) -> Person {
    Person {
        id: PersonId(id),
        client_id: ClientId(client),
        username: username.to_owned(),
        first_name: "First".to_owned(),
        last_name: username.to_owned(),
        active,
        account: MicrosoftAccount::from_columns(Some(&format!("object-{id}")), None),
    }
}

fn validity(from: Option<time::Date>, to: Option<time::Date>) -> Validity {
    Validity { from, to }
}

/// Two clients; groups IT in both (ambiguous short name), HR in ACME-AT, an expired group
/// OLD; memberships with ranges around today.
fn directory() -> Directory {
    Directory {
        clients: vec![
            Client { id: ClientId(1), short_name: "ACME-AT".into() },
            Client { id: ClientId(2), short_name: "ACME-DE".into() },
        ],
        groups: vec![
            Group { id: GroupId(10), client_id: ClientId(1), short_name: "HR".into(), validity: Validity::default() },
            Group { id: GroupId(11), client_id: ClientId(1), short_name: "IT".into(), validity: Validity::default() },
            Group { id: GroupId(12), client_id: ClientId(2), short_name: "IT".into(), validity: Validity::default() },
            Group {
                id: GroupId(13),
                client_id: ClientId(2),
                short_name: "OLD".into(),
                validity: validity(None, Some(date!(2026 - 12 - 03))),
            },
            Group {
                id: GroupId(14),
                client_id: ClientId(2),
                short_name: "SALES".into(),
                validity: validity(Some(TODAY), Some(TODAY)),
            },
        ],
        memberships: vec![
            // HR: 100 open-ended, 101 ended yesterday, 102 starts tomorrow, 103 inactive,
            // 104 ends today (inclusive).
            Membership {
                group_id: GroupId(10),
                person_id: PersonId(100),
                validity: validity(Some(date!(2020 - 01 - 01)), None),
            },
            Membership {
                group_id: GroupId(10),
                person_id: PersonId(101),
                validity: validity(Some(date!(2020 - 01 - 01)), Some(date!(2026 - 12 - 03))),
            },
            Membership {
                group_id: GroupId(10),
                person_id: PersonId(102),
                validity: validity(Some(date!(2026 - 12 - 05)), None),
            },
            Membership {
                group_id: GroupId(10),
                person_id: PersonId(103),
                validity: validity(Some(date!(2020 - 01 - 01)), None),
            },
            Membership {
                group_id: GroupId(10),
                person_id: PersonId(104),
                validity: validity(Some(date!(2026 - 12 - 04)), Some(TODAY)),
            },
            // OLD is expired itself, so its open membership does not count.
            Membership {
                group_id: GroupId(13),
                person_id: PersonId(200),
                validity: validity(Some(date!(2020 - 01 - 01)), None),
            },
            Membership {
                group_id: GroupId(14),
                person_id: PersonId(201),
                validity: validity(Some(date!(2020 - 01 - 01)), None),
            },
            Membership {
                group_id: GroupId(11),
                person_id: PersonId(100),
                validity: validity(Some(date!(2020 - 01 - 01)), None),
            },
        ],
        persons: vec![
            person(100, 1, "anna", true),
            person(101, 1, "bernd", true),
            person(102, 1, "clara", true),
            person(103, 1, "dieter", false),
            person(104, 1, "eva", true),
            person(200, 2, "fritz", true),
            person(201, 2, "greta", true),
            person(202, 2, "hans", false),
        ],
    }
}

fn usernames(selection: &Selection) -> Vec<String> {
    resolve(selection, &directory(), TODAY).targets.into_iter().map(|p| p.username).collect()
}

fn groups(references: &[GroupRef]) -> Selection {
    Selection { groups: references.to_vec(), ..Selection::default() }
}

#[test]
fn group_reaches_currently_valid_active_members() {
    let selection = groups(&[GroupRef::Id(GroupId(10))]);
    assert_eq!(usernames(&selection), ["anna", "eva"]);
}

#[test]
fn group_with_include_inactive_adds_inactive() {
    let selection = Selection { include_inactive: true, ..groups(&[GroupRef::Id(GroupId(10))]) };
    assert_eq!(usernames(&selection), ["anna", "dieter", "eva"]);
}

#[test]
fn expired_group_has_no_members() {
    let selection = groups(&[GroupRef::Qualified { client: "ACME-DE".into(), group: "OLD".into() }]);
    let resolution = resolve(&selection, &directory(), TODAY);
    assert!(resolution.targets.is_empty());
    assert!(resolution.unresolved.is_empty(), "an expired group is found, it just has no valid members");
}

#[test]
fn group_valid_only_today_counts() {
    let selection = groups(&[GroupRef::ShortName("SALES".into())]);
    assert_eq!(usernames(&selection), ["greta"]);
}

#[test]
fn group_validity_depends_on_today() {
    let selection = groups(&[GroupRef::ShortName("SALES".into())]);
    let tomorrow = resolve(&selection, &directory(), date!(2026 - 12 - 05));
    assert!(tomorrow.targets.is_empty());
}

#[test]
fn client_reaches_active_persons() {
    let selection = Selection { clients: vec![ClientRef::ShortName("ACME-DE".into())], ..Selection::default() };
    assert_eq!(usernames(&selection), ["fritz", "greta"]);

    let with_inactive = Selection { include_inactive: true, ..selection };
    assert_eq!(usernames(&with_inactive), ["fritz", "greta", "hans"]);
}

#[test]
fn persons_chosen_directly_include_inactive() {
    let selection = Selection {
        persons: vec![PersonRef::Username("hans".into()), PersonRef::Id(PersonId(103))],
        ..Selection::default()
    };
    assert_eq!(usernames(&selection), ["dieter", "hans"]);
}

#[test]
fn person_reached_several_ways_counts_once() {
    let selection = Selection {
        persons: vec![PersonRef::Username("anna".into()), PersonRef::Id(PersonId(100))],
        groups: vec![GroupRef::Id(GroupId(10)), GroupRef::Qualified { client: "ACME-AT".into(), group: "IT".into() }],
        clients: vec![ClientRef::Id(ClientId(1))],
        include_inactive: false,
    };
    assert_eq!(usernames(&selection), ["anna", "bernd", "clara", "eva"]);
}

#[test]
fn unmatched_references_are_listed() {
    let selection = Selection {
        persons: vec![
            PersonRef::Username("nobody".into()),
            PersonRef::Id(PersonId(999)),
            PersonRef::Username("anna".into()),
        ],
        groups: vec![
            GroupRef::ShortName("NONE".into()),
            GroupRef::Qualified { client: "ACME-DE".into(), group: "HR".into() },
        ],
        clients: vec![ClientRef::ShortName("ACME-CH".into())],
        include_inactive: false,
    };
    let resolution = resolve(&selection, &directory(), TODAY);

    assert_eq!(resolution.targets.len(), 1, "the rest of the selection still resolves");
    let listed: Vec<String> = resolution.unresolved.iter().map(ToString::to_string).collect();
    insta::assert_debug_snapshot!(listed, @r#"
    [
        "person \"nobody\": not found",
        "person \"999\": not found",
        "group \"NONE\": not found",
        "group \"ACME-DE/HR\": not found",
        "client \"ACME-CH\": not found",
    ]
    "#);
}

#[test]
fn ambiguous_group_short_name_is_listed() {
    let selection = groups(&[GroupRef::ShortName("IT".into())]);
    let resolution = resolve(&selection, &directory(), TODAY);

    assert!(resolution.targets.is_empty());
    assert_eq!(
        resolution.unresolved,
        vec![UnresolvedReference::AmbiguousGroup {
            short_name: "IT".into(),
            clients: vec!["ACME-AT".into(), "ACME-DE".into()]
        }]
    );
    insta::assert_snapshot!(resolution.unresolved[0].to_string(), @r#"group "IT": ambiguous, several clients have it; write one of ACME-AT/IT, ACME-DE/IT"#);
}

#[test]
fn empty_selection_resolves_nothing() {
    let selection = Selection::default();
    assert!(selection.is_empty());
    assert_eq!(resolve(&selection, &directory(), TODAY), Default::default());
}
