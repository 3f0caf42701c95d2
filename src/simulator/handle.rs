//! A running simulator: how it starts and what it tells about itself (its URL, its key, what
//! it has seen). What a test changes in it from outside is in `control.rs`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::builder::SimulatorBuilder;
use super::log::{RequestRecord, Stats};
use super::mutation::Changes;
use super::rate::{RateLimit, RateState};
use super::server::{self, ServerHandle};
use super::state::State;

/// A running fake HelpCrunch. Dropping it stops the server.
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    pub(super) state: Arc<State>,
    server: Option<ServerHandle>,
}

impl Simulator {
    /// Starts configuring a simulator.
    ///
    /// ```
    /// let sim = helpcrunch_pager::simulator::Simulator::builder().start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }

    /// The base URL to give a [`Client`](crate::Client), such as `http://127.0.0.1:41234/v1`.
    ///
    /// ```
    /// let sim = helpcrunch_pager::simulator::Simulator::builder().start()?;
    /// assert!(sim.base_url().ends_with("/v1"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The key the server accepts.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::{Simulator, DEFAULT_API_KEY};
    /// let sim = Simulator::builder().start()?;
    /// assert_eq!(sim.api_key(), DEFAULT_API_KEY);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn api_key(&self) -> &str {
        &self.state.config.api_key
    }

    /// The counters so far.
    ///
    /// ```
    /// let sim = helpcrunch_pager::simulator::Simulator::builder().start()?;
    /// assert_eq!(sim.stats().requests, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.state.requests.load(Ordering::SeqCst),
            rate_limited: self.state.rate_limited.load(Ordering::SeqCst),
        }
    }

    /// What the server has seen of the account with `key`, the main one or one added with
    /// [`SimulatorBuilder::account`](super::SimulatorBuilder::account): its requests and the
    /// 429s of its own limit ([`stats`](Self::stats) counts every account's, and every 429);
    /// `None` for a key it has no account for.
    ///
    /// ```
    /// let sim = helpcrunch_pager::simulator::Simulator::builder().account("k2", None).start()?;
    /// assert_eq!(sim.stats_of("k2").unwrap().rate_limited, 0);
    /// assert_eq!(sim.stats_of(sim.api_key()).unwrap().requests, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stats_of(&self, key: &str) -> Option<Stats> {
        self.state.accounts.get(key).map(|other| Stats {
            requests: other.requests.load(Ordering::SeqCst),
            rate_limited: other.rate_limited.load(Ordering::SeqCst),
        })
    }

    /// Changes the rate limit while the server runs; `None` removes it. What the requests
    /// already accepted mean carries over, so a change is not a free burst: a fixed window
    /// keeps its count (windows are still counted from the server's start), a sliding window
    /// its log, a leaky bucket the time of its last accepted request. A change to another
    /// algorithm, or a limit where there was none, starts afresh.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::{RateLimit, Simulator};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let four_a_minute = RateLimit::fixed_window(4, Duration::from_secs(60));
    /// let sim = Simulator::builder().departments(10).rate_limit(four_a_minute).start()?;
    /// let http = reqwest::Client::new();
    /// let url = format!("{}/departments", sim.base_url());
    /// let get = || http.get(&url).bearer_auth(sim.api_key()).send();
    /// assert_eq!(get().await?.status(), 200);
    /// assert_eq!(get().await?.status(), 200);
    ///
    /// // Halved: the two requests already made fill the new limit.
    /// sim.set_rate_limit(Some(RateLimit::fixed_window(2, Duration::from_secs(60))));
    /// assert_eq!(get().await?.status(), 429);
    ///
    /// sim.set_rate_limit(Some(four_a_minute));
    /// assert_eq!(get().await?.status(), 200);
    /// assert_eq!(get().await?.status(), 200);
    /// assert_eq!(get().await?.status(), 429);
    ///
    /// sim.set_rate_limit(None);
    /// assert_eq!(get().await?.status(), 200);
    /// # Ok(()) }
    /// ```
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        let mut rate = self
            .state
            .main()
            .rate
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match (rate.as_mut(), limit) {
            (Some(state), Some(limit)) => state.set_limit(limit, Instant::now()),
            (_, limit) => *rate = limit.map(|l| RateState::new(l, self.state.started)),
        }
    }

    /// What the mutations and the requests that write have inserted, deleted and touched so
    /// far.
    ///
    /// ```
    /// let sim = helpcrunch_pager::simulator::Simulator::builder().start()?;
    /// assert!(sim.changes().inserted.is_empty());
    /// assert!(sim.changes().touched.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn changes(&self) -> Changes {
        self.state
            .changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    /// Every request so far, in the order they arrived.
    ///
    /// ```
    /// let sim = helpcrunch_pager::simulator::Simulator::builder().start()?;
    /// assert!(sim.requests().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

