//! The runner seam: a `RunRequest` goes in, user-visible log lines stream out through a
//! `LiveOutput`, a `RunOutcome` comes back. How Stata runs (a process per call, a live
//! session, a cluster job) is known here and nowhere above: a new way is a folder and a
//! variant of `Way`.

pub(crate) mod batch;
pub(crate) mod cutoff;
pub(crate) mod ended;
pub(crate) mod follow;
pub(crate) mod locate;
pub(crate) mod pending;
pub(crate) mod process;
pub(crate) mod request;
pub(crate) mod rundir;
pub(crate) mod session;
pub(crate) mod signals;
pub(crate) mod slurm;
pub(crate) mod turns;
pub(crate) mod wrapper;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::cli::Mode;
use crate::log::live::LiveOutput;
use crate::run::RunOutcome;
use crate::settings::Settings;
use follow::Watch;
use pending::{Pending, Place};
use request::RunRequest;
use rundir::{RunDir, RunDirs};
use session::pool::SessionPool;

/// How the server runs Stata, chosen once from the settings.
pub(crate) struct Runner {
    way: Way,
    /// Session mode: the batch runner a sweep's tasks run with (a session is one process).
    sweeps: Option<batch::BatchRunner>,
    dirs: Arc<RunDirs>,
}

/// The ways of running Stata; only this file tells them apart.
enum Way {
    Batch(batch::BatchRunner),
    Session(Arc<SessionPool>),
    Slurm(Arc<slurm::SlurmRunner>),
}

impl Runner {
    /// The runner `settings` ask for, keeping its run directories in `dirs`. The server
    /// and the `doctor` and `run` commands all build it here, so they run Stata the same way.
    pub(crate) fn new(settings: &Settings, dirs: Arc<RunDirs>) -> Self {
        let batch = || {
            batch::BatchRunner::new(
                dirs.clone(),
                settings.max_output_chars,
                settings.max_parallel,
                settings.follow,
            )
        };
        let (way, sweeps) = match settings.mode {
            Mode::Batch => (Way::Batch(batch()), None),
            Mode::Session => {
                let pool = SessionPool::new(
                    session::SessionSettings {
                        dirs: dirs.clone(),
                        max_output_chars: settings.max_output_chars,
                        follow: settings.follow,
                        grace: settings.break_grace,
                    },
                    settings.max_sessions,
                    settings.session_idle,
                );
                (Way::Session(Arc::new(pool)), Some(batch()))
            }
            Mode::Slurm => {
                let slurm = slurm::SlurmRunner::new(
                    dirs.clone(),
                    settings.slurm.clone(),
                    settings.max_output_chars,
                    settings.break_grace,
                );
                (Way::Slurm(Arc::new(slurm)), None)
            }
        };
        Self { way, sweeps, dirs }
    }

    /// Starts what keeps the runner tidy while the server lives (closing idle sessions).
    pub(crate) fn start_upkeep(&self) {
        if let Way::Session(pool) = &self.way {
            pool.spawn_idle_closer();
        }
    }

    /// The named sessions, in session mode.
    pub(crate) fn sessions(&self) -> Option<&Arc<SessionPool>> {
        match &self.way {
            Way::Session(pool) => Some(pool),
            Way::Batch(_) | Way::Slurm(_) => None,
        }
    }

    /// Whether a background run goes on after the server stops (a cluster job does, and a
    /// later server with the same log dir follows it again).
    pub(crate) fn outlives_server(&self) -> bool {
        matches!(self.way, Way::Slurm(_))
    }

    /// Runs `req` to its end.
    pub(crate) async fn run(
        &self,
        req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        let (source, cwd) = (req.source.clone(), req.cwd.clone());
        let outcome = match &self.way {
            Way::Batch(r) => r.run(req, live, cancel).await,
            Way::Slurm(r) => r.run(req, live, cancel).await,
            Way::Session(pool) => match pool.admit(&req.session) {
                Ok(session) => session.run(req, live, cancel).await,
                Err(e) => RunOutcome::not_started(None, Instant::now(), None, e.to_string()),
            },
        };
        located(outcome, &source, &cwd)
    }

    /// Runs `req` in a Stata of its own, started for it, whatever this runner's way: a
    /// batch process (also in session mode, next to the sessions), or a cluster job.
    pub(crate) async fn run_fresh(
        &self,
        req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        if matches!(self.way, Way::Slurm(_)) {
            return self.run(req, live, cancel).await;
        }
        let watch = Watch {
            live,
            cancel,
            on_start: &|| {},
            on_end: &|| {},
        };
        self.follow(Pending::local(req, None), watch).await
    }

    /// Hands a background run (its folder planned) to where it will run before its job is
    /// reported as started: a cluster job is submitted now, so a server that stops right
    /// after answering leaves the job on the cluster, not a folder never submitted. Local
    /// runners start it when it runs. The error says why it could not be submitted.
    pub(crate) async fn hand_over(&self, req: &RunRequest) -> Result<(), String> {
        match &self.way {
            Way::Slurm(r) => r.submit_planned(req).await.map(drop),
            Way::Batch(_) | Way::Session(_) => Ok(()),
        }
    }

