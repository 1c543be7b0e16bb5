//! The vocabulary of a run, shared by every layer: what to run, how it ended, what it printed.

pub(crate) mod error;
pub(crate) mod files;
pub(crate) mod id;
pub(crate) mod image;
pub(crate) mod output;
pub(crate) mod session_name;
pub(crate) mod tool;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use error::ErrorInfo;
use id::RunId;
use image::Image;
use output::CappedOutput;

/// What the user asked Stata to run.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RunSource {
    /// Stata code, any number of lines.
    Code(String),
    /// A do-file and the arguments passed to it.
    File { path: PathBuf, args: Vec<String> },
}

impl RunSource {
    /// The arguments a do-file is run with (none for code).
    pub(crate) fn args(&self) -> &[String] {
        match self {
            RunSource::File { args, .. } => args,
            RunSource::Code(_) => &[],
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RunStatus {
    Ok,
    Error,
    Timeout,
    Cancelled,
    FailedToStart,
}

impl RunStatus {
    pub(crate) fn as_str(self) -> &'static str {
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
#[derive(Debug, Clone)]
pub(crate) struct RunOutcome {
    pub status: RunStatus,
    /// The run's id (its folder's name); none when it never got a folder.
    pub run_id: Option<RunId>,
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
    pub images: Vec<Image>,
    /// The bytes of the log that hold the user's output, without the runner's lines.
    pub user_region: Option<std::ops::Range<u64>>,
    /// The server refused the call before Stata started (the shell guard, a folder outside
    /// the user's): said as such, not as Stata failing to start.
    pub refused: bool,
}

impl RunOutcome {
    /// An `ok` outcome holding what the log said; the runner then sets how the run ended.
    pub(crate) fn from_log(
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
            run_id: None,
            rc: None,
            error: None,
            warnings,
            output,
            log_path: None,
            duration: Duration::ZERO,
            notes,
            graphs,
            images: Vec::new(),
            user_region: None,
            refused: false,
        }
    }

    /// The return code to report: Stata's own, or for an error the code of its message.
    pub(crate) fn reported_rc(&self) -> Option<i32> {
        self.rc.or_else(|| {
            (self.status == RunStatus::Error)
                .then(|| self.error.as_ref().and_then(|e| e.code))
                .flatten()
        })
    }

    /// A run that never got going: nothing ran, nothing is left running. `code` is the
    /// return code Stata would give the same refusal (601: file not found), if any.
    pub(crate) fn not_started(
        run_id: Option<RunId>,
        started: Instant,
        code: Option<i32>,
        message: String,
    ) -> Self {
        Self {
            status: RunStatus::FailedToStart,
            run_id,
            rc: code,
            error: Some(ErrorInfo::with_code(code, message)),
            duration: started.elapsed(),
            ..Self::from_log(Vec::new(), 0, CappedOutput::new(0), Vec::new())
        }
    }
}
