//! Tests of the sync use case over hand-written fakes of the ports: what it requests from
//! Webdesk and Graph, what it stores, and how one person's failure leaves the others alone.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::executor::block_on;
use photo_sync_domain::decision::{GraphObservation, ModifiedBy, SyncState, WebdeskImage};
use photo_sync_domain::ports::{
    Clock, Download, FailureKind, PhotoFailure, PhotoSource, PhotoWrite, SourceError, StoreError, WebdeskStore,
    WriteResult,
};
use photo_sync_domain::{
    ClientId, Directory, ETag, MicrosoftAccount, Outcome, Person, PersonId, PersonRef, Selection, SyncService,
    UpdateMode,
};
use time::OffsetDateTime;
use time::macros::{date, datetime};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/photos").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

#[derive(Default)]
struct FakeStore {
    persons: Vec<Person>,
    images: Mutex<HashMap<PersonId, WebdeskImage>>,
    states: Mutex<HashMap<PersonId, SyncState>>,
    /// Versions to bump right before a write, as an upload racing the job would.
    race_uploads: Vec<PersonId>,
    calls: Mutex<Vec<String>>,
    /// Requested during the first photo write, as a signal arriving mid-run would.
    stop_on_write: Option<photo_sync_domain::StopFlag>,
}

impl WebdeskStore for FakeStore {
    async fn load_directory(&self, _selection: &Selection) -> Result<Directory, StoreError> {
        self.calls.lock().expect("lock").push("load_directory".into());
        Ok(Directory { persons: self.persons.clone(), ..Directory::default() })
    }

    async fn load_images(&self, persons: &[PersonId]) -> Result<HashMap<PersonId, WebdeskImage>, StoreError> {
        self.calls.lock().expect("lock").push(format!("load_images {}", persons.len()));
        let images = self.images.lock().expect("lock");
        Ok(persons.iter().filter_map(|id| images.get(id).map(|i| (*id, i.clone()))).collect())
    }

    async fn load_states(&self, persons: &[PersonId]) -> Result<HashMap<PersonId, SyncState>, StoreError> {
        let states = self.states.lock().expect("lock");
        Ok(persons.iter().filter_map(|id| states.get(id).map(|s| (*id, s.clone()))).collect())
    }

    async fn store_photo(&self, write: PhotoWrite<'_>) -> Result<WriteResult, StoreError> {
        if let Some(stop) = &self.stop_on_write {
            stop.request();
        }
        let mut images = self.images.lock().expect("lock");
        if self.race_uploads.contains(&write.person_id)
            && let Some(image) = images.get_mut(&write.person_id)
        {
            image.version += 1;
        }
        if images.get(&write.person_id).map(|i| i.version) != write.expected_version {
            return Ok(WriteResult::Conflict);
        }
        let version = write.expected_version.map_or(1, |v| v + 1);
        assert_eq!(write.state.written_version, Some(version), "the state records the version this write creates");
        images.insert(
            write.person_id,
            WebdeskImage {
                content: write.photo.bytes().to_vec(),
                content_type: write.photo.format().content_type().into(),
                modified_at: write.modified_at,
                modified_by: ModifiedBy::GraphSync,
                version,
            },
        );
        self.states.lock().expect("lock").insert(write.person_id, write.state);
        Ok(WriteResult::Stored { version })
    }

    async fn record_states(&self, states: &[(PersonId, SyncState)]) -> Result<(), StoreError> {
        self.states.lock().expect("lock").extend(states.iter().cloned());
        Ok(())
    }
}

/// Photos of the fake Graph: per account key, an ETag and bytes, or a failure.
type Photos = HashMap<String, Result<(String, Vec<u8>), PhotoFailure>>;

/// Graph with one photo (or failure) per account key.
#[derive(Default)]
struct FakeGraph {
    photos: Photos,
    observe_calls: Mutex<Vec<usize>>,
    download_calls: Mutex<Vec<usize>>,
}

