//! The library's warnings on stderr, around the progress bars.

use std::io::{self, Write};
use std::sync::OnceLock;

use indicatif::{MultiProgress, ProgressDrawTarget};

/// The library's warnings (Redis unreachable, a rate change, a settings conflict) and, with
/// `RUST_LOG`, more, on stderr, never stdout (which carries data). Warnings alone where
/// `RUST_LOG` is unset or blank (an empty filter would hide them all); of a `RUST_LOG` partly
/// unreadable, the rest is kept and the unread part named. The library logs no key.
pub(crate) fn install() {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::{EnvFilter, LevelFilter};
    let asked = std::env::var("RUST_LOG").unwrap_or_default();
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::WARN.into())
        .parse_lossy(if asked.trim().is_empty() {
            "warn"
        } else {
            &asked
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| AroundBars)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// The progress bars on stderr: a bar added here is cleared while a log line is written, and
/// drawn again below it, so that a warning never lands on a bar's line (nor is erased by its
/// next draw).
pub(crate) fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// Stderr, with the bars out of the way of each write (a log line is written whole, once).
struct AroundBars;

impl Write for AroundBars {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        bars().suspend(|| io::stderr().write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        bars().suspend(|| io::stderr().write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}