    /// Hands over a sweep's tasks (each request naming its run folder), at most
    /// `max_parallel` running at once: one job array on a cluster, submitted now, with its
    /// script in `sweep_dir`; local runs otherwise, each starting at its turn.
    pub(crate) async fn submit_all(
        &self,
        sweep_dir: &Path,
        reqs: Vec<RunRequest>,
        max_parallel: usize,
    ) -> Result<Vec<Pending>, String> {
        if let Way::Slurm(slurm) = &self.way {
            let jobs = slurm.submit_array(sweep_dir, &reqs, max_parallel).await?;
            return Ok(reqs
                .into_iter()
                .zip(jobs)
                .map(|(req, job)| Pending::on_cluster(req, job))
                .collect());
        }
        let turns = Arc::new(Semaphore::new(max_parallel.max(1)));
        Ok(reqs
            .into_iter()
            .map(|req| Pending::local(req, Some(turns.clone())))
            .collect())
    }

    /// The run an earlier server left in `dir` still to be followed, where this runner's
    /// runs outlive their server.
    pub(crate) fn pending_in(&self, dir: &RunDir) -> Option<Pending> {
        if !self.outlives_server() {
            return None;
        }
        Pending::recorded(dir)
    }

    /// Follows `pending` to its end: a local run waits for its turn (a cancel meanwhile
    /// ends it with nothing run), then runs; a cluster job is followed where it runs.
    pub(crate) async fn follow(&self, pending: Pending, watch: Watch<'_>) -> RunOutcome {
        let started = Instant::now();
        let Pending { req, place } = pending;
        let (source, cwd) = (req.source.clone(), req.cwd.clone());
        let on_end = watch.on_end;
        let outcome = match place {
            Place::Cluster(job) => match (&self.way, req.run_dir.clone()) {
                (Way::Slurm(slurm), Some(dir)) => {
                    let o = slurm.follow(&job, &dir, &req, started, watch).await;
                    on_end();
                    o
                }
                _ => RunOutcome::not_started(
                    None,
                    started,
                    None,
                    "a cluster job can only be followed by a server in slurm mode".into(),
                ),
            },
            Place::Local { turns } => {
                let _turn = match turns {
                    Some(turns) => tokio::select! {
                        t = turns.acquire_owned() => t.ok(),
                        _ = watch.cancel.cancelled() => {
                            let mut o = ended::cancelled_before(started, "before its turn");
                            o.run_id = req.run_dir.as_ref().map(|d| d.id);
                            return o;
                        }
                    },
                    None => None,
                };
                (watch.on_start)();
                let o = match (&self.sweeps, &self.way) {
                    (Some(batch), _) | (None, Way::Batch(batch)) => {
                        batch.run(req, watch.live, watch.cancel).await
                    }
                    (None, _) => {
                        let o = self.run(req, watch.live, watch.cancel).await;
                        on_end();
                        return o;
                    }
                };
                on_end();
                o
            }
        };
        located(outcome, &source, &cwd)
    }

    /// Whether the run in `dir` was followed to its end (a later server leaves it be).
    pub(crate) fn has_ended(&self, dir: &Path) -> bool {
        slurm::record::has_ended(dir)
    }

    /// Marks the run (or sweep) in `dir` as over, and its folder as free for retention.
    pub(crate) fn close(&self, dir: &RunDir) {
        slurm::record::mark_ended(&dir.path);
        self.dirs.finished(dir.id);
    }

    /// Starts `main` now rather than at its first call (`--warm`, `doctor`); `None` where
    /// this way of running has no session to start.
    pub(crate) async fn warm(
        &self,
        stata: &Path,
        cwd: &Path,
        plan: Option<&crate::sandbox::Plan>,
    ) -> Option<Result<(), String>> {
        let pool = self.sessions()?;
        Some(pool.warm(stata, cwd, plan).await)
    }

    /// As the server stops: the cluster jobs of foreground runs are cancelled; background
    /// jobs stay on the cluster for a later server.
    pub(crate) async fn release(&self) {
        if let Way::Slurm(slurm) = &self.way {
            let _ = tokio::time::timeout(Duration::from_secs(5), slurm.cancel_foreground()).await;
        }
    }

    /// Ends whatever Stata is still running: a session outlives its calls, and nothing may
    /// be left behind when a command exits.
    pub(crate) async fn shut_down(&self) {
        if let Some(pool) = self.sessions() {
            pool.stop_all().await;
        }
        process::kill_all_groups(process::Shutdown::Done);
    }
}

/// `outcome` with its error placed in the user's code (file and line).
fn located(mut outcome: RunOutcome, source: &crate::run::RunSource, cwd: &Path) -> RunOutcome {
    locate::locate_error(&mut outcome, source, cwd);
    locate::add_outermost(&mut outcome, source, cwd);
    outcome
}
