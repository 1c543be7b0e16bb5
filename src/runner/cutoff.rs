//! Runs a dead server left: each run folder holds its server's pid until the run ends; a
//! later server finds those whose server is gone, stops any launcher of theirs still alive,
//! marks them cut off, and lists them (`stata_job {}`, `doctor`).

use std::path::Path;

use crate::run::files::{CUT_OFF_FILE, SERVER_FILE, SESSION_CALLS_PREFIX, SESSIONS_DIR};
use crate::run::id::RunId;

/// A run whose server stopped before it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CutOff {
    pub run_id: String,
    pub server_pid: u32,
    /// A process of the run (its supervisor) was still alive and has now been stopped.
    pub stopped: bool,
    /// A background cluster job whose submission never happened: the server stopped first.
    pub never_submitted: bool,
}

/// The runs under `runs_root` cut off by a server that stopped (newest first), those found
/// now marked and any of their processes still alive stopped.
pub(crate) fn cut_off_runs(runs_root: &Path) -> Vec<CutOff> {
    let Ok(entries) = std::fs::read_dir(runs_root) else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if RunId::parse(&name).is_none() || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        // A cluster job outlives its server by design: a later server re-attaches it.
        if super::slurm::record::may_still_run(&dir) {
            continue;
        }
        let read_pid = |file: &str| {
            std::fs::read_to_string(dir.join(file))
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
        };
        let never_submitted = dir.join(crate::run::files::BACKGROUND_FILE).exists()
            && !dir.join(crate::run::files::SLURM_JOB_FILE).exists();
        if let Some(pid) = read_pid(CUT_OFF_FILE) {
            out.push(CutOff {
                run_id: name,
                server_pid: pid,
                stopped: false,
                never_submitted,
            });
            continue;
        }
        let Some(pid) = read_pid(SERVER_FILE) else {
            continue;
        };
        if pid == me || server_alive(pid) {
            continue;
        }
        let stopped = stop_launchers_of(pid);
        adopt_staged(runs_root, pid, &name, &dir);
        let _ = std::fs::rename(dir.join(SERVER_FILE), dir.join(CUT_OFF_FILE));
        out.push(CutOff {
            run_id: name,
            server_pid: pid,
            stopped,
            never_submitted,
        });
    }
    out.sort_by(|a, b| b.run_id.cmp(&a.run_id));
    out
}

/// A session call cut off mid-way left its files in its session's folder: they move into
/// its run folder (and the session's folder goes once empty).
fn adopt_staged(runs_root: &Path, pid: u32, id: &str, dir: &Path) {
    let prefix = format!("{SESSION_CALLS_PREFIX}{pid}-");
    let sessions = runs_root.with_file_name(SESSIONS_DIR);
    for calls in std::fs::read_dir(&sessions).into_iter().flatten().flatten() {
        if !calls.file_name().to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let staged = calls.path().join(id);
        for f in std::fs::read_dir(&staged).into_iter().flatten().flatten() {
            let _ = std::fs::rename(f.path(), dir.join(f.file_name()));
        }
        let _ = std::fs::remove_dir(&staged);
        let _ = std::fs::remove_dir(calls.path());
    }
}

/// Whether `pid` is a live stata-mcp process (not a reused pid).
fn server_alive(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains("stata-mcp"))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        false
    }
}

/// Stops the launchers a dead server `pid` started that are still alive (each stops its
/// Stata's tree on SIGTERM); whether there was one.
fn stop_launchers_of(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        let needle = format!("{}\0--server-pid\0{pid}\0", crate::sandbox::LAUNCHER);
        let mut found = false;
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmd).contains(&needle) {
                found = true;
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        found
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::rundir::{mark_ended, mark_running};

    #[test]
    fn a_run_of_a_dead_server_is_found_once_marked_and_listed_after() {
        let tmp = tempfile::tempdir().expect("tmp");
        let live = tmp.path().join("20261207-120000-1-0");
        let dead = tmp.path().join("20261207-120001-2-0");
        let ended = tmp.path().join("20261207-120002-3-0");
        for d in [&live, &dead, &ended] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        mark_running(&live);
        // A pid no process has (beyond the kernel's limit).
        std::fs::write(dead.join(SERVER_FILE), "4194304999").expect("write");
        let found = cut_off_runs(tmp.path());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].run_id, "20261207-120001-2-0");
        assert!(dead.join(CUT_OFF_FILE).exists() && !dead.join(SERVER_FILE).exists());
        assert_eq!(cut_off_runs(tmp.path()), found, "still listed, once marked");
        mark_ended(&live);
        assert!(!live.join(SERVER_FILE).exists());
        assert!(!found[0].never_submitted);
        // A background cluster job whose server stopped before submitting it says so.
        let unsent = tmp.path().join("20261207-120003-4-0");
        std::fs::create_dir_all(&unsent).expect("mkdir");
        std::fs::write(unsent.join(crate::run::files::BACKGROUND_FILE), "{}").expect("bg");
        std::fs::write(unsent.join(SERVER_FILE), "4194304999").expect("pid");
        let found = cut_off_runs(tmp.path());
        assert!(
            found
                .iter()
                .any(|c| c.run_id == "20261207-120003-4-0" && c.never_submitted)
        );
    }
}
