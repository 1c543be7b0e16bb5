//! One OS watcher for the whole process, shared by every followed log: inotify lets a user
//! open only 128 instances (`fs.inotify.max_user_instances`), so a watcher per run would run
//! out at a sweep's 129th task and the rest would fall back to polling every 2 ms.

use parking_lot::{Mutex, MutexGuard};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use notify::Watcher as _;
use tokio::sync::Notify;

type Subscribers = Arc<Mutex<HashMap<PathBuf, Vec<(u64, Arc<Notify>)>>>>;

struct Shared {
    /// Only `watch`/`unwatch` take it, never the event handler: the backend's `watch` waits
    /// for its event thread, which must never wait for us in turn.
    watcher: Mutex<notify::RecommendedWatcher>,
    subscribers: Subscribers,
    next: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock()
}

fn shared() -> Result<&'static Shared, String> {
    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let subscribers: Subscribers = Arc::default();
            let seen = subscribers.clone();
            let watcher =
                notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                    let Ok(event) = event else { return };
                    let subs = lock(&seen);
                    for path in &event.paths {
                        for dir in [Some(path.as_path()), path.parent()].into_iter().flatten() {
                            for (_, news) in subs.get(dir).into_iter().flatten() {
                                // `notify_one` keeps a permit when no one waits: no event is lost
                                // between reads.
                                news.notify_one();
                            }
                        }
                    }
                })
                .map_err(|e| format!("change notifications are not available: {e}"))?;
            Ok(Shared {
                watcher: Mutex::new(watcher),
                subscribers,
                next: AtomicU64::new(0),
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// `news` is woken on every change in `dir` until this is dropped.
pub(crate) struct Subscription {
    dir: PathBuf,
    id: u64,
}

/// Wakes `news` on every change in `dir` (not recursively); the reason when it cannot.
pub(crate) fn subscribe(dir: &Path, news: &Arc<Notify>) -> Result<Subscription, String> {
    let s = shared()?;
    let mut watcher = lock(&s.watcher);
    let first = lock(&s.subscribers).get(dir).is_none_or(Vec::is_empty);
    if first {
        watcher
            .watch(dir, notify::RecursiveMode::NonRecursive)
            .map_err(|e| format!("could not watch {}: {e}", dir.display()))?;
    }
    let id = s.next.fetch_add(1, Ordering::Relaxed);
    lock(&s.subscribers)
        .entry(dir.to_path_buf())
        .or_default()
        .push((id, news.clone()));
    Ok(Subscription {
        dir: dir.to_path_buf(),
        id,
    })
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Ok(s) = shared() else { return };
        let mut watcher = lock(&s.watcher);
        let last = {
            let mut subs = lock(&s.subscribers);
            let left = subs.get_mut(&self.dir).map(|v| {
                v.retain(|(id, _)| *id != self.id);
                v.len()
            });
            if left == Some(0) {
                subs.remove(&self.dir);
            }
            left == Some(0)
        };
        if last {
            // The folder may be gone already (retention): nothing to stop then.
            let _ = watcher.unwatch(&self.dir);
        }
    }
}
