//! The `photo-sync` command: copies Microsoft 365 profile photos into the Webdesk person
//! master (Webdesk action `UpdatePersonImageFromGraphAPIJob`).

mod cli;
mod config;
mod job;
mod report;
mod run;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, LogFormat};
use crate::run::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("photo-sync: cannot start the async runtime: {error}");
            return ExitCode::from(run::EXIT_FATAL);
        }
    };

    match runtime.block_on(run::execute(cli.command, cli.log_format)) {
        Ok(status) => ExitCode::from(status),
        Err(failure) => {
            // Logged once, so the line is also valid JSON with --log-format json.
            tracing::error!(exit_status = failure.exit_status(), "{failure:#}");
            ExitCode::from(failure.exit_status())
        }
    }
}

/// Sends log lines to stderr, as text or JSON, filtered by `RUST_LOG` (default `info`).
/// HTTP and identity crates are capped at `warn` unless `RUST_LOG` is set, because their
/// `info` lines are per request. An invalid `RUST_LOG` is reported and replaced by the
/// default.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;

    let default = "info,azure_core=warn,azure_identity=warn,typespec_client_core=warn,hyper=warn,hyper_util=warn,reqwest=warn,rustls=warn";
    let (filter, invalid) = match std::env::var("RUST_LOG") {
        Err(_) => (EnvFilter::new(default), None),
        Ok(value) => match EnvFilter::try_new(&value) {
            Ok(filter) => (filter, None),
            Err(error) => (
                EnvFilter::new(default),
                Some(format!("invalid RUST_LOG {value:?} ({error}); logging with the default filter")),
            ),
        },
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(false).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    if let Some(message) = invalid {
        tracing::warn!("{message}");
    }
}

impl Failure {
    fn exit_status(&self) -> u8 {
        match self {
            Self::Usage(_) => run::EXIT_USAGE,
            Self::Fatal(_) => run::EXIT_FATAL,
            Self::Locked(_) => run::EXIT_LOCKED,
        }
    }
}
