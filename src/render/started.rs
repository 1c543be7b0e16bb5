//! What a result says as work goes on after its call: a background job or sweep started, a
//! run promoted to a job, a cancel; and the notes on arguments the server bounded.

use std::time::Duration;

use crate::run::files::WRAPPER_LOG;
use crate::runner::rundir::RunDir;
use crate::text::human::human_duration;

/// "Started background job …": where its log is while it runs.
pub(crate) fn job_started(job_id: &str, run_dir: Option<&RunDir>, timeout: Duration) -> String {
    let where_ = match run_dir {
        Some(dir) => format!(
            "its run id is {} and its full log, written as it runs, is {}",
            dir.id,
            dir.path.join(WRAPPER_LOG).display()
        ),
        None => "its run id and full log come with its result".to_owned(),
    };
    format!(
        "Started background job {job_id}. It runs as a foreground call would (time limit {}); \
         {where_}.",
        human_duration(timeout)
    )
}

/// Why a run went to the background: the client's limit (`limit`, from its
/// `MCP_TOOL_TIMEOUT` when `from_env`), or `--auto-background-secs`.
pub(crate) struct PromotedBecause {
    pub limit: Option<Duration>,
    pub from_env: bool,
}

/// "Still running after …": the run goes on as job `job_id`, and how to wait for it.
pub(crate) fn promoted(job_id: &str, after: Duration, because: &PromotedBecause) -> String {
    let why = match because.limit {
        Some(limit) => format!(
            "before the client gives up on the call (after about {}{})",
            human_duration(limit),
            if because.from_env {
                ", as its MCP_TOOL_TIMEOUT says"
            } else {
                ""
            }
        ),
        None => "as --auto-background-secs asks".to_owned(),
    };
    format!(
        "Still running after {}, so the run goes on in the background as job {job_id}, {why}; \
         nothing was stopped. Wait for it with stata_job {{\"job_id\": \"{job_id}\", \
         \"wait_s\": 30}}.",
        human_duration(after)
    )
}

/// "Started sweep …".
pub(crate) fn sweep_started(job_id: &str, tasks: usize, path: &str, max_parallel: usize) -> String {
    format!(
        "Started sweep {job_id}: {tasks} task{} of {path}, at most {max_parallel} at once.",
        plural(tasks)
    )
}

/// A sweep's one-line summary: the do-file and how many argument lists.
pub(crate) fn sweep_summary(path: &str, tasks: usize) -> String {
    format!("{path} × {tasks} argument list{}", plural(tasks))
}

/// The note when a sweep asked for more tasks at once than `--max-parallel` allows.
pub(crate) fn parallel_capped(asked: usize, cap: usize) -> String {
    format!(
        "max_parallel {asked} is more than the server's --max-parallel {cap}: at most {cap} tasks \
         run at once (each Stata MP uses several cores and a licence seat)"
    )
}

/// The note when `stata_job` was asked to wait longer than it ever does.
pub(crate) fn wait_capped(asked_s: f64, max: Duration) -> String {
    format!(
        "wait_s {asked_s} is more than {} s: waited at most {} s (clients give up on longer \
         calls); call again to wait more",
        max.as_secs(),
        max.as_secs()
    )
}

/// What a cancel did to job `job_id`.
pub(crate) fn cancelled(job_id: &str, how: crate::service::background::Cancelled) -> String {
    use crate::service::background::Cancelled;
    match how {
        Cancelled::AlreadyEnded => format!("Job {job_id} had already ended; nothing to cancel."),
        Cancelled::Stopped => format!("Job {job_id} was cancelled."),
        Cancelled::Stopping => format!(
            "Job {job_id} was asked to stop but has not ended yet; look again with stata_job."
        ),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promotion_says_why_and_how_to_wait() {
        let text = promoted(
            "job-3",
            Duration::from_secs(50),
            &PromotedBecause {
                limit: Some(Duration::from_secs(60)),
                from_env: true,
            },
        );
        assert!(text.contains("job-3"), "{text}");
        assert!(text.contains("MCP_TOOL_TIMEOUT"), "{text}");
        assert!(
            text.contains(r#"stata_job {"job_id": "job-3", "wait_s": 30}"#),
            "{text}"
        );
        let own = promoted(
            "job-1",
            Duration::from_secs(5),
            &PromotedBecause {
                limit: None,
                from_env: false,
            },
        );
        assert!(own.contains("--auto-background-secs"), "{own}");
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(sweep_summary("a.do", 1), "a.do × 1 argument list");
        assert!(sweep_started("job-1", 3, "a.do", 2).contains("3 tasks of a.do"));
    }
}
