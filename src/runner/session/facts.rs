//! What a session is doing, kept where a listing can read it at once, without waiting for
//! the call that holds the session.

use parking_lot::{Mutex, MutexGuard};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::text::human::human_duration;

/// The call or job holding a session, and since when.
#[derive(Debug, Clone)]
pub(crate) struct Busy {
    /// What it is, in a few words: `stata_run_code: regress price mpg`, `background job
    /// job-2: ...`, `stata_inspect_data`.
    pub what: String,
    pub since: Instant,
}

/// One session's state, as `stata_session list` and `status` report it.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    /// The process group of its Stata, while one runs.
    pub pid: Option<u32>,
    pub stata: Option<PathBuf>,
    pub started: Option<Instant>,
    /// User calls run in the current Stata (the session tools' own queries not counted).
    pub calls: u64,
    pub busy: Option<Busy>,
    /// When the last call ended (or the session was made), for idle closing.
    pub last_used: Instant,
    /// Why the last Stata of this session ended, if it did and no new one has started.
    pub lost: Option<String>,
}

impl Default for Facts {
    fn default() -> Self {
        Self {
            pid: None,
            stata: None,
            started: None,
            calls: 0,
            busy: None,
            last_used: Instant::now(),
            lost: None,
        }
    }
}

impl Facts {
    pub(crate) fn running(&self) -> bool {
        self.pid.is_some()
    }

    pub(crate) fn uptime(&self) -> Option<Duration> {
        self.started.map(|s| s.elapsed())
    }

    /// What the session is doing, in a few words: `busy with stata_run_code: ... for 2 min`,
    /// `idle for 5 s`, `no Stata running`.
    pub(crate) fn state_text(&self) -> String {
        match (&self.busy, self.running()) {
            (Some(b), _) => format!(
                "busy with {} for {}",
                b.what,
                human_duration(b.since.elapsed())
            ),
            (None, true) => format!("idle for {}", human_duration(self.last_used.elapsed())),
            (None, false) => "no Stata running".to_owned(),
        }
    }

    /// How long the session has had nothing to do, if it has nothing to do.
    pub(crate) fn idle_for(&self) -> Option<Duration> {
        self.busy.is_none().then(|| self.last_used.elapsed())
    }
}

/// The facts behind a lock that is only ever held for a moment.
#[derive(Debug, Default)]
pub(crate) struct SharedFacts(Mutex<Facts>);

impl SharedFacts {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Facts> {
        self.0.lock()
    }

    pub(crate) fn get(&self) -> Facts {
        self.lock().clone()
    }

    /// A Stata has started: a fresh process, no calls yet, nothing lost.
    pub(crate) fn started(&self, pid: u32, stata: PathBuf) {
        let mut f = self.lock();
        f.pid = Some(pid);
        f.stata = Some(stata);
        f.started = Some(Instant::now());
        f.calls = 0;
        f.lost = None;
    }

    /// The Stata has ended; `why`, if given, is told to the call that starts the next.
    pub(crate) fn ended(&self, why: Option<String>) {
        let mut f = self.lock();
        f.pid = None;
        f.started = None;
        f.calls = 0;
        if let Some(why) = why {
            f.lost.get_or_insert(why);
        }
    }

    /// Marks the session busy with `what` until the returned guard is dropped.
    pub(crate) fn busy(&self, what: String) -> BusyGuard<'_> {
        self.lock().busy = Some(Busy {
            what,
            since: Instant::now(),
        });
        BusyGuard(self)
    }
}

/// Holds a session's "busy" mark; dropping it marks the session idle from now.
#[derive(Debug)]
pub(crate) struct BusyGuard<'a>(&'a SharedFacts);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        let mut f = self.0.lock();
        f.busy = None;
        f.last_used = Instant::now();
    }
}
