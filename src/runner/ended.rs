//! How a run ended, from the way the wait for Stata ended and what its log said: status,
//! rc, error and notes. Batch and session runs share the rules for the log's own verdict.

use std::io;
use std::process::ExitStatus;

use super::process::{describe_exit, shutting_down};
use super::request::RunRequest;
use crate::log::pipeline::LogSummary;
use crate::run::error::ErrorInfo;
use crate::run::{RunOutcome, RunStatus};
use crate::stata::log_lines::rc_line;

/// The error the log ended with: the run failed. A break the log shows (`--Break--`, then
/// `r(1);`) was not this server's (its own cancels and time limits end runs elsewhere):
/// the code stopped itself, or something else interrupted Stata.
pub(crate) fn take_error(outcome: &mut RunOutcome, err: ErrorInfo, interrupted: bool) {
    if interrupted {
        outcome.notes.push(
            "Stata reported a break (--Break--, r(1)) that this server did not send: the code \
             stopped itself (exit 1, error 1) or Stata was interrupted from outside"
                .into(),
        );
    }
    outcome.status = RunStatus::Error;
    outcome.rc = err.code;
    outcome.error = Some(err);
}

/// ` It said: ...` when Stata said something on stderr as it died.
pub(crate) fn it_said(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(" It said: {stderr}")
    }
}

/// How the wait for Stata ended.
pub(crate) enum BatchEnd {
    Exited(ExitStatus),
    /// A cluster job's script ended; its exit says nothing of the run (Stata's own exit is 0
    /// even when the do-file fails), so the log alone is read.
    JobEnded,
    Cancelled,
    TimedOut,
    WaitFailed(io::Error),
}

