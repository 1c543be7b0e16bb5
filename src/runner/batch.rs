//! Batch mode: each call is one `stata -q -b do run.do` in a fresh run directory, its log tailed live.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::process::{Pipes, StataProcess, describe_exit};
use super::request::RunRequest;
use super::rundir::{RunDir, RunDirs};
use super::wrapper::{START_ECHO, batch_wrapper};
use crate::log::filter::RunnerFilter;
use crate::log::live::LiveOutput;
use crate::log::pipeline::{LogPipeline, LogSummary};
use crate::log::tail::LogTail;
use crate::run::error::ErrorInfo;
use crate::run::files::{WRAPPER_FILE, WRAPPER_LOG};
use crate::run::{RunOutcome, RunSource, RunStatus};

/// How often the log is read while Stata runs. Short enough that a line reaches the
/// client within a few milliseconds; an idle poll is one `read` returning 0.
pub const POLL_INTERVAL: Duration = Duration::from_millis(2);
/// stdout and stderr of a batch run are normally empty; keep at most this much of each.
const MAX_STREAM_CAPTURE: usize = 16 * 1024;

pub struct BatchRunner {
    dirs: Arc<RunDirs>,
    max_output_chars: usize,
    /// Caps how many Stata processes run at once (each may use many cores and a licence seat).
    slots: Semaphore,
}

/// How the wait for Stata ended.
enum End {
    Exited(ExitStatus),
    Cancelled,
    TimedOut,
    WaitFailed(io::Error),
}

impl BatchRunner {
    pub fn new(dirs: Arc<RunDirs>, max_output_chars: usize, max_parallel: usize) -> Self {
        Self {
            dirs,
            max_output_chars,
            slots: Semaphore::new(max_parallel.max(1)),
        }
    }

