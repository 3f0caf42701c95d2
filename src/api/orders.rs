//! HelpCrunch's orders, the one place that knows them: the stable order of each list, which
//! sorts move a record that changes to the front, and how a record's sort key is read.
//!
//! The paging layer knows none of it. Every paginator the crate makes is given [`settle`] as
//! its [`OrderRule`](crate::paging::scan::OrderRule), which the scan applies at the first
//! poll, when the caller's `sort` and `order` are final; [`Paginator::moves_to_front`] gives
//! the key of a list the crate does not know.

use std::any::{Any, TypeId};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::api::models::{Chat, Customer, Message, Timestamp};
use crate::api::sort::{ChatSort, CustomerSort, Order};
use crate::paging::paginator::Paginator;
use crate::paging::request::ListRequest;
use crate::paging::scan::{KeyOf, SortKey, StopAt};

/// The time a customer was created: not a sort of `GET /customers`, but a field a search can
/// sort by, and one that never changes.
const CUSTOMERS_CREATED_AT: &str = "customers.createdAt";

/// The [`OrderRule`](crate::paging::scan::OrderRule) of every list: where the list has a
/// stable order and the caller chose none, asks for it ([`stable_order`]); then says whether
/// the order moves ([`moving_field`], and an `order` other than `asc`), with the sort key read
/// from `T` where the crate knows how.
pub(crate) fn settle<T: 'static>(request: &mut ListRequest) -> Option<Option<KeyOf<T>>> {
    if let Some(stable) = stable_order(&request.path) {
        if request.param("sort").is_none() {
            request.set_param("sort", stable);
            if request.param("order").is_none() {
                request.set_param("order", Order::Asc.as_str());
            }
        }
    }
    let field = moving_field(&request.param("sort")?)?;
    let ascending = request
        .param("order")
        .is_some_and(|o| o.trim().eq_ignore_ascii_case(Order::Asc.as_str()));
    (!ascending).then(|| key_of::<T>(&field))
}

/// The order chats and customers are read in unless the caller asks for another, lists and
/// searches alike: by the time each record was created, oldest first, so that new records
/// append at the end and a record that changes does not move. `None` for a list without one.
fn stable_order(path: &str) -> Option<&'static str> {
    let list = path.trim_matches('/');
    match list.strip_suffix("/search").unwrap_or(list) {
        "chats" => Some(ChatSort::CreatedAt.as_str()),
        "customers" => Some(CustomerSort::FirstSeen.as_str()),
        _ => None,
    }
}

/// The field behind a `sort` value whose records may jump to the front when they change, such
/// as `lastMessageAt` for `chats.lastMessageAt`; `None` for the orders known to stay put (the
/// time a record was created). A sort the crate does not know is taken to move: following it
/// costs a request when nothing moves, and missing a move would lose a record.
fn moving_field(sort: &str) -> Option<String> {
    let sort = sort.trim();
    let stays = [
        ChatSort::CreatedAt.as_str(),
        CustomerSort::FirstSeen.as_str(),
        CUSTOMERS_CREATED_AT,
    ];
    if sort.is_empty() || stays.contains(&sort) {
        return None;
    }
    Some(sort.rsplit('.').next().unwrap_or(sort).to_owned())
}

/// How to read the sort key `field` (such as `lastMessageAt`) of a `T` the crate knows: chats,
/// customers and messages by their fields (or their `extra` map, for a field they do not name),
/// `serde_json::Value` and raw JSON records by the field of that name. `None` for any other
/// type.
pub(crate) fn key_of<T: 'static>(field: &str) -> Option<KeyOf<T>> {
    let name: Arc<str> = field.into();
    let (chat, customer, message, value) = (name.clone(), name.clone(), name.clone(), name.clone());
    by::<T, Chat>(move |c| match &*chat {
        "lastMessageAt" => c.last_message_at,
        "lastCustomerMessageAt" => c.last_customer_message_at,
        "closedAt" => c.closed_at,
        "createdAt" => c.created_at,
        "updatedAt" => c.updated_at,
        other => c.extra.get(other).and_then(timestamp),
    })
    .or_else(|| {
        by::<T, Customer>(move |c| match &*customer {
            "lastSeen" => c.last_seen,
            "firstSeen" => c.first_seen,
            other => c.extra.get(other).and_then(timestamp),
        })
    })
    .or_else(|| {
        by::<T, Message>(move |m| match &*message {
            "createdAt" => m.created_at,
            "updatedAt" => m.updated_at,
            other => m.extra.get(other).and_then(timestamp),
        })
    })
    .or_else(|| by::<T, serde_json::Value>(move |v| value_key(v, &value)))
    .or_else(|| raw_key::<T>(name))
}

/// The end of a read newest first by `field` (such as a chat's messages by `createdAt`): true
/// of a record whose `field` is before `since` (UNIX seconds). A record without the field is
/// read on. `None` where the crate cannot read `field` from a `T`.
pub(crate) fn older_than<T: 'static>(field: &str, since: u64) -> Option<StopAt<T>> {
    let key = key_of::<T>(field)?;
    let since = SortKey::new(i64::try_from(since).unwrap_or(i64::MAX), 0);
    Some(Arc::new(move |record: &T| {
        key(record).is_some_and(|k| k < since)
    }))
}

