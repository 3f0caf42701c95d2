//! `helpcrunch-export`, run as a built binary against the simulator: every collection as the
//! API sent it, searches, clear failures, and resuming after SIGKILL or Ctrl-C.

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use cli::*;
use helpcrunch_pager::simulator::{Fault, RateLimit, Simulator};
use serde_json::Value;

fn account() -> Simulator {
    Simulator::builder()
        .departments(250)
        .agents(120)
        .customers(450)
        .chats(330)
        .chat_messages(42, 260)
        .start()
        .unwrap()
}

#[tokio::test]
async fn exports_every_collection_exactly_as_the_api_sent_it() {
    let sim = account();
    let dir = scratch("every");
    for collection in [
        "departments",
        "agents",
        "customers",
        "chats",
        "chats/42/messages",
    ] {
        let file = dir.join("out.jsonl");
        let ran = run(export_from(
            &sim,
            FAST,
            &[collection, "--output", file.to_str().unwrap()],
        ));
        assert!(ran.status.success(), "{collection}: {}", ran.stderr);
        assert_eq!(lines(&file), source(&sim, collection).await, "{collection}");
    }
}

#[tokio::test]
async fn writes_to_stdout_without_output() {
    let sim = account();
    let ran = run(export_from(&sim, FAST, &["agents", "--quiet"]));
    assert!(ran.status.success(), "{}", ran.stderr);
    let got: Vec<String> = ran.stdout.lines().map(str::to_owned).collect();
    assert_eq!(got, source(&sim, "agents").await);
}

#[test]
fn a_search_exports_what_its_body_matches_with_the_body_sent_unchanged() {
    // --body, and --filter, its earlier name.
    for flag in ["--body", "--filter"] {
        let sim = account();
        let dir = scratch(&format!("search{flag}"));
        let file = dir.join("found.jsonl");
        let filter = r#"{"filter":[{"field":"customers.email","operator":"~","value":"customer1"}],"sort":"customers.firstSeen","order":"desc"}"#;
        let ran = run(export_from(
            &sim,
            FAST,
            &[
                "customers/search",
                flag,
                filter,
                "--page-size",
                "25",
                "--output",
                file.to_str().unwrap(),
            ],
        ));
        assert!(ran.status.success(), "{}", ran.stderr);
        let found = lines(&file);
        // Customers 1, 10, 12-19, 100-199 but 110, 121, ..., 198 (every 11th has no email).
        let mut expected: Vec<u64> = [1]
            .into_iter()
            .chain(10..=19)
            .chain(100..=199)
            .filter(|id| id % 11 != 0)
            .collect();
        expected.reverse();
        assert_eq!(ids(&found), expected);
        assert!(found.len() > 100);
        let sent: Value = serde_json::from_str(filter).unwrap();
        for request in sim.requests() {
            let mut body: Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
            let window = body.as_object_mut().unwrap();
            let limit = window.remove("limit").and_then(|l| l.as_u64()).unwrap();
            assert!((1..=25).contains(&limit), "--page-size 25, or what is left");
            assert!(window.remove("offset").is_some());
            assert_eq!(body, sent, "the filter goes out as given");
        }
    }
}

#[test]
fn a_wrong_key_fails_at_once_naming_the_401() {
    let sim = account();
    let mut cmd = export(&["departments", "--base-url", &sim.base_url()]);
    cmd.env("HELPCRUNCH_API_KEY", "wrong-key");
    let ran = run(cmd);
    assert_eq!(ran.status.code(), Some(1));
    assert!(ran.took < Duration::from_secs(5), "took {:?}", ran.took);
    assert_eq!(ran.stderr.lines().count(), 1, "one line: {}", ran.stderr);
    assert!(ran.stderr.contains("HTTP 401"), "{}", ran.stderr);
    assert!(ran.stderr.contains("check the API key"), "{}", ran.stderr);
    assert!(
        !ran.stderr.contains("wrong-key"),
        "the key is never printed"
    );
    assert_eq!(sim.stats().requests, 1, "a 401 is not retried");
}

#[test]
fn no_key_at_all_is_a_usage_error_that_says_where_to_put_one() {
    let ran = run(export(&["departments"]));
    assert_eq!(ran.status.code(), Some(2));
    assert!(ran.stderr.contains("--api-key"), "{}", ran.stderr);
    assert!(ran.stderr.contains("HELPCRUNCH_API_KEY"), "{}", ran.stderr);
}

