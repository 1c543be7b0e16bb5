//! A run handed to the runner but not yet followed: a local one, which starts when it is
//! followed (after its turn among a sweep's tasks), or a job already submitted to a cluster.

use std::sync::Arc;

use super::request::{Detach, RunRequest};
use super::rundir::RunDir;
use super::slurm::Submitted;
use super::slurm::record::JobRecord;
use tokio::sync::Semaphore;

/// A run the runner holds until it is followed ([`super::Runner::follow`]).
pub(crate) struct Pending {
    pub(super) req: RunRequest,
    pub(super) place: Place,
}

/// Where a pending run is.
pub(super) enum Place {
    /// Not started: it runs here once one of `turns` is free (a sweep's `max_parallel`).
    Local { turns: Option<Arc<Semaphore>> },
    /// On the cluster as `job`; the cluster's own limit bounds how many run at once.
    Cluster(Submitted),
}

impl Pending {
    pub(super) fn local(req: RunRequest, turns: Option<Arc<Semaphore>>) -> Self {
        Self {
            req,
            place: Place::Local { turns },
        }
    }

    pub(super) fn on_cluster(req: RunRequest, job: Submitted) -> Self {
        Self {
            req,
            place: Place::Cluster(job),
        }
    }

    /// The cluster job recorded in `dir`, as far as following it needs (its request is
    /// remade from the record a server left there).
    pub(super) fn recorded(dir: &RunDir) -> Option<Self> {
        let rec = JobRecord::load(&dir.path)?;
        let detach = Detach::default();
        detach.set();
        let req = RunRequest {
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
            detach,
            notes: Vec::new(),
        };
        let job = Submitted {
            key: rec.slurm_job,
            output: rec.output,
        };
        Some(Self::on_cluster(req, job))
    }

    /// What the run was asked to do.
    pub(crate) fn request(&self) -> &RunRequest {
        &self.req
    }

    /// The lines its result starts its notes with, taken out of the request.
    pub(crate) fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.req.notes)
    }
}
