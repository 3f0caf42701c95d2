//! `tap-helpcrunch`: a Singer tap for HelpCrunch. It prints the Singer messages (`SCHEMA`,
//! `RECORD`, `STATE`) of departments, agents, customers, chats and messages on standard
//! output, for any Singer target (`target-postgres`, `target-snowflake`, ...), run by hand or
//! by Meltano:
//!
//! ```text
//! tap-helpcrunch --config config.json --discover > catalog.json
//! tap-helpcrunch --config config.json --catalog catalog.json --state state.json | target-postgres --config target.json
//! tap-helpcrunch --about --format json
//! ```
//!
//! It reads as `helpcrunch-export --state` does, through the same library: the account's rate
//! budget (shared through Redis with `redis_url`), the retries, and an incremental sync whose
//! state is the Singer state. Logs go to stderr. Exit codes: 0 done, 1 the sync failed (after
//! the last `STATE` that holds), 2 a bad command line or config, 130 and 143 interrupted.

#![forbid(unsafe_code)]

mod about;
mod catalog;
mod config;
mod conform;
#[path = "../shared/mod.rs"]
mod shared;
mod singer;
mod sync;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use helpcrunch_pager::{Error, SyncState};
use serde_json::Value;

pub(crate) use shared::failure::Failure;

const PROGRAM: &str = "tap-helpcrunch";

/// A Singer tap for HelpCrunch: departments, agents, customers, chats and messages, as fast as
/// the account's rate limit allows, incrementally after the first sync.
#[derive(Parser)]
#[command(name = "tap-helpcrunch", version)]
struct Args {
    /// The settings, a JSON object (see --about); given again, a later file's settings win.
    #[arg(long, value_name = "FILE")]
    config: Vec<PathBuf>,

    /// Print the catalog: each stream with its JSON Schema and metadata.
    #[arg(long, conflicts_with_all = ["catalog", "properties", "state", "about"])]
    discover: bool,

    /// The catalog saying which streams and fields to read (from --discover, edited or
    /// selected by Meltano). Without it, every stream is read.
    #[arg(long, value_name = "FILE", conflicts_with = "properties")]
    catalog: Option<PathBuf>,

    /// The catalog, under its older name.
    #[arg(long, value_name = "FILE")]
    properties: Option<PathBuf>,

    /// The state a target printed last (the value of the tap's last STATE it loaded): the sync
    /// reads what changed since. Without it, everything is read.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,

    /// What the tap is and its settings.
    #[arg(long)]
    about: bool,

    /// With --about: as text or as JSON.
    #[arg(long, value_enum, requires = "about", default_value = "text")]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    shared::logging::install();
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(PROGRAM),
    }
}

fn run(args: Args) -> Result<(), Failure> {
    if args.about {
        return print(match args.format {
            Format::Text => about::text(),
            Format::Json => format!("{:#}\n", about::json()),
        });
    }
    if args.discover {
        return print(format!("{:#}\n", catalog::discover()));
    }
    if args.config.is_empty() {
        return Err(Failure::usage(
            "a sync needs --config FILE (see --about for its settings)",
        ));
    }
    let config = config::load(&args.config)?;
    let chosen = match args.catalog.as_ref().or(args.properties.as_ref()) {
        Some(path) => {
            catalog::selection(&read_json(path, "--catalog")?, &path.display().to_string())?
        }
        None => catalog::everything(),
    };
    if chosen.is_empty() {
        tracing::warn!("the catalog selects no stream: nothing is read");
    }
    let state = match &args.state {
        Some(path) => state(path)?,
        None => SyncState::default(),
    };
    let client = shared::client::connect(&config.client, &[])?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::run(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(sync::run(&client, &config, &chosen, state))
}

/// Writes `text` on standard output; a reader gone (EPIPE) is a failure, not a panic.
fn print(text: String) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::run(format!("cannot write to standard output: {e}")))
}

/// The error in the tap's terms (its settings are named as the library names them).
pub(crate) fn describe(e: &Error) -> String {
    shared::describe::describe(e, &[])
}

fn read_json(path: &Path, flag: &str) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("{flag} {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::usage(format!("{flag} {} is not JSON: {e}", path.display())))
}

/// The state in `path`: the tap's own, as its last STATE held it; an empty object (as an
/// orchestrator may write before a first sync) is a first sync.
fn state(path: &Path) -> Result<SyncState, Failure> {
    match read_json(path, "--state")? {
        Value::Object(o) if o.is_empty() => Ok(SyncState::default()),
        value => serde_json::from_value(value).map_err(|e| {
            Failure::usage(format!(
                "--state {} is not a state of tap-helpcrunch: {e}",
                path.display()
            ))
        }),
    }
}
