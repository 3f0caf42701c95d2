//! Helpers for the tests that run `tap-helpcrunch` (feature `cli`): include with
//! `#[path = "support/tap.rs"] mod tap;` beside `mod support;` and `mod cli;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use helpcrunch_pager::simulator::Simulator;
use helpcrunch_pager::Collection;
use serde_json::{json, Value};

use super::sync::Copy;

pub const TAP: &str = env!("CARGO_BIN_EXE_tap-helpcrunch");

/// The tap, with no key or Redis from the environment the tests run in.
pub fn tap(args: &[&str]) -> Command {
    super::cli::isolated(TAP, args)
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

/// Writes into `sim`, through its API, the forms of a field the models read leniently and the
/// simulator never makes itself: chat 3 with its agents as one object, a number as text, a
/// customer that is `[]`; customer 4 with flags as 0 and "1", a phone as a number, a location
/// that is `[]` and a tag that is not an object.
pub fn write_odd_forms(sim: &Simulator) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = helpcrunch_pager::Client::builder()
            .api_key(sim.api_key())
            .base_url(sim.base_url())
            .build()
            .unwrap();
        let chat = json!({"agents": {"id": 3, "name": "Agent 3"}, "lastMessageId": "123",
                          "customer": [], "applicationId": 7.0});
        client.patch::<Value>("chats/3", &chat).await.unwrap();
        let customer = json!({"blocked": 0, "unsubscribed": "1", "phone": 5551234,
                              "location": [], "tags": [{"name": "vip"}, "odd"]});
        client
            .patch::<Value>("customers/4", &customer)
            .await
            .unwrap();
    });
}

/// Asserts that `copy` (what the tap sent, upserted) holds the account's records: the same ids
/// in every collection, and each record the same as the account's once read by the crate's
/// model (the tap sends the forms the models read leniently in the shape of its schema: one
/// agent as a list of one, "123" as 123).
pub fn assert_same_records(copy: &Copy, sim: &Simulator) {
    use helpcrunch_pager::{Agent, Chat, Customer, Department, Message};
    fn same<T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
        collection: Collection,
        have: &std::collections::BTreeMap<u64, Value>,
        want: &std::collections::BTreeMap<u64, Value>,
    ) {
        let (h, w): (Vec<&u64>, Vec<&u64>) = (have.keys().collect(), want.keys().collect());
        assert!(
            h == w,
            "{collection}: {} ids sent, {} in the account",
            h.len(),
            w.len()
        );
        for (id, record) in want {
            let read = |v: &Value| serde_json::from_value::<T>(v.clone()).unwrap();
            assert_eq!(read(&have[id]), read(record), "{collection} {id}");
        }
    }
    let truth = super::sync::truth(sim);
    for &c in Collection::ALL {
        let (have, want) = (copy.table(c), truth.table(c));
        match c {
            Collection::Departments => same::<Department>(c, &have, &want),
            Collection::Agents => same::<Agent>(c, &have, &want),
            Collection::Customers => same::<Customer>(c, &have, &want),
            Collection::Chats => same::<Chat>(c, &have, &want),
            _ => same::<Message>(c, &have, &want),
        }
    }
}

/// How many `RECORD`s of `stream` there are in `messages`.
pub fn records_of(messages: &[Value], stream: &str) -> usize {
    messages
        .iter()
        .filter(|m| m["type"] == "RECORD" && m["stream"] == stream)
        .count()
}

/// A few changes in `sim` after its clock moved on past `lookback`: a new message in chats 1,
/// 2, 77 and 140, three new customers, customer 5 seen; the clock moves on again after.
pub fn change_a_little(sim: &Simulator, lookback: std::time::Duration) {
    sim.advance_clock(lookback * 2);
    for chat in [1, 2, 77, 140] {
        sim.add_message(chat);
    }
    sim.append("customers", 3);
    sim.see_customer(5);
    sim.advance_clock(lookback * 2);
}
