//! A real Redis Cluster on loopback for the tests of a budget shared through one: three
//! primaries (and a replica each, if asked), each a `redis-server --cluster-enabled yes` started
//! from `PATH` in a temporary directory of its own, joined by `redis-cli --cluster create`, gone
//! on drop. Without `redis-server` or `redis-cli` the tests skip with a notice, unless
//! `HELPCRUNCH_REQUIRE_REDIS=1` (which `.ci/run` sets after installing Redis) makes their absence
//! a failure, as in [`super::redis`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::redis::{alive, free_port, orphaned_dirs};

/// Tells apart the clusters one test process starts (tests run on threads side by side).
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// How long a node may go unanswered before the others count it failed. Redis's default is 15 s;
/// this short, a replica takes over from a killed primary in a few seconds, yet a node busy for
/// a moment on a loaded 2-core machine is not failed over by mistake.
const NODE_TIMEOUT_MS: u32 = 1_000;

/// The longest the harness waits for the cluster to form or to heal: past it, something is
/// wrong, and the test fails with what the nodes said rather than hanging.
const SETTLE: Duration = Duration::from_secs(10);

/// Between two looks at the nodes' state while waiting: short, as waiting is most of start's
/// time.
const POLL: Duration = Duration::from_millis(20);

/// The number of hash slots of every Redis Cluster.
const SLOTS: u32 = 16_384;

/// One `redis-server` of the cluster.
struct Node {
    /// The port its clients use, at 127.0.0.1.
    port: u16,
    /// The port of its cluster bus, where the nodes talk to each other. Chosen free, like
    /// `port`, rather than Redis's `port + 10000`, which may be taken or past 65535.
    bus_port: u16,
    /// Its own directory: nodes.conf, its pid file and its log.
    dir: PathBuf,
    /// The process; `None` once killed. Behind a mutex so that [`RedisCluster::kill`] can take
    /// `&self`, as every other method does, and a test can hold the cluster shared.
    child: Mutex<Option<Child>>,
}

impl Node {
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn alive(&self) -> bool {
        self.child.lock().unwrap().is_some()
    }

    /// Kills the process at once, as a crash would (`Child::kill` is SIGKILL), and reaps it.
    fn kill(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

/// A Redis Cluster of its own: three primaries, and as many replicas each as asked.
pub struct RedisCluster {
    /// The temporary directory holding one directory per node. Removed on drop.
    dir: PathBuf,
    /// Every node, the primaries first (as they were when the cluster formed).
    nodes: Vec<Node>,
    /// Replicas per primary, as asked of [`RedisCluster::start`].
    replicas: u8,
}

impl RedisCluster {
    /// A fresh, empty cluster of three primaries, with `replicas` (0 or 1) replicas each, every
    /// slot covered and every node saying `cluster_state:ok` (and every replica in sync with its
    /// primary); or `None` (with a notice naming `test`) where `redis-server` or `redis-cli` is
    /// missing and Redis is not required (`HELPCRUNCH_REQUIRE_REDIS=1`).
    pub fn start(test: &str, replicas: u8) -> Option<Self> {
        assert!(replicas <= 1, "0 or 1 replicas per primary, not {replicas}");
        let missing: Vec<&str> = ["redis-server", "redis-cli"]
            .into_iter()
            .filter(|tool| !runs(tool))
            .collect();
        if !missing.is_empty() {
            let missing = missing.join(" and ");
            if std::env::var_os("HELPCRUNCH_REQUIRE_REDIS").is_some_and(|v| v == "1") {
                panic!("HELPCRUNCH_REQUIRE_REDIS=1 but there is no {missing} on PATH");
            }
            eprintln!(
                "NOTICE: {test} skipped: no {missing} on PATH (install them, e.g. \
                 `apt-get install redis-server`, or run .ci/run, which does)"
            );
            return None;
        }
        sweep_leftovers();

        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "helpcrunch-redis-cluster-{}-{n}",
            std::process::id()
        ));
        // A directory left by an earlier process of the same id is stale.
        let _ = std::fs::remove_dir_all(&dir);
        let mut taken = HashSet::new();
        let nodes: Vec<Node> = (0..3 * (1 + replicas as usize))
            .map(|i| {
                let node_dir = dir.join(format!("node-{i}"));
                std::fs::create_dir_all(&node_dir).expect("a temporary directory for a node");
                let (port, bus_port) = (fresh_port(&mut taken), fresh_port(&mut taken));
                Node {
                    port,
                    bus_port,
                    dir: node_dir,
                    child: Mutex::new(None),
                }
            })
            .collect();
        // From here on, a panic drops the cluster, which kills what it started.
        let mut cluster = Self {
            dir,
            nodes,
            replicas,
        };
        cluster.spawn_all(&mut taken);
        cluster.create();
        cluster.wait_until("the cluster to form", |c| c.settled(None));
        // `--cluster create` makes the first three nodes primaries; sorted anyway, by what the
        // nodes say, so that `urls` lists the primaries first whatever a redis-cli does.
        let primaries = cluster.primaries();
        cluster
            .nodes
            .sort_by_key(|node| !primaries.contains(&node.url()));
        Some(cluster)
    }