#[test]
fn bad_flags_say_which_and_why() {
    let cases: &[(&[&str], &str)] = &[
        (&["departments", "--page-size", "101"], "--page-size"),
        (&["departments", "--page-size", "ten"], "--page-size"),
        (
            &["departments", "--requests-per-minute", "0"],
            "--requests-per-minute",
        ),
        (&["departments", "--concurrency", "0"], "--concurrency"),
        (
            &["chats/search", "--body", "{not json"],
            "--body is not JSON",
        ),
        (
            &["chats/search", "--filter", "[1]"],
            "--body must be a JSON object",
        ),
        (
            &["chats/search", "--filter", r#"{"filter":[],"limit":5}"#],
            "--body must not set offset or limit",
        ),
        (
            &["departments", "--filter", "{}"],
            "--body applies to the search endpoints",
        ),
        (&["departments", "--checkpoint", "c.json"], "--output"),
        (
            &["departments", "--base-url", "ftp://example.com/v1"],
            "--base-url \"ftp://example.com/v1\" has scheme",
        ),
        (
            &["departments", "--base-url", "http://example.com/v1"],
            "plain http",
        ),
        (
            &[
                "departments",
                "--simulate",
                "--base-url",
                "http://127.0.0.1:1/v1",
            ],
            "--base-url",
        ),
        (&["departments", "--retry-for", "0"], "--retry-for"),
        (&["departments?limit=5"], "has a query"),
    ];
    for (args, says) in cases {
        let mut cmd = export(args);
        cmd.env("HELPCRUNCH_API_KEY", "some-key");
        let ran = run(cmd);
        assert!(!ran.status.success(), "{args:?} succeeded");
        assert!(
            ran.stderr.contains(says),
            "{args:?}: expected {says:?} in {}",
            ran.stderr
        );
        assert!(!ran.stderr.contains("some-key"), "{args:?} printed the key");
    }
}

/// Names the library's messages use for what the exporter's flags set.
const LIBRARY_NAMES: &[&str] = &[
    "requests_per_minute",
    "allow_insecure_http",
    "http_client",
    "base URL",
    ".query(",
];

#[test]
fn what_the_library_calls_a_setting_reaches_the_user_as_its_flag() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["departments", "--base-url", "http://example.com/v1"],
            "--base-url \"http://example.com/v1\" is plain http",
        ),
        (
            &["departments", "--base-url", "https://me:pw@example.com/v1"],
            "--base-url has a user name or password",
        ),
        (
            &["departments?limit=5", "--base-url", "http://127.0.0.1:1/v1"],
            "COLLECTION \"departments\" has a query",
        ),
    ];
    for (args, says) in cases {
        let mut cmd = export(args);
        cmd.env("HELPCRUNCH_API_KEY", "some-key");
        let ran = run(cmd);
        assert!(!ran.status.success(), "{args:?} succeeded");
        assert!(ran.stderr.contains(says), "{args:?}: {}", ran.stderr);
        for name in LIBRARY_NAMES {
            assert!(!ran.stderr.contains(name), "{args:?}: {}", ran.stderr);
        }
    }
}

#[test]
fn a_rate_the_account_refuses_names_the_flag_to_lower() {
    let sim = Simulator::builder()
        .departments(250)
        .fault_rate(1.0, Fault::Status(429))
        .start()
        .unwrap();
    let ran = run(export_from(
        &sim,
        FAST,
        &["departments", "--output", "/dev/null", "--retry-for", "1"],
    ));
    assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("HTTP 429"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("lower --requests-per-minute"),
        "{}",
        ran.stderr
    );
    for name in LIBRARY_NAMES {
        assert!(!ran.stderr.contains(name), "{}", ran.stderr);
    }
}

#[test]
fn an_unreachable_host_says_so() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let mut cmd = export(&["departments", "--base-url", &url, "--retry-for", "1"]);
    cmd.env("HELPCRUNCH_API_KEY", "some-key");
    let ran = run(cmd);
    assert_eq!(ran.status.code(), Some(1));
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("network error on departments"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.to_lowercase().contains("connection refused"),
        "{}",
        ran.stderr
    );
}

