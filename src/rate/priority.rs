//! [`Priority`]: which requests go first when several wait for the rate budget.

/// Which lane of the rate budget a request queues in.
///
/// A call a person waits for ([`Client::get`](crate::Client::get) and the other single calls,
/// by default) is [`Interactive`](Self::Interactive): it goes ahead of the windows a scan has
/// queued. A scan ([`Paginator`](crate::Paginator), by default) is
/// [`Background`](Self::Background). Neither lane starves the other: while both have requests
/// waiting, they take turns, so background work keeps at least half of the budget however
/// many interactive calls come. A background request waiting for its slot steps aside for an
/// interactive one that comes meanwhile, so an interactive call takes the next slot unless
/// another interactive call just had one.
///
/// With a budget shared through Redis ([`ClientBuilder::shared_budget`](crate::ClientBuilder::shared_budget)),
/// the lanes hold across processes too (see the README's "Single calls and priorities").
///
/// ```
/// use helpcrunch_pager::Priority;
/// assert_eq!(Priority::default(), Priority::Interactive);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Priority {
    /// A call someone waits for: ahead of queued background requests.
    #[default]
    Interactive,
    /// Bulk work, such as a scan: after queued interactive calls, but never starved.
    Background,
}
