//! Data safety under faults: overlapping runs, a killed process, a lost database server,
//! uploads racing the job, and a stop signal. Whatever happens, no half-written image and
//! no sync state that disagrees with its image may remain, and the next run completes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use photo_sync_e2e::postgres::{PgServer, create_database};
use photo_sync_e2e::{Backend, PhotoSync, TestDatabase, fixture};

use crate::harness::{World, on_both_backends, outcomes, send_signal};

/// An upload of the racing uploader: person, when it landed, and its bytes.
type Upload = (i64, Instant, Vec<u8>);

/// Photos the simulated Graph hands out in turn, so consecutive rounds differ in bytes.
const PHOTOS: [&str; 3] = ["grace-hopper-48.jpg", "grace-hopper-progressive.jpg", "eileen-collins-648.jpg"];

/// Gives every person `1..=count` a linked account and, for round `round`, a Graph photo
/// with an ETag of that round. Returns every ETag handed out, with its bytes.
fn publish_round(world: &World, count: i64, round: usize, etags: &mut HashMap<String, Vec<u8>>) {
    for id in 1..=count {
        let bytes = fixture(PHOTOS[(usize::try_from(id).expect("small id") + round) % PHOTOS.len()]);
        let etag = format!("\"E{id}-R{round}\"");
        world.graph.set_photo(&format!("object-{id}"), &etag, bytes.clone());
        etags.insert(etag, bytes);
    }
}

/// Checks that every image is whole and that every sync state agrees with its image.
fn assert_consistent(world: &World, count: i64, etags: &HashMap<String, Vec<u8>>, known_bytes: &[Vec<u8>]) {
    let mut images = world.db.images();
    let mut states = world.db.states();
    for id in 1..=count {
        let image = images.remove(&id);
        let state = states.remove(&id);

        if let Some(image) = &image {
            assert!(
                known_bytes.contains(&image.content),
                "person {id}: the image is not one of the photos served, so it is half-written"
            );
        }
        let Some(state) = state else { continue };
        let Some(written) = state.written_version else { continue };
        let image =
            image.unwrap_or_else(|| panic!("person {id}: a state records version {written} but there is no image"));
        assert!(
            written <= image.version,
            "person {id}: the state records version {written}, ahead of the image's {}",
            image.version
        );
        if written == image.version {
            assert_eq!(image.modified_by, "graph-sync", "person {id}: the state claims an image the job did not write");
            let etag =
                state.stored_etag.as_deref().unwrap_or_else(|| panic!("person {id}: written version without ETag"));
            assert_eq!(Some(&image.content), etags.get(etag), "person {id}: the image is not the photo of ETag {etag}");
        }
    }
}

fn add_persons(world: &World, count: i64) {
    for id in 1..=count {
        world.add_linked_person(id, &format!("user{id}"));
    }
}

