//! Offset/limit window arithmetic: which `(offset, limit)` pairs cover a collection.
//!
//! Pure logic with no I/O. The scan asks for the first [`Window`], reads the total from its
//! answer, and then lets the [`Planner`] plan the rest as it goes.

use std::num::NonZeroU32;

use crate::error::Error;

/// The largest page HelpCrunch serves: its `limit` is at most 100.
pub const MAX_PAGE_SIZE: u32 = 100;

/// A validated page size, `1..=100`.
///
/// ```
/// use helpcrunch_pager::PageSize;
///
/// assert_eq!(PageSize::new(100).unwrap().get(), 100);
/// assert!(PageSize::new(0).is_err());
/// assert!(PageSize::new(101).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageSize(NonZeroU32);

impl PageSize {
    /// The API's default and maximum, 100.
    pub const MAX: PageSize = PageSize(NonZeroU32::new(MAX_PAGE_SIZE).unwrap());

    /// Checks that `n` is within `1..=100`.
    ///
    /// ```
    /// use helpcrunch_pager::PageSize;
    /// assert_eq!(PageSize::new(50)?.get(), 50);
    /// assert!(PageSize::new(0).is_err());
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn new(n: u32) -> Result<Self, Error> {
        match NonZeroU32::new(n) {
            Some(n) if n.get() <= MAX_PAGE_SIZE => Ok(Self(n)),
            _ => Err(Error::InvalidInput(format!(
                "page size {n} is out of range: HelpCrunch pages hold 1 to {MAX_PAGE_SIZE} records"
            ))),
        }
    }

    /// The size as a number.
    ///
    /// ```
    /// assert_eq!(helpcrunch_pager::PageSize::MAX.get(), 100);
    /// ```
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self::MAX
    }
}

/// One request's slice of a collection: `offset` and `limit` as sent to the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// The index of the first record asked for.
    pub offset: u64,
    /// How many records are asked for, `1..=100`.
    pub limit: u32,
}

impl Window {
    /// The first window of a scan that starts at `start`: a full page, since the total is not
    /// known yet.
    ///
    /// ```
    /// use helpcrunch_pager::{PageSize, Window};
    /// assert_eq!(Window::first(300, PageSize::MAX), Window { offset: 300, limit: 100 });
    /// ```
    pub const fn first(start: u64, page_size: PageSize) -> Self {
        Self {
            offset: start,
            limit: page_size.get(),
        }
    }

    /// The offset just past this window, or an error where it does not fit in a `u64`.
    ///
    /// ```
    /// use helpcrunch_pager::Window;
    /// assert_eq!(Window { offset: 300, limit: 100 }.end()?, 400);
    /// assert!(Window { offset: u64::MAX, limit: 1 }.end().is_err());
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn end(&self) -> Result<u64, Error> {
        self.offset
            .checked_add(u64::from(self.limit))
            .ok_or_else(|| overflow(self.offset))
    }
}

/// The windows of a scan after its first page, planned as it goes so that the plan can grow
/// when the collection does.
///
/// With an overlap of one, each window starts on the last record of the one before (the
/// anchor), which lets the scan see that the records moved between two pages. Every window is a
/// full page, and the last one reaches past the known total (the probe): a full answer means
/// the collection grew, and from then on the plan reads on until a page comes back short.
#[derive(Debug, Clone)]
pub(crate) struct Planner {
    /// The first position no window has covered yet.
    cursor: u64,
    /// The last position known to hold a record, plus one: the largest total seen.
    horizon: u64,
    page_size: u64,
    overlap: u64,
    /// The collection grew past its totals: plan full pages, with no horizon.
    growing: bool,
}

impl Planner {
    /// The plan for the records from `end` on, where `total` was reported; `anchored` where
    /// the record just before `end` was read (the next window then starts on it). Windows
    /// overlap where they hold at least two records (the scan asks for two where it was asked
    /// for pages of one).
    pub(crate) fn at(end: u64, anchored: bool, total: u64, page_size: PageSize) -> Self {
        let page_size = u64::from(page_size.get());
        let overlap = u64::from(page_size >= 2);
        Self {
            cursor: cursor_for(end, anchored, overlap),
            horizon: total,
            page_size,
            overlap,
            growing: false,
        }
    }

    /// Plans again from `end`, dropping what was planned past it, with at least one window
    /// even where `end` is past every total seen.
    pub(crate) fn restart_at(&mut self, end: u64, anchored: bool) {
        self.cursor = cursor_for(end, anchored, self.overlap);
        self.horizon = self.horizon.max(self.cursor);
        self.growing = false;
    }

    /// Whether windows overlap by one record.
    pub(crate) fn overlaps(&self) -> bool {
        self.overlap == 1
    }

    /// The largest total seen.
    pub(crate) fn horizon(&self) -> u64 {
        self.horizon
    }

    /// Takes a total a later page reported: the plan grows to cover it.
    pub(crate) fn saw_total(&mut self, total: u64) {
        self.horizon = self.horizon.max(total);
    }

    /// The last planned window came back full: there is more than the totals said, so read
    /// on a full page at a time.
    pub(crate) fn grow(&mut self) {
        self.growing = true;
    }
}

impl Iterator for Planner {
    type Item = Window;

    fn next(&mut self) -> Option<Window> {
        if self.cursor == u64::MAX || (self.cursor > self.horizon && !self.growing) {
            return None;
        }
        let offset = self.cursor - self.overlap;
        // Always a full page, the last one too: it costs the same request, and a list that
        // grows at its end while it is read is then outrun, not chased a record at a time.
        let limit = self.page_size;
        self.cursor = offset.saturating_add(limit);
        Some(Window {
            offset,
            limit: limit as u32,
        })
    }
}

