//! The consistency rules, apart from the scheduling: which pages can be right, whether a page
//! carries on from the one before, and which records are new.
//!
//! A record is known by its id where it has one ([`Key::Id`]), and by the whole record where
//! it has none ([`Key::Whole`]): then the overlap of two windows is compared with the record it
//! should repeat, never dropped for its position alone.

use std::collections::HashSet;
use std::sync::Arc;

use roaring::RoaringTreemap;

use super::id::RecordId;

/// How a record's id is read, for the scan's checks. `None` for a record without one.
pub(crate) type IdOf<T> = Arc<dyn Fn(&T) -> Option<RecordId> + Send + Sync>;

/// What a scan knows a record by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// Its id, as the API sent it.
    Id(RecordId),
    /// The whole record, as canonical JSON text (keys sorted, no spaces), for a record without
    /// an id: two reads of the same record give the same text.
    Whole(Box<str>),
}

impl Key {
    pub(crate) fn id(&self) -> Option<&RecordId> {
        match self {
            Key::Id(id) => Some(id),
            Key::Whole(_) => None,
        }
    }
}

/// How a page stands to the page read before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Continuity {
    /// It starts on the anchor, or there is no anchor to check (the first page of a pass,
    /// windows that do not overlap).
    Connected,
    /// The anchor is further into the page, at this index: records were inserted before it,
    /// and what comes before it was yielded already.
    MovedOn(usize),
    /// The anchor is not in the page: records before it were deleted (or moved away), and the
    /// records between it and the page were skipped.
    MovedBack,
    /// The anchor has no id, and records the same as it in every field stand more than once
    /// in the page: which of them it is cannot be told.
    Ambiguous,
}

impl Continuity {
    /// How many records at the page's start were yielded already (the anchor among them).
    pub(crate) fn yielded(self) -> usize {
        match self {
            Continuity::Connected => 1,
            Continuity::MovedOn(at) => at + 1,
            Continuity::MovedBack | Continuity::Ambiguous => 0,
        }
    }
}

/// The ids a scan has yielded: numbers compressed (HelpCrunch's ids rise with time, so they
/// cluster), strings in a set.
///
/// What an id costs: a number a few bytes where ids cluster (a roaring bitmap), and a string
/// that reads as a canonical decimal (`"123"`: digits, no leading zero) the same, in a bitmap
/// of its own, since string ids are often numbers sent as text. Any other string costs its
/// length rounded up to the allocator's step, plus about 19 bytes in the set (a 16-byte
/// `Box<str>` and a control byte, at the table's 7/8 load): about 40 bytes for a 12-character
/// id, against 80 to 100 for a `HashSet<String>`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Seen {
    numbers: RoaringTreemap,
    /// Strings that read as canonical decimals, by their value: `"7"`, never `"007"`.
    decimals: RoaringTreemap,
    texts: HashSet<Box<str>>,
}

/// The value of `s` where it is a canonical decimal (`"0"`, or digits without a leading zero)
/// that fits a `u64`: the one spelling of its number, so the number stands for it exactly.
fn decimal(s: &str) -> Option<u64> {
    let canonical = s == "0" || (!s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()));
    canonical.then(|| s.parse().ok()).flatten()
}

impl Seen {
    /// Remembers `id`; `false` where it was seen before.
    pub(crate) fn insert(&mut self, id: &RecordId) -> bool {
        match id {
            RecordId::Number(n) => self.numbers.insert(*n),
            RecordId::Text(s) => match decimal(s) {
                Some(n) => self.decimals.insert(n),
                // Looked up first: the anchor comes again on every page, and a new box for it
                // each time would be an allocation a page for nothing.
                None => !self.texts.contains(s.as_str()) && self.texts.insert(s.as_str().into()),
            },
        }
    }

    pub(crate) fn contains(&self, id: &RecordId) -> bool {
        match id {
            RecordId::Number(n) => self.numbers.contains(*n),
            RecordId::Text(s) => match decimal(s) {
                Some(n) => self.decimals.contains(n),
                None => self.texts.contains(s.as_str()),
            },
        }
    }
}

impl FromIterator<RecordId> for Seen {
    fn from_iter<I: IntoIterator<Item = RecordId>>(ids: I) -> Self {
        let mut seen = Seen::default();
        for id in ids {
            seen.insert(&id);
        }
        seen
    }
}

/// What a scan has yielded, and where it stands.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Every id yielded. Records without ids are not kept: a scan knows them only by the
    /// anchor and the page they are read against.
    pub(crate) seen: Seen,
    /// The last record of the last page read in this pass.
    pub(crate) anchor: Option<Key>,
}

impl Ledger {
    pub(crate) fn new(seen: Seen, anchor: Option<Key>) -> Self {
        Self { seen, anchor }
    }

