//! A window fetched on a task of its own, so that a request the budget has just let go is sent
//! at once instead of waiting while the scan decodes another page (the server would see the
//! two arrive closer together than they left). The task carries the caller's tracing span, and
//! dropping it aborts it.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument;

use crate::error::Error;

use super::keyed::Keyed;

pub(crate) struct Task<T> {
    handle: AbortOnDropHandle<Result<Keyed<T>, Error>>,
    path: String,
    offset: u64,
}

impl<T: Send + 'static> Task<T> {
    pub(crate) fn spawn(
        fetch: impl Future<Output = Result<Keyed<T>, Error>> + Send + 'static,
        path: &str,
        offset: u64,
    ) -> Self {
        Self {
            handle: AbortOnDropHandle::new(tokio::spawn(fetch.in_current_span())),
            path: path.to_owned(),
            offset,
        }
    }
}

impl<T> Future for Task<T> {
    type Output = Result<Keyed<T>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match ready!(Pin::new(&mut self.handle).poll(cx)) {
            Ok(result) => Poll::Ready(result),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Poll::Ready(Err(Error::Network {
                timeout: false,
                path: self.path.clone(),
                url: None,
                offset: Some(self.offset),
                source: format!(
                    "the page's task was cancelled, most likely because the runtime is shutting down: {e}"
                )
                .into(),
            })),
        }
    }
}
