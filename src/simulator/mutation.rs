//! Records that change while a scan reads them: inserted at the front (as new messages are, in
//! a newest-first list) or deleted before the reader's cursor, the two moves that make offset
//! paging repeat or skip a record; or touched, which moves a record the reader has not reached
//! to the front of an order by activity, where it is skipped.

use super::data::Collection;
use super::read::Read;

/// A change the simulator makes to a collection just before it answers a request for it.
///
/// ```
/// use helpcrunch_pager::simulator::{Mutation, Simulator};
/// // Every third request inserts two records at the front of the collection it reads.
/// let sim = Simulator::builder()
///     .departments(1_000)
///     .mutate_every(3, Mutation::InsertFront(2))
///     .start()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mutation {
    /// Inserts this many new records at position 0, moving every record one place on.
    ///
    /// New records are new at the server's time: chats and customers are touched as they are
    /// created (their `lastMessageAt`, `updatedAt` and `lastSeen` show it), a new chat has one
    /// message created then, and new messages were created then and touch their chat.
    InsertFront(usize),
    /// Adds this many new records at the end, as new records arrive in an order by creation
    /// time: a read before the end sees nothing move, but the total grows. New records are
    /// new at the server's time, as with [`InsertFront`](Self::InsertFront).
    Append(usize),
    /// Deletes this many records from positions before the request's offset (as many as there
    /// are), moving every later record back.
    DeleteBefore(usize),
    /// Deletes the record with this id (or the `N` of its `"Record N"`, in the simulator's
    /// numbering for records without ids), wherever it stands: a scan's anchor, say. A deleted
    /// chat's messages go with it (`GET /chats/{id}/messages` answers 404).
    Delete(u64),
    /// Updates this many records, as a new message does to a chat or a visit to a customer.
    /// Each gets an activity stamp, the server's time now
    /// ([`Simulator::now`](super::Simulator::now)), later than every untouched record's
    /// activity; touches within one second share a stamp but keep their order. A chat's
    /// `lastMessageAt`, `lastCustomerMessageAt` and `updatedAt` show it, and the chat gets a
    /// new message created then, first among its messages (as
    /// [`Simulator::add_message`](super::Simulator::add_message) does); a customer's
    /// `lastSeen` shows it. A sort by those fields serves it first in `desc` order, last in
    /// `asc`, while the default order and the other sorts keep it where it was. The records
    /// are picked at random among those at or past the request's offset in the order that
    /// request reads: the ones its reader has not reached, which the move makes it skip
    /// (anywhere, for a request with no offset). Departments, agents, messages and other
    /// collections have no such field: a touch leaves them as they are.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::{Mutation, Simulator};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // A new message in one chat just before the first page is read.
    /// let sim = Simulator::builder().chats(10).mutation(1, Mutation::Touch(1)).start()?;
    /// let body = reqwest::Client::new()
    ///     .get(format!("{}/chats?sort=chats.lastMessageAt&order=desc", sim.base_url()))
    ///     .bearer_auth(sim.api_key())
    ///     .send()
    ///     .await?
    ///     .text()
    ///     .await?;
    /// let page: serde_json::Value = serde_json::from_str(&body)?;
    /// assert_eq!(page["data"][0]["id"], sim.changes().touched[0], "the latest activity first");
    /// assert_eq!(page["data"].as_array().map(Vec::len), Some(10));
    /// # Ok(()) }
    /// ```
    Touch(usize),
}

/// What the mutations and the requests that write did, for a test to tell the records that
/// stayed from those that came, went or moved. The ids of every collection are listed together;
/// the message a touch adds to a chat is not listed (the chat is, among the touched).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Changes {
    /// Ids inserted, in the order they were: by [`Mutation::InsertFront`] or a `POST` that
    /// created a record.
    pub inserted: Vec<u64>,
    /// Ids deleted, in the order they were: by [`Mutation::DeleteBefore`] or a `DELETE`.
    pub deleted: Vec<u64>,
    /// Ids touched, in the order they were: an id touched twice is here twice. A chat that gets
    /// a message (from a touch, [`Simulator::add_message`](super::Simulator::add_message) or a
    /// message inserted into its messages) is touched; a record touched only by being created
    /// is not listed here.
    pub touched: Vec<u64>,
}

impl Collection {
    /// Applies `mutation` just before `read`, at the server's time `now`. What follows from it
    /// in other collections (a touched chat's new message) is the account's to do
    /// (`account.rs`).
    pub(crate) fn apply(
        &mut self,
        mutation: Mutation,
        read: &Read,
        rng: &mut fastrand::Rng,
        changes: &mut Changes,
        now: u64,
    ) {
        match mutation {
            Mutation::InsertFront(n) => {
                for _ in 0..n {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.ids.insert(0, id);
                    changes.inserted.push(id);
                }
                self.reordered(None);
            }
            Mutation::Append(n) => {
                for _ in 0..n {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.ids.push(id);
                    changes.inserted.push(id);
                }
                self.reordered(None);
            }
            Mutation::DeleteBefore(n) => {
                // Only records that were before the cursor: each deletion leaves one fewer.
                let mut before = (read.offset() as usize).min(self.ids.len());
                for _ in 0..n.min(before) {
                    let id = self.ids.remove(rng.usize(..before));
                    self.forget(id);
                    changes.deleted.push(id);
                    before -= 1;
                }
            }
            Mutation::Delete(id) => {
                if self.remove(id) {
                    changes.deleted.push(id);
                }
            }
            Mutation::Touch(n) if self.has_activity() => {
                let unread = read.unread(self);
                let mut picked = rng.choose_multiple(unread.iter().copied(), n.min(unread.len()));
                // The reservoir keeps early picks in place: shuffled, the stamps follow no order.
                rng.shuffle(&mut picked);
                for id in picked {
                    self.touch(id, now);
                    changes.touched.push(id);
                }
            }
            Mutation::Touch(_) => {}
        }
    }

