//! Stata errors: a return code plus the message Stata prints for it.

/// An error on its way up the call stack. `shown` turns true once the message and
/// `r(N);` have been printed, so enclosing do-files print only their own `r(N);`.
#[derive(Debug, Clone)]
pub(crate) struct StataErr {
    pub rc: i32,
    pub msg: Option<String>,
    pub shown: bool,
}

impl StataErr {
    pub(crate) fn new(rc: i32, msg: impl Into<String>) -> Self {
        StataErr {
            rc,
            msg: Some(msg.into()),
            shown: false,
        }
    }

    /// An error with the generic message of its code (the `error N` command).
    pub(crate) fn code(rc: i32) -> Self {
        StataErr {
            rc,
            msg: standard_message(rc).map(str::to_string),
            shown: false,
        }
    }

    /// `exit N`: the code without any message.
    pub(crate) fn silent(rc: i32) -> Self {
        StataErr {
            rc,
            msg: None,
            shown: false,
        }
    }

    pub(crate) fn brk() -> Self {
        StataErr::new(1, "--Break--")
    }

    pub(crate) fn syntax() -> Self {
        StataErr::new(198, "invalid syntax")
    }
}

/// Why execution stops early: an error, or an `exit` that ends a do-file or Stata.
#[derive(Debug)]
pub(crate) enum Flow {
    Err(StataErr),
    /// `exit` (code 0) inside a do-file or program: leave it quietly.
    ExitDo,
    /// `exit, clear` / `exit, STATA clear`: leave Stata.
    ExitStata,
}

impl From<StataErr> for Flow {
    fn from(e: StataErr) -> Self {
        Flow::Err(e)
    }
}

pub(crate) type R<T = ()> = Result<T, Flow>;

/// Shorthand for returning an error with a message.
pub(crate) fn fail<T>(rc: i32, msg: impl Into<String>) -> R<T> {
    Err(Flow::Err(StataErr::new(rc, msg)))
}

/// The generic messages `error N` prints (`../shared/stata-behavior.md` section 5, and Stata's `help error`).
pub(crate) fn standard_message(rc: i32) -> Option<&'static str> {
    Some(match rc {
        1 => "--Break--",
        3 => "no dataset in use",
        4 => "no; data in memory would be lost",
        7 => "'' found where number expected",
        9 => "assertion is false",
        100 => "varlist required",
        101 => "varlist not allowed",
        102 => "too few variables specified",
        103 => "too many variables specified",
        109 => "type mismatch",
        110 => "already defined",
        111 => "not found",
        130 => "expression too long",
        133 => "unknown function ()",
        170 => "unable to change to directory",
        197 => "invalid syntax",
        198 => "invalid syntax",
        199 => "unrecognized command",
        301 => "last estimates not found",
        459 => "something that should be true of your data is not",
        601 => "file not found",
        602 => "file already exists",
        603 => "file could not be opened",
        604 => "log file already open",
        606 => "no log file open",
        2000 => "no observations",
        _ => return None,
    })
}
