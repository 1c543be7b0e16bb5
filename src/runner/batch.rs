//! Batch mode: each call is one `stata -q -b do run.do` in a fresh run directory, its log tailed live.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::ended::{BatchEnd, batch_outcome};
use super::follow::{Follower, Stop};
use super::process::{Launch, StataProcess};
use super::request::RunRequest;
use super::rundir::{RunDir, RunDirs};
use super::wrapper::{START_ECHO, batch_wrapper};
use crate::log::filter::RunnerFilter;
use crate::log::live::LiveOutput;
use crate::log::pipeline::LogPipeline;
use crate::log::watch::FollowMode;
use crate::run::files::{RUN_TEMP, WRAPPER_FILE, WRAPPER_LOG};
use crate::run::{RunOutcome, RunSource, RunStatus};

/// stdout and stderr of a batch run are normally empty; keep at most this much of each.
const MAX_STREAM_CAPTURE: usize = 16 * 1024;

pub(crate) struct BatchRunner {
    dirs: Arc<RunDirs>,
    max_output_chars: usize,
    follow: FollowMode,
    /// Caps how many Stata processes run at once (each may use many cores and a licence seat).
    slots: Semaphore,
}

impl BatchRunner {
    pub(crate) fn new(
        dirs: Arc<RunDirs>,
        max_output_chars: usize,
        max_parallel: usize,
        follow: FollowMode,
    ) -> Self {
        Self {
            dirs,
            max_output_chars,
            follow,
            slots: Semaphore::new(max_parallel.max(1)),
        }
    }

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
        let log_path = dir.path.join(WRAPPER_LOG);
        if let Err(msg) = prepare(&dir, &req) {
            return RunOutcome::not_started(Some(dir.id), started, None, msg);
        }

        let _slot = tokio::select! {
            permit = self.slots.acquire() => permit.ok(),
            _ = cancel.cancelled() => {
                return RunOutcome {
                    status: RunStatus::Cancelled,
                    ..RunOutcome::not_started(Some(dir.id), started, None, String::new())
                };
            }
        };
        let deadline = tokio::time::Instant::now() + req.timeout.saturating_sub(started.elapsed());

        // Confined, the run writes in its own folder, its temporary files included.
        let plan = req.sandbox.as_ref().map(|p| p.with_run_folder(&dir.path));
        let temp = plan.as_ref().map(|_| dir.path.join(RUN_TEMP));
        let mut proc = match StataProcess::spawn(
            &req.stata,
            ["-q", "-b", "do", WRAPPER_FILE],
            &dir.path,
            Launch {
                stdin: false,
                sandbox: plan.as_ref(),
                temp: temp.as_deref(),
            },
        ) {
            Ok(p) => p,
            Err(e) => {
                return RunOutcome::not_started(
                    Some(dir.id),
                    started,
                    None,
                    spawn_error(&req.stata, &e),
                );
            }
        };
        let stdout = tokio::spawn(capture(proc.stdout.take()));
        let stderr = tokio::spawn(capture(proc.stderr.take()));

        let mut follow = Follower::new(&log_path, self.follow, deadline, cancel);
        let mut pipe = LogPipeline::new(
            RunnerFilter::new(START_ECHO),
            live.clone(),
            self.max_output_chars,
        );

        let end = loop {
            // Stata's exit is waited for too: it writes nothing to the log as it exits, so
            // with change notifications nothing else would wake the loop until the safety read.
            let exited = tokio::select! {
                stop = follow.wait(true) => match stop {
                    Some(stop) => {
                        // Kill first, read after: what Stata wrote before dying is still in the file.
                        let _ = proc.kill().await;
                        break match stop {
                            Stop::TimedOut => BatchEnd::TimedOut,
                            Stop::Cancelled => BatchEnd::Cancelled,
                        };
                    }
                    None => None,
                },
                status = proc.wait() => Some(status),
            };
            follow.poll(|l| pipe.push_raw(l));
            pipe.flush_live();
            // Its exit is the `wait` above (no `try_wait` per read: a sweep's hundreds of
            // runs would pay a syscall for every line they print).
            match exited {
                Some(Ok(status)) => break BatchEnd::Exited(status),
                None => {}
                Some(Err(e)) => {
                    let _ = proc.kill().await;
                    break BatchEnd::WaitFailed(e);
                }
            }
        };

        // Stata has exited: read the rest of the log.
        let read_note = follow.finish(|l| pipe.push_raw(l));
        let summary = pipe.finish();
        let stdout = join_capture(stdout).await;
        let stderr = join_capture(stderr).await;
        drop(proc);

        let mut outcome = batch_outcome(end, summary, &req, &stdout, &stderr, log_path.exists());
        outcome.run_id = Some(dir.id);
        outcome.log_path = Some(log_path);
        outcome.duration = started.elapsed();
        outcome.notes.extend(read_note);
        outcome
    }
}

/// Writes the user's code (for `stata_run_code`) and the wrapper into the run directory.
pub(super) fn prepare(dir: &RunDir, req: &RunRequest) -> Result<(), String> {
    let (do_file, args): (PathBuf, &[String]) = match &req.source {
        RunSource::Code(code) => (dir.write_code(code).map_err(|e| e.to_string())?, &[]),
        RunSource::File { path, args } => (path.clone(), args.as_slice()),
    };
    let packages = req.sandbox.as_ref().and_then(|p| p.packages.as_deref());
    let wrapper = batch_wrapper(&req.cwd, &do_file, args, packages).map_err(|e| e.to_string())?;
    dir.write_private(WRAPPER_FILE, &wrapper)
        .map(drop)
        .map_err(|e| e.to_string())
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
