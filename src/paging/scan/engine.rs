//! The scan's one state machine: the first page, the planned windows in flight, and each page
//! checked as it comes. It does what its parts decide ([`PassEnd`] where a pass ends, the
//! [heal](super::heal) what moved back, [rounds](super::rounds) the head of an order that
//! moves) and reads through its [`Reader`]; it holds what they need from page to page.

use futures::stream::{FuturesOrdered, StreamExt};
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::http::client::Client;
use crate::paging::envelope::Page;
use crate::paging::request::ListRequest;
use crate::paging::window::{PageSize, Planner, Window};

use super::heal::{self, Gap, MAX_READ_BACK};
use super::keyed::Keyed;
use super::ledger::{Continuity, Key, Ledger};
use super::moving::Head;
use super::pass_end::{AtHead, PassEnd, Read, Verdict};
use super::position::{HeadMark, ScanPosition};
use super::reader::Reader;
use super::report::{with, SharedState};
use super::rounds;
use super::start::{Settings, StopAt};
use super::task::Task;

pub(crate) struct Scan<T> {
    reader: Reader<T>,
    page_size: PageSize,
    first_limit: PageSize,
    concurrency: usize,
    ledger: Ledger,
    planner: Planner,
    in_flight: FuturesOrdered<Task<T>>,
    stage: Stage,
    pass_end: PassEnd,
    /// The keys of the page before.
    prev_keys: Vec<Key>,
    /// How many windows the next heal may read back.
    read_back: u32,
    head: Option<Head<T>>,
    /// The caller's end of the scan, where it set one.
    stop_at: Option<StopAt<T>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The first request of a fresh scan, which reads the total.
    First(u64),
    /// The main pass over the planned windows.
    Main,
    /// A round of reading the head again (an order that moves).
    Head,
    Ended,
}

