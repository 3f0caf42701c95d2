//! [`Connection`]: the process's one connection to a Redis (a single server, or a Redis Cluster
//! found out from any of its nodes), shared by the budgets of every account on it, made on
//! first use and made anew after a call that failed or timed out; and [`is_outage`]: whether
//! a failure is Redis being away or Redis refusing this client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;

use crate::error::Error;
use crate::rate::lock::lock;

/// How long a Redis call may take before this process goes on without Redis.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// How long the first call on a new connection may take: a TLS handshake and a password first,
/// and for a cluster, its map of slots.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A connection to the fleet's Redis.
pub(super) struct Connection {
    nodes: Arc<Nodes>,
    /// The connection, made on first use (it needs the runtime) by one task at a time, and
    /// made anew after a call failed: a connection that stopped answering without closing (a
    /// failover behind one address, a NAT that forgot it) would otherwise be kept for as long
    /// as the kernel keeps it.
    slot: Mutex<Slot>,
}

/// Where to find the Redis.
struct Nodes {
    /// The nodes given, in order: one for a single Redis, any number of a cluster's (one
    /// down at the start does not matter).
    seeds: Vec<redis::ConnectionInfo>,
    /// The healthy nodes of the cluster, as it named them when last asked, to find it again
    /// after the nodes given have gone (a failover) and the connection is made anew.
    learned: Mutex<Vec<redis::ConnectionInfo>>,
}

/// The connection, or the making of one.
#[derive(Default)]
struct Slot {
    /// Counts the connections made: a failure on an older one does not throw away a newer.
    generation: u64,
    /// The connection, and whether it has answered a call yet.
    link: Option<(Link, bool)>,
    /// The one task making a connection, which every caller waits on (each for its own
    /// time): it goes on after they have given up, so that a slow cluster is still reached.
    opening: Option<futures::future::Shared<Opening>>,
}

type Opening = futures::future::BoxFuture<'static, Result<Link, Arc<redis::RedisError>>>;

