//! The second order chats and customers keep, of last activity: a touched record (a chat with a
//! new message, a customer back on the site) gets a stamp later than every other and moves to
//! the end of that order, the front of its `desc`. Only touched records are stored, so a
//! collection of a million costs nothing more until some are touched, and the order itself is
//! built when a request first reads it after a change.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::data::Collection;
use super::fields::Order;
use super::records;

/// The touched records of a collection and the activity order they make.
#[derive(Debug, Clone, Default)]
pub(crate) struct Activity {
    /// Each touched record's stamp, by id. An untouched record's activity is
    /// [`records::last_activity`] of its id.
    stamps: HashMap<u64, u64>,
    /// The last stamp handed out.
    clock: u64,
    /// The activity order once built: the untouched records in creation order, then the
    /// touched ones by stamp.
    order: OnceLock<Vec<u64>>,
}

impl Collection {
    /// The collection's ids in `order`.
    pub(crate) fn order(&self, order: Order) -> &[u64] {
        let activity = &self.activity;
        if order == Order::Creation || activity.stamps.is_empty() {
            return &self.ids;
        }
        activity.order.get_or_init(|| {
            let mut touched: Vec<(u64, u64)> =
                activity.stamps.iter().map(|(&id, &s)| (s, id)).collect();
            touched.sort_unstable();
            let untouched = self
                .ids
                .iter()
                .filter(|id| !activity.stamps.contains_key(id));
            untouched
                .copied()
                .chain(touched.into_iter().map(|(_, id)| id))
                .collect()
        })
    }

    /// The stamp of record `id`, if it was touched.
    pub(crate) fn stamp(&self, id: u64) -> Option<u64> {
        self.activity.stamps.get(&id).copied()
    }

    /// Whether this collection's records have an activity field that a touch moves.
    pub(crate) fn has_activity(&self) -> bool {
        records::last_activity(self.kind, 1).is_some()
    }

    /// Gives record `id` a stamp later than every record's activity, touched or not.
    pub(crate) fn touch(&mut self, id: u64) {
        let Some(latest) = records::last_activity(self.kind, self.next_id.saturating_sub(1)) else {
            return;
        };
        let activity = &mut self.activity;
        activity.clock = activity.clock.max(latest) + 1;
        activity.stamps.insert(id, activity.clock);
        activity.order.take();
    }

    /// Notes that the creation order changed (records were inserted or deleted), so the
    /// activity order must be built again, and a deleted record's stamp goes with it.
    pub(crate) fn reordered(&mut self, deleted: Option<u64>) {
        if let Some(id) = deleted {
            self.activity.stamps.remove(&id);
        }
        self.activity.order.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::data::TotalStyle;
    use crate::simulator::records::Kind;

    fn chats(count: u64) -> Collection {
        Collection::new(Kind::Chat, TotalStyle::Meta, (1..=count).collect())
    }

    #[test]
    fn untouched_the_activity_order_is_the_creation_order() {
        let c = chats(5);
        assert_eq!(c.order(Order::Activity), [1, 2, 3, 4, 5]);
        assert_eq!(c.stamp(3), None);
    }

    #[test]
    fn a_touched_record_moves_to_the_end_of_the_activity_order_only() {
        let mut c = chats(5);
        c.touch(2);
        c.touch(4);
        c.touch(2);
        assert_eq!(c.order(Order::Activity), [1, 3, 5, 4, 2]);
        assert_eq!(c.order(Order::Creation), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn stamps_are_later_than_every_record_and_grow_with_each_touch() {
        let mut c = chats(1_000);
        let latest = records::last_activity(Kind::Chat, 1_000).unwrap();
        c.touch(10);
        c.touch(20);
        let (first, second) = (c.stamp(10).unwrap(), c.stamp(20).unwrap());
        assert!(latest < first && first < second);
    }

    #[test]
    fn the_order_is_built_again_after_a_change() {
        let mut c = chats(4);
        c.touch(1);
        assert_eq!(c.order(Order::Activity), [2, 3, 4, 1]);
        c.ids.retain(|&id| id != 1);
        c.reordered(Some(1));
        assert_eq!(c.order(Order::Activity), [2, 3, 4]);
        assert_eq!(c.stamp(1), None);
        c.touch(3);
        assert_eq!(c.order(Order::Activity), [2, 4, 3]);
    }

    #[test]
    fn collections_with_no_activity_field_ignore_a_touch() {
        let mut c = Collection::new(Kind::Department, TotalStyle::Meta, (1..=3).collect());
        assert!(!c.has_activity());
        c.touch(1);
        assert_eq!(c.stamp(1), None);
        assert_eq!(c.order(Order::Activity), [1, 2, 3]);
    }
}
