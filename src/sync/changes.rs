//! [`SyncRun`] and [`Changes`]: one run of an incremental sync, and the read of one collection
//! in it, a stream of the records that changed since the collection's bookmark (all of them
//! where it has none), which gives the new bookmark when it has been read to its end.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::stream::{self, BoxStream, Stream, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::api::models;
use crate::api::orders;
use crate::error::Error;
use crate::http::client::Client;
use crate::paging::paginator::Paginator;
use crate::paging::scan::RecordId;
use crate::paging::window::MAX_PAGE_SIZE;

use super::state::{Bookmark, Collection, SyncState};

/// How far before the last run's start a run reads again unless told otherwise: a record
/// that a server commits a little after the time it carries is not skipped.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(5 * 60);

/// How many ids below the highest read before the search for new customers starts. Ids are
/// given out when a customer is created, but a creation that takes longer commits after one
/// that began later: a read that saw the later one may have missed the earlier. Reading the
/// last few again catches those; a quiet run still takes a single page.
const ID_OVERLAP: u64 = 50;

/// The shortest lookback: a `Date` is stamped after the server ran the query and counts whole
/// seconds, so a record changed in between carries a time before it.
pub const MIN_LOOKBACK: Duration = Duration::from_secs(10);

/// How many chats' messages are read at once: with each chat's own read-ahead, enough to keep
/// the budget busy while answers take a second or two.
const CHATS_AT_ONCE: usize = 4;

/// One run of an incremental sync: the reads of the collections, each from its bookmark in
/// the state the run began with. Made by [`Client::sync`].
///
/// A collection with a bookmark is read from the bookmark's time less the
/// [lookback](Self::lookback); one without is read whole. What each read can and cannot see:
///
/// - **chats**: every chat whose `updatedAt` is at or after that time, through
///   `POST /chats/search` (HelpCrunch's "date and time of the last chat update": a new
///   message, a change of status, assignee or department). A deleted chat is not seen.
/// - **customers**: new customers, by `customers.id` greater than the highest id read before
///   (less 50: a creation that commits after a later one's has the lower id), and customers
///   active since, by `customers.lastSeen`: two searches. A customer edited by an agent (a
///   name, a tag, custom data) changes neither, and no search shows it; nor is a deleted
///   customer seen.
/// - **messages**: the messages of every chat changed since, newest first, down to the first
///   one created before that time. A message edited later than it was created, or deleted,
///   is not seen. A chat deleted between the search and the read of its messages is skipped
///   (the API's own 404 on its messages and on the chat; any other 404 fails the read) and
///   counted ([`Changes::chats_gone`]).
/// - **departments** and **agents** have no change time and are read whole every run.
///
/// What no search shows (edits to customers, deletions) comes back only with a full read:
/// [`SyncState::forget`] a collection's bookmark now and then (weekly, say, or whenever a
/// copy must be exact) and that run reads it whole.
///
/// The bookmark comes from the server's clock, the `Date` header of the read's first answer,
/// never from the local clock, which may run ahead or behind.
///
/// ```no_run
/// use futures::TryStreamExt;
/// use helpcrunch_pager::{Chat, Client, Collection, SyncState};
///
/// # async fn run(client: Client) -> Result<(), Box<dyn std::error::Error>> {
/// let path = "helpcrunch-state.json";
/// let mut state: SyncState = match std::fs::read_to_string(path) {
///     Ok(json) => serde_json::from_str(&json)?,
///     Err(_) => SyncState::default(),
/// };
/// let run = client.sync(&state);
/// let mut chats = run.read::<Chat>(Collection::Chats);
/// while let Some(chat) = chats.try_next().await? {
///     println!("upsert chat {}", chat.id); // store it, keyed by id
/// }
/// chats.finish(&mut state)?;
/// // Once what was read is stored for good, the state is replaced whole (a crash mid-write
/// // leaves the old one):
/// std::fs::write("helpcrunch-state.json.new", serde_json::to_string(&state)?)?;
/// std::fs::rename("helpcrunch-state.json.new", path)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a sync run reads nothing until a collection's read is polled"]
pub struct SyncRun {
    client: Client,
    state: SyncState,
    lookback: Duration,
    page_size: u32,
}

