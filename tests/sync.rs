//! Incremental sync through the library: a full run, changes, an incremental run; the copy
//! kept by upserts equals the server's collections. Changes made while a run reads, the
//! local clock an hour off the server's, and what a run costs in requests.

mod support;
#[path = "support/sync.rs"]
mod sync;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use helpcrunch_pager::simulator::{Mutation, Simulator};
use helpcrunch_pager::{Collection, SyncState};
use support::*;
use sync::*;

const FAST: u32 = 600_000;
const LOOKBACK: Duration = Duration::from_secs(60);

fn account(customers: usize, chats: usize, offset: i64) -> Simulator {
    Simulator::builder()
        .departments(30)
        .agents(8)
        .customers(customers)
        .chats(chats)
        .clock_offset(offset)
        .start()
        .unwrap()
}

/// A first run, with no state: everything.
async fn full_run(client: &helpcrunch_pager::Client, sim: &Simulator) -> Run {
    bounded(
        "the full run",
        sync_all(client, sim, &SyncState::default(), LOOKBACK),
    )
    .await
}

/// Steps the server's clock past the lookback, so that a run reads nothing made before.
fn later(sim: &Simulator) {
    sim.advance_clock(LOOKBACK * 2);
}

#[tokio::test]
async fn an_incremental_run_brings_the_copy_up_to_date_and_a_quiet_one_costs_two_requests() {
    let sim = account(420, 150, 0);
    let client = client_for(&sim, FAST);
    let mut copy = Copy::default();

    let first = full_run(&client, &sim).await;
    first.upsert_into(&mut copy);
    assert_copy_is_current(&copy, &sim, &[]);
    for &collection in Collection::ALL {
        assert!(first.state.bookmark(collection).is_some(), "{collection}");
    }

    // Chats touched with new messages, new chats, new customers, customers seen, two deleted.
    later(&sim);
    for chat in [3, 40, 41, 99, 150] {
        sim.add_message(chat);
    }
    sim.add_message(40);
    let new_chats = sim.append("chats", 3);
    let new_customers = sim.append("customers", 5);
    for customer in [1, 2, 200, 419] {
        sim.see_customer(customer);
    }
    let deleted = [7, 300];
    for id in deleted {
        sim.mutate("customers", Mutation::Delete(id), 0);
    }
    later(&sim);

    let second = bounded(
        "the incremental run",
        sync_all(&client, &sim, &first.state, LOOKBACK),
    )
    .await;
    let changed_chats = second.read[&Collection::Chats].len();
    assert_eq!(
        changed_chats,
        5 + new_chats.len(),
        "the chats touched and the new ones"
    );
    let customers: Vec<u64> = second.read[&Collection::Customers]
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    let unique: std::collections::BTreeSet<u64> = customers.iter().copied().collect();
    assert_eq!(
        unique.len(),
        customers.len(),
        "each customer once: {customers:?}"
    );
    for id in [1, 2, 200, 419]
        .into_iter()
        .chain(new_customers.iter().copied())
    {
        assert!(
            unique.contains(&id),
            "customer {id} changed and was not read"
        );
    }
    assert!(
        customers.len() <= 4 + new_customers.len() + 50,
        "{} customers read: the changed and at most the 50 highest ids again",
        customers.len()
    );
    assert_eq!(
        second.read[&Collection::Messages].len(),
        6 + new_chats.len(),
        "the new messages (and each new chat's one)"
    );
    second.upsert_into(&mut copy);
    assert_copy_is_current(&copy, &sim, &deleted);
    let stale = deleted
        .iter()
        .filter(|id| copy.table(Collection::Customers).contains_key(id))
        .count();
    assert_eq!(
        stale,
        deleted.len(),
        "deleted customers stay in the copy: no search shows them gone"
    );

    later(&sim);
    let third = bounded(
        "a run with nothing changed",
        sync_all(&client, &sim, &second.state, LOOKBACK),
    )
    .await;
    for collection in [
        Collection::Chats,
        Collection::Customers,
        Collection::Messages,
    ] {
        let before = copy.table(collection);
        for record in &third.read[&collection] {
            let id = record["id"].as_u64().unwrap();
            assert_eq!(
                before.get(&id),
                Some(record),
                "{collection} {id} did not change"
            );
        }
        assert!(
            third.requests[&collection] <= 2,
            "{collection} took {} requests with nothing changed",
            third.requests[&collection]
        );
    }
    assert_eq!(third.requests[&Collection::Departments], 1);
    assert_eq!(third.requests[&Collection::Agents], 1);
}

