//! The scan's one state machine: the first page, the planned windows in flight, the decision
//! where a pass ends, and the head rounds of an order that moves.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesOrdered, StreamExt};
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::http::client::Client;
use crate::paging::envelope::Page;
use crate::paging::request::ListRequest;
use crate::paging::window::{PageSize, Planner, Window};

use super::heal::MAX_READ_BACK;
use super::keyed::{self, Keyed};
use super::ledger::{self, Continuity, IdOf, Key, Ledger, Seen};
use super::moving::{Head, KeyOf, MAX_ROUNDS};
use super::position::ScanPosition;
use super::report::{with, ScanReport, SharedState};
use super::task::Task;

/// The most short pages in a row, none of them bringing a record, before a scan whose pages
/// keep ending before their total gives up. Each waits longer before it asks (25 ms, doubling
/// to 800 ms), so that a lagging replica has about 1.6 s in all to catch up.
const MAX_CONFIRMATIONS: u32 = 6;

/// The most full pages in a row that hold exactly the records of the page before (a server
/// that ignores `offset` serves the first page again and again) before the scan gives up.
const MAX_BARREN: u32 = 8;

/// Where a scan starts.
#[derive(Debug)]
pub(crate) enum Start {
    /// A fresh scan from this offset.
    Offset(u64),
    /// A scan stopped earlier, with the ids it had yielded.
    Resume(ScanPosition, Seen),
}

/// A scan's settings, checked.
pub(crate) struct Settings<T> {
    pub(crate) page_size: PageSize,
    /// The first window's limit: the page size asked for, which may be 1 where the scan plans
    /// windows of at least 2 (a record of overlap and one new).
    pub(crate) first_limit: PageSize,
    pub(crate) start: Start,
    pub(crate) concurrency: usize,
    pub(crate) ids: Option<IdOf<T>>,
    /// `Some` for an order that moves, with the sort key where it can be read.
    pub(crate) moving: Option<Option<KeyOf<T>>>,
}

