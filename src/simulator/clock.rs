//! The server's clock: the one every client of an account shares, which it tells in the `Date`
//! header of every answer and which stamps every change to the data. It is the system clock
//! shifted by a fixed offset (a client whose own clock is an hour off is a server an hour off
//! the other way) plus however far a test has moved it on, so that a test can step past a
//! lookback without sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The last second of the year 9999.
const LATEST: u64 = 253_402_300_799;

/// The server's clock.
#[derive(Debug)]
pub(crate) struct Clock {
    /// Seconds the server is ahead of the system clock (behind, where negative).
    offset: i64,
    /// Nanoseconds a test has moved the clock on since the server started.
    advanced: AtomicU64,
}

impl Clock {
    /// A clock `offset` seconds ahead of the system's (behind, where negative).
    pub(crate) fn new(offset: i64) -> Self {
        Self {
            offset,
            advanced: AtomicU64::new(0),
        }
    }

    /// Moves the clock on by `by`, from now on.
    pub(crate) fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // fetch_update rather than fetch_add: a sum past u64::MAX saturates, it does not wrap
        // the clock back to where it started.
        let _ = self
            .advanced
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |a| {
                Some(a.saturating_add(nanos))
            });
    }

    /// The server's time now.
    pub(crate) fn time(&self) -> SystemTime {
        self.at(SystemTime::now())
    }

    /// The server's time now, in whole UNIX seconds.
    pub(crate) fn now(&self) -> u64 {
        unix_seconds(self.time())
    }

    /// The server's time when the system clock reads `system`; never before 1970.
    fn at(&self, system: SystemTime) -> SystemTime {
        let shift = Duration::from_secs(self.offset.unsigned_abs());
        let shifted = if self.offset >= 0 {
            system.checked_add(shift)
        } else {
            system.checked_sub(shift)
        };
        let advanced = Duration::from_nanos(self.advanced.load(Ordering::SeqCst));
        shifted
            .and_then(|t| t.checked_add(advanced))
            .filter(|t| *t >= UNIX_EPOCH)
            .unwrap_or(UNIX_EPOCH)
            // An HTTP date has four digits for the year.
            .min(UNIX_EPOCH + Duration::from_secs(LATEST))
    }
}

/// `time` in whole seconds since 1970, 0 before it.
pub(crate) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEM: u64 = 1_750_000_000;

    fn system() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(SYSTEM)
    }

    #[test]
    fn the_offset_shifts_the_system_clock_either_way() {
        assert_eq!(unix_seconds(Clock::new(0).at(system())), SYSTEM);
        assert_eq!(unix_seconds(Clock::new(3_600).at(system())), SYSTEM + 3_600);
        assert_eq!(
            unix_seconds(Clock::new(-3_600).at(system())),
            SYSTEM - 3_600
        );
    }

    #[test]
    fn advancing_adds_up_and_keeps_the_fraction() {
        let clock = Clock::new(-10);
        clock.advance(Duration::from_millis(600));
        clock.advance(Duration::from_millis(600));
        assert_eq!(
            clock.at(system()),
            system() - Duration::from_secs(10) + Duration::from_millis(1_200)
        );
        assert_eq!(unix_seconds(clock.at(system())), SYSTEM - 9);
    }

    #[test]
    fn an_absurd_offset_or_advance_saturates_rather_than_wrapping() {
        assert_eq!(Clock::new(i64::MIN).at(system()), UNIX_EPOCH);
        let clock = Clock::new(0);
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        assert!(clock.at(system()) > system());
    }

    #[test]
    fn now_follows_the_system_clock() {
        let clock = Clock::new(3_600);
        let system = unix_seconds(SystemTime::now());
        let now = clock.now();
        assert!((system + 3_600..=system + 3_601).contains(&now), "{now}");
    }
}
