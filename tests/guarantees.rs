//! Every record that stays in a collection for the whole scan comes out exactly once, or the
//! scan ends with a typed error: short pages inside the collection, orders in which a changed
//! record jumps to the front, deletes and inserts while a scan is stopped and resumed, and a
//! shift too far to heal.

mod support;

use std::collections::BTreeSet;

use futures::{StreamExt, TryStreamExt};
use helpcrunch_pager::simulator::{Fault, Mutation, Simulator};
use helpcrunch_pager::{Chat, ChatSort, Department, Error, Order, ScanReport};
use serde_json::Value;
use support::*;

const FAST: u32 = 600_000;

#[tokio::test]
async fn short_pages_inside_the_collection_lose_nothing_at_concurrency_1_and_8() {
    for concurrency in [1, 8] {
        let sim = Simulator::builder()
            .departments(10_000)
            .fault_rate(0.03, Fault::Short)
            .seed(concurrency as u64)
            .start()
            .unwrap();
        let mut departments = client_for(&sim, FAST)
            .departments()
            .concurrency(concurrency);
        let got = bounded("a scan with short pages", async {
            let mut got = Vec::new();
            while let Some(d) = departments.try_next().await.unwrap() {
                got.push(d.id);
            }
            got
        })
        .await;
        assert_each_once_in_order(&got, 10_000);
        let report = departments.report();
        let short = sim
            .requests()
            .iter()
            .filter(|r| r.fault == Some(Fault::Short))
            .count() as u64;
        assert!(short > 0, "the fault fired");
        assert!(report.short_pages > 0, "{report:?}");
        assert!(
            report.extra_requests >= report.short_pages,
            "each short page confirmed by a request, counted: {report:?}"
        );
    }
}

#[tokio::test]
async fn short_pages_through_the_generic_json_path_lose_nothing() {
    let sim = Simulator::builder()
        .customers(4_000)
        .fault_rate(0.05, Fault::Short)
        .start()
        .unwrap();
    let got = ids(
        "generic scan",
        client_for(&sim, FAST).paginate::<Value>("customers"),
        |v| v["id"].as_u64().unwrap(),
    )
    .await
    .unwrap();
    assert_each_once_in_order(&got, 4_000);
}

#[tokio::test]
async fn when_nothing_is_wrong_a_scan_makes_no_extra_request() {
    let sim = Simulator::builder().departments(20_000).start().unwrap();
    let mut departments = client_for(&sim, FAST).departments();
    let n = bounded(
        "a clean scan",
        (&mut departments).try_fold(0, |n, _| async move { Ok(n + 1) }),
    )
    .await
    .unwrap();
    assert_eq!(n, 20_000);
    let report = departments.report();
    assert_eq!(report.extra_requests, 0, "{report:?}");
    assert_eq!((report.short_pages, report.head_rounds), (0, 0));
    assert_eq!(sim.stats().requests, 203, "one record of overlap a page");
}

fn inbox(chats: usize) -> Simulator {
    Simulator::builder()
        .chats(chats)
        .mutate_every(3, Mutation::Touch(1))
        .start()
        .unwrap()
}

