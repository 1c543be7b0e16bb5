//! The console Stata of a session: started and proven alive, fed on stdin, its stdout and
//! stderr drained (and their tails kept for start-up failure reports).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::ChildStdin;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::protocol::{LOG_NAME, nonce};
use crate::log::decode::decode_line;
use crate::log::tail::LogTail;
use crate::log::watch::POLL_INTERVAL;
use crate::runner::batch::spawn_error;
use crate::runner::process::{Launch, StataProcess, describe_exit};
use crate::stata::quote::stata_quote;

/// How long a fresh Stata gets to answer its first command (licence checks can be slow).
const START_LIMIT: Duration = Duration::from_secs(120);
/// Bytes of Stata's stdout and stderr kept for diagnostics (start-up failures).
const STREAM_KEEP: usize = 16 * 1024;

pub(super) struct Session {
    pub proc: StataProcess,
    stdin: ChildStdin,
    pub stata: PathBuf,
    pub started: Instant,
    /// The tails of Stata's stdout and stderr (stdout is block-buffered, so it is not for
    /// streaming; both are kept for start-up failure reports).
    stdout: Arc<std::sync::Mutex<Vec<u8>>>,
    stderr: Arc<std::sync::Mutex<Vec<u8>>>,
    drains: Vec<JoinHandle<()>>,
}

/// A session's confinement: `sandbox` with the folders of its calls' runs and of its start-up
/// `log` writable, and its temporary folder beside that log.
pub(super) fn confined(
    sandbox: Option<&crate::sandbox::Plan>,
    runs: &Path,
    log: &Path,
) -> Result<(Option<crate::sandbox::Plan>, Option<PathBuf>), String> {
    let Some(plan) = sandbox else {
        return Ok((None, None));
    };
    crate::runner::rundir::ensure_private_dir(runs)
        .map_err(|e| format!("could not create {}: {e}", runs.display()))?;
    let mut plan = plan.with_run_folder(runs);
    if let Some(dir) = log.parent() {
        plan = plan.with_run_folder(dir);
    }
    Ok((
        Some(plan),
        Some(log.with_extension(crate::run::files::RUN_TEMP)),
    ))
}

impl Session {
    /// Starts Stata and waits until it has run a first command, so that a start-up failure
    /// (licence, seats, a wrong binary) is reported as such, at once.
    pub(super) async fn start(
        stata: &Path,
        cwd: &Path,
        sandbox: Option<&crate::sandbox::Plan>,
        temp: Option<&Path>,
        log: &Path,
        cancel: &CancellationToken,
    ) -> Result<Self, String> {
        let launch = Launch {
            stdin: true,
            sandbox,
            temp,
        };
        let mut proc =
            StataProcess::spawn(stata, ["-q"], cwd, launch).map_err(|e| spawn_error(stata, &e))?;
        let stdin = proc
            .stdin
            .take()
            .ok_or_else(|| "Stata's stdin is not a pipe".to_owned())?;
        let stdout = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = Arc::new(std::sync::Mutex::new(Vec::new()));
        let drains = vec![
            tokio::spawn(drain(proc.stdout.take(), stdout.clone())),
            tokio::spawn(drain(proc.stderr.take(), stderr.clone())),
        ];
        let mut s = Self {
            proc,
            stdin,
            stata: stata.to_path_buf(),
            started: Instant::now(),
            stdout,
            stderr,
            drains,
        };
        let _ = std::fs::remove_file(log);
        let ready = format!("STATA_MCP_READY_{:016x}", nonce());
        let log_q = stata_quote(&log.to_string_lossy()).map_err(|e| e.to_string())?;
        let packages =
            crate::runner::wrapper::packages_lines(sandbox.and_then(|p| p.packages.as_deref()))
                .map_err(|e| e.to_string())?;
        let hello = format!(
            "set more off\n\
             {packages}\
             capture log close {LOG_NAME}\n\
             log using {log_q}, text replace name({LOG_NAME})\n\
             display \"{ready}\"\n\
             capture log close {LOG_NAME}\n"
        );
        // A Stata that died at once (licence) may have closed its input already: the
        // failure is reported from how it exited, below.
        let _ = s.send(&hello).await;

        let mut tail = LogTail::new(log);
        let deadline = tokio::time::Instant::now() + START_LIMIT;
        let mut ticker = tokio::time::interval(POLL_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => {
                    let _ = s.proc.kill().await;
                    return Err("cancelled while Stata was starting".into());
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let _ = s.proc.kill().await;
                    return Err(format!(
                        "Stata ({}) did not answer within {} s of starting; it was stopped. {}",
                        stata.display(),
                        START_LIMIT.as_secs(),
                        s.said().await
                    ));
                }
                _ = ticker.tick() => {}
            }
            let mut seen = false;
            let _ = tail.poll(|l| seen |= decode_line(l).trim() == ready);
            if seen {
                s.started = Instant::now();
                return Ok(s);
            }
            if let Ok(Some(status)) = s.proc.try_wait() {
                let said = s.said().await;
                return Err(start_failure(stata, &describe_exit(&status), &said));
            }
        }
    }

    pub(super) async fn send(&mut self, text: &str) -> io::Result<()> {
        self.stdin.write_all(text.as_bytes()).await?;
        self.stdin.flush().await
    }

    /// Waits (briefly) for the pipes to be read to their end once Stata has exited.
    async fn settle_pipes(&mut self) {
        for d in self.drains.iter_mut() {
            let _ = tokio::time::timeout(Duration::from_millis(500), d).await;
        }
        self.drains.clear();
    }

    pub(super) async fn stderr_text(&mut self) -> String {
        self.settle_pipes().await;
        kept_text(&self.stderr)
    }

    /// What Stata printed on stderr and stdout, without the runner's own lines.
    async fn said(&mut self) -> String {
        self.settle_pipes().await;
        let mut lines: Vec<String> = Vec::new();
        for buf in [&self.stderr, &self.stdout] {
            for l in kept_text(buf).lines() {
                let l = l.trim();
                let ours = l.starts_with(". ")
                    || l == "."
                    || l.contains("STATA_MCP")
                    || l.contains(LOG_NAME);
                if !l.is_empty() && !ours && !lines.iter().any(|x| x == l) {
                    lines.push(l.to_owned());
                }
            }
        }
        lines.join("\n")
    }
}

fn start_failure(stata: &Path, how: &str, said: &str) -> String {
    let licence = said.contains("License") || said.contains("stata.lic") || said.contains("licen");
    if licence {
        format!(
            "Stata did not start: {said}. Stata's licence is missing or invalid on this machine \
             (or no seat is free): run Stata once by hand to see its licence message, or re-run \
             its licence initialisation (stinit)."
        )
    } else {
        format!(
            "Stata ({}) ended with {how} as it started; it said: {}",
            stata.display(),
            if said.is_empty() { "(nothing)" } else { said }
        )
    }
}

fn kept_text(buf: &std::sync::Mutex<Vec<u8>>) -> String {
    let bytes = buf.lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

/// Reads a stream to its end so Stata never blocks on a full pipe, keeping its last bytes.
async fn drain<R: AsyncRead + Unpin>(stream: Option<R>, keep: Arc<std::sync::Mutex<Vec<u8>>>) {
    let Some(mut stream) = stream else { return };
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Ok(mut k) = keep.lock() {
                    k.extend_from_slice(&buf[..n]);
                    if k.len() > STREAM_KEEP {
                        let cut = k.len() - STREAM_KEEP;
                        k.drain(..cut);
                    }
                }
            }
        }
    }
}
