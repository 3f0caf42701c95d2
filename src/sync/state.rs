//! [`SyncState`]: what an incremental sync keeps between runs, a bookmark for each collection,
//! versioned so that a state written by another version is refused rather than misread.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The collections an incremental sync reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Collection {
    /// `GET /departments`: a small list with no change time, read whole every run.
    Departments,
    /// `GET /agents`: read whole every run, as departments.
    Agents,
    /// Customers: new ones by `customers.id`, active ones by `customers.lastSeen`.
    Customers,
    /// Chats changed since the last run, by `chats.updatedAt`.
    Chats,
    /// The messages of every chat changed since the last run, newest first down to the last
    /// one read before.
    Messages,
}

impl Collection {
    /// Every collection, in the order a sync of all of them reads them.
    pub const ALL: &'static [Collection] = &[
        Collection::Departments,
        Collection::Agents,
        Collection::Customers,
        Collection::Chats,
        Collection::Messages,
    ];

    /// The collection's name, as in a state file and on the exporter's command line.
    ///
    /// ```
    /// use helpcrunch_pager::Collection;
    /// assert_eq!(Collection::Chats.as_str(), "chats");
    /// assert_eq!("messages".parse::<Collection>().unwrap(), Collection::Messages);
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Collection::Departments => "departments",
            Collection::Agents => "agents",
            Collection::Customers => "customers",
            Collection::Chats => "chats",
            Collection::Messages => "messages",
        }
    }

    /// Whether a run reads only what changed since the bookmark (chats, customers,
    /// messages), rather than the whole list every time (departments, agents).
    ///
    /// ```
    /// use helpcrunch_pager::Collection;
    /// assert!(Collection::Chats.is_incremental());
    /// assert!(!Collection::Agents.is_incremental());
    /// ```
    pub const fn is_incremental(self) -> bool {
        matches!(
            self,
            Collection::Customers | Collection::Chats | Collection::Messages
        )
    }
}

impl fmt::Display for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Collection {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Collection::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{s:?} is not a collection a sync reads (departments, agents, customers, \
                     chats, messages)"
                ))
            })
    }
}

/// Where a collection's last complete read stood, on the server's clock.
///
/// ```
/// use helpcrunch_pager::Bookmark;
/// let b: Bookmark = serde_json::from_str(r#"{"server_time": 1764842400, "last_id": 5120}"#)?;
/// assert_eq!((b.server_time, b.last_id), (1_764_842_400, Some(5120)));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Bookmark {
    /// The server's clock (UNIX seconds, from the `Date` header of the read's first answer)
    /// when the read began. The next run reads what changed since this, less the lookback.
    pub server_time: u64,
    /// For customers: the highest id the read saw, after which new customers are read by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_id: Option<u64>,
}

impl Bookmark {
    /// A bookmark at `server_time` (UNIX seconds).
    ///
    /// ```
    /// let b = helpcrunch_pager::Bookmark::new(1_764_842_400);
    /// assert_eq!(b.last_id, None);
    /// ```
    pub const fn new(server_time: u64) -> Self {
        Self {
            server_time,
            last_id: None,
        }
    }

    /// The same bookmark, for customers, with the highest id read.
    ///
    /// ```
    /// let b = helpcrunch_pager::Bookmark::new(60).with_last_id(5120);
    /// assert_eq!(b.last_id, Some(5120));
    /// ```
    pub const fn with_last_id(mut self, id: u64) -> Self {
        self.last_id = Some(id);
        self
    }

    /// The bookmark's time as a `SystemTime` (a time past the year 9999 reads as then).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let b = helpcrunch_pager::Bookmark::new(60);
    /// assert_eq!(b.time(), UNIX_EPOCH + Duration::from_secs(60));
    /// ```
    pub fn time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.server_time.min(LATEST))
    }
}

/// What an incremental sync keeps between runs: a [`Bookmark`] for each collection whose last
/// read ended whole. Serialize it (it is JSON, `{"version": 1, "bookmarks": {...}}`) and give
/// it to the next run's [`Client::sync`](crate::Client::sync); a state of another version
/// is refused when read, never misread.
///
/// Replace the stored state only once the records a run read are safely stored: a run that
/// stops half-way then starts again from the old state, and reads again what it had read.
///
/// ```
/// use helpcrunch_pager::{Bookmark, Collection, SyncState};
///
/// let mut state = SyncState::default();
/// assert!(state.bookmark(Collection::Chats).is_none(), "a first run reads everything");
/// state.set_bookmark(Collection::Chats, Bookmark::new(1_764_842_400));
/// let json = serde_json::to_string(&state)?;
/// assert_eq!(json, r#"{"version":1,"bookmarks":{"chats":{"server_time":1764842400}}}"#);
/// let back: SyncState = serde_json::from_str(&json)?;
/// assert_eq!(back, state);
/// assert!(serde_json::from_str::<SyncState>(r#"{"version":2,"bookmarks":{}}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Stored", into = "Stored")]
pub struct SyncState {
    bookmarks: BTreeMap<String, Bookmark>,
}

