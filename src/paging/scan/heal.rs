//! Healing a shift back: where a page does not hold the anchor, records before it were deleted
//! (or moved away) between the two reads, and the records between the anchor and the page were
//! skipped. They are found again by identity, not position, since the reads made to find them
//! can see the records move again: by id, or for records without one by the whole record. A
//! record without an id is known only as the anchor (the last record yielded) or as one this
//! heal found, so it must be met within the read-back, once, or the heal gives up.

use std::collections::HashSet;

use crate::error::Error;
use crate::paging::window::{PageSize, Window};

use super::keyed::Keyed;
use super::ledger::{Key, Seen};

/// The most windows a scan reads to heal one shift before it gives up with
/// [`Error::Incomplete`]: records that moved further than 16 pages between two reads are
/// moving faster than a scan can follow. A resumed scan may read back as far as the list
/// goes, once: whatever moved while it was stopped, it was stopped for a while.
pub(super) const MAX_READ_BACK: u32 = 16;

/// How a heal reads: one window beyond the plan, checked as every page is, and the error that
/// ends a scan which cannot prove it read everything. The engine's reader is one; a test's
/// list in memory is another.
pub(super) trait ReadBack<T> {
    /// Reads `window` now, and refuses a page that cannot be right.
    async fn reread(&self, window: Window) -> Result<Keyed<T>, Error>;

    /// [`Error::Incomplete`] at `offset`, for `reason`.
    fn incomplete(&self, offset: u64, reason: String) -> Error;
}

/// What a heal is given: the page that did not start on the anchor, and what the scan knows.
#[derive(Debug, Clone, Copy)]
pub(super) struct Gap<'a> {
    /// The offset the page was asked for.
    pub(super) page_offset: u64,
    /// The page's records' keys.
    pub(super) keys: &'a [Key],
    /// The size of the windows read back.
    pub(super) page_size: PageSize,
    /// Every id the scan has yielded.
    pub(super) seen: &'a Seen,
    /// The last record the scan yielded.
    pub(super) anchor: Option<&'a Key>,
    /// The keys of the page before, which ends on the anchor.
    pub(super) prev_keys: &'a [Key],
    /// The most windows the heal may read back.
    pub(super) read_back: u32,
}

