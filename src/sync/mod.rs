//! Incremental sync, the layer above the api: a [`SyncState`] of bookmarks kept between runs,
//! and a [`SyncRun`] whose reads ([`Changes`]) give only what changed since each collection's
//! bookmark, on the server's clock with a lookback.

pub(crate) mod changes;
pub(crate) mod state;
