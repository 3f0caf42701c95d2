//! [`Failure`]: why a run did not finish, one line for the user and the exit code.

use std::process::ExitCode;

/// Why a run did not finish: one line for the user, and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// Ends with `code`, saying `message`.
    pub(crate) fn with_code(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A command line or configuration that cannot work: exit code 2, as clap uses for its own
    /// complaints.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::with_code(2, message)
    }

    /// A failure while running: exit code 1.
    pub(crate) fn run(message: impl Into<String>) -> Self {
        Self::with_code(1, message)
    }

    /// Stopped by a signal: 128 plus its number.
    pub(crate) fn signal(number: u8, message: impl Into<String>) -> Self {
        Self::with_code(128 + number, message)
    }

    /// What it says.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// Says it on stderr, after the program's name, and gives the exit code.
    pub(crate) fn report(self, program: &str) -> ExitCode {
        eprintln!("{program}: {}", self.message());
        ExitCode::from(self.code)
    }
}
