//! The MCP tool surface: tool definitions, argument checking, and dispatch of runs to the runner.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::progress::{PeerSink, ProgressSettings, pump};
use crate::cli::Mode;
use crate::cli::ServerOptions;
use crate::log::chunk::LiveOutput;
use crate::result::render::{RunResultJson, render};
use crate::runner::batch::{BatchRunner, failed_to_start};
use crate::runner::rundir::{RunDirs, default_log_dir};
use crate::runner::session::SessionRunner;
use crate::runner::{RunOutcome, RunRequest, RunSource, Runner};

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
}

struct Inner {
    runner: Runner,
    explicit_stata: Option<PathBuf>,
    workdir: PathBuf,
    default_timeout: Duration,
    progress: ProgressSettings,
    max_frame_bytes: usize,
}

#[derive(Clone)]
pub struct StataServer {
    inner: Arc<Inner>,
}

impl StataServer {
    pub fn new(opts: &ServerOptions) -> anyhow::Result<Self> {
        let workdir = match &opts.workdir {
            Some(w) => absolute(w)?,
            None => std::env::current_dir()?,
        };
        let log_dir = match &opts.log_dir {
            Some(d) => absolute(d)?,
            None => default_log_dir(),
        };
        let dirs = Arc::new(RunDirs::new(&log_dir));
        let max_parallel = opts
            .max_parallel
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let runner = match opts.mode.unwrap_or(Mode::platform_default()) {
            Mode::Batch => {
                Runner::Batch(BatchRunner::new(dirs, opts.max_output_chars, max_parallel))
            }
            Mode::Session => Runner::Session(Box::new(SessionRunner::new(
                dirs,
                opts.max_output_chars,
                Duration::from_secs(opts.break_grace_secs),
            ))),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                runner,
                explicit_stata: opts.stata_path.clone(),
                workdir,
                default_timeout: Duration::from_secs(opts.timeout_secs.max(1)),
                progress: ProgressSettings {
                    interval: Duration::from_millis(opts.progress_interval_ms),
                    heartbeat: Duration::from_secs(opts.heartbeat_secs.max(1)),
                },
                max_frame_bytes: opts.max_frame_bytes,
            }),
        })
    }

    fn tools() -> Vec<Tool> {
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
                 command) and the output, with the head and tail kept when it is long.",
                Arc::new(JsonObject::new()),
            )
            .with_input_schema::<RunCodeArgs>()
            .with_output_schema::<RunResultJson>()
            .with_annotations(run_annotations.clone()),
            Tool::new(
                "stata_run_file",
                "Run a do-file (with optional arguments) and return its output, streamed live as \
                 for stata_run_code. Relative paths inside the do-file resolve against its own \
                 folder unless cwd is given.",
                Arc::new(JsonObject::new()),
            )
            .with_input_schema::<RunFileArgs>()
            .with_output_schema::<RunResultJson>()
            .with_annotations(run_annotations),
        ]
    }

    /// Finds Stata anew on every call until found, so installing it or fixing STATA_PATH
    /// in the client's config does not need a server restart.
    fn locate_stata(&self) -> Result<PathBuf, String> {
        crate::discovery::locate(self.inner.explicit_stata.as_deref())
    }

    /// Resolves a user-supplied path against `base`.
    fn resolve(base: &Path, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    }

    fn timeout(&self, timeout_s: Option<f64>) -> Result<Duration, String> {
        match timeout_s {
            None => Ok(self.inner.default_timeout),
            Some(t) if t.is_finite() && t > 0.0 && t <= 7.0 * 86_400.0 => {
                Ok(Duration::from_secs_f64(t))
            }
            Some(t) => Err(format!(
                "timeout_s must be a number of seconds between 0 and 604800, not {t}"
            )),
        }
    }

    /// Turns tool arguments into a run, or says what is wrong with them.
    fn request(&self, tool: &str, args: JsonObject) -> Result<RunRequest, (Option<i32>, String)> {
        let bad = |e: String| (None, e);
        match tool {
            "stata_run_code" => {
                let a: RunCodeArgs = parse_args(tool, args).map_err(bad)?;
                let cwd = match &a.cwd {
                    Some(c) => Self::resolve(&self.inner.workdir, c),
                    None => self.inner.workdir.clone(),
                };
                check_dir(&cwd)?;
                let timeout = self.timeout(a.timeout_s).map_err(bad)?;
                let stata = self.locate_stata().map_err(bad)?;
                Ok(RunRequest {
                    stata,
                    source: RunSource::Code(a.code),
                    cwd,
                    change_dir: a.cwd.is_some(),
                    timeout,
                })
            }
            "stata_run_file" => {
                let a: RunFileArgs = parse_args(tool, args).map_err(bad)?;
                let path = Self::resolve(&self.inner.workdir, &a.path);
                if !path.is_file() {
                    return Err((
                        Some(601),
                        format!(
                            "file {} not found (the path given was {:?}; relative paths are taken \
                             from the server's working directory {})",
                            path.display(),
                            a.path,
                            self.inner.workdir.display()
                        ),
                    ));
                }
                let cwd = match &a.cwd {
                    Some(c) => Self::resolve(&self.inner.workdir, c),
                    None => path
                        .parent()
                        .map_or_else(|| self.inner.workdir.clone(), Path::to_path_buf),
                };
                check_dir(&cwd)?;
                let timeout = self.timeout(a.timeout_s).map_err(bad)?;
                let stata = self.locate_stata().map_err(bad)?;
                Ok(RunRequest {
                    stata,
                    source: RunSource::File {
                        path,
                        args: a.args.unwrap_or_default(),
                    },
                    cwd,
                    change_dir: true,
                    timeout,
                })
            }
            other => Err((
                None,
                format!("unknown tool {other:?}; the tools are stata_run_code and stata_run_file"),
            )),
        }
    }

    async fn run(&self, req: RunRequest, context: &RequestContext<RoleServer>) -> RunOutcome {
        let live = Arc::new(LiveOutput::new(self.inner.max_frame_bytes));
        let done = CancellationToken::new();
        // No progress token, no progress frames: the protocol forbids them.
        let pump_task = context.meta.get_progress_token().map(|token| {
            tokio::spawn(pump(
                live.clone(),
                PeerSink {
                    peer: context.peer.clone(),
                    token,
                },
                self.inner.progress,
                done.clone(),
                context.ct.clone(),
            ))
        });
        let outcome = self.inner.runner.run(req, live, context.ct.clone()).await;
        done.cancel();
        if let Some(task) = pump_task {
            // Every frame is written before the response is: the response waits for this.
            let _ = task.await;
        }
        outcome
    }
}

fn parse_args<T: DeserializeOwned>(tool: &str, args: JsonObject) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::Object(args))
        .map_err(|e| format!("invalid arguments for {tool}: {e}"))
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

fn absolute(p: &Path) -> std::io::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

fn to_tool_result(outcome: &RunOutcome) -> CallToolResult {
    let rendered = render(outcome);
    let mut result = if rendered.is_error {
        CallToolResult::error(vec![ContentBlock::text(rendered.text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(rendered.text)])
    };
    result.structured_content = Some(rendered.structured);
    result
}

impl ServerHandler for StataServer {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::from_build_env())
            .with_instructions(
                "Runs Stata. Use stata_run_code for code and stata_run_file for do-files. Output \
                 streams as progress notifications while Stata runs; the final result holds the \
                 status, any error (r(N) and message) and the output.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(Self::tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let started = Instant::now();
        let args = request.arguments.unwrap_or_default();
        let outcome = match self.request(&request.name, args) {
            Ok(req) => self.run(req, &context).await,
            Err((code, message)) => failed_to_start("-", started, code, message),
        };
        Ok(to_tool_result(&outcome).into())
    }
}
