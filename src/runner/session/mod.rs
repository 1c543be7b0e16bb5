//! Session mode: one console Stata kept alive across calls, so data, macros and estimates
//! persist. Calls run one at a time in arrival order; each streams from its own named log.

pub(crate) mod call_end;
mod console;
mod drawn_graphs;
pub(crate) mod facts;
pub(crate) mod pool;
mod protocol;
mod settings;
pub(crate) mod stage;
mod wait;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

use super::ended::cancelled_before;
use super::follow::Follower;
use super::process::{describe_exit, shutting_down};
use super::request::RunRequest;
use super::rundir::{ensure_private_dir, make_files_private};
use super::turns::Ticket;
use crate::log::decode::{decode_line, trim_eol};
use crate::log::filter::RunnerFilter;
use crate::log::live::LiveOutput;
use crate::log::pipeline::LogPipeline;
use crate::run::error::ErrorInfo;
use crate::run::files::{SESSIONS_DIR, WRAPPER_LOG, start_log_name};
use crate::run::session_name::SessionName;
use crate::run::{RunOutcome, RunStatus};
use crate::sandbox::Plan;
use crate::text::human::human_duration;
use call_end::{CallEnd, WaitEnd, lost_note, session_outcome};
use console::Session;
use facts::{BusyGuard, Facts, SharedFacts};
pub(crate) use protocol::CallKind;
use protocol::{OwnLogBlock, RC_SAVE, REOPEN, call_input, nonce};
pub(crate) use settings::SessionSettings;
use wait::{Queued, either};

/// One named session: a console Stata started on first use, and the line of calls for it.
pub(crate) struct SessionRunner {
    name: SessionName,
    settings: SessionSettings,
    /// The live session; the lock also serialises calls (tokio's mutex is first come, first served).
    session: Mutex<Slot>,
    /// Calls waiting for the session, for the "queued" message.
    waiting: AtomicUsize,
    /// What it is doing, readable while a call holds `session`.
    facts: SharedFacts,
    /// Cancelled when the session is closed: whatever runs or waits in it stops.
    closing: CancellationToken,
    /// Calls let in by the pool that have not finished: they hold the session's seat.
    admitted: AtomicUsize,
    /// The graphs in memory as the last call left them.
    seen: drawn_graphs::Seen,
}

#[derive(Default)]
struct Slot {
    live: Option<Session>,
}

impl SessionRunner {
    pub(crate) fn new(name: SessionName, settings: SessionSettings) -> Self {
        Self {
            name,
            settings,
            session: Mutex::new(Slot::default()),
            waiting: AtomicUsize::new(0),
            facts: SharedFacts::default(),
            closing: CancellationToken::new(),
            admitted: AtomicUsize::new(0),
            seen: drawn_graphs::Seen::default(),
        }
    }

    pub(crate) fn name(&self) -> &SessionName {
        &self.name
    }

    /// What the session is doing now, without waiting for it.
    pub(crate) fn facts(&self) -> Facts {
        self.facts.get()
    }

    /// Starts the session now rather than at the first call (`--warm`).
    pub(crate) async fn warm(
        &self,
        stata: &Path,
        cwd: &Path,
        sandbox: Option<&Plan>,
    ) -> Result<(), String> {
        let mut slot = self.session.lock().await;
        self.reap(&mut slot);
        if slot.live.is_none() {
            let s = self
                .start_session(stata, cwd, sandbox, &CancellationToken::new())
                .await?;
            slot.live = Some(s);
        }
        Ok(())
    }

    /// Ends the session's Stata, if one runs (the server is exiting, or the session closes).
    pub(crate) async fn stop(&self) {
        let mut slot = self.session.lock().await;
        if let Some(mut s) = slot.live.take() {
            let _ = s.proc.kill().await;
            self.facts.ended(None);
        }
    }

    /// Closes the session for good: stops what runs or waits in it, then its Stata.
    pub(crate) async fn close(&self) {
        self.closing.cancel();
        self.stop().await;
    }

