//! `helpcrunch-export` keeps the scan's guarantee end to end: short pages, records that jump
//! to the front, deletes and inserts between a crash and the resume, a second run on the same
//! checkpoint, and a shift too far to heal (exit 1, the checkpoint kept, the same command
//! finishes the job).

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::collections::BTreeSet;

use cli::*;
use helpcrunch_pager::simulator::{Fault, Mutation, Simulator};
use support::assert_each_once;

const FAST: &str = "600000";

/// Exports `args` from `sim` into a fresh file of the test `name`, at `concurrency`, with the
/// limiter out of the way: what it said, and the file's ids.
fn export_ids(sim: &Simulator, name: &str, concurrency: &str, args: &[&str]) -> (Ran, Vec<u64>) {
    let file = scratch(&format!("{name}-{concurrency}")).join("out.jsonl");
    let mut cmd = export_from(sim, FAST, args);
    cmd.args(["--concurrency", concurrency, "--output"])
        .arg(&file);
    let ran = run(cmd);
    assert!(ran.status.success(), "{}", ran.stderr);
    let got = ids(&lines(&file));
    (ran, got)
}

#[test]
fn an_export_with_short_pages_writes_every_record_at_concurrency_1_and_8() {
    for concurrency in ["1", "8"] {
        let sim = Simulator::builder()
            .departments(10_000)
            .fault_rate(0.03, Fault::Short)
            .start()
            .unwrap();
        let (ran, got) = export_ids(&sim, "short", concurrency, &["departments"]);
        assert_eq!(got, (1..=10_000).collect::<Vec<_>>());
        assert!(
            ran.stderr.contains("short pages confirmed"),
            "{}",
            ran.stderr
        );
        assert!(ran.stderr.contains("extra requests"), "{}", ran.stderr);
    }
}

#[test]
fn an_export_of_chats_that_keep_changing_writes_each_once_in_a_stable_order() {
    for concurrency in ["1", "8"] {
        let sim = Simulator::builder()
            .chats(5_000)
            .mutate_every(3, Mutation::Touch(1))
            .start()
            .unwrap();
        let (_, got) = export_ids(&sim, "inbox", concurrency, &["chats"]);
        assert!(!sim.changes().touched.is_empty());
        assert_eq!(got, (1..=5_000).collect::<Vec<_>>());
        assert!(sim
            .requests()
            .iter()
            .all(|r| r.query.contains("sort=chats.createdAt&order=asc")));
    }
}

#[test]
fn a_search_in_an_order_that_moves_writes_each_match_once_at_concurrency_1_and_8() {
    for concurrency in ["1", "8"] {
        let sim = Simulator::builder()
            .chats(3_000)
            .mutate_every(3, Mutation::Touch(1))
            .start()
            .unwrap();
        let filter = r#"{"filter":[],"sort":"chats.lastMessageAt","order":"desc"}"#;
        let (ran, got) = export_ids(
            &sim,
            "inbox-search",
            concurrency,
            &["chats/search", "--filter", filter],
        );
        assert!(!sim.changes().touched.is_empty());
        assert_each_once(&got, 1..=3_000);
        assert!(
            ran.stderr.contains("head of the list read again"),
            "{}",
            ran.stderr
        );
        assert!(ran.stderr.contains("extra requests"), "{}", ran.stderr);
    }
}

#[test]
fn deletes_and_inserts_between_a_crash_and_the_resume_lose_nothing() {
    for concurrency in ["1", "8"] {
        let sim = Simulator::builder().departments(3_000).start().unwrap();
        let dir = scratch(&format!("resume-moved-{concurrency}"));
        let (file, checkpoint) = (dir.join("d.jsonl"), dir.join("d.checkpoint"));
        let mut child = start_slow_export(&sim, &file, &checkpoint, 800);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let next = checkpoint_of(&checkpoint)["next_offset"].as_u64().unwrap();

        // While it is down, records it had written are deleted and new ones arrive.
        sim.mutate("departments", Mutation::DeleteBefore(40), next);
        sim.mutate("departments", Mutation::InsertFront(25), 0);
        let mut cmd = resumable(&sim, FAST, "departments", &file, &checkpoint);
        cmd.args(["--concurrency", concurrency]);
        let ran = run(cmd);
        assert!(ran.status.success(), "{}", ran.stderr);
        let deleted: BTreeSet<u64> = sim.changes().deleted.into_iter().collect();
        assert_eq!(deleted.len(), 40);
        assert_each_once(
            &ids(&lines(&file)),
            (1..=3_000).filter(|id| !deleted.contains(id)),
        );
        assert!(!checkpoint.exists());
    }
}

#[test]
fn a_second_run_on_the_same_checkpoint_is_refused_while_the_first_runs() {
    let sim = Simulator::builder().departments(3_000).start().unwrap();
    let dir = scratch("twice");
    let (file, checkpoint) = (dir.join("d.jsonl"), dir.join("d.checkpoint"));
    let first = start_slow_export(&sim, &file, &checkpoint, 300);

    let second = run(resumable(&sim, FAST, "departments", &file, &checkpoint));
    assert_eq!(second.status.code(), Some(1), "{}", second.stderr);
    assert!(
        second.stderr.contains("another export is writing"),
        "{}",
        second.stderr
    );

    let first = finish(first, std::time::Instant::now());
    assert!(first.status.success(), "{}", first.stderr);
    assert_eq!(ids(&lines(&file)), (1..=3_000).collect::<Vec<_>>());
}

#[test]
fn a_shift_too_far_to_heal_fails_keeps_the_checkpoint_and_the_same_command_finishes() {
    let sim = Simulator::builder()
        .departments(10_000)
        .mutation(92, Mutation::DeleteBefore(8_000))
        .start()
        .unwrap();
    let dir = scratch("unhealable");
    let (file, checkpoint) = (dir.join("d.jsonl"), dir.join("d.checkpoint"));
    let mut cmd = resumable(&sim, FAST, "departments", &file, &checkpoint);
    cmd.args(["--concurrency", "1"]);
    let failed = run(cmd);
    assert_eq!(failed.status.code(), Some(1), "{}", failed.stderr);
    assert!(
        failed.stderr.contains("could not prove"),
        "{}",
        failed.stderr
    );
    assert!(checkpoint.exists(), "the checkpoint is kept");

    let ran = run(resumable(&sim, FAST, "departments", &file, &checkpoint));
    assert!(ran.status.success(), "{}", ran.stderr);
    let deleted: BTreeSet<u64> = sim.changes().deleted.into_iter().collect();
    assert_each_once(
        &ids(&lines(&file)),
        (1..=10_000).filter(|id| !deleted.contains(id)),
    );
}