impl SimulatorBuilder {
    /// Binds `127.0.0.1:0` and starts serving on a thread of its own.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().departments(10).start()?;
    /// assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start(self) -> std::io::Result<Simulator> {
        // A key given twice, or the main account's, would replace that account's limit.
        let mut keys = std::collections::HashSet::from([self.api_key.as_str()]);
        if let Some((key, _)) = self.accounts.iter().find(|(k, _)| !keys.insert(k.as_str())) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the account key {key:?} is given twice"),
            ));
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new(self));
        let server = server::spawn(listener, Arc::clone(&state))?;
        Ok(Simulator {
            addr,
            state,
            server: Some(server),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::builder::DEFAULT_API_KEY;
    use std::time::Duration;

    fn accepts_now(sim: &Simulator) -> bool {
        let mut rate = sim.state.main().rate.lock().unwrap();
        rate.as_mut()
            .is_none_or(|r| r.check(Instant::now()).is_ok())
    }

    #[test]
    fn a_rate_limit_can_be_set_removed_and_set_again_while_the_server_runs() {
        let a_minute = Duration::from_secs(60);
        let sim = Simulator::builder().start().unwrap();
        sim.set_rate_limit(Some(RateLimit::fixed_window(1, a_minute)));
        assert_eq!([accepts_now(&sim), accepts_now(&sim)], [true, false]);
        sim.set_rate_limit(Some(RateLimit::fixed_window(2, a_minute)));
        assert_eq!([accepts_now(&sim), accepts_now(&sim)], [true, false]);
        sim.set_rate_limit(None);
        assert!(sim.state.main().rate.lock().unwrap().is_none());
        assert_eq!([accepts_now(&sim), accepts_now(&sim)], [true, true]);
    }

    /// The status and the rate headers (lowercase names) of one `GET /departments`.
    async fn get(sim: &Simulator, key: &str) -> (u16, Vec<(String, String)>) {
        let answer = reqwest::Client::new()
            .get(format!("{}/departments", sim.base_url()))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let headers = answer
            .headers()
            .iter()
            .filter(|(name, _)| name.as_str().contains("ratelimit"))
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        (answer.status().as_u16(), headers)
    }

    fn names(headers: &[(String, String)]) -> Vec<&str> {
        headers.iter().map(|(name, _)| name.as_str()).collect()
    }

    #[tokio::test]
    async fn rate_headers_ride_on_what_the_limit_counted_or_refused_and_not_on_a_401() {
        let sim = Simulator::builder()
            .departments(5)
            .rate_limit(RateLimit::leaky_bucket(1))
            .rate_headers(true)
            .start()
            .unwrap();
        let (status, headers) = get(&sim, DEFAULT_API_KEY).await;
        assert_eq!(status, 200);
        assert_eq!(
            names(&headers),
            [
                "x-ratelimit-limit",
                "x-ratelimit-remaining",
                "x-ratelimit-reset",
                "ratelimit-policy"
            ]
        );
        assert_eq!(headers[0].1, "1");
        assert_eq!(headers[1].1, "0");
        assert_eq!(headers[3].1, "\"default\";q=1;w=60");
        let (status, headers) = get(&sim, DEFAULT_API_KEY).await;
        assert_eq!(status, 429);
        assert_eq!(headers[1].1, "0");
        let reset: f64 = headers[2].1.parse().unwrap();
        assert!((59.0..=60.0).contains(&reset), "the next slot: {reset}");
        assert_eq!(get(&sim, "wrong-key").await, (401, Vec::new()));
        let main = sim.stats_of(DEFAULT_API_KEY).unwrap();
        assert_eq!((main.requests, main.rate_limited), (2, 1), "not the 401");
    }

    #[tokio::test]
    async fn no_rate_headers_are_sent_unless_asked_for_or_without_a_limit() {
        let limited = Simulator::builder()
            .departments(5)
            .rate_limit(RateLimit::leaky_bucket(1))
            .start()
            .unwrap();
        assert_eq!(get(&limited, DEFAULT_API_KEY).await, (200, Vec::new()));
        let unlimited = Simulator::builder()
            .departments(5)
            .rate_headers(true)
            .start()
            .unwrap();
        assert_eq!(get(&unlimited, DEFAULT_API_KEY).await, (200, Vec::new()));
    }
}
