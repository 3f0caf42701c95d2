//! `helpcrunch-export --state`: a copy kept current through the exporter, every collection in
//! one run with `all --output-dir`, a run killed in the middle and started again, and the
//! command lines a sync refuses.

#[path = "support/cli.rs"]
mod cli;
mod support;
#[path = "support/sync.rs"]
mod sync;

use std::path::Path;
use std::time::{Duration, Instant};

use cli::*;
use helpcrunch_pager::simulator::{Mutation, Simulator};
use helpcrunch_pager::Collection;
use sync::*;

const LOOKBACK: Duration = Duration::from_secs(60);

fn account() -> Simulator {
    Simulator::builder()
        .departments(25)
        .agents(6)
        .customers(380)
        .chats(320)
        .start()
        .unwrap()
}

/// `all` from `sim` into `dir`, with the state in `state`.
fn sync_into(sim: &Simulator, rpm: &str, dir: &Path, state: &Path) -> std::process::Command {
    let (dir, state) = (dir.to_str().unwrap(), state.to_str().unwrap());
    export_from(
        sim,
        rpm,
        &[
            "all",
            "--output-dir",
            dir,
            "--state",
            state,
            "--lookback",
            "60",
            "--quiet",
        ],
    )
}

fn run_ok(mut cmd: std::process::Command) -> Ran {
    let ran = finish(cmd.spawn().unwrap(), Instant::now());
    assert!(ran.status.success(), "the run failed: {}", ran.stderr);
    ran
}

/// Upserts every collection's file in `dir` into `copy`.
fn load(copy: &mut Copy, dir: &Path) {
    for &collection in Collection::ALL {
        let text = std::fs::read_to_string(dir.join(format!("{collection}.jsonl")))
            .unwrap_or_else(|e| panic!("{collection}.jsonl: {e}"));
        copy.upsert_lines(collection, &text);
    }
}

/// The requests the summary says `collection` took.
fn requests_of(summary: &str, collection: Collection) -> u64 {
    let line = summary
        .lines()
        .find(|l| l.starts_with(&format!("{collection}: ")))
        .unwrap_or_else(|| panic!("no summary line for {collection} in {summary}"));
    let (_, after) = line.rsplit_once(", ").unwrap();
    after
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{line}"))
}

