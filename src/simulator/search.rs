//! The search endpoints' side of the simulator: reading a search body as HelpCrunch does
//! (a filter list, `comparison`, `sort`, `order`, and the window in the body), refusing what
//! it refuses with its field errors, and deciding which records match. One filter of the list
//! is `filter.rs`'s.

use serde_json::{Map, Value};

use super::fields::{self, Order};
use super::filter::{as_int, prefix, Filter, NOT_A_CHOICE};
use super::records::Kind;
use crate::paging::window::MAX_PAGE_SIZE;

pub(crate) use super::filter::FieldError;

/// A search body the API would accept.
#[derive(Debug)]
pub(crate) struct Search {
    filters: Vec<Filter>,
    any: bool,
    pub(crate) order: Order,
    pub(crate) reverse: bool,
    pub(crate) window: (u64, u32),
}

impl Search {
    /// Reads `body` for a search over `kind`, or the field errors the API would answer with.
    pub(crate) fn parse(kind: Kind, body: &[u8]) -> Result<Self, Vec<FieldError>> {
        let body: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(Value::Object(map)) => map,
            _ => return Err(vec![("body".into(), "This value should be a JSON object.")]),
        };
        let mut errors = Vec::new();
        let filters = match body.get("filter") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .filter_map(|(i, f)| Filter::parse(kind, i, f).map_err(|e| errors.push(e)).ok())
                .collect(),
            Some(_) => {
                errors.push(("filter".into(), "This value should be of type array."));
                Vec::new()
            }
        };
        let any = match body.get("comparison").and_then(Value::as_str) {
            None => false,
            Some(c) if c.eq_ignore_ascii_case("and") => false,
            Some(c) if c.eq_ignore_ascii_case("or") => true,
            Some(_) => {
                errors.push(("comparison".into(), NOT_A_CHOICE));
                false
            }
        };
        let text = |key| body.get(key).and_then(Value::as_str);
        let (order, reverse) = sort_order(kind, text("sort"), text("order")).unwrap_or_else(|e| {
            errors.push(e);
            (Order::Creation, false)
        });
        let window = window(body.get("offset"), body.get("limit")).unwrap_or_else(|e| {
            errors.push(e);
            (0, 0)
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            filters,
            any,
            order,
            reverse,
            window,
        })
    }

    /// Whether record `id` of `kind` (touched with `stamp`, if it was) matches.
    pub(crate) fn matches(&self, kind: Kind, id: u64, stamp: Option<u64>) -> bool {
        let mut results = self.filters.iter().map(|f| f.matches(kind, id, stamp));
        if self.any {
            self.filters.is_empty() || results.any(|m| m)
        } else {
            results.all(|m| m)
        }
    }

    /// The least value each filter lets a field of a matching record have, where it sets one
    /// and every filter must hold: `("id", 101)` for `customers.id > 100`.
    pub(crate) fn floors(&self) -> impl Iterator<Item = (&str, i64)> {
        let every_one_holds = !self.any || self.filters.len() == 1;
        let filters = if every_one_holds {
            &self.filters[..]
        } else {
            &[]
        };
        filters.iter().filter_map(Filter::floor)
    }
}

/// Checks `sort` and `order` for `kind`: the order the sort serves (the creation order with
/// no sort), and whether `order` reverses it (`desc`).
pub(crate) fn sort_order(
    kind: Kind,
    sort: Option<&str>,
    order: Option<&str>,
) -> Result<(Order, bool), FieldError> {
    let by = match sort {
        None => Order::Creation,
        Some(sort) => {
            let name = sort.strip_prefix(prefix(kind)).unwrap_or(sort);
            fields::sort_order(kind, name).ok_or(("sort".into(), NOT_A_CHOICE))?
        }
    };
    let reverse = match order {
        None => false,
        Some(o) if o.eq_ignore_ascii_case("asc") => false,
        Some(o) if o.eq_ignore_ascii_case("desc") => true,
        Some(_) => return Err(("order".into(), NOT_A_CHOICE)),
    };
    Ok((by, reverse))
}

