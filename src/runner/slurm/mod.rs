//! `--mode slurm`: each run is a SLURM batch job. Its run folder (on storage the compute nodes
//! see) holds the wrapper do-file and a job script; `sbatch` submits it, the log is followed by
//! reading it, and the queue says where the job is. Another scheduler (PBS, LSF) would be a
//! module beside this one with the same `run`, `submit_array` and `follow`.

pub(crate) mod job_state;
pub(crate) mod programs;
pub(crate) mod record;
pub(crate) mod script;
pub(crate) mod squeue;
mod verdict;

use parking_lot::{Mutex, MutexGuard};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::batch::prepare;
use super::ended::{BatchEnd, batch_outcome};
use super::follow::{Follower, Stop, Watch};
use super::request::{Detach, RunRequest};
use super::rundir::{RunDir, RunDirs};
use super::wrapper::START_ECHO;
use crate::log::filter::RunnerFilter;
use crate::log::live::LiveOutput;
use crate::log::pipeline::LogPipeline;
use crate::run::RunOutcome;
use crate::run::files::WRAPPER_LOG;
use crate::settings::SlurmSettings;
use crate::text::human::human_duration;
use job_state::JobState;
use programs::{Signal, sbatch, scancel};
use record::JobRecord;
use script::{JOB_OUTPUT, JOB_SCRIPT, Submission, array_output, job_script, sbatch_args};
use squeue::Queue;

/// How often a job's log is read: shared storage raises no change events for a compute
/// node's writes, and a tenth of a second is prompt for a person watching.
pub(crate) const LOG_POLL: Duration = Duration::from_millis(100);
/// While a job waits in the queue, a note this often says so (and why).
const QUEUE_NOTE_EVERY: Duration = Duration::from_secs(5);
/// After the last `scancel`, how long the job gets to leave the cluster before the run
/// ends without it (a node slow to clean up).
const GONE_WAIT: Duration = Duration::from_secs(30);

/// A submitted job being followed, as a sweep's task or a run.
pub(crate) struct Submitted {
    /// `12`, or the array task `12_3`.
    pub key: String,
    /// Its stdout and stderr (`--output`).
    pub output: PathBuf,
}

pub(crate) struct SlurmRunner {
    dirs: Arc<RunDirs>,
    settings: SlurmSettings,
    max_output_chars: usize,
    grace: Duration,
    queue: Arc<Queue>,
    /// Jobs being followed, with whether each belongs to a background job: the others are
    /// cancelled when the server goes.
    following: Mutex<HashMap<String, Detach>>,
}

impl SlurmRunner {
    pub(crate) fn new(
        dirs: Arc<RunDirs>,
        settings: SlurmSettings,
        max_output_chars: usize,
        grace: Duration,
    ) -> Self {
        Self {
            dirs,
            settings,
            max_output_chars,
            grace,
            queue: Arc::new(Queue::default()),
            following: Mutex::new(HashMap::new()),
        }
    }

