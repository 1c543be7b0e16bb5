//! How a sweep is shown: where its tasks are, one line per finished task, the output of the
//! failed ones and, at the end, a table of every task.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;

use super::result::{run_id_text, write_error};
use crate::run::RunOutcome;
use crate::run::error::ErrorInfo;
use crate::run::output::CappedOutput;
use crate::service::live_run::JobStatus;
use crate::service::tasks::{Sweep, Task, TaskState};
use crate::text::human::human_duration;

/// Output lines of a failed task shown in the sweep's result (its last ones).
const FAILED_TAIL_LINES: usize = 15;

/// One task in the structured result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct SweepTaskJson {
    pub task: usize,
    pub args: Vec<String>,
    pub status: JobStatus,
    /// Stata's return code of its failure; null when none (or not shown in its log).
    pub rc: Option<i32>,
    /// Its error, once it ended with one.
    pub error: Option<ErrorInfo>,
    /// Its run id, for stata_read_log.
    pub run_id: String,
    /// Run time once ended, in milliseconds.
    pub duration_ms: Option<u64>,
}

/// A sweep in the structured result of `stata_job`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct SweepJson {
    pub path: String,
    pub max_parallel: usize,
    /// The most tasks that ran at once so far.
    pub peak_running: usize,
    pub tasks: Vec<SweepTaskJson>,
}

pub(crate) fn sweep_json(sweep: &Sweep) -> SweepJson {
    SweepJson {
        path: sweep.path.to_string_lossy().into_owned(),
        max_parallel: sweep.max_parallel,
        peak_running: sweep.peak_running(),
        tasks: sweep
            .tasks
            .iter()
            .map(|t| {
                let state = t.state();
                let done = match &state {
                    TaskState::Done(o) => Some(o.clone()),
                    _ => None,
                };
                SweepTaskJson {
                    task: t.index,
                    args: t.args.clone(),
                    status: t.status(),
                    rc: done.as_ref().and_then(|o| o.reported_rc()),
                    error: done.as_ref().and_then(|o| o.error.clone()),
                    run_id: t.run_dir.id.to_string(),
                    duration_ms: done
                        .as_ref()
                        .map(|o| u64::try_from(o.duration.as_millis()).unwrap_or(u64::MAX)),
                }
            })
            .collect(),
    }
}

/// `10 tasks of /w/a.do, at most 3 at once (3 at most so far): 4 ok, 1 error, 3 running, 2 queued`
pub(crate) fn headline(sweep: &Sweep) -> String {
    let counts: Vec<String> = sweep
        .counts()
        .into_iter()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    format!(
        "Sweep: {} tasks of {}, at most {} at once ({} at most so far): {}",
        sweep.tasks.len(),
        sweep.path.display(),
        sweep.max_parallel,
        sweep.peak_running(),
        counts.join(", ")
    )
}

/// The arguments as the model passed them, quoted where they hold a space.
fn args_text(task: &Task) -> String {
    if task.args.is_empty() {
        return "(no args)".to_owned();
    }
    task.args
        .iter()
        .map(|a| {
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("{a:?}")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line for a finished task: args, status, rc and the error's first line.
fn task_line(task: &Task, o: &RunOutcome) -> String {
    let mut line = format!(
        "task {} [{}]: {}",
        task.index,
        args_text(task),
        JobStatus::from(o.status).as_str()
    );
    if let Some(rc) = o.reported_rc() {
        let _ = write!(line, " r({rc})");
    }
    if let Some(err) = &o.error {
        let first = err.message.lines().next().unwrap_or("").trim();
        if !first.is_empty() {
            let _ = write!(line, ": {first}");
        }
    }
    let _ = write!(
        line,
        " (run {}, {})",
        run_id_text(o),
        human_duration(o.duration)
    );
    line
}

/// While it runs: the headline and one line per finished task.
pub(crate) fn progress_text(sweep: &Sweep) -> String {
    let mut text = headline(sweep);
    text.push('\n');
    for task in &sweep.tasks {
        if let TaskState::Done(o) = task.state() {
            let _ = writeln!(text, "  {}", task_line(task, &o));
        }
    }
    text
}

/// Once every task has ended: the sweep's output, holding the finished lines, the failed
/// tasks' errors and output, and the table.
pub(crate) fn final_output(sweep: &Sweep, max_chars: usize) -> CappedOutput {
    let mut text = progress_text(sweep);
    let failed: Vec<(&Task, std::sync::Arc<RunOutcome>)> = sweep
        .tasks
        .iter()
        .filter_map(|t| match t.state() {
            TaskState::Done(o) if t.status() != JobStatus::Ok => Some((t, o)),
            _ => None,
        })
        .collect();
    for (task, o) in &failed {
        let _ = writeln!(
            text,
            "--- task {} [{}]: {} ---",
            task.index,
            args_text(task),
            JobStatus::from(o.status).as_str()
        );
        if let Some(err) = &o.error {
            write_error(&mut text, err, "  ");
        }
        for note in &o.notes {
            let _ = writeln!(text, "  note: {}", note.trim_end());
        }
        let out = o.output.render("");
        let lines: Vec<&str> = out.lines().collect();
        let from = lines.len().saturating_sub(FAILED_TAIL_LINES);
        if from > 0 {
            let _ = writeln!(
                text,
                "  [… {from} earlier lines: stata_read_log {{\"run_id\": \"{}\"}} …]",
                run_id_text(o)
            );
        }
        for l in &lines[from..] {
            let _ = writeln!(text, "  {l}");
        }
    }
    text.push_str("--- summary ---\n");
    let _ = writeln!(
        text,
        "{:<5} {:<16} {:<7} {:<9} {:<22} args",
        "task", "status", "rc", "time", "run id"
    );
    for task in &sweep.tasks {
        let (rc, time, run) = match task.state() {
            TaskState::Done(o) => (
                o.reported_rc()
                    .map_or_else(|| "-".to_owned(), |r| r.to_string()),
                human_duration(o.duration),
                run_id_text(&o),
            ),
            _ => ("-".into(), "-".into(), task.run_dir.id.to_string()),
        };
        let _ = writeln!(
            text,
            "{:<5} {:<16} {:<7} {:<9} {:<22} {}",
            task.index,
            task.status().as_str(),
            rc,
            time,
            run,
            args_text(task)
        );
    }
    let mut out = CappedOutput::new(max_chars);
    for line in text.lines() {
        out.push_line(line);
    }
    out
}