/// How long the making of a connection may take in all, in the background: the nodes asked,
/// then the cluster's map of slots and a connection to each node in it.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// A single Redis, or a cluster (which follows MOVED and ASK and learns the slots anew as
/// they move).
#[derive(Clone)]
enum Link {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    /// The process's connection to the Redis at `urls` (one URL, or several nodes of one
    /// cluster separated by commas), shared with every other budget given the same `urls`;
    /// nothing is sent until the first call.
    pub(super) fn shared(urls: &str) -> Result<Arc<Self>, Error> {
        static OPEN: Mutex<Option<HashMap<String, Weak<Connection>>>> = Mutex::new(None);
        let mut open = lock(&OPEN);
        let open = open.get_or_insert_with(HashMap::new);
        open.retain(|_, c| c.strong_count() > 0);
        if let Some(c) = open.get(urls).and_then(Weak::upgrade) {
            return Ok(c);
        }
        let seeds = urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| {
                redis::IntoConnectionInfo::into_connection_info(u).map_err(|e| {
                    // The URL may carry a password: no message repeats it.
                    Error::InvalidInput(format!(
                        "the Redis URL for the shared budget is not valid ({:?})",
                        e.kind()
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if seeds.is_empty() {
            return Err(Error::InvalidInput(
                "the Redis URL for the shared budget is empty".into(),
            ));
        }
        let c = Arc::new(Self {
            nodes: Arc::new(Nodes {
                seeds,
                learned: Mutex::new(Vec::new()),
            }),
            slot: Mutex::new(Slot::default()),
        });
        open.insert(urls.to_owned(), Arc::downgrade(&c));
        Ok(c)
    }

    /// Runs `call` with a timeout: its reply, or the error it failed with (`None`: no answer
    /// in time).
    pub(super) async fn invoke<T: redis::FromRedisValue>(
        &self,
        call: &redis::ScriptInvocation<'_>,
    ) -> Result<T, Option<redis::RedisError>> {
        let (link, answered, generation) = self.link().await?;
        // A connection that has not answered yet may need a TLS handshake and a password first.
        let limit = if answered {
            CALL_TIMEOUT
        } else {
            CONNECT_TIMEOUT
        };
        let cluster = matches!(link, Link::Cluster(_));
        let result = match link {
            Link::Single(mut c) => tokio::time::timeout(limit, call.invoke_async(&mut c)).await,
            Link::Cluster(mut c) => tokio::time::timeout(limit, call.invoke_async(&mut c)).await,
        };
        let mut slot = lock(&self.slot);
        let current = slot.generation == generation;
        match result {
            Ok(Ok(reply)) => {
                if let (true, Some((_, answered))) = (current, slot.link.as_mut()) {
                    *answered = true;
                }
                Ok(reply)
            }
            // A cluster's connection reconnects, and learns moved slots, by itself; one call
            // late is no reason to make it anew (for every account on it).
            Err(_) if cluster => Err(None),
            failed => {
                // The next call starts on a new connection: redis-rs keeps one that timed out,
                // and one whose set-up was refused (a wrong password) answers every later call
                // with that refusal without asking Redis again.
                if current {
                    slot.link = None;
                    slot.generation += 1;
                }
                Err(failed.ok().and_then(Result::err).and_then(|e| {
                    // Slots moving, or a failover under way, past the cluster client's own
                    // retries: Redis away for a moment, not refusing.
                    let moving = cluster
                        && matches!(
                            e.kind(),
                            redis::ErrorKind::Server(
                                redis::ServerErrorKind::Moved
                                    | redis::ServerErrorKind::Ask
                                    | redis::ServerErrorKind::TryAgain
                                    | redis::ServerErrorKind::ClusterDown
                            )
                        );
                    (!moving).then_some(e)
                }))
            }
        }
    }

    /// The connection, whether it has answered a call yet and its generation; made where
    /// there is none, waiting for it at most [`CONNECT_TIMEOUT`] (`Err(None)` then: the
    /// making goes on in the background for the next call).
    async fn link(&self) -> Result<(Link, bool, u64), Option<redis::RedisError>> {
        let (opening, generation) = {
            let mut slot = lock(&self.slot);
            if let Some((link, answered)) = &slot.link {
                return Ok((link.clone(), *answered, slot.generation));
            }
            let nodes = Arc::clone(&self.nodes);
            let opening = slot
                .opening
                .get_or_insert_with(|| {
                    let task = tokio::spawn(async move {
                        match tokio::time::timeout(OPEN_TIMEOUT, nodes.open()).await {
                            Ok(made) => made.map_err(Arc::new),
                            Err(_) => Err(Arc::new(redis::RedisError::from((
                                redis::ErrorKind::Io,
                                "no node answered in time",
                            )))),
                        }
                    });
                    let joined: Opening = Box::pin(async move {
                        task.await.unwrap_or_else(|e| {
                            Err(Arc::new(redis::RedisError::from((
                                redis::ErrorKind::Io,
                                "the connection task ended",
                                e.to_string(),
                            ))))
                        })
                    });
                    joined.shared()
                })
                .clone();
            (opening, slot.generation)
        };
        let made = match tokio::time::timeout(CONNECT_TIMEOUT, opening).await {
            Ok(made) => made,
            Err(_) => return Err(None),
        };
        let mut slot = lock(&self.slot);
        if slot.generation == generation {
            slot.opening = None;
        }
        match made {
            Ok(link) => {
                let (link, answered) = slot.link.get_or_insert((link, false)).clone();
                Ok((link, answered, slot.generation))
            }
            Err(e) => Err(Some(redis::RedisError::clone(&e))),
        }
    }
}

impl Nodes {
    /// A connection to the node that answers first of those given and those the cluster
    /// named when last asked (they are asked at once: one down or silent costs nothing): to
    /// the cluster, where that node says it is in one, else to it alone. Where none answers,
    /// a node's refusal (a wrong password) rather than another's silence.
    async fn open(&self) -> redis::RedisResult<Link> {
        let mut nodes = self.seeds.clone();
        for node in lock(&self.learned).iter() {
            if !nodes.iter().any(|n| n.addr() == node.addr()) {
                nodes.push(node.clone());
            }
        }
        let mut asks: futures::stream::FuturesUnordered<_> = nodes
            .iter()
            .map(|node| async move { in_cluster(node).await.map(|cluster| (node, cluster)) })
            .collect();
        let mut outage = None;
        let (node, members) = loop {
            match asks.next().await {
                Some(Ok(answer)) => break answer,
                Some(Err(e)) if is_outage(&e) => outage = Some(e),
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(outage.unwrap_or_else(|| {
                        redis::RedisError::from((redis::ErrorKind::Io, "no node to ask"))
                    }))
                }
            }
        };
        drop(asks);
        let Some(members) = members else {
            if self.seeds.len() > 1 {
                return Err(redis::RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "several Redis URLs name the nodes of one cluster, and this Redis is not in \
                     one",
                )));
            }
            return single(node).map(Link::Single);
        };
        if node.redis_settings().db() != 0 {
            return Err(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "a Redis Cluster has database 0 alone: leave the database out of the URL",
            )));
        }
        *lock(&self.learned) = members
            .into_iter()
            .map(|(host, port)| node.clone().set_addr(at(node.addr(), host, port)))
            .collect();
        // The cluster client learns the other nodes from this one.
        let cluster = ClusterClient::builder([node.clone()])
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(CONNECT_TIMEOUT)
            .retries(2)
            .build()?;
        Ok(Link::Cluster(cluster.get_async_connection().await?))
    }
}

