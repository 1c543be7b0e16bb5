//! Why a log could not be read for `stata_read_log`, each in words that say what to do.

use std::io;
use std::path::PathBuf;

use crate::run::files::WRAPPER_LOG;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The arguments do not fit together (or one is out of range).
    #[error("{0}")]
    Arguments(&'static str),
    #[error(
        "offset {offset} is past the end of the log ({total} bytes); pass an offset between 0 \
         and {total}"
    )]
    PastEnd { offset: u64, total: u64 },
    #[error(
        "the log dir {} cannot be read ({source}); no run has written a log there yet",
        dir.display()
    )]
    NoLogDir { dir: PathBuf, source: io::Error },
    #[error(
        "run_id {0:?} is not a run id: run ids are plain names such as 20250101-120000-4242-0, \
         as in a run's result"
    )]
    NotARunId(String),
    #[error(
        "path {} contains `..`; give a path inside the log dir {} without `..`",
        path.display(),
        log_dir.display()
    )]
    ParentDir { path: PathBuf, log_dir: PathBuf },
    #[error(
        "no log for run {id} ({}: {source}); check the id, or the run may have been removed by \
         the retention rule (--keep-runs, --keep-mb)",
        path.display()
    )]
    NoRunLog {
        id: String,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{} cannot be read: {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
    #[error(
        "{} is outside the log dir {}; stata_read_log only reads the logs of runs",
        path.display(),
        root.display()
    )]
    Outside { path: PathBuf, root: PathBuf },
    #[error("{} has no {WRAPPER_LOG}", .0.display())]
    NoRunLogFile(PathBuf),
    #[error("{} is not a file", .0.display())]
    NotAFile(PathBuf),
    /// Reading the file itself failed: `what` is the step (`open the log`, ...).
    #[error("could not {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}
