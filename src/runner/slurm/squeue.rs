//! The cluster's queue, watched for every job this server follows with one `squeue` per
//! second, however many jobs there are (200 sweep tasks cost one command, not 200).

use parking_lot::{Mutex, MutexGuard};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::job_state::JobState;
use super::programs::squeue;

/// How often the queue is read.
pub(crate) const QUEUE_POLL: Duration = Duration::from_secs(1);
/// A job `squeue` has never listed is taken as gone after this many reads (a submission
/// is listed at once; a job that ended and aged out before the first read never is).
const UNSEEN_READS: u32 = 10;

/// The jobs being followed and the task reading their states.
#[derive(Default)]
pub(crate) struct Queue {
    watched: Mutex<HashMap<String, Watched>>,
    running: Mutex<bool>,
}

struct Watched {
    tx: watch::Sender<JobState>,
    seen: bool,
    unseen_reads: u32,
}

impl Queue {
    fn watched(&self) -> MutexGuard<'_, HashMap<String, Watched>> {
        self.watched.lock()
    }

    /// The state of job `key` (`12`, or an array task `12_3`) from now on, as the queue is
    /// read. It starts as pending; it is read until every receiver is dropped.
    pub(crate) fn watch(self: &Arc<Self>, key: &str) -> watch::Receiver<JobState> {
        let rx = {
            let mut w = self.watched();
            match w.get(key) {
                Some(known) => known.tx.subscribe(),
                None => {
                    let (tx, rx) = watch::channel(JobState::Pending("submitted".into()));
                    w.insert(
                        key.to_owned(),
                        Watched {
                            tx,
                            seen: false,
                            unseen_reads: 0,
                        },
                    );
                    rx
                }
            }
        };
        let mut running = self.running.lock();
        if !*running {
            *running = true;
            tokio::spawn(self.clone().read_loop());
        }
        rx
    }

    async fn read_loop(self: Arc<Self>) {
        let mut failing_since: Option<tokio::time::Instant> = None;
        loop {
            tokio::time::sleep(QUEUE_POLL).await;
            let ids: Vec<String> = {
                let mut w = self.watched();
                w.retain(|_, job| job.tx.receiver_count() > 0);
                if w.is_empty() {
                    // Nothing to follow: stop, and start again on the next watch.
                    *self.running.lock() = false;
                    return;
                }
                let mut ids: Vec<String> = w.keys().map(|k| base_id(k).to_owned()).collect();
                ids.sort();
                ids.dedup();
                ids
            };
            match squeue(&ids).await {
                Ok(states) => {
                    failing_since = None;
                    self.update(&states);
                }
                Err(e) => {
                    let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
                    // Said once a minute at most: the runs go on being followed by their logs.
                    if since.elapsed() < QUEUE_POLL * 2
                        || since.elapsed().as_secs().is_multiple_of(60)
                    {
                        tracing::warn!("reading the cluster's queue failed: {e}");
                    }
                }
            }
        }
    }

    fn update(&self, states: &HashMap<String, JobState>) {
        let mut w = self.watched();
        for (key, job) in w.iter_mut() {
            let state = match states.get(key) {
                Some(s) => {
                    job.seen = true;
                    s.clone()
                }
                None => {
                    job.unseen_reads += 1;
                    if job.seen || job.unseen_reads >= UNSEEN_READS {
                        JobState::Gone
                    } else {
                        continue;
                    }
                }
            };
            job.tx.send_if_modified(|old| {
                let changed = *old != state;
                *old = state.clone();
                changed
            });
        }
    }
}

/// The job an id belongs to: `12` for the array task `12_3`.
fn base_id(key: &str) -> &str {
    key.split('_').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn states_reach_watchers_and_vanished_jobs_are_gone() {
        let q = Arc::new(Queue::default());
        let mut a = q.watch("12_3");
        let b = q.watch("13");
        assert_eq!(base_id("12_3"), "12");
        q.update(&HashMap::from([("12_3".to_owned(), JobState::Running)]));
        assert!(a.has_changed().unwrap_or(false));
        assert_eq!(*a.borrow_and_update(), JobState::Running);
        assert!(
            matches!(*b.borrow(), JobState::Pending(_)),
            "not listed yet"
        );
        // Listed once, then missing: it ended and aged out.
        q.update(&HashMap::new());
        assert_eq!(*a.borrow(), JobState::Gone);
        for _ in 0..UNSEEN_READS {
            q.update(&HashMap::new());
        }
        assert_eq!(*b.borrow(), JobState::Gone, "never listed");
    }
}
