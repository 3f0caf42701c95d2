//! The endpoint methods of [`Client`]: one typed paginator per HelpCrunch list, the search
//! endpoints, and the generic path for any other list.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::models::{self, Agent, Chat, Customer, Department, Message};
use crate::api::orders;
use crate::http::client::Client;
use crate::paging::paginator::Paginator;
use crate::paging::request::ListRequest;

impl Client {
    /// Every department: `GET /departments`.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let departments: Vec<_> = client.departments().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn departments(&self) -> Paginator<Department> {
        self.paginate("departments")
    }

    /// Every agent: `GET /agents`.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let mut agents = client.agents();
    /// while let Some(agent) = agents.try_next().await? {
    ///     println!("{} {:?} {:?}", agent.id, agent.name, agent.role);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn agents(&self) -> Paginator<Agent> {
        self.paginate("agents")
    }

    /// Every customer: `GET /customers`. Sort with
    /// [`sort`](Paginator::<Customer>::sort) and [`order`](Paginator::<Customer>::order);
    /// unsorted, customers come oldest first by `customers.firstSeen`, an order in which a
    /// customer who comes back does not move.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// use helpcrunch_pager::{CustomerSort, Order};
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let newest_first: Vec<_> = client
    ///     .customers()
    ///     .sort(CustomerSort::FirstSeen)
    ///     .order(Order::Desc)
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn customers(&self) -> Paginator<Customer> {
        self.paginate("customers")
    }

    /// Every chat: `GET /chats`. Sort with [`sort`](Paginator::<Chat>::sort) and
    /// [`order`](Paginator::<Chat>::order); unsorted, chats come oldest first by
    /// `chats.createdAt`, an order in which a chat that gets a message does not move.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// use helpcrunch_pager::{ChatSort, ChatStatus, Order};
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let open = client
    ///     .chats()
    ///     .sort(ChatSort::LastMessageAt)
    ///     .order(Order::Desc)
    ///     .try_filter(|chat| std::future::ready(chat.status == Some(ChatStatus::Opened)));
    /// let open: Vec<_> = open.try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn chats(&self) -> Paginator<Chat> {
        self.paginate("chats")
    }

    /// Every message of one chat: `GET /chats/{chat_id}/messages`, newest first, as the API
    /// lists them.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let messages: Vec<_> = client.chat_messages(1568834).try_collect().await?;
    /// if let Some(latest) = messages.first() {
    ///     println!("latest: {:?}", latest.text);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn chat_messages(&self, chat_id: u64) -> Paginator<Message> {
        self.paginate(format!("chats/{chat_id}/messages"))
    }

    /// Every record a search endpoint finds: `POST /{path}` with `body`, such as
    /// `"customers/search"` or `"chats/search"`.
    ///
    /// `body` is a JSON object with the search's `filter`, `comparison`, `sort` and `order`,
    /// written by hand or with [`Search`](crate::Search). It is sent unchanged but for
    /// `offset` and `limit`, which the paginator adds to each page's copy; a body that already
    /// has them, or is not an object, is an [`Error::InvalidInput`](crate::Error::InvalidInput).
    /// The API answers a filter it cannot use with a 400 ([`Error::Api`](crate::Error::Api)),
    /// which is never retried. To call the typed [`sort`](Paginator::<Chat>::sort) and
    /// [`order`](Paginator::<Chat>::order) on a search, name the record type first:
    /// `client.search::<Chat>("chats/search", body).sort(ChatSort::CreatedAt)`; they then go
    /// into the body.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// use helpcrunch_pager::{Chat, Customer};
    /// use serde_json::json;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let body = json!({
    ///     "comparison": "AND",
    ///     "filter": [{"field": "chats.createdAt", "operator": ">=", "value": 1603885746}],
    ///     "sort": "chats.createdAt",
    ///     "order": "desc"
    /// });
    /// let recent: Vec<Chat> = client.search("chats/search", body).try_collect().await?;
    ///
    /// let body = json!({"filter": [{"field": "customers.email", "operator": "~", "value": "@example.com"}]});
    /// let customers: Vec<Customer> = client.search("customers/search", body).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn search<T>(&self, path: impl Into<String>, body: impl Into<Value>) -> Paginator<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.list(ListRequest::search(path.into(), body.into()))
    }

    /// Any `GET` list endpoint that pages with `offset`/`limit` and reports a total, decoded
    /// into `T` (`serde_json::Value` takes anything). `path` is relative to the base URL, such
    /// as `"customers"` or `"chats/42/messages"`.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let raw: Vec<serde_json::Value> = client.paginate("customers").try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn paginate<T>(&self, path: impl Into<String>) -> Paginator<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.list(ListRequest::get(path.into()))
    }

    /// A paginator over `request`, told what the api layer knows of it: how to read the id of
    /// a `T`, and the list's orders.
    fn list<T>(&self, request: ListRequest) -> Paginator<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        Paginator::new(
            self.clone(),
            request,
            models::known_ids::<T>(),
            orders::settle::<T>,
        )
    }
}
