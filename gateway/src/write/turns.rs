//! Commands on one aggregate take turns within this process.
//!
//! Optimistic concurrency alone lets concurrent commands on one license race:
//! each loads the same version, one appends, the rest conflict and retry, and
//! under enough contention a client gets a 409 after every retry lost (20 clients
//! allocating on one license did). Queued here, first come first served, the
//! commands of one gateway never conflict with each other: each decides on the
//! state the one before it left. The event store's version check still guards
//! against writers in other processes.
//!
//! A queue exists only while a command holds or waits for its aggregate's turn,
//! so the map holds at most one entry per command in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::OwnedMutexGuard;

/// The queues of the aggregates that have commands in flight.
#[derive(Debug, Default)]
pub struct Turns {
    queues: Mutex<HashMap<String, Queue>>,
}

/// One aggregate's queue and how many commands hold or wait for its turn.
#[derive(Debug)]
struct Queue {
    turn: Arc<tokio::sync::Mutex<()>>,
    interested: usize,
}

impl Turns {
    /// Waits until no other command of this process acts on `aggregate_id`; the
    /// turn lasts as long as the returned value. Commands get it in the order
    /// they asked (tokio's mutex is fair).
    pub async fn take(&self, aggregate_id: &str) -> Turn<'_> {
        let interest = Interest::register(self, aggregate_id);
        let held = interest.turn.clone().lock_owned().await;
        Turn {
            _held: held,
            _interest: interest,
        }
    }

    /// Aggregates with a command holding or waiting for their turn.
    pub fn queued(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Queue>> {
        // The map stays consistent even if a holder panicked: every change to it
        // is a single insert, update or removal.
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An aggregate's turn: no other command of this process acts on it meanwhile.
#[derive(Debug)]
pub struct Turn<'a> {
    // Declared first, so dropped first: the next command in the queue may go on
    // before this one's interest is withdrawn.
    _held: OwnedMutexGuard<()>,
    _interest: Interest<'a>,
}

/// A command's place in its aggregate's queue, from asking for the turn until
/// the turn is over, or until it stopped waiting (its request was dropped).
/// Withdrawing the last one removes the queue.
#[derive(Debug)]
struct Interest<'a> {
    turns: &'a Turns,
    aggregate_id: String,
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> Interest<'a> {
    fn register(turns: &'a Turns, aggregate_id: &str) -> Self {
        let mut queues = turns.lock();
        let queue = queues
            .entry(aggregate_id.to_owned())
            .or_insert_with(|| Queue {
                turn: Arc::default(),
                interested: 0,
            });
        queue.interested += 1;
        Self {
            turns,
            aggregate_id: aggregate_id.to_owned(),
            turn: queue.turn.clone(),
        }
    }
}

impl Drop for Interest<'_> {
    fn drop(&mut self) {
        let mut queues = self.turns.lock();
        if let Some(queue) = queues.get_mut(&self.aggregate_id) {
            queue.interested -= 1;
            if queue.interested == 0 {
                queues.remove(&self.aggregate_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_second_command_on_one_aggregate_waits_and_others_do_not() {
        let turns = Turns::default();
        let first = turns.take("a").await;
        let other = tokio::time::timeout(Duration::from_secs(5), turns.take("b")).await;
        assert!(other.is_ok(), "another aggregate is not held up");
        drop(other);
        let mut second = Box::pin(turns.take("a"));
        assert!(
            futures::poll!(second.as_mut()).is_pending(),
            "the same aggregate waits for its turn"
        );
        drop(first);
        let second = second.await;
        assert_eq!(turns.queued(), 1);
        drop(second);
        assert_eq!(turns.queued(), 0, "no queue outlives its commands");
    }

    #[tokio::test]
    async fn a_command_that_stops_waiting_leaves_no_queue_behind() {
        let turns = Turns::default();
        let first = turns.take("a").await;
        let mut waiting = Box::pin(turns.take("a"));
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        drop(waiting);
        drop(first);
        assert_eq!(turns.queued(), 0);
    }

    #[tokio::test]
    async fn commands_get_their_turn_in_the_order_they_asked() {
        let turns = Turns::default();
        let first = turns.take("a").await;
        let order = Mutex::new(Vec::new());
        let mut waiting = Vec::new();
        for n in 0..5 {
            let (turns, order) = (&turns, &order);
            let mut command = Box::pin(async move {
                let _turn = turns.take("a").await;
                order.lock().unwrap_or_else(PoisonError::into_inner).push(n);
            });
            // Each asks before the next one does.
            assert!(futures::poll!(command.as_mut()).is_pending());
            waiting.push(command);
        }
        drop(first);
        // Polled last asker first: a lock that went to whoever polls first fails here.
        futures::future::join_all(waiting.into_iter().rev()).await;
        let order = order.into_inner().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(order, [0, 1, 2, 3, 4]);
        assert_eq!(turns.queued(), 0);
    }
}