impl Client {
    /// An incremental sync run from `state` (the default state for a first run, which reads
    /// everything). See [`SyncRun`].
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// use helpcrunch_pager::{Collection, Customer, SyncState};
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let mut state = SyncState::default();
    /// let mut customers = client.sync(&state).read::<Customer>(Collection::Customers);
    /// let all: Vec<Customer> = (&mut customers).try_collect().await?;
    /// customers.finish(&mut state)?;
    /// # Ok(()) }
    /// ```
    pub fn sync(&self, state: &SyncState) -> SyncRun {
        SyncRun {
            client: self.clone(),
            state: state.clone(),
            lookback: DEFAULT_LOOKBACK,
            page_size: MAX_PAGE_SIZE,
        }
    }
}

impl SyncRun {
    /// How far before a bookmark's time the read starts ([`DEFAULT_LOOKBACK`], five minutes,
    /// unless set; never less than [`MIN_LOOKBACK`], ten seconds, to which a shorter one is
    /// raised): a record committed up to this much later than the time it carries is still
    /// read. A longer lookback reads a few records twice; downstream, an upsert by `id` makes
    /// that harmless.
    ///
    /// ```
    /// use helpcrunch_pager::{simulator::Simulator, Client, Collection, SyncState, MIN_LOOKBACK};
    /// use std::time::Duration;
    /// let sim = Simulator::builder().start()?;
    /// let client = Client::builder().api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// let run = client.sync(&SyncState::default()).lookback(Duration::from_secs(60));
    /// assert_eq!(run.read::<serde_json::Value>(Collection::Chats).lookback(), Duration::from_secs(60));
    /// let run = client.sync(&SyncState::default()).lookback(Duration::ZERO);
    /// assert_eq!(run.read::<serde_json::Value>(Collection::Chats).lookback(), MIN_LOOKBACK);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lookback(mut self, lookback: Duration) -> Self {
        self.lookback = lookback.max(MIN_LOOKBACK);
        self
    }

    /// Records per request, 1 to 100 (the API's most, and the default): a smaller page costs
    /// more requests for the same records. A size outside that is an
    /// [`Error::InvalidInput`] from the reads' first item, as [`Paginator::page_size`] says.
    ///
    /// ```
    /// use helpcrunch_pager::{simulator::Simulator, Client, SyncState};
    /// let sim = Simulator::builder().start()?;
    /// let client = Client::builder().api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// let run = client.sync(&SyncState::default()).page_size(50);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n;
        self
    }

    /// The read of `collection`: the records that changed since its bookmark, or all of them
    /// where it has none, as a stream; [`Changes::finish`] then gives the new bookmark.
    ///
    /// `T` is any record type the crate can read an `id` and a time from: its models
    /// ([`Chat`](crate::Chat), [`Customer`](crate::Customer), [`Message`](crate::Message),
    /// …), `serde_json::Value`, or raw JSON records (feature `raw_value`). Customers need the
    /// ids (the next run reads new customers after the highest); messages are read down to
    /// the first one older than the bookmark by their `createdAt`, and for a type whose
    /// `createdAt` the crate cannot read, every message of each changed chat is read.
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use helpcrunch_pager::{simulator::Simulator, Client, Collection, Department, SyncState};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = Simulator::builder().departments(30).start()?;
    /// let client = Client::builder()
    ///     .api_key(sim.api_key())
    ///     .base_url(sim.base_url())
    ///     .requests_per_minute(6_000)
    ///     .build()?;
    /// let mut state = SyncState::default();
    /// let mut departments = client.sync(&state).read::<Department>(Collection::Departments);
    /// let read: Vec<Department> = (&mut departments).try_collect().await?;
    /// assert_eq!(read.len(), 30);
    /// departments.finish(&mut state)?;
    /// assert!(state.bookmark(Collection::Departments).is_some());
    /// # Ok(()) }
    /// ```
    pub fn read<T>(&self, collection: Collection) -> Changes<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let before = self.state.bookmark(collection);
        let since = before
            .filter(|_| collection.is_incremental())
            .map(|b| b.server_time.saturating_sub(self.lookback.as_secs()));
        let progress = Arc::new(Mutex::new(Progress::default()));
        let (client, size) = (&self.client, self.page_size);
        let inner = match collection {
            Collection::Departments => {
                tracked(client.paginate("departments").page_size(size), &progress)
            }
            Collection::Agents => tracked(client.paginate("agents").page_size(size), &progress),
            Collection::Chats => tracked(chats(client, since, size), &progress),
            Collection::Customers => customers(client, before, since, size, &progress),
            Collection::Messages => messages(client, since, size, &progress),
        };
        Changes {
            inner,
            progress,
            collection,
            before,
            since,
            lookback: self.lookback,
            over: false,
        }
    }
}

