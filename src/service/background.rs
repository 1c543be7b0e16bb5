//! Runs that outlive their call: starting a run as a background job, promoting a
//! foreground run that outlasts `--auto-background-secs`, following and cancelling a job.

use std::sync::Arc;

use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use super::jobs::{Job, Jobs};
use super::live_run::LiveRun;
use super::records::keep_for_later;
use super::shared::Shared;
use crate::log::live::LiveOutput;
use crate::run::session_name::SessionName;
use crate::run::tool::ToolName;
use crate::run::{RunOutcome, RunSource};
use crate::runner::request::RunRequest;
use crate::runner::rundir::RunDirError;

/// The longest a `stata_job` call waits: well inside the few minutes after which clients
/// give up on a call, whatever the progress frames say.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(50);

/// How a run call that may go to the background ended.
#[derive(Debug)]
pub(crate) enum Answer {
    /// The run ended while the call waited.
    Finished(Arc<RunOutcome>),
    /// The run outlasted the wait and goes on as this job; nothing was stopped.
    Promoted(Arc<Job>),
}

/// How a cancel went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancelled {
    /// The job had ended before: nothing to stop.
    AlreadyEnded,
    /// It was stopped and has ended.
    Stopped,
    /// It was asked to stop but has not ended within [`MAX_WAIT`].
    Stopping,
}

/// Why a background job could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartJobError {
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    #[error("the job was not started: {0}")]
    NotSubmitted(String),
}

/// The runs that outlive their call: background jobs, promoted runs, sweeps, and the
/// cluster jobs an earlier server left (`sweep.rs`, `reattach.rs`).
pub(crate) struct Background {
    pub(super) shared: Arc<Shared>,
    /// Background jobs (`background: true`, `stata_job`), kept until the server exits.
    pub jobs: Jobs,
}

impl Background {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            jobs: Jobs::default(),
        }
    }

    /// Starts `req` as a background job, its run directory named at once so the answer
    /// can say where the log is while the job runs.
    pub(crate) async fn start_job(
        &self,
        tool: ToolName,
        mut req: RunRequest,
    ) -> Result<Arc<Job>, StartJobError> {
        let summary = summary(&req);
        req.run_dir = Some(self.shared.dirs.for_run(None)?);
        let id = self.jobs.next_id();
        req.label = format!("background job {id}: {summary}");
        req.detach.set();
        let (run_dir, session) = (req.run_dir.clone(), self.job_session(&req));
        if let Some(dir) = &run_dir {
            keep_for_later(&self.shared.runner, dir, tool, &summary, &id);
        }
        // Reported as started only once it is where it runs (on a cluster: submitted).
        if let Err(why) = self.shared.runner.hand_over(&req).await {
            if let Some(dir) = &run_dir {
                self.shared.dirs.finished(dir.id);
            }
            return Err(StartJobError::NotSubmitted(why));
        }
        Ok(self.jobs.add(Job {
            id,
            tool,
            summary,
            run: self.spawn_run(req),
            run_dir,
            session,
            sweep: None,
        }))
    }

    /// Runs `req` while the call waits, its output going to `frames`; if it is still going
    /// after `after`, it goes on as a job. When `stop` (the call's end) fires first, the
    /// run is stopped, as a foreground run is.
    pub(crate) async fn run_or_promote(
        &self,
        tool: ToolName,
        req: RunRequest,
        after: Duration,
        frames: &LiveOutput,
        stop: &CancellationToken,
    ) -> Answer {
        let summary = summary(&req);
        let session = self.job_session(&req);
        let mut req = req;
        if self.shared.runner.outlives_server() && req.run_dir.is_none() {
            // Named now, so that if the run becomes a job its folder can be marked as one.
            req.run_dir = self.shared.dirs.for_run(None).ok();
        }
        let (detach, run_dir) = (req.detach.clone(), req.run_dir.clone());
        let run = self.spawn_run(req);
        let ended = run.follow(frames, Instant::now() + after, stop).await;
        if !ended && stop.is_cancelled() {
            run.cancel();
            let quiet = LiveOutput::new(256);
            run.follow(&quiet, Instant::now() + MAX_WAIT, &CancellationToken::new())
                .await;
        }
        match run.snapshot().outcome {
            Some(outcome) => Answer::Finished(outcome),
            None => {
                let id = self.jobs.next_id();
                detach.set();
                if let Some(dir) = &run_dir {
                    keep_for_later(&self.shared.runner, dir, tool, &summary, &id);
                }
                Answer::Promoted(self.jobs.add(Job {
                    id,
                    tool,
                    summary,
                    run,
                    run_dir,
                    session,
                    sweep: None,
                }))
            }
        }
    }

    /// Stops `job` and waits (at most [`MAX_WAIT`]) for it to end, its last output going
    /// to `frames`.
    pub(crate) async fn cancel_job(
        &self,
        job: &Job,
        frames: &LiveOutput,
        stop: &CancellationToken,
    ) -> Cancelled {
        if job.run.snapshot().status.is_done() {
            return Cancelled::AlreadyEnded;
        }
        job.run.cancel();
        // Stopping takes a moment (a break, then Stata's way back to its prompt).
        if job
            .run
            .follow(frames, Instant::now() + MAX_WAIT, stop)
            .await
        {
            Cancelled::Stopped
        } else {
            Cancelled::Stopping
        }
    }

    /// Cancels the background jobs still running in session `name` (it is about to close);
    /// a note for each.
    pub(crate) async fn cancel_session_jobs(
        &self,
        name: &SessionName,
        cancel: &CancellationToken,
    ) -> Vec<String> {
        let mut notes = Vec::new();
        let quiet = LiveOutput::new(256);
        for job in self.jobs.newest_first() {
            if job.session.as_ref() == Some(name) && !job.run.snapshot().status.is_done() {
                let how = self.cancel_job(&job, &quiet, cancel).await;
                notes.push(format!(
                    "background job {} ({}) was running in it and was cancelled first{}",
                    job.id,
                    job.summary,
                    if how == Cancelled::Stopping {
                        " (it is still stopping)"
                    } else {
                        ""
                    }
                ));
            }
        }
        notes
    }

    /// The session a job of `req` runs in (none in batch mode).
    fn job_session(&self, req: &RunRequest) -> Option<SessionName> {
        self.shared.runner.sessions().map(|_| req.session.clone())
    }

    /// The run of a job: the service's run, exactly as for a foreground call.
    fn spawn_run(&self, req: RunRequest) -> Arc<LiveRun> {
        let shared = self.shared.clone();
        LiveRun::spawn(move |live, cancel| async move { shared.run(req, live, cancel).await })
    }
}

