//! How a background job is shown: its state and new output as text and JSON, the job list,
//! and the answers about ids that name no job.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use crate::runner::cutoff::CutOff;

use schemars::JsonSchema;
use serde::Serialize;
use tokio::time::Duration;

use super::result::{RunResultJson, run_id_text};
use crate::run::RunOutcome;
use crate::run::files::WRAPPER_LOG;
use crate::run::id::RunId;
use crate::run::output::CappedOutput;
use crate::service::jobs::{Job, MAX_JOBS};
use crate::service::live_run::{Excerpt, JobLook, JobStatus, Snapshot};
use crate::text::human::{group, human_duration};

/// The `wait_s` the answers suggest for the next look.
const SUGGESTED_WAIT_S: u64 = 30;

/// A background job as `stata_job` (and a run tool with `background: true`) reports it.
/// Once the job has ended, the run's result fields (`rc`, `error`, `output`, `log_path`...)
/// are there too, as a foreground call returns them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct JobJson {
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
    /// A sweep (stata_sweep): its tasks, each with its status, rc, error and run id.
    pub sweep: Option<super::sweep::SweepJson>,
}

/// One line of the job list.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct JobEntryJson {
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
pub(crate) struct JobListJson {
    pub jobs: Vec<JobEntryJson>,
    /// Runs whose server stopped before they ended (a crash, `kill -9`): their logs are kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cut_off: Vec<CutOffJson>,
}

/// A run an earlier server left unfinished.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct CutOffJson {
    pub run_id: String,
    pub server_pid: u32,
    /// A background cluster job the server never submitted: it stopped first.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub never_submitted: bool,
}

/// The structured result of `stata_run_code` / `stata_run_file`: a finished run, or the
/// job a background (or auto-background) call started.
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(extend("type" = "object"))]
#[allow(dead_code)] // only its schema is used
pub(crate) enum RunOrJobJson {
    Run(RunResultJson),
    Job(JobJson),
}

/// The structured result of `stata_job`: one job (with its run result once ended) or the list.
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(extend("type" = "object"))]
#[allow(dead_code)] // only its schema is used
pub(crate) enum JobToolJson {
    Job(Box<JobJson>),
    List(JobListJson),
}

/// What one look at a job shows: the text, the job's JSON, and the run's outcome once the
/// job has ended (whose result then follows the text, with the JSON's fields beside it).
pub(crate) struct JobView {
    pub text: String,
    pub json: JobJson,
    pub outcome: Option<Arc<RunOutcome>>,
}

/// The answer about one job at `look`: its state and new output, or its run once ended.
pub(crate) fn job_view(
    job: &Job,
    look: JobLook,
    runs_dir: &Path,
    intro: Option<String>,
    notes: Vec<String>,
    max_chars: usize,
) -> JobView {
    let JobLook { snap, excerpt } = look;
    let mut text = String::new();
    if let Some(intro) = &intro {
        let _ = writeln!(text, "{intro}");
    }
    let json = job_json(job, &snap, &excerpt, runs_dir, notes);
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
        if let Some(sweep) = &job.sweep {
            text.push_str(&super::sweep::progress_text(sweep));
        }
        for note in &json.job_notes {
            let _ = writeln!(text, "note: {note}");
        }
        write_skipped(
            &mut text,
            excerpt.skipped_bytes,
            job.run_dir.as_ref().map(|d| d.id.to_string()).as_deref(),
        );
        write_new_output(&mut text, &excerpt.text);
        let _ = writeln!(text, "{}", json.next);
        return JobView {
            text,
            json,
            outcome: None,
        };
    };

    // Ended: the same result a foreground call gets, after a line naming the job.
    let _ = writeln!(text, "Job {} ({}) has ended:", job.id, describe(job));
    for note in &json.job_notes {
        let _ = writeln!(text, "note: {note}");
    }
    // The result below holds the output (head and tail); only a gap in what this caller
    // was given needs saying.
    write_skipped(
        &mut text,
        excerpt.skipped_bytes,
        Some(&run_id_text(outcome)),
    );
    let outcome = Some(if let Some(sweep) = &job.sweep {
        // A sweep's result is its tasks: every line they printed went out as it came, and
        // each task's whole log is a stata_read_log away.
        let mut shown = (**outcome).clone();
        shown.output = super::sweep::final_output(sweep, max_chars);
        Arc::new(shown)
    } else if excerpt.seen_lines > 0 {
        Arc::new(unseen_only(outcome, &excerpt, max_chars))
    } else {
        outcome.clone()
    });
    JobView {
        text,
        json,
        outcome,
    }
}

/// The run's result with, of its output, only what earlier looks did not show, and a note
/// saying how much they did and where the whole log is.
fn unseen_only(outcome: &RunOutcome, excerpt: &Excerpt, max_chars: usize) -> RunOutcome {
    let mut shown = outcome.clone();
    let mut output = CappedOutput::new(max_chars);
    for line in excerpt.text.lines() {
        output.push_line(line);
    }
    shown.output = output;
    let lines = match excerpt.seen_lines {
        1 => "1 line".to_owned(),
        n => format!("{} lines", group(n)),
    };
    shown.notes.push(format!(
        "{lines} of output shown by earlier stata_job looks are not repeated here; the whole \
         log: stata_read_log {{\"run_id\": \"{}\"}}",
        run_id_text(outcome)
    ));
    shown
}