/// Touches chats and customers and adds both, every few milliseconds, until told to stop.
fn keep_changing(
    sim: &Arc<Simulator>,
    chats: u64,
    customers: u64,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (sim, done) = (Arc::clone(sim), Arc::clone(&stop));
    let worker = std::thread::spawn(move || {
        let mut changes = 0u64;
        let mut rng = fastrand::Rng::with_seed(7);
        while !done.load(Ordering::Relaxed) {
            match changes % 4 {
                0 => {
                    sim.add_message(rng.u64(1..=chats));
                }
                1 => sim.see_customer(rng.u64(1..=customers)),
                2 => {
                    sim.append("customers", 1);
                }
                _ => {
                    sim.append("chats", 1);
                }
            }
            changes += 1;
            std::thread::sleep(Duration::from_millis(3));
        }
        changes
    });
    (stop, worker)
}

async fn changes_while_a_run_reads(offset: i64) {
    let sim = Arc::new(account(600, 200, offset));
    let client = client_for(&sim, FAST);
    let mut copy = Copy::default();
    let first = full_run(&client, &sim).await;
    first.upsert_into(&mut copy);
    let bookmark = first.state.bookmark(Collection::Chats).unwrap().server_time;
    let local = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        bookmark.abs_diff(sim.now()) <= 5,
        "the bookmark {bookmark} is on the server's clock ({}), not the local one ({local})",
        sim.now()
    );

    // Changes before the run (enough for it to take a second and more at 6,000 requests a
    // minute), and all the while it reads.
    later(&sim);
    for chat in 1..=120 {
        sim.add_message(chat);
    }
    let (stop, worker) = keep_changing(&sim, 200, 600);
    let paced = client_for(&sim, 6_000);
    let second = bounded(
        "the run under changes",
        sync_all(&paced, &sim, &first.state, LOOKBACK),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let made = worker.join().unwrap();
    assert!(
        made > 10,
        "only {made} changes were made while the run read"
    );
    second.upsert_into(&mut copy);

    // What changed after the run had read past it is the next run's: it starts before the
    // run under changes began.
    let third = bounded(
        "the next run",
        sync_all(&client, &sim, &second.state, LOOKBACK),
    )
    .await;
    third.upsert_into(&mut copy);
    assert_copy_is_current(&copy, &sim, &[]);
}

#[tokio::test]
async fn changes_made_while_a_run_reads_are_in_the_copy_after_the_next() {
    changes_while_a_run_reads(0).await;
}

#[tokio::test]
async fn a_local_clock_an_hour_ahead_of_the_server_loses_nothing() {
    // The server's clock an hour behind the local one.
    changes_while_a_run_reads(-3_600).await;
}

#[tokio::test]
async fn a_local_clock_an_hour_behind_the_server_loses_nothing() {
    changes_while_a_run_reads(3_600).await;
}

/// At most 1.2 times the fewest requests that can read the changes.
fn assert_near_minimum(collection: Collection, requests: u64, minimum: u64) {
    assert!(
        requests as f64 <= 1.2 * minimum as f64,
        "{collection}: {requests} requests where {minimum} could do"
    );
}