/// The window from `offset` and `limit` (numbers or strings of digits), with HelpCrunch's
/// defaults (0 and 100) and its bounds.
pub(crate) fn window(
    offset: Option<&Value>,
    limit: Option<&Value>,
) -> Result<(u64, u32), FieldError> {
    let number = |v: Option<&Value>, name: &str, default: u64| match v {
        None | Some(Value::Null) => Ok(default),
        Some(v) => as_int(v)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or((name.to_owned(), "This value should be of type numeric.")),
    };
    let offset = number(offset, "offset", 0)?;
    let limit = number(limit, "limit", u64::from(MAX_PAGE_SIZE))?;
    if limit == 0 {
        return Err(("limit".into(), "This value should be greater than 0."));
    }
    if limit > u64::from(MAX_PAGE_SIZE) {
        return Err((
            "limit".into(),
            "This value should be less than or equal to 100.",
        ));
    }
    Ok((offset, limit as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(kind: Kind, body: Value) -> Result<Search, Vec<FieldError>> {
        Search::parse(kind, body.to_string().as_bytes())
    }

    fn first_error(kind: Kind, body: Value) -> FieldError {
        parse(kind, body).unwrap_err().remove(0)
    }

    #[test]
    fn refuses_malformed_filters_with_the_apis_field_errors() {
        let e = first_error(
            Kind::Chat,
            json!({"filter": [{"operator": "=", "value": "1"}]}),
        );
        assert_eq!(
            e,
            ("filter[0].field".into(), "This value should not be blank.")
        );
        let e = first_error(
            Kind::Chat,
            json!({"filter": [{"field": "chats.id", "operator": "=", "value": 1},
                              {"field": "chats.createdAt", "operator": ">=", "value": "18 Jun 2020"}]}),
        );
        assert_eq!(
            e,
            (
                "filter[1].value".into(),
                "This value should be of type numeric."
            )
        );
        let e = first_error(
            Kind::Customer,
            json!({"filter": [{"field": "customers.email", "operator": "=~", "value": "x"}]}),
        );
        assert_eq!(e.0, "filter[0].operator");
        assert_eq!(first_error(Kind::Chat, json!({"filter": {}})).0, "filter");
        assert_eq!(
            first_error(Kind::Chat, json!({"comparison": "XOR"})).0,
            "comparison"
        );
        assert_eq!(first_error(Kind::Chat, json!({"limit": 101})).0, "limit");
        assert_eq!(
            first_error(Kind::Chat, json!({"sort": "chats.rating"})).0,
            "sort"
        );
        assert_eq!(first_error(Kind::Chat, json!([])).0, "body");
    }

    #[test]
    fn matches_with_and_or_and_every_operator() {
        let s = parse(
            Kind::Chat,
            json!({"filter": [{"field": "chats.id", "operator": ">", "value": 10},
                              {"field": "chats.id", "operator": "<=", "value": "12"}]}),
        )
        .unwrap();
        let hits: Vec<u64> = (1..=20)
            .filter(|&id| s.matches(Kind::Chat, id, None))
            .collect();
        assert_eq!(hits, [11, 12]);
        let s = parse(
            Kind::Chat,
            json!({"comparison": "OR",
                   "filter": [{"field": "chats.id", "operator": "=", "value": 1},
                              {"field": "chats.id", "operator": "=", "value": 3}]}),
        )
        .unwrap();
        let hits: Vec<u64> = (1..=20)
            .filter(|&id| s.matches(Kind::Chat, id, None))
            .collect();
        assert_eq!(hits, [1, 3]);
        let s = parse(
            Kind::Customer,
            json!({"filter": [{"field": "customers.email", "operator": "~", "value": "customer1"}]}),
        )
        .unwrap();
        let hits: Vec<u64> = (1..=20)
            .filter(|&id| s.matches(Kind::Customer, id, None))
            .collect();
        assert_eq!(
            hits,
            [1, 10, 12, 13, 14, 15, 16, 17, 18, 19],
            "11 has no email"
        );
    }

    #[test]
    fn status_codes_and_spellings_are_one_status() {
        let s = parse(
            Kind::Chat,
            json!({"filter": [{"field": "chats.status", "operator": "=", "value": "4"}]}),
        )
        .unwrap();
        let hits: Vec<u64> = (1..=18)
            .filter(|&id| s.matches(Kind::Chat, id, None))
            .collect();
        assert_eq!(hits, [3, 4, 12, 13], "onhold and on hold");
    }

    #[test]
    fn floors_are_what_every_filter_must_reach() {
        let floors = |body: Value| -> Vec<(String, i64)> {
            let s = parse(Kind::Customer, body).unwrap();
            s.floors().map(|(f, v)| (f.to_owned(), v)).collect()
        };
        let filter = json!([
            {"field": "customers.id", "operator": ">", "value": 100},
            {"field": "customers.lastSeen", "operator": ">=", "value": "1700000000"},
            {"field": "customers.firstSeen", "operator": "<", "value": 5},
            {"field": "customers.email", "operator": "=", "value": "a@b.c"}
        ]);
        assert_eq!(
            floors(json!({ "filter": filter })),
            [
                ("id".to_owned(), 101),
                ("lastSeen".to_owned(), 1_700_000_000)
            ]
        );
        assert!(floors(json!({"comparison": "OR", "filter": filter})).is_empty());
        let one = json!([{"field": "customers.id", "operator": "=", "value": 7}]);
        assert_eq!(
            floors(json!({"comparison": "OR", "filter": one})),
            [("id".to_owned(), 7)]
        );
    }

    #[test]
    fn a_date_is_a_whole_number_and_nothing_else() {
        for bad in [
            json!("abc"),
            json!(1.5),
            json!("1.5"),
            json!(true),
            json!(null),
            json!([1]),
        ] {
            let e = first_error(
                Kind::Chat,
                json!({"filter": [{"field": "chats.updatedAt", "operator": ">=", "value": bad}]}),
            );
            assert_eq!(
                e,
                (
                    "filter[0].value".into(),
                    "This value should be of type numeric."
                ),
                "{bad}"
            );
        }
        let e = first_error(
            Kind::Chat,
            json!({"filter": [{"field": "chats.updated", "operator": ">=", "value": 1}]}),
        );
        assert_eq!(e, ("filter[0].field".into(), NOT_A_CHOICE));
    }

    #[test]
    fn a_touched_customer_is_found_by_its_new_last_seen() {
        let s = parse(
            Kind::Customer,
            json!({"filter": [{"field": "customers.lastSeen", "operator": ">", "value": 1_900_000_000}]}),
        )
        .unwrap();
        assert!(!s.matches(Kind::Customer, 5, None));
        assert!(s.matches(Kind::Customer, 5, Some(1_900_000_001)));
    }
}
