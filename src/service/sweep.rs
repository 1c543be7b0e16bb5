//! Sweeps: one do-file run once per argument list, in parallel, as separate batch
//! processes (or one SLURM job array), followed as one background job whose tasks each keep
//! their own run folder, state and result (`tasks.rs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::background::{Background, StartJobError};
use super::jobs::Job;
use super::live_run::{JobStatus, LiveRun};
use super::records::keep_sweep_for_later;
use super::shared::Shared;
use super::tasks::{Sweep, Task};
use crate::log::live::LiveOutput;
use crate::run::error::ErrorInfo;
use crate::run::output::CappedOutput;
use crate::run::tool::ToolName;
use crate::run::{RunOutcome, RunStatus};
use crate::runner::follow::Watch;
use crate::runner::pending::Pending;
use crate::runner::request::RunRequest;

/// The most tasks one sweep may have: each is a Stata run with its own folder.
pub(crate) const MAX_TASKS: usize = 1000;

impl Background {
    /// Starts a sweep of `reqs` (one per argument list, made like `stata_run_file`'s) as a
    /// background job, at most `max_parallel` at once. The runner gets them all at once
    /// (on a cluster: one job array, submitted before the sweep is reported as started, so a
    /// server that stops right after answering leaves it on the cluster).
    pub(crate) async fn start_sweep(
        &self,
        reqs: Vec<RunRequest>,
        max_parallel: usize,
        summary: String,
    ) -> Result<Arc<Job>, StartJobError> {
        let shared = &self.shared;
        let sweep_dir = shared.dirs.for_run(None)?;
        let mut tasks = Vec::with_capacity(reqs.len());
        let mut planned = Vec::with_capacity(reqs.len());
        for (index, mut req) in reqs.into_iter().enumerate() {
            let dir = shared.dirs.for_run(None)?;
            req.run_dir = Some(dir.clone());
            req.detach.set();
            tasks.push(Task::new(index, req.source.args().to_vec(), dir));
            planned.push(req);
        }
        let path = match planned.first().map(|r| &r.source) {
            Some(crate::run::RunSource::File { path, .. }) => path.clone(),
            _ => PathBuf::new(),
        };
        let sweep = Arc::new(Sweep::new(path, tasks, max_parallel));
        let id = self.jobs.next_id();
        keep_sweep_for_later(&shared.runner, &sweep_dir, &id, &summary, &sweep);
        let pendings = match shared
            .runner
            .submit_all(&sweep_dir.path, planned, sweep.max_parallel)
            .await
        {
            Ok(p) => p,
            Err(msg) => {
                for task in &sweep.tasks {
                    shared.dirs.finished(task.run_dir.id);
                }
                shared.runner.close(&sweep_dir);
                return Err(StartJobError::NotSubmitted(msg));
            }
        };
        let (shared, of_run) = (shared.clone(), sweep.clone());
        let run = LiveRun::spawn(move |live, cancel| async move {
            let outcome = follow_sweep(&shared, &of_run, pendings, live, cancel).await;
            shared.runner.close(&sweep_dir);
            outcome
        });
        Ok(self.jobs.add(Job {
            id,
            tool: ToolName::Sweep,
            summary,
            run,
            run_dir: None,
            session: None,
            sweep: Some(sweep),
        }))
    }
}

/// Follows every task of `sweep` (handed to the runner as `pendings`, in order) to its end,
/// each task's lines labelled in `live`.
pub(crate) async fn follow_sweep(
    shared: &Arc<Shared>,
    sweep: &Arc<Sweep>,
    pendings: Vec<Pending>,
    live: Arc<LiveOutput>,
    cancel: CancellationToken,
) -> RunOutcome {
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for (i, pending) in pendings.into_iter().enumerate() {
        let (shared, sweep, live, cancel) =
            (shared.clone(), sweep.clone(), live.clone(), cancel.clone());
        running.spawn(async move {
            let task = &sweep.tasks[i];
            let watch = Watch {
                live: Arc::new(LiveOutput::part_of(live, format!("{} ", task.label()))),
                cancel,
                on_start: &|| sweep.began(task),
                on_end: &|| sweep.left(task),
            };
            let outcome = shared.follow(pending, watch).await;
            sweep.ended(task, outcome);
        });
    }
    while running.join_next().await.is_some() {}
    sweep_outcome(sweep, started, None)
}

/// The sweep's own result once every task has ended: its status, the failures as its error.
fn sweep_outcome(sweep: &Sweep, started: Instant, failed: Option<String>) -> RunOutcome {
    let statuses: Vec<JobStatus> = sweep.tasks.iter().map(Task::status).collect();
    let bad = statuses
        .iter()
        .filter(|s| !matches!(s, JobStatus::Ok))
        .count();
    let mut o = RunOutcome::from_log(Vec::new(), 0, CappedOutput::new(0), Vec::new());
    o.duration = started.elapsed();
    o.status = if bad == 0 {
        RunStatus::Ok
    } else if statuses.iter().all(|s| *s == JobStatus::Cancelled) {
        RunStatus::Cancelled
    } else if statuses.iter().all(|s| *s == JobStatus::FailedToStart) {
        RunStatus::FailedToStart
    } else {
        RunStatus::Error
    };
    if bad > 0 && o.status != RunStatus::Cancelled {
        o.error = Some(ErrorInfo::uncoded(failed.unwrap_or_else(|| {
            format!(
                "{bad} of {} tasks did not end ok; each is listed below",
                sweep.tasks.len()
            )
        })));
    }
    o
}
