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
use super::job_tools::job_answer;
use super::progress::streaming;
use super::reply::{run_result, tool_error};
use super::state::StataServer;
use crate::log::live::LiveOutput;
use crate::render::job::RunOrJobJson;
use crate::run::RunOutcome;
use crate::runner::turns::Ticket;
use crate::service::background::Answer;
use crate::service::calls::{CallSource, RunCall};
use crate::text::human::human_duration;

/// A correct call of each run tool, shown with a bad one.
const RUN_CODE_EXAMPLE: &str = r#"{"code": "sysuse auto\nsummarize price", "timeout_s": 600}"#;
const RUN_FILE_EXAMPLE: &str = r#"{"path": "analysis.do", "args": ["2024"]}"#;

/// Arguments of `stata_run_code`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCodeArgs {
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
pub struct RunFileArgs {
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

pub fn tools() -> Vec<Tool> {
    let run_annotations = ToolAnnotations::new()
        .read_only(false)
        .destructive(false)
        .idempotent(false)
        .open_world(false);
    vec![
        Tool::new(
            "stata_run_code",
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
            "stata_run_file",
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
pub async fn call(
    server: &StataServer,
    tool: &'static str,
    args: JsonObject,
    context: &RequestContext<RoleServer>,
    turn: Option<Ticket>,
) -> CallToolResult {
    let started = Instant::now();
    let (example, parsed) = if tool == "stata_run_file" {
        let parsed = parse_args::<RunFileArgs>(tool, args, RUN_FILE_EXAMPLE);
        (RUN_FILE_EXAMPLE, parsed.map(RunFileArgs::into_call))
    } else {
        let parsed = parse_args::<RunCodeArgs>(tool, args, RUN_CODE_EXAMPLE);
        (RUN_CODE_EXAMPLE, parsed.map(RunCodeArgs::into_call))
    };
    let (call, background) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => return tool_error(message),
    };
    let service = server.service();
    let req = match service.request(call, turn).await {
        Ok(req) => req,
        Err(e) if e.is_argument() => {
            return tool_error(bad_arguments(tool, &e.to_string(), example));
        }
        Err(e) => {
            let mut outcome = RunOutcome::not_started(None, started, e.rc(), e.to_string());
            outcome.refused = e.is_refusal();
            return run_result(&outcome);
        }
    };
    if background {
        let timeout = req.timeout;
        return match service.start_job(tool, req).await {
            Ok(job) => {
                let where_ = match &job.run_dir {
                    Some(dir) => format!(
                        "its run id is {} and its full log, written as it runs, is {}",
                        dir.id,
                        dir.path.join(crate::run::files::WRAPPER_LOG).display()
                    ),
                    None => "its run id and full log come with its result".to_owned(),
                };
                let intro = format!(
                    "Started background job {}. It runs as a foreground call would (time limit \
                     {}); {where_}.",
                    job.id,
                    human_duration(timeout)
                );
                job_answer(server, &job, Some(intro), Vec::new())
            }
            Err(e) => tool_error(e.to_string()),
        };
    }
    let total = service.command_total(&req.source);
    let count = move |live: &LiveOutput| {
        if let Some(n) = total {
            live.set_total(n);
        }
    };
    let Some(after) = service.client.policy().auto_background else {
        let outcome = streaming(context, server.progress(), |live| {
            count(&live);
            service.run(req, live, context.ct.clone())
        })
        .await;
        return run_result(&outcome);
    };
    let answer = streaming(context, server.progress(), |frames| async move {
        count(&frames);
        service
            .run_or_promote(tool, req, after, &frames, &context.ct)
            .await
    })
    .await;
    match answer {
        Answer::Finished(outcome) => run_result(&outcome),
        Answer::Promoted(job) => {
            let policy = service.client.policy();
            let why = match policy.profile.limit {
                Some(limit) => format!(
                    "before the client gives up on the call (after about {}{})",
                    human_duration(limit),
                    if policy.limit_from_env {
                        ", as its MCP_TOOL_TIMEOUT says"
                    } else {
                        ""
                    }
                ),
                None => "as --auto-background-secs asks".to_owned(),
            };
            let intro = format!(
                "Still running after {}, so the run goes on in the background as job {}, {why}; \
                 nothing was stopped. Wait for it with stata_job {{\"job_id\": \"{}\", \
                 \"wait_s\": 30}}.",
                human_duration(after),
                job.id,
                job.id
            );
            job_answer(server, &job, Some(intro), Vec::new())
        }
    }
}
