//! Background jobs: live runs the server has handed out an id for (`job-1`, ...), kept
//! until the server exits or they are the oldest finished ones beyond [`MAX_JOBS`].

use parking_lot::{Mutex, MutexGuard};
use std::collections::VecDeque;
use std::sync::Arc;

use super::live_run::LiveRun;
use crate::run::session_name::SessionName;
use crate::run::tool::ToolName;
use crate::runner::rundir::RunDir;

/// Jobs remembered at once. Beyond this the oldest finished jobs are forgotten (their logs
/// stay on disk), so a server that runs for weeks does not grow without bound.
pub(crate) const MAX_JOBS: usize = 200;

/// A background job: a run with the id the client follows it by.
#[derive(Debug)]
pub(crate) struct Job {
    /// `job-1`, `job-2`, ... in the order the server started them.
    pub id: String,
    /// The tool that started it.
    pub tool: ToolName,
    /// What it runs, in one short line: the code's first line or the do-file.
    pub summary: String,
    pub run: Arc<LiveRun>,
    /// Its run directory, named before the run started (so the start answer can give it).
    pub run_dir: Option<RunDir>,
    /// Session mode: the session it runs in.
    pub session: Option<SessionName>,
    /// A sweep: its tasks.
    pub sweep: Option<Arc<super::tasks::Sweep>>,
}

/// What a job id refers to.
#[derive(Debug)]
pub(crate) enum Lookup {
    Found(Arc<Job>),
    /// The id was handed out, but the job was dropped to keep at most [`MAX_JOBS`].
    Forgotten,
    /// No job ever had this id in this server.
    Unknown,
}

/// The jobs of this server, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    inner: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    /// Number of the last job id handed out.
    last: u64,
    jobs: VecDeque<Arc<Job>>,
}

impl Jobs {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.inner.lock()
    }

    /// Hands out the next job id (`job-3`), for a job about to be added.
    pub(crate) fn next_id(&self) -> String {
        let mut r = self.registry();
        r.last += 1;
        format!("job-{}", r.last)
    }

    /// Keeps `job` (its id from [`Jobs::next_id`]); the oldest finished jobs go beyond
    /// [`MAX_JOBS`].
    pub(crate) fn add(&self, job: Job) -> Arc<Job> {
        let mut r = self.registry();
        let job = Arc::new(job);
        r.jobs.push_back(job.clone());
        while r.jobs.len() > MAX_JOBS {
            match r
                .jobs
                .iter()
                .position(|j| j.run.snapshot().status.is_done())
            {
                Some(i) => {
                    r.jobs.remove(i);
                }
                // All still running: keep them, they are bounded by what Stata can run.
                None => break,
            }
        }
        job
    }

    pub(crate) fn find(&self, id: &str) -> Lookup {
        let r = self.registry();
        if let Some(job) = r.jobs.iter().find(|j| j.id == id) {
            return Lookup::Found(job.clone());
        }
        match id.strip_prefix("job-").and_then(|n| n.parse::<u64>().ok()) {
            Some(n) if n >= 1 && n <= r.last => Lookup::Forgotten,
            _ => Lookup::Unknown,
        }
    }

    /// Every job kept, the newest first.
    pub(crate) fn newest_first(&self) -> Vec<Arc<Job>> {
        self.registry().jobs.iter().rev().cloned().collect()
    }

    /// How many job ids were handed out.
    pub(crate) fn started(&self) -> u64 {
        self.registry().last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::live::LiveOutput;
    use crate::run::RunStatus;
    use crate::service::live_run::tests::outcome;
    use tokio::time::{Duration, Instant};
    use tokio_util::sync::CancellationToken;

    #[tokio::test]
    async fn ids_are_found_forgotten_or_unknown() {
        let jobs = Jobs::default();
        for _ in 0..MAX_JOBS + 2 {
            let run = LiveRun::spawn(|_l, _c| async { outcome(RunStatus::Ok) });
            let later = Instant::now() + Duration::from_secs(10);
            run.follow(&LiveOutput::new(256), later, &CancellationToken::new())
                .await;
            jobs.add(Job {
                id: jobs.next_id(),
                tool: ToolName::RunCode,
                summary: "display 1".into(),
                run,
                run_dir: None,
                session: None,
                sweep: None,
            });
        }
        assert!(matches!(jobs.find("job-1"), Lookup::Forgotten));
        assert!(matches!(jobs.find("job-3"), Lookup::Found(_)));
        assert!(matches!(jobs.find("job-999"), Lookup::Unknown));
        assert!(matches!(jobs.find("nonsense"), Lookup::Unknown));
        let list = jobs.newest_first();
        assert_eq!(list.len(), MAX_JOBS);
        assert_eq!(list[0].id, format!("job-{}", MAX_JOBS + 2));
    }
}
