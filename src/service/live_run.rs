//! A run going on in a task of its own, keeping the output nobody has read yet in a bounded
//! journal, so a caller polling it never sees a line twice.
//!
//! The runner writes into a `LiveOutput` as for any call, and the task moves that text into
//! the run's journal. The run is not tied to any request: it has its own cancellation
//! token, and progress frames reach a client only while one of its calls follows the run.

use parking_lot::{Mutex, MutexGuard};
use std::future::Future;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use crate::log::live::{Chunk, LiveOutput};
use crate::run::error::ErrorInfo;
use crate::run::{RunOutcome, RunStatus};
use crate::text::cut::cut_point;

/// Unread output kept per job. A run printing faster than it is read loses its oldest
/// unread text beyond this (the reader is told how much; it is all in the log on disk).
pub(crate) const JOURNAL_BYTES: usize = 1 << 20;

/// The session runner announces a wait for the session with a status starting so
/// (`runner/session.rs`, `acquire`); it marks the job as queued rather than being output.
const QUEUE_NOTICE: &str = "queued";

/// Where a job is: waiting for its turn, running, or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum JobStatus {
    Queued,
    Running,
    Ok,
    Error,
    Timeout,
    Cancelled,
    FailedToStart,
}

impl JobStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Ok => "ok",
            JobStatus::Error => "error",
            JobStatus::Timeout => "timeout",
            JobStatus::Cancelled => "cancelled",
            JobStatus::FailedToStart => "failed_to_start",
        }
    }

    /// Whether the job has ended (its result is then available).
    pub(crate) fn is_done(self) -> bool {
        !matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

impl From<RunStatus> for JobStatus {
    fn from(s: RunStatus) -> Self {
        match s {
            RunStatus::Ok => JobStatus::Ok,
            RunStatus::Error => JobStatus::Error,
            RunStatus::Timeout => JobStatus::Timeout,
            RunStatus::Cancelled => JobStatus::Cancelled,
            RunStatus::FailedToStart => JobStatus::FailedToStart,
        }
    }
}

/// Output handed to a reader: the text since the last read, and how many bytes before it
/// were dropped (to a flood that overflowed the journal, or to the reader's size limit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Excerpt {
    pub text: String,
    pub skipped_bytes: u64,
    /// Lines earlier looks already handed out (not in `text`).
    pub seen_lines: u64,
}

/// The output of a run that has not been read yet, at most `cap` bytes (the newest kept).
///
/// Offsets are absolute byte counts since the run began, so a reader that fell behind a
/// trim can tell exactly how much it missed. Read text is dropped at once: the journal
/// never holds more than the unread part.
#[derive(Debug)]
struct Journal {
    cap: usize,
    text: String,
    /// Absolute offset of `text[0]`.
    start: u64,
    /// Everything before this was handed to a reader (or skipped on its behalf).
    read_to: u64,
    /// Lines handed to readers so far.
    lines_taken: u64,
}

impl Journal {
    fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(256),
            text: String::new(),
            start: 0,
            read_to: 0,
            lines_taken: 0,
        }
    }

    fn end(&self) -> u64 {
        self.start + self.text.len() as u64
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
        if self.text.len() > self.cap {
            let cut = cut_point(&self.text, self.text.len() - self.cap);
            self.text.drain(..cut);
            self.start += cut as u64;
        }
    }

    /// The text held from absolute offset `pos` on (all of it when `pos` was trimmed away).
    fn after(&self, pos: u64) -> &str {
        let from = usize::try_from(pos.saturating_sub(self.start)).unwrap_or(usize::MAX);
        self.text.get(from..).unwrap_or("")
    }

    /// Takes the unread text, at most `max` bytes of it (the newest, from a line start).
    fn take(&mut self, max: usize) -> Excerpt {
        let mut skipped = self.start.saturating_sub(self.read_to);
        if self.text.len() > max {
            let cut = cut_point(&self.text, self.text.len() - max);
            self.text.drain(..cut);
            self.start += cut as u64;
            skipped += cut as u64;
        }
        let text = std::mem::take(&mut self.text);
        self.start += text.len() as u64;
        self.read_to = self.start;
        let seen_lines = self.lines_taken;
        self.lines_taken += text.lines().count() as u64;
        Excerpt {
            text,
            skipped_bytes: skipped,
            seen_lines,
        }
    }
}