    fn following(&self) -> MutexGuard<'_, HashMap<String, Detach>> {
        self.following.lock()
    }

    /// Runs `req` as one SLURM job and follows it to its end.
    pub(crate) async fn run(
        &self,
        req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        let started = Instant::now();
        let dir = match self.dirs.for_run(req.run_dir.as_ref()) {
            Ok(d) => d,
            Err(e) => return RunOutcome::not_started(None, started, None, e.to_string()),
        };
        // A background job was submitted before its answer (`submit_planned`): follow it.
        let submitted = match JobRecord::load(&dir.path) {
            Some(rec) => Submitted {
                key: rec.slurm_job,
                output: rec.output,
            },
            None => match self.submit(&dir, &req).await {
                Ok(s) => s,
                Err(msg) => return RunOutcome::not_started(Some(dir.id), started, None, msg),
            },
        };
        live.push_status(format!(
            "submitted to SLURM as job {}; its log is {}",
            submitted.key,
            dir.path.join(WRAPPER_LOG).display()
        ));
        let watch = Watch {
            live,
            cancel,
            on_start: &|| {},
            on_end: &|| {},
        };
        self.follow(&submitted, &dir, &req, started, watch).await
    }

    /// Submits `req` in the run folder it names (a background job's), so that [`Self::run`]
    /// then only follows it.
    pub(crate) async fn submit_planned(&self, req: &RunRequest) -> Result<Submitted, String> {
        let dir = self
            .dirs
            .for_run(req.run_dir.as_ref())
            .map_err(|e| e.to_string())?;
        self.submit(&dir, req).await
    }

    /// Writes `req`'s wrapper and job script in `dir` and submits it.
    async fn submit(&self, dir: &RunDir, req: &RunRequest) -> Result<Submitted, String> {
        prepare(dir, req)?;
        let output = dir.path.join(JOB_OUTPUT);
        self.write_script(&dir.path, &req.stata, std::slice::from_ref(&dir.path))?;
        let args = sbatch_args(
            &self.settings,
            &Submission {
                dir: &dir.path,
                name: format!("stata-mcp-{}", dir.id),
                output: output.clone(),
                array: None,
            },
        );
        let key = sbatch(&args).await.map_err(|e| submit_error(&e))?;
        JobRecord::new(key.clone(), output.clone(), req).save(&dir.path);
        Ok(Submitted { key, output })
    }

    /// Submits a sweep's tasks as one job array (at most `parallel` at once), each task in
    /// the run folder its request names; the jobs of the tasks, in order.
    pub(crate) async fn submit_array(
        &self,
        sweep_dir: &Path,
        tasks: &[RunRequest],
        parallel: usize,
    ) -> Result<Vec<Submitted>, String> {
        let Some(first) = tasks.first() else {
            return Ok(Vec::new());
        };
        let mut dirs = Vec::with_capacity(tasks.len());
        for req in tasks {
            let dir = req
                .run_dir
                .as_ref()
                .ok_or_else(|| "a sweep task has no run folder".to_owned())?;
            prepare(dir, req).map_err(|e| format!("task folder {}: {e}", dir.path.display()))?;
            dirs.push(dir.path.clone());
        }
        self.write_script(sweep_dir, &first.stata, &dirs)?;
        let name = sweep_dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let args = sbatch_args(
            &self.settings,
            &Submission {
                dir: sweep_dir,
                name: format!("stata-mcp-{name}"),
                output: sweep_dir.join(script::ARRAY_OUTPUT),
                array: Some((tasks.len(), parallel)),
            },
        );
        let id = sbatch(&args).await.map_err(|e| submit_error(&e))?;
        Ok(tasks
            .iter()
            .zip(&dirs)
            .enumerate()
            .map(|(i, (req, dir))| {
                let sub = Submitted {
                    key: format!("{id}_{i}"),
                    output: array_output(sweep_dir, i),
                };
                JobRecord::new(sub.key.clone(), sub.output.clone(), req).save(dir);
                sub
            })
            .collect())
    }

    fn write_script(&self, dir: &Path, stata: &Path, run_dirs: &[PathBuf]) -> Result<(), String> {
        let stata = self.settings.stata_path.as_deref().unwrap_or(stata);
        let text = job_script(&self.settings.setup, stata, run_dirs);
        let path = dir.join(JOB_SCRIPT);
        crate::runner::rundir::write_private_file(&path, text.as_bytes())
            .map_err(|e| format!("could not write the job script {}: {e}", path.display()))
    }

    /// Follows the submitted job of the run in `dir` to its end: its log streamed to `live`,
    /// the queue's word on it as notes, a cancel or the time limit turned into `scancel`.
    /// `watch.on_start` is called when the cluster starts the job.
    pub(crate) async fn follow(
        &self,
        job: &Submitted,
        dir: &RunDir,
        req: &RunRequest,
        started: Instant,
        watch: Watch<'_>,
    ) -> RunOutcome {
        let Watch {
            live,
            cancel,
            on_start,
            on_end: _,
        } = watch;
        self.following().insert(job.key.clone(), req.detach.clone());
        let log_path = dir.path.join(WRAPPER_LOG);
        let mut state = if record::has_ended(&dir.path) {
            // Followed to its end before (a sweep re-attached): only its log is read again.
            watch::channel(JobState::Gone).1
        } else {
            self.queue.watch(&job.key)
        };
        // The time limit runs from the job's start: a wait in the queue does not use it up.
        let far = tokio::time::Instant::now() + Duration::from_secs(10 * 365 * 86_400);
        let mut follow = Follower::every(
            &log_path,
            LOG_POLL,
            "a cluster job's log on shared storage",
            far,
            cancel,
        );
        let mut pipe = LogPipeline::new(
            RunnerFilter::new(START_ECHO),
            live.clone(),
            self.max_output_chars,
        );
        let mut queue = QueueWatch::new(&job.key);
        let end = loop {
            let stop = tokio::select! {
                stop = follow.wait(true) => stop,
                changed = state.changed() => {
                    if changed.is_err() {
                        // The queue's reader is gone: the log alone says when Stata is done.
                        tokio::time::sleep(LOG_POLL).await;
                    }
                    None
                }
            };
            if let Some(stop) = stop {
                let end = self
                    .stop(&job.key, &mut state, &mut follow, &mut pipe)
                    .await;
                break verdict::ClusterEnd::Stopped(stop, end);
            }
            follow.poll(|l| pipe.push_raw(l));
            pipe.flush_live();
            let now = state.borrow().clone();
            if let Some(note) = queue.see(&now) {
                live.push_status(note);
            }
            if queue.just_started() {
                follow.set_deadline(tokio::time::Instant::now() + req.timeout);
                on_start();
            }
            match now {
                JobState::Ended(end) => break verdict::ClusterEnd::Cluster(Some(end)),
                JobState::Gone => break verdict::ClusterEnd::Cluster(None),
                JobState::Pending(_) | JobState::Running => {}
            }
        };
        let read_note = follow.finish(|l| pipe.push_raw(l));
        let summary = pipe.finish();
        let batch_end = match &end {
            verdict::ClusterEnd::Stopped(Stop::Cancelled, _) => BatchEnd::Cancelled,
            verdict::ClusterEnd::Stopped(Stop::TimedOut, _) => BatchEnd::TimedOut,
            verdict::ClusterEnd::Cluster(_) => BatchEnd::JobEnded,
        };
        let mut outcome = batch_outcome(batch_end, summary, req, "", "", log_path.exists());
        verdict::apply(&mut outcome, &end, &job.output, &self.settings);
        outcome.notes.push(queue.summary());
        outcome.notes.extend(read_note);
        outcome.run_id = Some(dir.id);
        outcome.log_path = Some(log_path);
        outcome.duration = started.elapsed();
        self.following().remove(&job.key);
        record::mark_ended(&dir.path);
        outcome
    }

    /// Stops job `key`: a break first (`scancel --signal=INT --full`, so Stata writes its
    /// trailer), then SLURM's cancel after the grace; waits for the job to leave.
    async fn stop(
        &self,
        key: &str,
        state: &mut watch::Receiver<JobState>,
        follow: &mut Follower,
        pipe: &mut LogPipeline,
    ) -> Option<String> {
        let pending = matches!(*state.borrow(), JobState::Pending(_));
        // A job still in the queue has no Stata to break.
        if !pending && let Err(e) = scancel(key, Signal::Break).await {
            tracing::warn!("scancel --signal=INT {key}: {e}");
        }
        let grace = tokio::time::Instant::now() + if pending { Duration::ZERO } else { self.grace };
        if !wait_over(state, follow, pipe, grace).await {
            if let Err(e) = scancel(key, Signal::Cancel).await {
                return Some(format!("scancel {key} failed: {e}"));
            }
            if !wait_over(state, follow, pipe, tokio::time::Instant::now() + GONE_WAIT).await {
                return Some(format!(
                    "SLURM job {key} was cancelled but was still on the cluster {} later",
                    human_duration(GONE_WAIT)
                ));
            }
        }
        None
    }

    /// Cancels the jobs of foreground runs (the client went away); background jobs are the
    /// cluster's and go on, for a later server to follow.
    pub(crate) async fn cancel_foreground(&self) {
        let keys: Vec<String> = self
            .following()
            .iter()
            .filter(|(_, detach)| !detach.is_set())
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Err(e) = scancel(&key, Signal::Cancel).await {
                tracing::warn!("could not cancel SLURM job {key} as the server stops: {e}");
            }
        }
    }
}