/// What a run runs, in one short line.
pub(crate) fn summary(req: &RunRequest) -> String {
    summary_of(&req.source)
}

/// What `source` runs, in one short line.
pub(crate) fn summary_of(source: &RunSource) -> String {
    const MAX: usize = 80;
    let short = |s: &str| {
        if s.chars().count() > MAX {
            format!("{}…", s.chars().take(MAX).collect::<String>())
        } else {
            s.to_owned()
        }
    };
    match source {
        RunSource::Code(code) => {
            let mut lines = code.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("(empty)");
            let more = lines.count();
            if more == 0 {
                short(first)
            } else {
                format!(
                    "{} (+{more} line{})",
                    short(first),
                    if more == 1 { "" } else { "s" }
                )
            }
        }
        RunSource::File { path, args } => {
            let mut s = path.display().to_string();
            for a in args {
                s.push(' ');
                s.push_str(a);
            }
            short(&s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn req(source: RunSource) -> RunRequest {
        RunRequest {
            stata: PathBuf::from("/bin/stata-mp"),
            source,
            cwd: PathBuf::from("/tmp"),
            change_dir: false,
            run_dir: None,
            turn: None,
            timeout: Duration::from_secs(1),
            session: Default::default(),
            label: String::new(),
            sandbox: None,
            detach: Default::default(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn summaries_are_one_short_line() {
        let s = summary(&req(RunSource::Code(
            "\n  sysuse auto\nregress price mpg\n".into(),
        )));
        assert_eq!(s, "sysuse auto (+1 line)");
        let long = "display ".to_owned() + &"x".repeat(200);
        assert_eq!(
            summary(&req(RunSource::Code(long))).chars().count(),
            81,
            "cut at 80 characters and an ellipsis"
        );
        let s = summary(&req(RunSource::File {
            path: PathBuf::from("/w/a.do"),
            args: vec!["2024".into()],
        }));
        assert_eq!(s, "/w/a.do 2024");
    }
}
