//! The names of the files in a run's folder.

/// File name of the wrapper in the run directory; batch Stata names its log after it (`run.log`).
pub(crate) const WRAPPER_FILE: &str = "run.do";
/// The log batch Stata writes for [`WRAPPER_FILE`].
pub(crate) const WRAPPER_LOG: &str = "run.log";
/// Where `stata_run_code` puts the user's code.
pub(crate) const CODE_FILE: &str = "code.do";
/// A sandboxed Stata's temporary folder (`STATATMP`), in the folder it may write.
pub(crate) const RUN_TEMP: &str = "tmp";
/// In a run folder while its run goes on: the pid of the server running it.
pub(crate) const SERVER_FILE: &str = "server.pid";
/// In a run folder whose server stopped before the run ended: that server's pid.
pub(crate) const CUT_OFF_FILE: &str = "cut-off";
/// In the sessions folder, the folders a session's calls write in while they run
/// (`calls-<pid>-<session>/<run id>/`), moved into their run folders after.
pub(crate) const SESSION_CALLS_PREFIX: &str = "calls-";
/// The folder of session start-up logs, beside `runs/` in the log dir.
pub(crate) const SESSIONS_DIR: &str = "sessions";

/// The start-up log of session `session` in a server with process id `pid`, in
/// [`SESSIONS_DIR`]: `start-<pid>.log` for `main`, `start-<pid>-<session>.log` for the others.
pub(crate) fn start_log_name(pid: u32, session: &str) -> String {
    if session == "main" {
        format!("start-{pid}.log")
    } else {
        format!("start-{pid}-{session}.log")
    }
}

/// The server process id a [`start_log_name`] names, if it is one.
pub(crate) fn start_log_pid(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix("start-")?.strip_suffix(".log")?;
    rest.split_once('-')
        .map_or(rest, |(pid, _)| pid)
        .parse()
        .ok()
}

/// A cluster run's record of its SLURM job (JSON), so a later server can follow it.
pub(crate) const SLURM_JOB_FILE: &str = "slurm-job.json";
/// Written once a cluster run's job is over and its result was made: nothing to re-attach.
pub(crate) const SLURM_ENDED_FILE: &str = "slurm-ended";

/// Marks a cluster run's folder as a background job's (JSON: tool, summary, job id), so a
/// later server re-attaches it; a sweep's own folder holds [`SWEEP_FILE`] instead.
pub(crate) const BACKGROUND_FILE: &str = "background.json";
/// A sweep's record in its own folder (JSON): its tasks' run ids and arguments.
pub(crate) const SWEEP_FILE: &str = "sweep.json";

/// Where in [`WRAPPER_LOG`] the user's output lies: `START END` (byte offsets), one line.
pub(crate) const REGION_FILE: &str = "region";

/// The text of a [`REGION_FILE`] for `region`.
pub(crate) fn region_text(region: &std::ops::Range<u64>) -> String {
    format!("{} {}\n", region.start, region.end)
}

/// The range a [`REGION_FILE`]'s text names, if it is one.
pub(crate) fn parse_region(text: &str) -> Option<std::ops::Range<u64>> {
    let mut parts = text.split_whitespace().map(str::parse::<u64>);
    let (Some(Ok(start)), Some(Ok(end)), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    (start <= end).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_reads_back_as_written() {
        assert_eq!(parse_region(&region_text(&(12..340))), Some(12..340));
        for bad in ["", "1", "5 2", "a b", "1 2 3"] {
            assert_eq!(parse_region(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_start_log_name_gives_back_its_server() {
        assert_eq!(start_log_name(42, "main"), "start-42.log");
        assert_eq!(start_log_pid(&start_log_name(42, "main")), Some(42));
        assert_eq!(start_log_pid(&start_log_name(42, "boot-2")), Some(42));
        for other in ["start-.log", "start-x.log", "run.log", "start-42.txt"] {
            assert_eq!(start_log_pid(other), None, "{other}");
        }
    }
}
