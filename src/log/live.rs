//! Collects a run's new output between progress frames: coalesced, capped, and always bounded in memory.

use parking_lot::Mutex;
use std::fmt::Write as _;

use tokio::sync::Notify;

use crate::stata::command::{DoVerb, do_target, strip_prefixes};
use crate::stata::log_lines::echo_text;
use crate::text::cut::cut_point;

/// The text waiting to go out in the next progress frame.
///
/// The runner pushes lines as fast as Stata writes them; the progress sender takes
/// them at its own pace. Whatever the gap, at most `max_bytes` of text is held: under a
/// flood the newest text is kept (it says where the run is now) and the frame says how
/// much was skipped. Nothing is lost: the full text is in the log on disk.
pub(crate) struct LiveOutput {
    max_bytes: usize,
    inner: Mutex<Pending>,
    notify: Notify,
    /// A sweep's task: every line also goes to the sweep's output, after this label.
    parent: Option<(std::sync::Arc<LiveOutput>, String)>,
}

#[derive(Default)]
struct Pending {
    text: String,
    skipped_bytes: u64,
    /// The last command Stata echoed, for heartbeats ("still running: regress ...").
    last_command: Option<String>,
    status: Option<String>,
    /// Commands echoed at the top level of the user's code (not in the do-files it runs).
    started: u64,
    /// Do-files open below the user's code, by `do` echoes and `end of do-file` lines.
    depth: usize,
    /// The top-level commands the code holds, when known (a do-file's).
    total: Option<u64>,
}

/// How far a run is, in top-level commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Commands {
    /// Commands finished: all started but the one running.
    pub done: u64,
    pub total: u64,
}

impl Pending {
    /// Follows one line for the command count: a top-level echo starts a command; `do`
    /// opens a nested do-file whose echoes are not the user's own, until its `end of do-file`.
    fn count(&mut self, line: &str) {
        if let Some(cmd) = echo_text(line) {
            if self.depth == 0 {
                self.started += 1;
            }
            let cmd = strip_prefixes(cmd.trim()).rest;
            if do_target(cmd).is_some_and(|t| t.verb == DoVerb::Do) {
                self.depth += 1;
            }
        } else if self.depth > 0 && line.trim_start().starts_with("end of do-file") {
            self.depth -= 1;
        }
    }
}

/// One frame's worth of news.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub message: String,
}

