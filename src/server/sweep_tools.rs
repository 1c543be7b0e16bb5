//! The `stata_sweep` tool: one do-file run once per argument list, in parallel, as a
//! background job (the work is `service::sweep`, the text `render::sweep`).

use std::sync::Arc;

use rmcp::model::{CallToolResult, JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::Deserialize;

use super::arguments::{bad_arguments, parse_args};
use super::handler::StataServer;
use super::job_tools::job_answer;
use super::reply::tool_error;
use crate::render::job::JobToolJson;
use crate::render::started;
use crate::run::tool::ToolName;
use crate::service::calls::{CallSource, RunCall};
use crate::service::sweep::MAX_TASKS;

/// A correct call, shown with a bad one.
const SWEEP_EXAMPLE: &str =
    r#"{"path": "robustness.do", "args": [["2019"], ["2020"], ["2021"]], "max_parallel": 2}"#;

/// Arguments of `stata_sweep`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SweepArgs {
    /// Path of the do-file (absolute, or relative to the project folder).
    pub path: String,
    /// One argument list per task: the do-file runs once with each (its `args` / `1'...).
    pub args: Vec<Vec<String>>,
    /// Working directory of every task. Default: the do-file's own folder.
    #[serde(default)]
    pub cwd: Option<String>,
    /// Time limit of each task in seconds. Default: the server's --timeout.
    #[serde(default)]
    pub timeout_s: Option<f64>,
    /// At most this many tasks at once (also capped by the server's --max-parallel).
    #[serde(default)]
    pub max_parallel: Option<u64>,
}

pub(crate) fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolName::Sweep.as_str(),
            "Run one do-file once per argument list (robustness tables, placebo runs, \
             bootstraps by seed), in parallel, each task as a separate batch Stata with its own \
             log (even in session mode: a session is one process, so sweeps never use or change \
             the session's data). Answers at once with a job id; stata_job on it reports each \
             task's status, one line per finished task (args, status, rc, error), the failed \
             tasks' output and, at the end, a summary table; stata_read_log reads any task's \
             log by its run id; cancel stops every task. In slurm mode the sweep is one job array.",
            Arc::new(JsonObject::new()),
        )
        .with_input_schema::<SweepArgs>()
        .with_output_schema::<JobToolJson>()
        .with_annotations(
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .idempotent(false)
                .open_world(false),
        ),
    ]
}

/// Runs `stata_sweep`.
pub(crate) async fn call(server: &StataServer, args: JsonObject) -> CallToolResult {
    let tool = ToolName::Sweep.as_str();
    let a: SweepArgs = match parse_args(tool, args, SWEEP_EXAMPLE) {
        Ok(a) => a,
        Err(e) => return tool_error(e),
    };
    let bad = |what: &str| tool_error(bad_arguments(tool, what, SWEEP_EXAMPLE));
    if a.args.is_empty() {
        return bad(
            "args must hold at least one argument list (one per task), e.g. [[\"2019\"], [\"2020\"]]",
        );
    }
    if a.args.len() > MAX_TASKS {
        return bad(&format!(
            "args holds {} argument lists; a sweep has at most {MAX_TASKS} tasks: split it",
            a.args.len()
        ));
    }
    let service = server.service();
    let cap = service.shared.settings.max_parallel;
    let mut notes = Vec::new();
    let max_parallel = match a.max_parallel {
        Some(0) => return bad("max_parallel must be at least 1"),
        Some(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > cap {
                notes.push(started::parallel_capped(n, cap));
            }
            n.min(cap)
        }
        None => cap,
    };
    let mut reqs = Vec::with_capacity(a.args.len());
    for args in &a.args {
        let call = RunCall {
            source: CallSource::File {
                path: a.path.clone(),
                args: args.clone(),
            },
            cwd: a.cwd.clone(),
            timeout_s: a.timeout_s,
            session: None,
        };
        match service.calls.request(call, None).await {
            Ok(req) => reqs.push(req),
            Err(e) if e.is_argument() => return bad(&e.to_string()),
            Err(e) => return tool_error(format!("the sweep did not start: {e}")),
        }
    }
    let n = reqs.len();
    let summary = started::sweep_summary(&a.path, n);
    match service
        .background
        .start_sweep(reqs, max_parallel, summary)
        .await
    {
        Ok(job) => {
            let intro = started::sweep_started(&job.id, n, &a.path, max_parallel);
            job_answer(server, &job, Some(intro), notes)
        }
        Err(e) => tool_error(e.to_string()),
    }
}