/// The chats changed since `since` (every chat for `None`), in the order of their creation,
/// which a change does not move.
fn chats<T>(client: &Client, since: Option<u64>, size: u32) -> Paginator<T>
where
    T: DeserializeOwned + Send + 'static,
{
    let read = match since {
        None => client.paginate("chats"),
        Some(since) => client.search(
            "chats/search",
            json!({"filter": [{"field": "chats.updatedAt", "operator": ">=", "value": since}]}),
        ),
    };
    read.page_size(size)
}

/// New customers by id, then those active since `since`; every customer without a bookmark.
fn customers<T>(
    client: &Client,
    before: Option<Bookmark>,
    since: Option<u64>,
    size: u32,
    progress: &Arc<Mutex<Progress>>,
) -> BoxStream<'static, Result<T, Error>>
where
    T: DeserializeOwned + Send + 'static,
{
    let Some(ids) = models::known_ids::<T>() else {
        return stream::once(async {
            Err(Error::InvalidInput(
                "a sync of customers follows them by id, which the crate cannot read from this \
                 record type: read Customer, serde_json::Value or raw JSON records"
                    .into(),
            ))
        })
        .boxed();
    };
    let number = move |record: &T| match ids(record) {
        Some(RecordId::Number(id)) => Some(id),
        _ => None,
    };
    let number = Arc::new(number);
    let highest = {
        let (progress, number) = (Arc::clone(progress), Arc::clone(&number));
        move |record: &T| {
            if let Some(id) = number(record) {
                let mut p = lock(&progress);
                p.last_id = Some(p.last_id.map_or(id, |had| had.max(id)));
            }
        }
    };
    let (Some(before), Some(since)) = (before, since) else {
        return tracked(client.paginate("customers").page_size(size), progress)
            .inspect_ok(highest)
            .boxed();
    };
    // Read again from a little below the highest id read before: a creation that commits
    // after a later one's has the lower id, and the read before may have missed it.
    let floor = before.last_id.unwrap_or(0).saturating_sub(ID_OVERLAP);
    let new = client
        .search(
            "customers/search",
            json!({"filter": [{"field": "customers.id", "operator": ">", "value": floor}]}),
        )
        .page_size(size);
    // Those active since, of the customers the first search does not read: a new customer is
    // active too, and read once.
    let active = client
        .search(
            "customers/search",
            json!({"comparison": "AND", "filter": [
                {"field": "customers.lastSeen", "operator": ">=", "value": since},
                {"field": "customers.id", "operator": "<=", "value": floor},
            ]}),
        )
        .page_size(size);
    // The server filters by id already; this holds the promise of each customer once should
    // a server not.
    let old = move |record: &T| std::future::ready(number(record).is_none_or(|id| id <= floor));
    tracked(new, progress)
        .inspect_ok(highest)
        .chain(tracked(active, progress).try_filter(old))
        .boxed()
}

/// A chat's id, all a read of messages needs of it.
#[derive(Deserialize)]
struct ChatId {
    id: u64,
}