/// `addr` moved to `host:port`, keeping its kind (TLS or not).
fn at(addr: &redis::ConnectionAddr, host: String, port: u16) -> redis::ConnectionAddr {
    match addr {
        redis::ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => redis::ConnectionAddr::TcpTls {
            host,
            port,
            insecure: *insecure,
            tls_params: tls_params.clone(),
        },
        _ => redis::ConnectionAddr::Tcp(host, port),
    }
}

/// Whether the Redis at `seed` is a node of a cluster (`INFO cluster` says
/// `cluster_enabled:1`), and then the cluster's nodes (`CLUSTER NODES`). A Redis whose user may
/// not run INFO is taken for a single one.
async fn in_cluster(
    seed: &redis::ConnectionInfo,
) -> redis::RedisResult<Option<Vec<(String, u16)>>> {
    // Database 0 to ask: a cluster refuses any other (SELECT), which would read as it being
    // away.
    let settings = seed.redis_settings().clone().set_db(0);
    let client = redis::Client::open(seed.clone().set_redis_settings(settings))?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(CONNECT_TIMEOUT));
    let mut c = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let info: Result<String, _> = redis::cmd("INFO").arg("cluster").query_async(&mut c).await;
    match info {
        Ok(info) if info.lines().any(|l| l.trim() == "cluster_enabled:1") => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoPerm) => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    }
    // A user who may not list the nodes still reaches the cluster through the seeds.
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut c)
        .await
        .unwrap_or_default();
    Ok(Some(cluster_nodes(&nodes)))
}

/// The addresses in a `CLUSTER NODES` answer: each line's second field, `host:port@bus` (with
/// `,hostname` after it on Redis 7).
fn cluster_nodes(answer: &str) -> Vec<(String, u16)> {
    answer
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let address = fields.nth(1)?;
            let flags = fields.next()?;
            // A failed node stays listed until it is forgotten; asking it would only wait.
            if flags
                .split(',')
                .any(|f| matches!(f, "fail" | "fail?" | "noaddr" | "handshake"))
            {
                return None;
            }
            let address = address.split(['@', ',']).next()?;
            let (host, port) = address.rsplit_once(':')?;
            let port = port.parse().ok().filter(|p| *p != 0)?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            (!host.is_empty()).then(|| (host.to_owned(), port))
        })
        .collect()
}

/// A connection to the single Redis at `seed`, made on its first call.
fn single(seed: &redis::ConnectionInfo) -> redis::RedisResult<ConnectionManager> {
    // No response timeout of its own: the call's, around it, decides, and makes a new
    // connection when it runs out.
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(None)
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_lazy_with_config(redis::Client::open(seed.clone())?, config)
}

/// Whether a failed call is Redis being away (down, restarting, failing over, out of memory,
/// busy), which a later call may find over, rather than Redis refusing this client: a wrong
/// password, a user without the permission, a cluster node that is not this key's, a client
/// configured wrong, a Redis that runs no scripts or cannot run this one.
pub(super) fn is_outage(e: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    let refused = matches!(
        e.kind(),
        ErrorKind::AuthenticationFailed
            | ErrorKind::InvalidClientConfig
            | ErrorKind::Server(
                ServerErrorKind::NoPerm
                    | ServerErrorKind::Moved
                    | ServerErrorKind::Ask
                    | ServerErrorKind::CrossSlot
            )
    ) || matches!(e.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"))
        // Redis 7 answers a long command from a client that has not authenticated so.
        || e.detail().is_some_and(|d| d.contains("unauthenticated"))
        // A Redis that runs no scripts (EVAL renamed away, as some hosted ones do), or a
        // script it cannot run: asking again will not mend either, and going on alone would
        // put every process at the full rate.
        // (An OOM or a BUSY inside the script is an outage: it has codes of its own.)
        || (e.code().is_none_or(|c| c == "ERR")
            && e.detail().is_some_and(|d| {
                let d = d.to_ascii_lowercase();
                d.contains("unknown command")
                    || d.contains("user_script")
                    || d.contains("running script")
            }));
    !refused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nodes_of_a_cluster_are_read_from_its_answer() {
        let answer = "07c3 127.0.0.1:30004@31004,node-4 slave e7d1 0 1426238317239 4 connected\n\
                      67ed 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922\n\
                      9fd8 :0@0 master,fail,noaddr - 0 0 3 disconnected\n\
                      5c2a 127.0.0.1:30003@31003 master,fail - 0 0 3 disconnected\n\
                      1a2b [::1]:30005@31005 myself,master - 0 0 5 connected";
        assert_eq!(
            cluster_nodes(answer),
            [
                ("127.0.0.1".to_owned(), 30004),
                ("127.0.0.1".to_owned(), 30002),
                ("::1".to_owned(), 30005)
            ]
        );
    }
}
