//! What the runner is asked to do: the code or do-file, where, with which Stata, for how long.

use std::path::PathBuf;
use std::time::Duration;

use super::rundir::RunDir;
use super::turns::Ticket;
use crate::run::RunSource;
use crate::run::session_name::SessionName;

#[derive(Debug)]
pub(crate) struct RunRequest {
    /// The Stata console binary to run.
    pub stata: PathBuf,
    pub source: RunSource,
    /// The directory Stata's code runs in (already resolved and checked to exist).
    pub cwd: PathBuf,
    /// Session mode: whether to change to `cwd` first (batch always does). A session keeps
    /// the directory the user's own `cd` chose unless the call names one.
    pub change_dir: bool,
    /// A run directory made in advance (a background job names its run before it starts);
    /// without one the runner makes its own.
    pub run_dir: Option<RunDir>,
    /// The call's place in the line of calls, in the order they arrived (session mode
    /// serves them in that order); none for calls that did not come from a client.
    pub turn: Option<Ticket>,
    pub timeout: Duration,
    /// Session mode: the session to run in (`main` unless the call named another).
    pub session: SessionName,
    /// What the run is, in a few words, for a session's "busy with" (`stata_run_code:
    /// display 1`, `background job job-2: ...`).
    pub label: String,
    /// The sandbox Stata runs in; none: not confined.
    pub sandbox: Option<crate::sandbox::Plan>,
    /// Set once the run belongs to a background job: a cluster job then outlives the
    /// server (a foreground one is cancelled when the client goes).
    pub detach: Detach,
    /// Lines the result starts its notes with (e.g. which folder relative paths came from).
    pub notes: Vec<String>,
}

/// Whether a run has become a background job; shared, so a run promoted while it runs is
/// seen as such by the runner following it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Detach(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Detach {
    pub(crate) fn set(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
