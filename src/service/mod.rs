//! What the tools share, with no MCP types, in parts with one job each: `Calls` turns a call
//! into a run request, `Background` keeps the runs that outlive their call (jobs, sweeps,
//! re-attached cluster jobs), `Queries` answers questions from a live session, `Record` keeps
//! and replays the research record. They share a `Shared` core: the settings, the runner, the
//! run folders and the client.

pub(crate) mod background;
pub(crate) mod calls;
pub(crate) mod folders;
pub(crate) mod images;
pub(crate) mod jobs;
pub(crate) mod live_run;
pub(crate) mod queries;
pub(crate) mod reattach;
pub(crate) mod record;
pub(crate) mod records;
pub(crate) mod retention;
pub(crate) mod sandbox;
pub(crate) mod sessions;
pub(crate) mod shared;
pub(crate) mod shell_guard;
pub(crate) mod sweep;
pub(crate) mod tasks;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::runner::session::pool::{PoolError, SessionPool};
use crate::settings::Settings;
use background::Background;
use calls::Calls;
use queries::{Queries, QueryError};
use record::answers::Record;
use sessions::SessionJson;
use shared::Shared;

/// The service: its three parts over the state they share.
pub(crate) struct Service {
    pub shared: Arc<Shared>,
    pub calls: Calls,
    pub background: Background,
    pub queries: Queries,
    pub record: Record,
}

impl Service {
    /// The service `settings` describe.
    pub(crate) fn new(settings: Settings) -> Self {
        let shared = Arc::new(Shared::new(settings));
        Self {
            calls: Calls::new(shared.clone()),
            background: Background::new(shared.clone()),
            queries: Queries::new(shared.clone()),
            record: Record::new(shared.clone()),
            shared,
        }
    }

    /// `stata_session close`: the session's background jobs are cancelled, then its Stata
    /// ends and the pool forgets it.
    pub(crate) async fn close_session(
        &self,
        pool: &SessionPool,
        given: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<SessionJson, QueryError> {
        let name = self.queries.session_name(given)?;
        if pool.get(&name).is_none() {
            return Err(PoolError::Unknown {
                wanted: name,
                known: pool.list(),
            }
            .into());
        }
        let notes = self.background.cancel_session_jobs(&name, cancel).await;
        self.queries.close_session(pool, name, notes).await
    }

    /// `--warm`: starts the session in the background as the server starts, so the first
    /// call does not wait for Stata. A failure is only logged; the first call retries and
    /// reports it.
    pub(crate) fn spawn_warm(&self) {
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let started = match shared.locate_stata() {
                Ok(stata) => {
                    let folders = shared.user_folders().await;
                    let plan = shared.sandbox_plan(&folders, &stata).await;
                    shared
                        .runner
                        .warm(&stata, &shared.settings.workdir, plan.as_ref())
                        .await
                }
                Err(e) => Some(Err(e.to_string())),
            };
            match started {
                None => tracing::warn!(
                    "--warm has no effect in {} mode",
                    shared.settings.mode.name()
                ),
                Some(Err(e)) => tracing::warn!("--warm: the Stata session did not start: {e}"),
                Some(Ok(())) => {}
            }
        });
    }
}
