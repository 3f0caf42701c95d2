//! Helpers for the tests that run `tap-helpcrunch` (feature `cli`): include with
//! `#[path = "support/tap.rs"] mod tap;` beside `mod support;` and `mod cli;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use helpcrunch_pager::simulator::Simulator;
use helpcrunch_pager::Collection;
use serde_json::{json, Value};

use super::sync::Copy;

pub const TAP: &str = env!("CARGO_BIN_EXE_tap-helpcrunch");

/// The tap, with no key or Redis from the environment the tests run in.
pub fn tap(args: &[&str]) -> Command {
    let mut cmd = Command::new(TAP);
    cmd.args(args)
        .env_remove("HELPCRUNCH_API_KEY")
        .env_remove("HELPCRUNCH_REDIS_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A config for `sim` at `rpm` (the simulator's own window, a minute), with `more` settings
/// over it, written into `dir`.
pub fn config_for(sim: &Simulator, rpm: u32, dir: &Path, more: Value) -> PathBuf {
    let mut config = json!({
        "api_key": sim.api_key(),
        "base_url": sim.base_url(),
        "requests_per_minute": rpm,
        "lookback": 60,
    });
    for (k, v) in more.as_object().into_iter().flatten() {
        config[k] = v.clone();
    }
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// Every line of a tap's output as JSON; a line that is not is a failed test.
pub fn messages(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line on stdout ({e}): {line}"))
        })
        .collect()
}

/// The value of the last `STATE` message.
pub fn last_state(messages: &[Value]) -> Option<Value> {
    messages
        .iter()
        .rev()
        .find(|m| m["type"] == "STATE")
        .map(|m| m["value"].clone())
}

/// The records of the `RECORD` messages, upserted into `copy` by stream.
pub fn upsert_records(copy: &mut Copy, messages: &[Value]) {
    for m in messages.iter().filter(|m| m["type"] == "RECORD") {
        let stream: Collection = m["stream"].as_str().unwrap().parse().unwrap();
        copy.upsert(stream, [m["record"].clone()]);
    }
}
