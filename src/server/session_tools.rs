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
use crate::render::query::{inspect_text, query_failure, results_text, session_text};
use crate::runner::Runner;
use crate::service::Service;
use crate::service::queries::{
    HelpJson, InspectJson, InspectQuery, QueryError, ResultsJson, SessionJson,
};
use crate::stata::queries::InspectWhat;
use crate::stata::stored::ResultClass;

/// A correct call of each tool, shown with a bad one.
const INSPECT_EXAMPLE: &str = r#"{"what": "summarize", "vars": ["price", "mpg"]}"#;
const RESULTS_EXAMPLE: &str = r#"{"class": "e"}"#;
const HELP_EXAMPLE: &str = r#"{"topic": "regress"}"#;
const SESSION_EXAMPLE: &str = r#"{"action": "status"}"#;

/// Arguments of `stata_inspect_data`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectArgs {
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
}

/// Arguments of `stata_get_results`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetResultsArgs {
    /// `r` for the results of the last r-class command (summarize, count...), `e` for the last estimation (regress...).
    pub class: ResultClass,
}

/// Arguments of `stata_help`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HelpArgs {
    /// The command or topic, e.g. `regress` or `regress postestimation`.
    pub topic: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionAction {
    Status,
    Restart,
}

/// Arguments of `stata_session`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionArgs {
    /// `status`: what the session is doing; `restart`: end it and start a fresh one (clears everything).
    pub action: SessionAction,
}

pub fn tools() -> Vec<Tool> {
    let read_only = ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false);
    let empty = || Arc::new(JsonObject::new());
    vec![
        Tool::new(
            "stata_inspect_data",
            "Show the data in memory in the live Stata session: describe, summarize, list (first \
             n rows, default 20) or codebook, for some variables and an optional if condition. \
             Needs session mode.",
            empty(),
        )
        .with_input_schema::<InspectArgs>()
        .with_output_schema::<InspectJson>()
        .with_annotations(read_only.clone()),
        Tool::new(
            "stata_get_results",
            "The stored results of the last command in the live Stata session as JSON: class r \
             (summarize, count...) or e (regress and other estimations): scalars as numbers, \
             macros as strings, matrices with row and column names. Needs session mode.",
            empty(),
        )
        .with_input_schema::<GetResultsArgs>()
        .with_output_schema::<ResultsJson>()
        .with_annotations(read_only.clone()),
        Tool::new(
            "stata_help",
            "The text of Stata's help for a command or topic (help regress). Needs session mode.",
            empty(),
        )
        .with_input_schema::<HelpArgs>()
        .with_output_schema::<HelpJson>()
        .with_annotations(read_only),
        Tool::new(
            "stata_session",
            "The live Stata session: status (running or not, version and edition, working \
             directory, observations and variables in memory, uptime, calls) or restart (end it \
             and start a fresh one: clears data, macros, programs and estimates). Needs session \
             mode.",
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
    ]
}

/// Runs one of this family's tools (`tool` is one of its names).
pub async fn call(
    service: &Service,
    tool: &str,
    args: JsonObject,
    context: &RequestContext<RoleServer>,
) -> CallToolResult {
    let Runner::Session(runner) = &service.runner else {
        return tool_error(format!(
            "{tool} needs the live Stata session, but this server runs in batch mode (a fresh \
             Stata per call, nothing kept in memory). Start the server with `--mode session` \
             (or STATA_MCP_MODE=session; Linux and macOS only) to use it; in batch mode, \
             run the commands with stata_run_code instead."
        ));
    };
    let cancel = &context.ct;
    let answer = match tool {
        "stata_inspect_data" => match parse_args::<InspectArgs>(tool, args, INSPECT_EXAMPLE) {
            Ok(a) => {
                let q = InspectQuery {
                    what: a.what,
                    vars: a.vars.unwrap_or_default(),
                    n: a.n,
                    condition: a.condition,
                };
                service
                    .inspect(runner, q, cancel)
                    .await
                    .map(|j| report(inspect_text(&j), &j))
            }
            Err(e) => return tool_error(e),
        },
        "stata_get_results" => match parse_args::<GetResultsArgs>(tool, args, RESULTS_EXAMPLE) {
            Ok(a) => service
                .results(runner, a.class, cancel)
                .await
                .map(|j| report(results_text(&j), &j)),
            Err(e) => return tool_error(e),
        },
        "stata_help" => match parse_args::<HelpArgs>(tool, args, HELP_EXAMPLE) {
            Ok(a) => service
                .help(runner, &a.topic, cancel)
                .await
                .map(|j| report(format!("{}\n", j.text), &j)),
            Err(e) => return tool_error(e),
        },
        _ => match parse_args::<SessionArgs>(tool, args, SESSION_EXAMPLE) {
            Ok(a) => service
                .session_status(runner, a.action == SessionAction::Restart, cancel)
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