impl<T> Scan<T>
where
    T: DeserializeOwned + Send + 'static,
{
    pub(crate) fn new(
        client: Client,
        request: ListRequest,
        settings: Settings<T>,
        shared: SharedState,
    ) -> Self {
        let Settings {
            page_size,
            first_limit,
            start,
            concurrency,
            ids,
            moving,
            stop,
        } = settings;
        let begun = start.begin(page_size);
        if let Some(position) = begun.position {
            with(&shared, |s| s.position = Some(position));
        }
        Self {
            reader: Reader::new(client, request, ids, shared),
            page_size,
            first_limit,
            concurrency,
            ledger: begun.ledger,
            planner: begun.planner,
            in_flight: FuturesOrdered::new(),
            stage: begun.first.map_or(Stage::Main, Stage::First),
            pass_end: PassEnd::default(),
            prev_keys: Vec::new(),
            read_back: begun.read_back,
            head: moving.map(|key| Head::new(key, begun.head)),
            stop_at: stop,
        }
    }

    /// The next page of records not yielded before, or `None` at the end. An error ends the
    /// scan: the stream that holds it drops it, and with it the windows in flight.
    pub(crate) async fn next_page(&mut self) -> Option<Result<Page<T>, Error>> {
        let next = self.step().await;
        if let Some(Err(_)) = next {
            // Read on past a failed window and its records would be missing unsaid.
            self.stop();
        }
        next
    }

    async fn step(&mut self) -> Option<Result<Page<T>, Error>> {
        match self.stage {
            Stage::Ended => None,
            Stage::First(offset) => Some(self.first(offset).await),
            Stage::Main | Stage::Head => {
                self.fill();
                match self.in_flight.next().await {
                    Some(Ok(page)) => Some(self.accept(page).await),
                    Some(Err(e)) => Some(Err(e)),
                    // Nothing left to plan: the offsets reached the top of a u64.
                    None => Some(Err(self.reader.incomplete(
                        u64::MAX,
                        "the offsets ran out at the top of a 64-bit number".into(),
                    ))),
                }
            }
        }
    }

    async fn first(&mut self, offset: u64) -> Result<Page<T>, Error> {
        let window = Window::first(offset, self.first_limit);
        let end = window.end()?;
        self.reader.count(|r| r.requests += 1);
        let page = self.reader.fetch(window).await?;
        self.planner = Planner::at(end, true, page.page.total, self.page_size);
        self.stage = Stage::Main;
        self.accept(page).await
    }

    /// Checks a page, heals what moved before it, drops what was yielded already, and decides
    /// what comes next.
    async fn accept(&mut self, page: Keyed<T>) -> Result<Page<T>, Error> {
        let Keyed { page, keys } = self.reader.resound(page).await?;
        if let Some(at) = keys.iter().position(|k| k.id().is_none()) {
            if self.head.is_some() {
                // A record without an id is known only by the anchor and the page it is read
                // against: a head round, which starts afresh, would yield it again.
                let offset = page.offset.saturating_add(at as u64);
                return Err(self.reader.incomplete(
                    offset,
                    format!(
                        "an order that moves needs ids; the record at offset {offset} has none \
                         (sort by a field that does not change, or give the paginator .ids())"
                    ),
                ));
            }
        }
        self.planner.saw_total(page.total);
        let overlaps = self.planner.overlaps();
        let mut continuity = self.ledger.continuity(&keys, &self.prev_keys, overlaps);
        let (mut page, mut keys) = (page, keys);
        if continuity == Continuity::MovedBack && matches!(self.ledger.anchor, Some(Key::Whole(_)))
        {
            // Read beside other windows, the page may be older than the one before it, and
            // records inserted between the two reads put an anchor without an id ahead of it,
            // where no read-back finds it: the page is read once more first.
            Keyed { page, keys } = heal::ReadBack::reread(&self.reader, page.window()).await?;
            self.planner.saw_total(page.total);
            continuity = self.ledger.continuity(&keys, &self.prev_keys, overlaps);
        }
        let (recovered, reached) =
            match continuity {
                Continuity::Connected => (Vec::new(), None),
                Continuity::MovedOn(_) => {
                    self.reader.count(|r| {
                        r.shifts_detected += 1;
                        r.shifts_healed += 1;
                    });
                    (Vec::new(), None)
                }
                Continuity::MovedBack => {
                    self.reader.count(|r| r.shifts_detected += 1);
                    let gap = Gap {
                        page_offset: page.offset,
                        keys: &keys,
                        page_size: self.page_size,
                        seen: &self.ledger.seen,
                        anchor: self.ledger.anchor.as_ref(),
                        prev_keys: &self.prev_keys,
                        read_back: std::mem::replace(&mut self.read_back, MAX_READ_BACK),
                    };
                    let healed = heal::heal(gap, &self.reader).await?;
                    self.reader.count(|r| r.shifts_healed += 1);
                    (healed.records, healed.reached)
                }
                Continuity::Ambiguous => return Err(self.reader.incomplete(
                    page.offset,
                    "the record this page should start on has no id, and the page holds a record \
                     the same as it in every field where the records before it do not match: \
                     which one it is cannot be told; give the paginator .ids() to follow the \
                     records"
                        .into(),
                )),
            };
        // A resume's first page has been placed; later heals read back the usual distance.
        self.read_back = MAX_READ_BACK;
        let at_head = self.note_head(&page, &keys);
        let Page {
            items,
            offset,
            limit,
            total,
            received,
        } = page;
        let barren = !keys.is_empty() && keys == self.prev_keys;
        let last = keys.last().cloned();
        // The records the window starts with that were yielded already: the anchor, and any
        // inserted before it since. A record without an id is dropped only as one of these,
        // found by the whole record, never for its position alone.
        let yielded = match self.ledger.anchor {
            Some(_) if overlaps => continuity.yielded(),
            _ => 0,
        };
        let (items, dropped) = self.ledger.admit(recovered, items, &keys, yielded);
        if dropped > 0 {
            self.reader.count(|r| r.duplicates_dropped += dropped);
        }
        if received > 0 {
            self.prev_keys = keys;
        }
        if let Some(head) = self.head.as_mut().filter(|_| self.stage == Stage::Head) {
            head.brought |= !items.is_empty();
        }
        let mut items = items;
        let wanted = self
            .stop_at
            .as_ref()
            .and_then(|stop| items.iter().position(|r| stop(r)));
        if let Some(wanted) = wanted {
            // The caller's end: the windows read ahead are aborted, none more is asked for,
            // and the position stays before this page (its rest was not yielded).
            items.truncate(wanted);
            self.stop();
            return Ok(Page {
                items,
                offset,
                limit,
                total,
                received,
            });
        }
        // Where the scan now stands: past the page's last record; for an empty page, past the
        // last record the heal read (the page's own offset may lie past the list's end).
        let (end, read_total) = match (received, reached) {
            // The read-back read the list after the page did: its end and total go together.
            (0, Some(reached)) => {
                self.ledger.anchor = reached.key;
                (reached.end, reached.total)
            }
            (0, None) => (offset, total),
            (n, _) => {
                self.ledger.anchor = last;
                (offset.saturating_add(n as u64), total)
            }
        };
        if self.stage == Stage::Main {
            let head = self.head.as_ref().and_then(|h| h.before.clone());
            let position = position_at(
                end,
                self.ledger.anchor.as_ref(),
                self.planner.horizon(),
                head,
            );
            with(self.reader.shared(), |s| s.position = Some(position));
        }
        self.decide(
            Read {
                end,
                full: received >= limit as usize,
                total: read_total,
                brought: items.len(),
                barren,
            },
            at_head,
        )?;
        Ok(Page {
            items,
            offset,
            limit,
            total,
            received,
        })
    }

    /// Where the scan goes after a page, as the end-of-pass decision says.
    fn decide(&mut self, read: Read, at_head: AtHead) -> Result<(), Error> {
        match self
            .pass_end
            .after(read, at_head, self.stage == Stage::Main)
        {
            Verdict::Whole => self.stop(),
            Verdict::ReadOn => {
                self.fill();
                if self.in_flight.is_empty() {
                    // Full to the last window: the collection grew past its totals.
                    self.planner.grow();
                }
            }
            Verdict::PassEnds => {
                self.prev_keys.clear();
                self.end_pass()?;
            }
            Verdict::Confirm { from } => {
                tracing::debug!(
                    end = from,
                    total = read.total,
                    "a page ended before its total; reading on from its end to confirm"
                );
                self.reader.count(|r| r.short_pages += 1);
                self.in_flight = FuturesOrdered::new();
                self.planner.restart_at(from, self.ledger.anchor.is_some());
            }
            Verdict::Incomplete { offset, reason } => {
                return Err(self.reader.incomplete(offset, reason))
            }
        }
        Ok(())
    }

    /// The end of the main pass or of a head round.
    fn end_pass(&mut self) -> Result<(), Error> {
        self.in_flight = FuturesOrdered::new();
        let Some(head) = &mut self.head else {
            self.stage = Stage::Ended;
            return Ok(());
        };
        if let Err(reason) = rounds::next_round(head, self.stage == Stage::Head) {
            return Err(self.reader.incomplete(0, reason));
        }
        self.reader.count(|r| r.head_rounds += 1);
        self.stage = Stage::Head;
        self.ledger.anchor = None;
        self.planner.restart_at(0, false);
        Ok(())
    }

    /// What a page says of the head of an order that moves.
    fn note_head(&mut self, page: &Page<T>, keys: &[Key]) -> AtHead {
        let Some(head) = &mut self.head else {
            return AtHead::Elsewhere;
        };
        let first_of_pass = page.offset == 0 && self.ledger.anchor.is_none();
        rounds::at_head(
            head,
            self.stage == Stage::Head,
            first_of_pass,
            &page.items,
            keys,
        )
    }

    /// Fills the windows in flight up to the concurrency; one at a time in a head round, which
    /// must stop where the records stop having moved, and while a short page is confirmed.
    fn fill(&mut self) {
        let extra = self.stage == Stage::Head || self.pass_end.confirming();
        let most = if extra { 1 } else { self.concurrency };
        while self.in_flight.len() < most {
            let Some(window) = self.planner.next() else {
                break;
            };
            self.reader.count(|r| {
                r.requests += 1;
                r.extra_requests += u64::from(extra);
            });
            let task = self.reader.spawn(window, self.pass_end.pause());
            self.in_flight.push_back(task);
        }
    }

    fn stop(&mut self) {
        self.stage = Stage::Ended;
        // Dropping the windows still in flight aborts them.
        self.in_flight = FuturesOrdered::new();
    }
}

