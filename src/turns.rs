//! [`Turns`]: who takes the rate budget's next turn. Requests queue in two lanes
//! ([`Priority`]), each first come, first served; interactive goes first, except that while
//! both lanes wait, the lane that did not have the last turn has the next, so neither starves.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::{oneshot, Notify};

use crate::budget::lock;
use crate::priority::Priority;

/// A fair lock with two lanes.
#[derive(Debug, Default)]
pub(crate) struct Turns {
    state: Mutex<State>,
    /// Told whenever an interactive request starts waiting.
    interactive_queued: Notify,
}

#[derive(Debug, Default)]
struct State {
    held: bool,
    interactive: VecDeque<oneshot::Sender<()>>,
    background: VecDeque<oneshot::Sender<()>>,
    /// The lane of the last turn handed out.
    last: Option<Priority>,
    /// The lane of the turn before that.
    before_last: Option<Priority>,
}

impl State {
    fn handed(&mut self, lane: Priority) {
        self.before_last = self.last;
        self.last = Some(lane);
    }
}

/// A turn: the next one is handed out when it is dropped.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    turns: &'a Turns,
    /// False while the turn is given up for a while ([`Turns::step_aside`]).
    held: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if self.held {
            self.turns.hand_on();
        }
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
    /// Waits for a turn in `lane`, behind those waiting in it.
    pub(crate) async fn take(&self, lane: Priority) -> Turn<'_> {
        self.take_in(lane, false).await
    }

    /// Gives `turn` up to whoever's turn it is, and waits for the next turn in `lane`, ahead of
    /// those waiting in it: a background request that waits at length lets the interactive
    /// calls of its own process go first without losing its place. Cancelled meanwhile, it
    /// holds no turn.
    pub(crate) async fn step_aside(&self, turn: &mut Turn<'_>, lane: Priority) {
        debug_assert!(std::ptr::eq(turn.turns, self) && turn.held);
        turn.held = false;
        self.hand_on();
        let mut again = self.take_in(lane, true).await;
        again.held = false;
        turn.held = true;
    }

    /// Returns once an interactive request waits for a turn (at once if one does), where the
    /// turn held now may step aside for it: not where an interactive one had the turn before,
    /// so that while both lanes wait they still take turns. Never returns otherwise.
    pub(crate) async fn interactive_waiting(&self) {
        if lock(&self.state).before_last == Some(Priority::Interactive) {
            return std::future::pending().await;
        }
        let notified = self.interactive_queued.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if !lock(&self.state).interactive.is_empty() {
            return;
        }
        notified.await;
    }

    async fn take_in(&self, lane: Priority, front: bool) -> Turn<'_> {
        let rx = {
            let mut state = lock(&self.state);
            if !state.held {
                state.held = true;
                state.handed(lane);
                return Turn {
                    turns: self,
                    held: true,
                };
            }
            let (tx, rx) = oneshot::channel();
            let queue = match lane {
                Priority::Interactive => &mut state.interactive,
                Priority::Background => &mut state.background,
            };
            if front {
                queue.push_front(tx);
            } else {
                queue.push_back(tx);
            }
            rx
        };
        if lane == Priority::Interactive {
            self.interactive_queued.notify_waiters();
        }
        let mut waiting = Waiting {
            turns: self,
            rx: Some(rx),
        };
        let handed = waiting.rx.as_mut().expect("set above").await;
        // The sender is dropped unsent only with the `Turns` themselves, which outlive `self`.
        debug_assert!(handed.is_ok());
        waiting.rx = None;
        Turn {
            turns: self,
            held: true,
        }
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
                (false, false) if state.last == Some(Priority::Interactive) => Priority::Background,
                (false, false) => Priority::Interactive,
            };
            let next = match lane {
                Priority::Interactive => state.interactive.pop_front(),
                Priority::Background => state.background.pop_front(),
            };
            // A waiter that was cancelled is skipped.
            if next.is_some_and(|tx| tx.send(()).is_ok()) {
                state.handed(lane);
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

    #[tokio::test]
    async fn stepping_aside_lets_interactive_go_and_keeps_the_place_in_line() {
        let turns = Arc::new(Turns::default());
        let mut turn = turns.take(Priority::Background).await;
        let got = Arc::new(Mutex::new(Vec::new()));
        let queue = |lane, name: &'static str| {
            let (turns, got) = (turns.clone(), got.clone());
            tokio::spawn(async move {
                let _turn = turns.take(lane).await;
                lock(&got).push(name);
            })
        };
        let later = queue(Priority::Background, "later window");
        tokio::task::yield_now().await;
        let waiting = tokio::spawn({
            let turns = turns.clone();
            async move { turns.interactive_waiting().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "no interactive request waits yet");
        let call = queue(Priority::Interactive, "call");
        tokio::time::timeout(std::time::Duration::from_secs(1), waiting)
            .await
            .expect("told that an interactive request waits")
            .unwrap();
        turns.step_aside(&mut turn, Priority::Background).await;
        assert_eq!(*lock(&got), ["call"]);
        // Back after an interactive turn: no stepping aside again, however many calls wait.
        let another = queue(Priority::Interactive, "another call");
        tokio::task::yield_now().await;
        let again = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            turns.interactive_waiting(),
        )
        .await;
        assert!(again.is_err(), "it would step aside twice in a row");
        lock(&got).push("stepped aside");
        drop(turn);
        call.await.unwrap();
        another.await.unwrap();
        later.await.unwrap();
        assert_eq!(
            *lock(&got),
            ["call", "stepped aside", "another call", "later window"]
        );
    }

    #[tokio::test]
    async fn a_step_aside_cancelled_holds_no_turn() {
        let turns = Arc::new(Turns::default());
        let mut turn = turns.take(Priority::Background).await;
        let other = turns.clone();
        let holder = tokio::spawn(async move {
            let _t = other.take(Priority::Interactive).await;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        });
        tokio::task::yield_now().await;
        let stepped = tokio::time::timeout(
            std::time::Duration::from_millis(10),
            turns.step_aside(&mut turn, Priority::Background),
        )
        .await;
        assert!(stepped.is_err(), "the interactive one holds the turn");
        drop(turn);
        holder.await.unwrap();
        let free = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            turns.take(Priority::Background),
        )
        .await;
        assert!(free.is_ok(), "a turn was lost or doubled");
        let second = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            turns.take(Priority::Background),
        )
        .await;
        assert!(second.is_err(), "two turns at once");
    }
}
