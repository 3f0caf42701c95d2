//! One scan of a collection: the first page, then the planned windows in flight, checked page
//! by page so that records moving while the scan runs are neither lost nor yielded twice.
//!
//! Offset paging has a hole: a record inserted before the cursor pushes every later record one
//! place on (the next page repeats one), and a record deleted before it pulls them one place
//! back (the next page skips one). Where records have ids, the scan closes it:
//!
//! - Each window after the first starts on the last record of the one before, the anchor. If
//!   the page does not start with the anchor, the records moved between the two requests.
//! - Moved on (inserts): the anchor is further into the page; what comes before it was already
//!   yielded. Moved back (deletes): the anchor is not in the page at all, and the records
//!   between it and the page were skipped; the scan reads back, a window at a time, until it
//!   meets records it has yielded, and yields the ones it had not.
//! - Every id yielded is remembered (in a compressed bitmap: a few bytes each), and a record
//!   whose id was yielded already is dropped, whatever the reason it came again.
//! - The last window asks for one record past the total; a full answer means the collection
//!   grew, and the scan goes on until a page comes back short.
//!
//! The overlap costs one record a page: 101 requests where 100 would do, when nothing moves.

use std::collections::HashSet;

use roaring::RoaringTreemap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use futures::stream::{FuturesOrdered, StreamExt};
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::envelope::Page;
use crate::error::Error;
use crate::request::ListRequest;
use crate::window::{PageSize, Planner, Window};

/// How a record's id is read, for the scan's checks. `None` for a record without one.
pub(crate) type IdOf<T> = Arc<dyn Fn(&T) -> Option<u64> + Send + Sync>;

/// The most windows a scan reads to heal one shift before it reports it unhealed.
const MAX_READ_BACK: u32 = 16;

/// What a scan saw of the data moving under it, and what that cost.
///
/// ```
/// let report = helpcrunch_pager::ScanReport::default();
/// assert_eq!((report.shifts_detected, report.duplicates_dropped), (0, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ScanReport {
    /// Page boundaries where the records had moved since the page before was read.
    pub shifts_detected: u64,
    /// Of those, the ones the scan repaired: every record that stayed in the collection was
    /// yielded once.
    pub shifts_healed: u64,
    /// Records dropped because their id had been yielded already.
    pub duplicates_dropped: u64,
    /// Requests made to heal shifts, beyond the planned windows.
    pub extra_requests: u64,
    /// Every request the scan made, the first page's included (retries not counted).
    pub requests: u64,
}

/// The report, shared between a scan and whoever holds its paginator.
pub(crate) type SharedReport = Arc<Mutex<ScanReport>>;

pub(crate) struct Scan<T> {
    client: Client,
    request: Arc<ListRequest>,
    page_size: PageSize,
    concurrency: usize,
    ids: Option<IdOf<T>>,
    report: SharedReport,
    stage: Stage<T>,
}

enum Stage<T> {
    First { start: u64 },
    Rest(Box<Rest<T>>),
    Ended,
}

struct Rest<T> {
    planner: Planner,
    in_flight: FuturesOrdered<Spawned<T>>,
    /// The id of the last record of the last page, where the next page should start.
    anchor: Option<u64>,
    /// Every id yielded, compressed (HelpCrunch's ids rise with time, so they cluster).
    seen: RoaringTreemap,
}

