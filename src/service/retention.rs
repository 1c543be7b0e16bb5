//! Log retention: keeps at most `--keep-runs` run directories and `--keep-mb` megabytes of
//! them under the log dir, removing the oldest first and never a run still in progress.
//!
//! Run ids sort by time (`run::id`).
//! Anything else in the runs folder (the session's own `sessions/` folder, files a user
//! put there) is not a run and is left alone.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::run::files::SESSIONS_DIR;
use crate::run::id::RunId;
use crate::runner::rundir::RunDirs;

/// How much to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    pub keep_runs: usize,
    pub keep_bytes: u64,
}

impl Policy {
    /// The policy `--keep-runs` and `--keep-mb` set: the server's and the terminal's.
    pub(crate) fn of(settings: &crate::settings::Settings) -> Self {
        Self {
            keep_runs: settings.keep_runs,
            keep_bytes: settings.keep_bytes,
        }
    }
}

/// What a sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SweepReport {
    /// Names of the run directories removed, oldest first.
    pub removed: Vec<String>,
    pub freed_bytes: u64,
    /// Run directories that could not be removed, and why.
    pub failed: Vec<String>,
    /// Runs and bytes left.
    pub kept_runs: usize,
    pub kept_bytes: u64,
}

/// Removes the oldest run directories under `runs_root` until at most `policy.keep_runs`
/// remain and they hold at most `policy.keep_bytes`. Runs for which `protected` says true
/// are never removed (but still count). A missing `runs_root` is not an error: nothing ran yet.
pub(crate) fn sweep(
    runs_root: &Path,
    policy: Policy,
    protected: &dyn Fn(&RunId) -> bool,
) -> io::Result<SweepReport> {
    let entries = match std::fs::read_dir(runs_root) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(SweepReport::default()),
        Err(e) => return Err(e),
    };
    let mut runs: Vec<(RunId, String, PathBuf)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = RunId::parse(&name) else {
            continue;
        };
        // Not `metadata`: a symlink named like a run is not ours to delete through.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            runs.push((id, name, entry.path()));
        }
    }
    runs.sort();
    let sizes: Vec<u64> = runs.iter().map(|(_, _, p)| dir_size(p)).collect();
    let mut report = SweepReport {
        kept_runs: runs.len(),
        kept_bytes: sizes.iter().sum(),
        ..SweepReport::default()
    };
    for ((id, name, path), size) in runs.iter().zip(sizes) {
        if report.kept_runs <= policy.keep_runs && report.kept_bytes <= policy.keep_bytes {
            break;
        }
        // A cluster job that may still run belongs to the cluster: a later server
        // re-attaches it from this folder.
        if protected(id) || crate::runner::slurm::record::may_still_run(path) {
            continue;
        }
        match std::fs::remove_dir_all(path) {
            Ok(()) => {}
            // Another server sharing the log dir removed it first: gone all the same.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                report.failed.push(format!("{}: {e}", path.display()));
                continue;
            }
        }
        report.removed.push(name.clone());
        report.freed_bytes += size;
        report.kept_runs -= 1;
        report.kept_bytes = report.kept_bytes.saturating_sub(size);
    }
    Ok(report)
}

/// Bytes of the files under `dir`, not following symlinks. Unreadable parts count as 0:
/// a size is only needed to decide what to remove, and an error here must not stop that.
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(_) => total += e.metadata().map_or(0, |m| m.len()),
                Err(_) => {}
            }
        }
    }
    total
}

/// The server's retention: its policy, the runs in progress, and the sweeps it starts.
pub(crate) struct Retention {
    runs_root: PathBuf,
    policy: Policy,
    /// This server's run directories, which know the runs still in progress; none for a
    /// terminal command trimming before its run.
    dirs: Option<Arc<RunDirs>>,
    /// Set while a sweep runs.
    sweeping: AtomicBool,
    /// A sweep was asked for while one ran: the running one goes round once more, so the
    /// last run's sweep is never lost.
    again: AtomicBool,
}

impl Retention {
    pub(crate) fn new(runs_root: PathBuf, policy: Policy, dirs: Option<Arc<RunDirs>>) -> Self {
        Self {
            runs_root,
            policy,
            dirs,
            sweeping: AtomicBool::new(false),
            again: AtomicBool::new(false),
        }
    }

    /// Whether `id` may belong to a run still in progress, here or in another server
    /// sharing the log dir.
    fn in_progress(&self, id: &RunId) -> bool {
        if id.pid == std::process::id() {
            self.dirs.as_ref().is_some_and(|d| d.in_use(id))
        } else {
            other_server_may_be_running(id)
        }
    }

    /// Sweeps now, on this thread (it does file I/O: call it from a blocking context).
    pub(crate) fn sweep_now(&self) -> io::Result<SweepReport> {
        sweep(&self.runs_root, self.policy, &|id| self.in_progress(id))
    }

