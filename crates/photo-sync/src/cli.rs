//! Command-line arguments of `photo-sync`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Copies Microsoft 365 profile photos (read through Microsoft Graph) into the Webdesk
/// person master.
///
/// Exit status: 0 success, 1 fatal error (database or token unavailable), 2 usage or
/// configuration error, 3 finished with failed persons or unresolved references, 4
/// another run holds the lock of this database, 5 interrupted by SIGINT or SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "photo-sync", version)]
pub struct Cli {
    /// Log line format on stderr. The level comes from RUST_LOG (default: info).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "PHOTO_SYNC_LOG_FORMAT", global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Syncs the photos of the persons the configuration selects.
    Run(RunArgs),
    /// Manages the job's tables in the Webdesk database.
    #[command(subcommand)]
    Db(DbCommand),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Job configuration file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,

    /// Writes the JSON run report to this file (replaced atomically).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Creates the job's own tables; never changes existing Webdesk tables.
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Job configuration file; only its [database] table is read.
    #[arg(long, value_name = "FILE", required_unless_present = "database", conflicts_with = "database")]
    pub config: Option<PathBuf>,

    /// Database URL: sqlite://PATH or postgres://USER@HOST/DATABASE.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,

    /// Also creates the Webdesk person tables that do not exist yet, for an empty
    /// database (demo, tests, a new embedded installation).
    #[arg(long)]
    pub with_webdesk_schema: bool,
}
