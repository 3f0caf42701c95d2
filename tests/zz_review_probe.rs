//! THROWAWAY review probes. Delete before finishing.
#![allow(dead_code)]

mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{Fault, Mutation, Simulator};
use helpcrunch_pager::{Client, Error, RetryPolicy};
use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FAST: u32 = 600_000;

// ---------- a scripted list server ----------

#[derive(Clone, Debug)]
struct Rec {
    id: u64,
    key: i64,
}

struct State {
    /// The list in the order served.
    list: Vec<Rec>,
    n: u64,
    log: Vec<(u64, u64, u32)>,
}

type Hook = Box<dyn FnMut(u64, u64, u32, &mut State) -> Option<(Vec<Rec>, u64)> + Send>;

struct Scripted {
    base: String,
    state: Arc<Mutex<State>>,
}

async fn scripted(list: Vec<Rec>, mut hook: Hook) -> Scripted {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(Mutex::new(State {
        list,
        n: 0,
        log: Vec::new(),
    }));
    let st = state.clone();
    let hook = Arc::new(Mutex::new(move |n, o, l, s: &mut State| hook(n, o, l, s)));
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let st = st.clone();
            let hook = hook.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    let n = sock.read(&mut tmp).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..n]);
                    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let line = head.lines().next().unwrap_or("");
                let target = line.split(' ').nth(1).unwrap_or("/");
                let query = target.split_once('?').map(|x| x.1).unwrap_or("");
                let mut offset = 0u64;
                let mut limit = 100u32;
                for kv in query.split('&') {
                    if let Some((k, v)) = kv.split_once('=') {
                        if k == "offset" {
                            offset = v.parse().unwrap();
                        }
                        if k == "limit" {
                            limit = v.parse().unwrap();
                        }
                    }
                }
                let body = {
                    let mut s = st.lock().unwrap();
                    s.n += 1;
                    let n = s.n;
                    s.log.push((n, offset, limit));
                    let over = (hook.lock().unwrap())(n, offset, limit, &mut s);
                    let (data, total) = over.unwrap_or_else(|| {
                        let data: Vec<Rec> = s
                            .list
                            .iter()
                            .skip(offset as usize)
                            .take(limit as usize)
                            .cloned()
                            .collect();
                        (data, s.list.len() as u64)
                    });
                    let data: Vec<Value> = data
                        .iter()
                        .map(|r| json!({"id": r.id, "lastMessageAt": r.key}))
                        .collect();
                    json!({"data": data, "meta": {"total": total}}).to_string()
                };
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    body.len(),
                    body
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Scripted {
        base: format!("http://{addr}/v1"),
        state,
    }
}

fn client(base: &str) -> Client {
    Client::builder()
        .api_key("k")
        .base_url(base)
        .requests_per_minute(FAST)
        .retry_policy(
            RetryPolicy::new()
                .with_max_attempts(3)
                .with_min_delay(Duration::from_millis(5)),
        )
        .build()
        .unwrap()
}

fn touch(s: &mut State, id: u64, key: i64) {
    let pos = s.list.iter().position(|r| r.id == id).unwrap();
    let mut r = s.list.remove(pos);
    r.key = key;
    s.list.insert(0, r);
}

// ---------- probes ----------

/// Head rounds: the first page of the head looks the same by ids, but its records moved.
#[tokio::test]
async fn probe_head_round_still_check_compares_ids_only() {
    // Desc by key: ids 1..=9, keys 100, 99, ...
    let list: Vec<Rec> = (1..=9).map(|i| Rec { id: i, key: 100 - i as i64 }).collect();
    let mut done = false;
    let srv = scripted(
        list,
        Box::new(move |_n, offset, _limit, s| {
            // Once the main pass is past offset 5: record 8 (unread) gets a message, then
            // 3, 2, 1 do, in that order: the head's first page is [1,2,3] again.
            if offset >= 5 && !done {
                done = true;
                touch(s, 8, 200);
                touch(s, 3, 201);
                touch(s, 2, 202);
                touch(s, 1, 203);
            }
            None
        }),
    )
    .await;
    let mut p = client(&srv.base)
        .paginate::<Value>("chats")
        .query("sort", "chats.lastMessageAt")
        .query("order", "desc")
        .page_size(3)
        .concurrency(1);
    let mut got = Vec::new();
    let r = bounded("scan", async {
        while let Some(v) = p.try_next().await? {
            got.push(v["id"].as_u64().unwrap());
        }
        Ok::<_, Error>(())
    })
    .await;
    let log = srv.state.lock().unwrap().log.clone();
    eprintln!("result {r:?}\ngot {got:?}\nreport {:?}\nlog {log:?}", p.report());
    let set: BTreeSet<u64> = got.iter().copied().collect();
    assert!(r.is_err() || set.contains(&8), "record 8 lost and the scan ended Ok");
}

