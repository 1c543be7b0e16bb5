//! The tools that answer from the live Stata session: data in memory, stored results,
//! help, status (the queries are `service::queries`, their text `render::query`).

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, JsonObject, Tool, ToolAnnotations};
use rmcp::service::RequestContext;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::arguments::parse_args;
use super::reply::{report, tool_error};
use crate::render::query::{
    inspect_text, needs_session, query_failure, results_text, session_text,
};
use crate::run::tool::ToolName;
use crate::runner::session::pool::SessionPool;
use crate::service::Service;
use crate::service::queries::{HelpJson, InspectJson, InspectQuery, QueryError, ResultsJson};
use crate::service::sessions::SessionJson;
use crate::stata::query_commands::InspectWhat;
use crate::stata::stored::ResultClass;
use tokio_util::sync::CancellationToken;

/// A correct call of each tool, shown with a bad one.
const INSPECT_EXAMPLE: &str = r#"{"what": "summarize", "vars": ["price", "mpg"]}"#;
const RESULTS_EXAMPLE: &str = r#"{"class": "e"}"#;
const HELP_EXAMPLE: &str = r#"{"topic": "regress"}"#;
const SESSION_EXAMPLE: &str = r#"{"action": "status", "session": "main"}"#;
const INFO_EXAMPLE: &str = r#"{"action": "list"}"#;

/// Arguments of `stata_inspect_data`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InspectArgs {
    /// What to show: describe (variables and types), summarize (statistics), list (rows), codebook.
    pub what: InspectWhat,
    /// Variables to show (Stata names); default: all.
    #[serde(default)]
    pub vars: Option<Vec<String>>,
    /// For list: how many rows (default 20, at most 1000).
    #[serde(default)]
    pub n: Option<f64>,
    /// A Stata condition selecting observations (summarize, list, codebook), e.g. `foreign == 1`.
    #[serde(default, rename = "if")]
    pub condition: Option<String>,
    /// Which Stata session to ask (a short name, default "main"); each session has its own data and results.
    #[serde(default)]
    pub session: Option<String>,
}

/// Arguments of `stata_get_results`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GetResultsArgs {
    /// `r` for the results of the last r-class command (summarize, count...), `e` for the last estimation (regress...).
    pub class: ResultClass,
    /// Which Stata session to ask (a short name, default "main"); each session has its own data and results.
    #[serde(default)]
    pub session: Option<String>,
}

/// Arguments of `stata_help`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HelpArgs {
    /// The command or topic, e.g. `regress` or `regress postestimation`.
    pub topic: String,
    /// Which Stata session to ask (a short name, default "main"); each session has its own data and results.
    #[serde(default)]
    pub session: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SessionAction {
    List,
    Status,
    Restart,
    Close,
}

/// Arguments of `stata_session`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionArgs {
    /// `list`: every session and what it is doing; `status`: one session in detail; `restart`: end one and start it afresh (clears its data and results); `close`: end one for good (its background jobs are cancelled first), freeing its licence seat and memory.
    pub action: SessionAction,
    /// The session for status, restart and close (a short name, default "main").
    #[serde(default)]
    pub session: Option<String>,
}

/// What `stata_session_info` may do: only read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum InfoAction {
    List,
    Status,
}

/// Arguments of `stata_session_info`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionInfoArgs {
    /// `list`: every session and what it is doing; `status`: one session in detail.
    pub action: InfoAction,
    /// The session for status (a short name, default "main").
    #[serde(default)]
    pub session: Option<String>,
}

pub(crate) fn tools() -> Vec<Tool> {
    let read_only = read_only();
    let empty = || Arc::new(JsonObject::new());
    vec![
        Tool::new(
            ToolName::Inspect.as_str(),
            "Show the data in memory in the live Stata session: describe, summarize, list (first \
             n rows, default 20) or codebook, for some variables and an optional if condition. \
             Needs session mode.",
            empty(),
        )
        .with_input_schema::<InspectArgs>()
        .with_output_schema::<InspectJson>()
        .with_annotations(read_only.clone()),
        Tool::new(
            ToolName::Results.as_str(),
            "The stored results of the last command in the live Stata session as JSON: class r \
             (summarize, count...) or e (regress and other estimations): scalars as numbers, \
             macros as strings, matrices with row and column names. Needs session mode.",
            empty(),
        )
        .with_input_schema::<GetResultsArgs>()
        .with_output_schema::<ResultsJson>()
        .with_annotations(read_only.clone()),
        Tool::new(
            ToolName::Help.as_str(),
            "The text of Stata's help for a command or topic (help regress). Needs session mode.",
            empty(),
        )
        .with_input_schema::<HelpArgs>()
        .with_output_schema::<HelpJson>()
        .with_annotations(read_only.clone()),
        Tool::new(
            ToolName::Session.as_str(),
            "The live Stata sessions. Each named session (default main) is its own Stata with \
             its own data, started on first use; at most --max-sessions run at once. list: every \
             session with its state (idle or busy with what), pid, uptime, calls and memory; \
             status: one session's version and edition, working directory, observations and \
             variables in memory; restart: end one and start it afresh (clears data, macros, \
             programs and estimates); close: end one, cancelling its background jobs first. \
             Needs session mode.",
            empty(),
        )
        .with_input_schema::<SessionArgs>()
        .with_output_schema::<SessionJson>()
        .with_annotations(
            ToolAnnotations::new()
                .read_only(false)
                .destructive(true)
                .idempotent(false)
                .open_world(false),
        ),
        // The reading half of stata_session, annotated read-only: clients that refuse
        // destructive tools without asking (Codex with approval policy never) still reach it.
        Tool::new(
            ToolName::SessionInfo.as_str(),
            "Read-only: the live Stata sessions. list: every session with its state (idle or \
             busy with what), pid, uptime, calls and memory; status: one session's version and \
             edition, working directory, observations and variables in memory, sandbox and \
             client profile. Changes nothing (restart and close are stata_session's). Needs \
             session mode.",
            empty(),
        )
        .with_input_schema::<SessionInfoArgs>()
        .with_output_schema::<SessionJson>()
        .with_annotations(read_only),
    ]
}