/// The first position no window covers yet, for a plan from `end`: with an anchor, the next
/// window starts on the record before `end`; without one, on `end` itself.
fn cursor_for(end: u64, anchored: bool, overlap: u64) -> u64 {
    if anchored && end > 0 {
        end
    } else {
        end.saturating_add(overlap)
    }
}

fn overflow(offset: u64) -> Error {
    Error::InvalidInput(format!(
        "offset {offset} plus a page overflows a 64-bit offset"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_first_window_that_would_overflow_is_an_error_not_a_panic() {
        let err = Window::first(u64::MAX - 5, PageSize::MAX)
            .end()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        assert_eq!(
            Window::first(u64::MAX - 100, PageSize::MAX).end().unwrap(),
            u64::MAX
        );
    }

    fn plan(first: Window, total: u64, size: u32) -> Vec<Window> {
        let end = first.end().unwrap();
        Planner::at(end, true, total, PageSize::new(size).unwrap()).collect()
    }

    #[test]
    fn an_overlapping_plan_anchors_each_window_on_the_last_record_and_probes_past_the_total() {
        let first = Window::first(0, PageSize::MAX);
        let w = |offset, limit| Window { offset, limit };
        // Full pages past the first, the last reaching past the total to see the end.
        assert_eq!(plan(first, 250, 100), [w(99, 100), w(198, 100)]);
        assert_eq!(plan(first, 100, 100), [w(99, 100)]);
        assert_eq!(plan(first, 40, 100), []);
        // Pages of one cannot hold an anchor and a new record: they do not overlap.
        let one = PageSize::new(1).unwrap();
        assert_eq!(
            plan(Window::first(0, one), 3, 1),
            [w(1, 1), w(2, 1), w(3, 1)]
        );
    }

    #[test]
    fn a_plan_grows_with_the_total_and_reads_on_after_a_full_last_window() {
        let w = |offset, limit| Window { offset, limit };
        let mut p = Planner::at(100, true, 150, PageSize::MAX);
        assert_eq!(
            p.next(),
            Some(w(99, 100)),
            "a full page past the total of 150"
        );
        assert_eq!(p.next(), None);
        p.saw_total(400);
        assert_eq!(p.next(), Some(w(198, 100)), "planned on to a larger total");
        p.grow();
        assert_eq!(p.next(), Some(w(297, 100)));
        assert_eq!(p.next(), Some(w(396, 100)));
        assert_eq!(p.next(), Some(w(495, 100)), "past the total once it grew");
    }

    #[test]
    fn a_plan_restarts_where_a_page_ended_on_its_last_record_or_just_past_it() {
        let w = |offset, limit| Window { offset, limit };
        let mut p = Planner::at(100, true, 1_000, PageSize::MAX);
        assert_eq!(p.next(), Some(w(99, 100)));
        p.restart_at(140, true);
        assert_eq!(p.next(), Some(w(139, 100)), "on the anchor");
        p.restart_at(0, false);
        assert_eq!(p.next(), Some(w(0, 100)), "no anchor: from the end itself");
        let mut past_the_total = Planner::at(5, true, 0, PageSize::MAX);
        assert_eq!(
            past_the_total.next(),
            None,
            "nothing planned past the total"
        );
        past_the_total.restart_at(5, true);
        assert_eq!(
            past_the_total.next(),
            Some(w(4, 100)),
            "a full page from the anchor"
        );
        let mut ones = Planner::at(40, true, 1_000, PageSize::new(1).unwrap());
        assert_eq!(ones.next(), Some(w(40, 1)), "pages of one do not overlap");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn a_plan_covers_every_position_to_the_total_and_one_past_it(
            start in 0u64..50_000,
            total in 0u64..60_000,
            size in 1u32..=100,
        ) {
            let size_ = PageSize::new(size).unwrap();
            let first = Window::first(start, size_);
            let windows = plan(first, total, size);
            let step = if size >= 2 { 1 } else { 0 };
            let mut covered = first.offset + u64::from(first.limit);
            for w in &windows {
                prop_assert!((1..=size).contains(&w.limit));
                prop_assert_eq!(w.offset + step, covered, "each window starts on the last covered record");
                covered = w.offset + u64::from(w.limit);
            }
            prop_assert!(covered > total, "the last window reaches past the total");
            let new = u64::from(size) - step;
            let needed = (total + 1).saturating_sub(first.offset + u64::from(first.limit));
            prop_assert!(windows.len() as u64 <= needed.div_ceil(new.max(1)), "no window more than needed");
        }

        #[test]
        fn a_plan_near_the_top_of_u64_ends_there_without_panicking(
            back in 0u64..1_000,
            size in 1u32..=100,
            growing in any::<bool>(),
        ) {
            let mut plan = Planner::at(u64::MAX - back, true, u64::MAX, PageSize::new(size).unwrap());
            if growing {
                plan.grow();
            }
            let windows: Vec<Window> = plan.by_ref().take(2_000).collect();
            prop_assert!(windows.len() < 2_000, "the plan ends at the top");
            prop_assert!(windows.windows(2).all(|w| w[0].offset < w[1].offset));
            if let Some(last) = windows.last() {
                prop_assert_eq!(last.offset.saturating_add(u64::from(last.limit)), u64::MAX);
            }
        }

        #[test]
        fn page_size_accepts_exactly_one_to_one_hundred(n in any::<u32>()) {
            prop_assert_eq!(PageSize::new(n).is_ok(), (1..=100).contains(&n));
        }
    }
}
