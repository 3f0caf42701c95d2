//! The key kept safe: it appears in no Debug, Display, error, tracing output, checkpoint or
//! panic message; https is the default; a redirect is refused, so no other host gets it.

mod support;

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{Fault, Simulator};
use helpcrunch_pager::{Client, Department, Error, DEFAULT_BASE_URL};
use support::*;

/// A key no output may contain.
const KEY: &str = "hc-live-KEY-0f9e8d7c6b5a";

fn assert_no_key(what: &str, text: &str) {
    assert!(!text.contains(KEY), "the key leaked into {what}: {text}");
    assert!(
        !text.contains("KEY-0f9e8d7c6b5a"),
        "part of the key leaked into {what}"
    );
}

#[tokio::test]
async fn the_key_is_in_no_debug_display_error_log_or_panic() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // One server that takes the key, and one that does not, with every failure kind.
    let sim = Simulator::builder()
        .api_key(KEY)
        .departments(300)
        .fault(2, Fault::Status(500))
        .fault(3, Fault::Reset)
        .fault(4, Fault::Truncated)
        .start()
        .unwrap();
    let other = Simulator::builder().departments(10).start().unwrap();

    let builder = builder_for(&sim, 600_000).api_key(KEY);
    assert_no_key("ClientBuilder's Debug", &format!("{builder:?}"));
    let client = builder.build().unwrap();
    assert_no_key("Client's Debug", &format!("{client:?}"));
    let got: Vec<Department> = bounded("scan", client.departments().try_collect())
        .await
        .unwrap();
    assert_eq!(got.len(), 300);

    let mut errors: Vec<Error> = Vec::new();
    let wrong_host = Client::builder()
        .api_key(KEY)
        .base_url(other.base_url())
        .build()
        .unwrap();
    errors.push(
        bounded("401", wrong_host.departments().try_collect::<Vec<_>>())
            .await
            .unwrap_err(),
    );
    let bad_body = Simulator::builder()
        .api_key(KEY)
        .departments(10)
        .fault(1, Fault::Body("not json".into()))
        .start()
        .unwrap();
    errors.push(
        bounded(
            "decode",
            client_for_key(&bad_body)
                .departments()
                .try_collect::<Vec<_>>(),
        )
        .await
        .unwrap_err(),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = Client::builder()
        .api_key(KEY)
        .base_url(format!("http://127.0.0.1:{port}/v1"))
        .retry_policy(fast_retries().with_max_attempts(2))
        .build()
        .unwrap();
    errors.push(
        bounded("refused", nowhere.departments().try_collect::<Vec<_>>())
            .await
            .unwrap_err(),
    );
    errors.push(
        Client::builder()
            .api_key(KEY)
            .base_url("http://example.com/v1")
            .build()
            .unwrap_err(),
    );
    for e in &errors {
        assert_no_key("an error's Display", &e.to_string());
        assert_no_key("an error's Debug", &format!("{e:?}"));
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            assert_no_key("an error's source", &format!("{cause} {cause:?}"));
            source = cause.source();
        }
    }

    // What a caller's `.unwrap()` prints: the panic message holds the error's Debug.
    for e in &errors {
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| failed(e).unwrap()))
            .unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("called `Result::unwrap()`"), "{message}");
        assert_no_key("a panic message", message);
    }

    let log = capture.text();
    assert!(
        log.contains("helpcrunch_page") && log.contains("retrying page"),
        "the capture saw the scan: {log}"
    );
    assert_no_key("the tracing output (every crate, TRACE)", &log);
}

/// A caller's fallible step that returned `e`.
fn failed(e: &Error) -> Result<(), &Error> {
    Err(e)
}

fn client_for_key(sim: &Simulator) -> Client {
    builder_for(sim, 600_000).api_key(KEY).build().unwrap()
}

