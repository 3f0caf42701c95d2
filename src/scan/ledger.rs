//! The consistency rules, apart from the scheduling: which pages can be right, whether a page
//! carries on from the one before, and which records are new.

use std::collections::HashSet;
use std::sync::Arc;

use roaring::RoaringTreemap;

/// How a record's id is read, for the scan's checks. `None` for a record without one.
pub(crate) type IdOf<T> = Arc<dyn Fn(&T) -> Option<u64> + Send + Sync>;

/// How a page stands to the page read before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Continuity {
    /// It starts on the anchor, or there is no anchor to check (the first page of a pass,
    /// records without ids, windows that do not overlap).
    Connected,
    /// The anchor is further into the page: records were inserted before it, and what comes
    /// before it was yielded already.
    MovedOn,
    /// The anchor is not in the page: records before it were deleted (or moved away), and the
    /// records between it and the page were skipped.
    MovedBack,
}

/// What a scan has yielded, and where it stands.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Every id yielded, compressed (HelpCrunch's ids rise with time, so they cluster).
    pub(crate) seen: RoaringTreemap,
    /// The id of the last record of the last page read in this pass.
    pub(crate) anchor: Option<u64>,
}

impl Ledger {
    pub(crate) fn new(seen: RoaringTreemap, anchor: Option<u64>) -> Self {
        Self { seen, anchor }
    }

    /// How a page whose records have `ids` stands to the anchor, where windows overlap.
    pub(crate) fn continuity(&self, ids: &[Option<u64>], overlaps: bool) -> Continuity {
        let Some(anchor) = self.anchor.filter(|_| overlaps) else {
            return Continuity::Connected;
        };
        match ids.iter().position(|&id| id == Some(anchor)) {
            Some(0) => Continuity::Connected,
            Some(_) => Continuity::MovedOn,
            None => Continuity::MovedBack,
        }
    }

    /// Keeps the records not yielded before, in order, and remembers their ids. The anchor
    /// repeats by design where `anchored`; any other id seen again is a duplicate, counted in
    /// the second number.
    pub(crate) fn admit<T>(
        &mut self,
        records: impl IntoIterator<Item = (T, Option<u64>)>,
        anchored: bool,
    ) -> (Vec<T>, u64) {
        let anchor = self.anchor.filter(|_| anchored);
        let mut kept = Vec::new();
        let mut dropped = 0;
        for (record, id) in records {
            match id {
                Some(id) if !self.seen.insert(id) => {
                    if Some(id) != anchor {
                        dropped += 1;
                    }
                }
                _ => kept.push(record),
            }
        }
        (kept, dropped)
    }
}

/// Why a page cannot be what was asked for: more records than the limit, or one id twice (a
/// record then stands where another should, which would be lost unseen).
pub(crate) fn unsound(received: usize, limit: u32, ids: &[Option<u64>]) -> Option<String> {
    if received > limit as usize {
        return Some(format!(
            "the page holds {received} records where {limit} were asked for"
        ));
    }
    let mut unique = HashSet::with_capacity(ids.len());
    ids.iter()
        .flatten()
        .find(|&&id| !unique.insert(id))
        .map(|id| format!("the page holds id {id} twice"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_placed_against_the_anchor() {
        let ledger = Ledger::new(RoaringTreemap::new(), Some(5));
        let ids = |v: &[u64]| v.iter().map(|&i| Some(i)).collect::<Vec<_>>();
        assert_eq!(
            ledger.continuity(&ids(&[5, 6]), true),
            Continuity::Connected
        );
        assert_eq!(
            ledger.continuity(&ids(&[4, 5, 6]), true),
            Continuity::MovedOn
        );
        assert_eq!(
            ledger.continuity(&ids(&[7, 8]), true),
            Continuity::MovedBack
        );
        assert_eq!(
            ledger.continuity(&ids(&[7, 8]), false),
            Continuity::Connected
        );
    }

    #[test]
    fn admitted_records_are_new_and_the_anchor_is_no_duplicate() {
        let mut ledger = Ledger::new(RoaringTreemap::from_iter([1u64, 2]), Some(2));
        let (kept, dropped) = ledger.admit(
            [("a", Some(2)), ("b", Some(3)), ("c", None), ("d", Some(1))],
            true,
        );
        assert_eq!((kept, dropped), (vec!["b", "c"], 1));
        assert!(ledger.seen.contains(3));
    }

    #[test]
    fn pages_too_long_or_with_an_id_twice_are_unsound() {
        assert!(unsound(3, 2, &[]).is_some());
        assert!(unsound(2, 2, &[Some(1), Some(1)]).is_some());
        assert_eq!(unsound(2, 2, &[Some(1), None]), None);
        assert_eq!(unsound(2, 2, &[None, None]), None);
    }
}
