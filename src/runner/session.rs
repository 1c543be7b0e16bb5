//! Session mode: one console Stata kept alive across calls, so data, macros and estimates
//! persist. Calls run one at a time in arrival order; each streams from its own named log.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::ChildStdin;
use tokio::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::batch::POLL_INTERVAL;
use super::process::{Pipes, StataProcess, describe_exit};
use super::request::RunRequest;
use super::rundir::{RunDir, RunDirs};
use super::turns::Ticket;
use super::wrapper::{START_ECHO, WRAPPER_LOG, stata_quote};
use crate::log::decode::decode_line;
use crate::log::filter::RunnerFilter;
use crate::log::live::LiveOutput;
use crate::log::pipeline::{LogPipeline, LogSummary};
use crate::log::tail::LogTail;
use crate::run::error::ErrorInfo;
use crate::run::{RunOutcome, RunSource, RunStatus};

/// The name of the log the runner opens for each call. Named, so the user's own
/// (unnamed) `log using` / `log close` leave it alone.
const LOG_NAME: &str = "stata_mcp";
/// Where `r()` is parked while the runner's own `log` commands run: `log` stores its own
/// `r()` results, which would otherwise wipe the user's between calls.
const HOLD_NAME: &str = "STATA_MCP_r";
/// The echo that opens the user's region when code runs with `include`: its locals are
/// the prompt's, so they persist across calls like everything else.
const INCLUDE_ECHO: &str = ". include `\"`STATA_MCP_do'\"'";
/// The first runner command after the user's code; its echo closes the user's region.
/// Short, so it never wraps even at Stata's smallest line size.
const RC_SAVE: &str = "local STATA_MCP_rc = c(rc)";
/// Reopens the runner's log if the user's code closed it (`log close _all`), so the
/// sentinel still reaches the file being tailed; harmless (captured) when it is open.
const REOPEN: &str = "quietly capture log using `\"`STATA_MCP_l'\"', text append name(stata_mcp)";
/// How long a fresh Stata gets to answer its first command (licence checks can be slow).
const START_LIMIT: Duration = Duration::from_secs(120);
/// Bytes of Stata's stdout and stderr kept for diagnostics (start-up failures).
const STREAM_KEEP: usize = 16 * 1024;

pub struct SessionRunner {
    dirs: Arc<RunDirs>,
    max_output_chars: usize,
    /// How long Stata gets to come back to its prompt after a break before it is killed.
    grace: Duration,
    /// The live session; the lock also serialises calls (tokio's mutex is first come, first served).
    session: Mutex<Slot>,
    /// Calls waiting for the session, for the "queued" message.
    waiting: AtomicUsize,
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
    /// User calls run in this session (internal queries of the session tools not counted).
    calls: u64,
    /// The tails of Stata's stdout and stderr (stdout is block-buffered, so it is not for
    /// streaming; both are kept for start-up failure reports).
    stdout: Arc<std::sync::Mutex<Vec<u8>>>,
    stderr: Arc<std::sync::Mutex<Vec<u8>>>,
    drains: Vec<JoinHandle<()>>,
}

/// The session's state as `stata_session status` reports it.
#[derive(Debug, Default, Clone)]
pub struct SessionInfo {
    pub running: bool,
    pub pid: Option<u32>,
    pub stata: Option<PathBuf>,
    pub uptime: Option<Duration>,
    pub calls: u64,
    /// Why the last session ended, if it did and no new one has started since.
    pub lost: Option<String>,
}

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

/// Who a call is for: the user's code, or a session tool's own commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// `stata_run_code` / `stata_run_file`: counted, streamed, `r()` left as the code leaves it.
    User,
    /// A session tool's query: not counted, run in its own local scope. With `park_r`,
    /// the user's `r()` is set aside while it runs and put back after, so a `summarize`
    /// run for `stata_inspect_data` leaves the user's stored results alone.
    Query { park_r: bool },
}

impl CallKind {
    fn parks_r(self) -> bool {
        matches!(self, CallKind::Query { park_r: true })
    }
}

/// A call's outcome, and whether the session survived it.
struct CallEnd {
    outcome: RunOutcome,
    /// Set when the session is gone after this call: why.
    gone: Option<String>,
}