#[test]
fn a_copy_kept_by_the_exporter_equals_the_account_after_an_incremental_run() {
    let sim = account();
    let scratch = scratch("sync-current");
    let state = scratch.join("state.json");
    let (one, two, three) = (scratch.join("1"), scratch.join("2"), scratch.join("3"));
    let mut copy = Copy::default();

    let ran = run_ok(sync_into(&sim, FAST, &one, &state));
    assert!(
        ran.stderr
            .contains("chats: 320 records, read whole (no bookmark yet)"),
        "{}",
        ran.stderr
    );
    load(&mut copy, &one);
    assert_copy_is_current(&copy, &sim, &[]);

    sim.advance_clock(LOOKBACK * 2);
    for chat in [1, 2, 77, 320] {
        sim.add_message(chat);
    }
    sim.append("chats", 2);
    sim.append("customers", 3);
    sim.see_customer(5);
    sim.see_customer(380);
    sim.mutate("customers", Mutation::Delete(9), 0);
    sim.advance_clock(LOOKBACK * 2);

    let ran = run_ok(sync_into(&sim, FAST, &two, &state));
    assert!(
        ran.stderr.contains("chats: 6 changed since "),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("(lookback 1 min)"), "{}", ran.stderr);
    load(&mut copy, &two);
    assert_copy_is_current(&copy, &sim, &[9]);

    sim.advance_clock(LOOKBACK * 2);
    let ran = run_ok(sync_into(&sim, FAST, &three, &state));
    for collection in [
        Collection::Chats,
        Collection::Customers,
        Collection::Messages,
    ] {
        let requests = requests_of(&ran.stderr, collection);
        assert!(
            requests <= 2,
            "{collection}: {requests} requests with nothing changed: {}",
            ran.stderr
        );
        let lines = std::fs::read_to_string(three.join(format!("{collection}.jsonl"))).unwrap();
        let mut again = copy.clone();
        again.upsert_lines(collection, &lines);
        assert_eq!(
            again, copy,
            "{collection}: nothing changed, nothing new in the copy"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_run_killed_in_the_middle_and_started_again_loses_nothing() {
    let sim = account();
    let scratch = scratch("sync-killed");
    let state = scratch.join("state.json");
    let (one, two) = (scratch.join("1"), scratch.join("2"));
    let mut copy = Copy::default();
    run_ok(sync_into(&sim, FAST, &one, &state));
    load(&mut copy, &one);
    let state_after_one = std::fs::read(&state).unwrap();

    sim.advance_clock(LOOKBACK * 2);
    for chat in 1..=300 {
        sim.add_message(chat);
    }
    sim.append("customers", 40);
    sim.advance_clock(LOOKBACK * 2);

    // Slow enough to be caught reading messages: 300 chats at 6,000 a minute take 3 s.
    let before = sim.stats().requests;
    let mut child = sync_into(&sim, "6000", &two, &state).spawn().unwrap();
    let started = Instant::now();
    while sim.stats().requests < before + 60 {
        assert!(started.elapsed() < BOUND_WAIT, "the run never got going");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(
        std::fs::read(&state).unwrap(),
        state_after_one,
        "the state is as it was"
    );
    assert!(
        !two.join("messages.jsonl").exists(),
        "no output went into place before the run was whole"
    );

    // Changes meanwhile, then the same command again.
    sim.add_message(5);
    run_ok(sync_into(&sim, FAST, &two, &state));
    load(&mut copy, &two);
    assert_copy_is_current(&copy, &sim, &[]);
    assert_ne!(
        std::fs::read(&state).unwrap(),
        state_after_one,
        "the state moved on"
    );
}

const BOUND_WAIT: Duration = Duration::from_secs(8);

#[test]
fn messages_without_a_state_are_every_chats() {
    let sim = account();
    let scratch = scratch("sync-messages");
    let out = scratch.join("messages.jsonl");
    run_ok(export_from(
        &sim,
        FAST,
        &["messages", "--output", out.to_str().unwrap(), "--quiet"],
    ));
    let mut copy = Copy::default();
    copy.upsert_lines(
        Collection::Messages,
        &std::fs::read_to_string(&out).unwrap(),
    );
    assert_eq!(
        copy.table(Collection::Messages),
        truth(&sim).table(Collection::Messages)
    );
}

#[test]
fn command_lines_a_sync_cannot_take_are_refused_with_the_reason() {
    let sim = account();
    let scratch = scratch("sync-refused");
    let state = scratch.join("s.json");
    let state = state.to_str().unwrap();
    let dir = scratch.to_str().unwrap();
    let out = scratch.join("o.jsonl");
    let out = out.to_str().unwrap();
    for (args, says) in [
        (
            vec!["chats/search", "--state", state],
            "--state keeps a copy of",
        ),
        (vec!["all", "--state", state], "give --output-dir DIR"),
        (
            vec!["chats", "--output-dir", dir, "--state", state],
            "--output-dir is for COLLECTION all",
        ),
        (
            vec!["departments", "--output-dir", dir],
            "--output-dir is for COLLECTION all",
        ),
        (
            vec![
                "chats",
                "--state",
                state,
                "--output",
                out,
                "--checkpoint",
                out,
            ],
            "cannot be used with",
        ),
        (
            vec!["messages", "--output", out, "--checkpoint", dir],
            "a plain export",
        ),
    ] {
        let ran = finish(
            export_from(&sim, FAST, &args).spawn().unwrap(),
            Instant::now(),
        );
        assert_eq!(ran.status.code(), Some(2), "{args:?}: {}", ran.stderr);
        assert!(ran.stderr.contains(says), "{args:?}: {}", ran.stderr);
    }
    std::fs::write(
        scratch.join("bad.json"),
        r#"{"version": 9, "bookmarks": {}}"#,
    )
    .unwrap();
    let bad = scratch.join("bad.json");
    let ran = finish(
        export_from(
            &sim,
            FAST,
            &["chats", "--state", bad.to_str().unwrap(), "--output", out],
        )
        .spawn()
        .unwrap(),
        Instant::now(),
    );
    assert_eq!(ran.status.code(), Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("version 9"), "{}", ran.stderr);
    assert_eq!(
        sim.stats().requests,
        0,
        "nothing was sent for a refused command line"
    );
}
