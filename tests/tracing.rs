//! Each page request gets a span with its offset, attempt and status, and the key is in none of
//! what is logged.

mod support;

use helpcrunch_pager::simulator::{Fault, Simulator};
use helpcrunch_pager::{Client, Department};
use support::*;

const KEY: &str = "sk-live-4f1c9a7e-never-print-me";

#[tokio::test]
async fn page_spans_carry_offset_attempt_and_status_and_never_the_key() {
    let (capture, _guard) = Capture::installed();

    let sim = Simulator::builder()
        .api_key(KEY)
        .departments(150)
        .fault(2, Fault::Status(500))
        .start()
        .unwrap();
    let client = client_for(&sim, 600_000);
    let got = ids(
        "traced scan",
        client.departments().concurrency(1),
        |d: &Department| d.id,
    )
    .await
    .unwrap();
    assert_each_once_in_order(&got, 150);
    let wrong = Client::builder()
        .api_key(format!("{KEY}-revoked"))
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let err = ids("401", wrong.departments(), |d: &Department| d.id)
        .await
        .unwrap_err();
    assert!(err.is_unauthorized());

    let log = capture.text();
    let closes: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("helpcrunch_page") && l.contains("close"))
        .collect();
    assert_eq!(closes.len(), 3, "a span per page request:\n{log}");
    assert!(
        closes.iter().any(|l| l.contains("offset=99")
            && l.contains("attempt=2")
            && l.contains("status=200")),
        "{log}"
    );
    assert!(log.contains("retrying page"), "{log}");
    assert!(log.contains("status=401"), "{log}");
    assert!(!log.contains(KEY), "the key leaked into the log:\n{log}");
    assert!(!format!("{err:?}").contains(KEY) && !err.to_string().contains(KEY));
}
