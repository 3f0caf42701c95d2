//! [`Paginator`]: a collection as a `Stream` of records, and [`Pages`], the same as a stream of
//! pages. The first page gives the total; the remaining windows are fetched up to `concurrency`
//! at a time and come out in offset order, checked by the [scan](crate::scan) for records that
//! moved in between.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use futures::stream::{self, BoxStream, Stream, StreamExt};
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::envelope::Page;
use crate::error::Error;
use crate::models;
use crate::request::ListRequest;
use crate::scan::{IdOf, Scan, ScanReport, SharedReport};
use crate::window::PageSize;

/// How many windows may be in flight at once unless told otherwise.
///
/// At 120 requests a minute the budget lets one request go every 510 ms; a page that takes up
/// to 2 s to answer (HelpCrunch's slow end) needs four in flight to keep the budget busy. Eight
/// covers twice that, and costs at most eight pages of memory.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Every record of a collection, as a [`Stream`] of `Result<T, Error>` in offset order.
///
/// Nothing is sent until the stream is first polled; dropping it cancels whatever is in flight.
/// The scan ends at the first page that comes back shorter than asked (the last window asks
/// for one record past the total, so a collection that grew is read to its new end), or at the
/// first error (which is yielded, then the stream ends).
///
/// Where records have ids (the crate's models and `serde_json::Value` do; see
/// [`ids`](Self::ids)), records that move while the scan runs are neither lost nor yielded
/// twice: every record that stays in the collection for the whole scan comes out exactly
/// once, and [`report`](Self::report) says what moved and what it cost.
///
/// The `page_size`, `start_offset`, `concurrency` and `query` settings are read when the stream
/// is first polled. Bad settings (a page size outside `1..=100`, a concurrency of 0, a path with
/// a query string) come out as the stream's first item, an [`Error::InvalidInput`], before any
/// request.
///
/// ```no_run
/// use futures::TryStreamExt;
/// use helpcrunch_pager::{Client, Department};
///
/// # async fn run() -> Result<(), helpcrunch_pager::Error> {
/// let client = Client::from_env()?;
/// let mut departments = client.departments().page_size(50).concurrency(4);
/// while let Some(department) = departments.try_next().await? {
///     println!("{} {}", department.id, department.name);
/// }
/// # Ok(()) }
/// ```
#[must_use = "a paginator does nothing until it is polled"]
pub struct Paginator<T> {
    setup: Option<(Client, Setup)>,
    ids: Option<IdOf<T>>,
    report: SharedReport,
    pages: Option<Pages<T>>,
    buffer: std::vec::IntoIter<T>,
}

// The buffer is never pinned through the paginator, so moving it is always sound.
impl<T> Unpin for Paginator<T> {}

#[derive(Debug)]
struct Setup {
    request: ListRequest,
    page_size: u32,
    start_offset: u64,
    concurrency: usize,
}

impl<T> std::fmt::Debug for Paginator<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paginator")
            .field("setup", &self.setup.as_ref().map(|(_, s)| s))
            .field("started", &self.pages.is_some())
            .finish()
    }
}

