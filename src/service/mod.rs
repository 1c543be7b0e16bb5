//! What the tools share, with no MCP types: the runner and the settings, runs with their
//! graphs, background jobs, session queries, retention and the shell guard.

pub mod background;
pub mod calls;
pub mod finish;
pub mod folders;
pub mod graphs;
pub mod images;
pub mod jobs;
pub mod live_run;
pub mod queries;
pub mod reattach;
pub mod retention;
pub mod sandbox;
pub mod sessions;
pub mod shell_guard;
pub mod sweep;
pub mod tasks;

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::client::connection::Connection;
use crate::discovery::DiscoveryError;
use crate::log::live::LiveOutput;
use crate::run::RunOutcome;
use crate::runner::Runner;
use crate::runner::request::RunRequest;
use crate::runner::rundir::RunDirs;
use crate::settings::Settings;
use jobs::Jobs;
use retention::{Policy, Retention};

/// The state every tool call uses.
pub struct Service {
    pub settings: Settings,
    pub runner: Runner,
    /// Session mode: the batch runner sweeps use (a session is one process); otherwise the
    /// runner itself runs them.
    pub sweep_runner: Option<Runner>,
    pub dirs: Arc<RunDirs>,
    /// Removes old run directories (`--keep-runs`, `--keep-mb`) and knows which are in use.
    pub retention: Arc<Retention>,
    /// Background jobs (`background: true`, `stata_job`), kept until the server exits.
    pub jobs: Jobs,
    /// The client on stdin: its policy and its roots.
    pub client: Connection,
    /// A result has said there is no sandbox here (it is said once).
    pub told_unsandboxed: std::sync::atomic::AtomicBool,
}

impl Service {
    /// The service `settings` describe; logs left by earlier servers are trimmed in the
    /// background.
    pub fn new(settings: Settings) -> Self {
        // The user's only, even if an earlier version (or the user) left it open to others:
        // its runs hold the user's data.
        crate::runner::rundir::tighten_log_dir(&settings.log_dir);
        let dirs = Arc::new(RunDirs::new(&settings.log_dir));
        let runner = Runner::new(&settings, dirs.clone());
        let retention = Arc::new(Retention::new(
            dirs.root().to_path_buf(),
            Policy {
                keep_runs: settings.keep_runs,
                keep_bytes: settings.keep_bytes,
            },
            Some(dirs.clone()),
        ));
        retention.spawn_sweep();
        if let Runner::Session(pool) = &runner {
            pool.spawn_idle_closer();
        }
        let sweep_runner = matches!(runner, Runner::Session(_)).then(|| {
            let batch = Settings {
                mode: crate::cli::Mode::Batch,
                ..settings.clone()
            };
            Runner::new(&batch, dirs.clone())
        });
        Self {
            client: Connection::new(settings.client),
            settings,
            runner,
            sweep_runner,
            dirs,
            retention,
            jobs: Jobs::default(),
            told_unsandboxed: Default::default(),
        }
    }

    /// Finds Stata on every call, so installing it or fixing STATA_PATH in the client's
    /// config does not need a server restart.
    pub fn locate_stata(&self) -> Result<PathBuf, DiscoveryError> {
        self.settings.stata()
    }

    /// Slurm mode, as the server stops: the jobs of foreground runs are cancelled;
    /// background jobs stay on the cluster for a later server.
    pub async fn release_cluster(&self) {
        if let Runner::Slurm(slurm) = &self.runner {
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(5), slurm.cancel_foreground())
                    .await;
        }
    }

    /// Runs `req`: its output goes to `live`, `cancel` stops it. The outcome's graphs are
    /// resolved and loaded as images; old runs are trimmed afterwards.
    pub async fn run(
        &self,
        req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        self.run_on(&self.runner, req, live, cancel).await
    }

    /// Runs `req` with `runner` (the service's, or the batch runner of a session-mode sweep).
    pub async fn run_on(
        &self,
        runner: &Runner,
        mut req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        let cwd = req.cwd.clone();
        let notes = std::mem::take(&mut req.notes);
        let plan = req.sandbox.clone();
        let outcome = runner.run(req, live, cancel).await;
        self.finish_run(outcome, &cwd, plan.as_ref(), notes).await
    }

    /// `--warm`: starts the session in the background as the server starts, so the first
    /// call does not wait for Stata. A failure is only logged; the first call retries and
    /// reports it.
    pub fn spawn_warm(self: &Arc<Self>) {
        let service = self.clone();
        tokio::spawn(async move {
            let Runner::Session(pool) = &service.runner else {
                tracing::warn!("--warm has no effect in batch mode");
                return;
            };
            let started = match service.locate_stata() {
                Ok(stata) => {
                    let workdir = &service.settings.workdir;
                    let folders = service.user_folders().await;
                    let plan = service.sandbox_plan(&folders, &stata).await;
                    pool.warm(&stata, workdir, plan.as_ref()).await
                }
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = started {
                tracing::warn!("--warm: the Stata session did not start: {e}");
            }
        });
    }
}
