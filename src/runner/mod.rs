//! The runner seam: a `RunRequest` goes in, user-visible log lines stream out through a
//! `LiveOutput`, a `RunOutcome` comes back.

pub mod batch;
pub mod dofile;
pub mod jobs;
pub mod pipeline;
pub mod process;
pub mod retention;
pub mod rundir;
pub mod session;
pub mod shell_guard;
pub mod turns;
pub mod wrapper;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::log::chunk::LiveOutput;
use crate::result::ErrorInfo;
use crate::result::output::CappedOutput;

/// What the user asked Stata to run.
#[derive(Debug, Clone)]
pub enum RunSource {
    /// Stata code, any number of lines.
    Code(String),
    /// A do-file and the arguments passed to it.
    File { path: PathBuf, args: Vec<String> },
}

#[derive(Debug)]
pub struct RunRequest {
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
    pub run_dir: Option<rundir::RunDir>,
    /// The call's place in the line of calls, in the order they arrived (session mode
    /// serves them in that order); none for calls that did not come from a client.
    pub turn: Option<turns::Ticket>,
    pub timeout: Duration,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    Error,
    Timeout,
    Cancelled,
    FailedToStart,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Error => "error",
            RunStatus::Timeout => "timeout",
            RunStatus::Cancelled => "cancelled",
            RunStatus::FailedToStart => "failed_to_start",
        }
    }
}

/// Everything the result shaping needs to know about a finished run.
#[derive(Debug)]
pub struct RunOutcome {
    pub status: RunStatus,
    pub run_id: String,
    /// The return code of the failure, if Stata reported one.
    pub rc: Option<i32>,
    /// The error that ended the run (or why it could not start).
    pub error: Option<ErrorInfo>,
    /// Errors printed but captured (`capture noisily`): the run went on.
    pub warnings: Vec<ErrorInfo>,
    /// The user-visible output (runner lines removed), capped head and tail.
    pub output: CappedOutput,
    /// The full raw log on disk.
    pub log_path: Option<PathBuf>,
    pub duration: Duration,
    /// A note from the runner the user must read (e.g. the session was lost).
    pub notes: Vec<String>,
    /// Graph files the run wrote (`graph export` of PNG or SVG), as Stata printed them;
    /// relative paths are relative to the run's working directory until the server
    /// resolves them (`ServerState::run`).
    pub graphs: Vec<PathBuf>,
    /// The graphs as images for the client, at most `--max-images`, none with `--no-images`
    /// (loaded by the server after the run).
    pub images: Vec<crate::result::graphs::Image>,
}

impl RunOutcome {
    /// An `ok` outcome holding what the log said; the runner then sets how the run ended.
    pub fn from_log(
        warnings: Vec<ErrorInfo>,
        warnings_omitted: u64,
        output: CappedOutput,
        graphs: Vec<PathBuf>,
    ) -> Self {
        let mut notes = Vec::new();
        if warnings_omitted > 0 {
            notes.push(format!(
                "{warnings_omitted} more captured errors (warnings) are not listed; search the \
                 log for them"
            ));
        }
        Self {
            status: RunStatus::Ok,
            run_id: String::new(),
            rc: None,
            error: None,
            warnings,
            output,
            log_path: None,
            duration: Duration::ZERO,
            notes,
            graphs,
            images: Vec::new(),
        }
    }
}

/// A way of running Stata code: one process per call (batch) or a live session.
pub enum Runner {
    Batch(batch::BatchRunner),
    Session(Box<session::SessionRunner>),
}

impl Runner {
    pub async fn run(
        &self,
        req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        let (source, cwd) = (req.source.clone(), req.cwd.clone());
        let mut outcome = match self {
            Runner::Batch(r) => r.run(req, live, cancel).await,
            Runner::Session(r) => r.run(req, live, cancel).await,
        };
        crate::result::locate::locate_error(&mut outcome, &source, &cwd);
        outcome
    }
}
