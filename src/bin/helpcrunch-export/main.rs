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
mod simulate;
mod sync;

use std::process::ExitCode;

use clap::Parser;

/// Why the export did not finish: one line for the user, and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// A command line that cannot work: exit code 2, as clap uses for its own complaints.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    /// A failure while running: exit code 1.
    pub(crate) fn run(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }

    /// Stopped because whoever read the output has gone (`| head`): not a failure, exit 0.
    pub(crate) fn reader_gone(message: impl Into<String>) -> Self {
        Self {
            code: 0,
            message: message.into(),
        }
    }

    /// Stopped by a signal: 128 plus its number.
    pub(crate) fn signal(number: u8, message: impl Into<String>) -> Self {
        Self {
            code: 128 + number,
            message: message.into(),
        }
    }

    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    fn report(self) -> ExitCode {
        eprintln!("helpcrunch-export: {}", self.message);
        ExitCode::from(self.code)
    }
}

/// The library's warnings (Redis unreachable, a rate change, a settings conflict) and, with
/// `RUST_LOG`, more, on stderr; warnings alone by default. The library logs no key.
fn logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn main() -> ExitCode {
    logging();
    let job = match args::Args::parse().into_job() {
        Ok(job) => job,
        Err(failure) => return failure.report(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Failure::run(format!("cannot start the async runtime: {e}")).report(),
    };
    match runtime.block_on(export::run(job)) {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(failure) => failure.report(),
    }
}
