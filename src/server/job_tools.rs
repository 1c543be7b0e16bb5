//! Background runs and the `stata_job` tool: starting a run as a job, following it (output
//! since the last look, progress frames while a call waits), cancelling it, listing jobs.

use std::fmt::Write as _;
use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use rmcp::service::RequestContext;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use super::progress::{PeerSink, pump};
use super::tools::{ServerState, parse_args, to_tool_result, tool_error, tool_result_after};
use crate::log::live::LiveOutput;
use crate::render::outcome::RunResultJson;
use crate::run::RunSource;
use crate::run::id::RunId;
use crate::runner::request::RunRequest;
use crate::runner::wrapper::WRAPPER_LOG;
use crate::service::jobs::{Excerpt, Job, JobStatus, LiveRun, Lookup, MAX_JOBS, Snapshot};
use crate::text::human::{group, human_duration};

pub const NAMES: &[&str] = &["stata_job"];

/// The longest a `stata_job` call waits: well inside the few minutes after which clients
/// give up on a call, whatever the progress frames say.
pub const MAX_WAIT: Duration = Duration::from_secs(50);
/// The `wait_s` the answers suggest for the next look.
const SUGGESTED_WAIT_S: u64 = 30;

/// Arguments of `stata_job`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobArgs {
    /// The job's id (`job-1`), from the call that started it. Omit it to list this server's jobs.
    #[serde(default)]
    pub job_id: Option<String>,
    /// Seconds to wait for the job to end (0 to 50); the answer comes as soon as it ends, with the output printed meanwhile. Default: 0, answer at once.
    #[serde(default)]
    pub wait_s: Option<f64>,
    /// true: stop the job (in session mode Stata gets a break first), then wait for it to end.
    #[serde(default)]
    pub cancel: bool,
}

/// A background job as `stata_job` (and a run tool with `background: true`) reports it.
/// Once the job has ended, the run's result fields (`rc`, `error`, `output`, `log_path`...)
/// are there too, as a foreground call returns them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct JobJson {
    /// The job's id, for stata_job.
    pub job_id: String,
    /// queued (waiting for the session), running, or how it ended: ok, error, timeout, cancelled, failed_to_start.
    pub status: JobStatus,
    /// Whether the job has ended; its run result fields are then present.
    pub done: bool,
    /// The tool that started it.
    pub tool: String,
    /// What it runs: the code's first line, or the do-file.
    pub summary: String,
    /// Time since it started (until it ended), in milliseconds.
    pub elapsed_ms: u64,
    /// Why it waits, while it is queued.
    pub queue_note: Option<String>,
    /// Output printed since the last look at this job; each line is given once.
    pub new_output: String,
    /// Bytes of output between the last look and `new_output` that are not in it (a flood); they are in the log.
    pub skipped_bytes: u64,
    /// The run's id, for stata_read_log: known once the job has ended.
    pub run_id: Option<String>,
    /// The run's full log: known once the job has ended.
    pub log_path: Option<String>,
    /// The folder that holds every run's folder and log.
    pub runs_dir: String,
    /// What to do next, as a sentence.
    pub next: String,
    /// Messages about this call (e.g. wait_s was capped).
    pub job_notes: Vec<String>,
}

/// One line of the job list.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct JobEntryJson {
    pub job_id: String,
    pub status: JobStatus,
    pub tool: String,
    pub summary: String,
    pub elapsed_ms: u64,
    /// The run's id once the job has ended.
    pub run_id: Option<String>,
}

/// `stata_job {}`: the jobs of this server, newest first.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct JobListJson {
    pub jobs: Vec<JobEntryJson>,
}

/// The structured result of `stata_run_code` / `stata_run_file`: a finished run, or the
/// job a background (or auto-background) call started.
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(extend("type" = "object"))]
#[allow(dead_code)] // only its schema is used
pub enum RunOrJobJson {
    Run(RunResultJson),
    Job(JobJson),
}

/// The structured result of `stata_job`: one job (with its run result once ended) or the list.
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(extend("type" = "object"))]
#[allow(dead_code)] // only its schema is used
pub enum JobToolJson {
    Job(Box<JobJson>),
    List(JobListJson),
}

