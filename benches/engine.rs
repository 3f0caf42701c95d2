//! The engine's own costs, with the rate limiter out of the way: page decoding, and a whole scan over loopback next to a plain reqwest + serde_json loop over the
//! same pages. `cargo bench --bench engine`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::TryStreamExt;
use helpcrunch_pager::simulator::Simulator;
use helpcrunch_pager::{Client, Department, Page};
use serde::Deserialize;

const RECORDS: u64 = 10_000;
const PAGES: u64 = RECORDS / 100;

fn decoding(c: &mut Criterion) {
    let sim = Simulator::builder().departments(100).start().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let body = rt.block_on(get(&reqwest::Client::new(), &sim, 0)).to_vec();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("a page of 100 departments", |b| {
        b.iter(|| Page::<Department>::from_json(std::hint::black_box(&body), 0, 100).unwrap())
    });
    g.finish();
}

async fn get(http: &reqwest::Client, sim: &Simulator, offset: u64) -> bytes::Bytes {
    http.get(format!(
        "{}/departments?offset={offset}&limit=100",
        sim.base_url()
    ))
    .bearer_auth(sim.api_key())
    .send()
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap()
}

#[derive(Deserialize)]
struct Envelope {
    data: Vec<Department>,
}

/// What a caller would write by hand: one page after another, no budget, no retries.
async fn plain_loop(http: &reqwest::Client, sim: &Simulator) -> usize {
    let mut n = 0;
    for page in 0..PAGES {
        let body = get(http, sim, page * 100).await;
        n += serde_json::from_slice::<Envelope>(&body)
            .unwrap()
            .data
            .len();
    }
    n
}

fn scan(c: &mut Criterion) {
    let sim = Simulator::builder()
        .departments(RECORDS as usize)
        .start()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // 60 million a minute: one request per microsecond, the limiter out of the way.
    let client = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .requests_per_minute(60_000_000)
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let mut g = c.benchmark_group("scan of 10,000 departments over loopback");
    g.throughput(Throughput::Elements(PAGES));
    g.sample_size(30).measurement_time(Duration::from_secs(8));
    g.bench_function("plain reqwest + serde_json loop", |b| {
        b.iter(|| assert_eq!(rt.block_on(plain_loop(&http, &sim)), RECORDS as usize))
    });
    g.bench_function("paginator, concurrency 1", |b| {
        b.iter(|| {
            let all: Vec<Department> = rt
                .block_on(client.departments().concurrency(1).try_collect())
                .unwrap();
            assert_eq!(all.len(), RECORDS as usize);
        })
    });
    g.bench_function("paginator, default concurrency", |b| {
        b.iter(|| {
            let all: Vec<Department> = rt.block_on(client.departments().try_collect()).unwrap();
            assert_eq!(all.len(), RECORDS as usize);
        })
    });
    g.finish();
}

criterion_group!(benches, decoding, scan);
criterion_main!(benches);
