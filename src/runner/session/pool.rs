//! The named sessions of a server: each started on first use, at most `--max-sessions`
//! holding a Stata at once, and those other than `main` closed when idle.

use parking_lot::{Mutex, MutexGuard};
use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::facts::Facts;
use super::{SessionRunner, SessionSettings};
use crate::run::session_name::SessionName;
use crate::text::human::human_duration;

pub(crate) struct SessionPool {
    settings: SessionSettings,
    max_sessions: usize,
    /// Sessions other than `main` idle this long are closed; none: never.
    idle: Option<Duration>,
    sessions: Mutex<BTreeMap<SessionName, Arc<SessionRunner>>>,
}

/// A session a call may use: it holds the session's seat until dropped.
pub(crate) struct Admitted {
    runner: Arc<SessionRunner>,
}

impl Deref for Admitted {
    type Target = SessionRunner;
    fn deref(&self) -> &SessionRunner {
        &self.runner
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.runner.admitted.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One line of `stata_session list`.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub name: SessionName,
    pub facts: Facts,
}

/// Why a session could not be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PoolError {
    #[error(
        "session \"{wanted}\" cannot start: {} already hold a Stata, the most --max-sessions \
         allows (each is a Stata process with its own licence seat and memory): {}. Close one \
         with stata_session {{\"action\": \"close\", \"session\": \"NAME\"}}, run this in one \
         of them, or start the server with a higher --max-sessions",
        running.len(),
        listing(running)
    )]
    Full {
        wanted: SessionName,
        running: Vec<Listed>,
    },
    #[error(
        "there is no session named \"{wanted}\"; the sessions are {}",
        listing(known)
    )]
    Unknown {
        wanted: SessionName,
        known: Vec<Listed>,
    },
}

/// `main (busy with ...), explore (idle for 2 min)`.
fn listing(sessions: &[Listed]) -> String {
    if sessions.is_empty() {
        return "none".to_owned();
    }
    sessions
        .iter()
        .map(|s| format!("{} ({})", s.name, s.facts.state_text()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl SessionPool {
    pub(crate) fn new(
        settings: SessionSettings,
        max_sessions: usize,
        idle: Option<Duration>,
    ) -> Self {
        Self {
            settings,
            max_sessions: max_sessions.max(1),
            idle,
            sessions: Mutex::new(BTreeMap::new()),
        }
    }

    fn sessions(&self) -> MutexGuard<'_, BTreeMap<SessionName, Arc<SessionRunner>>> {
        self.sessions.lock()
    }

    /// The session `name` for one call, made if it is new. Refused when it would be one
    /// Stata more than `--max-sessions` allows.
    pub(crate) fn admit(&self, name: &SessionName) -> Result<Admitted, PoolError> {
        let mut sessions = self.sessions();
        let seated = |r: &SessionRunner| {
            let f = r.facts();
            r.admitted.load(Ordering::SeqCst) > 0 || f.running() || f.busy.is_some()
        };
        let has_seat = sessions.get(name).is_some_and(|r| seated(r));
        if !has_seat {
            let mut running: Vec<Listed> = sessions
                .values()
                .filter(|r| seated(r))
                .map(|r| listed(r))
                .collect();
            main_first(&mut running);
            if running.len() >= self.max_sessions {
                return Err(PoolError::Full {
                    wanted: name.clone(),
                    running,
                });
            }
        }
        let runner = sessions
            .entry(name.clone())
            .or_insert_with(|| Arc::new(SessionRunner::new(name.clone(), self.settings.clone())))
            .clone();
        // Counted while the pool is locked, so two new sessions cannot both take the last seat.
        runner.admitted.fetch_add(1, Ordering::SeqCst);
        Ok(Admitted { runner })
    }

    /// Starts `main` now rather than at its first call (`--warm`, `doctor`).
    pub(crate) async fn warm(
        &self,
        stata: &std::path::Path,
        cwd: &std::path::Path,
        sandbox: Option<&crate::sandbox::Plan>,
    ) -> Result<(), String> {
        let main = self
            .admit(&SessionName::main())
            .map_err(|e| e.to_string())?;
        main.warm(stata, cwd, sandbox).await
    }

    /// Every session the pool knows, `main` first, with what each is doing.
    pub(crate) fn list(&self) -> Vec<Listed> {
        let mut all: Vec<Listed> = self.sessions().values().map(|r| listed(r)).collect();
        main_first(&mut all);
        all
    }

    /// Closes `name` for good: what runs or waits in it is stopped, then its Stata. Returns
    /// what it was doing just before.
    pub(crate) async fn close(&self, name: &SessionName) -> Result<Facts, PoolError> {
        let runner = self.sessions().remove(name);
        let Some(runner) = runner else {
            return Err(PoolError::Unknown {
                wanted: name.clone(),
                known: self.list(),
            });
        };
        let before = runner.facts();
        runner.close().await;
        Ok(before)
    }

    /// Ends every session's Stata (the server or command is exiting).
    pub(crate) async fn stop_all(&self) {
        let all: Vec<Arc<SessionRunner>> = self.sessions().values().cloned().collect();
        for r in all {
            r.stop().await;
        }
    }

    /// The session `name`, if the pool has it, without making it.
    pub(crate) fn get(&self, name: &SessionName) -> Option<Arc<SessionRunner>> {
        self.sessions().get(name).cloned()
    }

    /// Closes, every so often, the sessions other than `main` idle for `--session-idle-secs`.
    pub(crate) fn spawn_idle_closer(self: &Arc<Self>) {
        let Some(idle) = self.idle else { return };
        let pool: Weak<SessionPool> = Arc::downgrade(self);
        // Checked a few times per idle period, so a session is closed soon after its time.
        let tick = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                let Some(pool) = pool.upgrade() else { return };
                pool.close_idle(idle).await;
            }
        });
    }

    async fn close_idle(&self, idle: Duration) {
        let why = format!(
            "it had nothing to do for {} and was closed to free its licence seat and memory \
             (--session-idle-secs {})",
            human_duration(idle),
            idle.as_secs()
        );
        let others: Vec<Arc<SessionRunner>> = self
            .sessions()
            .values()
            .filter(|r| !r.name().is_main())
            .cloned()
            .collect();
        for r in others {
            if r.close_if_idle(idle, &why).await {
                tracing::info!(session = %r.name(), "idle session closed");
            }
        }
    }
}

fn listed(r: &SessionRunner) -> Listed {
    Listed {
        name: r.name().clone(),
        facts: r.facts(),
    }
}

fn main_first(sessions: &mut [Listed]) {
    sessions.sort_by_key(|l| (!l.name.is_main(), l.name.clone()));
}
