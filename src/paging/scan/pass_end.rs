//! Where a pass ends: after each page, whether the list goes on, ends there, needs a second
//! read to tell, or cannot be read whole. Pure: the engine tells it what a page showed and does
//! what it decides.
//!
//! A total is a hint, not a promise: a replica can lag behind the rows it counts, a count can
//! race them, and the docs' agents example reports 5 for 4. So a short page ends a pass only
//! where it agrees with its total, or where further reads keep ending at the same place; a full
//! page always reads on, past the total where the list grew.

use std::time::Duration;

/// The most short pages in a row, none of them bringing a record, before a scan whose pages
/// keep ending before their total gives up. Each waits longer before it asks (25 ms, doubling
/// to 800 ms), so that a lagging replica has about 1.6 s in all to catch up.
const MAX_CONFIRMATIONS: u32 = 6;

/// The most full pages in a row that hold exactly the records of the page before (a server
/// that ignores `offset` serves the first page again and again) before the scan gives up.
const MAX_BARREN: u32 = 8;

/// What a page told of where the list ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Read {
    /// The offset just past its last record.
    pub(super) end: u64,
    /// Whether it held as many records as asked for.
    pub(super) full: bool,
    /// The total it reported.
    pub(super) total: u64,
    /// How many records it brought that had not been yielded.
    pub(super) brought: usize,
    /// Whether it held exactly the records of the page before.
    pub(super) barren: bool,
}

/// Where a page stands to the head of an order that moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AtHead {
    /// Not a head round, or no order that moves.
    Elsewhere,
    /// A round's page of records that may have moved since the round before.
    Moved,
    /// A round's page that reaches records that did not move: the round can stop there.
    Unmoved,
    /// A round's first page, the same as the round before found it: the scan is whole.
    Still,
}

/// What comes after a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The head stood still since the round before: the scan is whole and ends.
    Whole,
    /// The list goes on: read the planned windows (and past them, where none are left).
    ReadOn,
    /// The pass (or head round) ends at this page.
    PassEnds,
    /// The page ended short of its total: read on from `from`, one window at a time, after
    /// [`PassEnd::pause`].
    Confirm {
        /// The offset just past the short page's last record.
        from: u64,
    },
    /// The pages cannot be read whole: the scan ends with `Error::Incomplete` at `offset`.
    Incomplete {
        /// Where the scan stood.
        offset: u64,
        /// What went wrong, for the error's message.
        reason: String,
    },
}

/// What the decision remembers from page to page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PassEnd {
    /// The end a short page claimed, while another read confirms it.
    confirming: Option<u64>,
    /// Short pages in a row that brought no record.
    confirmations: u32,
    /// Reads in a row that ended where the one before did and brought nothing.
    settled: u32,
    /// The total the page before reported.
    last_total: Option<u64>,
    /// How far the last short page ended before its total.
    last_gap: Option<u64>,
    /// Full pages in a row that held exactly the records of the page before.
    barren: u32,
}

impl PassEnd {
    /// Decides what comes after the page that showed `read`, standing `at_head`; `main_pass`
    /// where it is a page of the main pass rather than of a head round.
    pub(super) fn after(&mut self, read: Read, at_head: AtHead, main_pass: bool) -> Verdict {
        if at_head == AtHead::Still {
            return Verdict::Whole;
        }
        // How far a total may be from the records without the scan calling it wrong: the docs'
        // agents example reports 5 for 4, and a count can race the rows it counts.
        let tolerance = (read.total / 1_000).max(1);
        // A total that fell at once costs one confirming read (a replica that lost rows would
        // show that), not more: a list that keeps shrinking keeps its totals falling.
        let fell = self.confirming.is_none()
            && self
                .last_total
                .is_some_and(|last| read.total.saturating_add(tolerance) < last);
        self.last_total = Some(read.total);
        if read.full && at_head != AtHead::Unmoved {
            self.barren = if read.barren && main_pass {
                self.barren + 1
            } else {
                0
            };
            if self.barren > MAX_BARREN {
                return Verdict::Incomplete {
                    offset: read.end,
                    reason: format!(
                        "{} full pages in a row held the same records as the page before: the \
                         server seems to ignore offset",
                        self.barren
                    ),
                };
            }
            self.settle();
            return Verdict::ReadOn;
        }
        if at_head == AtHead::Unmoved || (read.end >= read.total && !fell) {
            self.settle();
            return Verdict::PassEnds;
        }
        // Short while the total says there is more (or a total that fell at once): a lagging
        // replica or a query cut off looks like this, and so does a total that overcounts.
        // Read on from the page's end, waiting longer each time.
        // Reads settle where they bring nothing and end as far before the total as the read
        // before did (records arriving at the front move the end and the total together).
        let gap = read.total.saturating_sub(read.end);
        let steady = self.confirming.is_some() && read.brought == 0 && self.last_gap == Some(gap);
        self.settled = if steady { self.settled + 1 } else { 0 };
        self.last_gap = Some(gap);
        if self.settled >= 2 && gap <= (read.total / 100).max(5) {
            // Three reads in a row end here, the total a little past: a total that overcounts
            // (the docs' agents example reports 5 for 4). Further past, it is not reconciled.
            self.settle();
            return Verdict::PassEnds;
        }
        self.confirmations = if read.brought == 0 {
            self.confirmations + 1
        } else {
            0
        };
        if self.confirmations > MAX_CONFIRMATIONS {
            return Verdict::Incomplete {
                offset: read.end,
                reason: format!(
                    "pages keep ending at offset {} while the total says {}, through {} \
                     confirming reads",
                    read.end, read.total, MAX_CONFIRMATIONS
                ),
            };
        }
        self.confirming = Some(read.end);
        Verdict::Confirm { from: read.end }
    }

