//! The budget shared through Redis by every process on one key (feature `redis`).
//!
//! # The script
//!
//! Each request reserves the next free slot with one atomic Lua script, timed by Redis's own
//! clock (`TIME`), and sleeps until it: processes take their turns first come, first served,
//! nobody polls, and the clocks of the machines never meet. The state is one hash per account,
//!
//! - `tat`: when the next slot is free (GCRA's theoretical arrival time), in microseconds of
//!   Redis's clock; a 429 pushes it to the end of the pause, which is how one process's 429
//!   holds back the whole fleet;
//! - `seq`: how many slots the fleet has reserved, from which each process measures the fleet's
//!   pace (see [`Adaptive::granted_as`](crate::rate::adaptive::Adaptive::granted_as));
//! - `cut_at`, `from`, `level`, `version`: the adaptive rate's curve, cut by whichever process
//!   saw the 429 that was news, and followed by all;
//!
//! and a sorted set of the processes seen within a window, which gives each its share should
//! Redis go away. Both keys carry the same `{hashtag}`, a hash of the API key and base URL (never
//! the key itself), so that they live on one Redis Cluster slot.
//!
//! # Without Redis
//!
//! Every call has a timeout. When Redis does not answer, the process warns once and keeps a
//! local budget at its share: the rate divided by the processes last seen, which the adaptive
//! rate corrects further if the server still refuses. It asks Redis again at most once a
//! second, and rejoins the shared budget as soon as Redis answers.
//!
//! # Where things are
//!
//! - [`scripts`]: the two Lua scripts (`reserve.lua`, `limited.lua`), what they take and answer;
//! - [`connection`]: the one connection to Redis, its timeouts, outages told from refusals;
//! - [`state`]: what this process knows of its fleet, and its schedule apart;
//! - [`shared`]: [`Fleet`], this process's side of the shared budget;
//! - [`slots`]: the fleet as the budget's slot source.

mod connection;
mod scripts;
mod shared;
mod slots;
mod state;

pub(crate) use shared::Fleet;
pub(crate) use slots::slot;
