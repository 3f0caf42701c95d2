//! What the scan's guarantee costs in requests: nothing when nothing moves beyond the one
//! record of overlap a page, and how many extra requests each short page and each record that
//! moves (deleted before the cursor, inserted at the front, jumping to the front of an inbox
//! order) costs. Counts requests, not time. The limiter is out of the way, except in the paced
//! rows: there the client keeps 6,000 a minute and the server answers in 20 ms, so that, as at
//! HelpCrunch's real pace, windows wait for the budget instead of all being sent at once.
//! Prints the table for BENCHMARKS.md and exits non-zero when a record is lost or duplicated,
//! or when the scan with nothing moving makes more than 2 % extra requests.
//!
//! `cargo bench --bench scan_costs` (a few seconds once built).

use std::collections::{BTreeSet, HashMap};
use std::process::ExitCode;
use std::time::Duration;

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{Fault, Mutation, Simulator, SimulatorBuilder};
use helpcrunch_pager::{Chat, ChatSort, Client, Order, ScanReport};

const RECORDS: usize = 10_000;

struct Row {
    name: &'static str,
    paced: bool,
    concurrency: usize,
    /// Records that moved (deleted, inserted, touched) or short pages served.
    events: u64,
    report: ScanReport,
    requests: u64,
    whole: bool,
}

enum List {
    Departments,
    Inbox,
}

async fn run(
    name: &'static str,
    list: List,
    builder: SimulatorBuilder,
    concurrency: usize,
    paced: bool,
) -> Row {
    let builder = if paced {
        builder.latency(Duration::from_millis(20))
    } else {
        builder
    };
    let sim = match list {
        List::Departments => builder.departments(RECORDS),
        List::Inbox => builder.chats(RECORDS),
    }
    .start()
    .expect("simulator");
    let client = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .requests_per_minute(if paced { 6_000 } else { 6_000_000 })
        .build()
        .expect("client");
    let (got, report) = match list {
        List::Departments => {
            let mut scan = client.departments().concurrency(concurrency);
            let mut got = Vec::new();
            while let Some(d) = scan.try_next().await.expect("scan") {
                got.push(d.id);
            }
            (got, scan.report())
        }
        List::Inbox => {
            let mut scan = client
                .chats()
                .sort(ChatSort::LastMessageAt)
                .order(Order::Desc)
                .concurrency(concurrency);
            let mut got = Vec::new();
            while let Some(c) = scan.try_next().await.expect("scan") {
                let c: Chat = c;
                got.push(c.id);
            }
            (got, scan.report())
        }
    };
    let changes = sim.changes();
    let short = sim
        .requests()
        .iter()
        .filter(|r| r.fault == Some(Fault::Short))
        .count() as u64;
    let events = short
        + changes.deleted.len() as u64
        + changes.inserted.len() as u64
        + changes.touched.len() as u64;
    let deleted: BTreeSet<u64> = changes.deleted.iter().copied().collect();
    let mut count: HashMap<u64, u32> = HashMap::new();
    for id in &got {
        *count.entry(*id).or_default() += 1;
    }
    let whole = count.values().all(|&n| n == 1)
        && (1..=RECORDS as u64).all(|id| deleted.contains(&id) || count.contains_key(&id));
    Row {
        name,
        paced,
        concurrency,
        events,
        report,
        requests: sim.stats().requests,
        whole,
    }
}

fn main() -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let b = Simulator::builder;
    let mut rows = Vec::new();
    for (concurrency, paced) in [(1, false), (8, false), (8, true)] {
        let scenarios: Vec<(&'static str, List, SimulatorBuilder)> = vec![
            ("nothing moves (departments)", List::Departments, b()),
            (
                "3 % short pages",
                List::Departments,
                b().fault_rate(0.03, Fault::Short),
            ),
            (
                "1 deleted before the cursor every 5th request",
                List::Departments,
                b().mutate_every(5, Mutation::DeleteBefore(1)),
            ),
            (
                "1 inserted at the front every 5th request",
                List::Departments,
                b().mutate_every(5, Mutation::InsertFront(1)),
            ),
            ("nothing moves (inbox order)", List::Inbox, b()),
            (
                "inbox order, 1 chat jumps to the front every 5th request",
                List::Inbox,
                b().mutate_every(5, Mutation::Touch(1)),
            ),
        ];
        for (name, list, builder) in scenarios {
            if paced && !name.contains("short") && !name.starts_with("nothing") {
                continue;
            }
            rows.push(runtime.block_on(run(name, list, builder, concurrency, paced)));
        }
    }

    println!("## What the guarantee costs ({RECORDS} records, pages of 100)\n");
    println!("| scenario | concurrency | pace | records moved / short pages | each stayer once | requests | beyond a clean scan | per event | counted as extra | short pages confirmed | shifts healed | head rounds |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut ok = true;
    let mut clean = 0;
    for r in &rows {
        if r.name.starts_with("nothing moves") {
            clean = r.requests;
        }
        let beyond = r.requests.saturating_sub(clean);
        let per = if r.events == 0 {
            "-".to_owned()
        } else {
            format!("{:.2}", beyond as f64 / r.events as f64)
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {beyond} | {per} | {} | {} | {} | {} |",
            r.name,
            r.concurrency,
            if r.paced {
                "6,000/min, 20 ms answers"
            } else {
                "unpaced"
            },
            r.events,
            if r.whole { "yes" } else { "NO" },
            r.requests,
            r.report.extra_requests,
            r.report.short_pages,
            r.report.shifts_healed,
            r.report.head_rounds,
        );
        ok &= r.whole;
        if r.name == "nothing moves (departments)" {
            // 100 pages of new records; the overlap of one record a page adds one page in 99.
            let plain = (RECORDS as u64).div_ceil(100);
            ok &= r.report.extra_requests == 0 && r.requests * 100 <= plain * 102;
        }
    }
    if ok {
        println!("\nall targets met");
        ExitCode::SUCCESS
    } else {
        println!("\nA TARGET WAS MISSED");
        ExitCode::FAILURE
    }
}
