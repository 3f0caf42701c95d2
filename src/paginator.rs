//! [`Paginator`]: a collection as a `Stream` of records, and [`Pages`], the same as a stream of
//! pages. The first page gives the total; the remaining windows are fetched up to `concurrency`
//! at a time and come out in offset order.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures::future;
use futures::stream::{self, BoxStream, Stream, StreamExt};
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::envelope::Page;
use crate::error::Error;
use crate::request::ListRequest;
use crate::window::{PageSize, Window, Windows};

/// How many windows may be in flight at once unless told otherwise.
///
/// At 120 requests a minute the budget lets one request go every 510 ms; a page that takes up
/// to 2 s to answer (HelpCrunch's slow end) needs four in flight to keep the budget busy. Eight
/// covers twice that, and costs at most eight pages of memory.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Every record of a collection, as a [`Stream`] of `Result<T, Error>` in offset order.
///
/// Nothing is sent until the stream is first polled; dropping it cancels whatever is in flight.
/// The scan ends at the total the first page reported, at the first short or empty page, or at
/// the first error (which is yielded, then the stream ends).
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
            pages: None,
            buffer: Vec::new().into_iter(),
        }
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
        self.pages.take().unwrap_or_else(|| {
            let (client, setup) = self
                .setup
                .take()
                .expect("a paginator is set up until polled");
            Pages::new(client, setup)
        })
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
            let pages = match &mut this.pages {
                Some(pages) => pages,
                None => {
                    let (client, setup) = this.setup.take().expect("set up until first polled");
                    this.pages.insert(Pages::new(client, setup))
                }
            };
            match ready!(pages.poll_next_unpin(cx)) {
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
}

impl<T> std::fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages").finish_non_exhaustive()
    }
}

impl<T> Stream for Pages<T> {
    type Item = Result<Page<T>, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl<T> Pages<T>
where
    T: DeserializeOwned + Send + 'static,
{
    fn new(client: Client, setup: Setup) -> Self {
        let concurrency = setup.concurrency.max(1);
        let rest_client = client.clone();
        let first = async move {
            let page_size = PageSize::new(setup.page_size)?;
            if setup.concurrency == 0 {
                return Err(Error::InvalidInput("concurrency must be at least 1".into()));
            }
            setup.request.validate()?;
            let window = Window::first(setup.start_offset, page_size);
            let next_offset = window.end()?;
            let request = Arc::new(setup.request);
            let page = client.fetch_page::<T>(&request, window).await?;
            let rest = (!page.is_short()).then(|| Windows::new(next_offset, page.total, page_size));
            Ok((page, rest, request))
        };
        let inner = stream::once(first)
            .flat_map(move |started| match started {
                Err(e) => stream::once(future::ready(Err(e))).boxed(),
                Ok((page, rest, request)) => {
                    let client = rest_client.clone();
                    let rest = stream::iter(rest.into_iter().flatten())
                        .map(move |window| {
                            let (client, request) = (client.clone(), Arc::clone(&request));
                            Spawned::new(
                                async move { client.fetch_page::<T>(&request, window).await },
                            )
                        })
                        .buffered(concurrency);
                    stream::once(future::ready(Ok(page))).chain(rest).boxed()
                }
            })
            // The first error or short page is the last item: dropping the rest cancels the
            // windows still in flight, so a total that lies cannot make the scan run on.
            .scan(false, |ended, item: Result<Page<T>, Error>| {
                if *ended {
                    return future::ready(None);
                }
                *ended = item.as_ref().map_or(true, Page::is_short);
                future::ready(Some(item))
            })
            .boxed();
        Self { inner }
    }
}

/// A window fetched on a task of its own, so that a request the budget has just let go is sent
/// at once instead of waiting while this stream decodes another page; the server would see the
/// two arrive closer together than they left. Dropping it aborts the task.
struct Spawned<T>(tokio::task::JoinHandle<Result<Page<T>, Error>>);

impl<T: Send + 'static> Spawned<T> {
    fn new(fetch: impl Future<Output = Result<Page<T>, Error>> + Send + 'static) -> Self {
        Self(tokio::spawn(fetch))
    }
}

impl<T> Future for Spawned<T> {
    type Output = Result<Page<T>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match ready!(Pin::new(&mut self.0).poll(cx)) {
            Ok(result) => Poll::Ready(result),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Poll::Ready(Err(Error::Network {
                timeout: false,
                path: String::new(),
                offset: 0,
                source: format!("the page's task was cancelled, most likely because the runtime is shutting down: {e}").into(),
            })),
        }
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
