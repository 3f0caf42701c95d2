//! What `helpcrunch-export` does to the files it is given: an existing output survives a run
//! that fails before its first page, devices such as `/dev/null` are written to as they are,
//! and a checkpoint that disagrees with its output is refused rather than resumed from.

#[path = "support/cli.rs"]
mod cli;
mod support;

use cli::*;
use helpcrunch_pager::simulator::Simulator;
use serde_json::Value;
use support::hostile::Hostile;

/// A server whose collection says it holds 50 records and never serves one: the export ends in
/// `Error::Incomplete` after confirming reads, each an empty page.
fn empty_pages_forever() -> Hostile {
    let body = r#"{"data":[],"meta":{"total":50}}"#;
    Hostile::answering(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    ))
}

/// A finished earlier export, as a user would have kept it: longer than any export here, so
/// that one which replaces it must also cut it.
fn previous() -> Vec<u8> {
    (1..=5_000)
        .map(|id| format!("{{\"id\":{id},\"name\":\"kept\"}}\n"))
        .collect::<String>()
        .into_bytes()
}

#[tokio::test]
async fn a_401_leaves_an_existing_output_as_it_was_and_the_right_key_then_replaces_it() {
    let sim = Simulator::builder().departments(250).start().unwrap();
    let file = scratch("401-kept").join("d.jsonl");
    std::fs::write(&file, previous()).unwrap();

    let mut cmd = export(&["departments", "--base-url", &sim.base_url(), "--output"]);
    cmd.arg(&file).env("HELPCRUNCH_API_KEY", "wrong-key");
    let ran = run(cmd);
    assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("HTTP 401"), "{}", ran.stderr);
    assert!(std::fs::read(&file).unwrap() == previous(), "byte for byte");

    let ran = run(export_from(
        &sim,
        FAST,
        &["departments", "--output", file.to_str().unwrap()],
    ));
    assert!(ran.status.success(), "{}", ran.stderr);
    assert_eq!(lines(&file), source(&sim, "departments").await);
}

#[test]
fn a_checkpoint_in_a_missing_folder_leaves_an_existing_output_as_it_was() {
    let sim = Simulator::builder().departments(250).start().unwrap();
    let dir = scratch("missing-folder");
    let file = dir.join("d.jsonl");
    std::fs::write(&file, previous()).unwrap();

    let ran = run(resumable(
        &sim,
        FAST,
        "departments",
        &file,
        &dir.join("no such folder").join("d.checkpoint"),
    ));
    assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("cannot write the checkpoint"),
        "{}",
        ran.stderr
    );
    assert!(std::fs::read(&file).unwrap() == previous(), "byte for byte");
    assert_eq!(sim.stats().requests, 0, "refused before anything was read");
}