    /// Sweeps in the background, so no call waits for it; does nothing outside a tokio
    /// runtime or while another sweep is running.
    pub(crate) fn spawn_sweep(self: &Arc<Self>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        self.again.store(true, Ordering::Release);
        if self.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        handle.spawn_blocking(move || {
            loop {
                this.again.store(false, Ordering::Release);
                this.sweep_once();
                this.sweeping.store(false, Ordering::Release);
                // Asked again meanwhile, and nobody else took it up: go round once more.
                if !this.again.load(Ordering::Acquire) || this.sweeping.swap(true, Ordering::AcqRel)
                {
                    break;
                }
            }
        });
    }

    fn sweep_once(&self) {
        match self.sweep_now() {
            Ok(r) if !r.removed.is_empty() || !r.failed.is_empty() => tracing::info!(
                removed = r.removed.len(),
                freed_bytes = r.freed_bytes,
                failed = ?r.failed,
                "log retention sweep"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(
                "could not sweep old runs in {}: {e}",
                self.runs_root.display()
            ),
        }
        let sessions = self.runs_root.with_file_name(SESSIONS_DIR);
        let this_pid = std::process::id();
        let alive = |pid: u32, started: u64| pid == this_pid || server_may_be_running(pid, started);
        match sweep_start_logs(&sessions, &alive) {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "old session start-up logs removed"),
            Err(e) => tracing::warn!("could not sweep {}: {e}", sessions.display()),
        }
    }
}

/// A run made by another server process: kept while that process lives, since it may be
/// running it. (A reused pid only makes us keep a run longer, never remove one too early.)
fn other_server_may_be_running(id: &RunId) -> bool {
    server_may_be_running(id.pid, id.started)
}

/// Whether the server with `pid`, started at `started` (seconds since 1970), may still run.
#[cfg(unix)]
fn server_may_be_running(pid: u32, _started: u64) -> bool {
    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // Signal 0 only checks that the process exists; EPERM means it exists as another user.
    matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM))
}

/// Without a cheap liveness check, a server started in the last day may still run.
#[cfg(not(unix))]
fn server_may_be_running(_pid: u32, started: u64) -> bool {
    use std::time::{SystemTime, UNIX_EPOCH};
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    now.saturating_sub(started) < 86_400
}

/// Start-up logs of servers no longer running kept for troubleshooting (the newest).
pub(crate) const KEEP_START_LOGS: usize = 3;

