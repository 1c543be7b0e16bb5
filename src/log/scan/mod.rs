//! Finds the errors in a stream of user-visible log lines: `r(N);`, its message and the failing command.
//!
//! [`ErrorScanner`] reads one line at a time (the runner's own lines already removed) and keeps
//! only bounded state: the current command, the last few output lines, the open do-files and
//! a few captured-error candidates. It never keeps the log, so a 100 MB trace log costs the
//! same memory as a ten-line one.
//!
//! What it recognises (the specification, `../shared/stata-behavior.md`, sections 3 and 5):
//! - an uncaptured error: a line that is only `r(N);`. The first one is the run's error; the
//!   later ones are the trailers Stata prints for each enclosing do-file;
//! - `--Break--` followed by `r(1);`: an interruption;
//! - an error message that Stata printed without `r(N);` (`capture noisily`): a warning;
//! - a licence failure (`License is invalid`, a message about `stata.lic`) before any command.

use std::collections::VecDeque;

mod command;

use super::captured::{Candidate, Captured};
use super::error_message::error_message;
use super::stack::DoStack;
use crate::run::error::ErrorInfo;
use crate::stata::command::{do_target, is_exit_1, strip_prefixes};
use crate::stata::log_lines::{body_number, echo_text, is_trace_rule, rc_line, trace_command};
use crate::stata::messages::{ANY_CODE, Audience, error_grammar, hint, known_message, mata_error};
use crate::text::cut::cut_bytes;

/// At most this many lines of an error's message are kept (the last ones before `r(N);`).
const MAX_MESSAGE_LINES: usize = 20;
/// At most this many characters of an error's message are kept.
const MAX_MESSAGE_CHARS: usize = 2_000;
/// A command echo is kept up to this many characters.
const MAX_COMMAND_CHARS: usize = 2_000;
/// Stata's default line size in batch logs: an echo line this long was wrapped by Stata.
const WRAP_WIDTH: usize = 79;
/// A do-file name on the stack is kept up to this many bytes.
const MAX_DO_NAME: usize = 500;

/// What the scanner found, once the log is complete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// The error that ended the run: the first uncaptured `r(N);`.
    pub error: Option<ErrorInfo>,
    /// Errors whose message was printed but which did not stop the run (`capture noisily`).
    /// Their code is read from the message (Stata logs no `r(N);` for them); identical ones
    /// are reported once.
    pub warnings: Vec<ErrorInfo>,
    /// Warnings found beyond the first [`MAX_WARNINGS`] distinct ones.
    pub warnings_omitted: u64,
    /// Stata was interrupted (`--Break--` then `r(1);`, or `--Break--` as the last word).
    pub interrupted: bool,
    /// Stata refused to run because of its licence: the message it printed.
    pub license: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kind {
    /// Nothing yet, a blank line, `end of do-file`, `r(N);`.
    #[default]
    Other,
    /// A command echo (`. cmd`), possibly continued by `> ` lines.
    Echo,
    /// A numbered line of a loop or program body echoed before it runs.
    Body,
    /// A `set trace on` line (`- cmd`, `= cmd`, a begin/end rule).
    Trace,
    /// Anything else: what commands print.
    Output,
}

/// Streaming error finder over user-visible log lines. See the module documentation.
#[derive(Debug, Default)]
pub struct ErrorScanner {
    line_no: u64,
    kind: Kind,
    /// Characters in the previous line (to tell Stata's wrapping from a source line break).
    prev_len: usize,
    seen_echo: bool,

    /// The current top-level command, continuation lines joined.
    command: String,
    command_full: bool,
    /// Its echo starts with `capture noisily` (or `cap noi`, `cap n`, ...).
    command_cap_noi: bool,
    /// The latest trace line (`- cmd`) at its depth is a `capture noisily` command: its
    /// indentation and text.
    trace_cap_noi: Option<(usize, String)>,
    /// The code an `error N` traced under that `capture noisily` raised: the log shows it.
    trace_rc: Option<i32>,
    /// Expected number of the next body line while a loop or program body is being echoed.
    body_next: Option<u32>,

    /// Output lines since the last echo or trace command (the last few).
    message: VecDeque<String>,
    message_chars: usize,
    message_start: u64,
    stack: DoStack,
    /// The do-file pushed by the previous line: its opening is confirmed by the next line.
    just_pushed: bool,
    /// The current echo pushed a do-file (a wrapped path's rest completes its name).
    echo_pushed_do: bool,

    /// `end of do-file` lines since the error: one per do-file it was raised in.
    error_ends: usize,
    /// Echoed `{` blocks open (`. if c {` ... `. }`): a `do` in one runs only if the block does.
    echo_blocks: usize,
    /// The loop whose body runs a do-file: the command again when that do-file ends.
    loop_with_do: Option<String>,
    /// The echo was a bare `.`: the lines up to a blank one are the command's text (a
    /// command holding line breaks); `Some(false)` after that blank, where a `> ` line can
    /// still bring the command's last line.
    bare_echo: Option<bool>,

