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

/// The `N` of each line's `"name": "Record N"`, for the simulated collections whose ids do not
/// tell the records apart.
fn names(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let name = v["name"].as_str().unwrap_or_else(|| panic!("no name: {l}"));
            name.strip_prefix("Record ").unwrap().parse().unwrap()
        })
        .collect()
}

/// Exports `collection` from `sim` into a fresh file of the test `name`, at `concurrency` and
/// pages of 100: what it said, and each line's record number.
fn export_names(
    sim: &Simulator,
    name: &str,
    concurrency: &str,
    collection: &str,
) -> (Ran, Vec<u64>) {
    let file = scratch(&format!("{name}-{concurrency}")).join("out.jsonl");
    let mut cmd = export_from(sim, FAST, &[collection]);
    cmd.args([
        "--concurrency",
        concurrency,
        "--page-size",
        "100",
        "--output",
    ])
    .arg(&file);
    let ran = run(cmd);
    assert!(ran.status.success(), "{}", ran.stderr);
    (ran, names(&lines(&file)))
}

#[test]
fn an_export_of_records_without_ids_loses_none_to_a_delete_and_an_append_at_concurrency_1_and_8() {
    for concurrency in ["1", "8"] {
        // One record deleted before the second window, one appended: the total stays 250.
        let sim = Simulator::builder()
            .collection_without_ids("tags", 250)
            .mutation(2, Mutation::DeleteBefore(1))
            .mutation(2, Mutation::Append(1))
            .start()
            .unwrap();
        let (ran, got) = export_names(&sim, "no-ids", concurrency, "tags");
        let deleted: BTreeSet<u64> = sim.changes().deleted.into_iter().collect();
        assert_eq!(deleted.len(), 1);
        assert_each_once(&got, (1..=250).filter(|n| !deleted.contains(n)));
        assert!(ran.stderr.contains("shifts"), "{}", ran.stderr);
    }
}

#[test]
fn an_export_keeps_an_id_sent_as_a_string_apart_from_one_sent_as_a_number() {
    // Records 1 to 100 have ids 1 to 100; records 101 to 250 have "001" to "150".
    let sim = Simulator::builder()
        .collection_with_text_ids("contacts", 250)
        .start()
        .unwrap();
    let (ran, got) = export_names(&sim, "text-ids", "8", "contacts");
    assert_eq!(got, (1..=250).collect::<Vec<_>>());
    assert!(!ran.stderr.contains("duplicates"), "{}", ran.stderr);
}

#[test]
fn an_export_of_text_ids_resumes_after_a_failure_without_duplicates() {
    // The fourth request fails for good: the export stops with its checkpoint, and the same
    // command, run again, resumes from the ids it had written ("001" is not 1).
    let sim = Simulator::builder()
        .collection_with_text_ids("contacts", 450)
        .fault(4, Fault::Status(400))
        .start()
        .unwrap();
    let dir = scratch("text-ids-resume");
    let (file, checkpoint) = (dir.join("c.jsonl"), dir.join("c.checkpoint"));
    let command = || {
        let mut cmd = resumable(&sim, FAST, "contacts", &file, &checkpoint);
        cmd.args(["--concurrency", "1", "--page-size", "100"]);
        cmd
    };
    let failed = run(command());
    assert_eq!(failed.status.code(), Some(1), "{}", failed.stderr);
    assert!(checkpoint.exists(), "the checkpoint is kept");
    sim.mutate("contacts", Mutation::DeleteBefore(20), 250);
    let ran = run(command());
    assert!(ran.status.success(), "{}", ran.stderr);
    let deleted: BTreeSet<u64> = sim.changes().deleted.into_iter().collect();
    assert_each_once(
        &names(&lines(&file)),
        (1..=450).filter(|n| !deleted.contains(n)),
    );
}