#[tokio::test]
async fn a_sigkilled_export_resumes_with_every_record_once_and_no_torn_line() {
    let sim = Simulator::builder().departments(3_000).start().unwrap();
    let dir = scratch("sigkill");
    let (file, checkpoint) = (dir.join("d.jsonl"), dir.join("d.checkpoint"));
    let mut child = start_slow_export(&sim, &file, &checkpoint, 500);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let saved = checkpoint_of(&checkpoint);
    let next = saved["next_offset"].as_u64().unwrap();
    assert!(next < 3_000, "killed mid-export, at {next}");
    // Whatever the kill left, add a line torn mid-write, as a kill inside write() would.
    let mut partial = std::fs::read(&file).unwrap();
    partial.extend_from_slice(br#"{"id":77777,"name":"Depart"#);
    std::fs::write(&file, partial).unwrap();
    let before = sim.stats().requests as usize;

    let ran = run(resumable(&sim, FAST, "departments", &file, &checkpoint));
    assert!(ran.status.success(), "{}", ran.stderr);
    let resumed = sim.requests()[before..].to_vec();
    assert!(
        ran.stderr.contains(&format!("resumed at offset {next}")),
        "{}",
        ran.stderr
    );
    assert_eq!(
        lines(&file),
        source(&sim, "departments").await,
        "every record once"
    );
    assert!(
        !checkpoint.exists(),
        "a complete export removes its checkpoint"
    );
    assert_eq!(
        saved["position"]["anchor"].as_u64(),
        Some(next),
        "the checkpoint names the last record read"
    );
    assert_eq!(
        resumed.iter().map(|r| r.offset.unwrap()).min(),
        Some(next - 1),
        "the second run starts on the last record the first one read"
    );
}

#[test]
fn a_checkpoint_of_another_collection_is_refused_and_nothing_is_touched() {
    let sim = Simulator::builder()
        .departments(3_000)
        .agents(50)
        .start()
        .unwrap();
    let dir = scratch("other");
    let (file, checkpoint) = (dir.join("d.jsonl"), dir.join("d.checkpoint"));
    let mut child = start_slow_export(&sim, &file, &checkpoint, 200);
    child.kill().unwrap();
    child.wait().unwrap();
    let (output_before, checkpoint_before) = (
        std::fs::read(&file).unwrap(),
        std::fs::read(&checkpoint).unwrap(),
    );

    let ran = run(resumable(&sim, FAST, "agents", &file, &checkpoint));
    assert_eq!(ran.status.code(), Some(1));
    assert!(
        ran.stderr
            .contains("belongs to another export (departments"),
        "{}",
        ran.stderr
    );
    assert_eq!(std::fs::read(&file).unwrap(), output_before);
    assert_eq!(std::fs::read(&checkpoint).unwrap(), checkpoint_before);
}

#[tokio::test]
async fn ctrl_c_keeps_the_checkpoint_and_exits_130_and_the_same_command_finishes() {
    let sim = Simulator::builder().departments(3_000).start().unwrap();
    let dir = scratch("ctrlc");
    let (file, checkpoint) = (dir.join("d.jsonl"), dir.join("d.checkpoint"));
    let child = start_slow_export(&sim, &file, &checkpoint, 300);
    // SAFETY: kill(2) with the pid of a child this test owns and has not reaped.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    let ran = finish(child, Instant::now());
    assert_eq!(ran.status.code(), Some(130), "{}", ran.stderr);
    assert!(ran.stderr.contains("interrupted after"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("run the same command to resume"),
        "{}",
        ran.stderr
    );
    let saved = checkpoint_of(&checkpoint);
    assert_eq!(
        saved["output_bytes"].as_u64().unwrap(),
        std::fs::metadata(&file).unwrap().len(),
        "stopped between pages: the output ends where the checkpoint says"
    );

    let ran = run(resumable(&sim, FAST, "departments", &file, &checkpoint));
    assert!(ran.status.success(), "{}", ran.stderr);
    assert_eq!(lines(&file), source(&sim, "departments").await);
}

#[test]
fn simulate_needs_no_key_and_ends_with_a_one_line_summary() {
    let dir = scratch("simulate");
    let file = dir.join("agents.jsonl");
    let ran = run(export(&[
        "agents",
        "--simulate",
        "--output",
        file.to_str().unwrap(),
    ]));
    assert!(ran.status.success(), "{}", ran.stderr);
    assert_eq!(ids(&lines(&file)), (1..=500).collect::<Vec<_>>());
    // stderr is a pipe here: no bar, just the summary.
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    let summary = &ran.stderr;
    for part in [
        "exported 500 records of 500 from agents",
        "6 requests",
        "0 429s",
        "0 retries",
        "% of the limit of 120/min",
    ] {
        assert!(summary.contains(part), "{part:?} not in {summary}");
    }
}

#[test]
fn the_summary_tells_the_rate_the_export_settled_at_under_a_lower_limit() {
    let sim = Simulator::builder()
        .departments(1_000)
        .rate_limit(RateLimit::leaky_bucket(3_000))
        .start()
        .unwrap();
    let dir = scratch("adaptive");
    let file = dir.join("d.jsonl");
    let mut cmd = export_from(
        &sim,
        "6000",
        &["departments", "--output", file.to_str().unwrap()],
    );
    cmd.args(["--rate-window", "1", "--page-size", "20"]);
    let ran = run(cmd);
    assert!(ran.status.success(), "{}", ran.stderr);
    assert_eq!(ids(&lines(&file)), (1..=1_000).collect::<Vec<_>>());
    let summary = &ran.stderr;
    let settled: f64 = summary
        .split("the rate settled at ")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no settled rate in {summary}"));
    assert!(settled <= 3_150.0, "{summary}");
    assert!(summary.contains("of at most 5882/min"), "{summary}");
}

/// Runs the export with stderr on a pseudo-terminal and returns what the terminal showed.
fn screen_of(mut cmd: Command) -> (ExitStatus, String) {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors into the two ints; the name, termios and size
    // pointers are null or point at a live winsize.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(opened, 0, "openpty failed");
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: both descriptors were just opened by openpty and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    cmd.stderr(Stdio::from(slave)).env("TERM", "xterm-256color");
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    drop(cmd); // the parent's copy of the terminal's slave end
    let mut master = std::fs::File::from(master);
    let reader = std::thread::spawn(move || {
        let mut screen = Vec::new();
        let mut buf = [0u8; 4096];
        // Reading fails with EIO once the child, the last holder of the slave end, is gone.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            screen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&screen).into_owned()
    });
    let status = wait_bounded(&mut child, started);
    (status, reader.join().unwrap())
}

#[test]
fn on_a_terminal_the_progress_bar_shows_records_total_and_eta() {
    let sim = Simulator::builder().departments(1_000).start().unwrap();
    let dir = scratch("pty");
    let file = dir.join("d.jsonl");
    let cmd = export_from(
        &sim,
        "600",
        &["departments", "--output", file.to_str().unwrap()],
    );
    let (status, screen) = screen_of(cmd);
    assert!(status.success(), "{screen}");
    // The bar is redrawn in place; any frame after the first page shows the total.
    let frames: Vec<&str> = screen
        .split(['\r', '\n'])
        .filter(|f| f.contains("/1,000 records"))
        .collect();
    assert!(!frames.is_empty(), "no bar with the total in: {screen:?}");
    assert!(
        frames
            .iter()
            .any(|f| f.contains("ETA ") && f.contains("req/min") && f.contains("budget 588/min")),
        "no ETA in: {frames:?}"
    );
    assert!(
        frames
            .iter()
            .any(|f| f.contains("100/1,000") || f.contains("200/1,000")),
        "the count moves: {frames:?}"
    );
    assert!(
        screen.contains("exported 1000 records of 1000"),
        "{screen:?}"
    );

    let (status, screen) = screen_of(export_from(
        &sim,
        FAST,
        &["departments", "--quiet", "--output", file.to_str().unwrap()],
    ));
    assert!(status.success());
    assert!(
        !screen.contains("/1,000 records"),
        "--quiet draws no bar: {screen:?}"
    );
}

#[tokio::test]
async fn an_export_while_records_move_has_each_record_that_stayed_once() {
    let sim = Simulator::builder()
        .departments(2_000)
        .mutate_every(2, helpcrunch_pager::simulator::Mutation::InsertFront(2))
        .mutate_every(3, helpcrunch_pager::simulator::Mutation::DeleteBefore(3))
        .start()
        .unwrap();
    let dir = scratch("moving");
    let file = dir.join("d.jsonl");
    let ran = run(export_from(
        &sim,
        FAST,
        &[
            "departments",
            "--concurrency",
            "4",
            "--output",
            file.to_str().unwrap(),
        ],
    ));
    assert!(ran.status.success(), "{}", ran.stderr);
    let got = ids(&lines(&file));
    let changes = sim.changes();
    let mut sorted = got.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), got.len(), "no record twice");
    let missing: Vec<u64> = (1..=2_000)
        .filter(|id| !changes.deleted.contains(id) && sorted.binary_search(id).is_err())
        .collect();
    assert!(missing.is_empty(), "lost {missing:?}");
    assert!(ran.stderr.contains("shifts detected"), "{}", ran.stderr);
}

