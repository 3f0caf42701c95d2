//! The library's warnings on stderr.

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
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
