//! How a session call ended, from the way its wait ended and what its log said: status,
//! rc, error and notes, and whether the session survived.

use crate::log::pipeline::LogSummary;
use crate::run::error::ErrorInfo;
use crate::run::{RunOutcome, RunStatus};
use crate::runner::ended::{it_said, stopped_by_shutdown, take_error};
use crate::runner::process::{describe_exit, shutting_down};
use crate::runner::request::RunRequest;

/// How a call's wait ended.
pub(crate) enum WaitEnd {
    /// The sentinel ran: Stata is back at its prompt.
    Done,
    /// Stata's process ended during the call.
    Exited(std::process::ExitStatus),
    /// Cancelled or timed out, and Stata came back to its prompt after the break.
    Interrupted { timed_out: bool },
    /// Cancelled or timed out, and Stata did not come back: killed.
    Killed { timed_out: bool },
}

/// A call's outcome, and whether the session survived it.
pub(crate) struct CallEnd {
    pub outcome: RunOutcome,
    /// Set when the session is gone after this call: why.
    pub gone: Option<String>,
}

pub(crate) fn lost_note(why: &str) -> String {
    format!(
        "the Stata session was lost ({why}); the next call starts a fresh session, and the \
         data in memory is gone"
    )
}

pub(crate) fn session_outcome(
    end: WaitEnd,
    summary: LogSummary,
    req: &RunRequest,
    stderr: &str,
) -> CallEnd {
    let LogSummary {
        scan,
        output,
        graphs,
        region,
        ..
    } = summary;
    let mut outcome = RunOutcome::from_log(scan.warnings, scan.warnings_omitted, output, graphs);
    outcome.user_region = region;
    let limit = req.timeout.as_secs_f64();
    let stopped = |timed_out: bool| {
        if let Some(why) = stopped_by_shutdown() {
            (RunStatus::Cancelled, why)
        } else if timed_out {
            (
                RunStatus::Timeout,
                format!("The time limit of {limit} s was reached."),
            )
        } else {
            (RunStatus::Cancelled, "The call was cancelled.".to_owned())
        }
    };
    let mut gone = None;
    match end {
        WaitEnd::Done => {
            if let Some(err) = scan.error {
                take_error(&mut outcome, err, scan.interrupted);
            }
        }
        WaitEnd::Interrupted { timed_out } => {
            let (status, why) = stopped(timed_out);
            outcome.status = status;
            outcome.rc = Some(1);
            outcome.notes.push(format!(
                "{why} Stata was interrupted (break) and is back at its prompt: the data in \
                 memory is intact, but the interrupted command did not finish."
            ));
        }
        WaitEnd::Killed { timed_out } => {
            let (status, why) = stopped(timed_out);
            outcome.status = status;
            let what = "Stata did not respond to a break within the grace period and was killed";
            outcome.notes.push(format!("{why} {}", lost_note(what)));
            gone = Some(format!(
                "the previous session was lost ({what}) during an earlier call"
            ));
        }
        WaitEnd::Exited(status) => {
            let how = describe_exit(&status);
            if status.success() {
                // `exit, clear STATA` (or `exit, clear`) in the user's code.
                outcome.notes.push(format!(
                    "Stata exited during the call ({how}; e.g. `exit, clear` in the code): the \
                     session has ended, the next call starts a fresh one, and the data in \
                     memory is gone"
                ));
                if let Some(err) = scan.error {
                    outcome.status = RunStatus::Error;
                    outcome.rc = err.code;
                    outcome.error = Some(err);
                }
                gone = Some("the previous session ended (Stata exited during a call)".into());
            } else if let Some(why) = shutting_down() {
                // The server killed it: not a crash, and not the user's code.
                outcome.status = RunStatus::Cancelled;
                outcome
                    .notes
                    .push(format!("The call was stopped: {}.", why.explain()));
                gone = Some("the server shut down".into());
            } else {
                outcome.status = RunStatus::Error;
                let said = it_said(stderr);
                outcome.error = Some(ErrorInfo::uncoded(format!(
                    "Stata died during the call ({how}); the output so far is below.{said}"
                )));
                outcome.notes.push(lost_note(&format!("Stata died: {how}")));
                gone = Some(format!(
                    "the previous session was lost (Stata died during a call: {how})"
                ));
            }
        }
    }
    CallEnd { outcome, gone }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::ended::tests::{req, summary};

    #[test]
    fn a_call_that_ran_to_its_sentinel_keeps_the_session() {
        let err = ErrorInfo::new(198, "invalid syntax");
        let end = session_outcome(WaitEnd::Done, summary(Some(err), true), &req(), "");
        assert_eq!(
            (end.outcome.status, end.outcome.rc),
            (RunStatus::Error, Some(198))
        );
        assert!(end.gone.is_none());
    }

    #[test]
    fn a_break_keeps_the_data_and_a_kill_loses_the_session() {
        let end = session_outcome(
            WaitEnd::Interrupted { timed_out: true },
            summary(None, true),
            &req(),
            "",
        );
        assert_eq!(
            (end.outcome.status, end.outcome.rc),
            (RunStatus::Timeout, Some(1))
        );
        assert!(
            end.outcome.notes[0].contains("back at its prompt"),
            "{:?}",
            end.outcome.notes
        );
        assert!(end.gone.is_none());
        let end = session_outcome(
            WaitEnd::Killed { timed_out: false },
            summary(None, true),
            &req(),
            "",
        );
        assert_eq!(end.outcome.status, RunStatus::Cancelled);
        assert!(
            end.outcome.notes[0].contains("was killed"),
            "{:?}",
            end.outcome.notes
        );
        assert!(end.gone.is_some());
    }

    #[cfg(unix)]
    #[test]
    fn stata_exiting_during_a_call_ends_the_session() {
        use crate::runner::ended::tests::exit;
        let end = session_outcome(WaitEnd::Exited(exit(0)), summary(None, true), &req(), "");
        assert_eq!(end.outcome.status, RunStatus::Ok);
        assert!(end.outcome.notes[0].contains("Stata exited during the call"));
        assert!(end.gone.is_some());
        let end = session_outcome(
            WaitEnd::Exited(exit(9)),
            summary(None, true),
            &req(),
            "killed",
        );
        assert_eq!(end.outcome.status, RunStatus::Error);
        let msg = end.outcome.error.expect("error").message;
        assert!(msg.starts_with("Stata died during the call") && msg.ends_with("It said: killed"));
    }
}
