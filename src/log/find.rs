//! Finds the log a `stata_read_log` call names, by run id or path, and refuses any file
//! outside the log dir (symlinks resolved first).

use std::path::{Component, Path, PathBuf};

use super::read_error::ReadError;
use crate::run::files::{SESSION_CALLS_PREFIX, SESSIONS_DIR, WRAPPER_LOG};
use crate::run::id::RunId;

/// The file to read, checked to be inside the log dir, and its run id when it has one.
pub(crate) fn find_log(
    log_dir: &Path,
    run_id: Option<&str>,
    path: Option<&str>,
) -> Result<(PathBuf, Option<String>), ReadError> {
    let root = log_dir
        .canonicalize()
        .map_err(|source| ReadError::NoLogDir {
            dir: log_dir.to_path_buf(),
            source,
        })?;
    let runs = root.join("runs");
    let wanted = match (run_id, path) {
        (Some(_), Some(_)) => {
            return Err(ReadError::Arguments("give either run_id or path, not both"));
        }
        (None, None) => {
            return Err(ReadError::Arguments(
                "give run_id (from a run's result) or path (a file under the log dir)",
            ));
        }
        (Some(id), None) => {
            if !is_plain_name(id) {
                return Err(ReadError::NotARunId(id.to_owned()));
            }
            let done = runs.join(id).join(WRAPPER_LOG);
            // A session call still going writes its log in its session's own folder.
            match done.is_file() {
                true => done,
                false => staged_log(&root, id).unwrap_or(done),
            }
        }
        (None, Some(p)) => {
            let p = Path::new(p);
            if p.components().any(|c| matches!(c, Component::ParentDir)) {
                return Err(ReadError::ParentDir {
                    path: p.to_path_buf(),
                    log_dir: log_dir.to_path_buf(),
                });
            }
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                log_dir.join(p)
            }
        }
    };
    let mut real = wanted.canonicalize().map_err(|source| match run_id {
        Some(id) => ReadError::NoRunLog {
            id: id.to_owned(),
            path: wanted.clone(),
            source,
        },
        None => ReadError::Unreadable {
            path: wanted.clone(),
            source,
        },
    })?;
    // Symlinks are resolved by canonicalize, so this also refuses a link pointing out.
    if !real.starts_with(&root) {
        return Err(ReadError::Outside { path: wanted, root });
    }
    if real.is_dir() {
        // A run directory: its log.
        real = real.join(WRAPPER_LOG);
        if !real.is_file() {
            return Err(ReadError::NoRunLogFile(wanted));
        }
    }
    if !real.is_file() {
        return Err(ReadError::NotAFile(wanted));
    }
    let run_id = real
        .parent()
        .filter(|dir| dir.parent() == Some(runs.as_path()) || run_id.is_some())
        .and_then(|dir| dir.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| RunId::parse(n).is_some());
    Ok((real, run_id))
}

/// Opens `path` (found by [`find_log`], so inside the log dir) again from the log dir down,
/// following no link on the way: a file swapped for a link after the check is refused.
pub(crate) fn open_found(log_dir: &Path, path: &Path) -> std::io::Result<std::fs::File> {
    let root = log_dir.canonicalize()?;
    let rel = path
        .strip_prefix(&root)
        .map_err(|_| std::io::Error::other("outside the log dir"))?;
    super::beneath::open_beneath(&root, rel)
}

/// Where the log of run `id` is while its session call is still going, if it is one.
fn staged_log(log_dir: &Path, id: &str) -> Option<PathBuf> {
    std::fs::read_dir(log_dir.join(SESSIONS_DIR))
        .ok()?
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(SESSION_CALLS_PREFIX)
        })
        .map(|e| e.path().join(id).join(WRAPPER_LOG))
        .find(|p| p.is_file())
}

/// A name with no path in it: letters, digits, `-`, `_`, `.`, not starting with a dot.
fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A log dir with one run whose log is `log`.
    pub(crate) fn log_dir_with(log: &[u8]) -> (tempfile::TempDir, String) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let id = "20250101-120000-4242-0".to_owned();
        let run = tmp.path().join("runs").join(&id);
        std::fs::create_dir_all(&run).expect("mkdir");
        std::fs::write(run.join("run.log"), log).expect("write");
        (tmp, id)
    }

    #[test]
    fn refuses_what_is_not_a_log_of_a_run() {
        let (tmp, id) = log_dir_with(b"x\n");
        for bad in ["../x", "..", "a/b", "/etc", ".hidden", ""] {
            let err = find_log(tmp.path(), Some(bad), None)
                .expect_err(bad)
                .to_string();
            assert!(err.contains("not a run id"), "{bad}: {err}");
        }
        for bad in ["/etc/passwd", "runs/../../x", "../secret-test-file"] {
            let err = find_log(tmp.path(), None, Some(bad))
                .expect_err(bad)
                .to_string();
            assert!(
                err.contains("outside the log dir") || err.contains("`..`"),
                "{bad}: {err}"
            );
        }
        #[cfg(unix)]
        {
            let outside = tmp
                .path()
                .parent()
                .expect("parent")
                .join("secret-test-file");
            std::fs::write(&outside, "secret").expect("write");
            let link = tmp.path().join("runs").join(&id).join("link.log");
            std::os::unix::fs::symlink(&outside, &link).expect("symlink");
            let err = find_log(tmp.path(), None, Some(&link.to_string_lossy()))
                .expect_err("symlink out")
                .to_string();
            assert!(err.contains("outside the log dir"), "{err}");
            let _ = std::fs::remove_file(&outside);
        }
        // Inside is fine, by absolute path, relative path or run directory.
        let abs = tmp.path().join("runs").join(&id).join("run.log");
        for ok in [
            abs.to_string_lossy().into_owned(),
            format!("runs/{id}/run.log"),
            format!("runs/{id}"),
        ] {
            let (path, run_id) =
                find_log(tmp.path(), None, Some(&ok)).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(path, abs.canonicalize().expect("real path"));
            assert_eq!(run_id.as_deref(), Some(id.as_str()));
        }
    }
}
