//! The MCP tool surface: the server's shared state, the tool list, and dispatch of each
//! call to its tool family (`run_tools`, `session_tools`, `log_tools`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::progress::{PeerSink, ProgressSettings, pump};
use super::{job_tools, log_tools, run_tools, session_tools};
use crate::cli::{Mode, ServerOptions};
use crate::log::live::LiveOutput;
use crate::render::image::{self as graphs, PNG_MIME};
use crate::render::outcome::render;
use crate::run::RunOutcome;
use crate::runner::Runner;
use crate::runner::batch::BatchRunner;
use crate::runner::request::RunRequest;
use crate::runner::rundir::{RunDirs, default_log_dir};
use crate::runner::session::SessionRunner;
use crate::runner::turns::{Arrival, Turns};
use crate::service::jobs::Jobs;
use crate::service::retention::{Policy, Retention};

/// What every tool may use: the runner and the server's settings.
pub struct ServerState {
    pub runner: Runner,
    pub explicit_stata: Option<PathBuf>,
    pub workdir: PathBuf,
    pub log_dir: PathBuf,
    pub dirs: Arc<RunDirs>,
    pub default_timeout: Duration,
    pub progress: ProgressSettings,
    pub max_frame_bytes: usize,
    pub max_output_chars: usize,
    pub keep_runs: usize,
    pub keep_bytes: u64,
    pub max_images: usize,
    pub no_images: bool,
    pub allow_shell: bool,
    /// Removes old run directories (`--keep-runs`, `--keep-mb`) and knows which are in use.
    pub retention: Arc<Retention>,
    /// Background jobs (`background: true`, `stata_job`), kept until the server exits.
    pub jobs: Jobs,
    /// `--auto-background-secs`: a foreground run still going after this becomes a job.
    pub auto_background: Option<Duration>,
}

#[derive(Clone)]
pub struct StataServer {
    state: Arc<ServerState>,
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
        let runner = build_runner(opts, dirs.clone());
        let keep_bytes = opts.keep_mb.saturating_mul(1024 * 1024);
        let retention = Arc::new(Retention::new(
            dirs.root().to_path_buf(),
            Policy {
                keep_runs: opts.keep_runs,
                keep_bytes,
            },
        ));
        // Logs left by earlier servers are trimmed at start, in the background.
        retention.spawn_sweep();
        Ok(Self {
            state: Arc::new(ServerState {
                runner,
                explicit_stata: opts.stata_path.clone(),
                workdir,
                log_dir,
                dirs,
                default_timeout: Duration::from_secs(opts.timeout_secs.max(1)),
                progress: ProgressSettings {
                    interval: Duration::from_millis(opts.progress_interval_ms),
                    heartbeat: Duration::from_secs(opts.heartbeat_secs.max(1)),
                },
                max_frame_bytes: opts.max_frame_bytes,
                max_output_chars: opts.max_output_chars,
                keep_runs: opts.keep_runs,
                keep_bytes,
                max_images: opts.max_images,
                no_images: opts.no_images,
                allow_shell: opts.allow_shell,
                retention,
                jobs: Jobs::default(),
                auto_background: opts
                    .auto_background_secs
                    .filter(|&s| s > 0)
                    .map(Duration::from_secs),
            }),
        })
    }

    pub fn state(&self) -> &Arc<ServerState> {
        &self.state
    }
}

/// The runner `opts` ask for, keeping its run directories in `dirs`. The server and the
/// `doctor` and `run` commands all build it here, so they run Stata the same way.
pub fn build_runner(opts: &ServerOptions, dirs: Arc<RunDirs>) -> Runner {
    match opts.mode.unwrap_or(Mode::platform_default()) {
        Mode::Batch => {
            let max_parallel = opts
                .max_parallel
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            Runner::Batch(BatchRunner::new(dirs, opts.max_output_chars, max_parallel))
        }
        Mode::Session => Runner::Session(Box::new(SessionRunner::new(
            dirs,
            opts.max_output_chars,
            Duration::from_secs(opts.break_grace_secs),
        ))),
    }
}

impl ServerState {
    /// Finds Stata anew on every call until found, so installing it or fixing STATA_PATH
    /// in the client's config does not need a server restart.
    pub fn locate_stata(&self) -> Result<PathBuf, String> {
        crate::discovery::locate(self.explicit_stata.as_deref())
    }

    /// Runs `req`, streaming its output as progress frames when the request asked for them.
    pub async fn run(&self, req: RunRequest, context: &RequestContext<RoleServer>) -> RunOutcome {
        let in_progress = self.retention.begin_call();
        let cwd = req.cwd.clone();
        let live = Arc::new(LiveOutput::new(self.max_frame_bytes));
        let done = CancellationToken::new();
        // No progress token, no progress frames: the protocol forbids them.
        let pump_task = context.meta.get_progress_token().map(|token| {
            tokio::spawn(pump(
                live.clone(),
                PeerSink {
                    peer: context.peer.clone(),
                    token,
                },
                self.progress,
                done.clone(),
                context.ct.clone(),
            ))
        });
        let mut outcome = self.runner.run(req, live, context.ct.clone()).await;
        done.cancel();
        if let Some(task) = pump_task {
            // Every frame is written before the response is: the response waits for this.
            let _ = task.await;
        }
        self.attach_graphs(&mut outcome, &cwd).await;
        drop(in_progress);
        self.retention.spawn_sweep();
        outcome
    }

