//! The `stata_record` tool: the research record shown, exported as a replication package,
//! verified by a re-run, or two estimations compared (the work is the service's `Record`).

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, JsonObject, Tool, ToolAnnotations};
use rmcp::service::RequestContext;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::arguments::{bad_arguments, parse_args};
use super::handler::StataServer;
use super::progress::streaming;
use super::reply::{report, tool_error};
use crate::render::record::{
    compare_text, export_text, show_text, verify_running_text, verify_text,
};
use crate::run::tool::ToolName;
use crate::service::record::answers::{ExportJson, ShowJson, VerifyJson, Verifying};
use crate::service::record::compare::ComparisonJson;

/// A correct call, shown with a bad one.
const EXAMPLE: &str = r#"{"action": "compare", "steps": [4, 6]}"#;

/// What `stata_record` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RecordAction {
    Show,
    Export,
    Verify,
    Compare,
}

/// Arguments of `stata_record`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordArgs {
    /// show: list the steps; export: write the replication do-file and README; verify:
    /// re-run it in a fresh Stata and compare every step; compare: two estimations side by side.
    pub action: RecordAction,
    /// compare: the two steps (by number); default the last two estimations.
    #[serde(default)]
    pub steps: Option<Vec<u32>>,
    /// show: the page of 50 steps (default 1).
    #[serde(default)]
    pub page: Option<u32>,
    /// export, verify: the session whose steps to replay (default: the last step's).
    #[serde(default)]
    pub session: Option<String>,
}

/// The structured result of `stata_record`: one of its four reports.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(extend("type" = "object"))]
#[allow(dead_code)] // only its schema is used
pub(crate) enum RecordJson {
    Show(ShowJson),
    Export(ExportJson),
    Verify(VerifyJson),
    Compare(ComparisonJson),
    Running(VerifyRunningJson),
}

/// A verification still running when the call had to answer.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct VerifyRunningJson {
    /// Always true: call `verify` again for the verdict.
    pub running: bool,
    pub elapsed_s: f64,
}

pub(crate) fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolName::Record.as_str(),
            "The research record of this project: every stata_run_code, stata_run_file and \
             stata_sweep run is kept as a step (code, folder, status, data files read, \
             estimates) in stata-record/. show: list the steps; export: write \
             stata-record/replication/master.do (the successful steps in order, failed ones as \
             comments, with the Stata version, packages, data hashes and seed) and a README; \
             verify: re-run master.do in a fresh Stata and compare every step (estimates and \
             output), naming changed data files; compare: two estimations side by side \
             (observations, clustering, terms, sign and significance flips).",
            Arc::new(JsonObject::new()),
        )
        .with_input_schema::<RecordArgs>()
        .with_output_schema::<RecordJson>()
        .with_annotations(
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        ),
    ]
}

/// Runs `stata_record`.
pub(crate) async fn call(
    server: &StataServer,
    args: JsonObject,
    context: &RequestContext<RoleServer>,
) -> CallToolResult {
    let tool = ToolName::Record.as_str();
    let a: RecordArgs = match parse_args(tool, args, EXAMPLE) {
        Ok(a) => a,
        Err(e) => return tool_error(e),
    };
    let record = &server.service().record;
    let cancel = &context.ct;
    let session = a.session.as_deref();
    let answer = match a.action {
        RecordAction::Show => record
            .show(a.page.unwrap_or(1))
            .await
            .map(|j| report(show_text(&j), &j)),
        RecordAction::Export => record
            .export(session, cancel)
            .await
            .map(|j| report(export_text(&j), &j)),
        RecordAction::Verify => {
            // A replay as long as the analysis goes on in the background past the client's
            // limit; the next verify call takes it up.
            let wait = server.service().shared.client.policy().auto_background;
            let session = a.session.clone();
            streaming(context, server.progress(), |_live| async move {
                record.verify_within(session, wait).await
            })
            .await
            .map(|v| match v {
                Verifying::Done(j) => report(verify_text(&j), &j),
                Verifying::Running { since } => report(
                    verify_running_text(since),
                    &VerifyRunningJson {
                        running: true,
                        elapsed_s: since.as_secs_f64(),
                    },
                ),
            })
        }
        RecordAction::Compare => {
            let steps = a.steps.unwrap_or_default();
            if !(steps.is_empty() || steps.len() == 2) {
                return tool_error(bad_arguments(
                    tool,
                    "steps names two steps, e.g. [4, 6], or is left out for the last two estimations",
                    EXAMPLE,
                ));
            }
            record
                .compare(&steps)
                .await
                .map(|j| report(compare_text(&j), &j))
        }
    };
    answer.unwrap_or_else(|e| tool_error(e.to_string()))
}
