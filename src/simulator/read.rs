//! What a request reads: the order and window a list's query or a search's body asks for, and
//! a search's filter; the ids it sees in that order, and the page it gets.

use std::borrow::Cow;

use serde_json::Value;

use super::data::{Collection, TotalStyle};
use super::fields::Order;
use super::index;
use super::records::Kind;
use super::search::{self, FieldError, Search};
use crate::paging::window::MAX_PAGE_SIZE;

/// One request's view of a collection.
#[derive(Debug)]
pub(crate) struct Read {
    order: Order,
    /// `order=desc`: the order read from its other end.
    reverse: bool,
    window: (u64, u32),
    filter: Option<Search>,
}

impl Read {
    /// The default order from `offset` on: what a request the API would refuse is taken to
    /// read, for the mutations due before it.
    pub(crate) fn from_offset(offset: u64) -> Self {
        Self {
            order: Order::Creation,
            reverse: false,
            window: (offset, MAX_PAGE_SIZE),
            filter: None,
        }
    }

    /// What a `GET` list with `query` reads from a collection of `kind`, or the field error the
    /// API answers with. Kinds that cannot be sorted ignore `sort` and `order`.
    pub(crate) fn list(kind: Kind, query: &str) -> Result<Self, Vec<FieldError>> {
        let param = |name| query_param(query, name);
        let sorted = if matches!(kind, Kind::Customer | Kind::Chat) {
            search::sort_order(kind, param("sort").as_deref(), param("order").as_deref())
        } else {
            Ok((Order::Creation, false))
        };
        let window = search::window(
            param("offset").map(Value::String).as_ref(),
            param("limit").map(Value::String).as_ref(),
        );
        match (sorted, window) {
            (Ok((order, reverse)), Ok(window)) => Ok(Self {
                order,
                reverse,
                window,
                filter: None,
            }),
            (Err(e), _) | (_, Err(e)) => Err(vec![e]),
        }
    }

    /// What a `POST .../search` with `body` reads from a collection of `kind`, or the field
    /// errors the API answers with.
    pub(crate) fn search(kind: Kind, body: &[u8]) -> Result<Self, Vec<FieldError>> {
        Search::parse(kind, body).map(|s| Self {
            order: s.order,
            reverse: s.reverse,
            window: s.window,
            filter: Some(s),
        })
    }

    /// The same read from `offset` on.
    pub(crate) fn at(mut self, offset: u64) -> Self {
        self.window.0 = offset;
        self
    }

    /// Where the read starts.
    pub(crate) fn offset(&self) -> u64 {
        self.window.0
    }

    /// The ids this read sees, in its order before `desc` reverses it.
    fn ids<'a>(&self, c: &'a Collection) -> Cow<'a, [u64]> {
        let Some(search) = &self.filter else {
            return Cow::Borrowed(c.order(self.order));
        };
        let candidates = index::candidates(search, c, self.order)
            .unwrap_or_else(|| Cow::Borrowed(c.order(self.order)));
        // Looking a stamp up costs more than the filter: none is there to find untouched.
        let stamp = |id| if c.untouched() { None } else { c.stamp(id) };
        Cow::Owned(
            candidates
                .iter()
                .copied()
                .filter(|&id| search.matches(c.kind, id, stamp(id)))
                .collect(),
        )
    }

    /// The ids at or past the read's offset, in the order it reads them (unreversed): those a
    /// reader that has paged up to here has not reached yet.
    pub(crate) fn unread<'a>(&self, c: &'a Collection) -> Cow<'a, [u64]> {
        let ids = self.ids(c);
        let len = ids.len();
        let offset = self.window.0.min(len as u64) as usize;
        let range = if self.reverse {
            0..len - offset
        } else {
            offset..len
        };
        match ids {
            Cow::Borrowed(ids) => Cow::Borrowed(&ids[range]),
            Cow::Owned(mut ids) => {
                ids.truncate(range.end);
                ids.drain(..range.start);
                Cow::Owned(ids)
            }
        }
    }

    /// Every id this read sees, whatever its window, in the order it serves them.
    pub(crate) fn every(&self, c: &Collection) -> Vec<u64> {
        let mut ids = self.ids(c).into_owned();
        if self.reverse {
            ids.reverse();
        }
        ids
    }

    /// The page this read gets from `c`, its total off by `skew`.
    pub(crate) fn page(&self, c: &Collection, skew: i64) -> String {
        let ids = self.ids(c);
        let style = match self.filter {
            Some(_) => TotalStyle::TopLevel,
            None => c.total_style,
        };
        let total = ids.len() as i64 + skew;
        c.render_page(&ids, self.reverse, self.window, (total, style))
    }
}