#[test]
fn https_is_the_default_and_plain_http_needs_loopback_or_an_explicit_opt_in() {
    assert!(DEFAULT_BASE_URL.starts_with("https://"));
    let client = Client::builder().api_key(KEY).build().unwrap();
    assert!(format!("{client:?}").contains("base_url: \"https://api.helpcrunch.com/v1\""));
    let refused = Client::builder()
        .api_key(KEY)
        .base_url("http://api.helpcrunch.com/v1")
        .build()
        .unwrap_err();
    assert!(refused.to_string().contains("plain http"), "{refused}");
    assert!(Client::builder()
        .api_key(KEY)
        .base_url("http://127.0.0.1:8080/v1")
        .build()
        .is_ok());
    assert!(Client::builder()
        .api_key(KEY)
        .base_url("http://api.helpcrunch.com/v1")
        .allow_insecure_http(true)
        .build()
        .is_ok());
}

#[tokio::test]
async fn a_redirect_to_another_host_does_not_carry_the_key() {
    // Both accept the same key: a followed redirect would hand it to the second.
    let elsewhere = Simulator::builder()
        .api_key(KEY)
        .departments(10)
        .start()
        .unwrap();
    let origin = Simulator::builder()
        .api_key(KEY)
        .departments(10)
        .fault(1, Fault::Redirect(elsewhere.base_url()))
        .start()
        .unwrap();
    let client = client_for_key(&origin);
    let e = bounded("redirected", client.departments().try_collect::<Vec<_>>())
        .await
        .unwrap_err();
    assert_eq!(origin.requests()[0].status, 302);
    assert!(
        elsewhere.requests().is_empty(),
        "the redirect was followed: {:?}",
        elsewhere.requests()
    );
    assert!(e.is_redirect(), "{e}");
    assert!(e.to_string().contains(&elsewhere.base_url()), "{e}");
    assert_no_key("a redirect's message", &e.to_string());
}

#[test]
fn the_exporter_never_prints_or_stores_the_key() {
    let sim = Simulator::builder()
        .api_key(KEY)
        .departments(3_000)
        .start()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("hc-security-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (output, checkpoint) = (dir.join("d.jsonl"), dir.join("d.checkpoint"));
    let bin = env!("CARGO_BIN_EXE_helpcrunch-export");

    let help = std::process::Command::new(bin)
        .arg("--help")
        .env("HELPCRUNCH_API_KEY", KEY)
        .output()
        .unwrap();
    assert_no_key("--help", &String::from_utf8_lossy(&help.stdout));

    // Interrupted mid-export, so the checkpoint stays to be read.
    let mut child = std::process::Command::new(bin)
        .args(["departments", "--base-url", &sim.base_url()])
        .args(["--requests-per-minute", "600", "--output"])
        .arg(&output)
        .arg("--checkpoint")
        .arg(&checkpoint)
        .env("HELPCRUNCH_API_KEY", KEY)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&checkpoint).map_or(true, |c| c.contains("\"next_offset\": 0")) {
        if started.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no checkpoint");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_no_key(
        "the checkpoint",
        &std::fs::read_to_string(&checkpoint).unwrap(),
    );

    let wrong = std::process::Command::new(bin)
        .args([
            "departments",
            "--base-url",
            &sim.base_url(),
            "--api-key",
            KEY,
        ])
        .arg("--output")
        .arg(dir.join("other.jsonl"))
        .arg("--checkpoint")
        .arg(&checkpoint)
        .output()
        .unwrap();
    // Another output file for the same checkpoint: refused, with the checkpoint described.
    assert!(!wrong.status.success());
    assert_no_key("a refusal", &String::from_utf8_lossy(&wrong.stderr));

    let unauthorized = std::process::Command::new(bin)
        .args(["departments", "--base-url", &sim.base_url()])
        .args(["--api-key", "hc-live-KEY-0f9e8d7c6b5a-revoked"])
        .output()
        .unwrap();
    assert_eq!(unauthorized.status.code(), Some(1));
    assert_no_key(
        "a 401's message",
        &String::from_utf8_lossy(&unauthorized.stderr),
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
