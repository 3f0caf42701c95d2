//! The simulated account's collections: ids only, with each record rendered from its id (and
//! its stamp, if it was touched) on demand, so that a collection of a million records costs
//! eight bytes a record, not the JSON. Only the records written through the API are kept whole
//! (see `written.rs`).

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::{Map, Value};

use super::activity::Activity;
use super::fields::Order;
use super::records::{self, Kind};

/// Where a collection's page puts its total, as the docs show per endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TotalStyle {
    /// `{"data": [...], "meta": {"total": N}}` (departments, agents, chats).
    Meta,
    /// `{"data": [...], "total": N}` (customers, messages, search).
    TopLevel,
}

#[derive(Debug, Clone)]
pub(crate) struct Collection {
    pub(crate) kind: Kind,
    pub(crate) total_style: TotalStyle,
    /// In the order the API lists them by default, the creation order.
    pub(crate) ids: Vec<u64>,
    /// The id the next inserted record gets.
    pub(crate) next_id: u64,
    /// The touched records and the order of last activity.
    pub(crate) activity: Activity,
    /// The records created or changed through the API, whole, by id.
    pub(crate) written: HashMap<u64, Map<String, Value>>,
}

impl Collection {
    pub(crate) fn new(kind: Kind, total_style: TotalStyle, ids: Vec<u64>) -> Self {
        Self {
            kind,
            total_style,
            next_id: Self::first_new_id(&ids),
            ids,
            activity: Activity::default(),
            written: HashMap::new(),
        }
    }

    /// The collection's ids in `order`.
    pub(crate) fn order(&self, order: Order) -> &[u64] {
        match order {
            Order::Creation => &self.ids,
            Order::Activity => self.activity.order(&self.ids),
        }
    }

    /// The stamp of record `id`, if it was touched.
    pub(crate) fn stamp(&self, id: u64) -> Option<u64> {
        self.activity.stamp(id)
    }

    /// Whether this collection's records have an activity field that a touch moves.
    pub(crate) fn has_activity(&self) -> bool {
        records::last_activity(self.kind, 1).is_some()
    }

    /// Gives record `id` a stamp later than every record's activity, touched or not; nothing
    /// where the records have no activity field.
    pub(crate) fn touch(&mut self, id: u64) {
        let newest = self.next_id.saturating_sub(1);
        if let Some(latest) = records::last_activity(self.kind, newest) {
            self.activity.touch(id, latest);
        }
    }

    /// Notes that the creation order changed (records were inserted or deleted, `deleted`
    /// among them), so the activity order must be built again.
    pub(crate) fn reordered(&mut self, deleted: Option<u64>) {
        self.activity.reordered(deleted);
    }

    /// The page `[offset, offset + limit)` of `ids` (reversed where `reverse`), reporting
    /// `total` in the given style.
    pub(crate) fn render_page(
        &self,
        ids: &[u64],
        reverse: bool,
        (offset, limit): (u64, u32),
        (total, style): (i64, TotalStyle),
    ) -> String {
        let start = (offset.min(ids.len() as u64)) as usize;
        let end = (start + limit as usize).min(ids.len());
        let mut out = String::with_capacity(64 + (end - start) * 400);
        out.push_str("{\"data\":[");
        for i in start..end {
            if i > start {
                out.push(',');
            }
            let id = if reverse {
                ids[ids.len() - 1 - i]
            } else {
                ids[i]
            };
            self.render(id, &mut out)
                .expect("writing to a String cannot fail");
        }
        let total = total.max(0);
        match style {
            TotalStyle::Meta => write!(out, "],\"meta\":{{\"total\":{total}}}}}"),
            TotalStyle::TopLevel => write!(out, "],\"total\":{total}}}"),
        }
        .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_valid_json_in_the_documented_shapes() {
        let c = Collection::new(Kind::Department, TotalStyle::Meta, (1..=5).collect());
        let v: serde_json::Value =
            serde_json::from_str(&c.render_page(&c.ids, false, (3, 100), (5, c.total_style)))
                .unwrap();
        assert_eq!(v["meta"]["total"], 5);
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        assert_eq!(v["data"][1]["id"], 5);
        assert_eq!(v["data"][1]["agents"][1]["id"], 51);

        let c = Collection::new(Kind::Agent, TotalStyle::TopLevel, (1..=3).collect());
        let v: serde_json::Value =
            serde_json::from_str(&c.render_page(&c.ids, false, (10, 100), (2, c.total_style)))
                .unwrap();
        assert_eq!(v["total"], 2);
        assert_eq!(v["data"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn a_reversed_page_counts_offsets_from_the_other_end() {
        let c = Collection::new(Kind::Generic, TotalStyle::TopLevel, (1..=5).collect());
        let v: serde_json::Value =
            serde_json::from_str(&c.render_page(&c.ids, true, (1, 2), (5, c.total_style))).unwrap();
        assert_eq!(v["data"][0]["id"], 4);
        assert_eq!(v["data"][1]["id"], 3);
    }

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
