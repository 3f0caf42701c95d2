//! [`Paginator`]: a collection as a `Stream` of records, and [`Pages`], the same as a stream of
//! pages. The first page gives the total; the remaining windows are fetched up to `concurrency`
//! at a time and come out in offset order, checked by the [scan](crate::paging::scan) for records that
//! moved in between.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures::stream::{self, BoxStream, Fuse, FusedStream, Stream, StreamExt};
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::http::client::Client;
use crate::paging::envelope::Page;
use crate::paging::request::ListRequest;
use crate::paging::scan::{
    with_shared, IdOf, KeyOf, OrderRule, RecordId, Scan, ScanPosition, ScanReport, Seen, Settings,
    SharedState, Start, StopAt,
};
use crate::paging::window::PageSize;
use crate::rate::priority::Priority;

/// How many windows may be in flight at once unless told otherwise.
///
/// At 120 requests a minute the budget lets one request go every 510 ms; a page that takes up
/// to 2 s to answer (HelpCrunch's slow end) needs four in flight to keep the budget busy. Eight
/// covers twice that, and costs at most eight pages of memory.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Every record of a collection, as a [`Stream`] of `Result<T, Error>` in offset order.
///
/// Nothing is sent until the stream is first polled; dropping it cancels whatever is in flight.
/// The scan ends where a page comes back shorter than asked and agrees with its total (the
/// last window asks for one record past the total, so a collection that grew is read to its
/// new end), or where a second read confirms a short page's end; or at the first error, which
/// is yielded, then the stream ends. Polled after its end, it gives `None` again
/// ([`FusedStream`]).
///
/// Records that move while the scan runs are neither lost nor yielded twice: every record that
/// stays in the collection for the whole scan comes out exactly once, and
/// [`report`](Self::report) says what moved and what it cost. The scan follows records by their
/// ids (the crate's models and `serde_json::Value` have them; see [`ids`](Self::ids)), and
/// records without one by the whole record. Where the scan cannot prove that, it ends with
/// [`Error::Incomplete`], never quietly.
///
/// A list that has a stable order is read in it unless another is asked for (as
/// [`Client::chats`] and [`Client::customers`] say): new records append at the end and a
/// record that changes does not move. Orders in which a changed record jumps to the front are
/// followed too (see [`moves_to_front`](Self::moves_to_front)).
///
/// The settings (`page_size`, `start_offset`, `concurrency`, `query`, …) are read when the
/// stream is first polled, and are set before it: a setting changed after the first poll makes
/// the next poll yield an [`Error::InvalidInput`] that names it, and the stream ends there (the
/// scan under way cannot take it, and carrying on without it would ignore it). Bad settings (a
/// page size outside `1..=100`, a concurrency of 0, a path with a query string, a
/// `start_offset` in an order that moves, an order that moves without ids) come out as the
/// stream's first item, an [`Error::InvalidInput`], before any request.
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
    state: State<T>,
    shared: SharedState,
    /// The records of the page read last that are still to come.
    buffer: std::vec::IntoIter<T>,
}

/// Where a paginator is: set up until its first poll, reading from then on.
enum State<T> {
    /// Not polled yet: the client and the settings, as the setters leave them.
    Setup(Box<(Client, Setup<T>)>),
    /// Polled: the page stream the settings became.
    Reading(Pages<T>),
    /// A setting, named here, changed after the first poll: the next poll yields the error
    /// that says so, and the stream ends.
    Refused(String),
}

// The buffer is never pinned through the paginator, so moving it is always sound.
impl<T> Unpin for Paginator<T> {}

struct Setup<T> {
    request: ListRequest,
    page_size: u32,
    start_offset: u64,
    concurrency: usize,
    ids: Option<IdOf<T>>,
    key: Option<KeyOf<T>>,
    order: OrderRule<T>,
    resume: Option<(ScanPosition, Seen)>,
    stop: Option<StopAt<T>>,
}

impl<T> std::fmt::Debug for Paginator<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Paginator");
        if let State::Setup(setup) = &self.state {
            let s = &setup.1;
            d.field("request", &s.request)
                .field("page_size", &s.page_size)
                .field("start_offset", &s.start_offset)
                .field("concurrency", &s.concurrency)
                .field("resume", &s.resume.as_ref().map(|(p, _)| p));
        }
        if let State::Refused(setting) = &self.state {
            d.field("changed_after_first_poll", setting);
        }
        d.field("started", &!matches!(self.state, State::Setup(_)))
            .finish()
    }
}