/// Waits until the simulated Graph has served at least one download.
async fn wait_for_first_download(world: &World) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while world.graph.download_count() == 0 {
        assert!(Instant::now() < deadline, "the run never downloaded a photo");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn overlapping_run_is_rejected(backend: Backend) {
    let world = World::new(backend).await;
    add_persons(&world, 8);
    publish_round(&world, 8, 0, &mut HashMap::new());
    world.graph.delay_downloads(Duration::from_millis(400));
    world.write_config("overwrite", "clients = [1]");

    let first = world.spawn_run("report-1.json");
    let first_pid = first.id().expect("pid of the first run");
    wait_for_first_download(&world).await;
    let (second, report) = world.run().await;
    let first = PhotoSync::finish(first).await;

    assert_eq!(second.status, 4, "the second run reports the lock: {}", second.stderr);
    assert!(second.stderr.contains(&format!("pid {first_pid}")), "names the holder's process: {}", second.stderr);
    assert!(second.stderr.contains("started 20"), "names the holder's start time: {}", second.stderr);
    assert!(report.is_null(), "a rejected run writes no report");
    assert_eq!(first.status, 0, "the first run is not disturbed: {}", first.stderr);
    assert_eq!(world.report("report-1.json")["counts"]["created"], 8);

    let history = world.run_history();
    assert!(history.contains(&("rejected_locked".to_owned(), Some(4))), "{history:?}");
    assert!(history.contains(&("succeeded".to_owned(), Some(0))), "{history:?}");
}

/// When a killed run is killed: at the Nth photo download, or a while after it (which
/// lands among the writes that follow the downloads of a chunk).
#[derive(Debug, Clone, Copy)]
struct KillPoint {
    download: usize,
    delay_ms: u64,
}

async fn killed_run_recovers(backend: Backend) {
    // More than one chunk of 100 persons, so kills land in the first chunk's downloads,
    // among its writes, and in the second chunk after the first was written. Each write
    // first decodes the photo, which takes milliseconds in a debug build.
    const COUNT: i64 = 120;
    let world = World::new(backend).await;
    add_persons(&world, COUNT);
    world.write_config("overwrite", "clients = [1]");
    let mut etags = HashMap::new();
    let known_bytes: Vec<Vec<u8>> = PHOTOS.iter().map(|name| fixture(name)).collect();

    let pid = Arc::new(AtomicU32::new(0));
    let downloads = Arc::new(AtomicUsize::new(0));
    let kill_point: Arc<Mutex<Option<KillPoint>>> = Arc::default();
    {
        let (pid, downloads, kill_point) = (pid.clone(), downloads.clone(), kill_point.clone());
        world.graph.on_every_download(move |_| {
            let count = downloads.fetch_add(1, Ordering::SeqCst) + 1;
            let Some(point) = *kill_point.lock().expect("lock") else { return };
            if count != point.download {
                return;
            }
            let pid = pid.load(Ordering::SeqCst);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(point.delay_ms));
                send_signal(pid, "-KILL");
            });
        });
    }
    let points = [
        KillPoint { download: 1, delay_ms: 0 },
        KillPoint { download: 100, delay_ms: 15 },
        KillPoint { download: 100, delay_ms: 250 },
        KillPoint { download: 105, delay_ms: 0 },
    ];
    for (round, point) in points.into_iter().enumerate() {
        publish_round(&world, COUNT, round, &mut etags);
        downloads.store(0, Ordering::SeqCst);
        *kill_point.lock().expect("lock") = Some(point);

        let child = world.spawn_run("killed.json");
        pid.store(child.id().expect("pid"), Ordering::SeqCst);
        let output = PhotoSync::finish(child).await;

        assert_eq!(output.status, -1, "round {round} ({point:?}): the run was killed: {}", output.stderr);
        assert_consistent(&world, COUNT, &etags, &known_bytes);
    }

    *kill_point.lock().expect("lock") = None;
    let (recovered, report) = world.run().await;
    assert_eq!(recovered.status, 0, "the next run completes: {}", recovered.stderr);
    assert_consistent(&world, COUNT, &etags, &known_bytes);
    let last_round = points.len() - 1;
    for id in 1..=COUNT {
        let expected = fixture(PHOTOS[(usize::try_from(id).expect("small id") + last_round) % PHOTOS.len()]);
        assert_eq!(world.db.image(id).expect("image").content, expected, "person {id} has the current Graph photo");
    }
    assert_eq!(report["counts"]["failed"], 0);

    let (again, report) = world.run().await;
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert_eq!(report["counts"]["unchanged"], COUNT, "the run after recovery has nothing left to do");
    let history = world.run_history();
    let abandoned = history.iter().filter(|(status, _)| status == "abandoned").count();
    assert_eq!(abandoned, points.len(), "killed runs are marked: {history:?}");
}

async fn uploads_during_run_survive(backend: Backend) {
    const COUNT: i64 = 20;
    let world = World::new(backend).await;
    add_persons(&world, COUNT);
    let old = fixture("grace-hopper-48.jpg");
    for id in 1..=COUNT {
        world.db.put_image(id, &old, "2026-11-01 10:00:00", "graph-sync", 1);
    }
    publish_round(&world, COUNT, 1, &mut HashMap::new());
    world.graph.delay_downloads(Duration::from_millis(150));
    world.write_config("overwrite", "clients = [1]");

    // When the job downloads a person's photo it has already read that person's image:
    // every upload after that moment must survive.
    let downloaded_at: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    {
        let downloaded_at = downloaded_at.clone();
        world.graph.on_every_download(move |key| {
            let id = key.trim_start_matches("object-").parse().expect("object-N");
            downloaded_at.lock().expect("lock").entry(id).or_insert_with(Instant::now);
        });
    }

    let child = world.spawn_run("report.json");
    let uploads: Arc<Mutex<Vec<Upload>>> = Arc::default();
    let uploader = {
        let (db, uploads) = (world.db.clone(), uploads.clone());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let handle_stop = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut number = 0_u32;
            while !stop.load(Ordering::SeqCst) {
                number += 1;
                let id = i64::from(number % 20) + 1;
                let mut content = fixture("grace-hopper-48.jpg");
                content.extend_from_slice(format!("upload {number}").as_bytes());
                db.upload(id, &content, "2026-12-04 02:00:00");
                uploads.lock().expect("lock").push((id, Instant::now(), content));
            }
        });
        (thread, handle_stop)
    };
    let output = PhotoSync::finish(child).await;
    uploader.1.store(true, Ordering::SeqCst);
    uploader.0.join().expect("the uploader finished");

    assert_eq!(output.status, 0, "{}", output.stderr);
    let downloaded_at = downloaded_at.lock().expect("lock").clone();
    let uploads = uploads.lock().expect("lock").clone();
    assert!(uploads.len() > COUNT as usize, "the uploader kept uploading during the run ({} uploads)", uploads.len());
    let mut checked = 0;
    for id in 1..=COUNT {
        let Some(read_before) = downloaded_at.get(&id) else { continue };
        let Some((_, _, last)) = uploads.iter().rev().find(|(person, at, _)| *person == id && at > read_before) else {
            continue;
        };
        let image = world.db.image(id).expect("image");
        assert_eq!(&image.content, last, "person {id}: an upload after the job read the image was lost");
        assert_eq!(image.modified_by, "upload");
        checked += 1;
    }
    assert!(checked > 0, "at least one upload landed after the job read the image");
}