impl LiveOutput {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes: max_bytes.max(256),
            inner: Mutex::new(Pending::default()),
            notify: Notify::new(),
            parent: None,
        }
    }

    /// The output of one part of a larger run (a sweep's task): each line and status also
    /// goes to `parent`, opened by `label` (`[task 3] `), so a reader of the whole can tell
    /// who printed it. Its own text is kept only up to the minimum (nobody reads it).
    pub(crate) fn part_of(parent: std::sync::Arc<LiveOutput>, label: String) -> Self {
        Self {
            parent: Some((parent, label)),
            ..Self::new(0)
        }
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, Pending> {
        // A panic while holding this lock cannot leave the text inconsistent, so
        // a poisoned lock is still usable.
        self.inner.lock()
    }

    /// Adds complete output lines (each ending in `\n`).
    pub(crate) fn push_lines(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some((parent, label)) = &self.parent {
            let mut labelled = String::with_capacity(text.len() + label.len() * 4);
            for line in text.split_inclusive('\n') {
                labelled.push_str(label);
                labelled.push_str(line);
            }
            parent.push_lines(&labelled);
        }
        {
            let mut p = self.lock();
            if p.total.is_some() {
                for line in text.lines() {
                    p.count(line);
                }
            }
            if let Some(cmd) = text.lines().rev().find_map(echo_text) {
                let cmd = cmd.trim();
                if !cmd.is_empty() {
                    p.last_command = Some(cmd.chars().take(120).collect());
                }
            }
            p.text.push_str(text);
            if p.text.len() > self.max_bytes {
                // Keep the newest text, cut at a line start so a frame never opens mid-line.
                let cut = cut_point(&p.text, p.text.len() - self.max_bytes);
                p.skipped_bytes += cut as u64;
                p.text.drain(..cut);
            }
        }
        self.notify.notify_one();
    }

    /// A note about the run itself rather than Stata output (e.g. "queued behind another run").
    pub(crate) fn push_status(&self, status: impl Into<String>) {
        let status = status.into();
        if let Some((parent, label)) = &self.parent {
            parent.push_status(format!("{label}{status}"));
        }
        self.lock().status = Some(status);
        self.notify.notify_one();
    }

    /// Takes everything pending as one frame message, or `None` when there is no news.
    pub(crate) fn take(&self) -> Option<Chunk> {
        let mut p = self.lock();
        if p.text.is_empty() && p.status.is_none() {
            return None;
        }
        let mut message = String::new();
        if let Some(s) = p.status.take() {
            message.push_str(&s);
            if !p.text.is_empty() {
                message.push('\n');
            }
        }
        if p.skipped_bytes > 0 {
            let _ = writeln!(
                message,
                "[… {} bytes of output not shown here; they are in the log …]",
                p.skipped_bytes
            );
            p.skipped_bytes = 0;
        }
        message.push_str(&p.text);
        p.text.clear();
        Some(Chunk { message })
    }

    /// Says how many top-level commands the code holds, so frames can say how far it is.
    pub(crate) fn set_total(&self, total: u64) {
        self.lock().total = Some(total);
    }

    /// How far the run is, when its number of commands is known.
    pub(crate) fn commands(&self) -> Option<Commands> {
        let p = self.lock();
        let total = p.total?;
        Some(Commands {
            done: p.started.saturating_sub(1).min(total),
            total,
        })
    }

    /// The last command Stata echoed, if any.
    pub(crate) fn last_command(&self) -> Option<String> {
        self.lock().last_command.clone()
    }

    /// Resolves when something new was pushed since the last `take`.
    pub(crate) async fn changed(&self) {
        self.notify.notified().await;
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_part_labels_its_lines_in_the_whole() {
        let whole = std::sync::Arc::new(LiveOutput::new(4096));
        let part = LiveOutput::part_of(whole.clone(), "[task 3] ".into());
        part.push_lines("a\nb\n");
        part.push_status("queued on the cluster (Priority), 5 s");
        let chunk = whole.take().expect("news");
        assert_eq!(
            chunk.message,
            "[task 3] queued on the cluster (Priority), 5 s\n[task 3] a\n[task 3] b\n"
        );
    }

    use super::*;

    #[test]
    fn lines_coalesce_into_one_frame() {
        let live = LiveOutput::new(8192);
        live.push_lines(". display 1\n1\n");
        live.push_lines(". display 2\n2\n");
        let chunk = live.take().expect("news");
        assert_eq!(chunk.message, ". display 1\n1\n. display 2\n2\n");
        assert_eq!(live.take(), None);
        assert_eq!(live.last_command().as_deref(), Some("display 2"));
    }

    #[test]
    fn a_flood_keeps_the_newest_text_and_says_what_was_cut() {
        let live = LiveOutput::new(1000);
        for i in 0..10_000 {
            live.push_lines(&format!("line {i}\n"));
        }
        let chunk = live.take().expect("news");
        assert!(chunk.message.len() < 1200, "{}", chunk.message.len());
        assert!(chunk.message.starts_with("[… "));
        assert!(chunk.message.ends_with("line 9999\n"));
        // Every kept line is whole.
        for l in chunk.message.lines().skip(1) {
            assert!(l.starts_with("line "), "{l}");
        }
    }

    #[test]
    fn status_goes_first() {
        let live = LiveOutput::new(8192);
        live.push_status("queued behind another run");
        assert_eq!(
            live.take().expect("news").message,
            "queued behind another run"
        );
    }

    #[test]
    fn commands_are_counted_at_the_top_level_only() {
        let live = LiveOutput::new(8192);
        live.push_lines(". sysuse auto\n(1978 automobile data)\n");
        assert_eq!(live.commands(), None, "no count without a total");
        live.set_total(3);
        live.push_lines(". do other.do\n. display 1\n1\n. display 2\n2\nend of do-file\n");
        assert_eq!(live.commands(), Some(Commands { done: 0, total: 3 }));
        live.push_lines(". summarize price\n");
        assert_eq!(live.commands(), Some(Commands { done: 1, total: 3 }));
    }
}