impl PhotoSource for FakeGraph {
    async fn observe(
        &self,
        accounts: &[MicrosoftAccount],
    ) -> Result<Vec<Result<GraphObservation, PhotoFailure>>, SourceError> {
        self.observe_calls.lock().expect("lock").push(accounts.len());
        Ok(accounts
            .iter()
            .map(|a| match self.photos.get(a.as_graph_key()) {
                None => Ok(GraphObservation::NoPhoto),
                Some(Ok((etag, _))) => Ok(GraphObservation::Photo(ETag::new(etag.clone()).expect("ETag"))),
                Some(Err(failure)) => Err(failure.clone()),
            })
            .collect())
    }

    async fn download(
        &self,
        accounts: &[MicrosoftAccount],
    ) -> Result<Vec<Result<Download, PhotoFailure>>, SourceError> {
        self.download_calls.lock().expect("lock").push(accounts.len());
        Ok(accounts
            .iter()
            .map(|a| match self.photos.get(a.as_graph_key()) {
                None => Ok(Download::NoPhoto),
                Some(Ok((etag, bytes))) => Ok(Download::Photo { etag: ETag::new(etag.clone()), bytes: bytes.clone() }),
                Some(Err(failure)) => Err(failure.clone()),
            })
            .collect())
    }
}

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        datetime!(2026-12-04 02:00 UTC)
    }
}

fn person(id: i64, linked: bool) -> Person {
    Person {
        id: PersonId(id),
        client_id: ClientId(1),
        username: format!("user{id}"),
        first_name: "Test".into(),
        last_name: format!("Person {id}"),
        active: true,
        account: linked.then(|| MicrosoftAccount::ObjectId(format!("object-{id}"))),
    }
}

/// Persons `1..=count`, each linked and with a small Graph photo.
fn linked_persons_with_photos(count: i64) -> (Vec<Person>, Photos) {
    let persons = (1..=count).map(|id| person(id, true)).collect();
    let photos = (1..=count)
        .map(|id| (format!("object-{id}"), Ok((format!("\"E{id}\""), fixture("grace-hopper-48.jpg")))))
        .collect();
    (persons, photos)
}

fn select_all(persons: &[Person]) -> Selection {
    Selection { persons: persons.iter().map(|p| PersonRef::Id(p.id)).collect(), ..Selection::default() }
}

fn run(
    store: FakeStore,
    graph: FakeGraph,
    mode: UpdateMode,
) -> (photo_sync_domain::SyncReport, SyncService<FakeStore, FakeGraph, FixedClock>) {
    let selection = select_all(&store.persons);
    let service = SyncService::new(store, graph, FixedClock).with_chunk_size(2);
    let report = block_on(service.run(mode, &selection, date!(2026 - 12 - 04))).expect("run succeeds");
    (report, service)
}

fn outcomes(report: &photo_sync_domain::SyncReport) -> Vec<(i64, Outcome)> {
    report.persons.iter().map(|p| (p.person_id.0, p.outcome)).collect()
}

#[test]
fn empty_selection_contacts_nothing() {
    let store = FakeStore { persons: vec![person(1, true)], ..FakeStore::default() };
    let service = SyncService::new(store, FakeGraph::default(), FixedClock);
    let report = block_on(service.run(UpdateMode::Newest, &Selection::default(), date!(2026 - 12 - 04))).expect("run");

    assert_eq!(report.counts.targets, 0);
    assert!(report.persons.is_empty());
    assert!(service.store().calls.lock().expect("lock").is_empty(), "no database query");
}