/// Reads back from the page at `gap.page_offset` (whose records have `gap.keys`) until it
/// meets records already yielded, and returns the ones it had not yielded, in order.
///
/// Each window read must hold a record already known (yielded, or found by this heal); the
/// records after the last known one, up to the first of the page's own, are the ones the
/// scan skipped. A window with nothing known lies past the gap, so the next one starts
/// further back; a window that ends before the page's own records leads on to the next,
/// anchored on its last record.
pub(super) async fn heal<T>(gap: Gap<'_>, reader: &impl ReadBack<T>) -> Result<Healed<T>, Error> {
    let Gap {
        page_offset,
        keys,
        page_size,
        seen,
        anchor,
        prev_keys,
        read_back: most,
    } = gap;
    let page_keys: HashSet<&Key> = keys.iter().collect();
    let size = page_size.get();
    let step = u64::from(size) - 1;
    let mut found = Found {
        records: Vec::new(),
        taken: HashSet::new(),
    };
    let mut start = page_offset.saturating_sub(step);
    let mut cut_at: Option<u64> = None;
    // The anchor, where the window before ended on it: the next window starts on it.
    let mut carried: Option<Key> = None;
    // Whether a window read back placed the anchor: one without an id that the page holds
    // was yielded already, and the page, kept whole after a heal, would yield it again
    // unless the heal met it where it was.
    let mut met_anchor = false;
    for _ in 0..most {
        let window = reader
            .reread(Window {
                offset: start,
                limit: size,
            })
            .await?;
        let (window, window_keys) = (window.page, window.keys);
        let received = window.received as u64;
        let total = window.total;
        // A short window is the end only where the page being healed is empty (a page
        // with records lies past it) and where it agrees with its total, or a second read
        // ends there too (a total that overcounts). Otherwise it was cut short (a lagging
        // replica): read on from its last record.
        let ends_at = start.saturating_add(received);
        let short = window.is_short();
        let at_end = short
            && page_keys.is_empty()
            && (ends_at >= total || cut_at.is_some_and(|cut| ends_at <= cut));
        // The record the anchor stood after, where the page before shows it: an anchor
        // without an id is known only after it, or its twin further on (a record the same
        // in every field) would be taken for it and the anchor's own successor lost.
        let before_anchor = match prev_keys {
            [.., before, last] if Some(last) == anchor => Some(before),
            _ => None,
        };
        let known = |i: usize| match &window_keys[i] {
            key @ Key::Id(id) => seen.contains(id) || found.taken.contains(key),
            // Not by what this heal took: a twin of a record it took (the same in every
            // field) would pass for it and be lost. Only by place: the anchor after the
            // record it followed, or the record the window before ended on.
            key @ Key::Whole(_) => {
                (anchor == Some(key)
                    && before_anchor.is_none_or(|b| i > 0 && &window_keys[i - 1] == b))
                    || (i == 0 && carried.as_ref() == Some(key))
            }
        };
        let end = page_starts(&window_keys, keys, &page_keys);
        let last_known = (0..end).rev().find(|&i| known(i));
        met_anchor |= (0..end).any(|i| anchor == Some(&window_keys[i]) && known(i));
        // A record without an id is known only as the anchor or as one this heal took:
        // after a record known by its id alone, one without may have been yielded already
        // (it stood in the page before) or not, and which cannot be told.
        let after_id = last_known.is_some_and(|i| {
            matches!(window_keys[i], Key::Id(_))
                && anchor != Some(&window_keys[i])
                && !found.taken.contains(&window_keys[i])
        });
        if after_id
            && window_keys[last_known.map_or(0, |i| i + 1)..end]
                .iter()
                .any(|k| k.id().is_none())
        {
            return Err(reader.incomplete(
                page_offset,
                "records moved before the last record read, and records without ids stand \
                 between the last record the scan knows and the page: whether they were \
                 yielded cannot be told; give the paginator .ids() to follow the records"
                    .into(),
            ));
        }
        // A record without an id met twice: which of the two was yielded cannot be told.
        let twice = |i: usize| {
            let key = &window_keys[i];
            matches!(key, Key::Whole(_))
                && window_keys[..end].iter().filter(|k| *k == key).count() > 1
        };
        if last_known.is_some_and(twice) {
            return Err(reader.incomplete(
                page_offset,
                "records moved before a record without an id, and records the same as it \
                 in every field stand near it: where the scan left off cannot be told; give \
                 the paginator .ids() to follow the records"
                    .into(),
            ));
        }
        if last_known.is_none() && start == 0 && matches!(anchor, Some(Key::Whole(_))) {
            // Records without ids are known only by the anchor: the list's start is
            // reached without it, so what was yielded cannot be told.
            break;
        }
        if last_known.is_none()
            && short
            && received > 0
            && end == window_keys.len()
            && ends_at < total
            && !page_keys.is_empty()
            && ends_at < page_offset
        {
            // Cut short before the page (a lagging replica, a cut answer): it says nothing
            // of where the gap is. Read on from its end, taking nothing from it.
            cut_at = Some(ends_at);
            start = ends_at;
            continue;
        }
        if last_known.is_none() && start > 0 {
            // Past the gap; where the list now ends before this window, jump to its end.
            let back = start.saturating_sub(step);
            start = match received {
                0 => back.min(total.saturating_sub(step)),
                _ => back,
            };
            continue;
        }
        let from = last_known.map_or(0, |i| i + 1);
        let reached_page = end < window_keys.len();
        // Every record of the window up to the page is known or taken now: where that is
        // the whole window, the next starts on its last record, known by that place.
        carried = window_keys
            .last()
            .filter(|_| end == window_keys.len())
            .cloned();
        let before_page = end.checked_sub(1).map(|i| Reached {
            key: Some(window_keys[i].clone()),
            end: start + i as u64 + 1,
            total,
        });
        found.take(
            window
                .items
                .into_iter()
                .zip(window_keys)
                .take(end)
                .skip(from),
            seen,
        );
        if reached_page || at_end {
            let whole_anchor = matches!(anchor, Some(Key::Whole(_)));
            if whole_anchor && !met_anchor && keys.iter().any(|k| Some(k) == anchor) {
                return Err(reader.incomplete(
                    page_offset,
                    "records moved next to the last record read, which has no id, and the \
                     page still holds it where the read-back could not place it: whether the \
                     records around it were yielded cannot be told; give the paginator \
                     .ids() to follow the records"
                        .into(),
                ));
            }
            return Ok(Healed {
                records: found.records,
                reached: before_page,
            });
        }
        if short {
            cut_at = Some(ends_at);
        }
        // The window's last record is known now: the next starts on it.
        start += received.saturating_sub(1).max(1);
    }
    let reason = match anchor {
        Some(Key::Whole(_)) => "records moved before the last record read, which has no id, \
             and it is no longer where the read-back could find it (deleted or changed): \
             where the scan left off cannot be told; give the paginator .ids() to follow \
             the records"
            .to_owned(),
        _ => format!(
            "records moved too far during the scan to be found again within {most} \
             read-back requests; run the scan again (the exporter resumes from its \
             checkpoint and reads back as far as it must)"
        ),
    };
    Err(reader.incomplete(page_offset, reason))
}

/// Where the page being healed starts in a window read back: the first record of the window
/// from which the window reads as the page does, as far as both reach. A record with an id
/// marks it by its id alone (it stands once in a list; the page may have lost records at its
/// start since it was read); one without an id only where the records after it read as the
/// page's first ones, or a twin of a page's record standing in the gap would end the heal
/// before it and be lost.
fn page_starts(window: &[Key], page: &[Key], page_keys: &HashSet<&Key>) -> usize {
    (0..window.len())
        .find(|&j| match &window[j] {
            Key::Id(_) => page_keys.contains(&window[j]),
            Key::Whole(_) => !page.is_empty() && window[j..].iter().zip(page).all(|(a, b)| a == b),
        })
        .unwrap_or(window.len())
}