    pub async fn run(
        &self,
        req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        let started = Instant::now();
        let dir = match self.dirs.for_run(req.run_dir.as_ref()) {
            Ok(d) => d,
            Err(msg) => return RunOutcome::not_started("-", started, None, msg),
        };
        let log_path = dir.path.join(WRAPPER_LOG);
        if let Err(msg) = prepare(&dir, &req) {
            return RunOutcome::not_started(&dir.id, started, None, msg);
        }

        let _slot = tokio::select! {
            permit = self.slots.acquire() => permit.ok(),
            _ = cancel.cancelled() => {
                return RunOutcome {
                    status: RunStatus::Cancelled,
                    ..RunOutcome::not_started(&dir.id, started, None, String::new())
                };
            }
        };
        let deadline = tokio::time::Instant::now() + req.timeout.saturating_sub(started.elapsed());

        let mut proc = match StataProcess::spawn(
            &req.stata,
            ["-q", "-b", "do", WRAPPER_FILE],
            &dir.path,
            Pipes { stdin: false },
        ) {
            Ok(p) => p,
            Err(e) => {
                return RunOutcome::not_started(
                    &dir.id,
                    started,
                    None,
                    spawn_error(&req.stata, &e),
                );
            }
        };
        let stdout = tokio::spawn(capture(proc.stdout.take()));
        let stderr = tokio::spawn(capture(proc.stderr.take()));

        let mut tail = LogTail::new(&log_path);
        let mut pipe = LogPipeline::new(
            RunnerFilter::new(START_ECHO),
            live.clone(),
            self.max_output_chars,
        );
        let mut ticker = tokio::time::interval(POLL_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut read_error = None;

        let end = loop {
            let timed_out = tokio::select! {
                _ = cancel.cancelled() => Some(false),
                _ = tokio::time::sleep_until(deadline) => Some(true),
                _ = tail.due(&mut ticker) => None,
            };
            if let Some(timed_out) = timed_out {
                // Kill first, read after: what Stata wrote before dying is still in the file.
                let _ = proc.kill().await;
                break if timed_out {
                    End::TimedOut
                } else {
                    End::Cancelled
                };
            }
            if let Err(e) = tail.poll(|l| pipe.push_raw(l)) {
                read_error.get_or_insert(e);
            }
            pipe.flush_live();
            match proc.try_wait() {
                Ok(Some(status)) => break End::Exited(status),
                Ok(None) => {}
                Err(e) => {
                    let _ = proc.kill().await;
                    break End::WaitFailed(e);
                }
            }
        };

        // Stata has exited: read the rest of the log.
        if let Err(e) = tail.drain(|l| pipe.push_raw(l)) {
            read_error.get_or_insert(e);
        }
        tail.finish(|l| pipe.push_raw(l));
        let summary = pipe.finish();
        let stdout = join_capture(stdout).await;
        let stderr = join_capture(stderr).await;
        drop(proc);

        let mut outcome = outcome_from(end, summary, &req, &stdout, &stderr, log_path.exists());
        outcome.run_id = dir.id;
        outcome.log_path = Some(log_path);
        outcome.duration = started.elapsed();
        if let Some(e) = read_error {
            outcome.notes.push(format!(
                "reading the log failed part-way: {e}; the log file may be incomplete"
            ));
        }
        outcome
    }
}

/// Writes the user's code (for `stata_run_code`) and the wrapper into the run directory.
fn prepare(dir: &RunDir, req: &RunRequest) -> Result<(), String> {
    let (do_file, args): (PathBuf, &[String]) = match &req.source {
        RunSource::Code(code) => (dir.write_code(code)?, &[]),
        RunSource::File { path, args } => (path.clone(), args.as_slice()),
    };
    let wrapper = batch_wrapper(&req.cwd, &do_file, args).map_err(|e| e.to_string())?;
    dir.write_private(WRAPPER_FILE, &wrapper).map(drop)
}

pub(super) fn spawn_error(stata: &Path, e: &io::Error) -> String {
    let why = match e.kind() {
        io::ErrorKind::NotFound => "the file does not exist".to_owned(),
        io::ErrorKind::PermissionDenied => "it is not executable (permission denied)".to_owned(),
        _ => e.to_string(),
    };
    format!(
        "could not start Stata at {}: {why}. Set STATA_PATH (or --stata-path) to Stata's \
         console binary, e.g. /usr/local/stata18/stata-mp.",
        stata.display()
    )
}

/// Reads a child's stream to its end (so the child never blocks on a full pipe), keeping the start.
async fn capture<R: AsyncRead + Unpin>(stream: Option<R>) -> Vec<u8> {
    let Some(mut stream) = stream else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_STREAM_CAPTURE.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    kept
}

async fn join_capture(task: tokio::task::JoinHandle<Vec<u8>>) -> String {
    // The group is dead by now, so the pipes are closed; the timeout guards against a
    // grandchild that left the group and kept a pipe open.
    match tokio::time::timeout(Duration::from_secs(1), task).await {
        Ok(Ok(bytes)) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        _ => String::new(),
    }
}

fn outcome_from(
    end: End,
    summary: LogSummary,
    req: &RunRequest,
    stdout: &str,
    stderr: &str,
    log_exists: bool,
) -> RunOutcome {
    let LogSummary {
        scan,
        output,
        started,
        pre_start,
        graphs,
    } = summary;
    let mut outcome = RunOutcome::from_log(scan.warnings, scan.warnings_omitted, output, graphs);
    let status = match end {
        End::Cancelled => {
            outcome.status = RunStatus::Cancelled;
            outcome
                .notes
                .push("the run was cancelled and Stata was stopped".into());
            return outcome;
        }
        End::TimedOut => {
            outcome.status = RunStatus::Timeout;
            outcome.notes.push(format!(
                "Stata was stopped at the time limit of {} s; the output so far is below. \
                 Pass a larger timeout_s (or start the server with --timeout) for long jobs.",
                req.timeout.as_secs_f64()
            ));
            return outcome;
        }
        End::WaitFailed(e) => {
            outcome.status = RunStatus::Error;
            outcome.error = Some(ErrorInfo::new(0, format!("lost track of Stata: {e}")));
            return outcome;
        }
        End::Exited(status) => status,
    };

    let license = scan.license.or_else(|| {
        pre_start
            .iter()
            .find(|l| l.contains("License is invalid") || l.contains("stata.lic"))
            .cloned()
    });
    if let Some(license) = license {
        outcome.status = RunStatus::FailedToStart;
        outcome.error = Some(ErrorInfo::new(
            0,
            format!(
                "Stata did not start: {license}. Stata's licence is missing or invalid on this \
                 machine: run Stata once by hand to see its licence message, or re-run its \
                 licence initialisation (stinit)."
            ),
        ));
        return outcome;
    }
    if !started {
        let mut said = pre_start;
        said.extend(
            [stderr, stdout]
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
        let what = match (said.is_empty(), log_exists) {
            (false, _) => format!("it said:\n{}", said.join("\n")),
            (true, true) => "its log has nothing from the code".to_owned(),
            (true, false) => "it wrote no log".to_owned(),
        };
        let stata_rc = said
            .iter()
            .rev()
            .find_map(|l| crate::stata::log_lines::rc_line(l));
        outcome.status = RunStatus::FailedToStart;
        outcome.rc = stata_rc;
        outcome.error = Some(ErrorInfo::new(
            stata_rc.unwrap_or(0),
            format!(
                "Stata ({}) ended with {} before running the code; {what}",
                req.stata.display(),
                describe_exit(&status)
            ),
        ));
        return outcome;
    }
    if let Some(err) = scan.error {
        if scan.interrupted {
            outcome.status = RunStatus::Cancelled;
            outcome
                .notes
                .push("Stata was interrupted (--Break--)".into());
        } else {
            outcome.status = RunStatus::Error;
        }
        outcome.rc = Some(err.code);
        outcome.error = Some(err);
    } else if !status.success() {
        let said = if stderr.is_empty() {
            String::new()
        } else {
            format!(" It said: {stderr}")
        };
        outcome.status = RunStatus::Error;
        outcome.error = Some(ErrorInfo::new(
            0,
            format!(
                "Stata ended unexpectedly ({}) before finishing; the output so far is below.{said}",
                describe_exit(&status)
            ),
        ));
    }
    outcome
}