fn read_only() -> ToolAnnotations {
    ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false)
}

/// Runs one of this family's tools (`tool` is one of its names).
pub(crate) async fn call(
    service: &Service,
    tool: ToolName,
    args: JsonObject,
    context: &RequestContext<RoleServer>,
) -> CallToolResult {
    let queries = &service.queries;
    let Some(pool) = queries.pool() else {
        return tool_error(needs_session(tool.as_str()));
    };
    let cancel = &context.ct;
    let name = tool.as_str();
    let answer = match tool {
        ToolName::Inspect => match parse_args::<InspectArgs>(name, args, INSPECT_EXAMPLE) {
            Ok(a) => {
                let q = InspectQuery {
                    what: a.what,
                    vars: a.vars.unwrap_or_default(),
                    n: a.n,
                    condition: a.condition,
                };
                match queries.admit(pool, a.session.as_deref()) {
                    Ok(s) => queries
                        .inspect(&s, q, cancel)
                        .await
                        .map(|j| report(inspect_text(&j), &j)),
                    Err(e) => Err(e),
                }
            }
            Err(e) => return tool_error(e),
        },
        ToolName::Results => match parse_args::<GetResultsArgs>(name, args, RESULTS_EXAMPLE) {
            Ok(a) => match queries.admit(pool, a.session.as_deref()) {
                Ok(s) => queries
                    .results(&s, a.class, cancel)
                    .await
                    .map(|j| report(results_text(&j), &j)),
                Err(e) => Err(e),
            },
            Err(e) => return tool_error(e),
        },
        ToolName::Help => match parse_args::<HelpArgs>(name, args, HELP_EXAMPLE) {
            Ok(a) => match queries.admit(pool, a.session.as_deref()) {
                Ok(s) => queries
                    .help(&s, &a.topic, cancel)
                    .await
                    .map(|j| report(format!("{}\n", j.text), &j)),
                Err(e) => Err(e),
            },
            Err(e) => return tool_error(e),
        },
        ToolName::SessionInfo => match parse_args::<SessionInfoArgs>(name, args, INFO_EXAMPLE) {
            Ok(a) => {
                let action = match a.action {
                    InfoAction::List => SessionAction::List,
                    InfoAction::Status => SessionAction::Status,
                };
                let a = SessionArgs {
                    action,
                    session: a.session,
                };
                session_action(service, pool, a, cancel)
                    .await
                    .map(|j| report(session_text(&j), &j))
            }
            Err(e) => return tool_error(e),
        },
        _ => match parse_args::<SessionArgs>(name, args, SESSION_EXAMPLE) {
            Ok(a) => session_action(service, pool, a, cancel)
                .await
                .map(|j| report(session_text(&j), &j)),
            Err(e) => return tool_error(e),
        },
    };
    answer.unwrap_or_else(|e| match e {
        // The run's own report says what Stata said.
        QueryError::Failed(outcome) => tool_error(query_failure(&outcome)),
        other => tool_error(other.to_string()),
    })
}

/// `stata_session`'s four actions.
async fn session_action(
    service: &Service,
    pool: &SessionPool,
    a: SessionArgs,
    cancel: &CancellationToken,
) -> Result<SessionJson, QueryError> {
    let session = a.session.as_deref();
    match a.action {
        SessionAction::List => {
            service.queries.session_name(session)?;
            Ok(service.queries.list_sessions(pool))
        }
        SessionAction::Close => service.close_session(pool, session, cancel).await,
        SessionAction::Status | SessionAction::Restart => {
            let s = service.queries.admit(pool, session)?;
            service
                .queries
                .session_status(&s, a.action == SessionAction::Restart, cancel)
                .await
        }
    }
}
