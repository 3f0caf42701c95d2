//! The second order chats and customers keep, of last activity: a touched record (a chat with a
//! new message, a customer back on the site) gets a stamp, the server's time of the touch, and
//! moves to the end of that order, the front of its `desc`. Only touched records are stored,
//! so a collection of a million costs nothing more until some are touched, and the order itself
//! is built when a request first reads it after a change.
//!
//! Stamps are whole seconds, so several touches can share one; the order among them is the
//! order they came in, and a stamp is never earlier than the one before it, so the order by
//! stamp and the order of touches agree.
//!
//! It knows nothing of the collection it belongs to: the collection hands it the creation order
//! to build on and the time to stamp (see `data.rs`).

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// The touched records of a collection and the activity order they make.
#[derive(Debug, Clone, Default)]
pub(crate) struct Activity {
    /// Each touched record's stamp and its place among the touches, by id. An untouched
    /// record's activity is the one its id renders with (`records::last_activity`).
    stamps: HashMap<u64, (u64, u64)>,
    /// The touched records by their place among the touches: their activity order.
    touched: BTreeMap<u64, u64>,
    /// The last stamp handed out.
    clock: u64,
    /// The place the next touch takes.
    next: u64,
    /// The activity order once built: the untouched records in creation order, then the
    /// touched ones in the order of their touches.
    order: OnceLock<Vec<u64>>,
}

impl Activity {
    /// The activity order of the records whose creation order is `ids`: `ids` itself while
    /// nothing is touched. Built once, until [`reordered`](Self::reordered) says `ids` changed.
    pub(crate) fn order<'a>(&'a self, ids: &'a [u64]) -> &'a [u64] {
        if self.stamps.is_empty() {
            return ids;
        }
        self.order.get_or_init(|| {
            let untouched = ids.iter().filter(|id| !self.stamps.contains_key(id));
            untouched.chain(self.touched.values()).copied().collect()
        })
    }

    /// The touched records, in the order of their touches (the end of the activity order).
    pub(crate) fn touched(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.touched.values().copied()
    }

    /// Whether nothing is touched.
    pub(crate) fn is_empty(&self) -> bool {
        self.stamps.is_empty()
    }

    /// The stamp of record `id`, if it was touched.
    pub(crate) fn stamp(&self, id: u64) -> Option<u64> {
        self.stamps.get(&id).map(|&(stamp, _)| stamp)
    }

    /// Stamps record `id` with `at`, or with the last stamp where `at` is earlier (the system
    /// clock went back), and moves it to the end of the order.
    pub(crate) fn touch(&mut self, id: u64, at: u64) {
        self.clock = self.clock.max(at);
        let place = self.next;
        self.next += 1;
        if let Some((_, before)) = self.stamps.insert(id, (self.clock, place)) {
            self.touched.remove(&before);
        }
        self.touched.insert(place, id);
        self.order.take();
    }

    /// Notes that the creation order changed (records were inserted or deleted), so the
    /// activity order must be built again, and a deleted record's stamp goes with it.
    pub(crate) fn reordered(&mut self, deleted: Option<u64>) {
        if let Some((_, place)) = deleted.and_then(|id| self.stamps.remove(&id)) {
            self.touched.remove(&place);
        }
        self.order.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touched_records_follow_the_untouched_in_the_order_of_their_touches() {
        let mut activity = Activity::default();
        let ids = [1, 2, 3, 4, 5];
        assert_eq!(activity.order(&ids), ids);
        activity.touch(4, 100);
        activity.touch(2, 100);
        assert_eq!(activity.order(&ids), [1, 3, 5, 4, 2]);
        assert_eq!(
            (activity.stamp(4), activity.stamp(2)),
            (Some(100), Some(100)),
            "one second, one stamp"
        );
        activity.touch(4, 101);
        assert_eq!(activity.order(&ids), [1, 3, 5, 2, 4]);
        assert_eq!(activity.touched().collect::<Vec<_>>(), [2, 4]);
    }

    #[test]
    fn a_stamp_never_goes_back_with_the_clock() {
        let mut activity = Activity::default();
        activity.touch(1, 500);
        activity.touch(2, 10);
        assert_eq!(
            (activity.stamp(1), activity.stamp(2)),
            (Some(500), Some(500))
        );
    }

    #[test]
    fn a_deleted_record_leaves_the_touched_with_its_stamp() {
        let mut activity = Activity::default();
        activity.touch(1, 500);
        activity.touch(2, 501);
        activity.reordered(Some(1));
        assert_eq!(activity.stamp(1), None);
        assert_eq!(activity.touched().collect::<Vec<_>>(), [2]);
        assert_eq!(activity.order(&[2, 3]), [3, 2]);
        activity.reordered(Some(2));
        assert!(activity.is_empty());
    }
}
