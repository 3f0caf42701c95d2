//! Fuzzing the parts that read what the server sends: the page decoder and the `Retry-After`
//! and `X-RateLimit-Reset` parsers. Each target draws inputs from proptest strategies (raw
//! bytes, real pages with bytes flipped, dropped and inserted, and JSON of every shape) for a
//! fixed time, and fails on a panic, naming the input.
//!
//! The suite gives each target 2 seconds; a longer run is one environment variable away:
//!
//! ```sh
//! FUZZ_SECONDS=60 cargo test --release --all-features --test fuzz -- --nocapture --test-threads 1
//! ```

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant, SystemTime};

use helpcrunch_pager::retry::{parse_rate_limit_reset, parse_retry_after};
use helpcrunch_pager::{Agent, Chat, Customer, Department, Message, Page};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use support::any_json;

const PAGES: [&str; 5] = [
    include_str!("fixtures/customers-page.json"),
    include_str!("fixtures/chats-page.json"),
    include_str!("fixtures/messages-old-shape.json"),
    include_str!("fixtures/agents-docs-example.json"),
    include_str!("fixtures/departments-docs-example.json"),
];

/// Runs `check` on inputs from `strategy` until the time is up; a panic fails the test with
/// the input that caused it.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(&S::Value))
where
    S::Value: std::fmt::Debug,
{
    let seconds: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut inputs = 0u64;
    while Instant::now() < deadline {
        let input = strategy.new_tree(&mut runner).expect("an input").current();
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            panic!("{name} panicked on {input:?}");
        }
        inputs += 1;
    }
    eprintln!("{name}: {inputs} inputs in {seconds} s, no panic");
    assert!(inputs > 0);
}

/// A real page with random bytes flipped, dropped and inserted.
fn mangled_page() -> impl Strategy<Value = Vec<u8>> {
    let edit = (any::<usize>(), 0u8..3, any::<u8>());
    (0..PAGES.len(), prop::collection::vec(edit, 0..12)).prop_map(|(page, edits)| {
        let mut bytes = PAGES[page].as_bytes().to_vec();
        for (at, op, byte) in edits {
            let at = at % (bytes.len() + 1);
            match op {
                0 if at < bytes.len() => bytes[at] = byte,
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, byte),
            }
        }
        bytes
    })
}

/// JSON in the shape of a page, with anything in each place: a total that is negative, a
/// string, absent or huge, `data` that is not an array, records of any shape.
fn page_shaped() -> impl Strategy<Value = Vec<u8>> {
    (any_json(), any_json(), any_json(), any::<bool>()).prop_map(|(data, total, meta, old)| {
        let key = if old { "messages" } else { "data" };
        serde_json::json!({ key: data, "total": total, "meta": { "total": meta } })
            .to_string()
            .into_bytes()
    })
}

fn decode_everything(body: &[u8]) {
    for (offset, limit) in [(0, 100), (u64::MAX - 1, 1)] {
        let _ = Page::<Department>::from_json(body, offset, limit);
        let _ = Page::<Agent>::from_json(body, offset, limit);
        let _ = Page::<Customer>::from_json(body, offset, limit);
        let _ = Page::<Chat>::from_json(body, offset, limit);
        let _ = Page::<Message>::from_json(body, offset, limit);
        if let Ok(page) = Page::<Value>::from_json(body, offset, limit) {
            let _ = (page.is_short(), page.end_offset());
        }
    }
}

#[test]
fn the_decoder_never_panics_on_raw_bytes() {
    fuzz(
        "decoder, raw bytes",
        prop::collection::vec(any::<u8>(), 0..512),
        |b| decode_everything(b),
    );
}

#[test]
fn the_decoder_never_panics_on_mangled_pages() {
    fuzz("decoder, mangled pages", mangled_page(), |b| {
        decode_everything(b)
    });
}

#[test]
fn the_decoder_never_panics_on_page_shaped_json() {
    fuzz("decoder, page-shaped JSON", page_shaped(), |b| {
        decode_everything(b)
    });
}

#[test]
fn the_retry_after_parsers_never_panic() {
    let header = prop_oneof![
        ".{0,40}",
        "[0-9]{0,30}(\\.[0-9]{0,12})?",
        "-?[0-9]{1,25}",
        "(Mon|Tue|Wed|Sun), [0-9]{1,2} (Jan|Oct|Dec) [0-9]{1,5} [0-9]{1,2}:[0-9]{2}:[0-9]{2} GMT",
        " *[0-9eE+.-]{1,20} *",
    ];
    let now = (0u64..=u64::from(u32::MAX) * 4).prop_map(|s| {
        SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(s))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    });
    fuzz(
        "Retry-After and X-RateLimit-Reset",
        (header, now),
        |(value, now)| {
            let a = parse_retry_after(value, *now);
            let b = parse_rate_limit_reset(value, *now);
            for wait in [a, b].into_iter().flatten() {
                // Whatever a server says, the wait is a real duration a sleep can take.
                assert!(wait.as_secs_f64().is_finite());
            }
        },
    );
}
