//! Which records a search need look at, so that the searches an incremental sync makes
//! (`chats.updatedAt >= T`, `customers.lastSeen >= T`, `customers.id > N`) over a million
//! records cost what they find, not what there is.
//!
//! Two facts make it cheap, and need no index kept up to date:
//!
//! - records with a stamp are exactly the touched ones, and every stamp is later than any
//!   untouched record's activity: a floor on an activity field past that ceiling can only be
//!   met by a touched record, and the touched are few;
//! - while the creation order is by id (no record was inserted at its front), a floor on `id`
//!   is where a tail of it starts, found by binary search.
//!
//! Either gives a superset of the matches in the order read; the search's filter still decides
//! each, so the answer is the one a scan of every record gives.

use std::borrow::Cow;

use super::data::Collection;
use super::fields::{self, Order};
use super::search::Search;

/// The ids `search` need look at, in `order` (unreversed): `None` for every one.
pub(crate) fn candidates<'a>(
    search: &Search,
    c: &'a Collection,
    order: Order,
) -> Option<Cow<'a, [u64]>> {
    search
        .floors()
        .filter_map(|(field, floor)| {
            if fields::is_activity(c.kind, field) {
                touched_only(c, floor, order)
            } else if field == "id" {
                from_id(c, floor, order)
            } else {
                None
            }
        })
        .min_by_key(|ids| ids.len())
}

/// The touched records in `order`, where an activity field at or past `floor` rules every
/// untouched one out.
fn touched_only(c: &Collection, floor: i64, order: Order) -> Option<Cow<'_, [u64]>> {
    let ceiling = i64::try_from(c.untouched_ceiling()?).ok()?;
    if floor <= ceiling {
        return None;
    }
    let mut touched: Vec<u64> = c.touched().collect();
    match order {
        // The touched end the activity order, in the order of their touches.
        Order::Activity => {}
        Order::Creation if c.ids.is_sorted() => touched.sort_unstable(),
        Order::Creation => return None,
    }
    Some(Cow::Owned(touched))
}

/// The records whose id is at least `floor`, in the creation order, where it is by id.
fn from_id(c: &Collection, floor: i64, order: Order) -> Option<Cow<'_, [u64]>> {
    if order != Order::Creation || !c.ids.is_sorted() {
        return None;
    }
    let floor = u64::try_from(floor).unwrap_or(0);
    let start = c.ids.partition_point(|&id| id < floor);
    Some(Cow::Borrowed(&c.ids[start..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::data::TotalStyle;
    use crate::simulator::records::{last_activity, Kind};
    use serde_json::json;

    const NOW: u64 = 1_750_000_000;

    fn search(kind: Kind, body: serde_json::Value) -> Search {
        Search::parse(kind, body.to_string().as_bytes()).unwrap()
    }

    fn scan(s: &Search, c: &Collection, order: Order) -> Vec<u64> {
        let ids = c.order(order);
        ids.iter()
            .copied()
            .filter(|&id| s.matches(c.kind, id, c.stamp(id)))
            .collect()
    }

    fn narrowed(s: &Search, c: &Collection, order: Order) -> Option<Vec<u64>> {
        let ids = candidates(s, c, order)?;
        Some(
            ids.iter()
                .copied()
                .filter(|&id| s.matches(c.kind, id, c.stamp(id)))
                .collect(),
        )
    }

    #[test]
    fn a_floor_past_every_untouched_record_looks_at_the_touched_only() {
        let mut c = Collection::new(Kind::Chat, TotalStyle::Meta, (1..=1_000).collect());
        for id in [700, 20, 300] {
            c.touch(id, NOW);
        }
        let s = search(
            Kind::Chat,
            json!({"filter": [{"field": "chats.updatedAt", "operator": ">=", "value": NOW}]}),
        );
        assert_eq!(
            *candidates(&s, &c, Order::Creation).unwrap(),
            [20, 300, 700]
        );
        assert_eq!(
            *candidates(&s, &c, Order::Activity).unwrap(),
            [700, 20, 300]
        );
        let ceiling = last_activity(Kind::Chat, 1_000).unwrap();
        let old = search(
            Kind::Chat,
            json!({"filter": [{"field": "chats.updatedAt", "operator": ">", "value": ceiling - 1}]}),
        );
        assert!(
            candidates(&old, &c, Order::Creation).is_none(),
            "1,000 may match"
        );
    }

    #[test]
    fn a_floor_on_the_id_is_a_tail_of_the_creation_order_while_it_is_by_id() {
        let mut c = Collection::new(Kind::Customer, TotalStyle::TopLevel, (1..=1_000).collect());
        let s = search(
            Kind::Customer,
            json!({"filter": [{"field": "customers.id", "operator": ">", "value": 990}]}),
        );
        assert_eq!(
            *candidates(&s, &c, Order::Creation).unwrap(),
            (991..=1_000).collect::<Vec<_>>()
        );
        assert!(candidates(&s, &c, Order::Activity).is_none());
        c.ids.insert(0, 1_001);
        assert!(
            candidates(&s, &c, Order::Creation).is_none(),
            "not by id any more"
        );
        let or = search(
            Kind::Customer,
            json!({"comparison": "OR", "filter": [
                {"field": "customers.id", "operator": ">", "value": 990},
                {"field": "customers.id", "operator": "<", "value": 3}]}),
        );
        assert!(
            candidates(&or, &c, Order::Creation).is_none(),
            "either may hold"
        );
    }

    #[test]
    fn what_is_narrowed_matches_what_a_scan_of_every_record_finds() {
        let mut rng = fastrand::Rng::with_seed(20);
        let fields = [
            "chats.id",
            "chats.updatedAt",
            "chats.lastMessageAt",
            "chats.createdAt",
        ];
        let mut narrowings = 0;
        for round in 0..300 {
            let mut c = Collection::new(Kind::Chat, TotalStyle::Meta, (1..=200).collect());
            for _ in 0..rng.usize(0..20) {
                c.touch(rng.u64(1..=200), NOW + rng.u64(0..3));
            }
            if rng.bool() {
                let id = rng.u64(1..=200);
                c.ids.retain(|&i| i != id);
                c.reordered(Some(id));
            }
            if round % 5 == 0 {
                c.ids.insert(0, 201);
                c.next_id = 202;
                c.reordered(None);
            }
            let ceiling = c.untouched_ceiling().unwrap();
            let filter: Vec<_> = (0..rng.usize(1..=2))
                .map(|_| {
                    let field = fields[rng.usize(..fields.len())];
                    let value = match field {
                        "chats.id" => rng.u64(0..=210),
                        _ => [ceiling - 5_000, ceiling, ceiling + 1, NOW, NOW + 1, NOW + 5]
                            [rng.usize(..6)],
                    };
                    let operator = [">", ">=", "=", "<", "!="][rng.usize(..5)];
                    json!({"field": field, "operator": operator, "value": value})
                })
                .collect();
            let comparison = if rng.bool() { "AND" } else { "OR" };
            let s = search(
                Kind::Chat,
                json!({"comparison": comparison, "filter": filter}),
            );
            for order in [Order::Creation, Order::Activity] {
                if let Some(found) = narrowed(&s, &c, order) {
                    assert_eq!(
                        found,
                        scan(&s, &c, order),
                        "{filter:?} {comparison} {order:?}"
                    );
                    narrowings += 1;
                }
            }
        }
        assert!(
            narrowings > 100,
            "only {narrowings} of 600 searches narrowed"
        );
    }
}