pub fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "stata_job",
            "Follow a background job (started by stata_run_code or stata_run_file with \
             background: true): its status and the output printed since the last look, waiting \
             up to wait_s seconds (at most 50) for it to end; once ended, the full run result \
             (status, error, output, graphs). cancel: true stops it. With no job_id: the list of \
             this server's jobs, newest first.",
            Arc::new(JsonObject::new()),
        )
        .with_input_schema::<JobArgs>()
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

/// Runs `stata_job`.
pub async fn call(
    state: &Arc<ServerState>,
    name: &str,
    args: JsonObject,
    context: &RequestContext<RoleServer>,
) -> CallToolResult {
    let a: JobArgs = match parse_args(name, args) {
        Ok(a) => a,
        Err(e) => return tool_error(e),
    };
    let mut notes = Vec::new();
    let wait = match a.wait_s {
        None => Duration::ZERO,
        Some(w) if w.is_finite() && w >= 0.0 => {
            if w > MAX_WAIT.as_secs_f64() {
                notes.push(format!(
                    "wait_s {w} is more than {} s: waited at most {} s (clients give up on \
                     longer calls); call again to wait more",
                    MAX_WAIT.as_secs(),
                    MAX_WAIT.as_secs()
                ));
            }
            Duration::from_secs_f64(w).min(MAX_WAIT)
        }
        Some(w) => {
            return tool_error(format!(
                "wait_s must be a number of seconds from 0 to {}, not {w}",
                MAX_WAIT.as_secs()
            ));
        }
    };
    let Some(id) = a.job_id else {
        if a.cancel || a.wait_s.is_some() {
            return tool_error(format!(
                "{} needs a job_id; list the jobs with stata_job {{}}",
                if a.cancel { "cancel" } else { "wait_s" }
            ));
        }
        return list(state);
    };
    let id = id.trim();
    let job = match state.jobs.find(id) {
        Lookup::Found(job) => job,
        Lookup::Forgotten => {
            return tool_error(format!(
                "job {id:?} is no longer kept: the server keeps its newest {MAX_JOBS} jobs. Its \
                 log is still on disk under {} (stata_read_log reads it by run id).",
                state.dirs.root().display()
            ));
        }
        Lookup::Unknown => return tool_error(unknown_job(state, id)),
    };

    let mut intro = None;
    if a.cancel {
        if job.run.snapshot().status.is_done() {
            intro = Some(format!(
                "Job {} had already ended; nothing to cancel.",
                job.id
            ));
        } else {
            job.run.cancel();
            // Stopping takes a moment (a break, then Stata's way back to its prompt).
            let ended = follow_for(state, &job.run, Instant::now() + MAX_WAIT, context).await;
            intro = Some(if ended {
                format!("Job {} was cancelled.", job.id)
            } else {
                format!(
                    "Job {} was asked to stop but has not ended yet; look again with stata_job.",
                    job.id
                )
            });
        }
    } else if !wait.is_zero() && !job.run.snapshot().status.is_done() {
        follow_for(state, &job.run, Instant::now() + wait, context).await;
    }
    job_result(state, &job, intro, notes)
}

/// Starts `req` as a background job and answers the call that asked for it at once.
pub fn start_background(
    state: &Arc<ServerState>,
    tool: &str,
    mut req: RunRequest,
) -> CallToolResult {
    let summary = summary(&req);
    let timeout = req.timeout;
    // Named now, so the answer can say where the log is while the job runs.
    req.run_dir = match state.dirs.for_run(None) {
        Ok(dir) => Some(dir),
        Err(msg) => return tool_error(msg),
    };
    let run_dir = req.run_dir.clone();
    let job = state
        .jobs
        .add(tool, summary, spawn_run(state, req), run_dir);
    let where_ = match &job.run_dir {
        Some(dir) => format!(
            "its run id is {} and its full log, written as it runs, is {}",
            dir.id,
            dir.path.join(WRAPPER_LOG).display()
        ),
        None => "its run id and full log come with its result".to_owned(),
    };
    let intro = format!(
        "Started background job {}. It runs as a foreground call would (time limit {}); \
         {where_}.",
        job.id,
        human_duration(timeout)
    );
    job_result(state, &job, Some(intro), Vec::new())
}

