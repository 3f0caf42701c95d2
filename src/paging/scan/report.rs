//! [`ScanReport`]: what a scan saw of the data moving under it, and what that cost.

use std::sync::{Arc, Mutex};

use super::position::ScanPosition;

/// What a scan saw of the data moving under it, and what that cost.
///
/// ```
/// let report = helpcrunch_pager::ScanReport::default();
/// assert_eq!((report.shifts_detected, report.duplicates_dropped), (0, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ScanReport {
    /// Page boundaries where the records had moved since the page before was read.
    pub shifts_detected: u64,
    /// Of those, the ones the scan repaired: every record that stayed in the collection was
    /// yielded once. (A shift the scan cannot repair ends it with
    /// [`Error::Incomplete`](crate::Error::Incomplete).)
    pub shifts_healed: u64,
    /// Records dropped because they had been yielded already: by their id, or for records
    /// without one, because they came before the anchor (the last record yielded, found
    /// whole) in a window that had moved on.
    pub duplicates_dropped: u64,
    /// Pages that came back with fewer records than asked for while their total said there
    /// were more, each confirmed by another read before the scan went on or ended.
    pub short_pages: u64,
    /// Rounds of reading the head of a list again, for orders in which records that change
    /// jump to the front (see [`Paginator::moves_to_front`](crate::Paginator::moves_to_front)).
    pub head_rounds: u64,
    /// Requests beyond the planned windows: reading back to heal shifts, asking again for a
    /// page that cannot be right, confirming a short page, reading the head again.
    pub extra_requests: u64,
    /// Every request the scan made, the first page's included (retries not counted; a window
    /// dropped in flight when the scan ended or restarted is counted).
    pub requests: u64,
}

/// What a scan shares with whoever holds its stream: the report, and where it stands.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) report: ScanReport,
    pub(crate) position: Option<ScanPosition>,
    /// The earliest `Date` of the scan's answers: the server's clock when the read began.
    pub(crate) began: Option<std::time::SystemTime>,
}

impl Shared {
    /// Notes an answer's `Date`.
    pub(crate) fn answered_at(&mut self, date: Option<std::time::SystemTime>) {
        if let Some(date) = date {
            self.began = Some(self.began.map_or(date, |b| b.min(date)));
        }
    }
}

pub(crate) type SharedState = Arc<Mutex<Shared>>;

/// Runs `f` on the shared state, poisoned or not (a panic elsewhere cannot make it wrong).
pub(crate) fn with<R>(shared: &SharedState, f: impl FnOnce(&mut Shared) -> R) -> R {
    f(&mut shared.lock().unwrap_or_else(|p| p.into_inner()))
}
