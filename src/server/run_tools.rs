//! The `stata_run_code` and `stata_run_file` tools: their arguments, and the run in the
//! foreground, in the background, or promoted to the background when it outlasts
//! `--auto-background-secs`.

use std::sync::Arc;
use std::time::Instant;

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, JsonObject, Tool, ToolAnnotations};
use rmcp::service::RequestContext;
use schemars::JsonSchema;
use serde::Deserialize;

use super::arguments::{bad_arguments, parse_args};
use super::handler::StataServer;
use super::job_tools::job_answer;
use super::progress::streaming;
use super::reply::{run_result, tool_error};
use crate::log::live::LiveOutput;
use crate::render::job::RunOrJobJson;
use crate::render::started;
use crate::run::RunOutcome;
use crate::run::tool::ToolName;
use crate::runner::turns::Ticket;
use crate::service::background::Answer;
use crate::service::calls::{CallSource, RunCall, command_total};

/// A correct call of each run tool, shown with a bad one.
const RUN_CODE_EXAMPLE: &str = r#"{"code": "sysuse auto\nsummarize price", "timeout_s": 600}"#;
const RUN_FILE_EXAMPLE: &str = r#"{"path": "analysis.do", "args": ["2024"]}"#;

/// Arguments of `stata_run_code`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunCodeArgs {
    /// Stata code to run: any number of lines; `///`, `/* */` and `#delimit ;` work as in a do-file.
    pub code: String,
    /// Working directory for the code (relative paths in it resolve here). Default: batch mode, the server's working directory; session mode, wherever Stata already is (the last `cd`).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Time limit in seconds; Stata is stopped when it is reached. Default: the server's --timeout.
    #[serde(default)]
    pub timeout_s: Option<f64>,
    /// true: return at once with a job id and let the run go on in the background; follow it with stata_job. Default: false.
    #[serde(default)]
    pub background: bool,
    /// Session mode: which Stata session to run in (a short name, default "main"). Each named session is a separate Stata with its own data, macros and estimates, started on first use; use another one to keep working while a long run holds "main". Not available in batch mode.
    #[serde(default)]
    pub session: Option<String>,
}

/// Arguments of `stata_run_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunFileArgs {
    /// Path of the do-file (absolute, or relative to the server's working directory).
    pub path: String,
    /// Arguments passed to the do-file (its `args` / `` `1' `` ...).
    #[serde(default)]
    pub args: Option<Vec<String>>,
    /// Working directory. Default: the do-file's own folder, so its relative paths work.
    #[serde(default)]
    pub cwd: Option<String>,
    /// Time limit in seconds; Stata is stopped when it is reached. Default: the server's --timeout.
    #[serde(default)]
    pub timeout_s: Option<f64>,
    /// true: return at once with a job id and let the run go on in the background; follow it with stata_job. Default: false.
    #[serde(default)]
    pub background: bool,
    /// Session mode: which Stata session to run in (a short name, default "main"). Each named session is a separate Stata with its own data, macros and estimates, started on first use; use another one to keep working while a long run holds "main". Not available in batch mode.
    #[serde(default)]
    pub session: Option<String>,
}

pub(crate) fn tools() -> Vec<Tool> {
    let run_annotations = ToolAnnotations::new()
        .read_only(false)
        .destructive(false)
        .idempotent(false)
        .open_world(false);
    vec![
        Tool::new(
            ToolName::RunCode.as_str(),
            "Run Stata code and return its output. The log streams to the client as progress \
             while Stata runs; the result has the status, the error (r(N), message, failing \
             command) and the output, with the head and tail kept when it is long. With \
             background: true it returns a job id at once and Stata runs on; follow the job \
             with stata_job. In session mode, `session` picks one of several Stata sessions \
             (default main), so a long run in one does not block calls in another.",
            Arc::new(JsonObject::new()),
        )
        .with_input_schema::<RunCodeArgs>()
        .with_output_schema::<RunOrJobJson>()
        .with_annotations(run_annotations.clone()),
        Tool::new(
            ToolName::RunFile.as_str(),
            "Run a do-file (with optional arguments) and return its output, streamed live as \
             for stata_run_code. Relative paths inside the do-file resolve against its own \
             folder unless cwd is given. background: true runs it as a job (see stata_job); \
             `session` as for stata_run_code.",
            Arc::new(JsonObject::new()),
        )
        .with_input_schema::<RunFileArgs>()
        .with_output_schema::<RunOrJobJson>()
        .with_annotations(run_annotations),
    ]
}

