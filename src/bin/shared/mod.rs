//! What `helpcrunch-export` and `tap-helpcrunch` share, so that the two read an account the same
//! way: the client made from their settings (the rate budget, Redis, retries), an error in
//! the user's terms, the signals that stop a run, logging on stderr and times in RFC 3339.
//! Each binary takes it in with `#[path = "../shared/mod.rs"] mod shared;`.

pub(crate) mod client;
pub(crate) mod describe;
pub(crate) mod failure;
pub(crate) mod logging;
pub(crate) mod record;
pub(crate) mod signal;
pub(crate) mod summary;
pub(crate) mod time;
