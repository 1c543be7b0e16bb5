//! Waiting for a session: what a call that waited says about it, and the cancel that stops
//! a call whether it runs or still waits.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::text::human::human_duration;

/// A wait after which the result suggests another session.
const LONG_WAIT: Duration = Duration::from_secs(5);

/// Why a call waited: how many were ahead of it, and what held the session as it began to wait.
pub(super) struct Queued {
    pub ahead: usize,
    pub behind: Option<String>,
}

impl Queued {
    /// What the call says about its wait of `waited` in session `session` (` "explore"`, or
    /// empty for main): the result's duration includes it, which would otherwise look like
    /// Stata's own time.
    pub(super) fn note(&self, waited: Duration, session: &str) -> String {
        let mut note = format!(
            "this call waited {} in line for {} earlier call{} in the Stata session{session}{} \
             before it ran (the duration includes the wait)",
            human_duration(waited),
            self.ahead,
            if self.ahead == 1 { "" } else { "s" },
            self.behind
                .as_deref()
                .map(|b| format!(" ({b} when this call arrived)"))
                .unwrap_or_default(),
        );
        if waited >= LONG_WAIT {
            note.push_str(
                "; to work while a long run goes on, give calls another session (e.g. \
                 \"session\": \"explore\"), which is a Stata of its own",
            );
        }
        note
    }
}

/// A token cancelled when `a` or `b` is (and when it is dropped by its guard).
pub(super) fn either(a: &CancellationToken, b: &CancellationToken) -> CancellationToken {
    let merged = b.child_token();
    let (a, m) = (a.clone(), merged.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = a.cancelled() => m.cancel(),
            _ = m.cancelled() => {}
        }
    });
    merged
}
