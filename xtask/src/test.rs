//! `cargo xtask test`: builds the binary once, then runs every test of the workspace
//! against it.

use crate::build::{build_photo_sync, cargo, run_checked};

pub fn run() -> anyhow::Result<()> {
    let binary = build_photo_sync(false)?;

    let mut command = cargo();
    command.args(["test", "--workspace"]).env("PHOTO_SYNC_BIN", &binary);
    run_checked(&mut command)
}