/// What a heal found: the records the scan had skipped, in order, and the last record it read
/// before the page's own, with the offset just past it (where an empty page leaves the scan).
pub(super) struct Healed<T> {
    pub(super) records: Vec<(T, Key)>,
    pub(super) reached: Option<Reached>,
}

/// A record a heal read last, the offset just past it, and the total its read reported.
#[derive(Debug, Clone)]
pub(super) struct Reached {
    pub(super) key: Option<Key>,
    pub(super) end: u64,
    pub(super) total: u64,
}

/// The records a heal has found so far.
struct Found<T> {
    records: Vec<(T, Key)>,
    taken: HashSet<Key>,
}

impl<T> Found<T> {
    /// Takes the records neither yielded nor taken yet, in order, with their keys. Records
    /// without ids are all taken: two the same in every field are two records.
    fn take(&mut self, records: impl IntoIterator<Item = (T, Key)>, seen: &Seen) {
        for (record, key) in records {
            let new = match &key {
                Key::Id(id) => !seen.contains(id) && !self.taken.contains(&key),
                Key::Whole(_) => true,
            };
            if new {
                self.taken.insert(key.clone());
                self.records.push((record, key));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::paging::envelope::Page;

    /// A list in memory whose records are their own ids, read back as the server would serve
    /// it now; it counts its reads.
    struct List {
        ids: Vec<u64>,
        reads: Cell<u32>,
    }

    impl List {
        fn new(ids: impl IntoIterator<Item = u64>) -> Self {
            Self {
                ids: ids.into_iter().collect(),
                reads: Cell::new(0),
            }
        }
    }

    impl ReadBack<u64> for List {
        async fn reread(&self, window: Window) -> Result<Keyed<u64>, Error> {
            self.reads.set(self.reads.get() + 1);
            let items: Vec<u64> = self
                .ids
                .iter()
                .skip(window.offset as usize)
                .take(window.limit as usize)
                .copied()
                .collect();
            Ok(Keyed {
                keys: keys(&items),
                page: Page {
                    received: items.len(),
                    items,
                    offset: window.offset,
                    limit: window.limit,
                    total: self.ids.len() as u64,
                },
            })
        }

        fn incomplete(&self, offset: u64, reason: String) -> Error {
            Error::Incomplete {
                path: "list".into(),
                offset,
                reason,
            }
        }
    }

    fn keys(ids: &[u64]) -> Vec<Key> {
        ids.iter().map(|&n| Key::Id(n.into())).collect()
    }

    #[tokio::test]
    async fn records_skipped_by_deletes_before_the_anchor_are_found_by_reading_back() {
        // The first page held 1..=100; then 10..=14 were deleted, so the window at 99 read
        // 105..=204 and 101..=104 slid back past it unread.
        let list = List::new((1..=300).filter(|n| !(10..=14).contains(n)));
        let seen: Seen = (1..=100u64).map(Into::into).collect();
        let (anchor, before) = (Key::Id(100u64.into()), keys(&(1..=100).collect::<Vec<_>>()));
        let page = keys(&(105..=204).collect::<Vec<_>>());
        let gap = Gap {
            page_offset: 99,
            keys: &page,
            page_size: PageSize::MAX,
            seen: &seen,
            anchor: Some(&anchor),
            prev_keys: &before,
            read_back: MAX_READ_BACK,
        };
        let healed = heal(gap, &list).await.unwrap();
        let found: Vec<u64> = healed.records.into_iter().map(|(id, _)| id).collect();
        assert_eq!(found, [101, 102, 103, 104]);
        let reached = healed.reached.expect("it read up to the page");
        assert_eq!(reached.key, Some(Key::Id(104u64.into())));
        assert_eq!((reached.end, reached.total), (99, 295));
        assert_eq!(list.reads.get(), 1, "one window back reached the anchor");
    }

    #[tokio::test]
    async fn a_heal_that_cannot_meet_a_yielded_record_within_its_read_back_ends_incomplete() {
        // Everything the scan yielded (1..=100) is gone; the page at 999 is far past it.
        let list = List::new(101..=2_000);
        let seen: Seen = (1..=100u64).map(Into::into).collect();
        let anchor = Key::Id(100u64.into());
        let page = keys(&(1_100..=1_199).collect::<Vec<_>>());
        let gap = Gap {
            page_offset: 999,
            keys: &page,
            page_size: PageSize::MAX,
            seen: &seen,
            anchor: Some(&anchor),
            prev_keys: &[],
            read_back: 2,
        };
        let Err(Error::Incomplete { offset, reason, .. }) = heal(gap, &list).await else {
            panic!("a heal that cannot place the page must not carry on");
        };
        assert_eq!(offset, 999);
        assert!(reason.contains("within 2 read-back requests"), "{reason}");
        assert_eq!(list.reads.get(), 2, "no more reads than it was given");
    }
}
