//! One error found in a run's log (or why it could not start): code, message, command, place.

use serde::Serialize;

/// One error (or, for warnings, a `capture noisily` message) found in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ErrorInfo {
    /// Stata's return code, the `N` of `r(N);`; null for a failure of the runner's own
    /// (Stata did not start, it died) and for a captured error whose code the log does not
    /// show.
    pub code: Option<i32>,
    /// The error message lines Stata printed, joined with newlines.
    pub message: String,
    /// The command that failed, as Stata echoed it (continuations joined).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// A short, certain hint for common codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The do-files that were open when it failed, outermost first (the user's own nesting).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<String>,
    /// The file the failing command is in (the do-file, or "the code" for stata_run_code),
    /// when it could be found there without doubt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The line the failing command starts on in `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl ErrorInfo {
    /// A Stata error with just a code and a message (no command, hint or stack).
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self::with_code(Some(code), message)
    }

    /// A failure with no Stata return code: the runner's own, or one Stata gave no code for.
    pub fn uncoded(message: impl Into<String>) -> Self {
        Self::with_code(None, message)
    }

    pub fn with_code(code: Option<i32>, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            command: None,
            hint: None,
            stack: Vec::new(),
            file: None,
            line: None,
        }
    }
}