impl<T> Paginator<T>
where
    T: DeserializeOwned + Send + 'static,
{
    pub(crate) fn new(client: Client, request: ListRequest) -> Self {
        let setup = Setup {
            request,
            page_size: PageSize::MAX.get(),
            start_offset: 0,
            concurrency: DEFAULT_CONCURRENCY,
        };
        Self {
            setup: Some((client, setup)),
            ids: models::known_ids::<T>(),
            report: Arc::new(Mutex::new(ScanReport::default())),
            pages: None,
            buffer: Vec::new().into_iter(),
        }
    }

    /// How to read a record's id, which the scan needs to keep records that move while it
    /// runs from being lost or yielded twice (see [`ScanReport`]). The crate's models and
    /// `serde_json::Value` (its `id` field) have one already; give it for any other type.
    /// Without ids, the scan is plain offset paging.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// #[derive(serde::Deserialize)]
    /// struct Article { id: u64, title: String }
    ///
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let articles: Vec<Article> = client
    ///     .paginate("knowledge-base/articles")
    ///     .ids(|a: &Article| Some(a.id))
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn ids(mut self, id_of: impl Fn(&T) -> Option<u64> + Send + Sync + 'static) -> Self {
        if self.setup.is_some() {
            self.ids = Some(Arc::new(id_of));
        }
        self
    }

    /// What the scan has seen so far of records moving under it: shifts detected and healed,
    /// duplicates dropped, the requests that cost. Read it during the scan or after.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let mut chats = client.chats();
    /// while let Some(chat) = chats.try_next().await? { /* ... */ }
    /// let report = chats.report();
    /// println!("{} shifts healed, {} duplicates dropped", report.shifts_healed, report.duplicates_dropped);
    /// # Ok(()) }
    /// ```
    pub fn report(&self) -> ScanReport {
        *self.report.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn setup_mut(&mut self) -> Option<&mut Setup> {
        self.setup.as_mut().map(|(_, s)| s)
    }

    /// Records per request, `1..=100` (default 100).
    ///
    /// ```
    /// use futures::{StreamExt, TryStreamExt};
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let first_ten: Vec<_> = client.chats().page_size(10).take(10).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn page_size(mut self, n: u32) -> Self {
        if let Some(s) = self.setup_mut() {
            s.page_size = n;
        }
        self
    }

    /// Where the scan starts (default 0): records before this offset are skipped.
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// // Carry on after the first 5,000 customers, say after a crash.
    /// let rest: Vec<_> = client.customers().start_offset(5_000).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn start_offset(mut self, offset: u64) -> Self {
        if let Some(s) = self.setup_mut() {
            s.start_offset = offset;
        }
        self
    }

    /// How many pages may be in flight at once, at least 1 (default [`DEFAULT_CONCURRENCY`]).
    /// The rate budget, not this, sets the pace; this only has to cover the server's latency.
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// // One page at a time, as a plain loop would do it.
    /// let agents: Vec<_> = client.agents().concurrency(1).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn concurrency(mut self, n: usize) -> Self {
        if let Some(s) = self.setup_mut() {
            s.concurrency = n;
        }
        self
    }

    /// Adds a query parameter to every request's URL, such as `("sort", "chats.createdAt")`.
    /// `offset` and `limit` belong to the paginator and are refused.
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let chats: Vec<serde_json::Value> = client
    ///     .paginate("chats")
    ///     .query("sort", "chats.closedAt")
    ///     .query("order", "desc")
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if let Some(s) = self.setup_mut() {
            s.request.query.push((key.into(), value.into()));
        }
        self
    }

    /// Sets an endpoint parameter: in the body of a search, in the query otherwise.
    pub(crate) fn param(mut self, key: &str, value: &str) -> Self {
        if let Some(s) = self.setup_mut() {
            s.request.set_param(key, value);
        }
        self
    }

    /// The same scan as a stream of whole pages, each with its offset and the reported total.
    /// Call it instead of polling the paginator: records the paginator has already taken from
    /// a page are not in the page stream.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let mut pages = client.departments().pages();
    /// while let Some(page) = pages.try_next().await? {
    ///     println!("offset {} of {}: {} records", page.offset, page.total, page.items.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn pages(mut self) -> Pages<T> {
        self.started();
        self.pages.take().expect("started above")
    }

    /// The page stream, made from the settings the first time it is needed.
    fn started(&mut self) -> &mut Pages<T> {
        match self.pages {
            Some(ref mut pages) => pages,
            None => {
                let (client, setup) = self.setup.take().expect("set up until first polled");
                let pages = Pages::new(client, setup, self.ids.take(), Arc::clone(&self.report));
                self.pages.insert(pages)
            }
        }
    }
}

impl<T> Stream for Paginator<T>
where
    T: DeserializeOwned + Send + 'static,
{
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.buffer.next() {
                return Poll::Ready(Some(Ok(item)));
            }
            match ready!(this.started().poll_next_unpin(cx)) {
                Some(Ok(page)) => this.buffer = page.items.into_iter(),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}

/// A collection as a stream of [`Page`]s, from [`Paginator::pages`].
#[must_use = "streams do nothing until polled"]
pub struct Pages<T> {
    inner: BoxStream<'static, Result<Page<T>, Error>>,
    report: SharedReport,
}

impl<T> std::fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("report", &self.report())
            .finish_non_exhaustive()
    }
}

impl<T> Stream for Pages<T> {
    type Item = Result<Page<T>, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl<T> Pages<T> {
    /// What the scan has seen so far of records moving under it (see [`Paginator::report`]).
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let mut pages = client.chat_messages(42).pages();
    /// while let Some(page) = pages.try_next().await? {
    ///     let moved = pages.report();
    ///     println!("{} new, {} shifts so far", page.items.len(), moved.shifts_detected);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn report(&self) -> ScanReport {
        *self.report.lock().unwrap_or_else(|p| p.into_inner())
    }
}

enum Step<T> {
    Start(Client, Setup, Option<IdOf<T>>, SharedReport),
    Scanning(Scan<T>),
}

impl<T> Pages<T>
where
    T: DeserializeOwned + Send + 'static,
{
    fn new(client: Client, setup: Setup, ids: Option<IdOf<T>>, report: SharedReport) -> Self {
        let start = Step::Start(client, setup, ids, Arc::clone(&report));
        let inner = stream::unfold(Some(start), |step| async move {
            let mut scan = match step? {
                Step::Scanning(scan) => scan,
                Step::Start(client, setup, ids, report) => match setup.checked() {
                    Ok(settings) => Scan::new(client, setup.request, settings, ids, report),
                    // Bad settings are the stream's one item, before any request.
                    Err(e) => return Some((Err(e), None)),
                },
            };
            let page = scan.next_page().await?;
            Some((page, Some(Step::Scanning(scan))))
        })
        .boxed();
        Self { inner, report }
    }
}

impl Setup {
    /// The settings a scan takes, or the reason they cannot work.
    fn checked(&self) -> Result<(PageSize, u64, usize), Error> {
        let page_size = PageSize::new(self.page_size)?;
        if self.concurrency == 0 {
            return Err(Error::InvalidInput("concurrency must be at least 1".into()));
        }
        self.request.validate()?;
        Ok((page_size, self.start_offset, self.concurrency))
    }
}
