//! [`Gate`]: what a 429 closes for every request of the budget, and a success that says the
//! server's window is spent closes until it resets.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::rate::lock::lock;

/// What tokio itself takes for "never" (its `Instant::far_future`): thirty years, which an
/// `Instant` can always hold, so a pause can end no later than this.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// Closed until an instant, or open. A later, shorter pause never shortens it: each pause is
/// the server's word (or the budget's judgement) that nothing should go before its end.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    until: Mutex<Option<Instant>>,
}

impl Gate {
    /// When the gate opens, where it is closed now.
    pub(crate) fn closed_until(&self) -> Option<Instant> {
        let until = *lock(&self.until);
        until.filter(|&until| until > Instant::now())
    }

    /// Whether the gate is closed now.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed_until().is_some()
    }

    /// Returns once the gate is open, however often it closes again meanwhile.
    pub(crate) async fn opened(&self) {
        while let Some(until) = self.closed_until() {
            tokio::time::sleep_until(until).await;
        }
    }

    /// Closes the gate for `wait` from now, at most `longest` (or leaves it closed longer,
    /// where it already is); returns the wait it was closed for.
    pub(crate) fn close_for(&self, wait: Duration, longest: Duration) -> Duration {
        let wait = wait.min(longest).min(FAR_FUTURE);
        let until = Instant::now() + wait;
        let mut closed = lock(&self.until);
        if closed.is_none_or(|c| c < until) {
            *closed = Some(until);
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_shorter_pause_does_not_shorten_a_longer_one() {
        let gate = Gate::default();
        assert!(!gate.is_closed());
        gate.close_for(Duration::from_secs(5), MINUTE);
        let until = gate.closed_until().expect("closed");
        gate.close_for(Duration::from_millis(10), MINUTE);
        assert_eq!(gate.closed_until(), Some(until));
    }

    #[test]
    fn no_pause_outlasts_the_longest() {
        let gate = Gate::default();
        let held = gate.close_for(Duration::MAX, Duration::from_millis(60));
        assert_eq!(held, Duration::from_millis(60));
    }

    #[test]
    fn a_wait_no_instant_can_hold_pauses_without_overflow() {
        let gate = Gate::default();
        gate.close_for(Duration::MAX, Duration::MAX);
        let until = gate.closed_until().expect("paused");
        assert!(until > Instant::now() + FAR_FUTURE - MINUTE);
    }

    #[tokio::test]
    async fn it_opens_when_its_pause_is_over() {
        let gate = Gate::default();
        gate.close_for(Duration::from_millis(30), MINUTE);
        let start = std::time::Instant::now();
        gate.opened().await;
        assert!(start.elapsed() >= Duration::from_millis(29));
        assert!(!gate.is_closed());
    }
}