pub(crate) struct Scan<T> {
    pub(super) client: Client,
    pub(super) request: Arc<ListRequest>,
    pub(super) page_size: PageSize,
    first_limit: PageSize,
    concurrency: usize,
    pub(super) ids: Option<IdOf<T>>,
    shared: SharedState,
    pub(super) ledger: Ledger,
    planner: Planner,
    in_flight: FuturesOrdered<Task<T>>,
    stage: Stage,
    /// The end a short page claimed, while another read confirms it.
    confirming: Option<u64>,
    /// Short pages in a row that brought no record.
    confirmations: u32,
    /// Reads in a row that ended where the one before did and brought nothing.
    settled: u32,
    /// The total the page before reported.
    last_total: Option<u64>,
    /// How far the last short page ended before its total.
    last_gap: Option<u64>,
    /// Full pages in a row that held exactly the records of the page before.
    barren: u32,
    /// The keys of the page before.
    pub(super) prev_keys: Vec<Key>,
    /// How many windows the next heal may read back.
    pub(super) read_back: u32,
    head: Option<Head<T>>,
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
        } = settings;
        let read_back = match &start {
            Start::Offset(_) => MAX_READ_BACK,
            Start::Resume(position, _) => u32::try_from(
                position.offset.max(position.total) / u64::from(page_size.get()).max(2),
            )
            .unwrap_or(u32::MAX)
            .saturating_add(MAX_READ_BACK),
        };
        let (stage, ledger, planner, before) = match start {
            Start::Offset(offset) => (
                Stage::First(offset),
                Ledger::default(),
                Planner::at(offset, false, 0, page_size),
                None,
            ),
            Start::Resume(position, seen) => {
                let anchor = position.anchor_key();
                let anchored = anchor.is_some();
                let mut planner = Planner::at(position.offset, anchored, position.total, page_size);
                planner.restart_at(position.offset, anchored);
                with(&shared, |s| s.position = Some(position.clone()));
                (
                    Stage::Main,
                    Ledger::new(seen, anchor),
                    planner,
                    position.head,
                )
            }
        };
        Self {
            client,
            request: Arc::new(request),
            page_size,
            concurrency,
            ids,
            shared,
            ledger,
            planner,
            in_flight: FuturesOrdered::new(),
            stage,
            first_limit,
            confirming: None,
            confirmations: 0,
            settled: 0,
            last_total: None,
            last_gap: None,
            barren: 0,
            prev_keys: Vec::new(),
            read_back,
            head: moving.map(|key| Head::new(key, before)),
        }
    }

    /// The next page of records not yielded before, or `None` at the end. After an error the
    /// scan is over.
    pub(crate) async fn next_page(&mut self) -> Option<Result<Page<T>, Error>> {
        let result = self.step().await?;
        if result.is_err() {
            self.stop();
        }
        Some(result)
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
                    None => Some(Err(self.incomplete(
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
        self.count(|r| r.requests += 1);
        let page = self.fetch(window).await?;
        self.planner = Planner::at(end, true, page.page.total, self.page_size);
        self.stage = Stage::Main;
        self.accept(page).await
    }

    /// Checks a page, heals what moved before it, drops what was yielded already, and decides
    /// what comes next.
    async fn accept(&mut self, page: Keyed<T>) -> Result<Page<T>, Error> {
        let Keyed { page, keys } = self.resound(page).await?;
        if let Some(at) = keys.iter().position(|k| k.id().is_none()) {
            if self.head.is_some() {
                // A record without an id is known only by the anchor and the page it is read
                // against: a head round, which starts afresh, would yield it again.
                let offset = page.offset.saturating_add(at as u64);
                return Err(self.incomplete(
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
            Keyed { page, keys } = self.reread(page.window()).await?;
            self.planner.saw_total(page.total);
            continuity = self.ledger.continuity(&keys, &self.prev_keys, overlaps);
        }
        let (recovered, reached) =
            match continuity {
                Continuity::Connected => (Vec::new(), None),
                Continuity::MovedOn(_) => {
                    self.count(|r| {
                        r.shifts_detected += 1;
                        r.shifts_healed += 1;
                    });
                    (Vec::new(), None)
                }
                Continuity::MovedBack => {
                    self.count(|r| r.shifts_detected += 1);
                    let healed = self.heal(page.offset, &keys).await?;
                    self.count(|r| r.shifts_healed += 1);
                    (healed.records, healed.reached)
                }
                Continuity::Ambiguous => return Err(self.incomplete(
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
            self.count(|r| r.duplicates_dropped += dropped);
        }
        if received > 0 {
            self.prev_keys = keys;
        }
        if let Some(head) = self.head.as_mut().filter(|_| self.stage == Stage::Head) {
            head.brought |= !items.is_empty();
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
            self.keep_position(end);
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

    /// Where the scan goes after a page.
    fn decide(&mut self, read: Read, at_head: AtHead) -> Result<(), Error> {
        if at_head == AtHead::Still {
            // The head stood still since the round before: nothing was missed.
            self.stop();
            return Ok(());
        }
        // How far a total may be from the records without the scan calling it wrong: the docs'
        // agents example reports 5 for 4, and a count can race the rows it counts.
        let tolerance = (read.total / 1_000).max(1);
        // A total that fell at once costs one confirming read (a replica that lost rows would
        // show that), not more: a list that keeps shrinking keeps its totals falling.
        let fell = self.confirming.is_none()
            && self
                .last_total
                .is_some_and(|last| read.total.saturating_add(tolerance) < last);
        self.last_total = Some(read.total);
        if read.full && at_head != AtHead::Unmoved {
            self.barren = if read.barren && self.stage == Stage::Main {
                self.barren + 1
            } else {
                0
            };
            if self.barren > MAX_BARREN {
                return Err(self.incomplete(
                    read.end,
                    format!(
                        "{} full pages in a row held the same records as the page before: the \
                         server seems to ignore offset",
                        self.barren
                    ),
                ));
            }
            self.no_longer_confirming();
            self.fill();
            if self.in_flight.is_empty() {
                // Full to the last window: the collection grew past its totals.
                self.planner.grow();
            }
            return Ok(());
        }
        if at_head == AtHead::Unmoved || (read.end >= read.total && !fell) {
            return self.end_at_last();
        }
        // Short while the total says there is more (or a total that fell at once): a lagging
        // replica or a query cut off looks like this, and so does a total that overcounts.
        // Read on from the page's end, waiting longer each time.
        // Reads settle where they bring nothing and end as far before the total as the read
        // before did (records arriving at the front move the end and the total together).
        let gap = read.total.saturating_sub(read.end);
        let steady = self.confirming.is_some() && read.brought == 0 && self.last_gap == Some(gap);
        self.settled = if steady { self.settled + 1 } else { 0 };
        self.last_gap = Some(gap);
        if self.settled >= 2 && gap <= (read.total / 100).max(5) {
            // Three reads in a row end here, the total a little past: a total that overcounts
            // (the docs' agents example reports 5 for 4). Further past, it is not reconciled.
            return self.end_at_last();
        }
        self.confirmations = if read.brought == 0 {
            self.confirmations + 1
        } else {
            0
        };
        if self.confirmations > MAX_CONFIRMATIONS {
            return Err(self.incomplete(
                read.end,
                format!(
                    "pages keep ending at offset {} while the total says {}, through {} \
                     confirming reads",
                    read.end, read.total, MAX_CONFIRMATIONS
                ),
            ));
        }
        tracing::debug!(
            end = read.end,
            total = read.total,
            "a page ended before its total; reading on from its end to confirm"
        );
        self.count(|r| r.short_pages += 1);
        self.in_flight = FuturesOrdered::new();
        self.confirming = Some(read.end);
        self.planner
            .restart_at(read.end, self.ledger.anchor.is_some());
        Ok(())
    }

    fn end_at_last(&mut self) -> Result<(), Error> {
        self.no_longer_confirming();
        self.prev_keys.clear();
        self.end_pass()
    }

    /// A page settled where the list goes on or ends: no short page is being confirmed.
    fn no_longer_confirming(&mut self) {
        self.confirming = None;
        self.confirmations = 0;
        self.settled = 0;
        self.last_gap = None;
    }

    /// The end of the main pass or of a head round.
    fn end_pass(&mut self) -> Result<(), Error> {
        self.in_flight = FuturesOrdered::new();
        let Some(head) = &mut self.head else {
            self.stage = Stage::Ended;
            return Ok(());
        };
        if self.stage == Stage::Head {
            head.before = head.now.take();
        }
        head.brought_before = self.stage == Stage::Main || head.brought;
        head.brought = false;
        head.rounds += 1;
        if head.rounds > MAX_ROUNDS {
            let reason = format!(
                "records kept jumping to the front of the list through {MAX_ROUNDS} re-reads of \
                 its head; sort by a field that does not change (the time records were \
                 created) to read it whole"
            );
            return Err(self.incomplete(0, reason));
        }
        self.count(|r| r.head_rounds += 1);
        self.stage = Stage::Head;
        self.ledger.anchor = None;
        self.planner.restart_at(0, false);
        Ok(())
    }

    /// What a page says of the head of the list: the first page of a fresh scan or a round
    /// marks it, and a round's page may reach records that did not move.
    fn note_head(&mut self, page: &Page<T>, keys: &[Key]) -> AtHead {
        let Some(head) = &mut self.head else {
            return AtHead::Elsewhere;
        };
        let first_of_pass = page.offset == 0 && self.ledger.anchor.is_none();
        match self.stage {
            Stage::Main if first_of_pass && head.before.is_none() => {
                head.before = Some(head.mark(&page.items, keys));
                AtHead::Elsewhere
            }
            Stage::Head if first_of_pass => {
                let mark = head.mark(&page.items, keys);
                // Without a key, ids alone can look the same after records moved (the first
                // page's chats each got a message, in order): a round that found records it
                // had not yielded cannot be the last.
                let same = head.before.as_ref() == Some(&mark);
                if same && (mark.newest.is_some() || !head.brought_before) {
                    return AtHead::Still;
                }
                head.now = Some(mark);
                self.unmoved(page)
            }
            Stage::Head => self.unmoved(page),
            _ => AtHead::Elsewhere,
        }
    }

    fn unmoved(&self, page: &Page<T>) -> AtHead {
        match &self.head {
            Some(head) if head.reached_unmoved(&page.items) => AtHead::Unmoved,
            _ => AtHead::Moved,
        }
    }

    /// Records where the scan stands, for a resume.
    fn keep_position(&mut self, end: u64) {
        let (anchor, anchor_record) = match &self.ledger.anchor {
            Some(Key::Id(id)) => (Some(id.clone()), None),
            Some(Key::Whole(record)) => (None, Some(record.to_string())),
            None => (None, None),
        };
        let position = ScanPosition {
            offset: end,
            anchor,
            anchor_record,
            total: self.planner.horizon(),
            head: self.head.as_ref().and_then(|h| h.before.clone()),
        };
        with(&self.shared, |s| s.position = Some(position));
    }

    /// Fills the windows in flight up to the concurrency; one at a time in a head round, which
    /// must stop where the records stop having moved, and while a short page is confirmed.
    fn fill(&mut self) {
        let extra = self.stage == Stage::Head || self.confirming.is_some();
        let most = if extra { 1 } else { self.concurrency };
        while self.in_flight.len() < most {
            let Some(window) = self.planner.next() else {
                break;
            };
            self.count(|r| {
                r.requests += 1;
                r.extra_requests += u64::from(extra);
            });
            let (client, request) = (self.client.clone(), Arc::clone(&self.request));
            let ids = self.ids.clone();
            let pause = confirmation_pause(self.confirmations);
            self.in_flight.push_back(Task::spawn(
                async move {
                    // Not even a zero sleep where there is no pause: it waits for the timer.
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                    request
                        .fetch(&client, window, |body, window| {
                            keyed::decode(body, window, ids.as_ref())
                        })
                        .await
                },
                &self.request.path,
                window.offset,
            ));
        }
    }

    fn stop(&mut self) {
        self.stage = Stage::Ended;
        // Dropping the windows still in flight aborts them.
        self.in_flight = FuturesOrdered::new();
    }

    /// The page and its records' keys if it is sound; otherwise the same window asked once
    /// more (a server can glitch once), and a typed error if that answer is no better.
    pub(super) async fn resound(&mut self, page: Keyed<T>) -> Result<Keyed<T>, Error> {
        if ledger::unsound(page.page.received, page.page.limit, &page.keys).is_none() {
            return Ok(page);
        }
        let window = page.page.window();
        tracing::debug!(
            offset = window.offset,
            "asking again for a page that cannot be right"
        );
        let again = self.extra(window).await?;
        match ledger::unsound(again.page.received, again.page.limit, &again.keys) {
            None => Ok(again),
            Some(message) => Err(Error::Decode {
                path: self.request.path.clone(),
                offset: Some(window.offset),
                message,
            }),
        }
    }

    /// One request beyond the plan, made and awaited in place, and checked as every page is:
    /// a read that cannot be right would yield what it holds.
    pub(super) async fn reread(&mut self, window: Window) -> Result<Keyed<T>, Error> {
        let read = self.extra(window).await?;
        self.resound(read).await
    }

    /// One request beyond the plan, made and awaited in place.
    pub(super) async fn extra(&mut self, window: Window) -> Result<Keyed<T>, Error> {
        self.count(|r| {
            r.requests += 1;
            r.extra_requests += 1;
        });
        self.fetch(window).await
    }

    /// One window, read with its records' keys.
    async fn fetch(&mut self, window: Window) -> Result<Keyed<T>, Error> {
        let (client, request, ids) = (&self.client, &self.request, &self.ids);
        request
            .fetch(client, window, |body, window| {
                keyed::decode(body, window, ids.as_ref())
            })
            .await
    }

    pub(super) fn incomplete(&self, offset: u64, reason: String) -> Error {
        Error::Incomplete {
            path: self.request.path.clone(),
            offset,
            reason,
        }
    }

    pub(super) fn count(&self, f: impl FnOnce(&mut ScanReport)) {
        with(&self.shared, |s| f(&mut s.report));
    }
}

/// How long a confirming read waits before it asks, after `n` short pages in a row that
/// brought nothing: none after the first, then 25 ms, doubling to 800 ms.
fn confirmation_pause(n: u32) -> Duration {
    match n {
        0 => Duration::ZERO,
        n => Duration::from_millis(25 << (n - 1).min(5)),
    }
}

/// What a page told of where the list ends.
#[derive(Debug, Clone, Copy)]
struct Read {
    /// The offset just past its last record.
    end: u64,
    /// Whether it held as many records as asked for.
    full: bool,
    /// The total it reported.
    total: u64,
    /// How many records it brought that had not been yielded.
    brought: usize,
    /// Whether it held exactly the records of the page before.
    barren: bool,
}

/// Where a page stands to the head of an order that moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AtHead {
    /// Not a head round, or no order that moves.
    Elsewhere,
    /// A round's page of records that may have moved since the round before.
    Moved,
    /// A round's page that reaches records that did not move: the round can stop there.
    Unmoved,
    /// A round's first page, the same as the round before found it: the scan is whole.
    Still,
}
