//! Run directories under the log dir: a fresh, private folder per run, named by its run id.

use parking_lot::Mutex;
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::run::files::{CODE_FILE, SERVER_FILE};
use crate::run::id::RunId;

/// Why a run directory or a file in it could not be made; the text says what to do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunDirError {
    #[error(
        "could not create a run directory under {}: {source}. Check that the log directory \
         is writable, or choose another with --log-dir / STATA_MCP_LOG_DIR.",
        root.display()
    )]
    Create { root: PathBuf, source: io::Error },
    #[error("could not write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Hands out run directories `<log dir>/runs/<run id>/`.
pub(crate) struct RunDirs {
    root: PathBuf,
    seq: AtomicU64,
    /// The runs whose directories this server made and whose runs have not ended: the
    /// only ones of this server that retention must keep whatever the count.
    live: Mutex<HashSet<RunId>>,
}

/// One run's folder.
#[derive(Debug, Clone)]
pub(crate) struct RunDir {
    pub id: RunId,
    pub path: PathBuf,
}

impl RunDir {
    /// Writes `name` in the run directory, readable by the user only; says what failed.
    pub(crate) fn write_private(&self, name: &str, text: &str) -> Result<PathBuf, RunDirError> {
        let path = self.path.join(name);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        opts.open(&path)
            .and_then(|mut f| io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(|source| RunDirError::Write {
                path: path.clone(),
                source,
            })?;
        Ok(path)
    }

    /// Writes the code of a `stata_run_code` call as the run's do-file. It always ends in
    /// a newline: some Stata versions ignore a last line without one.
    pub(crate) fn write_code(&self, code: &str) -> Result<PathBuf, RunDirError> {
        if code.ends_with('\n') {
            self.write_private(CODE_FILE, code)
        } else {
            self.write_private(CODE_FILE, &format!("{code}\n"))
        }
    }
}

impl RunDirs {
    pub(crate) fn new(log_dir: &Path) -> Self {
        Self {
            root: log_dir.join("runs"),
            seq: AtomicU64::new(0),
            live: Mutex::new(HashSet::new()),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The run directory for a run: the one made in advance, or a new one; the error says
    /// what to do.
    pub(crate) fn for_run(&self, planned: Option<&RunDir>) -> Result<RunDir, RunDirError> {
        if let Some(dir) = planned {
            return Ok(dir.clone());
        }
        self.create().map_err(|source| RunDirError::Create {
            root: self.root.clone(),
            source,
        })
    }

    fn live_runs(&self) -> parking_lot::MutexGuard<'_, HashSet<RunId>> {
        self.live.lock()
    }

    /// The run `id`, made by an earlier server, is followed by this one until it ends
    /// (a cluster job re-attached): retention keeps it meanwhile.
    pub(crate) fn adopt(&self, id: RunId) {
        self.live_runs().insert(id);
    }

    /// The run `id` has ended: its directory is now like any other for retention.
    pub(crate) fn finished(&self, id: RunId) {
        self.live_runs().remove(&id);
        mark_ended(&self.root.join(id.to_string()));
    }

    /// Whether `id` is a run of this server that has not ended.
    pub(crate) fn in_use(&self, id: &RunId) -> bool {
        self.live_runs().contains(id)
    }

    /// Creates a new, empty run directory readable by the user only (data may be confidential).
    pub(crate) fn create(&self) -> io::Result<RunDir> {
        ensure_private_dir(&self.root)?;
        loop {
            let seq = self.seq.fetch_add(1, Ordering::Relaxed);
            let id = RunId::new(SystemTime::now(), seq);
            let path = self.root.join(id.to_string());
            match create_private_dir(&path, false) {
                Ok(()) => {
                    self.live_runs().insert(id);
                    mark_running(&path);
                    return Ok(RunDir { id, path });
                }
                // Another server with the same pid in the same second (pid reuse): next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Writes `bytes` to `path`, a file readable by the user only, replacing what it held; a
/// symlink there (planted by code that could write in the folder) is refused, not followed.
pub(crate) fn write_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(nix::libc::O_NOFOLLOW);
    }
    let mut file = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    io::Write::write_all(&mut file, bytes)
}

/// Makes sure `path` (and any missing parent) exists and is the user's only: created so, or
/// tightened if an earlier version left it readable by others.
pub(crate) fn ensure_private_dir(path: &Path) -> io::Result<()> {
    create_private_dir(path, true)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode != 0o700 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Records in the run folder `dir` that this server runs it (see `cutoff.rs`).
pub(crate) fn mark_running(dir: &Path) {
    let pid = std::process::id().to_string();
    if let Err(e) = write_private_file(&dir.join(SERVER_FILE), pid.as_bytes()) {
        tracing::debug!("could not mark {} as running: {e}", dir.display());
    }
}

/// Records in the run folder `dir` that its run has ended.
pub(crate) fn mark_ended(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(SERVER_FILE));
}

/// Makes the log dir the user's only (created so, or tightened, saying so on stderr when it
/// was open to others); a failure is said, not fatal: each run folder is private anyway.
pub(crate) fn tighten_log_dir(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                "the log dir {} was readable by others; it is now the user's only (0700), as \
                 its runs hold the user's data",
                dir.display()
            );
        }
    }
    if let Err(e) = ensure_private_dir(dir) {
        tracing::warn!(
            "could not make the log dir {} the user's only: {e}; each run's folder still is",
            dir.display()
        );
    }
}

/// Makes the files directly in `dir` readable by the user only. Stata creates its logs with
/// the user's umask (often 0644); the folder is private already, but a copied or moved log
/// should not become readable by others.
pub(crate) fn make_files_private(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            // Not following symlinks: a link to a user's file is not ours to change.
            if entry.file_type().is_ok_and(|t| t.is_file())
                && let Err(e) =
                    std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))
            {
                tracing::debug!("could not make {} private: {e}", entry.path().display());
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Creates `path` readable by the user only (with its parents when `recursive`).
fn create_private_dir(path: &Path, recursive: bool) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(recursive);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dirs_are_unique_and_private() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dirs = RunDirs::new(tmp.path());
        let a = dirs.create().expect("create");
        let b = dirs.create().expect("create");
        assert_ne!(a.path, b.path);
        assert!(a.path.is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&a.path)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }
}
