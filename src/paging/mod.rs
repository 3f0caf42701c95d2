//! How a list is read: the paginator (the stream), the request of one window, window
//! arithmetic, the page envelope, and the scan that keeps every record exactly once.

pub(crate) mod envelope;
pub(crate) mod paginator;
pub(crate) mod request;
pub(crate) mod scan;
pub(crate) mod window;