/// Runs `req` for the call in `context`, streaming its output; if it is still going after
/// `after` (`--auto-background-secs`), it goes on as a background job and the call answers
/// with the job's id instead of being cut off by the client.
pub async fn run_or_background(
    state: &Arc<ServerState>,
    tool: &str,
    req: RunRequest,
    after: Duration,
    context: &RequestContext<RoleServer>,
) -> CallToolResult {
    let summary = summary(&req);
    let run = spawn_run(state, req);
    let ended = follow_for(state, &run, Instant::now() + after, context).await;
    if !ended && context.ct.is_cancelled() {
        // The client gave up on this call: stop the run, as a foreground run is stopped.
        run.cancel();
        let quiet = LiveOutput::new(256);
        run.follow(&quiet, Instant::now() + MAX_WAIT, &CancellationToken::new())
            .await;
    }
    if let Some(outcome) = run.snapshot().outcome {
        return to_tool_result(&outcome);
    }
    let job = state.jobs.add(tool, summary, run, None);
    let intro = format!(
        "Still running after {}, so the run goes on in the background as job {} \
         (--auto-background-secs); nothing was stopped.",
        human_duration(after),
        job.id
    );
    job_result(state, &job, Some(intro), Vec::new())
}

/// The run of a job: the server's runner, exactly as for a foreground call.
fn spawn_run(state: &Arc<ServerState>, req: RunRequest) -> Arc<LiveRun> {
    let state = state.clone();
    LiveRun::spawn(move |live, cancel| async move { state.run_detached(req, live, cancel).await })
}

/// Follows `run` for the call in `context` until it ends (`true`), `until` passes or the
/// call is cancelled, sending its output as the call's progress frames when the call asked
/// for them. Every frame is sent before this returns, so none can follow the response.
async fn follow_for(
    state: &ServerState,
    run: &LiveRun,
    until: Instant,
    context: &RequestContext<RoleServer>,
) -> bool {
    let frames = Arc::new(LiveOutput::new(state.max_frame_bytes));
    let done = CancellationToken::new();
    let pump_task = context.meta.get_progress_token().map(|token| {
        tokio::spawn(pump(
            frames.clone(),
            PeerSink {
                peer: context.peer.clone(),
                token,
            },
            state.progress,
            done.clone(),
            context.ct.clone(),
        ))
    });
    let ended = run.follow(&frames, until, &context.ct).await;
    done.cancel();
    if let Some(task) = pump_task {
        let _ = task.await;
    }
    ended
}

/// The answer about one job: its state and new output, or its run result once ended.
fn job_result(
    state: &ServerState,
    job: &Job,
    intro: Option<String>,
    notes: Vec<String>,
) -> CallToolResult {
    let snap = job.run.snapshot();
    let excerpt = job.run.take_output(state.max_output_chars);
    let mut text = String::new();
    if let Some(intro) = &intro {
        let _ = writeln!(text, "{intro}");
    }
    let json = job_json(state, job, &snap, &excerpt, notes);
    let Some(outcome) = &snap.outcome else {
        let _ = writeln!(
            text,
            "Job {} ({}): {} for {}",
            job.id,
            describe(job),
            snap.status.as_str(),
            human_duration(snap.elapsed)
        );
        if let Some(note) = &snap.queue_note {
            let _ = writeln!(text, "{note}");
        }
        if snap.cancel_requested {
            let _ = writeln!(text, "cancellation requested; the run is stopping");
        }
        for note in &json.job_notes {
            let _ = writeln!(text, "note: {note}");
        }
        write_skipped(
            &mut text,
            excerpt.skipped_bytes,
            job.run_dir.as_ref().map(|d| d.id.as_str()),
        );
        write_new_output(&mut text, &excerpt.text);
        let _ = writeln!(text, "{}", json.next);
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = serde_json::to_value(&json).ok();
        return result;
    };

    // Ended: the same result a foreground call gets, after a line naming the job.
    let _ = writeln!(text, "Job {} ({}) has ended:", job.id, describe(job));
    for note in &json.job_notes {
        let _ = writeln!(text, "note: {note}");
    }
    // The result below holds the output (head and tail); only a gap in what this caller
    // was given needs saying.
    write_skipped(&mut text, excerpt.skipped_bytes, Some(&outcome.run_id));
    let mut result = tool_result_after(text, outcome);
    if let (Some(obj), Ok(serde_json::Value::Object(job_fields))) = (
        result
            .structured_content
            .as_mut()
            .and_then(|v| v.as_object_mut()),
        serde_json::to_value(&json),
    ) {
        // The job's fields beside the run's; `status`, `run_id`, `log_path` agree.
        obj.extend(job_fields);
    }
    result
}

