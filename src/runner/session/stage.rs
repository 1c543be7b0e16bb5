//! A session's calls write in a folder of the session's own (`sessions/calls-<pid>-<name>/
//! <run id>/`), moved into the call's run folder once the call is over: confined, a session's
//! Stata may write there and nowhere else in the log dir, so it cannot rewrite another run's log.

use std::path::{Path, PathBuf};

use crate::run::RunOutcome;
use crate::run::files::{SESSION_CALLS_PREFIX, SESSIONS_DIR, WRAPPER_LOG};
use crate::run::session_name::SessionName;
use crate::runner::rundir::{RunDir, ensure_private_dir};

/// The folder the calls of session `name` of this server write in.
pub(crate) fn root(runs: &Path, name: &SessionName) -> PathBuf {
    runs.with_file_name(SESSIONS_DIR).join(format!(
        "{SESSION_CALLS_PREFIX}{}-{name}",
        std::process::id()
    ))
}

/// The folder a call whose run folder is `dir` writes in while it runs.
pub(crate) fn of(root: &Path, dir: &RunDir) -> Result<RunDir, String> {
    let path = root.join(dir.id.to_string());
    ensure_private_dir(&path).map_err(|e| format!("could not create {}: {e}", path.display()))?;
    Ok(RunDir { id: dir.id, path })
}

/// Moves what the call wrote (its log, code, graphs) into its run folder under `runs`, and
/// points the outcome's paths there.
pub(crate) fn settle(outcome: &mut RunOutcome, runs: &Path) {
    let (Some(id), Some(stage)) = (
        outcome.run_id,
        outcome.log_path.as_deref().and_then(Path::parent),
    ) else {
        return;
    };
    let stage = stage.to_path_buf();
    let dir = runs.join(id.to_string());
    if stage == dir || !stage.is_dir() {
        return;
    }
    for entry in std::fs::read_dir(&stage).into_iter().flatten().flatten() {
        let to = dir.join(entry.file_name());
        if let Err(e) = std::fs::rename(entry.path(), &to) {
            tracing::warn!(
                "could not move {} to {}: {e}",
                entry.path().display(),
                to.display()
            );
        }
    }
    let _ = std::fs::remove_dir(&stage);
    outcome.log_path = Some(dir.join(WRAPPER_LOG));
    for g in &mut outcome.graphs {
        if let Ok(rel) = g.strip_prefix(&stage) {
            *g = dir.join(rel);
        }
    }
}