#[tokio::test]
async fn an_inbox_order_that_moves_loses_a_plain_loop_records_but_not_a_scan() {
    let naive = inbox(5_000);
    // A plain offset loop, as the community clients page.
    let lost = 5_000
        - plain_loop(&naive, "chats", "sort=chats.lastMessageAt&order=desc")
            .await
            .iter()
            .map(|r| {
                serde_json::from_str::<Value>(r).unwrap()["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect::<BTreeSet<_>>()
            .len();
    assert!(lost > 0, "the moving order costs a plain loop records");

    for concurrency in [1, 8] {
        let sim = inbox(5_000);
        let mut chats = client_for(&sim, FAST)
            .chats()
            .sort(ChatSort::LastMessageAt)
            .order(Order::Desc)
            .concurrency(concurrency);
        let got = bounded("an inbox scan", async {
            let mut got = Vec::new();
            while let Some(c) = chats.try_next().await.unwrap() {
                got.push(c.id);
            }
            got
        })
        .await;
        assert!(!sim.changes().touched.is_empty());
        assert_each_once(&got, 1..=5_000);
        let report: ScanReport = chats.report();
        assert!(report.head_rounds >= 1, "{report:?}");
        assert!(report.extra_requests >= report.head_rounds, "{report:?}");
    }
}

#[tokio::test]
async fn a_moving_order_through_the_generic_json_path_loses_nothing() {
    let sim = inbox(3_000);
    let got = ids(
        "generic inbox",
        client_for(&sim, FAST)
            .paginate::<Value>("chats")
            .query("sort", "chats.lastMessageAt")
            .query("order", "desc")
            .concurrency(4),
        |v| v["id"].as_u64().unwrap(),
    )
    .await
    .unwrap();
    assert_each_once(&got, 1..=3_000);
}

#[tokio::test]
async fn chats_and_customers_are_read_in_a_stable_order_by_default() {
    let sim = Simulator::builder()
        .chats(2_000)
        .customers(2_000)
        .mutate_every(2, Mutation::Touch(2))
        .start()
        .unwrap();
    let client = client_for(&sim, FAST);
    let mut chats = client.chats();
    let got = ids("chats", &mut chats, |c: &Chat| c.id).await.unwrap();
    assert_each_once_in_order(&got, 2_000);
    assert_eq!(
        chats.report().head_rounds,
        0,
        "a stable order needs no re-read"
    );
    let got = ids("customers", client.customers(), |c| c.id)
        .await
        .unwrap();
    assert_each_once_in_order(&got, 2_000);
    let queries: Vec<String> = sim.requests().into_iter().map(|r| r.query).collect();
    assert!(queries
        .iter()
        .filter(|q| q.contains("offset"))
        .all(|q| q.contains("sort=chats.createdAt&order=asc")
            || q.contains("sort=customers.firstSeen&order=asc")));
}

/// Reads `pages` pages of departments, then stops: the ids yielded and where the scan stood.
async fn read_then_stop(
    sim: &Simulator,
    concurrency: usize,
    pages: usize,
) -> (Vec<u64>, helpcrunch_pager::ScanPosition) {
    let mut stream = client_for(sim, FAST)
        .departments()
        .concurrency(concurrency)
        .pages();
    let mut got = Vec::new();
    for _ in 0..pages {
        let page = stream.next().await.unwrap().unwrap();
        got.extend(page.items.iter().map(|d: &Department| d.id));
    }
    (got, stream.position().unwrap())
}

#[tokio::test]
async fn a_resumed_scan_heals_deletes_and_inserts_made_while_it_was_stopped() {
    for concurrency in [1, 8] {
        let sim = Simulator::builder().departments(5_000).start().unwrap();
        let (mut got, position) = read_then_stop(&sim, concurrency, 20).await;
        // While it is stopped: records it had read are deleted, and new ones arrive.
        sim.mutate("departments", Mutation::DeleteBefore(60), position.offset());
        sim.mutate("departments", Mutation::InsertFront(25), 0);
        let written = got.clone();
        let rest = ids(
            "the resumed scan",
            client_for(&sim, FAST)
                .departments()
                .concurrency(concurrency)
                .resume(position, written),
            |d| d.id,
        )
        .await
        .unwrap();
        got.extend(rest);
        let deleted: BTreeSet<u64> = sim.changes().deleted.into_iter().collect();
        assert_eq!(deleted.len(), 60);
        assert_each_once(&got, (1..=5_000).filter(|id| !deleted.contains(id)));
    }
}

#[tokio::test]
async fn a_shift_too_far_to_heal_is_a_typed_error_and_a_resume_finishes_the_scan() {
    let sim = Simulator::builder()
        .departments(10_000)
        .mutation(92, Mutation::DeleteBefore(8_000))
        .start()
        .unwrap();
    let mut pages = client_for(&sim, FAST).departments().concurrency(1).pages();
    let mut got = Vec::new();
    let err = bounded("a scan that cannot heal", async {
        loop {
            match pages.next().await {
                Some(Ok(page)) => got.extend(page.items.iter().map(|d: &Department| d.id)),
                Some(Err(e)) => return e,
                None => panic!("the scan ended as if whole"),
            }
        }
    })
    .await;
    assert!(matches!(err, Error::Incomplete { .. }), "{err:?}");
    assert!(err.to_string().contains("could not prove"), "{err}");
    assert!(pages.next().await.is_none());

    let position = pages.position().unwrap();
    let rest = ids(
        "the resume",
        client_for(&sim, FAST)
            .departments()
            .resume(position, got.clone()),
        |d| d.id,
    )
    .await
    .unwrap();
    got.extend(rest);
    let deleted: BTreeSet<u64> = sim.changes().deleted.into_iter().collect();
    assert_each_once(&got, (1..=10_000).filter(|id| !deleted.contains(id)));
}

#[tokio::test]
async fn a_total_that_undercounts_is_read_past_in_full_pages() {
    for concurrency in [1, 8] {
        let sim = Simulator::builder()
            .departments(5_000)
            .total_skew(-4_900)
            .start()
            .unwrap();
        let got = ids(
            "a scan past a total of 100",
            client_for(&sim, FAST)
                .departments()
                .concurrency(concurrency),
            |d| d.id,
        )
        .await
        .unwrap();
        assert_each_once_in_order(&got, 5_000);
        // 51 windows of 99 new records (the first of 100), and at most the windows in
        // flight when the last short page came back; not 2,450 windows of two.
        let requests = sim.stats().requests;
        assert!(
            requests <= 51 + concurrency as u64,
            "{requests} requests at concurrency {concurrency}"
        );
    }
}

#[tokio::test]
async fn a_read_back_that_cannot_be_right_is_asked_again_like_any_page() {
    // Page size 10: the heal after the deletion reads back on requests 6 and on; a read-back
    // with records past its limit, or with an id twice, would yield what it holds.
    for fault in [Fault::Longer, Fault::DuplicateId] {
        for n in [6, 7, 8] {
            let sim = Simulator::builder()
                .departments(1_000)
                .mutation(5, Mutation::DeleteBefore(15))
                .fault(n, fault.clone())
                .start()
                .unwrap();
            let got = ids(
                "a heal with a bad read",
                client_for(&sim, FAST)
                    .departments()
                    .page_size(10)
                    .concurrency(1),
                |d| d.id,
            )
            .await
            .unwrap();
            let deleted: BTreeSet<u64> = sim.changes().deleted.into_iter().collect();
            assert!(
                got.iter().all(|&id| id <= 1_000),
                "{fault:?} at {n}: a bogus record"
            );
            assert_each_once(&got, (1..=1_000).filter(|id| !deleted.contains(id)));
        }
    }
}

#[tokio::test]
async fn a_server_that_ignores_offset_is_an_error_not_an_endless_scan() {
    let first_page = serde_json::json!({
        "data": (1..=100).map(|id| serde_json::json!({"id": id})).collect::<Vec<_>>(),
        "total": 1_000,
    })
    .to_string();
    let sim = Simulator::builder()
        .collection("articles", 1_000)
        .fault_rate(1.0, Fault::Body(first_page))
        .start()
        .unwrap();
    let err = ids(
        "a server stuck on its first page",
        client_for(&sim, FAST).paginate::<Value>("articles"),
        |v| v["id"].as_u64().unwrap(),
    )
    .await
    .unwrap_err();
    assert!(err.is_incomplete(), "{err:?}");
    assert!(err.to_string().contains("ignore offset"), "{err}");
    assert!(
        sim.stats().requests < 30,
        "{} requests",
        sim.stats().requests
    );
}

#[derive(Debug, serde::Deserialize)]
struct Unnamed {
    name: String,
}

/// The `N` of a simulated record's `"Record N"`.
fn number(record: &Unnamed) -> u64 {
    record
        .name
        .strip_prefix("Record ")
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn records_read_without_ids_while_records_before_them_are_deleted_come_out_once() {
    for concurrency in [1, 8] {
        let sim = Simulator::builder()
            .collection("articles", 1_000)
            .mutate_every(4, Mutation::DeleteBefore(1))
            .start()
            .unwrap();
        let mut articles = client_for(&sim, FAST)
            .paginate::<Unnamed>("articles")
            .concurrency(concurrency);
        let got: Vec<u64> = bounded(
            "records without ids",
            (&mut articles).try_collect::<Vec<_>>(),
        )
        .await
        .unwrap()
        .iter()
        .map(number)
        .collect::<Vec<_>>();
        let deleted: BTreeSet<u64> = sim.changes().deleted.into_iter().collect();
        assert!(!deleted.is_empty());
        assert_each_once(&got, (1..=1_000).filter(|id| !deleted.contains(id)));
        assert!(articles.report().shifts_healed > 0);
    }
}

#[tokio::test]
async fn settings_that_would_lose_records_are_refused_before_any_request() {
    let sim = Simulator::builder().chats(10).start().unwrap();
    let client = client_for(&sim, FAST);
    let e = client
        .chats()
        .sort(ChatSort::LastMessageAt)
        .order(Order::Desc)
        .start_offset(5)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("start_offset"), "{e}");
    let e = client
        .paginate::<Unnamed>("chats")
        .query("sort", "chats.lastMessageAt")
        .query("order", "desc")
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(e.to_string().contains(".ids()"), "{e}");
    assert_eq!(sim.stats().requests, 0);
}

#[tokio::test]
async fn pages_of_one_still_overlap_and_lose_nothing_to_deletes() {
    let sim = Simulator::builder()
        .departments(200)
        .mutate_every(7, Mutation::DeleteBefore(1))
        .start()
        .unwrap();
    let mut departments = client_for(&sim, FAST).departments().page_size(1);
    let got = ids("pages of one", &mut departments, |d| d.id)
        .await
        .unwrap();
    let deleted: BTreeSet<u64> = sim.changes().deleted.into_iter().collect();
    assert!(!deleted.is_empty());
    assert_each_once(&got, (1..=200).filter(|id| !deleted.contains(id)));
    assert!(departments.report().shifts_detected > 0);
    let log = sim.requests();
    assert_eq!(
        log[0].query, "offset=0&limit=1",
        "the first page is the size asked for"
    );
    assert!(log[1..].iter().all(|r| r.query.ends_with("limit=2")));
}

#[tokio::test]
async fn records_whose_ids_cannot_be_read_are_not_yielded_twice_at_page_boundaries() {
    let sim = Simulator::builder().departments(1_000).start().unwrap();
    let got = ids(
        "records without readable ids",
        client_for(&sim, FAST)
            .paginate::<Value>("departments")
            .ids(|_| None),
        |v| v["id"].as_u64().unwrap(),
    )
    .await
    .unwrap();
    assert_each_once_in_order(&got, 1_000);
}

#[tokio::test]
async fn a_position_past_every_offset_is_an_error_not_an_empty_success() {
    let sim = Simulator::builder().departments(10).start().unwrap();
    let position: helpcrunch_pager::ScanPosition =
        serde_json::from_str(r#"{"offset": 18446744073709551615, "total": 10}"#).unwrap();
    let e = client_for(&sim, FAST)
        .departments()
        .resume(position, std::iter::empty::<u64>())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(e.is_incomplete(), "{e:?}");
}

#[tokio::test]
async fn a_resume_without_ids_after_records_moved_finds_where_it_left_off_by_the_whole_record() {
    let sim = Simulator::builder()
        .collection("articles", 1_000)
        .start()
        .unwrap();
    let mut pages = client_for(&sim, FAST)
        .paginate::<Unnamed>("articles")
        .concurrency(1)
        .pages();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.extend(
            pages
                .next()
                .await
                .unwrap()
                .unwrap()
                .items
                .iter()
                .map(number),
        );
    }
    let position = pages.position().unwrap();
    drop(pages);
    assert_eq!(
        position.anchor(),
        None,
        "the records have no id to anchor on"
    );
    sim.mutate(
        "articles",
        Mutation::DeleteBefore(60),
        position.offset() - 1,
    );
    let rest = client_for(&sim, FAST)
        .paginate::<Unnamed>("articles")
        .resume(position, std::iter::empty::<u64>())
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    got.extend(rest.iter().map(number));
    let deleted: BTreeSet<u64> = sim.changes().deleted.into_iter().collect();
    assert_each_once(&got, (1..=1_000).filter(|id| !deleted.contains(id)));
}

#[tokio::test]
async fn a_resume_without_ids_whose_last_record_was_deleted_is_an_error_not_a_silent_loss() {
    let sim = Simulator::builder()
        .collection("articles", 1_000)
        .start()
        .unwrap();
    let mut pages = client_for(&sim, FAST)
        .paginate::<Unnamed>("articles")
        .concurrency(1)
        .pages();
    pages.next().await.unwrap().unwrap();
    let position = pages.position().unwrap();
    drop(pages);
    // Every record before the cursor, the last one read among them: nothing the resume could
    // find tells where it left off.
    sim.mutate("articles", Mutation::DeleteBefore(100), position.offset());
    let e = client_for(&sim, FAST)
        .paginate::<Unnamed>("articles")
        .resume(position, std::iter::empty::<u64>())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(e.is_incomplete(), "{e:?}");
    assert!(e.to_string().contains("has no id"), "{e}");
}

#[tokio::test]
async fn lists_that_shrink_or_grow_fast_while_read_are_read_whole() {
    for concurrency in [1, 8] {
        let shrinking = Simulator::builder()
            .departments(3_000)
            .mutate_every(2, Mutation::DeleteBefore(5))
            .start()
            .unwrap();
        let got = ids(
            "a shrinking list",
            client_for(&shrinking, FAST)
                .departments()
                .concurrency(concurrency),
            |d| d.id,
        )
        .await
        .unwrap();
        let deleted: BTreeSet<u64> = shrinking.changes().deleted.into_iter().collect();
        assert_each_once(&got, (1..=3_000).filter(|id| !deleted.contains(id)));

        // A chat's messages, newest first, one arriving every other request, with a total one
        // too high.
        let busy = Simulator::builder()
            .chat_messages(7, 500)
            .total_skew(1)
            .mutate_every(2, Mutation::InsertFront(1))
            .start()
            .unwrap();
        let got = ids(
            "a busy chat",
            client_for(&busy, FAST)
                .chat_messages(7)
                .concurrency(concurrency),
            |m| m.id,
        )
        .await
        .unwrap();
        assert_each_once(&got, (1..=500).map(|n| 7_000_000 + n));
    }
}

#[tokio::test]
async fn totals_a_few_records_too_high_are_settled_after_three_reads() {
    let sim = Simulator::builder()
        .agents(4)
        .total_skew(2)
        .start()
        .unwrap();
    let got = ids("agents", client_for(&sim, FAST).agents(), |a| a.id)
        .await
        .unwrap();
    assert_each_once_in_order(&got, 4);
    assert_eq!(sim.stats().requests, 3);
}

#[tokio::test]
async fn a_resume_after_many_records_arrived_at_the_front_reads_on_to_the_end() {
    let sim = Simulator::builder().departments(3_000).start().unwrap();
    let (mut got, position) = read_then_stop(&sim, 1, 5).await;
    sim.mutate("departments", Mutation::InsertFront(2_000), 0);
    let rest = ids(
        "the resumed scan",
        client_for(&sim, FAST)
            .departments()
            .resume(position, got.clone()),
        |d| d.id,
    )
    .await
    .unwrap();
    got.extend(rest);
    assert_each_once(&got, 1..=3_000);
}