impl SessionRunner {
    pub fn new(dirs: Arc<RunDirs>, max_output_chars: usize, grace: Duration) -> Self {
        Self {
            dirs,
            max_output_chars,
            grace,
            session: Mutex::new(Slot::default()),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Starts the session now rather than at the first call (`--warm`).
    pub async fn warm(&self, stata: &Path, cwd: &Path) -> Result<(), String> {
        let mut slot = self.session.lock().await;
        reap(&mut slot);
        if slot.live.is_none() {
            let s = self
                .start_session(stata, cwd, &CancellationToken::new())
                .await?;
            slot.live = Some(s);
        }
        Ok(())
    }

    /// What the session is doing, for `stata_session status`. Waits for a running call.
    pub async fn info(&self) -> SessionInfo {
        let mut slot = self.session.lock().await;
        slot_info(&mut slot)
    }

    /// Ends the session, if one runs.
    pub async fn stop(&self) {
        let mut slot = self.session.lock().await;
        if let Some(mut s) = slot.live.take() {
            let _ = s.proc.kill().await;
        }
    }

    /// Ends the session and starts a fresh one (`stata_session restart`): everything in
    /// memory is cleared, as the user asked, so the next call gets no "lost" note.
    pub async fn restart(
        &self,
        stata: &Path,
        cwd: &Path,
        cancel: &CancellationToken,
    ) -> Result<(), String> {
        let mut slot = self.session.lock().await;
        if let Some(mut s) = slot.live.take() {
            let _ = s.proc.kill().await;
        }
        slot.lost = None;
        let s = self.start_session(stata, cwd, cancel).await?;
        slot.live = Some(s);
        Ok(())
    }

    /// Runs the user's code in the session.
    pub async fn run(
        &self,
        req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        self.run_kind(req, live, cancel, CallKind::User, self.max_output_chars)
            .await
    }

    /// Takes the session for several queries in a row, so that no user call runs between
    /// them (`stata_get_results` lists the results, then reads their matrices).
    /// `None` when cancelled while waiting.
    pub async fn exclusive(&self, cancel: &CancellationToken) -> Option<Exclusive<'_>> {
        let live = LiveOutput::new(256);
        let slot = self.acquire(&live, cancel, None).await?;
        Some(Exclusive { runner: self, slot })
    }

    async fn run_kind(
        &self,
        mut req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
        kind: CallKind,
        max_output_chars: usize,
    ) -> RunOutcome {
        let started = Instant::now();
        let turn = req.turn.take();
        let Some(mut slot) = self.acquire(&live, &cancel, turn).await else {
            return RunOutcome {
                status: RunStatus::Cancelled,
                error: None,
                notes: vec!["cancelled while waiting for the session; nothing ran".into()],
                ..RunOutcome::not_started("-", started, None, String::new())
            };
        };
        self.run_locked(
            &mut slot,
            req,
            live,
            cancel,
            kind,
            max_output_chars,
            started,
        )
        .await
    }

    /// Runs one call with the session already held: starts Stata if needed, runs, and
    /// drops the session if the call ended it.
    #[allow(clippy::too_many_arguments)]
    async fn run_locked(
        &self,
        slot: &mut Slot,
        req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
        kind: CallKind,
        max_output_chars: usize,
        started: Instant,
    ) -> RunOutcome {
        let mut notes = Vec::new();
        reap(slot);
        if slot.live.is_none() {
            match self.start_session(&req.stata, &req.cwd, &cancel).await {
                Ok(s) => {
                    if let Some(why) = slot.lost.take() {
                        notes.push(format!(
                            "a new Stata session was started because {why}: the data, macros \
                             and estimates from before are gone"
                        ));
                    }
                    slot.live = Some(s);
                }
                // Nothing is kept: the next call tries a fresh start.
                Err(msg) => return RunOutcome::not_started("-", started, None, msg),
            }
        }
        let Some(session) = slot.live.as_mut() else {
            return RunOutcome::not_started("-", started, None, "no Stata session".into());
        };

        let CallEnd { mut outcome, gone } = self
            .call(
                session,
                &req,
                live,
                &cancel,
                started,
                kind,
                max_output_chars,
            )
            .await;
        outcome.notes.splice(0..0, notes);
        if let Some(why) = gone {
            if let Some(mut s) = slot.live.take() {
                let _ = s.proc.kill().await;
            }
            slot.lost = Some(why);
        }
        outcome
    }

    /// Waits for the session in arrival order; `None` when cancelled while waiting.
    /// Waits for the session: for the calls that arrived earlier (`turn`, the call's place
    /// in the line), then for the one running. Calls' handlers start in any order, so the
    /// mutex alone would not serve them in the order they arrived.
    async fn acquire(
        &self,
        live: &LiveOutput,
        cancel: &CancellationToken,
        turn: Option<Ticket>,
    ) -> Option<MutexGuard<'_, Slot>> {
        if turn.as_ref().is_none_or(Ticket::is_first)
            && let Ok(slot) = self.session.try_lock()
        {
            return Some(slot);
        }
        let ahead = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
        live.push_status(format!(
            "queued: waiting for {ahead} earlier call{} to finish in the Stata session",
            if ahead == 1 { "" } else { "s" }
        ));
        let wait = async {
            if let Some(t) = &turn {
                t.my_turn().await;
            }
            self.session.lock().await
        };
        let got = tokio::select! {
            slot = wait => Some(slot),
            _ = cancel.cancelled() => None,
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        // `turn` is dropped only now, with the session held: the next call in line cannot
        // overtake this one at the mutex.
        drop(turn);
        got
    }

    async fn start_session(
        &self,
        stata: &Path,
        cwd: &Path,
        cancel: &CancellationToken,
    ) -> Result<Session, String> {
        let dir = self.dirs.root().with_file_name("sessions");
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("could not create {}: {e}", dir.display()))?;
        // One start-up log per server process, replaced by each start: bounded on disk.
        let log = dir.join(format!("start-{}.log", std::process::id()));
        Session::start(stata, cwd, &log, cancel).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn call(
        &self,
        session: &mut Session,
        req: &RunRequest,
        live: Arc<LiveOutput>,
        cancel: &CancellationToken,
        started: Instant,
        kind: CallKind,
        max_output_chars: usize,
    ) -> CallEnd {
        let alive = |outcome| CallEnd {
            outcome,
            gone: None,
        };
        let dir = match self.dirs.for_run(req.run_dir.as_ref()) {
            Ok(d) => d,
            Err(msg) => return alive(RunOutcome::not_started("-", started, None, msg)),
        };
        let nonce = format!("{:016x}", nonce());
        let marker = format!("STATA_MCP_END_{nonce}_");
        let plan = match call_input(&dir, req, kind, &marker) {
            Ok(p) => p,
            Err(msg) => return alive(RunOutcome::not_started(&dir.id, started, None, msg)),
        };
        if kind == CallKind::User {
            session.calls += 1;
        }
        let log_path = dir.path.join(WRAPPER_LOG);
        if let Err(e) = session.send(&plan.input).await {
            let mut o = RunOutcome::not_started(&dir.id, started, None, String::new());
            o.status = RunStatus::Error;
            o.error = Some(ErrorInfo::new(
                0,
                format!("could not send the code to Stata: {e}"),
            ));
            let why = "its input closed".to_owned();
            o.notes.push(lost_note(&why));
            return CallEnd {
                outcome: o,
                gone: Some(format!("the previous session was lost ({why})")),
            };
        }

        let mut tail = LogTail::new(&log_path);
        let end_echo = format!(". {RC_SAVE}");
        let mut pipe = LogPipeline::new(
            RunnerFilter::new(plan.start_echo).with_end(end_echo.clone(), marker),
            live,
            max_output_chars,
        );
        // The first runner line seen after the user's code closes the user's region. It is
        // normally RC_SAVE; when the user's code closed the runner's log, RC_SAVE and REOPEN
        // are not in the file and the sentinel's echo is the first.
        let other_ends = [format!(". {REOPEN}"), format!(". {}", plan.sentinel)];
        let mut region_closed = false;
        let mut own_block = OwnLogBlock::default();
        let mut feed = |raw: &[u8], pipe: &mut LogPipeline| {
            if !region_closed {
                let line = decode_line(raw);
                if own_block.swallows(&line) {
                    return;
                }
                let line = line.trim_end();
                if line == end_echo {
                    region_closed = true;
                } else if other_ends.iter().any(|e| e == line) {
                    region_closed = true;
                    pipe.push_raw(end_echo.as_bytes());
                    return;
                }
            }
            pipe.push_raw(raw);
        };
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
                    _ = tail.due(&mut ticker) => None,
                }
            } else {
                tail.due(&mut ticker).await;
                None
            };
            if let Some(timed_out) = stop {
                // Stata's break key: the running command stops, the data stays.
                session.proc.interrupt();
                // The end lines may have been discarded with the interrupted input: send
                // them again (if they were not, the copies run later into a closed log).
                let _ = session.send(&plan.end_lines).await;
                breaking = Some((tokio::time::Instant::now() + self.grace, timed_out));
            }
            let _ = tail.poll(|l| feed(l, &mut pipe));
            pipe.flush_live();
            if pipe.ended_with().is_some() {
                break match breaking {
                    Some((_, timed_out)) => End::Interrupted { timed_out },
                    None => End::Done,
                };
            }
            if let Ok(Some(status)) = session.proc.try_wait() {
                let _ = tail.drain(|l| feed(l, &mut pipe));
                break End::Exited(status);
            }
            if let Some((by, timed_out)) = breaking
                && tokio::time::Instant::now() >= by
            {
                let _ = session.proc.kill().await;
                break End::Killed { timed_out };
            }
        };
        tail.finish(|l| feed(l, &mut pipe));
        let summary = pipe.finish();
        let stderr = if matches!(end, End::Exited(_)) {
            session.stderr_text().await
        } else {
            String::new()
        };
        let mut call_end = session_outcome(end, summary, req, &stderr);
        call_end.outcome.run_id = dir.id;
        call_end.outcome.log_path = Some(log_path);
        call_end.outcome.duration = started.elapsed();
        call_end
    }
}