impl<T> Scan<T>
where
    T: DeserializeOwned + Send + 'static,
{
    pub(crate) fn new(
        client: Client,
        request: ListRequest,
        (page_size, start, concurrency): (PageSize, u64, usize),
        ids: Option<IdOf<T>>,
        report: SharedReport,
    ) -> Self {
        Self {
            client,
            request: Arc::new(request),
            page_size,
            concurrency,
            ids,
            report,
            stage: Stage::First { start },
        }
    }

    /// The next page of records not yielded before, or `None` at the end.
    pub(crate) async fn next_page(&mut self) -> Option<Result<Page<T>, Error>> {
        let result = match std::mem::replace(&mut self.stage, Stage::Ended) {
            Stage::Ended => return None,
            Stage::First { start } => self.first(start).await,
            Stage::Rest(rest) => self.rest(rest).await?,
        };
        if result.is_err() {
            self.stage = Stage::Ended;
        }
        Some(result)
    }

    async fn first(&mut self, start: u64) -> Result<Page<T>, Error> {
        let window = Window::first(start, self.page_size);
        window.end()?;
        let page = self.fetch(window).await?;
        let (page, ids) = self.resound(page).await?;
        let planner = Planner::new(window, page.total, self.page_size, self.ids.is_some());
        let mut rest = Box::new(Rest {
            planner,
            in_flight: FuturesOrdered::new(),
            anchor: None,
            seen: RoaringTreemap::new(),
        });
        let page = self.checked(&mut rest, page, ids, Vec::new());
        self.continue_after(rest, &page);
        Ok(page)
    }

    /// The next planned page, checked; `None` where nothing is left to plan (a plan at the
    /// very top of the offsets).
    async fn rest(&mut self, mut rest: Box<Rest<T>>) -> Option<Result<Page<T>, Error>> {
        self.fill(&mut rest);
        let page = match rest.in_flight.next().await? {
            Ok(page) => page,
            Err(e) => return Some(Err(e)),
        };
        Some(self.accept(rest, page).await)
    }

    async fn accept(&mut self, mut rest: Box<Rest<T>>, page: Page<T>) -> Result<Page<T>, Error> {
        let (page, ids) = self.resound(page).await?;
        rest.planner.saw_total(page.total);
        let recovered = self.heal(&mut rest, page.offset, &ids).await?;
        let page = self.checked(&mut rest, page, ids, recovered);
        self.continue_after(rest, &page);
        Ok(page)
    }

    /// Each record's id, read once per record: the exporter's reader parses raw JSON.
    fn ids_of(&self, records: &[T]) -> Vec<Option<u64>> {
        match &self.ids {
            Some(id_of) => records.iter().map(|r| id_of(r)).collect(),
            None => vec![None; records.len()],
        }
    }

    /// The page and its records' ids if it is sound; otherwise the same window asked once
    /// more (a server can glitch once), and a typed error if that answer is no better.
    async fn resound(&mut self, page: Page<T>) -> Result<(Page<T>, Vec<Option<u64>>), Error> {
        let ids = self.ids_of(&page.items);
        if self.sound(&page, &ids).is_ok() {
            return Ok((page, ids));
        }
        let window = Window {
            offset: page.offset,
            limit: page.limit,
        };
        tracing::debug!(
            offset = page.offset,
            "asking again for a page that cannot be right"
        );
        let again = self.extra(window).await?;
        let ids = self.ids_of(&again.items);
        self.sound(&again, &ids)?;
        Ok((again, ids))
    }

    /// Refuses a page that cannot be what was asked for: more records than the limit, or one
    /// id twice (a record then stands where another should, which would be lost unseen).
    fn sound(&self, page: &Page<T>, ids: &[Option<u64>]) -> Result<(), Error> {
        let broken = |message: String| {
            Err(Error::Decode {
                path: self.request.path.clone(),
                offset: page.offset,
                message,
            })
        };
        if page.received > page.limit as usize {
            return broken(format!(
                "the page holds {} records where {} were asked for",
                page.received, page.limit
            ));
        }
        let mut unique = HashSet::with_capacity(ids.len());
        if let Some(id) = ids.iter().flatten().find(|&&id| !unique.insert(id)) {
            return broken(format!("the page holds id {id} twice"));
        }
        Ok(())
    }

    /// Ends the scan at a short page; otherwise keeps it going, past the plan if need be.
    fn continue_after(&mut self, mut rest: Box<Rest<T>>, page: &Page<T>) {
        if page.is_short() {
            // Dropping the windows still in flight aborts them.
            return;
        }
        self.fill(&mut rest);
        if rest.in_flight.is_empty() {
            rest.planner.go_on();
        }
        self.stage = Stage::Rest(rest);
    }

    fn fill(&self, rest: &mut Rest<T>) {
        while rest.in_flight.len() < self.concurrency {
            let Some(window) = rest.planner.next() else {
                break;
            };
            let (client, request) = (self.client.clone(), Arc::clone(&self.request));
            self.count(|r| r.requests += 1);
            rest.in_flight.push_back(Spawned::new(
                async move { client.fetch_page::<T>(&request, window).await },
                &self.request.path,
                window.offset,
            ));
        }
    }

    // `&mut self`, not `&self`: a shared borrow held across the await would need the scan to
    // be `Sync`, which its pages in flight are not.
    async fn fetch(&mut self, window: Window) -> Result<Page<T>, Error> {
        self.count(|r| r.requests += 1);
        self.client.fetch_page::<T>(&self.request, window).await
    }

    /// Where the page does not start on the anchor and the anchor is not in it, the records
    /// moved back: reads back until it meets records already yielded, and returns the ones
    /// it had not yielded, in order.
    async fn heal(
        &mut self,
        rest: &mut Rest<T>,
        page_offset: u64,
        ids: &[Option<u64>],
    ) -> Result<Vec<(T, Option<u64>)>, Error> {
        // Anchors exist only where records have ids and windows overlap.
        let Some(anchor) = rest.anchor.filter(|_| rest.planner.overlaps()) else {
            return Ok(Vec::new());
        };
        match ids.iter().position(|&id| id == Some(anchor)) {
            Some(0) => return Ok(Vec::new()),
            // Moved on: what comes before the anchor was yielded already.
            Some(_) => {
                self.count(|r| {
                    r.shifts_detected += 1;
                    r.shifts_healed += 1;
                });
                return Ok(Vec::new());
            }
            None => {}
        }
        self.count(|r| r.shifts_detected += 1);
        // The page was read at one moment and the page before it at another: the records
        // between them are found by identity, not position, since the reads made to find them
        // can see the records move again. Each window read must hold a record already known
        // (yielded, or found by this heal); the records after the last known one, up to the
        // first of the page's own, are the ones the scan skipped. A window with nothing known
        // lies past the gap, so the next one starts further back; a window that ends before
        // the page's own records leads on to the next, anchored on its last record.
        let page_ids: HashSet<u64> = ids.iter().flatten().copied().collect();
        let size = self.page_size.get();
        let step = u64::from(size) - 1;
        let mut heal = Heal {
            recovered: Vec::new(),
            taken: HashSet::new(),
        };
        let mut start = page_offset.saturating_sub(step);
        for _ in 0..MAX_READ_BACK {
            let window = self
                .extra(Window {
                    offset: start,
                    limit: size,
                })
                .await?;
            let short = window.is_short();
            let received = window.received as u64;
            let window_ids = self.ids_of(&window.items);
            let known = |id: u64| rest.seen.contains(id) || heal.taken.contains(&id);
            let end = window_ids
                .iter()
                .position(|id| id.is_some_and(|id| page_ids.contains(&id)))
                .unwrap_or(window_ids.len());
            let last_known = window_ids[..end]
                .iter()
                .rposition(|id| id.is_some_and(known));
            if last_known.is_none() && start > 0 {
                start = start.saturating_sub(step);
                continue;
            }
            let from = last_known.map_or(0, |i| i + 1);
            let reached_page = end < window_ids.len();
            heal.take(
                window
                    .items
                    .into_iter()
                    .zip(window_ids)
                    .take(end)
                    .skip(from),
                &rest.seen,
            );
            if reached_page || short {
                self.count(|r| r.shifts_healed += 1);
                return Ok(heal.recovered);
            }
            // The window's last record is known now: the next starts on it.
            start += received.saturating_sub(1).max(1);
        }
        tracing::warn!(
            path = %self.request.path,
            offset = page_offset,
            "records moved too far during the scan to be found again within \
             {MAX_READ_BACK} requests; some may be missing"
        );
        Ok(heal.recovered)
    }

    async fn extra(&mut self, window: Window) -> Result<Page<T>, Error> {
        self.count(|r| r.extra_requests += 1);
        self.fetch(window).await
    }

    /// The page as the caller sees it: the recovered records first, then the page's own, each
    /// id once in the whole scan.
    fn checked(
        &self,
        rest: &mut Rest<T>,
        page: Page<T>,
        ids: Vec<Option<u64>>,
        recovered: Vec<(T, Option<u64>)>,
    ) -> Page<T> {
        if self.ids.is_none() {
            return page;
        }
        let anchored = rest.anchor.is_some() && rest.planner.overlaps();
        let last = ids.last().copied().flatten();
        let Page {
            items,
            offset,
            limit,
            total,
            received,
        } = page;
        let mut kept = Vec::with_capacity(items.len() + recovered.len());
        let mut dropped = 0;
        for (record, id) in recovered.into_iter().chain(items.into_iter().zip(ids)) {
            match id {
                Some(id) if !rest.seen.insert(id) => {
                    // The anchor repeats by design; anything else repeating is a duplicate.
                    if !(anchored && Some(id) == rest.anchor) {
                        dropped += 1;
                    }
                }
                _ => kept.push(record),
            }
        }
        if dropped > 0 {
            self.count(|r| r.duplicates_dropped += dropped);
        }
        rest.anchor = last.or(rest.anchor);
        Page {
            items: kept,
            offset,
            limit,
            total,
            received,
        }
    }

    fn count(&self, f: impl FnOnce(&mut ScanReport)) {
        f(&mut self.report.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// The records a heal has found so far.
struct Heal<T> {
    recovered: Vec<(T, Option<u64>)>,
    taken: HashSet<u64>,
}

impl<T> Heal<T> {
    /// Takes the records neither yielded nor taken yet, in order, with their ids.
    fn take(&mut self, records: impl IntoIterator<Item = (T, Option<u64>)>, seen: &RoaringTreemap) {
        for (record, id) in records {
            match id {
                Some(id) if seen.contains(id) || !self.taken.insert(id) => {}
                _ => self.recovered.push((record, id)),
            }
        }
    }
}

/// A window fetched on a task of its own, so that a request the budget has just let go is sent
/// at once instead of waiting while the scan decodes another page; the server would see the
/// two arrive closer together than they left. Dropping it aborts the task.
struct Spawned<T> {
    task: tokio::task::JoinHandle<Result<Page<T>, Error>>,
    path: String,
    offset: u64,
}

impl<T: Send + 'static> Spawned<T> {
    fn new(
        fetch: impl Future<Output = Result<Page<T>, Error>> + Send + 'static,
        path: &str,
        offset: u64,
    ) -> Self {
        Self {
            task: tokio::spawn(fetch),
            path: path.to_owned(),
            offset,
        }
    }
}

impl<T> Future for Spawned<T> {
    type Output = Result<Page<T>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match ready!(Pin::new(&mut self.task).poll(cx)) {
            Ok(result) => Poll::Ready(result),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Poll::Ready(Err(Error::Network {
                timeout: false,
                path: self.path.clone(),
                offset: self.offset,
                source: format!(
                    "the page's task was cancelled, most likely because the runtime is shutting down: {e}"
                )
                .into(),
            })),
        }
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}