fn job_json(
    state: &ServerState,
    job: &Job,
    snap: &Snapshot,
    excerpt: &Excerpt,
    job_notes: Vec<String>,
) -> JobJson {
    let done = snap.status.is_done();
    let next = if done {
        format!(
            "The job has ended; its full log: stata_read_log {{\"run_id\": \"{}\"}}.",
            snap.outcome.as_ref().map_or("-", |o| o.run_id.as_str())
        )
    } else {
        format!(
            "Follow it: stata_job {{\"job_id\": \"{id}\", \"wait_s\": {SUGGESTED_WAIT_S}}} gives \
             the output printed since this look, and the full result once it has ended; stop \
             it with stata_job {{\"job_id\": \"{id}\", \"cancel\": true}}.",
            id = job.id
        )
    };
    JobJson {
        job_id: job.id.clone(),
        status: snap.status,
        done,
        tool: job.tool.clone(),
        summary: job.summary.clone(),
        elapsed_ms: millis(snap.elapsed),
        queue_note: snap.queue_note.clone(),
        new_output: excerpt.text.clone(),
        skipped_bytes: excerpt.skipped_bytes,
        run_id: snap
            .outcome
            .as_ref()
            .map(|o| o.run_id.clone())
            .or_else(|| job.run_dir.as_ref().map(|d| d.id.clone())),
        log_path: snap
            .outcome
            .as_ref()
            .and_then(|o| o.log_path.clone())
            .or_else(|| job.run_dir.as_ref().map(|d| d.path.join(WRAPPER_LOG)))
            .map(|p| p.to_string_lossy().into_owned()),
        runs_dir: state.dirs.root().to_string_lossy().into_owned(),
        next,
        job_notes,
    }
}

/// A line saying how much output since the last look a flood made us leave out, and where
/// it is (the run id is known once the job has ended).
fn write_skipped(text: &mut String, skipped_bytes: u64, run_id: Option<&str>) {
    if skipped_bytes == 0 {
        return;
    }
    let read = match run_id {
        Some(id) => format!("stata_read_log {{\"run_id\": \"{id}\"}}"),
        None => "stata_read_log with the run id the job's result gives".to_owned(),
    };
    let _ = writeln!(
        text,
        "[… {} bytes of output since the last look are not shown (more than one answer \
         holds); all of it is in the log: {read} …]",
        group(skipped_bytes)
    );
}

/// `--- new output (N lines) ---` and the text.
fn write_new_output(text: &mut String, new: &str) {
    if new.is_empty() {
        text.push_str("(no new output)\n");
        return;
    }
    let lines = new.lines().count() as u64;
    let _ = writeln!(
        text,
        "--- new output ({} line{}) ---",
        group(lines),
        if lines == 1 { "" } else { "s" }
    );
    text.push_str(new);
    if !new.ends_with('\n') {
        text.push('\n');
    }
}

