//! The head rounds of an order that moves, step by step: what a page says of the head of the
//! list, and what the end of a pass or round leaves for the next round. Pure: the engine says
//! whether a page belongs to a round, and reads and plans as these decide.

use super::ledger::Key;
use super::moving::{Head, MAX_ROUNDS};
use super::pass_end::AtHead;

/// What a page of `items` (known by `keys`) says of the head of the list. `round` where it
/// belongs to a head round rather than the main pass, and `first_of_pass` where it is the first
/// page of either (offset 0, nothing read before it): the main pass's first page marks the
/// head, a round's first page is compared with the head the round before found, and any page
/// of a round may reach records that did not move.
pub(super) fn at_head<T>(
    head: &mut Head<T>,
    round: bool,
    first_of_pass: bool,
    items: &[T],
    keys: &[Key],
) -> AtHead {
    match (round, first_of_pass) {
        (false, true) if head.before.is_none() => {
            head.before = Some(head.mark(items, keys));
            AtHead::Elsewhere
        }
        (true, true) => {
            let mark = head.mark(items, keys);
            // Without a key, ids alone can look the same after records moved (the first
            // page's chats each got a message, in order): a round that found records it
            // had not yielded cannot be the last.
            let same = head.before.as_ref() == Some(&mark);
            if same && (mark.newest.is_some() || !head.brought_before) {
                return AtHead::Still;
            }
            head.now = Some(mark);
            unmoved(head, items)
        }
        (true, false) => unmoved(head, items),
        (false, _) => AtHead::Elsewhere,
    }
}

fn unmoved<T>(head: &Head<T>, items: &[T]) -> AtHead {
    if head.reached_unmoved(items) {
        AtHead::Unmoved
    } else {
        AtHead::Moved
    }
}

/// Ends the main pass (`round` false) or a head round, and readies the next round; the reason
/// the scan cannot be read whole where the head kept moving through [`MAX_ROUNDS`] rounds.
pub(super) fn next_round<T>(head: &mut Head<T>, round: bool) -> Result<(), String> {
    if round {
        head.before = head.now.take();
    }
    head.brought_before = !round || head.brought;
    head.brought = false;
    head.rounds += 1;
    if head.rounds > MAX_ROUNDS {
        return Err(format!(
            "records kept jumping to the front of the list through {MAX_ROUNDS} re-reads of \
             its head; sort by a field that does not change (the time records were \
             created) to read it whole"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Records that are their own sort key, in seconds since the epoch (read as the API sends
    /// a time, so that the test names no type of the layer above).
    fn keyed() -> Head<i64> {
        Head::new(
            Some(Arc::new(|&t: &i64| serde_json::from_value(t.into()).ok())),
            None,
        )
    }

    fn ids(v: &[u64]) -> Vec<Key> {
        v.iter().map(|&n| Key::Id(n.into())).collect()
    }

    #[test]
    fn the_main_pass_marks_the_head_on_its_first_page_and_stands_elsewhere() {
        let mut head = keyed();
        assert_eq!(
            at_head(&mut head, false, true, &[50, 40], &ids(&[1, 2])),
            AtHead::Elsewhere
        );
        let before = head.before.clone().expect("marked");
        assert_eq!(before.newest, head.mark(&[50], &ids(&[1])).newest);
        assert!(before.newest.is_some());
        at_head(&mut head, false, true, &[90, 80], &ids(&[3, 4]));
        assert_eq!(head.before, Some(before), "a resume's mark is kept");
    }

    #[test]
    fn a_round_whose_first_page_is_the_head_as_before_finds_it_still() {
        let mut head = keyed();
        at_head(&mut head, false, true, &[50, 40], &ids(&[1, 2]));
        next_round(&mut head, false).unwrap();
        assert_eq!(
            at_head(&mut head, true, true, &[50, 40], &ids(&[1, 2])),
            AtHead::Still
        );
    }

    #[test]
    fn a_round_reads_on_until_it_reaches_records_older_than_the_head_before() {
        let mut head = keyed();
        at_head(&mut head, false, true, &[50, 40], &ids(&[1, 2]));
        next_round(&mut head, false).unwrap();
        assert_eq!(
            at_head(&mut head, true, true, &[70, 60], &ids(&[3, 4])),
            AtHead::Moved,
            "records newer than the head before: they moved"
        );
        assert_eq!(
            at_head(&mut head, true, false, &[55, 49], &ids(&[5, 6])),
            AtHead::Unmoved
        );
        next_round(&mut head, true).unwrap();
        assert_eq!(
            head.before.as_ref().and_then(|m| m.newest),
            head.mark(&[70], &ids(&[3])).newest,
            "the next round compares with the head this one found"
        );
    }

    #[test]
    fn without_a_key_a_head_that_looks_the_same_after_a_round_that_brought_records_is_read_again() {
        let mut head: Head<i64> = Head::new(None, None);
        at_head(&mut head, false, true, &[0, 0], &ids(&[1, 2]));
        next_round(&mut head, false).unwrap();
        assert_eq!(
            at_head(&mut head, true, true, &[0, 0], &ids(&[1, 2])),
            AtHead::Moved,
            "the main pass brought records: the same ids may hide records that moved"
        );
        next_round(&mut head, true).unwrap();
        assert_eq!(
            at_head(&mut head, true, true, &[0, 0], &ids(&[1, 2])),
            AtHead::Still,
            "a round that brought nothing, and the head as it left it"
        );
    }

    #[test]
    fn a_head_that_keeps_moving_ends_the_scan_after_the_most_rounds() {
        let mut head = keyed();
        for _ in 0..MAX_ROUNDS {
            next_round(&mut head, true).unwrap();
        }
        let reason = next_round(&mut head, true).unwrap_err();
        assert!(reason.contains("kept jumping to the front"), "{reason}");
    }
}
