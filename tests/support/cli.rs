//! Helpers for the tests that run the `helpcrunch-export` binary (feature `cli`): include with
//! `#[path = "support/cli.rs"] mod cli;` beside `mod support;`.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use helpcrunch_pager::simulator::Simulator;
use serde_json::Value;

use super::support::BOUND;

pub const BIN: &str = env!("CARGO_BIN_EXE_helpcrunch-export");
/// Fast enough that the limiter is out of the way.
pub const FAST: &str = "600000";

/// A scratch folder for one test, emptied first.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hc-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The command, with no key, Redis or log level from the environment the tests run in.
pub fn export(args: &[&str]) -> Command {
    isolated(BIN, args)
}

/// The binary `bin` with `args`, none of the environment's HelpCrunch settings or log level,
/// no input, and both outputs piped.
pub fn isolated(bin: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_remove("HELPCRUNCH_API_KEY")
        .env_remove("HELPCRUNCH_BASE_URL")
        .env_remove("HELPCRUNCH_REDIS_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The command against `sim`, at `rpm`.
pub fn export_from(sim: &Simulator, rpm: &str, args: &[&str]) -> Command {
    let mut cmd = export(args);
    cmd.args(["--base-url", &sim.base_url(), "--api-key", sim.api_key()])
        .args(["--requests-per-minute", rpm]);
    cmd
}

pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

/// Runs a spawned child to its end within [`BOUND`], reading both pipes meanwhile.
pub fn finish(mut child: Child, started: Instant) -> Ran {
    let out = child.stdout.take();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut out) = out {
            out.read_to_string(&mut s).unwrap();
        }
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let status = wait_bounded(&mut child, started);
    Ran {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        took: started.elapsed(),
    }
}

/// Waits for `child` to exit, killing it and failing the test if it runs past [`BOUND`] from
/// `started`.
pub fn wait_bounded(child: &mut Child, started: Instant) -> ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!("helpcrunch-export did not finish within {BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn run(mut cmd: Command) -> Ran {
    let started = Instant::now();
    finish(cmd.spawn().expect("the binary runs"), started)
}

/// Every record of `path` exactly as the server sent it, read page by page with plain reqwest.
pub async fn source(sim: &Simulator, path: &str) -> Vec<String> {
    super::support::plain_loop(sim, path, "").await
}

pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn ids(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"));
            v["id"].as_u64().unwrap()
        })
        .collect()
}

/// The command with --output and --checkpoint, as a script that resumes would run it.
pub fn resumable(
    sim: &Simulator,
    rpm: &str,
    collection: &str,
    file: &Path,
    checkpoint: &Path,
) -> Command {
    let mut cmd = export_from(sim, rpm, &[collection]);
    cmd.arg("--output")
        .arg(file)
        .arg("--checkpoint")
        .arg(checkpoint);
    cmd
}

/// Starts an export of 3,000 departments at 600 a minute (about three seconds) and returns
/// once its checkpoint has passed `offset`.
pub fn start_slow_export(sim: &Simulator, file: &Path, checkpoint: &Path, offset: u64) -> Child {
    let mut cmd = resumable(sim, "600", "departments", file, checkpoint);
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    let passed = || {
        std::fs::read(checkpoint)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["next_offset"].as_u64())
            .is_some_and(|at| at >= offset)
    };
    while !passed() {
        if started.elapsed() > BOUND || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the checkpoint never passed {offset} while the export ran");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

pub fn checkpoint_of(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}
