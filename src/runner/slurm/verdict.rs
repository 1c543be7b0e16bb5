//! What a cluster job's end means for the run: the cluster's own verdicts (FAILED, TIMEOUT,
//! OUT_OF_MEMORY, NODE_FAIL, CANCELLED) said as such, with the job's output; a job that ran
//! to its end is judged from Stata's log, as in batch mode.

use std::fmt::Write as _;
use std::path::Path;

use super::job_state::{EndKind, JobEnd};
use crate::run::error::ErrorInfo;
use crate::run::{RunOutcome, RunStatus};
use crate::runner::follow::Stop;
use crate::settings::SlurmSettings;

/// Lines of the job's own output quoted in a result.
const OUTPUT_LINES: usize = 12;

/// How following a job ended.
pub(super) enum ClusterEnd {
    /// The cluster ended it (`None`: it left the queue before its end was read).
    Cluster(Option<JobEnd>),
    /// This server stopped it (cancel or time limit); a note when stopping went wrong.
    Stopped(Stop, Option<String>),
}

/// Puts the cluster's verdict into `outcome` (already read from the log).
pub(super) fn apply(
    outcome: &mut RunOutcome,
    end: &ClusterEnd,
    output: &Path,
    settings: &SlurmSettings,
) {
    let end = match end {
        ClusterEnd::Stopped(_, note) => {
            outcome.notes.extend(note.clone());
            return;
        }
        ClusterEnd::Cluster(None)
        | ClusterEnd::Cluster(Some(JobEnd {
            kind: EndKind::Completed,
            ..
        })) => return,
        ClusterEnd::Cluster(Some(end)) => end,
    };
    let said = job_output(output);
    let what = match end.kind {
        EndKind::Completed => return,
        EndKind::Timeout => {
            outcome.status = RunStatus::Timeout;
            format!(
                "the cluster stopped the job at its time limit{} ({})",
                settings
                    .time
                    .as_ref()
                    .map_or_else(String::new, |t| format!(" of {t} (--slurm-time)")),
                end.said()
            )
        }
        EndKind::OutOfMemory => {
            outcome.status = RunStatus::Error;
            memory_message(end, settings)
        }
        EndKind::Failed if said.contains("exceeded memory limit") => {
            // Without cgroups SLURM kills the job for its memory and calls it FAILED.
            outcome.status = RunStatus::Error;
            memory_message(end, settings)
        }
        EndKind::Failed => {
            if outcome.status == RunStatus::Error && outcome.error.is_some() {
                // Stata's own error is the news; the job failing after it is a detail.
                outcome
                    .notes
                    .push(format!("the job then ended {}", end.said()));
                return;
            }
            outcome.status = RunStatus::Error;
            format!(
                "the job script failed on the cluster ({}): Stata may be missing on the node \
                 (--slurm-stata-path, --slurm-setup such as `module load stata`) or a setup \
                 line failed",
                end.said()
            )
        }
        EndKind::NodeFail => {
            outcome.status = RunStatus::Error;
            format!(
                "the cluster node running the job failed ({}); run it again",
                end.said()
            )
        }
        EndKind::Cancelled => {
            outcome.status = RunStatus::Cancelled;
            format!(
                "the job was cancelled on the cluster ({}), not by this server: by scancel, or \
                 by an administrator",
                end.said()
            )
        }
        EndKind::Other => {
            outcome.status = RunStatus::Error;
            format!("the cluster ended the job: {}", end.said())
        }
    };
    let mut message = format!("{what}; the output so far is below.");
    if !said.is_empty() {
        let _ = write!(
            message,
            "\nThe job's own output ({}):\n{said}",
            output.display()
        );
    }
    outcome.rc = None;
    outcome.error = Some(ErrorInfo::uncoded(message));
}

fn memory_message(end: &JobEnd, settings: &SlurmSettings) -> String {
    format!(
        "the job ran out of memory on the cluster ({}{}): ask for more with --slurm-mem",
        end.said(),
        settings
            .mem
            .as_ref()
            .map_or_else(String::new, |m| format!(", --slurm-mem {m}"))
    )
}

/// The last lines of the job's own stdout and stderr.
fn job_output(path: &Path) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(OUTPUT_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::output::CappedOutput;

    fn end(kind: EndKind, state: &str, reason: &str) -> ClusterEnd {
        ClusterEnd::Cluster(Some(JobEnd {
            kind,
            state: state.into(),
            reason: reason.into(),
        }))
    }

    #[test]
    fn cluster_ends_are_said_with_the_jobs_output() {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("slurm.out");
        std::fs::write(
            &out,
            "slurmstepd: error: StepId=2.batch exceeded memory limit (224919552 > 20971520), being killed\n",
        )
        .expect("write");
        let settings = SlurmSettings {
            mem: Some("20M".into()),
            ..Default::default()
        };
        // The outcome and its error message once the cluster ended the job so.
        let judged = |kind, state: &str, reason: &str| {
            let mut o = RunOutcome::from_log(Vec::new(), 0, CappedOutput::new(100), Vec::new());
            apply(&mut o, &end(kind, state, reason), &out, &settings);
            let msg = o
                .error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            (o, msg)
        };
        let (o, msg) = judged(EndKind::Failed, "FAILED", "JobLaunchFailure");
        assert_eq!(o.status, RunStatus::Error);
        assert!(
            msg.contains("ran out of memory") && msg.contains("--slurm-mem 20M"),
            "{msg}"
        );
        assert!(msg.contains("exceeded memory limit"), "{msg}");

        std::fs::write(&out, "/bin/sh: 3: stata-mp: not found\n").expect("write");
        let (_, msg) = judged(EndKind::Failed, "FAILED", "NonZeroExitCode");
        assert!(
            msg.contains("FAILED (NonZeroExitCode)") && msg.contains("stata-mp: not found"),
            "{msg}"
        );
        let (o, _) = judged(EndKind::Timeout, "TIMEOUT", "None");
        assert_eq!(o.status, RunStatus::Timeout);
        let (o, msg) = judged(EndKind::Completed, "COMPLETED", "None");
        assert_eq!(
            (o.status, msg.as_str()),
            (RunStatus::Ok, ""),
            "the log decides"
        );
    }
}