fn job_json(
    job: &Job,
    snap: &Snapshot,
    excerpt: &Excerpt,
    runs_dir: &Path,
    job_notes: Vec<String>,
) -> JobJson {
    let done = snap.status.is_done();
    let next = if let Some(sweep) = job.sweep.as_deref().filter(|_| done) {
        format!(
            "The sweep has ended; each task's full log: stata_read_log {{\"run_id\": \"{}\"}} \
             with the task's run id from the table.",
            sweep
                .tasks
                .first()
                .map_or_else(|| "-".to_owned(), |t| t.run_dir.id.to_string())
        )
    } else if done {
        format!(
            "The job has ended; its full log: stata_read_log {{\"run_id\": \"{}\"}}.",
            snap.outcome
                .as_deref()
                .map_or_else(|| "-".to_owned(), run_id_text)
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
        tool: job.tool.as_str().to_owned(),
        summary: job.summary.clone(),
        elapsed_ms: millis(snap.elapsed),
        queue_note: snap.queue_note.clone(),
        new_output: excerpt.text.clone(),
        skipped_bytes: excerpt.skipped_bytes,
        run_id: snap
            .outcome
            .as_ref()
            .map(|o| run_id_text(o))
            .or_else(|| job.run_dir.as_ref().map(|d| d.id.to_string())),
        log_path: snap
            .outcome
            .as_ref()
            .and_then(|o| o.log_path.clone())
            .or_else(|| job.run_dir.as_ref().map(|d| d.path.join(WRAPPER_LOG)))
            .map(|p| p.to_string_lossy().into_owned()),
        runs_dir: runs_dir.to_string_lossy().into_owned(),
        next,
        job_notes,
        sweep: job.sweep.as_deref().map(super::sweep::sweep_json),
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
pub(crate) fn job_list(jobs: &[Arc<Job>], cut_off: &[CutOff]) -> (String, JobListJson) {
    let entries: Vec<JobEntryJson> = jobs
        .iter()
        .map(|job| {
            let snap = job.run.snapshot();
            JobEntryJson {
                job_id: job.id.clone(),
                status: snap.status,
                tool: job.tool.as_str().to_owned(),
                summary: job.summary.clone(),
                elapsed_ms: millis(snap.elapsed),
                run_id: snap.outcome.as_deref().map(run_id_text),
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
        for (e, job) in entries.iter().zip(jobs) {
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
    text.push_str(&cut_off_text(cut_off));
    let cut_off = cut_off
        .iter()
        .map(|c| CutOffJson {
            run_id: c.run_id.clone(),
            server_pid: c.server_pid,
            never_submitted: c.never_submitted,
        })
        .collect();
    (
        text,
        JobListJson {
            jobs: entries,
            cut_off,
        },
    )
}

/// The runs a stopped server left, for `stata_job {}` and `doctor` (empty when none).
pub(crate) fn cut_off_text(cut_off: &[CutOff]) -> String {
    let mut text = String::new();
    if cut_off.is_empty() {
        return text;
    }
    let _ = writeln!(
        text,
        "{} run{} cut off because the server running {} stopped before {} ended (it crashed \
         or was killed); nothing of {} is left running, and the logs are kept:",
        cut_off.len(),
        if cut_off.len() == 1 { " was" } else { "s were" },
        if cut_off.len() == 1 { "it" } else { "them" },
        if cut_off.len() == 1 { "it" } else { "they" },
        if cut_off.len() == 1 { "it" } else { "them" },
    );
    for c in cut_off.iter().take(10) {
        let _ = writeln!(
            text,
            "  run {} (server pid {}{}): stata_read_log {{\"run_id\": \"{}\"}}",
            c.run_id,
            c.server_pid,
            if c.never_submitted {
                ", never submitted to the cluster: the server stopped first"
            } else if c.stopped {
                ", its Stata was still running and has been stopped"
            } else {
                ""
            },
            c.run_id
        );
    }
    if cut_off.len() > 10 {
        let _ = writeln!(text, "  and {} more", cut_off.len() - 10);
    }
    text
}

/// Why job `id` is known no more (only the newest jobs are kept), and where its log still is.
pub(crate) fn forgotten_job(id: &str, runs: &Path) -> String {
    format!(
        "job {id:?} is no longer kept: the server keeps its newest {MAX_JOBS} jobs. Its log is \
         still on disk under {} (stata_read_log reads it by run id).",
        runs.display()
    )
}

/// Why `id` names no job of a server that started `started` jobs, and what to do instead.
pub(crate) fn unknown_job(started: u64, id: &str) -> String {
    let mut msg = format!("no job {id:?} in this server. ");
    if RunId::parse(id).is_some() {
        let _ = write!(
            msg,
            "That is a run id, not a job id: read its log with stata_read_log {{\"run_id\": \"{id}\"}}. "
        );
    }
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

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
