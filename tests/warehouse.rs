//! The warehouse harness itself (`support/warehouse.rs`): a handcrafted Singer stream through a
//! real `target-postgres` into a real PostgreSQL lands as the target is known to load it. Without
//! PostgreSQL or the target the test skips with a notice, unless `HELPCRUNCH_REQUIRE_SINGER=1`.

mod support;

use std::io::{Read, Write};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::warehouse::Warehouse;

/// The target's whole run (a second or so, most of it Python starting) must fit in this.
const TARGET_BOUND: Duration = Duration::from_secs(10);

/// What a run of the target left: its exit status, stdout and stderr.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Feeds `lines` (one Singer message each) to the target with `config` and waits for it to end,
/// killing it and failing the test if it takes longer than [`TARGET_BOUND`].
fn load(warehouse: &Warehouse, config: &std::path::Path, lines: &[Value]) -> Run {
    let mut child = warehouse
        .target(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("target-postgres starts");
    // Both outputs are drained on threads of their own, so neither pipe fills and blocks it.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").expect("the target reads its stdin");
    }
    // The end of its input is the target's signal to load what it holds and print the state.
    drop(stdin);

    let deadline = Instant::now() + TARGET_BOUND;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "target-postgres did not finish within {TARGET_BOUND:?}; stderr:\n{}",
                stderr.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// A record of stream `chats`.
fn chat(record: Value) -> Value {
    json!({"type": "RECORD", "stream": "chats", "record": record})
}

#[test]
fn a_singer_stream_lands_in_postgres_upserted_by_key_with_its_state_echoed() {
    let Some(warehouse) = Warehouse::start() else {
        return;
    };
    let state =
        json!({"version": 1, "bookmarks": {"chats": {"server_time": "2026-12-05T10:00:00Z"}}});
    let lines = [
        json!({
            "type": "SCHEMA",
            "stream": "chats",
            "key_properties": ["id"],
            "schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    // A lenient timestamp: seconds as a number or as text, or nothing.
                    "createdAt": {"type": ["integer", "string", "null"]},
                    "customData": {"type": ["object", "null"], "additionalProperties": true},
                    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
                    "status": {"type": ["integer", "string", "null"]},
                },
            },
        }),
        chat(
            json!({"id": 1, "createdAt": 1_700_000_000, "customData": {"a": 1}, "tags": ["x", "y"], "status": 2}),
        ),
        chat(
            json!({"id": 2, "createdAt": "1700000000", "customData": null, "tags": null, "status": "open"}),
        ),
        chat(
            json!({"id": 3, "createdAt": "1700000000.123", "customData": {}, "tags": [], "status": null}),
        ),
        chat(json!({"id": 4, "createdAt": null, "status": 1})),
        // Chat 2 again, changed: the table must keep this one only.
        chat(
            json!({"id": 2, "createdAt": 1_700_000_500, "customData": {"v": 2}, "tags": ["second"], "status": "closed"}),
        ),
        json!({"type": "STATE", "value": state}),
    ];

    let config = warehouse.target_config("selftest");
    let run = load(&warehouse, &config, &lines);
    assert!(
        run.status.success(),
        "target-postgres failed ({}):\n{}",
        run.status,
        run.stderr
    );

    assert_eq!(warehouse.ids("selftest", "chats"), ["1", "2", "3", "4"]);
    assert_eq!(warehouse.count("selftest", "chats"), 4);
    // A type array of several types is one text column: a number, digits and a fraction all
    // land in it as their text.
    assert_eq!(
        warehouse
            .query("SELECT id, coalesce(\"createdAt\", 'NULL') FROM selftest.chats ORDER BY id"),
        "1|1700000000\n2|1700000500\n3|1700000000.123\n4|NULL"
    );
    assert_eq!(
        warehouse.query(
            "SELECT status, \"customData\"->>'v', array_to_string(tags, ',') \
             FROM selftest.chats WHERE id = 2"
        ),
        "closed|2|second",
        "the upsert kept chat 2's first version"
    );
    assert_eq!(
        warehouse.query(
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_schema = 'selftest' AND table_name = 'chats' \
             AND column_name NOT LIKE '\\_sdc\\_%' ORDER BY column_name"
        ),
        "createdAt|text\ncustomData|jsonb\nid|bigint\nstatus|text\ntags|ARRAY",
        "the target's column types changed"
    );

    let last = run
        .stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("target-postgres printed no state; stderr:\n{}", run.stderr));
    let echoed: Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("the target's last line {last:?} is not JSON: {e}"));
    assert_eq!(echoed, state, "the target echoed another state");
}