/// The session's state, for `stata_session status`.
fn slot_info(slot: &mut Slot) -> SessionInfo {
    reap(slot);
    match slot.live.as_ref() {
        Some(s) => SessionInfo {
            running: true,
            pid: Some(s.proc.pgid()),
            stata: Some(s.stata.clone()),
            uptime: Some(s.started.elapsed()),
            calls: s.calls,
            lost: None,
        },
        None => SessionInfo {
            lost: slot.lost.clone(),
            ..SessionInfo::default()
        },
    }
}

/// The session held for a series of queries; user calls wait until it is dropped.
pub struct Exclusive<'a> {
    runner: &'a SessionRunner,
    slot: MutexGuard<'a, Slot>,
}

impl Exclusive<'_> {
    /// Runs a session tool's own commands, in turn with user calls, starting Stata if no
    /// session runs. Nothing is streamed; the output is kept whole up to `max_output_chars`.
    pub async fn query(
        &mut self,
        req: RunRequest,
        cancel: CancellationToken,
        max_output_chars: usize,
        park_r: bool,
    ) -> RunOutcome {
        let live = Arc::new(LiveOutput::new(4096));
        self.runner
            .run_locked(
                &mut self.slot,
                req,
                live,
                cancel,
                CallKind::Query { park_r },
                max_output_chars,
                Instant::now(),
            )
            .await
    }

    pub fn info(&mut self) -> SessionInfo {
        slot_info(&mut self.slot)
    }
}

