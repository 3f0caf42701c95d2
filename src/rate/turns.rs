//! [`Turns`]: who takes the rate budget's next turn. Requests queue in two lanes
//! ([`Priority`]), each first come, first served; interactive goes first, except that while
//! both lanes wait, the lane that did not have the last turn has the next, so neither starves.
//! A request that holds the turn but must wait (for its slot, or for the fleet) may step aside
//! for the other lane and take its turn back first in its own ([`Turns::step_aside`]).

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::{oneshot, Notify};

use crate::rate::lock::lock;
use crate::rate::priority::Priority;

/// A fair lock with two lanes.
#[derive(Debug, Default)]
pub(crate) struct Turns {
    state: Mutex<State>,
    /// Told whenever a request starts waiting.
    queued: Notify,
}

#[derive(Debug, Default)]
struct State {
    held: bool,
    interactive: VecDeque<oneshot::Sender<()>>,
    background: VecDeque<oneshot::Sender<()>>,
    /// The lane of the turn held now, or last.
    last: Option<Priority>,
    /// The lane of the turn before that.
    before_last: Option<Priority>,
    /// An interactive request stepped aside for the background one that holds the turn now
    /// (the fleet told it to leave the slot to the background line, this process first).
    yielded: bool,
}

impl State {
    fn handed(&mut self, lane: Priority) {
        // A yield covers the one background turn handed right after it, whoever had it: not
        // a later one, if the call that yielded was cancelled meanwhile.
        self.yielded &= lane == Priority::Background && self.last == Some(Priority::Interactive);
        self.before_last = self.last;
        self.last = Some(lane);
    }

    fn queue(&mut self, lane: Priority) -> &mut VecDeque<oneshot::Sender<()>> {
        match lane {
            Priority::Interactive => &mut self.interactive,
            Priority::Background => &mut self.background,
        }
    }

    /// Whether a request of `lane`, still waiting (not cancelled), is in line.
    fn waits(&self, lane: Priority) -> bool {
        let queue = match lane {
            Priority::Interactive => &self.interactive,
            Priority::Background => &self.background,
        };
        queue.iter().any(|tx| !tx.is_closed())
    }

    /// Hands the turn to the next waiter, or frees it.
    fn hand_on(&mut self) {
        loop {
            let lane = match (self.interactive.is_empty(), self.background.is_empty()) {
                (true, true) => {
                    // Free: what went before says nothing of what comes next.
                    *self = State {
                        interactive: std::mem::take(&mut self.interactive),
                        background: std::mem::take(&mut self.background),
                        ..State::default()
                    };
                    return;
                }
                (false, true) => Priority::Interactive,
                (true, false) => Priority::Background,
                // Both wait: interactive first, unless it had the last turn.
                (false, false) if self.last == Some(Priority::Interactive) => Priority::Background,
                (false, false) => Priority::Interactive,
            };
            let next = self.queue(lane).pop_front();
            // A waiter that was cancelled is skipped.
            if next.is_some_and(|tx| tx.send(()).is_ok()) {
                self.handed(lane);
                return;
            }
        }
    }
}

/// When the request holding the turn, of which lane, may step aside.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) enum Aside {
    /// A background request waiting for the local budget: for an interactive one, unless an
    /// interactive one had the turn just before (the lanes alternate while both wait).
    Alternate,
    /// A background request the fleet deferred: for an interactive one (the fleet keeps the
    /// lanes alternating), unless, first in the fleet's line (`head`), the interactive one
    /// stepped aside for it.
    Fleet {
        /// First in the fleet's background line.
        head: bool,
    },
    /// An interactive request the fleet told to leave the slot to the background line, with
    /// this process's background request first in it: for that request.
    ForHead,
    /// Not at all.
    Never,
}

/// A turn: the next one is handed out when it is dropped.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    turns: &'a Turns,
    /// False while the turn is given up for a while ([`Turns::step_aside`]).
    held: bool,
    /// The lane it was taken in.
    lane: Priority,
}