#[test]
fn an_export_from_a_flaky_server_has_every_record_once() {
    use helpcrunch_pager::simulator::Fault;
    // 5 % 500s, 3 % connections reset, 3 % pages cut off halfway.
    let sim = Simulator::builder()
        .departments(5_000)
        .fault_rate(0.05, Fault::Status(500))
        .fault_rate(0.03, Fault::Reset)
        .fault_rate(0.03, Fault::Truncated)
        .seed(3)
        .start()
        .unwrap();
    let dir = scratch("flaky");
    let file = dir.join("d.jsonl");
    let ran = run(export_from(
        &sim,
        FAST,
        &["departments", "--output", file.to_str().unwrap()],
    ));
    assert!(ran.status.success(), "{}", ran.stderr);
    assert_eq!(ids(&lines(&file)), (1..=5_000).collect::<Vec<_>>());
    let log = sim.requests();
    let count = |fault: &Fault| {
        log.iter()
            .filter(|r| r.fault.as_ref() == Some(fault))
            .count()
    };
    let (errors, resets, cut) = (
        count(&Fault::Status(500)),
        count(&Fault::Reset),
        count(&Fault::Truncated),
    );
    eprintln!(
        "{errors} 500s, {resets} resets, {cut} truncated; {}",
        ran.stderr.trim()
    );
    assert!(
        errors > 0 && resets > 0 && cut > 0,
        "the seed must give each fault"
    );
    assert!(
        ran.stderr
            .contains(&format!(" {} retries", errors + resets + cut)),
        "each fault cost one retry: {}",
        ran.stderr
    );
}

