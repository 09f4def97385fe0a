//! End-to-end tests: the built `photo-sync` binary against a simulated Graph (wiremock on
//! 127.0.0.1) and a real Webdesk SQLite file.

mod faults;
mod harness;
mod migrate;
mod run;
mod run_failures;
