//! The records a background job or sweep leaves in its folder where its runs outlive the
//! server (cluster jobs), so a later server with the same log dir lists it again
//! (`reattach.rs`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::tasks::Sweep;
use crate::run::files::{BACKGROUND_FILE, SWEEP_FILE};
use crate::run::tool::ToolName;
use crate::runner::Runner;
use crate::runner::rundir::RunDir;

/// What [`BACKGROUND_FILE`] holds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BackgroundRecord {
    pub tool: ToolName,
    pub summary: String,
    /// The id the job had in the server that started it.
    pub job_id: String,
}

/// What [`SWEEP_FILE`] holds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SweepRecord {
    pub background: BackgroundRecord,
    pub path: PathBuf,
    pub max_parallel: usize,
    /// Each task's run id, in order.
    pub tasks: Vec<String>,
}

impl BackgroundRecord {
    pub(crate) fn read(dir: &Path) -> Option<Self> {
        read_json(&dir.join(BACKGROUND_FILE))
    }
}

impl SweepRecord {
    pub(crate) fn read(dir: &Path) -> Option<Self> {
        read_json(&dir.join(SWEEP_FILE))
    }
}

/// Marks the run in `dir` as job `id`'s, where the runner's runs outlive the server.
pub(crate) fn keep_for_later(
    runner: &Runner,
    dir: &RunDir,
    tool: ToolName,
    summary: &str,
    id: &str,
) {
    if !runner.outlives_server() {
        return;
    }
    let record = BackgroundRecord {
        tool,
        summary: summary.to_owned(),
        job_id: id.to_owned(),
    };
    write_json(&dir.path.join(BACKGROUND_FILE), &record);
}

/// Records sweep `id` in its folder, where the runner's runs outlive the server.
pub(crate) fn keep_sweep_for_later(
    runner: &Runner,
    sweep_dir: &RunDir,
    id: &str,
    summary: &str,
    sweep: &Sweep,
) {
    if !runner.outlives_server() {
        return;
    }
    let record = SweepRecord {
        background: BackgroundRecord {
            tool: ToolName::Sweep,
            summary: summary.to_owned(),
            job_id: id.to_owned(),
        },
        path: sweep.path.clone(),
        max_parallel: sweep.max_parallel,
        tasks: sweep
            .tasks
            .iter()
            .map(|t| t.run_dir.id.to_string())
            .collect(),
    };
    write_json(&sweep_dir.path.join(SWEEP_FILE), &record);
}

fn write_json<T: Serialize>(path: &Path, value: &T) {
    let written = serde_json::to_vec_pretty(value)
        .map_err(std::io::Error::other)
        .and_then(|b| crate::runner::rundir::write_private_file(path, &b));
    if let Err(e) = written {
        tracing::warn!("could not write {}: {e}", path.display());
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}
