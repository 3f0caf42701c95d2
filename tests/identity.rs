//! Records are followed by their ids exactly as the API sent them, and where they have none, by
//! the whole record: a record that stays in the collection for the whole scan comes out once,
//! whatever moves around it.

mod support;

use std::collections::BTreeSet;

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{Mutation, Simulator};
use helpcrunch_pager::RecordId;
use serde_json::Value;
use support::*;

const FAST: u32 = 600_000;

/// A record of a collection without ids, read by the caller's own type.
#[derive(Debug, serde::Deserialize)]
struct Named {
    name: String,
}

/// The `N` of a simulated record's `"Record N"`.
fn number(name: &str) -> u64 {
    name.strip_prefix("Record ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a simulated record's name: {name}"))
}

/// 250 records without ids; before the first window after the first page is answered, one
/// record before it is deleted and one is appended, so the total stays 250.
fn deleted_and_appended() -> Simulator {
    Simulator::builder()
        .collection_without_ids("tags", 250)
        .mutation(2, Mutation::DeleteBefore(1))
        .mutation(2, Mutation::Append(1))
        .start()
        .unwrap()
}

/// Asserts that every record of `1..=n` that `sim` did not delete is in `got` once.
fn assert_stayed_once(sim: &Simulator, got: &[u64], n: u64) {
    let deleted: BTreeSet<u64> = sim.changes().deleted.into_iter().collect();
    assert_eq!(deleted.len(), 1, "the scenario deletes one record");
    assert_each_once(got, (1..=n).filter(|id| !deleted.contains(id)));
}

#[tokio::test]
async fn records_without_ids_outlive_a_delete_and_an_append_between_pages() {
    for concurrency in [1, 8] {
        // As JSON values, whose ids the crate reads and finds missing.
        let sim = deleted_and_appended();
        let mut values = client_for(&sim, FAST)
            .paginate::<Value>("tags")
            .page_size(100)
            .concurrency(concurrency);
        let got: Vec<u64> = bounded("JSON values", (&mut values).try_collect::<Vec<_>>())
            .await
            .unwrap()
            .iter()
            .map(|v| number(v["name"].as_str().unwrap()))
            .collect();
        assert_stayed_once(&sim, &got, 250);
        assert!(
            values.report().shifts_detected > 0,
            "concurrency {concurrency}"
        );

        // As a type of the caller's own, with no ids at all.
        let sim = deleted_and_appended();
        let got: Vec<u64> = bounded(
            "the caller's type",
            client_for(&sim, FAST)
                .paginate::<Named>("tags")
                .page_size(100)
                .concurrency(concurrency)
                .map_ok(|r| number(&r.name))
                .try_collect::<Vec<_>>(),
        )
        .await
        .unwrap();
        assert_stayed_once(&sim, &got, 250);
    }
}

#[tokio::test]
async fn an_id_sent_as_a_string_and_one_sent_as_a_number_are_two_records() {
    // Records 1 to 100 have ids 1 to 100; records 101 to 250 have "001" to "150".
    let sim = Simulator::builder()
        .collection_with_text_ids("contacts", 250)
        .start()
        .unwrap();
    let mut contacts = client_for(&sim, FAST)
        .paginate::<Value>("contacts")
        .page_size(100);
    let got: Vec<u64> = bounded("text ids", (&mut contacts).try_collect::<Vec<_>>())
        .await
        .unwrap()
        .iter()
        .map(|v| number(v["name"].as_str().unwrap()))
        .collect();
    assert_each_once_in_order(&got, 250);
    assert_eq!(contacts.report().duplicates_dropped, 0);
}

#[tokio::test]
async fn a_scan_of_text_ids_resumes_from_the_ids_it_yielded_without_duplicates() {
    let sim = Simulator::builder()
        .collection_with_text_ids("contacts", 500)
        .start()
        .unwrap();
    let client = client_for(&sim, FAST);
    let mut pages = client.paginate::<Value>("contacts").concurrency(1).pages();
    let mut yielded = Vec::new();
    for _ in 0..2 {
        yielded.extend(pages.try_next().await.unwrap().unwrap().items);
    }
    let position = pages.position().unwrap();
    drop(pages);
    // While it is down, records it had yielded are deleted: the resume reads back over them.
    sim.mutate("contacts", Mutation::DeleteBefore(30), position.offset());
    let written: Vec<RecordId> = yielded
        .iter()
        .map(|v| RecordId::from_json(&v["id"]).unwrap())
        .collect();
    let rest: Vec<Value> = bounded(
        "the resumed scan",
        client
            .paginate::<Value>("contacts")
            .resume(position, written)
            .try_collect(),
    )
    .await
    .unwrap();
    let got: Vec<u64> = yielded
        .iter()
        .chain(&rest)
        .map(|v| number(v["name"].as_str().unwrap()))
        .collect();
    let deleted: BTreeSet<u64> = sim.changes().deleted.into_iter().collect();
    assert_each_once(&got, (1..=500).filter(|n| !deleted.contains(n)));
}
