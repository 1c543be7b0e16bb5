//! The runner seam: a `RunRequest` goes in, user-visible log lines stream out through a
//! `LiveOutput`, a `RunOutcome` comes back.

pub mod batch;
pub mod cutoff;
pub mod follow;
pub mod locate;
pub mod outcome;
pub mod process;
pub mod request;
pub mod rundir;
pub mod session;
pub mod signals;
pub mod slurm;
pub mod turns;
pub mod wrapper;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::cli::Mode;
use crate::log::live::LiveOutput;
use crate::run::RunOutcome;
use crate::settings::Settings;
use request::RunRequest;
use rundir::RunDirs;

/// A way of running Stata code: one process per call (batch) or a live session.
pub enum Runner {
    Batch(batch::BatchRunner),
    Session(Arc<session::pool::SessionPool>),
    Slurm(Arc<slurm::SlurmRunner>),
}

impl Runner {
    /// The runner `settings` ask for, keeping its run directories in `dirs`. The server
    /// and the `doctor` and `run` commands all build it here, so they run Stata the same way.
    pub fn new(settings: &Settings, dirs: Arc<RunDirs>) -> Self {
        match settings.mode {
            Mode::Batch => Runner::Batch(batch::BatchRunner::new(
                dirs,
                settings.max_output_chars,
                settings.max_parallel,
                settings.follow,
            )),
            Mode::Session => Runner::Session(Arc::new(session::pool::SessionPool::new(
                session::SessionSettings {
                    dirs,
                    max_output_chars: settings.max_output_chars,
                    follow: settings.follow,
                    grace: settings.break_grace,
                },
                settings.max_sessions,
                settings.session_idle,
            ))),
            Mode::Slurm => Runner::Slurm(Arc::new(slurm::SlurmRunner::new(
                dirs,
                settings.slurm.clone(),
                settings.max_output_chars,
                settings.break_grace,
            ))),
        }
    }

    pub async fn run(
        &self,
        req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        let (source, cwd) = (req.source.clone(), req.cwd.clone());
        let mut outcome = match self {
            Runner::Batch(r) => r.run(req, live, cancel).await,
            Runner::Slurm(r) => r.run(req, live, cancel).await,
            Runner::Session(pool) => match pool.admit(&req.session) {
                Ok(session) => session.run(req, live, cancel).await,
                Err(e) => {
                    RunOutcome::not_started(None, std::time::Instant::now(), None, e.to_string())
                }
            },
        };
        locate::locate_error(&mut outcome, &source, &cwd);
        locate::add_outermost(&mut outcome, &source, &cwd);
        outcome
    }

    /// Hands a background run (its folder planned) to where it will run before its job is
    /// reported as started: a cluster job is submitted now, so a server that stops right
    /// after answering leaves the job on the cluster, not a folder never submitted. Local
    /// runners start it when it runs. The error says why it could not be submitted.
    pub async fn hand_over(&self, req: &RunRequest) -> Result<(), String> {
        match self {
            Runner::Slurm(r) => r.submit_planned(req).await.map(drop),
            Runner::Batch(_) | Runner::Session(_) => Ok(()),
        }
    }
}