/// The messages of every chat changed since `since` (of every chat, for `None`), chat by
/// chat, each newest first.
fn messages<T>(
    client: &Client,
    since: Option<u64>,
    size: u32,
    progress: &Arc<Mutex<Progress>>,
) -> BoxStream<'static, Result<T, Error>>
where
    T: DeserializeOwned + Send + 'static,
{
    let older = since.and_then(|since| orders::older_than::<T>("createdAt", since));
    if since.is_some() && older.is_none() {
        tracing::warn!(
            "the messages' createdAt cannot be read from this record type: every message of \
             each changed chat is read"
        );
    }
    let (client, progress_of_chats) = (client.clone(), Arc::clone(progress));
    let client_of_chats = client.clone();
    // Followed by their ids, as the models are: a record the crate does not know would be
    // followed whole.
    let chat_ids = tracked(
        chats::<ChatId>(&client, since, size).ids(|c| Some(c.id)),
        progress,
    );
    chat_ids
        .map_ok(move |chat| {
            let mut read = client
                .paginate::<T>(format!("chats/{}/messages", chat.id))
                .page_size(size)
                .concurrency(2);
            if let Some(older) = older.clone() {
                read = read.stop_at(move |m| older(m));
            }
            let progress = Arc::clone(&progress_of_chats);
            let asks = client_of_chats.clone();
            async move {
                match tracked(read, &progress).try_collect::<Vec<T>>().await {
                    Ok(messages) => Ok(messages),
                    // Deleted after the search listed it, its messages went with it; but a 404
                    // is that only where the API says so and the chat itself is gone too.
                    Err(e) if says_not_found(&e) => {
                        if !chat_is_gone(&asks, chat.id).await? {
                            return Err(e);
                        }
                        lock(&progress).gone += 1;
                        Ok(Vec::new())
                    }
                    Err(e) => Err(e),
                }
            }
        })
        .try_buffered(CHATS_AT_ONCE)
        .map_ok(|messages| stream::iter(messages.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
}

/// Whether `e` is the API's own word that something is not found (its JSON error, with the
/// code `not_found` or `entity_not_found`), not any 404 (a proxy's page, a moved endpoint).
fn says_not_found(e: &Error) -> bool {
    match e {
        Error::Api {
            status: 404,
            errors,
            ..
        } => errors
            .iter()
            .any(|entry| matches!(entry.code.as_str(), "not_found" | "entity_not_found")),
        _ => false,
    }
}

/// Whether chat `id` is gone: `GET chats/{id}` answers the API's own 404.
async fn chat_is_gone(client: &Client, id: u64) -> Result<bool, Error> {
    match client.get::<serde_json::Value>(format!("chats/{id}")).await {
        Ok(_) => Ok(false),
        Err(e) if says_not_found(&e) => Ok(true),
        Err(e) => Err(e),
    }
}

/// What a read has learned so far, shared by its parts.
#[derive(Debug, Default)]
struct Progress {
    /// The earliest `Date` of the read's answers: the server's clock when it began.
    began: Option<SystemTime>,
    /// Customers: the highest id read by id (or in a whole read).
    last_id: Option<u64>,
    /// Chats that were gone by the time their messages were read.
    gone: u64,
    /// The stream ended, with no error.
    ended: bool,
}

fn lock(progress: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    progress.lock().unwrap_or_else(|p| p.into_inner())
}

/// A paginator whose answers' `Date` goes into `progress`.
fn tracked<T>(
    pages: Paginator<T>,
    progress: &Arc<Mutex<Progress>>,
) -> BoxStream<'static, Result<T, Error>>
where
    T: DeserializeOwned + Send + 'static,
{
    Tracked {
        pages,
        progress: Arc::clone(progress),
    }
    .boxed()
}

struct Tracked<T> {
    pages: Paginator<T>,
    progress: Arc<Mutex<Progress>>,
}

impl<T> Stream for Tracked<T>
where
    T: DeserializeOwned + Send + 'static,
{
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(self.pages.poll_next_unpin(cx));
        if let Some(date) = self.pages.server_date() {
            let mut p = lock(&self.progress);
            p.began = Some(p.began.map_or(date, |b| b.min(date)));
        }
        Poll::Ready(item)
    }
}

/// The read of one collection in a [`SyncRun`]: a stream of the records that changed since
/// the collection's bookmark (every record, where it has none), each at most once per search
/// it matches and in its latest version, for an upsert by `id` downstream. Read it to its
/// end, store what it gave, then [`finish`](Self::finish) it into the state.
///
/// It keeps the guarantees of a scan: a record that matches for the whole read comes out;
/// where the read cannot prove it read everything it ends with [`Error::Incomplete`]. A record
/// that changes while it is read may be missed by this run, never by the next, whose read
/// starts before this one began.
#[must_use = "streams do nothing until polled"]
pub struct Changes<T> {
    inner: BoxStream<'static, Result<T, Error>>,
    progress: Arc<Mutex<Progress>>,
    collection: Collection,
    before: Option<Bookmark>,
    since: Option<u64>,
    lookback: Duration,
    /// The read ended, or an error ended it.
    over: bool,
}

impl<T> std::fmt::Debug for Changes<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changes")
            .field("collection", &self.collection)
            .field("since", &self.since)
            .field("progress", &*lock(&self.progress))
            .finish_non_exhaustive()
    }
}

