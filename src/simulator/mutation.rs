//! Records that change while a scan reads them: inserted at the front (as new messages are, in
//! a newest-first list) or deleted before the reader's cursor, the two moves that make offset
//! paging repeat or skip a record.

use super::data::Collection;

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
    InsertFront(usize),
    /// Deletes this many records from positions before the request's offset (as many as there
    /// are), moving every later record back.
    DeleteBefore(usize),
}

/// What the mutations did, for a test to tell the records that stayed from those that came
/// or went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Changes {
    /// Ids inserted, in the order they were.
    pub inserted: Vec<u64>,
    /// Ids deleted, in the order they were.
    pub deleted: Vec<u64>,
}

impl Collection {
    /// Applies `mutation` for a request at `cursor`.
    pub(crate) fn apply(
        &mut self,
        mutation: Mutation,
        cursor: u64,
        rng: &mut fastrand::Rng,
        changes: &mut Changes,
    ) {
        match mutation {
            Mutation::InsertFront(n) => {
                for _ in 0..n {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.ids.insert(0, id);
                    changes.inserted.push(id);
                }
            }
            Mutation::DeleteBefore(n) => {
                // Only records that were before the cursor: each deletion leaves one fewer.
                let mut before = (cursor as usize).min(self.ids.len());
                for _ in 0..n.min(before) {
                    let id = self.ids.remove(rng.usize(..before));
                    changes.deleted.push(id);
                    before -= 1;
                }
            }
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
    use crate::simulator::records::Kind;

    #[test]
    fn inserts_go_to_the_front_and_deletes_stay_before_the_cursor() {
        let mut c = Collection::new(Kind::Generic, TotalStyle::TopLevel, (1..=10).collect());
        let (mut rng, mut changes) = (fastrand::Rng::with_seed(7), Changes::default());
        c.apply(Mutation::InsertFront(2), 0, &mut rng, &mut changes);
        assert_eq!(&c.ids[..3], [12, 11, 1]);
        c.apply(Mutation::DeleteBefore(3), 4, &mut rng, &mut changes);
        assert_eq!(changes.inserted, [11, 12]);
        assert_eq!(changes.deleted.len(), 3);
        assert!(changes.deleted.iter().all(|id| [12, 11, 1, 2].contains(id)));
        assert_eq!(c.ids.len(), 9);
        c.apply(Mutation::DeleteBefore(5), 0, &mut rng, &mut changes);
        assert_eq!(c.ids.len(), 9, "nothing is before offset 0");
    }
}