/// Spots the block Stata prints when the runner's named log opens or closes inside the
/// user's code (`log close _all`, `log query`): its name, path and times are the runner's.
#[derive(Default)]
struct OwnLogBlock {
    /// Lines of the block still expected after its `name:` line.
    left: u8,
    /// Set after a `closed on:` line: a rule of dashes follows.
    rule_next: bool,
}

impl OwnLogBlock {
    fn swallows(&mut self, line: &str) -> bool {
        let t = line.trim();
        if self.rule_next {
            self.rule_next = false;
            if !t.is_empty() && t.bytes().all(|b| b == b'-') {
                return true;
            }
        }
        if self.left > 0 {
            let ours = t.starts_with("log:")
                || t.starts_with("log type:")
                || t.starts_with("opened on:")
                || t.starts_with("closed on:");
            if ours {
                self.left -= 1;
                self.rule_next = t.starts_with("closed on:");
                return true;
            }
            self.left = 0;
        }
        if t.strip_prefix("name:").map(str::trim) == Some(LOG_NAME) {
            self.left = 3;
            return true;
        }
        false
    }
}

/// Drops a session whose Stata has gone between calls (killed from outside, a licence
/// server that ended it), remembering why for the next call's note.
fn reap(slot: &mut Slot) {
    if let Some(s) = slot.live.as_mut()
        && let Ok(Some(status)) = s.proc.try_wait()
    {
        slot.live = None;
        slot.lost.get_or_insert(format!(
            "the previous one ended between calls ({})",
            describe_exit(&status)
        ));
    }
}

fn lost_note(why: &str) -> String {
    format!(
        "the Stata session was lost ({why}); the next call starts a fresh session, and the \
         data in memory is gone"
    )
}