/// The state of a run, behind its lock.
#[derive(Debug)]
struct State {
    status: JobStatus,
    journal: Journal,
    /// The runner's last word on why the run waits ("queued: waiting for 1 earlier call...").
    queue_note: Option<String>,
    outcome: Option<Arc<RunOutcome>>,
    ended: Option<Instant>,
}

/// What a run looks like at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub status: JobStatus,
    pub elapsed: Duration,
    pub queue_note: Option<String>,
    /// The run's result once it has ended.
    pub outcome: Option<Arc<RunOutcome>>,
    /// Whether a cancellation was asked for.
    pub cancel_requested: bool,
}

/// One look at a run: where it is, and what it printed since the last look.
#[derive(Debug)]
pub(crate) struct JobLook {
    pub snap: Snapshot,
    pub excerpt: Excerpt,
}

/// A run going on in a task of its own, its output kept in a journal.
#[derive(Debug)]
pub(crate) struct LiveRun {
    started: Instant,
    cancel: CancellationToken,
    state: Mutex<State>,
    /// Bumped on every change, so followers wake without polling.
    news: watch::Sender<u64>,
}

impl LiveRun {
    /// Starts `start(live, cancel)` in a task of its own. The run writes its output to
    /// `live`, which this task drains into the journal; it stops when `cancel` fires,
    /// which only [`LiveRun::cancel`] does: no request's end can stop it.
    pub(crate) fn spawn<F, Fut>(start: F) -> Arc<LiveRun>
    where
        F: FnOnce(Arc<LiveOutput>, CancellationToken) -> Fut,
        Fut: Future<Output = RunOutcome> + Send + 'static,
    {
        let live = Arc::new(LiveOutput::new(JOURNAL_BYTES));
        let cancel = CancellationToken::new();
        let run = Arc::new(LiveRun {
            started: Instant::now(),
            cancel: cancel.clone(),
            state: Mutex::new(State {
                status: JobStatus::Running,
                journal: Journal::new(JOURNAL_BYTES),
                queue_note: None,
                outcome: None,
                ended: None,
            }),
            news: watch::channel(0).0,
        });
        // The run in a task of its own, so a panic in it ends the job with an error
        // instead of leaving it "running" for ever.
        let mut task = tokio::spawn(start(live.clone(), cancel));
        let this = run.clone();
        tokio::spawn(async move {
            let outcome = loop {
                tokio::select! {
                    joined = &mut task => break joined,
                    _ = live.changed() => {
                        if let Some(chunk) = live.take() {
                            this.absorb(chunk);
                        }
                    }
                }
            };
            // Lines pushed just before the end.
            if let Some(chunk) = live.take() {
                this.absorb(chunk);
            }
            let outcome = outcome.unwrap_or_else(|e| {
                let mut o =
                    RunOutcome::not_started(None, this.started.into_std(), None, String::new());
                o.status = RunStatus::Error;
                o.error = Some(ErrorInfo::uncoded(format!(
                    "the job's run stopped unexpectedly ({e}); its log may be partial"
                )));
                o
            });
            this.finish(outcome);
        });
        run
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state whole, so a poisoned lock is still usable.
        self.state.lock()
    }

