//! One error found in a run's log (or why it could not start): code, message, command, place.

use serde::Serialize;

/// One error (or, for warnings, a `capture noisily` message) found in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ErrorInfo {
    /// Stata's return code, the `N` of `r(N);`.
    pub code: i32,
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
    /// An error with just a code and a message (no command, hint or stack).
    pub fn new(code: i32, message: impl Into<String>) -> Self {
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
