//! One scan of a collection: the first page, then the planned windows in flight, checked page
//! by page so that records moving while the scan runs are neither lost nor yielded twice.
//!
//! Offset paging has holes, and each file here closes one:
//!
//! - [`ledger`]: the consistency rules. A record is known by its id as the API sent it
//!   ([`RecordId`]), or where it has none by the whole record ([`keyed`] reads pages so). Each
//!   window after the first starts on the last record of the one before (the anchor); a page
//!   that does not start on it tells that records moved between the two reads. Every id yielded
//!   is remembered, and a record yielded already is dropped, whatever the reason it came again.
//!   A page that cannot be what was asked for (more records than the limit, an id twice) is
//!   refused.
//! - [`heal`]: records moved back (deletes before the cursor) are found again by reading back,
//!   by identity, until the read meets records already yielded. It reads through a narrow
//!   [`ReadBack`](heal::ReadBack) the engine's reader implements, and knows nothing else of the
//!   engine.
//! - [`moving`]: orders in which a record that changes jumps to the front (an inbox order):
//!   after the main pass, the head of the list is read again until it holds nothing newer than
//!   the pass's start, and until a round finds the head as the round before left it. Which
//!   orders move, and how a record's sort key is read, the api layer says.
//! - [`sort_key`]: a record's place in such an order, as the scan compares it and keeps it.
//! - [`pass_end`]: where a pass ends, a pure decision: a short page ends it only when it agrees
//!   with the total, or when further reads confirm it.
//! - [`rounds`]: the head rounds of an order that moves, step by step.
//! - [`engine`]: the one state machine that schedules windows and does what the parts above
//!   decide; [`start`] is where it begins (fresh or resumed), [`reader`] its edge to the wire.
//! - [`position`]: where a scan stands, so that a crashed one can resume with the guarantee.
//! - [`report`]: what the scan saw and what it cost.
//! - [`task`]: a window fetched on a task of its own.

mod engine;
mod heal;
mod id;
mod keyed;
mod ledger;
mod moving;
mod pass_end;
mod position;
mod reader;
mod report;
mod rounds;
mod sort_key;
mod start;
mod task;

pub(crate) use engine::Scan;
pub use id::RecordId;
pub(crate) use ledger::{IdOf, Seen};
pub(crate) use moving::{KeyOf, OrderRule};
pub use position::ScanPosition;
pub use report::ScanReport;
pub(crate) use report::{with as with_shared, SharedState};
pub(crate) use sort_key::SortKey;
pub(crate) use start::{Settings, Start, StopAt};
