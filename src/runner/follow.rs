//! Following a run's log while Stata runs, the same way in both modes: a read whenever the
//! log may have grown (`log::watch`), the time limit and the cancel watched, read errors
//! noted, not lost.

use std::io;
use std::path::Path;
use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::log::live::LiveOutput;
use crate::log::tail::LogTail;
use crate::log::watch::{FollowMode, Wake};

/// Why a run must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The call was cancelled (or the client went away).
    Cancelled,
    /// The time limit was reached.
    TimedOut,
}

impl Stop {
    pub(crate) fn timed_out(self) -> bool {
        self == Stop::TimedOut
    }
}

/// A log being followed for one run, with the run's deadline and cancel.
pub(crate) struct Follower {
    tail: LogTail,
    wake: Wake,
    deadline: Instant,
    cancel: CancellationToken,
    /// The first error reading the log; later reads still run.
    read_error: Option<io::Error>,
}

impl Follower {
    /// Follows the log at `path` (in a folder that exists), as `mode` says, due to stop at
    /// `deadline` or when `cancel` fires.
    pub(crate) fn new(
        path: &Path,
        mode: FollowMode,
        deadline: Instant,
        cancel: CancellationToken,
    ) -> Self {
        let dir = path.parent().unwrap_or(Path::new("."));
        Self {
            tail: LogTail::new(path),
            wake: Wake::new(dir, mode),
            deadline,
            cancel,
            read_error: None,
        }
    }

    /// Follows the log at `path` by reading it every `period` (a log written on another
    /// machine), due to stop at `deadline` or when `cancel` fires.
    pub(crate) fn every(
        path: &Path,
        period: std::time::Duration,
        why: &str,
        deadline: Instant,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            tail: LogTail::new(path),
            wake: Wake::every(period, why),
            deadline,
            cancel,
            read_error: None,
        }
    }

    /// Moves the time limit (a cluster job's starts when the job does, not in the queue).
    pub(crate) fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    /// Waits until the next read is due, or the run must stop. Once a stop is being dealt
    /// with (`watching` false), only the next read is waited for.
    pub(crate) async fn wait(&mut self, watching: bool) -> Option<Stop> {
        let behind = self.tail.behind();
        if !watching {
            due(behind, &mut self.wake).await;
            return None;
        }
        tokio::select! {
            // A stop wins over a read that is also due.
            biased;
            _ = self.cancel.cancelled() => Some(Stop::Cancelled),
            _ = tokio::time::sleep_until(self.deadline) => Some(Stop::TimedOut),
            _ = due(behind, &mut self.wake) => None,
        }
    }

    /// Reads what is new, line by line.
    pub(crate) fn poll(&mut self, on_line: impl FnMut(&[u8])) {
        if let Err(e) = self.tail.poll(on_line) {
            self.read_error.get_or_insert(e);
        }
    }

    /// Reads everything written so far (Stata has exited).
    pub(crate) fn drain(&mut self, on_line: impl FnMut(&[u8])) {
        if let Err(e) = self.tail.drain(on_line) {
            self.read_error.get_or_insert(e);
        }
    }

    /// The run is over: reads the rest, hands out a last unfinished line, and returns the
    /// note to give the user if reading the log failed on the way.
    pub(crate) fn finish(mut self, mut on_line: impl FnMut(&[u8])) -> Option<String> {
        self.drain(&mut on_line);
        self.tail.finish(on_line);
        self.read_error.map(|e| {
            format!("reading the log failed part-way: {e}; the log file may be incomplete")
        })
    }
}

/// Waits until the next read is due: at once (after letting other tasks run) when the last
/// read stopped at its limit (a flood), else when the log may have grown.
async fn due(behind: bool, wake: &mut Wake) {
    if behind {
        tokio::task::yield_now().await;
    } else {
        wake.next().await;
    }
}

/// Where a followed run's output goes, what stops it, and who hears that it started.
pub(crate) struct Watch<'a> {
    pub live: Arc<LiveOutput>,
    pub cancel: CancellationToken,
    /// Called once the run really starts (its turn came, or the cluster started the job).
    pub on_start: &'a (dyn Fn() + Sync),
    /// Called once the run's Stata is done (before its turn goes to another run); not for a
    /// run that never started.
    pub on_end: &'a (dyn Fn() + Sync),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::decode::trim_eol;
    use std::time::Duration;

    #[tokio::test]
    async fn lines_stop_and_read_errors_are_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("run.log");
        let cancel = CancellationToken::new();
        let mut f = Follower::new(
            &log,
            FollowMode::Auto,
            Instant::now() + Duration::from_secs(60),
            cancel.clone(),
        );
        // No log yet: Stata is still starting, which is not an error.
        assert_eq!(f.wait(true).await, None);
        f.poll(|_| panic!("nothing to read"));
        std::fs::write(&log, "a\nb\npartial").expect("write");
        let mut lines = Vec::new();
        f.poll(|l| lines.push(String::from_utf8_lossy(trim_eol(l)).into_owned()));
        assert_eq!(lines, ["a", "b"]);
        cancel.cancel();
        assert_eq!(f.wait(true).await, Some(Stop::Cancelled));
        assert_eq!(
            f.wait(false).await,
            None,
            "while stopping, only reads are waited for"
        );
        let note = f.finish(|l| lines.push(String::from_utf8_lossy(trim_eol(l)).into_owned()));
        assert_eq!(lines, ["a", "b", "partial"]);
        assert_eq!(note, None);

        // A log path that cannot be read (a folder) is noted once, and reading goes on.
        let mut f = Follower::new(
            dir.path(),
            FollowMode::Auto,
            Instant::now(),
            CancellationToken::new(),
        );
        // The first tick is due at once too: the deadline wins within a few waits.
        let mut stop = None;
        for _ in 0..100 {
            stop = f.wait(true).await;
            if stop.is_some() {
                break;
            }
        }
        assert_eq!(stop, Some(Stop::TimedOut));
        f.poll(|_| {});
        let note = f.finish(|_| {}).expect("a note");
        assert!(
            note.starts_with("reading the log failed part-way"),
            "{note}"
        );
    }
}
