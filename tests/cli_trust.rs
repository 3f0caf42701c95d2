//! The exporter held against servers and inputs this project did not write: a path out of the
//! base URL sends nothing, a key a server echoes is not printed, a dead host fails within the
//! time asked for, and a `Retry-After` in the past costs no pause.

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::time::Duration;

use cli::*;
use helpcrunch_pager::simulator::Simulator;
use support::hostile::{refusing_url, Hostile, HOSTILE_PATHS};

const KEY: &str = "hc-live-KEY-0f9e8d7c6b5a";

#[test]
fn a_collection_path_out_of_the_base_url_is_refused_before_anything_is_sent() {
    let sim = Simulator::builder().departments(5).start().unwrap();
    // The exporter reads a leading `/` as the collection's own: `//evil.example/x` is the path
    // `evil.example/x`, under the base URL.
    for &path in HOSTILE_PATHS.iter().filter(|p| !p.starts_with("//")) {
        let ran = run(export_from(&sim, FAST, &[path, "--quiet"]));
        assert!(!ran.status.success(), "{path:?} exported: {}", ran.stderr);
        assert!(
            ran.stderr.contains("COLLECTION "),
            "{path:?}: {}",
            ran.stderr
        );
    }
    let seen: Vec<String> = sim.requests().iter().map(|r| r.path.clone()).collect();
    assert!(seen.is_empty(), "the server saw {seen:?}");
}

#[test]
fn a_key_echoed_in_an_error_body_is_not_printed() {
    let echo = Hostile::echoing();
    let ran = run(export(&[
        "departments",
        "--quiet",
        "--base-url",
        &echo.base_url,
        "--api-key",
        KEY,
    ]));
    assert!(!ran.status.success());
    assert!(
        echo.seen.lock().unwrap().join("").contains(KEY),
        "the server was sent the key"
    );
    assert!(ran.stderr.contains("400"), "{}", ran.stderr);
    assert!(ran.stderr.contains("<redacted>"), "{}", ran.stderr);
    let printed = format!("{}{}", ran.stdout, ran.stderr);
    assert!(!printed.contains("KEY-0f9e8d7c6b5a"), "{printed}");
}

#[test]
fn a_host_that_never_answers_fails_within_the_first_contact_naming_its_url() {
    let silent = Hostile::silent();
    for base in [
        refusing_url(),
        "https://helpcrunch-nowhere.invalid/v1".to_owned(),
        silent.base_url.clone(),
    ] {
        let ran = run(export(&[
            "departments",
            "--quiet",
            "--first-contact",
            "2",
            "--base-url",
            &base,
            "--api-key",
            KEY,
        ]));
        assert!(!ran.status.success(), "{base}");
        // Two seconds asked for; the request's own timeout is thirty, --retry-for 300.
        assert!(ran.took < Duration::from_secs(4), "{base}: {:?}", ran.took);
        assert!(
            ran.stderr.contains(&format!("{base}/departments")),
            "{base}: {}",
            ran.stderr
        );
    }
}

#[test]
fn a_retry_after_in_the_past_costs_no_pause() {
    let sim = support::hostile::retry_now_three_times();
    let dir = scratch("retry-now");
    let out = dir.join("departments.jsonl");
    // The adaptive rate at the exporter's own window (a minute): a pause of a window fails
    // the test's bound.
    let ran = run(export_from(
        &sim,
        "6000",
        &["departments", "--quiet", "--output", out.to_str().unwrap()],
    ));
    assert!(ran.status.success(), "{}", ran.stderr);
    assert_eq!(lines(&out).len(), 250);
    assert!(ran.took < Duration::from_secs(3), "{:?}", ran.took);
}
