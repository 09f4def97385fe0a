//! The real `photo-sync` binary, found or built once, and run as a child process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

/// The environment variable naming a prebuilt binary; `cargo xtask test` sets it.
pub const BINARY_VARIABLE: &str = "PHOTO_SYNC_BIN";

/// The result of one run of the binary.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The exit status, or -1 when the process was killed by a signal.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Handle on the `photo-sync` binary.
#[derive(Debug, Clone)]
pub struct PhotoSync {
    path: PathBuf,
}

impl PhotoSync {
    /// Uses `PHOTO_SYNC_BIN` when set, else builds the binary once per test process with
    /// the same cargo, so `cargo test` on its own never runs a stale binary.
    pub fn locate() -> Self {
        static PATH: OnceLock<PathBuf> = OnceLock::new();
        let path = PATH.get_or_init(|| match std::env::var_os(BINARY_VARIABLE) {
            Some(path) => PathBuf::from(path),
            None => build_binary(),
        });
        Self { path: path.clone() }
    }

    /// Uses the binary at `path`.
    pub fn at(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts the binary with `args` in `dir` and returns the running child, for tests
    /// that signal or kill it. Its stdout and stderr are piped.
    pub fn spawn(&self, dir: &Path, args: &[&str]) -> tokio::process::Child {
        tokio::process::Command::new(&self.path)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("AZURE_CLIENT_SECRET")
            .env_remove("RUST_LOG")
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.path.display()))
    }

    /// Waits for a child from [`PhotoSync::spawn`] and collects its output.
    pub async fn finish(child: tokio::process::Child) -> RunOutput {
        let output = child.wait_with_output().await.expect("wait for photo-sync");
        RunOutput {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs the binary with `args` and extra environment variables, in `dir`.
    pub async fn run(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> RunOutput {
        let mut command = tokio::process::Command::new(&self.path);
        command
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .env_remove("AZURE_CLIENT_SECRET")
            .env_remove("RUST_LOG");
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().await.unwrap_or_else(|e| panic!("cannot start {}: {e}", self.path.display()));
        RunOutput {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

fn build_binary() -> PathBuf {
    let workspace =
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the tests folder is inside the workspace").to_owned();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "--package", "photo-sync", "--bin", "photo-sync"])
        .current_dir(&workspace)
        .status()
        .expect("cannot run cargo to build photo-sync");
    assert!(status.success(), "building photo-sync failed; run `cargo build -p photo-sync` to see why");

    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), PathBuf::from);
    target.join("debug").join("photo-sync")
}
