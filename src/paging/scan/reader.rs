//! The scan's edge to the wire: one window read with its records' keys, a page that cannot be
//! right asked for once more, a window sent off on a task of its own, and the report's counts.
//! Everything the scan decides lies in the other files; this one only reads.

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::http::client::Client;
use crate::paging::request::ListRequest;
use crate::paging::window::Window;

use super::heal::ReadBack;
use super::keyed::{self, Keyed};
use super::ledger::{self, IdOf};
use super::report::{with, ScanReport, SharedState};
use super::task::Task;

/// What a scan reads with: the client, the list's request, how a record's id is read, and the
/// state it shares with whoever holds its stream.
pub(super) struct Reader<T> {
    client: Client,
    request: Arc<ListRequest>,
    ids: Option<IdOf<T>>,
    shared: SharedState,
}

impl<T> Reader<T>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    pub(super) fn new(
        client: Client,
        request: ListRequest,
        ids: Option<IdOf<T>>,
        shared: SharedState,
    ) -> Self {
        Self {
            client,
            request: Arc::new(request),
            ids,
            shared,
        }
    }

    /// The state shared with the stream's holder.
    pub(super) fn shared(&self) -> &SharedState {
        &self.shared
    }

    /// One window, read with its records' keys.
    pub(super) async fn fetch(&self, window: Window) -> Result<Keyed<T>, Error> {
        let (client, request, ids) = (&self.client, &self.request, &self.ids);
        let (page, date) = request
            .fetch(client, window, |body, window| {
                keyed::decode(body, window, ids.as_ref())
            })
            .await?;
        with(&self.shared, |s| s.answered_at(date));
        Ok(page)
    }

    /// One window of the plan, sent at once on a task of its own after `pause` (a confirming
    /// read waits for a lagging replica).
    pub(super) fn spawn(&self, window: Window, pause: Duration) -> Task<T> {
        let (client, request) = (self.client.clone(), Arc::clone(&self.request));
        let (ids, shared) = (self.ids.clone(), Arc::clone(&self.shared));
        Task::spawn(
            async move {
                // Not even a zero sleep where there is no pause: it waits for the timer.
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                let (page, date) = request
                    .fetch(&client, window, |body, window| {
                        keyed::decode(body, window, ids.as_ref())
                    })
                    .await?;
                with(&shared, |s| s.answered_at(date));
                Ok(page)
            },
            &self.request.path,
            window.offset,
        )
    }

    /// The page and its records' keys if it is sound; otherwise the same window asked once
    /// more (a server can glitch once), and a typed error if that answer is no better.
    pub(super) async fn resound(&self, page: Keyed<T>) -> Result<Keyed<T>, Error> {
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

    /// One request beyond the plan, made and awaited in place.
    pub(super) async fn extra(&self, window: Window) -> Result<Keyed<T>, Error> {
        self.count(|r| {
            r.requests += 1;
            r.extra_requests += 1;
        });
        self.fetch(window).await
    }

    /// The error that ends a scan which cannot prove it read everything.
    pub(super) fn incomplete(&self, offset: u64, reason: String) -> Error {
        Error::Incomplete {
            path: self.request.path.clone(),
            offset,
            reason,
        }
    }

    /// Counts something in the scan's report.
    pub(super) fn count(&self, f: impl FnOnce(&mut ScanReport)) {
        with(&self.shared, |s| f(&mut s.report));
    }
}

impl<T> ReadBack<T> for Reader<T>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    /// One request beyond the plan, made and awaited in place, and checked as every page is:
    /// a read that cannot be right would yield what it holds.
    async fn reread(&self, window: Window) -> Result<Keyed<T>, Error> {
        let read = self.extra(window).await?;
        self.resound(read).await
    }

    fn incomplete(&self, offset: u64, reason: String) -> Error {
        Reader::incomplete(self, offset, reason)
    }
}
