//! The `stata_job` tool: a background job's state and new output, waiting for it, cancelling
//! it, or the list of jobs (the work is `service::background`, the text `render::job`).

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, JsonObject, Tool, ToolAnnotations};
use rmcp::service::RequestContext;
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::time::{Duration, Instant};

use super::arguments::{bad_arguments, parse_args};
use super::handler::StataServer;
use super::progress::streaming;
use super::reply::{report, run_result_after, tool_error};
use crate::render::job::{JobToolJson, JobView, forgotten_job, job_list, job_view, unknown_job};
use crate::render::started;
use crate::run::tool::ToolName;
use crate::service::background::MAX_WAIT;
use crate::service::jobs::{Job, Lookup};

/// A correct call, shown with a bad one.
const JOB_EXAMPLE: &str = r#"{"job_id": "job-1", "wait_s": 30}"#;

/// Arguments of `stata_job`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobArgs {
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

pub(crate) fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            ToolName::Job.as_str(),
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
pub(crate) async fn call(
    server: &StataServer,
    args: JsonObject,
    context: &RequestContext<RoleServer>,
) -> CallToolResult {
    let tool = ToolName::Job.as_str();
    let a: JobArgs = match parse_args(tool, args, JOB_EXAMPLE) {
        Ok(a) => a,
        Err(e) => return tool_error(e),
    };
    let mut notes = Vec::new();
    let wait = match a.wait_s {
        None => Duration::ZERO,
        Some(w) if w.is_finite() && w >= 0.0 => {
            if w > MAX_WAIT.as_secs_f64() {
                notes.push(started::wait_capped(w, MAX_WAIT));
            }
            Duration::from_secs_f64(w).min(MAX_WAIT)
        }
        Some(w) => {
            let what = format!(
                "wait_s must be a number of seconds from 0 to {}, not {w}",
                MAX_WAIT.as_secs()
            );
            return tool_error(bad_arguments(tool, &what, JOB_EXAMPLE));
        }
    };
    let service = server.service();
    let Some(id) = a.job_id else {
        if a.cancel || a.wait_s.is_some() {
            let what = format!(
                "{} needs a job_id; list the jobs with stata_job {{}}",
                if a.cancel { "cancel" } else { "wait_s" }
            );
            return tool_error(bad_arguments(tool, &what, JOB_EXAMPLE));
        }
        let jobs = &service.background.jobs;
        let cut_off = crate::runner::cutoff::cut_off_runs(service.shared.dirs.root());
        let (text, json) = job_list(&jobs.newest_first(), &cut_off);
        return report(text, &json);
    };
    let id = id.trim();
    let jobs = &service.background.jobs;
    let job = match jobs.find(id) {
        Lookup::Found(job) => job,
        Lookup::Forgotten => {
            return tool_error(forgotten_job(id, service.shared.dirs.root()));
        }
        Lookup::Unknown => return tool_error(unknown_job(jobs.started(), id)),
    };

    let mut intro = None;
    if a.cancel {
        let target = job.clone();
        let how = streaming(context, server.progress(), |frames| async move {
            service
                .background
                .cancel_job(&target, &frames, &context.ct)
                .await
        })
        .await;
        intro = Some(started::cancelled(&job.id, how));
    } else if !wait.is_zero() && !job.run.snapshot().status.is_done() {
        let until = Instant::now() + wait;
        let run = job.run.clone();
        streaming(context, server.progress(), |frames| async move {
            run.follow(&frames, until, &context.ct).await
        })
        .await;
    }
    job_answer(server, &job, intro, notes)
}

/// The answer about one job, as `stata_job` and a run tool that started one give it.
pub(crate) fn job_answer(
    server: &StataServer,
    job: &Job,
    intro: Option<String>,
    notes: Vec<String>,
) -> CallToolResult {
    let service = server.service();
    let max_chars = service.shared.settings.max_output_chars;
    let look = job.run.look(max_chars);
    let JobView {
        text,
        json,
        outcome,
    } = job_view(
        job,
        look,
        service.shared.dirs.root(),
        intro,
        notes,
        max_chars,
    );
    let Some(outcome) = outcome else {
        return report(text, &json);
    };
    // Ended: the same result a foreground call gets, after a line naming the job.
    let mut result = run_result_after(text, &outcome);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::job::RunOrJobJson;

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
