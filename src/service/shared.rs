//! What the three parts of the service share: the settings, the runner and its run folders,
//! the client and the user's folders; and what every run's outcome gets once the runner is
//! done with it, whoever ran it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio_util::sync::CancellationToken;

use super::folders::{Base, UserFolders};
use super::images;
use super::record::recorder::{Ran, Recorder, record_dir};
use super::retention::{Policy, Retention};
use crate::client::connection::Connection;
use crate::discovery::DiscoveryError;
use crate::log::live::LiveOutput;
use crate::run::RunOutcome;
use crate::runner::Runner;
use crate::runner::follow::Watch;
use crate::runner::pending::Pending;
use crate::runner::request::RunRequest;
use crate::runner::rundir::RunDirs;
use crate::sandbox::Plan;
use crate::settings::Settings;

/// The state every part of the service uses.
pub(crate) struct Shared {
    pub settings: Settings,
    pub runner: Runner,
    pub dirs: Arc<RunDirs>,
    /// Removes old run directories (`--keep-runs`, `--keep-mb`) and knows which are in use.
    pub retention: Arc<Retention>,
    /// The client on stdin: its policy and its roots.
    pub client: Connection,
    /// A result has said there is no sandbox here (it is said once).
    told_unsandboxed: AtomicBool,
    /// Appends each run to the project's research record.
    recorder: Arc<Recorder>,
}

impl Shared {
    /// The core `settings` describe; logs left by earlier servers are trimmed in the
    /// background.
    pub(crate) fn new(settings: Settings) -> Self {
        // The user's only, even if an earlier version (or the user) left it open to others:
        // its runs hold the user's data.
        crate::runner::rundir::tighten_log_dir(&settings.log_dir);
        let dirs = Arc::new(RunDirs::new(&settings.log_dir));
        let runner = Runner::new(&settings, dirs.clone());
        let retention = Arc::new(Retention::new(
            dirs.root().to_path_buf(),
            Policy::of(&settings),
            Some(dirs.clone()),
        ));
        retention.spawn_sweep();
        runner.start_upkeep();
        Self {
            client: Connection::new(settings.client),
            settings,
            runner,
            dirs,
            retention,
            told_unsandboxed: AtomicBool::new(false),
            recorder: Arc::default(),
        }
    }

    /// Finds Stata on every call, so installing it or fixing STATA_PATH in the client's
    /// config does not need a server restart.
    pub(crate) fn locate_stata(&self) -> Result<PathBuf, DiscoveryError> {
        self.settings.stata()
    }

    /// Where this call's relative paths are taken from.
    pub(crate) async fn base(&self) -> Base {
        Base::of(&self.settings, &self.client).await
    }

    /// The folders the user chose for this server's work.
    pub(crate) async fn user_folders(&self) -> UserFolders {
        UserFolders::of(&self.settings, &self.client).await
    }

    /// The sandbox of a run with Stata `stata` in the user's `folders` (none where there is
    /// no sandbox).
    pub(crate) async fn sandbox_plan(&self, folders: &UserFolders, stata: &Path) -> Option<Plan> {
        super::sandbox::plan(&self.settings, folders, &self.base().await, stata)
    }

    /// Runs `req` to its end: its output goes to `live`, `cancel` stops it; the outcome is
    /// finished (see [`Self::finish_run`]).
    pub(crate) async fn run(
        &self,
        mut req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        let cwd = req.cwd.clone();
        let notes = std::mem::take(&mut req.notes);
        let plan = req.sandbox.clone();
        let what = Ran::of(&req, self.runner.sessions().is_none());
        let outcome = self.runner.run(req, live, cancel).await;
        let outcome = self.finish_run(outcome, &cwd, plan.as_ref(), notes).await;
        self.record(what, outcome).await
    }

    /// Follows a run handed to the runner before (a sweep's task, a re-attached job) to
    /// its finished outcome.
    pub(crate) async fn follow(&self, mut pending: Pending, watch: Watch<'_>) -> RunOutcome {
        let cwd = pending.request().cwd.clone();
        let plan = pending.request().sandbox.clone();
        let notes = pending.take_notes();
        // A task of a sweep, or a cluster job: a Stata of its own.
        let what = Ran::of(pending.request(), true);
        let outcome = self.runner.follow(pending, watch).await;
        let outcome = self.finish_run(outcome, &cwd, plan.as_ref(), notes).await;
        self.record(what, outcome).await
    }

    /// Appends a finished run to the research record of the project (`--record`), off the
    /// async threads (hashing a data file takes time); the first recorded result says where
    /// the record is. A failure to record is a note, never a failed run.
    async fn record(&self, what: Ran, outcome: RunOutcome) -> RunOutcome {
        // A call refused, or a Stata that never started, ran nothing of the user's.
        if !self.settings.record
            || outcome.refused
            || outcome.status == crate::run::RunStatus::FailedToStart
        {
            return outcome;
        }
        let base = self.base().await;
        if base.from == super::folders::BaseFrom::Unknown {
            return outcome;
        }
        let (recorder, project) = (self.recorder.clone(), base.dir);
        let folders = self.user_folders().await.dirs;
        // The writer gets a copy: whatever happens to it, the result is the run's.
        let copy = outcome.clone();
        let dir = project.clone();
        let appended =
            tokio::task::spawn_blocking(move || recorder.append(&dir, &what, &copy, &folders))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        let mut outcome = outcome;
        match appended {
            Ok((step, true)) => outcome.notes.push(format!(
                "this run is step {step} of the research record in {} (stata_record shows, \
                 exports and verifies it; --record off turns it off)",
                record_dir(&project).display()
            )),
            Ok(_) => {}
            Err(e) => outcome.notes.push(format!(
                "this run could not be added to the research record in {}: {e}",
                record_dir(&project).display()
            )),
        }
        outcome
    }

    /// What every run's outcome gets once the runner is done: the sandbox's and the call's
    /// notes, the run folder sealed, graphs as images, retention.
    pub(crate) async fn finish_run(
        &self,
        mut outcome: RunOutcome,
        cwd: &Path,
        plan: Option<&Plan>,
        mut notes: Vec<String>,
    ) -> RunOutcome {
        super::sandbox::notes(&self.settings, &self.told_unsandboxed, plan, &mut outcome);
        notes.append(&mut outcome.notes);
        outcome.notes = notes;
        seal_run_dir(&outcome);
        images::attach(&self.settings, &mut outcome, cwd).await;
        // The run has ended: retention may count its folder like any other now.
        if let Some(id) = outcome.run_id {
            self.dirs.finished(id);
        }
        self.retention.spawn_sweep();
        outcome
    }
}

/// Closes a run's folder: notes beside its log where the user's output lies in it (so
/// `stata_read_log` can show that part alone) and makes its files the user's only.
fn seal_run_dir(outcome: &RunOutcome) {
    let Some(dir) = outcome.log_path.as_deref().and_then(Path::parent) else {
        return;
    };
    if let Some(region) = &outcome.user_region {
        let path = dir.join(crate::run::files::REGION_FILE);
        if let Err(e) = crate::runner::rundir::write_private_file(
            &path,
            crate::run::files::region_text(region).as_bytes(),
        ) {
            tracing::warn!("could not write {}: {e}", path.display());
        }
    }
    crate::runner::rundir::make_files_private(dir);
}
