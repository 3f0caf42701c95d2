//! [`ScanPosition`]: where a scan stands, kept after every page so that a scan stopped by a
//! crash can resume with its guarantee: it starts on the record it last read, and heals by
//! identity whatever moved while it was down.

use serde::{Deserialize, Serialize};

use crate::models::Timestamp;

/// Where a scan stands after the page it yielded last: enough, with the ids it yielded, to
/// resume it later with [`Paginator::resume`](crate::Paginator::resume).
///
/// It serializes with serde, so it can be kept beside the records it goes with (the exporter
/// keeps it in its checkpoint file).
///
/// ```
/// use helpcrunch_pager::ScanPosition;
///
/// let json = r#"{"offset": 300, "anchor": 300, "total": 1000}"#;
/// let position: ScanPosition = serde_json::from_str(json)?;
/// assert_eq!((position.offset(), position.anchor(), position.total()), (300, Some(300), 1000));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPosition {
    /// The offset just past the last record read.
    pub(crate) offset: u64,
    /// The id of that record, where records have ids: the next window starts on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) anchor: Option<u64>,
    /// The largest total reported so far.
    pub(crate) total: u64,
    /// For orders in which changed records jump to the front: the head of the list as the
    /// scan found it at its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) head: Option<HeadMark>,
}

/// The head of a list at a moment: its first page's ids, in order, and the newest value of
/// the sort key among them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HeadMark {
    pub(crate) ids: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) newest: Option<Timestamp>,
}

impl ScanPosition {
    /// The offset just past the last record read.
    ///
    /// ```
    /// let p: helpcrunch_pager::ScanPosition = serde_json::from_str(r#"{"offset": 5, "total": 9}"#)?;
    /// assert_eq!(p.offset(), 5);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The id of the last record read, where records have ids.
    ///
    /// ```
    /// let p: helpcrunch_pager::ScanPosition = serde_json::from_str(r#"{"offset": 5, "total": 9}"#)?;
    /// assert_eq!(p.anchor(), None);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn anchor(&self) -> Option<u64> {
        self.anchor
    }

    /// The largest total the API reported so far.
    ///
    /// ```
    /// let p: helpcrunch_pager::ScanPosition = serde_json::from_str(r#"{"offset": 5, "total": 9}"#)?;
    /// assert_eq!(p.total(), 9);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn total(&self) -> u64 {
        self.total
    }
}
