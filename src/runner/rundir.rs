//! Run directories under the log dir: a fresh, private folder per run, named by its run id.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::wrapper::CODE_FILE;

/// The default place for logs: the user's cache folder, else the temp folder.
pub fn default_log_dir() -> PathBuf {
    let cache = if cfg!(target_os = "macos") {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Library/Caches"))
    } else if cfg!(windows) {
        std::env::var_os("LOCALAPPDATA").map(PathBuf::from)
    } else {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
    };
    cache.unwrap_or_else(std::env::temp_dir).join("stata-mcp")
}

/// Hands out run directories `<log dir>/runs/<run id>/`.
pub struct RunDirs {
    root: PathBuf,
    seq: AtomicU64,
}

/// One run's folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
}

impl RunDir {
    /// Writes `name` in the run directory, readable by the user only; says what failed.
    pub fn write_private(&self, name: &str, text: &str) -> Result<PathBuf, String> {
        let path = self.path.join(name);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        opts.open(&path)
            .and_then(|mut f| io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(|e| format!("could not write {}: {e}", path.display()))?;
        Ok(path)
    }

    /// Writes the code of a `stata_run_code` call as the run's do-file. It always ends in
    /// a newline: some Stata versions ignore a last line without one.
    pub fn write_code(&self, code: &str) -> Result<PathBuf, String> {
        if code.ends_with('\n') {
            self.write_private(CODE_FILE, code)
        } else {
            self.write_private(CODE_FILE, &format!("{code}\n"))
        }
    }
}

impl RunDirs {
    pub fn new(log_dir: &Path) -> Self {
        Self {
            root: log_dir.join("runs"),
            seq: AtomicU64::new(0),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The run directory for a run: the one made in advance, or a new one; the error says
    /// what to do.
    pub fn for_run(&self, planned: Option<&RunDir>) -> Result<RunDir, String> {
        if let Some(dir) = planned {
            return Ok(dir.clone());
        }
        self.create().map_err(|e| {
            format!(
                "could not create a run directory under {}: {e}. Check that the log directory \
                 is writable, or choose another with --log-dir / STATA_MCP_LOG_DIR.",
                self.root.display()
            )
        })
    }

    /// Creates a new, empty run directory readable by the user only (data may be confidential).
    pub fn create(&self) -> io::Result<RunDir> {
        create_private_dir_all(&self.root)?;
        loop {
            let seq = self.seq.fetch_add(1, Ordering::Relaxed);
            let id = format!(
                "{}-{}-{seq}",
                utc_stamp(SystemTime::now()),
                std::process::id()
            );
            let path = self.root.join(&id);
            match create_private_dir(&path) {
                Ok(()) => return Ok(RunDir { id, path }),
                // Another server with the same pid in the same second (pid reuse): next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

fn create_private_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// `YYYYMMDD-HHMMSS` in UTC, so names made of it sort by time.
pub fn utc_stamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_414), (2025, 11, 22));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

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
