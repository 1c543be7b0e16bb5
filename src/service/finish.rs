//! What every run's outcome gets once the runner is done, whoever ran it: the sandbox's and
//! the call's notes, its folder sealed, its graphs as images, old runs trimmed.

use std::path::Path;

use super::{Service, graphs};
use crate::run::RunOutcome;
use crate::sandbox::Plan;

impl Service {
    /// What every run's outcome gets once the runner is done: the sandbox's and the call's
    /// notes, the run folder sealed, graphs as images, retention.
    pub async fn finish_run(
        &self,
        mut outcome: RunOutcome,
        cwd: &Path,
        plan: Option<&Plan>,
        mut notes: Vec<String>,
    ) -> RunOutcome {
        self.sandbox_notes(plan, &mut outcome);
        notes.append(&mut outcome.notes);
        outcome.notes = notes;
        seal_run_dir(&outcome);
        graphs::attach(&self.settings, &mut outcome, cwd).await;
        // The run has ended: retention may count its folder like any other now.
        if let Some(id) = outcome.run_id {
            self.dirs.finished(id);
        }
        self.retention.spawn_sweep();
        outcome
    }
}

/// Closes a run's folder: notes beside its log where the user's output lies in it (so
/// `stata_read_log` can show that part alone) and makes its files the user's only.
fn seal_run_dir(outcome: &RunOutcome) {
    let Some(dir) = outcome.log_path.as_deref().and_then(Path::parent) else {
        return;
    };
    if let Some(region) = &outcome.user_region {
        let path = dir.join(crate::run::files::REGION_FILE);
        if let Err(e) = crate::runner::rundir::write_private_file(
            &path,
            crate::run::files::region_text(region).as_bytes(),
        ) {
            tracing::warn!("could not write {}: {e}", path.display());
        }
    }
    crate::runner::rundir::make_files_private(dir);
}