impl Turn<'_> {
    /// The lane the turn was taken in.
    #[cfg(feature = "redis")]
    pub(crate) fn lane(&self) -> Priority {
        self.lane
    }

    /// Waits for `wait` with the turn held, stepping aside meanwhile where `aside` lets the
    /// request (for an interactive one of this process, say), to take the turn back after it,
    /// first in its lane. Returns whether `wait` was over: after stepping aside, the caller
    /// looks again at what it waited for, which may have moved meanwhile.
    pub(crate) async fn wait_or_step_aside(
        &mut self,
        wait: impl std::future::Future,
        aside: Aside,
    ) -> bool {
        let (turns, lane) = (self.turns, self.lane);
        let wait = std::pin::pin!(wait);
        let other = std::pin::pin!(turns.may_step_aside(lane, aside));
        match futures::future::select(wait, other).await {
            futures::future::Either::Left(_) => true,
            futures::future::Either::Right(_) => {
                turns.step_aside(self, lane).await;
                false
            }
        }
    }
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
        let rx = {
            let mut state = lock(&self.state);
            if !state.held {
                state.held = true;
                state.handed(lane);
                return Turn {
                    turns: self,
                    held: true,
                    lane,
                };
            }
            let (tx, rx) = oneshot::channel();
            state.queue(lane).push_back(tx);
            rx
        };
        self.queued.notify_waiters();
        self.wait(rx).await;
        Turn {
            turns: self,
            held: true,
            lane,
        }
    }

    /// Gives `turn` up to whoever's turn it is, and waits for the next turn in `lane`, first in
    /// it: a request that must wait lets the other lane go meanwhile without losing its place.
    /// Cancelled meanwhile, it holds no turn.
    pub(crate) async fn step_aside(&self, turn: &mut Turn<'_>, lane: Priority) {
        debug_assert!(std::ptr::eq(turn.turns, self) && turn.held);
        let rx = {
            let mut state = lock(&self.state);
            let (tx, rx) = oneshot::channel();
            // In line before the turn is handed on, so that it goes to the other lane or back
            // to this request, never to one queued behind it.
            state.queue(lane).push_front(tx);
            if lane == Priority::Interactive {
                state.yielded = true;
            }
            turn.held = false;
            state.hand_on();
            rx
        };
        self.queued.notify_waiters();
        self.wait(rx).await;
        turn.held = true;
    }

    /// Returns once the request holding the turn, of `lane`, may step aside as `aside` says
    /// (at once if it may now). Never returns otherwise.
    pub(crate) async fn may_step_aside(&self, lane: Priority, aside: Aside) {
        loop {
            let queued = self.queued.notified();
            tokio::pin!(queued);
            queued.as_mut().enable();
            let may = {
                let state = lock(&self.state);
                match (lane, aside) {
                    (Priority::Background, Aside::Alternate) => Some(
                        state.before_last != Some(Priority::Interactive)
                            && state.waits(Priority::Interactive),
                    ),
                    (Priority::Background, Aside::Fleet { head }) => {
                        Some(!(head && state.yielded) && state.waits(Priority::Interactive))
                    }
                    (Priority::Interactive, Aside::ForHead) => {
                        Some(state.waits(Priority::Background))
                    }
                    _ => None,
                }
            };
            match may {
                Some(true) => return,
                Some(false) => queued.await,
                None => std::future::pending().await,
            }
        }
    }

    /// Waits until the turn is handed to `rx`'s sender.
    async fn wait(&self, rx: oneshot::Receiver<()>) {
        let mut waiting = Waiting {
            turns: self,
            rx: Some(rx),
        };
        let handed = waiting.rx.as_mut().expect("set above").await;
        // The sender is dropped unsent only with the `Turns` themselves, which outlive `self`.
        debug_assert!(handed.is_ok());
        waiting.rx = None;
    }

    /// Hands the turn to the next waiter, or frees it.
    fn hand_on(&self) {
        lock(&self.state).hand_on();
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
            async move {
                turns
                    .may_step_aside(Priority::Background, Aside::Alternate)
                    .await
            }
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
            turns.may_step_aside(Priority::Background, Aside::Alternate),
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

    #[tokio::test]
    async fn a_cancelled_interactive_waiter_neither_makes_a_background_one_step_aside_nor_reorders()
    {
        let turns = Arc::new(Turns::default());
        let mut turn = turns.take(Priority::Background).await;
        let got = Arc::new(Mutex::new(Vec::new()));
        let later = {
            let (turns, got) = (turns.clone(), got.clone());
            tokio::spawn(async move {
                let _t = turns.take(Priority::Background).await;
                lock(&got).push("later window");
            })
        };
        tokio::task::yield_now().await;
        // An interactive call that gave up waiting leaves a closed sender behind.
        let gave_up = tokio::time::timeout(
            std::time::Duration::from_millis(5),
            turns.take(Priority::Interactive),
        )
        .await;
        assert!(gave_up.is_err());
        let asked = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            turns.may_step_aside(Priority::Background, Aside::Alternate),
        )
        .await;
        assert!(
            asked.is_err(),
            "it would step aside for a call that is gone"
        );
        // Stepping aside anyway gives the turn back to it, not to the window behind it.
        turns.step_aside(&mut turn, Priority::Background).await;
        lock(&got).push("first window");
        drop(turn);
        later.await.unwrap();
        assert_eq!(*lock(&got), ["first window", "later window"]);
    }

    #[tokio::test]
    async fn the_fleet_rules_let_a_deferred_request_step_aside_for_the_other_lane() {
        let turns = Arc::new(Turns::default());
        let waits = |turns: &Arc<Turns>, lane, aside| {
            let turns = turns.clone();
            async move {
                tokio::time::timeout(
                    std::time::Duration::from_millis(20),
                    turns.may_step_aside(lane, aside),
                )
                .await
                .is_ok()
            }
        };
        // An interactive call had the turn, then a background request took it: locally it may
        // not step aside for a second call, but a background request the fleet deferred may
        // (the fleet keeps the lanes alternating).
        let call = turns.take(Priority::Interactive).await;
        let background = {
            let turns = turns.clone();
            tokio::spawn(async move {
                let mut turn = turns.take(Priority::Background).await;
                let second = {
                    let turns = turns.clone();
                    tokio::spawn(async move {
                        let _t = turns.take(Priority::Interactive).await;
                    })
                };
                tokio::task::yield_now().await;
                let local = waits(&turns, Priority::Background, Aside::Alternate).await;
                let fleet = waits(&turns, Priority::Background, Aside::Fleet { head: false }).await;
                turns.step_aside(&mut turn, Priority::Background).await;
                second.await.unwrap();
                (local, fleet)
            })
        };
        tokio::task::yield_now().await;
        drop(call);
        let (local, fleet) = background.await.unwrap();
        assert!(!local && fleet, "local {local}, fleet {fleet}");

        // An interactive request that stepped aside for its process's background request,
        // first in the fleet's line, is not stepped aside for in turn (no ping-pong); one not
        // first in line is.
        let mut call = turns.take(Priority::Interactive).await;
        let background = {
            let turns = turns.clone();
            tokio::spawn(async move {
                let _t = turns.take(Priority::Background).await;
                let head = waits(&turns, Priority::Background, Aside::Fleet { head: true }).await;
                let not_head =
                    waits(&turns, Priority::Background, Aside::Fleet { head: false }).await;
                (head, not_head)
            })
        };
        tokio::task::yield_now().await;
        assert!(waits(&turns, Priority::Interactive, Aside::ForHead).await);
        assert!(!waits(&turns, Priority::Interactive, Aside::Never).await);
        let ((), outcome) = tokio::join!(
            turns.step_aside(&mut call, Priority::Interactive),
            background
        );
        drop(call);
        let (head, not_head) = outcome.unwrap();
        assert!(!head && not_head, "head {head}, not head {not_head}");
    }

    #[tokio::test]
    async fn a_yield_lasts_one_background_turn_even_when_the_call_that_yielded_is_gone() {
        let turns = Arc::new(Turns::default());
        let mut first = turns.take(Priority::Background).await;
        // A call that takes the turn from the first, yields it back (told by the fleet to leave
        // the slot to the line), and is cancelled while waiting to come back.
        let call = {
            let turns = turns.clone();
            tokio::spawn(async move {
                let mut turn = turns.take(Priority::Interactive).await;
                turns.step_aside(&mut turn, Priority::Interactive).await;
            })
        };
        tokio::task::yield_now().await;
        turns.step_aside(&mut first, Priority::Background).await;
        call.abort();
        let _ = call.await;
        let second = {
            let turns = turns.clone();
            tokio::spawn(async move {
                let _turn = turns.take(Priority::Background).await;
                let fresh = {
                    let turns = turns.clone();
                    tokio::spawn(async move {
                        let _t = turns.take(Priority::Interactive).await;
                    })
                };
                tokio::task::yield_now().await;
                let may = tokio::time::timeout(
                    std::time::Duration::from_millis(50),
                    turns.may_step_aside(Priority::Background, Aside::Fleet { head: true }),
                )
                .await
                .is_ok();
                drop(_turn);
                fresh.await.unwrap();
                may
            })
        };
        tokio::task::yield_now().await;
        drop(first);
        assert!(
            second.await.unwrap(),
            "the yield of a call long gone still kept a later background turn from stepping \
             aside for a fresh call"
        );
    }
}
