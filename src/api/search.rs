//! [`Search`]: a typed way to write the body of `customers/search` and `chats/search`. A raw
//! `serde_json::Value` body works just as well; this only spares the field spellings.

use serde_json::{json, Map, Value};

use crate::api::sort::Order;

/// How a search's filters combine: the body's `comparison`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparison {
    /// `AND`: records matching every filter.
    And,
    /// `OR`: records matching any filter.
    Or,
}

impl Comparison {
    /// The value as the API takes it.
    ///
    /// ```
    /// assert_eq!(helpcrunch_pager::Comparison::Or.as_str(), "OR");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::And => "AND",
            Comparison::Or => "OR",
        }
    }
}

/// A filter's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operator {
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `>`.
    Gt,
    /// `<`.
    Lt,
    /// `>=`.
    Ge,
    /// `<=`.
    Le,
    /// `~`: contains.
    Contains,
    /// `!~`: does not contain.
    NotContains,
}

impl Operator {
    /// The operator as the API takes it.
    ///
    /// ```
    /// assert_eq!(helpcrunch_pager::Operator::NotContains.as_str(), "!~");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Gt => ">",
            Operator::Lt => "<",
            Operator::Ge => ">=",
            Operator::Le => "<=",
            Operator::Contains => "~",
            Operator::NotContains => "!~",
        }
    }
}

/// The body of a search: filters, how they combine, and the sort. Turns into the
/// `serde_json::Value` that [`Client::search`](crate::Client::search) takes.
///
/// The API checks each filter's value against the field's type (a date field wants a UNIX
/// timestamp, not `"18 Jun 2020"`) and answers a mismatch with a 400.
///
/// ```
/// use helpcrunch_pager::{Operator, Order, Search};
/// use serde_json::json;
///
/// let body = Search::any()
///     .filter("chats.status", Operator::Eq, "5")
///     .filter("chats.createdAt", Operator::Ge, 1603885746)
///     .sort("chats.createdAt")
///     .order(Order::Desc);
/// assert_eq!(
///     serde_json::Value::from(body),
///     json!({
///         "comparison": "OR",
///         "filter": [
///             {"field": "chats.status", "operator": "=", "value": "5"},
///             {"field": "chats.createdAt", "operator": ">=", "value": 1603885746}
///         ],
///         "sort": "chats.createdAt",
///         "order": "desc"
///     })
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a search body does nothing until it is given to `Client::search`"]
pub struct Search {
    comparison: Comparison,
    filters: Vec<Value>,
    sort: Option<String>,
    order: Option<Order>,
}

impl Default for Search {
    fn default() -> Self {
        Self::all()
    }
}

impl Search {
    /// Records that match every filter (`"comparison": "AND"`).
    ///
    /// ```
    /// use helpcrunch_pager::{Operator, Search};
    /// let body = serde_json::Value::from(Search::all().filter("customers.id", Operator::Gt, 10));
    /// assert_eq!(body["comparison"], "AND");
    /// ```
    pub fn all() -> Self {
        Self {
            comparison: Comparison::And,
            filters: Vec::new(),
            sort: None,
            order: None,
        }
    }

    /// Records that match any filter (`"comparison": "OR"`).
    ///
    /// ```
    /// use helpcrunch_pager::Search;
    /// assert_eq!(serde_json::Value::from(Search::any())["comparison"], "OR");
    /// ```
    pub fn any() -> Self {
        Self {
            comparison: Comparison::Or,
            ..Self::all()
        }
    }

    /// Adds a filter on `field` (such as `"customers.email"` or `"chats.status"`).
    ///
    /// ```
    /// use helpcrunch_pager::{Operator, Search};
    /// let body = serde_json::Value::from(Search::all().filter("customers.email", Operator::Contains, "@example.com"));
    /// assert_eq!(body["filter"][0], serde_json::json!({"field": "customers.email", "operator": "~", "value": "@example.com"}));
    /// ```
    pub fn filter(
        mut self,
        field: impl Into<String>,
        op: Operator,
        value: impl Into<Value>,
    ) -> Self {
        self.filters.push(json!({
            "field": field.into(),
            "operator": op.as_str(),
            "value": value.into(),
        }));
        self
    }

    /// Sorts by `field`, such as `"chats.createdAt"` or `"customers.lastSeen"`.
    ///
    /// ```
    /// use helpcrunch_pager::Search;
    /// assert_eq!(serde_json::Value::from(Search::all().sort("customers.lastSeen"))["sort"], "customers.lastSeen");
    /// ```
    pub fn sort(mut self, field: impl Into<String>) -> Self {
        self.sort = Some(field.into());
        self
    }

    /// The direction of the sort.
    ///
    /// ```
    /// use helpcrunch_pager::{Order, Search};
    /// assert_eq!(serde_json::Value::from(Search::all().order(Order::Asc))["order"], "asc");
    /// ```
    pub fn order(mut self, order: Order) -> Self {
        self.order = Some(order);
        self
    }
}

impl From<Search> for Value {
    fn from(search: Search) -> Self {
        let mut body = Map::new();
        body.insert("comparison".into(), search.comparison.as_str().into());
        body.insert("filter".into(), Value::Array(search.filters));
        if let Some(sort) = search.sort {
            body.insert("sort".into(), sort.into());
        }
        if let Some(order) = search.order {
            body.insert("order".into(), order.as_str().into());
        }
        Value::Object(body)
    }
}