/// Page size 1 with ids: no overlap, so a delete between two reads skips a record silently.
#[tokio::test]
async fn probe_page_size_one_loses_records_on_delete() {
    let sim = Simulator::builder()
        .departments(200)
        .mutate_every(7, Mutation::DeleteBefore(1))
        .start()
        .unwrap();
    let mut p = client_for(&sim, FAST).departments().page_size(1).concurrency(1);
    let mut got = Vec::new();
    let r = bounded("scan", async {
        while let Some(d) = p.try_next().await? {
            got.push(d.id);
        }
        Ok::<_, Error>(())
    })
    .await;
    let deleted: BTreeSet<u64> = sim.changes().deleted.into_iter().collect();
    let set: BTreeSet<u64> = got.iter().copied().collect();
    let lost: Vec<u64> = (1..=200)
        .filter(|i| !deleted.contains(i) && !set.contains(i))
        .collect();
    eprintln!("result {r:?} lost {lost:?} report {:?}", p.report());
    assert!(r.is_err() || lost.is_empty(), "{} lost, scan Ok", lost.len());
}

/// Two short answers in a row at the tail: the scan takes the second for a confirmation.
#[tokio::test]
async fn probe_two_short_reads_at_the_tail_end_ok() {
    let sim = Simulator::builder()
        .departments(10)
        .fault(3, Fault::Short)
        .fault(4, Fault::Short)
        .start()
        .unwrap();
    let mut p = client_for(&sim, FAST).departments().page_size(5).concurrency(1);
    let mut got = Vec::new();
    let r = bounded("scan", async {
        while let Some(d) = p.try_next().await? {
            got.push(d.id);
        }
        Ok::<_, Error>(())
    })
    .await;
    let reqs: Vec<_> = sim
        .requests()
        .iter()
        .map(|r| format!("{:?}", r))
        .collect();
    eprintln!("result {r:?} got {got:?} report {:?}\n{}", p.report(), reqs.join("\n"));
    assert!(r.is_err() || got.len() == 10, "{} of 10, scan Ok", got.len());
}

/// A lagging replica that serves the first 150 of 1,000 records, every time.
#[tokio::test]
async fn probe_persistent_short_page_far_from_total() {
    let list: Vec<Rec> = (1..=1000).map(|i| Rec { id: i, key: 0 }).collect();
    let srv = scripted(
        list,
        Box::new(|_n, offset, limit, s| {
            let data: Vec<Rec> = s
                .list
                .iter()
                .take(150)
                .skip(offset as usize)
                .take(limit as usize)
                .cloned()
                .collect();
            Some((data, 1000))
        }),
    )
    .await;
    let got: Result<Vec<Value>, Error> = bounded(
        "scan",
        client(&srv.base).paginate::<Value>("departments").try_collect(),
    )
    .await;
    let n = srv.state.lock().unwrap().n;
    eprintln!("{:?} records, {n} requests", got.as_ref().map(Vec::len));
    assert!(got.is_err(), "ended Ok with {} of 1000", got.unwrap().len());
}

/// A server (or proxy) that ignores `offset` and serves the first page again and again.
#[tokio::test]
async fn probe_offset_ignored_never_ends() {
    let list: Vec<Rec> = (1..=250).map(|i| Rec { id: i, key: 0 }).collect();
    let srv = scripted(
        list,
        Box::new(|_n, _offset, limit, s| {
            let data: Vec<Rec> = s.list.iter().take(limit as usize).cloned().collect();
            Some((data, 250))
        }),
    )
    .await;
    let r = tokio::time::timeout(
        Duration::from_secs(4),
        client(&srv.base)
            .paginate::<Value>("departments")
            .try_collect::<Vec<_>>(),
    )
    .await;
    let n = srv.state.lock().unwrap().n;
    eprintln!(
        "timed out: {}, {n} requests",
        r.is_err()
    );
    assert!(r.is_ok(), "still running after 4 s and {n} requests");
}

/// start_offset with an order that moves: the head rounds read from 0.
#[tokio::test]
async fn probe_start_offset_in_a_moving_order() {
    let list: Vec<Rec> = (1..=50).map(|i| Rec { id: i, key: 100 - i as i64 }).collect();
    let srv = scripted(list, Box::new(|_, _, _, _| None)).await;
    let got: Vec<Value> = bounded(
        "scan",
        client(&srv.base)
            .paginate::<Value>("chats")
            .query("sort", "chats.lastMessageAt")
            .query("order", "desc")
            .page_size(10)
            .start_offset(30)
            .try_collect(),
    )
    .await
    .unwrap();
    let n = srv.state.lock().unwrap().log.clone();
    eprintln!("{} records (asked from offset 30 of 50), requests {n:?}", got.len());
    assert_eq!(got.len(), 20);
}

/// A record without an id at the end of a page clears the anchor.
#[tokio::test]
async fn probe_value_records_without_id() {
    let _ = HashMap::<u64, u64>::new();
}