pub(crate) fn batch_outcome(
    end: BatchEnd,
    summary: LogSummary,
    req: &RunRequest,
    stdout: &str,
    stderr: &str,
    log_exists: bool,
) -> RunOutcome {
    let LogSummary {
        scan,
        output,
        started,
        pre_start,
        graphs,
        region,
    } = summary;
    let mut outcome = RunOutcome::from_log(scan.warnings, scan.warnings_omitted, output, graphs);
    outcome.user_region = region;
    let status = match end {
        BatchEnd::Cancelled => {
            outcome.status = RunStatus::Cancelled;
            // The server going (the client closed its input) is why, when it is.
            let why = stopped_by_shutdown()
                .unwrap_or_else(|| "the run was cancelled and Stata was stopped".to_owned());
            outcome.notes.push(why);
            return outcome;
        }
        BatchEnd::TimedOut => {
            outcome.status = RunStatus::Timeout;
            outcome.notes.push(format!(
                "Stata was stopped at the time limit of {} s; the output so far is below. \
                 Pass a larger timeout_s (or start the server with --timeout) for long jobs.",
                req.timeout.as_secs_f64()
            ));
            return outcome;
        }
        BatchEnd::WaitFailed(e) => {
            outcome.status = RunStatus::Error;
            outcome.error = Some(ErrorInfo::uncoded(format!("lost track of Stata: {e}")));
            return outcome;
        }
        BatchEnd::Exited(status) => Some(status),
        BatchEnd::JobEnded => None,
    };
    let ended = status
        .as_ref()
        .map_or_else(|| "the end of its cluster job".to_owned(), describe_exit);

    let license = scan.license.or_else(|| {
        pre_start
            .iter()
            .find(|l| l.contains("License is invalid") || l.contains("stata.lic"))
            .cloned()
    });
    if let Some(license) = license {
        outcome.status = RunStatus::FailedToStart;
        outcome.error = Some(ErrorInfo::uncoded(format!(
            "Stata did not start: {license}. Stata's licence is missing or invalid on this \
                 machine: run Stata once by hand to see its licence message, or re-run its \
                 licence initialisation (stinit)."
        )));
        return outcome;
    }
    if !started {
        let mut said = pre_start;
        said.extend(
            [stderr, stdout]
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
        let what = match (said.is_empty(), log_exists) {
            (false, _) => format!("it said:\n{}", said.join("\n")),
            (true, true) => "its log has nothing from the code".to_owned(),
            (true, false) => "it wrote no log".to_owned(),
        };
        let stata_rc = said.iter().rev().find_map(|l| rc_line(l));
        outcome.status = RunStatus::FailedToStart;
        outcome.rc = stata_rc;
        outcome.error = Some(ErrorInfo::with_code(
            stata_rc,
            format!(
                "Stata ({}) ended with {ended} before running the code; {what}",
                req.stata.display(),
            ),
        ));
        return outcome;
    }
    if let Some(err) = scan.error {
        take_error(&mut outcome, err, scan.interrupted);
    } else if status.as_ref().is_some_and(|s| !s.success())
        && let Some(why) = shutting_down()
    {
        // The server killed it: not a crash, and not the user's code.
        outcome.status = RunStatus::Cancelled;
        outcome
            .notes
            .push(format!("The run was stopped: {}.", why.explain()));
    } else if status.as_ref().is_some_and(|s| !s.success()) {
        let said = it_said(stderr);
        outcome.status = RunStatus::Error;
        outcome.error = Some(ErrorInfo::uncoded(format!(
            "Stata ended unexpectedly ({ended}) before finishing; the output so far is below.{said}"
        )));
    }
    outcome
}

/// Why a run was stopped when the server is going (the client closed its input, a signal):
/// that, not a cancel, is the reason a result gives.
pub(crate) fn stopped_by_shutdown() -> Option<String> {
    shutting_down().map(|why| format!("The run was stopped: {}.", why.explain()))
}

/// A call stopped `when` (waiting, starting Stata) before any of its code ran; the server
/// going is said as the reason when it is.
pub(crate) fn cancelled_before(started: std::time::Instant, when: &str) -> RunOutcome {
    let note = match shutting_down() {
        Some(why) => format!(
            "The run was stopped {when}: {}; nothing ran.",
            why.explain()
        ),
        None => format!("cancelled {when}; nothing ran"),
    };
    RunOutcome {
        status: RunStatus::Cancelled,
        error: None,
        notes: vec![note],
        ..RunOutcome::not_started(None, started, None, String::new())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::log::scan::Scan;
    use crate::run::RunSource;
    use crate::run::output::CappedOutput;
    use std::path::PathBuf;
    use std::time::Duration;

    pub(crate) fn summary(error: Option<ErrorInfo>, started: bool) -> LogSummary {
        LogSummary {
            scan: Scan {
                error,
                ..Scan::default()
            },
            output: CappedOutput::new(1000),
            started,
            pre_start: Vec::new(),
            graphs: Vec::new(),
            region: None,
        }
    }

    pub(crate) fn req() -> RunRequest {
        RunRequest {
            stata: PathBuf::from("/usr/local/stata18/stata-mp"),
            source: RunSource::Code("display 1".into()),
            cwd: PathBuf::from("/w"),
            change_dir: false,
            run_dir: None,
            turn: None,
            timeout: Duration::from_secs(30),
            session: Default::default(),
            label: String::new(),
            sandbox: None,
            detach: Default::default(),
            notes: Vec::new(),
        }
    }

    #[cfg(unix)]
    pub(crate) fn exit(code: i32) -> ExitStatus {
        std::os::unix::process::ExitStatusExt::from_raw(code << 8)
    }

    #[cfg(unix)]
    #[test]
    fn a_batch_run_is_judged_by_its_log_not_its_exit_code() {
        let err = ErrorInfo::new(111, "variable foo not found");
        let o = batch_outcome(
            BatchEnd::Exited(exit(0)),
            summary(Some(err), true),
            &req(),
            "",
            "",
            true,
        );
        assert_eq!((o.status, o.rc), (RunStatus::Error, Some(111)));
        let o = batch_outcome(
            BatchEnd::Exited(exit(0)),
            summary(None, true),
            &req(),
            "",
            "",
            true,
        );
        assert_eq!((o.status, o.rc, o.error), (RunStatus::Ok, None, None));
        let mut broken = summary(Some(ErrorInfo::new(1, "--Break--")), true);
        broken.scan.interrupted = true;
        let o = batch_outcome(BatchEnd::Exited(exit(0)), broken, &req(), "", "", true);
        // Not this server's cancel (that ends as BatchEnd::Cancelled): the code's own break.
        assert_eq!((o.status, o.rc), (RunStatus::Error, Some(1)));
        assert!(
            o.notes.iter().any(|n| n.contains("--Break--")),
            "{:?}",
            o.notes
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_batch_run_that_never_reached_the_code_failed_to_start() {
        let mut s = summary(None, false);
        s.pre_start = vec!["License is invalid".into()];
        let o = batch_outcome(BatchEnd::Exited(exit(0)), s, &req(), "", "", true);
        assert_eq!(o.status, RunStatus::FailedToStart);
        let msg = o.error.expect("error").message;
        assert!(msg.contains("licence") && msg.contains("stinit"), "{msg}");

        let mut s = summary(None, false);
        s.pre_start = vec!["file main.do not found".into(), "r(601);".into()];
        let o = batch_outcome(BatchEnd::Exited(exit(0)), s, &req(), "", "", true);
        assert_eq!((o.status, o.rc), (RunStatus::FailedToStart, Some(601)));

        let o = batch_outcome(
            BatchEnd::Exited(exit(1)),
            summary(None, true),
            &req(),
            "",
            "oops",
            true,
        );
        assert_eq!(o.status, RunStatus::Error);
        let msg = o.error.expect("error").message;
        assert!(
            msg.contains("ended unexpectedly") && msg.ends_with("It said: oops"),
            "{msg}"
        );
    }

    #[test]
    fn a_stopped_batch_run_says_why() {
        let o = batch_outcome(
            BatchEnd::TimedOut,
            summary(None, true),
            &req(),
            "",
            "",
            true,
        );
        assert_eq!(o.status, RunStatus::Timeout);
        assert!(o.notes[0].contains("time limit of 30 s"), "{:?}", o.notes);
        let o = batch_outcome(
            BatchEnd::Cancelled,
            summary(None, true),
            &req(),
            "",
            "",
            true,
        );
        assert_eq!(o.status, RunStatus::Cancelled);
        let o = batch_outcome(
            BatchEnd::WaitFailed(io::Error::other("gone")),
            summary(None, true),
            &req(),
            "",
            "",
            true,
        );
        assert_eq!(o.status, RunStatus::Error);
    }
}