    /// Runs `req` as [`ServerState::run`] does, but for a background job: its output goes
    /// to `live` and only `cancel` stops it, as no request waits for it.
    pub async fn run_detached(
        &self,
        req: RunRequest,
        live: Arc<LiveOutput>,
        cancel: CancellationToken,
    ) -> RunOutcome {
        let in_progress = self.retention.begin_call();
        let cwd = req.cwd.clone();
        let mut outcome = self.runner.run(req, live, cancel).await;
        self.attach_graphs(&mut outcome, &cwd).await;
        drop(in_progress);
        self.retention.spawn_sweep();
        outcome
    }
}

// Graphs of a finished run: paths made absolute, images loaded for the result.
impl ServerState {
    /// Resolves the run's graph paths against `cwd` and loads up to `--max-images` of them
    /// as PNG (none with `--no-images`); a graph that cannot be shown gets a note saying why.
    async fn attach_graphs(&self, outcome: &mut RunOutcome, cwd: &Path) {
        for g in &mut outcome.graphs {
            if g.is_relative() {
                *g = cwd.join(&*g);
            }
        }
        if self.no_images || self.max_images == 0 || outcome.graphs.is_empty() {
            return;
        }
        let wanted: Vec<PathBuf> = outcome
            .graphs
            .iter()
            .take(self.max_images)
            .cloned()
            .collect();
        let skipped = outcome.graphs.len() - wanted.len();
        // Rasterising an SVG takes milliseconds to tens of them: off the async threads.
        let loaded = tokio::task::spawn_blocking(move || {
            wanted
                .iter()
                .map(|p| graphs::load_png(p, graphs::MAX_WIDTH))
                .collect::<Vec<_>>()
        })
        .await;
        match loaded {
            Ok(results) => {
                for r in results {
                    match r {
                        Ok(image) => outcome.images.push(image),
                        Err(e) => outcome.notes.push(format!("graph not shown: {e}")),
                    }
                }
            }
            Err(e) => outcome
                .notes
                .push(format!("graphs not shown: loading them failed ({e})")),
        }
        if skipped > 0 {
            outcome.notes.push(format!(
                "{skipped} more graph{} not shown as images (at most {} per call, \
                 --max-images); their paths are listed",
                if skipped == 1 { " is" } else { "s are" },
                self.max_images
            ));
        }
    }
}

/// Parses a tool's arguments, saying which tool and what is wrong.
pub fn parse_args<T: DeserializeOwned>(tool: &str, args: JsonObject) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::Object(args))
        .map_err(|e| format!("invalid arguments for {tool}: {e}"))
}

/// Resolves a user-supplied path against `base`.
pub fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn absolute(p: &Path) -> std::io::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

/// The tool result of a run: text for the model, structured content for programs.
pub fn to_tool_result(outcome: &RunOutcome) -> CallToolResult {
    tool_result_after(String::new(), outcome)
}

/// The tool result of a run, its text following `preface` (e.g. a line naming a job).
pub fn tool_result_after(mut preface: String, outcome: &RunOutcome) -> CallToolResult {
    let rendered = render(outcome);
    preface.push_str(&rendered.text);
    let mut content = vec![ContentBlock::text(preface)];
    // The graphs, after the text that lists them (`graph: <path> (attached as an image)`).
    content.extend(
        outcome
            .images
            .iter()
            .map(|image| ContentBlock::image(image.base64(), PNG_MIME)),
    );
    let mut result = if rendered.is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    };
    result.structured_content = Some(rendered.structured);
    result
}

/// A tool error that is not a run: bad arguments, an unknown tool.
pub fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

impl ServerHandler for StataServer {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::from_build_env())
            .with_instructions(
                "Runs Stata. Use stata_run_code for code and stata_run_file for do-files. Output \
                 streams as progress notifications while Stata runs; the final result holds the \
                 status, any error (r(N) and message) and the output. For long runs pass \
                 background: true and follow the job with stata_job.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let mut tools = run_tools::tools();
        tools.extend(session_tools::tools(&self.state));
        tools.extend(log_tools::tools());
        tools.extend(job_tools::tools());
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = request.arguments.unwrap_or_default();
        let name = request.name.as_ref();
        let state = &self.state;
        // The call has started: it holds its place in the line only if it runs Stata code
        // (other tools give it up at once, as `turn` is dropped).
        let turn = context
            .extensions
            .get::<Arrival>()
            .map(|a| Turns::global().claim(a.0));
        if !run_tools::NAMES.contains(&name) {
            drop(turn);
            return Ok(self.call_other(name, args, &context).await.into());
        }
        Ok(run_tools::call(state, name, args, &context, turn)
            .await
            .into())
    }
}

impl StataServer {
    /// The tools that run no user code: they keep no place in the line of calls.
    async fn call_other(
        &self,
        name: &str,
        args: JsonObject,
        context: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let state = &self.state;
        if session_tools::NAMES.contains(&name) {
            session_tools::call(state, name, args, context).await
        } else if log_tools::NAMES.contains(&name) {
            log_tools::call(state, name, args, context).await
        } else if job_tools::NAMES.contains(&name) {
            job_tools::call(state, name, args, context).await
        } else {
            tool_error(format!(
                "unknown tool {name:?}; list the tools with tools/list"
            ))
        }
    }
}