    /// How a page whose records are known by `keys` stands to the anchor, where windows
    /// overlap; `tail` holds the keys of the page before, which ends on the anchor.
    ///
    /// An anchor with an id is where its id is. One without is placed by the records it came
    /// with: where the page holds it further on, the records before it must be the ones that
    /// stood before it in the page before, or a record the same as it in every field (a twin)
    /// could be taken for it while it moved back out of the page, and the records before the
    /// twin would be dropped unread. A match that does not read so is healed as a move back
    /// (the heal finds the anchor by reading back); one that stands twice is `Ambiguous`.
    pub(crate) fn continuity(&self, keys: &[Key], tail: &[Key], overlaps: bool) -> Continuity {
        let Some(anchor) = self.anchor.as_ref().filter(|_| overlaps) else {
            return Continuity::Connected;
        };
        let mut at = keys.iter().enumerate().filter(|(_, k)| *k == anchor);
        let (first, second) = (at.next(), at.next());
        let placed = |i: usize| match i {
            0 => Continuity::Connected,
            i => Continuity::MovedOn(i),
        };
        match (first, second, anchor) {
            (None, _, _) => Continuity::MovedBack,
            (Some(_), Some(_), Key::Whole(_)) => Continuity::Ambiguous,
            // A twin, or the anchor with a record inserted next to it: the heal reads back
            // to tell, and says so where it cannot.
            (Some((i, _)), _, Key::Whole(_)) if !follows(&keys[..=i], tail) => {
                Continuity::MovedBack
            }
            (Some((i, _)), _, _) => placed(i),
        }
    }

    /// Keeps the records not yielded before, in order, and remembers their ids: the records
    /// `recovered` by a heal, then the page's `items`, known by `keys`. Of the page's, the
    /// first `yielded` were yielded already (the anchor, and what came before it); those with
    /// ids are also checked by id, so any id seen again is a duplicate. Duplicates are counted
    /// in the second number; the anchor, which repeats by design, is not.
    pub(crate) fn admit<T>(
        &mut self,
        recovered: Vec<(T, Key)>,
        items: Vec<T>,
        keys: &[Key],
        yielded: usize,
    ) -> (Vec<T>, u64) {
        let mut kept = Vec::with_capacity(recovered.len() + items.len());
        let mut dropped = 0;
        for (record, key) in recovered {
            if key.id().is_none_or(|id| self.seen.insert(id)) {
                kept.push(record);
            } else {
                dropped += 1;
            }
        }
        for (i, (record, key)) in items.into_iter().zip(keys).enumerate() {
            let anchor = i + 1 == yielded;
            let new = match key {
                Key::Id(id) => self.seen.insert(id),
                Key::Whole(_) => i >= yielded,
            };
            if new {
                kept.push(record);
            } else if !anchor {
                dropped += 1;
            }
        }
        (kept, dropped)
    }
}

/// Whether `run`, which ends on the anchor, ends as `tail` (the page before, ending on it) does,
/// as far as both reach: the records before the anchor are the ones it stood after.
fn follows(run: &[Key], tail: &[Key]) -> bool {
    if tail.last() != run.last() {
        // The page before is not known (a resume, a page that ended empty): the anchor alone.
        return true;
    }
    run.iter().rev().zip(tail.iter().rev()).all(|(a, b)| a == b)
}