impl<T> Paginator<T>
where
    T: DeserializeOwned + Send + 'static,
{
    /// A paginator over `request`, its records known by `ids` where the caller gives none, and
    /// its order read by `order` when it is first polled: the api layer's knowledge of the
    /// list, in the scan's terms.
    pub(crate) fn new(
        client: Client,
        request: ListRequest,
        ids: Option<IdOf<T>>,
        order: OrderRule<T>,
    ) -> Self {
        let setup = Setup {
            request,
            page_size: PageSize::MAX.get(),
            start_offset: 0,
            concurrency: DEFAULT_CONCURRENCY,
            ids,
            key: None,
            order,
            resume: None,
            stop: None,
        };
        Self {
            state: State::Setup(Box::new((client, setup))),
            shared: SharedState::default(),
            buffer: Vec::new().into_iter(),
        }
    }

    /// Applies `change` to the settings before the first poll. After it, the scan under way
    /// cannot take it: the stream is refused with an error naming the first such `setting`,
    /// and what it had read but not yielded is dropped with the scan.
    fn set(mut self, setting: &str, change: impl FnOnce(&mut Setup<T>)) -> Self {
        match &mut self.state {
            State::Setup(setup) => change(&mut setup.1),
            // A stream already over stays over: there is nothing left the setting could change.
            State::Reading(pages) if pages.is_terminated() && self.buffer.len() == 0 => {}
            State::Reading(_) => {
                self.state = State::Refused(setting.to_owned());
                self.buffer = Vec::new().into_iter();
            }
            State::Refused(_) => {}
        }
        self
    }

    /// How to read a record's id, which the scan follows records by so that records that move
    /// while it runs are neither lost nor yielded twice (see [`ScanReport`]). The crate's
    /// models, `serde_json::Value` and raw JSON records (their `id` field, a [`RecordId`] as
    /// the API sent it: `7` and `"007"` are two records) have one already; give it for any
    /// other type. An id given here is the caller's own reading: records with the same number
    /// are one record.
    ///
    /// Without ids (or for records without one) the scan follows records by the whole record:
    /// each window starts on the last record of the one before, compared field by field, and
    /// whatever moved is healed or ends in [`Error::Incomplete`]. That costs a second decoding
    /// of such pages, as JSON values, and records the same in every field can end a scan that
    /// cannot tell them apart.
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
    pub fn ids(self, id_of: impl Fn(&T) -> Option<u64> + Send + Sync + 'static) -> Self {
        self.set("ids", |s| {
            s.ids = Some(Arc::new(move |record: &T| {
                id_of(record).map(RecordId::Number)
            }));
        })
    }

    /// Follows the list as an order that moves, its records' sort key read by `key`, whatever
    /// the order the api layer reads (see [`moves_to_front`](Self::moves_to_front)).
    pub(crate) fn sort_key(self, key: KeyOf<T>) -> Self {
        self.set("moves_to_front", |s| s.key = Some(key))
    }

    /// Resumes a scan stopped earlier (say, by a crash) from `position`, the last
    /// [`Pages::position`] it gave, with the ids of the records it had yielded (numbers, or
    /// [`RecordId`]s where some were strings). The first window starts on the last record
    /// read, and records that moved while the scan was stopped are healed as they are while
    /// it runs: every record that stays in the collection throughout comes out once across the
    /// two runs. Replaces [`start_offset`](Self::start_offset).
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// use helpcrunch_pager::ScanPosition;
    /// # async fn run(client: helpcrunch_pager::Client, saved: ScanPosition, written: Vec<u64>)
    /// #     -> Result<(), helpcrunch_pager::Error> {
    /// let rest: Vec<helpcrunch_pager::Customer> =
    ///     client.customers().resume(saved, written).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn resume<I>(self, position: ScanPosition, seen: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<RecordId>,
    {
        self.set("resume", |s| {
            s.resume = Some((position, seen.into_iter().map(Into::into).collect()));
        })
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
        with_shared(&self.shared, |s| s.report)
    }

    /// Records per request, `1..=100` (default 100). Each window after the first starts on the
    /// last record of the one before, so with a page size of 1 those windows ask for two.
    ///
    /// ```
    /// use futures::{StreamExt, TryStreamExt};
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let first_ten: Vec<_> = client.chats().page_size(10).take(10).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn page_size(self, n: u32) -> Self {
        self.set("page_size", |s| s.page_size = n)
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
    pub fn start_offset(self, offset: u64) -> Self {
        self.set("start_offset", |s| s.start_offset = offset)
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
    pub fn concurrency(self, n: usize) -> Self {
        self.set("concurrency", |s| s.concurrency = n)
    }

    /// The budget's lane for the scan's requests (default [`Priority::Background`]): a scan
    /// someone waits on, such as the first page of a list on screen, may go
    /// [`Priority::Interactive`], ahead of other scans' queued windows.
    ///
    /// ```
    /// use futures::{StreamExt, TryStreamExt};
    /// use helpcrunch_pager::Priority;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let on_screen: Vec<_> = client
    ///     .chats()
    ///     .priority(Priority::Interactive)
    ///     .page_size(20)
    ///     .take(20)
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn priority(self, priority: Priority) -> Self {
        self.set("priority", |s| s.request.priority = priority)
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
    pub fn query(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.set("query", |s| {
            s.request.query.push((key.into(), value.into()))
        })
    }

    /// Sets an endpoint parameter: in the body of a search, in the query otherwise.
    pub(crate) fn param(self, key: &str, value: &str) -> Self {
        self.set(key, |s| s.request.set_param(key, value))
    }

    /// Ends the stream before the first record that `stop` is true of, as a scan that only
    /// wants the head of a list does (the messages of a chat, newest first, down to the last
    /// one already read). The page that holds that record is the last one asked for: the
    /// windows read ahead of it are aborted, and those still waiting for the budget are never
    /// sent. `stop` must be true of every record after the first it is true of (the list is
    /// ordered by what it tests); a record it is false of beyond that is not read. In an order
    /// that moves (see [`moves_to_front`](Self::moves_to_front)) it is an
    /// [`Error::InvalidInput`]: a record that jumped to the front after the read passed it would
    /// be lost.
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use helpcrunch_pager::{simulator::Simulator, Client};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = Simulator::builder().departments(1_000).start()?;
    /// let client = Client::builder()
    ///     .api_key(sim.api_key())
    ///     .base_url(sim.base_url())
    ///     .requests_per_minute(6_000)
    ///     .build()?;
    /// let first: Vec<_> = client.departments().stop_at(|d| d.id > 150).try_collect().await?;
    /// assert_eq!(first.len(), 150);
    /// assert_eq!(sim.stats().requests, 2, "two pages of 100, none read ahead of them");
    /// # Ok(()) }
    /// ```
    pub fn stop_at(self, stop: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.set("stop_at", |s| s.stop = Some(Arc::new(stop) as StopAt<T>))
    }

    /// The server's clock when the scan began: the earliest `Date` among the answers it has
    /// read, to the second. `None` before the first answer, or where the server sends no
    /// `Date`. A read of what changed since the last one starts from here, never from the
    /// local clock, which may be off.
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use helpcrunch_pager::{simulator::Simulator, Client};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = Simulator::builder().departments(10).start()?;
    /// let client = Client::builder()
    ///     .api_key(sim.api_key())
    ///     .base_url(sim.base_url())
    ///     .build()?;
    /// let mut departments = client.departments();
    /// assert!(departments.server_date().is_none(), "nothing read yet");
    /// while departments.try_next().await?.is_some() {}
    /// assert!(departments.server_date().is_some());
    /// # Ok(()) }
    /// ```
    pub fn server_date(&self) -> Option<std::time::SystemTime> {
        with_shared(&self.shared, |s| s.began)
    }

    /// The same scan as a stream of whole pages, each with its offset and the reported total.
    /// Call it instead of polling the paginator. Called in the middle of a page the paginator
    /// is yielding, the page stream's one item is an [`Error::InvalidInput`]: the rest of that
    /// page would be missing from it.
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
    pub fn pages(self) -> Pages<T> {
        match self.state {
            // The records left in the buffer would be lost from the page stream, unsaid.
            State::Reading(_) if self.buffer.len() > 0 => {
                State::Refused("pages()".into()).into_pages(self.shared)
            }
            state => state.into_pages(self.shared),
        }
    }

    /// The page stream, made from the settings the first time it is needed.
    fn started(&mut self) -> &mut Pages<T> {
        if !matches!(self.state, State::Reading(_)) {
            // An empty refusal stands in for the moment the settings become pages.
            let state = std::mem::replace(&mut self.state, State::Refused(String::new()));
            self.state = State::Reading(state.into_pages(Arc::clone(&self.shared)));
        }
        match &mut self.state {
            State::Reading(pages) => pages,
            State::Setup(_) | State::Refused(_) => unreachable!("made the page stream above"),
        }
    }
}

impl<T> State<T>
where
    T: DeserializeOwned + Send + 'static,
{
    /// The page stream this state is, or becomes.
    fn into_pages(self, shared: SharedState) -> Pages<T> {
        match self {
            State::Setup(setup) => {
                let (client, setup) = *setup;
                Pages::new(client, setup, shared)
            }
            State::Reading(pages) => pages,
            State::Refused(setting) if setting == "pages()" => Pages::failed(
                Error::InvalidInput(
                    "pages() was called after the paginator had yielded records from a page it \
                     had not finished: the rest of that page would be missing from the page \
                     stream; call pages() before the first poll, or at a page's end"
                        .into(),
                ),
                shared,
            ),
            State::Refused(setting) => Pages::failed(
                Error::InvalidInput(format!(
                    "{setting} was set after the paginator was first polled, when the scan had \
                     started with the settings before it; set it before the first poll"
                )),
                shared,
            ),
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

impl<T> FusedStream for Paginator<T>
where
    T: DeserializeOwned + Send + 'static,
{
    fn is_terminated(&self) -> bool {
        self.buffer.len() == 0
            && matches!(&self.state, State::Reading(pages) if pages.is_terminated())
    }
}

/// A collection as a stream of [`Page`]s, from [`Paginator::pages`]. Polled after its end, it
/// gives `None` again ([`FusedStream`]).
#[must_use = "streams do nothing until polled"]
pub struct Pages<T> {
    inner: Fuse<BoxStream<'static, Result<Page<T>, Error>>>,
    shared: SharedState,
}

impl<T> std::fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("report", &self.report())
            .field("position", &self.position())
            .finish_non_exhaustive()
    }
}

impl<T> Stream for Pages<T> {
    type Item = Result<Page<T>, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl<T> FusedStream for Pages<T> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
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
        with_shared(&self.shared, |s| s.report)
    }

    /// Where the scan stands after the page it yielded last: keep it with the records of that
    /// page and everything before, and [`Paginator::resume`] carries on from there. `None`
    /// before the first page.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let mut pages = client.customers().pages();
    /// while let Some(page) = pages.try_next().await? {
    ///     // Write the page's records somewhere durable, then:
    ///     let position = pages.position().expect("a page was read");
    ///     println!("{}", serde_json::to_string(&position).unwrap());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn position(&self) -> Option<ScanPosition> {
        with_shared(&self.shared, |s| s.position.clone())
    }

    /// The server's clock when the scan began, as [`Paginator::server_date`] says.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let mut pages = client.chats().pages();
    /// let first = pages.try_next().await?;
    /// println!("read from {:?} on the server's clock", pages.server_date());
    /// # Ok(()) }
    /// ```
    pub fn server_date(&self) -> Option<std::time::SystemTime> {
        with_shared(&self.shared, |s| s.began)
    }
}

impl<T> Pages<T>
where
    T: DeserializeOwned + Send + 'static,
{
    fn new(client: Client, setup: Setup<T>, shared: SharedState) -> Self {
        match setup.checked(&client) {
            Ok((request, settings)) => {
                let scan = Scan::new(client, request, settings, Arc::clone(&shared));
                // An error ends the stream, which drops the scan and the windows in flight.
                let inner = stream::try_unfold(scan, |mut scan| async move {
                    Ok(scan.next_page().await.transpose()?.map(|page| (page, scan)))
                });
                Self {
                    inner: inner.boxed().fuse(),
                    shared,
                }
            }
            // Bad settings are the stream's one item, before any request.
            Err(e) => Self::failed(e, shared),
        }
    }

    /// A stream whose one item is `error`, before any request.
    fn failed(error: Error, shared: SharedState) -> Self {
        Self {
            inner: stream::once(async move { Err(error) }).boxed().fuse(),
            shared,
        }
    }
}

impl<T: 'static> Setup<T> {
    /// The request and the settings a scan takes, or the reason they cannot work.
    fn checked(self, client: &Client) -> Result<(ListRequest, Settings<T>), Error> {
        let page_size = PageSize::new(self.page_size)?;
        if self.concurrency == 0 {
            return Err(Error::InvalidInput("concurrency must be at least 1".into()));
        }
        self.request.validate(client.base_url())?;
        let mut request = self.request;
        let read = (self.order)(&mut request);
        let moving = match self.key {
            Some(key) => Some(Some(key)),
            None => read,
        };
        if moving.is_some() && self.stop.is_some() {
            return Err(Error::InvalidInput(
                "stop_at ends a read in an order that stays; in an order that moves, a record \
                 that moved to the front after the read passed it would be lost: sort by a \
                 field that does not change"
                    .into(),
            ));
        }
        if moving.is_some() && self.ids.is_none() {
            return Err(Error::InvalidInput(
                "an order that moves is followed by record ids: give the paginator .ids()".into(),
            ));
        }
        // Windows after the first overlap the one before by a record: with pages of one, they
        // hold two (the anchor and one new record).
        let first_limit = page_size;
        let page_size = match page_size.get() {
            1 => PageSize::new(2)?,
            _ => page_size,
        };
        if moving.is_some() && self.start_offset > 0 && self.resume.is_none() {
            return Err(Error::InvalidInput(
                "start_offset skips records by position, which an order that moves does not \
                 keep; sort by a stable field, or carry on with resume()"
                    .into(),
            ));
        }
        let start = match self.resume {
            Some((position, seen)) => Start::Resume(position, seen),
            None => Start::Offset(self.start_offset),
        };
        let settings = Settings {
            page_size,
            first_limit,
            start,
            concurrency: self.concurrency,
            ids: self.ids,
            moving,
            stop: self.stop,
        };
        Ok((request, settings))
    }
}
