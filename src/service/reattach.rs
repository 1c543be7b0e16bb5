//! Cluster jobs outlive the server: a background run or sweep in slurm mode records itself
//! in its run folder, and a later server with the same log dir lists it again in
//! `stata_job {}` and follows it to its end.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::Service;
use super::jobs::Job;
use super::live_run::LiveRun;
use super::tasks::{Sweep, Task};
use crate::run::files::{BACKGROUND_FILE, SWEEP_FILE};
use crate::run::id::RunId;
use crate::runner::Runner;
use crate::runner::request::RunRequest;
use crate::runner::rundir::RunDir;
use crate::runner::slurm::Submitted;
use crate::runner::slurm::record::{JobRecord, has_ended, mark_ended};

/// What [`BACKGROUND_FILE`] holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct BackgroundRecord {
    pub tool: String,
    pub summary: String,
    /// The id the job had in the server that started it.
    pub job_id: String,
}

/// What [`SWEEP_FILE`] holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct SweepRecord {
    pub background: BackgroundRecord,
    pub path: std::path::PathBuf,
    pub max_parallel: usize,
    /// Each task's run id, in order.
    pub tasks: Vec<String>,
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

impl Service {
    /// Slurm mode: marks the run in `dir` as job `id`'s, so a later server re-attaches it.
    pub fn keep_for_later(&self, dir: &RunDir, tool: &str, summary: &str, id: &str) {
        if !matches!(self.runner, Runner::Slurm(_)) {
            return;
        }
        let record = BackgroundRecord {
            tool: tool.to_owned(),
            summary: summary.to_owned(),
            job_id: id.to_owned(),
        };
        write_json(&dir.path.join(BACKGROUND_FILE), &record);
    }

    /// Slurm mode: records sweep `id` in its folder, for a later server.
    pub fn keep_sweep_for_later(&self, sweep_dir: &RunDir, id: &str, summary: &str, sweep: &Sweep) {
        if !matches!(self.runner, Runner::Slurm(_)) {
            return;
        }
        let record = SweepRecord {
            background: BackgroundRecord {
                tool: "stata_sweep".to_owned(),
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

    /// Slurm mode: the background runs and sweeps an earlier server left running, each
    /// followed again as a job of this server; how many.
    pub fn reattach(self: &Arc<Self>) -> usize {
        if !matches!(self.runner, Runner::Slurm(_)) {
            return 0;
        }
        let Ok(entries) = std::fs::read_dir(self.dirs.root()) else {
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
            if let Some(rec) = read_json::<SweepRecord>(&dir.path.join(SWEEP_FILE)) {
                if has_ended(&dir.path) {
                    continue;
                }
                count += usize::from(self.reattach_sweep(dir, rec));
            } else if let Some(bg) = read_json::<BackgroundRecord>(&dir.path.join(BACKGROUND_FILE))
                && !has_ended(&dir.path)
                && let Some(rec) = JobRecord::load(&dir.path)
            {
                self.reattach_run(dir, bg, rec);
                count += 1;
            }
        }
        count
    }

    fn reattach_run(self: &Arc<Self>, dir: RunDir, bg: BackgroundRecord, rec: JobRecord) {
        let id = self.jobs.next_id();
        let service = self.clone();
        let run_dir = dir.clone();
        self.dirs.adopt(dir.id);
        let run = LiveRun::spawn(move |live, cancel| async move {
            let Runner::Slurm(slurm) = &service.runner else {
                unreachable!("re-attached only in slurm mode")
            };
            let req = request_of(&rec, &run_dir);
            let sub = Submitted {
                key: rec.slurm_job.clone(),
                output: rec.output.clone(),
            };
            let o = slurm
                .follow(&sub, &run_dir, &req, live, cancel, Instant::now(), &|| {})
                .await;
            service.finish_run(o, &rec.cwd, None, Vec::new()).await
        });
        self.jobs.add(Job {
            id,
            tool: bg.tool,
            summary: format!(
                "{} (re-attached: {} of an earlier server)",
                bg.summary, bg.job_id
            ),
            run,
            run_dir: Some(dir),
            session: None,
            sweep: None,
        });
    }

    fn reattach_sweep(self: &Arc<Self>, sweep_dir: RunDir, rec: SweepRecord) -> bool {
        let mut tasks = Vec::new();
        let mut reqs = Vec::new();
        for (index, run_id) in rec.tasks.iter().enumerate() {
            let Some(id) = RunId::parse(run_id) else {
                return false;
            };
            let dir = RunDir {
                id,
                path: self.dirs.root().join(run_id),
            };
            let Some(job) = JobRecord::load(&dir.path) else {
                return false;
            };
            self.dirs.adopt(id);
            tasks.push(Task::new(index, job.source.args().to_vec(), dir.clone()));
            reqs.push((request_of(&job, &dir), job));
        }
        let sweep = Arc::new(Sweep::new(rec.path.clone(), tasks, rec.max_parallel));
        let id = self.jobs.next_id();
        self.dirs.adopt(sweep_dir.id);
        let (service, of_run, dir) = (self.clone(), sweep.clone(), sweep_dir.clone());
        let run = LiveRun::spawn(move |live, cancel| async move {
            let subs = reqs
                .into_iter()
                .map(|(req, job)| {
                    let sub = Submitted {
                        key: job.slurm_job,
                        output: job.output,
                    };
                    (req, Some(sub))
                })
                .collect();
            let o = service.follow_sweep(&of_run, subs, live, cancel).await;
            mark_ended(&dir.path);
            service.dirs.finished(dir.id);
            o
        });
        self.jobs.add(Job {
            id,
            tool: rec.background.tool,
            summary: format!(
                "{} (re-attached: {} of an earlier server)",
                rec.background.summary, rec.background.job_id
            ),
            run,
            run_dir: None,
            session: None,
            sweep: Some(sweep),
        });
        true
    }
}

/// The request a recorded run was made from, as far as following it needs.
fn request_of(rec: &JobRecord, dir: &RunDir) -> RunRequest {
    RunRequest {
        stata: rec.stata.clone(),
        source: rec.source.clone(),
        cwd: rec.cwd.clone(),
        change_dir: true,
        run_dir: Some(dir.clone()),
        turn: None,
        timeout: rec.timeout(),
        session: Default::default(),
        label: String::new(),
        sandbox: None,
        detach: {
            let d = crate::runner::request::Detach::default();
            d.set();
            d
        },
        notes: Vec::new(),
    }
}
