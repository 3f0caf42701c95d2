//! The second order chats and customers keep, of last activity: a touched record (a chat with a
//! new message, a customer back on the site) gets a stamp later than every other and moves to
//! the end of that order, the front of its `desc`. Only touched records are stored, so a
//! collection of a million costs nothing more until some are touched, and the order itself is
//! built when a request first reads it after a change.
//!
//! It knows nothing of the collection it belongs to: the collection hands it the creation order
//! to build on and the latest activity of its records to stamp past (see `data.rs`).

use std::collections::HashMap;
use std::sync::OnceLock;

/// The touched records of a collection and the activity order they make.
#[derive(Debug, Clone, Default)]
pub(crate) struct Activity {
    /// Each touched record's stamp, by id. An untouched record's activity is the one its id
    /// renders with (`records::last_activity`).
    stamps: HashMap<u64, u64>,
    /// The last stamp handed out.
    clock: u64,
    /// The activity order once built: the untouched records in creation order, then the
    /// touched ones by stamp.
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
            let mut touched: Vec<(u64, u64)> =
                self.stamps.iter().map(|(&id, &s)| (s, id)).collect();
            touched.sort_unstable();
            let untouched = ids.iter().filter(|id| !self.stamps.contains_key(id));
            untouched
                .copied()
                .chain(touched.into_iter().map(|(_, id)| id))
                .collect()
        })
    }

    /// The stamp of record `id`, if it was touched.
    pub(crate) fn stamp(&self, id: u64) -> Option<u64> {
        self.stamps.get(&id).copied()
    }

    /// Gives record `id` a stamp later than `latest` (the latest activity of an untouched
    /// record) and than every stamp so far.
    pub(crate) fn touch(&mut self, id: u64, latest: u64) {
        self.clock = self.clock.max(latest) + 1;
        self.stamps.insert(id, self.clock);
        self.order.take();
    }

    /// Notes that the creation order changed (records were inserted or deleted), so the
    /// activity order must be built again, and a deleted record's stamp goes with it.
    pub(crate) fn reordered(&mut self, deleted: Option<u64>) {
        if let Some(id) = deleted {
            self.stamps.remove(&id);
        }
        self.order.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touched_records_follow_the_untouched_in_the_order_of_their_stamps() {
        let mut activity = Activity::default();
        let ids = [1, 2, 3, 4, 5];
        assert_eq!(activity.order(&ids), ids);
        activity.touch(4, 100);
        activity.touch(2, 100);
        assert_eq!(activity.order(&ids), [1, 3, 5, 4, 2]);
        assert_eq!(
            (activity.stamp(4), activity.stamp(2)),
            (Some(101), Some(102))
        );
    }

    #[test]
    fn a_stamp_passes_both_the_latest_activity_and_the_last_stamp() {
        let mut activity = Activity::default();
        activity.touch(1, 500);
        activity.touch(2, 10);
        assert_eq!(
            (activity.stamp(1), activity.stamp(2)),
            (Some(501), Some(502))
        );
    }
}
