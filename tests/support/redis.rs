//! A real `redis-server` for the tests of the shared budget, started on a free port from
//! `PATH`. Without one the tests skip with a notice, unless `HELPCRUNCH_REQUIRE_REDIS=1` (which
//! `.ci/run` sets after installing it) makes its absence a failure.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    args: Vec<String>,
}

impl RedisServer {
    /// A fresh server, or `None` (with a notice) where there is none to start and none is
    /// required.
    pub fn start(test: &str) -> Option<Self> {
        Self::start_with(test, &[])
    }

    /// The same, with more arguments for `redis-server` (`--requirepass`, say).
    pub fn start_with(test: &str, args: &[&str]) -> Option<Self> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            if std::env::var_os("HELPCRUNCH_REQUIRE_REDIS").is_some_and(|v| v == "1") {
                panic!("HELPCRUNCH_REQUIRE_REDIS=1 but there is no redis-server on PATH");
            }
            eprintln!(
                "NOTICE: {test} skipped: no redis-server on PATH (install it, e.g. \
                 `apt-get install redis-server`, or run .ci/run, which does)"
            );
            return None;
        }
        let port = free_port();
        let mut server = Self {
            port,
            child: None,
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        server.restart();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server at once, as a crash would: nothing is saved.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty (a restart flushes its scripts too).
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen in 5 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends one command over a raw connection and returns the first line of the answer.
    pub fn command(&self, args: &[&str]) -> String {
        use std::io::{BufRead, BufReader, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut request = format!("*{}\r\n", args.len());
        for a in args {
            request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(request.as_bytes()).unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    }

    /// The keys the budget wrote, read over a raw connection (no redis-cli needed).
    pub fn keys(&self) -> Vec<String> {
        use std::io::{BufRead, BufReader, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .write_all(b"*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n")
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let n: usize = line.trim_start_matches('*').trim().parse().unwrap();
        (0..n)
            .map(|_| {
                line.clear();
                reader.read_line(&mut line).unwrap(); // $len
                line.clear();
                reader.read_line(&mut line).unwrap();
                line.trim_end().to_owned()
            })
            .collect()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback port nothing listens on now (a server started on it a moment later may still
/// find it taken, and should try another).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The directories under the temporary directory named `<prefix><pid>-…` whose test process
/// `pid` is gone (killed before its drops ran: a CI timeout, a Ctrl-C), with what they held
/// left behind; the harnesses stop their servers and remove them.
pub fn orphaned_dirs(prefix: &str) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_prefix(prefix)
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| pid != std::process::id() && !alive(pid))
        })
        .map(|entry| entry.path())
        .collect()
}

/// Whether process `pid` runs: it is in /proc and not a zombie (a killed process no one has
/// reaped yet).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command's name, which is in parentheses.
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}
