//! The simulated account's collections: ids only, with each record rendered from its id (and
//! its stamp, if it was touched) on demand, so that a collection of a million records costs
//! eight bytes a record, not the JSON. Only the records written through the API are kept whole
//! (see `written.rs`), and what changed while the server ran: stamps, the creation times of
//! messages, a chat's newest message.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use serde_json::{Map, Value};

use super::activity::Activity;
use super::chats::{self, default_messages, newest_built, MESSAGE_ID_SPACE};
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
    /// The server's time each record created while the server ran was created at, by id: a
    /// message's `createdAt`.
    pub(crate) born: HashMap<u64, u64>,
    /// Messages: how many the chat was built with, which times the others (see `chats.rs`).
    pub(crate) built: u64,
    /// Chats: the newest message of each chat whose newest is not the last of the
    /// [`default_messages`] it would be built with (`None`: it has none).
    pub(crate) newest_messages: HashMap<u64, Option<u64>>,
    /// Records whose creation began (their ids given out) but has not committed: no answer
    /// shows them yet.
    pub(crate) uncommitted: HashSet<u64>,
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
            born: HashMap::new(),
            built: 0,
            newest_messages: HashMap::new(),
            uncommitted: HashSet::new(),
        }
    }

    /// The `count` messages of chat `chat`, newest first, with their ids in its id space
    /// (`chat * MESSAGE_ID_SPACE + n`, `n` from `count` down to 1).
    pub(crate) fn messages(chat: u64, count: u64) -> Self {
        let first = chat * MESSAGE_ID_SPACE;
        let ids = (1..=count).rev().map(|n| first + n).collect();
        Self {
            built: count,
            next_id: first + count + 1,
            ..Self::new(Kind::Message, TotalStyle::TopLevel, ids)
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

    /// Whether nothing in the collection is touched.
    pub(crate) fn untouched(&self) -> bool {
        self.activity.is_empty()
    }

    /// The touched records, in the order of their touches.
    pub(crate) fn touched(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.activity.touched()
    }

    /// The latest activity a record that was never touched can show: its activity grows with
    /// its id. `None` where the records have no activity field.
    pub(crate) fn untouched_ceiling(&self) -> Option<u64> {
        records::last_activity(self.kind, self.next_id.saturating_sub(1))
    }

    /// Stamps record `id` with the server's time `now`, or a second past every untouched
    /// record's activity where `now` is not (a collection with ids high enough to reach the
    /// server's clock): a touched record is always the latest. Nothing where the records have
    /// no activity field.
    pub(crate) fn touch(&mut self, id: u64, now: u64) {
        if let Some(ceiling) = self.untouched_ceiling() {
            self.activity.touch(id, now.max(ceiling + 1));
        }
    }

    /// The id of chat `id`'s newest message; `None` where it has none.
    pub(crate) fn newest_message(&self, id: u64) -> Option<u64> {
        match self.newest_messages.get(&id) {
            Some(&newest) => newest,
            None => newest_built(id, default_messages(id)),
        }
    }

    /// Writes record `id` as its id and what happened to it give it (not as written).
    pub(crate) fn render_built(&self, id: u64, out: &mut String) -> std::fmt::Result {
        match self.kind {
            Kind::Chat => chats::chat(id, self.stamp(id), self.newest_message(id), out),
            Kind::Message => chats::message(id, self.built, self.born.get(&id).copied(), out),
            kind => records::render(kind, id, self.stamp(id), out),
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
        c.touch(2, NOW);
        c.touch(4, NOW);
        c.touch(2, NOW);
        assert_eq!(c.order(Order::Activity), [1, 3, 5, 4, 2]);
        assert_eq!(c.order(Order::Creation), [1, 2, 3, 4, 5]);
    }

    const NOW: u64 = 1_750_000_000;

    #[test]
    fn a_stamp_is_the_servers_time_and_touches_in_one_second_keep_their_order() {
        let mut c = chats(1_000);
        c.touch(20, NOW);
        c.touch(10, NOW);
        assert_eq!((c.stamp(20), c.stamp(10)), (Some(NOW), Some(NOW)));
        assert_eq!(c.order(Order::Activity)[998..], [20, 10]);
        assert_eq!(c.touched().collect::<Vec<_>>(), [20, 10]);
    }

    #[test]
    fn a_stamp_is_later_than_every_untouched_record_even_under_an_early_clock() {
        let mut c = chats(1_000);
        let latest = records::last_activity(Kind::Chat, 1_000).unwrap();
        assert_eq!(c.untouched_ceiling(), Some(latest));
        c.touch(10, 0);
        assert_eq!(c.stamp(10), Some(latest + 1));
    }

    #[test]
    fn a_chats_messages_take_its_id_space_newest_first() {
        let m = Collection::messages(7, 3);
        assert_eq!(m.ids, [7_000_003, 7_000_002, 7_000_001]);
        assert_eq!((m.next_id, m.built), (7_000_004, 3));
        assert_eq!(Collection::messages(7, 0).next_id, 7_000_001);
    }

    #[test]
    fn the_order_is_built_again_after_a_change() {
        let mut c = chats(4);
        c.touch(1, NOW);
        assert_eq!(c.order(Order::Activity), [2, 3, 4, 1]);
        c.ids.retain(|&id| id != 1);
        c.reordered(Some(1));
        assert_eq!(c.order(Order::Activity), [2, 3, 4]);
        assert_eq!(c.stamp(1), None);
        c.touch(3, NOW);
        assert_eq!(c.order(Order::Activity), [2, 4, 3]);
    }

    #[test]
    fn collections_with_no_activity_field_ignore_a_touch() {
        let mut c = Collection::new(Kind::Department, TotalStyle::Meta, (1..=3).collect());
        assert!(!c.has_activity());
        c.touch(1, NOW);
        assert_eq!(c.stamp(1), None);
        assert_eq!(c.order(Order::Activity), [1, 2, 3]);
    }
}
