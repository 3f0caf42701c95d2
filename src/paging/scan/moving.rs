//! Orders that move: where a record that changes jumps to the front of the list (an inbox
//! order, newest activity first), a record the main pass had not reached yet can jump behind
//! it and be missed, with nothing at the cursor to show it (a deletion between the same two
//! reads cancels the shift it makes).
//!
//! So after the main pass the head of the list is read again, in rounds. Round *r* reads from
//! offset 0 until it meets a record whose sort key is older than the newest key of the head as
//! round *r − 1* found it: everything that moved since then lies before that record. A record
//! can move again while a round reads, so rounds go on until one finds the head's first page
//! exactly as the round before found it: then nothing moved to the front while the round
//! before read, and that round saw every record that had. Without a key to read, a round reads
//! to the end of the list.
//!
//! When nothing moves, this costs one request: the first round's first page is the main
//! pass's first page.
//!
//! Which orders move, and how a record's sort key is read, is the api layer's knowledge: it
//! tells the scan through an [`OrderRule`].

use std::sync::Arc;

use crate::paging::request::ListRequest;

use super::ledger::Key;
use super::position::HeadMark;
use super::sort_key::SortKey;

/// How the sort key of a record is read, for an order that moves.
pub(crate) type KeyOf<T> = Arc<dyn Fn(&T) -> Option<SortKey> + Send + Sync>;

/// The api layer's reading of the order a list is read in. It is applied once, when the
/// paginator is first polled, to the request as the caller left it: it may ask for the list's
/// stable order where the caller chose none, and it answers `Some` where a record that changes
/// jumps to the front (with how to read its sort key, where the record type has one) and
/// `None` where records stay put.
pub(crate) type OrderRule<T> = fn(&mut ListRequest) -> Option<Option<KeyOf<T>>>;

/// The head rounds of a scan over an order that moves.
pub(crate) struct Head<T> {
    pub(crate) key: Option<KeyOf<T>>,
    /// The head as the last finished pass or round found it at its start.
    pub(crate) before: Option<HeadMark>,
    /// The head as the round under way found it.
    pub(crate) now: Option<HeadMark>,
    pub(crate) rounds: u32,
    /// Whether the round under way has yielded a record.
    pub(crate) brought: bool,
    /// Whether the pass or round before did.
    pub(crate) brought_before: bool,
}

/// The most head rounds before a scan that cannot see the head stand still gives up.
pub(crate) const MAX_ROUNDS: u32 = 24;

impl<T> Head<T> {
    pub(crate) fn new(key: Option<KeyOf<T>>, before: Option<HeadMark>) -> Self {
        Self {
            key,
            before,
            now: None,
            rounds: 0,
            brought: false,
            brought_before: true,
        }
    }

    /// The head of the list as this first page shows it.
    pub(crate) fn mark(&self, records: &[T], keys: &[Key]) -> HeadMark {
        let newest = self
            .key
            .as_ref()
            .and_then(|key| records.iter().filter_map(|r| key(r)).max());
        HeadMark {
            ids: keys.iter().map(|key| key.id().cloned()).collect(),
            newest,
        }
    }

    /// Whether a round may stop after a page holding `records`: one of them is older than the
    /// newest key of the head at the round before, so everything that moved since lies before.
    pub(crate) fn reached_unmoved(&self, records: &[T]) -> bool {
        let (Some(key), Some(boundary)) = (
            self.key.as_ref(),
            self.before.as_ref().and_then(|b| b.newest),
        ) else {
            return false;
        };
        records.iter().any(|r| key(r).is_some_and(|k| k < boundary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_stops_at_a_record_older_than_the_head_before() {
        let key: KeyOf<i64> = Arc::new(|&t: &i64| Some(SortKey::new(t, 0)));
        let mut head = Head::new(Some(key), None);
        assert!(!head.reached_unmoved(&[1, 2]), "no boundary yet: read on");
        head.before = Some(head.mark(&[50, 40], &[Key::Id(1.into()), Key::Id(2.into())]));
        assert!(!head.reached_unmoved(&[70, 60, 50]));
        assert!(head.reached_unmoved(&[70, 49]));
        let keyless: Head<i64> = Head::new(None, head.before.clone());
        assert!(
            !keyless.reached_unmoved(&[1]),
            "without a key, read to the end"
        );
    }
}