/// Where a scan stands once it has read to `end`, for a resume: past its last record (the
/// anchor), with the largest total seen and the head of an order that moves.
fn position_at(end: u64, anchor: Option<&Key>, total: u64, head: Option<HeadMark>) -> ScanPosition {
    let (anchor, anchor_record) = match anchor {
        Some(Key::Id(id)) => (Some(id.clone()), None),
        Some(Key::Whole(record)) => (None, Some(record.to_string())),
        None => (None, None),
    };
    ScanPosition {
        offset: end,
        anchor,
        anchor_record,
        total,
        head,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::scan::RecordId;

    #[test]
    fn a_position_keeps_an_anchor_with_an_id_by_its_id() {
        let anchor = Key::Id(RecordId::from("007"));
        let position = position_at(140, Some(&anchor), 900, None);
        assert_eq!((position.offset(), position.total()), (140, 900));
        assert_eq!(position.anchor(), Some(&RecordId::from("007")));
        assert_eq!(position.anchor_key(), Some(anchor), "a resume starts on it");
    }

    #[test]
    fn a_position_keeps_an_anchor_without_an_id_whole() {
        let anchor = Key::Whole(r#"{"name":"a"}"#.into());
        let position = position_at(3, Some(&anchor), 3, None);
        assert_eq!(position.anchor(), None);
        assert_eq!(position.anchor_key(), Some(anchor));
        let unanchored = position_at(0, None, 0, None);
        assert_eq!(unanchored.anchor_key(), None, "nothing read yet");
    }
}