#[tokio::test]
async fn an_incremental_run_costs_close_to_the_changes() {
    let sim = account(1_500, 1_000, 0);
    let client = client_for(&sim, FAST);
    let first = full_run(&client, &sim).await;

    later(&sim);
    let mut rng = fastrand::Rng::with_seed(20);
    let mut touched = std::collections::BTreeSet::new();
    while touched.len() < 250 {
        touched.insert(rng.u64(1..=1_000));
    }
    for &chat in &touched {
        sim.add_message(chat);
    }
    let new = sim.append("customers", 120);
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 180 {
        seen.insert(rng.u64(1..=1_500));
    }
    for &customer in &seen {
        sim.see_customer(customer);
    }
    later(&sim);

    let second = bounded(
        "the incremental run",
        sync_all(&client, &sim, &first.state, LOOKBACK),
    )
    .await;
    let pages = |n: u64| n.div_ceil(100);
    let chats = touched.len() as u64;
    assert_eq!(second.read[&Collection::Chats].len() as u64, chats);
    assert_near_minimum(
        Collection::Chats,
        second.requests[&Collection::Chats],
        pages(chats) + 1,
    );
    let customers = (new.len() + seen.len()) as u64;
    let read = second.read[&Collection::Customers].len() as u64;
    assert!(
        (customers..=customers + 50).contains(&read),
        "{read} customers read for {customers} changed"
    );
    assert_near_minimum(
        Collection::Customers,
        second.requests[&Collection::Customers],
        pages(customers) + 2,
    );
    assert_near_minimum(
        Collection::Messages,
        second.requests[&Collection::Messages],
        chats + pages(chats) + 1,
    );
}

#[tokio::test]
async fn a_change_committed_late_is_read_by_the_next_run_that_looks_back_far_enough() {
    let sim = account(50, 40, 0);
    let client = client_for(&sim, FAST);
    let first = full_run(&client, &sim).await;
    later(&sim);
    let second = bounded("a run", sync_all(&client, &sim, &first.state, LOOKBACK)).await;
    // A write that took 30 s: stamped before the run began, visible only after it.
    let message = sim.add_message_committed_late(5, Duration::from_secs(30));
    sim.advance_clock(Duration::from_secs(2));

    let ids = |run: &Run, collection| -> Vec<u64> {
        run.read[&collection]
            .iter()
            .map(|r| r["id"].as_u64().unwrap())
            .collect()
    };
    let short = bounded(
        "a run looking back 10 s",
        sync_all(&client, &sim, &second.state, Duration::from_secs(10)),
    )
    .await;
    assert!(
        !ids(&short, Collection::Messages).contains(&message),
        "a lookback shorter than the write's delay cannot see it: the test would show nothing"
    );
    let long = bounded(
        "a run looking back a minute",
        sync_all(&client, &sim, &second.state, LOOKBACK),
    )
    .await;
    assert!(ids(&long, Collection::Chats).contains(&5));
    assert!(ids(&long, Collection::Messages).contains(&message));
}

#[tokio::test]
async fn a_customer_whose_creation_committed_a_few_ids_late_is_read_by_the_next_run() {
    let sim = account(300, 5, 0);
    let client = client_for(&sim, FAST);
    let customers = |run: &Run| -> Vec<u64> {
        run.read[&Collection::Customers]
            .iter()
            .map(|r| r["id"].as_u64().unwrap())
            .collect()
    };
    // One creation slower than the 49 begun after it, another slower than the 60 after it:
    // each run reads the later ones first, then the slow one commits behind them, never active
    // (no search by activity shows it).
    let within = sim.begin_create("customers");
    sim.append("customers", 49);
    let first = full_run(&client, &sim).await;
    assert!(!customers(&first).contains(&within));
    sim.commit("customers", within);
    let beyond = sim.begin_create("customers");
    sim.append("customers", 60);
    later(&sim);
    let second = bounded("a run", sync_all(&client, &sim, &first.state, LOOKBACK)).await;
    assert!(
        customers(&second).contains(&within),
        "{within} committed 49 ids late: {:?}",
        customers(&second)
    );
    sim.commit("customers", beyond);
    later(&sim);
    let third = bounded("a run", sync_all(&client, &sim, &second.state, LOOKBACK)).await;
    // The documented limit, which shows that the second run's find was the ids' overlap and not
    // a search by activity.
    assert!(
        !customers(&third).contains(&beyond),
        "{beyond} committed 60 ids late, past the 50 read again"
    );
}
