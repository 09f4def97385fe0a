//! `cargo xtask bench`: measures wall time and peak memory of the release binary on a
//! generated database, for a first run (every photo created), a run with nothing to do,
//! and a run where every Graph photo changed, on SQLite and PostgreSQL.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use photo_sync_e2e::postgres::{PgServer, create_database};
use photo_sync_e2e::{GraphSim, PhotoSync, TestDatabase, VALID_PHOTOS, fixture};

use crate::build::{build_photo_sync, workspace_root};

/// Persons per benchmark database unless `--persons N` sets another count.
const DEFAULT_PERSONS: i64 = 2000;

/// One measured run.
struct Measurement {
    backend: &'static str,
    scenario: &'static str,
    seconds: f64,
    peak_rss_kib: u64,
    downloads: usize,
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let persons = match args {
        [] => DEFAULT_PERSONS,
        [flag, value] if flag == "--persons" => value.parse().with_context(|| format!("invalid --persons {value:?}: expected a number"))?,
        _ => anyhow::bail!("usage: cargo xtask bench [--persons N]"),
    };
    ensure!(persons > 0, "invalid --persons {persons}: expected at least 1");

    let binary = PhotoSync::at(build_photo_sync(true)?);
    let folder = workspace_root().join("target/bench");
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder)?;

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let server = PgServer::start().context("cannot start the PostgreSQL server for the benchmark")?;
    let mut results = Vec::new();
    runtime.block_on(async {
        let sqlite = TestDatabase::sqlite(&folder.join("bench.db"));
        results.extend(bench_backend(&binary, &folder, "sqlite", sqlite, persons).await?);
        let postgres = TestDatabase::postgres(&create_database(&server.admin_url(), "bench"));
        results.extend(bench_backend(&binary, &folder, "postgresql", postgres, persons).await?);
        anyhow::Ok(())
    })?;

    println!("\n{persons} persons, release build, Graph simulated on 127.0.0.1 without delay\n");
    println!("| backend | scenario | seconds | persons/s | peak RSS (MiB) | photo downloads |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for m in &results {
        #[expect(clippy::cast_precision_loss, reason = "person counts are far below 2^52")]
        let rate = persons as f64 / m.seconds;
        #[expect(clippy::cast_precision_loss, reason = "memory sizes are far below 2^52")]
        let mib = m.peak_rss_kib as f64 / 1024.0;
        println!("| {} | {} | {:.2} | {rate:.0} | {mib:.1} | {} |", m.backend, m.scenario, m.seconds, m.downloads);
    }
    Ok(())
}

async fn bench_backend(binary: &PhotoSync, folder: &Path, backend: &'static str, db: TestDatabase, persons: i64) -> anyhow::Result<Vec<Measurement>> {
    let migrated = binary.run(folder, &["db", "migrate", "--database", &db.url(), "--with-webdesk-schema"], &[]).await;
    ensure!(migrated.status == 0, "db migrate failed:\n{}", migrated.stderr);

    let graph = GraphSim::start().await;
    seed(&db, persons);
    publish(&graph, persons, 0);
    let config = folder.join(format!("{backend}.toml"));
    std::fs::write(&config, config_text(&db.url(), &graph.uri()))?;

    let mut results = Vec::new();
    for (scenario, round) in [("first run, all created", None), ("nothing changed", None), ("every photo changed", Some(1))] {
        if let Some(round) = round {
            publish(&graph, persons, round);
        }
        graph.clear_requests();
        let (seconds, peak_rss_kib) = measure(binary, folder, &config).await?;
        results.push(Measurement { backend, scenario, seconds, peak_rss_kib, downloads: graph.download_count() });
    }
    Ok(results)
}

fn seed(db: &TestDatabase, persons: i64) {
    db.add_client(1, "BENCH");
    // One statement per 500 persons keeps seeding fast on both backends.
    let ids: Vec<i64> = (1..=persons).collect();
    for chunk in ids.chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|id| format!("({id}, 1, 'user{id}', 'Vorname', 'Nachname {id}', TRUE, 'object-{id}', NULL)"))
            .collect();
        db.execute(&format!(
            "INSERT INTO persons (id, client_id, username, first_name, last_name, active, entra_object_id, entra_user_principal_name) VALUES {}",
            values.join(", ")
        ));
    }
}

fn publish(graph: &GraphSim, persons: i64, round: usize) {
    let photos: Vec<Vec<u8>> = VALID_PHOTOS.iter().map(|name| fixture(name)).collect();
    for id in 1..=persons {
        let index = (usize::try_from(id).unwrap_or_default() + round) % photos.len();
        graph.set_photo(&format!("object-{id}"), &format!("\"B{id}-{round}\""), photos[index].clone());
    }
}

fn config_text(database_url: &str, graph_uri: &str) -> String {
    format!(
        "mode = \"overwrite\"\nclients = [\"BENCH\"]\n\n[database]\nurl = \"{database_url}\"\n\n[graph]\ntenant_id = \"bench\"\nclient_id = \"bench\"\nclient_secret = \"bench-secret\"\nbase_url = \"{graph_uri}\"\nauthority_host = \"{graph_uri}\"\n"
    )
}

/// Runs the job once and returns its wall time and peak resident memory. The peak is
/// the kernel's high-water mark (`VmHWM`) as last read before the process exited,
/// polled every 5 ms, so a peak in the last 5 ms of a run can be missed.
async fn measure(binary: &PhotoSync, folder: &Path, config: &Path) -> anyhow::Result<(f64, u64)> {
    let config = config.to_string_lossy().into_owned();
    let started = Instant::now();
    let mut child = binary.spawn(folder, &["run", "--config", &config]);
    let pid = child.id().context("the benchmark run has no pid")?;

    // The pipes are drained while the run goes on, or its log lines would fill the pipe
    // buffer and block it.
    let stderr = drain(child.stderr.take());
    let stdout = drain(child.stdout.take());

    let mut peak = 0;
    let status = loop {
        if let Some(kib) = high_water_mark_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let seconds = started.elapsed().as_secs_f64();

    let log = stderr.await?;
    stdout.await?;
    ensure!(status.success(), "the benchmark run failed with {status}:\n{log}");
    Ok((seconds, peak))
}

/// Reads a child's pipe to the end in the background and returns what it read.
fn drain(pipe: Option<impl tokio::io::AsyncRead + Unpin + Send + 'static>) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut pipe, &mut text).await;
        }
        text
    })
}

fn high_water_mark_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