#[test]
fn an_export_into_dev_null_succeeds() {
    let sim = Simulator::builder().departments(250).start().unwrap();
    let ran = run(export_from(
        &sim,
        FAST,
        &["departments", "--output", "/dev/null"],
    ));
    assert!(ran.status.success(), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("exported 250 records of 250"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_device_cannot_take_a_checkpoint_and_says_so() {
    let sim = Simulator::builder().departments(250).start().unwrap();
    let checkpoint = scratch("device-checkpoint").join("d.checkpoint");
    let ran = run(resumable(
        &sim,
        FAST,
        "departments",
        "/dev/null".as_ref(),
        &checkpoint,
    ));
    assert_eq!(ran.status.code(), Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("--checkpoint needs --output to be a regular file"),
        "{}",
        ran.stderr
    );
    assert!(!checkpoint.exists());
}

#[test]
fn a_write_to_dev_full_says_the_device_is_full() {
    let sim = Simulator::builder().departments(250).start().unwrap();
    let ran = run(export_from(
        &sim,
        FAST,
        &["departments", "--output", "/dev/full"],
    ));
    assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("cannot write the output /dev/full: No space left on device"),
        "{}",
        ran.stderr
    );
}

/// One way to make an interrupted export's checkpoint and output disagree: what it does to the
/// checkpoint's JSON and to the output's bytes, and what the refusal says.
struct Tamper {
    what: &'static str,
    edit: fn(&mut Value, &mut Vec<u8>),
    says: &'static str,
}

fn field(checkpoint: &mut Value, name: &str, by: i64) {
    let v = &mut checkpoint[name];
    *v = (v.as_i64().unwrap() + by).into();
}

/// The byte range of the last whole line before `end`.
fn last_line(output: &[u8], end: usize) -> std::ops::Range<usize> {
    let start = output[..end - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    start..end
}

const TAMPERS: &[Tamper] = &[
    Tamper {
        what: "the position moved 163 records ahead",
        edit: |c, _| {
            field(c, "next_offset", 163);
            field(&mut c["position"], "offset", 163);
        },
        says: "does not match the output",
    },
    Tamper {
        what: "one record more counted",
        edit: |c, _| field(c, "records", 1),
        says: "the checkpoint counts",
    },
    Tamper {
        what: "output_bytes ahead, over a record that was never exported",
        edit: |c, o| {
            let end = c["output_bytes"].as_u64().unwrap() as usize;
            let line = b"{\"id\":999999,\"name\":\"never exported\"}\n";
            o.splice(end..end, line.iter().copied());
            field(c, "output_bytes", line.len() as i64);
            field(c, "records", 1);
        },
        says: "does not match the output",
    },
    Tamper {
        what: "the output's last record removed, and the checkpoint's counts with it",
        edit: |c, o| {
            let end = c["output_bytes"].as_u64().unwrap() as usize;
            let last = last_line(o, end);
            field(c, "output_bytes", -(last.len() as i64));
            field(c, "records", -1);
            o.drain(last);
        },
        says: "does not match the output",
    },
    Tamper {
        what: "the output's last records removed",
        edit: |c, o| {
            let end = c["output_bytes"].as_u64().unwrap() as usize;
            o.truncate(last_line(o, end).start);
        },
        says: "the output is shorter",
    },
    Tamper {
        what: "the output's last record's id edited",
        edit: |c, o| {
            let end = c["output_bytes"].as_u64().unwrap() as usize;
            let last = last_line(o, end);
            // `{"id":` and the id's first digit, made one less (a 0 a 9).
            let digit = last.start + 6;
            o[digit] = b'0' + (o[digit] - b'0' + 9) % 10;
        },
        says: "does not match the output",
    },
    Tamper {
        what: "a checkpoint of format version 2, which had no seal",
        edit: |c, _| {
            c["version"] = 2.into();
            c.as_object_mut().unwrap().remove("seal");
        },
        says: "written by an older helpcrunch-export",
    },
];

#[tokio::test]
async fn a_checkpoint_that_disagrees_with_its_output_is_refused_and_nothing_is_touched() {
    let sim = Simulator::builder().departments(3_000).start().unwrap();
    let dir = scratch("tampered");
    let (file, checkpoint) = (dir.join("d.jsonl"), dir.join("d.checkpoint"));
    let mut child = start_slow_export(&sim, &file, &checkpoint, 500);
    child.kill().unwrap();
    child.wait().unwrap();
    let (output, saved) = (std::fs::read(&file).unwrap(), checkpoint_of(&checkpoint));
    let requests = sim.stats().requests;

    for tamper in TAMPERS {
        let (mut c, mut o) = (saved.clone(), output.clone());
        (tamper.edit)(&mut c, &mut o);
        let c = serde_json::to_vec_pretty(&c).unwrap();
        std::fs::write(&checkpoint, &c).unwrap();
        std::fs::write(&file, &o).unwrap();

        let ran = run(resumable(&sim, FAST, "departments", &file, &checkpoint));
        let what = tamper.what;
        assert_eq!(ran.status.code(), Some(1), "{what}: {}", ran.stderr);
        assert!(ran.stderr.contains(tamper.says), "{what}: {}", ran.stderr);
        assert!(
            ran.stderr.contains(checkpoint.to_str().unwrap()),
            "{what}: names the checkpoint: {}",
            ran.stderr
        );
        assert!(std::fs::read(&file).unwrap() == o, "{what}: output touched");
        assert_eq!(std::fs::read(&checkpoint).unwrap(), c, "{what}");
        assert_eq!(sim.stats().requests, requests, "{what}: nothing was read");
    }

    // The same files as the export left them resume, so the refusals above were the edits'.
    std::fs::write(&file, &output).unwrap();
    std::fs::write(&checkpoint, serde_json::to_vec(&saved).unwrap()).unwrap();
    let ran = run(resumable(&sim, FAST, "departments", &file, &checkpoint));
    assert!(ran.status.success(), "{}", ran.stderr);
    assert_eq!(lines(&file), source(&sim, "departments").await);
}

#[test]
fn empty_pages_before_a_failure_leave_an_existing_output_as_it_was() {
    let server = empty_pages_forever();
    let dir = scratch("empty-pages-kept");
    for checkpoint in [false, true] {
        let file = dir.join(format!("d-{checkpoint}.jsonl"));
        std::fs::write(&file, previous()).unwrap();
        let mut args = vec!["departments", "--quiet", "--base-url", &server.base_url];
        args.extend(["--api-key", "key", "--output", file.to_str().unwrap()]);
        let check = dir.join(format!("d-{checkpoint}.checkpoint"));
        if checkpoint {
            args.extend(["--checkpoint", check.to_str().unwrap()]);
        }
        let ran = run(export(&args));
        assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr);
        assert!(ran.stderr.contains("0 records written"), "{}", ran.stderr);
        assert!(std::fs::read(&file).unwrap() == previous(), "byte for byte");
    }
}

#[test]
fn a_named_pipe_cannot_take_a_checkpoint_and_is_refused_before_it_is_opened() {
    let dir = scratch("fifo");
    let fifo = dir.join("out.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let check = dir.join("c.json");
    // Opening a pipe for writing waits for a reader: none comes, so only a refusal made
    // before the opening ends the run.
    let ran = run(export(&[
        "departments",
        "--simulate",
        "--quiet",
        "--output",
        fifo.to_str().unwrap(),
        "--checkpoint",
        check.to_str().unwrap(),
    ]));
    assert_eq!(ran.status.code(), Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("regular file"), "{}", ran.stderr);
}

#[test]
fn a_servers_words_are_printed_as_it_wrote_them() {
    let body = r#"{"errors":[{"code":"invalid_request","message":"the base URL is wrong for path \"x\""}]}"#;
    let server = Hostile::answering(format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    ));
    let ran = run(export(&[
        "departments",
        "--quiet",
        "--base-url",
        &server.base_url,
        "--api-key",
        "key",
    ]));
    assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("the base URL is wrong for path \"x\""),
        "{}",
        ran.stderr
    );
}