#[test]
fn a_reader_that_closes_stdout_early_stops_the_export_quietly() {
    let sim = Simulator::builder().departments(5_000).start().unwrap();
    let mut child = export_from(&sim, FAST, &["departments", "--quiet"])
        .spawn()
        .unwrap();
    let started = Instant::now();
    // Read one line, then go, as `| head -1` does.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let ran = finish(child, started);
    assert!(first.starts_with("{\"id\":1,"), "{first}");
    assert_eq!(ran.status.code(), Some(0), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("the reader closed the output"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
}

#[test]
fn an_export_whose_redis_never_answered_says_so_and_does_not_claim_it_shared_the_budget() {
    let sim = account();
    let args = [
        "agents",
        "--redis-url",
        "redis://127.0.0.1:1/",
        "--output",
        "/dev/null",
        "--quiet",
    ];
    let mut quiet = export_from(&sim, FAST, &args);
    quiet.env("RUST_LOG", "error");
    let ran = run(quiet);
    assert!(ran.status.success(), "{}", ran.stderr);
    assert!(
        !ran.stderr.contains("WARN"),
        "RUST_LOG=error: {}",
        ran.stderr
    );
    // The library's warning, seen with RUST_LOG unset, and blank (an empty filter, which
    // would hide everything, is read as unset).
    for blank in [None, Some(""), Some("  ")] {
        let mut cmd = export_from(&sim, FAST, &args);
        if let Some(value) = blank {
            cmd.env("RUST_LOG", value);
        }
        let ran = run(cmd);
        assert!(ran.status.success(), "{}", ran.stderr);
        assert!(
            ran.stderr.contains("WARN") && ran.stderr.contains("Redis failed"),
            "RUST_LOG={blank:?}: {}",
            ran.stderr
        );
    }
    let ran = run(export_from(&sim, FAST, &args));
    let summary = ran.stderr.lines().last().unwrap();
    assert!(
        summary.contains("Redis (--redis-url) never answered: the budget was not shared"),
        "{summary}"
    );
    assert!(!summary.contains("shared through Redis"), "{summary}");
    assert!(!summary.contains("kept 1/"), "{summary}");
}