impl RunCodeArgs {
    fn into_call(self) -> (RunCall, bool) {
        let call = RunCall {
            source: CallSource::Code(self.code),
            cwd: self.cwd,
            timeout_s: self.timeout_s,
            session: self.session,
        };
        (call, self.background)
    }
}

impl RunFileArgs {
    fn into_call(self) -> (RunCall, bool) {
        let call = RunCall {
            source: CallSource::File {
                path: self.path,
                args: self.args.unwrap_or_default(),
            },
            cwd: self.cwd,
            timeout_s: self.timeout_s,
            session: self.session,
        };
        (call, self.background)
    }
}

/// Runs `tool` (`stata_run_code` or `stata_run_file`): in the foreground, or as a
/// background job when asked (`background: true`) or when it outlasts
/// `--auto-background-secs`. Bad arguments are a tool error saying which and how to call
/// it; a run that cannot start (a missing do-file, a shell escape) is a run that failed to
/// start, as Stata reports it.
pub(crate) async fn call(
    server: &StataServer,
    tool: ToolName,
    args: JsonObject,
    context: &RequestContext<RoleServer>,
    turn: Option<Ticket>,
) -> CallToolResult {
    let started = Instant::now();
    let name = tool.as_str();
    let (example, parsed) = if tool == ToolName::RunFile {
        let parsed = parse_args::<RunFileArgs>(name, args, RUN_FILE_EXAMPLE);
        (RUN_FILE_EXAMPLE, parsed.map(RunFileArgs::into_call))
    } else {
        let parsed = parse_args::<RunCodeArgs>(name, args, RUN_CODE_EXAMPLE);
        (RUN_CODE_EXAMPLE, parsed.map(RunCodeArgs::into_call))
    };
    let (call, background) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => return tool_error(message),
    };
    let service = server.service();
    let req = match service.calls.request(call, turn).await {
        Ok(req) => req,
        Err(e) if e.is_argument() => {
            return tool_error(bad_arguments(name, &e.to_string(), example));
        }
        Err(e) => {
            let mut outcome = RunOutcome::not_started(None, started, e.rc(), e.to_string());
            outcome.refused = e.is_refusal();
            return run_result(&outcome);
        }
    };
    if background {
        let timeout = req.timeout;
        return match service.background.start_job(tool, req).await {
            Ok(job) => {
                let intro = started::job_started(&job.id, job.run_dir.as_ref(), timeout);
                job_answer(server, &job, Some(intro), Vec::new())
            }
            Err(e) => tool_error(e.to_string()),
        };
    }
    let total = command_total(&req.source);
    let count = move |live: &LiveOutput| {
        if let Some(n) = total {
            live.set_total(n);
        }
    };
    let shared = &service.shared;
    let Some(after) = shared.client.policy().auto_background else {
        let outcome = streaming(context, server.progress(), |live| {
            count(&live);
            shared.run(req, live, context.ct.clone())
        })
        .await;
        return run_result(&outcome);
    };
    let answer = streaming(context, server.progress(), |frames| async move {
        count(&frames);
        service
            .background
            .run_or_promote(tool, req, after, &frames, &context.ct)
            .await
    })
    .await;
    match answer {
        Answer::Finished(outcome) => run_result(&outcome),
        Answer::Promoted(job) => {
            let policy = shared.client.policy();
            let because = started::PromotedBecause {
                limit: policy.profile.limit,
                from_env: policy.limit_from_env,
            };
            let intro = started::promoted(&job.id, after, &because);
            job_answer(server, &job, Some(intro), Vec::new())
        }
    }
}
