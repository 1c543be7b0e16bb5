//! Finds the log a `stata_read_log` call names, by run id or path, and refuses any file
//! outside the log dir (symlinks resolved first).

use std::path::{Component, Path, PathBuf};

use crate::run::files::WRAPPER_LOG;
use crate::run::id::RunId;

/// The file to read, checked to be inside the log dir, and its run id when it has one.
pub fn find_log(
    log_dir: &Path,
    run_id: Option<&str>,
    path: Option<&str>,
) -> Result<(PathBuf, Option<String>), String> {
    let root = log_dir.canonicalize().map_err(|e| {
        format!(
            "the log dir {} cannot be read ({e}); no run has written a log there yet",
            log_dir.display()
        )
    })?;
    let runs = root.join("runs");
    let wanted = match (run_id, path) {
        (Some(_), Some(_)) => return Err("give either run_id or path, not both".into()),
        (None, None) => {
            return Err(
                "give run_id (from a run's result) or path (a file under the log dir)".into(),
            );
        }
        (Some(id), None) => {
            if !is_plain_name(id) {
                return Err(format!(
                    "run_id {id:?} is not a run id: run ids are plain names such as \
                     20250101-120000-4242-0, as in a run's result"
                ));
            }
            runs.join(id).join(WRAPPER_LOG)
        }
        (None, Some(p)) => {
            let p = Path::new(p);
            if p.components().any(|c| matches!(c, Component::ParentDir)) {
                return Err(format!(
                    "path {} contains `..`; give a path inside the log dir {} without `..`",
                    p.display(),
                    log_dir.display()
                ));
            }
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                log_dir.join(p)
            }
        }
    };
    let mut real = wanted.canonicalize().map_err(|e| match run_id {
        Some(id) => format!(
            "no log for run {id} ({}: {e}); check the id, or the run may have been removed \
             by the retention rule (--keep-runs, --keep-mb)",
            wanted.display()
        ),
        None => format!("{} cannot be read: {e}", wanted.display()),
    })?;
    // Symlinks are resolved by canonicalize, so this also refuses a link pointing out.
    if !real.starts_with(&root) {
        return Err(format!(
            "{} is outside the log dir {}; stata_read_log only reads the logs of runs",
            wanted.display(),
            root.display()
        ));
    }
    if real.is_dir() {
        // A run directory: its log.
        real = real.join(WRAPPER_LOG);
        if !real.is_file() {
            return Err(format!("{} has no {WRAPPER_LOG}", wanted.display()));
        }
    }
    if !real.is_file() {
        return Err(format!("{} is not a file", wanted.display()));
    }
    let run_id = real
        .parent()
        .filter(|dir| dir.parent() == Some(runs.as_path()))
        .and_then(|dir| dir.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| RunId::parse(n).is_some());
    Ok((real, run_id))
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
        let outside = tmp
            .path()
            .parent()
            .expect("parent")
            .join("secret-test-file");
        for bad in ["../x", "..", "a/b", "/etc", ".hidden", ""] {
            let err = find_log(tmp.path(), Some(bad), None).expect_err(bad);
            assert!(err.contains("not a run id"), "{bad}: {err}");
        }
        for bad in ["/etc/passwd", "runs/../../x", "../secret-test-file"] {
            let err = find_log(tmp.path(), None, Some(bad)).expect_err(bad);
            assert!(
                err.contains("outside the log dir") || err.contains("`..`"),
                "{bad}: {err}"
            );
        }
        #[cfg(unix)]
        {
            std::fs::write(&outside, "secret").expect("write");
            let link = tmp.path().join("runs").join(&id).join("link.log");
            std::os::unix::fs::symlink(&outside, &link).expect("symlink");
            let err =
                find_log(tmp.path(), None, Some(&link.to_string_lossy())).expect_err("symlink out");
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