fn session_outcome(end: End, summary: LogSummary, req: &RunRequest, stderr: &str) -> CallEnd {
    let LogSummary {
        scan,
        output,
        graphs,
        ..
    } = summary;
    let mut outcome = RunOutcome::from_log(scan.warnings, scan.warnings_omitted, output, graphs);
    let limit = req.timeout.as_secs_f64();
    let stopped = |timed_out: bool| {
        if timed_out {
            (
                RunStatus::Timeout,
                format!("The time limit of {limit} s was reached."),
            )
        } else {
            (RunStatus::Cancelled, "The call was cancelled.".to_owned())
        }
    };
    let mut gone = None;
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
            let (status, why) = stopped(timed_out);
            outcome.status = status;
            outcome.rc = Some(1);
            outcome.notes.push(format!(
                "{why} Stata was interrupted (break) and is back at its prompt: the data in \
                 memory is intact, but the interrupted command did not finish."
            ));
        }
        End::Killed { timed_out } => {
            let (status, why) = stopped(timed_out);
            outcome.status = status;
            let what = "Stata did not respond to a break within the grace period and was killed";
            outcome.notes.push(format!("{why} {}", lost_note(what)));
            gone = Some(format!(
                "the previous session was lost ({what}) during an earlier call"
            ));
        }
        End::Exited(status) => {
            let how = describe_exit(&status);
            if status.success() {
                // `exit, clear STATA` (or `exit, clear`) in the user's code.
                outcome.notes.push(format!(
                    "Stata exited during the call ({how}; e.g. `exit, clear` in the code): the \
                     session has ended, the next call starts a fresh one, and the data in \
                     memory is gone"
                ));
                if let Some(err) = scan.error {
                    outcome.status = RunStatus::Error;
                    outcome.rc = Some(err.code);
                    outcome.error = Some(err);
                }
                gone = Some("the previous session ended (Stata exited during a call)".into());
            } else {
                outcome.status = RunStatus::Error;
                let said = if stderr.is_empty() {
                    String::new()
                } else {
                    format!(" It said: {stderr}")
                };
                outcome.error = Some(ErrorInfo::new(
                    0,
                    format!(
                        "Stata died during the call ({how}); the output so far is below.{said}"
                    ),
                ));
                outcome.notes.push(lost_note(&format!("Stata died: {how}")));
                gone = Some(format!(
                    "the previous session was lost (Stata died during a call: {how})"
                ));
            }
        }
    }
    CallEnd { outcome, gone }
}

/// What is sent to Stata for one call, and the pieces the call's wait needs.
struct CallPlan {
    input: String,
    /// The echo that opens the user's region (`do` or `include`).
    start_echo: &'static str,
    /// The sentinel command (its echo is one of the region's possible ends).
    sentinel: String,
    /// The runner's lines after the user's code, resent after a break.
    end_lines: String,
}