impl SyncState {
    /// The version of the state's format this crate writes and reads.
    pub const VERSION: u32 = 1;

    /// The bookmark of `collection`, if a read of it ended whole.
    ///
    /// ```
    /// use helpcrunch_pager::{Collection, SyncState};
    /// assert!(SyncState::default().bookmark(Collection::Customers).is_none());
    /// ```
    pub fn bookmark(&self, collection: Collection) -> Option<Bookmark> {
        self.bookmarks.get(collection.as_str()).copied()
    }

    /// Sets the bookmark of `collection`, as [`Changes::finish`](crate::Changes::finish) does.
    ///
    /// ```
    /// use helpcrunch_pager::{Bookmark, Collection, SyncState};
    /// let mut state = SyncState::default();
    /// state.set_bookmark(Collection::Messages, Bookmark::new(10));
    /// assert_eq!(state.bookmark(Collection::Messages), Some(Bookmark::new(10)));
    /// ```
    pub fn set_bookmark(&mut self, collection: Collection, bookmark: Bookmark) {
        self.bookmarks
            .insert(collection.as_str().to_owned(), bookmark);
    }

    /// Forgets the bookmark of `collection`: its next read is whole (a full refresh).
    ///
    /// ```
    /// use helpcrunch_pager::{Bookmark, Collection, SyncState};
    /// let mut state = SyncState::default();
    /// state.set_bookmark(Collection::Chats, Bookmark::new(10));
    /// state.forget(Collection::Chats);
    /// assert!(state.bookmark(Collection::Chats).is_none());
    /// ```
    pub fn forget(&mut self, collection: Collection) {
        self.bookmarks.remove(collection.as_str());
    }
}

/// The last second of the year 9999: no server's clock reads later.
const LATEST: u64 = 253_402_300_799;

/// The state as stored: its version, checked when read.
#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    #[serde(default)]
    bookmarks: BTreeMap<String, Bookmark>,
}

impl TryFrom<Stored> for SyncState {
    type Error = String;

    fn try_from(stored: Stored) -> Result<Self, String> {
        if stored.version != SyncState::VERSION {
            return Err(format!(
                "the sync state is version {}, and this version of helpcrunch-pager reads \
                 version {} only; run the version that wrote it, or start again without it (a \
                 full read)",
                stored.version,
                SyncState::VERSION
            ));
        }
        if let Some((name, b)) = stored
            .bookmarks
            .iter()
            .find(|(_, b)| b.server_time > LATEST)
        {
            return Err(format!(
                "the bookmark of {name} is at {} s, past the year 9999: not a server's clock",
                b.server_time
            ));
        }
        Ok(SyncState {
            bookmarks: stored.bookmarks,
        })
    }
}

impl From<SyncState> for Stored {
    fn from(state: SyncState) -> Self {
        Stored {
            version: SyncState::VERSION,
            bookmarks: state.bookmarks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_without_a_version_or_of_another_is_refused() {
        assert!(serde_json::from_str::<SyncState>(r#"{"bookmarks":{}}"#).is_err());
        let e = serde_json::from_str::<SyncState>(r#"{"version":7}"#).unwrap_err();
        assert!(e.to_string().contains("version 7"), "{e}");
        let empty: SyncState = serde_json::from_str(r#"{"version":1}"#).unwrap();
        assert_eq!(empty, SyncState::default());
    }

    #[test]
    fn bookmarks_of_collections_this_version_does_not_know_are_kept() {
        let json = r#"{"version":1,"bookmarks":{"tickets":{"server_time":5}}}"#;
        let state: SyncState = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&state).unwrap(), json);
    }

    #[test]
    fn every_collection_reads_back_from_its_name() {
        for &c in Collection::ALL {
            assert_eq!(c.as_str().parse::<Collection>().unwrap(), c);
        }
        assert!("all".parse::<Collection>().is_err());
    }
}
