//! Project automation behind `cargo xtask`: the test suite, the demo and the benchmarks.

#![expect(clippy::print_stdout, reason = "xtask reports to the developer running it")]

mod bench;
mod build;
mod demo;
mod test;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  test    builds photo-sync and runs every test of the workspace
  demo    runs photo-sync twice against a demo database and a simulated Graph
  bench   measures time and peak memory of the release binary [--persons N]
";

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    let result = match task.as_deref() {
        Some("test") => test::run(),
        Some("demo") => demo::run(),
        Some("bench") => bench::run(&std::env::args().skip(2).collect::<Vec<_>>()),
        Some("-h" | "--help" | "help") => {
            eprint!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprint!("xtask: unknown task {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
        None => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}
