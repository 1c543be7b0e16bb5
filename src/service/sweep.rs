//! Sweeps: one do-file run once per argument list, in parallel, as separate batch
//! processes (or one SLURM job array), followed as one background job whose tasks each keep
//! their own run folder, state and result (`tasks.rs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::Service;
use super::background::StartJobError;
use super::jobs::Job;
use super::live_run::{JobStatus, LiveRun};
use super::tasks::{Sweep, Task};
use crate::log::live::LiveOutput;
use crate::run::error::ErrorInfo;
use crate::run::output::CappedOutput;
use crate::run::{RunOutcome, RunStatus};
use crate::runner::Runner;
use crate::runner::request::RunRequest;
use crate::runner::rundir::RunDir;
use crate::runner::session::outcome::cancelled_before;
use crate::runner::slurm::Submitted;

/// The most tasks one sweep may have: each is a Stata run with its own folder.
pub const MAX_TASKS: usize = 1000;

impl Service {
    /// Starts a sweep of `reqs` (one per argument list, made like `stata_run_file`'s) as a
    /// background job, at most `max_parallel` at once.
    pub async fn start_sweep(
        self: &Arc<Self>,
        reqs: Vec<RunRequest>,
        max_parallel: usize,
        summary: String,
    ) -> Result<Arc<Job>, StartJobError> {
        let sweep_dir = self.dirs.for_run(None)?;
        let mut tasks = Vec::with_capacity(reqs.len());
        let mut planned = Vec::with_capacity(reqs.len());
        for (index, mut req) in reqs.into_iter().enumerate() {
            let dir = self.dirs.for_run(None)?;
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
        self.keep_sweep_for_later(&sweep_dir, &id, &summary, &sweep);
        // On a cluster the array is submitted before the sweep is reported as started: a
        // server that stops right after answering leaves it on the cluster.
        let submitted = match &self.runner {
            Runner::Slurm(slurm) => {
                match slurm
                    .submit_array(&sweep_dir.path, &planned, sweep.max_parallel)
                    .await
                {
                    Ok(subs) => Some(subs),
                    Err(msg) => {
                        for task in &sweep.tasks {
                            self.dirs.finished(task.run_dir.id);
                        }
                        crate::runner::slurm::record::mark_ended(&sweep_dir.path);
                        self.dirs.finished(sweep_dir.id);
                        return Err(StartJobError::NotSubmitted(msg));
                    }
                }
            }
            _ => None,
        };
        let service = self.clone();
        let of_run = sweep.clone();
        let run = LiveRun::spawn(move |live, cancel| async move {
            service
                .run_sweep(of_run, planned, submitted, sweep_dir, live, cancel)
                .await
        });
        Ok(self.jobs.add(Job {
            id,
            tool: "stata_sweep".to_owned(),
            summary,
            run,
            run_dir: None,
            session: None,
            sweep: Some(sweep),
        }))
    }

    async fn run_sweep(
        self: Arc<Self>,
        sweep: Arc<Sweep>,
        reqs: Vec<RunRequest>,
        submitted: Option<Vec<Submitted>>,
        sweep_dir: RunDir,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        let mut subs = submitted.map(Vec::into_iter);
        let tasks = reqs
            .into_iter()
            .map(|req| (req, subs.as_mut().and_then(Iterator::next)))
            .collect();
        let outcome = self.follow_sweep(&sweep, tasks, live, cancel).await;
        crate::runner::slurm::record::mark_ended(&sweep_dir.path);
        self.dirs.finished(sweep_dir.id);
        outcome
    }

    /// Runs (or follows, on the cluster) every task of `sweep` to its end.
    pub(super) async fn follow_sweep(
        self: &Arc<Self>,
        sweep: &Arc<Sweep>,
        tasks: Vec<(RunRequest, Option<Submitted>)>,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        let started = Instant::now();
        let slots = Arc::new(Semaphore::new(sweep.max_parallel));
        let mut running = tokio::task::JoinSet::new();
        for (i, (req, sub)) in tasks.into_iter().enumerate() {
            let (service, sweep, live, cancel, slots) = (
                self.clone(),
                sweep.clone(),
                live.clone(),
                cancel.clone(),
                slots.clone(),
            );
            running.spawn(async move {
                service
                    .run_task(&sweep, i, req, sub, live, cancel, slots)
                    .await;
            });
        }
        while running.join_next().await.is_some() {}
        sweep_outcome(sweep, started, None)
    }

    /// Runs task `i`: in its own batch process once a slot is free, or follows its array
    /// task on the cluster (whose `%max_parallel` bounds it).
    #[allow(clippy::too_many_arguments)]
    async fn run_task(
        &self,
        sweep: &Sweep,
        i: usize,
        req: RunRequest,
        submitted: Option<Submitted>,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
        slots: Arc<Semaphore>,
    ) {
        let task = &sweep.tasks[i];
        let part = Arc::new(LiveOutput::part_of(live, format!("{} ", task.label())));
        let started = Instant::now();
        let outcome = match (&self.runner, submitted) {
            (Runner::Slurm(slurm), Some(sub)) => {
                let cwd = req.cwd.clone();
                let o = slurm
                    .follow(&sub, &task.run_dir, &req, part, cancel, started, &|| {
                        sweep.began(task)
                    })
                    .await;
                self.finish_run(o, &cwd, None, Vec::new()).await
            }
            _ => {
                let _permit = tokio::select! {
                    p = slots.acquire_owned() => p.ok(),
                    _ = cancel.cancelled() => {
                        let mut o = cancelled_before(started, "before its turn");
                        o.run_id = Some(task.run_dir.id);
                        self.dirs.finished(task.run_dir.id);
                        sweep.ended(task, o);
                        return;
                    }
                };
                sweep.began(task);
                let runner = self.sweep_runner.as_ref().unwrap_or(&self.runner);
                self.run_on(runner, req, part, cancel).await
            }
        };
        sweep.ended(task, outcome);
    }
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
