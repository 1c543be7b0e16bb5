//! A cluster run's record in its run folder: which SLURM job runs it and what it runs, so a
//! later server with the same log dir can follow the job to its end.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::run::RunSource;
use crate::run::files::{SLURM_ENDED_FILE, SLURM_JOB_FILE};
use crate::runner::request::RunRequest;

/// What [`SLURM_JOB_FILE`] holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct JobRecord {
    /// The job (`12`) or array task (`12_3`) as `squeue` names it.
    pub slurm_job: String,
    /// The job's own stdout and stderr (`--output`).
    pub output: PathBuf,
    pub stata: PathBuf,
    pub source: RunSource,
    pub cwd: PathBuf,
    pub timeout_s: u64,
    /// When it was submitted, in seconds since 1970.
    pub submitted: u64,
}

impl JobRecord {
    pub(crate) fn new(slurm_job: String, output: PathBuf, req: &RunRequest) -> Self {
        Self {
            slurm_job,
            output,
            stata: req.stata.clone(),
            source: req.source.clone(),
            cwd: req.cwd.clone(),
            timeout_s: req.timeout.as_secs(),
            submitted: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// Writes the record in `dir` (a failure is only logged: the run goes on, it just cannot
    /// be re-attached by a later server).
    pub(crate) fn save(&self, dir: &Path) {
        let path = dir.join(SLURM_JOB_FILE);
        let written = serde_json::to_vec_pretty(self)
            .map_err(std::io::Error::other)
            .and_then(|bytes| crate::runner::rundir::write_private_file(&path, &bytes));
        if let Err(e) = written {
            tracing::warn!("could not write {}: {e}", path.display());
        }
    }

    pub(crate) fn load(dir: &Path) -> Option<Self> {
        let bytes = std::fs::read(dir.join(SLURM_JOB_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The run's time limit, counted from its submission (a later server's is what is left).
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_s)
    }
}

/// Marks the run in `dir` as over: a later server does not follow it again.
pub(crate) fn mark_ended(dir: &Path) {
    if let Err(e) = crate::runner::rundir::write_private_file(&dir.join(SLURM_ENDED_FILE), b"") {
        tracing::warn!("could not mark {} as ended: {e}", dir.display());
    }
}

/// Whether `dir` is a cluster run (or a sweep's folder) that was not followed to its end:
/// its job may still be on the cluster, so its folder must stay.
pub(crate) fn may_still_run(dir: &Path) -> bool {
    (dir.join(SLURM_JOB_FILE).exists() || dir.join(crate::run::files::SWEEP_FILE).exists())
        && !has_ended(dir)
}

/// Whether the run in `dir` is over (its result was made).
pub(crate) fn has_ended(dir: &Path) -> bool {
    dir.join(SLURM_ENDED_FILE).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_saved() {
        let dir = tempfile::tempdir().expect("tmp");
        let rec = JobRecord {
            slurm_job: "12_3".into(),
            output: dir.path().join("slurm.out"),
            stata: "/opt/stata/stata-mp".into(),
            source: RunSource::File {
                path: "/w/a.do".into(),
                args: vec!["x y".into()],
            },
            cwd: "/w".into(),
            timeout_s: 60,
            submitted: 1,
        };
        assert!(!may_still_run(dir.path()), "not a cluster run");
        rec.save(dir.path());
        assert_eq!(JobRecord::load(dir.path()), Some(rec));
        assert!(!has_ended(dir.path()));
        assert!(may_still_run(dir.path()));
        mark_ended(dir.path());
        assert!(has_ended(dir.path()));
        assert!(!may_still_run(dir.path()));
    }
}
