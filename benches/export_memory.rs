//! Peak memory of `helpcrunch-export` over 1,000,000 simulated customers, with the limiter out
//! of the way: the stream should hold no more than the pages in flight, whatever the size of
//! the collection. Run with `cargo bench --features cli --bench export_memory`; it prints a
//! Markdown table and exits non-zero when the target (peak RSS under 64 MiB) is missed or the
//! output is not every record once, in order.
//!
//! The simulator runs in this process; the exporter in a child, whose peak RSS `wait4` reports.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use helpcrunch_pager::simulator::Simulator;

const RECORDS: usize = 1_000_000;
const TARGET_MIB: f64 = 64.0;

struct Run {
    label: &'static str,
    peak_mib: f64,
    elapsed: Duration,
    bytes: u64,
    lines: usize,
    each_once_in_order: bool,
}

fn main() {
    let sim = Simulator::builder().customers(RECORDS).start().unwrap();
    let dir = std::env::temp_dir().join(format!("hc-export-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let runs = [
        measure(
            &sim,
            &dir,
            "--checkpoint, default concurrency 8",
            &["--checkpoint"],
        ),
        measure(
            &sim,
            &dir,
            "no checkpoint, concurrency 32",
            &["--concurrency", "32"],
        ),
    ];
    std::fs::remove_dir_all(&dir).unwrap();

    println!("## Peak memory of helpcrunch-export ({RECORDS} simulated customers, limiter out of the way)\n");
    println!("| run | lines written | output | each once, in order | elapsed | peak RSS |");
    println!("|---|---|---|---|---|---|");
    let mut met = true;
    for r in &runs {
        println!(
            "| {} | {} | {:.0} MiB | {} | {:.1} s | {:.1} MiB |",
            r.label,
            r.lines,
            r.bytes as f64 / (1 << 20) as f64,
            if r.each_once_in_order { "yes" } else { "NO" },
            r.elapsed.as_secs_f64(),
            r.peak_mib
        );
        met &= r.each_once_in_order && r.lines == RECORDS && r.peak_mib < TARGET_MIB;
    }
    println!();
    if met {
        println!("target met: peak RSS under {TARGET_MIB} MiB, every record once");
    } else {
        println!("TARGET MISSED");
        std::process::exit(1);
    }
}

// The child is reaped by wait4, which std's Child::wait cannot do while reporting rusage.
#[allow(clippy::zombie_processes)]
fn measure(sim: &Simulator, dir: &Path, label: &'static str, extra: &[&str]) -> Run {
    let output = dir.join("customers.jsonl");
    let checkpoint = dir.join("customers.checkpoint");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_helpcrunch-export"));
    cmd.arg("customers")
        .args(["--base-url", &sim.base_url(), "--api-key", sim.api_key()])
        .args(["--requests-per-minute", "60000000", "--quiet"])
        .arg("--output")
        .arg(&output)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for arg in extra {
        if *arg == "--checkpoint" {
            cmd.arg(arg).arg(&checkpoint);
        } else {
            cmd.arg(arg);
        }
    }
    let started = Instant::now();
    let child = cmd.spawn().expect("the exporter starts");
    let (status, peak_kib) = wait_with_peak_rss(child.id());
    let elapsed = started.elapsed();
    assert!(
        status == 0,
        "{label}: the exporter exited with status {status}"
    );

    let bytes = std::fs::metadata(&output).unwrap().len();
    let (lines, each_once_in_order) = check(&output);
    std::fs::remove_file(&output).unwrap();
    Run {
        label,
        peak_mib: peak_kib as f64 / 1024.0,
        elapsed,
        bytes,
        lines,
        each_once_in_order,
    }
}

/// Reaps the child and returns its exit status and peak resident set in KiB, from `wait4`.
fn wait_with_peak_rss(pid: u32) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is a child of this process not yet reaped; both pointers are live.
    let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid as libc::pid_t, "wait4 failed");
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

/// Counts the lines and checks that they are customers 1, 2, 3, ... each once.
fn check(path: &Path) -> (usize, bool) {
    let file = BufReader::with_capacity(1 << 20, std::fs::File::open(path).unwrap());
    let mut lines = 0;
    let mut in_order = true;
    for line in file.lines() {
        let line = line.unwrap();
        lines += 1;
        // Each line starts {"id":N, as the simulator writes it; parsing a million lines whole
        // would take longer than the export.
        let id = line
            .strip_prefix("{\"id\":")
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<usize>().ok());
        in_order &= id == Some(lines) && line.ends_with('}');
    }
    (lines, in_order)
}