    fn bump(&self) {
        // send_modify stores the change even when nobody is subscribed.
        self.news.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Moves one chunk of live output into the journal; a queue notice sets the status.
    fn absorb(&self, chunk: Chunk) {
        let mut text = chunk.message.as_str();
        let mut note = None;
        if text.starts_with(QUEUE_NOTICE) {
            let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
            note = Some(first.trim_end().to_owned());
            text = rest;
        }
        {
            let mut s = self.state();
            if let Some(note) = note {
                if s.status == JobStatus::Running && s.journal.end() == 0 {
                    s.status = JobStatus::Queued;
                }
                s.queue_note = Some(note);
            }
            if !text.is_empty() {
                s.journal.push(text);
                if s.status == JobStatus::Queued {
                    // Output means the run has its turn.
                    s.status = JobStatus::Running;
                    s.queue_note = None;
                }
            }
        }
        self.bump();
    }

    fn finish(&self, outcome: RunOutcome) {
        {
            let mut s = self.state();
            s.status = outcome.status.into();
            s.queue_note = None;
            s.outcome = Some(Arc::new(outcome));
            s.ended = Some(Instant::now());
        }
        self.bump();
    }

    /// Asks the run to stop (in session mode Stata gets a break first).
    pub(crate) fn cancel(&self) {
        self.cancel.cancel();
        self.bump();
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let s = self.state();
        Snapshot {
            status: s.status,
            elapsed: s.ended.unwrap_or_else(Instant::now) - self.started,
            queue_note: s.queue_note.clone(),
            outcome: s.outcome.clone(),
            cancel_requested: self.cancel.is_cancelled(),
        }
    }

    /// The output since the last read, at most `max` bytes of it; it is not given again.
    pub(crate) fn take_output(&self, max: usize) -> Excerpt {
        self.state().journal.take(max)
    }

    /// The run's state and the output since the last look (at most `max` bytes), which is
    /// then marked as read.
    pub(crate) fn look(&self, max: usize) -> JobLook {
        JobLook {
            snap: self.snapshot(),
            excerpt: self.take_output(max),
        }
    }

    /// Follows the run until it ends (`true`), `until` passes or `stop` fires (`false`),
    /// pushing its new output (starting with what is unread) and queue notices to
    /// `frames`, for a request's progress notifications. Nothing is marked as read.
    pub(crate) async fn follow(
        &self,
        frames: &LiveOutput,
        until: Instant,
        stop: &CancellationToken,
    ) -> bool {
        let mut news = self.news.subscribe();
        let mut pos = self.state().journal.read_to;
        let mut told: Option<String> = None;
        loop {
            {
                let s = self.state();
                let text = s.journal.after(pos);
                if !text.is_empty() {
                    frames.push_lines(text);
                }
                pos = s.journal.end();
                if s.queue_note.is_some() && s.queue_note != told {
                    told = s.queue_note.clone();
                    if let Some(note) = &told {
                        frames.push_status(note.clone());
                    }
                }
                if s.status.is_done() {
                    return true;
                }
            }
            tokio::select! {
                changed = news.changed() => {
                    if changed.is_err() {
                        // Cannot happen while `self` lives; wait out the time rather than spin.
                        tokio::select! {
                            _ = tokio::time::sleep_until(until) => {}
                            _ = stop.cancelled() => {}
                        }
                        return self.state().status.is_done();
                    }
                }
                _ = tokio::time::sleep_until(until) => return self.state().status.is_done(),
                _ = stop.cancelled() => return self.state().status.is_done(),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::run::output::CappedOutput;

    pub(crate) fn outcome(status: RunStatus) -> RunOutcome {
        let mut o = RunOutcome::from_log(Vec::new(), 0, CappedOutput::new(1000), Vec::new());
        o.status = status;
        o.run_id = crate::run::id::RunId::parse("20250101-000000-1-0");
        o.duration = Duration::from_millis(5);
        o
    }

    #[test]
    fn each_byte_is_read_once() {
        let mut j = Journal::new(1 << 20);
        j.push("a\nb\n");
        assert_eq!(j.take(1000).text, "a\nb\n");
        let again = j.take(1000);
        assert_eq!((again.text.as_str(), again.skipped_bytes), ("", 0));
        assert_eq!(again.seen_lines, 2, "the lines handed out before");
        j.push("c\n");
        let e = j.take(1000);
        assert_eq!(
            (e.text.as_str(), e.skipped_bytes, e.seen_lines),
            ("c\n", 0, 2)
        );
        assert_eq!(j.end(), 6);
    }

    #[test]
    fn a_flood_keeps_the_newest_whole_lines_and_counts_the_rest() {
        let mut j = Journal::new(1000);
        let mut pushed = 0;
        for i in 0..10_000 {
            let line = format!("line {i}\n");
            pushed += line.len() as u64;
            j.push(&line);
        }
        assert!(j.text.len() <= 1000);
        let e = j.take(1 << 20);
        assert!(e.text.starts_with("line "), "{}", &e.text[..20]);
        assert!(e.text.ends_with("line 9999\n"));
        assert_eq!(e.skipped_bytes + e.text.len() as u64, pushed);
    }

    #[test]
    fn a_reply_limit_keeps_the_newest_and_counts_the_rest() {
        let mut j = Journal::new(1 << 20);
        for i in 0..100 {
            j.push(&format!("row {i}\n"));
        }
        let e = j.take(50);
        assert!(e.text.len() <= 50 && e.text.ends_with("row 99\n"), "{e:?}");
        assert!(e.skipped_bytes > 0);
        let again = j.take(50);
        assert_eq!((again.text.as_str(), again.skipped_bytes), ("", 0));
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let mut j = Journal::new(300);
        for _ in 0..100 {
            j.push("数据数据\n");
        }
        assert!(j.take(100).text.starts_with('数'));
    }

    #[test]
    fn after_gives_text_from_an_offset() {
        let mut j = Journal::new(1 << 20);
        j.push("ab\ncd\n");
        assert_eq!(j.after(3), "cd\n");
        assert_eq!(j.after(0), "ab\ncd\n");
        let _ = j.take(100);
        assert_eq!(j.after(3), "");
    }

    #[test]
    fn statuses_mirror_run_statuses() {
        for s in [
            RunStatus::Ok,
            RunStatus::Error,
            RunStatus::Timeout,
            RunStatus::Cancelled,
            RunStatus::FailedToStart,
        ] {
            let j = JobStatus::from(s);
            assert_eq!(j.as_str(), s.as_str());
            assert!(j.is_done());
        }
        assert!(!JobStatus::Queued.is_done() && !JobStatus::Running.is_done());
    }

    #[tokio::test]
    async fn a_run_moves_from_queued_to_running_to_its_end() {
        let gate = Arc::new(tokio::sync::Notify::new());
        let g = gate.clone();
        let run = LiveRun::spawn(move |live, _cancel| async move {
            live.push_status("queued: waiting for 1 earlier call to finish in the Stata session");
            g.notified().await;
            live.push_lines(". display 1\n1\n");
            g.notified().await;
            outcome(RunStatus::Ok)
        });
        let frames = LiveOutput::new(8192);
        let stop = CancellationToken::new();
        let soon = Instant::now() + Duration::from_millis(200);
        assert!(!run.follow(&frames, soon, &stop).await);
        let snap = run.snapshot();
        assert_eq!(snap.status, JobStatus::Queued);
        assert!(
            snap.queue_note
                .expect("note")
                .starts_with("queued: waiting")
        );
        gate.notify_one();
        let soon = Instant::now() + Duration::from_millis(200);
        assert!(!run.follow(&frames, soon, &stop).await);
        assert_eq!(run.snapshot().status, JobStatus::Running);
        assert_eq!(run.take_output(1000).text, ". display 1\n1\n");
        gate.notify_one();
        let later = Instant::now() + Duration::from_secs(10);
        assert!(run.follow(&frames, later, &stop).await);
        assert_eq!(run.snapshot().status, JobStatus::Ok);
        assert!(run.snapshot().outcome.is_some());
        let sent = frames.take().expect("frames").message;
        assert!(sent.contains(". display 1\n1\n"), "{sent}");
    }

    #[tokio::test]
    async fn cancel_reaches_the_run_and_a_panic_still_ends_the_job() {
        let run = LiveRun::spawn(|_live, cancel| async move {
            cancel.cancelled().await;
            outcome(RunStatus::Cancelled)
        });
        run.cancel();
        let later = Instant::now() + Duration::from_secs(10);
        let frames = LiveOutput::new(256);
        assert!(run.follow(&frames, later, &CancellationToken::new()).await);
        assert_eq!(run.snapshot().status, JobStatus::Cancelled);
        assert!(run.snapshot().cancel_requested);

        let run = LiveRun::spawn(|_live, _cancel| async move {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            outcome(RunStatus::Ok)
        });
        assert!(run.follow(&frames, later, &CancellationToken::new()).await);
        let snap = run.snapshot();
        assert_eq!(snap.status, JobStatus::Error);
        let err = snap.outcome.expect("outcome").error.clone().expect("error");
        assert!(
            err.message.contains("stopped unexpectedly"),
            "{}",
            err.message
        );
    }
}