    /// `redis://127.0.0.1:PORT/` of every node, the primaries (when the cluster formed) first;
    /// killed nodes too.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// The urls of the nodes that are primaries now, by their own word (`ROLE`): after a
    /// failover, the promoted replica is one, and the killed primary is not.
    pub fn primaries(&self) -> Vec<String> {
        self.live()
            .filter(|node| {
                self.cli(&node.url(), &["ROLE"])
                    .lines()
                    .next()
                    .is_some_and(|role| role.trim() == "master")
            })
            .map(Node::url)
            .collect()
    }

    /// The url of the live primary that serves the slot of `key` (`CLUSTER KEYSLOT`), by its own
    /// claim to the slot in `CLUSTER NODES`: the node a client without redirects must ask.
    pub fn primary_for(&self, key: &str) -> String {
        let any = self.live().next().expect("a live node").url();
        let answer = self.cli(&any, &["CLUSTER", "KEYSLOT", key]);
        let slot: u32 = answer
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("CLUSTER KEYSLOT {key} answered {answer:?}"));
        self.live()
            .find(|node| {
                parse_nodes(&self.cli(&node.url(), &["CLUSTER", "NODES"]))
                    .iter()
                    .find(|line| line.has("myself"))
                    .is_some_and(|me| me.has("master") && me.serves(slot))
            })
            .unwrap_or_else(|| panic!("no live primary serves slot {slot} (of {key})"))
            .url()
    }

    /// Kills the node at `url` with SIGKILL, as a crash would. Where it was a primary with a
    /// replica, waits (at most 10 s, or the test fails) until the replica has taken over its
    /// slots in the view of every live node and they all say `cluster_state:ok` again. Killing a
    /// replica, or a primary without one, returns at once: the cluster then notices in its own
    /// time (and, for a primary, goes down, which is the test's to watch).
    pub fn kill(&self, url: &str) {
        let node = self.node(url);
        assert!(node.alive(), "{url} was already killed");
        let was_primary = self.primaries().contains(&node.url());
        let started = Instant::now();
        node.kill();
        if was_primary && self.replicas > 0 {
            self.wait_until("a replica to take over from the killed primary", |c| {
                c.settled(Some(node.port))
            });
            eprintln!(
                "redis cluster: {url} failed over in {:?}",
                started.elapsed()
            );
        }
    }

    /// Runs `redis-cli -h 127.0.0.1 -p PORT args...` against the node at `url` and returns its
    /// standard output, as redis-cli prints it to a pipe (raw: `OK`, `1`, one key a line).
    /// `args` may begin with redis-cli's own options, `-c` to follow redirects say.
    pub fn cli(&self, url: &str, args: &[&str]) -> String {
        let port = port_of(url);
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Every key in the cluster (`KEYS *` on every live primary), sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .primaries()
            .iter()
            .flat_map(|url| {
                self.cli(url, &["KEYS", "*"])
                    .lines()
                    .filter(|key| !key.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        keys.sort();
        keys
    }

    /// The nodes not killed.
    fn live(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|node| node.alive())
    }

    fn node(&self, url: &str) -> &Node {
        let port = port_of(url);
        self.nodes
            .iter()
            .find(|node| node.port == port)
            .unwrap_or_else(|| panic!("{url} is no node of this cluster"))
    }

    /// Starts every node, side by side, and waits until each listens. A port chosen free may be
    /// taken by another test's server before ours binds it; that node then exits, and is started
    /// again on other ports.
    fn spawn_all(&mut self, taken: &mut HashSet<u16>) {
        for node in &self.nodes {
            *node.child.lock().unwrap() = Some(spawn(node));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut retries = 0;
        let mut waiting: Vec<usize> = (0..self.nodes.len()).collect();
        while !waiting.is_empty() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen in 5 s:\n{}",
                self.nodes[waiting[0]].log()
            );
            let mut still = Vec::new();
            for i in waiting {
                let exited = {
                    let mut child = self.nodes[i].child.lock().unwrap();
                    child.as_mut().unwrap().try_wait().unwrap().is_some()
                };
                if exited {
                    retries += 1;
                    assert!(
                        retries <= 5,
                        "redis-server exited at start:\n{}",
                        self.nodes[i].log()
                    );
                    let node = &mut self.nodes[i];
                    node.port = fresh_port(taken);
                    node.bus_port = fresh_port(taken);
                    // Its nodes.conf names the ports it could not have.
                    let _ = std::fs::remove_file(node.dir.join("nodes.conf"));
                    *node.child.lock().unwrap() = Some(spawn(node));
                    still.push(i);
                } else if std::net::TcpStream::connect(("127.0.0.1", self.nodes[i].port)).is_err() {
                    still.push(i);
                }
            }
            waiting = still;
            if !waiting.is_empty() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Joins the nodes into one cluster: slots split among the first three, the others made
    /// their replicas. `--cluster create` wants addresses as IPs, not `localhost`, and
    /// `--cluster-yes` not to ask whether the layout is fine.
    fn create(&self) {
        let output = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(
                self.nodes
                    .iter()
                    .map(|node| format!("127.0.0.1:{}", node.port)),
            )
            .args(["--cluster-replicas", &self.replicas.to_string()])
            .arg("--cluster-yes")
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("All 16384 slots covered"),
            "redis-cli --cluster create failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Whether the cluster is whole and healthy: every live node says `cluster_state:ok` with
    /// every slot served, knows every node, sees `killed` (a node's port) failed and serving no
    /// slot, and every live replica is in sync with its primary. A killed primary leaves
    /// `cluster_state:ok` until its peers agree it failed, hence the look at its slots.
    fn settled(&self, killed: Option<u16>) -> bool {
        self.live().all(|node| {
            let url = node.url();
            let info = self.cli(&url, &["CLUSTER", "INFO"]);
            let field = |name: &str| {
                info.lines()
                    .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix(':'))
                    .unwrap_or("")
                    .to_owned()
            };
            if field("cluster_state") != "ok"
                || field("cluster_slots_ok") != SLOTS.to_string()
                || field("cluster_known_nodes") != self.nodes.len().to_string()
            {
                return false;
            }
            let nodes = parse_nodes(&self.cli(&url, &["CLUSTER", "NODES"]));
            if let Some(killed) = killed {
                let Some(dead) = nodes.iter().find(|line| line.port == killed) else {
                    return false;
                };
                if !dead.has("fail") || !dead.slots.is_empty() {
                    return false;
                }
            }
            let me = nodes.iter().find(|line| line.has("myself"));
            if me.is_some_and(|me| me.has("slave")) {
                return self
                    .cli(&url, &["INFO", "replication"])
                    .lines()
                    .any(|line| line.trim() == "master_link_status:up");
            }
            me.is_some()
        })
    }

    /// Polls `done` until it holds, failing the test with every live node's view of the cluster
    /// after [`SETTLE`].
    fn wait_until(&self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + SETTLE;
        while !done(self) {
            if Instant::now() >= deadline {
                let views: String = self
                    .live()
                    .map(|node| {
                        format!(
                            "{}:\n{}{}",
                            node.url(),
                            self.cli(&node.url(), &["CLUSTER", "INFO"]),
                            self.cli(&node.url(), &["CLUSTER", "NODES"])
                        )
                    })
                    .collect();
                panic!("waited {SETTLE:?} for {what}; the nodes say:\n{views}");
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for RedisCluster {
    /// Kills every node (on a panic too: drop runs as the test unwinds) and removes their
    /// directories. SIGKILL: nothing needs saving, and a shutdown would take longer.
    fn drop(&mut self) {
        for node in &self.nodes {
            node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `tool --version` runs and succeeds.
fn runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A free loopback port not yet given to another node of this cluster (the kernel may hand out
/// one just released again).
fn fresh_port(taken: &mut HashSet<u16>) -> u16 {
    loop {
        let port = free_port();
        if taken.insert(port) {
            return port;
        }
    }
}

/// Starts `node`'s redis-server.
fn spawn(node: &Node) -> Child {
    let dir = |file: &str| node.dir.join(file).to_string_lossy().into_owned();
    Command::new("redis-server")
        .args(["--port", &node.port.to_string()])
        .args(["--cluster-port", &node.bus_port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--cluster-enabled", "yes"])
        .args(["--cluster-config-file", &dir("nodes.conf")])
        .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
        // A replica stands for election however long ago it last heard its primary: the tests
        // want a failover, not Redis's guard against promoting stale data.
        .args(["--cluster-replica-validity-factor", "0"])
        .args(["--dir", &dir("")])
        .args(["--pidfile", &dir("redis.pid")])
        .args(["--logfile", &dir("redis.log")])
        // Nothing on disk: the cluster lives as long as the test.
        .args(["--save", "", "--appendonly", "no"])
        // A replica's first sync without a 5 s wait for other replicas to share it.
        .args([
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts")
}

/// The port of `redis://127.0.0.1:PORT/` (or of `127.0.0.1:PORT`).
fn port_of(url: &str) -> u16 {
    url.trim_start_matches("redis://")
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("{url} is no redis://127.0.0.1:PORT/ url"))
}

/// One line of `CLUSTER NODES`: `<id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv>
/// <config-epoch> <link-state> <slot>...`.
struct NodeLine {
    port: u16,
    flags: Vec<String>,
    /// Slot ranges it serves, inclusive; slots being migrated (`[...]`) left out.
    slots: Vec<(u32, u32)>,
}

impl NodeLine {
    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    fn serves(&self, slot: u32) -> bool {
        self.slots.iter().any(|&(a, b)| (a..=b).contains(&slot))
    }
}

fn parse_nodes(text: &str) -> Vec<NodeLine> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 8 {
                return None;
            }
            let port = fields[1]
                .split('@')
                .next()?
                .rsplit(':')
                .next()?
                .parse()
                .ok()?;
            let slots = fields[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|a| (a, a)),
                })
                .collect();
            Some(NodeLine {
                port,
                flags: fields[2].split(',').map(str::to_owned).collect(),
                slots,
            })
        })
        .collect()
}

/// Kills the nodes and removes the directories of clusters whose test process is gone (killed
/// before its drops ran, by a timeout say): an orphaned redis-server would otherwise live on,
/// holding ports and memory. Cheap: a look at the temporary directory and a pid file a node.
fn sweep_leftovers() {
    for dir in orphaned_dirs("helpcrunch-redis-cluster-") {
        for node in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            kill_stale_server(&node.path());
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// SIGKILLs the redis-server whose pid file is in `dir`, if that pid is still a redis-server
/// (the pid may have been reused since by something else).
fn kill_stale_server(dir: &Path) {
    let Some(pid) = std::fs::read_to_string(dir.join("redis.pid"))
        .ok()
        .and_then(|pid| pid.trim().parse::<i32>().ok())
    else {
        return;
    };
    let is_redis = std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains("redis-server"));
    if is_redis && alive(pid as u32) {
        // SAFETY: kill has no memory-safety preconditions; at worst it fails with ESRCH.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}