    /// Ends the session if it has had nothing to do for `idle` (nothing holds it, no call
    /// waits for it); `why` is told to the next call. Returns whether it did.
    pub(crate) async fn close_if_idle(&self, idle: Duration, why: &str) -> bool {
        if self.admitted.load(Ordering::SeqCst) > 0 {
            return false;
        }
        let Ok(mut slot) = self.session.try_lock() else {
            return false;
        };
        if slot.live.is_none() || self.facts.get().idle_for().is_none_or(|d| d < idle) {
            return false;
        }
        if let Some(mut s) = slot.live.take() {
            let _ = s.proc.kill().await;
            self.facts.ended(Some(why.to_owned()));
        }
        true
    }

    /// Ends the session and starts a fresh one (`stata_session restart`): everything in
    /// memory is cleared, as the user asked, so the next call gets no "lost" note.
    pub(crate) async fn restart(
        &self,
        stata: &Path,
        cwd: &Path,
        sandbox: Option<&Plan>,
        cancel: &CancellationToken,
    ) -> Result<(), String> {
        let mut slot = self.session.lock().await;
        if let Some(mut s) = slot.live.take() {
            let _ = s.proc.kill().await;
        }
        self.facts.ended(None);
        self.facts.lock().lost = None;
        let s = self.start_session(stata, cwd, sandbox, cancel).await?;
        slot.live = Some(s);
        Ok(())
    }

    /// Runs the user's code in the session.
    pub(crate) async fn run(
        &self,
        req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        self.run_kind(
            req,
            live,
            cancel,
            CallKind::User,
            self.settings.max_output_chars,
        )
        .await
    }

