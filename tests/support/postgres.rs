//! A throwaway PostgreSQL server for tests: `initdb` into a temporary folder, listening on
//! 127.0.0.1 only, stopped when dropped. As root, the server runs as the `postgres` user,
//! because `initdb` rejects root.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, bail};

/// The environment variable that carries the admin URL of the server `cargo xtask test`
/// starts, for the tests it runs.
pub const SERVER_VARIABLE: &str = "PHOTO_SYNC_TEST_POSTGRES";

/// The superuser the test server is created with.
const SUPERUSER: &str = "postgres";

/// A running PostgreSQL server.
#[derive(Debug)]
pub struct PgServer {
    folder: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
}

impl PgServer {
    /// Creates a cluster in a new temporary folder and starts it on a free port of
    /// 127.0.0.1.
    pub fn start() -> anyhow::Result<Self> {
        let bin = find_bin_dir()?;
        let folder = tempfile::Builder::new()
            .prefix("photo-sync-pg-")
            .tempdir()
            .context("cannot create a folder for PostgreSQL")?;
        let run_as = running_as_root().then_some("postgres");

        // The server user must reach the folder, and own the data directory below it.
        let data = folder.path().join("data");
        std::fs::create_dir(&data)?;
        if let Some(user) = run_as {
            run(Command::new("chmod").arg("755").arg(folder.path()))?;
            run(Command::new("chown").arg(format!("{user}:")).arg(&data))?;
        }

        let server = Self { folder, bin, port: free_port()?, run_as };
        server
            .command("initdb")
            .args(["--auth=trust", "--encoding=UTF8", "--locale=C", "--username", SUPERUSER, "--no-sync", "-D"])
            .arg(&data)
            .output_checked()?;
        server.start_again()?;
        Ok(server)
    }

    /// Starts the server (again) after [`PgServer::stop`], on the same port.
    pub fn start_again(&self) -> anyhow::Result<()> {
        let options =
            format!("-c listen_addresses=127.0.0.1 -p {} -k '' -c fsync=off -c max_connections=200", self.port);
        self.command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-l"])
            .arg(self.data().join("server.log"))
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .output_checked()
            .with_context(|| format!("PostgreSQL did not start; its log:\n{}", self.log()))?;
        Ok(())
    }

    /// Stops the server at once, as a crash or a lost network would end connections.
    pub fn stop(&self) -> anyhow::Result<()> {
        self.command("pg_ctl").arg("-D").arg(self.data()).args(["-m", "immediate", "-w", "stop"]).output_checked()?;
        Ok(())
    }

    /// Returns the URL of `database` for the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Returns the admin URL, which [`SERVER_VARIABLE`] carries.
    pub fn admin_url(&self) -> String {
        self.url("postgres")
    }

    /// Reads the server's log, for error messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data().join("server.log")).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.folder.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(path);
                command
            }
            None => Command::new(path),
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").arg("-D").arg(self.data()).args(["-m", "immediate", "-w", "stop"]).output();
    }
}

/// Creates a new, empty database on the server at `admin_url` and returns its URL. Every
/// test gets its own database, so tests run in parallel without seeing each other.
pub fn create_database(admin_url: &str, prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!("{prefix}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    psql(admin_url, &format!("CREATE DATABASE {name}"));
    let (base, _) = admin_url.rsplit_once('/').expect("the admin URL ends with a database name");
    format!("{base}/{name}")
}

/// Returns the admin URL of the test server started by `cargo xtask test`. Panics with the fix
/// when it is not set, so PostgreSQL tests never pass by being skipped.
pub fn shared_admin_url() -> String {
    std::env::var(SERVER_VARIABLE).unwrap_or_else(|_| {
        panic!("{SERVER_VARIABLE} is not set: the PostgreSQL tests need the server that `cargo xtask test` starts; run the tests with `cargo xtask test`")
    })
}

/// Runs SQL with `psql` and returns its unaligned, tuples-only output.
pub fn psql(url: &str, sql: &str) -> String {
    let output = run_psql(url, sql, &[]);
    String::from_utf8_lossy(&output.stdout).trim_end_matches('\n').to_owned()
}

/// Runs `psql` with the SQL on stdin, because a photo as a hex literal is longer than
/// the kernel allows for one command-line argument.
fn run_psql(url: &str, sql: &str, extra: &[String]) -> Output {
    let mut child = Command::new(psql_path())
        .args(["--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--set", "ON_ERROR_STOP=1"])
        .args(extra)
        .args(["--dbname", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
    let mut stdin = child.stdin.take().expect("psql stdin");
    stdin.write_all(sql.as_bytes()).expect("send SQL to psql");
    drop(stdin);

    let output = child.wait_with_output().expect("wait for psql");
    assert!(output.status.success(), "psql failed: {}\n{}", String::from_utf8_lossy(&output.stderr), shorten(sql));
    output
}

fn shorten(sql: &str) -> String {
    sql.chars().take(500).collect()
}

/// `psql` beside the server programs, else the one on PATH (Debian links it there).
/// Runs a query with `psql` and returns its rows, with `None` for SQL NULL.
pub fn psql_rows(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    const FIELD: char = '\u{1f}';
    const NULL: &str = "\u{1e}";
    let output = run_psql(url, sql, &[format!("--field-separator={FIELD}"), format!("--pset=null={NULL}")]);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| line.split(FIELD).map(|field| (field != NULL).then(|| field.to_owned())).collect())
        .collect()
}

fn psql_path() -> PathBuf {
    find_bin_dir()
        .map(|dir| dir.join("psql"))
        .ok()
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("psql"))
}

/// Finds the folder with `initdb` and `pg_ctl`: on PATH, or the newest Debian install.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file());
    if let Some(dir) = on_path {
        return Ok(dir);
    }

    let mut installed: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .filter(|bin| bin.join("initdb").is_file())
                .collect()
        })
        .unwrap_or_default();
    installed.sort_by_key(|bin| {
        bin.parent().and_then(Path::file_name).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    match installed.pop() {
        Some(dir) => Ok(dir),
        None => bail!(
            "PostgreSQL server programs (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql; install the Debian package postgresql"
        ),
    }
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Asks the kernel for a free port on 127.0.0.1.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

trait OutputChecked {
    fn output_checked(&mut self) -> anyhow::Result<Output>;
}

impl OutputChecked for Command {
    fn output_checked(&mut self) -> anyhow::Result<Output> {
        let line = format!("{self:?}");
        let output = self.output().with_context(|| format!("cannot start {line}"))?;
        if !output.status.success() {
            bail!(
                "{line} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(output)
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    command.output_checked().map(|_| ())
}
