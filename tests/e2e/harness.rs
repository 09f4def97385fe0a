//! One test's world: a temporary folder, a migrated Webdesk database, the Graph
//! simulator and a configuration file pointing at both.

use photo_sync_e2e::{Backend, GraphSim, PhotoSync, RunOutput, TestDatabase};
use serde_json::Value;
use tempfile::TempDir;

/// The client secret every test configuration uses; no output may ever contain it.
pub const SECRET: &str = "test-client-secret-4f1c";

pub struct World {
    pub dir: TempDir,
    pub db: TestDatabase,
    pub graph: GraphSim,
    pub binary: PhotoSync,
}

impl World {
    /// Creates an empty Webdesk database on `backend` through `photo-sync db migrate
    /// --with-webdesk-schema`, with one client ACME-AT (id 1).
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let db = TestDatabase::create(backend, dir.path());
        Self::with_database(dir, db).await
    }

    /// Like [`World::new`], on a database the test created itself.
    pub async fn with_database(dir: TempDir, db: TestDatabase) -> Self {
        let binary = PhotoSync::locate();

        let output =
            binary.run(dir.path(), &["db", "migrate", "--database", &db.url(), "--with-webdesk-schema"], &[]).await;
        assert_eq!(output.status, 0, "db migrate failed: {}", output.stderr);
        db.add_client(1, "ACME-AT");

        Self { dir, db, graph: GraphSim::start().await, binary }
    }

    /// Adds an active person linked by object id `object-{id}`.
    pub fn add_linked_person(&self, id: i64, username: &str) {
        self.db.add_person(id, 1, username, true, Some(&format!("object-{id}")), None);
    }

    /// Writes `job.toml` with `mode`, the given selection lines, the database and the
    /// simulator. An SQLite database is named relative to the file, as administrators do.
    pub fn write_config(&self, mode: &str, selection: &str) -> std::path::PathBuf {
        let url = match self.db.backend() {
            Backend::Sqlite => "sqlite://webdesk.db".to_owned(),
            Backend::Postgres => self.db.url(),
        };
        let text = format!(
            "mode = \"{mode}\"\n{selection}\ntime_zone = \"Europe/Vienna\"\n\n[database]\nurl = \"{url}\"\n\n[graph]\ntenant_id = \"sim-tenant\"\nclient_id = \"sim-client\"\nclient_secret = \"{SECRET}\"\nbase_url = \"{uri}\"\nauthority_host = \"{uri}\"\n",
            uri = self.graph.uri(),
        );
        let path = self.dir.path().join("job.toml");
        std::fs::write(&path, text).expect("write job.toml");
        path
    }

    /// Runs `photo-sync run` with the configuration and a report, and checks that the
    /// secret appears nowhere in the output or the report.
    pub async fn run(&self) -> (RunOutput, Value) {
        let report_path = self.dir.path().join("report.json");
        let _ = std::fs::remove_file(&report_path);
        let output =
            self.binary.run(self.dir.path(), &["run", "--config", "job.toml", "--report", "report.json"], &[]).await;

        assert!(!output.stderr.contains(SECRET), "the client secret leaked to stderr");
        assert!(!output.stdout.contains(SECRET), "the client secret leaked to stdout");
        let report = match std::fs::read_to_string(&report_path) {
            Ok(text) => {
                assert!(!text.contains(SECRET), "the client secret leaked to the report");
                serde_json::from_str(&text).expect("the report is JSON")
            }
            Err(_) => Value::Null,
        };
        (output, report)
    }
}

/// Defines one test per backend for each listed `async fn name(backend: Backend)`, as
/// `name::sqlite` and `name::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread")]
                async fn sqlite() {
                    super::$name(photo_sync_e2e::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread")]
                async fn postgres() {
                    super::$name(photo_sync_e2e::Backend::Postgres).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;

impl World {
    /// Starts `photo-sync run` without waiting, writing its report to `report`.
    pub fn spawn_run(&self, report: &str) -> tokio::process::Child {
        self.binary.spawn(self.dir.path(), &["run", "--config", "job.toml", "--report", report])
    }

    /// Reads a report written by a spawned run; `Null` if there is none.
    pub fn report(&self, name: &str) -> Value {
        std::fs::read_to_string(self.dir.path().join(name))
            .map_or(Value::Null, |text| serde_json::from_str(&text).expect("the report is JSON"))
    }

    /// `(status, exit_status)` of every recorded run, oldest first.
    pub fn run_history(&self) -> Vec<(String, Option<i64>)> {
        self.db
            .query("SELECT status AS c0, CAST(exit_status AS TEXT) AS c1 FROM photo_sync_runs ORDER BY id")
            .into_iter()
            .map(|row| (row[0].clone().unwrap_or_default(), row[1].as_deref().and_then(|v| v.parse().ok())))
            .collect()
    }
}

/// Sends `signal` (such as `-KILL` or `-TERM`) to a process with the `kill` command.
pub fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill").arg(signal).arg(pid.to_string()).status().expect("run kill");
    assert!(status.success(), "kill {signal} {pid} failed");
}

/// `(person_id, outcome)` of every person in a report.
pub fn outcomes(report: &Value) -> Vec<(i64, String)> {
    report["persons"]
        .as_array()
        .expect("persons array")
        .iter()
        .map(|p| (p["person_id"].as_i64().expect("person_id"), p["outcome"].as_str().expect("outcome").to_owned()))
        .collect()
}

/// Returns the detail of one person in a report.
pub fn detail(report: &Value, person_id: i64) -> String {
    report["persons"]
        .as_array()
        .expect("persons array")
        .iter()
        .find(|p| p["person_id"] == person_id)
        .and_then(|p| p["detail"].as_str())
        .unwrap_or_default()
        .to_owned()
}