impl<T> futures::stream::FusedStream for Changes<T> {
    fn is_terminated(&self) -> bool {
        self.over
    }
}

impl<T> Stream for Changes<T> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.over {
            // An error ended the read, or it ended: a poll after it reads nothing more.
            return Poll::Ready(None);
        }
        let item = ready!(this.inner.poll_next_unpin(cx));
        match &item {
            None => {
                lock(&this.progress).ended = true;
                this.over = true;
            }
            Some(Err(_)) => this.over = true,
            Some(Ok(_)) => {}
        }
        Poll::Ready(item)
    }
}

impl<T> Changes<T> {
    /// The collection this reads.
    ///
    /// ```
    /// use helpcrunch_pager::{simulator::Simulator, Client, Collection, SyncState};
    /// let sim = Simulator::builder().start()?;
    /// let client = Client::builder().api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// let chats = client.sync(&SyncState::default()).read::<serde_json::Value>(Collection::Chats);
    /// assert_eq!(chats.collection(), Collection::Chats);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn collection(&self) -> Collection {
        self.collection
    }

    /// The time on the server's clock the read takes changes since (the bookmark less the
    /// lookback); `None` for a whole read.
    ///
    /// ```
    /// use helpcrunch_pager::{simulator::Simulator, Bookmark, Client, Collection, SyncState};
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let sim = Simulator::builder().start()?;
    /// let client = Client::builder().api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// let mut state = SyncState::default();
    /// state.set_bookmark(Collection::Chats, Bookmark::new(1_000_000));
    /// let run = client.sync(&state).lookback(Duration::from_secs(60));
    /// let chats = run.read::<serde_json::Value>(Collection::Chats);
    /// assert_eq!(chats.since(), Some(UNIX_EPOCH + Duration::from_secs(999_940)));
    /// assert_eq!(run.read::<serde_json::Value>(Collection::Agents).since(), None, "read whole");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn since(&self) -> Option<SystemTime> {
        self.since.map(|s| Bookmark::new(s).time())
    }

    /// Whether the read is of the whole collection: every record its list endpoint holds
    /// (`GET /departments`, `/agents`, `/customers`, `/chats`, and each chat's messages), not
    /// the changes since a time. Read to its end, a whole read found every record that stayed
    /// in the account while it ran, so a copy's records it did not find were deleted (or
    /// are ones the list endpoint does not show): what a Singer `ACTIVATE_VERSION` relies
    /// on. Departments and agents are read whole every run, the others when the state holds
    /// no bookmark for them.
    ///
    /// ```
    /// use helpcrunch_pager::{simulator::Simulator, Bookmark, Client, Collection, SyncState};
    /// let sim = Simulator::builder().start()?;
    /// let client = Client::builder().api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// let mut state = SyncState::default();
    /// state.set_bookmark(Collection::Chats, Bookmark::new(1_000_000));
    /// let run = client.sync(&state);
    /// assert!(!run.read::<serde_json::Value>(Collection::Chats).is_whole());
    /// assert!(run.read::<serde_json::Value>(Collection::Customers).is_whole(), "no bookmark");
    /// assert!(run.read::<serde_json::Value>(Collection::Agents).is_whole());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_whole(&self) -> bool {
        // `read` reads the list endpoints exactly where it has no time to read changes from.
        self.since.is_none()
    }

    /// The lookback the read was made with.
    ///
    /// ```
    /// use helpcrunch_pager::{simulator::Simulator, Client, Collection, SyncState, DEFAULT_LOOKBACK};
    /// let sim = Simulator::builder().start()?;
    /// let client = Client::builder().api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// let chats = client.sync(&SyncState::default()).read::<serde_json::Value>(Collection::Chats);
    /// assert_eq!(chats.lookback(), DEFAULT_LOOKBACK);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lookback(&self) -> Duration {
        self.lookback
    }

    /// The server's clock when the read began (the earliest `Date` of its answers), once it
    /// has had an answer.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// use helpcrunch_pager::{Chat, Collection, SyncState};
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let mut chats = client.sync(&SyncState::default()).read::<Chat>(Collection::Chats);
    /// chats.try_next().await?;
    /// println!("read from {:?}, the server's time", chats.began());
    /// # Ok(()) }
    /// ```
    pub fn began(&self) -> Option<SystemTime> {
        lock(&self.progress).began
    }

    /// For messages: the chats listed as changed that were deleted before their messages
    /// were read (their messages went with them).
    ///
    /// ```
    /// use helpcrunch_pager::{simulator::Simulator, Client, Collection, SyncState};
    /// let sim = Simulator::builder().start()?;
    /// let client = Client::builder().api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// let m = client.sync(&SyncState::default()).read::<serde_json::Value>(Collection::Messages);
    /// assert_eq!(m.chats_gone(), 0, "nothing read yet");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn chats_gone(&self) -> u64 {
        lock(&self.progress).gone
    }

    /// Puts the collection's new bookmark into `state`, once the stream has ended without an
    /// error: the server's time when this read began, and for customers the highest id read.
    /// A read that failed or was not read to its end is an [`Error::InvalidInput`], and
    /// `state` keeps the old bookmark, so the next run reads again what this one did.
    ///
    /// Where the server sent no `Date`, the old bookmark stays (the next run reads again
    /// from it), or, for a first read, none is set: the crate never takes the local clock for
    /// the server's.
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use helpcrunch_pager::{simulator::Simulator, Client, Collection, SyncState};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = Simulator::builder().customers(250).start()?;
    /// let client = Client::builder()
    ///     .api_key(sim.api_key())
    ///     .base_url(sim.base_url())
    ///     .requests_per_minute(6_000)
    ///     .build()?;
    /// let mut state = SyncState::default();
    /// let mut customers = client.sync(&state).read::<serde_json::Value>(Collection::Customers);
    /// customers.try_next().await?;
    /// assert!(customers.finish(&mut state).is_err(), "not read to its end");
    ///
    /// let mut customers = client.sync(&state).read::<serde_json::Value>(Collection::Customers);
    /// let all: Vec<_> = (&mut customers).try_collect().await?;
    /// customers.finish(&mut state)?;
    /// assert_eq!(state.bookmark(Collection::Customers).unwrap().last_id, Some(250));
    /// # Ok(()) }
    /// ```
    pub fn finish(self, state: &mut SyncState) -> Result<(), Error> {
        let progress = lock(&self.progress);
        if !progress.ended {
            return Err(Error::InvalidInput(format!(
                "the read of {} did not reach its end: its bookmark stays where it was, and \
                 the next run reads again from there",
                self.collection
            )));
        }
        let began = progress
            .began
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok());
        let server_time = match (began, self.before) {
            (Some(began), _) => began.as_secs(),
            (None, Some(before)) => {
                tracing::warn!(
                    collection = %self.collection,
                    "the server sent no Date header: the bookmark stays where it was"
                );
                before.server_time
            }
            (None, None) => {
                tracing::warn!(
                    collection = %self.collection,
                    "the server sent no Date header: no bookmark is set, and the next run \
                     reads the collection whole again"
                );
                return Ok(());
            }
        };
        let last_id = match (progress.last_id, self.before.and_then(|b| b.last_id)) {
            (Some(read), Some(had)) => Some(read.max(had)),
            (read, had) => read.or(had),
        };
        let bookmark = Bookmark {
            server_time,
            last_id: last_id.filter(|_| self.collection == Collection::Customers),
        };
        state.set_bookmark(self.collection, bookmark);
        Ok(())
    }
}