    /// The id a record inserted after every existing one gets.
    pub(crate) fn first_new_id(ids: &[u64]) -> u64 {
        ids.iter().max().map_or(1, |m| m + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::data::TotalStyle;
    use crate::simulator::fields::Order;
    use crate::simulator::records::Kind;

    const NOW: u64 = 1_750_000_000;

    fn at(offset: u64) -> Read {
        Read::from_offset(offset)
    }

    #[test]
    fn inserts_go_to_the_front_and_deletes_stay_before_the_cursor() {
        let mut c = Collection::new(Kind::Generic, TotalStyle::TopLevel, (1..=10).collect());
        let (mut rng, mut changes) = (fastrand::Rng::with_seed(7), Changes::default());
        c.apply(
            Mutation::InsertFront(2),
            &at(0),
            &mut rng,
            &mut changes,
            NOW,
        );
        assert_eq!(&c.ids[..3], [12, 11, 1]);
        c.apply(
            Mutation::DeleteBefore(3),
            &at(4),
            &mut rng,
            &mut changes,
            NOW,
        );
        assert_eq!(changes.inserted, [11, 12]);
        assert_eq!(changes.deleted.len(), 3);
        assert!(changes.deleted.iter().all(|id| [12, 11, 1, 2].contains(id)));
        assert_eq!(c.ids.len(), 9);
        c.apply(
            Mutation::DeleteBefore(5),
            &at(0),
            &mut rng,
            &mut changes,
            NOW,
        );
        assert_eq!(c.ids.len(), 9, "nothing is before offset 0");
    }

    #[test]
    fn appends_go_to_the_end() {
        let mut c = Collection::new(Kind::Generic, TotalStyle::TopLevel, (1..=3).collect());
        let (mut rng, mut changes) = (fastrand::Rng::with_seed(7), Changes::default());
        c.apply(Mutation::Append(2), &at(2), &mut rng, &mut changes, NOW);
        assert_eq!(c.ids, [1, 2, 3, 4, 5]);
        assert_eq!(changes.inserted, [4, 5]);
    }

    #[test]
    fn a_touch_picks_distinct_records_the_reader_has_not_reached() {
        let mut c = Collection::new(Kind::Chat, TotalStyle::Meta, (1..=100).collect());
        let (mut rng, mut changes) = (fastrand::Rng::with_seed(7), Changes::default());
        c.apply(Mutation::Touch(10), &at(60), &mut rng, &mut changes, NOW);
        let mut touched = changes.touched.clone();
        touched.sort_unstable();
        touched.dedup();
        assert_eq!(touched.len(), 10);
        assert!(touched.iter().all(|&id| id > 60), "{touched:?}");
        assert_eq!(c.order(Order::Activity)[90..], changes.touched[..]);
        assert_eq!(
            c.ids,
            (1..=100).collect::<Vec<_>>(),
            "the creation order stays"
        );
    }

    #[test]
    fn a_touch_past_a_descending_offset_picks_from_the_low_end() {
        let mut c = Collection::new(Kind::Customer, TotalStyle::TopLevel, (1..=100).collect());
        let (mut rng, mut changes) = (fastrand::Rng::with_seed(3), Changes::default());
        let desc = Read::list(
            Kind::Customer,
            "sort=customers.lastSeen&order=desc&offset=90",
        );
        c.apply(
            Mutation::Touch(5),
            &desc.unwrap(),
            &mut rng,
            &mut changes,
            NOW,
        );
        assert_eq!(changes.touched.len(), 5);
        assert!(
            changes.touched.iter().all(|&id| id <= 10),
            "{:?}",
            changes.touched
        );
        c.apply(Mutation::Touch(50), &at(98), &mut rng, &mut changes, NOW);
        assert_eq!(
            changes.touched.len(),
            7,
            "only two records are past offset 98"
        );
    }

    #[test]
    fn a_touch_leaves_collections_with_no_activity_as_they_are() {
        let mut c = Collection::new(Kind::Department, TotalStyle::Meta, (1..=10).collect());
        let (mut rng, mut changes) = (fastrand::Rng::with_seed(7), Changes::default());
        c.apply(Mutation::Touch(3), &at(0), &mut rng, &mut changes, NOW);
        assert!(changes.touched.is_empty());
        assert_eq!(c.stamp(1), None);
    }
}