#[test]
fn failures_do_not_stop_the_run() {
    let store = FakeStore { persons: (1..=5).map(|id| person(id, id != 2)).collect(), ..FakeStore::default() };
    let denied = PhotoFailure { kind: FailureKind::AccessDenied, message: "403 ErrorAccessDenied".into() };
    let graph = FakeGraph {
        photos: HashMap::from([
            ("object-1".to_owned(), Ok(("\"A1\"".to_owned(), fixture("grace-hopper.jpg")))),
            ("object-3".to_owned(), Err(denied)),
            ("object-4".to_owned(), Ok(("\"A4\"".to_owned(), fixture("truncated.jpg")))),
        ]),
        ..FakeGraph::default()
    };

    let (report, service) = run(store, graph, UpdateMode::Newest);

    assert_eq!(
        outcomes(&report),
        vec![
            (1, Outcome::Created),
            (2, Outcome::Failed),
            (3, Outcome::Failed),
            (4, Outcome::Failed),
            (5, Outcome::NoGraphPhoto)
        ]
    );
    let details: Vec<_> = report.persons.iter().map(|p| p.detail.clone().unwrap_or_default()).collect();
    assert!(details[1].contains("no linked Microsoft account"), "{}", details[1]);
    assert_eq!(details[2], "403 ErrorAccessDenied");
    assert!(details[3].contains("rejected"), "{}", details[3]);
    assert!(!service.store().images.lock().expect("lock").contains_key(&PersonId(4)), "a broken photo is never stored");
    assert_eq!(report.counts.failed, 3);
    assert!(report.has_problems());
}

#[test]
fn second_run_is_unchanged_without_download() {
    let persons: Vec<Person> = (1..=3).map(|id| person(id, true)).collect();
    let photos: HashMap<_, _> = (1..=3)
        .map(|id| (format!("object-{id}"), Ok((format!("\"E{id}\""), fixture("grace-hopper-48.jpg")))))
        .collect();
    let (first, service) = run(
        FakeStore { persons: persons.clone(), ..FakeStore::default() },
        FakeGraph { photos: photos.clone(), ..FakeGraph::default() },
        UpdateMode::Newest,
    );
    assert_eq!(first.counts.created, 3);

    let store = FakeStore {
        persons,
        images: Mutex::new(service.store().images.lock().expect("lock").clone()),
        states: Mutex::new(service.store().states.lock().expect("lock").clone()),
        ..FakeStore::default()
    };
    let (second, service) = run(store, FakeGraph { photos, ..FakeGraph::default() }, UpdateMode::Newest);

    assert_eq!(second.counts.unchanged, 3);
    assert_eq!(second.counts.created + second.counts.updated, 0);
    assert!(service.source().download_calls.lock().expect("lock").is_empty(), "no photo was downloaded");
}

#[test]
fn chunks_read_in_bulk() {
    let (persons, photos) = linked_persons_with_photos(5);
    let graph = FakeGraph { photos, ..FakeGraph::default() };
    let (report, service) = {
        let selection = select_all(&persons);
        let service =
            SyncService::new(FakeStore { persons, ..FakeStore::default() }, graph, FixedClock).with_chunk_size(2);
        let report = block_on(service.run(UpdateMode::Overwrite, &selection, date!(2026 - 12 - 04))).expect("run");
        (report, service)
    };

    assert_eq!(report.counts.created, 5);
    assert_eq!(service.source().observe_calls.lock().expect("lock").clone(), [2, 2, 1], "one Graph call per chunk");
    let calls = service.store().calls.lock().expect("lock").clone();
    assert_eq!(calls, ["load_directory", "load_images 2", "load_images 2", "load_images 1"]);
}

#[test]
fn upload_during_run_is_kept() {
    let mut store =
        FakeStore { persons: vec![person(1, true)], race_uploads: vec![PersonId(1)], ..FakeStore::default() };
    store.images.get_mut().expect("lock").insert(
        PersonId(1),
        WebdeskImage {
            content: b"old".to_vec(),
            content_type: "image/jpeg".into(),
            modified_at: datetime!(2026-11-01 00:00 UTC),
            modified_by: ModifiedBy::GraphSync,
            version: 1,
        },
    );
    let graph = FakeGraph {
        photos: HashMap::from([("object-1".to_owned(), Ok(("\"N\"".to_owned(), fixture("grace-hopper-48.jpg"))))]),
        ..FakeGraph::default()
    };

    let (report, service) = run(store, graph, UpdateMode::Overwrite);

    assert_eq!(outcomes(&report), vec![(1, Outcome::KeptLocal)]);
    assert!(report.persons[0].detail.as_deref().unwrap_or_default().starts_with("changed during run"));
    let images = service.store().images.lock().expect("lock");
    assert_eq!(images[&PersonId(1)].content, b"old", "the racing upload's image stays");
}

