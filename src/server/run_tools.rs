//! The `stata_run_code` and `stata_run_file` tools: checking their arguments and running them.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, JsonObject, Tool, ToolAnnotations};
use rmcp::service::RequestContext;
use schemars::JsonSchema;
use serde::Deserialize;

use super::job_tools::{self, RunOrJobJson};
use super::tools::{ServerState, parse_args, resolve, to_tool_result};
use crate::run::{RunOutcome, RunSource};
use crate::runner::request::RunRequest;
use crate::runner::turns::Ticket;
use crate::service::shell_guard::find_shell_escape;

pub const NAMES: &[&str] = &["stata_run_code", "stata_run_file"];

/// Arguments of `stata_run_code`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCodeArgs {
    /// Stata code to run: any number of lines; `///`, `/* */` and `#delimit ;` work as in a do-file.
    pub code: String,
    /// Working directory for the code (relative paths in it resolve here). Default: the server's working directory.
    #[serde(default)]
    pub cwd: Option<String>,
    /// Time limit in seconds; Stata is stopped when it is reached. Default: the server's --timeout.
    #[serde(default)]
    pub timeout_s: Option<f64>,
    /// true: return at once with a job id and let the run go on in the background; follow it with stata_job. Default: false.
    #[serde(default)]
    pub background: bool,
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
             with stata_job.",
            Arc::new(JsonObject::new()),
        )
        .with_input_schema::<RunCodeArgs>()
        .with_output_schema::<RunOrJobJson>()
        .with_annotations(run_annotations.clone()),
        Tool::new(
            "stata_run_file",
            "Run a do-file (with optional arguments) and return its output, streamed live as \
             for stata_run_code. Relative paths inside the do-file resolve against its own \
             folder unless cwd is given. background: true runs it as a job (see stata_job).",
            Arc::new(JsonObject::new()),
        )
        .with_input_schema::<RunFileArgs>()
        .with_output_schema::<RunOrJobJson>()
        .with_annotations(run_annotations),
    ]
}

/// Runs one of this family's tools: in the foreground, or as a background job when asked
/// (`background: true`) or when it outlasts `--auto-background-secs`.
pub async fn call(
    state: &Arc<ServerState>,
    name: &str,
    args: JsonObject,
    context: &RequestContext<RoleServer>,
    turn: Option<Ticket>,
) -> CallToolResult {
    let started = Instant::now();
    match request(state, name, args, turn) {
        Ok((req, true)) => job_tools::start_background(state, name, req),
        Ok((req, false)) => match state.auto_background {
            Some(after) => job_tools::run_or_background(state, name, req, after, context).await,
            None => to_tool_result(&state.run(req, context).await),
        },
        Err((code, message)) => {
            to_tool_result(&RunOutcome::not_started("-", started, code, message))
        }
    }
}

fn timeout(state: &ServerState, timeout_s: Option<f64>) -> Result<Duration, String> {
    match timeout_s {
        None => Ok(state.default_timeout),
        Some(t) if t.is_finite() && t > 0.0 && t <= 7.0 * 86_400.0 => {
            Ok(Duration::from_secs_f64(t))
        }
        Some(t) => Err(format!(
            "timeout_s must be a number of seconds between 0 and 604800, not {t}"
        )),
    }
}

/// Turns tool arguments into a run and whether it goes to the background, or says what is
/// wrong with them.
fn request(
    state: &ServerState,
    tool: &str,
    args: JsonObject,
    turn: Option<Ticket>,
) -> Result<(RunRequest, bool), (Option<i32>, String)> {
    let bad = |e: String| (None, e);
    match tool {
        "stata_run_code" => {
            let a: RunCodeArgs = parse_args(tool, args).map_err(bad)?;
            let cwd = match &a.cwd {
                Some(c) => resolve(&state.workdir, c),
                None => state.workdir.clone(),
            };
            check_dir(&cwd)?;
            let timeout = timeout(state, a.timeout_s).map_err(bad)?;
            if !state.allow_shell
                && let Some(escape) = find_shell_escape(&a.code, None, &cwd)
            {
                return Err((None, escape.to_string()));
            }
            let stata = state.locate_stata().map_err(bad)?;
            let req = RunRequest {
                stata,
                source: RunSource::Code(a.code),
                cwd,
                change_dir: a.cwd.is_some(),
                run_dir: None,
                turn,
                timeout,
            };
            Ok((req, a.background))
        }
        "stata_run_file" => {
            let a: RunFileArgs = parse_args(tool, args).map_err(bad)?;
            let path = resolve(&state.workdir, &a.path);
            if !path.is_file() {
                return Err((
                    Some(601),
                    format!(
                        "file {} not found (the path given was {:?}; relative paths are taken \
                         from the server's working directory {})",
                        path.display(),
                        a.path,
                        state.workdir.display()
                    ),
                ));
            }
            let cwd = match &a.cwd {
                Some(c) => resolve(&state.workdir, c),
                None => path
                    .parent()
                    .map_or_else(|| state.workdir.clone(), Path::to_path_buf),
            };
            check_dir(&cwd)?;
            let timeout = timeout(state, a.timeout_s).map_err(bad)?;
            if !state.allow_shell {
                let text = std::fs::read(&path)
                    .map_err(|e| bad(format!("could not read {}: {e}", path.display())))?;
                if let Some(escape) =
                    find_shell_escape(&String::from_utf8_lossy(&text), Some(&path), &cwd)
                {
                    return Err((None, escape.to_string()));
                }
            }
            let stata = state.locate_stata().map_err(bad)?;
            let req = RunRequest {
                stata,
                source: RunSource::File {
                    path,
                    args: a.args.unwrap_or_default(),
                },
                cwd,
                change_dir: true,
                run_dir: None,
                turn,
                timeout,
            };
            Ok((req, a.background))
        }
        other => Err((
            None,
            format!("unknown tool {other:?}; the tools are stata_run_code and stata_run_file"),
        )),
    }
}

fn check_dir(dir: &Path) -> Result<(), (Option<i32>, String)> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err((
            Some(170),
            format!(
                "the working directory {} does not exist (or is not a folder); pass an existing cwd",
                dir.display()
            ),
        ))
    }
}
