//! A scan's windows are traced inside the caller's span, even though each runs on a task of its
//! own. Alone in its test binary: tracing caches whether a callsite is enabled across threads,
//! and a test running beside it without this subscriber could have the page span's callsite
//! cached as disabled.

mod support;

use helpcrunch_pager::simulator::Simulator;
use support::*;
use tracing::Instrument;

#[tokio::test]
async fn windows_on_their_own_tasks_are_traced_inside_the_callers_span() {
    let (capture, _guard) = Capture::installed();

    let sim = Simulator::builder().departments(800).start().unwrap();
    let client = client_for(&sim, 600_000);
    let got = ids(
        "traced scan",
        client.departments().concurrency(4),
        |d: &helpcrunch_pager::Department| d.id,
    )
    .instrument(tracing::info_span!("nightly_sync", job = 7))
    .await
    .unwrap();
    assert_each_once_in_order(&got, 800);

    let log = capture.text();
    let pages: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("helpcrunch_page") && l.contains("close"))
        .collect();
    assert!(pages.len() >= 9, "a span per window:\n{log}");
    assert!(
        pages.iter().all(|l| l.contains("nightly_sync{job=7}")),
        "every window's span is inside the caller's:\n{log}"
    );
}
