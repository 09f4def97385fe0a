//! `cargo xtask test`: builds the binary once, starts a throwaway PostgreSQL server, then
//! runs every test of the workspace against both and ends with one total line.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use anyhow::{Context, bail};
use photo_sync_e2e::postgres::{PgServer, SERVER_VARIABLE};

use crate::build::{build_photo_sync, cargo};

pub fn run() -> anyhow::Result<()> {
    let binary = build_photo_sync(false)?;

    // A run where PostgreSQL cannot start fails here, so its tests never skip silently.
    let server = PgServer::start().context("cannot start the PostgreSQL server for the tests")?;
    println!("PostgreSQL test server at {}", server.admin_url());

    let mut child = cargo()
        .args(["test", "--workspace", "--no-fail-fast"])
        .env("PHOTO_SYNC_BIN", &binary)
        .env(SERVER_VARIABLE, server.admin_url())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start cargo test")?;

    // cargo prints one result line per test binary; the sum is printed last so the
    // total is visible at a glance and to CI.
    let mut totals = Totals::default();
    let stdout = child.stdout.take().context("cargo test has no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading the output of cargo test failed")?;
        println!("{line}");
        totals.add(&line);
    }
    let status = child.wait().context("waiting for cargo test failed")?;
    drop(server);

    println!("\ntotal: {} passed, {} failed, {} skipped", totals.passed, totals.failed, totals.ignored);
    if !status.success() {
        bail!("cargo test failed with {status}");
    }
    if totals.passed == 0 {
        bail!("cargo test ran no test");
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Adds the counts of a line such as
    /// `test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; ...`.
    fn add(&mut self, line: &str) {
        let Some(counts) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in counts.split(['.', ';']) {
            let mut words = part.split_whitespace();
            let (Some(number), Some(label)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            match label {
                "passed" => self.passed += number,
                "failed" => self.failed += number,
                "ignored" => self.ignored += number,
                _ => {}
            }
        }
    }
}
