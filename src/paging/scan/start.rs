//! What a scan is given, and where it begins: a fresh scan from an offset, or one resumed from a
//! [`ScanPosition`] with the ids it had yielded.

use crate::paging::window::{PageSize, Planner};

use super::heal::MAX_READ_BACK;
use super::ledger::{IdOf, Ledger, Seen};
use super::moving::KeyOf;
use super::position::{HeadMark, ScanPosition};

/// Where a scan starts.
#[derive(Debug)]
pub(crate) enum Start {
    /// A fresh scan from this offset.
    Offset(u64),
    /// A scan stopped earlier, with the ids it had yielded.
    Resume(ScanPosition, Seen),
}

/// A scan's settings, checked.
pub(crate) struct Settings<T> {
    pub(crate) page_size: PageSize,
    /// The first window's limit: the page size asked for, which may be 1 where the scan plans
    /// windows of at least 2 (a record of overlap and one new).
    pub(crate) first_limit: PageSize,
    pub(crate) start: Start,
    pub(crate) concurrency: usize,
    pub(crate) ids: Option<IdOf<T>>,
    /// `Some` for an order that moves, with the sort key where it can be read.
    pub(crate) moving: Option<Option<KeyOf<T>>>,
    /// Where the caller ends the scan: before the first record this is true of.
    pub(crate) stop: Option<StopAt<T>>,
}

/// A caller's end of a scan: true of the first record not wanted, and of every record after it.
pub(crate) type StopAt<T> = std::sync::Arc<dyn Fn(&T) -> bool + Send + Sync>;

/// How a scan begins: what it knows, its plan, and for a resume where it stood.
#[derive(Debug)]
pub(super) struct Begun {
    /// The offset of a fresh scan's first request, which reads the total; `None` for a resume,
    /// whose plan starts on the record it read last.
    pub(super) first: Option<u64>,
    pub(super) ledger: Ledger,
    pub(super) planner: Planner,
    /// How many windows the first heal may read back.
    pub(super) read_back: u32,
    /// The head of an order that moves, as the scan resumed found it at its own start.
    pub(super) head: Option<HeadMark>,
    /// Where the resumed scan stood, until its first page says otherwise.
    pub(super) position: Option<ScanPosition>,
}

impl Start {
    /// How a scan from here begins, with windows of `page_size`.
    pub(super) fn begin(self, page_size: PageSize) -> Begun {
        match self {
            Start::Offset(offset) => Begun {
                first: Some(offset),
                ledger: Ledger::default(),
                planner: Planner::at(offset, false, 0, page_size),
                read_back: MAX_READ_BACK,
                head: None,
                position: None,
            },
            Start::Resume(position, seen) => {
                let anchor = position.anchor_key();
                let anchored = anchor.is_some();
                let mut planner = Planner::at(position.offset, anchored, position.total, page_size);
                planner.restart_at(position.offset, anchored);
                // Whatever moved while the scan was stopped, it was stopped for a while: its
                // first heal may read back as far as the list went, once.
                let read_back = u32::try_from(
                    position.offset.max(position.total) / u64::from(page_size.get()).max(2),
                )
                .unwrap_or(u32::MAX)
                .saturating_add(MAX_READ_BACK);
                Begun {
                    first: None,
                    ledger: Ledger::new(seen, anchor),
                    planner,
                    read_back,
                    head: position.head.clone(),
                    position: Some(position),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::scan::RecordId;
    use crate::paging::window::Window;

    fn resumed(offset: u64, total: u64, anchor: Option<u64>) -> ScanPosition {
        ScanPosition {
            offset,
            anchor: anchor.map(RecordId::Number),
            anchor_record: None,
            total,
            head: None,
        }
    }

    #[test]
    fn a_fresh_scan_reads_its_first_page_and_heals_the_usual_distance() {
        let begun = Start::Offset(300).begin(PageSize::MAX);
        assert_eq!(begun.first, Some(300));
        assert_eq!(begun.read_back, MAX_READ_BACK);
        assert!(begun.ledger.anchor.is_none() && begun.position.is_none());
    }

    #[test]
    fn a_resume_starts_on_the_record_it_read_last() {
        let seen: Seen = [RecordId::Number(250)].into_iter().collect();
        let mut begun = Start::Resume(resumed(250, 1_000, Some(250)), seen).begin(PageSize::MAX);
        assert_eq!(begun.first, None, "no first request: the total is known");
        assert_eq!(
            begun.planner.next(),
            Some(Window {
                offset: 249,
                limit: 100
            })
        );
        assert!(begun.ledger.seen.contains(&RecordId::Number(250)));
        assert_eq!(begun.position.map(|p| p.offset), Some(250));
    }

    #[test]
    fn a_resume_may_read_back_as_far_as_the_list_went() {
        let far = |offset, total, size| {
            Start::Resume(resumed(offset, total, Some(1)), Seen::default())
                .begin(PageSize::new(size).unwrap())
                .read_back
        };
        assert_eq!(far(5_000, 1_000, 100), 50 + MAX_READ_BACK);
        assert_eq!(
            far(100, 9_000, 100),
            90 + MAX_READ_BACK,
            "the larger of the two"
        );
        assert_eq!(
            far(100, 9_000, 1),
            4_500 + MAX_READ_BACK,
            "windows of one are read as two"
        );
        assert_eq!(far(u64::MAX, 0, 2), u32::MAX, "no overflow");
    }
}
