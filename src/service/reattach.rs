//! Cluster jobs outlive the server: a later server with the same log dir finds the
//! background runs and sweeps an earlier one left running (`records.rs`), lists them again in
//! `stata_job {}` and follows each to its end.

use std::sync::Arc;

use super::background::Background;
use super::jobs::Job;
use super::live_run::LiveRun;
use super::records::{BackgroundRecord, SweepRecord};
use super::sweep::follow_sweep;
use super::tasks::{Sweep, Task};
use crate::run::id::RunId;
use crate::runner::follow::Watch;
use crate::runner::pending::Pending;
use crate::runner::rundir::RunDir;

impl Background {
    /// The background runs and sweeps an earlier server left running, each followed again
    /// as a job of this server; how many.
    pub(crate) fn reattach(&self) -> usize {
        let runner = &self.shared.runner;
        if !runner.outlives_server() {
            return 0;
        }
        let Ok(entries) = std::fs::read_dir(self.shared.dirs.root()) else {
            return 0;
        };
        let mut dirs: Vec<RunDir> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let id = RunId::parse(&name.to_string_lossy())?;
                Some(RunDir { id, path: e.path() })
            })
            .collect();
        // Oldest first, so the jobs get ids in the order they were started.
        dirs.sort_by_key(|d| d.id.to_string());
        let mut count = 0;
        for dir in dirs {
            if runner.has_ended(&dir.path) {
                continue;
            }
            if let Some(rec) = SweepRecord::read(&dir.path) {
                count += usize::from(self.reattach_sweep(dir, rec));
            } else if let Some(bg) = BackgroundRecord::read(&dir.path)
                && let Some(pending) = runner.pending_in(&dir)
            {
                self.reattach_run(dir, bg, pending);
                count += 1;
            }
        }
        count
    }

    fn reattach_run(&self, dir: RunDir, bg: BackgroundRecord, pending: Pending) {
        let id = self.jobs.next_id();
        let shared = self.shared.clone();
        self.shared.dirs.adopt(dir.id);
        let run = LiveRun::spawn(move |live, cancel| async move {
            let watch = Watch {
                live,
                cancel,
                on_start: &|| {},
                on_end: &|| {},
            };
            shared.follow(pending, watch).await
        });
        self.jobs.add(Job {
            id,
            tool: bg.tool,
            summary: reattached(&bg),
            run,
            run_dir: Some(dir),
            session: None,
            sweep: None,
        });
    }

    fn reattach_sweep(&self, sweep_dir: RunDir, rec: SweepRecord) -> bool {
        let runner = &self.shared.runner;
        let mut tasks = Vec::new();
        let mut pendings = Vec::new();
        for (index, run_id) in rec.tasks.iter().enumerate() {
            let Some(id) = RunId::parse(run_id) else {
                return false;
            };
            let dir = RunDir {
                id,
                path: self.shared.dirs.root().join(run_id),
            };
            let Some(pending) = runner.pending_in(&dir) else {
                return false;
            };
            self.shared.dirs.adopt(id);
            tasks.push(Task::new(
                index,
                pending.request().source.args().to_vec(),
                dir,
            ));
            pendings.push(pending);
        }
        let sweep = Arc::new(Sweep::new(rec.path.clone(), tasks, rec.max_parallel));
        let id = self.jobs.next_id();
        self.shared.dirs.adopt(sweep_dir.id);
        let (shared, of_run) = (self.shared.clone(), sweep.clone());
        let run = LiveRun::spawn(move |live, cancel| async move {
            let o = follow_sweep(&shared, &of_run, pendings, live, cancel).await;
            shared.runner.close(&sweep_dir);
            o
        });
        self.jobs.add(Job {
            id,
            tool: rec.background.tool,
            summary: reattached(&rec.background),
            run,
            run_dir: None,
            session: None,
            sweep: Some(sweep),
        });
        true
    }
}

/// A re-attached job's summary: what it runs, and whose it was.
fn reattached(bg: &BackgroundRecord) -> String {
    format!(
        "{} (re-attached: {} of an earlier server)",
        bg.summary, bg.job_id
    )
}
