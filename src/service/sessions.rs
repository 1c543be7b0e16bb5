//! `stata_session`: the named sessions listed, one's status (after a restart if asked), and
//! closing one, its background jobs cancelled first.

use schemars::JsonSchema;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::calls::session_name;
use super::queries::{Queries, QueryError};
use crate::run::session_name::SessionName;
use crate::runner::process::process_memory;
use crate::runner::session::facts::Facts;
use crate::runner::session::pool::{Admitted, Listed, SessionPool};
use crate::stata::query_commands::{read_status, status_commands};

/// The structured result of `stata_session`. The fields up to `notes` describe the session
/// asked about (status, restart, close); `list` leaves them empty and fills `sessions`.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub(crate) struct SessionJson {
    /// The session's name (`main` unless another was named); empty for `list`.
    pub session: String,
    pub running: bool,
    /// What it is doing: `busy with stata_run_code: ... for 2 min`, `idle for 5 s`, `no Stata running`.
    pub state: String,
    /// Process id of Stata (leader of its process group).
    pub pid: Option<u32>,
    pub stata_path: Option<String>,
    /// `c(stata_version)`, e.g. 18 or 18.5.
    pub version: Option<f64>,
    /// MP, SE, BE (IC before Stata 17).
    pub edition: Option<String>,
    /// Stata's working directory (`c(pwd)`).
    pub pwd: Option<String>,
    /// Observations in memory (`c(N)`).
    pub observations: Option<u64>,
    /// Variables in memory (`c(k)`).
    pub variables: Option<u64>,
    pub uptime_s: Option<f64>,
    /// Calls run in this session (stata_run_code / stata_run_file).
    pub calls: u64,
    /// Resident memory of the Stata process, in bytes (Linux).
    pub memory_bytes: Option<u64>,
    /// `list`: every session of the server, `main` first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<SessionEntryJson>,
    /// The connected client's profile and what it decided.
    pub client: ClientJson,
    /// How Stata is confined here (`--sandbox`), or why it is not.
    pub sandbox: String,
    pub notes: Vec<String>,
}

/// One session in `stata_session list`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct SessionEntryJson {
    pub session: String,
    pub running: bool,
    /// As in the status: busy with what and for how long, or idle for how long.
    pub state: String,
    /// The call or job holding it, if any.
    pub busy_with: Option<String>,
    /// Seconds since that call or job took the session.
    pub busy_s: Option<f64>,
    pub pid: Option<u32>,
    pub uptime_s: Option<f64>,
    pub calls: u64,
    pub memory_bytes: Option<u64>,
    /// Why its last Stata ended, when none runs now.
    pub lost: Option<String>,
}

impl SessionEntryJson {
    fn of(l: &Listed) -> Self {
        let f = &l.facts;
        Self {
            session: l.name.to_string(),
            running: f.running(),
            state: f.state_text(),
            busy_with: f.busy.as_ref().map(|b| b.what.clone()),
            busy_s: f.busy.as_ref().map(|b| b.since.elapsed().as_secs_f64()),
            pid: f.pid,
            uptime_s: f.uptime().map(|d| d.as_secs_f64()),
            calls: f.calls,
            memory_bytes: f.pid.and_then(process_memory),
            lost: f.lost.clone(),
        }
    }
}

/// The client profile in use, as `stata_session status` shows it.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub(crate) struct ClientJson {
    /// The profile's name (`claude-code`, `vscode`, ..., `other`).
    pub profile: String,
    /// `clientInfo.name` as the client sent it.
    pub client_name: String,
    /// Whether results carry structuredContent.
    pub structured_content: bool,
    /// Seconds after which a foreground run becomes a background job; null: never.
    pub auto_background_s: Option<u64>,
    /// Why each choice was made.
    pub reasons: Vec<String>,
}

impl ClientJson {
    fn of(policy: &crate::client::policy::Policy) -> Self {
        Self {
            profile: policy.profile.kind.as_str().to_owned(),
            client_name: policy.client_name.clone(),
            structured_content: policy.structured,
            auto_background_s: policy.auto_background.map(|d| d.as_secs()),
            reasons: policy.reasons.clone(),
        }
    }
}

impl Queries {
    /// The session pool, in session mode.
    pub(crate) fn pool(&self) -> Option<&SessionPool> {
        self.shared.runner.sessions().map(|p| &**p)
    }

    /// The session a query names (`main` when none).
    pub(crate) fn session_name(&self, given: Option<&str>) -> Result<SessionName, QueryError> {
        Ok(session_name(&self.shared.settings, given)?)
    }