#[test]
fn state_records_observation_without_write() {
    let mut store = FakeStore { persons: vec![person(1, true)], ..FakeStore::default() };
    store.images.get_mut().expect("lock").insert(
        PersonId(1),
        WebdeskImage {
            content: b"upload".to_vec(),
            content_type: "image/jpeg".into(),
            modified_at: datetime!(2026-11-01 00:00 UTC),
            modified_by: ModifiedBy::Upload,
            version: 2,
        },
    );
    let graph = FakeGraph {
        photos: HashMap::from([("object-1".to_owned(), Ok(("\"G\"".to_owned(), fixture("grace-hopper-48.jpg"))))]),
        ..FakeGraph::default()
    };

    let (report, service) = run(store, graph, UpdateMode::Newest);

    assert_eq!(outcomes(&report), vec![(1, Outcome::KeptLocal)]);
    let states = service.store().states.lock().expect("lock");
    let state = &states[&PersonId(1)];
    assert_eq!(state.observed_etag, ETag::new("\"G\""));
    assert_eq!(state.observed_at, datetime!(2026-12-04 02:00 UTC));
    assert_eq!(state.stored_etag, None, "nothing was stored");
}

#[test]
fn stop_during_write_finishes_that_write() {
    let (persons, photos) = linked_persons_with_photos(5);
    let stop = photo_sync_domain::StopFlag::default();
    let selection = select_all(&persons);
    let store = FakeStore { persons, stop_on_write: Some(stop.clone()), ..FakeStore::default() };
    let service = SyncService::new(store, FakeGraph { photos, ..FakeGraph::default() }, FixedClock)
        .with_chunk_size(2)
        .with_stop_flag(stop);

    let report = block_on(service.run(UpdateMode::Overwrite, &selection, date!(2026 - 12 - 04))).expect("run");

    assert!(report.interrupted);
    assert_eq!(outcomes(&report), vec![(1, Outcome::Created)], "the write in progress completes, no new person starts");
    assert_eq!(service.store().images.lock().expect("lock").len(), 1);
    assert!(service.store().states.lock().expect("lock").contains_key(&PersonId(1)), "image and state stay together");
}

#[test]
fn stop_request_ends_run_between_persons() {
    let (persons, photos) = linked_persons_with_photos(5);
    let stop = photo_sync_domain::StopFlag::default();
    let selection = select_all(&persons);
    let service = SyncService::new(
        FakeStore { persons, ..FakeStore::default() },
        FakeGraph { photos, ..FakeGraph::default() },
        FixedClock,
    )
    .with_chunk_size(2)
    .with_stop_flag(stop.clone());

    // The stop arrives while the first chunk is being processed.
    let report = block_on(async {
        stop.request();
        service.run(UpdateMode::Overwrite, &selection, date!(2026 - 12 - 04)).await
    })
    .expect("run");

    assert!(report.interrupted);
    assert_eq!(report.counts.targets, 5);
    assert!(report.persons.is_empty(), "no person is taken after the stop request");
    assert!(service.store().images.lock().expect("lock").is_empty());
}

#[test]
fn downloads_go_in_batches_of_twenty() {
    let (persons, photos) = linked_persons_with_photos(45);
    let selection = select_all(&persons);
    let service = SyncService::new(
        FakeStore { persons, ..FakeStore::default() },
        FakeGraph { photos, ..FakeGraph::default() },
        FixedClock,
    );

    let report = block_on(service.run(UpdateMode::Overwrite, &selection, date!(2026 - 12 - 04))).expect("run");

    assert_eq!(report.counts.created, 45);
    assert_eq!(service.source().observe_calls.lock().expect("lock").clone(), [45]);
    assert_eq!(service.source().download_calls.lock().expect("lock").clone(), [20, 20, 5]);
}
