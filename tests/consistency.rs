//! Scans while the records move: inserted at the front, deleted before the cursor, or both,
//! at concurrency 1 and 4. Every record that stayed arrives exactly once, nothing arrives
//! twice, and the requests spent healing stay bounded and reported.

mod support;

use std::collections::{BTreeSet, HashMap};

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{Mutation, Simulator};
use helpcrunch_pager::{Department, Message, ScanReport};
use serde_json::Value;
use support::*;

const FAST: u32 = 600_000;
const RECORDS: u64 = 3_000;

/// What a scan of a moving collection yielded, checked against what the simulator changed.
fn check(initial: &[u64], got: &[u64], sim: &Simulator) -> (usize, usize) {
    let changes = sim.changes();
    let deleted: BTreeSet<u64> = changes.deleted.iter().copied().collect();
    let inserted: BTreeSet<u64> = changes.inserted.iter().copied().collect();
    let mut count: HashMap<u64, usize> = HashMap::new();
    for id in got {
        *count.entry(*id).or_default() += 1;
    }
    let twice: Vec<_> = count.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "yielded more than once: {twice:?}");
    let missing: Vec<_> = initial
        .iter()
        .filter(|id| !deleted.contains(id) && !count.contains_key(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} records that stayed were lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    let strangers: Vec<_> = got
        .iter()
        .filter(|id| !initial.contains(id) && !inserted.contains(id))
        .collect();
    assert!(strangers.is_empty(), "ids nobody made: {strangers:?}");
    (changes.inserted.len(), changes.deleted.len())
}

async fn scan_departments(
    mutations: &[(u64, Mutation)],
    concurrency: usize,
) -> (Simulator, ScanReport) {
    let mut builder = Simulator::builder().departments(RECORDS as usize);
    for (every, mutation) in mutations {
        builder = builder.mutate_every(*every, *mutation);
    }
    let sim = builder.start().unwrap();
    let client = client_for(&sim, FAST);
    let mut scan = client.departments().concurrency(concurrency);
    let got: Vec<u64> = bounded("scan", async {
        let mut got = Vec::new();
        while let Some(d) = scan.try_next().await? {
            let d: Department = d;
            got.push(d.id);
        }
        Ok::<_, helpcrunch_pager::Error>(got)
    })
    .await
    .unwrap();
    let initial: Vec<u64> = (1..=RECORDS).collect();
    let (inserted, deleted) = check(&initial, &got, &sim);
    let report = scan.report();
    eprintln!(
        "concurrency {concurrency}, {mutations:?}: {inserted} inserted, {deleted} deleted, {report:?}"
    );
    (sim, report)
}

/// The planned windows for `n` records when nothing moves.
fn planned(n: u64) -> u64 {
    1 + (n + 1 - 100).div_ceil(99)
}

#[tokio::test]
async fn inserts_at_the_front_lose_nothing_and_repeat_nothing() {
    for concurrency in [1, 4] {
        let (sim, report) = scan_departments(&[(3, Mutation::InsertFront(2))], concurrency).await;
        assert!(report.shifts_detected > 0, "the inserts moved pages");
        assert_eq!(report.shifts_detected, report.shifts_healed);
        assert!(report.duplicates_dropped > 0, "{report:?}");
        // Inserted records push the end further: the scan follows it.
        let pages = sim.stats().requests;
        assert!(pages <= planned(RECORDS + sim.changes().inserted.len() as u64) + 1);
    }
}

#[tokio::test]
async fn deletes_before_the_cursor_lose_nothing_that_stayed() {
    for concurrency in [1, 4] {
        let (sim, report) = scan_departments(&[(3, Mutation::DeleteBefore(2))], concurrency).await;
        assert!(report.shifts_detected > 0, "the deletes moved pages");
        assert_eq!(report.shifts_detected, report.shifts_healed);
        // A heal reads back to a record already yielded, then forward to the page: two
        // requests for a move smaller than a page, one for each deleting request at most.
        let deleting_requests = sim.stats().requests / 3;
        assert!(
            report.extra_requests <= 2 * deleting_requests,
            "{} extra requests for {deleting_requests} deleting requests",
            report.extra_requests
        );
        assert_eq!(sim.stats().requests, report.requests);
    }
}

#[tokio::test]
async fn inserts_and_deletes_mixed_lose_nothing_and_repeat_nothing() {
    for concurrency in [1, 4] {
        let (sim, report) = scan_departments(
            &[
                (2, Mutation::InsertFront(3)),
                (3, Mutation::DeleteBefore(4)),
            ],
            concurrency,
        )
        .await;
        assert!(report.shifts_detected > 0);
        assert_eq!(report.shifts_detected, report.shifts_healed);
        let deleting_requests = sim.stats().requests / 3;
        assert!(report.extra_requests <= 2 * deleting_requests, "{report:?}");
    }
}

#[tokio::test]
async fn messages_arriving_while_a_chat_is_read_newest_first_are_not_repeated() {
    let sim = Simulator::builder()
        .chat_messages(7, 2_000)
        .mutate_every(2, Mutation::InsertFront(1))
        .start()
        .unwrap();
    let client = client_for(&sim, FAST);
    let mut scan = client.chat_messages(7).concurrency(4);
    let got: Vec<u64> = bounded("messages", async {
        let mut got = Vec::new();
        while let Some(m) = scan.try_next().await? {
            let m: Message = m;
            got.push(m.id);
        }
        Ok::<_, helpcrunch_pager::Error>(got)
    })
    .await
    .unwrap();
    let initial: Vec<u64> = (1..=2_000).rev().map(|n| 7_000_000 + n).collect();
    check(&initial, &got, &sim);
    let report = scan.report();
    assert!(report.duplicates_dropped > 0, "{report:?}");
    assert_eq!(report.extra_requests, 0, "inserts need no read-back");
}

#[tokio::test]
async fn the_generic_path_is_consistent_through_the_json_id() {
    let sim = Simulator::builder()
        .collection("knowledge-base/articles", 1_500)
        .mutate_every(2, Mutation::DeleteBefore(1))
        .start()
        .unwrap();
    let client = client_for(&sim, FAST);
    let got: Vec<Value> = bounded(
        "articles",
        client.paginate("knowledge-base/articles").try_collect(),
    )
    .await
    .unwrap();
    let got: Vec<u64> = got.iter().map(|v| v["id"].as_u64().unwrap()).collect();
    check(&(1..=1_500).collect::<Vec<_>>(), &got, &sim);
}

#[tokio::test]
async fn when_nothing_moves_the_overlap_costs_under_two_percent() {
    let sim = Simulator::builder().departments(20_000).start().unwrap();
    let client = client_for(&sim, FAST);
    let mut scan = client.departments();
    let got = ids("20,000", &mut scan, |d: &Department| d.id)
        .await
        .unwrap();
    assert_each_once_in_order(&got, 20_000);
    let requests = sim.stats().requests;
    assert_eq!(requests, planned(20_000));
    assert!(
        requests * 100 <= 200 * 102,
        "{requests} requests for 200 pages"
    );
    let report = scan.report();
    assert_eq!(
        (
            report.shifts_detected,
            report.duplicates_dropped,
            report.extra_requests
        ),
        (0, 0, 0)
    );
}
