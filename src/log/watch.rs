//! Wakes a log follower when the log may have grown: the operating system's change
//! notifications with a slow safety poll (no CPU while Stata is silent), or a fast poll where
//! notifications cannot be trusted (network file systems, no watch left, or asked for).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Interval, MissedTickBehavior};

/// How often the log is read when polling: a line reaches the client within a few
/// milliseconds; an idle poll is one `read` returning 0.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(2);
/// With notifications, a read this often anyway, so a missed event (an overflowed event
/// queue) never delays text for long. Five seconds: each read wakes the run's task, and a
/// sweep follows hundreds of logs at once (at one second, 200 tasks printing a line a second
/// woke twice as often as their lines asked; docs/performance.md).
pub(crate) const SAFETY_POLL: Duration = Duration::from_secs(5);

/// `--follow`: how a running log is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FollowMode {
    /// Notifications where they work (Linux, Windows, local file systems), else polling.
    #[default]
    Auto,
    /// Always poll.
    Poll,
}

/// How one log is being followed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// Woken by the OS on every write (`inotify` on Linux, `ReadDirectoryChangesW` on
    /// Windows), with a safety poll every [`SAFETY_POLL`].
    Notify,
    /// Read every [`POLL_INTERVAL`], for this reason.
    Poll(String),
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Strategy::Notify => write!(
                f,
                "change notifications ({}), with a read every {} ms in case one is missed",
                backend(),
                SAFETY_POLL.as_millis()
            ),
            Strategy::Poll(why) => {
                write!(f, "polling every {} ms ({why})", POLL_INTERVAL.as_millis())
            }
        }
    }
}

fn backend() -> &'static str {
    if cfg!(windows) {
        "ReadDirectoryChangesW"
    } else {
        "inotify"
    }
}

/// The wake-ups for one followed log.
pub(crate) struct Wake {
    ticker: Interval,
    strategy: Strategy,
    /// Set by the OS watcher's thread on every change in the log's folder.
    news: Arc<tokio::sync::Notify>,
    #[cfg(any(target_os = "linux", windows))]
    _watcher: Option<super::watcher::Subscription>,
}

impl Wake {
    /// Wake-ups for a log in `dir` (which must exist: a run's folder), as `mode` asks.
    pub(crate) fn new(dir: &Path, mode: FollowMode) -> Wake {
        let news = Arc::new(tokio::sync::Notify::new());
        let (watcher, strategy) = match mode {
            FollowMode::Poll => (None, Strategy::Poll("--follow poll".into())),
            FollowMode::Auto => match watch(dir, &news) {
                Ok(w) => (Some(w), Strategy::Notify),
                Err(why) => (None, Strategy::Poll(why)),
            },
        };
        let period = match strategy {
            Strategy::Notify => SAFETY_POLL,
            Strategy::Poll(_) => POLL_INTERVAL,
        };
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tracing::debug!(dir = %dir.display(), "following the log by {strategy}");
        #[cfg(not(any(target_os = "linux", windows)))]
        let _ = watcher;
        Wake {
            ticker,
            strategy,
            news,
            #[cfg(any(target_os = "linux", windows))]
            _watcher: watcher,
        }
    }

    /// Wake-ups every `period`, for a log another machine writes (a cluster job's, on
    /// shared storage): only reading sees such writes, and a job's log need not be read
    /// every few milliseconds.
    pub(crate) fn every(period: Duration, why: &str) -> Wake {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Wake {
            ticker,
            strategy: Strategy::Poll(why.to_owned()),
            news: Arc::new(tokio::sync::Notify::new()),
            #[cfg(any(target_os = "linux", windows))]
            _watcher: None,
        }
    }

    pub(crate) fn strategy(&self) -> &Strategy {
        &self.strategy
    }

    /// Waits until the log may have grown (or the safety poll is due).
    pub(crate) async fn next(&mut self) {
        tokio::select! {
            _ = self.news.notified() => {}
            _ = self.ticker.tick() => {}
        }
    }
}

/// Watches `dir` (not recursively), waking `news` on every event; the reason when it cannot.
#[cfg(any(target_os = "linux", windows))]
fn watch(
    dir: &Path,
    news: &Arc<tokio::sync::Notify>,
) -> Result<super::watcher::Subscription, String> {
    if let Some(fs) = super::remote::remote_file_system(dir) {
        // Writes by another machine (a compute node) raise no event here.
        return Err(format!(
            "{} is on {fs}, where other machines' writes raise no event",
            dir.display()
        ));
    }
    super::watcher::subscribe(dir, news)
}

#[cfg(not(any(target_os = "linux", windows)))]
fn watch(_dir: &Path, _news: &Arc<tokio::sync::Notify>) -> Result<(), String> {
    // FSEvents coalesces events over tens of milliseconds; polling is faster there, and
    // kqueue cannot see writes to a file not yet created.
    Err("change notifications are used on Linux and Windows only".into())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[tokio::test]
    async fn a_write_wakes_the_follower_long_before_the_safety_poll() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut wake = Wake::new(dir.path(), FollowMode::Auto);
        assert_eq!(wake.strategy(), &Strategy::Notify);
        wake.next().await; // the interval's first tick is immediate
        let path = dir.path().join("run.log");
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let mut f = std::fs::File::create(&path).expect("create");
            f.write_all(b"line\n").expect("write");
        });
        let started = std::time::Instant::now();
        wake.next().await;
        let waited = started.elapsed();
        writer.await.expect("writer");
        // Woken by the write (about 30 ms), not by the safety poll a second later.
        assert!(
            waited < Duration::from_millis(200),
            "woken after {waited:?}"
        );
    }

    #[tokio::test]
    async fn more_logs_than_inotify_instances_are_all_followed_by_notifications() {
        // inotify allows 128 instances per user by default; a sweep follows hundreds of logs.
        let dirs: Vec<tempfile::TempDir> = (0..300)
            .map(|_| tempfile::tempdir().expect("tmp"))
            .collect();
        let mut wakes: Vec<Wake> = dirs
            .iter()
            .map(|d| Wake::new(d.path(), FollowMode::Auto))
            .collect();
        for w in &wakes {
            assert_eq!(w.strategy(), &Strategy::Notify);
        }
        let last = wakes.last_mut().expect("wakes");
        last.next().await; // the interval's first tick is immediate
        std::fs::write(dirs[299].path().join("run.log"), "x\n").expect("write");
        let started = std::time::Instant::now();
        last.next().await;
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        // Dropping a follower stops only its own wake-ups.
        drop(wakes.remove(0));
        assert_eq!(wakes[0].strategy(), &Strategy::Notify);
    }

    #[tokio::test]
    async fn poll_is_used_when_asked() {
        let dir = tempfile::tempdir().expect("tmp");
        let wake = Wake::new(dir.path(), FollowMode::Poll);
        assert!(matches!(wake.strategy(), Strategy::Poll(why) if why.contains("--follow poll")));
    }
}
