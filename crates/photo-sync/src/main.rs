//! The `photo-sync` command: copies Microsoft 365 profile photos into the Webdesk person
//! master (Webdesk action `UpdatePersonImageFromGraphAPIJob`).

mod cli;
mod config;
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

    match runtime.block_on(run::execute(cli.command)) {
        Ok(status) => ExitCode::from(status),
        Err(failure) => {
            // The message goes through the logger too, so a log collector sees why the
            // run stopped, and to plain stderr for the administrator at the terminal.
            tracing::error!(exit_status = failure.exit_status(), "{failure:#}");
            eprintln!("photo-sync: {failure:#}");
            ExitCode::from(failure.exit_status())
        }
    }
}

/// Sends log lines to stderr, as text or JSON, filtered by `RUST_LOG` (default `info`).
/// HTTP and identity crates are capped at `warn` unless `RUST_LOG` names them, because
/// their `info` lines are per request.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;

    let default = "info,azure_core=warn,azure_identity=warn,hyper=warn,hyper_util=warn,reqwest=warn,rustls=warn";
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(false).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

impl Failure {
    fn exit_status(&self) -> u8 {
        match self {
            Self::Usage(_) => run::EXIT_USAGE,
            Self::Fatal(_) => run::EXIT_FATAL,
        }
    }
}
