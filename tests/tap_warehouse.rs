//! `tap-helpcrunch | target-postgres` into a real PostgreSQL, as a data team runs it: every
//! selected stream loaded, the tables equal to the account's records; a second run from the
//! last STATE loads only what changed; a tap killed (SIGKILL) mid-sync and run again from the
//! last STATE it printed loses no row. Without PostgreSQL or the target the tests skip with a
//! notice, unless `HELPCRUNCH_REQUIRE_SINGER=1` (as `.ci/run` sets).

#[path = "support/cli.rs"]
mod cli;
mod support;
#[path = "support/sync.rs"]
mod sync;
#[path = "support/tap.rs"]
mod tap;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cli::scratch;
use helpcrunch_pager::simulator::{Mutation, Simulator};
use helpcrunch_pager::Collection;
use serde_json::{json, Value};
use support::warehouse::Warehouse;
use tap::*;

const LOOKBACK: Duration = Duration::from_secs(60);
/// The schema the target loads into.
const SCHEMA: &str = "helpcrunch";

/// One run of the pipe: what the tap printed (forwarded to the target byte for byte) and what
/// the target printed (its STATE lines) and logged.
struct Piped {
    tap: Vec<u8>,
    target_stdout: String,
    target_stderr: String,
}

impl Piped {
    fn tap_messages(&self) -> Vec<Value> {
        // Only whole lines: a killed tap's last one may not be.
        let text = String::from_utf8_lossy(&self.tap);
        let whole = match text.rfind('\n') {
            Some(end) => &text[..=end],
            None => "",
        };
        messages(whole)
    }

    /// The state the target printed last: what Meltano keeps for the next run.
    fn target_state(&self) -> Value {
        let line = self.target_stdout.lines().last().unwrap_or_else(|| {
            panic!(
                "the target printed no state; it logged {}",
                self.target_stderr
            )
        });
        serde_json::from_str(line).unwrap()
    }
}