    /// Takes the session for several queries in a row, so that no user call runs between
    /// them (`stata_get_results` lists the results, then reads their matrices).
    /// `None` when cancelled while waiting.
    pub(crate) async fn exclusive(
        &self,
        what: &str,
        cancel: &CancellationToken,
    ) -> Option<Exclusive<'_>> {
        let live = LiveOutput::new(256);
        let cancel = either(cancel, &self.closing);
        let _stop_watch = cancel.clone().drop_guard();
        let (slot, _) = self.acquire(&live, &cancel, None).await?;
        let busy = self.facts.busy(what.to_owned());
        Some(Exclusive {
            runner: self,
            slot,
            _busy: busy,
        })
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
        // Closing the session stops this call too, whether it runs or waits.
        let cancel = either(&cancel, &self.closing);
        let _stop_watch = cancel.clone().drop_guard();
        let Some((mut slot, queued)) = self.acquire(&live, &cancel, turn).await else {
            return cancelled_before(started, "while waiting for the session");
        };
        let waited = started.elapsed();
        let _busy = self.facts.busy(req.label.clone());
        let probe = drawn_graphs::Probe::of(&req);
        let mut outcome = self
            .run_locked(
                &mut slot,
                req,
                live,
                cancel.clone(),
                kind,
                max_output_chars,
                started,
            )
            .await;
        if kind == CallKind::User && slot.live.is_some() {
            // Still holding the session: no other call's graphs can be taken for this one's.
            let mut held = Held {
                runner: self,
                slot: &mut slot,
                cancel: &cancel,
            };
            self.seen.add(&probe, &mut outcome, &mut held).await;
        }
        stage::settle(&mut outcome, self.settings.dirs.root());
        if let Some(q) = queued {
            outcome
                .notes
                .push(q.note(waited, &self.quoted_unless_main()));
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
        self.reap(slot);
        if slot.live.is_none() {
            let lost = self.facts.lock().lost.take();
            match self
                .start_session(&req.stata, &req.cwd, req.sandbox.as_ref(), &cancel)
                .await
            {
                Ok(s) => {
                    if let Some(why) = lost {
                        notes.push(format!(
                            "a new Stata session{} was started because {why}: the data, \
                             macros and estimates from before are gone",
                            self.quoted_unless_main()
                        ));
                    }
                    slot.live = Some(s);
                }
                // Stopped on purpose while Stata was starting (a cancel, a close): no failure.
                Err(_) if cancel.is_cancelled() || shutting_down().is_some() => {
                    return cancelled_before(started, "while the Stata session was starting");
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
            self.facts.ended(Some(why));
        }
        outcome
    }

    /// Waits for the session (`None` if cancelled): for the calls that arrived earlier (`turn`),
    /// then the one running. Handlers start in any order: the mutex alone would not keep it.
    async fn acquire(
        &self,
        live: &LiveOutput,
        cancel: &CancellationToken,
        turn: Option<Ticket>,
    ) -> Option<(MutexGuard<'_, Slot>, Option<Queued>)> {
        if turn.as_ref().is_none_or(Ticket::is_first)
            && let Ok(slot) = self.session.try_lock()
        {
            return Some((slot, None));
        }
        let ahead = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
        let behind = self.facts.get().busy.map(|b| {
            format!(
                "{}, running for {}",
                b.what,
                human_duration(b.since.elapsed())
            )
        });
        live.push_status(format!(
            "queued: waiting for {ahead} earlier call{} to finish in the Stata session{}{}",
            if ahead == 1 { "" } else { "s" },
            self.quoted_unless_main(),
            behind
                .as_deref()
                .map(|b| format!(" ({b})"))
                .unwrap_or_default()
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
        got.map(|slot| (slot, Some(Queued { ahead, behind })))
    }

    /// ` "explore"` for a session other than `main`, for messages that name it.
    fn quoted_unless_main(&self) -> String {
        if self.name.is_main() {
            String::new()
        } else {
            format!(" \"{}\"", self.name)
        }
    }

    /// Drops a Stata that has gone between calls (killed from outside, a licence server
    /// that ended it), remembering why for the next call's note.
    fn reap(&self, slot: &mut Slot) {
        if let Some(s) = slot.live.as_mut()
            && let Ok(Some(status)) = s.proc.try_wait()
        {
            slot.live = None;
            self.facts.ended(Some(format!(
                "the previous one ended between calls ({})",
                describe_exit(&status)
            )));
        }
    }

    async fn start_session(
        &self,
        stata: &Path,
        cwd: &Path,
        sandbox: Option<&Plan>,
        cancel: &CancellationToken,
    ) -> Result<Session, String> {
        let dir = self.settings.dirs.root().with_file_name(SESSIONS_DIR);
        ensure_private_dir(&dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
        // One start-up log per server and session, replaced by each start (retention: later).
        let log = dir.join(start_log_name(std::process::id(), self.name.as_str()));
        let calls = stage::root(self.settings.dirs.root(), &self.name);
        let (plan, temp) = console::confined(sandbox, &calls, &log)?;
        let started = Session::start(stata, cwd, plan.as_ref(), temp.as_deref(), &log, cancel);
        let started = started.await;
        make_files_private(&dir);
        if let Ok(s) = &started {
            self.facts.started(s.proc.pgid(), s.stata.clone());
        }
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
        let dir = match self.settings.dirs.for_run(req.run_dir.as_ref()) {
            Ok(d) => d,
            Err(e) => return alive(RunOutcome::not_started(None, started, None, e.to_string())),
        };
        let staged = match stage::of(&stage::root(self.settings.dirs.root(), &self.name), &dir) {
            Ok(d) => d,
            Err(msg) => return alive(RunOutcome::not_started(Some(dir.id), started, None, msg)),
        };
        let marker = format!("STATA_MCP_END_{:016x}_", nonce());
        let plan = match call_input(&staged, req, kind, &marker) {
            Ok(p) => p,
            Err(msg) => return alive(RunOutcome::not_started(Some(dir.id), started, None, msg)),
        };
        if kind == CallKind::User {
            self.facts.lock().calls += 1;
        }
        let log_path = staged.path.join(WRAPPER_LOG);
        if let Err(e) = session.send(&plan.input).await {
            if shutting_down().is_some() {
                return alive(cancelled_before(started, "before its code reached Stata"));
            }
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
        let mut follow = Follower::new(&log_path, self.settings.follow, deadline, cancel.clone());
        let end_echo = format!(". {RC_SAVE}");
        let mut pipe = LogPipeline::new(
            RunnerFilter::new(plan.start_echo).with_end(end_echo.clone(), marker),
            live,
            max_output_chars,
        );
        // The first runner line after the user's code closes its region: RC_SAVE, or the
        // sentinel's echo when the user's code closed the runner's log (no RC_SAVE, REOPEN).
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
            // Stata's exit (it writes nothing) wakes the loop too, not only the log.
            let stop = tokio::select! {
                biased;
                stop = follow.wait(breaking.is_none()) => stop,
                _ = session.proc.wait() => None,
            };
            if let Some(stop) = stop {
                let timed_out = stop.timed_out();
                // Stata's break key: the running command stops, the data stays.
                session.proc.interrupt();
                // The end lines may have been discarded with the interrupted input: send
                // them again (if they were not, the copies run later into a closed log).
                let _ = session.send(&plan.end_lines).await;
                breaking = Some((tokio::time::Instant::now() + self.settings.grace, timed_out));
            }
            follow.poll(|l| feed(l, &mut pipe));
            pipe.flush_live();
            if pipe.ended_with().is_some() {
                break match breaking {
                    Some((_, timed_out)) => WaitEnd::Interrupted { timed_out },
                    None => WaitEnd::Done,
                };
            }
            if let Ok(Some(status)) = session.proc.try_wait() {
                follow.drain(|l| feed(l, &mut pipe));
                break WaitEnd::Exited(status);
            }
            if let Some((by, timed_out)) = breaking
                && tokio::time::Instant::now() >= by
            {
                let _ = session.proc.kill().await;
                break WaitEnd::Killed { timed_out };
            }
        };
        let read_note = follow.finish(|l| feed(l, &mut pipe));
        let summary = pipe.finish();
        let stderr = if matches!(end, WaitEnd::Exited(_)) {
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

/// The session held by a call, for the runner's own queries after it (the graphs it drew).
struct Held<'a> {
    runner: &'a SessionRunner,
    slot: &'a mut Slot,
    cancel: &'a CancellationToken,
}

impl drawn_graphs::Query for Held<'_> {
    async fn query(&mut self, req: RunRequest) -> Option<String> {
        let live = Arc::new(LiveOutput::new(4096));
        let kind = CallKind::Query { park_r: true };
        let (chars, now) = (drawn_graphs::QUERY_CHARS, Instant::now());
        let cancel = self.cancel.clone();
        let mut out = (self.runner)
            .run_locked(self.slot, req, live, cancel, kind, chars, now)
            .await;
        stage::settle(&mut out, self.runner.settings.dirs.root());
        if let Some(id) = out.run_id {
            self.runner.settings.dirs.finished(id);
        }
        (out.status == RunStatus::Ok).then(|| out.output.render(""))
    }
}

/// The session held for a series of queries; user calls wait until it is dropped.
pub(crate) struct Exclusive<'a> {
    runner: &'a SessionRunner,
    slot: MutexGuard<'a, Slot>,
    _busy: BusyGuard<'a>,
}

impl Exclusive<'_> {
    /// Runs a session tool's own commands, in turn with user calls, starting Stata if no
    /// session runs. Nothing is streamed; the output is kept whole up to `max_output_chars`.
    pub(crate) async fn query(
        &mut self,
        req: RunRequest,
        cancel: CancellationToken,
        max_output_chars: usize,
        park_r: bool,
    ) -> RunOutcome {
        let live = Arc::new(LiveOutput::new(4096));
        let (kind, now) = (CallKind::Query { park_r }, Instant::now());
        let slot = &mut self.slot;
        let mut out = (self.runner)
            .run_locked(slot, req, live, cancel, kind, max_output_chars, now)
            .await;
        stage::settle(&mut out, self.runner.settings.dirs.root());
        out
    }

    /// The session's state, a Stata that has gone since the last call noticed.
    pub(crate) fn info(&mut self) -> Facts {
        self.runner.reap(&mut self.slot);
        self.runner.facts()
    }
}