/// Why a page cannot be what was asked for: more records than the limit, or one id twice (a
/// record then stands where another should, which would be lost unseen). Records without ids
/// may be the same in every field: two such are two records.
pub(crate) fn unsound(received: usize, limit: u32, keys: &[Key]) -> Option<String> {
    if received > limit as usize {
        return Some(format!(
            "the page holds {received} records where {limit} were asked for"
        ));
    }
    let mut unique = HashSet::with_capacity(keys.len());
    keys.iter()
        .filter_map(Key::id)
        .find(|&id| !unique.insert(id))
        .map(|id| format!("the page holds id {id} twice"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u64]) -> Vec<Key> {
        v.iter().map(|&i| Key::Id(RecordId::Number(i))).collect()
    }

    fn whole(v: &[&str]) -> Vec<Key> {
        v.iter().map(|&s| Key::Whole(s.into())).collect()
    }

    #[test]
    fn a_page_is_placed_against_the_anchor() {
        let ledger = Ledger::new(Seen::default(), Some(Key::Id(5.into())));
        let tail = ids(&[9, 5]);
        assert_eq!(
            ledger.continuity(&ids(&[5, 6]), &tail, true),
            Continuity::Connected
        );
        assert_eq!(
            ledger.continuity(&ids(&[4, 5, 6]), &tail, true),
            Continuity::MovedOn(1)
        );
        assert_eq!(
            ledger.continuity(&ids(&[7, 8]), &tail, true),
            Continuity::MovedBack
        );
        assert_eq!(
            ledger.continuity(&ids(&[7, 8]), &tail, false),
            Continuity::Connected
        );
    }

    #[test]
    fn an_anchor_without_an_id_is_placed_by_the_whole_record() {
        let ledger = Ledger::new(Seen::default(), Some(Key::Whole(r#"{"n":5}"#.into())));
        let tail = whole(&[r#"{"n":4}"#, r#"{"n":5}"#]);
        let page = |v: &[&str]| ledger.continuity(&whole(v), &tail, true);
        assert_eq!(page(&[r#"{"n":5}"#, r#"{"n":6}"#]), Continuity::Connected);
        assert_eq!(page(&[r#"{"n":4}"#, r#"{"n":5}"#]), Continuity::MovedOn(1));
        assert_eq!(
            page(&[r#"{"n":6}"#, r#"{"n":7}"#]),
            Continuity::MovedBack,
            "the first record is not the anchor: it is not dropped for standing first"
        );
        assert_eq!(page(&[r#"{"n":5}"#, r#"{"n":5}"#]), Continuity::Ambiguous);
    }

    #[test]
    fn a_twin_further_in_the_page_is_not_taken_for_an_anchor_without_an_id() {
        // The page before ended C R; this one reads S R: the R after S is R's twin, or the
        // anchor after an insert next to it. Either way S cannot be dropped as yielded.
        let ledger = Ledger::new(Seen::default(), Some(Key::Whole("R".into())));
        let tail = whole(&["B", "C", "R"]);
        assert_eq!(
            ledger.continuity(&whole(&["S", "R", "T"]), &tail, true),
            Continuity::MovedBack
        );
        assert_eq!(
            ledger.continuity(&whole(&["B", "C", "R", "T"]), &tail, true),
            Continuity::MovedOn(2),
            "inserts before B: the run before the anchor is the page before's"
        );
        assert_eq!(
            ledger.continuity(&whole(&["S", "R"]), &whole(&["R"]), true),
            Continuity::MovedOn(1),
            "the page before is not known: the anchor alone"
        );
    }

    #[test]
    fn a_number_and_a_string_are_different_ids() {
        let mut seen = Seen::default();
        assert!(seen.insert(&RecordId::Number(7)));
        assert!(seen.insert(&RecordId::from("007")));
        assert!(seen.insert(&RecordId::from("7")));
        assert!(!seen.insert(&RecordId::from("007")));
        assert!(seen.contains(&RecordId::Number(7)) && !seen.contains(&RecordId::from("07")));
        assert_eq!(
            unsound(2, 2, &[Key::Id(7.into()), Key::Id("007".into())]),
            None
        );
    }

    #[test]
    fn a_text_that_reads_as_a_decimal_is_kept_apart_from_the_number_and_other_spellings() {
        let mut seen = Seen::default();
        assert!(seen.insert(&RecordId::from("12")));
        assert!(!seen.insert(&RecordId::from("12")));
        assert!(!seen.contains(&RecordId::Number(12)));
        assert!(
            seen.insert(&RecordId::from("012")),
            "a leading zero: another id"
        );
        assert!(seen.insert(&RecordId::from("+12")) && seen.insert(&RecordId::from("")));
        assert!(seen.insert(&RecordId::from("0")) && !seen.insert(&RecordId::from("0")));
        let past_u64 = RecordId::from("18446744073709551616");
        assert!(seen.insert(&past_u64) && seen.contains(&past_u64));
        assert_eq!((seen.decimals.len(), seen.texts.len()), (2, 4));
    }

    #[test]
    fn admitted_records_are_new_and_the_anchor_is_no_duplicate() {
        let mut ledger = Ledger::new([1u64, 2].map(RecordId::from).into_iter().collect(), None);
        let keys = [
            Key::Id(2.into()),
            Key::Id(3.into()),
            Key::Whole("{}".into()),
            Key::Id(1.into()),
        ];
        let (kept, dropped) = ledger.admit(Vec::new(), vec!["a", "b", "c", "d"], &keys, 1);
        assert_eq!((kept, dropped), (vec!["b", "c"], 1));
        assert!(ledger.seen.contains(&3.into()));
    }

    #[test]
    fn records_without_ids_up_to_the_anchor_were_yielded_and_the_rest_are_new() {
        let mut ledger = Ledger::default();
        let recovered = vec![("r", Key::Whole("{}".into()))];
        let page = whole(&["{}", "{}", "{}", "{}"]);
        let (kept, dropped) = ledger.admit(recovered, vec!["a", "b", "c", "d"], &page, 2);
        assert_eq!((kept, dropped), (vec!["r", "c", "d"], 1));
    }

    #[test]
    fn pages_too_long_or_with_an_id_twice_are_unsound() {
        assert!(unsound(3, 2, &[]).is_some());
        assert!(unsound(2, 2, &ids(&[1, 1])).is_some());
        assert_eq!(unsound(2, 2, &whole(&["{}", "{}"])), None);
    }
}
