//! Sorting the lists that can be sorted: chats and customers, by the documented `sort` and
//! `order` parameters.

use crate::api::models::{Chat, Customer};
use crate::paging::paginator::Paginator;

/// Ascending or descending, the `order` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Order {
    /// `asc`: oldest or smallest first.
    Asc,
    /// `desc`: newest or largest first.
    Desc,
}

impl Order {
    /// The value as the API takes it.
    ///
    /// ```
    /// assert_eq!(helpcrunch_pager::Order::Desc.as_str(), "desc");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

/// What `GET /chats` can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChatSort {
    /// `chats.createdAt`.
    CreatedAt,
    /// `chats.lastCustomerMessageAt`.
    LastCustomerMessageAt,
    /// `chats.lastMessageAt`.
    LastMessageAt,
    /// `chats.closedAt`.
    ClosedAt,
}

impl ChatSort {
    /// The value as the API takes it.
    ///
    /// ```
    /// assert_eq!(helpcrunch_pager::ChatSort::LastMessageAt.as_str(), "chats.lastMessageAt");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ChatSort::CreatedAt => "chats.createdAt",
            ChatSort::LastCustomerMessageAt => "chats.lastCustomerMessageAt",
            ChatSort::LastMessageAt => "chats.lastMessageAt",
            ChatSort::ClosedAt => "chats.closedAt",
        }
    }
}

/// What `GET /customers` can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CustomerSort {
    /// `customers.firstSeen`.
    FirstSeen,
    /// `customers.lastSeen`.
    LastSeen,
}

impl CustomerSort {
    /// The value as the API takes it.
    ///
    /// ```
    /// assert_eq!(helpcrunch_pager::CustomerSort::FirstSeen.as_str(), "customers.firstSeen");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerSort::FirstSeen => "customers.firstSeen",
            CustomerSort::LastSeen => "customers.lastSeen",
        }
    }
}

impl Paginator<Chat> {
    /// Sorts the chats (`sort=`; in the body of a search). A second call replaces the first.
    ///
    /// ```no_run
    /// use helpcrunch_pager::{ChatSort, Order};
    /// # fn run(client: helpcrunch_pager::Client) {
    /// let chats = client.chats().sort(ChatSort::ClosedAt).order(Order::Asc);
    /// # }
    /// ```
    pub fn sort(self, by: ChatSort) -> Self {
        self.param("sort", by.as_str())
    }

    /// The direction of the sort (`order=`; in the body of a search).
    ///
    /// ```
    /// use helpcrunch_pager::{ChatSort, Order};
    /// # fn run(client: helpcrunch_pager::Client) {
    /// let oldest_first = client.chats().sort(ChatSort::CreatedAt).order(Order::Asc);
    /// # }
    /// ```
    pub fn order(self, order: Order) -> Self {
        self.param("order", order.as_str())
    }
}

impl Paginator<Customer> {
    /// Sorts the customers (`sort=`; in the body of a search). A second call replaces the
    /// first.
    ///
    /// ```no_run
    /// use helpcrunch_pager::{CustomerSort, Order};
    /// # fn run(client: helpcrunch_pager::Client) {
    /// let customers = client.customers().sort(CustomerSort::LastSeen).order(Order::Desc);
    /// # }
    /// ```
    pub fn sort(self, by: CustomerSort) -> Self {
        self.param("sort", by.as_str())
    }

    /// The direction of the sort (`order=`; in the body of a search).
    ///
    /// ```
    /// use helpcrunch_pager::{CustomerSort, Order};
    /// # fn run(client: helpcrunch_pager::Client) {
    /// let latest_first = client.customers().sort(CustomerSort::LastSeen).order(Order::Desc);
    /// # }
    /// ```
    pub fn order(self, order: Order) -> Self {
        self.param("order", order.as_str())
    }
}
