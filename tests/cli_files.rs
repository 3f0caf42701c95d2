//! What `helpcrunch-export` does to the files it is given: an existing output survives a run
//! that fails before its first page, and devices such as `/dev/null` are written to as they are.

#[path = "support/cli.rs"]
mod cli;
mod support;

use cli::*;
use helpcrunch_pager::simulator::Simulator;

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