/// `stata_job {}`: every job, newest first.
fn list(state: &ServerState) -> CallToolResult {
    let jobs = state.jobs.newest_first();
    let entries: Vec<JobEntryJson> = jobs
        .iter()
        .map(|job| {
            let snap = job.run.snapshot();
            JobEntryJson {
                job_id: job.id.clone(),
                status: snap.status,
                tool: job.tool.clone(),
                summary: job.summary.clone(),
                elapsed_ms: millis(snap.elapsed),
                run_id: snap.outcome.as_ref().map(|o| o.run_id.clone()),
            }
        })
        .collect();
    let mut text = String::new();
    if entries.is_empty() {
        text.push_str(
            "No background jobs in this server. Start one with stata_run_code or \
             stata_run_file and background: true.\n",
        );
    } else {
        let _ = writeln!(
            text,
            "{} job{}, newest first:",
            entries.len(),
            if entries.len() == 1 { "" } else { "s" }
        );
        for (e, job) in entries.iter().zip(&jobs) {
            let _ = write!(
                text,
                "{}  {}  {}  {}",
                e.job_id,
                e.status.as_str(),
                human_duration(Duration::from_millis(e.elapsed_ms)),
                describe(job)
            );
            if let Some(run) = &e.run_id {
                let _ = write!(text, "  (run {run})");
            }
            text.push('\n');
        }
    }
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = serde_json::to_value(JobListJson { jobs: entries }).ok();
    result
}

/// Why `id` names no job, and what to do instead.
fn unknown_job(state: &ServerState, id: &str) -> String {
    let mut msg = format!("no job {id:?} in this server. ");
    if RunId::parse(id).is_some() {
        let _ = write!(
            msg,
            "That is a run id, not a job id: read its log with stata_read_log {{\"run_id\": \"{id}\"}}. "
        );
    }
    let started = state.jobs.started();
    if started == 0 {
        msg.push_str(
            "This server has started no jobs: jobs come from stata_run_code or stata_run_file \
             called with background: true, and last only while the server runs.",
        );
    } else {
        let ids = if started == 1 {
            "Its only job id is job-1".to_owned()
        } else {
            format!("Its job ids are job-1 to job-{started}")
        };
        let _ = write!(
            msg,
            "{ids}; list them with stata_job {{}}. Jobs last only while the server runs."
        );
    }
    msg
}

/// `stata_run_code: display 1` — the tool and what it runs.
fn describe(job: &Job) -> String {
    format!("{}: {}", job.tool, job.summary)
}

/// What a run runs, in one short line.
fn summary(req: &RunRequest) -> String {
    const MAX: usize = 80;
    let short = |s: &str| {
        if s.chars().count() > MAX {
            format!("{}…", s.chars().take(MAX).collect::<String>())
        } else {
            s.to_owned()
        }
    };
    match &req.source {
        RunSource::Code(code) => {
            let mut lines = code.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("(empty)");
            let more = lines.count();
            if more == 0 {
                short(first)
            } else {
                format!(
                    "{} (+{more} line{})",
                    short(first),
                    if more == 1 { "" } else { "s" }
                )
            }
        }
        RunSource::File { path, args } => {
            let mut s = path.display().to_string();
            for a in args {
                s.push(' ');
                s.push_str(a);
            }
            short(&s)
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn req(source: RunSource) -> RunRequest {
        RunRequest {
            stata: PathBuf::from("/bin/stata-mp"),
            source,
            cwd: PathBuf::from("/tmp"),
            change_dir: false,
            run_dir: None,
            turn: None,
            timeout: std::time::Duration::from_secs(1),
        }
    }

    #[test]
    fn summaries_are_one_short_line() {
        let s = summary(&req(RunSource::Code(
            "\n  sysuse auto\nregress price mpg\n".into(),
        )));
        assert_eq!(s, "sysuse auto (+1 line)");
        let long = "display ".to_owned() + &"x".repeat(200);
        assert_eq!(
            summary(&req(RunSource::Code(long))).chars().count(),
            81,
            "cut at 80 characters and an ellipsis"
        );
        let s = summary(&req(RunSource::File {
            path: PathBuf::from("/w/a.do"),
            args: vec!["2024".into()],
        }));
        assert_eq!(s, "/w/a.do 2024");
    }

    #[test]
    fn schemas_are_objects() {
        for schema in [
            serde_json::to_value(schemars::schema_for!(RunOrJobJson)).expect("schema"),
            serde_json::to_value(schemars::schema_for!(JobToolJson)).expect("schema"),
        ] {
            assert_eq!(schema["type"], "object", "{schema}");
            assert_eq!(
                schema["anyOf"].as_array().map(Vec::len),
                Some(2),
                "{schema}"
            );
        }
    }
}
