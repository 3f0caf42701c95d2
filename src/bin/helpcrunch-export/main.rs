//! `helpcrunch-export`: streams a whole HelpCrunch collection into a JSON Lines file, as fast as
//! the account's rate limit allows, with a progress bar, and resumes after a crash.
//!
//! ```text
//! helpcrunch-export departments --simulate --output departments.jsonl
//! helpcrunch-export chats --api-key "$KEY" --output chats.jsonl --checkpoint chats.checkpoint
//! helpcrunch-export chats/search --body '{"filter":[{"field":"chats.status","operator":"=","value":"3"}]}'
//! helpcrunch-export all --api-key "$KEY" --output-dir copy/ --state copy/state.json
//! ```
//!
//! Exit codes: 0 done (or the reader of the output closed it, as `| head` does), 1 the export
//! failed, 2 a bad command line, 130 interrupted (Ctrl-C) and
//! 143 terminated (SIGTERM), with the checkpoint kept.

#![forbid(unsafe_code)]

mod args;
mod checkpoint;
mod export;
mod output;
mod progress;
#[path = "../shared/mod.rs"]
mod shared;
mod simulate;
mod sync;

pub(crate) use shared::failure::Failure;

use std::process::ExitCode;

use clap::Parser;

/// Stopped because whoever read the output has gone (`| head`): not a failure, exit 0.
pub(crate) fn reader_gone(message: impl Into<String>) -> Failure {
    Failure::with_code(0, message)
}

const PROGRAM: &str = "helpcrunch-export";

fn main() -> ExitCode {
    shared::logging::install();
    let job = match args::Args::parse().into_job() {
        Ok(job) => job,
        Err(failure) => return failure.report(PROGRAM),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return Failure::run(format!("cannot start the async runtime: {e}")).report(PROGRAM)
        }
    };
    match runtime.block_on(export::run(job)) {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(failure) => failure.report(PROGRAM),
    }
}
