//! Session mode: one console Stata kept alive across calls, so data, macros and estimates
//! persist. Calls run one at a time in arrival order; each streams from its own named log.

mod console;
mod outcome;
mod protocol;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

use super::follow::Follower;
use super::process::describe_exit;
use super::request::RunRequest;
use super::rundir::{RunDirs, ensure_private_dir, make_files_private};
use super::turns::Ticket;
use crate::log::decode::{decode_line, trim_eol};
use crate::log::filter::RunnerFilter;
use crate::log::live::LiveOutput;
use crate::log::pipeline::LogPipeline;
use crate::log::watch::FollowMode;
use crate::run::error::ErrorInfo;
use crate::run::files::{SESSIONS_DIR, WRAPPER_LOG};
use crate::run::{RunOutcome, RunStatus};
use crate::text::human::human_duration;
use console::Session;
use outcome::{CallEnd, End, lost_note, session_outcome};
pub use protocol::CallKind;
use protocol::{OwnLogBlock, RC_SAVE, REOPEN, call_input, nonce};

pub struct SessionRunner {
    dirs: Arc<RunDirs>,
    max_output_chars: usize,
    follow: FollowMode,
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

impl SessionRunner {
    pub fn new(
        dirs: Arc<RunDirs>,
        max_output_chars: usize,
        grace: Duration,
        follow: FollowMode,
    ) -> Self {
        Self {
            dirs,
            max_output_chars,
            follow,
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
        let (slot, _) = self.acquire(&live, cancel, None).await?;
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
        let Some((mut slot, queued_behind)) = self.acquire(&live, &cancel, turn).await else {
            return RunOutcome {
                status: RunStatus::Cancelled,
                error: None,
                notes: vec!["cancelled while waiting for the session; nothing ran".into()],
                ..RunOutcome::not_started(None, started, None, String::new())
            };
        };
        let waited = started.elapsed();
        let mut outcome = self
            .run_locked(
                &mut slot,
                req,
                live,
                cancel,
                kind,
                max_output_chars,
                started,
            )
            .await;
        if let Some(ahead) = queued_behind {
            outcome.notes.push(waited_note(waited, ahead));
        }
        outcome
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
                Err(msg) => return RunOutcome::not_started(None, started, None, msg),
            }
        }
        let Some(session) = slot.live.as_mut() else {
            return RunOutcome::not_started(None, started, None, "no Stata session".into());
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
    ) -> Option<(MutexGuard<'_, Slot>, Option<usize>)> {
        if turn.as_ref().is_none_or(Ticket::is_first)
            && let Ok(slot) = self.session.try_lock()
        {
            return Some((slot, None));
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
        got.map(|slot| (slot, Some(ahead)))
    }

    async fn start_session(
        &self,
        stata: &Path,
        cwd: &Path,
        cancel: &CancellationToken,
    ) -> Result<Session, String> {
        let dir = self.dirs.root().with_file_name(SESSIONS_DIR);
        ensure_private_dir(&dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
        // One start-up log per server process, replaced by each start; retention removes
        // those of servers no longer running.
        let log = dir.join(format!("start-{}.log", std::process::id()));
        let started = Session::start(stata, cwd, &log, cancel).await;
        make_files_private(&dir);
        started
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
            Err(e) => {
                return alive(RunOutcome::not_started(None, started, None, e.to_string()));
            }
        };
        let nonce = format!("{:016x}", nonce());
        let marker = format!("STATA_MCP_END_{nonce}_");
        let plan = match call_input(&dir, req, kind, &marker) {
            Ok(p) => p,
            Err(msg) => return alive(RunOutcome::not_started(Some(dir.id), started, None, msg)),
        };
        if kind == CallKind::User {
            session.calls += 1;
        }
        let log_path = dir.path.join(WRAPPER_LOG);
        if let Err(e) = session.send(&plan.input).await {
            let mut o = RunOutcome::not_started(Some(dir.id), started, None, String::new());
            o.status = RunStatus::Error;
            o.error = Some(ErrorInfo::uncoded(format!(
                "could not send the code to Stata: {e}"
            )));
            let why = "its input closed".to_owned();
            o.notes.push(lost_note(&why));
            return CallEnd {
                outcome: o,
                gone: Some(format!("the previous session was lost ({why})")),
            };
        }

        let deadline = tokio::time::Instant::now() + req.timeout;
        let mut follow = Follower::new(&log_path, self.follow, deadline, cancel.clone());
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
                let line = decode_line(trim_eol(raw));
                if own_block.swallows(&line) {
                    pipe.skip_raw(raw);
                    return;
                }
                let line = line.trim_end();
                if line == end_echo {
                    region_closed = true;
                } else if other_ends.iter().any(|e| e == line) {
                    region_closed = true;
                    pipe.push_stand_in(&end_echo);
                    pipe.skip_raw(raw);
                    return;
                }
            }
            pipe.push_raw(raw);
        };
        // Set once a break was sent: (when Stata must be back by, whether it was the timeout).
        let mut breaking: Option<(tokio::time::Instant, bool)> = None;

        let end = loop {
            if let Some(stop) = follow.wait(breaking.is_none()).await {
                let timed_out = stop.timed_out();
                // Stata's break key: the running command stops, the data stays.
                session.proc.interrupt();
                // The end lines may have been discarded with the interrupted input: send
                // them again (if they were not, the copies run later into a closed log).
                let _ = session.send(&plan.end_lines).await;
                breaking = Some((tokio::time::Instant::now() + self.grace, timed_out));
            }
            follow.poll(|l| feed(l, &mut pipe));
            pipe.flush_live();
            if pipe.ended_with().is_some() {
                break match breaking {
                    Some((_, timed_out)) => End::Interrupted { timed_out },
                    None => End::Done,
                };
            }
            if let Ok(Some(status)) = session.proc.try_wait() {
                follow.drain(|l| feed(l, &mut pipe));
                break End::Exited(status);
            }
            if let Some((by, timed_out)) = breaking
                && tokio::time::Instant::now() >= by
            {
                let _ = session.proc.kill().await;
                break End::Killed { timed_out };
            }
        };
        let read_note = follow.finish(|l| feed(l, &mut pipe));
        let summary = pipe.finish();
        let stderr = if matches!(end, End::Exited(_)) {
            session.stderr_text().await
        } else {
            String::new()
        };
        let mut call_end = session_outcome(end, summary, req, &stderr);
        call_end.outcome.run_id = Some(dir.id);
        call_end.outcome.log_path = Some(log_path);
        call_end.outcome.duration = started.elapsed();
        call_end.outcome.notes.extend(read_note);
        call_end
    }
}

/// What a call that waited for the session says about it: the result's duration includes
/// the wait, which would otherwise look like Stata's own time.
fn waited_note(waited: Duration, ahead: usize) -> String {
    format!(
        "this call waited {} in line for {ahead} earlier call{} in the Stata session before it \
         ran (the duration includes the wait)",
        human_duration(waited),
        if ahead == 1 { "" } else { "s" }
    )
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