/// Reads the log until the job is over or `until`; whether it is over.
async fn wait_over(
    state: &mut watch::Receiver<JobState>,
    follow: &mut Follower,
    pipe: &mut LogPipeline,
    until: tokio::time::Instant,
) -> bool {
    loop {
        if state.borrow().is_over() {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::select! {
            _ = follow.wait(false) => {}
            _ = state.changed() => {}
            _ = tokio::time::sleep_until(until) => {}
        }
        follow.poll(|l| pipe.push_raw(l));
        pipe.flush_live();
    }
}

fn submit_error(e: &programs::ClusterError) -> String {
    let said = e.to_string();
    let what = if said.contains("configuration source") {
        "SLURM's configuration was not found on this machine (/etc/slurm/slurm.conf, or the \
         file SLURM_CONF names): run the server on a machine of the cluster (a login node)"
    } else {
        "Check --slurm-partition, --slurm-account and the other --slurm-* options"
    };
    format!(
        "the job was not submitted to SLURM: {said}. {what} (`stata-mcp doctor --mode slurm` \
         checks the cluster and submits a test job)"
    )
}

/// What the queue said about one job, turned into notes.
struct QueueWatch {
    key: String,
    submitted: Instant,
    /// When the job was first seen running (or ended without being seen running).
    running_at: Option<Instant>,
    started_now: bool,
    last_note: Option<Instant>,
    last_reason: Option<String>,
}

impl QueueWatch {
    fn new(key: &str) -> Self {
        Self {
            key: key.to_owned(),
            submitted: Instant::now(),
            running_at: None,
            started_now: false,
            last_note: None,
            last_reason: None,
        }
    }

    /// A note for the client, when one is due: the queue's reason while the job waits
    /// (on a change, and every few seconds), one line when it starts.
    fn see(&mut self, state: &JobState) -> Option<String> {
        self.started_now = false;
        match state {
            JobState::Pending(reason) => {
                let due = self
                    .last_note
                    .is_none_or(|t| t.elapsed() >= QUEUE_NOTE_EVERY);
                let changed = self.last_reason.as_deref() != Some(reason.as_str());
                if !(due || changed) {
                    return None;
                }
                self.last_note = Some(Instant::now());
                self.last_reason = Some(reason.clone());
                Some(format!(
                    "queued on the cluster ({}), {}",
                    if reason.is_empty() || reason == "None" {
                        "waiting to be scheduled"
                    } else {
                        reason
                    },
                    human_duration(self.submitted.elapsed())
                ))
            }
            _ if self.running_at.is_none() => {
                self.running_at = Some(Instant::now());
                self.started_now = true;
                matches!(state, JobState::Running).then(|| {
                    format!(
                        "SLURM job {} started after {} in the queue",
                        self.key,
                        human_duration(self.submitted.elapsed())
                    )
                })
            }
            _ => None,
        }
    }

    fn just_started(&self) -> bool {
        self.started_now
    }

    fn summary(&self) -> String {
        let queued = self
            .running_at
            .map_or_else(|| self.submitted.elapsed(), |r| r - self.submitted);
        format!(
            "ran on the cluster as SLURM job {} (queued {})",
            self.key,
            human_duration(queued)
        )
    }
}