    captured: Captured,
    /// The error the run went on after, while only echoes followed it: the `r(N);` of the
    /// block it was raised in makes it the run's error again.
    demoted: Option<(ErrorInfo, Option<usize>)>,

    error: Option<ErrorInfo>,
    /// A `--Break--` line was seen.
    saw_break: bool,
    /// The last non-blank line was `--Break--`.
    break_last: bool,
    license: Option<String>,
    working_dir: Option<String>,
}

impl ErrorScanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Names Stata's working directory in the hint of a `file ... not found` error.
    pub fn with_working_dir(mut self, dir: impl Into<String>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// Feeds one complete line, without its newline.
    pub fn push_line(&mut self, line: &str) {
        self.line_no += 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let len = if line.is_ascii() {
            line.len()
        } else {
            line.chars().count()
        };
        self.classify(line);
        self.prev_len = len;
    }

    fn classify(&mut self, line: &str) {
        let trimmed = line.trim();

        if !self.seen_echo && super::license::gather(&mut self.license, trimmed) {
            self.kind = Kind::Other;
            return;
        }

        // A continuation line: `> ` at column 0.
        if let Some(rest) = line.strip_prefix('>')
            && (rest.is_empty() || rest.starts_with(' '))
        {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            match self.kind {
                Kind::Echo => self.continue_command(rest),
                Kind::Output => self.continue_message(rest),
                _ if self.bare_echo == Some(false) => {
                    (self.kind, self.bare_echo) = (Kind::Echo, Some(true));
                    self.command.push('\n');
                    self.append_command(rest.trim_start());
                }
                _ => {}
            }
            return;
        }

        if self.just_pushed {
            self.just_pushed = false;
            // `do missing.do` fails before the file opens: it is not on the stack.
            if matches!(known_message(line.trim_end()), Some((601 | 603, _))) {
                self.stack.pop();
            }
        }

        if trimmed.is_empty() {
            if self.kind == Kind::Output {
                // Paragraphs of output: a message is the last one.
                self.push_message("");
            }
            self.body_next = None;
            self.bare_echo = self
                .bare_echo
                .filter(|_| self.kind == Kind::Echo)
                .map(|_| false);
            self.kind = Kind::Other;
            return;
        }
        if self.bare_echo == Some(false) {
            self.bare_echo = None;
        }
        if trimmed != "--Break--" {
            self.break_last = false;
        }

        if let Some(code) = rc_line(trimmed) {
            // `display "r(198);"` prints the very text of its echo: output, not an error.
            if self.kind == Kind::Echo && self.command.contains(trimmed) {
                self.on_output(line);
                return;
            }
            self.on_rc(code);
            self.kind = Kind::Other;
            return;
        }
        if trimmed == "end of do-file" {
            self.on_end_of_do_file();
            self.kind = Kind::Other;
            return;
        }
        if trimmed == "--Break--" {
            self.saw_break = true;
            self.break_last = true;
            self.kind = Kind::Other;
            return;
        }

        // Echoes of a loop or program body: numbered from 1 or 2, right after the echo.
        if let Some(n) = body_number(line)
            && matches!(self.kind, Kind::Echo | Kind::Body)
        {
            let expected = self.body_next.unwrap_or(0);
            let starts = self.kind == Kind::Echo && self.body_next.is_none() && (n == 1 || n == 2);
            if starts || n == expected {
                self.body_next = Some(n + 1);
                self.kind = Kind::Body;
                let text = line.trim_start().split_once('.').map_or("", |x| x.1);
                if do_target(strip_prefixes(text.trim()).rest).is_some() {
                    self.loop_with_do = Some(self.command.clone());
                }
                return;
            }
        }

        if self.bare_echo == Some(true) && self.kind == Kind::Echo && echo_text(line).is_none() {
            // The next line of a command that holds line breaks (its echo began on `. `).
            if !self.command.is_empty() {
                self.command.push('\n');
            }
            self.append_command(line.trim());
            return;
        }
        if let Some(cmd) = echo_text(line) {
            if self.body_next.is_some() {
                // Inside a body being echoed, Stata echoes some lines with `. ` (comments,
                // lines after a blank one); they belong to the block, not a new command.
                self.kind = Kind::Body;
                return;
            }
            self.on_echo(cmd);
            return;
        }

        self.body_next = None;
        if let Some(cmd) = trace_command(line) {
            let indent = line.len() - line.trim_start_matches(' ').len();
            self.on_trace(indent, cmd);
            self.kind = Kind::Trace;
            return;
        }
        if is_trace_rule(trimmed) {
            self.kind = Kind::Trace;
            return;
        }
        self.on_output(line);
    }

    fn on_output(&mut self, line: &str) {
        // Output after the error: the run went on, so the error was captured.
        self.demote_error(false);
        self.kind = Kind::Output;
        self.push_message(line.trim_end());
        self.captured.output(line);

        let mata = mata_error(line);
        let known = known_message(line.trim_end())
            .or(mata.map(|c| (c, true)))
            .or_else(|| error_grammar(line.trim_end()).then_some((ANY_CODE, false)));
        if let Some((code, strong)) = known {
            let captured = self.command_cap_noi || self.trace_cap_noi.is_some();
            if strong || captured {
                let command = match &self.trace_cap_noi {
                    Some((_, t)) => Some(t.clone()),
                    None => self.current_command(),
                };
                let traced = self.trace_cap_noi.as_ref().and(self.trace_rc);
                self.captured.hold(Candidate {
                    guessed: code,
                    shown: mata.or(traced),
                    message: line.trim().to_owned(),
                    command,
                    line_no: self.line_no,
                });
            }
        }
    }

    fn on_rc(&mut self, code: i32) {
        if self.error.is_some() {
            // A trailer of the same error, printed by an enclosing do-file.
            return;
        }
        if let Some((err, at)) = self.demoted.take()
            && err.code == Some(code)
        {
            // The block the error was raised in ends with its `r(N);`: the same error.
            if let Some(i) = at {
                self.captured.take_back(i);
            }
            self.error = Some(err);
            self.clear_message();
            return;
        }
        let broke = code == 1 && (self.break_last || self.saw_break);
        self.saw_break = false;
        // The candidate printed just before is this error's message, not a warning.
        self.captured.settle(code, self.message_start);

        let mut err = ErrorInfo::new(code, String::new());
        if broke {
            err.message = "--Break--".to_owned();
        } else {
            let window: Vec<String> = self.message.iter().cloned().collect();
            err.message = error_message(&window, code, self.current_command().as_deref());
        }
        err.command = self.current_command();
        err.stack = self.stack.names();
        err.hint = hint(
            code,
            &err.message,
            err.command.as_deref(),
            self.working_dir.as_deref(),
            Audience::Model,
        );
        self.error = Some(err);
        self.error_ends = 0;
        self.break_last = false;
        self.clear_message();
    }

    // --- the message lines ---------------------------------------------------------------

    fn clear_message(&mut self) {
        self.message.clear();
        self.message_chars = 0;
        self.message_start = self.line_no;
    }

    fn push_message(&mut self, line: &str) {
        let line = cut_bytes(line, MAX_MESSAGE_CHARS);
        let mut buf = if self.message.len() >= MAX_MESSAGE_LINES {
            let old = self.message.pop_front().unwrap_or_default();
            self.message_chars -= old.len();
            old
        } else {
            String::new()
        };
        buf.clear();
        buf.push_str(line);
        self.message_chars += buf.len();
        self.message.push_back(buf);
        while self.message_chars > MAX_MESSAGE_CHARS && self.message.len() > 1 {
            let old = self.message.pop_front().unwrap_or_default();
            self.message_chars -= old.len();
        }
    }

    fn continue_message(&mut self, rest: &str) {
        if let Some(last) = self.message.back_mut() {
            let room = MAX_MESSAGE_CHARS.saturating_sub(last.len());
            let add = cut_bytes(rest, room);
            last.push_str(add);
            self.message_chars += add.len();
            while self.message_chars > MAX_MESSAGE_CHARS && self.message.len() > 1 {
                let old = self.message.pop_front().unwrap_or_default();
                self.message_chars -= old.len();
            }
        }
    }

    /// The log is complete.
    pub fn finish(mut self) -> Scan {
        if self.break_last && self.error.is_none() {
            // Stopped right after `--Break--`, before `r(1);` reached the log.
            let mut err = ErrorInfo::new(1, "--Break--");
            err.command = self.current_command();
            err.stack = self.stack.names();
            self.error = Some(err);
        }
        if let Some(err) = &mut self.error {
            // The trailer shows more do-files open than the echoes did: those whose end
            // was seen too early (another file's `end of do-file`, whose start did not show).
            self.stack.complete(&mut err.stack, self.error_ends);
        }
        // A break, unless the code itself said `exit 1` (which Stata also reports so).
        let interrupted = self.error.as_ref().is_some_and(|e| {
            e.code == Some(1)
                && e.message == "--Break--"
                && !e.command.as_deref().is_some_and(is_exit_1)
        });
        let (warnings, warnings_omitted) = self.captured.finish();
        Scan {
            error: self.error,
            warnings,
            warnings_omitted,
            interrupted,
            license: self.license,
        }
    }
}

#[cfg(test)]
mod tests;
