//! How a session call ended, from the way its wait ended and what its log said: status,
//! rc, error and notes, and whether the session survived.

use crate::log::pipeline::LogSummary;
use crate::run::error::ErrorInfo;
use crate::run::{RunOutcome, RunStatus};
use crate::runner::process::describe_exit;
use crate::runner::request::RunRequest;

/// How a call's wait ended.
pub enum End {
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
pub struct CallEnd {
    pub outcome: RunOutcome,
    /// Set when the session is gone after this call: why.
    pub gone: Option<String>,
}

pub fn lost_note(why: &str) -> String {
    format!(
        "the Stata session was lost ({why}); the next call starts a fresh session, and the \
         data in memory is gone"
    )
}

pub fn session_outcome(end: End, summary: LogSummary, req: &RunRequest, stderr: &str) -> CallEnd {
    let LogSummary {
        scan,
        output,
        graphs,
        ..
    } = summary;
    let mut outcome = RunOutcome::from_log(scan.warnings, scan.warnings_omitted, output, graphs);
    let limit = req.timeout.as_secs_f64();
    let stopped = |timed_out: bool| {
        if timed_out {
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
        End::Done => {
            if let Some(err) = scan.error {
                outcome.status = if scan.interrupted {
                    RunStatus::Cancelled
                } else {
                    RunStatus::Error
                };
                outcome.rc = Some(err.code);
                outcome.error = Some(err);
            }
        }
        End::Interrupted { timed_out } => {
            let (status, why) = stopped(timed_out);
            outcome.status = status;
            outcome.rc = Some(1);
            outcome.notes.push(format!(
                "{why} Stata was interrupted (break) and is back at its prompt: the data in \
                 memory is intact, but the interrupted command did not finish."
            ));
        }
        End::Killed { timed_out } => {
            let (status, why) = stopped(timed_out);
            outcome.status = status;
            let what = "Stata did not respond to a break within the grace period and was killed";
            outcome.notes.push(format!("{why} {}", lost_note(what)));
            gone = Some(format!(
                "the previous session was lost ({what}) during an earlier call"
            ));
        }
        End::Exited(status) => {
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
                    outcome.rc = Some(err.code);
                    outcome.error = Some(err);
                }
                gone = Some("the previous session ended (Stata exited during a call)".into());
            } else {
                outcome.status = RunStatus::Error;
                let said = if stderr.is_empty() {
                    String::new()
                } else {
                    format!(" It said: {stderr}")
                };
                outcome.error = Some(ErrorInfo::new(
                    0,
                    format!(
                        "Stata died during the call ({how}); the output so far is below.{said}"
                    ),
                ));
                outcome.notes.push(lost_note(&format!("Stata died: {how}")));
                gone = Some(format!(
                    "the previous session was lost (Stata died during a call: {how})"
                ));
            }
        }
    }
    CallEnd { outcome, gone }
}
