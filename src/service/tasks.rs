//! A sweep's tasks: each one's arguments, run folder and state, and how many run at once.

use parking_lot::{Mutex, MutexGuard};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::live_run::JobStatus;
use crate::run::RunOutcome;
use crate::runner::rundir::RunDir;

/// One task of a sweep: its arguments, run folder and where it is.
#[derive(Debug)]
pub(crate) struct Task {
    pub index: usize,
    pub args: Vec<String>,
    pub run_dir: RunDir,
    state: Mutex<TaskState>,
    /// Counted among the sweep's running tasks.
    counted: std::sync::atomic::AtomicBool,
}

/// Where a task is.
#[derive(Debug, Clone)]
pub(crate) enum TaskState {
    Queued,
    Running,
    Done(Arc<RunOutcome>),
}

impl Task {
    pub(crate) fn new(index: usize, args: Vec<String>, run_dir: RunDir) -> Self {
        Self {
            index,
            args,
            run_dir,
            state: Mutex::new(TaskState::Queued),
            counted: Default::default(),
        }
    }

    fn state_lock(&self) -> MutexGuard<'_, TaskState> {
        self.state.lock()
    }

    pub(crate) fn state(&self) -> TaskState {
        self.state_lock().clone()
    }

    pub(super) fn set(&self, state: TaskState) {
        *self.state_lock() = state;
    }

    pub(crate) fn status(&self) -> JobStatus {
        match &*self.state_lock() {
            TaskState::Queued => JobStatus::Queued,
            TaskState::Running => JobStatus::Running,
            TaskState::Done(o) => o.status.into(),
        }
    }

    /// `[task 3]`, as its output lines are labelled.
    pub(crate) fn label(&self) -> String {
        format!("[task {}]", self.index)
    }
}

/// A sweep's tasks and its bounds.
#[derive(Debug)]
pub(crate) struct Sweep {
    pub path: PathBuf,
    pub tasks: Vec<Task>,
    /// At most this many tasks run at once.
    pub max_parallel: usize,
    running: AtomicUsize,
    /// The most tasks that ran at once.
    peak: AtomicUsize,
}

impl Sweep {
    pub(crate) fn new(path: PathBuf, tasks: Vec<Task>, max_parallel: usize) -> Self {
        Self {
            path,
            tasks,
            max_parallel: max_parallel.max(1),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    pub(crate) fn peak_running(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Tasks per status, in the order statuses are listed.
    pub(crate) fn counts(&self) -> Vec<(JobStatus, usize)> {
        let mut counts: Vec<(JobStatus, usize)> = Vec::new();
        for task in &self.tasks {
            let s = task.status();
            match counts.iter_mut().find(|(k, _)| *k == s) {
                Some((_, n)) => *n += 1,
                None => counts.push((s, 1)),
            }
        }
        counts
    }

    pub(super) fn began(&self, task: &Task) {
        task.set(TaskState::Running);
        task.counted.store(true, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }

    /// Task's Stata is done (its turn goes to another task): it no longer counts as running.
    pub(super) fn left(&self, task: &Task) {
        if task.counted.swap(false, Ordering::SeqCst) {
            self.running.fetch_sub(1, Ordering::SeqCst);
        }
    }

    pub(super) fn ended(&self, task: &Task, outcome: RunOutcome) {
        *task.state_lock() = TaskState::Done(Arc::new(outcome));
        // A task that never started (cancelled in the queue) was never counted.
        self.left(task);
    }
}
