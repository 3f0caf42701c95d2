//! [`Connection`]: the fleet's one connection to Redis, made on first use and made anew after a
//! call that failed or timed out, and [`is_outage`]: whether a failure is Redis being away or
//! Redis refusing this client.

use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::rate::lock::lock;

/// How long a Redis call may take before this process goes on without Redis.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// How long the first call on a new connection may take: a TLS handshake and a password first.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A connection to the fleet's Redis.
pub(super) struct Connection {
    client: redis::Client,
    /// Made on first use (it needs the runtime), and made anew after a call timed out: a
    /// connection that stopped answering without closing (a failover behind one address, a
    /// NAT that forgot it) would otherwise be kept for as long as the kernel keeps it. With
    /// it, whether it has answered a call yet.
    slot: Mutex<Option<(ConnectionManager, bool)>>,
}

impl Connection {
    /// A connection to `client`'s Redis; nothing is sent until the first call.
    pub(super) fn new(client: redis::Client) -> Self {
        Self {
            client,
            slot: Mutex::new(None),
        }
    }

    /// Runs `call` with a timeout: its reply, or the error it failed with (`None`: no answer
    /// in time).
    pub(super) async fn invoke<T: redis::FromRedisValue>(
        &self,
        call: &redis::ScriptInvocation<'_>,
    ) -> Result<T, Option<redis::RedisError>> {
        let (mut connection, answered) = self.connection().map_err(Some)?;
        // A connection that has not answered yet may need a TLS handshake and a password first.
        let limit = if answered {
            CALL_TIMEOUT
        } else {
            CONNECT_TIMEOUT
        };
        let result = tokio::time::timeout(limit, call.invoke_async::<T>(&mut connection)).await;
        match result {
            Ok(Ok(reply)) => {
                if let Some((_, answered)) = lock(&self.slot).as_mut() {
                    *answered = true;
                }
                Ok(reply)
            }
            failed => {
                // The next call starts on a new connection: redis-rs keeps one that timed out,
                // and one whose set-up was refused (a wrong password) answers every later call
                // with that refusal without asking Redis again.
                *lock(&self.slot) = None;
                Err(failed.ok().and_then(Result::err))
            }
        }
    }

    /// The connection, and whether it has answered a call yet.
    fn connection(&self) -> redis::RedisResult<(ConnectionManager, bool)> {
        let mut slot = lock(&self.slot);
        if let Some((c, answered)) = slot.as_ref() {
            return Ok((c.clone(), *answered));
        }
        // No response timeout of its own: the call's, around it, decides, and makes a new
        // connection when it runs out.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(None)
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let c = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
        *slot = Some((c.clone(), false));
        Ok((c, false))
    }
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
