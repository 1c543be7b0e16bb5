//! Session mode: one console Stata kept alive across calls, so data, macros and estimates
//! persist. Calls run one at a time in arrival order; each streams from its own named log.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::ChildStdin;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::batch::{POLL_INTERVAL, failed_to_start};
use super::pipeline::{LogPipeline, LogSummary};
use super::process::{Pipes, StataProcess, describe_exit};
use super::rundir::{RunDir, RunDirs};
use super::wrapper::{CODE_FILE, START_ECHO, WRAPPER_LOG, stata_quote};
use super::{RunOutcome, RunRequest, RunSource, RunStatus};
use crate::log::chunk::LiveOutput;
use crate::log::filter::RunnerFilter;
use crate::log::tail::LogTail;
use crate::result::ErrorInfo;

/// The name of the log the runner opens for each call. Named, so the user's own
/// (unnamed) `log using` / `log close` leave it alone.
const LOG_NAME: &str = "stata_mcp";

pub struct SessionRunner {
    dirs: Arc<RunDirs>,
    max_output_chars: usize,
    /// How long Stata gets to come back to its prompt after a break before it is killed.
    grace: Duration,
    /// The live session; the lock also serialises calls (tokio's mutex is first come, first served).
    session: Mutex<Slot>,
    /// Calls waiting for the session, for the "queued" message.
    waiting: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct Slot {
    live: Option<Session>,
    /// Why the last session ended, told to the next call that starts a new one.
    lost: Option<String>,
}

struct Session {
    proc: StataProcess,
    stdin: ChildStdin,
    stata: PathBuf,
    started: Instant,
    calls: u64,
    /// The tail of Stata's stdout (block-buffered, so not for streaming; kept for diagnostics).
    stdout_tail: Arc<std::sync::Mutex<Vec<u8>>>,
}

/// The session's state as `stata_session status` reports it.
#[derive(Debug, Default, Clone)]
pub struct SessionInfo {
    pub running: bool,
    pub pid: Option<u32>,
    pub stata: Option<PathBuf>,
    pub uptime: Option<Duration>,
    pub calls: u64,
}

const STDOUT_KEEP: usize = 16 * 1024;

/// How a call's wait ended.
enum End {
    /// The sentinel ran: Stata is back at its prompt.
    Done,
    /// Stata's process ended during the call.
    Exited(std::process::ExitStatus),
    /// Cancelled or timed out, and Stata came back to its prompt after the break.
    Interrupted { timed_out: bool },
    /// Cancelled or timed out, and Stata did not come back: killed.
    Killed { timed_out: bool },
}

impl SessionRunner {
    pub fn new(dirs: Arc<RunDirs>, max_output_chars: usize, grace: Duration) -> Self {
        Self {
            dirs,
            max_output_chars,
            grace,
            session: Mutex::new(Slot::default()),
            waiting: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Starts the session now rather than at the first call (`--warm`).
    pub async fn warm(&self, stata: &Path, cwd: &Path) -> Result<(), String> {
        let mut slot = self.session.lock().await;
        if slot.live.is_none() {
            slot.live = Some(Session::start(stata, &self.dirs, cwd).await?);
        }
        Ok(())
    }

    /// What the session is doing, for `stata_session status`. Waits for a running call.
    pub async fn info(&self) -> SessionInfo {
        let mut slot = self.session.lock().await;
        let alive = slot
            .live
            .as_mut()
            .is_some_and(|s| matches!(s.proc.try_wait(), Ok(None)));
        match slot.live.as_ref() {
            Some(s) if alive => SessionInfo {
                running: true,
                pid: Some(s.proc.pgid()),
                stata: Some(s.stata.clone()),
                uptime: Some(s.started.elapsed()),
                calls: s.calls,
            },
            _ => SessionInfo::default(),
        }
    }

    /// Ends the session (stdin closing, `stata_session restart`).
    pub async fn stop(&self) {
        let mut slot = self.session.lock().await;
        if let Some(mut s) = slot.live.take() {
            let _ = s.proc.kill().await;
        }
    }

    pub async fn run(
        &self,
        req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        let started = Instant::now();
        let mut slot = match self.session.try_lock() {
            Ok(slot) => slot,
            Err(_) => {
                use std::sync::atomic::Ordering;
                let ahead = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
                live.push_status(format!(
                    "queued: waiting for {ahead} earlier call{} to finish in the Stata session",
                    if ahead == 1 { "" } else { "s" }
                ));
                let got = tokio::select! {
                    slot = self.session.lock() => Some(slot),
                    _ = cancel.cancelled() => None,
                };
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                match got {
                    Some(slot) => slot,
                    None => {
                        return RunOutcome {
                            status: RunStatus::Cancelled,
                            error: None,
                            notes: vec![
                                "cancelled while waiting for the session; nothing ran".into(),
                            ],
                            ..failed_to_start("-", started, None, String::new())
                        };
                    }
                }
            }
        };

        let mut notes = Vec::new();
        // A session whose Stata has gone (crash, `exit, clear STATA` typed at the prompt) is replaced.
        if let Some(s) = slot.live.as_mut()
            && let Ok(Some(status)) = s.proc.try_wait()
        {
            slot.live = None;
            slot.lost.get_or_insert(format!(
                "Stata's session ended ({})",
                describe_exit(&status)
            ));
        }
        if slot.live.is_none() {
            match Session::start(&req.stata, &self.dirs, &req.cwd).await {
                Ok(s) => {
                    if let Some(why) = slot.lost.take() {
                        notes.push(format!(
                            "a new Stata session was started: {why}, so the data, macros and \
                             estimates from before are gone"
                        ));
                    }
                    slot.live = Some(s);
                }
                Err(msg) => return failed_to_start("-", started, None, msg),
            }
        }
        let Some(session) = slot.live.as_mut() else {
            return failed_to_start("-", started, None, "no session".into());
        };

        let mut outcome = self.call(session, &req, live, &cancel, started).await;
        outcome.notes.splice(0..0, notes);
        match outcome_end_state(&outcome) {
            SessionAfter::Alive => {}
            SessionAfter::Gone(why) => {
                if let Some(mut s) = slot.live.take() {
                    let _ = s.proc.kill().await;
                }
                slot.lost = Some(why);
            }
        }
        outcome
    }

    async fn call(
        &self,
        session: &mut Session,
        req: &RunRequest,
        live: Arc<LiveOutput>,
        cancel: &CancellationToken,
        started: Instant,
    ) -> RunOutcome {
        let dir = match self.dirs.create() {
            Ok(d) => d,
            Err(e) => {
                return failed_to_start(
                    "-",
                    started,
                    None,
                    format!("could not create a run directory: {e}"),
                );
            }
        };
        let nonce = format!("{:016x}", nonce());
        let marker = format!("STATA_MCP_END_{nonce}_");
        let end_cmd = format!("display \"{marker}\" c(rc)");
        let input = match call_input(&dir, req, &end_cmd) {
            Ok(i) => i,
            Err(msg) => return failed_to_start(&dir.id, started, None, msg),
        };
        session.calls += 1;
        let log_path = dir.path.join(WRAPPER_LOG);
        if let Err(e) = session.send(&input).await {
            let mut o = failed_to_start(&dir.id, started, None, String::new());
            o.status = RunStatus::Error;
            o.error = Some(ErrorInfo::new(
                0,
                format!("could not send the code to Stata: {e}"),
            ));
            o.notes.push(format!(
                "{LOST_PREFIX}its input closed; the next call starts a fresh session (data in \
                 memory is gone)"
            ));
            return o;
        }

        let mut tail = LogTail::new(&log_path);
        let mut pipe = LogPipeline::new(
            RunnerFilter::new(START_ECHO).with_end(format!(". {end_cmd}"), marker),
            live,
            self.max_output_chars,
        );
        let mut ticker = tokio::time::interval(POLL_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let deadline = tokio::time::Instant::now() + req.timeout;
        // Set once a break was sent: (when Stata must be back by, whether it was the timeout).
        let mut breaking: Option<(tokio::time::Instant, bool)> = None;

        let end = loop {
            let stop = if breaking.is_none() {
                tokio::select! {
                    _ = cancel.cancelled() => Some(false),
                    _ = tokio::time::sleep_until(deadline) => Some(true),
                    _ = ticker.tick() => None,
                }
            } else {
                ticker.tick().await;
                None
            };
            if let Some(timed_out) = stop {
                // Stata's break key: the running command stops, the data stays.
                session.proc.interrupt();
                // The sentinel may have been discarded with the interrupted input: send it again.
                let _ = session.send(&format!("{end_cmd}\n")).await;
                breaking = Some((tokio::time::Instant::now() + self.grace, timed_out));
            }
            let _ = tail.poll(|l| pipe.push_raw(l));
            pipe.flush_live();
            if pipe.ended_with().is_some() {
                break match breaking {
                    Some((_, timed_out)) => End::Interrupted { timed_out },
                    None => End::Done,
                };
            }
            if let Ok(Some(status)) = session.proc.try_wait() {
                let _ = tail.poll(|l| pipe.push_raw(l));
                break End::Exited(status);
            }
            if let Some((by, timed_out)) = breaking
                && tokio::time::Instant::now() >= by
            {
                let _ = session.proc.kill().await;
                break End::Killed { timed_out };
            }
        };
        tail.finish(|l| pipe.push_raw(l));
        let summary = pipe.finish();
        let mut outcome = session_outcome(end, summary, req, session);
        outcome.run_id = dir.id;
        outcome.log_path = Some(log_path);
        outcome.duration = started.elapsed();
        outcome
    }
}

/// What the session is after a call.
enum SessionAfter {
    Alive,
    Gone(String),
}

fn outcome_end_state(outcome: &RunOutcome) -> SessionAfter {
    match outcome
        .notes
        .iter()
        .find_map(|n| n.strip_prefix(LOST_PREFIX))
    {
        Some(why) => SessionAfter::Gone(why.to_owned()),
        None => SessionAfter::Alive,
    }
}

/// Notes that begin with this mark the session as lost.
const LOST_PREFIX: &str = "the Stata session was lost: ";

fn session_outcome(
    end: End,
    summary: LogSummary,
    req: &RunRequest,
    session: &Session,
) -> RunOutcome {
    let LogSummary {
        scan,
        output,
        started,
        pre_start,
        graphs,
    } = summary;
    let mut outcome = RunOutcome {
        status: RunStatus::Ok,
        run_id: String::new(),
        rc: None,
        error: None,
        warnings: scan.warnings,
        output,
        log_path: None,
        duration: Duration::ZERO,
        notes: Vec::new(),
        graphs,
        images: Vec::new(),
    };
    let limit = req.timeout.as_secs_f64();
    match end {
        End::Done => {
            if let Some(err) = scan.error {
                outcome.status = if scan.interrupted {
                    RunStatus::Cancelled
                } else {
                    RunStatus::Error
                };
                outcome.rc = Some(err.code);
                outcome.error = Some(err);
            }
        }
        End::Interrupted { timed_out } => {
            outcome.status = if timed_out {
                RunStatus::Timeout
            } else {
                RunStatus::Cancelled
            };
            outcome.rc = Some(1);
            outcome.notes.push(format!(
                "{} Stata was interrupted (break) and is back at its prompt: the data in memory \
                 is intact, but the interrupted command did not finish",
                if timed_out {
                    format!("The time limit of {limit} s was reached.")
                } else {
                    "The call was cancelled.".to_owned()
                }
            ));
        }
        End::Killed { timed_out } => {
            outcome.status = if timed_out {
                RunStatus::Timeout
            } else {
                RunStatus::Cancelled
            };
            outcome.notes.push(format!(
                "{LOST_PREFIX}Stata did not respond to a break within the grace period and was \
                 killed; the next call starts a fresh session (data in memory is gone)"
            ));
        }
        End::Exited(status) => {
            let stdout = session.stdout_text();
            let how = describe_exit(&status);
            if !started && session.calls <= 1 {
                // It never ran the code: a start-up failure (licence, seats).
                let mut said = pre_start;
                if !stdout.is_empty() {
                    said.push(stdout);
                }
                outcome.status = RunStatus::FailedToStart;
                outcome.error = Some(ErrorInfo::new(
                    0,
                    format!(
                        "Stata ({}) ended with {how} before running the code; it said:\n{}",
                        session.stata.display(),
                        if said.is_empty() {
                            "(nothing)".to_owned()
                        } else {
                            said.join("\n")
                        }
                    ),
                ));
                outcome
                    .notes
                    .push(format!("{LOST_PREFIX}Stata did not start"));
            } else if status.success() {
                // `exit, clear STATA` (or `exit, clear`) in the user's code.
                outcome.notes.push(format!(
                    "{LOST_PREFIX}the code ended Stata ({how}); the next call starts a fresh \
                     session (data in memory is gone)"
                ));
                if let Some(err) = scan.error {
                    outcome.status = RunStatus::Error;
                    outcome.rc = Some(err.code);
                    outcome.error = Some(err);
                }
            } else {
                outcome.status = RunStatus::Error;
                let said = if stdout.is_empty() {
                    String::new()
                } else {
                    format!(" Its last output: {stdout}")
                };
                outcome.error = Some(ErrorInfo::new(
                    0,
                    format!(
                        "Stata died during the call ({how}); the output so far is below.{said}"
                    ),
                ));
                outcome.notes.push(format!(
                    "{LOST_PREFIX}Stata died ({how}); the next call starts a fresh session (data \
                     in memory is gone)"
                ));
            }
        }
    }
    outcome
}

/// The lines sent to Stata's stdin for one call.
fn call_input(dir: &RunDir, req: &RunRequest, end_cmd: &str) -> Result<String, String> {
    let (do_file, args): (PathBuf, &[String]) = match &req.source {
        RunSource::Code(code) => {
            let path = dir.path.join(CODE_FILE);
            let mut text = code.clone();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            super::batch::write_private(&path, &text)
                .map_err(|e| format!("could not write {}: {e}", path.display()))?;
            (path, &[])
        }
        RunSource::File { path, args } => (path.clone(), args.as_slice()),
    };
    let q = |p: &Path| stata_quote(&p.to_string_lossy()).map_err(|e| e.to_string());
    let args = args
        .iter()
        .map(|a| stata_quote(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?
        .join(" ");
    let mut input = format!(
        "capture log close {LOG_NAME}\n\
         log using {log}, text replace name({LOG_NAME})\n",
        log = q(&dir.path.join(WRAPPER_LOG))?
    );
    if req.change_dir {
        input.push_str(&format!("quietly cd {}\n", q(&req.cwd)?));
    }
    input.push_str(&format!(
        "local STATA_MCP_do {file}\n\
         local STATA_MCP_args `\" {args} \"'\n\
         {do_line}\n\
         {end_cmd}\n\
         capture log close {LOG_NAME}\n",
        file = q(&do_file)?,
        do_line = &START_ECHO[2..],
    ));
    Ok(input)
}

impl Session {
    async fn start(stata: &Path, dirs: &RunDirs, cwd: &Path) -> Result<Self, String> {
        let root = dirs.root().join("sessions");
        std::fs::create_dir_all(&root)
            .map_err(|e| format!("could not create {}: {e}", root.display()))?;
        let mut proc = StataProcess::spawn(stata, ["-q"], cwd, Pipes { stdin: true })
            .map_err(|e| super::batch::spawn_error(stata, &e))?;
        let stdin = proc
            .stdin
            .take()
            .ok_or_else(|| "Stata's stdin is not a pipe".to_owned())?;
        let stdout_tail = Arc::new(std::sync::Mutex::new(Vec::new()));
        tokio::spawn(drain(proc.stdout.take(), stdout_tail.clone()));
        tokio::spawn(drain(proc.stderr.take(), stdout_tail.clone()));
        let mut s = Self {
            proc,
            stdin,
            stata: stata.to_path_buf(),
            started: Instant::now(),
            calls: 0,
            stdout_tail,
        };
        // `more` would stop console output at a screenful and wait for a key that never comes.
        s.send("set more off\n")
            .await
            .map_err(|e| format!("could not talk to Stata at {}: {e}", stata.display()))?;
        Ok(s)
    }

    async fn send(&mut self, text: &str) -> io::Result<()> {
        self.stdin.write_all(text.as_bytes()).await?;
        self.stdin.flush().await
    }

    fn stdout_text(&self) -> String {
        let bytes = self
            .stdout_tail
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).trim().to_owned()
    }
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
                    if k.len() > STDOUT_KEEP {
                        let cut = k.len() - STDOUT_KEEP;
                        k.drain(..cut);
                    }
                }
            }
        }
    }
}

/// A number no user code can predict, for the end-of-call sentinel.
fn nonce() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
