//! How the simulated records write their values, the parts every kind shares: a timestamp in
//! one of the three forms the API uses, and an agent as the API nests one.

use std::fmt::{self, Write};

/// The time the simulated account's history starts: every record built with the simulator is
/// timed from here by its id, years before any clock a test runs under.
pub(crate) const EPOCH: u64 = 1_600_000_000;

const ROLES: [&str; 5] = ["agentChatOnly", "agent", "superviser", "admin", "owner"];

/// A timestamp in one of the three forms the API uses, chosen by `form`: an integer, a string
/// of one, or a fractional string whose milliseconds are `form`'s last three digits.
pub(crate) fn time(secs: u64, form: u64, out: &mut String) -> fmt::Result {
    match form % 3 {
        0 => write!(out, "{secs}"),
        1 => write!(out, r#""{secs}""#),
        _ => write!(out, r#""{secs}.{:03}""#, form % 1000),
    }
}

/// Agent `id`, as `GET /agents` lists it and as chats and departments nest it.
pub(crate) fn agent(id: u64, out: &mut String) -> fmt::Result {
    write!(
        out,
        r#"{{"id":{id},"name":"Agent {id}","email":"agent{id}@example.com","role":"{}"}}"#,
        ROLES[(id % 5) as usize]
    )
}
