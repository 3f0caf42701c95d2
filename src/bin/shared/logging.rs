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
            "warn".to_owned()
        } else {
            spelled(&asked)
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

/// `RUST_LOG` with Python's (and Meltano's) levels `warning` and `critical` read as `warn`
/// and `error`: tracing would take either for the name of a target, and show nothing but it.
fn spelled(asked: &str) -> String {
    asked
        .split(',')
        .map(|directive| {
            let (target, level) = match directive.rsplit_once('=') {
                Some((target, level)) => (Some(target), level),
                None => (None, directive),
            };
            let level = match level.trim().to_ascii_lowercase().as_str() {
                "warning" => "warn",
                "critical" => "error",
                _ => return directive.to_owned(),
            };
            match target {
                Some(target) => format!("{target}={level}"),
                None => level.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_is_read_as_warn_and_the_rest_as_written() {
        assert_eq!(spelled("warning"), "warn");
        assert_eq!(spelled(" WARNING "), "warn");
        assert_eq!(
            spelled("info,helpcrunch_pager=warning"),
            "info,helpcrunch_pager=warn"
        );
        assert_eq!(spelled("debug,warnings=info"), "debug,warnings=info");
        assert_eq!(spelled("warnings"), "warnings", "a target's name");
        assert_eq!(spelled("critical"), "error");
    }
}