/// Starts `tap ... | target-postgres`, the test in the middle of the pipe keeping a copy of
/// what passes; `stop` sees the bytes forwarded so far and may kill the tap (SIGKILL).
fn pipe(
    warehouse: &Warehouse,
    tap_args: &[&str],
    stop: impl Fn(&[u8]) -> bool + Send + 'static,
) -> Piped {
    let started = Instant::now();
    let config = warehouse.target_config(SCHEMA);
    let mut target = warehouse
        .target(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("target-postgres starts");
    let mut tap_child = tap(tap_args).spawn().expect("the tap starts");
    let mut from_tap = tap_child.stdout.take().unwrap();
    let tap_err = tap_child.stderr.take().unwrap();
    let mut to_target = target.stdin.take().unwrap();
    let tap_child = Arc::new(Mutex::new(tap_child));
    let killer = Arc::clone(&tap_child);
    let forward = std::thread::spawn(move || {
        let (mut seen, mut buf, mut killed) = (Vec::new(), [0u8; 8192], false);
        loop {
            let n = from_tap.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            to_target.write_all(&buf[..n]).unwrap();
            seen.extend_from_slice(&buf[..n]);
            if !killed && stop(&seen) {
                killer.lock().unwrap().kill().unwrap(); // SIGKILL
                killed = true;
            }
        }
        seen // dropping to_target ends the target's input
    });
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let tap_err = drain(Box::new(tap_err));
    let target_out = drain(Box::new(target.stdout.take().unwrap()));
    let target_err = drain(Box::new(target.stderr.take().unwrap()));
    let seen = forward.join().unwrap();
    let tap_status = wait(&mut tap_child.lock().unwrap(), started, "the tap");
    let target_status = wait(&mut target, started, "target-postgres");
    let (tap_err, target_stdout, target_stderr) = (
        tap_err.join().unwrap(),
        target_out.join().unwrap(),
        target_err.join().unwrap(),
    );
    assert!(
        target_status.success(),
        "target-postgres failed: {target_stderr}\nthe tap said: {tap_err}"
    );
    let killed = tap_status.code().is_none();
    assert!(killed || tap_status.success(), "the tap failed: {tap_err}");
    Piped {
        tap: seen,
        target_stdout,
        target_stderr,
    }
}

/// Waits for `child` within twice the suite's bound (a pipe of two programs, one of them a
/// Python start), killing it and failing the test past that.
fn wait(child: &mut Child, started: Instant, what: &str) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > support::BOUND {
            let _ = child.kill();
            panic!("{what} did not finish within {:?}", support::BOUND);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Asserts that every table holds exactly the ids the account holds, and each chat its latest
/// `updatedAt`.
fn assert_tables_equal_the_account(warehouse: &Warehouse, sim: &Simulator) {
    let truth = sync::truth(sim);
    for &collection in Collection::ALL {
        let want: Vec<String> = truth.table(collection).keys().map(u64::to_string).collect();
        let have = warehouse.ids(SCHEMA, collection.as_str());
        assert_eq!(
            (have.len(), warehouse.count(SCHEMA, collection.as_str())),
            (want.len(), want.len() as u64),
            "{collection}: rows in the table, against records in the account"
        );
        let differ: Vec<(&String, &String)> = have
            .iter()
            .zip(&want)
            .filter(|(h, w)| h != w)
            .take(5)
            .collect();
        assert!(
            differ.is_empty(),
            "{collection}: the table's ids differ from the account's (table, account): {differ:?}"
        );
    }
    let updated = warehouse.query(&format!(
        "SELECT id, \"updatedAt\" FROM {SCHEMA}.chats ORDER BY id"
    ));
    for row in updated.lines() {
        let (id, at) = row.split_once('|').unwrap();
        let chat = &truth.table(Collection::Chats)[&id.parse::<u64>().unwrap()];
        let want = match &chat["updatedAt"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(at, want, "chat {id}: the table holds an older version");
    }
}

fn write(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_pipe_into_target_postgres_loads_every_stream_and_a_second_run_only_what_changed() {
    let Some(warehouse) = Warehouse::start() else {
        return;
    };
    let sim = Simulator::builder()
        .departments(25)
        .agents(6)
        .customers(230)
        .chats(140)
        .start()
        .unwrap();
    write_odd_forms(&sim);
    let dir = scratch("tap-warehouse");
    let config = config_for(&sim, 600_000, &dir, json!({}));
    let config = config.to_str().unwrap();
    let catalog = run_discover(&dir);

    let first = pipe(
        &warehouse,
        &["--config", config, "--catalog", &catalog],
        |_| false,
    );
    assert_tables_equal_the_account(&warehouse, &sim);
    // The forms the models read leniently land typed, their values whole: one agent as a
    // list of one (the simulator sends chat 10's so; as a list, the column would hold its
    // keys), flags as booleans, a number as text where text belongs, `[]` as no location.
    let chats = warehouse.query(&format!(
        "SELECT id, array_length(agents, 1), agents[1]->>'id', \"lastMessageId\" \
         FROM {SCHEMA}.chats WHERE id IN (3, 10) ORDER BY id"
    ));
    assert_eq!(chats, "3|1|3|123\n10|1|102|10000001");
    let customer = warehouse.query(&format!(
        "SELECT blocked, unsubscribed, phone, location IS NULL OR location = 'null'::jsonb \
         FROM {SCHEMA}.customers WHERE id = 4"
    ));
    assert_eq!(customer, "f|t|5551234|t");
    let state = first.target_state();
    assert_eq!(
        Some(&state),
        last_state(&first.tap_messages()).as_ref(),
        "the target's state is the tap's last"
    );

    change_a_little(&sim, LOOKBACK);

    let state = write(&dir, "state.json", &state);
    let before = sim.stats().requests;
    let second = pipe(
        &warehouse,
        &["--config", config, "--catalog", &catalog, "--state", &state],
        |_| false,
    );
    let requests = sim.stats().requests - before;
    assert_tables_equal_the_account(&warehouse, &sim);
    let sent = second.tap_messages();
    assert_eq!(
        (records_of(&sent, "chats"), records_of(&sent, "messages")),
        (4, 4),
        "only what changed"
    );
    assert!(requests <= 12, "{requests} requests for a few changes");
}

#[test]
fn a_tap_killed_mid_sync_and_run_again_from_its_last_state_loses_no_row() {
    let Some(warehouse) = Warehouse::start() else {
        return;
    };
    let sim = Simulator::builder()
        .departments(10)
        .agents(4)
        .customers(120)
        .chats(300)
        .start()
        .unwrap();
    let dir = scratch("tap-killed");
    let fast = config_for(&sim, 600_000, &dir, json!({}));
    let fast = fast.to_str().unwrap().to_owned();
    let first = pipe(&warehouse, &["--config", &fast], |_| false);
    let state = write(&dir, "state-1.json", &first.target_state());

    sim.advance_clock(LOOKBACK * 2);
    for chat in 1..=300 {
        sim.add_message(chat);
    }
    sim.append("customers", 30);
    sim.advance_clock(LOOKBACK * 2);

    // Slow enough to be caught reading messages: 300 chats at 6,000 a minute take 3 s. Killed
    // once the chats' STATE has passed and some of the new messages with it.
    let slow = dir.join("slow");
    std::fs::create_dir_all(&slow).unwrap();
    let slow = config_for(&sim, 6_000, &slow, json!({}));
    let killed = pipe(
        &warehouse,
        &["--config", slow.to_str().unwrap(), "--state", &state],
        |seen| {
            let text = String::from_utf8_lossy(seen);
            let after = text.split("\"type\":\"STATE\"").count() - 1;
            after >= 4
                && text
                    .matches("\"stream\":\"messages\",\"time_extracted\"")
                    .count()
                    >= 60
        },
    );
    let messages_sent = records_of(&killed.tap_messages(), "messages");
    assert!(
        messages_sent < 300,
        "killed before the messages were all read ({messages_sent})"
    );
    let last = last_state(&killed.tap_messages()).expect("a STATE before the kill");
    // The chats' bookmark moved on, the messages' is the first run's: the run from it reads
    // the messages of every chat changed since, those sent before the kill again.
    let before = first.target_state();
    assert_ne!(last["bookmarks"]["chats"], before["bookmarks"]["chats"]);
    assert_eq!(
        last["bookmarks"]["messages"],
        before["bookmarks"]["messages"]
    );
    let state = write(&dir, "state-2.json", &last);

    pipe(&warehouse, &["--config", &fast, "--state", &state], |_| {
        false
    });
    assert_tables_equal_the_account(&warehouse, &sim);
}

#[test]
fn rows_deleted_upstream_leave_the_tables_read_whole_and_an_interrupted_run_drops_none() {
    let Some(warehouse) = Warehouse::start() else {
        return;
    };
    let sim = Simulator::builder()
        .departments(60)
        .agents(6)
        .customers(120)
        .chats(30)
        .start()
        .unwrap();
    let dir = scratch("tap-activate-version");
    let versions = json!({"emit_activate_version_messages": true});
    let fast = config_for(&sim, 600_000, &dir, versions.clone());
    let fast = fast.to_str().unwrap().to_owned();
    let first = pipe(&warehouse, &["--config", &fast], |_| false);
    assert_tables_equal_the_account(&warehouse, &sim);

    // Deleted in HelpCrunch: a department and an agent (read whole every run), and a customer,
    // whose stream is read whole once its bookmark is taken out of the state.
    sim.mutate("departments", Mutation::Delete(3), 0);
    sim.mutate("agents", Mutation::Delete(2), 0);
    sim.mutate("customers", Mutation::Delete(7), 0);
    sim.advance_clock(LOOKBACK * 2);
    let mut state = first.target_state();
    state["bookmarks"]
        .as_object_mut()
        .unwrap()
        .remove("customers")
        .expect("a customers bookmark");
    let state = write(&dir, "state-1.json", &state);
    let second = pipe(&warehouse, &["--config", &fast, "--state", &state], |_| {
        false
    });
    assert_tables_equal_the_account(&warehouse, &sim);
    assert_eq!(
        records_of(&second.tap_messages(), "chats"),
        0,
        "chats read by what changed"
    );

    // A run killed mid-departments, after some of its records, before their ACTIVATE_VERSION:
    // no row goes, not even that of the department deleted since.
    sim.mutate("departments", Mutation::Delete(4), 0);
    let slow = dir.join("slow");
    std::fs::create_dir_all(&slow).unwrap();
    let mut slow_settings = versions.clone();
    // Two records a page at 20 pages a second: the first 4 KiB the tap writes holds about 16
    // of the 58 departments, which leaves it a second and more to be killed in.
    slow_settings["page_size"] = json!(2);
    let slow = config_for(&sim, 1_200, &slow, slow_settings);
    let state = write(&dir, "state-2.json", &second.target_state());
    let killed = pipe(
        &warehouse,
        &["--config", slow.to_str().unwrap(), "--state", &state],
        |seen| {
            String::from_utf8_lossy(seen).contains("\"stream\":\"departments\",\"time_extracted\"")
        },
    );
    let sent = killed.tap_messages();
    let departments_sent = records_of(&sent, "departments");
    assert!(
        departments_sent > 0 && departments_sent < 58,
        "killed mid-departments ({departments_sent} sent)"
    );
    assert!(
        !sent.iter().any(|m| m["type"] == "ACTIVATE_VERSION"),
        "killed too late to show anything"
    );
    let mut left: Vec<String> = (1..=60)
        .filter(|&id| id != 3)
        .map(|id: u64| id.to_string())
        .collect();
    left.sort_by_key(|id| id.parse::<u64>().unwrap());
    assert_eq!(
        warehouse.ids(SCHEMA, "departments"),
        left,
        "every row the killed run did not send again is still there, department 4 too"
    );

    // Killed in its first stream, it printed no STATE: the next run starts from the same one.
    assert!(last_state(&sent).is_none());
    pipe(&warehouse, &["--config", &fast, "--state", &state], |_| {
        false
    });
    assert_tables_equal_the_account(&warehouse, &sim);
}

/// The tap's catalog, as `--discover` prints it, in a file.
fn run_discover(dir: &Path) -> String {
    let ran = cli::run(tap(&["--discover"]));
    assert!(ran.status.success(), "{}", ran.stderr);
    let path = dir.join("catalog.json");
    std::fs::write(&path, ran.stdout).unwrap();
    path.to_str().unwrap().to_owned()
}
