//! Serves calls to a session in the order they arrived, though their handlers start in
//! whatever order the async scheduler runs them. Each session has its own line (a lane):
//! a call never waits for the calls of another session.

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// A ticket nobody claimed within this time is taken as abandoned (its request never reached
/// a tool: rejected, or cancelled before it started) and no longer holds others back.
const UNCLAIMED_GRACE: Duration = Duration::from_secs(1);

/// A tool call's place in the order calls arrived, stamped on the request as it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arrival(pub u64);

/// The arrival order of tool calls, handed out as they are read from stdin. One per
/// server: the transport stamps arrivals, the tool calls claim them.
#[derive(Debug)]
pub struct Turns {
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    next: u64,
    /// Tickets not yet finished with: when each arrived, and its lane.
    open: BTreeMap<u64, (Instant, String)>,
    /// Tickets whose call has started (the others may never start).
    claimed: HashSet<u64>,
}

/// A call's place in the line. Dropping it gives the turn to the next call.
#[derive(Debug)]
pub struct Ticket {
    seq: u64,
    turns: Arc<Turns>,
}

impl Turns {
    /// An empty line of calls.
    pub fn new() -> Arc<Turns> {
        Arc::new(Turns {
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        })
    }

    fn state(&self) -> parking_lot::MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Records a call as it arrives in `lane` (the session it names); returns its place.
    pub fn arrive(&self, lane: &str) -> u64 {
        let mut s = self.state();
        s.next += 1;
        let seq = s.next;
        s.open.insert(seq, (Instant::now(), lane.to_owned()));
        seq
    }

    /// The call with place `seq` has started; the ticket keeps its place until dropped.
    pub fn claim(self: &Arc<Self>, seq: u64) -> Ticket {
        self.state().claimed.insert(seq);
        Ticket {
            seq,
            turns: self.clone(),
        }
    }
}

impl Ticket {
    /// Waits until every call that arrived before this one has had its turn (or never started).
    pub async fn my_turn(&self) {
        loop {
            let notified = self.turns.changed.notified();
            if self.is_first() {
                return;
            }
            // Also wake now and then: an unclaimed ticket stops counting after a grace time.
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    }

    /// Whether every call of its lane that arrived before this one has had its turn (or
    /// never started).
    pub fn is_first(&self) -> bool {
        let mut s = self.turns.state();
        let now = Instant::now();
        let State { open, claimed, .. } = &mut *s;
        let abandoned: Vec<u64> = open
            .range(..self.seq)
            .filter(|(seq, (at, _))| {
                !claimed.contains(seq) && now.duration_since(*at) > UNCLAIMED_GRACE
            })
            .map(|(seq, _)| *seq)
            .collect();
        for seq in abandoned {
            open.remove(&seq);
        }
        let Some((_, lane)) = open.get(&self.seq) else {
            return true;
        };
        !open.range(..self.seq).any(|(_, (_, l))| l == lane)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        {
            let mut s = self.turns.state();
            s.open.remove(&self.seq);
            s.claimed.remove(&self.seq);
        }
        self.turns.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn later_arrivals_wait_for_earlier_ones_whatever_order_they_start_in() {
        let turns = Turns::new();
        let a = turns.arrive("main");
        let b = turns.arrive("main");
        // The later call starts first, and must wait.
        let tb = turns.claim(b);
        let waiting = tokio::spawn(async move {
            tb.my_turn().await;
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "b went before a");
        let ta = turns.claim(a);
        ta.my_turn().await;
        drop(ta);
        tokio::time::timeout(Duration::from_secs(2), waiting)
            .await
            .expect("b gets its turn once a is done")
            .expect("task");
    }

    #[tokio::test]
    async fn a_call_never_waits_for_the_line_of_another_session() {
        let turns = Turns::new();
        let _a = turns.claim(turns.arrive("main"));
        let b = turns.claim(turns.arrive("explore"));
        assert!(b.is_first(), "explore waits for nothing of main");
        let c = turns.claim(turns.arrive("main"));
        assert!(
            !c.is_first(),
            "the second main call still waits for the first"
        );
    }

    #[tokio::test]
    async fn an_arrival_that_never_starts_does_not_block_the_line() {
        let turns = Turns::new();
        let _lost = turns.arrive("main");
        let later = turns.arrive("main");
        let t = turns.claim(later);
        tokio::time::timeout(Duration::from_secs(3), t.my_turn())
            .await
            .expect("the abandoned ticket stops counting after the grace time");
    }
}
