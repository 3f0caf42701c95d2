//! `--simulate`: a simulated HelpCrunch account on loopback, with the real 120-a-minute limit,
//! so that the export can be seen working with no key and no network.

use std::time::Duration;

use helpcrunch_pager::simulator::{RateLimit, Simulator};

use crate::Failure;

/// A few thousand records per collection: each exports in well under a minute at 120 requests
/// a minute.
pub(crate) fn account() -> Result<Simulator, Failure> {
    Simulator::builder()
        .departments(2_000)
        .agents(500)
        .customers(5_000)
        .chats(4_000)
        .chat_messages(1, 3_000)
        .chat_messages(2, 650)
        .chat_messages(3, 40)
        .rate_limit(RateLimit::sliding_window(120, Duration::from_secs(60)))
        .retry_after(true)
        .latency(Duration::from_millis(120))
        .start()
        .map_err(|e| Failure::run(format!("cannot start the simulated account: {e}")))
}