    /// The session a query names, admitted for one call.
    pub(crate) fn admit(
        &self,
        pool: &SessionPool,
        given: Option<&str>,
    ) -> Result<Admitted, QueryError> {
        let name = self.session_name(given)?;
        Ok(pool.admit(&name)?)
    }

    /// `stata_session list`: every session, without waiting for any.
    pub(crate) fn list_sessions(&self, pool: &SessionPool) -> SessionJson {
        let sessions: Vec<SessionEntryJson> =
            pool.list().iter().map(SessionEntryJson::of).collect();
        let mut notes = Vec::new();
        if sessions.is_empty() {
            notes.push(
                "no session has started yet; the first call starts \"main\" (name another with \
                 the `session` argument)"
                    .to_owned(),
            );
        }
        SessionJson {
            sessions,
            client: ClientJson::of(&self.shared.client.policy()),
            notes,
            ..SessionJson::default()
        }
    }

    /// `stata_session close`: the session `name` (whose background jobs the caller has
    /// cancelled, saying so in `notes`) ends its Stata and the pool forgets it (the next call
    /// naming it starts afresh).
    pub(crate) async fn close_session(
        &self,
        pool: &SessionPool,
        name: SessionName,
        mut notes: Vec<String>,
    ) -> Result<SessionJson, QueryError> {
        let before = pool.close(&name).await?;
        notes.push(match (before.pid, before.uptime()) {
            (Some(pid), Some(up)) => format!(
                "session \"{name}\" is closed: its Stata (pid {pid}, up {}, {} call{}) has ended; \
                 its data, macros and estimates are gone, and a call naming it starts a new one",
                crate::text::human::human_duration(up),
                before.calls,
                if before.calls == 1 { "" } else { "s" }
            ),
            _ => format!(
                "session \"{name}\" is closed (no Stata was running in it); a call naming it \
                 starts a new one"
            ),
        });
        Ok(SessionJson {
            session: name.to_string(),
            state: "closed".to_owned(),
            client: ClientJson::of(&self.shared.client.policy()),
            notes,
            ..SessionJson::default()
        })
    }

    /// `stata_session status` (and `restart`): the session's state, after a restart when
    /// `restart`, with what Stata says of its version, folder and data.
    pub(crate) async fn session_status(
        &self,
        runner: &Admitted,
        restart: bool,
        cancel: &CancellationToken,
    ) -> Result<SessionJson, QueryError> {
        let mut notes = Vec::new();
        let shared = &self.shared;
        let workdir = &shared.base().await.dir;
        if restart {
            let stata = shared.locate_stata()?;
            let plan = shared
                .sandbox_plan(&shared.user_folders().await, &stata)
                .await;
            runner
                .restart(&stata, workdir, plan.as_ref(), cancel)
                .await
                .map_err(QueryError::Restart)?;
            notes.push(
                "the session was restarted: data, macros, programs and estimates are cleared"
                    .into(),
            );
        }
        let mut session = runner
            .exclusive("stata_session status", cancel)
            .await
            .ok_or(QueryError::Cancelled)?;
        let info = session.info();
        let mut json = SessionJson {
            session: runner.name().to_string(),
            client: ClientJson::of(&self.shared.client.policy()),
            sandbox: crate::sandbox::describe(shared.settings.sandbox),
            ..SessionJson::default()
        };
        fill(&mut json, &info);
        if !info.running()
            && let Err(e) = shared.locate_stata()
        {
            // Saying the next call starts one would be wrong: none can start.
            notes.push(format!("no session is running, and none can start: {e}"));
        } else if let Some(why) = &info.lost {
            notes.push(format!(
                "no session is running: {why}; the next call starts one"
            ));
        } else if !info.running() {
            notes.push("no session is running yet; the first call starts one".into());
        }
        if info.running() {
            let (sections, more) = self
                .run_commands(&mut session, &status_commands(), cancel, true)
                .await?;
            notes.extend(more);
            let facts = read_status(&sections);
            json.version = facts.version;
            json.edition = facts.edition;
            json.observations = facts.observations;
            json.variables = facts.variables;
            json.pwd = facts.pwd;
            // A session the status query had to start is new: report it as it is now.
            fill(&mut json, &session.info());
        }
        drop(session);
        // Seen from outside now that this query has let go of it.
        json.state = runner.facts().state_text();
        json.notes = notes;
        Ok(json)
    }
}

/// The facts of a session into its status.
fn fill(json: &mut SessionJson, f: &Facts) {
    json.running = f.running();
    json.pid = f.pid;
    json.stata_path = f.stata.as_ref().map(|p| p.display().to_string());
    json.uptime_s = f.uptime().map(|d| d.as_secs_f64());
    json.calls = f.calls;
    json.memory_bytes = f.pid.and_then(process_memory);
    json.state = f.state_text();
}
