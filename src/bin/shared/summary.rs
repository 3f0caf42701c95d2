//! One line for a collection's read: what it read and what that cost.

use std::time::Duration;

use helpcrunch_pager::{Changes, Collection};

use super::time::rfc3339;

/// What a read reads: "changed since …" or "read whole".
pub(crate) fn what<T>(changes: &Changes<T>) -> String {
    match changes.since() {
        Some(since) => format!(
            "{} since {} (lookback {})",
            match changes.collection() {
                // The highest ids are read again too (a creation that committed late).
                Collection::Customers => "new, seen or checked again",
                _ => "changed",
            },
            rfc3339(since),
            minutes(changes.lookback())
        ),
        None if changes.collection().is_incremental() => "read whole (no bookmark yet)".to_owned(),
        None => "read whole (no change time to read by)".to_owned(),
    }
}

/// The line a collection's read gets in the summary, such as "chats: 1,203 changed since
/// 2026-12-04T10:00:00Z (lookback 5 min), 14 requests in 7.1 s".
pub(crate) fn summary<T>(
    changes: &Changes<T>,
    records: u64,
    requests: u64,
    took: Duration,
) -> String {
    let what = match changes.since() {
        Some(_) => what(changes),
        None => format!("records, {}", what(changes)),
    };
    let mut line = format!(
        "{}: {} {what}, {} request{} in {:.1} s",
        changes.collection(),
        thousands(records),
        requests,
        if requests == 1 { "" } else { "s" },
        took.as_secs_f64()
    );
    if changes.chats_gone() > 0 {
        line.push_str(&format!(
            "; {} chats deleted before their messages were read",
            changes.chats_gone()
        ));
    }
    line
}

fn minutes(d: Duration) -> String {
    match d.as_secs() {
        0 => "none".to_owned(),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// `1203` as "1,203".
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_203), "1,203");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
