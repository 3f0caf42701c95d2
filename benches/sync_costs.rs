//! What keeping a copy current costs at scale: a simulated account of 1,000,000 customers,
//! 200,000 chats and their messages (1 to 5 a chat). A full read of each collection, then 1 %
//! of the account changed (2,000 chats with a new message, 5,000 new customers and 5,000
//! customers seen), then an incremental run.
//!
//! Requests are counted by the simulator. The time at HelpCrunch's 120 requests a minute is
//! computed from them (requests / 120 minutes): a full read of the messages alone takes more
//! than a day at that rate, too long to run for real. The reads themselves run unthrottled
//! over loopback, and their wall time is shown too.
//!
//! Exits non-zero if the incremental run costs more than 1.2 times the fewest requests that
//! can read the changes, or reads a change short.
//!
//! `cargo bench --bench sync_costs` (about two minutes on two cores; `SYNC_SCALE=10` divides
//! the account by ten).

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use helpcrunch_pager::simulator::Simulator;
use helpcrunch_pager::{Client, Collection, RetryPolicy, SyncState};

struct Read {
    records: u64,
    requests: u64,
    took: Duration,
}

async fn read_all(
    client: &Client,
    sim: &Simulator,
    state: &mut SyncState,
) -> Vec<(Collection, Read)> {
    let run = client
        .sync(&state.clone())
        .lookback(Duration::from_secs(300));
    let mut reads = Vec::new();
    for &collection in Collection::ALL {
        let started = Instant::now();
        let before = sim.stats().requests;
        let mut changes = run.read::<serde_json::Value>(collection);
        let mut records = 0u64;
        while changes
            .try_next()
            .await
            .unwrap_or_else(|e| panic!("{collection}: {e}"))
            .is_some()
        {
            records += 1;
        }
        changes.finish(state).unwrap();
        reads.push((
            collection,
            Read {
                records,
                requests: sim.stats().requests - before,
                took: started.elapsed(),
            },
        ));
    }
    reads
}

/// `requests` at HelpCrunch's 120 a minute, in words.
fn at_helpcrunch_rate(requests: u64) -> String {
    let minutes = requests as f64 / 120.0;
    match minutes {
        m if m < 1.0 => format!("{:.0} s", m * 60.0),
        m if m < 120.0 => format!("{m:.1} min"),
        m if m < 48.0 * 60.0 => format!("{:.1} h", m / 60.0),
        m => format!("{:.1} days", m / 60.0 / 24.0),
    }
}

#[tokio::main]
async fn main() {
    let scale: u64 = std::env::var("SYNC_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1);
    let (customers, chats) = (1_000_000 / scale, 200_000 / scale);
    let started = Instant::now();
    let sim = Simulator::builder()
        .departments(60)
        .agents(25)
        .customers(customers as usize)
        .chats(chats as usize)
        .start()
        .expect("the simulator starts");
    let setup = started.elapsed();
    let client = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .requests_per_minute(6_000_000)
        .retry_policy(RetryPolicy::new())
        .build()
        .unwrap();

    let mut state = SyncState::default();
    let full = read_all(&client, &sim, &mut state).await;

    // 1 % of the account changes.
    sim.advance_clock(Duration::from_secs(3_600));
    let touched_chats = chats / 100;
    let mut rng = fastrand::Rng::with_seed(1);
    let mut touched = std::collections::BTreeSet::new();
    while (touched.len() as u64) < touched_chats {
        touched.insert(rng.u64(1..=chats));
    }
    for &chat in &touched {
        sim.add_message(chat);
    }
    let new_customers = customers / 200;
    sim.append("customers", new_customers as usize);
    let mut seen = std::collections::BTreeSet::new();
    while (seen.len() as u64) < customers / 200 {
        seen.insert(rng.u64(1..=customers));
    }
    for &customer in &seen {
        sim.see_customer(customer);
    }
    sim.advance_clock(Duration::from_secs(3_600));
    let incremental = read_all(&client, &sim, &mut state).await;

    println!(
        "## Keeping a copy current: {customers} customers, {chats} chats and their messages; \
         1 % changed\n"
    );
    println!(
        "Requests counted by the simulator; the time at HelpCrunch's 120 requests a minute is \
         computed from them (requests / 120 min), not run. The wall time is this machine's, \
         unthrottled over loopback. Simulator set up in {:.1} s.\n",
        setup.as_secs_f64()
    );
    println!("| collection | full read: records | requests | at 120/min | incremental: records | requests | at 120/min | fewest possible | wall time full / incremental |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let pages = |n: u64| n.div_ceil(100);
    let mut failed = Vec::new();
    let (mut full_requests, mut inc_requests) = (0, 0);
    for ((collection, f), (_, i)) in full.iter().zip(&incremental) {
        let changed_customers = new_customers + seen.len() as u64;
        let (expected, fewest) = match collection {
            Collection::Chats => (Some(touched_chats), pages(touched_chats) + 1),
            Collection::Customers => (Some(changed_customers), pages(changed_customers) + 2),
            Collection::Messages => (
                Some(touched_chats),
                touched_chats + pages(touched_chats) + 1,
            ),
            _ => (None, f.requests),
        };
        if let Some(expected) = expected {
            // Customers: the 50 highest ids are read again (a creation that committed late).
            if i.records < expected || i.records > expected + 50 {
                failed.push(format!(
                    "{collection}: read {} for {expected} changes",
                    i.records
                ));
            }
        }
        if i.requests as f64 > 1.2 * fewest as f64 {
            failed.push(format!(
                "{collection}: {} requests where {fewest} could do",
                i.requests
            ));
        }
        full_requests += f.requests;
        inc_requests += i.requests;
        println!(
            "| {collection} | {} | {} | {} | {} | {} | {} | {fewest} | {:.1} s / {:.2} s |",
            f.records,
            f.requests,
            at_helpcrunch_rate(f.requests),
            i.records,
            i.requests,
            at_helpcrunch_rate(i.requests),
            f.took.as_secs_f64(),
            i.took.as_secs_f64(),
        );
    }
    println!(
        "| all | | {full_requests} | {} | | {inc_requests} | {} | | |\n",
        at_helpcrunch_rate(full_requests),
        at_helpcrunch_rate(inc_requests)
    );
    println!(
        "Target: the incremental run within 1.2 times the fewest requests (chats: pages of the \
         changed + 1; customers: pages + 2, two searches; messages: one a changed chat plus the \
         pages of the search that lists them), every change read."
    );
    if failed.is_empty() {
        println!("\nall targets met");
    } else {
        eprintln!("\nmissed: {}", failed.join("; "));
        std::process::exit(1);
    }
}
