//! `cargo xtask demo`: builds a demo Webdesk database (two clients, a few dozen persons),
//! serves real portraits from a simulated Graph on 127.0.0.1, runs the real `photo-sync`
//! twice and shows both reports. The second run must change no Webdesk image.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail, ensure};
use photo_sync_e2e::{GraphSim, PhotoSync, SimUser, TestDatabase, VALID_PHOTOS, fixture};
use serde_json::Value;

use crate::build::{build_photo_sync, workspace_root};

/// Link of a demo person to Microsoft 365.
#[derive(Clone, Copy)]
enum Link {
    ObjectId,
    UserPrincipalName,
    None,
}

/// Content of the simulated Graph for a demo person.
#[derive(Clone, Copy)]
enum Graph {
    Portrait,
    Broken(&'static str),
    NoPhoto,
    Placeholder,
    Error(u16, &'static str),
}

/// Content of Webdesk before the first run.
#[derive(Clone, Copy)]
enum Local {
    Nothing,
    /// An upload through Webdesk, of this fixture.
    Upload(&'static str),
    /// An upload of exactly the bytes Graph serves.
    UploadOfGraphPhoto,
    /// An older photo that an earlier job version stored.
    OldGraphSync,
}

struct DemoPerson {
    id: i64,
    client: i64,
    username: &'static str,
    first: &'static str,
    last: &'static str,
    active: bool,
    link: Link,
    graph: Graph,
    local: Local,
    /// `(group id, valid_from, valid_to)`.
    groups: &'static [(i64, &'static str, Option<&'static str>)],
}

const fn person(
    id: i64,
    client: i64,
    username: &'static str,
    first: &'static str,
    last: &'static str,
    groups: &'static [(i64, &'static str, Option<&'static str>)],
) -> DemoPerson {
    DemoPerson {
        id,
        client,
        username,
        first,
        last,
        active: true,
        link: Link::ObjectId,
        graph: Graph::Portrait,
        local: Local::Nothing,
        groups,
    }
}

const IT: &[(i64, &str, Option<&str>)] = &[(10, "2019-03-01", None)];
const HR: &[(i64, &str, Option<&str>)] = &[(11, "2021-01-01", None)];
const SALES: &[(i64, &str, Option<&str>)] = &[(12, "2022-06-01", None)];
const PROJECT: &[(i64, &str, Option<&str>)] = &[(13, "2024-01-01", None)];
const LEFT_IT: &[(i64, &str, Option<&str>)] = &[(10, "2018-01-01", Some("2023-12-31"))];
const STARTS_LATER: &[(i64, &str, Option<&str>)] = &[(11, "2099-01-01", None)];
const NONE: &[(i64, &str, Option<&str>)] = &[];

fn demo_persons() -> Vec<DemoPerson> {
    vec![
        // ACME-AT (Vienna): IT, HR and sales are selected as groups.
        person(101, 1, "m.gruber", "Maria", "Gruber", IT),
        person(102, 1, "j.huber", "Johann", "Huber", IT),
        DemoPerson {
            local: Local::Upload("eileen-collins-648.jpg"),
            ..person(103, 1, "a.wagner", "Anna", "Wagner", IT)
        },
        DemoPerson { link: Link::UserPrincipalName, ..person(104, 1, "f.pichler", "Franz", "Pichler", IT) },
        DemoPerson {
            graph: Graph::Broken("truncated.jpg"),
            local: Local::OldGraphSync,
            ..person(105, 1, "e.steiner", "Elisabeth", "Steiner", IT)
        },
        DemoPerson { graph: Graph::Broken("html-error-page.jpg"), ..person(106, 1, "k.moser", "Karl", "Moser", IT) },
        DemoPerson { active: false, ..person(107, 1, "g.mayer", "Gertrude", "Mayer", IT) },
        person(108, 1, "t.hofer", "Thomas", "Hofer", LEFT_IT),
        DemoPerson { local: Local::OldGraphSync, ..person(111, 1, "s.bauer", "Sabine", "Bauer", HR) },
        DemoPerson { link: Link::None, ..person(112, 1, "w.leitner", "Wolfgang", "Leitner", HR) },
        DemoPerson { graph: Graph::NoPhoto, ..person(113, 1, "c.berger", "Christina", "Berger", HR) },
        DemoPerson { local: Local::UploadOfGraphPhoto, ..person(114, 1, "p.fuchs", "Peter", "Fuchs", HR) },
        person(115, 1, "h.eder", "Helga", "Eder", STARTS_LATER),
        person(121, 1, "r.schmid", "Robert", "Schmid", SALES),
        DemoPerson {
            graph: Graph::Error(403, "ErrorAccessDenied"),
            ..person(122, 1, "m.wimmer", "Monika", "Wimmer", SALES)
        },
        DemoPerson { graph: Graph::Placeholder, ..person(123, 1, "l.winkler", "Leopold", "Winkler", SALES) },
        DemoPerson {
            local: Local::Upload("grace-hopper-48.jpg"),
            ..person(124, 1, "b.brunner", "Barbara", "Brunner", SALES)
        },
        // The project group ended in 2024, so its members are not selected through it.
        person(131, 1, "o.lang", "Otto", "Lang", PROJECT),
        // Chosen one by one, so included although inactive.
        DemoPerson { active: false, ..person(141, 1, "i.koller", "Ingrid", "Koller", NONE) },
        // ACME-DE (Berlin): the whole client is selected.
        person(201, 2, "l.mueller", "Lukas", "Müller", NONE),
        person(202, 2, "s.schmidt", "Sophie", "Schmidt", NONE),
        person(203, 2, "j.schneider", "Jonas", "Schneider", NONE),
        DemoPerson { link: Link::UserPrincipalName, ..person(204, 2, "l.fischer", "Lena", "Fischer", NONE) },
        DemoPerson { graph: Graph::Broken("empty.jpg"), ..person(205, 2, "f.weber", "Felix", "Weber", NONE) },
        DemoPerson { local: Local::Upload("grace-hopper.jpg"), ..person(206, 2, "m.meyer", "Mia", "Meyer", NONE) },
        DemoPerson { link: Link::None, ..person(207, 2, "p.wagner", "Paul", "Wagner", NONE) },
        DemoPerson {
            graph: Graph::Error(400, "MailboxNotHostedInExchangeOnline"),
            ..person(208, 2, "e.becker", "Emma", "Becker", NONE)
        },
        DemoPerson { graph: Graph::NoPhoto, ..person(209, 2, "b.schulz", "Ben", "Schulz", NONE) },
        DemoPerson { local: Local::OldGraphSync, ..person(210, 2, "h.hoffmann", "Hannah", "Hoffmann", NONE) },
        // Inactive persons of a selected client are skipped.
        DemoPerson { active: false, ..person(211, 2, "e.koch", "Elias", "Koch", NONE) },
        person(212, 2, "e.richter", "Emilia", "Richter", NONE),
        person(213, 2, "n.klein", "Noah", "Klein", NONE),
        // ACME-AT, only in a group that is not selected.
        person(132, 1, "l.wolf", "Leon", "Wolf", &[(14, "2020-01-01", None)]),
    ]
}

const CONFIG: &str = r#"# Demo job configuration: what an administrator writes for the
# Webdesk action UpdatePersonImageFromGraphAPIJob.
mode = "Aktuellstes Bild verwenden"
persons = ["i.koller"]
groups = ["ACME-AT/IT", "ACME-AT/HR", "VERTRIEB", "PROJEKT-2024"]
clients = ["ACME-DE"]
time_zone = "Europe/Vienna"

[database]
url = "sqlite://webdesk-demo.db"

[graph]
tenant_id = "demo-tenant"
client_id = "demo-client"
client_secret = "demo-secret-not-real"
base_url = "GRAPH_URI"
authority_host = "GRAPH_URI"
"#;

pub fn run() -> anyhow::Result<()> {
    let binary = PhotoSync::at(build_photo_sync(false)?);
    let folder = workspace_root().join("target/demo");
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    for stale in ["webdesk-demo.db", "webdesk-demo.db-wal", "webdesk-demo.db-shm", "report-1.json", "report-2.json"] {
        let _ = std::fs::remove_file(folder.join(stale));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(demo(&binary, &folder))
}

async fn demo(binary: &PhotoSync, folder: &Path) -> anyhow::Result<()> {
    let db = TestDatabase::sqlite(&folder.join("webdesk-demo.db"));
    let migrated = binary.run(folder, &["db", "migrate", "--database", &db.url(), "--with-webdesk-schema"], &[]).await;
    ensure!(migrated.status == 0, "db migrate failed:\n{}", migrated.stderr);

    let graph = GraphSim::start().await;
    let persons = demo_persons();
    seed(&db, &graph, &persons);
    std::fs::write(folder.join("demo.toml"), CONFIG.replace("GRAPH_URI", &graph.uri()))?;
    println!(
        "Demo database {} with {} persons; Graph simulator on {}",
        db.path().display(),
        persons.len(),
        graph.uri()
    );

    let first = run_job(binary, folder, 1).await?;
    let second = run_job(binary, folder, 2).await?;

    print_comparison(&first, &second);
    check_second_run(&first, &second)?;
    println!("\nReports: {}, {}", folder.join("report-1.json").display(), folder.join("report-2.json").display());
    println!("Configuration: {}", folder.join("demo.toml").display());
    Ok(())
}

fn seed(db: &TestDatabase, graph: &GraphSim, persons: &[DemoPerson]) {
    db.add_client(1, "ACME-AT");
    db.add_client(2, "ACME-DE");
    db.add_group(10, 1, "IT", None, None);
    db.add_group(11, 1, "HR", None, None);
    db.add_group(12, 1, "VERTRIEB", Some("2022-01-01"), None);
    db.add_group(13, 1, "PROJEKT-2024", Some("2024-01-01"), Some("2024-12-31"));
    db.add_group(14, 1, "EINKAUF", None, None);
    db.add_group(20, 2, "IT", None, None);
    db.add_group(21, 2, "LOGISTIK", None, None);

    for (index, person) in persons.iter().enumerate() {
        let object_id = format!("{:08x}-0000-4000-8000-{:012x}", person.id, person.id);
        let upn = format!("{}@acme.example", person.username);
        let (object_id_column, upn_column, key) = match person.link {
            Link::ObjectId => (Some(object_id.as_str()), Some(upn.as_str()), object_id.clone()),
            Link::UserPrincipalName => (None, Some(upn.as_str()), upn.clone()),
            Link::None => (None, None, String::new()),
        };
        db.add_person(person.id, person.client, person.username, person.active, object_id_column, upn_column);
        db.execute(&format!(
            "UPDATE persons SET first_name = '{}', last_name = '{}' WHERE id = {}",
            person.first, person.last, person.id
        ));
        for (group, from, to) in person.groups {
            db.add_membership(*group, person.id, from, *to);
        }

        // An upload of a different picture than the Graph photo, unless the case wants
        // the same bytes.
        let mut portrait_name = VALID_PHOTOS[index % VALID_PHOTOS.len()];
        if let Local::Upload(upload) = person.local
            && upload == portrait_name
        {
            portrait_name = VALID_PHOTOS[(index + 1) % VALID_PHOTOS.len()];
        }
        let portrait = fixture(portrait_name);
        let etag = format!("\"{:08X}\"", 0x5EED_0000 + person.id);
        match person.graph {
            Graph::Portrait => graph.set_photo(&key, &etag, portrait.clone()),
            Graph::Broken(name) => graph.set_photo(&key, &etag, fixture(name)),
            Graph::NoPhoto => graph.set(&key, SimUser::NoPhoto { code: "ImageNotFound" }),
            Graph::Placeholder => graph.set(&key, SimUser::Placeholder),
            Graph::Error(status, code) => graph.set(&key, SimUser::Error { status, code }),
        }
        match person.local {
            Local::Nothing => {}
            Local::Upload(name) => db.put_image(person.id, &fixture(name), "2026-11-20 14:03:12", "upload", 2),
            Local::UploadOfGraphPhoto => db.put_image(person.id, &portrait, "2026-11-21 09:30:00", "upload", 1),
            Local::OldGraphSync => {
                db.put_image(person.id, &fixture("grace-hopper-48.jpg"), "2025-05-02 01:00:00", "graph-sync", 3)
            }
        }
    }
}

async fn run_job(binary: &PhotoSync, folder: &Path, number: u32) -> anyhow::Result<Value> {
    let report_name = format!("report-{number}.json");
    println!("\n=== Run {number}: photo-sync run --config demo.toml --report {report_name}\n");
    let output = binary.run(folder, &["run", "--config", "demo.toml", "--report", &report_name], &[]).await;
    eprint!("{}", output.stderr);
    println!("exit status {}", output.status);

    // Exit status 3 is expected: the demo contains persons that must fail.
    if output.status != 0 && output.status != 3 {
        bail!("run {number} failed with exit status {}", output.status);
    }
    let text =
        std::fs::read_to_string(folder.join(&report_name)).with_context(|| format!("run {number} wrote no report"))?;
    Ok(serde_json::from_str(&text)?)
}

fn outcomes(report: &Value) -> BTreeMap<i64, (String, String, String)> {
    let persons = report["persons"].as_array().cloned().unwrap_or_default();
    persons
        .iter()
        .map(|p| {
            let text = |key: &str| p[key].as_str().unwrap_or_default().to_owned();
            (p["person_id"].as_i64().unwrap_or_default(), (text("username"), text("outcome"), text("detail")))
        })
        .collect()
}

fn print_comparison(first: &Value, second: &Value) {
    let first = outcomes(first);
    let second = outcomes(second);
    println!("\n{:>5}  {:<12} {:<15} {:<15} detail of run 1", "id", "username", "run 1", "run 2");
    for (id, (username, outcome, detail)) in &first {
        let again = second.get(id).map_or("-", |(_, outcome, _)| outcome.as_str());
        let short: String =
            if detail.chars().count() > 90 { detail.chars().take(89).chain(['…']).collect() } else { detail.clone() };
        println!("{id:>5}  {username:<12} {outcome:<15} {again:<15} {short}");
    }
}

/// The second run must write nothing: whatever the first run stored is `unchanged` now,
/// and every other person ends as before (kept uploads stay kept, failures still fail).
fn check_second_run(first: &Value, second: &Value) -> anyhow::Result<()> {
    let counts = &second["counts"];
    ensure!(counts["created"] == 0 && counts["updated"] == 0, "the second run wrote photos: {counts}");

    let before = outcomes(first);
    let after = outcomes(second);
    for (id, (username, outcome, _)) in &before {
        let expected = if outcome == "created" || outcome == "updated" { "unchanged" } else { outcome.as_str() };
        let actual = after.get(id).map_or("missing", |(_, outcome, _)| outcome.as_str());
        ensure!(actual == expected, "person {id} ({username}): run 2 is {actual}, expected {expected}");
    }
    println!("\nSecond run: no Webdesk image changed; every photo stored by run 1 is unchanged.");
    Ok(())
}