/// The key of a `T` that is an `M`, read by `key`; `None` where `T` is another type.
fn by<T: 'static, M: 'static>(
    key: impl Fn(&M) -> Option<Timestamp> + Send + Sync + 'static,
) -> Option<KeyOf<T>> {
    (TypeId::of::<T>() == TypeId::of::<M>()).then(|| -> KeyOf<T> {
        Arc::new(move |record: &T| {
            (record as &dyn Any)
                .downcast_ref::<M>()
                .and_then(&key)
                .map(sort_key)
        })
    })
}

/// A time as the scan compares it, to the nanosecond.
fn sort_key(time: Timestamp) -> SortKey {
    SortKey::new(time.unix_seconds(), time.subsec_nanos())
}

/// The timestamp in `field` of a JSON record, read as leniently as the models read theirs.
fn value_key(record: &serde_json::Value, field: &str) -> Option<Timestamp> {
    timestamp(record.get(field)?)
}

fn timestamp(value: &serde_json::Value) -> Option<Timestamp> {
    Timestamp::deserialize(value).ok()
}

impl<T> Paginator<T>
where
    T: DeserializeOwned + Send + 'static,
{
    /// Says that this list is ordered, newest first, by a field that changes when a record
    /// does (as chats by `lastMessageAt`), so that a changed record jumps to the front, and
    /// gives the way to read that field. After the main pass the scan reads the head of the
    /// list again until it reaches records that did not move, and until the head stands still
    /// (see [`ScanReport::head_rounds`](crate::ScanReport::head_rounds)); when nothing moves
    /// that costs one request.
    ///
    /// A list sorted by anything but the time its records were created (`chats.createdAt`,
    /// `customers.firstSeen`, `customers.createdAt`), with `order` other than `asc`, is taken
    /// to move and needs no call: the crate reads the sort field from [`Chat`](crate::Chat),
    /// [`Customer`](crate::Customer) (their `extra` map for a field they do not name),
    /// `serde_json::Value` and raw JSON records. For another type sorted so, give the key here,
    /// or each round reads the whole list.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// use helpcrunch_pager::Timestamp;
    /// #[derive(serde::Deserialize)]
    /// struct Ticket { id: u64, #[serde(rename = "updatedAt")] updated_at: Option<Timestamp> }
    ///
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let tickets: Vec<Ticket> = client
    ///     .paginate("tickets")
    ///     .ids(|t: &Ticket| Some(t.id))
    ///     .moves_to_front(|t: &Ticket| t.updated_at)
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn moves_to_front(
        self,
        key: impl Fn(&T) -> Option<Timestamp> + Send + Sync + 'static,
    ) -> Self {
        self.sort_key(Arc::new(move |record: &T| key(record).map(sort_key)))
    }
}

/// The sort key `field` of a raw JSON record (`Box<RawValue>`, feature `raw_value`), read
/// from its text.
#[cfg(feature = "raw_value")]
fn raw_key<T: 'static>(field: Arc<str>) -> Option<KeyOf<T>> {
    by::<T, Box<serde_json::value::RawValue>>(move |raw| {
        value_key(&serde_json::from_str(raw.get()).ok()?, &field)
    })
}

#[cfg(not(feature = "raw_value"))]
fn raw_key<T: 'static>(_: Arc<str>) -> Option<KeyOf<T>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_fields_that_change_with_activity_move() {
        assert_eq!(
            moving_field("chats.lastMessageAt").as_deref(),
            Some("lastMessageAt")
        );
        assert_eq!(
            moving_field("customers.lastSeen").as_deref(),
            Some("lastSeen")
        );
        assert_eq!(
            moving_field("chats.updatedAt").as_deref(),
            Some("updatedAt"),
            "unknown: moves"
        );
        assert_eq!(moving_field("chats.createdAt"), None);
        assert_eq!(moving_field("customers.firstSeen"), None);
    }

    #[test]
    fn chats_and_customers_unsorted_are_read_oldest_first_in_an_order_that_stays() {
        let mut chats = ListRequest::get("chats".into());
        assert!(settle::<Chat>(&mut chats).is_none());
        assert_eq!(chats.param("sort").as_deref(), Some("chats.createdAt"));
        assert_eq!(chats.param("order").as_deref(), Some("asc"));
        let mut search = ListRequest::search("customers/search".into(), json!({}));
        assert!(settle::<Customer>(&mut search).is_none());
        assert_eq!(search.body.unwrap()["sort"], "customers.firstSeen");
        let mut departments = ListRequest::get("departments".into());
        assert!(settle::<serde_json::Value>(&mut departments).is_none());
        assert!(departments.query.is_empty(), "no stable order to ask for");
    }

    #[test]
    fn a_sort_by_activity_moves_unless_ascending_and_its_key_is_read_from_the_record() {
        let mut inbox = ListRequest::get("chats".into());
        inbox.set_param("sort", "chats.lastMessageAt");
        let key = settle::<serde_json::Value>(&mut inbox)
            .expect("moves")
            .expect("a Value's key is read");
        assert_eq!(inbox.param("order"), None, "the caller's order is kept");
        let chat = json!({"id": 1, "lastMessageAt": "1594139170.913"});
        assert_eq!(key(&chat), Some(SortKey::new(1_594_139_170, 913_000_000)));
        inbox.set_param("order", "ASC");
        assert!(settle::<serde_json::Value>(&mut inbox).is_none());
        let mut other = ListRequest::get("tickets".into());
        other.set_param("sort", "tickets.updatedAt");
        assert!(
            matches!(settle::<u64>(&mut other), Some(None)),
            "moves, with no key for a type the crate does not know"
        );
    }
}