/// The value of `name` in a query string, percent-decoded.
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    url_pairs(query).find(|(k, _)| k == name).map(|(_, v)| v)
}

fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chats(count: u64) -> Collection {
        Collection::new(Kind::Chat, TotalStyle::Meta, (1..=count).collect())
    }

    fn page_ids(read: &Read, c: &Collection) -> Vec<u64> {
        let page: Value = serde_json::from_str(&read.page(c, 0)).unwrap();
        let data = page["data"].as_array().unwrap();
        data.iter().map(|r| r["id"].as_u64().unwrap()).collect()
    }

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(
            query_param("sort=chats.createdAt&order=desc", "order").as_deref(),
            Some("desc")
        );
        assert_eq!(query_param("q=a%20b+c%2", "q").as_deref(), Some("a b c%2"));
        assert_eq!(query_param("offset=5", "limit"), None);
    }

    #[test]
    fn a_sort_by_activity_serves_touched_records_first_when_descending() {
        let mut c = chats(6);
        c.touch(2, 1_750_000_000);
        c.touch(5, 1_750_000_000);
        let desc = Read::list(Kind::Chat, "sort=chats.lastMessageAt&order=desc").unwrap();
        assert_eq!(page_ids(&desc, &c), [5, 2, 6, 4, 3, 1]);
        let query = "sort=chats.lastCustomerMessageAt&offset=3&limit=2";
        assert_eq!(
            page_ids(&Read::list(Kind::Chat, query).unwrap(), &c),
            [6, 2]
        );
        let default = Read::list(Kind::Chat, "").unwrap();
        assert_eq!(page_ids(&default, &c), [1, 2, 3, 4, 5, 6]);
        let body = br#"{"sort":"chats.lastMessageAt","order":"desc","limit":3}"#;
        assert_eq!(
            page_ids(&Read::search(Kind::Chat, body).unwrap(), &c),
            [5, 2, 6]
        );
    }

    #[test]
    fn unread_ids_are_those_at_or_past_the_offset_in_the_order_read() {
        let c = chats(6);
        let asc = Read::list(Kind::Chat, "offset=4").unwrap();
        assert_eq!(*asc.unread(&c), [5, 6]);
        let desc = Read::list(Kind::Chat, "sort=chats.createdAt&order=desc&offset=4").unwrap();
        assert_eq!(*desc.unread(&c), [1, 2], "the last two read, desc");
        assert!(Read::from_offset(9).unread(&c).is_empty());
        let body = br#"{"filter":[{"field":"chats.id","operator":">","value":2}],"offset":1}"#;
        assert_eq!(
            *Read::search(Kind::Chat, body).unwrap().unread(&c),
            [4, 5, 6]
        );
    }

    #[test]
    fn a_bad_sort_or_window_is_the_apis_field_error() {
        let e = Read::list(Kind::Chat, "sort=chats.rating").unwrap_err();
        assert_eq!(e[0].0, "sort");
        let e = Read::list(Kind::Customer, "limit=0").unwrap_err();
        assert_eq!(e[0].0, "limit");
        assert!(Read::list(Kind::Department, "sort=anything").is_ok());
    }
}
