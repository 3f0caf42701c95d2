//! [`ScanPosition`]: where a scan stands, kept after every page so that a scan stopped by a
//! crash can resume with its guarantee: it starts on the record it last read, and heals by
//! identity whatever moved while it was down.

use serde::{Deserialize, Serialize};

use super::id::RecordId;
use super::ledger::Key;
use super::sort_key::SortKey;

/// Where a scan stands after the page it yielded last: enough, with the ids it yielded, to
/// resume it later with [`Paginator::resume`](crate::Paginator::resume).
///
/// It serializes with serde, so it can be kept beside the records it goes with (the exporter
/// keeps it in its checkpoint file).
///
/// ```
/// use helpcrunch_pager::{RecordId, ScanPosition};
///
/// let json = r#"{"offset": 300, "anchor": 300, "total": 1000}"#;
/// let position: ScanPosition = serde_json::from_str(json)?;
/// assert_eq!(position.offset(), 300);
/// assert_eq!(position.anchor(), Some(&RecordId::Number(300)));
/// assert_eq!(position.total(), 1000);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPosition {
    /// The offset just past the last record read.
    pub(crate) offset: u64,
    /// The id of that record, where it has one: the next window starts on it. A JSON number
    /// or string, as the API sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) anchor: Option<RecordId>,
    /// That record whole, as canonical JSON text, where it has no id: the next window is
    /// checked against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) anchor_record: Option<String>,
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
    /// `null` for a record without an id.
    pub(crate) ids: Vec<Option<RecordId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) newest: Option<SortKey>,
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

    /// The id of the last record read, where it has one.
    ///
    /// ```
    /// use helpcrunch_pager::RecordId;
    /// let p: helpcrunch_pager::ScanPosition = serde_json::from_str(r#"{"offset": 5, "total": 9}"#)?;
    /// assert_eq!(p.anchor(), None);
    /// let p: helpcrunch_pager::ScanPosition =
    ///     serde_json::from_str(r#"{"offset": 5, "anchor": "007", "total": 9}"#)?;
    /// assert_eq!(p.anchor(), Some(&RecordId::from("007")));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn anchor(&self) -> Option<&RecordId> {
        self.anchor.as_ref()
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

    /// The last record read, as the scan knows it: by its id, or whole.
    pub(crate) fn anchor_key(&self) -> Option<Key> {
        match (&self.anchor, &self.anchor_record) {
            (Some(id), _) => Some(Key::Id(id.clone())),
            (None, Some(record)) => Some(Key::Whole(record.as_str().into())),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_keep_their_spelling_and_older_numeric_ones_still_read() {
        let old: ScanPosition =
            serde_json::from_str(r#"{"offset":5,"anchor":7,"total":9,"head":{"ids":[7,8]}}"#)
                .unwrap();
        assert_eq!(old.anchor_key(), Some(Key::Id(RecordId::Number(7))));
        assert_eq!(
            old.head.unwrap().ids,
            [Some(RecordId::Number(7)), Some(RecordId::Number(8))]
        );
        let text = ScanPosition {
            offset: 5,
            anchor: Some("007".into()),
            anchor_record: None,
            total: 9,
            head: None,
        };
        let json = serde_json::to_string(&text).unwrap();
        assert_eq!(json, r#"{"offset":5,"anchor":"007","total":9}"#);
        assert_eq!(serde_json::from_str::<ScanPosition>(&json).unwrap(), text);
        let whole: ScanPosition =
            serde_json::from_str(r#"{"offset":5,"anchor_record":"{\"n\":1}","total":9}"#).unwrap();
        assert_eq!(whole.anchor_key(), Some(Key::Whole(r#"{"n":1}"#.into())));
    }
}
