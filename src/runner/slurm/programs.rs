//! Running SLURM's command-line tools (`sbatch`, `squeue`, `scancel`): every cluster has
//! them, where the REST API needs a setup of its own. Each call is bounded in time and reaped.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use tokio::process::Command;

use super::job_state::{JobState, parse_squeue_line};

/// The longest one SLURM command may take: a busy controller answers in seconds.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a SLURM command did not do its job; the text says what to do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClusterError {
    #[error(
        "`{tool}` was not found on PATH: --mode slurm must run where SLURM's commands work (a \
         login node of the cluster), with them on PATH; `stata-mcp doctor --mode slurm` checks"
    )]
    Missing { tool: &'static str },
    #[error("`{tool}` could not be run: {source}")]
    Spawn {
        tool: &'static str,
        source: io::Error,
    },
    #[error("`{tool}` did not answer within {} s; the cluster's controller may be down or busy", COMMAND_TIMEOUT.as_secs())]
    Timeout { tool: &'static str },
    #[error("`{tool}` refused: {said}")]
    Refused { tool: &'static str, said: String },
}

/// What a command printed, once it exited 0.
async fn run(tool: &'static str, args: &[String]) -> Result<String, ClusterError> {
    let mut cmd = Command::new(tool);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(COMMAND_TIMEOUT, cmd.output()).await {
        Err(_) => return Err(ClusterError::Timeout { tool }),
        Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ClusterError::Missing { tool });
        }
        Ok(Err(source)) => return Err(ClusterError::Spawn { tool, source }),
        Ok(Ok(out)) => out,
    };
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    Err(ClusterError::Refused {
        tool,
        said: if said.is_empty() {
            format!("it exited with {}", out.status)
        } else {
            said
        },
    })
}

/// Submits with `args`; the job id.
pub(crate) async fn sbatch(args: &[String]) -> Result<String, ClusterError> {
    let out = run("sbatch", args).await?;
    super::script::parse_job_id(&out).ok_or_else(|| ClusterError::Refused {
        tool: "sbatch",
        said: format!("it printed no job id: {}", out.trim()),
    })
}

/// The states of the jobs `ids` (plain ids: an array's tasks come as `ID_N`). A job the
/// cluster has forgotten is missing from the map.
pub(crate) async fn squeue(ids: &[String]) -> Result<HashMap<String, JobState>, ClusterError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let args = [
        "-h".to_owned(),
        "-r".to_owned(),
        "-t".to_owned(),
        "all".to_owned(),
        "-j".to_owned(),
        ids.join(","),
        "-o".to_owned(),
        "%i|%T|%r".to_owned(),
    ];
    match run("squeue", &args).await {
        Ok(out) => Ok(out.lines().filter_map(parse_squeue_line).collect()),
        // Every id unknown: squeue fails with "Invalid job id specified".
        Err(ClusterError::Refused { said, .. }) if said.contains("Invalid job id") => {
            Ok(HashMap::new())
        }
        Err(e) => Err(e),
    }
}

/// How `scancel` is to stop a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// SIGINT to the batch shell and its children: Stata breaks and writes its trailer.
    /// (`--signal=INT` alone reaches nothing in a job without `srun` steps.)
    Break,
    /// SLURM's own cancel: TERM, then KILL after the cluster's `KillWait`.
    Cancel,
}

pub(crate) async fn scancel(id: &str, signal: Signal) -> Result<(), ClusterError> {
    let mut args = Vec::new();
    if signal == Signal::Break {
        args.extend(["--signal=INT".to_owned(), "--full".to_owned()]);
    }
    args.push(id.to_owned());
    run("scancel", &args).await.map(drop)
}
