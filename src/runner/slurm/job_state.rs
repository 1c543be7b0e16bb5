//! A SLURM job's state as `squeue` prints it, and what each end means for the run.

/// Where a job is, as the cluster says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobState {
    /// Waiting in the queue, with SLURM's reason (`Priority`, `Resources`, ...).
    Pending(String),
    Running,
    /// Ended, or ending (`COMPLETING`): the state word and SLURM's reason.
    Ended(JobEnd),
    /// The cluster no longer knows the job (it ended longer ago than `MinJobAge`).
    Gone,
}

/// How a job ended on the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobEnd {
    pub kind: EndKind,
    /// The state word (`FAILED`, `TIMEOUT`, ...).
    pub state: String,
    /// SLURM's reason (`NonZeroExitCode`, `None`).
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndKind {
    /// The job script ran to its end: Stata's log says how the run went.
    Completed,
    /// The job script exited non-zero (Stata missing on the node, a setup line failing).
    Failed,
    /// The cluster's time limit (`--slurm-time`).
    Timeout,
    OutOfMemory,
    NodeFail,
    /// `scancel`, by this server or someone else.
    Cancelled,
    /// Some other end (PREEMPTED, BOOT_FAIL, DEADLINE, REVOKED).
    Other,
}

impl JobState {
    /// Reads `squeue`'s `%T` and `%r`.
    pub(crate) fn parse(state: &str, reason: &str) -> JobState {
        let reason = reason.trim().to_owned();
        let kind = match state.trim() {
            "PENDING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "SUSPENDED"
            | "RESV_DEL_HOLD" | "CONFIGURING" => return JobState::Pending(reason),
            // A job in COMPLETING is over as far as Stata goes, but the node is still
            // cleaning up: the run waits for its final state.
            "RUNNING" | "COMPLETING" | "STAGE_OUT" | "SIGNALING" | "RESIZING" => {
                return JobState::Running;
            }
            "COMPLETED" => EndKind::Completed,
            "FAILED" => EndKind::Failed,
            "TIMEOUT" => EndKind::Timeout,
            "OUT_OF_MEMORY" => EndKind::OutOfMemory,
            "NODE_FAIL" => EndKind::NodeFail,
            "CANCELLED" => EndKind::Cancelled,
            _ => EndKind::Other,
        };
        JobState::Ended(JobEnd {
            kind,
            state: state.trim().to_owned(),
            reason,
        })
    }

    pub(crate) fn is_over(&self) -> bool {
        matches!(self, JobState::Ended(_) | JobState::Gone)
    }
}

impl JobEnd {
    /// `TIMEOUT` or `FAILED (NonZeroExitCode)`, for messages.
    pub(crate) fn said(&self) -> String {
        if self.reason.is_empty() || self.reason == "None" {
            self.state.clone()
        } else {
            format!("{} ({})", self.state, self.reason)
        }
    }
}

/// One line of `squeue -h -r -t all -o '%i|%T|%r'`: the job's id (`12`, `12_3`), state, reason.
pub(crate) fn parse_squeue_line(line: &str) -> Option<(String, JobState)> {
    let mut parts = line.trim().splitn(3, '|');
    let id = parts.next()?.trim();
    let state = parts.next()?;
    let reason = parts.next().unwrap_or("");
    if id.is_empty() || state.trim().is_empty() {
        return None;
    }
    Some((id.to_owned(), JobState::parse(state, reason)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_read_as_states() {
        assert_eq!(
            parse_squeue_line("3_2|PENDING|Resources"),
            Some(("3_2".into(), JobState::Pending("Resources".into())))
        );
        assert_eq!(
            parse_squeue_line("7|RUNNING|None\n"),
            Some(("7".into(), JobState::Running))
        );
        let Some((_, JobState::Ended(end))) = parse_squeue_line("3_1|FAILED|NonZeroExitCode")
        else {
            panic!("an end");
        };
        assert_eq!(end.kind, EndKind::Failed);
        assert_eq!(end.said(), "FAILED (NonZeroExitCode)");
        let Some((_, JobState::Ended(end))) = parse_squeue_line("9|OUT_OF_MEMORY|None") else {
            panic!("an end");
        };
        assert_eq!(
            (end.kind, end.said()),
            (EndKind::OutOfMemory, "OUT_OF_MEMORY".into())
        );
        assert_eq!(
            parse_squeue_line("5|COMPLETING|None").map(|p| p.1),
            Some(JobState::Running)
        );
        assert_eq!(parse_squeue_line(""), None);
        assert_eq!(parse_squeue_line("squeue: error: x"), None);
    }
}
