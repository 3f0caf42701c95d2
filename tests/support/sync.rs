//! Helpers for the incremental-sync tests: a copy of the account kept by upserts, the server's
//! own collections to compare it with, and one sync run of every collection. Include with
//! `#[path = "support/sync.rs"] mod sync;` beside `mod support;`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use futures::TryStreamExt;
use helpcrunch_pager::simulator::Simulator;
use helpcrunch_pager::{Client, Collection, SyncState};
use serde_json::Value;

/// A copy of the account, as a warehouse keeps it: each collection's records by id, each the
/// latest version read.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Copy {
    pub collections: BTreeMap<Collection, BTreeMap<u64, Value>>,
}

impl Copy {
    /// Upserts `records` of `collection` by their ids.
    pub fn upsert(&mut self, collection: Collection, records: impl IntoIterator<Item = Value>) {
        let table = self.collections.entry(collection).or_default();
        for record in records {
            let id = record["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("a {collection} record without an id: {record}"));
            table.insert(id, record);
        }
    }

    /// Upserts JSON Lines text, one record a line.
    pub fn upsert_lines(&mut self, collection: Collection, text: &str) {
        let records = text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"));
        self.upsert(collection, records);
    }

    pub fn table(&self, collection: Collection) -> BTreeMap<u64, Value> {
        self.collections
            .get(&collection)
            .cloned()
            .unwrap_or_default()
    }
}

/// The server's collections now, by id, as a copy would hold them; messages of every chat.
pub fn truth(sim: &Simulator) -> Copy {
    let mut copy = Copy::default();
    for (collection, path) in [
        (Collection::Departments, "departments"),
        (Collection::Agents, "agents"),
        (Collection::Customers, "customers"),
        (Collection::Chats, "chats"),
    ] {
        copy.upsert(collection, sim.snapshot(path));
    }
    let chats: Vec<u64> = copy.table(Collection::Chats).keys().copied().collect();
    copy.collections.entry(Collection::Messages).or_default();
    for chat in chats {
        copy.upsert(
            Collection::Messages,
            sim.snapshot(&format!("chats/{chat}/messages")),
        );
    }
    copy
}

/// Asserts that `copy` holds exactly the server's records, but for the customers in
/// `deleted`, which no search shows gone: those it may still hold.
pub fn assert_copy_is_current(copy: &Copy, sim: &Simulator, deleted_customers: &[u64]) {
    let truth = truth(sim);
    for &collection in Collection::ALL {
        let mut have = copy.table(collection);
        let want = truth.table(collection);
        if collection == Collection::Customers {
            for id in deleted_customers {
                assert!(!want.contains_key(id), "customer {id} was deleted");
                have.remove(id);
            }
        }
        let missing: Vec<&u64> = want.keys().filter(|id| !have.contains_key(id)).collect();
        let extra: Vec<&u64> = have.keys().filter(|id| !want.contains_key(id)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{collection}: {} missing from the copy {:?}, {} in it the server no longer has {:?}",
            missing.len(),
            &missing[..missing.len().min(10)],
            extra.len(),
            &extra[..extra.len().min(10)],
        );
        for (id, record) in &want {
            assert_eq!(
                &have[id], record,
                "{collection} {id}: the copy holds an older version"
            );
        }
    }
}

/// What one run of every collection read, and the requests each took.
pub struct Run {
    pub read: BTreeMap<Collection, Vec<Value>>,
    pub requests: BTreeMap<Collection, u64>,
    pub state: SyncState,
}

/// One sync run of every collection from `state`, with `lookback`; the state it leaves.
pub async fn sync_all(
    client: &Client,
    sim: &Simulator,
    state: &SyncState,
    lookback: Duration,
) -> Run {
    let run = client.sync(state).lookback(lookback);
    let mut next = state.clone();
    let mut read = BTreeMap::new();
    let mut requests = BTreeMap::new();
    for &collection in Collection::ALL {
        let before = sim.stats().requests;
        let mut changes = run.read::<Value>(collection);
        let records: Vec<Value> = (&mut changes)
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("the read of {collection} failed: {e}"));
        changes.finish(&mut next).unwrap();
        requests.insert(collection, sim.stats().requests - before);
        read.insert(collection, records);
    }
    Run {
        read,
        requests,
        state: next,
    }
}

impl Run {
    /// Upserts what the run read into `copy`.
    pub fn upsert_into(&self, copy: &mut Copy) {
        for (collection, records) in &self.read {
            copy.upsert(*collection, records.iter().cloned());
        }
    }
}