async fn stop_signal_interrupts_cleanly(backend: Backend) {
    interrupt_with(backend, "-TERM", "SIGTERM").await;
}

/// SIGINT (Ctrl-C at a terminal) takes the same path as SIGTERM.
#[tokio::test(flavor = "multi_thread")]
async fn interrupt_signal_stops_cleanly() {
    interrupt_with(Backend::Sqlite, "-INT", "SIGINT").await;
}

async fn interrupt_with(backend: Backend, signal: &'static str, name: &str) {
    const COUNT: i64 = 40;
    let world = World::new(backend).await;
    add_persons(&world, COUNT);
    let mut etags = HashMap::new();
    publish_round(&world, COUNT, 0, &mut etags);
    world.graph.delay_downloads(Duration::from_millis(100));
    world.write_config("overwrite", "clients = [1]");

    let pid = Arc::new(AtomicU32::new(0));
    let downloads = Arc::new(AtomicUsize::new(0));
    {
        let (pid, downloads) = (pid.clone(), downloads.clone());
        world.graph.on_every_download(move |_| {
            if downloads.fetch_add(1, Ordering::SeqCst) == 2 {
                send_signal(pid.load(Ordering::SeqCst), signal);
            }
        });
    }
    let child = world.spawn_run("report.json");
    pid.store(child.id().expect("pid"), Ordering::SeqCst);
    let output = PhotoSync::finish(child).await;

    assert_eq!(output.status, 5, "an interrupted run has its own exit status: {}", output.stderr);
    assert!(output.stderr.contains(name), "{}", output.stderr);
    let report = world.report("report.json");
    assert_eq!(report["interrupted"], true);
    let processed = outcomes(&report).len();
    assert!(processed < COUNT as usize, "the run stopped early ({processed} persons)");
    let known: Vec<Vec<u8>> = PHOTOS.iter().map(|name| fixture(name)).collect();
    assert_consistent(&world, COUNT, &etags, &known);
    assert_eq!(world.run_history().last(), Some(&("interrupted".to_owned(), Some(5))));

    world.graph.on_every_download(|_| {});
    let (next, report) = world.run().await;
    assert_eq!(next.status, 0, "{}", next.stderr);
    assert_eq!(report["counts"]["failed"], 0);
    assert_consistent(&world, COUNT, &etags, &known);
    for id in 1..=COUNT {
        assert!(world.db.image(id).is_some(), "person {id} has a photo after the next run");
    }
}

on_both_backends!(
    overlapping_run_is_rejected,
    killed_run_recovers,
    uploads_during_run_survive,
    stop_signal_interrupts_cleanly
);

/// PostgreSQL only: the server stops in the middle of a run.
#[tokio::test(flavor = "multi_thread")]
async fn database_lost_mid_run() {
    const COUNT: i64 = 20;
    let server = Arc::new(PgServer::start().expect("start a PostgreSQL server of this test's own"));
    let dir = tempfile::tempdir().expect("temporary folder");
    let db = TestDatabase::postgres(&create_database(&server.admin_url(), "lost"));
    let world = World::with_database(dir, db).await;
    add_persons(&world, COUNT);
    let mut etags = HashMap::new();
    publish_round(&world, COUNT, 0, &mut etags);
    world.write_config("overwrite", "clients = [1]");

    let downloads = Arc::new(AtomicUsize::new(0));
    {
        let (server, downloads) = (server.clone(), downloads.clone());
        world.graph.on_every_download(move |_| {
            if downloads.fetch_add(1, Ordering::SeqCst) == 5 {
                server.stop().expect("stop the server");
            }
        });
    }
    let (lost, _) = world.run().await;

    assert_eq!(lost.status, 1, "a lost database is fatal: {}", lost.stderr);
    assert!(lost.stderr.contains("database"), "the message says what failed: {}", lost.stderr);
    assert!(!lost.stderr.contains("panicked"), "{}", lost.stderr);

    server.start_again().expect("restart the server");
    world.graph.on_every_download(|_| {});
    let known: Vec<Vec<u8>> = PHOTOS.iter().map(|name| fixture(name)).collect();
    assert_consistent(&world, COUNT, &etags, &known);
    let (next, report) = world.run().await;
    assert_eq!(next.status, 0, "the next run after the server is back completes: {}", next.stderr);
    assert_eq!(report["counts"]["failed"], 0);
    for id in 1..=COUNT {
        assert!(world.db.image(id).is_some(), "person {id} has a photo");
    }
}
