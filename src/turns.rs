//! [`Turns`]: who takes the rate budget's next turn. Requests queue in two lanes
//! ([`Priority`]), each first come, first served; interactive goes first, except that while
//! both lanes wait, the lane that did not have the last turn has the next, so neither starves.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::budget::lock;
use crate::priority::Priority;

/// A fair lock with two lanes.
#[derive(Debug, Default)]
pub(crate) struct Turns {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    held: bool,
    interactive: VecDeque<oneshot::Sender<()>>,
    background: VecDeque<oneshot::Sender<()>>,
    /// The lane of the last turn handed out.
    last: Option<Priority>,
}

/// A turn: the next one is handed out when it is dropped.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    turns: &'a Turns,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.turns.hand_on();
    }
}

/// A request waiting for its turn. Dropped (its request cancelled) after the turn was handed
/// to it, it hands the turn on, so that a cancelled wait never keeps the lock.
struct Waiting<'a> {
    turns: &'a Turns,
    rx: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            // No turn can be handed to it after this; one handed before is passed on.
            rx.close();
            if rx.try_recv().is_ok() {
                self.turns.hand_on();
            }
        }
    }
}

impl Turns {
    /// Waits for a turn in `lane`.
    pub(crate) async fn take(&self, lane: Priority) -> Turn<'_> {
        let rx = {
            let mut state = lock(&self.state);
            if !state.held {
                state.held = true;
                state.last = Some(lane);
                return Turn { turns: self };
            }
            let (tx, rx) = oneshot::channel();
            match lane {
                Priority::Interactive => state.interactive.push_back(tx),
                Priority::Background => state.background.push_back(tx),
            }
            rx
        };
        let mut waiting = Waiting {
            turns: self,
            rx: Some(rx),
        };
        let handed = waiting.rx.as_mut().expect("set above").await;
        // The sender is dropped unsent only with the `Turns` themselves, which outlive `self`.
        debug_assert!(handed.is_ok());
        waiting.rx = None;
        Turn { turns: self }
    }

    /// Hands the turn to the next waiter, or frees it.
    fn hand_on(&self) {
        let mut state = lock(&self.state);
        loop {
            let lane = match (state.interactive.is_empty(), state.background.is_empty()) {
                (true, true) => {
                    state.held = false;
                    return;
                }
                (false, true) => Priority::Interactive,
                (true, false) => Priority::Background,
                // Both wait: interactive first, unless it had the last turn.
                (false, false) if state.last == Some(Priority::Interactive) => {
                    Priority::Background
                }
                (false, false) => Priority::Interactive,
            };
            let next = match lane {
                Priority::Interactive => state.interactive.pop_front(),
                Priority::Background => state.background.pop_front(),
            };
            // A waiter that was cancelled is skipped.
            if next.is_some_and(|tx| tx.send(()).is_ok()) {
                state.last = Some(lane);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The order in which `lanes` get their turns, all queued behind one held turn.
    async fn order(lanes: &[Priority]) -> Vec<usize> {
        let turns = Arc::new(Turns::default());
        let first = turns.take(Priority::Background).await;
        let got = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, &lane) in lanes.iter().enumerate() {
            let (turns, got) = (turns.clone(), got.clone());
            tasks.push(tokio::spawn(async move {
                let _turn = turns.take(lane).await;
                lock(&got).push(i);
            }));
            // Queued in this order.
            tokio::task::yield_now().await;
        }
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        let got = lock(&got).clone();
        got
    }

    #[tokio::test]
    async fn interactive_goes_first_and_the_lanes_alternate_while_both_wait() {
        use Priority::{Background as B, Interactive as I};
        // The held turn was background: interactive first, then they alternate, each lane in
        // its own order.
        assert_eq!(order(&[B, B, B, I, I]).await, [3, 0, 4, 1, 2]);
        assert_eq!(order(&[I, I, I]).await, [0, 1, 2]);
        assert_eq!(order(&[B, B]).await, [0, 1]);
    }

    #[tokio::test]
    async fn a_cancelled_wait_neither_keeps_nor_loses_the_turn() {
        let turns = Arc::new(Turns::default());
        let held = turns.take(Priority::Background).await;
        // Cancelled while queued.
        let queued = tokio::time::timeout(
            std::time::Duration::from_millis(5),
            turns.take(Priority::Interactive),
        )
        .await;
        assert!(queued.is_err());
        // Cancelled after the turn was handed to it, before it ran.
        let mut late = Box::pin(turns.take(Priority::Interactive));
        assert!(futures::poll!(late.as_mut()).is_pending());
        drop(held);
        drop(late);
        let again = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            turns.take(Priority::Background),
        )
        .await;
        assert!(again.is_ok(), "the turn was lost");
    }
}