    /// Whether a short page's end is being confirmed: windows then go one at a time.
    pub(super) fn confirming(&self) -> bool {
        self.confirming.is_some()
    }

    /// How long the next read waits before it asks: none, or after `n` short pages in a row
    /// that brought nothing, 25 ms doubling to 800 ms, for a lagging replica to catch up.
    pub(super) fn pause(&self) -> Duration {
        match self.confirmations {
            0 => Duration::ZERO,
            n => Duration::from_millis(25 << (n - 1).min(5)),
        }
    }

    /// A page settled where the list goes on or ends: no short page is being confirmed.
    fn settle(&mut self) {
        self.confirming = None;
        self.confirmations = 0;
        self.settled = 0;
        self.last_gap = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page of the main pass away from any head round.
    fn page(end: u64, full: bool, total: u64, brought: usize) -> Read {
        Read {
            end,
            full,
            total,
            brought,
            barren: false,
        }
    }

    fn main_pass(state: &mut PassEnd, read: Read) -> Verdict {
        state.after(read, AtHead::Elsewhere, true)
    }

    #[test]
    fn a_short_page_that_agrees_with_its_total_ends_the_pass() {
        let mut state = PassEnd::default();
        assert_eq!(
            main_pass(&mut state, page(100, true, 140, 100)),
            Verdict::ReadOn
        );
        assert_eq!(
            main_pass(&mut state, page(140, false, 140, 40)),
            Verdict::PassEnds
        );
        assert_eq!(state.pause(), Duration::ZERO);
    }

    #[test]
    fn a_short_page_whose_total_says_there_is_more_is_read_on_from_its_end() {
        let mut state = PassEnd::default();
        assert_eq!(
            main_pass(&mut state, page(60, false, 140, 60)),
            Verdict::Confirm { from: 60 }
        );
        assert!(state.confirming(), "one window at a time while it confirms");
        assert_eq!(state.pause(), Duration::ZERO, "it brought records: no wait");
        // The replica caught up: the confirming read is full, and the pass goes on as usual.
        assert_eq!(
            main_pass(&mut state, page(159, true, 140, 99)),
            Verdict::ReadOn
        );
        assert!(!state.confirming());
    }

    #[test]
    fn a_short_page_whose_total_says_more_ends_the_scan_incomplete_after_six_empty_reads() {
        let mut state = PassEnd::default();
        let mut pauses = Vec::new();
        // Far short of the total, each read bringing nothing and ending a little further on,
        // so that the reads never settle.
        for i in 0..u64::from(MAX_CONFIRMATIONS) {
            let verdict = main_pass(&mut state, page(60 + i, false, 1_000 + 2 * i, 0));
            assert_eq!(verdict, Verdict::Confirm { from: 60 + i });
            pauses.push(state.pause().as_millis());
        }
        assert_eq!(pauses, [25, 50, 100, 200, 400, 800]);
        let Verdict::Incomplete { offset, reason } =
            main_pass(&mut state, page(66, false, 1_012, 0))
        else {
            panic!("the seventh empty short page gives up");
        };
        assert_eq!(offset, 66);
        assert!(reason.contains("total says 1012"), "{reason}");
    }

    #[test]
    fn a_total_that_overcounts_ends_the_pass_once_three_reads_end_at_the_same_place() {
        // The docs' agents example: a total of 5 for 4 records.
        let mut state = PassEnd::default();
        assert_eq!(
            main_pass(&mut state, page(4, false, 5, 4)),
            Verdict::Confirm { from: 4 }
        );
        assert_eq!(
            main_pass(&mut state, page(4, false, 5, 0)),
            Verdict::Confirm { from: 4 },
            "a second read that ends there too settles once"
        );
        assert_eq!(
            main_pass(&mut state, page(4, false, 5, 0)),
            Verdict::PassEnds,
            "a third settles twice: the total overcounts"
        );
        assert!(!state.confirming());
    }

    #[test]
    fn a_total_far_past_reads_that_settle_is_not_taken_for_an_overcount() {
        let mut state = PassEnd::default();
        for _ in 0..MAX_CONFIRMATIONS {
            assert_eq!(
                main_pass(&mut state, page(40, false, 1_000, 0)),
                Verdict::Confirm { from: 40 },
                "960 missing of 1,000 is more than a count that races its rows"
            );
        }
        assert!(matches!(
            main_pass(&mut state, page(40, false, 1_000, 0)),
            Verdict::Incomplete { offset: 40, .. }
        ));
    }

    #[test]
    fn growth_past_the_total_reads_on_while_pages_come_back_full() {
        let mut state = PassEnd::default();
        // The first total said 150; the list grew while it was read.
        assert_eq!(
            main_pass(&mut state, page(100, true, 150, 100)),
            Verdict::ReadOn
        );
        assert_eq!(
            main_pass(&mut state, page(199, true, 150, 99)),
            Verdict::ReadOn,
            "a full page past the total: there is more than it said"
        );
        assert_eq!(
            main_pass(&mut state, page(298, true, 260, 99)),
            Verdict::ReadOn
        );
        assert_eq!(
            main_pass(&mut state, page(310, false, 310, 12)),
            Verdict::PassEnds,
            "a short page that agrees with the grown total"
        );
    }

    #[test]
    fn a_short_page_past_a_total_that_fell_at_once_is_confirmed_once() {
        let mut state = PassEnd::default();
        assert_eq!(
            main_pass(&mut state, page(100, true, 900, 100)),
            Verdict::ReadOn
        );
        assert_eq!(
            main_pass(&mut state, page(150, false, 150, 50)),
            Verdict::Confirm { from: 150 },
            "a total that fell from 900 to 150 at once may be a replica that lost rows"
        );
        assert_eq!(
            main_pass(&mut state, page(150, false, 150, 0)),
            Verdict::PassEnds,
            "a list that keeps shrinking is not confirmed again"
        );
    }

    #[test]
    fn full_pages_that_repeat_the_page_before_end_the_scan_incomplete() {
        let mut state = PassEnd::default();
        let barren = Read {
            barren: true,
            ..page(100, true, 10_000, 0)
        };
        for _ in 0..MAX_BARREN {
            assert_eq!(main_pass(&mut state, barren), Verdict::ReadOn);
        }
        let Verdict::Incomplete { reason, .. } = main_pass(&mut state, barren) else {
            panic!("the ninth repeat gives up");
        };
        assert!(reason.contains("ignore offset"), "{reason}");
        let mut round = PassEnd::default();
        for _ in 0..=MAX_BARREN {
            assert_eq!(
                round.after(barren, AtHead::Moved, false),
                Verdict::ReadOn,
                "a head round reads the same head again by design"
            );
        }
    }

    #[test]
    fn a_head_round_ends_where_it_reaches_records_that_did_not_move_or_the_head_stood_still() {
        let mut state = PassEnd::default();
        assert_eq!(
            state.after(page(100, true, 500, 3), AtHead::Unmoved, false),
            Verdict::PassEnds,
            "a full page ends the round where it reaches records that did not move"
        );
        assert_eq!(
            state.after(page(100, true, 500, 0), AtHead::Still, false),
            Verdict::Whole
        );
        assert_eq!(
            state.after(page(100, true, 500, 3), AtHead::Moved, false),
            Verdict::ReadOn
        );
    }
}
