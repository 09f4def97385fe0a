//! Helpers to run cargo and find the workspace and the built binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Returns the workspace root (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives inside the workspace").to_owned()
}

/// Returns a command for the cargo that runs this xtask, so the pinned toolchain is used
/// throughout.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// Runs a command and fails with its command line if it exits non-zero.
pub fn run_checked(command: &mut Command) -> anyhow::Result<()> {
    let line = format!("{command:?}");
    let status = command.status().with_context(|| format!("cannot start {line}"))?;
    if !status.success() {
        bail!("{line} failed with {status}");
    }
    Ok(())
}

/// Builds `photo-sync` (debug, or release with `release`) and returns its path.
pub fn build_photo_sync(release: bool) -> anyhow::Result<PathBuf> {
    let mut command = cargo();
    command.args(["build", "--package", "photo-sync", "--bin", "photo-sync"]);
    if release {
        command.arg("--release");
    }
    run_checked(&mut command)?;

    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), PathBuf::from);
    Ok(target.join(if release { "release" } else { "debug" }).join("photo-sync"))
}
