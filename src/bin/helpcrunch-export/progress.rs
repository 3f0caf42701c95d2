//! What the export shows while it runs (a progress bar on a terminal) and the one-line summary
//! it prints at the end either way.

use std::time::{Duration, Instant};

use helpcrunch_pager::{ClientStats, ScanReport};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    limit: u32,
}

impl Progress {
    /// A bar on stderr when `show`, starting at `done` records (more than 0 when resuming).
    pub(crate) fn new(show: bool, done: u64, limit: u32) -> Self {
        let bar = show.then(|| {
            let bar = crate::shared::logging::bars().add(ProgressBar::with_draw_target(
                None,
                ProgressDrawTarget::stderr(),
            ));
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"),
            );
            bar.set_message("asking for the first page");
            bar.set_position(done);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            started: Instant::now(),
            limit,
        }
    }

    pub(crate) fn update(&self, done: u64, total: u64, stats: ClientStats) {
        let Some(bar) = &self.bar else { return };
        let first = bar.length().is_none();
        bar.set_length(total.max(done));
        bar.set_position(done);
        bar.set_message(format!(
            "{:.0} req/min (budget {:.0}/min{}), {} 429s, {} retries",
            per_minute(stats.requests, self.started.elapsed()),
            stats.rate_per_minute,
            sharing(&stats),
            stats.rate_limited,
            stats.retries
        ));
        if first {
            // The text comes first and the bar takes what width is left, so the line never
            // wraps on a narrow terminal (a wrapped line is redrawn as two).
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {human_pos}/{human_len} records · ETA {eta} · {msg} [{wide_bar}]",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
        }
    }

    /// Clears the bar and gives the one-line summary.
    pub(crate) fn finish(self, outcome: Outcome<'_>) -> String {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let elapsed = self.started.elapsed();
        let Outcome {
            verb,
            collection,
            records,
            total,
            resumed_from,
            stats,
            scan,
        } = outcome;
        let rate = per_minute(stats.requests, elapsed);
        let mut line = format!("{verb} {records} records");
        if let Some(total) = total {
            line.push_str(&format!(" of {total}"));
        }
        line.push_str(&format!(" from {collection}"));
        if resumed_from > 0 {
            line.push_str(&format!(" (resumed at offset {resumed_from})"));
        }
        line.push_str(&format!(
            ": {} requests, {} 429s, {} retries in {:.1} s; {rate:.1} requests/min, {:.1} % of the limit of {}/min",
            stats.requests,
            stats.rate_limited,
            stats.retries,
            elapsed.as_secs_f64(),
            rate * 100.0 / f64::from(self.limit),
            self.limit,
        ));
        if stats.rate_changes > 0 {
            line.push_str(&format!(
                "; the rate settled at {:.0}/min of at most {:.0}/min after {} changes",
                stats.rate_per_minute, stats.ceiling_per_minute, stats.rate_changes
            ));
        }
        match (stats.sharing_processes, stats.redis_connected) {
            (0, _) => {}
            (_, false) if !stats.redis_reached => line.push_str(
                "; Redis (--redis-url) never answered: the budget was not shared, and this \
                 export kept the whole rate alone",
            ),
            (n, true) => line.push_str(&format!(
                "; the budget was shared through Redis by {n} process{}",
                if n == 1 { "" } else { "es" }
            )),
            (n, false) => line.push_str(&format!(
                "; the budget was shared through Redis, which did not answer at the end: this \
                 export kept 1/{n} of the rate"
            )),
        }
        if scan.shifts_detected > 0 || scan.duplicates_dropped > 0 {
            line.push_str(&format!(
                "; records moved during the export: {} shifts detected, {} healed, {} \
                 duplicates dropped",
                scan.shifts_detected, scan.shifts_healed, scan.duplicates_dropped
            ));
        }
        if scan.short_pages > 0 {
            line.push_str(&format!("; {} short pages confirmed", scan.short_pages));
        }
        if scan.head_rounds > 0 {
            line.push_str(&format!(
                "; the head of the list read again {} times",
                scan.head_rounds
            ));
        }
        if scan.extra_requests > 0 {
            line.push_str(&format!(
                "; {} extra requests for all that",
                scan.extra_requests
            ));
        }
        line
    }
}

/// Who shares the budget: nothing where it is this process's alone.
fn sharing(stats: &ClientStats) -> String {
    match (stats.sharing_processes, stats.redis_connected) {
        (0, _) => String::new(),
        (_, false) if !stats.redis_reached => ", alone: Redis has not answered".to_owned(),
        (n, true) => format!(", shared by {n} process{}", if n == 1 { "" } else { "es" }),
        (n, false) => format!(", shared: Redis unreachable, keeping 1/{n}"),
    }
}

/// How an export ended, for its summary.
pub(crate) struct Outcome<'a> {
    /// "exported", "interrupted after", "failed after".
    pub(crate) verb: &'a str,
    pub(crate) collection: &'a str,
    /// Records in the output, earlier runs' included.
    pub(crate) records: u64,
    pub(crate) total: Option<u64>,
    pub(crate) resumed_from: u64,
    pub(crate) stats: ClientStats,
    pub(crate) scan: ScanReport,
}

/// The pace the budget kept: the gaps between requests per minute. The first request goes at
/// once, so counting it would overstate a short export's rate.
fn per_minute(requests: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        requests.saturating_sub(1) as f64 * 60.0 / secs
    } else {
        0.0
    }
}