/// Removes the start-up logs (`sessions/start-<pid>.log`) of servers that no longer run,
/// but the newest [`KEEP_START_LOGS`]; returns how many went. One is written per server
/// start, so without this they would pile up.
pub(crate) fn sweep_start_logs(
    sessions: &Path,
    alive: &dyn Fn(u32, u64) -> bool,
) -> io::Result<usize> {
    let entries = match std::fs::read_dir(sessions) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut dead: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = crate::run::files::start_log_pid(&name) else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
        let secs = modified
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if !alive(pid, secs) {
            dead.push((modified, entry.path()));
        }
    }
    dead.sort_by_key(|d| std::cmp::Reverse(d.0));
    let mut removed = 0;
    for (_, path) in dead.into_iter().skip(KEEP_START_LOGS) {
        if std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Makes `runs/<id>` holding `bytes` bytes of log.
    fn run(root: &Path, id: &str, bytes: usize) {
        let dir = root.join(id);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("run.log"), vec![b'x'; bytes]).expect("write");
    }

    fn names(root: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(root)
            .expect("read")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// A pid that is surely not a live process (so its runs are not protected).
    const DEAD: u32 = 999_999_999;

    fn id(time: &str, seq: u32) -> String {
        format!("20250101-{time}-{DEAD}-{seq}")
    }

    #[test]
    fn keeps_the_newest_runs_by_count() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        for (t, s) in [("000003", 0), ("000001", 0), ("000002", 0), ("000002", 1)] {
            run(root, &id(t, s), 10);
        }
        std::fs::create_dir_all(root.join("sessions")).expect("sessions");
        let policy = Policy {
            keep_runs: 2,
            keep_bytes: u64::MAX,
        };
        let report = sweep(root, policy, &|_| false).expect("sweep");
        assert_eq!(report.removed, vec![id("000001", 0), id("000002", 0)]);
        assert_eq!(report.freed_bytes, 20);
        assert_eq!(report.kept_runs, 2);
        assert_eq!(
            names(root),
            vec![id("000002", 1), id("000003", 0), "sessions".to_owned()],
            "the newest two are kept and the sessions folder is not a run"
        );
    }

    #[test]
    fn keeps_under_the_size_cap() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        for t in ["000001", "000002", "000003", "000004"] {
            run(root, &id(t, 0), 1000);
        }
        let policy = Policy {
            keep_runs: 200,
            keep_bytes: 2500,
        };
        let report = sweep(root, policy, &|_| false).expect("sweep");
        assert_eq!(report.removed.len(), 2);
        assert_eq!(report.kept_bytes, 2000);
        assert_eq!(names(root), vec![id("000003", 0), id("000004", 0)]);
    }

    #[test]
    fn never_removes_a_protected_run() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        for t in ["000001", "000002", "000003"] {
            run(root, &id(t, 0), 10);
        }
        let oldest = RunId::parse(&id("000001", 0)).expect("id");
        let policy = Policy {
            keep_runs: 0,
            keep_bytes: 0,
        };
        let report = sweep(root, policy, &|r| *r == oldest).expect("sweep");
        assert_eq!(report.removed.len(), 2);
        assert_eq!(names(root), vec![id("000001", 0)]);
    }

    #[test]
    fn a_cluster_job_not_followed_to_its_end_is_kept() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        for t in ["000001", "000002", "000003"] {
            run(root, &id(t, 0), 10);
        }
        // The oldest is a background cluster job an earlier server left running; the second
        // was one, followed to its end.
        std::fs::write(
            root.join(id("000001", 0))
                .join(crate::run::files::SLURM_JOB_FILE),
            "{}",
        )
        .expect("record");
        let ended = root.join(id("000002", 0));
        std::fs::write(ended.join(crate::run::files::SLURM_JOB_FILE), "{}").expect("record");
        std::fs::write(ended.join(crate::run::files::SLURM_ENDED_FILE), "").expect("ended");
        let policy = Policy {
            keep_runs: 0,
            keep_bytes: 0,
        };
        let report = sweep(root, policy, &|_| false).expect("sweep");
        assert_eq!(report.removed.len(), 2);
        assert_eq!(names(root), vec![id("000001", 0)]);
    }

    #[test]
    fn a_missing_runs_folder_is_nothing_to_do() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let report = sweep(
            &tmp.path().join("runs"),
            Policy {
                keep_runs: 0,
                keep_bytes: 0,
            },
            &|_| false,
        )
        .expect("sweep");
        assert_eq!(report, SweepReport::default());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_named_like_a_run_is_not_followed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("runs");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).expect("outside");
        std::fs::write(outside.join("precious"), "x").expect("write");
        std::fs::create_dir_all(&root).expect("runs");
        std::os::unix::fs::symlink(&outside, root.join(id("000001", 0))).expect("link");
        let policy = Policy {
            keep_runs: 0,
            keep_bytes: 0,
        };
        sweep(&root, policy, &|_| false).expect("sweep");
        assert!(outside.join("precious").exists());
    }

    #[test]
    fn this_servers_runs_in_progress_are_kept_and_none_else() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dirs = Arc::new(RunDirs::new(tmp.path()));
        let root = dirs.root().to_path_buf();
        let old = format!("20000101-000000-{}-0", std::process::id());
        std::fs::create_dir_all(root.join(&old)).expect("old");
        let policy = Policy {
            keep_runs: 0,
            keep_bytes: 0,
        };
        let retention = Arc::new(Retention::new(root.clone(), policy, Some(dirs.clone())));
        let current = dirs.create().expect("run dir");
        let report = retention.sweep_now().expect("sweep");
        assert_eq!(report.removed, vec![old], "the finished run goes");
        assert!(current.path.exists(), "the run in progress stays");
        dirs.finished(current.id);
        let report = retention.sweep_now().expect("sweep");
        assert_eq!(
            report.removed,
            vec![current.id.to_string()],
            "once finished, it may go too"
        );
    }

    #[test]
    fn at_most_n_means_n_even_for_runs_in_the_same_second() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dirs = Arc::new(RunDirs::new(tmp.path()));
        let policy = Policy {
            keep_runs: 3,
            keep_bytes: u64::MAX,
        };
        let retention = Retention::new(dirs.root().to_path_buf(), policy, Some(dirs.clone()));
        // Calls one after another, faster than a second apart: each sweeps as it ends.
        for _ in 0..5 {
            let run = dirs.create().expect("run dir");
            dirs.finished(run.id);
            retention.sweep_now().expect("sweep");
        }
        assert_eq!(names(dirs.root()).len(), 3, "{:?}", names(dirs.root()));
    }

    #[test]
    fn start_logs_of_servers_gone_are_removed_but_the_newest_few() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path();
        for pid in 1..=6u32 {
            std::fs::write(dir.join(format!("start-{pid}.log")), "x").expect("log");
            // Distinct times, pid 6 the newest.
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000 * u64::from(pid));
            std::fs::File::options()
                .write(true)
                .open(dir.join(format!("start-{pid}.log")))
                .and_then(|f| f.set_modified(t))
                .expect("mtime");
        }
        std::fs::write(dir.join("notes.txt"), "mine").expect("other file");
        // pid 2 still runs; of the dead (1, 3, 4, 5, 6) the newest 3 stay.
        let removed = sweep_start_logs(dir, &|pid, _| pid == 2).expect("sweep");
        assert_eq!(removed, 2);
        let mut left: Vec<String> = std::fs::read_dir(dir)
            .expect("dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "notes.txt",
                "start-2.log",
                "start-4.log",
                "start-5.log",
                "start-6.log"
            ]
        );
    }
}