/// The lines sent to Stata's stdin for one call.
fn call_input(
    dir: &RunDir,
    req: &RunRequest,
    kind: CallKind,
    marker: &str,
) -> Result<CallPlan, String> {
    let (do_file, args, include): (PathBuf, &[String], bool) = match &req.source {
        RunSource::Code(code) => {
            let path = dir.write_code(code)?;
            // The user's code shares the prompt's locals (as if typed there); a query keeps
            // its own, so it never touches the user's.
            (path, &[], kind == CallKind::User)
        }
        RunSource::File { path, args } => (path.clone(), args.as_slice(), false),
    };
    let q = |p: &Path| stata_quote(&p.to_string_lossy()).map_err(|e| e.to_string());
    let args = args
        .iter()
        .map(|a| stata_quote(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?
        .join(" ");
    let log = q(&dir.path.join(WRAPPER_LOG))?;
    // `more` would stop console output at a screenful and wait for a key that never comes;
    // it is set on every call since the user's code may turn it on.
    let mut input = format!(
        "set more off\n\
         capture _return drop {HOLD_NAME}\n\
         _return hold {HOLD_NAME}\n\
         capture log close {LOG_NAME}\n\
         log using {log}, text replace name({LOG_NAME})\n\
         local STATA_MCP_l {log}\n"
    );
    if req.change_dir {
        input.push_str(&format!("quietly cd {}\n", q(&req.cwd)?));
    }
    input.push_str(&format!("local STATA_MCP_do {}\n", q(&do_file)?));
    let start_echo = if include {
        INCLUDE_ECHO
    } else {
        input.push_str(&format!("local STATA_MCP_args `\" {args} \"'\n"));
        START_ECHO
    };
    if !kind.parks_r() {
        input.push_str(&format!("_return restore {HOLD_NAME}\n"));
    }
    input.push_str(&start_echo[2..]);
    input.push('\n');

    let sentinel = format!("display \"{marker}\" `STATA_MCP_rc'");
    let mut end_lines = format!("{RC_SAVE}\n");
    if !kind.parks_r() {
        end_lines.push_str(&format!("_return hold {HOLD_NAME}\n"));
    }
    end_lines.push_str(&format!(
        "{REOPEN}\n\
         {sentinel}\n\
         capture log close {LOG_NAME}\n\
         _return restore {HOLD_NAME}\n"
    ));
    input.push_str(&end_lines);
    Ok(CallPlan {
        input,
        start_echo,
        sentinel,
        end_lines,
    })
}

impl Session {
    /// Starts Stata and waits until it has run a first command, so that a start-up failure
    /// (licence, seats, a wrong binary) is reported as such, at once.
    async fn start(
        stata: &Path,
        cwd: &Path,
        log: &Path,
        cancel: &CancellationToken,
    ) -> Result<Self, String> {
        let mut proc = StataProcess::spawn(stata, ["-q"], cwd, Pipes { stdin: true })
            .map_err(|e| super::batch::spawn_error(stata, &e))?;
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
            calls: 0,
            stdout,
            stderr,
            drains,
        };
        let _ = std::fs::remove_file(log);
        let ready = format!("STATA_MCP_READY_{:016x}", nonce());
        let log_q = stata_quote(&log.to_string_lossy()).map_err(|e| e.to_string())?;
        let hello = format!(
            "set more off\n\
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

    async fn send(&mut self, text: &str) -> io::Result<()> {
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

    async fn stderr_text(&mut self) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::wrapper::CODE_FILE;

    fn req(source: RunSource, change_dir: bool) -> RunRequest {
        RunRequest {
            stata: PathBuf::from("/x/stata-mp"),
            source,
            cwd: PathBuf::from("/w d"),
            change_dir,
            run_dir: None,
            turn: None,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn user_code_is_included_between_the_runner_lines() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dirs = RunDirs::new(tmp.path());
        let dir = dirs.create().expect("dir");
        let plan = call_input(
            &dir,
            &req(RunSource::Code("display 1".into()), true),
            CallKind::User,
            "STATA_MCP_END_ab_",
        )
        .expect("plan");
        let lines: Vec<&str> = plan.input.lines().collect();
        let start = lines
            .iter()
            .position(|l| format!(". {l}") == INCLUDE_ECHO)
            .expect("include line");
        assert_eq!(lines[start + 1], RC_SAVE, "the region closes at once");
        assert!(lines[..start].contains(&"quietly cd `\"/w d\"'"));
        // r() is parked around every runner `log` command and put back for the user.
        assert_eq!(lines[start - 1], "_return restore STATA_MCP_r");
        assert_eq!(lines.last(), Some(&"_return restore STATA_MCP_r"));
        assert!(plan.end_lines.contains(&plan.sentinel));
        assert_eq!(plan.start_echo, INCLUDE_ECHO);
        // Runner lines whose echo the filter must recognise never wrap at 40 columns.
        assert!(INCLUDE_ECHO.len() < 40 && RC_SAVE.len() + 2 < 40);
        assert!(std::fs::read_to_string(dir.path.join(CODE_FILE)).is_ok());
    }

    #[test]
    fn the_runner_logs_header_and_footer_are_swallowed() {
        let mut b = OwnLogBlock::default();
        let lines = [
            ". log close _all",
            "      name:  stata_mcp",
            "       log:  /tmp/runs/x/run.log",
            "  log type:  text",
            " closed on:  22 Nov 2026, 06:37:56",
            "-------------------------------------------------------------------------------",
            "      name:  <unnamed>",
            "       log:  /w/mine.log",
        ];
        let kept: Vec<&str> = lines.into_iter().filter(|l| !b.swallows(l)).collect();
        assert_eq!(
            kept,
            vec![
                ". log close _all",
                "      name:  <unnamed>",
                "       log:  /w/mine.log"
            ]
        );
    }

    #[test]
    fn a_query_keeps_r_parked_and_uses_its_own_locals() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dirs = RunDirs::new(tmp.path());
        let dir = dirs.create().expect("dir");
        let plan = call_input(
            &dir,
            &req(RunSource::Code("summarize".into()), false),
            CallKind::Query { park_r: true },
            "M_",
        )
        .expect("plan");
        assert_eq!(plan.start_echo, START_ECHO);
        assert_eq!(plan.input.matches("_return hold").count(), 1);
        assert_eq!(plan.input.matches("_return restore").count(), 1);
        assert!(!plan.input.contains("quietly cd"));
    }
}
